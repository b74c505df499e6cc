//! Contact-center metrics for Prometheus: the `switchboard_cc_*` families at `/metrics`.
//!
//! Two sources. The live floor ([`FloorSnapshot`], which the core publishes when it changes,
//! at most every 250 ms) gives gauges, read at scrape time by [`CcCollector`]: agents by state
//! and routing profile, contacts in queue and the oldest one's age per queue, monitoring
//! sessions. Contact records and agent events, as the store writer persists them, give the
//! per-queue counters and histograms, kept by [`ContactTally`], which is pure (no clock, no
//! I/O) and fed through [`CcRecorder`].
//!
//! A contact's record is written several times as it progresses (queued, connected, ended,
//! after-contact work over, recording closed). The tally remembers, per contact, which facts
//! it has counted, so each fact counts exactly once. That memory is bounded: the
//! [`SEEN_CAPACITY`] most recently written contacts. A contact written again after that many
//! other contacts were written since its last write would count again; its writes after its
//! end (ACW over, recording closed) follow within its ACW or the rest of its call, so that
//! takes ~100 000 other contacts in that time.
//!
//! What counts, per queue (the label is the record's queue; only contacts that were queued,
//! i.e. have a queue and an enqueue time, count, as on the real-time page: outbound calls and
//! the continuation of a transfer to a number never waited in a queue):
//! - handled: an agent was connected, and the contact ended (disconnect time set), including
//!   contacts the agent handed on; its wait (agent connected − enqueued), talk time
//!   (ended − agent connected, hold included) and hold time are observed then, so each of
//!   those histograms counts exactly the handled contacts;
//! - answered within 20 s / 60 s: handled contacts whose wait was at most 20 s / 60 s;
//!   service level is these over handled + abandoned (as `switchboard report` computes it);
//! - abandoned: the contact ended without an agent ever connected (the customer hung up, or
//!   the flow ended it); its time in queue (ended − enqueued) goes to its own histogram,
//!   `abandon_wait_seconds`, so that the answer time is not diluted by callers who gave up;
//! - transferred: handled contacts an agent handed on (`next_contact_id` set); a subset of
//!   handled;
//! - ACW time: `acw_duration_ms` of a handled contact, once its after-contact work is over;
//! - missed by agent: agent events into `Missed` (an offer rang out, was declined or
//!   rejected), one per miss, labelled with the queue of the contact offered. The tally knows
//!   it from the contact's record, which is written when the contact is queued, before any
//!   offer; a miss of a contact it has not seen (or has forgotten) counts under `queue=""`.
//!
//! Labels are configuration vocabularies only (queue, status and routing-profile names, which
//! the administrator defines): never contact ids, call ids or anything a caller typed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::agents::ContactId;
use crate::config::Config;
use crate::control::FloorSnapshot;
use crate::store::{AgentEventRow, ContactRecord};

/// How many contacts the tally remembers to count each fact once (see the module docs).
pub const SEEN_CAPACITY: usize = 100_000;

/// Service-level thresholds: answered within this long after being queued (inclusive).
pub const SERVICE_LEVEL_20S_MS: i64 = 20_000;
pub const SERVICE_LEVEL_60S_MS: i64 = 60_000;

/// Histogram bucket upper bounds, in whole seconds (`+Inf` is added). 20 and 60 are among the
/// wait buckets so service levels can also be read off the histogram.
pub const WAIT_BUCKETS_S: &[u32] = &[5, 10, 20, 30, 60, 120, 300, 600, 1200];
pub const TALK_BUCKETS_S: &[u32] = &[10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600];
/// 0 first: contacts that were never on hold (or had no after-contact work) are a bucket.
pub const HOLD_BUCKETS_S: &[u32] = &[0, 10, 30, 60, 120, 300, 600, 1800];
pub const ACW_BUCKETS_S: &[u32] = &[0, 10, 30, 60, 120, 300, 600, 1800];

/// States the server sets (the rest are configured statuses); see `AgentState::as_str`.
pub const SYSTEM_STATES: &[&str] = &[
    "Incoming",
    "Busy",
    "AfterContactWork",
    "Missed",
    "Monitoring",
];

/// A histogram with fixed buckets, kept in whole milliseconds so sums are exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    bounds_s: &'static [u32],
    /// Per bucket (not cumulative), the last one being `+Inf`.
    counts: Vec<u64>,
    sum_ms: i64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds_s: &'static [u32]) -> Histogram {
        Histogram {
            bounds_s,
            counts: vec![0; bounds_s.len() + 1],
            sum_ms: 0,
            count: 0,
        }
    }

    /// Records one duration; a negative one (clock steps) counts as zero.
    pub fn observe(&mut self, ms: i64) {
        let ms = ms.max(0);
        let bucket = self
            .bounds_s
            .iter()
            .position(|b| ms <= i64::from(*b) * 1_000)
            .unwrap_or(self.bounds_s.len());
        if let Some(c) = self.counts.get_mut(bucket) {
            *c += 1;
        }
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum_ms(&self) -> i64 {
        self.sum_ms
    }

    /// `(upper bound in seconds, cumulative count)`, ending with `+Inf`.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        self.counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                total += c;
                let le = self
                    .bounds_s
                    .get(i)
                    .map_or(f64::INFINITY, |b| f64::from(*b));
                (le, total)
            })
            .collect()
    }

    /// Per-bucket counts as the text encoder takes them.
    fn buckets(&self) -> Vec<(f64, u64)> {
        self.counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let le = self
                    .bounds_s
                    .get(i)
                    .map_or(f64::INFINITY, |b| f64::from(*b));
                (le, *c)
            })
            .collect()
    }
}

/// One queue's counts since the server started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTotals {
    pub handled: u64,
    pub abandoned: u64,
    pub transferred: u64,
    pub missed: u64,
    pub answered_within_20s: u64,
    pub answered_within_60s: u64,
    /// Handled contacts: agent connected − enqueued.
    pub queue_wait: Histogram,
    /// Abandoned contacts: ended − enqueued.
    pub abandon_wait: Histogram,
    /// Handled contacts: ended − agent connected (hold included).
    pub talk: Histogram,
    pub hold: Histogram,
    pub acw: Histogram,
}

impl Default for QueueTotals {
    fn default() -> QueueTotals {
        QueueTotals {
            handled: 0,
            abandoned: 0,
            transferred: 0,
            missed: 0,
            answered_within_20s: 0,
            answered_within_60s: 0,
            queue_wait: Histogram::new(WAIT_BUCKETS_S),
            abandon_wait: Histogram::new(WAIT_BUCKETS_S),
            talk: Histogram::new(TALK_BUCKETS_S),
            hold: Histogram::new(HOLD_BUCKETS_S),
            acw: Histogram::new(ACW_BUCKETS_S),
        }
    }
}

/// What has been counted for one contact.
#[derive(Debug, Default)]
struct Entry {
    /// The last write's sequence number (for least-recently-written eviction).
    touched: u64,
    queue: Option<String>,
    /// Counted as handled or abandoned.
    ended: bool,
    handled: bool,
    transferred: bool,
    acw: bool,
}

/// Contacts seen lately, least recently written first out.
#[derive(Debug)]
struct Seen {
    capacity: usize,
    entries: HashMap<ContactId, Entry>,
    /// `(contact, touched)` in write order; a pair whose `touched` is not the entry's any
    /// more is stale and skipped.
    order: VecDeque<(ContactId, u64)>,
    writes: u64,
}

impl Seen {
    fn new(capacity: usize) -> Seen {
        Seen {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
            writes: 0,
        }
    }

    /// The contact's entry, marked as just written; forgets the oldest to make room.
    fn touch(&mut self, id: ContactId) -> &mut Entry {
        self.writes += 1;
        let t = self.writes;
        if !self.entries.contains_key(&id) {
            while self.entries.len() >= self.capacity && self.evict_oldest() {}
        }
        self.entries.entry(id).or_default().touched = t;
        self.order.push_back((id, t));
        // Stale pairs pile up when the same contacts are written again and again.
        if self.order.len() > 2 * self.capacity + 64 {
            let entries = &self.entries;
            self.order
                .retain(|(id, t)| entries.get(id).is_some_and(|e| e.touched == *t));
        }
        self.entries.entry(id).or_default()
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((id, t)) = self.order.pop_front() {
            if self.entries.get(&id).is_some_and(|e| e.touched == t) {
                self.entries.remove(&id);
                return true;
            }
        }
        false
    }

    fn queue_of(&self, id: &ContactId) -> Option<&str> {
        self.entries.get(id)?.queue.as_deref()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Contact records and agent events in, per-queue counts out (see the module docs for what
/// counts). Pure: feed it every write, in the order they are written.
#[derive(Debug)]
pub struct ContactTally {
    queues: BTreeMap<String, QueueTotals>,
    /// Misses of contacts whose queue the tally does not know.
    missed_without_queue: u64,
    seen: Seen,
}

impl Default for ContactTally {
    fn default() -> ContactTally {
        ContactTally::with_capacity(SEEN_CAPACITY)
    }
}

impl ContactTally {
    /// Remembers up to `capacity` contacts (see the module docs).
    pub fn with_capacity(capacity: usize) -> ContactTally {
        ContactTally {
            queues: BTreeMap::new(),
            missed_without_queue: 0,
            seen: Seen::new(capacity),
        }
    }

    /// Makes `queue`'s series exist at zero, so a rate over them starts with the first
    /// contact rather than missing it.
    pub fn add_queue(&mut self, queue: &str) {
        if !self.queues.contains_key(queue) {
            self.queues
                .insert(queue.to_string(), QueueTotals::default());
        }
    }

    pub fn queues(&self) -> &BTreeMap<String, QueueTotals> {
        &self.queues
    }

    pub fn queue(&self, queue: &str) -> Option<&QueueTotals> {
        self.queues.get(queue)
    }

    pub fn missed_without_queue(&self) -> u64 {
        self.missed_without_queue
    }

    /// How many contacts the tally remembers now.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }

    /// One write of a contact's record.
    pub fn contact(&mut self, r: &ContactRecord) {
        let entry = self.seen.touch(r.contact_id);
        if r.queue.is_some() {
            entry.queue.clone_from(&r.queue);
        }
        let (Some(queue), Some(enqueued)) = (&r.queue, r.enqueue_unix_ms) else {
            return;
        };
        let mut handled_now = None;
        let mut abandoned_after = None;
        if let Some(ended) = r.disconnect_unix_ms
            && !entry.ended
        {
            entry.ended = true;
            match r.agent_connected_unix_ms {
                Some(connected) => {
                    entry.handled = true;
                    handled_now = Some((connected - enqueued, ended - connected));
                }
                None => abandoned_after = Some(ended - enqueued),
            }
        }
        let transferred_now = entry.handled && r.next_contact_id.is_some() && !entry.transferred;
        if transferred_now {
            entry.transferred = true;
        }
        let acw_now = match r.acw_duration_ms {
            Some(ms) if entry.handled && !entry.acw => {
                entry.acw = true;
                Some(ms)
            }
            _ => None,
        };
        if handled_now.is_none()
            && abandoned_after.is_none()
            && !transferred_now
            && acw_now.is_none()
        {
            return;
        }
        let q = self.queues.entry(queue.clone()).or_default();
        if let Some((wait, talk)) = handled_now {
            q.handled += 1;
            if wait <= SERVICE_LEVEL_20S_MS {
                q.answered_within_20s += 1;
            }
            if wait <= SERVICE_LEVEL_60S_MS {
                q.answered_within_60s += 1;
            }
            q.queue_wait.observe(wait);
            q.talk.observe(talk);
            q.hold.observe(r.hold_duration_ms);
        }
        if let Some(waited) = abandoned_after {
            q.abandoned += 1;
            q.abandon_wait.observe(waited);
        }
        if transferred_now {
            q.transferred += 1;
        }
        if let Some(ms) = acw_now {
            q.acw.observe(ms);
        }
    }

    /// One agent state change: a change into `Missed` is a missed offer.
    pub fn agent_event(&mut self, e: &AgentEventRow) {
        if e.to_state != "Missed" || e.from_state == "Missed" {
            return;
        }
        let queue = e
            .contact_id
            .as_ref()
            .and_then(|c| self.seen.queue_of(c))
            .map(str::to_string);
        match queue {
            Some(q) => self.queues.entry(q).or_default().missed += 1,
            None => self.missed_without_queue += 1,
        }
    }
}

/// The tally shared by the store writer (which feeds it) and the `/metrics` collector (which
/// reads it). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CcRecorder(Arc<Mutex<ContactTally>>);

impl CcRecorder {
    /// A tally whose series exist at zero for every configured queue.
    pub fn new(config: &Config) -> CcRecorder {
        let rec = CcRecorder::default();
        rec.add_queues(config.queues.keys().map(String::as_str));
        rec
    }

    /// Makes each queue's series exist (at zero when new).
    pub fn add_queues<'a>(&self, queues: impl IntoIterator<Item = &'a str>) {
        let mut tally = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for q in queues {
            tally.add_queue(q);
        }
    }

    /// A batch as the store writer persists it: contacts first (a miss in the same batch
    /// finds the queue its contact was just written with), then agent events.
    pub fn record(&self, contacts: &[ContactRecord], events: &[AgentEventRow]) {
        if contacts.is_empty() && events.is_empty() {
            return;
        }
        let mut tally = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for r in contacts {
            tally.contact(r);
        }
        for e in events {
            tally.agent_event(e);
        }
    }

    /// Runs `f` on the tally as it is now.
    pub fn with<T>(&self, f: impl FnOnce(&ContactTally) -> T) -> T {
        f(&self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Which `(state, routing_profile)` pairs the agents gauge always shows (at zero when no
/// agent is in them), so a dashboard's series do not come and go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentGrid {
    pub states: Vec<String>,
    /// `""` stands for users without a routing profile.
    pub routing_profiles: Vec<String>,
}

impl AgentGrid {
    /// Configured statuses and the server's states; configured routing profiles, and `""`
    /// when some user has none.
    pub fn from_config(config: &Config) -> AgentGrid {
        let mut states: Vec<String> = config
            .agent_statuses
            .iter()
            .map(|s| s.name.clone())
            .collect();
        states.extend(SYSTEM_STATES.iter().map(|s| s.to_string()));
        let mut routing_profiles: Vec<String> = config.routing_profiles.keys().cloned().collect();
        if config.users.values().any(|u| u.routing_profile.is_none()) {
            routing_profiles.push(String::new());
        }
        AgentGrid {
            states,
            routing_profiles,
        }
    }
}

/// Where the collector reads the live floor.
pub trait FloorSource: fmt::Debug + Send + Sync + 'static {
    /// The floor as last published; `None` before the core's first one.
    fn floor(&self) -> Option<Arc<FloorSnapshot>>;
    fn agent_grid(&self) -> AgentGrid;
}

impl FloorSource for crate::io::panel::CoreHandle {
    fn floor(&self) -> Option<Arc<FloorSnapshot>> {
        crate::io::panel::CoreHandle::floor(self)
    }

    fn agent_grid(&self) -> AgentGrid {
        AgentGrid::from_config(&self.config())
    }
}

/// Renders the `switchboard_cc_*` families at scrape time.
#[derive(Debug)]
pub struct CcCollector<F> {
    pub tally: CcRecorder,
    pub floor: F,
}

type EncodeResult = Result<(), fmt::Error>;

fn gauge_family<'a, V: EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (&'a str, V)>,
) -> EncodeResult {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (queue, v) in samples {
        m.encode_family(&[("queue", queue)])?.encode_gauge(&v)?;
    }
    Ok(())
}

fn counter_family<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (&'a str, u64)>,
) -> EncodeResult {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (queue, v) in samples {
        m.encode_family(&[("queue", queue)])?
            .encode_counter::<NoLabelSet, u64, u64>(&v, None)?;
    }
    Ok(())
}

fn histogram_family(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    queues: &BTreeMap<String, QueueTotals>,
    pick: impl Fn(&QueueTotals) -> &Histogram,
) -> EncodeResult {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (queue, totals) in queues {
        let h = pick(totals);
        m.encode_family(&[("queue", queue.as_str())])?
            .encode_histogram::<NoLabelSet>(
                h.sum_ms as f64 / 1_000.0,
                h.count,
                &h.buckets(),
                None,
            )?;
    }
    Ok(())
}

fn counters(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    queues: &BTreeMap<String, QueueTotals>,
    pick: impl Fn(&QueueTotals) -> u64,
) -> EncodeResult {
    counter_family(
        e,
        name,
        help,
        queues.iter().map(|(q, t)| (q.as_str(), pick(t))),
    )
}

impl<F: FloorSource> CcCollector<F> {
    fn encode_floor(&self, e: &mut DescriptorEncoder) -> EncodeResult {
        let Some(floor) = self.floor.floor() else {
            return Ok(());
        };
        // Queues added by a reload get their zero series before their first contact ends.
        self.tally
            .add_queues(floor.queues.iter().map(|q| q.name.as_str()));
        let grid = self.floor.agent_grid();
        let mut agents: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for state in &grid.states {
            for profile in &grid.routing_profiles {
                agents.insert((state.as_str(), profile.as_str()), 0);
            }
        }
        for a in &floor.agents {
            let profile = a.routing_profile.as_deref().unwrap_or("");
            *agents.entry((a.state.as_str(), profile)).or_default() += 1;
        }
        let mut m = e.encode_descriptor(
            "cc_agents",
            "Agents by state (a configured status or a server state) and routing profile",
            None,
            MetricType::Gauge,
        )?;
        for ((state, profile), n) in &agents {
            let count = i64::try_from(*n).unwrap_or(i64::MAX);
            m.encode_family(&[("state", *state), ("routing_profile", *profile)])?
                .encode_gauge(&count)?;
        }
        gauge_family(
            e,
            "cc_contacts_in_queue",
            "Contacts waiting in the queue now",
            floor
                .queues
                .iter()
                .map(|q| (q.name.as_str(), i64::from(q.contacts_in_queue))),
        )?;
        gauge_family(
            e,
            "cc_oldest_contact_age_seconds",
            "How long the queue's oldest waiting contact has waited (0 when none waits)",
            floor.queues.iter().map(|q| {
                let ms = q.oldest_contact_age_ms.unwrap_or(0).max(0);
                (q.name.as_str(), ms as f64 / 1_000.0)
            }),
        )?;
        e.encode_descriptor(
            "cc_monitoring_sessions",
            "Managers listening in, barging or whispering now",
            None,
            MetricType::Gauge,
        )?
        .encode_gauge(&i64::from(floor.monitoring_sessions))
    }

    fn encode_tally(&self, e: &mut DescriptorEncoder) -> EncodeResult {
        self.tally.with(|t| {
            let q = &t.queues;
            counters(
                e,
                "cc_contacts_handled",
                "Queued contacts an agent was connected to, counted when they end",
                q,
                |t| t.handled,
            )?;
            counters(
                e,
                "cc_contacts_abandoned",
                "Queued contacts that ended before an agent was connected",
                q,
                |t| t.abandoned,
            )?;
            counters(
                e,
                "cc_contacts_transferred",
                "Handled contacts the agent handed on (to a number, a queue or by REFER)",
                q,
                |t| t.transferred,
            )?;
            let missed = q.iter().map(|(q, t)| (q.as_str(), t.missed));
            let unknown = (t.missed_without_queue > 0).then_some(("", t.missed_without_queue));
            counter_family(
                e,
                "cc_contacts_missed_by_agent",
                "Offers an agent missed (rang out, declined or rejected), by the contact's queue",
                missed.chain(unknown),
            )?;
            counters(
                e,
                "cc_contacts_answered_within_20s",
                "Handled contacts an agent was connected to within 20 s of being queued",
                q,
                |t| t.answered_within_20s,
            )?;
            counters(
                e,
                "cc_contacts_answered_within_60s",
                "Handled contacts an agent was connected to within 60 s of being queued",
                q,
                |t| t.answered_within_60s,
            )?;
            histogram_family(
                e,
                "cc_queue_wait_seconds",
                "Handled contacts' time in queue: agent connected minus enqueued",
                q,
                |t| &t.queue_wait,
            )?;
            histogram_family(
                e,
                "cc_abandon_wait_seconds",
                "Abandoned contacts' time in queue before they ended",
                q,
                |t| &t.abandon_wait,
            )?;
            histogram_family(
                e,
                "cc_talk_time_seconds",
                "Handled contacts' time connected to the agent, hold included",
                q,
                |t| &t.talk,
            )?;
            histogram_family(
                e,
                "cc_hold_time_seconds",
                "Handled contacts' time on hold",
                q,
                |t| &t.hold,
            )?;
            histogram_family(
                e,
                "cc_acw_time_seconds",
                "Handled contacts' after-contact work, once it is over",
                q,
                |t| &t.acw,
            )
        })
    }
}

impl<F: FloorSource> Collector for CcCollector<F> {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        self.encode_floor(&mut e)?;
        self.encode_tally(&mut e)
    }
}

#[cfg(test)]
mod tests;

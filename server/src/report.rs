//! `switchboard report`: one day's queue and agent summary, computed from the stored contact
//! records and agent events and printed as aligned plain-text tables.
//!
//! [`load`] reads the day (contacts initiated in it, agent events in it, paged through the
//! history API); [`summarize`] is a pure function from those rows to a [`DaySummary`];
//! [`render`] prints it. Nothing here reads the clock: the caller passes `now`, which cuts the
//! time-in-status of a day still running.
//!
//! Definitions, over the contacts initiated in the day; the same as the Prometheus tallies in
//! `cc_metrics.rs`, so the report and `/metrics` agree:
//! - a queue's contacts: those queued in it (a queue and an enqueue time); outbound calls never
//!   waited in a queue and count only for their agent. Contacts still waiting or talking count
//!   here and nowhere else.
//! - handled: ended, with an agent connected (a contact the agent handed on included).
//! - abandoned: ended without an agent ever connected (the customer hung up, or the flow ended
//!   or moved it).
//! - wait: [`queue_duration_ms`], enqueued until an agent connected or, unanswered, until the
//!   contact ended; averaged over handled and abandoned contacts.
//! - service level X s: handled contacts answered within X s (wait ≤ X s) over handled plus
//!   abandoned.
//! - handle time: [`handle_duration_ms`], talk + hold + after-contact work (none recorded
//!   counts as none).
//! - per agent: handled, handle time, hold and ACW of the ended contacts the agent was
//!   connected to, outbound included.
//! - time in status: from the agent events of the day; the state before the day's first event
//!   is that event's `from_state`, held since the start of the day, and the last state is held
//!   until the end of the day or `now`, whichever is first. Agents without events that day have
//!   no status times.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::config::{Config, RESERVED_STATUS_NAMES};
use crate::store::history::{MAX_PAGE_SIZE, handle_duration_ms, queue_duration_ms};
use crate::store::{
    AgentEventQuery, AgentEventRow, ContactQuery, ContactRecord, Store, StoreError,
};

/// Service-level thresholds, in milliseconds.
pub const SERVICE_LEVELS_MS: [i64; 2] = [20_000, 60_000];

/// A calendar day in a time zone, as the half-open instant range it covers (23 or 25 hours
/// across a DST change).
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: jiff::civil::Date,
    pub time_zone: jiff::tz::TimeZone,
    pub start_unix_ms: i64,
    pub end_unix_ms: i64,
}

/// A day that cannot be placed on the timeline (the year 9999's last day, say).
#[derive(Debug, thiserror::Error)]
#[error("day {date} cannot be placed in time zone {time_zone}")]
pub struct DayError {
    pub date: jiff::civil::Date,
    pub time_zone: String,
    #[source]
    pub source: jiff::Error,
}

impl Day {
    pub fn new(date: jiff::civil::Date, time_zone: jiff::tz::TimeZone) -> Result<Day, DayError> {
        let fail = |source| DayError {
            date,
            time_zone: zone_name(&time_zone),
            source,
        };
        let start = date.to_zoned_datetime(time_zone.clone()).map_err(fail)?;
        let end = date
            .tomorrow()
            .and_then(|d| d.to_zoned_datetime(time_zone.clone()))
            .map_err(fail)?;
        Ok(Day {
            date,
            start_unix_ms: start.timestamp().as_millisecond(),
            end_unix_ms: end.timestamp().as_millisecond(),
            time_zone,
        })
    }

    /// The calendar date of `unix_ms` in `time_zone`.
    pub fn containing(
        unix_ms: i64,
        time_zone: jiff::tz::TimeZone,
    ) -> Result<jiff::civil::Date, jiff::Error> {
        Ok(jiff::Timestamp::from_millisecond(unix_ms)?
            .to_zoned_datetime(time_zone)
            .date())
    }
}

fn zone_name(time_zone: &jiff::tz::TimeZone) -> String {
    time_zone.iana_name().unwrap_or("UTC").to_owned()
}

/// Everything stored about one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayRows {
    pub contacts: Vec<ContactRecord>,
    pub events: Vec<AgentEventRow>,
}

/// Reads the contacts initiated in `day` and the agent events in it, all pages.
pub async fn load(store: &Store, day: &Day) -> Result<DayRows, StoreError> {
    let mut rows = DayRows::default();
    let mut contacts = ContactQuery::between(day.start_unix_ms, day.end_unix_ms);
    contacts.limit = MAX_PAGE_SIZE;
    loop {
        let page = store.search_contacts(&contacts).await?;
        let full = page.len() == MAX_PAGE_SIZE as usize;
        contacts.after = page.last().map(ContactRecord::cursor);
        rows.contacts.extend(page);
        if !full {
            break;
        }
    }
    let mut events = AgentEventQuery::between(day.start_unix_ms, day.end_unix_ms);
    events.limit = MAX_PAGE_SIZE;
    loop {
        let page = store.list_agent_events(&events).await?;
        let full = page.len() == MAX_PAGE_SIZE as usize;
        events.after_id = page.last().and_then(|e| e.id);
        rows.events.extend(page);
        if !full || events.after_id.is_none() {
            break;
        }
    }
    Ok(rows)
}

/// One queue's figures for the day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSummary {
    pub queue: String,
    pub contacts: u32,
    pub handled: u32,
    pub abandoned: u32,
    /// Of handled and abandoned contacts, rounded to the millisecond; `None` when there are
    /// none.
    pub average_wait_ms: Option<i64>,
    /// Of handled contacts, rounded to the millisecond; `None` when there are none.
    pub average_handle_ms: Option<i64>,
    /// Per [`SERVICE_LEVELS_MS`] threshold: handled contacts answered within it (the service
    /// level is this over handled plus abandoned).
    pub answered_within: [u32; 2],
}

/// One agent's figures for the day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentSummary {
    pub username: String,
    pub handled: u32,
    /// Rounded to the millisecond; `None` when nothing was handled.
    pub average_handle_ms: Option<i64>,
    /// Hold time of the contacts handled.
    pub hold_ms: i64,
    /// After-contact work of the contacts handled.
    pub acw_ms: i64,
    /// Milliseconds in each state (configured status or system state) during the day.
    pub time_in_state_ms: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaySummary {
    /// Contacts with a queue, by queue name.
    pub queues: Vec<QueueSummary>,
    /// All contacts with a queue taken together (`queue` is empty).
    pub all_queues: QueueSummary,
    /// By username.
    pub agents: Vec<AgentSummary>,
}

/// The day's figures from its rows. `start_unix_ms..until_unix_ms` is the part of the day the
/// status times cover: the whole day, or up to now for today.
pub fn summarize(
    contacts: &[ContactRecord],
    events: &[AgentEventRow],
    start_unix_ms: i64,
    until_unix_ms: i64,
) -> DaySummary {
    let mut queues: BTreeMap<&str, QueueAcc> = BTreeMap::new();
    let mut all = QueueAcc::default();
    let mut agents: BTreeMap<&str, AgentAcc> = BTreeMap::new();
    for r in contacts {
        if let (Some(queue), Some(_)) = (r.queue.as_deref(), r.enqueue_unix_ms) {
            queues.entry(queue).or_default().add(r);
            all.add(r);
        }
        if let (Some(agent), Some(_), Some(_)) = (
            r.agent_username.as_deref(),
            r.agent_connected_unix_ms,
            r.disconnect_unix_ms,
        ) {
            agents.entry(agent).or_default().add(r);
        }
    }

    let mut by_agent: BTreeMap<&str, Vec<&AgentEventRow>> = BTreeMap::new();
    for e in events {
        by_agent.entry(e.username.as_str()).or_default().push(e);
    }
    for (username, mut timeline) in by_agent {
        timeline.sort_by_key(|e| (e.at_unix_ms, e.id));
        agents.entry(username).or_default().time_in_state_ms =
            time_in_state(&timeline, start_unix_ms, until_unix_ms);
    }

    DaySummary {
        queues: queues
            .into_iter()
            .map(|(name, acc)| acc.finish(name))
            .collect(),
        all_queues: all.finish(""),
        agents: agents
            .into_iter()
            .map(|(name, acc)| acc.finish(name))
            .collect(),
    }
}

/// Time per state along one agent's events, in order, clamped to `start..until`.
fn time_in_state(timeline: &[&AgentEventRow], start: i64, until: i64) -> BTreeMap<String, i64> {
    let mut times: BTreeMap<String, i64> = BTreeMap::new();
    let Some(first) = timeline.first() else {
        return times;
    };
    let mut state = first.from_state.as_str();
    let mut since = start;
    for e in timeline {
        let at = e.at_unix_ms.clamp(since, until.max(since));
        *times.entry(state.to_owned()).or_default() += at - since;
        state = &e.to_state;
        since = at;
    }
    *times.entry(state.to_owned()).or_default() += (until - since).max(0);
    times.retain(|_, ms| *ms > 0);
    times
}

#[derive(Debug, Default)]
struct QueueAcc {
    contacts: u32,
    handled: u32,
    abandoned: u32,
    wait: Mean,
    handle: Mean,
    answered_within: [u32; 2],
}

impl QueueAcc {
    /// A queued contact.
    fn add(&mut self, r: &ContactRecord) {
        self.contacts += 1;
        let (Some(_), Some(wait)) = (r.disconnect_unix_ms, queue_duration_ms(r)) else {
            return;
        };
        self.wait.add(wait);
        if r.agent_connected_unix_ms.is_some() {
            self.handled += 1;
            for (count, limit) in self.answered_within.iter_mut().zip(SERVICE_LEVELS_MS) {
                if wait <= limit {
                    *count += 1;
                }
            }
        } else {
            self.abandoned += 1;
        }
        if let Some(handle) = handle_duration_ms(r) {
            self.handle.add(handle);
        }
    }

    fn finish(self, queue: &str) -> QueueSummary {
        QueueSummary {
            queue: queue.to_owned(),
            contacts: self.contacts,
            handled: self.handled,
            abandoned: self.abandoned,
            average_wait_ms: self.wait.value(),
            average_handle_ms: self.handle.value(),
            answered_within: self.answered_within,
        }
    }
}

#[derive(Debug, Default)]
struct AgentAcc {
    handled: u32,
    handle: Mean,
    hold_ms: i64,
    acw_ms: i64,
    time_in_state_ms: BTreeMap<String, i64>,
}

impl AgentAcc {
    fn add(&mut self, r: &ContactRecord) {
        self.handled += 1;
        if let Some(handle) = handle_duration_ms(r) {
            self.handle.add(handle);
        }
        self.hold_ms += r.hold_duration_ms;
        self.acw_ms += r.acw_duration_ms.unwrap_or(0);
    }

    fn finish(self, username: &str) -> AgentSummary {
        AgentSummary {
            username: username.to_owned(),
            handled: self.handled,
            average_handle_ms: self.handle.value(),
            hold_ms: self.hold_ms,
            acw_ms: self.acw_ms,
            time_in_state_ms: self.time_in_state_ms,
        }
    }
}

/// A running mean of non-negative milliseconds.
#[derive(Debug, Default)]
struct Mean {
    sum: i64,
    count: u32,
}

impl Mean {
    fn add(&mut self, ms: i64) {
        self.sum = self.sum.saturating_add(ms);
        self.count += 1;
    }

    /// Rounded half up.
    fn value(&self) -> Option<i64> {
        let n = i64::from(self.count);
        (n > 0).then(|| (self.sum + n / 2) / n)
    }
}

/// What the printed report lists beyond the rows: configured queues appear even without
/// contacts, and status columns follow the configured order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Shown in the title.
    pub instance: String,
    pub queues: Vec<String>,
    /// Configured statuses in order, then the system states; any other state found in the
    /// events comes after these, by name.
    pub states: Vec<String>,
}

impl Layout {
    pub fn from_config(config: &Config) -> Layout {
        Layout {
            instance: config.instance.name.clone(),
            queues: config.queues.keys().cloned().collect(),
            states: config
                .agent_statuses
                .iter()
                .map(|s| s.name.clone())
                .chain(RESERVED_STATUS_NAMES.iter().map(|s| (*s).to_owned()))
                .collect(),
        }
    }
}

/// The report as printed: a title, the queue table, the agent table and the time-in-status
/// table. `until_unix_ms` before the day's end marks a day still running.
pub fn render(day: &Day, until_unix_ms: i64, summary: &DaySummary, layout: &Layout) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} ({}), {} to {}",
        layout.instance,
        day.date,
        zone_name(&day.time_zone),
        rfc3339_s(day.start_unix_ms),
        rfc3339_s(day.end_unix_ms),
    );
    if until_unix_ms < day.end_unix_ms {
        let _ = writeln!(out, "So far: up to {}", rfc3339_s(until_unix_ms));
    }

    out.push_str("\nQueues\n");
    let mut queues: BTreeMap<&str, &QueueSummary> = summary
        .queues
        .iter()
        .map(|q| (q.queue.as_str(), q))
        .collect();
    let empty = QueueSummary::default();
    for name in &layout.queues {
        queues.entry(name.as_str()).or_insert(&empty);
    }
    if queues.is_empty() {
        out.push_str("No queued contacts.\n");
    } else {
        let mut rows: Vec<Vec<String>> = queues
            .into_iter()
            .map(|(name, q)| queue_row(name, q))
            .collect();
        rows.push(queue_row("All queues", &summary.all_queues));
        table(
            &mut out,
            &[
                "Queue",
                "Contacts",
                "Handled",
                "Abandoned",
                "Avg wait",
                "Avg handle",
                "SL 20s",
                "SL 60s",
            ],
            &rows,
        );
    }

    out.push_str("\nAgents\n");
    if summary.agents.is_empty() {
        out.push_str("No agent activity.\n");
        return out;
    }
    let rows: Vec<Vec<String>> = summary
        .agents
        .iter()
        .map(|a| {
            vec![
                a.username.clone(),
                a.handled.to_string(),
                duration(a.average_handle_ms),
                duration(Some(a.hold_ms)),
                duration(Some(a.acw_ms)),
            ]
        })
        .collect();
    table(
        &mut out,
        &["Agent", "Handled", "Avg handle", "Hold", "ACW"],
        &rows,
    );

    let seen: BTreeSet<&str> = summary
        .agents
        .iter()
        .flat_map(|a| a.time_in_state_ms.keys().map(String::as_str))
        .collect();
    if seen.is_empty() {
        return out;
    }
    let mut states: Vec<&str> = layout
        .states
        .iter()
        .map(String::as_str)
        .filter(|s| seen.contains(s))
        .collect();
    states.extend(
        seen.iter()
            .filter(|s| !layout.states.iter().any(|l| l == *s)),
    );
    out.push_str("\nTime in status\n");
    let mut headers = vec!["Agent"];
    headers.extend(&states);
    let rows: Vec<Vec<String>> = summary
        .agents
        .iter()
        .filter(|a| !a.time_in_state_ms.is_empty())
        .map(|a| {
            let mut row = vec![a.username.clone()];
            row.extend(
                states
                    .iter()
                    .map(|s| duration(a.time_in_state_ms.get(*s).copied())),
            );
            row
        })
        .collect();
    table(&mut out, &headers, &rows);
    out
}

fn queue_row(name: &str, q: &QueueSummary) -> Vec<String> {
    let ended = q.handled + q.abandoned;
    vec![
        name.to_owned(),
        q.contacts.to_string(),
        q.handled.to_string(),
        q.abandoned.to_string(),
        duration(q.average_wait_ms),
        duration(q.average_handle_ms),
        percent(q.answered_within[0], ended),
        percent(q.answered_within[1], ended),
    ]
}

/// `H:MM:SS`, rounded to the second; `-` for none.
fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "-".to_owned();
    };
    let s = (ms.max(0) + 500) / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `part / whole` as a percentage with one decimal, rounded half up; `-` when `whole` is 0.
fn percent(part: u32, whole: u32) -> String {
    if whole == 0 {
        return "-".to_owned();
    }
    let (part, whole) = (u64::from(part), u64::from(whole));
    let tenths = (part * 1000 + whole / 2) / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// RFC 3339 to the second, for the title.
fn rfc3339_s(unix_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(unix_ms) {
        Ok(ts) => format!("{ts:.0}"),
        Err(_) => unix_ms.to_string(),
    }
}

/// An aligned table: the first column left-aligned, the others right-aligned, two spaces
/// between columns, no trailing spaces.
fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(text, "{cell:<width$}");
            } else {
                let _ = write!(text, "  {cell:>width$}");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::agents::ContactId;
    use crate::store::{DisconnectReason, InitiationMethod};

    const SEC: i64 = 1_000;
    const MIN: i64 = 60 * SEC;
    const HOUR: i64 = 60 * MIN;

    fn day() -> Day {
        Day::new(jiff::civil::date(2026, 9, 21), jiff::tz::TimeZone::UTC).unwrap()
    }

    /// Midnight UTC starting 2026-09-21.
    const D: i64 = 1_789_948_800_000;

    /// A contact of queue `queue`, initiated at `D + at`, queued `enqueue` later.
    fn queued(n: u128, at: i64, queue: &str, enqueue: i64) -> ContactRecord {
        let mut r = ContactRecord::new(ContactId::from_u128(n), InitiationMethod::Inbound, D + at);
        r.queue = Some(queue.into());
        r.enqueue_unix_ms = Some(D + at + enqueue);
        r
    }

    /// `r`, answered by `agent` `wait` after it queued, ended `talk` later.
    fn answered(
        mut r: ContactRecord,
        agent: &str,
        wait: i64,
        talk: Option<i64>,
        hold: i64,
        acw: Option<i64>,
    ) -> ContactRecord {
        let connected = r.enqueue_unix_ms.unwrap_or(r.initiation_unix_ms) + wait;
        r.agent_username = Some(agent.into());
        r.agent_connected_unix_ms = Some(connected);
        r.hold_duration_ms = hold;
        r.hold_count = u32::from(hold > 0);
        r.disconnect_unix_ms = talk.map(|t| connected + t);
        r.disconnect_reason = talk.map(|_| DisconnectReason::Customer);
        r.acw_duration_ms = acw;
        r
    }

    fn ended(mut r: ContactRecord, after_enqueue: i64) -> ContactRecord {
        r.disconnect_unix_ms = r.enqueue_unix_ms.map(|e| e + after_enqueue);
        r.disconnect_reason = Some(DisconnectReason::Customer);
        r
    }

    fn contacts() -> Vec<ContactRecord> {
        let mut transferred = ended(queued(6, 5 * HOUR + MIN, "Support", 0), 10 * SEC);
        transferred.next_contact_id = Some(ContactId::from_u128(60));
        transferred.disconnect_reason = Some(DisconnectReason::ThirdParty);
        let mut outbound = ContactRecord::new(
            ContactId::from_u128(8),
            InitiationMethod::Outbound,
            D + 6 * HOUR,
        );
        outbound.queue = Some("Sales".into());
        let outbound = answered(outbound, "alice", 8 * SEC, Some(40 * SEC), 0, Some(5 * SEC));
        vec![
            // Sales: waits 15 s, 45 s, 30 s (abandoned); one still waiting, one still talking,
            // one outbound (never queued).
            answered(
                queued(1, HOUR, "Sales", 5 * SEC),
                "alice",
                15 * SEC,
                Some(120 * SEC),
                30 * SEC,
                Some(10 * SEC),
            ),
            answered(
                queued(2, 2 * HOUR, "Sales", 2 * SEC),
                "bob",
                45 * SEC,
                Some(MIN),
                0,
                None,
            ),
            ended(queued(3, 3 * HOUR, "Sales", SEC), 30 * SEC),
            queued(4, 4 * HOUR, "Sales", SEC),
            outbound,
            answered(
                queued(9, 7 * HOUR, "Sales", 0),
                "alice",
                5 * SEC,
                None,
                0,
                None,
            ),
            // Support: answered after 70 s; moved on by the flow after 10 s unanswered.
            answered(
                queued(5, 5 * HOUR, "Support", 0),
                "alice",
                70 * SEC,
                Some(200 * SEC),
                0,
                Some(20 * SEC),
            ),
            transferred,
            // Ended in the flow, never queued.
            ContactRecord::new(ContactId::from_u128(7), InitiationMethod::Inbound, D + HOUR),
        ]
    }

    fn event(id: i64, at: i64, user: &str, from: &str, to: &str) -> AgentEventRow {
        AgentEventRow {
            id: Some(id),
            at_unix_ms: D + at,
            username: user.into(),
            from_state: from.into(),
            to_state: to.into(),
            reason: "status_set".into(),
            contact_id: None,
        }
    }

    fn events() -> Vec<AgentEventRow> {
        let offer = 9 * HOUR;
        vec![
            event(1, 8 * HOUR, "alice", "Offline", "Available"),
            event(7, 12 * HOUR, "bob", "Break", "Available"),
            event(3, offer, "alice", "Available", "Incoming"),
            event(4, offer + 10 * SEC, "alice", "Incoming", "Busy"),
            event(
                5,
                offer + 10 * SEC + 2 * MIN,
                "alice",
                "Busy",
                "AfterContactWork",
            ),
            event(
                6,
                offer + 20 * SEC + 2 * MIN,
                "alice",
                "AfterContactWork",
                "Available",
            ),
            event(8, 17 * HOUR, "alice", "Available", "Offline"),
            event(2, 10 * HOUR, "carol", "Available", "Training"),
        ]
    }

    fn states(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(s, ms)| ((*s).to_owned(), *ms)).collect()
    }

    #[test]
    fn a_day_is_its_local_midnights() {
        let utc = day();
        assert_eq!((utc.start_unix_ms, utc.end_unix_ms), (D, D + 24 * HOUR));
        // New York leaves daylight saving on 2026-11-01: that day has 25 hours.
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let fall = Day::new(jiff::civil::date(2026, 11, 1), ny.clone()).unwrap();
        assert_eq!(fall.start_unix_ms, 1_793_505_600_000); // 04:00Z
        assert_eq!(fall.end_unix_ms - fall.start_unix_ms, 25 * HOUR);
        assert_eq!(
            Day::containing(D - 1, ny).unwrap(),
            jiff::civil::date(2026, 9, 20)
        );
    }

    #[test]
    fn queue_figures_follow_the_definitions() {
        let summary = summarize(&contacts(), &events(), D, D + 24 * HOUR);
        assert_eq!(
            summary.queues,
            [
                QueueSummary {
                    queue: "Sales".into(),
                    contacts: 5,
                    handled: 2,
                    abandoned: 1,
                    // (15 + 45 + 30) / 3 s
                    average_wait_ms: Some(30_000),
                    // (130 + 60) / 2 s
                    average_handle_ms: Some(95_000),
                    answered_within: [1, 2],
                },
                QueueSummary {
                    queue: "Support".into(),
                    contacts: 2,
                    handled: 1,
                    abandoned: 1,
                    // (70 + 10) / 2 s
                    average_wait_ms: Some(40_000),
                    average_handle_ms: Some(220_000),
                    answered_within: [0, 0],
                },
            ]
        );
        assert_eq!(
            summary.all_queues,
            QueueSummary {
                queue: String::new(),
                contacts: 7,
                handled: 3,
                abandoned: 2,
                // (15 + 45 + 30 + 70 + 10) / 5 s
                average_wait_ms: Some(34_000),
                // (130 + 60 + 220) / 3 s, rounded
                average_handle_ms: Some(136_667),
                answered_within: [1, 2],
            }
        );
    }

    #[test]
    fn agent_figures_and_time_in_status() {
        let summary = summarize(&contacts(), &events(), D, D + 24 * HOUR);
        assert_eq!(
            summary.agents,
            [
                AgentSummary {
                    username: "alice".into(),
                    // Two queued, one outbound; the contact still running does not count yet.
                    handled: 3,
                    // (130 + 220 + 45) / 3 s, rounded
                    average_handle_ms: Some(131_667),
                    hold_ms: 30_000,
                    acw_ms: 35_000,
                    time_in_state_ms: states(&[
                        ("Offline", 15 * HOUR),
                        ("Available", 9 * HOUR - 2 * MIN - 20 * SEC),
                        ("Incoming", 10 * SEC),
                        ("Busy", 2 * MIN),
                        ("AfterContactWork", 10 * SEC),
                    ]),
                },
                AgentSummary {
                    username: "bob".into(),
                    handled: 1,
                    average_handle_ms: Some(60_000),
                    hold_ms: 0,
                    acw_ms: 0,
                    time_in_state_ms: states(&[("Break", 12 * HOUR), ("Available", 12 * HOUR)]),
                },
                AgentSummary {
                    username: "carol".into(),
                    handled: 0,
                    average_handle_ms: None,
                    hold_ms: 0,
                    acw_ms: 0,
                    time_in_state_ms: states(&[("Available", 10 * HOUR), ("Training", 14 * HOUR)]),
                },
            ]
        );
        for agent in &summary.agents {
            assert_eq!(agent.time_in_state_ms.values().sum::<i64>(), 24 * HOUR);
        }
    }

    #[test]
    fn a_day_still_running_counts_status_time_up_to_now() {
        let summary = summarize(&[], &events(), D, D + 9 * HOUR + 5 * SEC);
        let times: Vec<_> = summary
            .agents
            .iter()
            .map(|a| (a.username.as_str(), a.time_in_state_ms.clone()))
            .collect();
        assert_eq!(
            times,
            [
                (
                    "alice",
                    states(&[
                        ("Offline", 8 * HOUR),
                        ("Available", HOUR),
                        ("Incoming", 5 * SEC)
                    ])
                ),
                // Events after now do not count; the state before them holds until now.
                ("bob", states(&[("Break", 9 * HOUR + 5 * SEC)])),
                ("carol", states(&[("Available", 9 * HOUR + 5 * SEC)])),
            ]
        );
    }

    #[test]
    fn nothing_stored_gives_an_empty_summary() {
        let summary = summarize(&[], &[], D, D + 24 * HOUR);
        assert_eq!(
            summary,
            DaySummary {
                queues: vec![],
                all_queues: QueueSummary::default(),
                agents: vec![],
            }
        );
        let text = render(&day(), D + 24 * HOUR, &summary, &Layout::default());
        assert_eq!(
            text,
            ": 2026-09-21 (UTC), 2026-09-21T00:00:00Z to 2026-09-22T00:00:00Z\n\
             \n\
             Queues\n\
             No queued contacts.\n\
             \n\
             Agents\n\
             No agent activity.\n"
        );
    }

    fn layout() -> Layout {
        Layout {
            instance: "Switchboard demo".into(),
            queues: vec!["Billing".into(), "Sales".into(), "Support".into()],
            states: [
                "Available",
                "Offline",
                "Break",
                "Lunch",
                "Incoming",
                "Busy",
                "AfterContactWork",
                "Missed",
                "Monitoring",
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    #[test]
    fn the_report_is_aligned_tables() {
        let summary = summarize(&contacts(), &events(), D, D + 24 * HOUR);
        let text = render(&day(), D + 24 * HOUR, &summary, &layout());
        let expected = "\
Switchboard demo: 2026-09-21 (UTC), 2026-09-21T00:00:00Z to 2026-09-22T00:00:00Z

Queues
Queue       Contacts  Handled  Abandoned  Avg wait  Avg handle  SL 20s  SL 60s
Billing            0        0          0         -           -       -       -
Sales              5        2          1   0:00:30     0:01:35   33.3%   66.7%
Support            2        1          1   0:00:40     0:03:40    0.0%    0.0%
All queues         7        3          2   0:00:34     0:02:17   20.0%   40.0%

Agents
Agent  Handled  Avg handle     Hold      ACW
alice        3     0:02:12  0:00:30  0:00:35
bob          1     0:01:00  0:00:00  0:00:00
carol        0           -  0:00:00  0:00:00

Time in status
Agent  Available   Offline     Break  Incoming     Busy  AfterContactWork  Training
alice    8:57:40  15:00:00         -   0:00:10  0:02:00           0:00:10         -
bob     12:00:00         -  12:00:00         -        -                 -         -
carol   10:00:00         -         -         -        -                 -  14:00:00
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_running_day_says_so() {
        let summary = summarize(&[], &events()[..1], D, D + 8 * HOUR + 30 * MIN);
        let text = render(&day(), D + 8 * HOUR + 30 * MIN, &summary, &layout());
        assert_eq!(
            text,
            "Switchboard demo: 2026-09-21 (UTC), 2026-09-21T00:00:00Z to 2026-09-22T00:00:00Z\n\
             So far: up to 2026-09-21T08:30:00Z\n\
             \n\
             Queues\n\
             Queue       Contacts  Handled  Abandoned  Avg wait  Avg handle  SL 20s  SL 60s\n\
             Billing            0        0          0         -           -       -       -\n\
             Sales              0        0          0         -           -       -       -\n\
             Support            0        0          0         -           -       -       -\n\
             All queues         0        0          0         -           -       -       -\n\
             \n\
             Agents\n\
             Agent  Handled  Avg handle     Hold      ACW\n\
             alice        0           -  0:00:00  0:00:00\n\
             \n\
             Time in status\n\
             Agent  Available  Offline\n\
             alice    0:30:00  8:00:00\n"
        );
    }

    #[test]
    fn durations_and_percentages_round_half_up() {
        assert_eq!(duration(None), "-");
        assert_eq!(duration(Some(0)), "0:00:00");
        assert_eq!(duration(Some(499)), "0:00:00");
        assert_eq!(duration(Some(500)), "0:00:01");
        assert_eq!(duration(Some(3_599_500)), "1:00:00");
        assert_eq!(duration(Some(90_061_000)), "25:01:01");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(1, 8), "12.5%");
        assert_eq!(percent(1, 16), "6.3%");
        assert_eq!(percent(3, 3), "100.0%");
        assert_eq!(percent(0, 0), "-");
    }
}

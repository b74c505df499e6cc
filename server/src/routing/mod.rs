//! Queues and agent selection, sans-IO. The [`Router`] holds the contacts waiting in each
//! queue, in age order (enqueue time, then arrival order on ties), and picks who gets offered
//! what (`select.rs`): the longest-idle routable agent, the oldest contact of the highest
//! priority queues in that agent's routing profile, once the profile's delay for the queue has
//! passed since the contact was enqueued.
//!
//! Invariants: a contact is offered to at most one agent at a time, and an agent to at most
//! one contact (the agent side is [`crate::agents`]). A contact keeps its enqueue time for as
//! long as it waits, so after a missed offer it is back in its original place. The number
//! waiting in a queue (offered ones included) never exceeds its `max_contacts`.
//!
//! Times are unix milliseconds passed in by the caller, as in [`crate::agents`]. Hours of
//! operation are not applied here: a flow checks them before it enqueues ([`Router::queue_open`]),
//! and contacts already waiting when a queue closes are still routed, as in Amazon Connect.

mod select;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use crate::agents::{AgentError, Agents, ContactId, MissReason};
use crate::config::{Config, HoursOfOperation, Queue, RoutingProfile};

/// A contact's place in its queue; 1 is next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(pub u32);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// The flow's at-capacity branch.
    #[error("queue `{queue}` is at capacity ({max_contacts} contacts)")]
    AtCapacity { queue: String, max_contacts: u32 },
    #[error("no queue `{0}`")]
    UnknownQueue(String),
    #[error("contact {0} is already in a queue")]
    AlreadyQueued(ContactId),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("contact {0} is not in a queue")]
    NotQueued(ContactId),
    #[error("contact {0} is not being offered")]
    NotOffered(ContactId),
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// A contact waiting in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub contact: ContactId,
    pub queue: String,
    /// When it entered the queue; its age and every routing-profile delay count from here.
    pub enqueued_at_unix_ms: i64,
    /// The agent it is ringing, if any.
    pub offered_to: Option<String>,
    /// While ringing: when the offer counts as missed (`routing.ring_timeout` after it).
    pub ring_deadline_unix_ms: Option<i64>,
    /// Breaks ties between contacts enqueued in the same millisecond: arrival order.
    seq: u64,
}

/// What [`Router::next_offer`] decided: ring `username` for `contact`. The agent is already
/// Incoming; the shell sends the INVITE and reports back with [`Router::offer_accepted`],
/// [`Router::offer_missed`] or [`Router::cancel`]. If none comes by `ring_deadline_unix_ms`,
/// [`Router::handle_timeout`] counts the offer as missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub contact: ContactId,
    pub queue: String,
    pub username: String,
    pub enqueued_at_unix_ms: i64,
    pub ring_deadline_unix_ms: i64,
}

/// A contact that left its queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dequeued {
    pub contact: ContactId,
    pub queue: String,
    pub enqueued_at_unix_ms: i64,
    /// The agent whose phone was ringing for it (now back in their status): cancel that INVITE.
    pub was_offered_to: Option<String>,
}

/// The queue's real-time figures, as the check_queue_status block reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStatus {
    /// Waiting, offered ones included.
    pub contacts_in_queue: u32,
    pub oldest_contact_age: Option<Duration>,
}

/// Agents of a queue (those whose routing profile lists it), as Amazon Connect counts them:
/// `online` in any status but Offline; `staffed` online and not in non-productive time (in a
/// routable status, or ringing, on a contact, in ACW or Missed); `available` able to take a
/// contact now (routable status, nothing on top, phone reachable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Staffing {
    pub online: u32,
    pub staffed: u32,
    pub available: u32,
}

#[derive(Debug, Clone)]
struct QueueState {
    max_contacts: Option<u32>,
    hours: Option<HoursOfOperation>,
    /// (enqueued_at, seq, contact): age order.
    order: BTreeSet<(i64, u64, ContactId)>,
}

/// The queues and the offers in progress. How the shell drives it, with [`Agents`]:
///
/// 1. Inputs: [`Router::enqueue`] (a flow's transfer_to_queue), [`Router::cancel`] /
///    [`Router::dequeue`], [`Router::offer_accepted`] / [`Router::offer_missed`] (the agent
///    leg's answer, 486/603, a reject in the panel), and the agent inputs on [`Agents`]
///    (status, bindings via [`Agents::set_registered`], contact ended, ACW cleared).
/// 2. After any of them, `while let Some(offer) = router.next_offer(now, &mut agents)`:
///    ring `offer.username` for `offer.contact`.
/// 3. Arm one timer for the earlier of [`Router::poll_timeout`] and [`Agents::poll_timeout`];
///    when it fires, call [`Agents::handle_timeout`] and [`Router::handle_timeout`] (cancel
///    the INVITEs of the offers it returns), then step 2 again.
/// 4. Drain [`Agents::poll_event`] to the store and the panel.
#[derive(Debug, Clone)]
pub struct Router {
    queues: BTreeMap<String, QueueState>,
    profiles: BTreeMap<String, RoutingProfile>,
    ring_timeout: Duration,
    contacts: HashMap<ContactId, Waiting>,
    next_seq: u64,
    /// `now` of the last [`Router::next_offer`]: delays that expired by then need no wake-up.
    selected_at: Option<i64>,
}

impl Router {
    pub fn from_config(config: &Config) -> Router {
        Router::new(
            config.queues.values(),
            &config.hours_of_operation,
            &config.routing_profiles,
            config.routing.ring_timeout,
        )
    }

    /// A queue whose hours are missing from `hours` is never reported open. An offer rings
    /// for `ring_timeout` before it counts as missed.
    pub fn new<'a>(
        queues: impl IntoIterator<Item = &'a Queue>,
        hours: &BTreeMap<String, HoursOfOperation>,
        profiles: &BTreeMap<String, RoutingProfile>,
        ring_timeout: Duration,
    ) -> Router {
        let queues = queues
            .into_iter()
            .map(|q| {
                let state = QueueState {
                    max_contacts: q.max_contacts,
                    hours: hours.get(&q.hours).cloned(),
                    order: BTreeSet::new(),
                };
                (q.name.clone(), state)
            })
            .collect();
        Router {
            queues,
            profiles: profiles.clone(),
            ring_timeout,
            contacts: HashMap::new(),
            next_seq: 0,
            selected_at: None,
        }
    }

    /// Whether `queue`'s hours of operation are open at `at`; `None` for an unknown queue.
    pub fn queue_open(&self, queue: &str, at: jiff::Timestamp) -> Option<bool> {
        let q = self.queues.get(queue)?;
        Some(q.hours.as_ref().is_some_and(|h| h.is_open(at)))
    }

    /// Puts `contact` at the back of `queue`, unless the queue is full.
    pub fn enqueue(
        &mut self,
        now: i64,
        contact: ContactId,
        queue: &str,
    ) -> Result<Position, EnqueueError> {
        if self.contacts.contains_key(&contact) {
            return Err(EnqueueError::AlreadyQueued(contact));
        }
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| EnqueueError::UnknownQueue(queue.to_string()))?;
        if let Some(max) = q.max_contacts
            && q.order.len() >= usize::try_from(max).unwrap_or(usize::MAX)
        {
            return Err(EnqueueError::AtCapacity {
                queue: queue.to_string(),
                max_contacts: max,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        q.order.insert((now, seq, contact));
        self.contacts.insert(
            contact,
            Waiting {
                contact,
                queue: queue.to_string(),
                enqueued_at_unix_ms: now,
                offered_to: None,
                ring_deadline_unix_ms: None,
                seq,
            },
        );
        Ok(self.position(contact).unwrap_or(Position(1)))
    }

    /// Where `contact` waits in its queue (offered contacts ahead of it count), if it does.
    pub fn position(&self, contact: ContactId) -> Option<Position> {
        let w = self.contacts.get(&contact)?;
        let q = self.queues.get(&w.queue)?;
        let ahead = q
            .order
            .range(..(w.enqueued_at_unix_ms, w.seq, contact))
            .count();
        Some(Position(u32::try_from(ahead + 1).unwrap_or(u32::MAX)))
    }

    pub fn waiting(&self, contact: ContactId) -> Option<&Waiting> {
        self.contacts.get(&contact)
    }

    /// The customer hung up while queued. If an agent was ringing for the contact, the offer is
    /// withdrawn (the agent goes back to their status) and named in the result.
    pub fn cancel(
        &mut self,
        now: i64,
        agents: &mut Agents,
        contact: ContactId,
    ) -> Option<Dequeued> {
        self.dequeue(now, agents, contact)
    }

    /// The contact leaves its queue without reaching an agent (a DTMF choice in the queue
    /// flow, a transfer, the caller hanging up); an offer in progress is withdrawn.
    pub fn dequeue(
        &mut self,
        now: i64,
        agents: &mut Agents,
        contact: ContactId,
    ) -> Option<Dequeued> {
        let gone = self.remove(contact)?;
        if let Some(username) = &gone.was_offered_to
            && let Err(e) = agents.offer_withdrawn(now, username, contact)
        {
            tracing::warn!(%contact, agent = %username, error = %e, "withdrawing an offer");
        }
        Some(gone)
    }

    /// The agent accepted the offer: the contact leaves the queue and the agent is Busy. With
    /// auto-accept or a desk phone (no accept step) call it when the agent leg answers; then
    /// [`Agents::contact_connected`] when the legs are bridged, as for any contact.
    pub fn offer_accepted(
        &mut self,
        now: i64,
        agents: &mut Agents,
        contact: ContactId,
    ) -> Result<Dequeued, RoutingError> {
        let username = self.offered_to(contact)?;
        agents.offer_accepted(now, &username, contact)?;
        self.remove(contact).ok_or(RoutingError::NotQueued(contact))
    }

    /// The offer failed (rang out, 486/603, rejected): the agent goes to Missed and the contact
    /// stays in its original place (its enqueue time is kept), free for the next agent.
    pub fn offer_missed(
        &mut self,
        now: i64,
        agents: &mut Agents,
        contact: ContactId,
        reason: MissReason,
    ) -> Result<(), RoutingError> {
        let username = self.offered_to(contact)?;
        agents.offer_missed(now, &username, contact, reason)?;
        if let Some(w) = self.contacts.get_mut(&contact) {
            w.offered_to = None;
            w.ring_deadline_unix_ms = None;
        }
        Ok(())
    }

    pub fn queue_status(&self, now: i64, queue: &str) -> Option<QueueStatus> {
        let q = self.queues.get(queue)?;
        let oldest = q.order.first().map(|(at, _, _)| {
            Duration::from_millis(u64::try_from(now.saturating_sub(*at)).unwrap_or(0))
        });
        Some(QueueStatus {
            contacts_in_queue: u32::try_from(q.order.len()).unwrap_or(u32::MAX),
            oldest_contact_age: oldest,
        })
    }

    /// Online, staffed and available agents for `queue` (see [`Staffing`]); `None` for an
    /// unknown queue.
    pub fn staffing(&self, queue: &str, agents: &Agents) -> Option<Staffing> {
        self.queues.get(queue)?;
        let mut s = Staffing::default();
        for agent in agents.iter() {
            let serves = agent
                .routing_profile()
                .and_then(|p| self.profiles.get(p))
                .is_some_and(|p| p.queues.iter().any(|pq| pq.queue == queue));
            if !serves {
                continue;
            }
            s.online += u32::from(agent.is_online());
            s.staffed += u32::from(agent.is_staffed());
            s.available += u32::from(agent.is_routable());
        }
        Some(s)
    }

    fn offered_to(&self, contact: ContactId) -> Result<String, RoutingError> {
        let w = self
            .contacts
            .get(&contact)
            .ok_or(RoutingError::NotQueued(contact))?;
        w.offered_to
            .clone()
            .ok_or(RoutingError::NotOffered(contact))
    }

    fn remove(&mut self, contact: ContactId) -> Option<Dequeued> {
        let w = self.contacts.remove(&contact)?;
        if let Some(q) = self.queues.get_mut(&w.queue) {
            q.order.remove(&(w.enqueued_at_unix_ms, w.seq, contact));
        }
        Some(Dequeued {
            contact,
            queue: w.queue,
            enqueued_at_unix_ms: w.enqueued_at_unix_ms,
            was_offered_to: w.offered_to,
        })
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

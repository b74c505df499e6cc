//! Selection: which agent is offered which contact, and when to try again.
//!
//! Agents are visited longest idle first ([`crate::agents::Agent::idle_since`], ties by
//! username). Each picks, among the queues of their routing profile, the contact with the best
//! (profile priority, enqueue time, arrival order) that is not being offered to anyone and
//! whose queue delay in that profile has passed since it was enqueued. The first agent that
//! finds one gets it. Visiting agents (not contacts) first gives both Amazon Connect rules at
//! once: a new contact goes to the longest-idle eligible agent, and an agent who becomes free
//! takes the oldest contact of their highest-priority queue.
//!
//! Contacts whose delay has not passed yet make a deadline: [`Router::poll_timeout`] is the
//! next moment one expires after the last selection, so the shell wakes up and selects again.

use super::{Offer, Router, duration_ms};
use crate::agents::{Agents, ContactId, MissReason};
use crate::config::RoutingProfile;

impl Router {
    /// The next offer to make, already applied to both sides: the contact is marked offered
    /// and the agent is Incoming. Call it until it returns `None` whenever a contact is
    /// enqueued or returned, an agent becomes routable, or [`Router::poll_timeout`] passes.
    pub fn next_offer(&mut self, now: i64, agents: &mut Agents) -> Option<Offer> {
        self.selected_at = Some(now);
        if self.contacts.values().all(|w| w.offered_to.is_some()) {
            return None;
        }
        let mut candidates: Vec<(i64, &str, &RoutingProfile)> = agents
            .iter()
            .filter(|a| a.is_routable())
            .filter_map(|a| {
                let profile = self.profiles.get(a.routing_profile()?)?;
                Some((a.idle_since().unwrap_or(i64::MIN), a.username(), profile))
            })
            .collect();
        candidates.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let (username, queue, contact) = candidates.iter().find_map(|(_, user, profile)| {
            let (queue, contact) = self.best_for(now, profile)?;
            Some((user.to_string(), queue, contact))
        })?;

        if let Err(e) = agents.offer(now, &username, contact) {
            // Not expected: the agent was routable a moment ago.
            tracing::warn!(%contact, agent = %username, error = %e, "offer refused");
            return None;
        }
        let deadline = now.saturating_add(duration_ms(self.ring_timeout));
        let w = self.contacts.get_mut(&contact)?;
        w.offered_to = Some(username.clone());
        w.ring_deadline_unix_ms = Some(deadline);
        Some(Offer {
            contact,
            queue,
            username,
            enqueued_at_unix_ms: w.enqueued_at_unix_ms,
            ring_deadline_unix_ms: deadline,
        })
    }

    /// The next moment the router needs the shell: an offer rings out, or a routing-profile
    /// delay expires for a waiting contact (after the last [`Router::next_offer`]). At that
    /// moment call [`Router::handle_timeout`], then [`Router::next_offer`].
    pub fn poll_timeout(&self) -> Option<i64> {
        let after = self.selected_at.unwrap_or(i64::MIN);
        let mut next: Option<i64> = self
            .contacts
            .values()
            .filter_map(|w| w.ring_deadline_unix_ms)
            .min();
        for profile in self.profiles.values() {
            for pq in &profile.queues {
                let delay = duration_ms(pq.delay);
                if delay == 0 {
                    continue;
                }
                let Some(q) = self.queues.get(&pq.queue) else {
                    continue;
                };
                // The first contact with enqueued_at + delay > after.
                let from = after.saturating_sub(delay).saturating_add(1);
                let due = q
                    .order
                    .range((from, 0, ContactId::nil())..)
                    .find(|(_, _, c)| self.is_free(*c))
                    .map(|(at, _, _)| at.saturating_add(delay));
                next = match (next, due) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        next
    }

    /// Offers that rang out by `now` count as missed ([`MissReason::RingTimeout`]): each agent
    /// goes to Missed and each contact back to its place. Returns them, oldest deadline first,
    /// so the shell can cancel the agents' INVITEs.
    pub fn handle_timeout(&mut self, now: i64, agents: &mut Agents) -> Vec<Offer> {
        let mut due: Vec<Offer> = self
            .contacts
            .values()
            .filter_map(|w| {
                let deadline = w.ring_deadline_unix_ms.filter(|d| *d <= now)?;
                Some(Offer {
                    contact: w.contact,
                    queue: w.queue.clone(),
                    username: w.offered_to.clone()?,
                    enqueued_at_unix_ms: w.enqueued_at_unix_ms,
                    ring_deadline_unix_ms: deadline,
                })
            })
            .collect();
        due.sort_by_key(|o| (o.ring_deadline_unix_ms, o.enqueued_at_unix_ms, o.contact));
        for o in &due {
            if let Err(e) = self.offer_missed(now, agents, o.contact, MissReason::RingTimeout) {
                tracing::warn!(contact = %o.contact, agent = %o.username, error = %e, "ring timeout");
            }
        }
        due
    }

    /// The contact `profile` would take now: best (priority, age) among its queues, not being
    /// offered, delay passed.
    fn best_for(&self, now: i64, profile: &RoutingProfile) -> Option<(String, ContactId)> {
        let mut best: Option<((u32, i64, u64), &str, ContactId)> = None;
        for pq in &profile.queues {
            let Some(q) = self.queues.get(&pq.queue) else {
                continue;
            };
            // Age order: the first free contact is the oldest; if its delay has not passed,
            // no younger one's has either.
            let Some(&(at, seq, contact)) = q.order.iter().find(|(_, _, c)| self.is_free(*c))
            else {
                continue;
            };
            if at.saturating_add(duration_ms(pq.delay)) > now {
                continue;
            }
            let key = (pq.priority, at, seq);
            if best.as_ref().is_none_or(|(k, _, _)| key < *k) {
                best = Some((key, &pq.queue, contact));
            }
        }
        best.map(|(_, queue, contact)| (queue.to_string(), contact))
    }

    fn is_free(&self, contact: ContactId) -> bool {
        self.contacts
            .get(&contact)
            .is_some_and(|w| w.offered_to.is_none())
    }
}

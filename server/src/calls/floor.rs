//! The floor as managers see it: live queue and agent figures ([`FloorSnapshot`]), and
//! today's per-queue tallies, kept as contacts end.

use std::collections::HashMap;

use crate::agents::Activity;
use crate::control::{AgentFloor, FloorSnapshot, QueueFloor};
use crate::store::ContactRecord;

use super::Calls;

const DAY_MS: i64 = 86_400_000;

/// One queue's tallies for one (UTC) day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct QueueDay {
    handled: u32,
    abandoned: u32,
    within_20s: u32,
    within_60s: u32,
    handle_sum_ms: i64,
    handle_count: u32,
}

/// Today's tallies, per queue.
#[derive(Debug, Clone, Default)]
pub(super) struct DayStats {
    day: i64,
    queues: HashMap<String, QueueDay>,
}

impl DayStats {
    fn queue(&mut self, now_ms: i64, queue: &str) -> &mut QueueDay {
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.day {
            self.day = day;
            self.queues.clear();
        }
        self.queues.entry(queue.to_string()).or_default()
    }

    /// A queued contact ended (or was handed over): handled if an agent took it, else
    /// abandoned.
    pub(super) fn contact_closed(&mut self, now_ms: i64, r: &ContactRecord) {
        let (Some(queue), Some(enqueued)) = (&r.queue, r.enqueue_unix_ms) else {
            return;
        };
        let q = self.queue(now_ms, queue);
        match r.agent_connected_unix_ms {
            Some(answered) => {
                q.handled += 1;
                let waited = answered - enqueued;
                if waited <= 20_000 {
                    q.within_20s += 1;
                }
                if waited <= 60_000 {
                    q.within_60s += 1;
                }
            }
            None => q.abandoned += 1,
        }
    }

    /// A handled contact's after-contact work is over: its handle time counts.
    pub(super) fn handle_time(&mut self, now_ms: i64, r: &ContactRecord) {
        let (Some(queue), Some(answered), Some(ended)) =
            (&r.queue, r.agent_connected_unix_ms, r.disconnect_unix_ms)
        else {
            return;
        };
        if r.enqueue_unix_ms.is_none() {
            return;
        }
        let q = self.queue(now_ms, queue);
        q.handle_sum_ms += (ended - answered).max(0) + r.acw_duration_ms.unwrap_or(0);
        q.handle_count += 1;
    }
}

impl Calls {
    /// The floor now.
    pub fn floor(&mut self, now_ms: i64) -> FloorSnapshot {
        // Roll the day over even when nothing ended today yet.
        let _ = self.day.queue(now_ms, "");
        self.day.queues.remove("");
        let serves = |profile: Option<&str>, queue: &str| {
            profile
                .and_then(|p| self.config.routing_profiles.get(p))
                .is_some_and(|p| p.queues.iter().any(|q| q.queue == queue))
        };
        let queues = self
            .config
            .queues
            .keys()
            .map(|name| {
                let status = self.router.queue_status(now_ms, name);
                let staffing = self.router.staffing(name, &self.agents).unwrap_or_default();
                let mut q = QueueFloor {
                    name: name.clone(),
                    contacts_in_queue: status.map_or(0, |s| s.contacts_in_queue),
                    oldest_contact_age_ms: status
                        .and_then(|s| s.oldest_contact_age)
                        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
                    agents_online: staffing.online,
                    agents_staffed: staffing.staffed,
                    agents_available: staffing.available,
                    agents_on_contact: 0,
                    agents_in_acw: 0,
                    agents_missed: 0,
                    handled_today: 0,
                    abandoned_today: 0,
                    answered_within_20s_today: 0,
                    answered_within_60s_today: 0,
                    average_handle_time_ms: None,
                };
                for a in self.agents.iter() {
                    if !serves(a.routing_profile(), name) {
                        continue;
                    }
                    match a.activity() {
                        Activity::Busy(_) | Activity::Incoming(_) => q.agents_on_contact += 1,
                        Activity::AfterContactWork(_) => q.agents_in_acw += 1,
                        Activity::Missed(_) => q.agents_missed += 1,
                        _ => {}
                    }
                }
                if let Some(d) = self.day.queues.get(name) {
                    q.handled_today = d.handled;
                    q.abandoned_today = d.abandoned;
                    q.answered_within_20s_today = d.within_20s;
                    q.answered_within_60s_today = d.within_60s;
                    q.average_handle_time_ms =
                        (d.handle_count > 0).then(|| d.handle_sum_ms / i64::from(d.handle_count));
                }
                q
            })
            .collect();
        let agents = self
            .agents
            .iter()
            .filter_map(|a| {
                let u = self.config.users.get(a.username())?;
                let snap = self.snapshot(a.username())?;
                let contact = a.contact();
                let live = contact.and_then(|id| self.contacts.get(&id));
                // Taking a transfer the transferring agent waits on (`consult`): the call
                // is the transferring agent's.
                let transfer = contact
                    .and_then(|id| self.routed.get(&id))
                    .and_then(|c| self.routed_of(*c));
                let listen_in: Result<(), String> = match (a.activity(), live) {
                    (Activity::Busy(_), None) if transfer.is_some() => Err(
                        "The agent is taking a transfer: listen in on the transferring agent"
                            .into(),
                    ),
                    (Activity::Busy(b), Some(c)) if b.connected => {
                        if c.agent.as_ref().is_none_or(|ag| ag.dialog.is_none()) {
                            Err("The agent's phone is not connected yet".into())
                        } else if !c.record_call {
                            Err(
                                "Recording is off for this contact, so listen-in is not possible"
                                    .into(),
                            )
                        } else {
                            Ok(())
                        }
                    }
                    (Activity::Busy(_), Some(_)) => {
                        Err("The agent is not connected to the customer yet".into())
                    }
                    (Activity::Busy(_), None) => Err("The call is still being placed".into()),
                    _ => Err("The agent is not on a call".into()),
                };
                Some(AgentFloor {
                    username: a.username().to_string(),
                    display_name: u.display_name.clone(),
                    routing_profile: u.routing_profile.clone(),
                    state: snap.state,
                    state_since_unix_ms: snap.state_since_unix_ms,
                    contact,
                    queue: live
                        .map(|c| c.record.queue.clone())
                        .or_else(|| {
                            contact
                                .and_then(|id| self.in_acw.get(&id))
                                .map(|r| r.queue.clone())
                        })
                        .flatten()
                        .or_else(|| transfer?.queued.as_ref().map(|(q, _)| q.clone())),
                    listen_in_allowed: listen_in.is_ok(),
                    listen_in_reason: listen_in.err(),
                })
            })
            .collect();
        FloorSnapshot {
            at_unix_ms: now_ms,
            queues,
            agents,
            monitoring_sessions: u32::try_from(
                self.contacts
                    .values()
                    .flat_map(|c| &c.monitors)
                    .filter(|m| m.dialog.is_some())
                    .count(),
            )
            .unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn record(queue: &str, enq: i64, answered: Option<i64>, ended: i64) -> ContactRecord {
        let mut r =
            ContactRecord::new(Uuid::new_v4(), crate::store::InitiationMethod::Inbound, enq);
        r.queue = Some(queue.into());
        r.enqueue_unix_ms = Some(enq);
        r.agent_connected_unix_ms = answered;
        r.disconnect_unix_ms = Some(ended);
        r
    }

    #[test]
    fn tallies_handled_abandoned_service_level_and_handle_time_per_day() {
        let mut d = DayStats::default();
        let t = 10 * DAY_MS + 1_000;
        d.contact_closed(t, &record("Sales", t, Some(t + 5_000), t + 65_000));
        d.contact_closed(t, &record("Sales", t, Some(t + 30_000), t + 90_000));
        d.contact_closed(t, &record("Sales", t, Some(t + 61_000), t + 100_000));
        d.contact_closed(t, &record("Sales", t, None, t + 9_000));
        let mut r = record("Sales", t, Some(t + 5_000), t + 65_000);
        r.acw_duration_ms = Some(10_000);
        d.handle_time(t, &r);
        let q = d.queues.get("Sales").cloned().unwrap_or_default();
        assert_eq!(
            q,
            QueueDay {
                handled: 3,
                abandoned: 1,
                within_20s: 1,
                within_60s: 2,
                handle_sum_ms: 70_000,
                handle_count: 1,
            }
        );
        // The next day starts from zero.
        d.contact_closed(t + DAY_MS, &record("Sales", t + DAY_MS, None, t + DAY_MS));
        assert_eq!(
            d.queues.get("Sales").map(|q| (q.handled, q.abandoned)),
            Some((0, 1))
        );
    }
}

//! Queue and selection behaviour, one behaviour per test, in virtual time (unix ms).
//!
//! Queues: Support (at most 3 waiting, business hours 09:00-17:00 UTC weekdays) and Sales.
//! Agents: alice and dan serve Support (priority 1) then Sales (2); bob serves Sales (1) then
//! Support (2) after a 30 s delay; carol serves Support only, from a desk phone.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::agents::{AgentSpec, AgentState};
use crate::config::{AgentStatus, OpenRange, RoutingProfileQueue};

const T0: i64 = 1_700_000_000_000; // Tuesday 2023-11-14 22:13:20 UTC
const RING: Duration = Duration::from_secs(20);

fn queue(name: &str, hours: &str, max_contacts: Option<u32>) -> Queue {
    Queue {
        name: name.into(),
        hours: hours.into(),
        max_contacts,
        outbound_caller_id: None,
        quick_connects: Vec::new(),
    }
}

fn profile(name: &str, queues: &[(&str, u32, u64)]) -> (String, RoutingProfile) {
    let queues = queues
        .iter()
        .map(|&(queue, priority, delay_secs)| RoutingProfileQueue {
            queue: queue.into(),
            priority,
            delay: Duration::from_secs(delay_secs),
        })
        .collect::<Vec<_>>();
    let default_outbound_queue = queues[0].queue.clone();
    (
        name.into(),
        RoutingProfile {
            name: name.into(),
            queues,
            default_outbound_queue,
        },
    )
}

fn business_hours() -> HoursOfOperation {
    let day = |open: bool| {
        if open {
            vec![OpenRange {
                start_minute: 9 * 60,
                end_minute: 17 * 60,
            }]
        } else {
            Vec::new()
        }
    };
    HoursOfOperation {
        name: "Business".into(),
        time_zone_name: "UTC".into(),
        time_zone: jiff::tz::TimeZone::UTC,
        weekly: std::array::from_fn(|d| day(d < 5)),
    }
}

fn router() -> Router {
    let queues = [
        queue("Support", "Business", Some(3)),
        queue("Sales", "Business", None),
    ];
    let hours = BTreeMap::from([("Business".to_string(), business_hours())]);
    let profiles = BTreeMap::from([
        profile("Both", &[("Support", 1, 0), ("Sales", 2, 0)]),
        profile("Sales first", &[("Sales", 1, 0), ("Support", 2, 30)]),
        profile("Support only", &[("Support", 1, 0)]),
    ]);
    Router::new(&queues, &hours, &profiles, RING)
}

fn agents() -> Agents {
    let spec = |username: &str, profile: &str, desk_phone: bool| AgentSpec {
        username: username.into(),
        routing_profile: Some(profile.into()),
        desk_phone,
        acw_timeout: Duration::from_secs(10),
    };
    let statuses = [("Available", true), ("Offline", false), ("Break", false)]
        .map(|(name, routable)| AgentStatus {
            name: name.into(),
            routable,
        })
        .to_vec();
    let mut a = Agents::new(
        statuses,
        [
            spec("alice", "Both", false),
            spec("bob", "Sales first", false),
            spec("carol", "Support only", true),
            spec("dan", "Both", false),
        ],
    );
    for user in ["alice", "bob", "dan"] {
        a.set_registered(user, true).unwrap();
    }
    a
}

fn available(a: &mut Agents, user: &str, at: i64) {
    a.set_status(at, user, "Available").unwrap();
}

fn c(n: u128) -> ContactId {
    ContactId::from_u128(n)
}

/// (contact, agent) of the next offer.
fn next(r: &mut Router, a: &mut Agents, now: i64) -> Option<(ContactId, String)> {
    r.next_offer(now, a).map(|o| (o.contact, o.username))
}

#[test]
fn longest_idle_agent_is_offered_the_contact() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "alice", T0 + 1_000);
    available(&mut a, "carol", T0);
    available(&mut a, "dan", T0 + 2_000);
    r.enqueue(T0 + 5_000, c(1), "Support").unwrap();
    assert_eq!(
        next(&mut r, &mut a, T0 + 5_000),
        Some((c(1), "carol".into()))
    );
    assert_eq!(a.get("carol").unwrap().state(), AgentState::Incoming);
}

#[test]
fn finishing_a_contact_sends_the_agent_to_the_back_of_the_idle_line() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "carol", T0);
    available(&mut a, "alice", T0 + 1_000);
    r.enqueue(T0 + 2_000, c(1), "Support").unwrap();
    next(&mut r, &mut a, T0 + 2_000);
    r.offer_accepted(T0 + 3_000, &mut a, c(1)).unwrap();
    a.contact_ended(T0 + 4_000, "carol", c(1)).unwrap();
    a.handle_timeout(T0 + 14_000);
    r.enqueue(T0 + 15_000, c(2), "Support").unwrap();
    assert_eq!(
        next(&mut r, &mut a, T0 + 15_000),
        Some((c(2), "alice".into()))
    );
}

#[test]
fn contacts_are_taken_by_profile_priority_then_age() {
    let (mut r, mut a) = (router(), agents());
    r.enqueue(T0, c(1), "Sales").unwrap();
    r.enqueue(T0 + 1, c(2), "Support").unwrap();
    r.enqueue(T0 + 2, c(3), "Support").unwrap();
    available(&mut a, "alice", T0 + 10);
    available(&mut a, "dan", T0 + 11);
    // Support is priority 1 for both: its oldest first, then its next, though Sales waits longer.
    assert_eq!(next(&mut r, &mut a, T0 + 20), Some((c(2), "alice".into())));
    assert_eq!(next(&mut r, &mut a, T0 + 20), Some((c(3), "dan".into())));
    assert_eq!(next(&mut r, &mut a, T0 + 20), None);
}

#[test]
fn a_profile_with_another_priority_order_takes_its_own_first_queue() {
    let (mut r, mut a) = (router(), agents());
    r.enqueue(T0, c(1), "Support").unwrap();
    r.enqueue(T0 + 1, c(2), "Sales").unwrap();
    available(&mut a, "bob", T0 + 60_000);
    assert_eq!(
        next(&mut r, &mut a, T0 + 60_000),
        Some((c(2), "bob".into()))
    );
}

#[test]
fn same_priority_queues_give_the_oldest_contact() {
    let mut r = Router::new(
        &[queue("A", "Business", None), queue("B", "Business", None)],
        &BTreeMap::new(),
        &BTreeMap::from([profile("Flat", &[("A", 1, 0), ("B", 1, 0)])]),
        RING,
    );
    let mut a = Agents::new(
        vec![
            AgentStatus {
                name: "Available".into(),
                routable: true,
            },
            AgentStatus {
                name: "Offline".into(),
                routable: false,
            },
        ],
        [AgentSpec {
            username: "x".into(),
            routing_profile: Some("Flat".into()),
            desk_phone: true,
            acw_timeout: Duration::ZERO,
        }],
    );
    r.enqueue(T0 + 1, c(1), "A").unwrap();
    r.enqueue(T0, c(2), "B").unwrap();
    available(&mut a, "x", T0 + 2);
    assert_eq!(next(&mut r, &mut a, T0 + 2), Some((c(2), "x".into())));
}

#[test]
fn delayed_agent_is_not_offered_the_contact_until_the_delay_passes() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "bob", T0);
    r.enqueue(T0 + 1_000, c(1), "Support").unwrap();
    assert_eq!(next(&mut r, &mut a, T0 + 1_000), None);
    assert_eq!(r.poll_timeout(), Some(T0 + 31_000));
    assert_eq!(next(&mut r, &mut a, T0 + 30_999), None);
    assert_eq!(r.poll_timeout(), Some(T0 + 31_000));
    assert_eq!(
        next(&mut r, &mut a, T0 + 31_000),
        Some((c(1), "bob".into()))
    );
    assert_eq!(r.poll_timeout(), Some(T0 + 51_000)); // now only its ring timeout
}

#[test]
fn no_delay_agent_gets_the_contact_at_once_though_a_delayed_one_idles_longer() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "bob", T0);
    available(&mut a, "carol", T0 + 5_000);
    r.enqueue(T0 + 10_000, c(1), "Support").unwrap();
    assert_eq!(
        next(&mut r, &mut a, T0 + 10_000),
        Some((c(1), "carol".into()))
    );
}

#[test]
fn enqueue_beyond_max_contacts_is_at_capacity() {
    let mut r = router();
    assert_eq!(r.enqueue(T0, c(1), "Support"), Ok(Position(1)));
    assert_eq!(r.enqueue(T0 + 1, c(2), "Support"), Ok(Position(2)));
    assert_eq!(r.enqueue(T0 + 2, c(3), "Support"), Ok(Position(3)));
    assert_eq!(
        r.enqueue(T0 + 3, c(4), "Support"),
        Err(EnqueueError::AtCapacity {
            queue: "Support".into(),
            max_contacts: 3
        })
    );
    assert!(r.waiting(c(4)).is_none());
    assert_eq!(r.enqueue(T0 + 3, c(4), "Sales"), Ok(Position(1)));
}

#[test]
fn enqueue_into_an_unknown_queue_or_twice_is_refused() {
    let mut r = router();
    assert_eq!(
        r.enqueue(T0, c(1), "Nowhere"),
        Err(EnqueueError::UnknownQueue("Nowhere".into()))
    );
    r.enqueue(T0, c(1), "Sales").unwrap();
    assert_eq!(
        r.enqueue(T0, c(1), "Support"),
        Err(EnqueueError::AlreadyQueued(c(1)))
    );
}

#[test]
fn cancel_while_queued_removes_the_contact_and_moves_the_others_up() {
    let (mut r, mut a) = (router(), agents());
    for n in 1..=3 {
        r.enqueue(T0 + n as i64, c(n), "Support").unwrap();
    }
    let gone = r.cancel(T0 + 10, &mut a, c(1)).unwrap();
    assert_eq!(
        (gone.queue.as_str(), gone.was_offered_to),
        ("Support", None)
    );
    assert_eq!(r.position(c(1)), None);
    assert_eq!(r.position(c(2)), Some(Position(1)));
    assert_eq!(r.position(c(3)), Some(Position(2)));
    available(&mut a, "carol", T0 + 20);
    assert_eq!(next(&mut r, &mut a, T0 + 20), Some((c(2), "carol".into())));
    assert!(r.cancel(T0 + 30, &mut a, c(1)).is_none());
}

#[test]
fn cancel_while_ringing_withdraws_the_offer() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "carol", T0);
    r.enqueue(T0, c(1), "Support").unwrap();
    next(&mut r, &mut a, T0);
    let gone = r.cancel(T0 + 1_000, &mut a, c(1)).unwrap();
    assert_eq!(gone.was_offered_to.as_deref(), Some("carol"));
    let carol = a.get("carol").unwrap();
    assert_eq!(carol.state(), AgentState::Status("Available".into()));
    assert!(carol.is_routable());
}

#[test]
fn missed_offer_returns_the_contact_to_its_place_and_the_agent_to_missed() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "carol", T0);
    r.enqueue(T0 + 1, c(1), "Support").unwrap();
    r.enqueue(T0 + 2, c(2), "Support").unwrap();
    assert_eq!(next(&mut r, &mut a, T0 + 2), Some((c(1), "carol".into())));
    r.offer_missed(T0 + 20_002, &mut a, c(1), MissReason::RingTimeout)
        .unwrap();

    assert_eq!(a.get("carol").unwrap().state(), AgentState::Missed);
    assert_eq!(r.position(c(1)), Some(Position(1)));
    let w = r.waiting(c(1)).unwrap();
    assert_eq!(
        (w.enqueued_at_unix_ms, w.offered_to.as_ref()),
        (T0 + 1, None)
    );
    // Not back to carol (Missed); the next agent gets the same contact, still first in line.
    assert_eq!(next(&mut r, &mut a, T0 + 20_002), None);
    available(&mut a, "alice", T0 + 20_003);
    assert_eq!(
        next(&mut r, &mut a, T0 + 20_003),
        Some((c(1), "alice".into()))
    );
}

#[test]
fn accepted_offer_takes_the_contact_out_of_the_queue() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "carol", T0);
    r.enqueue(T0, c(1), "Support").unwrap();
    next(&mut r, &mut a, T0);
    let d = r.offer_accepted(T0 + 3_000, &mut a, c(1)).unwrap();
    assert_eq!(
        (d.queue.as_str(), d.was_offered_to.as_deref()),
        ("Support", Some("carol"))
    );
    assert_eq!(a.get("carol").unwrap().state(), AgentState::Busy);
    assert_eq!(r.waiting(c(1)), None);
    assert_eq!(
        r.queue_status(T0 + 3_000, "Support")
            .unwrap()
            .contacts_in_queue,
        0
    );
}

#[test]
fn offer_results_for_a_contact_not_offered_are_errors() {
    let (mut r, mut a) = (router(), agents());
    r.enqueue(T0, c(1), "Support").unwrap();
    assert_eq!(
        r.offer_accepted(T0, &mut a, c(1)),
        Err(RoutingError::NotOffered(c(1)))
    );
    assert_eq!(
        r.offer_missed(T0, &mut a, c(2), MissReason::Declined),
        Err(RoutingError::NotQueued(c(2)))
    );
}

#[test]
fn softphone_agent_without_a_binding_is_skipped() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "alice", T0);
    available(&mut a, "carol", T0 + 1_000);
    a.set_registered("alice", false).unwrap();
    r.enqueue(T0 + 2_000, c(1), "Support").unwrap();
    assert_eq!(
        next(&mut r, &mut a, T0 + 2_000),
        Some((c(1), "carol".into()))
    );
}

#[test]
fn an_agent_is_offered_one_contact_at_a_time() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "carol", T0);
    r.enqueue(T0, c(1), "Support").unwrap();
    r.enqueue(T0, c(2), "Support").unwrap();
    assert!(next(&mut r, &mut a, T0).is_some());
    assert_eq!(next(&mut r, &mut a, T0), None);
}

#[test]
fn a_contact_is_offered_to_one_agent_at_a_time() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "carol", T0);
    available(&mut a, "alice", T0);
    r.enqueue(T0, c(1), "Support").unwrap();
    assert!(next(&mut r, &mut a, T0).is_some());
    assert_eq!(next(&mut r, &mut a, T0), None);
}

#[test]
fn queue_status_counts_contacts_and_the_oldest_age() {
    let mut r = router();
    assert_eq!(
        r.queue_status(T0, "Support"),
        Some(QueueStatus {
            contacts_in_queue: 0,
            oldest_contact_age: None
        })
    );
    r.enqueue(T0, c(1), "Support").unwrap();
    r.enqueue(T0 + 4_000, c(2), "Support").unwrap();
    assert_eq!(
        r.queue_status(T0 + 10_000, "Support"),
        Some(QueueStatus {
            contacts_in_queue: 2,
            oldest_contact_age: Some(Duration::from_secs(10))
        })
    );
    assert_eq!(r.queue_status(T0, "Nowhere"), None);
}

#[test]
fn staffing_counts_online_staffed_and_available_agents_of_the_queue() {
    let (r, mut a) = (router(), agents());
    available(&mut a, "alice", T0); // available
    a.set_status(T0, "dan", "Break").unwrap(); // online, not staffed
    available(&mut a, "carol", T0);
    a.offer(T0, "carol", c(9)).unwrap(); // staffed, not available
    available(&mut a, "bob", T0); // serves Support too (delayed)
    a.set_registered("bob", false).unwrap(); // staffed, not available
    assert_eq!(
        r.staffing("Support", &a),
        Some(Staffing {
            online: 4,
            staffed: 3,
            available: 1
        })
    );
    assert_eq!(
        r.staffing("Sales", &a),
        Some(Staffing {
            online: 3,
            staffed: 2,
            available: 1
        })
    );
}

#[test]
fn queue_open_follows_its_hours_of_operation() {
    let r = router();
    let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap();
    assert_eq!(r.queue_open("Support", at(T0)), Some(false)); // Tuesday 22:13 UTC
    assert_eq!(r.queue_open("Support", at(T0 + 11 * 3_600_000)), Some(true)); // Wed 09:13
    assert_eq!(r.queue_open("Nowhere", at(T0)), None);
}

#[test]
fn an_offer_not_answered_within_the_ring_timeout_is_missed() {
    let (mut r, mut a) = (router(), agents());
    available(&mut a, "carol", T0);
    r.enqueue(T0, c(1), "Support").unwrap();
    let offer = r.next_offer(T0 + 1_000, &mut a).unwrap();
    assert_eq!(offer.ring_deadline_unix_ms, T0 + 21_000);
    assert_eq!(r.poll_timeout(), Some(T0 + 21_000));
    assert!(r.handle_timeout(T0 + 20_999, &mut a).is_empty());
    let rang_out = r.handle_timeout(T0 + 21_000, &mut a);
    assert_eq!(rang_out, vec![offer]);
    assert_eq!(a.get("carol").unwrap().state(), AgentState::Missed);
    let w = r.waiting(c(1)).unwrap();
    assert_eq!(
        (w.offered_to.as_ref(), w.ring_deadline_unix_ms),
        (None, None)
    );
}

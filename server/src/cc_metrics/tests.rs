//! The tally fed a contact's successive writes as the core makes them, and the collector's
//! exact text.

use std::sync::Arc;

use prometheus_client::registry::Registry;
use uuid::Uuid;

use super::*;
use crate::control::{AgentFloor, QueueFloor};
use crate::store::{DisconnectReason, InitiationMethod};

const T: i64 = 1_789_948_800_000;
const S: i64 = 1_000;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// The writes of one queued contact, as `Calls` makes them: started, queued, (connected),
/// ended, (ACW over), (recording closed).
struct Contact {
    r: ContactRecord,
}

impl Contact {
    fn start(n: u128, at: i64) -> Contact {
        Contact {
            r: ContactRecord::new(id(n), InitiationMethod::Inbound, T + at),
        }
    }

    fn write(&mut self, tally: &mut ContactTally, at: i64) {
        self.r.updated_at_unix_ms = T + at;
        tally.contact(&self.r);
    }

    fn queued(mut self, tally: &mut ContactTally, queue: &str, at: i64) -> Contact {
        self.r.queue = Some(queue.into());
        self.r.enqueue_unix_ms = Some(T + at);
        self.write(tally, at);
        self
    }

    fn connected(mut self, tally: &mut ContactTally, agent: &str, at: i64) -> Contact {
        self.r.agent_username = Some(agent.into());
        self.r.agent_connected_unix_ms = Some(T + at);
        self.r.connection_attempts += 1;
        self.write(tally, at);
        self
    }

    fn ended(mut self, tally: &mut ContactTally, at: i64) -> Contact {
        self.r.disconnect_unix_ms = Some(T + at);
        self.r.disconnect_reason = Some(DisconnectReason::Customer);
        self.write(tally, at);
        self
    }

    fn transferred(mut self, tally: &mut ContactTally, next: u128, at: i64) -> Contact {
        self.r.next_contact_id = Some(id(next));
        self.r.disconnect_unix_ms = Some(T + at);
        self.r.disconnect_reason = Some(DisconnectReason::Agent);
        self.write(tally, at);
        self
    }

    fn acw_over(mut self, tally: &mut ContactTally, at: i64) -> Contact {
        let ended = self.r.disconnect_unix_ms.expect("ended first") - T;
        self.r.acw_duration_ms = Some(at - ended);
        self.write(tally, at);
        self
    }

    fn recording_closed(mut self, tally: &mut ContactTally, at: i64) -> Contact {
        self.r.recording_path = Some("r.wav".into());
        self.r.recording_duration_ms = Some(5 * S);
        self.write(tally, at);
        self
    }
}

fn event(contact: Option<u128>, from: &str, to: &str, at: i64) -> AgentEventRow {
    AgentEventRow {
        id: None,
        at_unix_ms: T + at,
        username: "alice".into(),
        from_state: from.into(),
        to_state: to.into(),
        reason: "missed_ring_timeout".into(),
        contact_id: contact.map(id),
    }
}

/// Cumulative bucket counts, in bucket order, without `+Inf`'s bound.
fn buckets(h: &Histogram) -> Vec<u64> {
    h.cumulative().iter().map(|(_, c)| *c).collect()
}

#[test]
fn a_handled_contact_counts_once_however_often_it_is_written() {
    let mut t = ContactTally::default();
    // Queued at 2 s, answered at 17 s (15 s wait), 45 s on the line of which 10 s on hold,
    // then 12 s of after-contact work and a late recording write.
    let mut c = Contact::start(1, 0);
    c.write(&mut t, 0);
    let c = c.queued(&mut t, "Sales", 2 * S);
    let mut c = c.connected(&mut t, "alice", 17 * S);
    c.r.hold_count = 1;
    c.r.hold_duration_ms = 10 * S;
    c.write(&mut t, 40 * S);
    let c = c.ended(&mut t, 62 * S);
    let c = c.acw_over(&mut t, 74 * S);
    let mut c = c.recording_closed(&mut t, 75 * S);
    // The same final record again (a retry) changes nothing.
    c.write(&mut t, 75 * S);

    let q = t.queue("Sales").expect("Sales");
    assert_eq!(
        (q.handled, q.abandoned, q.transferred, q.missed),
        (1, 0, 0, 0)
    );
    assert_eq!((q.answered_within_20s, q.answered_within_60s), (1, 1));
    assert_eq!((q.queue_wait.count(), q.queue_wait.sum_ms()), (1, 15 * S));
    //                                      5  10  20  30  60 120 300 600 1200 +Inf
    assert_eq!(buckets(&q.queue_wait), [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert_eq!((q.talk.count(), q.talk.sum_ms()), (1, 45 * S));
    //                                 10  30  60 120 ...
    assert_eq!(buckets(&q.talk), [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert_eq!((q.hold.count(), q.hold.sum_ms()), (1, 10 * S));
    //                                  0  10  30 ...
    assert_eq!(buckets(&q.hold), [0, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert_eq!((q.acw.count(), q.acw.sum_ms()), (1, 12 * S));
    assert_eq!(buckets(&q.acw), [0, 0, 1, 1, 1, 1, 1, 1, 1]);
    assert_eq!(q.abandon_wait.count(), 0);
    assert_eq!(t.remembered(), 1);
}

#[test]
fn abandoned_transferred_and_service_level_thresholds() {
    let mut t = ContactTally::default();
    t.add_queue("Support");
    // Abandoned after 70 s in queue; its record is written again (recording) later.
    let c = Contact::start(1, 0).queued(&mut t, "Sales", 0);
    let c = c.ended(&mut t, 70 * S);
    c.recording_closed(&mut t, 71 * S);
    // Answered at exactly 20 s: within both thresholds; then transferred to a number.
    let c = Contact::start(2, 0).queued(&mut t, "Sales", 0);
    let c = c.connected(&mut t, "alice", 20 * S);
    let c = c.transferred(&mut t, 99, 50 * S);
    c.acw_over(&mut t, 60 * S);
    // Answered at 20.001 s and at 60.001 s.
    let c = Contact::start(3, 0).queued(&mut t, "Sales", 0);
    c.connected(&mut t, "bob", 20 * S + 1).ended(&mut t, 30 * S);
    let c = Contact::start(4, 0).queued(&mut t, "Sales", 0);
    c.connected(&mut t, "bob", 60 * S + 1).ended(&mut t, 90 * S);
    // The transfer's continuation (no queue) and an outbound call (a queue, never queued)
    // are not queue contacts.
    let mut next = Contact::start(99, 50 * S);
    next.r.initiation_method = InitiationMethod::Transfer;
    next.r.previous_contact_id = Some(id(2));
    next.write(&mut t, 50 * S);
    next.ended(&mut t, 80 * S);
    let mut out = Contact::start(5, 0);
    out.r.queue = Some("Sales".into());
    out.r.initiation_method = InitiationMethod::Outbound;
    out.connected(&mut t, "alice", 5 * S).ended(&mut t, 9 * S);

    let q = t.queue("Sales").expect("Sales");
    assert_eq!((q.handled, q.abandoned, q.transferred), (3, 1, 1));
    assert_eq!((q.answered_within_20s, q.answered_within_60s), (1, 2));
    assert_eq!(q.queue_wait.count(), 3);
    assert_eq!(q.queue_wait.sum_ms(), 100 * S + 2);
    assert_eq!(buckets(&q.queue_wait), [0, 0, 1, 2, 2, 3, 3, 3, 3, 3]);
    assert_eq!(q.talk.sum_ms(), 30 * S + (10 * S - 1) + (30 * S - 1));
    assert_eq!(
        (q.abandon_wait.count(), q.abandon_wait.sum_ms()),
        (1, 70 * S)
    );
    assert_eq!(buckets(&q.abandon_wait), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    // Only the transferred contact's ACW is over.
    assert_eq!((q.acw.count(), q.acw.sum_ms()), (1, 10 * S));
    // The configured queue exists at zero.
    assert_eq!(t.queue("Support"), Some(&QueueTotals::default()));
    assert_eq!(t.queues().len(), 2);
}

#[test]
fn a_miss_counts_in_the_queue_of_the_contact_offered() {
    let mut t = ContactTally::default();
    let c = Contact::start(1, 0).queued(&mut t, "Support", 0);
    t.agent_event(&event(Some(1), "Available", "Incoming", S));
    t.agent_event(&event(Some(1), "Incoming", "Missed", 21 * S));
    // Offered again to bob, who misses it too: two misses.
    t.agent_event(&event(Some(1), "Incoming", "Missed", 42 * S));
    // Not misses: leaving Missed, and a change within it.
    t.agent_event(&event(None, "Missed", "Available", 50 * S));
    t.agent_event(&event(Some(1), "Missed", "Missed", 51 * S));
    // A miss of a contact never seen, and one without a contact: queue "".
    t.agent_event(&event(Some(7), "Incoming", "Missed", 60 * S));
    t.agent_event(&event(None, "Incoming", "Missed", 61 * S));
    c.ended(&mut t, 70 * S);

    let q = t.queue("Support").expect("Support");
    assert_eq!((q.missed, q.abandoned, q.handled), (2, 1, 0));
    assert_eq!(t.missed_without_queue(), 2);
}

#[test]
fn a_batch_finds_the_queue_of_a_contact_written_in_the_same_batch() {
    let rec = CcRecorder::default();
    let mut r = ContactRecord::new(id(1), InitiationMethod::Inbound, T);
    r.queue = Some("Sales".into());
    r.enqueue_unix_ms = Some(T);
    rec.record(
        std::slice::from_ref(&r),
        &[event(Some(1), "Incoming", "Missed", S)],
    );
    assert_eq!(rec.with(|t| t.queue("Sales").map(|q| q.missed)), Some(1));
}

#[test]
fn memory_is_bounded_and_forgets_the_least_recently_written() {
    let mut t = ContactTally::with_capacity(3);
    let a = Contact::start(1, 0).queued(&mut t, "Sales", 0);
    let b = Contact::start(2, 0).queued(&mut t, "Sales", 0);
    let _c = Contact::start(3, 0).queued(&mut t, "Sales", 0);
    // `a` is written again: `b` is now the least recently written.
    let a = a.connected(&mut t, "alice", S).ended(&mut t, 2 * S);
    let _d = Contact::start(4, 0).queued(&mut t, "Sales", 0);
    assert_eq!(t.remembered(), 3);
    // `a` is remembered: its ACW write does not count it again.
    a.acw_over(&mut t, 3 * S);
    assert_eq!(
        t.queue("Sales").map(|q| (q.handled, q.acw.count())),
        Some((1, 1))
    );
    // `b` was forgotten: a miss of it has no queue; its end still counts once.
    t.agent_event(&event(Some(2), "Incoming", "Missed", 4 * S));
    assert_eq!(t.missed_without_queue(), 1);
    b.ended(&mut t, 5 * S);
    assert_eq!(t.queue("Sales").map(|q| q.abandoned), Some(1));
    assert!(t.remembered() <= 3);
    // Many writes of the same few contacts keep the order queue bounded too.
    let mut e = Contact::start(5, 0);
    for i in 0..10_000 {
        e.write(&mut t, i);
    }
    assert!(
        t.seen.order.len() <= 2 * 3 + 64 + 1,
        "{}",
        t.seen.order.len()
    );
}

#[derive(Debug)]
struct FakeFloor(Option<Arc<FloorSnapshot>>);

impl FloorSource for FakeFloor {
    fn floor(&self) -> Option<Arc<FloorSnapshot>> {
        self.0.clone()
    }

    fn agent_grid(&self) -> AgentGrid {
        AgentGrid {
            states: vec!["Available".into(), "Offline".into(), "Busy".into()],
            routing_profiles: vec!["Sales first".into(), String::new()],
        }
    }
}

// Built from JSON so that fields added to the floor later (optional ones) need no change here.
fn queue_floor(name: &str, waiting: u32, oldest_ms: Option<i64>) -> QueueFloor {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "contacts_in_queue": waiting,
        "oldest_contact_age_ms": oldest_ms,
        "agents_online": 0,
        "agents_staffed": 0,
        "agents_available": 0,
        "agents_on_contact": 0,
        "agents_in_acw": 0,
        "agents_missed": 0,
        "handled_today": 0,
        "abandoned_today": 0,
        "answered_within_20s_today": 0,
        "answered_within_60s_today": 0,
    }))
    .expect("a queue floor")
}

fn agent_floor(name: &str, profile: Option<&str>, state: &str) -> AgentFloor {
    serde_json::from_value(serde_json::json!({
        "username": name,
        "display_name": name,
        "routing_profile": profile,
        "state": state,
        "state_since_unix_ms": T,
        "listen_in_allowed": false,
    }))
    .expect("an agent floor")
}

fn render(floor: Option<FloorSnapshot>, tally: CcRecorder) -> String {
    let mut registry = Registry::with_prefix("switchboard");
    registry.register_collector(Box::new(CcCollector {
        tally,
        floor: FakeFloor(floor.map(Arc::new)),
    }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry).expect("encode");
    out
}

#[test]
fn the_collector_renders_the_floor_gauges_and_the_tallies() {
    let floor = FloorSnapshot {
        at_unix_ms: T,
        queues: vec![
            queue_floor("Sales", 2, Some(12_345)),
            queue_floor("Support", 0, None),
        ],
        agents: vec![
            agent_floor("alice", Some("Sales first"), "Busy"),
            agent_floor("bob", Some("Sales first"), "Busy"),
            agent_floor("maria", None, "Monitoring"),
        ],
        monitoring_sessions: 1,
    };
    let rec = CcRecorder::default();
    {
        let mut t = ContactTally::default();
        let c = Contact::start(1, 0).queued(&mut t, "Sales", 0);
        c.connected(&mut t, "alice", 3 * S)
            .ended(&mut t, 33 * S)
            .acw_over(&mut t, 38 * S);
        t.agent_event(&event(None, "Incoming", "Missed", 40 * S));
        *rec.0.lock().expect("lock") = t;
    }
    let text = render(Some(floor), rec);
    let lines: Vec<&str> = text.lines().collect();
    let has = |l: &str| assert!(lines.contains(&l), "missing `{l}` in\n{text}");
    // The grid at zero, the agents counted, a state outside the grid still shown.
    has("# TYPE switchboard_cc_agents gauge");
    has(r#"switchboard_cc_agents{state="Available",routing_profile="Sales first"} 0"#);
    has(r#"switchboard_cc_agents{state="Busy",routing_profile="Sales first"} 2"#);
    has(r#"switchboard_cc_agents{state="Busy",routing_profile=""} 0"#);
    has(r#"switchboard_cc_agents{state="Monitoring",routing_profile=""} 1"#);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("switchboard_cc_agents{"))
            .count(),
        7,
        "{text}"
    );
    has(r#"switchboard_cc_contacts_in_queue{queue="Sales"} 2"#);
    has(r#"switchboard_cc_contacts_in_queue{queue="Support"} 0"#);
    has(r#"switchboard_cc_oldest_contact_age_seconds{queue="Sales"} 12.345"#);
    has(r#"switchboard_cc_oldest_contact_age_seconds{queue="Support"} 0.0"#);
    has("switchboard_cc_monitoring_sessions 1");
    has("# TYPE switchboard_cc_contacts_handled counter");
    has(r#"switchboard_cc_contacts_handled_total{queue="Sales"} 1"#);
    has(r#"switchboard_cc_contacts_handled_total{queue="Support"} 0"#);
    has(r#"switchboard_cc_contacts_abandoned_total{queue="Sales"} 0"#);
    has(r#"switchboard_cc_contacts_transferred_total{queue="Sales"} 0"#);
    has(r#"switchboard_cc_contacts_missed_by_agent_total{queue="Sales"} 0"#);
    has(r#"switchboard_cc_contacts_missed_by_agent_total{queue=""} 1"#);
    has(r#"switchboard_cc_contacts_answered_within_20s_total{queue="Sales"} 1"#);
    has(r#"switchboard_cc_contacts_answered_within_60s_total{queue="Sales"} 1"#);
    has("# TYPE switchboard_cc_queue_wait_seconds histogram");
    has(r#"switchboard_cc_queue_wait_seconds_sum{queue="Sales"} 3.0"#);
    has(r#"switchboard_cc_queue_wait_seconds_count{queue="Sales"} 1"#);
    has(r#"switchboard_cc_queue_wait_seconds_bucket{le="5.0",queue="Sales"} 1"#);
    has(r#"switchboard_cc_queue_wait_seconds_bucket{le="+Inf",queue="Sales"} 1"#);
    has(r#"switchboard_cc_queue_wait_seconds_count{queue="Support"} 0"#);
    has(r#"switchboard_cc_talk_time_seconds_sum{queue="Sales"} 30.0"#);
    has(r#"switchboard_cc_talk_time_seconds_bucket{le="10.0",queue="Sales"} 0"#);
    has(r#"switchboard_cc_talk_time_seconds_bucket{le="30.0",queue="Sales"} 1"#);
    has(r#"switchboard_cc_hold_time_seconds_bucket{le="0.0",queue="Sales"} 1"#);
    has(r#"switchboard_cc_acw_time_seconds_sum{queue="Sales"} 5.0"#);
    has(r#"switchboard_cc_abandon_wait_seconds_count{queue="Sales"} 0"#);
    // Support is on the floor: its tallies exist at zero.
    has(r#"switchboard_cc_contacts_abandoned_total{queue="Support"} 0"#);
    // No contact ids anywhere.
    assert!(!text.contains(&id(1).to_string()), "{text}");
}

#[test]
fn before_the_first_floor_only_the_tallies_are_shown() {
    let text = render(None, CcRecorder::default());
    assert!(!text.contains("switchboard_cc_agents"), "{text}");
    assert!(!text.contains("switchboard_cc_contacts_in_queue"), "{text}");
    assert!(
        text.contains("# TYPE switchboard_cc_contacts_handled counter"),
        "{text}"
    );
}

#[test]
fn the_grid_comes_from_the_shipped_config() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/switchboard.yaml");
    let config = crate::config::load(&path).expect("shipped config");
    let grid = AgentGrid::from_config(&config);
    assert_eq!(
        grid.states,
        [
            "Available",
            "Offline",
            "Break",
            "Lunch",
            "Incoming",
            "Busy",
            "AfterContactWork",
            "Missed",
            "Monitoring"
        ]
    );
    // maria (a manager) has no routing profile.
    assert_eq!(
        grid.routing_profiles,
        ["Sales first", "Support and Sales", "Support only", ""]
    );
    let rec = CcRecorder::new(&config);
    assert_eq!(
        rec.with(|t| t.queues().keys().cloned().collect::<Vec<_>>()),
        ["Sales", "Support"]
    );
}

//! Agent state machine behaviour, one behaviour per test, in virtual time (unix ms).

use std::time::Duration;

use super::*;

const T0: i64 = 1_700_000_000_000;

fn statuses() -> Vec<AgentStatus> {
    [("Available", true), ("Offline", false), ("Break", false)]
        .into_iter()
        .map(|(name, routable)| AgentStatus {
            name: name.into(),
            routable,
        })
        .collect()
}

fn spec(username: &str, desk_phone: bool, acw_secs: u64) -> AgentSpec {
    AgentSpec {
        username: username.into(),
        routing_profile: Some("Support".into()),
        desk_phone,
        acw_timeout: Duration::from_secs(acw_secs),
    }
}

/// alice: softphone, registered, 30 s ACW. dave: desk phone, no ACW.
fn agents() -> Agents {
    let mut a = Agents::new(
        statuses(),
        [spec("alice", false, 30), spec("dave", true, 0)],
    );
    a.set_registered("alice", true).unwrap();
    a
}

fn contact(n: u128) -> ContactId {
    ContactId::from_u128(n)
}

fn events(a: &mut Agents) -> Vec<AgentEvent> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

fn st(name: &str) -> AgentState {
    AgentState::Status(name.into())
}

fn state(a: &Agents, user: &str) -> AgentState {
    a.get(user).unwrap().state()
}

/// alice Available at T0, contact 1 offered and accepted at T0 + 1 s.
fn alice_on_contact() -> Agents {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0 + 1_000, "alice", contact(1)).unwrap();
    a.offer_accepted(T0 + 2_000, "alice", contact(1)).unwrap();
    a.contact_connected(T0 + 3_000, "alice", contact(1))
        .unwrap();
    events(&mut a);
    a
}

#[test]
fn agents_start_offline_and_not_routable() {
    let a = agents();
    assert_eq!(state(&a, "alice"), st("Offline"));
    assert!(!a.get("alice").unwrap().is_routable());
    assert!(!a.get("alice").unwrap().is_online());
}

#[test]
fn set_status_refuses_unknown_names() {
    let mut a = agents();
    let err = a.set_status(T0, "alice", "Napping").unwrap_err();
    assert!(matches!(&err, AgentError::UnknownStatus { name, .. } if name == "Napping"));
    assert!(
        err.to_string().contains("Available, Offline, Break"),
        "{err}"
    );
    assert_eq!(state(&a, "alice"), st("Offline"));
    assert!(events(&mut a).is_empty());
}

#[test]
fn set_status_refuses_system_state_names() {
    let mut a = agents();
    assert!(matches!(
        a.set_status(T0, "alice", "Busy"),
        Err(AgentError::UnknownStatus { .. })
    ));
}

#[test]
fn unknown_agent_is_an_error() {
    let mut a = agents();
    assert_eq!(
        a.set_status(T0, "zoe", "Available"),
        Err(AgentError::UnknownAgent("zoe".into()))
    );
}

#[test]
fn every_state_change_yields_exactly_one_event_with_from_and_to() {
    let mut a = agents();
    let c = contact(7);
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0 + 1, "alice", c).unwrap();
    a.offer_accepted(T0 + 2, "alice", c).unwrap();
    a.contact_connected(T0 + 3, "alice", c).unwrap(); // Busy -> Busy: no event
    a.contact_ended(T0 + 4, "alice", c).unwrap();
    a.handle_timeout(T0 + 4 + 30_000);
    let got: Vec<(i64, AgentState, AgentState, ChangeReason)> = events(&mut a)
        .into_iter()
        .map(|e| {
            assert_eq!(e.username, "alice");
            (e.at_unix_ms, e.from, e.to, e.reason)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (T0, st("Offline"), st("Available"), ChangeReason::StatusSet),
            (
                T0 + 1,
                st("Available"),
                AgentState::Incoming,
                ChangeReason::Offered
            ),
            (
                T0 + 2,
                AgentState::Incoming,
                AgentState::Busy,
                ChangeReason::Accepted
            ),
            (
                T0 + 4,
                AgentState::Busy,
                AgentState::AfterContactWork,
                ChangeReason::ContactEnded
            ),
            (
                T0 + 30_004,
                AgentState::AfterContactWork,
                st("Available"),
                ChangeReason::AcwExpired
            ),
        ]
    );
}

#[test]
fn setting_the_same_status_again_yields_no_event() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.set_status(T0 + 1, "alice", "Available").unwrap();
    assert_eq!(events(&mut a).len(), 1);
}

#[test]
fn events_name_the_contact() {
    let mut a = alice_on_contact();
    a.contact_ended(T0 + 10_000, "alice", contact(1)).unwrap();
    assert_eq!(events(&mut a)[0].contact, Some(contact(1)));
}

#[test]
fn acw_lasts_the_acw_timeout_then_returns_to_the_chosen_status() {
    let mut a = alice_on_contact();
    a.contact_ended(T0 + 10_000, "alice", contact(1)).unwrap();
    assert_eq!(state(&a, "alice"), AgentState::AfterContactWork);
    assert_eq!(a.poll_timeout(), Some(T0 + 40_000));
    a.handle_timeout(T0 + 39_999);
    assert_eq!(state(&a, "alice"), AgentState::AfterContactWork);
    assert!(!a.get("alice").unwrap().is_routable());
    a.handle_timeout(T0 + 40_000);
    assert_eq!(state(&a, "alice"), st("Available"));
    assert!(a.get("alice").unwrap().is_routable());
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn acw_returns_to_a_non_routable_status_chosen_before_the_contact() {
    // The chosen status underneath is kept: Break stays Break after ACW, Available stays
    // Available; a status picked during ACW ends it at once.
    let mut a = alice_on_contact();
    a.contact_ended(T0 + 10_000, "alice", contact(1)).unwrap();
    a.set_status(T0 + 11_000, "alice", "Break").unwrap();
    assert_eq!(state(&a, "alice"), st("Break"));
    let e = events(&mut a).pop().unwrap();
    assert_eq!((e.from, e.to), (AgentState::AfterContactWork, st("Break")));
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn clear_acw_returns_to_the_chosen_status_early() {
    let mut a = alice_on_contact();
    a.contact_ended(T0 + 10_000, "alice", contact(1)).unwrap();
    events(&mut a);
    a.clear_acw(T0 + 12_000, "alice").unwrap();
    assert_eq!(state(&a, "alice"), st("Available"));
    let e = events(&mut a);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].reason, ChangeReason::AcwCleared);
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn clear_acw_outside_acw_is_refused() {
    let mut a = agents();
    assert!(matches!(
        a.clear_acw(T0, "alice"),
        Err(AgentError::Refused { .. })
    ));
}

#[test]
fn zero_acw_timeout_means_no_acw() {
    let mut a = agents();
    a.set_status(T0, "dave", "Available").unwrap();
    a.offer(T0, "dave", contact(2)).unwrap();
    a.contact_connected(T0 + 1, "dave", contact(2)).unwrap();
    a.contact_ended(T0 + 5_000, "dave", contact(2)).unwrap();
    assert_eq!(state(&a, "dave"), st("Available"));
    assert_eq!(a.get("dave").unwrap().idle_since(), Some(T0 + 5_000));
}

#[test]
fn missed_offer_stays_missed_until_the_status_changes() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0 + 1, "alice", contact(3)).unwrap();
    a.offer_missed(T0 + 20_000, "alice", contact(3), MissReason::RingTimeout)
        .unwrap();
    assert_eq!(state(&a, "alice"), AgentState::Missed);
    a.handle_timeout(T0 + 3_600_000);
    assert_eq!(state(&a, "alice"), AgentState::Missed);
    assert!(!a.get("alice").unwrap().is_routable());
    assert!(a.offer(T0 + 3_600_000, "alice", contact(4)).is_err());

    a.set_status(T0 + 3_600_001, "alice", "Available").unwrap();
    assert!(a.get("alice").unwrap().is_routable());
    let e = events(&mut a);
    let last = &e[e.len() - 2..];
    assert_eq!(
        (&last[0].from, &last[0].to, last[0].reason),
        (
            &AgentState::Incoming,
            &AgentState::Missed,
            ChangeReason::OfferMissed(MissReason::RingTimeout)
        )
    );
    assert_eq!(
        (&last[1].from, &last[1].to),
        (&AgentState::Missed, &st("Available"))
    );
}

#[test]
fn clear_missed_returns_to_the_chosen_status() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0, "alice", contact(3)).unwrap();
    a.offer_missed(T0 + 1, "alice", contact(3), MissReason::Declined)
        .unwrap();
    a.clear_missed(T0 + 2, "alice").unwrap();
    assert_eq!(state(&a, "alice"), st("Available"));
    assert_eq!(
        events(&mut a).last().unwrap().reason,
        ChangeReason::MissedCleared
    );
}

#[test]
fn softphone_without_a_binding_is_not_routable() {
    let mut a = agents();
    a.set_registered("alice", false).unwrap();
    a.set_status(T0, "alice", "Available").unwrap();
    let alice = a.get("alice").unwrap();
    assert!(alice.is_ready() && !alice.is_routable());
    assert!(matches!(
        a.offer(T0, "alice", contact(1)),
        Err(AgentError::Refused { .. })
    ));
    a.set_registered("alice", true).unwrap();
    assert!(a.get("alice").unwrap().is_routable());
}

#[test]
fn desk_phone_agent_is_reachable_without_a_binding() {
    let mut a = agents();
    a.set_status(T0, "dave", "Available").unwrap();
    assert!(a.get("dave").unwrap().is_routable());
}

#[test]
fn set_status_is_refused_while_on_a_contact_and_says_why() {
    let mut a = alice_on_contact();
    let err = a.set_status(T0 + 5_000, "alice", "Offline").unwrap_err();
    assert!(err.to_string().contains("on a contact"), "{err}");
    assert_eq!(state(&a, "alice"), AgentState::Busy);
    assert!(events(&mut a).is_empty());
}

#[test]
fn set_status_is_refused_while_a_contact_rings() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0, "alice", contact(1)).unwrap();
    let err = a.set_status(T0 + 1, "alice", "Break").unwrap_err();
    assert!(err.to_string().contains("ringing"), "{err}");
}

#[test]
fn only_a_ready_agent_is_offered_and_only_one_contact_at_a_time() {
    let mut a = agents();
    assert!(a.offer(T0, "alice", contact(1)).is_err()); // Offline
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0, "alice", contact(1)).unwrap();
    assert!(a.offer(T0, "alice", contact(2)).is_err());
}

#[test]
fn accepting_another_contact_than_the_offered_one_is_an_error() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0, "alice", contact(1)).unwrap();
    assert!(matches!(
        a.offer_accepted(T0, "alice", contact(2)),
        Err(AgentError::WrongContact { .. })
    ));
    assert_eq!(state(&a, "alice"), AgentState::Incoming);
}

#[test]
fn withdrawn_offer_returns_to_the_status_and_keeps_idle_time() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0 + 5_000, "alice", contact(1)).unwrap();
    a.offer_withdrawn(T0 + 6_000, "alice", contact(1)).unwrap();
    let alice = a.get("alice").unwrap();
    assert_eq!(alice.state(), st("Available"));
    assert_eq!(alice.idle_since(), Some(T0));
}

#[test]
fn idle_since_restarts_when_acw_ends() {
    let mut a = alice_on_contact();
    assert_eq!(a.get("alice").unwrap().idle_since(), Some(T0));
    a.contact_ended(T0 + 10_000, "alice", contact(1)).unwrap();
    a.handle_timeout(T0 + 40_000);
    assert_eq!(a.get("alice").unwrap().idle_since(), Some(T0 + 40_000));
}

#[test]
fn idle_since_restarts_when_becoming_available_again() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.set_status(T0 + 1_000, "alice", "Break").unwrap();
    a.set_status(T0 + 2_000, "alice", "Available").unwrap();
    assert_eq!(a.get("alice").unwrap().idle_since(), Some(T0 + 2_000));
}

#[test]
fn auto_accept_connects_straight_from_the_offer() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0, "alice", contact(1)).unwrap();
    a.contact_connected(T0 + 500, "alice", contact(1)).unwrap();
    assert_eq!(state(&a, "alice"), AgentState::Busy);
    assert_eq!(
        events(&mut a).last().unwrap().reason,
        ChangeReason::Connected
    );
}

#[test]
fn outbound_call_makes_the_agent_busy_but_not_while_offline() {
    let mut a = agents();
    assert!(a.contact_connected(T0, "alice", contact(9)).is_err());
    a.set_status(T0, "alice", "Break").unwrap();
    a.contact_connected(T0 + 1, "alice", contact(9)).unwrap();
    assert_eq!(state(&a, "alice"), AgentState::Busy);
    a.contact_ended(T0 + 2, "alice", contact(9)).unwrap();
    a.clear_acw(T0 + 3, "alice").unwrap();
    assert_eq!(state(&a, "alice"), st("Break"));
}

#[test]
fn monitoring_is_not_routable_and_returns_to_the_status() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.start_monitoring(T0 + 1, "alice", contact(5)).unwrap();
    assert_eq!(state(&a, "alice"), AgentState::Monitoring);
    assert!(!a.get("alice").unwrap().is_routable());
    assert!(a.set_status(T0 + 2, "alice", "Break").is_err());
    a.stop_monitoring(T0 + 3, "alice").unwrap();
    assert_eq!(state(&a, "alice"), st("Available"));
    let reasons: Vec<ChangeReason> = events(&mut a).iter().map(|e| e.reason).collect();
    assert_eq!(
        reasons,
        [
            ChangeReason::StatusSet,
            ChangeReason::MonitoringStarted,
            ChangeReason::MonitoringStopped
        ]
    );
}

#[test]
fn online_and_staffed_follow_amazon_connect() {
    let mut a = agents();
    let alice = |a: &Agents| {
        let x = a.get("alice").unwrap();
        (x.is_online(), x.is_staffed())
    };
    assert_eq!(alice(&a), (false, false));
    a.set_status(T0, "alice", "Break").unwrap();
    assert_eq!(alice(&a), (true, false));
    a.set_status(T0, "alice", "Available").unwrap();
    assert_eq!(alice(&a), (true, true));
}

#[test]
fn events_serialize_with_states_and_reason_as_names() {
    let mut a = agents();
    a.set_status(T0, "alice", "Available").unwrap();
    a.offer(T0 + 1, "alice", contact(1)).unwrap();
    a.offer_missed(T0 + 2, "alice", contact(1), MissReason::BusyHere)
        .unwrap();
    let e = events(&mut a).pop().unwrap();
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        serde_json::json!({
            "at_unix_ms": T0 + 2,
            "username": "alice",
            "from": "Incoming",
            "to": "Missed",
            "reason": "missed_busy_here",
            "contact": "00000000-0000-0000-0000-000000000001",
        })
    );
}

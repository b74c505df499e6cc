//! INVITE server transaction (§17.2.1, RFC 6026): 100 Trying, G until ACK, H, I, L.

use super::util::*;
use crate::sip::transaction::{RequestOutcome, Timer, TransactionError, TransactionEvent};

#[test]
fn sends_100_trying_when_the_tu_is_silent_for_200ms() {
    let mut h = Harness::new();
    new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    assert!(h.transmits().is_empty());
    let sent = h.run_for(ms(1000));
    assert_eq!(times(&sent), vec![ms(200)]);
    let trying = text(&sent[0].1);
    assert!(trying.starts_with("SIP/2.0 100 Trying\r\n"));
    assert!(trying.contains("branch=z9hG4bKin1"));
    assert!(trying.contains("CSeq: 1 INVITE"));
    assert!(!trying.contains("tag=to"), "100 Trying adds no To tag");
}

#[test]
fn no_automatic_100_when_the_tu_answers_first() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.now += ms(50);
    h.respond(&key, response(180, "Ringing", "INVITE", "z9hG4bKin1"));
    assert!(h.run_for(ms(1000)).is_empty());
}

#[test]
fn an_invite_retransmission_gets_the_last_provisional() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&key, response(180, "Ringing", "INVITE", "z9hG4bKin1"));
    let again =
        h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp());
    assert!(matches!(again, RequestOutcome::Absorbed));
    let resent = h.transmits();
    assert_eq!(resent.len(), 1);
    assert_eq!(first_line(&resent[0]), "SIP/2.0 180 Ringing");
}

#[test]
fn timer_g_retransmits_a_non_2xx_final_until_the_ack() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&key, response(486, "Busy Here", "INVITE", "z9hG4bKin1"));
    let sent = h.run_for(ms(16_000));
    // Intervals 0.5, 1, 2, 4, 4, 4 s (capped at T2): 0.5, 1.5, 3.5, 7.5, 11.5, 15.5 s.
    assert_eq!(
        times(&sent),
        [500, 1500, 3500, 7500, 11_500, 15_500].map(ms).to_vec()
    );
    assert!(
        sent.iter()
            .all(|(_, t)| first_line(t) == "SIP/2.0 486 Busy Here")
    );
    let ack =
        h.tx.handle_request(h.now, request("ACK", "z9hG4bKin1"), udp());
    assert!(matches!(ack, RequestOutcome::Absorbed));
    assert!(h.run_for(ms(10_000)).is_empty(), "the ACK stopped Timer G");
}

#[test]
fn an_invite_retransmission_in_completed_gets_the_final_response() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&key, response(404, "Not Found", "INVITE", "z9hG4bKin1"));
    let _ =
        h.tx.handle_request(h.now + ms(100), request("INVITE", "z9hG4bKin1"), udp());
    let resent = h.transmits();
    assert_eq!(resent.len(), 1);
    assert_eq!(first_line(&resent[0]), "SIP/2.0 404 Not Found");
}

#[test]
fn ack_retransmissions_are_absorbed_in_confirmed_until_timer_i() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&key, response(486, "Busy Here", "INVITE", "z9hG4bKin1"));
    let _ =
        h.tx.handle_request(h.now, request("ACK", "z9hG4bKin1"), udp());
    h.run_for(ms(1000));
    let again =
        h.tx.handle_request(h.now, request("ACK", "z9hG4bKin1"), udp());
    assert!(matches!(again, RequestOutcome::Absorbed));
    assert!(h.transmits().is_empty());
    h.run_for(T4 - ms(1000));
    assert_eq!(h.tx.len(), 0, "Timer I (T4) ended Confirmed");
    let events = h.events();
    assert!(matches!(&events[..], [TransactionEvent::Terminated { key: k }] if *k == key));
}

#[test]
fn timer_h_reports_a_missing_ack_after_64_t1() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&key, response(486, "Busy Here", "INVITE", "z9hG4bKin1"));
    h.run_for(T1 * 64 - ms(1));
    assert_eq!(h.tx.len(), 1);
    h.run_for(ms(1));
    assert_eq!(h.tx.len(), 0);
    let events = h.events();
    assert!(matches!(
        &events[..],
        [TransactionEvent::Timeout { key: k, timer: Timer::H }, TransactionEvent::Terminated { .. }]
            if *k == key
    ));
}

#[test]
fn a_2xx_is_not_retransmitted_by_the_transaction() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    let sent = h.respond(&key, response(200, "OK", "INVITE", "z9hG4bKin1"));
    assert_eq!(sent.len(), 1);
    assert!(h.run_for(ms(10_000)).is_empty());
}

#[test]
fn accepted_absorbs_invite_retransmissions_and_passes_the_tus_2xx_through() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&key, response(200, "OK", "INVITE", "z9hG4bKin1"));
    let again =
        h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp());
    assert!(matches!(again, RequestOutcome::Absorbed));
    assert!(h.transmits().is_empty(), "RFC 6026: absorbed, not answered");
    let resent = h.respond(&key, response(200, "OK", "INVITE", "z9hG4bKin1"));
    assert_eq!(resent.len(), 1, "the TU's own 2xx retransmission goes out");
    let late = h.tx.respond(
        h.now,
        &key,
        response(486, "Busy Here", "INVITE", "z9hG4bKin1"),
    );
    assert!(matches!(late, Err(TransactionError::InvalidState(_))));
}

#[test]
fn timer_l_ends_accepted_after_64_t1() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&key, response(200, "OK", "INVITE", "z9hG4bKin1"));
    h.run_for(T1 * 64 - ms(1));
    assert_eq!(h.tx.len(), 1);
    h.run_for(ms(1));
    assert_eq!(h.tx.len(), 0);
}

#[test]
fn the_ack_to_a_2xx_goes_to_the_tu() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&key, response(200, "OK", "INVITE", "z9hG4bKin1"));
    // A 2xx ACK carries a new branch (§13.2.2.4): it matches no transaction.
    let ack =
        h.tx.handle_request(h.now, request("ACK", "z9hG4bKack2xx"), udp());
    assert!(matches!(ack, RequestOutcome::Ack(_)));
    // Some UAs reuse the INVITE branch; in Accepted that ACK also goes to the TU.
    let same_branch =
        h.tx.handle_request(h.now, request("ACK", "z9hG4bKin1"), udp());
    assert!(matches!(same_branch, RequestOutcome::Ack(_)));
}

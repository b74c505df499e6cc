//! INVITE client transaction (§17.1.1): Timer A doubling, B, ACK for non-2xx, D, M.

use super::util::*;
use crate::sip::message::{HeadersExt, Request};
use crate::sip::transaction::{ResponseOutcome, Timer, TransactionError, TransactionEvent};

#[test]
fn timer_a_doubles_without_a_cap_and_timer_b_gives_up_at_64_t1() {
    let mut h = Harness::new();
    let key =
        h.tx.send_request(h.now, request("INVITE", "z9hG4bKinv1"), udp())
            .unwrap();
    assert_eq!(h.transmits().len(), 1);
    let sent = h.run_for(T1 * 64);
    // Intervals 0.5, 1, 2, 4, 8, 16 s: sent at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
    assert_eq!(
        times(&sent),
        [500, 1500, 3500, 7500, 15_500, 31_500].map(ms).to_vec()
    );
    let events = h.events();
    assert!(matches!(
        &events[..],
        [TransactionEvent::Timeout { key: k, timer: Timer::B }, TransactionEvent::Terminated { .. }]
            if *k == key
    ));
    assert_eq!(h.tx.len(), 0);
}

#[test]
fn a_provisional_response_stops_timer_a_and_timer_b() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("INVITE", "z9hG4bKinv1"), udp())
        .unwrap();
    h.transmits();
    h.tx.handle_response(
        h.now + ms(100),
        response(180, "Ringing", "INVITE", "z9hG4bKinv1"),
        udp(),
    );
    assert!(h.run_for(ms(120_000)).is_empty());
    assert_eq!(h.tx.len(), 1, "Proceeding waits for the final response");
}

#[test]
fn a_non_2xx_final_response_is_acked_by_the_transaction() {
    let mut h = Harness::new();
    let key =
        h.tx.send_request(h.now, request("INVITE", "z9hG4bKinv1"), udp())
            .unwrap();
    h.transmits();
    let out = h.tx.handle_response(
        h.now,
        response(486, "Busy Here", "INVITE", "z9hG4bKinv1"),
        udp(),
    );
    assert!(matches!(out, ResponseOutcome::Delivered(ref k) if *k == key));
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, udp());
    let ack = Request::try_from(&sent[0].bytes[..]).unwrap();
    assert_eq!(ack.method.to_string(), "ACK");
    assert_eq!(ack.uri.to_string(), "sip:registrar.example.com");
    assert_eq!(ack.cseq_header().unwrap().value(), "1 ACK");
    assert!(
        ack.to_header().unwrap().value().contains("tag=to1"),
        "To tag from the response"
    );
    assert!(
        ack.top_via_header()
            .unwrap()
            .value()
            .contains("branch=z9hG4bKinv1")
    );
    assert_eq!(ack.call_id_header().unwrap().value(), "call-1@192.0.2.10");
    let events = h.events();
    assert!(
        matches!(&events[..], [TransactionEvent::Response { response, .. }] if response.status_code.code() == 486)
    );
}

#[test]
fn a_retransmitted_final_response_is_absorbed_and_the_ack_resent() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("INVITE", "z9hG4bKinv1"), udp())
        .unwrap();
    h.tx.handle_response(
        h.now,
        response(486, "Busy Here", "INVITE", "z9hG4bKinv1"),
        udp(),
    );
    let first_ack = h.transmits().pop().unwrap();
    h.events();
    let out = h.tx.handle_response(
        h.now + ms(500),
        response(486, "Busy Here", "INVITE", "z9hG4bKinv1"),
        udp(),
    );
    assert!(matches!(out, ResponseOutcome::Absorbed));
    assert_eq!(h.transmits(), vec![first_ack]);
    assert!(h.events().is_empty(), "the TU sees the final response once");
}

#[test]
fn timer_d_ends_completed_after_32_s_on_udp() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("INVITE", "z9hG4bKinv1"), udp())
        .unwrap();
    h.tx.handle_response(
        h.now,
        response(603, "Decline", "INVITE", "z9hG4bKinv1"),
        udp(),
    );
    h.run_for(ms(32_000) - ms(1));
    assert_eq!(h.tx.len(), 1);
    h.run_for(ms(1));
    assert_eq!(h.tx.len(), 0);
}

#[test]
fn a_2xx_goes_to_the_tu_unacked_and_later_2xx_too_until_timer_m() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("INVITE", "z9hG4bKinv1"), udp())
        .unwrap();
    h.transmits();
    h.tx.handle_response(h.now, response(200, "OK", "INVITE", "z9hG4bKinv1"), udp());
    assert!(
        h.transmits().is_empty(),
        "the TU ACKs a 2xx, not the transaction"
    );
    assert_eq!(h.events().len(), 1);
    let again = h.tx.handle_response(
        h.now + ms(500),
        response(200, "OK", "INVITE", "z9hG4bKinv1"),
        udp(),
    );
    assert!(matches!(again, ResponseOutcome::Delivered(_)));
    assert!(
        h.run_for(T1 * 64).is_empty(),
        "no more INVITE retransmissions"
    );
    assert_eq!(h.tx.len(), 0);
    let late =
        h.tx.handle_response(h.now, response(200, "OK", "INVITE", "z9hG4bKinv1"), udp());
    assert!(
        matches!(late, ResponseOutcome::Stray(_)),
        "after M, the dialog layer's business"
    );
}

#[test]
fn ack_and_branchless_requests_are_refused() {
    let mut h = Harness::new();
    let ack =
        h.tx.send_request(h.now, request("ACK", "z9hG4bKack"), udp());
    assert_eq!(ack, Err(TransactionError::AckIsNotATransaction));
    let old = h.tx.send_request(h.now, request("INVITE", "1234"), udp());
    assert!(matches!(old, Err(TransactionError::Key(_))));
    h.tx.send_request(h.now, request("INVITE", "z9hG4bKinv1"), udp())
        .unwrap();
    let dup =
        h.tx.send_request(h.now, request("INVITE", "z9hG4bKinv1"), udp());
    assert_eq!(dup, Err(TransactionError::Duplicate));
}

//! Reliable transport (§17): no A/E/G retransmissions, zero-length D/I/J/K.

use super::util::*;
use crate::sip::transaction::{RequestOutcome, Timer, TransactionEvent};

#[test]
fn a_non_invite_client_does_not_retransmit_but_still_times_out_on_f() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request_via("OPTIONS", "z9hG4bKt1", "TCP"), tcp())
        .unwrap();
    assert_eq!(h.transmits().len(), 1);
    assert!(h.run_for(T1 * 64).is_empty());
    let events = h.events();
    assert!(matches!(
        &events[0],
        TransactionEvent::Timeout {
            timer: Timer::F,
            ..
        }
    ));
}

#[test]
fn an_invite_client_does_not_retransmit_but_still_times_out_on_b() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request_via("INVITE", "z9hG4bKt1", "TCP"), tcp())
        .unwrap();
    h.transmits();
    assert!(h.run_for(T1 * 64).is_empty());
    let events = h.events();
    assert!(matches!(
        &events[0],
        TransactionEvent::Timeout {
            timer: Timer::B,
            ..
        }
    ));
}

#[test]
fn timer_k_is_zero_a_non_invite_client_ends_on_its_final_response() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request_via("OPTIONS", "z9hG4bKt1", "TCP"), tcp())
        .unwrap();
    h.tx.handle_response(h.now, response(200, "OK", "OPTIONS", "z9hG4bKt1"), tcp());
    assert_eq!(h.tx.len(), 0);
    let events = h.events();
    assert!(matches!(
        &events[..],
        [
            TransactionEvent::Response { .. },
            TransactionEvent::Terminated { .. }
        ]
    ));
}

#[test]
fn timer_d_is_zero_an_invite_client_ends_after_acking_a_non_2xx() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request_via("INVITE", "z9hG4bKt1", "TCP"), tcp())
        .unwrap();
    h.transmits();
    h.tx.handle_response(
        h.now,
        response(486, "Busy Here", "INVITE", "z9hG4bKt1"),
        tcp(),
    );
    assert_eq!(h.transmits().len(), 1, "the ACK");
    assert_eq!(h.tx.len(), 0);
}

#[test]
fn timer_j_is_zero_a_non_invite_server_ends_on_its_final_response() {
    let mut h = Harness::new();
    let key =
        new_key(h.tx.handle_request(h.now, request_via("REGISTER", "z9hG4bKt1", "TCP"), tcp()));
    let sent = h.respond(&key, response(200, "OK", "REGISTER", "z9hG4bKt1"));
    assert_eq!(sent[0].to, tcp());
    assert_eq!(h.tx.len(), 0);
    assert!(terminated(&h.events()));
    assert_eq!(h.tx.poll_timeout(), None, "no timer armed at all");
}

#[test]
fn no_timer_g_and_timer_i_is_zero_for_an_invite_server() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request_via("INVITE", "z9hG4bKt1", "TCP"), tcp()));
    h.respond(&key, response(486, "Busy Here", "INVITE", "z9hG4bKt1"));
    assert!(h.run_for(ms(10_000)).is_empty(), "no Timer G on TCP");
    let ack =
        h.tx.handle_request(h.now, request_via("ACK", "z9hG4bKt1", "TCP"), tcp());
    assert!(matches!(ack, RequestOutcome::Absorbed));
    assert_eq!(h.tx.len(), 0, "Confirmed lasts zero time");
}

#[test]
fn timer_h_still_runs_on_tcp() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request_via("INVITE", "z9hG4bKt1", "TCP"), tcp()));
    h.respond(&key, response(486, "Busy Here", "INVITE", "z9hG4bKt1"));
    h.run_for(T1 * 64);
    let events = h.events();
    assert!(matches!(
        &events[0],
        TransactionEvent::Timeout {
            timer: Timer::H,
            ..
        }
    ));
}

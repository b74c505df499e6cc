//! Non-INVITE client transaction (§17.1.2): Timer E back-off capped at T2, F, K.

use super::util::*;
use crate::sip::transaction::{ResponseOutcome, Timer, TransactionEvent};

#[test]
fn timer_e_retransmits_at_500ms_1s_2s_4s_then_every_4s() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("OPTIONS", "z9hG4bKout1"), udp())
        .unwrap();
    assert_eq!(
        h.transmits().len(),
        1,
        "the request itself goes out at once"
    );
    let sent = h.run_for(ms(20_000));
    // Intervals 0.5, 1, 2, 4, 4, 4 s: sent at 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5 s.
    let expected: Vec<_> = [500, 1500, 3500, 7500, 11_500, 15_500, 19_500]
        .map(ms)
        .to_vec();
    assert_eq!(times(&sent), expected);
    assert!(
        sent.iter()
            .all(|(_, t)| first_line(t).starts_with("OPTIONS "))
    );
}

#[test]
fn timer_f_times_out_after_64_t1() {
    let mut h = Harness::new();
    let key =
        h.tx.send_request(h.now, request("OPTIONS", "z9hG4bKout1"), udp())
            .unwrap();
    h.run_for(T1 * 64 - ms(1));
    assert_eq!(h.tx.len(), 1);
    assert!(h.events().is_empty());
    h.run_for(ms(1));
    assert_eq!(h.tx.len(), 0);
    let events = h.events();
    assert!(matches!(
        &events[..],
        [TransactionEvent::Timeout { key: k, timer: Timer::F }, TransactionEvent::Terminated { .. }]
            if *k == key
    ));
}

#[test]
fn a_provisional_response_holds_timer_e_at_t2() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("OPTIONS", "z9hG4bKout1"), udp())
        .unwrap();
    h.transmits();
    h.run_for(ms(600)); // first retransmission at 0.5 s; next armed for 1.5 s
    let out = h.tx.handle_response(
        h.now,
        response(100, "Trying", "OPTIONS", "z9hG4bKout1"),
        udp(),
    );
    assert!(matches!(out, ResponseOutcome::Delivered(_)));
    let sent = h.run_for(ms(10_000)); // until 10.6 s
    // The already-armed 1 s interval fires at 1.5 s, then T2 steps: 5.5, 9.5 s.
    assert_eq!(times(&sent), [1500, 5500, 9500].map(ms).to_vec());
}

#[test]
fn the_final_response_reaches_the_tu_and_stops_retransmissions() {
    let mut h = Harness::new();
    let key =
        h.tx.send_request(h.now, request("OPTIONS", "z9hG4bKout1"), udp())
            .unwrap();
    h.transmits();
    let out =
        h.tx.handle_response(h.now, response(200, "OK", "OPTIONS", "z9hG4bKout1"), udp());
    assert!(matches!(out, ResponseOutcome::Delivered(ref k) if *k == key));
    let events = h.events();
    assert!(matches!(
        &events[..],
        [TransactionEvent::Response { key: k, response }] if *k == key && response.status_code.code() == 200
    ));
    assert!(h.run_for(T4 - ms(1)).is_empty());
}

#[test]
fn response_retransmissions_are_absorbed_in_completed_until_timer_k() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("OPTIONS", "z9hG4bKout1"), udp())
        .unwrap();
    h.tx.handle_response(h.now, response(200, "OK", "OPTIONS", "z9hG4bKout1"), udp());
    h.events();
    h.run_for(ms(1000));
    let again =
        h.tx.handle_response(h.now, response(200, "OK", "OPTIONS", "z9hG4bKout1"), udp());
    assert!(matches!(again, ResponseOutcome::Absorbed));
    assert!(h.events().is_empty());
    h.run_for(T4 - ms(1000));
    assert_eq!(h.tx.len(), 0, "Timer K (T4) ended it");
    assert!(terminated(&h.events()));
}

#[test]
fn a_response_with_an_unknown_branch_is_stray_and_counted() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("OPTIONS", "z9hG4bKout1"), udp())
        .unwrap();
    let out =
        h.tx.handle_response(h.now, response(200, "OK", "OPTIONS", "z9hG4bKother"), udp());
    assert!(matches!(out, ResponseOutcome::Stray(_)));
    assert_eq!(h.tx.stray_responses(), 1);
    assert!(h.events().is_empty());
}

#[test]
fn a_response_whose_cseq_method_differs_is_stray() {
    let mut h = Harness::new();
    h.tx.send_request(h.now, request("OPTIONS", "z9hG4bKout1"), udp())
        .unwrap();
    let out =
        h.tx.handle_response(h.now, response(200, "OK", "REGISTER", "z9hG4bKout1"), udp());
    assert!(matches!(out, ResponseOutcome::Stray(_)));
}

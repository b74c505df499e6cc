//! Non-INVITE server transaction (§17.2.2): absorbs and answers retransmissions, ends on J.

use super::util::*;
use crate::sip::transaction::{RequestOutcome, TransactionError, TransactionEvent};

#[test]
fn a_retransmission_before_the_tu_answers_is_absorbed_silently() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp()));
    let again =
        h.tx.handle_request(h.now + ms(500), request("REGISTER", "z9hG4bKreg1"), udp());
    assert!(matches!(again, RequestOutcome::Absorbed));
    assert!(h.transmits().is_empty());
    assert_eq!(h.tx.len(), 1);
    assert!(h.tx.contains(&key));
}

#[test]
fn the_final_response_is_sent_to_the_peer_the_request_came_from() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp()));
    let sent = h.respond(&key, response(200, "OK", "REGISTER", "z9hG4bKreg1"));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, udp());
    assert_eq!(first_line(&sent[0]), "SIP/2.0 200 OK");
}

#[test]
fn a_retransmission_after_the_final_response_gets_the_same_bytes_again() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp()));
    let first = h.respond(&key, response(200, "OK", "REGISTER", "z9hG4bKreg1"));
    h.run_for(ms(1500));
    let again =
        h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp());
    assert!(matches!(again, RequestOutcome::Absorbed));
    let resent = h.transmits();
    assert_eq!(resent, first);
}

#[test]
fn a_retransmission_in_proceeding_gets_the_last_provisional() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("OPTIONS", "z9hG4bKopt1"), udp()));
    h.respond(&key, response(100, "Trying", "OPTIONS", "z9hG4bKopt1"));
    let _ =
        h.tx.handle_request(h.now, request("OPTIONS", "z9hG4bKopt1"), udp());
    let resent = h.transmits();
    assert_eq!(resent.len(), 1);
    assert_eq!(first_line(&resent[0]), "SIP/2.0 100 Trying");
}

#[test]
fn it_terminates_on_timer_j_after_64_t1_on_udp() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp()));
    h.respond(&key, response(200, "OK", "REGISTER", "z9hG4bKreg1"));
    h.run_for(T1 * 64 - ms(1));
    assert_eq!(
        h.tx.len(),
        1,
        "still absorbing retransmissions just before J"
    );
    h.run_for(ms(1));
    assert_eq!(h.tx.len(), 0);
    let events = h.events();
    assert!(matches!(&events[..], [TransactionEvent::Terminated { key: k }] if *k == key));
    assert_eq!(h.tx.poll_timeout(), None);
}

#[test]
fn after_timer_j_the_same_request_is_new_again() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp()));
    h.respond(&key, response(200, "OK", "REGISTER", "z9hG4bKreg1"));
    h.run_for(T1 * 64);
    let again =
        h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp());
    assert!(matches!(again, RequestOutcome::New { .. }));
}

#[test]
fn a_second_final_response_is_refused() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp()));
    h.respond(&key, response(200, "OK", "REGISTER", "z9hG4bKreg1"));
    let err = h.tx.respond(
        h.now,
        &key,
        response(500, "Server Internal Error", "REGISTER", "z9hG4bKreg1"),
    );
    assert!(matches!(err, Err(TransactionError::InvalidState(_))));
    assert!(h.transmits().is_empty());
}

#[test]
fn responding_to_an_unknown_key_is_not_found() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp()));
    h.respond(&key, response(200, "OK", "REGISTER", "z9hG4bKreg1"));
    h.run_for(T1 * 64);
    let err =
        h.tx.respond(h.now, &key, response(200, "OK", "REGISTER", "z9hG4bKreg1"));
    assert_eq!(err, Err(TransactionError::NotFound));
}

#[test]
fn no_timer_is_armed_while_waiting_for_the_tu() {
    let mut h = Harness::new();
    let _ =
        h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp());
    assert_eq!(h.tx.poll_timeout(), None);
}

#[test]
fn a_stateless_challenge_is_sent_once_and_kept_by_no_transaction() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("REGISTER", "z9hG4bKreg1"), udp()));
    let challenge = response(401, "Unauthorized", "REGISTER", "z9hG4bKreg1");
    h.tx.respond_statelessly(h.now, &key, challenge).unwrap();
    let sent = h.transmits();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, udp());
    assert_eq!(first_line(&sent[0]), "SIP/2.0 401 Unauthorized");
    assert_eq!(h.tx.len(), 0);
    assert!(terminated(&h.events()));
    assert_eq!(h.tx.poll_timeout(), None, "no Timer J armed");
    // The retransmitted REGISTER is a new request, for the TU to challenge again.
    let again =
        h.tx.handle_request(h.now + ms(500), request("REGISTER", "z9hG4bKreg1"), udp());
    assert!(matches!(again, RequestOutcome::New { .. }));
}

#[test]
fn a_stateless_answer_to_an_answered_transaction_is_an_ordinary_one() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("OPTIONS", "z9hG4bKopt1"), udp()));
    h.respond(&key, response(100, "Trying", "OPTIONS", "z9hG4bKopt1"));
    h.tx.respond_statelessly(
        h.now,
        &key,
        response(401, "Unauthorized", "OPTIONS", "z9hG4bKopt1"),
    )
    .unwrap();
    assert_eq!(first_line(&h.transmits()[0]), "SIP/2.0 401 Unauthorized");
    assert_eq!(h.tx.len(), 1, "kept in Completed for Timer J");
    let _ =
        h.tx.handle_request(h.now, request("OPTIONS", "z9hG4bKopt1"), udp());
    assert_eq!(first_line(&h.transmits()[0]), "SIP/2.0 401 Unauthorized");
}

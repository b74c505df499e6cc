//! CANCEL (§9.2): its own transaction, matched to the INVITE by branch and sent-by.

use super::util::*;
use crate::sip::transaction::{CancelTarget, RequestOutcome};

#[test]
fn a_cancel_for_a_pending_invite_names_it_and_both_can_be_answered() {
    let mut h = Harness::new();
    let invite = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&invite, response(180, "Ringing", "INVITE", "z9hG4bKin1"));
    let out =
        h.tx.handle_request(h.now, request("CANCEL", "z9hG4bKin1"), udp());
    let RequestOutcome::Cancel {
        key: cancel,
        target,
        ..
    } = out
    else {
        panic!("expected a CANCEL outcome, got {out:?}")
    };
    assert_eq!(target, CancelTarget::Pending(invite.clone()));
    assert_ne!(cancel, invite, "CANCEL is its own transaction");
    let ok = h.respond(&cancel, response(200, "OK", "CANCEL", "z9hG4bKin1"));
    assert_eq!(first_line(&ok[0]), "SIP/2.0 200 OK");
    let terminated = h.respond(
        &invite,
        response(487, "Request Terminated", "INVITE", "z9hG4bKin1"),
    );
    assert_eq!(first_line(&terminated[0]), "SIP/2.0 487 Request Terminated");
    assert_eq!(h.tx.len(), 2);
}

#[test]
fn a_cancel_matching_nothing_is_reported_for_a_481() {
    let mut h = Harness::new();
    let out =
        h.tx.handle_request(h.now, request("CANCEL", "z9hG4bKnothing"), udp());
    let RequestOutcome::Cancel { key, target, .. } = out else {
        panic!("expected a CANCEL outcome, got {out:?}")
    };
    assert_eq!(target, CancelTarget::NotFound);
    let sent = h.respond(
        &key,
        response(
            481,
            "Call/Transaction Does Not Exist",
            "CANCEL",
            "z9hG4bKnothing",
        ),
    );
    assert_eq!(
        first_line(&sent[0]),
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    );
}

#[test]
fn a_cancel_from_another_sent_by_does_not_match() {
    let mut h = Harness::new();
    new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    let mut cancel = request("CANCEL", "z9hG4bKin1");
    let text = String::from_utf8(cancel.to_bytes())
        .unwrap()
        .replace("192.0.2.10:5060;branch", "198.51.100.7:5060;branch");
    cancel = crate::sip::message::Request::try_from(text.as_str()).unwrap();
    let out = h.tx.handle_request(h.now, cancel, udp());
    assert!(matches!(
        out,
        RequestOutcome::Cancel {
            target: CancelTarget::NotFound,
            ..
        }
    ));
}

#[test]
fn a_cancel_after_the_final_response_has_no_effect_on_the_invite() {
    let mut h = Harness::new();
    let invite = new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    h.respond(&invite, response(200, "OK", "INVITE", "z9hG4bKin1"));
    let out =
        h.tx.handle_request(h.now, request("CANCEL", "z9hG4bKin1"), udp());
    assert!(
        matches!(out, RequestOutcome::Cancel { target: CancelTarget::Answered(k), .. } if k == invite)
    );
}

#[test]
fn a_cancel_retransmission_gets_the_cancels_response_again() {
    let mut h = Harness::new();
    new_key(h.tx.handle_request(h.now, request("INVITE", "z9hG4bKin1"), udp()));
    let RequestOutcome::Cancel { key, .. } =
        h.tx.handle_request(h.now, request("CANCEL", "z9hG4bKin1"), udp())
    else {
        panic!("expected a CANCEL outcome")
    };
    h.respond(&key, response(200, "OK", "CANCEL", "z9hG4bKin1"));
    let again =
        h.tx.handle_request(h.now, request("CANCEL", "z9hG4bKin1"), udp());
    assert!(matches!(again, RequestOutcome::Absorbed));
    let resent = h.transmits();
    assert_eq!(resent.len(), 1);
    assert!(text(&resent[0]).contains("CSeq: 1 CANCEL"));
}

//! Transaction matching (§17.1.3, §17.2.3) and malformed input.

use super::util::*;
use crate::sip::message::Request;
use crate::sip::transaction::{KeyError, RequestOutcome, Role, TransactionKey};

fn with_via(req: &Request, from: &str, to: &str) -> Request {
    let text = String::from_utf8(req.to_bytes())
        .unwrap()
        .replacen(from, to, 1);
    Request::try_from(text.as_str()).unwrap()
}

#[test]
fn ack_keys_to_the_invite_and_cancel_to_its_own_transaction() {
    let invite = TransactionKey::for_request(&request("INVITE", "z9hG4bKk1")).unwrap();
    let ack = TransactionKey::for_request(&request("ACK", "z9hG4bKk1")).unwrap();
    let cancel = TransactionKey::for_request(&request("CANCEL", "z9hG4bKk1")).unwrap();
    assert_eq!(ack, invite);
    assert_ne!(cancel, invite);
    assert_eq!(invite.role(), Role::Server);
}

#[test]
fn the_same_branch_from_another_sent_by_is_another_transaction() {
    let a = request("REGISTER", "z9hG4bKk1");
    let b = with_via(&a, "192.0.2.10:5060", "192.0.2.11:5060");
    assert_ne!(
        TransactionKey::for_request(&a).unwrap(),
        TransactionKey::for_request(&b).unwrap()
    );
}

#[test]
fn sent_by_host_compares_case_insensitively() {
    let a = with_via(
        &request("REGISTER", "z9hG4bKk1"),
        "192.0.2.10:5060",
        "phone.example.com",
    );
    let b = with_via(
        &request("REGISTER", "z9hG4bKk1"),
        "192.0.2.10:5060",
        "PHONE.Example.com",
    );
    assert_eq!(
        TransactionKey::for_request(&a).unwrap(),
        TransactionKey::for_request(&b).unwrap()
    );
}

#[test]
fn client_and_server_keys_never_collide() {
    let req = request("OPTIONS", "z9hG4bKk1");
    let server = TransactionKey::for_request(&req).unwrap();
    let client = TransactionKey::for_outgoing(&req).unwrap();
    assert_ne!(server, client);
    assert_eq!(
        client,
        TransactionKey::for_response(&response(200, "OK", "OPTIONS", "z9hG4bKk1")).unwrap()
    );
}

#[test]
fn an_rfc_2543_request_is_keyed_on_call_id_from_tag_cseq_and_via() {
    let mut h = Harness::new();
    let key = new_key(h.tx.handle_request(h.now, request("INVITE", "old-style-1"), udp()));
    h.respond(&key, response(486, "Busy Here", "INVITE", "old-style-1"));
    // Its retransmission and its ACK still match.
    assert!(matches!(
        h.tx.handle_request(h.now, request("INVITE", "old-style-1"), udp()),
        RequestOutcome::Absorbed
    ));
    assert!(matches!(
        h.tx.handle_request(h.now, request("ACK", "old-style-1"), udp()),
        RequestOutcome::Absorbed
    ));
}

#[test]
fn an_rfc_2543_request_without_a_branch_is_accepted() {
    let req = with_via(&request("REGISTER", "x"), ";branch=x", "");
    assert!(TransactionKey::for_request(&req).is_ok());
}

#[test]
fn a_request_without_via_is_invalid_not_a_panic() {
    let req = Request::try_from(
        "OPTIONS sip:a@example.com SIP/2.0\r\nFrom: <sip:b@example.com>;tag=1\r\n\
         To: <sip:a@example.com>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    let mut h = Harness::new();
    let out = h.tx.handle_request(h.now, req, udp());
    assert!(matches!(
        out,
        RequestOutcome::Invalid {
            error: KeyError::BadVia,
            ..
        }
    ));
    assert_eq!(h.tx.len(), 0);
}

#[test]
fn garbage_via_and_cseq_are_invalid_not_a_panic() {
    for (from, to) in [
        (
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKk1;rport",
            "garbage",
        ),
        ("CSeq: 1 REGISTER", "CSeq: banana"),
        ("CSeq: 1 REGISTER", "CSeq: 1 INVITE"),
    ] {
        let text = String::from_utf8(request("REGISTER", "z9hG4bKk1").to_bytes())
            .unwrap()
            .replacen(from, to, 1);
        let req = Request::try_from(text.as_str()).unwrap();
        let mut h = Harness::new();
        let out = h.tx.handle_request(h.now, req, udp());
        assert!(
            matches!(out, RequestOutcome::Invalid { .. }),
            "{to}: {out:?}"
        );
    }
}

#[test]
fn a_response_to_a_server_transaction_key_is_stray() {
    let mut h = Harness::new();
    new_key(h.tx.handle_request(h.now, request("OPTIONS", "z9hG4bKk1"), udp()));
    let out =
        h.tx.handle_response(h.now, response(200, "OK", "OPTIONS", "z9hG4bKk1"), udp());
    assert!(matches!(
        out,
        crate::sip::transaction::ResponseOutcome::Stray(_)
    ));
}

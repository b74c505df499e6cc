//! Registrar behaviour, one REGISTER exchange at a time, with a virtual wall clock.

use super::*;
use crate::sip::message::{SipMessage, parse};

const REALM: &str = "switchboard.test";
const T0: i64 = 1_700_000_000_000;

fn registrar() -> Registrar {
    let mut users = HashMap::new();
    users.insert(
        "alice".to_string(),
        Ha1::from_password("alice", REALM, "secret"),
    );
    Registrar::new(
        RegistrarConfig {
            realm: REALM.into(),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 600,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
            guard: GuardConfig {
                max_failures: 3,
                window_ms: 60_000,
                block_ms: 300_000,
            },
        },
        users,
        [3; 32],
        1,
    )
}

fn peer() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: "192.0.2.10:5062".parse().expect("addr"),
    }
}

fn register(user: &str, cseq: u32, extra: &str) -> Request {
    let text = format!(
        "REGISTER sip:{REALM} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{REALM}>;tag=f1\r\n\
         To: <sip:{user}@{REALM}>\r\n\
         Call-ID: reg-{user}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    match parse(text.as_bytes()).expect("parses") {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("not a request"),
    }
}

fn code(r: &Reply) -> u16 {
    r.response.status_code.code()
}

/// The nonce and algorithm of the first challenge in a 401.
fn nonce_of(r: &Reply) -> String {
    let h = message::header(&r.response, "WWW-Authenticate").expect("challenge");
    let start = h.find("nonce=\"").expect("nonce") + 7;
    h[start..start + h[start..].find('"').expect("quote")].to_string()
}

/// What a phone computes for `password`, written out independently of the registrar.
fn authorization(user: &str, password: &str, nonce: &str, nc: u32, alg: Algorithm) -> String {
    let h = |s: &str| alg.hex_hash(s.as_bytes());
    let ha1 = h(&format!("{user}:{REALM}:{password}"));
    let ha2 = h(&format!("REGISTER:sip:{REALM}"));
    let nc = format!("{nc:08x}");
    let resp = h(&format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:{REALM}\", response=\"{resp}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"c0ffee\"\r\n",
        alg.as_str()
    )
}

/// Challenge, then answer it; returns the final reply.
fn login(r: &mut Registrar, now: i64, user: &str, pw: &str, cseq: u32, extra: &str) -> Reply {
    let challenge = r.handle_register(now, &register(user, cseq, extra), peer());
    assert_eq!(code(&challenge), 401);
    let nonce = nonce_of(&challenge);
    let auth = authorization(user, pw, &nonce, 1, Algorithm::Md5);
    r.handle_register(
        now,
        &register(user, cseq + 1, &format!("{auth}{extra}")),
        peer(),
    )
}

const CONTACT: &str = "Contact: <sip:alice@192.0.2.10:5062>\r\nExpires: 600\r\n";

#[test]
fn challenge_offers_sha256_then_md5_with_one_nonce() {
    let mut r = registrar();
    let reply = r.handle_register(T0, &register("alice", 1, CONTACT), peer());
    assert_eq!(code(&reply), 401);
    let challenges: Vec<&str> =
        message::headers_named(&reply.response, "WWW-Authenticate").collect();
    assert_eq!(challenges.len(), 2);
    assert!(challenges[0].contains("algorithm=SHA-256"));
    assert!(challenges[1].contains("algorithm=MD5"));
    assert!(challenges.iter().all(|c| c.contains("qop=\"auth\"")));
}

#[test]
fn register_with_sha256_binds_and_lists_the_contact() {
    let mut r = registrar();
    let challenge = r.handle_register(T0, &register("alice", 1, CONTACT), peer());
    let auth = authorization(
        "alice",
        "secret",
        &nonce_of(&challenge),
        1,
        Algorithm::Sha256,
    );
    let ok = r.handle_register(
        T0,
        &register("alice", 2, &format!("{auth}{CONTACT}")),
        peer(),
    );
    assert_eq!(code(&ok), 200);
    assert_eq!(
        message::header(&ok.response, "Contact"),
        Some("<sip:alice@192.0.2.10:5062>;expires=600")
    );
    assert_eq!(r.bindings_of("alice").len(), 1);
    assert_eq!(r.bindings_of("alice")[0].source, "udp:192.0.2.10:5062");
    assert!(matches!(
        r.drain_changes().as_slice(),
        [BindingChange::Upsert(b)] if b.expires_at_unix_ms == T0 + 600_000
    ));
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_403() {
    let mut r = registrar();
    let wrong = login(&mut r, T0, "alice", "nope", 1, CONTACT);
    let unknown = login(&mut r, T0, "mallory", "secret", 1, CONTACT);
    assert_eq!(code(&wrong), 403);
    assert_eq!(code(&unknown), 403);
    assert_eq!(wrong.reason, unknown.reason);
    let header_names = |rep: &Reply| -> Vec<String> {
        rep.response
            .headers
            .iter()
            .map(|h| h.name().to_string())
            .collect()
    };
    assert_eq!(header_names(&wrong), header_names(&unknown));
    assert_eq!(r.binding_count(), 0);
}

#[test]
fn expires_below_minimum_is_423_with_min_expires() {
    let mut r = registrar();
    let reply = login(
        &mut r,
        T0,
        "alice",
        "secret",
        1,
        "Contact: <sip:alice@192.0.2.10:5062>;expires=30\r\n",
    );
    assert_eq!(code(&reply), 423);
    assert_eq!(message::header(&reply.response, "Min-Expires"), Some("60"));
}

#[test]
fn expires_above_maximum_is_capped() {
    let mut r = registrar();
    let reply = login(
        &mut r,
        T0,
        "alice",
        "secret",
        1,
        "Contact: <sip:alice@192.0.2.10:5062>\r\nExpires: 99999\r\n",
    );
    assert_eq!(code(&reply), 200);
    assert_eq!(
        message::header(&reply.response, "Contact"),
        Some("<sip:alice@192.0.2.10:5062>;expires=3600")
    );
}

#[test]
fn query_unregister_and_star() {
    let mut r = registrar();
    login(&mut r, T0, "alice", "secret", 1, CONTACT);
    login(
        &mut r,
        T0,
        "alice",
        "secret",
        3,
        "Contact: <sip:alice@198.51.100.1:5060>\r\n",
    );
    assert_eq!(r.bindings_of("alice").len(), 2);
    let query = login(&mut r, T0, "alice", "secret", 5, "");
    assert_eq!(code(&query), 200);
    assert_eq!(
        message::headers_named(&query.response, "Contact").count(),
        2
    );
    let one = login(
        &mut r,
        T0,
        "alice",
        "secret",
        7,
        "Contact: <sip:alice@192.0.2.10:5062>;expires=0\r\n",
    );
    assert_eq!(code(&one), 200);
    assert_eq!(r.bindings_of("alice").len(), 1);
    let all = login(
        &mut r,
        T0,
        "alice",
        "secret",
        9,
        "Contact: *\r\nExpires: 0\r\n",
    );
    assert_eq!(code(&all), 200);
    assert_eq!(r.binding_count(), 0);
    let bad_star = login(&mut r, T0, "alice", "secret", 11, "Contact: *\r\n");
    assert_eq!(code(&bad_star), 400);
}

#[test]
fn replayed_nonce_count_is_rechallenged_and_counted() {
    let mut r = registrar();
    let challenge = r.handle_register(T0, &register("alice", 1, CONTACT), peer());
    let auth = authorization("alice", "secret", &nonce_of(&challenge), 1, Algorithm::Md5);
    let first = r.handle_register(
        T0,
        &register("alice", 2, &format!("{auth}{CONTACT}")),
        peer(),
    );
    assert_eq!(code(&first), 200);
    let again = r.handle_register(
        T0,
        &register("alice", 3, &format!("{auth}{CONTACT}")),
        peer(),
    );
    assert_eq!(code(&again), 401);
    let events: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
    assert!(events.contains(&RegistrarEvent::AuthFailure {
        ip: peer().addr.ip(),
        reason: "nonce count replayed"
    }));
}

#[test]
fn expired_nonce_with_right_password_is_stale() {
    let mut r = registrar();
    let challenge = r.handle_register(T0, &register("alice", 1, CONTACT), peer());
    let auth = authorization("alice", "secret", &nonce_of(&challenge), 1, Algorithm::Md5);
    let late = T0 + 301_000;
    let reply = r.handle_register(
        late,
        &register("alice", 2, &format!("{auth}{CONTACT}")),
        peer(),
    );
    assert_eq!(code(&reply), 401);
    let h = message::header(&reply.response, "WWW-Authenticate").expect("challenge");
    assert!(h.ends_with("stale=true"), "{h}");
}

#[test]
fn repeated_failures_block_the_source_until_the_block_lifts() {
    let mut r = registrar();
    for i in 0..3 {
        login(&mut r, T0 + i, "alice", "wrong", 1 + 2 * i as u32, CONTACT);
    }
    assert!(r.is_blocked(peer().addr.ip(), T0 + 10));
    assert_eq!(r.blocked_count(), 1);
    r.handle_timeout(T0 + 300_010);
    assert!(!r.is_blocked(peer().addr.ip(), T0 + 300_010));
    let events: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
    assert!(events.contains(&RegistrarEvent::Guard(GuardEvent::Lifted {
        ip: peer().addr.ip()
    })));
}

#[test]
fn bindings_expire_and_are_removed_from_the_store() {
    let mut r = registrar();
    login(&mut r, T0, "alice", "secret", 1, CONTACT);
    r.drain_changes();
    r.handle_timeout(T0 + 599_999);
    assert_eq!(r.binding_count(), 1);
    r.handle_timeout(T0 + 600_000);
    assert_eq!(r.binding_count(), 0);
    assert_eq!(
        r.drain_changes(),
        vec![BindingChange::Remove {
            username: "alice".into(),
            contact: "sip:alice@192.0.2.10:5062".into()
        }]
    );
}

#[test]
fn same_instance_and_reg_id_replace_the_old_contact() {
    let mut r = registrar();
    let inst = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1";
    login(
        &mut r,
        T0,
        "alice",
        "secret",
        1,
        &format!("Contact: <sip:alice@192.0.2.10:5062>;{inst}\r\n"),
    );
    login(
        &mut r,
        T0,
        "alice",
        "secret",
        3,
        &format!("Contact: <sip:alice@192.0.2.10:6000>;{inst}\r\n"),
    );
    let b = r.bindings_of("alice");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].contact, "sip:alice@192.0.2.10:6000");
    assert_eq!(
        b[0].instance_id.as_deref(),
        Some("\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"")
    );
    assert_eq!(b[0].reg_id, Some(1));
}

#[test]
fn load_skips_expired_bindings() {
    let mut r = registrar();
    let binding = |contact: &str, expires: i64| Binding {
        username: "alice".into(),
        contact: contact.into(),
        instance_id: None,
        reg_id: None,
        expires_at_unix_ms: expires,
        call_id: "c".into(),
        cseq: 1,
        source: "udp:192.0.2.10:5062".into(),
        user_agent: None,
        q: None,
        updated_at_unix_ms: T0,
    };
    r.load(
        T0,
        vec![binding("sip:a@x", T0 + 1000), binding("sip:b@x", T0 - 1)],
    );
    assert_eq!(r.binding_count(), 1);
    assert_eq!(r.bindings_of("alice")[0].contact, "sip:a@x");
}

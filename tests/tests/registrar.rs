//! The registrar as phones see it: the real binary against sipp over UDP and TCP.
//!
//! Each test starts its own server (fresh SQLite database, free ports) on a config derived
//! from the shipped one, so a change to the shipped config that breaks these flows shows up.

use std::time::Duration;

use switchboard_tests::{DerivedConfig, Server, derive_config, sipp, sipp_with, udp_exchange};

const DOMAIN: &str = "demo.switchboard.test";

/// The shipped config with MD5 offered first: sipp 3.6 only speaks MD5 and takes the first
/// challenge it sees (SHA-256 is checked with a client that has it, in `phones.rs`).
fn md5_first(extra: &[(&str, &str)]) -> DerivedConfig {
    let mut r = vec![(
        "    algorithms: [SHA-256, MD5]",
        "    algorithms: [MD5, SHA-256]",
    )];
    r.extend_from_slice(extra);
    derive_config(&r)
}

fn start(dir: &DerivedConfig) -> Server {
    Server::start(&dir.path).expect("server starts")
}

fn alice() -> String {
    format!("alice;demo-alice;{DOMAIN}")
}

#[test]
fn register_with_md5_digest_binds_the_contact() {
    let cfg = md5_first(&[]);
    let server = start(&cfg);
    let run = sipp(server.sip, "register.xml", &alice(), &[]);
    assert!(run.success(), "{}", run.explain());
    assert!(run.messages.contains("algorithm=MD5"), "{}", run.messages);
    assert_eq!(
        server.metric("switchboard_sip_active_bindings").unwrap(),
        1.0
    );
}

#[test]
fn register_over_tcp() {
    let cfg = md5_first(&[]);
    let server = start(&cfg);
    let run = sipp_with(server.sip, "register.xml", &alice(), &[], &["-t", "t1"]);
    assert!(run.success(), "{}", run.explain());
    assert_eq!(
        server.metric("switchboard_sip_active_bindings").unwrap(),
        1.0
    );
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_answer() {
    let cfg = md5_first(&[]);
    let server = start(&cfg);
    let wrong = sipp(
        server.sip,
        "register_wrong_password.xml",
        &format!("alice;not-her-password;{DOMAIN}"),
        &[],
    );
    assert!(wrong.success(), "{}", wrong.explain());
    let unknown = sipp(
        server.sip,
        "register_wrong_password.xml",
        &format!("mallory;demo-alice;{DOMAIN}"),
        &[],
    );
    assert!(unknown.success(), "{}", unknown.explain());
    // Same status line and the same header names, in the same order.
    let shape = |messages: &str| -> Vec<String> {
        let start = messages.find("SIP/2.0 403").expect("a 403");
        messages[start..]
            .lines()
            .take_while(|l| !l.is_empty())
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(shape(&wrong.messages), shape(&unknown.messages));
    assert_eq!(
        server.metric("switchboard_sip_active_bindings").unwrap(),
        0.0
    );
    assert!(
        server
            .metric("switchboard_sip_auth_failures_total{reason=\"wrong response\"}")
            .unwrap()
            >= 1.0
    );
}

#[test]
fn expired_nonce_gets_stale_true() {
    let cfg = md5_first(&[("    nonce_lifetime: 5m", "    nonce_lifetime: 1s")]);
    let server = start(&cfg);
    let run = sipp_with(
        server.sip,
        "register_stale.xml",
        &alice(),
        &[],
        &["-d", "1500"],
    );
    assert!(run.success(), "{}", run.explain());
}

#[test]
fn replayed_nonce_count_is_challenged_again() {
    let cfg = md5_first(&[]);
    let server = start(&cfg);
    // sipp reuses the nonce with nc=1 then nc=2: both fresh counts, both accepted.
    let run = sipp(server.sip, "register_replay.xml", &alice(), &[]);
    assert!(run.success(), "{}", run.explain());
    let first = run
        .messages
        .lines()
        .find(|l| l.starts_with("Authorization:") && l.contains("nc=00000001"))
        .expect("sipp sent nc=00000001");
    // Replay sipp's own first credentials in a new request: same nonce, same count.
    let replay = format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-replay-1;rport\r\n\
         From: <sip:alice@{DOMAIN}>;tag=r1\r\n\
         To: <sip:alice@{DOMAIN}>\r\n\
         Call-ID: replay-1\r\n\
         CSeq: 9 REGISTER\r\n\
         Contact: <sip:alice@127.0.0.1:9>\r\n\
         {first}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let answer = udp_exchange(server.sip, replay.as_bytes(), Duration::from_secs(3))
        .expect("the replay is answered");
    assert!(answer.starts_with("SIP/2.0 401 "), "{answer}");
    assert!(
        server
            .metric("switchboard_sip_auth_failures_total{reason=\"nonce count replayed\"}")
            .unwrap()
            >= 1.0
    );
}

#[test]
fn expires_below_minimum_is_423() {
    let cfg = md5_first(&[]);
    let server = start(&cfg);
    let run = sipp(server.sip, "register_min_expires.xml", &alice(), &[]);
    assert!(run.success(), "{}", run.explain());
    assert!(run.messages.contains("Min-Expires: 60"), "{}", run.messages);
}

#[test]
fn query_then_unregister_everything() {
    let cfg = md5_first(&[]);
    let server = start(&cfg);
    let run = sipp(server.sip, "register_query_unregister.xml", &alice(), &[]);
    assert!(run.success(), "{}", run.explain());
    assert_eq!(
        server.metric("switchboard_sip_active_bindings").unwrap(),
        0.0
    );
}

#[test]
fn repeated_failures_block_the_source() {
    let cfg = md5_first(&[("    max_failures: 10", "    max_failures: 3")]);
    let server = start(&cfg);
    for _ in 0..3 {
        let run = sipp(
            server.sip,
            "register_wrong_password.xml",
            &format!("alice;guess;{DOMAIN}"),
            &[],
        );
        assert!(run.success(), "{}", run.explain());
    }
    // Now even the right password gets no answer at all from this address.
    let blocked = sipp_with(
        server.sip,
        "register.xml",
        &alice(),
        &[],
        &["-timeout", "3s"],
    );
    assert!(!blocked.success(), "a blocked source was answered");
    assert!(!blocked.messages.contains("SIP/2.0 401"));
    assert_eq!(
        server.metric("switchboard_sip_blocked_sources").unwrap(),
        1.0
    );
    assert_eq!(
        server
            .metric("switchboard_sip_source_blocks_total")
            .unwrap(),
        1.0
    );
    assert!(
        server
            .metric("switchboard_sip_blocked_drops_total")
            .unwrap()
            >= 1.0
    );
    assert!(
        server
            .log_text()
            .contains("source blocked after repeated authentication failures"),
        "the block is logged"
    );
}

#[test]
fn options_is_answered_with_allow_and_accept() {
    let cfg = md5_first(&[]);
    let server = start(&cfg);
    let run = sipp(server.sip, "options.xml", &alice(), &[]);
    assert!(run.success(), "{}", run.explain());
    assert!(run.messages.contains("Supported:"), "{}", run.messages);
}

#[test]
fn bindings_survive_a_restart() {
    let cfg = md5_first(&[]);
    let mut server = start(&cfg);
    let run = sipp(server.sip, "register.xml", &alice(), &[]);
    assert!(run.success(), "{}", run.explain());
    let short = sipp(
        server.sip,
        "register.xml",
        &format!("bob;demo-bob;{DOMAIN}"),
        &[],
    );
    assert!(short.success(), "{}", short.explain());
    assert_eq!(
        server.metric("switchboard_sip_active_bindings").unwrap(),
        2.0
    );
    server.stop().expect("clean stop");
    server.restart().expect("restart");
    assert_eq!(
        server.metric("switchboard_sip_active_bindings").unwrap(),
        2.0
    );
    assert!(server.log_text().contains("bindings=2"));
}

/// The `nonce="…"` of the first challenge in a response.
fn nonce_of(response: &str) -> String {
    let at = response
        .find("nonce=\"")
        .unwrap_or_else(|| panic!("no nonce in:\n{response}"));
    let rest = &response[at + 7..];
    rest[..rest.find('"').expect("a closing quote")].to_string()
}

#[test]
fn a_challenge_is_sent_once_and_no_transaction_is_kept_for_it() {
    let cfg = md5_first(&[]);
    let server = start(&cfg);
    let register = format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-challenge-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@{DOMAIN}>;tag=c1\r\n\
         To: <sip:alice@{DOMAIN}>\r\n\
         Call-ID: challenge-1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:alice@127.0.0.1:9>\r\n\
         Expires: 60\r\n\
         Content-Length: 0\r\n\r\n"
    );
    // One socket, as a phone retransmitting: a transaction answers the address the request
    // first came from.
    let phone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    phone
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let exchange = |msg: &str| {
        phone.send_to(msg.as_bytes(), server.sip).unwrap();
        let mut buf = vec![0u8; 65_535];
        let (n, _) = phone.recv_from(&mut buf).expect("an answer");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ask = || exchange(&register);
    let first = ask();
    assert!(first.starts_with("SIP/2.0 401 "), "{first}");
    assert_eq!(
        server.metric("switchboard_sip_open_transactions").unwrap(),
        0.0,
        "no transaction kept for a challenge (RFC 3261 §26.3.2.4)"
    );
    // The same REGISTER again (a retransmission: same branch) is a new request: a fresh
    // challenge, not the stored one.
    let again = ask();
    assert!(again.starts_with("SIP/2.0 401 "), "{again}");
    assert_ne!(nonce_of(&first), nonce_of(&again));

    // An answered request keeps its transaction: OPTIONS retransmitted gets the same 200.
    let options = format!(
        "OPTIONS sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-options-1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{DOMAIN}>;tag=o1\r\n\
         To: <sip:{DOMAIN}>\r\n\
         Call-ID: options-1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let ok = exchange(&options);
    let ok_again = exchange(&options);
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    assert_eq!(ok, ok_again, "a retransmission gets the stored response");
    assert_eq!(
        server.metric("switchboard_sip_open_transactions").unwrap(),
        1.0
    );
}

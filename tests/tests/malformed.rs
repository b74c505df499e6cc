//! Bad input gets a clear answer and nothing else: malformed requests are answered 400 with
//! a reason, unknown methods 501, garbage is dropped and counted, and the server keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use switchboard_tests::{DerivedConfig, Server, derive_config, sipp, udp_exchange};

const DOMAIN: &str = "demo.switchboard.test";

fn server() -> (DerivedConfig, Server) {
    let cfg = derive_config(&[("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]")]);
    let s = Server::start(&cfg.path).expect("server");
    (cfg, s)
}

/// A request line and exactly these header lines.
fn request(method: &str, uri: &str, headers: &[&str]) -> String {
    let mut s = format!("{method} {uri} SIP/2.0\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s
}

const VIA: &str = "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-bad-1";
const FROM: &str = "From: <sip:probe@127.0.0.1>;tag=1";
const TO: &str = "To: <sip:demo.switchboard.test>";
const CALL_ID: &str = "Call-ID: bad-1";

fn ask(server: &Server, msg: &str) -> String {
    udp_exchange(server.sip, msg.as_bytes(), Duration::from_secs(3))
        .unwrap_or_else(|| panic!("no answer to:\n{msg}"))
}

#[test]
fn malformed_requests_are_answered_400_with_a_reason_and_the_server_keeps_serving() {
    let (_cfg, server) = server();
    let uri = format!("sip:{DOMAIN}");
    let cases: Vec<(String, &str)> = vec![
        (
            request(
                "OPTIONS",
                &uri,
                &[VIA, FROM, TO, CALL_ID, "Content-Length: 0"],
            ),
            "missing CSeq",
        ),
        (
            request("OPTIONS", &uri, &[VIA, FROM, TO, "CSeq: 1 OPTIONS"]),
            "missing Call-ID",
        ),
        (
            request("OPTIONS", &uri, &[VIA, TO, CALL_ID, "CSeq: 1 OPTIONS"]),
            "missing From",
        ),
        (
            request(
                "OPTIONS",
                &uri,
                &[VIA, FROM, TO, CALL_ID, "CSeq: one OPTIONS"],
            ),
            "CSeq number `one` is not a 32-bit integer",
        ),
        (
            request("OPTIONS", &uri, &[VIA, FROM, TO, CALL_ID, "CSeq: 1 INVITE"]),
            "CSeq method does not match the request method",
        ),
        (
            request(
                "OPTIONS",
                &uri,
                &[
                    VIA,
                    FROM,
                    TO,
                    CALL_ID,
                    "CSeq: 1 OPTIONS",
                    "Max-Forwards: many",
                ],
            ),
            "Max-Forwards is not a number from 0 to 255",
        ),
        (
            request(
                "OPTIONS",
                &uri,
                &[
                    VIA,
                    FROM,
                    TO,
                    CALL_ID,
                    "CSeq: 1 OPTIONS",
                    "Content-Length: 400",
                ],
            ),
            "Content-Length is larger than the body",
        ),
        (
            request(
                "OPTIONS",
                &uri,
                &[
                    "Via: SIP/2.0/UDP 127.0.0.1:9",
                    FROM,
                    TO,
                    CALL_ID,
                    "CSeq: 1 OPTIONS",
                ],
            ),
            "Via has no branch parameter",
        ),
        (
            request(
                "OPTIONS",
                "not a uri at all",
                &[VIA, FROM, TO, CALL_ID, "CSeq: 1 OPTIONS"],
            ),
            "",
        ),
    ];
    for (msg, reason) in &cases {
        let answer = ask(&server, msg);
        let status = answer.lines().next().unwrap_or_default();
        assert!(
            status.starts_with("SIP/2.0 400 Bad Request"),
            "{status} for:\n{msg}"
        );
        assert!(status.contains(reason), "`{status}` lacks `{reason}`");
        // The reply goes back along the request's own Via.
        if msg.contains("branch=z9hG4bK-bad-1") {
            assert!(answer.contains("branch=z9hG4bK-bad-1"), "{answer}");
        }
    }
    // Unknown method: 501. Another SIP version: 505.
    let frob = request("FROB", &uri, &[VIA, FROM, TO, CALL_ID, "CSeq: 1 FROB"]);
    assert!(ask(&server, &frob).starts_with("SIP/2.0 501 "));
    let v3 = request(
        "OPTIONS",
        &uri,
        &[VIA, FROM, TO, CALL_ID, "CSeq: 1 OPTIONS"],
    )
    .replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia");
    assert!(ask(&server, &v3).starts_with("SIP/2.0 505 "));

    // Garbage that is not SIP gets no answer, and is counted.
    for junk in [
        &b"\x00\x01\x02garbage"[..],
        b"GET / HTTP/1.1\r\n\r\n",
        &[0xff; 1400],
    ] {
        assert_eq!(
            udp_exchange(server.sip, junk, Duration::from_millis(300)),
            None
        );
    }
    assert!(
        server
            .metric("switchboard_sip_parse_errors_total{reason=\"not_sip\"}")
            .unwrap()
            >= 3.0
    );
    assert!(
        server
            .metric("switchboard_sip_parse_errors_total{reason=\"bad_request\"}")
            .unwrap()
            >= cases.len() as f64
    );

    // Still serving: a well-formed OPTIONS through sipp.
    let run = sipp(server.sip, "options.xml", "x;y;z", &[]);
    assert!(run.success(), "{}", run.explain());
}

#[test]
fn broken_tcp_stream_is_closed_and_others_are_served() {
    let (_cfg, server) = server();
    let mut s = TcpStream::connect(server.sip).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    // A message without Content-Length cannot be framed on a stream (RFC 3261 §18.3).
    s.write_all(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK1\r\n\r\n")
        .expect("write");
    let mut buf = [0u8; 64];
    assert_eq!(s.read(&mut buf).expect("closed, not hung"), 0);
    let run = sipp(server.sip, "options.xml", "x;y;z", &[]);
    assert!(run.success(), "{}", run.explain());
}

#[test]
fn requests_to_unknown_users_are_404_and_unsupported_methods_405() {
    let (_cfg, server) = server();
    let invite = |user: &str| {
        request(
            "INVITE",
            &format!("sip:{user}@{DOMAIN}"),
            &[
                VIA,
                FROM,
                &format!("To: <sip:{user}@{DOMAIN}>"),
                CALL_ID,
                "CSeq: 1 INVITE",
                "Max-Forwards: 70",
                "Content-Length: 0",
            ],
        )
    };
    let nobody = ask(&server, &invite("nobody"));
    assert!(nobody.starts_with("SIP/2.0 404 "), "{nobody}");
    // Calls to agents are not served yet: 480, honestly, rather than a pretend ring.
    let alice = ask(&server, &invite("alice").replace("bad-1", "bad-2"));
    assert!(alice.starts_with("SIP/2.0 480 "), "{alice}");
    let message = invite("alice")
        .replace("INVITE sip:", "MESSAGE sip:")
        .replace("CSeq: 1 INVITE", "CSeq: 1 MESSAGE")
        .replace("bad-1", "bad-3");
    let refused = ask(&server, &message);
    assert!(refused.starts_with("SIP/2.0 405 "), "{refused}");
    assert!(refused.contains("Allow: REGISTER, OPTIONS"), "{refused}");
}

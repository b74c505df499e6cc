//! Attended transfer from a SIP phone (RFC 3891): Alice's phone takes a customer's call,
//! dials a consultation call to a number (the server challenges it with 407), then sends a
//! REFER in the customer's dialog whose Refer-To carries `Replaces=` naming the consultation.
//! The server connects the customer with the consulted party and hangs up both of the
//! phone's calls. The phone here is written in the test (sipp cannot hold two calls in one
//! scenario); customer and consulted party are sipp, and every party's audio is checked.

// Real phones, real time: the tests read the clock.
#![allow(clippy::disallowed_methods)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchboard::sip::digest::{Algorithm, Credentials};
use switchboard_media::tone::amplitude;
use switchboard_tests::{Handset, Phone, Server, derive_config, free_port, register_phone};

const CUSTOMER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
const THIRD_HZ: f64 = 1700.0;
const DOMAIN: &str = "demo.switchboard.test";

/// The phone under test: one UDP socket, two audio sides (the customer's call and the
/// consultation).
struct TestPhone {
    sock: UdpSocket,
    server: SocketAddr,
    a_audio: Handset,
    b_audio: Handset,
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn tag_of(v: &str) -> Option<&str> {
    v.split(';').find_map(|p| p.trim().strip_prefix("tag="))
}

fn uri_in(v: &str) -> &str {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    }
}

fn sdp(port: u16) -> String {
    format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )
}

impl TestPhone {
    fn pump_all(&mut self, others: &mut [&mut Phone]) {
        self.a_audio.pump();
        self.b_audio.pump();
        for o in others.iter_mut() {
            o.audio.pump();
        }
    }

    fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .expect("send");
    }

    /// The next SIP message, keeping all audio flowing while waiting.
    fn next(&mut self, others: &mut [&mut Phone], limit: Duration) -> String {
        let start = Instant::now();
        let mut buf = [0u8; 8192];
        loop {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                return String::from_utf8_lossy(&buf[..n]).into_owned();
            }
            assert!(
                start.elapsed() < limit,
                "the phone heard nothing for {limit:?}"
            );
            self.pump_all(others);
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Answers a request with a bare 200 (NOTIFY, BYE).
    fn ok(&self, req: &str) {
        let mut resp = String::from("SIP/2.0 200 OK\r\n");
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            for line in req.split("\r\n") {
                if line
                    .split_once(':')
                    .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                {
                    resp.push_str(line);
                    resp.push_str("\r\n");
                }
            }
        }
        resp.push_str("Content-Length: 0\r\n\r\n");
        self.send(&resp);
    }

    fn pump_for(&mut self, others: &mut [&mut Phone], d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.pump_all(others);
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn recent(h: &Handset) -> Vec<i16> {
    h.heard[h.heard.len().saturating_sub(4_000)..].to_vec()
}

fn hears(step: &str, who: &str, h: &Handset, hz: f64, should: bool) {
    let a = amplitude(&recent(h), 8_000, hz);
    let ok = if should { a >= 3_000.0 } else { a < 800.0 };
    assert!(
        ok,
        "{step}: {who} {} the {hz} Hz party (amplitude {a:.0})",
        if should {
            "does not hear"
        } else {
            "still hears"
        }
    );
}

#[test]
fn an_attended_transfer_by_refer_with_replaces_connects_the_customer_with_the_consulted_party() {
    let trunk_port = free_port();
    let trunk = format!("    address: 127.0.0.1:{trunk_port}");
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
        ("    address: 127.0.0.1:5070", trunk.as_str()),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let port = free_port();
    register_phone(sip, "alice", "demo-alice", port);
    let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind the phone's port");
    sock.set_nonblocking(true).expect("nonblocking");
    let mut phone = TestPhone {
        sock,
        server: sip,
        a_audio: Handset::bind(AGENT_HZ),
        b_audio: Handset::bind(AGENT_HZ),
    };
    let mut third = Phone::start(
        sip,
        "third_party_answer_hangup.xml",
        trunk_port,
        THIRD_HZ,
        vec![],
    );
    let mut customer = Phone::start(
        sip,
        "customer_until_bye.xml",
        free_port(),
        CUSTOMER_HZ,
        vec![
            ("number", "+15550100".into()),
            ("domain", DOMAIN.into()),
            ("digit", "1".into()),
        ],
    );

    // 1. The customer's call rings the phone; it answers.
    let invite = loop {
        let m = phone.next(&mut [&mut customer, &mut third], Duration::from_secs(30));
        if m.starts_with("INVITE ") {
            break m;
        }
    };
    let a_from = header(&invite, "From").expect("From").to_string();
    let a_to = format!("{};tag=phoneA", header(&invite, "To").expect("To"));
    let a_call_id = header(&invite, "Call-ID").expect("Call-ID").to_string();
    let a_target = uri_in(header(&invite, "Contact").expect("Contact")).to_string();
    let body = sdp(phone.a_audio.port());
    let mut ok = String::from("SIP/2.0 200 OK\r\n");
    for line in invite.split("\r\n").filter(|l| {
        ["Via:", "From:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|h| l.starts_with(h))
    }) {
        ok.push_str(line);
        ok.push_str("\r\n");
    }
    ok.push_str(&format!(
        "To: {a_to}\r\nContact: <sip:alice@127.0.0.1:{port}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    phone.send(&ok);
    loop {
        let m = phone.next(&mut [&mut customer, &mut third], Duration::from_secs(5));
        if m.starts_with("ACK ") {
            break;
        }
    }

    // 2. The phone dials the consultation; the server challenges it (407) first.
    let target = format!("sip:+15550199@{DOMAIN}");
    let b_body = sdp(phone.b_audio.port());
    let consult = |cseq: u32, branch: &str, auth: &str| {
        format!(
            "INVITE {target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{DOMAIN}>;tag=phoneB\r\nTo: <{target}>\r\nCall-ID: consultB@phone\r\nCSeq: {cseq} INVITE\r\nContact: <sip:alice@127.0.0.1:{port}>\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b_body}",
            b_body.len()
        )
    };
    phone.send(&consult(1, "z9hG4bKb1", ""));
    let challenge = loop {
        let m = phone.next(&mut [&mut customer, &mut third], Duration::from_secs(5));
        if m.starts_with("SIP/2.0 407") {
            break m;
        }
    };
    phone.send(&format!(
        "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKb1;rport\r\nFrom: <sip:alice@{DOMAIN}>;tag=phoneB\r\nTo: {}\r\nCall-ID: consultB@phone\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        header(&challenge, "To").expect("To")
    ));
    let www = header(&challenge, "Proxy-Authenticate").expect("Proxy-Authenticate");
    let param = |name: &str| {
        www.split(',')
            .find_map(|p| {
                let (k, v) = p.trim().trim_start_matches("Digest ").split_once('=')?;
                (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
            })
            .unwrap_or_default()
    };
    let creds = Credentials {
        username: "alice".into(),
        realm: param("realm"),
        nonce: param("nonce"),
        uri: target.clone(),
        response: String::new(),
        algorithm: Algorithm::Md5,
        cnonce: "0a4f113b".into(),
        nc: 1,
        nc_text: "00000001".into(),
    };
    let ha1 = Algorithm::Md5.ha1("alice", &creds.realm, "demo-alice");
    let response = creds.expected_response(&ha1, "INVITE");
    let auth = format!(
        "Proxy-Authorization: Digest username=\"alice\", realm=\"{}\", nonce=\"{}\", uri=\"{target}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n",
        creds.realm, creds.nonce
    );
    phone.send(&consult(2, "z9hG4bKb2", &auth));
    let answered = loop {
        let m = phone.next(&mut [&mut customer, &mut third], Duration::from_secs(15));
        if m.starts_with("SIP/2.0 200") && header(&m, "CSeq").is_some_and(|c| c.contains("INVITE"))
        {
            break m;
        }
        assert!(
            !m.starts_with("SIP/2.0 4") && !m.starts_with("SIP/2.0 5"),
            "the consultation was refused: {m}\n{}",
            server.log_text()
        );
    };
    let b_to = header(&answered, "To").expect("To").to_string();
    let b_server_tag = tag_of(&b_to).expect("to-tag").to_string();
    let b_target = uri_in(header(&answered, "Contact").expect("Contact")).to_string();
    phone.send(&format!(
        "ACK {b_target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKb3;rport\r\nFrom: <sip:alice@{DOMAIN}>;tag=phoneB\r\nTo: {b_to}\r\nCall-ID: consultB@phone\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n"
    ));
    phone.pump_for(
        &mut [&mut customer, &mut third],
        Duration::from_millis(1200),
    );
    hears(
        "consulting",
        "the consulted party",
        &third.audio,
        AGENT_HZ,
        true,
    );
    hears("consulting", "the agent", &phone.b_audio, THIRD_HZ, true);
    hears(
        "consulting",
        "the customer",
        &customer.audio,
        THIRD_HZ,
        false,
    );

    // 3. REFER with Replaces in the customer's dialog.
    let replaces = format!("consultB%40phone%3Bto-tag%3D{b_server_tag}%3Bfrom-tag%3DphoneB");
    phone.send(&format!(
        "REFER {a_target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKr1;rport\r\nMax-Forwards: 70\r\nFrom: {a_to}\r\nTo: {a_from}\r\nCall-ID: {a_call_id}\r\nCSeq: 1 REFER\r\nContact: <sip:alice@127.0.0.1:{port}>\r\nRefer-To: <{target}?Replaces={replaces}>\r\nReferred-By: <sip:alice@{DOMAIN}>\r\nContent-Length: 0\r\n\r\n"
    ));
    let (mut accepted, mut notified_ok, mut byes) = (false, false, 0);
    let start = Instant::now();
    while !(accepted && notified_ok && byes == 2) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "transfer incomplete: 202 {accepted}, NOTIFY 200 {notified_ok}, BYEs {byes}\n{}",
            server.log_text()
        );
        let m = phone.next(&mut [&mut customer, &mut third], Duration::from_secs(10));
        if m.starts_with("SIP/2.0 202") {
            accepted = true;
        } else if m.starts_with("SIP/2.0 4") || m.starts_with("SIP/2.0 5") {
            panic!("REFER refused: {m}\n{}", server.log_text());
        } else if m.starts_with("NOTIFY ") {
            assert_eq!(header(&m, "Event"), Some("refer"));
            notified_ok |= m.contains("SIP/2.0 200 OK\r\n") && m.ends_with("SIP/2.0 200 OK\r\n");
            phone.ok(&m);
        } else if m.starts_with("BYE ") {
            byes += 1;
            phone.ok(&m);
        }
    }

    // 4. Customer and consulted party talk; the phone is out of both calls.
    phone.pump_for(
        &mut [&mut customer, &mut third],
        Duration::from_millis(1200),
    );
    hears(
        "transferred",
        "the customer",
        &customer.audio,
        THIRD_HZ,
        true,
    );
    hears(
        "transferred",
        "the consulted party",
        &third.audio,
        CUSTOMER_HZ,
        true,
    );
    hears(
        "transferred",
        "the consulted party",
        &third.audio,
        AGENT_HZ,
        false,
    );
    assert!(
        server
            .log_text()
            .contains("attended transfer by REFER with Replaces")
    );

    // The consulted party hangs up; the customer is hung up too.
    let start = Instant::now();
    while [&customer, &third].iter().any(|p| !p.finished())
        && start.elapsed() < Duration::from_secs(30)
    {
        phone.pump_for(&mut [&mut customer, &mut third], Duration::from_millis(50));
    }
    let third_run = third.join();
    assert!(third_run.success(), "{}", third_run.explain());
    let customer_run = customer.join();
    assert!(customer_run.success(), "{}", customer_run.explain());
}

//! CANCEL around inbound calls, on the real binary.
//!
//! The server answers an inbound INVITE at once (the contact flow runs on an answered call),
//! so a caller's CANCEL can only cross the 200: it is answered 200 and changes nothing
//! (RFC 3261 §9.2), no 487 follows, and the caller ends the call with ACK and BYE.
//! And when the caller hangs up while an agent's phone rings, the server CANCELs that INVITE
//! and the agent is back to Available, not Missed.

// Real sockets, real time.
#![allow(clippy::disallowed_methods)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use switchboard_tests::{Phone, Server, derive_config, free_port, register_phone, talk};

/// Every datagram that arrives on `sock` within `wait`.
fn receive_all(sock: &UdpSocket, wait: Duration) -> Vec<String> {
    let until = Instant::now() + wait;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_535];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    out
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn a_cancel_crossing_the_200_is_answered_200_and_the_caller_hangs_up_with_bye() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = sock.local_addr().expect("addr");
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("rtp");
    let rtp_port = rtp.local_addr().expect("rtp addr").port();
    let sdp = format!(
        "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    );
    let common = format!(
        "Via: SIP/2.0/UDP {me};branch=z9hG4bK-cancel-cross;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+15551230000@127.0.0.1>;tag=caller1\r\n\
         To: <sip:+15550100@demo.switchboard.test>\r\n\
         Call-ID: cancel-cross@127.0.0.1\r\n"
    );
    let invite = format!(
        "INVITE sip:+15550100@demo.switchboard.test SIP/2.0\r\n{common}CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@{me}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let cancel = format!(
        "CANCEL sip:+15550100@demo.switchboard.test SIP/2.0\r\n{common}CSeq: 1 CANCEL\r\n\
         Content-Length: 0\r\n\r\n"
    );
    // Back to back, as a caller hanging up while it rings would.
    sock.send_to(invite.as_bytes(), server.sip)
        .expect("send INVITE");
    sock.send_to(cancel.as_bytes(), server.sip)
        .expect("send CANCEL");
    let got = receive_all(&sock, Duration::from_millis(1_500));
    let log = server.log_text();
    let is = |m: &str, status: &str, cseq: &str| {
        m.starts_with(&format!("SIP/2.0 {status}")) && header(m, "CSeq") == Some(cseq)
    };
    let ok = got
        .iter()
        .find(|m| is(m, "200", "1 INVITE"))
        .unwrap_or_else(|| panic!("no 200 to the INVITE: {got:#?}\n{log}"));
    assert!(
        got.iter().any(|m| is(m, "200", "1 CANCEL")),
        "no 200 to the CANCEL: {got:#?}"
    );
    assert!(
        !got.iter().any(|m| m.starts_with("SIP/2.0 487")),
        "an answered INVITE cannot be terminated: {got:#?}"
    );

    // ACK the 200 and hang up.
    let to = header(ok, "To").expect("To").to_string();
    let target = header(ok, "Contact")
        .and_then(|c| Some(c[c.find('<')? + 1..c.find('>')?].to_string()))
        .expect("Contact");
    let in_dialog = |method: &str, n: u32, branch: &str| {
        format!(
            "{method} {target} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch={branch};rport\r\nMax-Forwards: 70\r\n\
             From: <sip:+15551230000@127.0.0.1>;tag=caller1\r\nTo: {to}\r\n\
             Call-ID: cancel-cross@127.0.0.1\r\nCSeq: {n} {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    sock.send_to(in_dialog("ACK", 1, "z9hG4bK-cc-ack").as_bytes(), server.sip)
        .expect("send ACK");
    std::thread::sleep(Duration::from_millis(300));
    sock.send_to(in_dialog("BYE", 2, "z9hG4bK-cc-bye").as_bytes(), server.sip)
        .expect("send BYE");
    let got = receive_all(&sock, Duration::from_millis(1_000));
    assert!(
        got.iter().any(|m| is(m, "200", "2 BYE")),
        "the BYE is not answered: {got:#?}"
    );
    let log = server.log_text();
    assert!(
        log.contains("by=customer") || log.contains("by=\"customer\""),
        "{log}"
    );
}

#[test]
fn a_caller_hanging_up_while_the_agent_rings_cancels_the_agents_invite() {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    // Alice's phone rings and is never picked up; it expects the server's CANCEL.
    let mut agent = Phone::agent(sip, "agent_no_answer.xml", agent_port, 1000.0);
    // The caller presses 1 after 2 s and hangs up 3 s later, while Alice's phone rings (the
    // ring timeout is 20 s).
    let mut customer = Phone::customer(sip, "inbound_call.xml", "1", 440.0);
    talk(&mut [&mut customer, &mut agent], Duration::from_secs(30));
    let log = server.log_text();
    let run = customer.join();
    assert!(run.success(), "{}\n{log}", run.explain());
    let run = agent.join();
    assert!(run.success(), "{}\n{log}", run.explain());
    assert!(
        run.messages.contains("CANCEL sip:"),
        "the agent's phone got no CANCEL:\n{}",
        run.messages
    );
    assert!(log.contains("offering contact to agent"), "{log}");
    assert!(
        log.contains("by=customer") || log.contains("by=\"customer\""),
        "{log}"
    );
    // The offer was withdrawn, not missed: Alice is Available again.
    assert!(
        log.contains("agent=alice from=Incoming to=Available"),
        "{log}"
    );
    assert!(!log.contains("to=Missed"), "{log}");
}

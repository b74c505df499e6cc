//! Outbound calls dialed from an agent's phone: the INVITE is challenged (407) and
//! authenticated, the number typed in national form is formatted to E.164 with the agent's
//! country, and the call leaves through the trunk with the queue's caller ID. Without
//! OutboundCallAccess the phone gets 403, and what is not a number gets 484, each with the
//! reason in a Warning header.

// Real phones, real time: the tests read the clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use switchboard_media::tone::amplitude;
use switchboard_tests::{Handset, Server, derive_config, free_port, register_phone, sipp_on_port};

fn config(trunk_port: u16, extra: &[(&str, &str)]) -> switchboard_tests::DerivedConfig {
    let trunk = format!("    address: 127.0.0.1:{trunk_port}");
    let mut r: Vec<(&str, &str)> = vec![
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        ("    address: 127.0.0.1:5070", trunk.as_str()),
    ];
    r.extend_from_slice(extra);
    derive_config(&r)
}

/// Runs alice's phone dialing `dial` once and returns its sipp run.
fn dial(server: &Server, port: u16, dial: &str, rtp_port: u16) -> switchboard_tests::SippRun {
    sipp_on_port(
        server.sip,
        "agent_dials_out.xml",
        "alice;demo-alice",
        &[
            ("dial", dial),
            ("domain", "demo.switchboard.test"),
            ("rtp_port", &rtp_port.to_string()),
        ],
        &["-timeout", "60s"],
        port,
    )
}

#[test]
fn an_agent_dials_a_national_number_from_the_phone_and_talks_to_the_customer() {
    let trunk_port = free_port();
    // Agents dial out in any status but Offline.
    let cfg = config(
        trunk_port,
        &[(
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        )],
    );
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let phone_port = free_port();
    register_phone(sip, "alice", "demo-alice", phone_port);

    let mut agent_audio = Handset::bind(1000.0);
    let mut customer_audio = Handset::bind(440.0);
    let customer_rtp = customer_audio.port().to_string();
    let customer = std::thread::spawn(move || {
        sipp_on_port(
            sip,
            "third_party_answer_hangup.xml",
            "x",
            &[("rtp_port", &customer_rtp)],
            &["-timeout", "60s"],
            trunk_port,
        )
    });
    let agent_rtp = agent_audio.port();
    let srv = &server;
    let agent = std::thread::scope(|s| {
        let agent = s.spawn(move || dial(srv, phone_port, "2025550143", agent_rtp));
        let start = Instant::now();
        while !(agent.is_finished() && customer.is_finished())
            && start.elapsed() < Duration::from_secs(40)
        {
            agent_audio.pump();
            customer_audio.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
        agent.join().expect("agent thread")
    });
    let customer = customer.join().expect("customer thread");
    let log = server.log_text();
    assert!(agent.success(), "agent phone: {}\n{log}", agent.explain());
    assert!(
        customer.success(),
        "customer: {}\n{log}",
        customer.explain()
    );
    assert!(
        agent.messages.contains("SIP/2.0 407"),
        "the INVITE was not challenged: {}",
        agent.messages
    );
    assert!(
        customer.messages.contains("INVITE sip:+12025550143@"),
        "{}",
        customer.messages
    );
    assert!(
        customer.messages.contains("From: <sip:+15550100@"),
        "{}",
        customer.messages
    );
    // They talked: each heard the other's tone at full level during the call.
    let a = amplitude(&agent_audio.heard, 8_000, 440.0);
    let c = amplitude(&customer_audio.heard, 8_000, 1000.0);
    assert!(a > 2_000.0, "the agent did not hear the customer ({a:.0})");
    assert!(c > 2_000.0, "the customer did not hear the agent ({c:.0})");
    assert!(log.contains("outbound call dialed from the phone"), "{log}");
    assert!(log.contains("outbound call connected"), "{log}");
}

#[test]
fn without_outbound_call_access_or_with_a_bad_number_the_phone_is_refused_with_the_reason() {
    let trunk_port = free_port();
    // Agents lose OutboundCallAccess.
    let cfg = config(
        trunk_port,
        &[(
            "permissions: [BasicAgentAccess, OutboundCallAccess, TransferDestinations.View]",
            "permissions: [BasicAgentAccess, TransferDestinations.View]",
        )],
    );
    let server = Server::start(&cfg.path).expect("server");
    let phone_port = free_port();
    register_phone(server.sip, "alice", "demo-alice", phone_port);
    let run = dial(&server, phone_port, "2025550143", 40_000);
    assert!(run.success(), "{}", run.explain());
    assert!(run.messages.contains("SIP/2.0 403"), "{}", run.messages);
    assert!(
        run.messages
            .contains("Warning: 399 switchboard \"OutboundCallAccess is required to dial out\""),
        "{}",
        run.messages
    );
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/calls",
            Some(&server.login("alice", "demo-alice").expect("login")),
            Some(r#"{"number":"2025550143"}"#),
        )
        .expect("POST");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("OutboundCallAccess"), "{body}");

    // With the permission, something that is not a number is 484 with the reason.
    let cfg = config(trunk_port, &[]);
    let server = Server::start(&cfg.path).expect("server");
    let phone_port = free_port();
    register_phone(server.sip, "alice", "demo-alice", phone_port);
    let run = dial(&server, phone_port, "12", 40_002);
    assert!(run.success(), "{}", run.explain());
    assert!(run.messages.contains("SIP/2.0 484"), "{}", run.messages);
    assert!(
        run.messages.contains("12: the number is too short"),
        "{}",
        run.messages
    );
}

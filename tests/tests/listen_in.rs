//! Manager listen-in on a real call: a sipp customer talks to Alice's sipp phone; Maria (a
//! CallCenterManager) presses the headset on the floor: her phone is called and hears both,
//! and nobody hears her; barge and whisper change exactly that; she is Monitoring, and her
//! leg is hung up when the agent's call ends. Refused with 409 on a contact whose flow does
//! not record, and with 403 for a user without the permission.

// Real phones, real time: the tests read the clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use switchboard_media::tone::amplitude;
use switchboard_tests::{Phone, Server, derive_config, free_port, pump, register_phone};

const CUSTOMER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
const MANAGER_HZ: f64 = 1700.0;

fn get(server: &Server, token: &str, path: &str) -> serde_json::Value {
    let (status, body) = server.api("GET", path, Some(token), None).expect("GET");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// Waits, pumping audio, until `cond` holds on `path`'s JSON.
fn wait_for(
    server: &Server,
    token: &str,
    path: &str,
    parties: &mut [&mut Phone],
    what: &str,
    cond: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let v = get(server, token, path);
        if cond(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}: {v:#}\n{}",
            server.log_text()
        );
        pump(parties, Duration::from_millis(100));
    }
}

fn hears(step: &str, who: &str, heard: &[i16], hz: f64, should: bool) {
    let a = amplitude(heard, 8_000, hz);
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

fn alice_on_a_call(
    extra: &[(&str, &str)],
) -> (
    switchboard_tests::DerivedConfig,
    Vec<(&'static str, String)>,
) {
    let mut r: Vec<(&str, &str)> = vec![
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ];
    r.extend_from_slice(extra);
    let cfg = derive_config(&r);
    let customer_vars = vec![
        ("number", "+15550100".to_string()),
        ("domain", "demo.switchboard.test".to_string()),
        ("digit", "1".to_string()),
    ];
    (cfg, customer_vars)
}

#[test]
fn a_manager_listens_in_then_barges_then_whispers_and_the_leg_ends_with_the_call() {
    let (cfg, customer_vars) = alice_on_a_call(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let alice = server.login("alice", "demo-alice").expect("login alice");
    let maria = server.login("maria", "demo-maria").expect("login maria");
    let agent_port = free_port();
    let manager_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    register_phone(sip, "maria", "demo-maria", manager_port);
    let mut agent = Phone::start(sip, "phone_until_bye.xml", agent_port, AGENT_HZ, vec![]);
    let mut manager = Phone::start(sip, "phone_until_bye.xml", manager_port, MANAGER_HZ, vec![]);
    let mut customer = Phone::start(
        sip,
        "customer_until_bye.xml",
        free_port(),
        CUSTOMER_HZ,
        customer_vars,
    );
    let mut all = [&mut customer, &mut agent, &mut manager];

    // The floor shows Alice on a recorded contact: the headset is offered.
    let floor = wait_for(
        &server,
        &maria,
        "/api/v1/floor",
        &mut all,
        "Alice on a call",
        |f| {
            f["agents"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x["username"] == "alice" && x["listen_in_allowed"] == true)
            })
        },
    );
    let row = floor["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["username"] == "alice").cloned())
        .expect("alice on the floor");
    let contact = row["contact"].as_str().expect("contact").to_string();
    assert_eq!(row["state"], "Busy");
    assert_eq!(row["queue"], "Sales");

    // Alice (an agent) may not listen in.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/monitor",
            Some(&alice),
            Some(&format!(r#"{{"contact":"{contact}"}}"#)),
        )
        .expect("POST");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("ManagerListenIn"), "{body}");

    // Maria listens: her state is Monitoring, she hears both, nobody hears her.
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/monitor",
            Some(&maria),
            Some(&format!(r#"{{"contact":"{contact}"}}"#)),
        )
        .expect("POST");
    assert_eq!(status, 200, "{body}\n{}", server.log_text());
    let snap: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(snap["state"], "Monitoring");
    wait_for(
        &server,
        &maria,
        "/api/v1/floor",
        &mut all,
        "one monitoring session",
        |f| f["monitoring_sessions"] == 1,
    );
    pump(&mut all, Duration::from_millis(1200));
    let [customer, agent, manager] = &mut all;
    hears(
        "listen",
        "the manager",
        &manager.recent(),
        CUSTOMER_HZ,
        true,
    );
    hears("listen", "the manager", &manager.recent(), AGENT_HZ, true);
    hears(
        "listen",
        "the customer",
        &customer.recent(),
        MANAGER_HZ,
        false,
    );
    hears("listen", "the agent", &agent.recent(), MANAGER_HZ, false);
    hears("listen", "the customer", &customer.recent(), AGENT_HZ, true);

    // Barge: both hear her.
    let put = |mode: &str| {
        let (status, body) = server
            .api(
                "PUT",
                "/api/v1/monitor/mode",
                Some(&maria),
                Some(&format!(r#"{{"mode":"{mode}"}}"#)),
            )
            .expect("PUT");
        assert_eq!(status, 200, "{mode}: {body}");
    };
    put("barge");
    let mut all = [&mut **customer, &mut **agent, &mut **manager];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, manager] = &mut all;
    hears(
        "barge",
        "the customer",
        &customer.recent(),
        MANAGER_HZ,
        true,
    );
    hears("barge", "the agent", &agent.recent(), MANAGER_HZ, true);
    hears("barge", "the manager", &manager.recent(), CUSTOMER_HZ, true);

    // Whisper: only the agent hears her.
    put("whisper");
    let mut all = [&mut **customer, &mut **agent, &mut **manager];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, manager] = &mut all;
    hears("whisper", "the agent", &agent.recent(), MANAGER_HZ, true);
    hears(
        "whisper",
        "the customer",
        &customer.recent(),
        MANAGER_HZ,
        false,
    );
    hears("whisper", "the manager", &manager.recent(), AGENT_HZ, true);

    // Alice ends the call: Maria's leg is hung up and she is no longer Monitoring.
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/contacts/{contact}/connections/customer/end"),
            Some(&alice),
            None,
        )
        .expect("POST");
    assert_eq!(status, 200, "{body}");
    let manager_run = manager.join();
    assert!(
        manager_run.success(),
        "manager phone: {}",
        manager_run.explain()
    );
    let agent_run = agent.join();
    assert!(agent_run.success(), "agent phone: {}", agent_run.explain());
    let customer_run = customer.join();
    assert!(
        customer_run.success(),
        "customer: {}",
        customer_run.explain()
    );
    let snap = get(&server, &maria, "/api/v1/agent");
    assert_ne!(snap["state"], "Monitoring", "{snap:#}");
    assert!(server.log_text().contains("monitoring ended"));

    // The session is in Maria's agent events: who (her), whom (the contact, whose record
    // names Alice), when, and each mode in order. Stored write-behind: wait for the stop.
    let start = Instant::now();
    let reasons = loop {
        let events = get(&server, &maria, "/api/v1/agent-events?username=maria");
        let reasons: Vec<(String, String)> = events["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["contact_id"] == contact.as_str())
            .map(|e| {
                (
                    e["reason"].as_str().unwrap_or_default().to_string(),
                    e["to_state"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        if reasons.iter().any(|(r, _)| r == "monitoring_stopped") {
            break reasons;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no monitoring_stopped event: {events:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let expected: Vec<(String, String)> = [
        ("monitoring_started", "Monitoring"),
        ("monitoring_mode_listen", "Monitoring"),
        ("monitoring_mode_barge", "Monitoring"),
        ("monitoring_mode_whisper", "Monitoring"),
        (
            "monitoring_stopped",
            snap["state"].as_str().unwrap_or_default(),
        ),
    ]
    .iter()
    .map(|(r, s)| (r.to_string(), s.to_string()))
    .collect();
    assert_eq!(reasons, expected);
    let record = get(&server, &maria, &format!("/api/v1/contacts/{contact}"));
    assert_eq!(record["agent_username"], "alice", "{record:#}");
}

#[test]
fn listen_in_is_refused_with_409_when_the_flow_does_not_record() {
    let (cfg, customer_vars) = alice_on_a_call(&[]);
    // The main menu records nobody in this center.
    let flow = cfg.flow_path("main-menu");
    let text = std::fs::read_to_string(&flow).expect("flow");
    std::fs::write(&flow, text.replace("    record: both", "    record: none")).expect("write");
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let maria = server.login("maria", "demo-maria").expect("login maria");
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    register_phone(sip, "maria", "demo-maria", free_port());
    let mut agent = Phone::start(sip, "phone_until_bye.xml", agent_port, AGENT_HZ, vec![]);
    let mut customer = Phone::start(
        sip,
        "customer_until_bye.xml",
        free_port(),
        CUSTOMER_HZ,
        customer_vars,
    );
    let mut all = [&mut customer, &mut agent];
    let floor = wait_for(
        &server,
        &maria,
        "/api/v1/floor",
        &mut all,
        "Alice on a call",
        |f| {
            f["agents"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x["username"] == "alice" && x["state"] == "Busy")
            })
        },
    );
    let row = floor["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["username"] == "alice").cloned())
        .expect("alice");
    assert_eq!(row["listen_in_allowed"], false);
    let contact = row["contact"].as_str().expect("contact").to_string();
    let (status, body) = server
        .api(
            "POST",
            "/api/v1/monitor",
            Some(&maria),
            Some(&format!(r#"{{"contact":"{contact}"}}"#)),
        )
        .expect("POST");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("record"), "{body}");
    assert_ne!(get(&server, &maria, "/api/v1/agent")["state"], "Monitoring");
    let alice = server.login("alice", "demo-alice").expect("login");
    server
        .api(
            "POST",
            &format!("/api/v1/contacts/{contact}/connections/customer/end"),
            Some(&alice),
            None,
        )
        .expect("end");
    let [customer, agent] = &mut all;
    assert!(agent.join().success());
    assert!(customer.join().success());
}

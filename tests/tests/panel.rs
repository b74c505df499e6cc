//! The agent panel on a real three-party call: a sipp customer calls in, Alice's sipp phone
//! answers, and Alice drives the call from the API: Hold, Resume, transfer to a number (a sipp
//! phone behind the trunk answers), Swap, Join, Hold all, Leave. At every step each party's
//! handset checks by tone exactly whom it hears. Then the third party hangs up, the customer
//! is hung up too, and the contact records link the transfer.

// Real phones, real time: the tests read the clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use switchboard::store::InitiationMethod;
use switchboard_tests::{
    Phone, Server, api_post, assert_hears, connection_state, derive_config, free_port, pump,
    pump_until, register_phone,
};

const CUSTOMER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
const THIRD_HZ: f64 = 1700.0;

#[test]
fn hold_transfer_swap_join_hold_all_and_leave_on_a_real_three_party_call() {
    let trunk_port = free_port();
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
        (
            "    address: 127.0.0.1:5070",
            &format!("    address: 127.0.0.1:{trunk_port}"),
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let token = server.login("alice", "demo-alice").expect("login");

    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    let mut agent = Phone::start(sip, "phone_until_bye.xml", agent_port, AGENT_HZ, vec![]);
    let mut third = Phone::start(
        sip,
        "third_party_answer_hangup.xml",
        trunk_port,
        THIRD_HZ,
        vec![("talk_ms", "9000".into())],
    );
    let mut customer = Phone::start(
        sip,
        "customer_until_bye.xml",
        free_port(),
        CUSTOMER_HZ,
        vec![
            ("number", "+15550100".into()),
            ("domain", "demo.switchboard.test".into()),
            ("digit", "1".into()),
        ],
    );
    let mut all = [&mut customer, &mut agent, &mut third];

    // Connected: customer and agent hear each other.
    let snap = pump_until(
        &server,
        &token,
        &mut all,
        Duration::from_secs(30),
        "connected",
        |v| v["contacts"][0]["state"] == "connected",
    );
    let contact = snap["contacts"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(snap["state"], "Busy");
    pump(&mut all, Duration::from_millis(1200));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "connected",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, true)],
    );
    assert_hears(
        "connected",
        "the agent",
        &agent.recent(),
        &[(CUSTOMER_HZ, true)],
    );

    // Hold: neither hears the other; Resume: both again.
    let c = format!("/api/v1/contacts/{contact}");
    let snap = api_post(
        &server,
        &token,
        &format!("{c}/connections/customer/hold"),
        None,
    );
    assert_eq!(connection_state(&snap, "customer").as_deref(), Some("hold"));
    let mut all = [&mut **customer, &mut **agent, &mut **third];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "hold",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, false)],
    );
    assert_hears(
        "hold",
        "the agent",
        &agent.recent(),
        &[(CUSTOMER_HZ, false)],
    );
    api_post(
        &server,
        &token,
        &format!("{c}/connections/customer/resume"),
        None,
    );
    let mut all = [&mut **customer, &mut **agent, &mut **third];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "resume",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, true)],
    );
    assert_hears(
        "resume",
        "the agent",
        &agent.recent(),
        &[(CUSTOMER_HZ, true)],
    );

    // Transfer to a number: the customer waits on hold; agent and third party talk.
    api_post(
        &server,
        &token,
        &format!("{c}/transfer"),
        Some(r#"{"number":"+15550199"}"#),
    );
    let mut all = [&mut **customer, &mut **agent, &mut **third];
    pump_until(
        &server,
        &token,
        &mut all,
        Duration::from_secs(10),
        "third party connected",
        |v| connection_state(v, "third_party").as_deref() == Some("connected"),
    );
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "consult",
        "the agent",
        &agent.recent(),
        &[(THIRD_HZ, true), (CUSTOMER_HZ, false)],
    );
    assert_hears(
        "consult",
        "the third party",
        &third.recent(),
        &[(AGENT_HZ, true), (CUSTOMER_HZ, false)],
    );
    assert_hears(
        "consult",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, false), (THIRD_HZ, false)],
    );

    // Swap: back to the customer; the third party waits.
    let snap = api_post(&server, &token, &format!("{c}/swap"), None);
    assert_eq!(
        connection_state(&snap, "third_party").as_deref(),
        Some("hold")
    );
    let mut all = [&mut **customer, &mut **agent, &mut **third];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "swap",
        "the agent",
        &agent.recent(),
        &[(CUSTOMER_HZ, true), (THIRD_HZ, false)],
    );
    assert_hears(
        "swap",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, true), (THIRD_HZ, false)],
    );
    assert_hears(
        "swap",
        "the third party",
        &third.recent(),
        &[(AGENT_HZ, false), (CUSTOMER_HZ, false)],
    );

    // Join: everyone hears everyone.
    api_post(&server, &token, &format!("{c}/join"), None);
    let mut all = [&mut **customer, &mut **agent, &mut **third];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "join",
        "the agent",
        &agent.recent(),
        &[(CUSTOMER_HZ, true), (THIRD_HZ, true)],
    );
    assert_hears(
        "join",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, true), (THIRD_HZ, true)],
    );
    assert_hears(
        "join",
        "the third party",
        &third.recent(),
        &[(AGENT_HZ, true), (CUSTOMER_HZ, true)],
    );

    // Hold all: nobody hears anybody.
    api_post(&server, &token, &format!("{c}/hold-all"), None);
    let mut all = [&mut **customer, &mut **agent, &mut **third];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "hold all",
        "the agent",
        &agent.recent(),
        &[(CUSTOMER_HZ, false), (THIRD_HZ, false)],
    );
    assert_hears(
        "hold all",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, false), (THIRD_HZ, false)],
    );
    assert_hears(
        "hold all",
        "the third party",
        &third.recent(),
        &[(AGENT_HZ, false), (CUSTOMER_HZ, false)],
    );

    // Leave: the agent's phone is hung up; customer and third party talk.
    let snap = api_post(&server, &token, &format!("{c}/leave"), None);
    assert_eq!(snap["state"], "AfterContactWork", "{snap:#}");
    let mut all = [&mut **customer, &mut **agent, &mut **third];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "leave",
        "the customer",
        &customer.recent(),
        &[(THIRD_HZ, true)],
    );
    assert_hears(
        "leave",
        "the third party",
        &third.recent(),
        &[(CUSTOMER_HZ, true)],
    );
    let agent_run = agent.join();
    assert!(agent_run.success(), "agent phone: {}", agent_run.explain());

    // The third party hangs up; the customer is hung up too.
    let mut rest = [&mut **customer, &mut **third];
    let start = Instant::now();
    while rest.iter().any(|p| !p.finished()) && start.elapsed() < Duration::from_secs(30) {
        pump(&mut rest, Duration::from_millis(50));
    }
    let [customer, third] = &mut rest;
    let third_run = third.join();
    assert!(third_run.success(), "third party: {}", third_run.explain());
    let customer_run = customer.join();
    assert!(
        customer_run.success(),
        "customer: {}",
        customer_run.explain()
    );

    // The records link the transfer: Alice's contact points to the one that went on.
    let records = server.contact_records(|found| {
        found.len() >= 2 && found.iter().all(|r| r.disconnect_unix_ms.is_some())
    });
    let first = records
        .iter()
        .find(|r| r.contact_id.to_string() == contact)
        .expect("Alice's contact record");
    let next_id = first.next_contact_id.expect("next contact id");
    let next = records
        .iter()
        .find(|r| r.contact_id == next_id)
        .expect("the transferred contact's record");
    assert_eq!(first.agent_username.as_deref(), Some("alice"));
    assert_eq!(first.hold_count, 3, "hold, consult, hold all: {first:?}");
    assert_eq!(next.previous_contact_id, Some(first.contact_id));
    assert_eq!(next.initial_contact_id, Some(first.contact_id));
    assert_eq!(next.initiation_method, InitiationMethod::Transfer);
    assert_eq!(next.system_endpoint.as_deref(), Some("+15550199"));
    assert_eq!(
        next.disconnect_reason.map(|r| r.as_str()),
        Some("third_party")
    );
}

#[test]
fn accept_in_the_panel_answers_the_softphone_then_end_and_clear_after_contact_work() {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let token = server.login("alice", "demo-alice").expect("login");
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    let mut agent = Phone::start(
        sip,
        "agent_ring_until_accept.xml",
        agent_port,
        AGENT_HZ,
        vec![],
    );
    let mut customer = Phone::start(
        sip,
        "customer_until_bye.xml",
        free_port(),
        CUSTOMER_HZ,
        vec![
            ("number", "+15550100".into()),
            ("domain", "demo.switchboard.test".into()),
            ("digit", "1".into()),
        ],
    );
    let mut all = [&mut customer, &mut agent];

    // The contact rings Alice: the panel shows it incoming, and her state is Incoming.
    let snap = pump_until(
        &server,
        &token,
        &mut all,
        Duration::from_secs(30),
        "incoming",
        |v| v["contacts"][0]["state"] == "incoming",
    );
    assert_eq!(snap["state"], "Incoming");
    assert_eq!(snap["contacts"][0]["queue"], "Sales");
    let contact = snap["contacts"][0]["id"].as_str().expect("id").to_string();
    pump(&mut all, Duration::from_millis(500));

    // Accept: the phone is called again with auto-answer and connects.
    let snap = api_post(
        &server,
        &token,
        &format!("/api/v1/contacts/{contact}/accept"),
        None,
    );
    assert!(
        ["connecting", "connected"].contains(&snap["contacts"][0]["state"].as_str().unwrap_or("")),
        "{snap:#}"
    );
    pump_until(
        &server,
        &token,
        &mut all,
        Duration::from_secs(10),
        "connected",
        |v| v["contacts"][0]["state"] == "connected",
    );
    pump(&mut all, Duration::from_millis(1200));
    let [customer, agent] = &mut all;
    assert_hears(
        "accepted",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, true)],
    );
    assert_hears(
        "accepted",
        "the agent",
        &agent.recent(),
        &[(CUSTOMER_HZ, true)],
    );

    // Accepting twice, or a contact that is not hers, is refused with a reason.
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/contacts/{contact}/accept"),
            Some(&token),
            None,
        )
        .expect("POST");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("not ringing for you"), "{body}");

    // End the customer's connection: both phones are hung up; Alice is in ACW, then clears it.
    let snap = api_post(
        &server,
        &token,
        &format!("/api/v1/contacts/{contact}/connections/customer/end"),
        None,
    );
    assert_eq!(snap["state"], "AfterContactWork", "{snap:#}");
    assert_eq!(snap["contacts"][0]["state"], "ended");
    assert!(snap["contacts"][0]["acw_until_unix_ms"].as_i64().is_some());
    let [customer, agent] = &mut all;
    let agent_run = agent.join();
    assert!(agent_run.success(), "agent phone: {}", agent_run.explain());
    let customer_run = customer.join();
    assert!(
        customer_run.success(),
        "customer: {}",
        customer_run.explain()
    );
    let snap = api_post(
        &server,
        &token,
        &format!("/api/v1/contacts/{contact}/clear"),
        None,
    );
    assert_eq!(snap["state"], "Available", "{snap:#}");
    assert_eq!(snap["contacts"].as_array().map(Vec::len), Some(0));
}

#[test]
fn dial_from_the_panel_reaches_the_agent_phone_then_the_customer_with_the_queue_caller_id() {
    let trunk_port = free_port();
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
        (
            "    address: 127.0.0.1:5070",
            &format!("    address: 127.0.0.1:{trunk_port}"),
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let token = server.login("alice", "demo-alice").expect("login");
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    let mut agent = Phone::start(sip, "phone_until_bye.xml", agent_port, AGENT_HZ, vec![]);
    let mut customer = Phone::start(
        sip,
        "third_party_answer_hangup.xml",
        trunk_port,
        CUSTOMER_HZ,
        vec![],
    );

    // Typed in national form; the panel formats it to E.164 with Alice's country (US).
    let snap = api_post(
        &server,
        &token,
        "/api/v1/calls",
        Some(r#"{"number":"(202) 555-0143"}"#),
    );
    assert_eq!(snap["state"], "Busy", "{snap:#}");
    assert_eq!(snap["contacts"][0]["initiation"], "outbound");
    assert_eq!(snap["contacts"][0]["customer"], "+12025550143");
    let contact = snap["contacts"][0]["id"].as_str().expect("id").to_string();
    let mut all = [&mut customer, &mut agent];
    pump_until(
        &server,
        &token,
        &mut all,
        Duration::from_secs(10),
        "connected",
        |v| v["contacts"][0]["state"] == "connected",
    );
    pump(&mut all, Duration::from_millis(1200));
    let [customer, agent] = &mut all;
    assert_hears(
        "outbound",
        "the customer",
        &customer.recent(),
        &[(AGENT_HZ, true)],
    );
    assert_hears(
        "outbound",
        "the agent",
        &agent.recent(),
        &[(CUSTOMER_HZ, true)],
    );

    // The customer hangs up after a while; Alice's phone is hung up and she wraps up.
    let mut all = [&mut **customer, &mut **agent];
    let start = Instant::now();
    while all.iter().any(|p| !p.finished()) && start.elapsed() < Duration::from_secs(30) {
        pump(&mut all, Duration::from_millis(50));
    }
    let [customer, agent] = &mut all;
    let customer_run = customer.join();
    assert!(
        customer_run.success(),
        "customer: {}",
        customer_run.explain()
    );
    assert!(
        customer_run.messages.contains("INVITE sip:+12025550143@"),
        "{}",
        customer_run.messages
    );
    // Alice's routing profile's default outbound queue shows its caller ID.
    assert!(
        customer_run.messages.contains("From: <sip:+15550100@"),
        "{}",
        customer_run.messages
    );
    let agent_run = agent.join();
    assert!(agent_run.success(), "agent phone: {}", agent_run.explain());
    let snap = pump_until(
        &server,
        &token,
        &mut [],
        Duration::from_secs(5),
        "after-contact work",
        |v| v["state"] == "AfterContactWork",
    );
    assert_eq!(snap["contacts"][0]["id"], contact.as_str());
}

#[test]
fn a_blind_transfer_by_refer_from_the_phone_leaves_the_customer_with_the_number() {
    let trunk_port = free_port();
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
        (
            "    address: 127.0.0.1:5070",
            &format!("    address: 127.0.0.1:{trunk_port}"),
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let token = server.login("alice", "demo-alice").expect("login");
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    let mut agent = Phone::start(sip, "agent_refer_blind.xml", agent_port, AGENT_HZ, vec![]);
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
            ("domain", "demo.switchboard.test".into()),
            ("digit", "1".into()),
        ],
    );
    let mut all = [&mut customer, &mut agent, &mut third];
    // The phone transfers; the panel shows what the phone did: Alice wraps up.
    pump_until(
        &server,
        &token,
        &mut all,
        Duration::from_secs(30),
        "ACW after the transfer",
        |v| v["state"] == "AfterContactWork",
    );
    pump(&mut all, Duration::from_millis(1200));
    let [customer, agent, third] = &mut all;
    assert_hears(
        "transferred",
        "the customer",
        &customer.recent(),
        &[(THIRD_HZ, true), (AGENT_HZ, false)],
    );
    assert_hears(
        "transferred",
        "the third party",
        &third.recent(),
        &[(CUSTOMER_HZ, true), (AGENT_HZ, false)],
    );
    let agent_run = agent.join();
    assert!(
        agent_run.success(),
        "agent phone: {}\n{}",
        agent_run.explain(),
        server.log_text()
    );
    let mut rest = [&mut **customer, &mut **third];
    let start = Instant::now();
    while rest.iter().any(|p| !p.finished()) && start.elapsed() < Duration::from_secs(30) {
        pump(&mut rest, Duration::from_millis(50));
    }
    let [customer, third] = &mut rest;
    let third_run = third.join();
    assert!(third_run.success(), "third party: {}", third_run.explain());
    let customer_run = customer.join();
    assert!(
        customer_run.success(),
        "customer: {}",
        customer_run.explain()
    );
    assert!(server.log_text().contains("blind transfer by REFER"));
}

//! Queue and agent quick connects with the agent on the line, as the Contact Control Panel
//! does them: the customer waits on hold while the transfer flow runs and the transfer
//! reaches another agent; then Swap, Join and Leave work on the three of them, with tone
//! checks of who hears whom at each step; Leave hands the customer to the agent who answered,
//! and the contact records link the transfer.

use std::time::Duration;

use serde_json::Value;
use switchboard::store::{ContactRecord, InitiationMethod};
use switchboard_tests::{
    Phone, Server, api_post, assert_hears, connection, connection_state, derive_config, free_port,
    pump, pump_until, register_phone,
};

const CUSTOMER_HZ: f64 = 440.0;
const ALICE_HZ: f64 = 1000.0;
const BOB_HZ: f64 = 1700.0;

fn put_status(server: &Server, token: &str, status: &str) {
    let (code, body) = server
        .api(
            "PUT",
            "/api/v1/agent/status",
            Some(token),
            Some(&format!(r#"{{"status":"{status}"}}"#)),
        )
        .expect("PUT");
    assert_eq!(code, 200, "{body}");
}

/// Alice on a call with a customer who chose `digit` in the main menu; Bob registered and
/// Offline. Returns the server, both tokens, the phones (customer, Alice, Bob) and the
/// contact id.
struct Call {
    server: Server,
    alice: String,
    bob: String,
    customer: Phone,
    alice_phone: Phone,
    bob_phone: Phone,
    contact: String,
}

fn alice_on_a_call(digit: &str) -> Call {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let alice = server.login("alice", "demo-alice").expect("login alice");
    let bob = server.login("bob", "demo-bob").expect("login bob");
    let alice_port = free_port();
    let bob_port = free_port();
    register_phone(sip, "alice", "demo-alice", alice_port);
    register_phone(sip, "bob", "demo-bob", bob_port);
    let mut alice_phone = Phone::start(sip, "phone_until_bye.xml", alice_port, ALICE_HZ, vec![]);
    let mut bob_phone = Phone::start(sip, "phone_until_bye.xml", bob_port, BOB_HZ, vec![]);
    let mut customer = Phone::start(
        sip,
        "customer_until_bye.xml",
        free_port(),
        CUSTOMER_HZ,
        vec![
            ("number", "+15550100".into()),
            ("domain", "demo.switchboard.test".into()),
            ("digit", digit.into()),
        ],
    );
    // Bob is Offline until the test makes him Available: the call goes to Alice.
    let snap = pump_until(
        &server,
        &alice,
        &mut [&mut customer, &mut alice_phone, &mut bob_phone],
        Duration::from_secs(30),
        "alice connected",
        |v| v["contacts"][0]["state"] == "connected",
    );
    let contact = snap["contacts"][0]["id"].as_str().expect("id").to_string();
    Call {
        server,
        alice,
        bob,
        customer,
        alice_phone,
        bob_phone,
        contact,
    }
}

/// Pumps until Bob's panel shows the transfer connected (within `limit`); his snapshot and
/// the transfer's contact id.
fn bob_has_the_transfer(
    server: &Server,
    bob: &str,
    phones: &mut [&mut Phone],
    limit: Duration,
) -> (Value, String) {
    let snap = pump_until(server, bob, phones, limit, "bob connected", |v| {
        v["contacts"][0]["state"] == "connected"
    });
    let id = snap["contacts"][0]["id"].as_str().expect("id").to_string();
    (snap, id)
}

/// The records of `ids`, once they are written and ended.
fn ended_records(server: &Server, ids: &[String]) -> Vec<ContactRecord> {
    server.contact_records(|found| {
        ids.iter().all(|id| {
            found
                .iter()
                .any(|r| r.contact_id.to_string() == *id && r.disconnect_unix_ms.is_some())
        })
    })
}

#[test]
fn a_queue_quick_connect_keeps_the_agent_on_the_line_until_the_queue_agent_answers_then_swap_join_leave()
 {
    let Call {
        server,
        alice,
        bob,
        mut customer,
        mut alice_phone,
        mut bob_phone,
        contact,
    } = alice_on_a_call("1");
    let c = format!("/api/v1/contacts/{contact}");
    put_status(&server, &bob, "Available");

    // The Sales queue quick connect: the customer holds, the transfer is connecting.
    let snap = api_post(
        &server,
        &alice,
        &format!("{c}/transfer"),
        Some(r#"{"quick_connect":"Sales queue"}"#),
    );
    assert_eq!(snap["state"], "Busy", "{snap:#}");
    assert_eq!(connection_state(&snap, "customer").as_deref(), Some("hold"));
    assert_eq!(
        connection(&snap, "third_party"),
        Some(("connecting".to_string(), "Sales".to_string())),
        "{snap:#}"
    );

    // The transfer flow queues it in Sales; Bob (Sales first) is offered it and answers.
    let mut all = [&mut customer, &mut alice_phone, &mut bob_phone];
    pump_until(
        &server,
        &alice,
        &mut all,
        Duration::from_secs(15),
        "the transfer connected",
        |v| connection_state(v, "third_party").as_deref() == Some("connected"),
    );
    let (bob_snap, next) = bob_has_the_transfer(&server, &bob, &mut all, Duration::from_secs(5));
    assert_eq!(bob_snap["state"], "Busy");
    assert_eq!(bob_snap["contacts"][0]["initiation"], "queue_transfer");
    assert_eq!(bob_snap["contacts"][0]["queue"], "Sales");
    assert_eq!(
        connection_state(&bob_snap, "customer").as_deref(),
        Some("hold")
    );
    assert_eq!(
        connection(&bob_snap, "third_party"),
        Some(("connected".to_string(), "Alice Anders".to_string()))
    );
    assert_ne!(next, contact, "the transfer has its own contact id");
    // The floor shows Bob on the Sales transfer; listen-in goes through Alice's call.
    // (The floor is published every 250 ms: wait for the one that has Bob on a contact.)
    let maria = server.login("maria", "demo-maria").expect("login maria");
    let row_in = |floor: &Value, user: &str| {
        floor["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["username"] == user).cloned())
            .expect("a floor row")
    };
    let mut floor = Value::Null;
    for _ in 0..30 {
        let (status, body) = server
            .api("GET", "/api/v1/floor", Some(&maria), None)
            .expect("GET floor");
        assert_eq!(status, 200, "{body}");
        floor = serde_json::from_str(&body).expect("json");
        if row_in(&floor, "bob")["state"] == "Busy" {
            break;
        }
        pump(&mut all, Duration::from_millis(100));
    }
    let row = |user: &str| row_in(&floor, user);
    let bob_row = row("bob");
    assert_eq!(bob_row["contact"], next.as_str(), "{floor:#}");
    assert_eq!(bob_row["queue"], "Sales", "{floor:#}");
    assert_eq!(bob_row["listen_in_allowed"], false, "{floor:#}");
    assert!(
        bob_row["listen_in_reason"]
            .as_str()
            .is_some_and(|r| r.contains("transfer")),
        "{floor:#}"
    );
    assert_eq!(row("alice")["listen_in_allowed"], true, "{floor:#}");
    pump(&mut all, Duration::from_millis(1000));
    let [customer, alice_phone, bob_phone] = &mut all;
    assert_hears(
        "consult",
        "alice",
        &alice_phone.recent(),
        &[(BOB_HZ, true), (CUSTOMER_HZ, false)],
    );
    assert_hears(
        "consult",
        "bob",
        &bob_phone.recent(),
        &[(ALICE_HZ, true), (CUSTOMER_HZ, false)],
    );
    assert_hears(
        "consult",
        "the customer",
        &customer.recent(),
        &[(ALICE_HZ, false), (BOB_HZ, false)],
    );

    // Swap: Alice talks to the customer; Bob waits.
    let snap = api_post(&server, &alice, &format!("{c}/swap"), None);
    assert_eq!(
        connection_state(&snap, "third_party").as_deref(),
        Some("hold")
    );
    let mut all = [&mut **customer, &mut **alice_phone, &mut **bob_phone];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, alice_phone, bob_phone] = &mut all;
    assert_hears(
        "swap",
        "alice",
        &alice_phone.recent(),
        &[(CUSTOMER_HZ, true), (BOB_HZ, false)],
    );
    assert_hears(
        "swap",
        "the customer",
        &customer.recent(),
        &[(ALICE_HZ, true), (BOB_HZ, false)],
    );
    assert_hears(
        "swap",
        "bob",
        &bob_phone.recent(),
        &[(ALICE_HZ, false), (CUSTOMER_HZ, false)],
    );

    // Join: all three.
    api_post(&server, &alice, &format!("{c}/join"), None);
    let mut all = [&mut **customer, &mut **alice_phone, &mut **bob_phone];
    pump(&mut all, Duration::from_millis(1000));
    let [customer, alice_phone, bob_phone] = &mut all;
    assert_hears(
        "join",
        "alice",
        &alice_phone.recent(),
        &[(CUSTOMER_HZ, true), (BOB_HZ, true)],
    );
    assert_hears(
        "join",
        "the customer",
        &customer.recent(),
        &[(ALICE_HZ, true), (BOB_HZ, true)],
    );
    assert_hears(
        "join",
        "bob",
        &bob_phone.recent(),
        &[(ALICE_HZ, true), (CUSTOMER_HZ, true)],
    );

    // Leave: Alice's phone is hung up and she wraps up; Bob has the customer, under the
    // transfer's id.
    let snap = api_post(&server, &alice, &format!("{c}/leave"), None);
    assert_eq!(snap["state"], "AfterContactWork", "{snap:#}");
    let alice_run = alice_phone.join();
    assert!(
        alice_run.success(),
        "alice's phone: {}",
        alice_run.explain()
    );
    let mut all = [&mut **customer, &mut **bob_phone];
    let bob_snap = pump_until(
        &server,
        &bob,
        &mut all,
        Duration::from_secs(5),
        "bob alone with the customer",
        |v| {
            connection_state(v, "customer").as_deref() == Some("connected")
                && connection_state(v, "third_party").is_none()
        },
    );
    assert_eq!(bob_snap["contacts"][0]["id"], next.as_str());
    pump(&mut all, Duration::from_millis(1000));
    let [customer, bob_phone] = &mut all;
    assert_hears(
        "leave",
        "the customer",
        &customer.recent(),
        &[(BOB_HZ, true), (ALICE_HZ, false)],
    );
    assert_hears(
        "leave",
        "bob",
        &bob_phone.recent(),
        &[(CUSTOMER_HZ, true), (ALICE_HZ, false)],
    );

    // Bob hangs up the customer and goes to after-contact work.
    let snap = api_post(
        &server,
        &bob,
        &format!("/api/v1/contacts/{next}/connections/customer/end"),
        None,
    );
    assert_eq!(snap["state"], "AfterContactWork", "{snap:#}");
    assert!(bob_phone.join().success());
    assert!(customer.join().success());

    let records = ended_records(&server, &[contact.clone(), next.clone()]);
    let first = records
        .iter()
        .find(|r| r.contact_id.to_string() == contact)
        .expect("Alice's record");
    let second = records
        .iter()
        .find(|r| r.contact_id.to_string() == next)
        .expect("the transfer's record");
    assert_eq!(first.agent_username.as_deref(), Some("alice"));
    assert_eq!(first.queue.as_deref(), Some("Sales"));
    assert_eq!(first.next_contact_id, Some(second.contact_id));
    assert_eq!(second.previous_contact_id, Some(first.contact_id));
    assert_eq!(second.initiation_method, InitiationMethod::QueueTransfer);
    assert_eq!(second.agent_username.as_deref(), Some("bob"));
    assert_eq!(second.queue.as_deref(), Some("Sales"));
    assert!(second.enqueue_unix_ms.is_some() && second.agent_connected_unix_ms.is_some());
    assert_eq!(second.disconnect_reason.map(|r| r.as_str()), Some("agent"));
}

#[test]
fn an_agent_quick_connect_rings_that_agent_while_the_agent_waits_and_leave_hands_over() {
    let Call {
        server,
        alice,
        bob,
        mut customer,
        mut alice_phone,
        mut bob_phone,
        contact,
    } = alice_on_a_call("1");
    let c = format!("/api/v1/contacts/{contact}");
    // Bob is Offline: refused with the reason, nothing changes.
    let (status, body) = server
        .api(
            "POST",
            &format!("{c}/transfer"),
            Some(&alice),
            Some(r#"{"quick_connect":"Bob"}"#),
        )
        .expect("POST");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("bob is not available"), "{body}");
    put_status(&server, &bob, "Available");
    let snap = api_post(
        &server,
        &alice,
        &format!("{c}/transfer"),
        Some(r#"{"quick_connect":"Bob"}"#),
    );
    assert_eq!(snap["state"], "Busy", "{snap:#}");
    assert_eq!(
        connection(&snap, "third_party").map(|(_, e)| e).as_deref(),
        Some("Bob Baker")
    );
    let mut all = [&mut customer, &mut alice_phone, &mut bob_phone];
    pump_until(
        &server,
        &alice,
        &mut all,
        Duration::from_secs(15),
        "bob answered",
        |v| connection_state(v, "third_party").as_deref() == Some("connected"),
    );
    let (bob_snap, next) = bob_has_the_transfer(&server, &bob, &mut all, Duration::from_secs(5));
    assert_eq!(bob_snap["contacts"][0]["initiation"], "transfer");
    pump(&mut all, Duration::from_millis(1000));
    let [customer, alice_phone, bob_phone] = &mut all;
    assert_hears(
        "consult",
        "bob",
        &bob_phone.recent(),
        &[(ALICE_HZ, true), (CUSTOMER_HZ, false)],
    );
    assert_hears(
        "consult",
        "the customer",
        &customer.recent(),
        &[(ALICE_HZ, false), (BOB_HZ, false)],
    );

    // Bob can only hang up his own side while Alice has the call: Hold is hers.
    let (status, body) = server
        .api(
            "POST",
            &format!("/api/v1/contacts/{next}/connections/customer/hold"),
            Some(&bob),
            None,
        )
        .expect("POST");
    assert_eq!(status, 409, "{body}");

    // Leave straight from the consult: the customer comes off hold with Bob.
    let snap = api_post(&server, &alice, &format!("{c}/leave"), None);
    assert_eq!(snap["state"], "AfterContactWork", "{snap:#}");
    assert!(alice_phone.join().success());
    let mut all = [&mut **customer, &mut **bob_phone];
    pump_until(
        &server,
        &bob,
        &mut all,
        Duration::from_secs(5),
        "bob with the customer",
        |v| connection_state(v, "customer").as_deref() == Some("connected"),
    );
    pump(&mut all, Duration::from_millis(1000));
    let [customer, bob_phone] = &mut all;
    assert_hears(
        "leave",
        "the customer",
        &customer.recent(),
        &[(BOB_HZ, true)],
    );
    assert_hears("leave", "bob", &bob_phone.recent(), &[(CUSTOMER_HZ, true)]);
    api_post(
        &server,
        &bob,
        &format!("/api/v1/contacts/{next}/connections/customer/end"),
        None,
    );
    assert!(bob_phone.join().success());
    assert!(customer.join().success());
    let records = ended_records(&server, &[contact.clone(), next.clone()]);
    let second = records
        .iter()
        .find(|r| r.contact_id.to_string() == next)
        .expect("the transfer's record");
    assert_eq!(second.initiation_method, InitiationMethod::Transfer);
    assert_eq!(second.agent_username.as_deref(), Some("bob"));
    assert_eq!(
        second.previous_contact_id.map(|i| i.to_string()),
        Some(contact)
    );
}

#[test]
fn the_agent_a_transfer_reached_can_hang_up_and_the_transferring_agent_has_the_customer_back() {
    let Call {
        server,
        alice,
        bob,
        mut customer,
        mut alice_phone,
        mut bob_phone,
        contact,
    } = alice_on_a_call("1");
    let c = format!("/api/v1/contacts/{contact}");
    put_status(&server, &bob, "Available");
    api_post(
        &server,
        &alice,
        &format!("{c}/transfer"),
        Some(r#"{"quick_connect":"Sales queue"}"#),
    );
    let mut all = [&mut customer, &mut alice_phone, &mut bob_phone];
    let (_, next) = bob_has_the_transfer(&server, &bob, &mut all, Duration::from_secs(15));
    // Bob ends his side from the panel: his phone is hung up, he wraps up.
    let snap = api_post(
        &server,
        &bob,
        &format!("/api/v1/contacts/{next}/connections/customer/end"),
        None,
    );
    assert_eq!(snap["state"], "AfterContactWork", "{snap:#}");
    let [customer, alice_phone, bob_phone] = &mut all;
    let bob_run = bob_phone.join();
    assert!(bob_run.success(), "bob's phone: {}", bob_run.explain());
    // Alice has the customer back on hold, no third party; Resume and they talk.
    let mut all = [&mut **customer, &mut **alice_phone];
    pump_until(
        &server,
        &alice,
        &mut all,
        Duration::from_secs(5),
        "the transfer gone",
        |v| {
            connection_state(v, "third_party").is_none()
                && connection_state(v, "customer").as_deref() == Some("hold")
        },
    );
    api_post(
        &server,
        &alice,
        &format!("{c}/connections/customer/resume"),
        None,
    );
    pump(&mut all, Duration::from_millis(1000));
    let [customer, alice_phone] = &mut all;
    assert_hears(
        "back with alice",
        "the customer",
        &customer.recent(),
        &[(ALICE_HZ, true), (BOB_HZ, false)],
    );
    assert_hears(
        "back with alice",
        "alice",
        &alice_phone.recent(),
        &[(CUSTOMER_HZ, true)],
    );
    api_post(
        &server,
        &alice,
        &format!("{c}/connections/customer/end"),
        None,
    );
    assert!(alice_phone.join().success());
    assert!(customer.join().success());
}

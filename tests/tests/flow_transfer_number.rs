//! transfer_to_phone_number in a contact flow: the main menu sends key 3 (caller ID given) and
//! key 4 (no caller ID: the number the customer dialed) to a number behind the trunk, with
//! on_error → the goodbye prompt → disconnect. A sipp UAS on the trunk's port plays the far
//! end. Answered: caller and far end hear each other, the far end's hang-up ends the call and
//! the records say so. Busy after ringing: the caller hears silence while it rings, then the
//! goodbye prompt, and the flow hangs up.

// Real phones, real time: the tests read the clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard::store::{ContactQuery, ContactRecord, DisconnectReason, InitiationMethod, Store};
use switchboard_media::tone::{has_tone, rms};
use switchboard_tests::{DerivedConfig, Phone, Server, SippRun, derive_config, free_port};

const CUSTOMER_HZ: f64 = 440.0;
const FAR_END_HZ: f64 = 1000.0;
/// The number the flow dials, and the caller ID its key-3 block presents.
const NUMBER: &str = "+12025550143";
const CALLER_ID: &str = "+12025550100";

/// The shipped config with the trunk on `trunk_port` and a main menu whose keys 3 and 4
/// transfer to [`NUMBER`].
fn config(trunk_port: u16) -> DerivedConfig {
    let trunk = format!("    address: 127.0.0.1:{trunk_port}");
    let cfg = derive_config(&[("    address: 127.0.0.1:5070", trunk.as_str())]);
    let menu = cfg.flow_path("main-menu");
    let text = std::fs::read_to_string(&menu).expect("main menu");
    let branch = "      - { digits: \"2\", next: support }\n";
    assert_eq!(text.matches(branch).count(), 1, "{text}");
    let text = text.replace(
        branch,
        &format!(
            "{branch}      - {{ digits: \"3\", next: front-desk }}\n      \
             - {{ digits: \"4\", next: front-desk-own-number }}\n"
        ),
    ) + &format!(
        "
  front-desk:
    type: transfer_to_phone_number
    number: \"{NUMBER}\"
    caller_id: \"{CALLER_ID}\"
    on_error: goodbye
  front-desk-own-number:
    type: transfer_to_phone_number
    number: \"{NUMBER}\"
    on_error: goodbye
"
    );
    std::fs::write(&menu, text).expect("write the menu");
    cfg
}

/// The far end: `scenario` run by sipp on the trunk's port, its audio on `rtp_port`.
fn far_end(
    sip: std::net::SocketAddr,
    scenario: &'static str,
    rtp_port: u16,
    trunk_port: u16,
) -> std::thread::JoinHandle<SippRun> {
    std::thread::spawn(move || {
        switchboard_tests::sipp_on_port(
            sip,
            scenario,
            "x",
            &[("rtp_port", &rtp_port.to_string())],
            &["-timeout", "60s"],
            trunk_port,
        )
    })
}

/// Seconds' worth of 200 ms slices of `heard` (8 kHz) that carry `freq_hz`.
fn seconds_of_tone(heard: &[i16], freq_hz: f64) -> f64 {
    let with = heard
        .chunks_exact(1_600)
        .filter(|c| has_tone(c, 8_000, freq_hz, 2_000.0))
        .count();
    with as f64 / 5.0
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("ms fit i64")
}

fn records(server: &Server, since_ms: i64) -> Vec<ContactRecord> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = Store::open(&server.database_url).await.expect("open store");
        let found = store
            .search_contacts(&ContactQuery::between(since_ms - 1_000, since_ms + 600_000))
            .await
            .expect("search");
        store.close().await;
        found
    })
}

#[test]
fn the_number_answers_talks_with_the_caller_and_its_hang_up_ends_the_call() {
    let trunk_port = free_port();
    let cfg = config(trunk_port);
    let began_ms = now_ms();
    let mut server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let mut far_audio = switchboard_tests::Handset::bind(FAR_END_HZ);
    let far = far_end(
        sip,
        "third_party_answer_hangup.xml",
        far_audio.port(),
        trunk_port,
    );
    // Presses 3 after 2 s, then stays until our BYE.
    let mut customer = Phone::customer(sip, "customer_until_bye.xml", "3", CUSTOMER_HZ);
    let start = Instant::now();
    while !(customer.finished() && far.is_finished()) && start.elapsed() < Duration::from_secs(40) {
        customer.audio.pump();
        far_audio.pump();
        std::thread::sleep(Duration::from_millis(5));
    }
    let far = far.join().expect("far end thread");
    let log = server.log_text();
    assert!(far.success(), "far end: {}\n{log}", far.explain());
    assert!(
        customer.result().success(),
        "customer (our BYE after the far end's): {}\n{log}",
        customer.result().explain()
    );
    assert!(
        far.messages
            .contains(&format!("INVITE sip:{NUMBER}@127.0.0.1")),
        "the Request-URI is not the E.164 number: {}",
        far.messages
    );
    assert!(
        far.messages.contains(&format!("From: <sip:{CALLER_ID}@")),
        "the far end did not see the block's caller ID: {}",
        far.messages
    );
    // They talked for about 9 s: each heard the other's tone for most of it.
    let to_customer = seconds_of_tone(&customer.audio.heard, FAR_END_HZ);
    let to_far = seconds_of_tone(&far_audio.heard, CUSTOMER_HZ);
    assert!(
        to_customer > 5.0,
        "the caller heard the far end for {to_customer} s\n{log}"
    );
    assert!(
        to_far > 5.0,
        "the far end heard the caller for {to_far} s\n{log}"
    );
    assert!(log.contains("flow transfer to a number connected"), "{log}");

    // Let the write-behind go out, then read the records from the database.
    std::thread::sleep(Duration::from_millis(500));
    server.stop().expect("clean stop");
    let found = records(&server, began_ms);
    assert_eq!(found.len(), 2, "{found:#?}");
    let first = found
        .iter()
        .find(|r| r.initiation_method == InitiationMethod::Inbound)
        .expect("the inbound record");
    let second = found
        .iter()
        .find(|r| r.initiation_method == InitiationMethod::Transfer)
        .expect("the transfer record");
    // The flow handed the caller over; the far end's hang-up ended the transfer.
    assert_eq!(first.disconnect_reason, Some(DisconnectReason::Flow));
    assert_eq!(first.next_contact_id, Some(second.contact_id));
    assert_eq!(first.system_endpoint.as_deref(), Some("+15550100"));
    assert_eq!(second.previous_contact_id, Some(first.contact_id));
    assert_eq!(second.initial_contact_id, Some(first.contact_id));
    assert_eq!(second.system_endpoint.as_deref(), Some(NUMBER));
    assert_eq!(second.customer_endpoint.as_deref(), Some("+15551230000"));
    assert_eq!(second.disconnect_reason, Some(DisconnectReason::ThirdParty));
    let talked = second.disconnect_unix_ms.expect("closed") - second.initiation_unix_ms;
    assert!((7_000..12_000).contains(&talked), "{second:#?}");
}

#[test]
fn a_busy_number_rings_in_silence_then_the_flow_plays_its_error_branch_and_hangs_up() {
    let trunk_port = free_port();
    let cfg = config(trunk_port);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let far = far_end(sip, "third_party_rings_busy.xml", 40_000, trunk_port);
    // The handset's clock starts here (its `heard_between` counts from its creation).
    let start = Instant::now();
    let mut customer = Phone::customer(sip, "customer_until_bye.xml", "4", CUSTOMER_HZ);
    let mut busy_at = None;
    while !customer.finished() && start.elapsed() < Duration::from_secs(30) {
        customer.audio.pump();
        if busy_at.is_none() && far.is_finished() {
            busy_at = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let far = far.join().expect("far end thread");
    let log = server.log_text();
    assert!(far.success(), "far end: {}\n{log}", far.explain());
    assert!(
        customer.result().success(),
        "customer (hung up on by the flow): {}\n{log}",
        customer.result().explain()
    );
    // No caller ID in the block: the number the customer dialed.
    assert!(
        far.messages.contains("From: <sip:+15550100@"),
        "{}",
        far.messages
    );
    let busy_at = busy_at.expect("the far end finished before the caller was hung up");
    // Ringing (2 s before the 486): silence. Then the goodbye prompt.
    let ringing = customer
        .audio
        .heard_between(busy_at - Duration::from_millis(1_500), busy_at);
    let after = customer.audio.heard_between(
        busy_at + Duration::from_millis(100),
        busy_at + Duration::from_millis(1_100),
    );
    assert!(
        rms(&ringing) < 100.0,
        "the caller heard something while it rang: rms {}",
        rms(&ringing)
    );
    assert!(
        rms(&after) > 300.0,
        "the caller did not hear the error branch's prompt: rms {} ({} samples)\n{log}",
        rms(&after),
        after.len()
    );
    assert!(log.contains("third party did not answer"), "{log}");
    assert!(
        log.contains("by=\"flow\"") || log.contains("by=flow"),
        "the flow did not hang up: {log}"
    );
    assert!(!log.contains("by=third_party"), "{log}");
}

#[test]
fn a_caller_hanging_up_while_the_number_rings_cancels_the_invite() {
    let trunk_port = free_port();
    let cfg = config(trunk_port);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let far = far_end(sip, "third_party_rings_cancelled.xml", 40_000, trunk_port);
    // Presses 3 after 2 s, hangs up 3 s later: the number is still ringing.
    let mut customer = Phone::customer(sip, "inbound_call.xml", "3", CUSTOMER_HZ);
    let start = Instant::now();
    while !(customer.finished() && far.is_finished()) && start.elapsed() < Duration::from_secs(30) {
        customer.audio.pump();
        std::thread::sleep(Duration::from_millis(5));
    }
    let far = far.join().expect("far end thread");
    let log = server.log_text();
    assert!(
        customer.result().success(),
        "{}\n{log}",
        customer.result().explain()
    );
    assert!(far.success(), "far end: {}\n{log}", far.explain());
    assert!(
        far.messages
            .contains(&format!("CANCEL sip:{NUMBER}@127.0.0.1")),
        "{}",
        far.messages
    );
    assert!(
        log.contains("by=\"customer\"") || log.contains("by=customer"),
        "{log}"
    );
}

//! Contact records as a supervisor would check them: every ended contact is stored with its
//! queue, agent, timestamps and disconnect reason, and none is lost to a kill -9.

use std::time::Duration;

use switchboard::store::{ContactQuery, DisconnectReason, InitiationMethod, Store};
use switchboard_tests::{Phone, Server, derive_config, free_port, register_phone, talk};

#[test]
fn records_of_ended_contacts_survive_a_kill_9_and_a_restart() {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ]);
    #[allow(clippy::disallowed_methods)] // wall clock: the record's timestamps are real
    let began_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let mut server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    let mut agent = Phone::agent(sip, "agent_answer.xml", agent_port, 1000.0);
    let mut customer = Phone::customer(sip, "inbound_call.xml", "1", 440.0);
    talk(&mut [&mut customer, &mut agent], Duration::from_secs(30));
    assert!(customer.result().success());
    assert!(agent.result().success());
    // Let the write-behind (every 50 ms) go out, then crash.
    std::thread::sleep(Duration::from_millis(500));

    // A crash, then a restart on the same database.
    server.kill();
    server.restart().expect("restart");
    server.stop().expect("clean stop");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let records = rt.block_on(async {
        let store = Store::open(&server.database_url).await.expect("open store");
        let found = store
            .search_contacts(&ContactQuery::between(began_ms - 1_000, began_ms + 600_000))
            .await
            .expect("search");
        store.close().await;
        found
    });
    let answered: Vec<_> = records
        .iter()
        .filter(|r| r.agent_username.is_some())
        .collect();
    assert_eq!(answered.len(), 1, "{records:#?}");
    let r = answered[0];
    assert_eq!(r.initiation_method, InitiationMethod::Inbound);
    assert_eq!(r.system_endpoint.as_deref(), Some("+15550100"));
    assert_eq!(r.queue.as_deref(), Some("Sales"));
    assert_eq!(r.agent_username.as_deref(), Some("alice"));
    assert_eq!(r.connection_attempts, 1);
    assert_eq!(r.flow_name.as_deref(), Some("main-menu"));
    assert_eq!(r.disconnect_reason, Some(DisconnectReason::Customer));
    let enqueued = r.enqueue_unix_ms.expect("enqueue time");
    let connected = r.agent_connected_unix_ms.expect("agent connected time");
    let ended = r.disconnect_unix_ms.expect("disconnect time");
    assert!(
        r.initiation_unix_ms <= enqueued && enqueued <= connected && connected < ended,
        "{r:#?}"
    );
    // The menu takes about 2 s before the digit, the conversation about 3 s.
    assert!(
        (1_500..4_000).contains(&(enqueued - r.initiation_unix_ms)),
        "{r:#?}"
    );
    assert!((2_000..5_000).contains(&(ended - connected)), "{r:#?}");

    // The shipped menu sets recording of both parties: a stereo WAV, caller left, agent
    // right, as long as the conversation.
    let path = r
        .recording_path
        .as_deref()
        .expect("recording path in the record");
    let duration = r
        .recording_duration_ms
        .expect("recording duration in the record");
    assert!((2_000..5_000).contains(&duration), "{r:#?}");
    let mut wav = hound::WavReader::open(path).expect("a readable WAV");
    assert_eq!(wav.spec().channels, 2);
    let rate = wav.spec().sample_rate;
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.expect("sample")).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let middle = |v: &[i16]| v[v.len() / 4..v.len() * 3 / 4].to_vec();
    assert!(
        switchboard_media::tone::has_tone(&middle(&left), rate, 440.0, 2_000.0),
        "the caller (440 Hz) is not on the left channel"
    );
    assert!(
        switchboard_media::tone::has_tone(&middle(&right), rate, 1_000.0, 2_000.0),
        "the agent (1 kHz) is not on the right channel"
    );
}

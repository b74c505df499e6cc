//! The heart of a contact center: a caller chooses a queue, the available agent's softphone
//! rings and answers, caller and agent hear each other through the bridge, the caller hangs
//! up, the agent's phone is hung up too and the agent goes into after-contact work.
//! sipp plays both phones' signalling; the test's own handsets carry the audio.

use std::time::{Duration, Instant};

use switchboard_media::tone::{amplitude, has_tone};
use switchboard_tests::{
    Handset, Phone, Server, derive_config, free_port, last_second, register_phone, sipp,
    sipp_on_port, talk,
};

const DOMAIN: &str = "demo.switchboard.test";

#[test]
fn a_queued_caller_reaches_the_available_agent_and_they_hear_each_other() {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;

    // Alice's softphone registers from one port and will ring there.
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    let mut agent = Phone::agent(sip, "agent_answer.xml", agent_port, 1000.0);
    let mut customer = Phone::customer(sip, "inbound_call.xml", "1", 440.0);
    talk(&mut [&mut customer, &mut agent], Duration::from_secs(30));
    let log = server.log_text();
    assert!(
        customer.result().success(),
        "{}\n{log}",
        customer.result().explain()
    );
    assert!(
        agent.result().success(),
        "{}\n{log}",
        agent.result().explain()
    );

    // The last second of each side is the bridged conversation.
    let agent_heard = last_second(&agent.audio.heard);
    let customer_heard = last_second(&customer.audio.heard);
    assert!(
        has_tone(&agent_heard, 8_000, 440.0, 2_000.0),
        "the agent does not hear the caller: 440 Hz amplitude {}",
        amplitude(&agent_heard, 8_000, 440.0)
    );
    assert!(
        has_tone(&customer_heard, 8_000, 1_000.0, 2_000.0),
        "the caller does not hear the agent: 1 kHz amplitude {}",
        amplitude(&customer_heard, 8_000, 1_000.0)
    );
    assert!(log.contains("contact queued queue=Sales"), "{log}");
    assert!(log.contains("agent connected"), "{log}");
    let mut acw = false;
    for _ in 0..20 {
        if server.log_text().contains("to=AfterContactWork") {
            acw = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        acw,
        "the agent is not in after-contact work:\n{}",
        server.log_text()
    );
}

#[test]
fn an_agent_who_does_not_answer_goes_to_missed_and_the_next_agent_gets_the_caller() {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        ("  ring_timeout: 20s", "  ring_timeout: 2s"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
        (
            "  - username: bob\n",
            "  - username: bob\n    initial_status: Available\n",
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    // Only alice's phone is registered at first: she is offered the caller and lets it ring.
    let alice_port = free_port();
    let reg = sipp_on_port(
        sip,
        "register.xml",
        &format!("alice;demo-alice;{DOMAIN}"),
        &[],
        &[],
        alice_port,
    );
    assert!(reg.success(), "{}", reg.explain());
    let alice = std::thread::spawn(move || {
        sipp_on_port(sip, "agent_no_answer.xml", "x", &[], &[], alice_port)
    });
    let mut customer_audio = Handset::bind(440.0);
    let customer_rtp = customer_audio.port().to_string();
    let customer = std::thread::spawn(move || {
        sipp(
            sip,
            "inbound_call_long.xml",
            "x",
            &[
                ("number", "+15550100"),
                ("domain", DOMAIN),
                ("digit", "1"),
                ("rtp_port", &customer_rtp),
            ],
        )
    });
    #[allow(clippy::disallowed_methods)] // real time
    let start = Instant::now();
    let pump_until = |audio: &mut Handset, t: Duration| {
        while start.elapsed() < t {
            audio.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    // The caller queues at ~2 s; alice rings out at ~4 s and is Missed.
    pump_until(&mut customer_audio, Duration::from_millis(4_800));
    let alice = alice.join().expect("alice sipp");
    assert!(
        alice.success(),
        "{}\n{}",
        alice.explain(),
        server.log_text()
    );
    assert!(server.log_text().contains("offer rang out; agent missed"));
    assert!(
        server
            .log_text()
            .contains("agent=alice from=Incoming to=Missed")
    );
    // Bob's phone registers now; he is next and answers.
    let bob_port = free_port();
    let reg = sipp_on_port(
        sip,
        "register.xml",
        &format!("bob;demo-bob;{DOMAIN}"),
        &[],
        &[],
        bob_port,
    );
    assert!(reg.success(), "{}", reg.explain());
    let mut bob_audio = Handset::bind(1000.0);
    let bob_rtp = bob_audio.port().to_string();
    let bob = std::thread::spawn(move || {
        sipp_on_port(
            sip,
            "agent_answer.xml",
            "x",
            &[("rtp_port", &bob_rtp)],
            &[],
            bob_port,
        )
    });
    while !(customer.is_finished() && bob.is_finished())
        && start.elapsed() < Duration::from_secs(30)
    {
        customer_audio.pump();
        bob_audio.pump();
        std::thread::sleep(Duration::from_millis(5));
    }
    let customer = customer.join().expect("customer sipp");
    let bob = bob.join().expect("bob sipp");
    let log = server.log_text();
    assert!(customer.success(), "{}\n{log}", customer.explain());
    assert!(bob.success(), "{}\n{log}", bob.explain());
    assert!(
        log.contains("agent connected") && log.contains("agent=bob"),
        "{log}"
    );
    let last_second = |v: &[i16]| v[v.len().saturating_sub(8_000)..].to_vec();
    assert!(
        has_tone(&last_second(&customer_audio.heard), 8_000, 1_000.0, 2_000.0),
        "the caller does not hear bob"
    );
    // Alice stays Missed: she is not routable until she changes her status.
    assert!(!log.contains("agent=alice from=Missed"), "{log}");
}

#[test]
fn a_desk_phone_agent_is_called_through_the_trunk_and_picking_up_answers() {
    let gateway = free_port();
    let cfg = derive_config(&[
        (
            "    address: 127.0.0.1:5070",
            &format!("    address: 127.0.0.1:{gateway}"),
        ),
        (
            "    hours: Business hours\n    max_contacts",
            "    hours: Always open\n    max_contacts",
        ),
        (
            "  - username: dave\n",
            "  - username: dave\n    initial_status: Available\n",
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    // The gateway's side of dave's desk phone: no registration, the call comes to the trunk.
    let mut dave_phone = Phone::agent(sip, "agent_answer.xml", gateway, 1000.0);
    let mut customer_phone = Phone::customer(sip, "inbound_call.xml", "2", 440.0);
    talk(
        &mut [&mut customer_phone, &mut dave_phone],
        Duration::from_secs(30),
    );
    let customer = customer_phone.result();
    let dave = dave_phone.result();
    let log = server.log_text();
    assert!(customer.success(), "{}\n{log}", customer.explain());
    assert!(dave.success(), "{}\n{log}", dave.explain());
    assert!(
        dave.messages.contains("INVITE sip:+15550142@127.0.0.1:"),
        "{}",
        dave.messages
    );
    assert!(log.contains("contact queued queue=Support"), "{log}");
    assert!(
        log.contains("agent connected") && log.contains("agent=dave"),
        "{log}"
    );
    assert!(has_tone(
        &last_second(&dave_phone.audio.heard),
        8_000,
        440.0,
        2_000.0
    ));
    assert!(has_tone(
        &last_second(&customer_phone.audio.heard),
        8_000,
        1_000.0,
        2_000.0
    ));
}

#[test]
fn hold_and_resume_from_the_agents_phone_play_music_to_the_caller() {
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
    let mut agent_phone = Phone::agent(sip, "agent_hold.xml", agent_port, 1000.0);
    let mut customer_phone = Phone::customer(sip, "inbound_call_long.xml", "1", 440.0);
    talk(
        &mut [&mut customer_phone, &mut agent_phone],
        Duration::from_secs(30),
    );
    let customer = customer_phone.result();
    let agent = agent_phone.result();
    let log = server.log_text();
    assert!(customer.success(), "{}\n{log}", customer.explain());
    assert!(agent.success(), "{}\n{log}", agent.explain());
    assert!(
        log.contains("hold=true") && log.contains("hold=false"),
        "{log}"
    );
    // What the caller heard, in 200 ms slices, in order: the agent's 1 kHz tone (talking),
    // or music without the tone (queued or held). Timing on a loaded machine varies, so the
    // test checks the order: talking, then a stretch on hold, then talking again.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Slice {
        Agent,
        Music,
        Other,
    }
    let slices: Vec<Slice> = customer_phone
        .audio
        .heard
        .chunks(1_600)
        .map(|c| {
            if has_tone(c, 8_000, 1_000.0, 2_000.0) {
                Slice::Agent
            } else if amplitude(c, 8_000, 1_000.0) < 500.0
                && switchboard_media::tone::rms(c) > 300.0
            {
                Slice::Music
            } else {
                Slice::Other
            }
        })
        .collect();
    let first_talk = slices
        .iter()
        .position(|s| *s == Slice::Agent)
        .expect("the caller never hears the agent");
    let after_talk = &slices[first_talk..];
    let hold_start = after_talk
        .iter()
        .position(|s| *s == Slice::Music)
        .expect("no music while on hold");
    let held = after_talk[hold_start..]
        .iter()
        .take_while(|s| **s != Slice::Agent)
        .filter(|s| **s == Slice::Music)
        .count();
    assert!(held >= 8, "only {held} slices of hold music: {slices:?}");
    let resumed = after_talk[hold_start..]
        .iter()
        .skip_while(|s| **s != Slice::Agent)
        .filter(|s| **s == Slice::Agent)
        .count();
    assert!(
        resumed >= 10,
        "the caller does not hear the agent after resume: {slices:?}"
    );
}

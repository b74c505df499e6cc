//! The agent whisper: the main menu sets `set_whisper_flow: agent-whisper`, which names the
//! caller's queue ("one" for Sales). When Alice's phone answers she hears that prompt first,
//! and only then the caller; the caller meanwhile hears music, not Alice.

use std::time::Duration;

use switchboard_media::tone::{amplitude, has_tone, rms};
use switchboard_tests::{Phone, Server, derive_config, free_port, register_phone, talk};

const CUSTOMER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;

/// What a 200 ms slice of audio is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slice {
    /// Near silence.
    Quiet,
    /// The given party's tone.
    Tone,
    /// Sound without that tone: a prompt or music.
    Other,
}

fn slices(heard: &[i16], tone_hz: f64) -> Vec<Slice> {
    heard
        .chunks(1_600)
        .map(|c| {
            if has_tone(c, 8_000, tone_hz, 2_000.0) {
                Slice::Tone
            } else if rms(c) < 200.0 {
                Slice::Quiet
            } else if amplitude(c, 8_000, tone_hz) < 500.0 {
                Slice::Other
            } else {
                Slice::Quiet
            }
        })
        .collect()
}

#[test]
fn the_agent_hears_the_whisper_then_the_caller_who_hears_music_meanwhile() {
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
    let mut agent = Phone::agent(sip, "agent_answer.xml", agent_port, AGENT_HZ);
    let mut customer = Phone::customer(sip, "inbound_call_long.xml", "1", CUSTOMER_HZ);
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
    let whisper_at = log.find("agent whisper").expect("no whisper in the log");
    let connected_at = log.find("agent connected").expect("never connected");
    assert!(
        whisper_at < connected_at,
        "bridged before the whisper:\n{log}"
    );
    assert!(log.contains("flow=agent-whisper"), "{log}");

    // Alice: the first sound is the whisper (a prompt, not the caller), at least 0.4 s of
    // it, then the caller's tone for the rest of the call.
    let heard = slices(&agent.audio.heard, CUSTOMER_HZ);
    let first_sound = heard
        .iter()
        .position(|s| *s != Slice::Quiet)
        .expect("the agent heard nothing");
    let first_caller = heard
        .iter()
        .position(|s| *s == Slice::Tone)
        .expect("the agent never hears the caller");
    assert_eq!(
        heard[first_sound],
        Slice::Other,
        "the agent hears the caller before any whisper: {heard:?}"
    );
    let whisper = heard[first_sound..first_caller]
        .iter()
        .filter(|s| **s == Slice::Other)
        .count();
    assert!(
        (2..=8).contains(&whisper),
        "{whisper} slices of whisper before the caller: {heard:?}"
    );
    let caller = heard[first_caller..]
        .iter()
        .filter(|s| **s == Slice::Tone)
        .count();
    assert!(
        caller >= 20,
        "only {caller} slices of the caller after the whisper: {heard:?}"
    );

    // The caller: music (sound without Alice's tone) right up to hearing Alice, never a
    // silent gap while she is whispered to.
    let heard = slices(&customer.audio.heard, AGENT_HZ);
    let first_agent = heard
        .iter()
        .position(|s| *s == Slice::Tone)
        .expect("the caller never hears the agent");
    assert!(first_agent >= 4, "{heard:?}");
    let before = &heard[first_agent - 4..first_agent - 1];
    assert!(
        before.iter().all(|s| *s == Slice::Other),
        "the caller does not hear music while the agent is whispered to: {heard:?}"
    );
}

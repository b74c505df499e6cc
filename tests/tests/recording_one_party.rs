//! set_recording_behavior with one party: the recording is the usual stereo WAV, with only
//! that party's channel (customer left, agent side right); the other channel is silence.

// Real phones, real time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use switchboard_media::tone::{amplitude, has_tone, rms};
use switchboard_tests::{Phone, Server, derive_config, free_port, register_phone, talk};

const CUSTOMER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;

/// Runs one answered call with the main menu recording `who`; returns the WAV's left and
/// right channels and its rate.
fn recorded_call(who: &str) -> (Vec<i16>, Vec<i16>, u32) {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ]);
    let menu = cfg.flow_path("main-menu");
    let text = std::fs::read_to_string(&menu).expect("main menu");
    assert_eq!(text.matches("    record: both\n").count(), 1);
    std::fs::write(
        &menu,
        text.replace("    record: both\n", &format!("    record: {who}\n")),
    )
    .expect("write the menu");
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    let mut agent = Phone::agent(sip, "agent_answer.xml", agent_port, AGENT_HZ);
    let mut customer = Phone::customer(sip, "inbound_call_long.xml", "1", CUSTOMER_HZ);
    talk(&mut [&mut customer, &mut agent], Duration::from_secs(30));
    assert!(
        customer.result().success(),
        "{}\n{}",
        customer.result().explain(),
        server.log_text()
    );
    assert!(agent.result().success(), "{}", agent.result().explain());
    // The caller and the agent heard each other: both were there to be recorded.
    assert!(has_tone(
        &switchboard_tests::last_second(&agent.audio.heard),
        8_000,
        CUSTOMER_HZ,
        2_000.0
    ));
    let start = Instant::now();
    let path = loop {
        let log = server.log_text();
        if let Some(line) = log.lines().find(|l| l.contains("recording finished")) {
            let path = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("path="))
                .expect("a path in the log line")
                .to_string();
            break path;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the recording never finished:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        server
            .log_text()
            .contains(&format!("recorded={}", capitalised(who))),
        "{}",
        server.log_text()
    );
    let mut wav = hound::WavReader::open(&path).expect("a readable WAV");
    assert_eq!(wav.spec().channels, 2, "one file shape for every recording");
    let rate = wav.spec().sample_rate;
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.expect("sample")).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(
        left.len() > rate as usize * 3,
        "only {} samples",
        left.len()
    );
    (left, right, rate)
}

fn capitalised(who: &str) -> String {
    let mut c = who.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The middle half of a channel (away from the start and end of the call).
fn middle(v: &[i16]) -> &[i16] {
    &v[v.len() / 4..v.len() * 3 / 4]
}

/// Share of the 200 ms slices of `v` that carry `freq_hz`. Slices, not the whole stretch:
/// on a loaded machine a late packet is concealed and shifts the tone's phase, which a
/// single multi-second Goertzel window would read as a weaker tone.
fn tone_share(v: &[i16], rate: u32, freq_hz: f64) -> f64 {
    let slices: Vec<&[i16]> = v.chunks_exact(rate as usize / 5).collect();
    let with_tone = slices
        .iter()
        .filter(|c| has_tone(c, rate, freq_hz, 2_000.0))
        .count();
    with_tone as f64 / slices.len().max(1) as f64
}

#[test]
fn record_customer_keeps_the_callers_voice_and_not_the_agents() {
    let (left, right, rate) = recorded_call("customer");
    let share = tone_share(middle(&left), rate, CUSTOMER_HZ);
    assert!(
        share >= 0.8,
        "the caller (440 Hz) is on the left channel in only {:.0} % of the call",
        share * 100.0
    );
    assert!(
        amplitude(&left, rate, AGENT_HZ) < 100.0,
        "the agent leaks into the left channel"
    );
    assert!(
        rms(&right) < 1.0 && amplitude(&right, rate, AGENT_HZ) < 1.0,
        "the agent's channel is not silent: rms {}",
        rms(&right)
    );
}

#[test]
fn record_agent_keeps_the_agents_voice_and_not_the_callers() {
    let (left, right, rate) = recorded_call("agent");
    let share = tone_share(middle(&right), rate, AGENT_HZ);
    assert!(
        share >= 0.8,
        "the agent (1 kHz) is on the right channel in only {:.0} % of the call",
        share * 100.0
    );
    assert!(
        amplitude(&right, rate, CUSTOMER_HZ) < 100.0,
        "the caller leaks into the right channel"
    );
    assert!(
        rms(&left) < 1.0,
        "the caller's channel is not silent: rms {}",
        rms(&left)
    );
}

//! The engine over real UDP on loopback, driven only through its public API, with tiny RTP
//! peers ([`RtpPeer`]) standing in for phones: bridge and hold end to end, a recording whose
//! two channels hold the two parties' tones, DTMF in and out, a prompt to a lone leg,
//! PCMU<->Opus transcoding both ways and an all-Opus (48 kHz wideband) room.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // tests pace themselves by the clock

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use switchboard_media::codec::Codec;
use switchboard_media::engine::peer::RtpPeer;
use switchboard_media::engine::{
    EngineConfig, LegId, LegParams, MediaEngine, MediaEvent, PlaybackEnd, RoomId,
};
use switchboard_media::room::Role;
use switchboard_media::tone::{amplitude, rms};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const CUSTOMER_HZ: f64 = 500.0;
const AGENT_HZ: f64 = 1100.0;

fn prompts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")
}

fn engine(port_min: u16) -> MediaEngine {
    MediaEngine::start(EngineConfig {
        port_min,
        port_max: port_min + 200,
        workers: 2, // legs start on different workers: joining a room moves one
        music_on_hold: Some(prompts().join("music-on-hold.wav")),
        rtcp_interval: Duration::from_millis(500),
        ..EngineConfig::default()
    })
    .unwrap()
}

/// A leg with a peer sending `hz` to it, the leg sending back to the peer.
fn leg_with_peer(e: &MediaEngine, codec: Codec, pt: u8, hz: f64) -> (LegId, RtpPeer) {
    let params = LegParams {
        codec,
        payload_type: pt,
        dtmf_payload_type: Some(101),
        remote: None,
        send: true,
    };
    let (leg, local) = e.create_leg(params).unwrap();
    let peer = RtpPeer::bind(LO, local, codec, pt, hz, true).unwrap();
    e.set_remote(leg, peer.local_addr().unwrap()).unwrap();
    (leg, peer)
}

/// Both peers send for `ms`, on a 20 ms grid; returns what each captured in that time.
fn run(peers: &mut [&mut RtpPeer], ms: u64) {
    let start = Instant::now();
    for p in peers.iter_mut() {
        p.receive();
        p.captured.clear();
    }
    for n in 0..ms / 20 {
        for p in peers.iter_mut() {
            p.send_frame().unwrap();
        }
        let due = start + Duration::from_millis(20 * (n + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        for p in peers.iter_mut() {
            p.receive();
        }
    }
}

/// The last 400 ms a peer captured at 8 kHz (steady state, past jitter buffer and crossfade).
fn tail(p: &RtpPeer) -> &[i16] {
    tail_at(p, 8000)
}

fn tail_at(p: &RtpPeer, rate: usize) -> &[i16] {
    let n = p.captured.len();
    &p.captured[n.saturating_sub(rate * 400 / 1000)..]
}

/// The 200 ms window of `pcm` where `hz` is loudest. A recording ends with however long the
/// worker took to see `stop_recording` after the peers stopped, silence on a loaded box:
/// look for the tone where it is rather than at a fixed offset.
fn loudest_window(pcm: &[i16], rate: usize, hz: f64) -> &[i16] {
    let n = rate / 5;
    pcm.chunks_exact(n)
        .max_by(|a, b| amplitude(a, rate as u32, hz).total_cmp(&amplitude(b, rate as u32, hz)))
        .unwrap_or(pcm)
}

fn bridged(e: &MediaEngine) -> (RoomId, LegId, RtpPeer, LegId, RtpPeer) {
    let (c, pc) = leg_with_peer(e, Codec::Pcmu, 0, CUSTOMER_HZ);
    let (a, pa) = leg_with_peer(e, Codec::Pcmu, 0, AGENT_HZ);
    let room = e.create_room();
    e.add_to_room(room, c, Role::Customer).unwrap();
    e.add_to_room(room, a, Role::Agent).unwrap();
    e.bridge(room, c, a).unwrap();
    (room, c, pc, a, pa)
}

fn wait_for(e: &MediaEngine, what: impl Fn(&MediaEvent) -> bool) -> MediaEvent {
    let rx = e.events();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ev = rx
            .recv_deadline(deadline)
            .expect("the event should come within 5 s");
        if what(&ev) {
            return ev;
        }
    }
}

#[test]
fn the_engine_handle_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<MediaEngine>();
}

#[test]
fn bridge_then_hold_end_to_end() {
    let e = engine(31_000);
    let (room, c, mut pc, a, mut pa) = bridged(&e);
    run(&mut [&mut pc, &mut pa], 800);
    assert!(
        amplitude(tail(&pc), 8000, AGENT_HZ) > 3000.0,
        "customer hears agent"
    );
    assert!(
        amplitude(tail(&pc), 8000, CUSTOMER_HZ) < 200.0,
        "not itself"
    );
    assert!(
        amplitude(tail(&pa), 8000, CUSTOMER_HZ) > 3000.0,
        "agent hears customer"
    );
    assert!(amplitude(tail(&pa), 8000, AGENT_HZ) < 200.0, "not itself");

    e.hold(room, c, a).unwrap();
    run(&mut [&mut pc, &mut pa], 600);
    assert!(rms(tail(&pc)) > 1000.0, "held customer hears music");
    assert!(
        amplitude(tail(&pc), 8000, AGENT_HZ) < 200.0,
        "but not the agent"
    );
    assert!(
        rms(tail(&pa)) < 50.0,
        "agent hears silence: {}",
        rms(tail(&pa))
    );

    e.bridge(room, c, a).unwrap();
    run(&mut [&mut pc, &mut pa], 600);
    assert!(amplitude(tail(&pc), 8000, AGENT_HZ) > 3000.0, "off hold");
    assert!(amplitude(tail(&pa), 8000, CUSTOMER_HZ) > 3000.0);
    assert_eq!(pc.seq_gaps + pa.seq_gaps, 0, "no packet lost on loopback");

    let m = e.metrics();
    assert_eq!(m.active_legs, 2);
    assert_eq!(m.active_rooms, 1);
    assert!(m.packets_in > 100 && m.packets_out > 100, "{m:?}");
    assert!(m.rtcp_out > 0, "RTCP reports go out");
    e.shutdown();
}

#[test]
fn recording_holds_each_party_on_its_own_channel() {
    let e = engine(31_400);
    let (room, _c, mut pc, _a, mut pa) = bridged(&e);
    let dir = std::env::temp_dir().join(format!("sb-loopback-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("call.wav");
    e.start_recording(room, &path).unwrap();
    run(&mut [&mut pc, &mut pa], 1200);
    e.stop_recording(room).unwrap();
    let ev = wait_for(&e, |ev| matches!(ev, MediaEvent::RecordingFinished { .. }));
    let MediaEvent::RecordingFinished {
        room: r,
        path: p,
        duration,
        error,
    } = ev
    else {
        unreachable!()
    };
    assert_eq!((r, &p, error), (room, &path, None));
    assert!(duration >= Duration::from_millis(1000), "{duration:?}");
    let mut rd = hound::WavReader::open(&path).unwrap();
    assert_eq!(rd.spec().channels, 2);
    let s: Vec<i16> = rd.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = s.iter().step_by(2).copied().collect();
    let right: Vec<i16> = s.iter().skip(1).step_by(2).copied().collect();
    let l = loudest_window(&left, 8000, CUSTOMER_HZ);
    let r = loudest_window(&right, 8000, AGENT_HZ);
    assert!(
        amplitude(l, 8000, CUSTOMER_HZ) > 3000.0,
        "customer on the left"
    );
    assert!(amplitude(l, 8000, AGENT_HZ) < 100.0);
    assert!(amplitude(r, 8000, AGENT_HZ) > 3000.0, "agent on the right");
    assert!(amplitude(r, 8000, CUSTOMER_HZ) < 100.0);
    std::fs::remove_dir_all(&dir).unwrap();
    e.shutdown();
}

#[test]
fn dtmf_in_becomes_an_event_and_interrupts_a_barge_in_prompt() {
    let e = engine(31_800);
    let (leg, mut p) = leg_with_peer(&e, Codec::Pcmu, 0, CUSTOMER_HZ);
    e.play(leg, &prompts().join("greeting.wav"), false, true)
        .unwrap();
    run(&mut [&mut p], 300);
    assert!(
        rms(tail(&p)) > 300.0,
        "the greeting plays to a leg without a room"
    );
    // Digit 5 for 100 ms: start packet, updates, three end packets, all one timestamp.
    for (i, dur) in [160u16, 320, 480, 640, 800].iter().enumerate() {
        p.send_event(101, 5, false, *dur, i == 0).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..3 {
        p.send_event(101, 5, true, 800, false).unwrap();
    }
    p.advance(5);
    let ev = wait_for(&e, |ev| matches!(ev, MediaEvent::Dtmf { .. }));
    assert_eq!(
        ev,
        MediaEvent::Dtmf {
            leg,
            digit: '5',
            duration: Duration::from_millis(100)
        }
    );
    let ev = wait_for(&e, |ev| matches!(ev, MediaEvent::PlaybackDone { .. }));
    assert_eq!(
        ev,
        MediaEvent::PlaybackDone {
            leg,
            end: PlaybackEnd::Interrupted('5')
        }
    );
    e.shutdown();
}

#[test]
fn dtmf_out_and_a_prompt_that_finishes() {
    let e = engine(32_200);
    let (leg, mut p) = leg_with_peer(&e, Codec::Pcmu, 0, CUSTOMER_HZ);
    e.send_dtmf(leg, '#', Duration::from_millis(100)).unwrap();
    run(&mut [&mut p], 400);
    let ends: Vec<&(u8, Vec<u8>)> = p
        .events
        .iter()
        .filter(|(_, pl)| pl[1] & 0x80 != 0)
        .collect();
    assert!(!ends.is_empty(), "end packets of the digit arrive");
    assert!(
        ends.iter().all(|(pt, pl)| *pt == 101 && pl[0] == 11),
        "'#' is event 11"
    );
    e.play(leg, &prompts().join("number-1.wav"), false, false)
        .unwrap();
    let ev = wait_for(&e, |ev| matches!(ev, MediaEvent::PlaybackDone { .. }));
    assert_eq!(
        ev,
        MediaEvent::PlaybackDone {
            leg,
            end: PlaybackEnd::Finished
        }
    );
    let stats = wait_for(&e, |ev| matches!(ev, MediaEvent::LegStats { .. }));
    assert!(matches!(stats, MediaEvent::LegStats { leg: l, .. } if l == leg));
    e.remove_leg(leg).unwrap();
    assert!(e.remove_leg(leg).is_err());
    e.shutdown();
}

/// Customer on Opus (48 kHz), agent on PCMU (8 kHz): the room mixes at 8 kHz, the Opus leg
/// resamples both ways, and each side hears the other's tone and not its own.
#[test]
fn transcoding_opus_and_pcmu_both_ways() {
    let e = engine(32_600);
    let (c, mut pc) = leg_with_peer(&e, Codec::Opus, 111, CUSTOMER_HZ);
    let (a, mut pa) = leg_with_peer(&e, Codec::Pcmu, 0, AGENT_HZ);
    let room = e.create_room();
    e.add_to_room(room, c, Role::Customer).unwrap();
    e.add_to_room(room, a, Role::Agent).unwrap();
    e.bridge(room, c, a).unwrap();
    run(&mut [&mut pc, &mut pa], 1000);
    let opus_side = tail_at(&pc, 48_000);
    assert!(
        amplitude(opus_side, 48_000, AGENT_HZ) > 3000.0,
        "Opus customer hears the PCMU agent"
    );
    assert!(amplitude(opus_side, 48_000, CUSTOMER_HZ) < 300.0);
    assert!(
        amplitude(tail(&pa), 8000, CUSTOMER_HZ) > 3000.0,
        "PCMU agent hears the Opus customer"
    );
    assert!(amplitude(tail(&pa), 8000, AGENT_HZ) < 300.0);
    e.shutdown();
}

/// Two Opus legs: the room mixes wideband (48 kHz) and a prompt recorded at 8 kHz is
/// converted while it plays.
#[test]
fn an_all_opus_room_mixes_wideband() {
    let e = engine(33_000);
    let (c, mut pc) = leg_with_peer(&e, Codec::Opus, 111, CUSTOMER_HZ);
    let (a, mut pa) = leg_with_peer(&e, Codec::Opus, 111, AGENT_HZ);
    let room = e.create_room();
    e.add_to_room(room, c, Role::Customer).unwrap();
    e.add_to_room(room, a, Role::Agent).unwrap();
    e.bridge(room, c, a).unwrap();
    run(&mut [&mut pc, &mut pa], 1000);
    assert!(amplitude(tail_at(&pc, 48_000), 48_000, AGENT_HZ) > 3000.0);
    assert!(amplitude(tail_at(&pa, 48_000), 48_000, CUSTOMER_HZ) > 3000.0);
    e.hold(room, c, a).unwrap();
    run(&mut [&mut pc, &mut pa], 600);
    assert!(
        rms(tail_at(&pc, 48_000)) > 1000.0,
        "8 kHz music on hold reaches a 48 kHz leg"
    );
    assert!(rms(tail_at(&pa, 48_000)) < 100.0);
    e.shutdown();
}

#[test]
fn api_errors_are_typed_not_panics() {
    use switchboard_media::engine::MediaError;
    let e = engine(33_400);
    let room = e.create_room();
    let (leg, _p) = leg_with_peer(&e, Codec::Pcmu, 0, CUSTOMER_HZ);
    assert!(matches!(
        e.start_recording(room, Path::new("/tmp/x.wav")),
        Err(MediaError::EmptyRoom(_))
    ));
    assert!(matches!(
        e.bridge(room, leg, LegId(999)),
        Err(MediaError::NotInRoom(l, r)) if l == leg && r == room
    ));
    e.add_to_room(room, leg, Role::Customer).unwrap();
    assert!(matches!(
        e.bridge(room, leg, LegId(999)),
        Err(MediaError::UnknownLeg(LegId(999)))
    ));
    assert!(matches!(
        e.send_dtmf(leg, 'x', Duration::from_millis(100)),
        Err(MediaError::BadDigit('x'))
    ));
    assert!(matches!(
        e.play(leg, Path::new("/nonexistent.wav"), false, false),
        Err(MediaError::Play(_))
    ));
    assert!(matches!(
        e.add_to_room(RoomId(12345), leg, Role::Agent),
        Err(MediaError::UnknownRoom(_))
    ));
    e.destroy_room(room).unwrap();
    assert!(matches!(
        e.destroy_room(room),
        Err(MediaError::UnknownRoom(_))
    ));
    let bad = MediaEngine::start(EngineConfig {
        port_min: 40_000,
        port_max: 40_001,
        ..EngineConfig::default()
    });
    assert!(matches!(bad, Err(MediaError::Config(_))));
    e.shutdown();
}

/// A re-INVITE: first the customer's phone puts us on hold (we go recvonly: nothing is
/// sent), then it moves to another address and switches to Opus; the call goes on.
#[test]
fn update_leg_applies_direction_remote_and_codec() {
    let e = engine(33_800);
    let (room, c, mut pc, a, mut pa) = bridged(&e);
    run(&mut [&mut pc, &mut pa], 600);
    let pcmu = LegParams {
        remote: Some(pc.local_addr().unwrap()),
        ..LegParams::pcmu()
    };
    e.update_leg(
        c,
        LegParams {
            send: false,
            ..pcmu
        },
    )
    .unwrap();
    run(&mut [&mut pc, &mut pa], 400);
    let before = pc.packets_in;
    run(&mut [&mut pc, &mut pa], 400);
    assert_eq!(
        pc.packets_in, before,
        "recvonly: nothing is sent to the customer"
    );
    assert!(
        amplitude(tail(&pa), 8000, CUSTOMER_HZ) > 3000.0,
        "but we still receive"
    );

    // A new customer endpoint, Opus, sending to the same leg port.
    let mut opus = RtpPeer::bind(LO, pc.remote(), Codec::Opus, 111, CUSTOMER_HZ, true).unwrap();
    let params = LegParams {
        codec: Codec::Opus,
        payload_type: 111,
        dtmf_payload_type: Some(101),
        remote: Some(opus.local_addr().unwrap()),
        send: true,
    };
    e.update_leg(c, params).unwrap();
    run(&mut [&mut opus, &mut pa], 1000);
    assert!(
        amplitude(tail_at(&opus, 48_000), 48_000, AGENT_HZ) > 3000.0,
        "Opus customer hears the agent"
    );
    assert!(
        amplitude(tail(&pa), 8000, CUSTOMER_HZ) > 3000.0,
        "agent hears the Opus customer"
    );
    let m = e.metrics();
    assert_eq!(
        (m.active_rooms, m.active_legs),
        (1, 2),
        "{room} with {c} and {a}"
    );
    e.shutdown();
}

/// A recording keeps its rate when the room's changes: an all-Opus room (48 kHz) starts
/// recording, then a PCMU third party joins (the room drops to 8 kHz) and the file goes on.
#[test]
fn a_recording_survives_a_room_rate_change() {
    let e = engine(34_200);
    let (c, mut pc) = leg_with_peer(&e, Codec::Opus, 111, CUSTOMER_HZ);
    let (a, mut pa) = leg_with_peer(&e, Codec::Opus, 111, AGENT_HZ);
    let room = e.create_room();
    e.add_to_room(room, c, Role::Customer).unwrap();
    e.add_to_room(room, a, Role::Agent).unwrap();
    e.bridge(room, c, a).unwrap();
    let dir = std::env::temp_dir().join(format!("sb-loopback-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("call.wav");
    e.start_recording(room, &path).unwrap();
    run(&mut [&mut pc, &mut pa], 600);
    let (t, mut pt) = leg_with_peer(&e, Codec::Pcmu, 0, 1700.0);
    e.add_to_room(room, t, Role::ThirdParty).unwrap();
    e.conference(room, &[c, a, t]).unwrap();
    run(&mut [&mut pc, &mut pa, &mut pt], 800);
    e.stop_recording(room).unwrap();
    let ev = wait_for(&e, |ev| matches!(ev, MediaEvent::RecordingFinished { .. }));
    assert!(
        matches!(ev, MediaEvent::RecordingFinished { error: None, .. }),
        "{ev:?}"
    );
    let mut rd = hound::WavReader::open(&path).unwrap();
    assert_eq!(
        rd.spec().sample_rate,
        48_000,
        "the file keeps the rate it started with"
    );
    let s: Vec<i16> = rd.samples::<i16>().map(|s| s.unwrap()).collect();
    let right: Vec<i16> = s.iter().skip(1).step_by(2).copied().collect();
    // After the third party joined (the last 800 ms the peers sent), where it is loudest.
    let last = loudest_window(&right, 48_000, 1700.0);
    let (ag, tp, cu) = (
        amplitude(last, 48_000, AGENT_HZ),
        amplitude(last, 48_000, 1700.0),
        amplitude(last, 48_000, CUSTOMER_HZ),
    );
    assert!(
        ag > 2000.0 && cu < ag / 10.0,
        "agent still on the right, not the customer: {ag} {tp} {cu}"
    );
    assert!(tp > 2000.0, "and the third party with it: {ag} {tp} {cu}");
    std::fs::remove_dir_all(&dir).unwrap();
    e.shutdown();
}

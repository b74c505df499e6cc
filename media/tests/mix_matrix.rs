//! Hears-matrices checked on what a phone would get: every leg talks a tone of its own, the
//! audio goes through PCMU both ways (encode, decode) around the room, and a Goertzel detector
//! on the DECODED output says who hears whom. No sockets: the room is a pure function.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use switchboard_media::codec::g711::{G711Decoder, G711Encoder, Law};
use switchboard_media::codec::{AudioDecoder, AudioEncoder};
use switchboard_media::frame::{Frame, SampleRate};
use switchboard_media::play::{Clip, Player};
use switchboard_media::room::{Role, Room};
use switchboard_media::tone::{ToneGenerator, amplitude, rms};

const R: SampleRate = SampleRate::Hz8000;
/// One tone per leg, far apart and not harmonics of each other.
const FREQS: [f64; 4] = [500.0, 1100.0, 1700.0, 2300.0];
const HEARD: f64 = 2000.0;
/// G.711 quantisation of a sum of tones leaves intermodulation products around -35 dB.
const NOT_HEARD: f64 = 250.0;

fn pcmu_roundtrip(enc: &mut G711Encoder, dec: &mut G711Decoder, f: &Frame) -> Frame {
    let mut payload = Vec::new();
    enc.encode(&f.samples, &mut payload).unwrap();
    let mut samples = Vec::new();
    dec.decode(&payload, &mut samples).unwrap();
    Frame { rate: R, samples }
}

/// A room of legs `0..roles.len()`, each talking its own tone through PCMU.
struct Rig {
    room: Room<u32>,
    tones: Vec<ToneGenerator>,
    feeds: Vec<Option<Player>>,
}

impl Rig {
    fn new(roles: &[Role]) -> Rig {
        let mut room = Room::new(R);
        for (i, &role) in roles.iter().enumerate() {
            room.add(i as u32, role).unwrap();
        }
        Rig {
            room,
            tones: (0..roles.len())
                .map(|i| ToneGenerator::new(R, FREQS[i], 8000))
                .collect(),
            feeds: (0..roles.len()).map(|_| None).collect(),
        }
    }

    /// Run 12 ticks (the first may crossfade) and return what each leg decoded in the last 10.
    fn run(&mut self) -> Vec<Vec<i16>> {
        let n = self.tones.len();
        let mut heard = vec![Vec::new(); n];
        let mut out = Vec::new();
        let (mut enc, mut dec) = (G711Encoder::new(Law::Mu), G711Decoder::new(Law::Mu));
        for tick in 0..12 {
            let inputs: Vec<Frame> = self
                .tones
                .iter_mut()
                .map(|t| pcmu_roundtrip(&mut enc, &mut dec, &t.next_frame()))
                .collect();
            let feeds: Vec<Option<Frame>> = self
                .feeds
                .iter_mut()
                .map(|p| {
                    p.as_mut().map(|p| {
                        let mut f = Frame::silence(R);
                        p.next_frame(&mut f);
                        f
                    })
                })
                .collect();
            let in_refs: Vec<Option<&Frame>> = inputs.iter().map(Some).collect();
            let feed_refs: Vec<Option<&Frame>> = feeds.iter().map(|f| f.as_ref()).collect();
            self.room.tick(&in_refs, &feed_refs, &mut out);
            if tick >= 2 {
                for (i, f) in out.iter().enumerate() {
                    heard[i].extend(pcmu_roundtrip(&mut enc, &mut dec, f).samples);
                }
            }
        }
        heard
    }
}

/// For each listener, which legs' tones are audible (and check the rest are really absent).
fn who_hears(heard: &[Vec<i16>]) -> Vec<Vec<usize>> {
    heard
        .iter()
        .map(|pcm| {
            (0..heard.len())
                .filter(|&t| {
                    let a = amplitude(pcm, 8000, FREQS[t]);
                    assert!(
                        a >= HEARD || a <= NOT_HEARD,
                        "ambiguous level {a} at {}",
                        FREQS[t]
                    );
                    a >= HEARD
                })
                .collect()
        })
        .collect()
}

#[test]
fn bridge_a_tone_on_a_reaches_b_and_not_a() {
    let mut rig = Rig::new(&[Role::Customer, Role::Agent]);
    rig.room.bridge(0, 1).unwrap();
    assert_eq!(who_hears(&rig.run()), vec![vec![1], vec![0]]);
}

#[test]
fn hold_b_hears_nothing_of_a_and_a_hears_music_on_hold() {
    let mut rig = Rig::new(&[Role::Customer, Role::Agent]);
    rig.room.bridge(0, 1).unwrap();
    rig.run();
    let moh = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/music-on-hold.wav");
    rig.feeds[0] = Some(Player::new(Clip::load(&moh).unwrap(), true, false));
    rig.room.hold(0, 1).unwrap();
    let heard = rig.run();
    // The music has energy everywhere: check only that the agent's tone is not in it.
    assert!(amplitude(&heard[0], 8000, FREQS[1]) < NOT_HEARD);
    assert!(rms(&heard[0]) > 1000.0, "the held customer hears the music");
    assert!(
        rms(&heard[1]) < 1.0,
        "the agent hears silence: {}",
        rms(&heard[1])
    );
    // Taking the call off hold: the engine stops the music and bridges again.
    rig.feeds[0] = None;
    rig.room.bridge(0, 1).unwrap();
    assert_eq!(who_hears(&rig.run()), vec![vec![1], vec![0]]);
}

#[test]
fn conference_of_three_each_hears_the_other_two_not_itself() {
    let mut rig = Rig::new(&[Role::Customer, Role::Agent, Role::ThirdParty]);
    rig.room.conference(&[0, 1, 2]).unwrap();
    assert_eq!(
        who_hears(&rig.run()),
        vec![vec![1, 2], vec![0, 2], vec![0, 1]]
    );
}

#[test]
fn monitor_hears_both_and_neither_hears_the_monitor() {
    let mut rig = Rig::new(&[Role::Customer, Role::Agent, Role::Monitor]);
    rig.room.bridge(0, 1).unwrap();
    rig.room.monitor(2).unwrap();
    assert_eq!(who_hears(&rig.run()), vec![vec![1], vec![0], vec![0, 1]]);
}

#[test]
fn swap_agent_talks_to_one_party_while_the_other_is_held() {
    let mut rig = Rig::new(&[Role::Customer, Role::Agent, Role::ThirdParty]);
    rig.room.bridge(0, 1).unwrap();
    rig.room.swap(1, 2, 0).unwrap();
    assert_eq!(who_hears(&rig.run()), vec![vec![], vec![2], vec![1]]);
    rig.room.swap(1, 0, 2).unwrap();
    assert_eq!(who_hears(&rig.run()), vec![vec![1], vec![0], vec![]]);
}

#[test]
fn barge_the_monitor_is_heard_by_everyone() {
    let mut rig = Rig::new(&[Role::Customer, Role::Agent, Role::Monitor]);
    rig.room.bridge(0, 1).unwrap();
    rig.room.barge(2).unwrap();
    assert_eq!(
        who_hears(&rig.run()),
        vec![vec![1, 2], vec![0, 2], vec![0, 1]]
    );
}

#[test]
fn whisper_only_the_agent_hears_the_monitor() {
    let mut rig = Rig::new(&[Role::Customer, Role::Agent, Role::Monitor]);
    rig.room.bridge(0, 1).unwrap();
    rig.room.whisper(2, 1).unwrap();
    assert_eq!(who_hears(&rig.run()), vec![vec![1], vec![0, 2], vec![0, 1]]);
}

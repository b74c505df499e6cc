//! Cost of one mix tick (the pure `room::mix`) for a two-leg and a three-leg room at 8 kHz,
//! steady and while crossfading a matrix change, and of one PCMU-to-PCMU leg tick's codec
//! work around it. Run: `cargo bench -p switchboard-media --bench mix`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_media::codec::g711::{G711Decoder, G711Encoder, Law};
use switchboard_media::codec::{AudioDecoder, AudioEncoder};
use switchboard_media::frame::{Frame, SampleRate};
use switchboard_media::room::{Role, Room};
use switchboard_media::tone::ToneGenerator;

const R: SampleRate = SampleRate::Hz8000;

fn frames(n: usize) -> Vec<Frame> {
    (0..n)
        .map(|i| ToneGenerator::new(R, 400.0 + 300.0 * i as f64, 8000).next_frame())
        .collect()
}

fn room(n: u32) -> Room<u32> {
    let mut r = Room::new(R);
    for k in 0..n {
        r.add(k, if k == 0 { Role::Customer } else { Role::Agent })
            .expect("new member");
    }
    r
}

fn bench(c: &mut Criterion) {
    let f2 = frames(2);
    let f3 = frames(3);
    let in2: Vec<Option<&Frame>> = f2.iter().map(Some).collect();
    let in3: Vec<Option<&Frame>> = f3.iter().map(Some).collect();
    let mut out = Vec::new();

    let mut r2 = room(2);
    r2.bridge(0, 1).expect("members");
    c.bench_function("mix 2-leg bridge", |b| {
        b.iter(|| r2.tick(black_box(&in2), &[], &mut out))
    });

    let mut r3 = room(3);
    r3.conference(&[0, 1, 2]).expect("members");
    c.bench_function("mix 3-leg conference", |b| {
        b.iter(|| r3.tick(black_box(&in3), &[], &mut out))
    });

    let mut flip = false;
    c.bench_function("mix 3-leg swap crossfade", |b| {
        b.iter(|| {
            flip = !flip;
            let (talk, held) = if flip { (0, 2) } else { (2, 0) };
            r3.swap(1, talk, held).expect("members");
            r3.tick(black_box(&in3), &[], &mut out)
        })
    });

    let (mut l, mut rr) = (Vec::new(), Vec::new());
    c.bench_function("recording split 2-leg", |b| {
        b.iter(|| r2.recording_frame(black_box(&in2), &mut l, &mut rr))
    });

    let mut enc = G711Encoder::new(Law::Mu);
    let mut dec = G711Decoder::new(Law::Mu);
    let (mut payload, mut pcm) = (Vec::new(), Vec::new());
    c.bench_function("2-leg call tick: 2x PCMU decode + mix + 2x encode", |b| {
        b.iter(|| {
            for f in &f2 {
                payload.clear();
                enc.encode(&f.samples, &mut payload).expect("pcmu");
                pcm.clear();
                dec.decode(&payload, &mut pcm).expect("pcmu");
            }
            r2.tick(black_box(&in2), &[], &mut out);
            for f in &out {
                payload.clear();
                enc.encode(&f.samples, &mut payload).expect("pcmu");
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

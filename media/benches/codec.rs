//! Per-frame cost of the codecs and the resampler: one 20 ms frame each.
//! G.711 budget: well under 1 µs per frame (1,000 G.711 calls per core leave 20 µs of
//! tick per call for everything). Run: `cargo bench -p switchboard-media --bench codec`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_media::codec::g711::{G711Decoder, G711Encoder, Law};
use switchboard_media::codec::opus::{OpusDecoder, OpusEncoder};
use switchboard_media::codec::resample::Resampler;
use switchboard_media::codec::{AudioDecoder, AudioEncoder};
use switchboard_media::frame::SampleRate;
use switchboard_media::jitter::{JitterBuffer, JitterConfig, Playout};
use switchboard_media::rtp::{RtpHeader, RtpPacket, RtpSender};
use switchboard_media::tone::ToneGenerator;

fn g711(c: &mut Criterion) {
    let pcm = ToneGenerator::new(SampleRate::Hz8000, 1000.0, 12_000).samples(160);
    for (name, law) in [("pcmu", Law::Mu), ("pcma", Law::A)] {
        let mut enc = G711Encoder::new(law);
        let mut dec = G711Decoder::new(law);
        let mut payload = Vec::with_capacity(160);
        let mut out = Vec::with_capacity(160);
        c.bench_function(&format!("g711/{name}/encode_frame"), |b| {
            b.iter(|| {
                payload.clear();
                enc.encode(black_box(&pcm), &mut payload).expect("encode");
            })
        });
        enc.encode(&pcm, &mut payload).expect("encode");
        c.bench_function(&format!("g711/{name}/decode_frame"), |b| {
            b.iter(|| {
                out.clear();
                dec.decode(black_box(&payload), &mut out).expect("decode");
            })
        });
        c.bench_function(&format!("g711/{name}/encode+decode_frame"), |b| {
            b.iter(|| {
                payload.clear();
                out.clear();
                enc.encode(black_box(&pcm), &mut payload).expect("encode");
                dec.decode(black_box(&payload), &mut out).expect("decode");
            })
        });
    }
}

fn opus(c: &mut Criterion) {
    let mut tone = ToneGenerator::new(SampleRate::Hz48000, 1000.0, 10_000);
    let frames: Vec<Vec<i16>> = (0..50).map(|_| tone.next_frame().samples).collect();
    let mut enc = OpusEncoder::new().expect("opus encoder");
    let packets: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let mut p = Vec::new();
            enc.encode(f, &mut p).expect("encode");
            p
        })
        .collect();
    let mut i = 0;
    let mut payload = Vec::with_capacity(1500);
    c.bench_function("opus/encode_frame", |b| {
        b.iter(|| {
            payload.clear();
            i = (i + 1) % frames.len();
            enc.encode(black_box(&frames[i]), &mut payload)
                .expect("encode");
        })
    });
    let mut dec = OpusDecoder::new().expect("opus decoder");
    let mut out = Vec::with_capacity(960);
    c.bench_function("opus/decode_frame", |b| {
        b.iter(|| {
            out.clear();
            i = (i + 1) % packets.len();
            dec.decode(black_box(&packets[i]), &mut out)
                .expect("decode");
        })
    });
    c.bench_function("opus/conceal_frame", |b| {
        b.iter(|| {
            out.clear();
            dec.conceal(&mut out);
        })
    });
}

/// Opus coders at 8 kHz PCM (a leg in a narrowband room): encode at complexity 10 and
/// [`NARROWBAND_COMPLEXITY`], decode.
fn opus_narrowband(c: &mut Criterion) {
    use switchboard_media::codec::opus::NARROWBAND_COMPLEXITY;
    let mut tone = ToneGenerator::new(SampleRate::Hz8000, 1000.0, 10_000);
    let frames: Vec<Vec<i16>> = (0..50).map(|_| tone.next_frame().samples).collect();
    let mut enc = OpusEncoder::with_rate(SampleRate::Hz8000).expect("opus encoder");
    let mut i = 0;
    let mut payload = Vec::with_capacity(1500);
    let mut packets = Vec::new();
    for complexity in [10, NARROWBAND_COMPLEXITY, 3, 1, 0] {
        enc.set_complexity(complexity).expect("complexity");
        c.bench_function(&format!("opus8k/encode_frame_c{complexity}"), |b| {
            b.iter(|| {
                payload.clear();
                i = (i + 1) % frames.len();
                enc.encode(black_box(&frames[i]), &mut payload)
                    .expect("encode");
            })
        });
    }
    for f in &frames {
        let mut p = Vec::new();
        enc.encode(f, &mut p).expect("encode");
        packets.push(p);
    }
    let mut dec = OpusDecoder::with_rate(SampleRate::Hz8000).expect("opus decoder");
    let mut out = Vec::with_capacity(960);
    c.bench_function("opus8k/decode_frame", |b| {
        b.iter(|| {
            out.clear();
            i = (i + 1) % packets.len();
            dec.decode(black_box(&packets[i]), &mut out)
                .expect("decode");
        })
    });
}

fn resample(c: &mut Criterion) {
    use SampleRate::*;
    for (from, to) in [
        (Hz8000, Hz48000),
        (Hz48000, Hz8000),
        (Hz16000, Hz48000),
        (Hz48000, Hz16000),
        (Hz8000, Hz16000),
    ] {
        let input = ToneGenerator::new(from, 1000.0, 10_000).samples(from.samples_per_frame());
        let mut r = Resampler::new(from, to);
        let mut out = Vec::with_capacity(to.samples_per_frame());
        c.bench_function(
            &format!("resample/{}k->{}k_frame", from.hz() / 1000, to.hz() / 1000),
            |b| {
                b.iter(|| {
                    out.clear();
                    r.process(black_box(&input), &mut out);
                })
            },
        );
    }
}

/// The receive path of one G.711 leg per tick: parse, jitter push/pop, decode; and the
/// send path: encode and build the packet.
fn leg_tick(c: &mut Criterion) {
    let pcm = ToneGenerator::new(SampleRate::Hz8000, 1000.0, 12_000).samples(160);
    let mut tx = RtpSender::new(1, 0, 0);
    let mut enc = G711Encoder::new(Law::Mu);
    let mut dec = G711Decoder::new(Law::Mu);
    let mut jb = JitterBuffer::new(JitterConfig::new(8000));
    let base = {
        #[allow(clippy::disallowed_methods)] // a bench needs one arbitrary origin
        std::time::Instant::now()
    };
    let mut tick: u64 = 0;
    let mut payload = Vec::with_capacity(160);
    let mut out = Vec::with_capacity(160);
    c.bench_function("leg/g711_tick_send+receive", |b| {
        b.iter(|| {
            let now = base + Duration::from_millis(tick * 20);
            tick += 1;
            payload.clear();
            enc.encode(&pcm, &mut payload).expect("encode");
            let datagram = tx.next_packet(0, &payload, 160, false).expect("packet");
            let pkt = RtpPacket::parse(&datagram).expect("parse");
            let header: RtpHeader = pkt.header;
            jb.push(now, &header, pkt.payload);
            let playout = jb.pop(now);
            if let Playout::Payload { payload: p, .. } = &playout {
                out.clear();
                dec.decode(p, &mut out).expect("decode");
            }
            jb.recycle(playout);
        })
    });
}

criterion_group!(benches, g711, opus, opus_narrowband, resample, leg_tick);
criterion_main!(benches);

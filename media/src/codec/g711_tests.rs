//! G.711 conformance: the fast path against a reference written from the standard.
//!
//! What the reference is. We cannot ship ITU-T's reference tables, so the test carries a
//! second, deliberately naive implementation written from the normative quantizer
//! definition of G.711 (Tables 1 and 2), independent of the bit tricks in `g711.rs`:
//!
//! * µ-law works on the 14-bit magnitude of the input (16-bit sample shifted right by 2).
//!   Its eight segments end at the decision values 31, 95, 223, 479, 991, 2015, 4063, 8159
//!   (Table 2a) with quantization steps 2, 4, ..., 256; the first interval of segment 0 is
//!   [0, 1). The code is the polarity bit (1 = positive) followed by the inverted 3-bit
//!   segment and 4-bit step numbers (the whole character is inverted for transmission).
//! * A-law works on the 12-bit magnitude (16-bit sample shifted right by 3). Its eight
//!   segments end at 32, 64, 128, ..., 4096 (Table 1a) with steps 2, 2, 4, 8, ..., 128. The
//!   code is polarity (1 = positive), segment, step, with the even bits inverted (XOR 0x55).
//! * The decoded value of a code is the midpoint of its interval, scaled back to 16 bits.
//! * Negative samples are folded with the one's complement, as ITU-T G.191's g711.c does,
//!   so the quantizer is symmetric.
//!
//! The reference finds the interval by walking the decision values one by one. On top of
//! that, the decoded values of a few codes are checked against the numbers printed in
//! G.711 Tables 1 and 2 (scaled to 16 bits), and decode(encode(x)) is bounded by half a
//! quantization step of the segment x falls in, for all 65,536 inputs.

use super::*;

const ULAW_SEG_END: [i32; 8] = [31, 95, 223, 479, 991, 2015, 4063, 8159];
const ALAW_SEG_END: [i32; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

fn ulaw_step(seg: usize) -> i32 {
    2 << seg
}

fn alaw_step(seg: usize) -> i32 {
    if seg == 0 { 2 } else { 1 << seg }
}

/// Start of segment `seg` in µ-law 14-bit units (segment 0's first interval is half-width).
fn ulaw_seg_start(seg: usize) -> i32 {
    if seg == 0 { -1 } else { ULAW_SEG_END[seg - 1] }
}

fn alaw_seg_start(seg: usize) -> i32 {
    if seg == 0 { 0 } else { ALAW_SEG_END[seg - 1] }
}

fn fold(x: i16) -> (bool, i32) {
    let x = i32::from(x);
    if x >= 0 { (true, x) } else { (false, -x - 1) }
}

/// Reference µ-law encoder: linear walk over the decision values.
fn ref_ulaw_encode(x: i16) -> u8 {
    let (positive, mag16) = fold(x);
    let mag = (mag16 / 4).min(8158);
    for seg in 0..8 {
        let start = ulaw_seg_start(seg);
        let step = ulaw_step(seg);
        for q in 0..16 {
            let lo = start + q * step;
            let hi = lo + step;
            if mag >= lo.max(0) && mag < hi {
                let character = ((seg as u8) << 4) | q as u8;
                let polarity = if positive { 0x80 } else { 0x00 };
                return polarity | (!character & 0x7F);
            }
        }
    }
    unreachable!("magnitude {mag} outside every µ-law interval")
}

/// Reference µ-law decoder: interval midpoint.
fn ref_ulaw_decode(code: u8) -> i16 {
    let positive = code & 0x80 != 0;
    let character = !code & 0x7F;
    let seg = usize::from(character >> 4);
    let q = i32::from(character & 0x0F);
    let mid = ulaw_seg_start(seg) + q * ulaw_step(seg) + ulaw_step(seg) / 2;
    let v = (mid * 4) as i16;
    if positive { v } else { -v }
}

/// Reference A-law encoder: linear walk over the decision values.
fn ref_alaw_encode(x: i16) -> u8 {
    let (positive, mag16) = fold(x);
    let mag = mag16 / 8;
    for seg in 0..8 {
        let start = alaw_seg_start(seg);
        let step = alaw_step(seg);
        for q in 0..16 {
            let lo = start + q * step;
            if mag >= lo && mag < lo + step {
                let polarity = if positive { 0x80 } else { 0x00 };
                return (polarity | ((seg as u8) << 4) | q as u8) ^ 0x55;
            }
        }
    }
    unreachable!("magnitude {mag} outside every A-law interval")
}

fn ref_alaw_decode(code: u8) -> i16 {
    let c = code ^ 0x55;
    let positive = c & 0x80 != 0;
    let seg = usize::from((c >> 4) & 0x07);
    let q = i32::from(c & 0x0F);
    let mid = alaw_seg_start(seg) + q * alaw_step(seg) + alaw_step(seg) / 2;
    let v = (mid * 8) as i16;
    if positive { v } else { -v }
}

#[test]
fn reference_decoder_matches_g711_tables() {
    // µ-law (Table 2, scaled by 4 to 16 bits): 0x80/0x00 are the largest magnitudes,
    // 0xFF/0x7F the two zeros.
    assert_eq!(ref_ulaw_decode(0x00), -32124);
    assert_eq!(ref_ulaw_decode(0x80), 32124);
    assert_eq!(ref_ulaw_decode(0xFF), 0);
    assert_eq!(ref_ulaw_decode(0x7F), 0);
    assert_eq!(ref_ulaw_decode(0xFE), 8);
    assert_eq!(ref_ulaw_decode(0xEF), 132); // segment 1, first step
    // A-law (Table 1, scaled by 8): 0xD5/0x55 are ±1 unit, 0xAA/0x2A the largest.
    assert_eq!(ref_alaw_decode(0xD5), 8);
    assert_eq!(ref_alaw_decode(0x55), -8);
    assert_eq!(ref_alaw_decode(0x2A), -32256);
    assert_eq!(ref_alaw_decode(0xAA), 32256);
    assert_eq!(ref_alaw_decode(0xD4), 24);
}

#[test]
fn fast_decoders_match_reference_for_all_256_codes() {
    for code in 0..=255u8 {
        assert_eq!(
            ulaw_decode(code),
            ref_ulaw_decode(code),
            "µ-law code {code:#04x}"
        );
        assert_eq!(
            alaw_decode(code),
            ref_alaw_decode(code),
            "A-law code {code:#04x}"
        );
    }
    // The spot values again, through the fast path.
    assert_eq!(ulaw_decode(0x00), -32124);
    assert_eq!(ulaw_decode(0x80), 32124);
    assert_eq!(ulaw_decode(0xFF), 0);
    assert_eq!(ulaw_decode(0x7F), 0);
    assert_eq!(alaw_decode(0xD5), 8);
    assert_eq!(alaw_decode(0x55), -8);
    assert_eq!(alaw_decode(0x2A), -32256);
    assert_eq!(alaw_decode(0xAA), 32256);
}

#[test]
fn fast_encoders_match_reference_for_all_65536_inputs() {
    for x in i16::MIN..=i16::MAX {
        assert_eq!(ulaw_encode(x), ref_ulaw_encode(x), "µ-law input {x}");
        assert_eq!(alaw_encode(x), ref_alaw_encode(x), "A-law input {x}");
    }
}

#[test]
fn block_encoding_matches_the_sample_encoders_for_all_65536_inputs() {
    // The engine encodes whole frames through `encode_into`, whose loop the compiler
    // vectorises; it must give exactly what the per-sample encoders give.
    let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    for (law, one) in [
        (Law::Mu, ulaw_encode as fn(i16) -> u8),
        (Law::A, alaw_encode),
    ] {
        let mut out = vec![0x11];
        law.encode_into(&all, &mut out);
        assert_eq!(out.len(), all.len() + 1, "{law:?}");
        assert_eq!(out[0], 0x11, "{law:?}: what was in the buffer is kept");
        for (&x, &c) in all.iter().zip(&out[1..]) {
            assert_eq!(c, one(x), "{law:?} input {x}");
        }
    }
}

#[test]
fn round_trip_error_is_within_half_a_step_of_each_segment() {
    for x in i16::MIN..=i16::MAX {
        let (_, mag16) = fold(x);
        // µ-law: step in 16-bit units is 4 * 2^(seg+1); beyond the last decision value the
        // encoder clips to the largest code.
        let ulaw_seg = ULAW_SEG_END
            .iter()
            .position(|&end| mag16 / 4 < end)
            .unwrap_or(7);
        let bound = (4 * ulaw_step(ulaw_seg) / 2).max(mag16 + 1 - 32124);
        let err = (i32::from(ulaw_decode(ulaw_encode(x))) - i32::from(x)).abs();
        assert!(err <= bound, "µ-law x={x} err={err} bound={bound}");

        let alaw_seg = ALAW_SEG_END
            .iter()
            .position(|&end| mag16 / 8 < end)
            .unwrap_or(7);
        let bound = 8 * alaw_step(alaw_seg) / 2;
        let err = (i32::from(alaw_decode(alaw_encode(x))) - i32::from(x)).abs();
        assert!(err <= bound, "A-law x={x} err={err} bound={bound}");
    }
}

#[test]
fn quantizer_is_symmetric_and_decoded_values_are_fixed_points() {
    for x in i16::MIN..=i16::MAX {
        assert_eq!(ulaw_encode(!x), ulaw_encode(x) ^ 0x80, "µ-law {x}");
        assert_eq!(alaw_encode(!x), alaw_encode(x) ^ 0x80, "A-law {x}");
    }
    for code in 0..=255u8 {
        if code != 0x7F {
            // 0x7F is µ-law's negative zero; it decodes to 0, which encodes as 0xFF.
            assert_eq!(ulaw_encode(ulaw_decode(code)), code);
        }
        assert_eq!(alaw_encode(alaw_decode(code)), code);
    }
    assert_eq!(ulaw_encode(0), Law::Mu.silence_code());
    assert_eq!(alaw_encode(0), Law::A.silence_code());
}

#[test]
fn codec_trait_round_trips_a_tone() {
    use crate::frame::SampleRate;
    use crate::tone::{amplitude, sine, tone_purity};
    let pcm = sine(SampleRate::Hz8000, 1000.0, 12_000, 20);
    for law in [Law::Mu, Law::A] {
        let mut enc = G711Encoder::new(law);
        let mut dec = G711Decoder::new(law);
        let mut payload = Vec::new();
        enc.encode(&pcm, &mut payload).unwrap();
        assert_eq!(payload.len(), 160);
        let mut out = Vec::new();
        dec.decode(&payload, &mut out).unwrap();
        assert_eq!(out.len(), 160);
        let a = amplitude(&out, 8000, 1000.0);
        assert!((a - 12_000.0).abs() < 300.0, "{law:?} amplitude {a}");
        assert!(tone_purity(&out, 8000, 1000.0) > 0.99);
        assert!(
            !dec.conceal(&mut out),
            "G.711 leaves concealment to the jitter buffer"
        );
        assert!(matches!(
            dec.decode(&[], &mut out),
            Err(CodecError::BadPayloadLength(0))
        ));
    }
}

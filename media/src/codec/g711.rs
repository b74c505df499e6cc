//! G.711 (ITU-T G.711, 11/1988) PCMU (µ-law) and PCMA (A-law), written in-house.
//!
//! Linear samples are 16-bit; µ-law quantizes the top 14 bits, A-law the top 13, exactly as
//! ITU-T G.191's reference software does: negative inputs are folded with the one's
//! complement (`!x`), so `x` and `!x` (= `-x - 1`) always give codes that differ only in the
//! sign bit, and the quantizer is symmetric. Out-of-range magnitudes clip to the last step.
//!
//! Decoding is a 256-entry table built at compile time (the interval midpoints of G.711
//! Tables 1 and 2, scaled to 16 bits). Encoding is arithmetic: a branchless fold, then the
//! segment and step read off the magnitude's `f32` exponent and mantissa, which the compiler
//! vectorises over a block of samples.
//!
//! RTP payload formats (RFC 3551 §4.5.14): static payload types 0 (PCMU) and 8 (PCMA),
//! 8000 Hz, one byte per sample, so a 20 ms frame is 160 bytes. Payloads of other lengths
//! (ptime 10 or 30) decode to as many samples as they have bytes; reframing is the caller's.

use super::{AudioDecoder, AudioEncoder, CodecError};
use crate::frame::SampleRate;

/// Which G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law, RTP "PCMU" (North America, Japan).
    Mu,
    /// A-law, RTP "PCMA" (Europe and most of the rest).
    A,
}

/// µ-law: 14-bit magnitude plus the bias of 33 that makes every segment start at a power of two.
const ULAW_BIAS: i32 = 33;
/// Largest µ-law magnitude (14-bit units) before biasing; larger values clip.
const ULAW_CLIP: i32 = 8191 - ULAW_BIAS;

/// The segment and step bits of a magnitude, read off its `f32` form: for an integer `m` in
/// 32..8192 (exact in `f32`), the exponent is `e = floor(log2 m)` and the top four mantissa
/// bits are the four bits below the leading one, `(m >> (e - 4)) & 0xF`. That is a G.711 code
/// before inversion: `((e - 5) << 4) | step` for µ-law (segment 0 starts at 32 after the
/// bias), `((e - 4) << 4) | step` for A-law above its first segment. Integer-to-float
/// conversion is one vector instruction per four samples, so a block of samples encodes with
/// no table (table lookups cannot be vectorised: 87 ns per PCMU frame with one, 40 without).
#[inline(always)]
fn exponent_and_step(m: u16) -> i32 {
    // Unsigned, so widening is a zero-extension; `to_bits() >> 19` keeps the sign (0), the
    // 8 exponent bits and the top 4 mantissa bits.
    (f32::from(m).to_bits() >> 19) as i32
}

/// One's complement fold: (magnitude, 0x80 if negative). `x ^ (x >> 15)` is `!x` for
/// negatives and `x` otherwise, so `x` and `!x` share a magnitude (symmetric quantizer).
#[inline(always)]
fn fold(x: i16) -> (i16, u8) {
    let s = x >> 15; // 0 or -1
    (x ^ s, (s as u8) & 0x80)
}

/// Encode one linear sample to µ-law.
#[inline(always)]
pub fn ulaw_encode(x: i16) -> u8 {
    let (mag, sign) = fold(x);
    // 14-bit magnitude, clipped, plus the bias: 33..=8191, so the exponent is 5..=12.
    let m = (mag as u16 >> 2).min(ULAW_CLIP as u16) + ULAW_BIAS as u16;
    let code = exponent_and_step(m) - ((127 + 5) << 4);
    // Positive codes have bit 7 set; clearing it gives the mirrored negative code.
    (code as u8 ^ 0xFF) ^ sign
}

/// Encode one linear sample to A-law.
#[inline(always)]
pub fn alaw_encode(x: i16) -> u8 {
    let (mag, sign) = fold(x);
    let m = mag as u16 >> 3; // 12-bit magnitude: 0..=4095
    // Segments 0 and 1 share a step of 2: below 32 the code is just m / 2.
    let code = if m < 32 {
        i32::from(m >> 1)
    } else {
        exponent_and_step(m) - ((127 + 4) << 4)
    };
    (code as u8 ^ 0xD5) ^ sign
}

const fn ulaw_decode_const(code: u8) -> i16 {
    let u = !code;
    let seg = ((u >> 4) & 0x07) as i32;
    let q = (u & 0x0F) as i32;
    // Interval midpoint in biased 14-bit units, unbiased, then scaled to 16 bits.
    let mid = (((q << 1) | 0x21) << seg) - ULAW_BIAS;
    let v = mid << 2;
    if u & 0x80 != 0 { -v as i16 } else { v as i16 }
}

const fn alaw_decode_const(code: u8) -> i16 {
    let a = code ^ 0x55;
    let seg = ((a >> 4) & 0x07) as i32;
    let q = (a & 0x0F) as i32;
    let mid = if seg == 0 {
        (q << 1) | 1
    } else {
        ((q << 1) | 0x21) << (seg - 1)
    };
    let v = mid << 3;
    if a & 0x80 != 0 { v as i16 } else { -v as i16 }
}

const fn build_table(law: Law) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match law {
            Law::Mu => ulaw_decode_const(i as u8),
            Law::A => alaw_decode_const(i as u8),
        };
        i += 1;
    }
    t
}

static ULAW_TABLE: [i16; 256] = build_table(Law::Mu);
static ALAW_TABLE: [i16; 256] = build_table(Law::A);

/// Decode one µ-law code.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

/// Decode one A-law code.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

impl Law {
    /// RTP static payload type (RFC 3551 table 4).
    pub const fn payload_type(self) -> u8 {
        match self {
            Law::Mu => 0,
            Law::A => 8,
        }
    }

    /// The code for digital silence (positive zero): what a silent frame is made of.
    pub const fn silence_code(self) -> u8 {
        match self {
            Law::Mu => 0xFF,
            Law::A => 0xD5,
        }
    }

    /// Encode a block of samples, appending one code per sample to `out`.
    pub fn encode_into(self, pcm: &[i16], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + pcm.len(), 0);
        let codes = out.get_mut(start..).unwrap_or_default();
        // Straight loops over equal-length slices: the compiler vectorises both.
        match self {
            Law::Mu => codes
                .iter_mut()
                .zip(pcm)
                .for_each(|(c, &x)| *c = ulaw_encode(x)),
            Law::A => codes
                .iter_mut()
                .zip(pcm)
                .for_each(|(c, &x)| *c = alaw_encode(x)),
        }
    }

    /// Decode a block of codes, appending one sample per code to `out`.
    pub fn decode_into(self, codes: &[u8], out: &mut Vec<i16>) {
        let table = match self {
            Law::Mu => &ULAW_TABLE,
            Law::A => &ALAW_TABLE,
        };
        out.extend(codes.iter().map(|&c| table[usize::from(c)]));
    }
}

/// G.711 decoder. Stateless; concealment is the jitter buffer's repeat-and-fade.
#[derive(Debug, Clone)]
pub struct G711Decoder {
    law: Law,
}

impl G711Decoder {
    pub fn new(law: Law) -> G711Decoder {
        G711Decoder { law }
    }

    pub fn law(&self) -> Law {
        self.law
    }
}

impl AudioDecoder for G711Decoder {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz8000
    }

    /// Any non-empty payload decodes (one sample per byte); an empty one is an error.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if payload.is_empty() {
            return Err(CodecError::BadPayloadLength(0));
        }
        self.law.decode_into(payload, out);
        Ok(())
    }
}

/// G.711 encoder. Stateless.
#[derive(Debug, Clone)]
pub struct G711Encoder {
    law: Law,
}

impl G711Encoder {
    pub fn new(law: Law) -> G711Encoder {
        G711Encoder { law }
    }

    pub fn law(&self) -> Law {
        self.law
    }
}

impl AudioEncoder for G711Encoder {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz8000
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.reserve(pcm.len());
        self.law.encode_into(pcm, out);
        Ok(())
    }
}

#[cfg(test)]
#[path = "g711_tests.rs"]
mod tests;

//! G.711 (ITU-T G.711, 11/1988) PCMU (µ-law) and PCMA (A-law), written in-house.
//!
//! Linear samples are 16-bit; µ-law quantizes the top 14 bits, A-law the top 13, exactly as
//! ITU-T G.191's reference software does: negative inputs are folded with the one's
//! complement (`!x`), so `x` and `!x` (= `-x - 1`) always give codes that differ only in the
//! sign bit, and the quantizer is symmetric. Out-of-range magnitudes clip to the last step.
//!
//! Decoding is a 256-entry table built at compile time (the interval midpoints of G.711
//! Tables 1 and 2, scaled to 16 bits). Encoding is a branchless fold plus one lookup in a
//! compile-time table indexed by the quantized magnitude (8 KiB µ-law, 4 KiB A-law), which
//! `leading_zeros` segment arithmetic fills.
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

/// µ-law code of a non-negative magnitude (16-bit units), before the sign is applied:
/// the segment from `leading_zeros`, then the four step bits. Builds the encode table.
const fn ulaw_positive(mag: i32) -> u8 {
    let m = min_i32(mag >> 2, ULAW_CLIP) + ULAW_BIAS; // 33..=8191: top bit is bit 5..=12
    let seg = (31 - (m as u32).leading_zeros()) as i32 - 5; // 0..=7
    let q = (m >> (seg + 1)) & 0x0F;
    (((seg << 4) | q) ^ 0xFF) as u8
}

/// A-law code of a non-negative magnitude (16-bit units), before the sign is applied.
const fn alaw_positive(mag: i32) -> u8 {
    let m = mag >> 3; // 12-bit magnitude: 0..=4095
    // Segments 0 and 1 share a step of 2; segment s >= 1 starts at 16 << s.
    let seg = (31 - ((m >> 4) as u32 | 1).leading_zeros()) as i32; // 0..=7
    let shift = if seg == 0 { 1 } else { seg };
    let q = (m >> shift) & 0x0F;
    (((seg << 4) | q) ^ 0xD5) as u8
}

const fn min_i32(a: i32, b: i32) -> i32 {
    if a < b { a } else { b }
}

/// Encode tables indexed by magnitude >> 2 (µ-law, 8 KiB) and >> 3 (A-law, 4 KiB): the
/// magnitude bits below those are discarded by the law anyway.
static ULAW_ENCODE: [u8; 8192] = {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        t[i] = ulaw_positive((i as i32) << 2);
        i += 1;
    }
    t
};

static ALAW_ENCODE: [u8; 4096] = {
    let mut t = [0u8; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = alaw_positive((i as i32) << 3);
        i += 1;
    }
    t
};

/// One's complement fold: (magnitude, 0x80 if negative). `x ^ (x >> 15)` is `!x` for
/// negatives and `x` otherwise, so `x` and `!x` share a magnitude (symmetric quantizer).
#[inline]
fn fold(x: i16) -> (usize, u8) {
    let s = x >> 15; // 0 or -1
    ((x ^ s) as u16 as usize, (s as u8) & 0x80)
}

/// Encode one linear sample to µ-law.
#[inline]
pub fn ulaw_encode(x: i16) -> u8 {
    let (mag, sign) = fold(x);
    // Positive codes have bit 7 set; clearing it gives the mirrored negative code.
    ULAW_ENCODE[(mag >> 2) & 0x1FFF] ^ sign
}

/// Encode one linear sample to A-law.
#[inline]
pub fn alaw_encode(x: i16) -> u8 {
    let (mag, sign) = fold(x);
    ALAW_ENCODE[(mag >> 3) & 0x0FFF] ^ sign
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
        match self {
            Law::Mu => out.extend(pcm.iter().map(|&x| ulaw_encode(x))),
            Law::A => out.extend(pcm.iter().map(|&x| alaw_encode(x))),
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

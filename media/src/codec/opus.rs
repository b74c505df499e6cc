//! Opus (RFC 6716) for RTP (RFC 7587) through `audiopus`, linked to the system libopus.
//!
//! Fixed profile: 48 kHz mono PCM, 20 ms frames (960 samples), VoIP application, in-band
//! FEC off. The RTP clock of Opus is always 48 kHz whatever the audio bandwidth
//! (RFC 7587 §4.1), and "opus/48000/2" in SDP does not mean we must decode stereo: the
//! decoder is mono and downmixes a stereo stream.
//!
//! Invariants: the encoder takes exactly one 20 ms frame; the decoder accepts any packet
//! duration up to 120 ms (RFC 6716 maximum), appending what it decodes; concealment
//! (`conceal`) runs libopus PLC for one 20 ms frame. libopus errors become
//! [`CodecError::Library`]; nothing a peer sends panics.
//!
//! Linking: audiopus_sys finds libopus through pkg-config (Debian `libopus-dev`) and links
//! it dynamically; without it, its build script would fall back to building the bundled
//! libopus with CMake, which our machines do not do.

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Channels, MutSignals, SampleRate as OpusRate};

use super::{AudioDecoder, AudioEncoder, CodecError};
use crate::frame::SampleRate;

/// Samples in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
/// Largest decoded packet: 120 ms at 48 kHz.
const MAX_DECODED: usize = 5760;
/// Output buffer for one encoded packet (RFC 6716 §3.4: a 20 ms frame is at most 1275
/// bytes; leave room).
const MAX_PACKET: usize = 1500;

fn lib_err(e: audiopus::Error) -> CodecError {
    CodecError::Library(e.to_string())
}

/// Opus encoder, 48 kHz mono, VoIP, FEC off.
#[derive(Debug)]
pub struct OpusEncoder {
    inner: Encoder,
    buf: Vec<u8>,
}

impl OpusEncoder {
    pub fn new() -> Result<OpusEncoder, CodecError> {
        let mut inner =
            Encoder::new(OpusRate::Hz48000, Channels::Mono, Application::Voip).map_err(lib_err)?;
        inner.set_inband_fec(false).map_err(lib_err)?;
        Ok(OpusEncoder {
            inner,
            buf: vec![0; MAX_PACKET],
        })
    }

    /// Whether in-band FEC is on (it is not; exposed for tests and diagnostics).
    pub fn inband_fec(&self) -> Result<bool, CodecError> {
        self.inner.inband_fec().map_err(lib_err)
    }
}

impl AudioEncoder for OpusEncoder {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz48000
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        if pcm.len() != FRAME_SAMPLES {
            return Err(CodecError::BadPayloadLength(pcm.len()));
        }
        let n = self.inner.encode(pcm, &mut self.buf).map_err(lib_err)?;
        out.extend_from_slice(self.buf.get(..n).unwrap_or_default());
        Ok(())
    }
}

/// Opus decoder, 48 kHz mono, with libopus packet-loss concealment.
#[derive(Debug)]
pub struct OpusDecoder {
    inner: Decoder,
    buf: Vec<i16>,
}

impl OpusDecoder {
    pub fn new() -> Result<OpusDecoder, CodecError> {
        Ok(OpusDecoder {
            inner: Decoder::new(OpusRate::Hz48000, Channels::Mono).map_err(lib_err)?,
            buf: vec![0; MAX_DECODED],
        })
    }

    fn run(&mut self, packet: Option<&[u8]>, frame: usize) -> Result<&[i16], CodecError> {
        let packet = packet.map(Packet::try_from).transpose().map_err(lib_err)?;
        let out = self.buf.get_mut(..frame).unwrap_or_default();
        let signals = MutSignals::try_from(out).map_err(lib_err)?;
        let n = self.inner.decode(packet, signals, false).map_err(lib_err)?;
        Ok(self.buf.get(..n).unwrap_or_default())
    }
}

impl AudioDecoder for OpusDecoder {
    fn rate(&self) -> SampleRate {
        SampleRate::Hz48000
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if payload.is_empty() {
            return Err(CodecError::BadPayloadLength(0));
        }
        let pcm = self.run(Some(payload), MAX_DECODED)?;
        out.extend_from_slice(pcm);
        Ok(())
    }

    fn conceal(&mut self, out: &mut Vec<i16>) -> bool {
        match self.run(None, FRAME_SAMPLES) {
            Ok(pcm) if !pcm.is_empty() => {
                out.extend_from_slice(pcm);
                true
            }
            _ => false,
        }
    }
}

pub(crate) fn new_decoder() -> Result<Box<dyn AudioDecoder>, CodecError> {
    Ok(Box::new(OpusDecoder::new()?))
}

pub(crate) fn new_encoder() -> Result<Box<dyn AudioEncoder>, CodecError> {
    Ok(Box::new(OpusEncoder::new()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::SampleRate;
    use crate::tone::{ToneGenerator, amplitude, tone_purity};

    fn round_trip(frames: usize) -> (Vec<i16>, Vec<usize>) {
        let mut enc = OpusEncoder::new().unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let mut tone = ToneGenerator::new(SampleRate::Hz48000, 1000.0, 10_000);
        let (mut pcm, mut sizes) = (Vec::new(), Vec::new());
        for _ in 0..frames {
            let mut payload = Vec::new();
            enc.encode(&tone.next_frame().samples, &mut payload)
                .unwrap();
            sizes.push(payload.len());
            dec.decode(&payload, &mut pcm).unwrap();
        }
        (pcm, sizes)
    }

    #[test]
    fn one_khz_tone_survives_a_round_trip() {
        let (pcm, sizes) = round_trip(50);
        assert_eq!(pcm.len(), 50 * FRAME_SAMPLES);
        assert!(sizes.iter().all(|&n| n > 10 && n < 400), "{sizes:?}");
        // Skip the codec's start-up (look-ahead and pre-skip); judge the last 0.5 s.
        let tail = &pcm[25 * FRAME_SAMPLES..];
        let a = amplitude(tail, 48_000, 1000.0);
        assert!((a - 10_000.0).abs() < 1_500.0, "amplitude {a}");
        assert!(tone_purity(tail, 48_000, 1000.0) > 0.95);
    }

    #[test]
    fn profile_is_voip_mono_without_fec() {
        let enc = OpusEncoder::new().unwrap();
        assert!(!enc.inband_fec().unwrap());
        assert_eq!(enc.rate(), SampleRate::Hz48000);
        let mut enc = OpusEncoder::new().unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            enc.encode(&[0; 160], &mut out),
            Err(CodecError::BadPayloadLength(160))
        ));
    }

    #[test]
    fn concealment_continues_the_tone_then_decoding_resumes() {
        let mut enc = OpusEncoder::new().unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let mut tone = ToneGenerator::new(SampleRate::Hz48000, 1000.0, 10_000);
        let mut pcm = Vec::new();
        for i in 0..30 {
            let mut payload = Vec::new();
            enc.encode(&tone.next_frame().samples, &mut payload)
                .unwrap();
            if i == 20 {
                let before = pcm.len();
                assert!(dec.conceal(&mut pcm));
                assert_eq!(pcm.len() - before, FRAME_SAMPLES);
                let concealed = &pcm[before..];
                assert!(amplitude(concealed, 48_000, 1000.0) > 2_000.0);
            } else {
                dec.decode(&payload, &mut pcm).unwrap();
            }
        }
        assert_eq!(pcm.len(), 30 * FRAME_SAMPLES);
    }

    #[test]
    fn garbage_payloads_are_errors_not_panics() {
        let mut dec = OpusDecoder::new().unwrap();
        let mut out = Vec::new();
        assert!(dec.decode(&[], &mut out).is_err());
        let mut x = 0xDEAD_BEEF_u32;
        for len in 1..200 {
            let p: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = dec.decode(&p, &mut out);
        }
        // Through the Codec enum, as the engine builds them.
        let boxed = crate::codec::Codec::Opus.new_decoder().unwrap();
        assert_eq!(boxed.rate(), SampleRate::Hz48000);
    }
}

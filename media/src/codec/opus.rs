//! Opus (RFC 6716) for RTP (RFC 7587) through `audiopus`, linked to the system libopus.
//!
//! Profile: mono PCM, 20 ms frames, VoIP application, in-band FEC off. PCM is 48 kHz by
//! default; the engine builds coders at 8 or 16 kHz for a leg in a room that mixes at that
//! rate ([`OpusEncoder::with_rate`], [`OpusDecoder::with_rate`]): libopus takes and gives
//! PCM at 8/12/16/24/48 kHz natively, so no resampler runs, and a narrowband encoder gets a
//! lower complexity ([`NARROWBAND_COMPLEXITY`]). The RTP clock of Opus is always 48 kHz
//! whatever the PCM rate or audio bandwidth (RFC 7587 §4.1), and "opus/48000/2" in SDP does
//! not mean we must decode stereo: the decoder is mono and downmixes a stereo stream.
//!
//! Invariants: the encoder takes exactly one 20 ms frame at its rate; the decoder accepts
//! any packet duration up to 120 ms (RFC 6716 maximum), appending what it decodes;
//! concealment (`conceal`) runs libopus PLC for one 20 ms frame. libopus errors become
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
/// Largest decoded packet: 120 ms, in 20 ms frames.
const MAX_FRAMES_DECODED: usize = 6;
/// Encoder complexity (0-10) for PCM at 8 kHz (a leg in a narrowband room, i.e. a
/// transcoded call). At 8 kHz libopus runs SILK, whose cost climbs steeply with complexity:
/// per 20 ms frame on our 2-vCPU EPYC VM about 185 us at 10 (the default), 95 us at 5,
/// 65 us at 3, 20 us at 1 (`cargo bench --bench codec opus8k`). 3 keeps SILK's
/// full-order noise shaping and pitch search; what it gives up (the delayed-decision
/// quantiser of 4 and above) is a small gain next to what the 8 kHz mix already lost.
pub const NARROWBAND_COMPLEXITY: u8 = 3;
/// Output buffer for one encoded packet (RFC 6716 §3.4: a 20 ms frame is at most 1275
/// bytes; leave room).
const MAX_PACKET: usize = 1500;

fn lib_err(e: audiopus::Error) -> CodecError {
    CodecError::Library(e.to_string())
}

/// The libopus PCM rate for ours (8, 16 and 48 kHz are all native to libopus).
fn opus_rate(rate: SampleRate) -> OpusRate {
    match rate {
        SampleRate::Hz8000 => OpusRate::Hz8000,
        SampleRate::Hz16000 => OpusRate::Hz16000,
        SampleRate::Hz48000 => OpusRate::Hz48000,
    }
}

/// Opus encoder, mono, VoIP, FEC off, PCM at 48 kHz unless built [`OpusEncoder::with_rate`].
#[derive(Debug)]
pub struct OpusEncoder {
    inner: Encoder,
    rate: SampleRate,
    buf: Vec<u8>,
}

impl OpusEncoder {
    /// 48 kHz PCM, libopus default complexity.
    pub fn new() -> Result<OpusEncoder, CodecError> {
        OpusEncoder::with_rate(SampleRate::Hz48000)
    }

    /// PCM at `rate`; at 8 kHz with [`NARROWBAND_COMPLEXITY`].
    pub fn with_rate(rate: SampleRate) -> Result<OpusEncoder, CodecError> {
        let mut inner =
            Encoder::new(opus_rate(rate), Channels::Mono, Application::Voip).map_err(lib_err)?;
        inner.set_inband_fec(false).map_err(lib_err)?;
        if rate == SampleRate::Hz8000 {
            inner
                .set_complexity(NARROWBAND_COMPLEXITY)
                .map_err(lib_err)?;
        }
        Ok(OpusEncoder {
            inner,
            rate,
            buf: vec![0; MAX_PACKET],
        })
    }

    /// Set the encoder complexity (0-10; for benchmarks and tuning).
    pub fn set_complexity(&mut self, complexity: u8) -> Result<(), CodecError> {
        self.inner.set_complexity(complexity).map_err(lib_err)
    }

    /// Whether in-band FEC is on (it is not; exposed for tests and diagnostics).
    pub fn inband_fec(&self) -> Result<bool, CodecError> {
        self.inner.inband_fec().map_err(lib_err)
    }
}

impl AudioEncoder for OpusEncoder {
    fn rate(&self) -> SampleRate {
        self.rate
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        if pcm.len() != self.rate.samples_per_frame() {
            return Err(CodecError::BadPayloadLength(pcm.len()));
        }
        let n = self.inner.encode(pcm, &mut self.buf).map_err(lib_err)?;
        out.extend_from_slice(self.buf.get(..n).unwrap_or_default());
        Ok(())
    }
}

/// Opus decoder, mono, with libopus packet-loss concealment; PCM at 48 kHz unless built
/// [`OpusDecoder::with_rate`].
#[derive(Debug)]
pub struct OpusDecoder {
    inner: Decoder,
    rate: SampleRate,
    buf: Vec<i16>,
}

impl OpusDecoder {
    /// 48 kHz PCM.
    pub fn new() -> Result<OpusDecoder, CodecError> {
        OpusDecoder::with_rate(SampleRate::Hz48000)
    }

    /// PCM at `rate` (libopus decodes any stream to any of its rates).
    pub fn with_rate(rate: SampleRate) -> Result<OpusDecoder, CodecError> {
        Ok(OpusDecoder {
            inner: Decoder::new(opus_rate(rate), Channels::Mono).map_err(lib_err)?,
            rate,
            buf: vec![0; MAX_FRAMES_DECODED * rate.samples_per_frame()],
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
        self.rate
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if payload.is_empty() {
            return Err(CodecError::BadPayloadLength(0));
        }
        let pcm = self.run(Some(payload), self.buf.len())?;
        out.extend_from_slice(pcm);
        Ok(())
    }

    fn conceal(&mut self, out: &mut Vec<i16>) -> bool {
        match self.run(None, self.rate.samples_per_frame()) {
            Ok(pcm) if !pcm.is_empty() => {
                out.extend_from_slice(pcm);
                true
            }
            _ => false,
        }
    }
}

pub(crate) fn new_decoder(rate: SampleRate) -> Result<Box<dyn AudioDecoder>, CodecError> {
    Ok(Box::new(OpusDecoder::with_rate(rate)?))
}

pub(crate) fn new_encoder(rate: SampleRate) -> Result<Box<dyn AudioEncoder>, CodecError> {
    Ok(Box::new(OpusEncoder::with_rate(rate)?))
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

    /// A narrowband room runs the coders at 8 kHz (complexity 3): a 1 kHz tone (as an
    /// 8 kHz mix carries it) must come back at its level and pure, with the 48 kHz RTP clock
    /// untouched (the packets are ordinary Opus packets a 48 kHz decoder plays).
    #[test]
    fn narrowband_coders_keep_a_tone() {
        let mut enc = OpusEncoder::with_rate(SampleRate::Hz8000).unwrap();
        let mut dec8 = OpusDecoder::with_rate(SampleRate::Hz8000).unwrap();
        let mut dec48 = OpusDecoder::new().unwrap();
        assert_eq!(
            (enc.rate(), dec8.rate()),
            (SampleRate::Hz8000, SampleRate::Hz8000)
        );
        let mut tone = ToneGenerator::new(SampleRate::Hz8000, 1000.0, 10_000);
        let (mut pcm8, mut pcm48) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            let mut payload = Vec::new();
            enc.encode(&tone.next_frame().samples, &mut payload)
                .unwrap();
            assert!(
                payload.len() > 10 && payload.len() < 400,
                "{}",
                payload.len()
            );
            dec8.decode(&payload, &mut pcm8).unwrap();
            dec48.decode(&payload, &mut pcm48).unwrap();
        }
        assert_eq!(pcm8.len(), 50 * 160);
        assert_eq!(pcm48.len(), 50 * FRAME_SAMPLES);
        let tail8 = &pcm8[25 * 160..];
        let a = amplitude(tail8, 8_000, 1000.0);
        assert!((a - 10_000.0).abs() < 1_500.0, "amplitude at 8 kHz {a}");
        assert!(tone_purity(tail8, 8_000, 1000.0) > 0.95);
        let tail48 = &pcm48[25 * FRAME_SAMPLES..];
        let a = amplitude(tail48, 48_000, 1000.0);
        assert!((a - 10_000.0).abs() < 1_500.0, "amplitude at 48 kHz {a}");
        assert!(tone_purity(tail48, 48_000, 1000.0) > 0.95);
        // Concealment at 8 kHz gives one 8 kHz frame.
        let before = pcm8.len();
        assert!(dec8.conceal(&mut pcm8));
        assert_eq!(pcm8.len() - before, 160);
        assert!(matches!(
            enc.encode(&[0; FRAME_SAMPLES], &mut Vec::new()),
            Err(CodecError::BadPayloadLength(FRAME_SAMPLES))
        ));
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

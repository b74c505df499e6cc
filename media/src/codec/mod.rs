//! Audio codecs: G.711 (PCMU/PCMA, in-house), Opus (audiopus over system libopus),
//! RFC 4733 telephone-event, and the 8/16/48 kHz resampler between them.
//!
//! Every audio codec encodes and decodes whole 20 ms frames ([`crate::frame::Frame`]);
//! [`Codec`] names them with their RTP parameters and builds boxed encoders/decoders, at
//! the codec's own PCM rate or, where the codec supports it natively, at another.

use crate::frame::SampleRate;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("payload of {0} bytes is not a whole 20 ms frame for this codec")]
    BadPayloadLength(usize),
    #[error("codec library error: {0}")]
    Library(String),
    #[error("this codec does not take or give PCM at {0} Hz")]
    UnsupportedRate(u32),
}

/// Decodes RTP payloads of one codec into 20 ms PCM frames at [`AudioDecoder::rate`].
pub trait AudioDecoder: Send {
    fn rate(&self) -> SampleRate;
    /// Decode one payload, appending the PCM samples to `out`.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError>;
    /// Produce one 20 ms frame of concealment for a lost packet, appended to `out`.
    /// Codecs with their own PLC (Opus) use it; others return `false` and leave concealment
    /// to the jitter buffer (repeat-and-fade).
    fn conceal(&mut self, _out: &mut Vec<i16>) -> bool {
        false
    }
}

/// Encodes 20 ms PCM frames at [`AudioEncoder::rate`] into RTP payloads.
pub trait AudioEncoder: Send {
    fn rate(&self) -> SampleRate;
    /// Encode one 20 ms frame, appending the payload bytes to `out`.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError>;
}

pub mod dtmf;
pub mod g711;
pub mod opus;
pub mod resample;

/// The audio codecs the engine speaks, with their RTP parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0, 8000 Hz.
    Pcmu,
    /// G.711 A-law, static payload type 8, 8000 Hz.
    Pcma,
    /// Opus (RFC 7587): dynamic payload type, RTP clock always 48000 Hz, "opus/48000/2".
    Opus,
}

impl Codec {
    /// The static payload type, or `None` for codecs that need a dynamic one from SDP.
    pub const fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::Opus => None,
        }
    }

    /// RTP timestamp clock rate in Hz (what the timestamp advances by per second).
    pub const fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8_000,
            Codec::Opus => 48_000,
        }
    }

    /// RTP timestamp increment for one 20 ms frame.
    pub const fn samples_per_frame(self) -> u32 {
        self.clock_rate() / 1000 * crate::frame::FRAME_MS
    }

    /// Rate of the PCM frames this codec's encoder takes and decoder produces.
    pub const fn pcm_rate(self) -> SampleRate {
        match self {
            Codec::Pcmu | Codec::Pcma => SampleRate::Hz8000,
            Codec::Opus => SampleRate::Hz48000,
        }
    }

    /// Encoding name as written in an SDP rtpmap (case-insensitive on the wire).
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::Opus => "opus",
        }
    }

    /// Whether the codec's coders can take and give PCM at `rate` without a resampler:
    /// G.711 only at 8 kHz, Opus at every rate we use (libopus converts internally).
    pub const fn has_native_rate(self, rate: SampleRate) -> bool {
        match self {
            Codec::Pcmu | Codec::Pcma => matches!(rate, SampleRate::Hz8000),
            Codec::Opus => true,
        }
    }

    /// A decoder producing PCM at [`Codec::pcm_rate`].
    pub fn new_decoder(self) -> Result<Box<dyn AudioDecoder>, CodecError> {
        self.new_decoder_at(self.pcm_rate())
    }

    /// An encoder taking PCM at [`Codec::pcm_rate`].
    pub fn new_encoder(self) -> Result<Box<dyn AudioEncoder>, CodecError> {
        self.new_encoder_at(self.pcm_rate())
    }

    /// A decoder producing PCM at `rate`; an error unless [`Codec::has_native_rate`].
    pub fn new_decoder_at(self, rate: SampleRate) -> Result<Box<dyn AudioDecoder>, CodecError> {
        match self {
            _ if !self.has_native_rate(rate) => Err(CodecError::UnsupportedRate(rate.hz())),
            Codec::Pcmu => Ok(Box::new(g711::G711Decoder::new(g711::Law::Mu))),
            Codec::Pcma => Ok(Box::new(g711::G711Decoder::new(g711::Law::A))),
            Codec::Opus => opus::new_decoder(rate),
        }
    }

    /// An encoder taking PCM at `rate`; an error unless [`Codec::has_native_rate`].
    pub fn new_encoder_at(self, rate: SampleRate) -> Result<Box<dyn AudioEncoder>, CodecError> {
        match self {
            _ if !self.has_native_rate(rate) => Err(CodecError::UnsupportedRate(rate.hz())),
            Codec::Pcmu => Ok(Box::new(g711::G711Encoder::new(g711::Law::Mu))),
            Codec::Pcma => Ok(Box::new(g711::G711Encoder::new(g711::Law::A))),
            Codec::Opus => opus::new_encoder(rate),
        }
    }
}

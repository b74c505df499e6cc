//! Audio codecs: G.711 (PCMU/PCMA, in-house), Opus (audiopus over system libopus),
//! and RFC 4733 telephone-event.
//!
//! Every audio codec encodes and decodes whole 20 ms frames ([`crate::frame::Frame`]).

use crate::frame::SampleRate;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("payload of {0} bytes is not a whole 20 ms frame for this codec")]
    BadPayloadLength(usize),
    #[error("codec library error: {0}")]
    Library(String),
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

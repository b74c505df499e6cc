//! Opus (RFC 6716, RTP payload RFC 7587) over the system libopus: not built yet.
//!
//! Until the audiopus binding lands, the constructors return [`CodecError::Library`] so
//! callers can already match on [`super::Codec::Opus`].

use super::{AudioDecoder, AudioEncoder, CodecError};

pub(crate) fn new_decoder() -> Result<Box<dyn AudioDecoder>, CodecError> {
    Err(CodecError::Library("opus support not built yet".into()))
}

pub(crate) fn new_encoder() -> Result<Box<dyn AudioEncoder>, CodecError> {
    Err(CodecError::Library("opus support not built yet".into()))
}

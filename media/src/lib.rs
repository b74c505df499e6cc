//! switchboard-media: the RTP side of every call. Knows RTP, codecs and audio, never SIP.

pub mod codec;
pub mod frame;

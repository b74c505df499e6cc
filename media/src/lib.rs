//! switchboard-media: the RTP side of every call. Knows RTP, codecs and audio, never SIP.
//!
//! Layers, bottom up: [`frame`] (20 ms PCM), [`codec`] (G.711, Opus, telephone-event),
//! [`rtp`] (packets, RTCP, continuity, statistics), [`jitter`] (adaptive buffer),
//! [`sdp`] (offer/answer), [`room`] (the pure mix over a hears-matrix), [`play`] and
//! [`record`] (WAV in and out), and [`engine`] (worker threads and sockets: the I/O shell).

pub mod codec;
pub mod engine;
pub mod frame;
pub mod jitter;
pub mod play;
pub mod record;
pub mod room;
pub mod rtp;
pub mod sdp;
pub mod tone;

//! RTP and RTCP for one call leg (RFC 3550), with no sockets and no clock.
//!
//! * [`RtpPacket::parse`] reads a datagram (via `rtp-rs`); a malformed one is an
//!   [`RtpError`], never a panic.
//! * [`RtpSender`] owns our SSRC, sequence number and timestamp for the leg's whole life, so
//!   what the far end hears stays one continuous stream when the source behind it changes
//!   (prompt -> bridge -> swap): the marker bit flags the change (RFC 3551 §4.1).
//! * [`RtpReceiver`] keeps the reception statistics of RFC 3550 appendix A.1 (sequence
//!   validation, extended highest sequence), A.3 (loss) and A.8 (interarrival jitter),
//!   produces report blocks, remembers the last SR for LSR/DLSR and computes the round-trip
//!   time from report blocks about our SSRC (§6.4.1).
//! * [`rtcp`] builds and parses compound RTCP (SR/RR + SDES CNAME, BYE) via `rtcp-types`.
//! * [`Latch`] decides which source address a symmetric-RTP leg sends to (RFC 4961 spirit).
//!
//! Times: `Instant` for arrival (jitter, DLSR), [`NtpTime`] (the shell's wallclock) for SR
//! timestamps and RTT, always passed in by the caller.

use std::time::Duration;

mod latch;
pub mod rtcp;
mod stats;

pub use latch::{Latch, LatchDecision};
pub use stats::{ReceiverSnapshot, RtpReceiver, SeqVerdict, rtt_from_block};

/// Errors reading or writing RTP/RTCP; all are the peer's fault except `Build`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("malformed RTP packet: {0}")]
    MalformedRtp(String),
    #[error("malformed RTCP packet: {0}")]
    MalformedRtcp(String),
    #[error("cannot build packet: {0}")]
    Build(String),
}

/// A 64-bit NTP timestamp (RFC 3550 §4): seconds since 1900 in the high 32 bits, fraction
/// in the low 32. The I/O shell makes it from the wallclock; cores only carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// Seconds between 1900-01-01 and the Unix epoch.
    pub const UNIX_OFFSET_SECS: u64 = 2_208_988_800;

    /// From a duration since the Unix epoch (what `SystemTime::duration_since` gives).
    pub fn from_unix(since_epoch: Duration) -> NtpTime {
        let secs = since_epoch.as_secs().wrapping_add(Self::UNIX_OFFSET_SECS);
        let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits, the "compact" form used by LSR (16.16 fixed point seconds).
    pub fn middle(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// Converts a 16.16 fixed-point seconds value (DLSR, RTT) to a `Duration`.
pub fn compact_to_duration(v: u32) -> Duration {
    Duration::from_micros((u64::from(v) * 1_000_000) >> 16)
}

/// Converts a `Duration` to 16.16 fixed-point seconds, saturating.
pub fn duration_to_compact(d: Duration) -> u32 {
    let v = (d.as_micros() << 16) / 1_000_000;
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The fixed RTP header fields we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// A parsed RTP packet borrowing the datagram.
#[derive(Debug, Clone, Copy)]
pub struct RtpPacket<'a> {
    pub header: RtpHeader,
    /// Payload without CSRCs, header extension and padding.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    pub fn parse(datagram: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let r = rtp_rs::RtpReader::new(datagram)
            .map_err(|e| RtpError::MalformedRtp(format!("{e:?}")))?;
        Ok(RtpPacket {
            header: RtpHeader {
                payload_type: r.payload_type(),
                marker: r.mark(),
                sequence: u16::from(r.sequence_number()),
                timestamp: r.timestamp(),
                ssrc: r.ssrc(),
            },
            payload: r.payload(),
        })
    }

    /// True for datagrams that look like RTCP rather than RTP on a muxed port (RFC 5761
    /// §4: second byte 192..=223 is an RTCP packet type).
    pub fn looks_like_rtcp(datagram: &[u8]) -> bool {
        matches!(datagram.get(1), Some(192..=223))
    }
}

/// Owns the sending side of one leg: SSRC, sequence number and timestamp, continuous for
/// the leg's whole life whatever source feeds it.
///
/// Per 20 ms tick, call exactly one of: [`RtpSender::next_packet`] (audio),
/// [`RtpSender::skip`] (nothing sent this tick: the timestamp still advances), or
/// [`RtpSender::event_packet`]s followed by [`RtpSender::skip`] (telephone-event, whose
/// packets carry the event's start timestamp).
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    packets_sent: u32,
    octets_sent: u32,
    /// Set by `skip` or a source change: the next audio packet carries the marker.
    mark_next: bool,
}

impl RtpSender {
    /// `ssrc`, `initial_seq` and `initial_timestamp` should be random (RFC 3550 §5.1); the
    /// caller draws them so this core needs no RNG.
    pub fn new(ssrc: u32, initial_seq: u16, initial_timestamp: u32) -> RtpSender {
        RtpSender {
            ssrc,
            seq: initial_seq,
            timestamp: initial_timestamp,
            packets_sent: 0,
            octets_sent: 0,
            mark_next: true,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.seq
    }

    /// Timestamp the next audio packet will carry.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// (packets, payload octets) sent so far, for the SR sender info.
    pub fn counts(&self) -> (u32, u32) {
        (self.packets_sent, self.octets_sent)
    }

    /// Builds the next audio packet and advances: sequence by one, timestamp by `samples`
    /// (160 for 20 ms at 8 kHz, 960 for Opus). The marker is set on the first packet, on
    /// `source_changed`, and after a silent gap.
    pub fn next_packet(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        samples: u32,
        source_changed: bool,
    ) -> Result<Vec<u8>, RtpError> {
        let marker = self.mark_next || source_changed;
        let packet = self.build(payload_type, payload, marker, self.timestamp)?;
        self.mark_next = false;
        self.timestamp = self.timestamp.wrapping_add(samples);
        Ok(packet)
    }

    /// Builds a packet with an explicit timestamp and marker (RFC 4733 events: all packets
    /// of an event carry its start timestamp). Advances the sequence only.
    pub fn event_packet(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        marker: bool,
        timestamp: u32,
    ) -> Result<Vec<u8>, RtpError> {
        self.build(payload_type, payload, marker, timestamp)
    }

    /// A tick without an audio packet: the timestamp advances by `samples`, the sequence
    /// does not, and the next audio packet carries the marker (end of a silent period).
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
        self.mark_next = true;
    }

    fn build(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        marker: bool,
        timestamp: u32,
    ) -> Result<Vec<u8>, RtpError> {
        let packet = rtp_rs::RtpPacketBuilder::new()
            .payload_type(payload_type)
            .marked(marker)
            .sequence(rtp_rs::Seq::from(self.seq))
            .timestamp(timestamp)
            .ssrc(self.ssrc)
            .payload(payload)
            .build()
            .map_err(|e| RtpError::Build(format!("{e:?}")))?;
        self.seq = self.seq.wrapping_add(1);
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self
            .octets_sent
            .wrapping_add(u32::try_from(payload.len()).unwrap_or(u32::MAX));
        Ok(packet)
    }
}

#[cfg(test)]
mod tests;

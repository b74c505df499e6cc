//! Reception statistics for one leg (RFC 3550 appendix A.1, A.3, A.8 and §6.4.1).
//!
//! Invariants: statistics describe one remote SSRC at a time; a new SSRC restarts them
//! (counted in `ssrc_changes`). Sequence numbers are extended with a 16-bit cycle count; a
//! jump of more than `MAX_DROPOUT` ahead or `MAX_MISORDER` behind is "bad" until confirmed
//! by the next packet (A.1). Jitter is kept in 1/16 timestamp units as in A.8.

use std::time::{Duration, Instant};

use super::rtcp::{ReportBlockData, RtcpPacketInfo};
use super::{NtpTime, RtpHeader, compact_to_duration, duration_to_compact};

const MIN_SEQUENTIAL: u32 = 2;
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// What sequence validation (A.1) made of a packet. Informative: the jitter buffer decides
/// playout on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// In sequence or a small reordering/duplicate: counted.
    Valid,
    /// A new source on probation (first packets of an SSRC).
    Probation,
    /// A large jump; counted only if the next packet confirms it (the peer restarted).
    Bad,
}

/// A copy of the counters for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceiverSnapshot {
    pub ssrc: Option<u32>,
    pub received: u32,
    pub expected: u32,
    /// Cumulative lost (A.3); negative when duplicates outnumber losses.
    pub lost: i64,
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in timestamp units (A.8).
    pub jitter: u32,
    pub jitter_duration: Duration,
    pub ssrc_changes: u32,
    pub rtt: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the previous packet, in timestamp units.
    transit: Option<i64>,
    /// Jitter * 16 (A.8's integer form); u64 so a hostile peer cannot overflow it.
    jitter_q4: u64,
}

/// Per-leg receive side: feed every RTP header and every RTCP compound from the peer.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    clock_rate: u32,
    /// Packets with this payload type (telephone-event: frozen timestamps) skip jitter.
    event_payload_type: Option<u8>,
    origin: Option<Instant>,
    source: Option<Source>,
    ssrc_changes: u32,
    /// Compact NTP of the last SR from the source and when it arrived.
    last_sr: Option<(u32, Instant)>,
    rtt: Option<Duration>,
}

impl RtpReceiver {
    pub fn new(clock_rate: u32) -> RtpReceiver {
        RtpReceiver {
            clock_rate: clock_rate.max(1),
            event_payload_type: None,
            origin: None,
            source: None,
            ssrc_changes: 0,
            last_sr: None,
            rtt: None,
        }
    }

    /// Telephone-event packets keep one timestamp for a whole event and would read as
    /// jitter; packets of this type are counted but not used for jitter.
    pub fn set_event_payload_type(&mut self, pt: Option<u8>) {
        self.event_payload_type = pt;
    }

    /// Arrival time in timestamp units since the first packet.
    fn arrival_units(&mut self, now: Instant) -> i64 {
        let origin = *self.origin.get_or_insert(now);
        let us = now.saturating_duration_since(origin).as_micros();
        (us * u128::from(self.clock_rate) / 1_000_000) as i64
    }

    /// One received RTP packet (A.1 `update_seq` plus A.8 jitter).
    pub fn handle_rtp(&mut self, now: Instant, h: &RtpHeader) -> SeqVerdict {
        let arrival = self.arrival_units(now);
        let src = match self.source.as_mut() {
            Some(s) if s.ssrc == h.ssrc => s,
            _ => {
                if self.source.is_some() {
                    self.ssrc_changes = self.ssrc_changes.saturating_add(1);
                    self.last_sr = None;
                }
                self.source.insert(Source {
                    ssrc: h.ssrc,
                    max_seq: h.sequence.wrapping_sub(1),
                    cycles: 0,
                    base_seq: u32::from(h.sequence),
                    bad_seq: RTP_SEQ_MOD + 1,
                    probation: MIN_SEQUENTIAL,
                    received: 0,
                    expected_prior: 0,
                    received_prior: 0,
                    transit: None,
                    jitter_q4: 0,
                })
            }
        };
        let verdict = update_seq(src, h.sequence);
        if verdict == SeqVerdict::Valid && Some(h.payload_type) != self.event_payload_type {
            let transit = arrival - i64::from(h.timestamp);
            if let Some(prev) = src.transit {
                // Timestamps wrap at 2^32: take the difference modulo 2^32, signed.
                let d = (transit - prev) as i32;
                let d = u64::from(d.unsigned_abs());
                // J += (|D| - J) / 16, in 1/16 units.
                src.jitter_q4 = src.jitter_q4 + d - ((src.jitter_q4 + 8) >> 4);
            }
            src.transit = Some(transit);
        }
        verdict
    }

    /// Handles an RTCP compound from the peer: records its SR (for LSR/DLSR) and, from
    /// report blocks about `our_ssrc`, the round-trip time. `now_ntp` must come from the
    /// same clock we put in our own SRs.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        now_ntp: NtpTime,
        our_ssrc: u32,
        packets: &[RtcpPacketInfo],
    ) {
        for p in packets {
            let blocks = match p {
                RtcpPacketInfo::SenderReport { sr, blocks } => {
                    if self.source.as_ref().is_none_or(|s| s.ssrc == sr.ssrc) {
                        self.last_sr = Some((sr.ntp.middle(), now));
                    }
                    blocks
                }
                RtcpPacketInfo::ReceiverReport { blocks, .. } => blocks,
                _ => continue,
            };
            for b in blocks.iter().filter(|b| b.ssrc == our_ssrc) {
                if let Some(rtt) = rtt_from_block(b, now_ntp) {
                    self.rtt = Some(rtt);
                }
            }
        }
    }

    /// The report block describing the current source (A.3), for our next SR or RR.
    /// Advances the "prior" counters, so call it once per report.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlockData> {
        let last_sr = self.last_sr;
        let src = self.source.as_mut()?;
        if src.probation > 0 && src.received == 0 {
            return None;
        }
        let ext_max = src.cycles.wrapping_add(u32::from(src.max_seq));
        let expected = ext_max.wrapping_sub(src.base_seq).wrapping_add(1);
        let lost = i64::from(expected) - i64::from(src.received);
        let expected_interval = expected.wrapping_sub(src.expected_prior);
        src.expected_prior = expected;
        let received_interval = src.received.wrapping_sub(src.received_prior);
        src.received_prior = src.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (lsr, dlsr) = match last_sr {
            Some((lsr, at)) => (lsr, duration_to_compact(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        Some(ReportBlockData {
            ssrc: src.ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
            extended_highest_sequence: ext_max,
            jitter: jitter_units(src.jitter_q4),
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        })
    }

    pub fn snapshot(&self) -> ReceiverSnapshot {
        let (ssrc, received, expected, ext, jitter) = match &self.source {
            Some(s) => {
                let ext = s.cycles.wrapping_add(u32::from(s.max_seq));
                let expected = if s.received == 0 {
                    0
                } else {
                    ext.wrapping_sub(s.base_seq).wrapping_add(1)
                };
                (
                    Some(s.ssrc),
                    s.received,
                    expected,
                    ext,
                    jitter_units(s.jitter_q4),
                )
            }
            None => (None, 0, 0, 0, 0),
        };
        ReceiverSnapshot {
            ssrc,
            received,
            expected,
            lost: i64::from(expected) - i64::from(received),
            extended_highest_sequence: ext,
            jitter,
            jitter_duration: Duration::from_micros(
                u64::from(jitter) * 1_000_000 / u64::from(self.clock_rate),
            ),
            ssrc_changes: self.ssrc_changes,
            rtt: self.rtt,
        }
    }
}

fn jitter_units(q4: u64) -> u32 {
    u32::try_from(q4 >> 4).unwrap_or(u32::MAX)
}

/// RFC 3550 A.1 `update_seq`.
fn update_seq(s: &mut Source, seq: u16) -> SeqVerdict {
    let udelta = seq.wrapping_sub(s.max_seq);
    if s.probation > 0 {
        if seq == s.max_seq.wrapping_add(1) {
            s.probation -= 1;
            s.max_seq = seq;
            if s.probation == 0 {
                init_seq(s, seq);
                s.received += 1;
                return SeqVerdict::Valid;
            }
        } else {
            s.probation = MIN_SEQUENTIAL - 1;
            s.max_seq = seq;
        }
        return SeqVerdict::Probation;
    } else if udelta < MAX_DROPOUT {
        if seq < s.max_seq {
            s.cycles = s.cycles.wrapping_add(RTP_SEQ_MOD);
        }
        s.max_seq = seq;
    } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
        if u32::from(seq) == s.bad_seq {
            // Two sequential packets after a jump: the source restarted.
            init_seq(s, seq);
        } else {
            s.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
            return SeqVerdict::Bad;
        }
    }
    // else: duplicate or reordered packet, counted.
    s.received = s.received.wrapping_add(1);
    SeqVerdict::Valid
}

fn init_seq(s: &mut Source, seq: u16) {
    s.base_seq = u32::from(seq);
    s.max_seq = seq;
    s.bad_seq = RTP_SEQ_MOD + 1;
    s.cycles = 0;
    s.received = 0;
    s.received_prior = 0;
    s.expected_prior = 0;
}

/// Round-trip time from a report block about our stream (RFC 3550 §6.4.1: A - LSR -
/// DLSR, in compact NTP). `None` when the peer has not seen an SR from us yet or the
/// result would be negative (clock trouble).
pub fn rtt_from_block(b: &ReportBlockData, now_ntp: NtpTime) -> Option<Duration> {
    if b.last_sr == 0 {
        return None;
    }
    let a = now_ntp.middle();
    let rtt = a
        .wrapping_sub(b.last_sr)
        .wrapping_sub(b.delay_since_last_sr);
    // A wrapped "negative" value shows up as huge: reject anything over a minute.
    (rtt < 60 << 16).then(|| compact_to_duration(rtt))
}

//! RFC 4733 telephone-event: DTMF digits carried as named events in RTP.
//!
//! Payload (§2.3): event (8 bits), E(nd) bit, R(eserved), volume (6 bits, -dBm0), and a
//! 16-bit duration in RTP timestamp units. Every packet of one event carries the RTP
//! timestamp of the event's start; the start packet has the marker bit (§2.5.1.1); the
//! final packet, with E set, is sent three times (§2.5.1.4).
//!
//! Invariants. [`DtmfReceiver`] identifies an event by its RTP timestamp and reports each
//! event exactly once, when it ends: on the first E packet, when a packet of a later event
//! arrives (all end packets lost), or after [`DtmfReceiver::STALL`] without packets. It
//! tolerates a lost start packet (any packet of an unseen timestamp starts an event) and
//! ignores redundant end packets and late packets of events already reported. Only DTMF
//! events 0-15 are reported; other events (flash, tones) are ignored. Nothing a peer sends
//! panics: a short payload is a [`DtmfError`].
//! [`DtmfSender`] is driven by the 20 ms tick and says per tick whether an event owns it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::frame::FRAME_MS;

/// A DTMF key (RFC 4733 §3.2, events 0-15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit(u8);

impl Digit {
    /// From the key label: `0`-`9`, `*`, `#`, `A`-`D` (case-insensitive).
    pub fn from_char(c: char) -> Option<Digit> {
        let code = match c.to_ascii_uppercase() {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => c.to_ascii_uppercase() as u8 - b'A' + 12,
            _ => return None,
        };
        Some(Digit(code))
    }

    /// From the RFC 4733 event code; `None` for non-DTMF events (16 and up).
    pub fn from_event(event: u8) -> Option<Digit> {
        (event <= 15).then_some(Digit(event))
    }

    pub fn event(self) -> u8 {
        self.0
    }

    pub fn as_char(self) -> char {
        match self.0 {
            0..=9 => char::from(b'0' + self.0),
            10 => '*',
            11 => '#',
            n => char::from(b'A' + n - 12),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    #[error("telephone-event payload of {0} bytes is shorter than 4")]
    ShortPayload(usize),
}

/// One telephone-event payload (RFC 4733 §2.3, figure 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    /// Power level in -dBm0, 0..=63 (larger is quieter).
    pub volume: u8,
    /// Duration so far in RTP timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        let flags = if self.end { 0x80 } else { 0 } | (self.volume & 0x3F);
        [self.event, flags, d[0], d[1]]
    }

    /// Parse the first four bytes; trailing bytes (padding some senders add) are ignored.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, DtmfError> {
        match payload {
            [event, flags, d0, d1, ..] => Ok(TelephoneEvent {
                event: *event,
                end: flags & 0x80 != 0,
                volume: flags & 0x3F,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => Err(DtmfError::ShortPayload(payload.len())),
        }
    }
}

/// A digit the far end pressed, reported once when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    pub digit: Digit,
    /// Estimated start: arrival of the first packet seen minus the duration it carried.
    pub started_at: Instant,
    pub duration: Duration,
    /// The event's RTP timestamp (its identity on the wire).
    pub rtp_timestamp: u32,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    digit: Option<Digit>,
    started_at: Instant,
    duration: u16,
    last_packet: Instant,
}

/// Turns received telephone-event packets into digits. Feed every packet of the
/// telephone-event payload type to [`DtmfReceiver::handle_packet`]; call
/// [`DtmfReceiver::handle_timeout`] at [`DtmfReceiver::poll_timeout`]; drain
/// [`DtmfReceiver::poll_event`] after either.
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    clock_rate: u32,
    current: Option<Current>,
    /// Timestamp of the last event reported: its redundant end packets are dropped.
    last_reported: Option<u32>,
    events: VecDeque<DtmfDigit>,
}

/// Is `a` a recent past of `b` in RTP timestamp space (wrapping, RFC 3550 §5.1)? Only
/// `window` units back count: a farther jump is a restarted stream, not a late packet.
fn ts_recently_before(a: u32, b: u32, window: u32) -> bool {
    a != b && b.wrapping_sub(a) <= window
}

impl DtmfReceiver {
    /// Without a packet for this long, an event whose end packets were all lost is ended.
    pub const STALL: Duration = Duration::from_millis(500);

    /// `clock_rate`: the telephone-event rtpmap rate (8000 unless negotiated otherwise).
    pub fn new(clock_rate: u32) -> DtmfReceiver {
        DtmfReceiver {
            clock_rate: clock_rate.max(1),
            current: None,
            last_reported: None,
            events: VecDeque::new(),
        }
    }

    /// How far back a timestamp still counts as a late packet: 8 seconds.
    fn window(&self) -> u32 {
        self.clock_rate.saturating_mul(8)
    }

    /// Forget everything (new SSRC): an open event is dropped unreported.
    pub fn reset(&mut self) {
        self.current = None;
        self.last_reported = None;
    }

    fn to_duration(&self, units: u16) -> Duration {
        Duration::from_micros(u64::from(units) * 1_000_000 / u64::from(self.clock_rate))
    }

    /// One received telephone-event packet. The marker bit is informative only: a start
    /// packet may be lost, so any new timestamp starts an event.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        rtp_timestamp: u32,
        _marker: bool,
        payload: &[u8],
    ) -> Result<(), DtmfError> {
        let ev = TelephoneEvent::parse(payload)?;
        if let Some(last) = self.last_reported
            && (last == rtp_timestamp || ts_recently_before(rtp_timestamp, last, self.window()))
        {
            return Ok(()); // redundant end, or a late packet of a reported event
        }
        match self.current {
            Some(cur) if cur.timestamp == rtp_timestamp => {}
            Some(cur) if ts_recently_before(rtp_timestamp, cur.timestamp, self.window()) => {
                return Ok(());
            }
            Some(_) => {
                // A later event began and we never saw this one's end.
                self.finish();
                self.start(now, rtp_timestamp, &ev);
            }
            None => self.start(now, rtp_timestamp, &ev),
        }
        if let Some(cur) = self.current.as_mut() {
            cur.duration = cur.duration.max(ev.duration);
            cur.last_packet = now;
        }
        if ev.end {
            self.finish();
        }
        Ok(())
    }

    fn start(&mut self, now: Instant, rtp_timestamp: u32, ev: &TelephoneEvent) {
        let started_at = now
            .checked_sub(self.to_duration(ev.duration))
            .unwrap_or(now);
        self.current = Some(Current {
            timestamp: rtp_timestamp,
            digit: Digit::from_event(ev.event),
            started_at,
            duration: ev.duration,
            last_packet: now,
        });
    }

    fn finish(&mut self) {
        if let Some(cur) = self.current.take() {
            self.last_reported = Some(cur.timestamp);
            if let Some(digit) = cur.digit {
                self.events.push_back(DtmfDigit {
                    digit,
                    started_at: cur.started_at,
                    duration: self.to_duration(cur.duration),
                    rtp_timestamp: cur.timestamp,
                });
            }
        }
    }

    /// When [`DtmfReceiver::handle_timeout`] should next run, if an event is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|c| c.last_packet + Self::STALL)
    }

    /// Ends an event that has gone quiet for [`DtmfReceiver::STALL`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout()
            && now >= deadline
        {
            self.finish();
        }
    }

    /// The next digit, in the order they ended.
    pub fn poll_event(&mut self) -> Option<DtmfDigit> {
        self.events.pop_front()
    }
}

/// What the sender does with one 20 ms tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtmfTick {
    /// No event owns this tick: send audio as usual.
    Idle,
    /// An event owns this tick: send these packets (possibly none) instead of audio.
    Event(Vec<DtmfPacket>),
}

/// One telephone-event packet to send with the given RTP timestamp (the event's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    pub timestamp: u32,
    pub marker: bool,
    pub payload: [u8; 4],
}

#[derive(Debug, Clone, Copy)]
struct Queued {
    digit: Digit,
    ticks: u32,
    volume: u8,
}

#[derive(Debug, Clone, Copy)]
enum SendState {
    Idle,
    Playing {
        q: Queued,
        timestamp: u32,
        tick: u32,
        last_update_ms: u32,
    },
    Gap {
        left: u32,
    },
}

/// Produces the RFC 4733 packet sequence for queued digits, one 20 ms tick at a time:
/// a start packet with the marker on the first tick, an update every `update_ms` (rounded
/// up to the tick grid), and three identical end packets on the last tick, all with the
/// RTP timestamp of the first tick. After each digit, `gap_ms` of audio ticks.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    clock_rate: u32,
    update_ms: u32,
    gap_ticks: u32,
    queue: VecDeque<Queued>,
    state: SendState,
}

impl DtmfSender {
    /// Defaults: 50 ms updates, 60 ms gap between digits.
    pub fn new(clock_rate: u32) -> DtmfSender {
        DtmfSender::with_timing(clock_rate, 50, 60)
    }

    pub fn with_timing(clock_rate: u32, update_ms: u32, gap_ms: u32) -> DtmfSender {
        DtmfSender {
            clock_rate,
            update_ms: update_ms.max(FRAME_MS),
            gap_ticks: gap_ms.div_ceil(FRAME_MS),
            queue: VecDeque::new(),
            state: SendState::Idle,
        }
    }

    /// Queue a digit of `duration_ms` (rounded up to whole ticks, at least one) at
    /// `volume` -dBm0 (10 is typical).
    pub fn send_digit(&mut self, digit: Digit, duration_ms: u32, volume: u8) {
        self.queue.push_back(Queued {
            digit,
            ticks: duration_ms.div_ceil(FRAME_MS).max(1),
            volume: volume.min(63),
        });
    }

    /// True while digits are queued, playing, or in their trailing gap.
    pub fn is_busy(&self) -> bool {
        !self.queue.is_empty() || !matches!(self.state, SendState::Idle)
    }

    fn units(&self, ms: u32) -> u16 {
        let u = u64::from(ms) * u64::from(self.clock_rate) / 1000;
        u16::try_from(u).unwrap_or(u16::MAX)
    }

    /// Advance one tick. `rtp_timestamp` is the timestamp an audio packet sent in this
    /// tick would carry; the first tick of an event adopts it as the event's timestamp.
    pub fn tick(&mut self, rtp_timestamp: u32) -> DtmfTick {
        if let SendState::Gap { left } = self.state {
            self.state = if left > 1 {
                SendState::Gap { left: left - 1 }
            } else {
                SendState::Idle
            };
            return DtmfTick::Idle;
        }
        if let SendState::Idle = self.state {
            match self.queue.pop_front() {
                Some(q) => {
                    self.state = SendState::Playing {
                        q,
                        timestamp: rtp_timestamp,
                        tick: 0,
                        last_update_ms: 0,
                    }
                }
                None => return DtmfTick::Idle,
            }
        }
        let SendState::Playing {
            q,
            timestamp,
            tick,
            last_update_ms,
        } = self.state
        else {
            return DtmfTick::Idle;
        };
        let elapsed_ms = (tick + 1) * FRAME_MS;
        let mut ev = TelephoneEvent {
            event: q.digit.event(),
            end: false,
            volume: q.volume,
            duration: self.units(elapsed_ms),
        };
        let mut packets = Vec::new();
        if tick + 1 >= q.ticks {
            ev.end = true;
            let p = DtmfPacket {
                timestamp,
                marker: tick == 0,
                payload: ev.to_bytes(),
            };
            packets.extend([
                p,
                DtmfPacket { marker: false, ..p },
                DtmfPacket { marker: false, ..p },
            ]);
            self.state = if self.gap_ticks > 0 {
                SendState::Gap {
                    left: self.gap_ticks,
                }
            } else {
                SendState::Idle
            };
            return DtmfTick::Event(packets);
        }
        let mut last = last_update_ms;
        if tick == 0 || elapsed_ms - last_update_ms >= self.update_ms {
            packets.push(DtmfPacket {
                timestamp,
                marker: tick == 0,
                payload: ev.to_bytes(),
            });
            last = elapsed_ms;
        }
        self.state = SendState::Playing {
            q,
            timestamp,
            tick: tick + 1,
            last_update_ms: last,
        };
        DtmfTick::Event(packets)
    }
}

#[cfg(test)]
#[path = "dtmf_tests.rs"]
mod tests;

//! Adaptive jitter buffer for one received audio stream, fed `now` (no clock, no sockets).
//!
//! Model: the caller [`JitterBuffer::push`]es every audio RTP packet as it arrives and
//! [`JitterBuffer::pop`]s once per 20 ms tick. The playout point (RTP timestamp units,
//! unwrapped to i64) advances one frame per pop like the sender's clock, so silent periods
//! (no packets, timestamps running on) need no special case.
//!
//! Invariants:
//! * A packet whose slot has been played is late (dropped, counted); one buffered or
//!   recently played with the same sequence number is a duplicate (dropped, counted).
//! * Target delay = one frame + 4 x RFC 3550 A.8 jitter, plus a frame per recent late
//!   packet, clamped to `[min_delay, max_delay]`. The playout point moves toward it at a
//!   talkspurt start (marker bit, nothing buffered: inaudible); a late packet holds it one
//!   tick (grow); in continuous speech one frame is dropped per second while every packet
//!   had three frames to spare (shrink).
//! * A new SSRC, or a timestamp more than [`JitterBuffer::JUMP`] from the playout point,
//!   resets the buffer. Sequence numbers and timestamps wrap (RFC 3550 §5.1).
//!
//! Concealment: a missing frame pops as [`Playout::Conceal`]; [`Concealer`] renders it with
//! the codec's PLC when it has one (Opus) or repeats the last frame with falling gain, then
//! silence (G.711).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::codec::AudioDecoder;
use crate::rtp::RtpHeader;

/// The last [`PlayedSeqs::LEN`] sequence numbers played, as a set: a ring inline in the
/// buffer (no heap line to miss per packet) whose membership test compiles to a few
/// vector compares.
#[derive(Debug, Clone, Default)]
struct PlayedSeqs {
    seqs: [u16; PlayedSeqs::LEN],
    len: usize,
    next: usize,
}

impl PlayedSeqs {
    const LEN: usize = 32;

    fn contains(&self, seq: u16) -> bool {
        self.seqs.get(..self.len).is_some_and(|s| s.contains(&seq))
    }

    fn push(&mut self, seq: u16) {
        if let Some(slot) = self.seqs.get_mut(self.next) {
            *slot = seq;
        }
        self.next = (self.next + 1) % Self::LEN;
        self.len = (self.len + 1).min(Self::LEN);
    }

    fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }
}

/// Jitter buffer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// RTP clock rate of the stream (8000 for G.711, 48000 for Opus).
    pub clock_rate: u32,
    /// RTP timestamp units per packet/frame (160 for 20 ms at 8 kHz).
    pub frame_units: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Delay used until jitter has been measured.
    pub initial_delay: Duration,
}

impl JitterConfig {
    /// 20 ms frames at `clock_rate`; delay 20..=200 ms starting at 60 ms.
    pub fn new(clock_rate: u32) -> JitterConfig {
        JitterConfig {
            clock_rate,
            frame_units: clock_rate / 50,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            initial_delay: Duration::from_millis(60),
        }
    }
}

/// What to play this tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode this payload.
    Payload {
        seq: u16,
        timestamp: u32,
        payload: Vec<u8>,
    },
    /// The frame is missing: conceal it (`consecutive` = 1 for the first missing frame).
    Conceal { consecutive: u32 },
    /// Nothing to play: not started, re-buffering, or a gap longer than concealment covers.
    Silence,
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Buffered,
    Duplicate,
    /// Arrived after its playout slot.
    Late,
    /// Buffered after a reset (new SSRC or timestamp jump).
    Reset,
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    pub played: u64,
    pub duplicates: u64,
    pub late: u64,
    /// Frames popped as `Conceal`.
    pub concealed: u64,
    /// Frames dropped to shrink the delay or because they were too far ahead.
    pub dropped: u64,
    pub grows: u64,
    pub shrinks: u64,
    pub resets: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Unwrapped timestamp: the queue's sort key.
    ext: i64,
    seq: u16,
    timestamp: u32,
    payload: Vec<u8>,
}

/// The adaptive jitter buffer. See the module docs for the model.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    ssrc: Option<u32>,
    /// Buffered packets in unwrapped-timestamp order, one per timestamp. A handful at most
    /// in practice, arriving mostly in order: a sorted ring beats a tree here.
    buf: VecDeque<Entry>,
    /// Payload buffers of played and dropped packets, reused for the next ones so a steady
    /// stream allocates nothing per packet.
    spare: Vec<Vec<u8>>,
    /// Unwrapping reference: a recent timestamp and its unwrapped value.
    ref_ts: u32,
    ref_ext: i64,
    /// Unwrapped timestamp of the next frame to play; `None` until the first packet.
    next_ts: Option<i64>,
    /// Sequence numbers of recently played packets (duplicate detection after playout).
    played: PlayedSeqs,
    consecutive_missing: u32,
    /// A.8 jitter state: previous transit (units) and jitter * 16.
    origin: Option<Instant>,
    transit: Option<i64>,
    jitter_q4: u64,
    /// Extra target delay (units) after late packets, decaying.
    late_boost: i64,
    /// Smallest margin (unwrapped ts - next_ts) in the current window, and window size.
    window_min_margin: i64,
    window_count: u32,
    /// Ticks to hold the playout point (grow the delay).
    hold: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// Timestamp distance (in seconds of media) beyond which a packet means a new stream.
    pub const JUMP: Duration = Duration::from_secs(2);
    /// Missing frames concealed before going silent.
    pub const MAX_CONCEAL: u32 = 5;
    const WINDOW: u32 = 50;
    /// Payload buffers kept for reuse at most.
    const SPARE: usize = 8;

    pub fn new(cfg: JitterConfig) -> JitterBuffer {
        let cfg = JitterConfig {
            clock_rate: cfg.clock_rate.max(1),
            frame_units: cfg.frame_units.max(1),
            ..cfg
        };
        JitterBuffer {
            cfg,
            ssrc: None,
            buf: VecDeque::new(),
            spare: Vec::new(),
            ref_ts: 0,
            ref_ext: 0,
            next_ts: None,
            played: PlayedSeqs::default(),
            consecutive_missing: 0,
            origin: None,
            transit: None,
            jitter_q4: 0,
            late_boost: 0,
            window_min_margin: i64::MAX,
            window_count: 0,
            hold: 0,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    fn units(&self, d: Duration) -> i64 {
        (d.as_micros() * u128::from(self.cfg.clock_rate) / 1_000_000) as i64
    }

    fn to_duration(&self, units: i64) -> Duration {
        let units = u64::try_from(units.max(0)).unwrap_or(0);
        Duration::from_micros(units * 1_000_000 / u64::from(self.cfg.clock_rate))
    }

    /// Interarrival jitter (RFC 3550 A.8) of the stream as measured here.
    pub fn jitter(&self) -> Duration {
        self.to_duration((self.jitter_q4 >> 4) as i64)
    }

    /// The delay the buffer is steering toward.
    pub fn target_delay(&self) -> Duration {
        self.to_duration(self.target_units())
    }

    fn target_units(&self) -> i64 {
        let min = self.units(self.cfg.min_delay);
        let max = self.units(self.cfg.max_delay).max(min);
        let base = if self.stats.received < 10 {
            self.units(self.cfg.initial_delay)
        } else {
            i64::from(self.cfg.frame_units) + 4 * (self.jitter_q4 >> 4) as i64
        };
        (base + self.late_boost).clamp(min, max)
    }

    /// Audio currently buffered ahead of the playout point.
    pub fn buffered(&self) -> Duration {
        match (self.next_ts, self.buf.back()) {
            (Some(next), Some(last)) => {
                self.to_duration(last.ext + i64::from(self.cfg.frame_units) - next)
            }
            _ => Duration::ZERO,
        }
    }

    fn unwrap_ts(&mut self, ts: u32) -> i64 {
        let ext = self.ref_ext + i64::from(ts.wrapping_sub(self.ref_ts) as i32);
        if ext > self.ref_ext {
            self.ref_ts = ts;
            self.ref_ext = ext;
        }
        ext
    }

    /// Keeps a played or dropped packet's payload buffer for a later packet.
    fn release(&mut self, payload: Vec<u8>) {
        if self.spare.len() < Self::SPARE {
            self.spare.push(payload);
        }
    }

    /// Removes the first packet, counting it dropped.
    fn drop_first(&mut self) {
        if let Some(e) = self.buf.pop_front() {
            self.stats.dropped += 1;
            self.release(e.payload);
        }
    }

    /// Gives back the payload buffer of a [`Playout::Payload`] once it has been decoded, so
    /// the next packet can reuse it (optional: a playout simply dropped is freed).
    pub fn recycle(&mut self, playout: Playout) {
        if let Playout::Payload { payload, .. } = playout {
            self.release(payload);
        }
    }

    fn reset(&mut self, ssrc: u32, ts: u32) {
        while let Some(e) = self.buf.pop_front() {
            self.release(e.payload);
        }
        self.played.clear();
        self.ssrc = Some(ssrc);
        self.ref_ts = ts;
        self.ref_ext = 0;
        self.next_ts = Some(-self.target_units());
        self.consecutive_missing = 0;
        self.transit = None;
        self.window_min_margin = i64::MAX;
        self.window_count = 0;
        self.hold = 0;
    }

    /// One arriving audio packet (route telephone-event packets elsewhere). `now` is its
    /// arrival time.
    pub fn push(&mut self, now: Instant, header: &RtpHeader, payload: &[u8]) -> PushOutcome {
        let mut outcome = PushOutcome::Buffered;
        let jump = self.units(Self::JUMP);
        if self.ssrc != Some(header.ssrc) || self.next_ts.is_none() {
            if self.ssrc.is_some() {
                self.stats.resets += 1;
                outcome = PushOutcome::Reset;
            }
            self.reset(header.ssrc, header.timestamp);
        }
        let mut ext = self.unwrap_ts(header.timestamp);
        if (ext - self.next_ts.unwrap_or(ext)).abs() > jump {
            self.stats.resets += 1;
            outcome = PushOutcome::Reset;
            self.reset(header.ssrc, header.timestamp);
            ext = 0;
        }
        self.push_inner(now, header, ext, payload, outcome)
    }

    fn push_inner(
        &mut self,
        now: Instant,
        header: &RtpHeader,
        ext: i64,
        payload: &[u8],
        outcome: PushOutcome,
    ) -> PushOutcome {
        let seq = header.sequence;
        let buffered = |e: &Entry| e.ext == ext && e.seq == seq;
        if self.played.contains(seq) || self.buf.iter().any(buffered) {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        self.stats.received += 1;
        self.update_jitter(now, ext);
        let frame = i64::from(self.cfg.frame_units);
        let target = self.target_units();
        let mut next = self.next_ts.unwrap_or(ext);
        if header.marker && self.buf.is_empty() && self.stats.played > 0 {
            // A talkspurt starts after silence: re-align the playout point to the target
            // delay at no audible cost (the slots in between are silent anyway).
            let margin = ext - next;
            if margin > target + frame || margin < target - frame {
                if margin > target {
                    self.stats.shrinks += 1;
                } else {
                    self.stats.grows += 1;
                }
                next = ext - target;
                self.next_ts = Some(next);
                self.hold = 0;
            }
        }
        let margin = ext - next;
        if margin < 0 {
            self.stats.late += 1;
            // Grow: hold the playout point one tick, and aim a frame higher for a while.
            self.late_boost = (self.late_boost + frame).min(self.units(self.cfg.max_delay));
            if self.hold == 0 {
                self.hold = 1;
            }
            return PushOutcome::Late;
        }
        let max_ahead = self.units(self.cfg.max_delay) + 2 * frame;
        if margin > max_ahead {
            // Far ahead of playout (sender clock fast, or we fell behind): catch up.
            let new_next = ext - target;
            while self.buf.front().is_some_and(|e| e.ext < new_next) {
                self.drop_first();
            }
            self.next_ts = Some(new_next);
        }
        self.window_min_margin = self
            .window_min_margin
            .min(ext - self.next_ts.unwrap_or(ext));
        self.window_count += 1;
        let mut buffer = self.spare.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(payload);
        let entry = Entry {
            ext,
            seq,
            timestamp: header.timestamp,
            payload: buffer,
        };
        let at = self.buf.partition_point(|e| e.ext < ext);
        match self.buf.get_mut(at) {
            Some(e) if e.ext == ext => {
                // Same timestamp, another sequence number: the newer packet wins.
                let old = std::mem::replace(e, entry);
                self.release(old.payload);
            }
            _ => self.buf.insert(at, entry),
        }
        outcome
    }

    fn update_jitter(&mut self, now: Instant, ext: i64) {
        let origin = *self.origin.get_or_insert(now);
        let arrival = self.units(now.saturating_duration_since(origin));
        let transit = arrival - ext;
        if let Some(prev) = self.transit {
            let d = (transit - prev).unsigned_abs();
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// The frame for this 20 ms tick.
    pub fn pop(&mut self, _now: Instant) -> Playout {
        if self.next_ts.is_none() {
            return Playout::Silence;
        }
        self.adapt();
        let Some(next) = self.next_ts else {
            return Playout::Silence;
        };
        if self.hold > 0 {
            // Grow by one frame: the playout point stays where it is this tick.
            self.hold -= 1;
            self.stats.grows += 1;
            return self.missing();
        }
        let frame = i64::from(self.cfg.frame_units);
        self.next_ts = Some(next + frame);
        // Anything older than this slot is stale (its slot passed while held).
        while self.buf.front().is_some_and(|e| e.ext < next) {
            self.drop_first();
        }
        // The packet for this slot: timestamp within [next, next + frame).
        let due = self.buf.front().is_some_and(|e| e.ext < next + frame);
        let entry = if due { self.buf.pop_front() } else { None };
        match entry {
            Some(e) => {
                self.consecutive_missing = 0;
                self.stats.played += 1;
                self.played.push(e.seq);
                Playout::Payload {
                    seq: e.seq,
                    timestamp: e.timestamp,
                    payload: e.payload,
                }
            }
            None => self.missing(),
        }
    }

    fn missing(&mut self) -> Playout {
        if self.stats.played == 0 {
            return Playout::Silence; // still buffering the first packets
        }
        self.consecutive_missing += 1;
        if self.consecutive_missing > Self::MAX_CONCEAL {
            return Playout::Silence;
        }
        self.stats.concealed += 1;
        Playout::Conceal {
            consecutive: self.consecutive_missing,
        }
    }

    /// Window bookkeeping: decay the late boost, and in continuous speech (no talkspurt
    /// to re-align at) drop one frame when the whole window had three frames to spare.
    fn adapt(&mut self) {
        if self.window_count < Self::WINDOW {
            return;
        }
        let frame = i64::from(self.cfg.frame_units);
        let target = self.target_units();
        if let Some(next) = self.next_ts
            && self.window_min_margin != i64::MAX
            && self.window_min_margin >= target + 3 * frame
            && self.hold == 0
        {
            if self.buf.front().is_some_and(|e| e.ext == next) {
                self.drop_first();
            }
            self.next_ts = Some(next + frame);
            self.stats.shrinks += 1;
        }
        self.late_boost = (self.late_boost - frame / 2).max(0);
        self.window_min_margin = i64::MAX;
        self.window_count = 0;
    }
}

/// Turns [`Playout`]s into exactly one frame of PCM per tick, concealing losses.
#[derive(Debug, Clone, Default)]
pub struct Concealer {
    last: Vec<i16>,
}

impl Concealer {
    /// Gain per consecutive missing frame when repeating (G.711): 1st..4th, then silence.
    const FADE: [f32; 4] = [0.8, 0.5, 0.25, 0.1];

    pub fn new() -> Concealer {
        Concealer::default()
    }

    /// Appends exactly `decoder.rate().samples_per_frame()` samples to `out`. A payload that
    /// fails to decode is concealed like a lost one; a longer one (ptime > 20, which we
    /// never negotiate) is cut to one frame.
    pub fn render(
        &mut self,
        playout: &Playout,
        decoder: &mut dyn AudioDecoder,
        out: &mut Vec<i16>,
    ) {
        let n = decoder.rate().samples_per_frame();
        let start = out.len();
        match playout {
            Playout::Payload { payload, .. } => {
                if decoder.decode(payload, out).is_ok() {
                    out.resize(start + n, 0);
                    self.last.clear();
                    self.last.extend_from_slice(&out[start..]);
                } else {
                    out.truncate(start);
                    self.conceal(1, decoder, out);
                }
            }
            Playout::Conceal { consecutive } => self.conceal(*consecutive, decoder, out),
            Playout::Silence => {
                self.last.clear();
                out.resize(start + n, 0);
            }
        }
        out.resize(start + n, 0);
    }

    fn conceal(&mut self, consecutive: u32, decoder: &mut dyn AudioDecoder, out: &mut Vec<i16>) {
        let start = out.len();
        if decoder.conceal(out) {
            return;
        }
        out.truncate(start);
        let gain = usize::try_from(consecutive.saturating_sub(1))
            .ok()
            .and_then(|i| Self::FADE.get(i))
            .copied()
            .unwrap_or(0.0);
        if gain > 0.0 && !self.last.is_empty() {
            out.extend(self.last.iter().map(|&s| (f32::from(s) * gain) as i16));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::AudioEncoder;
    use crate::codec::g711::{G711Decoder, G711Encoder, Law};
    use crate::frame::SampleRate;

    #[allow(clippy::disallowed_methods)] // tests need one arbitrary origin; all else is offsets
    fn t0() -> Instant {
        Instant::now()
    }

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    const SSRC: u32 = 0x1111;

    fn h(ssrc: u32, sequence: u16, timestamp: u32) -> RtpHeader {
        RtpHeader {
            payload_type: 0,
            marker: false,
            sequence,
            timestamp,
            ssrc,
        }
    }

    fn jb() -> JitterBuffer {
        JitterBuffer::new(JitterConfig::new(8000))
    }

    /// Drives a stream: packet i (seq0 + i, ts0 + 160 i) arrives at `arrival(i)` ms (None:
    /// lost); pops every 20 ms. Returns the sequence numbers played per tick (None: not a
    /// payload).
    fn run(
        jb: &mut JitterBuffer,
        n: u16,
        seq0: u16,
        ts0: u32,
        arrival: impl Fn(u16) -> Option<u64>,
        ticks: u64,
    ) -> Vec<Option<u16>> {
        let base = t0();
        let mut events: Vec<(u64, u16)> =
            (0..n).filter_map(|i| arrival(i).map(|a| (a, i))).collect();
        events.sort();
        let mut ev = events.into_iter().peekable();
        let mut out = Vec::new();
        for tick in 0..ticks {
            let now_ms = tick * 20;
            while let Some(&(a, i)) = ev.peek() {
                if a > now_ms {
                    break;
                }
                ev.next();
                let seq = seq0.wrapping_add(i);
                let ts = ts0.wrapping_add(160 * u32::from(i));
                jb.push(at(base, a), &h(SSRC, seq, ts), &[i as u8]);
            }
            out.push(match jb.pop(at(base, now_ms)) {
                Playout::Payload { seq, .. } => Some(seq),
                _ => None,
            });
        }
        out
    }

    #[test]
    fn a_steady_stream_reuses_its_payload_buffers_and_keeps_their_bytes_apart() {
        let mut b = jb();
        let base = t0();
        let mut played = 0u16;
        for i in 0..200u16 {
            // The first ten packets are 40 ms (320 bytes), the rest 20 ms: a buffer that
            // once held a big packet keeps its capacity, a fresh one is exactly 160 bytes.
            let len = if i < 10 { 320 } else { 160 };
            let payload = vec![i as u8; len];
            b.push(
                at(base, u64::from(i) * 20),
                &h(SSRC, i, 160 * u32::from(i)),
                &payload,
            );
            let p = b.pop(at(base, u64::from(i) * 20));
            if let Playout::Payload { seq, payload, .. } = &p {
                let len = if *seq < 10 { 320 } else { 160 };
                // Each played payload is its own packet's, whatever buffer it came in.
                assert_eq!(payload.as_slice(), &vec![*seq as u8; len][..], "seq {seq}");
                if *seq >= 20 {
                    assert!(payload.capacity() >= 320, "seq {seq}: a new buffer");
                }
                played += 1;
            }
            b.recycle(p);
        }
        assert!(played > 190, "played {played}");
    }

    fn played(v: &[Option<u16>]) -> Vec<u16> {
        v.iter().flatten().copied().collect()
    }

    #[test]
    fn in_order_stream_plays_everything_after_the_initial_delay() {
        let mut b = jb();
        let out = run(&mut b, 50, 1000, 0, |i| Some(u64::from(i) * 20), 53);
        assert_eq!(played(&out), (1000..1050).collect::<Vec<_>>());
        let first = out.iter().position(Option::is_some).unwrap();
        assert_eq!(first, 3, "60 ms initial delay = 3 ticks");
        let s = b.stats();
        assert_eq!((s.late, s.duplicates, s.concealed, s.resets), (0, 0, 0, 0));
    }

    #[test]
    fn loss_is_concealed_then_goes_silent() {
        let mut b = jb();
        let out = run(
            &mut b,
            30,
            0,
            0,
            |i| (i != 10).then_some(u64::from(i) * 20),
            33,
        );
        assert_eq!(played(&out).len(), 29);
        assert_eq!(b.stats().concealed, 1);
        // A long outage: five concealed frames, then silence.
        let mut b = jb();
        let base = t0();
        b.push(base, &h(SSRC, 0, 0), &[0]);
        let kinds: Vec<Playout> = (0..12).map(|t| b.pop(at(base, t * 20))).collect();
        let conceals = kinds
            .iter()
            .filter(|p| matches!(p, Playout::Conceal { .. }))
            .count();
        assert_eq!(conceals, JitterBuffer::MAX_CONCEAL as usize);
        assert_eq!(kinds.last(), Some(&Playout::Silence));
    }

    #[test]
    fn reordered_packets_play_in_order() {
        let mut b = jb();
        // Swap neighbours: 1 arrives before 0, 3 before 2, ...
        let arrival = |i: u16| Some(u64::from(i ^ 1) * 20 + 1);
        let out = run(&mut b, 40, 500, 9999, arrival, 50);
        assert_eq!(played(&out), (500..540).collect::<Vec<_>>());
        assert_eq!(b.stats().late, 0);
    }

    #[test]
    fn duplicates_are_dropped_and_counted() {
        let mut b = jb();
        let base = t0();
        assert_eq!(b.push(base, &h(SSRC, 7, 0), &[1]), PushOutcome::Buffered);
        assert_eq!(b.push(base, &h(SSRC, 7, 0), &[1]), PushOutcome::Duplicate);
        for t in 0..4 {
            b.pop(at(base, t * 20));
        }
        // A duplicate of an already played packet is a duplicate, not a late packet.
        assert_eq!(
            b.push(at(base, 90), &h(SSRC, 7, 0), &[1]),
            PushOutcome::Duplicate
        );
        assert_eq!(b.stats().duplicates, 2);
        assert_eq!(b.stats().late, 0);
    }

    #[test]
    fn late_packets_are_dropped_counted_and_grow_the_delay() {
        let mut b = jb();
        let before = b.target_delay();
        // Packet 20 is 150 ms late: its slot has passed.
        let arrival = |i: u16| Some(u64::from(i) * 20 + if i == 20 { 150 } else { 0 });
        let out = run(&mut b, 60, 0, 0, arrival, 70);
        let s = b.stats();
        assert_eq!(s.late, 1);
        assert!(!played(&out).contains(&20));
        assert!(s.grows >= 1);
        assert!(b.target_delay() > before.min(Duration::from_millis(20)));
        // Everything else played: the grown delay absorbed the disturbance.
        assert_eq!(played(&out).len(), 59);
    }

    #[test]
    fn sequence_and_timestamp_wrap_around() {
        let mut b = jb();
        let out = run(
            &mut b,
            40,
            65520,
            u32::MAX - 160 * 10,
            |i| Some(u64::from(i) * 20),
            50,
        );
        let expect: Vec<u16> = (0..40u16).map(|i| 65520u16.wrapping_add(i)).collect();
        assert_eq!(played(&out), expect);
        assert_eq!(b.stats().resets, 0);
    }

    #[test]
    fn ssrc_change_and_timestamp_jump_reset() {
        let mut b = jb();
        let base = t0();
        b.push(base, &h(SSRC, 0, 0), &[0]);
        assert_eq!(
            b.push(at(base, 20), &h(0x2222, 900, 77_777), &[1]),
            PushOutcome::Reset
        );
        assert_eq!(
            b.push(at(base, 40), &h(0x2222, 901, 77_777 + 160 * 1000), &[1]),
            PushOutcome::Reset
        );
        assert_eq!(b.stats().resets, 2);
        // After the reset the new stream plays from its own timestamps.
        let mut got = None;
        for t in 0..5 {
            if let Playout::Payload { seq, .. } = b.pop(at(base, 40 + t * 20)) {
                got = Some(seq);
                break;
            }
        }
        assert_eq!(got, Some(901));
    }

    #[test]
    fn target_adapts_to_measured_jitter_and_shrinks_when_calm() {
        // Jittery phase: arrivals scattered by up to 60 ms.
        let mut b = jb();
        let jitter_of = |i: u16| u64::from((u32::from(i) * 37) % 4) * 20;
        let out = run(
            &mut b,
            300,
            0,
            0,
            |i| Some(u64::from(i) * 20 + jitter_of(i)),
            320,
        );
        let noisy_target = b.target_delay();
        assert!(b.jitter() >= Duration::from_millis(10), "{:?}", b.jitter());
        assert!(
            noisy_target >= Duration::from_millis(60),
            "{noisy_target:?}"
        );
        assert!(played(&out).len() >= 280, "{}", played(&out).len());
        // Calm network with a needlessly large delay: the buffer shrinks toward the minimum.
        let mut cfg = JitterConfig::new(8000);
        cfg.initial_delay = Duration::from_millis(200);
        let mut b = JitterBuffer::new(cfg);
        let out = run(&mut b, 500, 0, 0, |i| Some(u64::from(i) * 20), 520);
        assert!(b.stats().shrinks >= 3, "{:?}", b.stats());
        assert!(b.target_delay() <= Duration::from_millis(40));
        assert!(
            b.buffered() <= Duration::from_millis(120),
            "{:?}",
            b.buffered()
        );
        assert_eq!(b.stats().late, 0);
        assert!(played(&out).len() >= 480);
    }

    #[test]
    fn talkspurt_start_realigns_the_playout_point() {
        let mut cfg = JitterConfig::new(8000);
        cfg.initial_delay = Duration::from_millis(200);
        let mut b = JitterBuffer::new(cfg);
        let base = t0();
        let mut first_of_second = None;
        for tick in 0..140u16 {
            // Talkspurt 0..20, silence (nothing sent, timestamps run on), talkspurt 70..100.
            if tick < 20 || (70..100).contains(&tick) {
                let mut hd = h(
                    SSRC,
                    if tick < 20 { tick } else { tick - 50 },
                    160 * u32::from(tick),
                );
                hd.marker = tick == 0 || tick == 70;
                b.push(at(base, u64::from(tick) * 20), &hd, &[0]);
            }
            if let Playout::Payload { seq: 20, .. } = b.pop(at(base, u64::from(tick) * 20)) {
                first_of_second = Some(tick);
            }
        }
        // The first talkspurt waited 200 ms (10 ticks); the second only the 20 ms target.
        assert_eq!(first_of_second, Some(71));
        assert_eq!(b.stats().shrinks, 1);
        assert_eq!(b.stats().played, 50);
    }

    #[test]
    fn concealer_repeats_and_fades_for_g711_and_always_yields_a_frame() {
        let mut dec = G711Decoder::new(Law::Mu);
        let mut enc = G711Encoder::new(Law::Mu);
        let pcm = crate::tone::sine(SampleRate::Hz8000, 1000.0, 8000, 20);
        let mut payload = Vec::new();
        enc.encode(&pcm, &mut payload).unwrap();
        let mut c = Concealer::new();
        let mut out = Vec::new();
        c.render(
            &Playout::Payload {
                seq: 0,
                timestamp: 0,
                payload,
            },
            &mut dec,
            &mut out,
        );
        let level = |v: &[i16]| crate::tone::amplitude(v, 8000, 1000.0);
        let full = level(&out);
        let mut levels = Vec::new();
        for k in 1..=6 {
            let mut f = Vec::new();
            c.render(&Playout::Conceal { consecutive: k }, &mut dec, &mut f);
            assert_eq!(f.len(), 160);
            levels.push(level(&f) / full);
        }
        assert!((levels[0] - 0.8).abs() < 0.02, "{levels:?}");
        assert!(levels.windows(2).all(|w| w[1] <= w[0]), "{levels:?}");
        assert_eq!(levels[4], 0.0);
        // A short payload still gives a whole frame; garbage (empty) is concealed.
        let mut f = Vec::new();
        c.render(
            &Playout::Payload {
                seq: 1,
                timestamp: 0,
                payload: vec![0xFF; 80],
            },
            &mut dec,
            &mut f,
        );
        assert_eq!(f.len(), 160);
        let mut f = Vec::new();
        c.render(
            &Playout::Payload {
                seq: 2,
                timestamp: 0,
                payload: vec![],
            },
            &mut dec,
            &mut f,
        );
        assert_eq!(f.len(), 160);
        let mut f = Vec::new();
        c.render(&Playout::Silence, &mut dec, &mut f);
        assert_eq!(f, vec![0; 160]);
    }
}

//! One call leg inside a worker: its socket pair and the per-leg cores around them.
//!
//! Receive path per tick: every datagram on the RTP socket → parse → latch (symmetric RTP)
//! → reception statistics → telephone-event (DTMF) or the jitter buffer; one payload out of
//! the queue → decode (or conceal) → `input`. Send path: `output` (room mix, or the leg's own
//! prompt) → encode → [`RtpSender`] → the latched (or configured) remote; a digit being sent
//! replaces audio for its ticks. RTCP: read every tick, report every `rtcp_interval` times a
//! random factor in [0.5, 1.5) (RFC 3550 §6.3.1), so legs set up together do not all report
//! in the same tick.
//! Invariants: nothing a peer sends can panic (every parse is checked, payload types not
//! negotiated are counted and dropped); the RTP stream we send stays continuous (one SSRC,
//! sequence and timestamp for the leg's whole life, whatever feeds it).

use std::hash::{BuildHasher, Hasher};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::codec::dtmf::{DtmfReceiver, DtmfSender, DtmfTick};
use crate::codec::resample::Resampler;
use crate::codec::{AudioDecoder, AudioEncoder, Codec};
use crate::frame::{Frame, SampleRate};
use crate::jitter::{Concealer, JitterBuffer, JitterConfig, Playout, PushOutcome};
use crate::play::{PlayState, Player};
use crate::rtp::{Latch, LatchDecision, NtpTime, RtpPacket, RtpReceiver, RtpSender, rtcp};

use super::metrics::WorkerMetrics;
use super::{
    EngineConfig, LegId, LegParams, LegStats, MediaError, MediaEvent, PlaybackEnd, RoomId,
};

/// Largest datagram we read; RTP audio packets are far smaller.
pub(super) const MAX_DATAGRAM: usize = 1500;
/// Datagrams read per socket per tick at most, so one flooding peer cannot stall a worker.
const MAX_READS_PER_TICK: usize = 16;
/// Every this many ticks a leg drains its RTP socket to the end and reads RTCP. In between it
/// stops reading RTP once the jitter buffer holds its target delay: system calls are the engine's main cost,
/// and in a steady stream one read per tick finds the one packet that came.
const DRAIN_EVERY: u64 = 25;

/// A playback on this leg; `music` marks music on hold (stopped when the leg is un-held).
#[derive(Debug)]
pub(super) struct Playback {
    pub player: Player,
    pub music: bool,
}

pub(super) struct Leg {
    pub id: LegId,
    pub params: LegParams,
    pub room: Option<RoomId>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    configured_remote: Option<SocketAddr>,
    latch: Latch<SocketAddr>,
    receiver: RtpReceiver,
    sender: RtpSender,
    jitter: JitterBuffer,
    concealer: Concealer,
    dec: Box<dyn AudioDecoder>,
    enc: Box<dyn AudioEncoder>,
    dtmf_rx: DtmfReceiver,
    dtmf_tx: DtmfSender,
    pub playback: Option<Playback>,
    /// What the leg said this tick (decoded, at the codec's rate), if anything.
    pub input: Option<Frame>,
    /// What its player sends it this tick.
    pub feed: Option<Frame>,
    /// What it hears this tick (set by the worker before `send`).
    pub output: Frame,
    /// The last good frame, repeated (fading) to conceal a loss.
    /// The rate this leg meets its room at (its codec's rate when in no room).
    mix_rate: SampleRate,
    /// Decoder rate -> mix rate for what it says, and mix rate -> encoder rate for what it
    /// hears; `None` when the coders run at the mix rate.
    to_mix: Option<Resampler>,
    from_mix: Option<Resampler>,
    pcm: Vec<i16>,
    enc_pcm: Vec<i16>,
    payload: Vec<u8>,
    packets_in: u64,
    packets_out: u64,
    sent_since_report: bool,
    /// Interarrival jitter at the last report, for the worker's jitter gauge.
    pub last_jitter_us: u64,
    next_report: Option<Instant>,
    /// Xorshift state for the RTCP interval's random factor.
    rtcp_rng: u64,
    cname: String,
    rtcp_interval: Duration,
    jitter_delays: (Duration, Duration),
}

impl std::fmt::Debug for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leg")
            .field("id", &self.id)
            .field("params", &self.params)
            .field("room", &self.room)
            .finish_non_exhaustive()
    }
}

/// 64 random bits from the std hasher's per-process random keys (no RNG dependency).
fn random_u64(salt: u64) -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(salt);
    h.finish()
}

fn new_jitter(codec: Codec, (min, max): (Duration, Duration)) -> JitterBuffer {
    JitterBuffer::new(JitterConfig {
        min_delay: min,
        max_delay: max.max(min),
        ..JitterConfig::new(codec.clock_rate())
    })
}

/// A new decoder and encoder for a leg, built on the API caller's thread (they can fail).
pub(super) struct Coders(pub Box<dyn AudioDecoder>, pub Box<dyn AudioEncoder>);

impl std::fmt::Debug for Coders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Coders")
    }
}

impl Leg {
    pub fn new(
        id: LegId,
        params: LegParams,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        cfg: &EngineConfig,
    ) -> Result<Leg, MediaError> {
        let codec = params.codec;
        let r = random_u64(id.0);
        let mut receiver = RtpReceiver::new(codec.clock_rate());
        receiver.set_event_payload_type(params.dtmf_payload_type);
        let rate = codec.pcm_rate();
        Ok(Leg {
            id,
            params,
            room: None,
            rtp,
            rtcp,
            configured_remote: params.remote,
            latch: Latch::new(Latch::<SocketAddr>::DEFAULT_THRESHOLD),
            receiver,
            sender: RtpSender::new(
                r as u32,
                (r >> 32) as u16,
                (r >> 48) as u32 ^ (r as u32).rotate_left(7),
            ),
            jitter: new_jitter(codec, (cfg.jitter_min_delay, cfg.jitter_max_delay)),
            concealer: Concealer::new(),
            dec: codec.new_decoder()?,
            enc: codec.new_encoder()?,
            dtmf_rx: DtmfReceiver::new(codec.clock_rate()),
            dtmf_tx: DtmfSender::new(codec.clock_rate()),
            playback: None,
            input: None,
            feed: None,
            output: Frame::silence(rate),
            mix_rate: rate,
            to_mix: None,
            from_mix: None,
            pcm: Vec::with_capacity(rate.samples_per_frame()),
            enc_pcm: Vec::with_capacity(rate.samples_per_frame()),
            payload: Vec::with_capacity(rate.samples_per_frame()),
            packets_in: 0,
            packets_out: 0,
            sent_since_report: false,
            last_jitter_us: 0,
            next_report: None,
            rtcp_rng: r | 1,
            cname: cfg.cname.clone(),
            rtcp_interval: cfg.rtcp_interval,
            jitter_delays: (cfg.jitter_min_delay, cfg.jitter_max_delay),
        })
    }

    /// The codec's own PCM rate (what the leg would like its room to mix at).
    pub fn rate(&self) -> SampleRate {
        self.params.codec.pcm_rate()
    }

    /// Apply a re-negotiation (re-INVITE): payload types, direction, remote, and with a new
    /// codec (`coders` given) fresh decoder, encoder, jitter buffer and DTMF clocks. The RTP
    /// stream we send stays one stream (same SSRC, sequence and timestamp continue).
    pub fn update(&mut self, params: LegParams, coders: Option<Coders>) {
        let old = self.params;
        self.params = params;
        if let Some(Coders(dec, enc)) = coders {
            let codec = params.codec;
            self.dec = dec;
            self.enc = enc;
            self.jitter = new_jitter(codec, self.jitter_delays);
            self.concealer = Concealer::new();
            self.receiver = RtpReceiver::new(codec.clock_rate());
            self.dtmf_rx = DtmfReceiver::new(codec.clock_rate());
            self.dtmf_tx = DtmfSender::new(codec.clock_rate());
            self.fit_coders();
        }
        self.receiver
            .set_event_payload_type(params.dtmf_payload_type);
        if let Some(r) = params.remote
            && params.remote != old.remote
        {
            self.set_remote(r);
        }
    }

    /// The rate `input`, `feed` and `output` are at.
    pub fn mix_rate(&self) -> SampleRate {
        self.mix_rate
    }

    /// Meet the room at `rate`: the coders run at it when the codec can (Opus in a
    /// narrowband room encodes and decodes 8 kHz PCM), else PCM is resampled between the
    /// codec's rate and `rate`.
    pub fn set_mix_rate(&mut self, rate: SampleRate) {
        if rate == self.mix_rate {
            return;
        }
        self.mix_rate = rate;
        self.output = Frame::silence(rate);
        self.input = None;
        if let Some(pb) = self.playback.as_mut() {
            pb.player.set_rate(rate);
        }
        self.fit_coders();
    }

    /// Rebuild the coders at the mix rate if they are not and the codec takes it natively
    /// (on failure keep the old ones), then set the resamplers for whatever gap is left.
    fn fit_coders(&mut self) {
        let (codec, rate) = (self.params.codec, self.mix_rate);
        if (self.dec.rate() != rate || self.enc.rate() != rate)
            && codec.has_native_rate(rate)
            && let (Ok(dec), Ok(enc)) = (codec.new_decoder_at(rate), codec.new_encoder_at(rate))
        {
            self.dec = dec;
            self.enc = enc;
            self.concealer = Concealer::new();
        }
        let (d, e) = (self.dec.rate(), self.enc.rate());
        self.to_mix = (d != rate).then(|| Resampler::new(d, rate));
        self.from_mix = (e != rate).then(|| Resampler::new(rate, e));
    }

    pub fn set_remote(&mut self, remote: SocketAddr) {
        self.configured_remote = Some(remote);
        self.latch.expect_new_source();
    }

    fn remote(&self) -> Option<SocketAddr> {
        self.latch.remote().or(self.configured_remote)
    }

    pub fn send_dtmf(&mut self, digit: crate::codec::dtmf::Digit, ms: u32) {
        self.dtmf_tx.send_digit(digit, ms, 10);
    }

    /// Read what arrived since the last tick (RTP and RTCP).
    /// `buf` is the worker's receive buffer (at least [`MAX_DATAGRAM`] bytes).
    pub fn receive(
        &mut self,
        buf: &mut [u8],
        tick: u64,
        now: Instant,
        ntp: NtpTime,
        m: &WorkerMetrics,
        events: &mut Vec<MediaEvent>,
    ) {
        let drain = (tick.wrapping_add(self.id.0)).is_multiple_of(DRAIN_EVERY);
        for i in 0..MAX_READS_PER_TICK {
            if i > 0 && !drain && self.jitter.buffered() >= self.jitter.target_delay() {
                break;
            }
            let (n, from) = match self.rtp.recv_from(buf) {
                Ok(x) => x,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => break, // ICMP errors surface here on some systems: nothing to read.
            };
            self.on_datagram(now, from, buf.get(..n).unwrap_or(&[]), m);
        }
        for _ in 0..if drain { MAX_READS_PER_TICK } else { 0 } {
            let n = match self.rtcp.recv_from(buf) {
                Ok((n, _)) => n,
                Err(_) => break,
            };
            match rtcp::parse(buf.get(..n).unwrap_or(&[])) {
                Ok(packets) => {
                    WorkerMetrics::add(&m.rtcp_in, 1);
                    self.receiver
                        .handle_rtcp(now, ntp, self.sender.ssrc(), &packets);
                }
                Err(_) => WorkerMetrics::add(&m.packets_malformed, 1),
            }
        }
        self.dtmf_rx.handle_timeout(now);
        while let Some(d) = self.dtmf_rx.poll_event() {
            let digit = d.digit.as_char();
            events.push(MediaEvent::Dtmf {
                leg: self.id,
                digit,
                duration: d.duration,
            });
            if self
                .playback
                .as_ref()
                .is_some_and(|p| p.player.interrupted_by_dtmf())
            {
                self.playback = None;
                events.push(MediaEvent::PlaybackDone {
                    leg: self.id,
                    end: PlaybackEnd::Interrupted(digit),
                });
            }
        }
    }

    fn on_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8], m: &WorkerMetrics) {
        let Ok(pkt) = RtpPacket::parse(data) else {
            WorkerMetrics::add(&m.packets_malformed, 1);
            return;
        };
        let h = pkt.header;
        let is_dtmf = self.params.dtmf_payload_type == Some(h.payload_type);
        if h.payload_type != self.params.payload_type && !is_dtmf {
            WorkerMetrics::add(&m.packets_malformed, 1);
            return;
        }
        if self.latch.observe(from, h.ssrc) == LatchDecision::Drop {
            return;
        }
        self.packets_in += 1;
        WorkerMetrics::add(&m.packets_in, 1);
        WorkerMetrics::add(&m.bytes_in, data.len() as u64);
        self.receiver.handle_rtp(now, &h);
        if is_dtmf {
            // A malformed event payload is the peer's problem: ignore it.
            let _ = self
                .dtmf_rx
                .handle_packet(now, h.timestamp, h.marker, pkt.payload);
        } else if matches!(
            self.jitter.push(now, &h, pkt.payload),
            PushOutcome::Late | PushOutcome::Duplicate
        ) {
            WorkerMetrics::add(&m.packets_late, 1);
        }
    }

    /// Decode this tick's frame into `input`; the jitter buffer's [`Concealer`] covers
    /// losses (codec PLC, else fading repeats). No frame while the buffer is silent.
    pub fn decode(&mut self, now: Instant, m: &WorkerMetrics) {
        let rate = self.mix_rate;
        let playout = self.jitter.pop(now);
        match &playout {
            Playout::Silence => {
                self.input = None;
                return;
            }
            Playout::Conceal { .. } => WorkerMetrics::add(&m.packets_lost, 1),
            Playout::Payload { .. } => {}
        }
        self.pcm.clear();
        self.concealer
            .render(&playout, self.dec.as_mut(), &mut self.pcm);
        self.jitter.recycle(playout);
        let frame = self.input.get_or_insert_with(|| Frame::silence(rate));
        frame.rate = rate;
        match self.to_mix.as_mut() {
            Some(r) => {
                frame.samples.clear();
                r.process(&self.pcm, &mut frame.samples);
                frame.samples.resize(rate.samples_per_frame(), 0);
            }
            None => std::mem::swap(&mut frame.samples, &mut self.pcm),
        }
    }

    /// Advance the player into `feed`; report its end.
    pub fn play(&mut self, events: &mut Vec<MediaEvent>) {
        let Some(pb) = self.playback.as_mut() else {
            self.feed = None;
            return;
        };
        let feed = self
            .feed
            .get_or_insert_with(|| Frame::silence(pb.player.rate()));
        if pb.player.next_frame(feed) == PlayState::Finished {
            self.playback = None;
            events.push(MediaEvent::PlaybackDone {
                leg: self.id,
                end: PlaybackEnd::Finished,
            });
        }
    }

    /// Encode and send `output` (or the digit being sent), then RTCP if due.
    pub fn send(
        &mut self,
        now: Instant,
        ntp: NtpTime,
        m: &WorkerMetrics,
        events: &mut Vec<MediaEvent>,
    ) {
        let codec = self.params.codec;
        let samples = codec.samples_per_frame();
        let remote = self.remote();
        match (
            self.params.dtmf_payload_type,
            self.dtmf_tx.tick(self.sender.timestamp()),
        ) {
            (Some(pt), DtmfTick::Event(packets)) => {
                for p in packets {
                    if let Ok(pkt) = self
                        .sender
                        .event_packet(pt, &p.payload, p.marker, p.timestamp)
                    {
                        self.transmit(remote, &pkt, m);
                    }
                }
                self.sender.skip(samples);
            }
            _ => {
                self.payload.clear();
                let mix = self.mix_rate;
                let usable =
                    self.output.rate == mix && self.output.samples.len() == mix.samples_per_frame();
                if !usable {
                    self.output = Frame::silence(mix);
                }
                if !self.params.send {
                    // Negotiated recvonly/inactive: keep the clock running, send nothing.
                    self.sender.skip(samples);
                    return self.maybe_report(now, ntp, m, events);
                }
                let pcm = match self.from_mix.as_mut() {
                    Some(r) => {
                        self.enc_pcm.clear();
                        r.process(&self.output.samples, &mut self.enc_pcm);
                        self.enc_pcm.resize(self.enc.rate().samples_per_frame(), 0);
                        &self.enc_pcm
                    }
                    None => &self.output.samples,
                };
                if self.enc.encode(pcm, &mut self.payload).is_err() || remote.is_none() {
                    self.sender.skip(samples);
                } else if let Ok(pkt) =
                    self.sender
                        .next_packet(self.params.payload_type, &self.payload, samples, false)
                {
                    self.transmit(remote, &pkt, m);
                }
            }
        }
        self.maybe_report(now, ntp, m, events);
    }

    fn maybe_report(
        &mut self,
        now: Instant,
        ntp: NtpTime,
        m: &WorkerMetrics,
        events: &mut Vec<MediaEvent>,
    ) {
        let due = match self.next_report {
            Some(due) => due,
            None => {
                let first = now + self.rtcp_wait();
                *self.next_report.insert(first)
            }
        };
        if now >= due {
            self.next_report = Some(now + self.rtcp_wait());
            self.report(now, ntp, m, events);
        }
    }

    /// The time to the next report: `rtcp_interval` times a factor uniform in [0.5, 1.5)
    /// (RFC 3550 §6.3.1), from a per-leg xorshift seeded with the leg's random bits.
    fn rtcp_wait(&mut self) -> Duration {
        let mut x = self.rtcp_rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rtcp_rng = x;
        let per_mille = 500 + (x % 1000) as u32;
        self.rtcp_interval * per_mille / 1000
    }

    fn transmit(&mut self, remote: Option<SocketAddr>, pkt: &[u8], m: &WorkerMetrics) {
        let Some(to) = remote else { return };
        match self.rtp.send_to(pkt, to) {
            Ok(n) => {
                self.packets_out += 1;
                self.sent_since_report = true;
                WorkerMetrics::add(&m.packets_out, 1);
                WorkerMetrics::add(&m.bytes_out, n as u64);
            }
            Err(_) => WorkerMetrics::add(&m.send_errors, 1),
        }
    }

    fn report(
        &mut self,
        now: Instant,
        ntp: NtpTime,
        m: &WorkerMetrics,
        events: &mut Vec<MediaEvent>,
    ) {
        let remote = self.remote();
        let blocks: Vec<_> = self.receiver.report_block(now).into_iter().collect();
        let (packet_count, octet_count) = self.sender.counts();
        let info = rtcp::SenderInfo {
            ssrc: self.sender.ssrc(),
            ntp,
            rtp_timestamp: self.sender.timestamp(),
            packet_count,
            octet_count,
        };
        let sender = self.sent_since_report.then_some(&info);
        self.sent_since_report = false;
        if let (Some(to), Ok(pkt)) = (
            remote,
            rtcp::build_report(sender, self.sender.ssrc(), &blocks, &self.cname),
        ) {
            let to = SocketAddr::new(to.ip(), to.port().saturating_add(1));
            if self.rtcp.send_to(&pkt, to).is_ok() {
                WorkerMetrics::add(&m.rtcp_out, 1);
            }
        }
        let snap = self.receiver.snapshot();
        self.last_jitter_us = u64::try_from(snap.jitter_duration.as_micros()).unwrap_or(u64::MAX);
        events.push(MediaEvent::LegStats {
            leg: self.id,
            stats: LegStats {
                packets_in: self.packets_in,
                packets_out: self.packets_out,
                lost: snap.lost,
                late: {
                    let j = self.jitter.stats();
                    j.late + j.duplicates
                },
                jitter: snap.jitter_duration,
                rtt: snap.rtt,
                remote,
            },
        });
    }

    /// The last RTCP of the leg: a BYE, sent when the leg is removed.
    pub fn bye(&mut self, now: Instant) {
        let blocks: Vec<_> = self.receiver.report_block(now).into_iter().collect();
        if let (Some(to), Ok(pkt)) = (
            self.remote(),
            rtcp::build_bye(self.sender.ssrc(), &blocks, &self.cname, None),
        ) {
            let _ = self
                .rtcp
                .send_to(&pkt, SocketAddr::new(to.ip(), to.port().saturating_add(1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(id: u64, cfg: &EngineConfig) -> Leg {
        let sock = || UdpSocket::bind("127.0.0.1:0").unwrap();
        Leg::new(LegId(id), LegParams::pcmu(), sock(), sock(), cfg).unwrap()
    }

    #[test]
    fn rtcp_waits_are_spread_over_half_to_one_and_a_half_intervals() {
        let cfg = EngineConfig::default();
        let i = cfg.rtcp_interval;
        let mut first = Vec::new();
        for id in 0..200 {
            let mut l = leg(id, &cfg);
            let w: Vec<Duration> = (0..10).map(|_| l.rtcp_wait()).collect();
            assert!(w.iter().all(|&d| d >= i / 2 && d < i * 3 / 2), "{w:?}");
            first.push(w[0]);
        }
        // Legs set up in the same tick must not report in the same tick: the first waits of
        // 200 legs fall into many distinct 20 ms slots, early and late in the range.
        let mut slots: Vec<u128> = first.iter().map(|d| d.as_millis() / 20).collect();
        slots.sort_unstable();
        slots.dedup();
        assert!(slots.len() > 100, "only {} distinct slots", slots.len());
        assert!(first.iter().any(|&d| d < i * 3 / 4));
        assert!(first.iter().any(|&d| d > i * 5 / 4));
    }
}

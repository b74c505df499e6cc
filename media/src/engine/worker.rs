//! One mixing worker: a thread that owns legs and rooms and ticks them on a 20 ms grid.
//!
//! Loop: wait for commands until the next slot (`start + n * 20 ms`, never `sleep(20 ms)`,
//! so there is no drift), then run one tick: receive and decode every leg, advance players,
//! mix every room, feed recordings, encode and send every leg. A tick starting more than
//! [`LATE_TICK`] after its slot is counted late; a worker more than 5 slots behind skips
//! ahead (the skipped slots count as late ticks) rather than bursting packets.
//! Rates: a room mixes at [`mixing_rate`] of its members' codecs; each leg meets it
//! ([`Leg::set_mix_rate`]): Opus coders run at it, other codecs resample to and from it;
//! a frame at any other rate is mixed as silence.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::codec::dtmf::Digit;
use crate::codec::resample::Resampler;
use crate::frame::{FRAME_MS, Frame};
use crate::play::{Clip, Player};
use crate::record::{Parties, RecordWriter, Recording, RecordingDone};
use crate::room::{Role, Room, mixing_rate};
use crate::rtp::NtpTime;

use super::leg::{Leg, Playback};
use super::metrics::WorkerMetrics;
use super::{EngineConfig, LATE_TICK, LegId, MediaEvent, PlaybackEnd, RoomId};

const TICK: Duration = Duration::from_millis(FRAME_MS as u64);
const TICK_NS: u64 = FRAME_MS as u64 * 1_000_000;
/// Slots a worker may fall behind before it skips ahead.
const MAX_BEHIND: u64 = 5;

/// Members of a room whose frame references the tick keeps on the stack (larger rooms, rare,
/// use a vector).
const INLINE_MEMBERS: usize = 8;

/// Hasher for the worker's leg and room maps (four lookups per leg per tick). The keys are
/// ids the engine hands out in sequence, never chosen by a peer, so one multiply spreads
/// them well enough and SipHash's flooding resistance buys nothing.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A matrix change, in leg ids; applied by the room helpers of the same name.
#[derive(Debug)]
pub(super) enum MatrixEdit {
    Set(Vec<(LegId, LegId)>),
    Bridge(LegId, LegId),
    Hold {
        held: LegId,
        other: LegId,
        music: Option<Clip>,
    },
    Conference(Vec<LegId>),
    Swap {
        agent: LegId,
        talk_to: LegId,
        held: LegId,
        music: Option<Clip>,
    },
    Monitor(LegId),
    Barge(LegId),
    Whisper {
        m: LegId,
        agent: LegId,
    },
}

#[derive(Debug)]
pub(super) enum Cmd {
    AddLeg(Box<Leg>),
    SetRemote(LegId, SocketAddr),
    Update {
        leg: LegId,
        params: super::LegParams,
        coders: Option<super::leg::Coders>,
    },
    RemoveLeg(LegId),
    /// Hand the leg over (to move it to another worker).
    Detach {
        leg: LegId,
        reply: Sender<Option<Box<Leg>>>,
    },
    CreateRoom(RoomId),
    DestroyRoom(RoomId),
    Join {
        room: RoomId,
        leg: LegId,
        role: Role,
    },
    Leave {
        room: RoomId,
        leg: LegId,
    },
    Matrix {
        room: RoomId,
        edit: MatrixEdit,
    },
    Play {
        leg: LegId,
        clip: Clip,
        looped: bool,
        barge_in: bool,
    },
    StopPlay(LegId),
    StartRecording {
        room: RoomId,
        path: PathBuf,
        parties: Parties,
    },
    StopRecording(RoomId),
    SendDtmf {
        leg: LegId,
        digit: Digit,
        ms: u32,
    },
    Shutdown,
}

#[derive(Debug)]
pub(super) struct WorkerHandle {
    pub tx: Sender<Cmd>,
    pub thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct RoomState {
    room: Room<LegId>,
    recording: Option<Recording>,
    /// Whose voice the recording keeps.
    rec_parties: Parties,
    /// Left and right converters when the room's rate moved away from the recording's
    /// (a member with another codec joined after the recording started).
    rec_conv: Option<(Resampler, Resampler)>,
}

struct Worker {
    legs: IdMap<LegId, Box<Leg>>,
    rooms: IdMap<RoomId, RoomState>,
    events_tx: Sender<MediaEvent>,
    events: Vec<MediaEvent>,
    metrics: Arc<WorkerMetrics>,
    record_queue_ticks: usize,
    writer: Option<RecordWriter>,
    rec_done_tx: std::sync::mpsc::Sender<RecordingDone>,
    rec_done_rx: std::sync::mpsc::Receiver<RecordingDone>,
    rec_rooms: HashMap<u64, RoomId>,
    mix_out: Vec<Frame>,
    rx_buf: Vec<u8>,
    rec_left: Vec<i16>,
    rec_right: Vec<i16>,
    ticks: u64,
}

pub(super) fn spawn(
    idx: usize,
    cfg: &EngineConfig,
    events_tx: Sender<MediaEvent>,
    metrics: Arc<WorkerMetrics>,
) -> std::io::Result<WorkerHandle> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (rec_done_tx, rec_done_rx) = std::sync::mpsc::channel();
    // The recording writer is started here, from the caller's thread, so that it keeps the
    // caller's (ordinary) scheduling: started from a worker under SCHED_FIFO it would inherit
    // it and compete with the worker for its core. Should it fail, the first recording tries
    // again (and reports the error).
    let writer = RecordWriter::spawn(cfg.record_queue_ticks, rec_done_tx.clone()).ok();
    let realtime = cfg.realtime_priority;
    let worker = Worker {
        legs: IdMap::default(),
        rooms: IdMap::default(),
        events_tx,
        events: Vec::new(),
        metrics,
        record_queue_ticks: cfg.record_queue_ticks,
        writer,
        rec_done_tx,
        rec_done_rx,
        rec_rooms: HashMap::new(),
        mix_out: Vec::new(),
        rx_buf: vec![0; super::leg::MAX_DATAGRAM],
        rec_left: Vec::new(),
        rec_right: Vec::new(),
        ticks: 0,
    };
    let thread = std::thread::Builder::new()
        .name(format!("media-worker-{idx}"))
        .spawn(move || worker.run(rx, realtime))?;
    Ok(WorkerHandle {
        tx,
        thread: Some(thread),
    })
}

/// Queue one tick of a room's recording, converted to the file's rate if the room's moved.
fn push_recording(
    w: &mut RecordWriter,
    rec: &Recording,
    conv: &mut Option<(Resampler, Resampler)>,
    from: crate::frame::SampleRate,
    left: &[i16],
    right: &[i16],
) {
    let to = rec.rate();
    if from == to {
        *conv = None;
        w.push(rec, left, right);
        return;
    }
    if conv.as_ref().is_none_or(|(l, _)| l.from_rate() != from) {
        *conv = Some((Resampler::new(from, to), Resampler::new(from, to)));
    }
    if let Some((cl, cr)) = conv.as_mut() {
        let n = to.samples_per_frame();
        let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
        cl.process(left, &mut l);
        cr.process(right, &mut r);
        l.resize(n, 0);
        r.resize(n, 0);
        w.push(rec, &l, &r);
    }
}

#[allow(clippy::disallowed_methods)] // The engine shell: the one place media reads the clock.
fn now() -> Instant {
    Instant::now()
}

#[allow(clippy::disallowed_methods)] // The engine shell: wallclock for RTCP SR timestamps.
fn ntp_now() -> NtpTime {
    NtpTime::from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// Put the calling thread under `SCHED_FIFO` at `priority`.
fn make_realtime(priority: u8) -> Result<(), String> {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
    };
    let value = ThreadPriorityValue::try_from(priority).map_err(|e| e.to_string())?;
    thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| format!("{e:?}"))
}

impl Worker {
    /// The worker's loop; under SCHED_FIFO at `realtime` if given (and allowed).
    fn run(mut self, rx: Receiver<Cmd>, realtime: Option<u8>) {
        if let Some(priority) = realtime {
            match make_realtime(priority) {
                Ok(()) => WorkerMetrics::set(&self.metrics.realtime, 1),
                Err(error) => tracing::warn!(
                    priority,
                    %error,
                    "media worker runs at ordinary priority: SCHED_FIFO refused \
                     (needs CAP_SYS_NICE or an RLIMIT_RTPRIO allowing it)"
                ),
            }
        }
        let start = now();
        let mut slot: u64 = 0;
        loop {
            let due = start + Duration::from_nanos(slot.saturating_mul(TICK_NS));
            // Commands first, even when the slot is already due: a worker that cannot keep
            // up must still take legs away, stop recordings and shut down.
            loop {
                match rx.recv_deadline(due) {
                    Ok(Cmd::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                        self.close();
                        return;
                    }
                    Ok(cmd) => self.handle(cmd),
                    Err(RecvTimeoutError::Timeout) => break,
                }
            }
            let t0 = now();
            let m = &self.metrics;
            WorkerMetrics::add(&m.ticks, 1);
            if t0 > due + LATE_TICK {
                WorkerMetrics::add(&m.late_ticks, 1);
            }
            self.tick(t0, ntp_now());
            let t1 = now();
            self.metrics.observe_tick(t1 - t0);
            slot += 1;
            let behind = ((t1 - start).as_nanos() / TICK.as_nanos()) as u64;
            if behind > slot + MAX_BEHIND {
                WorkerMetrics::add(&self.metrics.late_ticks, behind - slot);
                WorkerMetrics::add(&self.metrics.ticks, behind - slot);
                slot = behind;
            }
        }
    }

    /// One tick, room by room: a room's legs are received, mixed and sent while their
    /// state is still in cache (a worker holds thousands of legs); then the legs in no room.
    fn tick(&mut self, now: Instant, ntp: NtpTime) {
        let m = self.metrics.clone();
        let tick = self.ticks;
        for rs in self.rooms.values_mut() {
            for mb in rs.room.members() {
                if let Some(leg) = self.legs.get_mut(&mb.key) {
                    leg.receive(&mut self.rx_buf, tick, now, ntp, &m, &mut self.events);
                    leg.decode(now, &m);
                    leg.play(&mut self.events);
                }
            }
            let rate = rs.room.rate();
            let members = rs.room.members();
            let frame_of = |mb: &crate::room::Member<LegId>, feed: bool| {
                let leg = self.legs.get(&mb.key)?;
                let f = if feed { &leg.feed } else { &leg.input };
                f.as_ref().filter(|f| f.rate == rate)
            };
            let mut inline = [None; 2 * INLINE_MEMBERS];
            let mut spilled = Vec::new();
            let both: &mut [Option<&Frame>] = if members.len() <= INLINE_MEMBERS {
                &mut inline[..2 * members.len()]
            } else {
                spilled.resize(2 * members.len(), None);
                &mut spilled
            };
            let (inputs, feeds) = both.split_at_mut(members.len());
            for ((mb, i), f) in members.iter().zip(inputs.iter_mut()).zip(feeds.iter_mut()) {
                *i = frame_of(mb, false);
                *f = frame_of(mb, true);
            }
            let (inputs, feeds) = (&*inputs, &*feeds);
            rs.room.tick(inputs, feeds, &mut self.mix_out);
            if let (Some(rec), Some(w)) = (rs.recording.as_ref(), self.writer.as_mut()) {
                rs.room
                    .recording_frame(inputs, &mut self.rec_left, &mut self.rec_right);
                rs.rec_parties
                    .apply(&mut self.rec_left, &mut self.rec_right);
                push_recording(
                    w,
                    rec,
                    &mut rs.rec_conv,
                    rate,
                    &self.rec_left,
                    &self.rec_right,
                );
            }
            for (mb, out) in rs.room.members().iter().zip(self.mix_out.iter_mut()) {
                if let Some(leg) = self.legs.get_mut(&mb.key) {
                    std::mem::swap(&mut leg.output, out);
                    leg.send(now, ntp, &m, &mut self.events);
                }
            }
        }
        for leg in self.legs.values_mut().filter(|l| l.room.is_none()) {
            leg.receive(&mut self.rx_buf, tick, now, ntp, &m, &mut self.events);
            leg.decode(now, &m);
            leg.play(&mut self.events);
            match leg.feed.as_ref() {
                Some(f) => leg.output.clone_from(f),
                None => leg.output.samples.fill(0),
            }
            leg.send(now, ntp, &m, &mut self.events);
        }
        if let Some(w) = self.writer.as_mut() {
            w.send_batch();
            WorkerMetrics::set(&m.recording_frames_dropped, w.dropped_frames());
        }
        self.ticks += 1;
        if self.ticks.is_multiple_of(50) {
            let jitter = self.legs.values().map(|l| l.last_jitter_us).max();
            WorkerMetrics::set(&m.jitter_max_us, jitter.unwrap_or(0));
        }
        self.forward_recordings();
        self.flush_events();
    }

    fn flush_events(&mut self) {
        for ev in self.events.drain(..) {
            if let Err(TrySendError::Full(_)) = self.events_tx.try_send(ev) {
                WorkerMetrics::add(&self.metrics.events_dropped, 1);
            }
        }
    }

    fn forward_recordings(&mut self) {
        while let Ok(done) = self.rec_done_rx.try_recv() {
            if let Some(room) = self.rec_rooms.remove(&done.id) {
                self.events.push(MediaEvent::RecordingFinished {
                    room,
                    path: done.path,
                    duration: done.duration,
                    error: done.error,
                });
            }
        }
    }

    fn gauges(&self) {
        let m = &self.metrics;
        WorkerMetrics::set(&m.active_legs, self.legs.len() as u64);
        WorkerMetrics::set(&m.active_rooms, self.rooms.len() as u64);
        WorkerMetrics::set(&m.active_recordings, self.rec_rooms.len() as u64);
    }

    /// Set the room's rate from its members' codecs ([`mixing_rate`]).
    fn rerate(&mut self, room: RoomId) {
        if let Some(rs) = self.rooms.get_mut(&room) {
            let legs = &self.legs;
            let rate = mixing_rate(
                rs.room
                    .members()
                    .iter()
                    .filter_map(|mb| legs.get(&mb.key).map(|l| l.rate())),
            );
            rs.room.set_rate(rate);
            for mb in rs.room.members() {
                if let Some(l) = self.legs.get_mut(&mb.key) {
                    l.set_mix_rate(rate);
                }
            }
        }
    }

    fn leave(&mut self, room: RoomId, leg: LegId) {
        if let Some(rs) = self.rooms.get_mut(&room) {
            let _ = rs.room.remove(leg);
        }
        if let Some(l) = self.legs.get_mut(&leg).filter(|l| l.room == Some(room)) {
            l.room = None;
            let own = l.rate();
            l.set_mix_rate(own);
        }
        self.rerate(room);
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::AddLeg(leg) => {
                self.legs.insert(leg.id, leg);
            }
            Cmd::SetRemote(id, addr) => {
                if let Some(l) = self.legs.get_mut(&id) {
                    l.set_remote(addr);
                }
            }
            Cmd::Update {
                leg,
                params,
                coders,
            } => {
                let room = self.legs.get_mut(&leg).and_then(|l| {
                    let coders = coders.filter(|_| l.params.codec != params.codec);
                    l.update(params, coders);
                    l.room
                });
                if let Some(room) = room {
                    self.rerate(room);
                }
            }
            Cmd::RemoveLeg(id) => {
                if let Some(room) = self.legs.get(&id).and_then(|l| l.room) {
                    self.leave(room, id);
                }
                if let Some(mut l) = self.legs.remove(&id) {
                    l.bye(now());
                }
            }
            Cmd::Detach { leg, reply } => {
                if let Some(room) = self.legs.get(&leg).and_then(|l| l.room) {
                    self.leave(room, leg);
                }
                let _ = reply.send(self.legs.remove(&leg));
            }
            Cmd::CreateRoom(id) => {
                self.rooms.insert(
                    id,
                    RoomState {
                        room: Room::new(crate::frame::SampleRate::Hz8000),
                        recording: None,
                        rec_parties: Parties::Both,
                        rec_conv: None,
                    },
                );
            }
            Cmd::DestroyRoom(id) => {
                if let Some(rs) = self.rooms.remove(&id) {
                    for mb in rs.room.members() {
                        if let Some(l) = self.legs.get_mut(&mb.key) {
                            l.room = None;
                            let own = l.rate();
                            l.set_mix_rate(own);
                        }
                    }
                    // Dropping the recording finishes it; the writer reports it.
                }
            }
            Cmd::Join { room, leg, role } => {
                if let (Some(rs), Some(l)) = (self.rooms.get_mut(&room), self.legs.get_mut(&leg))
                    && rs.room.add(leg, role).is_ok()
                {
                    l.room = Some(room);
                }
                self.rerate(room);
            }
            Cmd::Leave { room, leg } => self.leave(room, leg),
            Cmd::Matrix { room, edit } => self.edit(room, edit),
            Cmd::Play {
                leg,
                clip,
                looped,
                barge_in,
            } => self.start_play(leg, clip, looped, barge_in, false),
            Cmd::StopPlay(leg) => self.stop_play(leg, false),
            Cmd::StartRecording {
                room,
                path,
                parties,
            } => self.start_recording(room, path, parties),
            Cmd::StopRecording(room) => {
                if let Some(rs) = self.rooms.get_mut(&room) {
                    rs.recording = None;
                }
            }
            Cmd::SendDtmf { leg, digit, ms } => {
                if let Some(l) = self.legs.get_mut(&leg) {
                    l.send_dtmf(digit, ms);
                }
            }
            Cmd::Shutdown => {}
        }
        self.gauges();
    }

    fn start_recording(&mut self, room: RoomId, path: PathBuf, parties: Parties) {
        let Some(rs) = self.rooms.get_mut(&room) else {
            return;
        };
        rs.recording = None;
        rs.rec_parties = parties;
        if self.writer.is_none() {
            match RecordWriter::spawn(self.record_queue_ticks, self.rec_done_tx.clone()) {
                Ok(w) => self.writer = Some(w),
                Err(e) => {
                    self.events.push(MediaEvent::RecordingFinished {
                        room,
                        path,
                        duration: Duration::ZERO,
                        error: Some(e.to_string()),
                    });
                    return;
                }
            }
        }
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        match writer.start(&path, rs.room.rate()) {
            Ok(rec) => {
                self.rec_rooms.insert(rec.id(), room);
                rs.recording = Some(rec);
            }
            Err(e) => self.events.push(MediaEvent::RecordingFinished {
                room,
                path,
                duration: Duration::ZERO,
                error: Some(e.to_string()),
            }),
        }
    }

    fn start_play(&mut self, id: LegId, clip: Clip, looped: bool, barge_in: bool, music: bool) {
        self.stop_play(id, false);
        if let Some(leg) = self.legs.get_mut(&id) {
            let player = Player::with_rate(clip, leg.mix_rate(), looped, barge_in);
            leg.playback = Some(Playback { player, music });
        }
    }

    /// Stop the leg's playback; with `music_only`, only music on hold.
    fn stop_play(&mut self, id: LegId, music_only: bool) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        if leg
            .playback
            .as_ref()
            .is_some_and(|p| p.music || !music_only)
        {
            leg.playback = None;
            leg.feed = None;
            self.events.push(MediaEvent::PlaybackDone {
                leg: id,
                end: PlaybackEnd::Stopped,
            });
        }
    }

    fn edit(&mut self, room: RoomId, edit: MatrixEdit) {
        let Some(rs) = self.rooms.get_mut(&room) else {
            return;
        };
        let r = &mut rs.room;
        // Legs that start hearing someone lose their music; held legs get it.
        let (unheld, held): (Vec<LegId>, Option<(LegId, Option<Clip>)>) = match edit {
            MatrixEdit::Set(pairs) => {
                let mut m = crate::room::HearsMatrix::new(r.members().len());
                for (l, t) in pairs {
                    if let (Some(li), Some(ti)) = (r.index_of(l), r.index_of(t)) {
                        m.set(li, ti, true);
                    }
                }
                r.set_matrix(m);
                (vec![], None)
            }
            MatrixEdit::Bridge(a, b) => {
                let _ = r.bridge(a, b);
                (vec![a, b], None)
            }
            MatrixEdit::Hold { held, other, music } => {
                let _ = r.hold(held, other);
                (vec![], Some((held, music)))
            }
            MatrixEdit::Conference(legs) => {
                let _ = r.conference(&legs);
                (legs, None)
            }
            MatrixEdit::Swap {
                agent,
                talk_to,
                held,
                music,
            } => {
                let _ = r.swap(agent, talk_to, held);
                (vec![agent, talk_to], Some((held, music)))
            }
            MatrixEdit::Monitor(m) | MatrixEdit::Barge(m) | MatrixEdit::Whisper { m, .. } => {
                match edit {
                    MatrixEdit::Monitor(_) => {
                        let _ = r.monitor(m);
                    }
                    MatrixEdit::Barge(_) => {
                        let _ = r.barge(m);
                    }
                    MatrixEdit::Whisper { agent, .. } => {
                        let _ = r.whisper(m, agent);
                    }
                    _ => {}
                }
                (vec![m], None)
            }
        };
        for leg in unheld {
            self.stop_play(leg, true);
        }
        if let Some((leg, Some(music))) = held {
            self.start_play(leg, music, true, false, true);
        }
    }

    /// Finish every recording (reported), say BYE on every leg.
    fn close(&mut self) {
        for rs in self.rooms.values_mut() {
            rs.recording = None;
        }
        if let Some(w) = self.writer.take() {
            w.shutdown();
        }
        self.forward_recordings();
        let t = now();
        for leg in self.legs.values_mut() {
            leg.bye(t);
        }
        self.legs.clear();
        self.rooms.clear();
        self.gauges();
        self.flush_events();
    }
}

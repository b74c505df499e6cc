//! The media engine: worker threads, sockets and the clock around the pure cores (the I/O
//! shell), and the small Rust API the server drives calls with.
//!
//! Shape: a few mixing workers (about one per core, [`EngineConfig::workers`]) each own a
//! set of legs and rooms and tick on a drift-free 20 ms grid (slot `n` is due at
//! `start + n * 20 ms`); a tick that starts more than [`LATE_TICK`] after its slot is counted
//! late. Per tick a worker: reads every leg's non-blocking RTP socket (latch, statistics,
//! telephone-event, jitter buffer), decodes one frame per leg, mixes each room (the pure
//! [`crate::room::mix`]), feeds recordings, encodes and sends one packet per leg, and sends
//! RTCP every [`EngineConfig::rtcp_interval`].
//!
//! The [`MediaEngine`] handle is `Sync`: its methods send commands over a channel to the
//! worker that owns the leg or room and return at once (a leg joining a room on another
//! worker is moved there: that one call waits for the leg's worker, at most about a tick).
//! A room lives on the worker of its first member. Only this module tree reads the clock
//! (`Instant::now`, `SystemTime::now`), each call site marked. Nothing a peer sends can
//! panic a worker: malformed datagrams are counted and dropped.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::codec::Codec;
use crate::codec::dtmf::Digit;
use crate::play::{Clip, ClipCache, PlayError};
use crate::record::Parties;
use crate::room::Role;

mod leg;
mod metrics;
pub mod peer;
mod ports;
mod worker;

pub use metrics::{MediaMetrics, TICK_BUCKETS_US};

use leg::Leg;
use metrics::WorkerMetrics;
use ports::PortAllocator;
use worker::{Cmd, MatrixEdit, WorkerHandle};

/// A tick starting this long after its slot on the 20 ms grid counts as late.
pub const LATE_TICK: Duration = Duration::from_millis(5);

/// Identifies a leg for the engine's whole life (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

/// Identifies a room for the engine's whole life (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(pub u64);

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "room-{}", self.0)
    }
}

/// Engine settings; validated by [`MediaEngine::start`] before any thread or port is used.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Address RTP/RTCP sockets bind to (and that goes into SDP).
    pub media_addr: IpAddr,
    /// RTP ports are even numbers in `port_min..port_max`; RTCP uses RTP + 1.
    pub port_min: u16,
    pub port_max: u16,
    /// Mixing workers; 0 means one per available core.
    pub workers: usize,
    /// Played, looped, to a leg put on hold by [`MediaEngine::hold`]/[`MediaEngine::swap`].
    pub music_on_hold: Option<PathBuf>,
    /// How often each leg sends an RTCP report and emits a [`MediaEvent::LegStats`], on
    /// average: each wait is this times a random factor in [0.5, 1.5) (RFC 3550 §6.3.1).
    pub rtcp_interval: Duration,
    /// Events kept for the reader of [`MediaEngine::events`] before new ones are dropped.
    pub event_queue: usize,
    /// Ticks of recording audio queued per worker before they are dropped
    /// (see [`crate::record`]).
    pub record_queue_ticks: usize,
    /// Bounds of the adaptive jitter buffer's delay (see [`crate::jitter`]).
    pub jitter_min_delay: Duration,
    pub jitter_max_delay: Duration,
    /// CNAME in our RTCP SDES.
    pub cname: String,
    /// Run the mixing workers under `SCHED_FIFO` at this priority (1-99), so that nothing
    /// else on the machine delays a tick: what media servers do for audio (FreeSWITCH `-rp`,
    /// Asterisk `-p`). `None` (the default): ordinary scheduling. Needs `CAP_SYS_NICE` or an
    /// `RLIMIT_RTPRIO` allowing it; when refused, the worker says so once (a warning and
    /// [`MediaMetrics::realtime_workers`] staying 0) and runs on at ordinary priority. The
    /// kernel's real-time throttling (`sched_rt_runtime_us`, 95 % by default) still leaves the
    /// rest of the machine a share of every core even if a worker spins.
    pub realtime_priority: Option<u8>,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            media_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_min: 20_000,
            port_max: 30_000,
            workers: 0,
            music_on_hold: None,
            rtcp_interval: Duration::from_secs(5),
            event_queue: 65_536,
            record_queue_ticks: crate::record::DEFAULT_QUEUE_TICKS,
            jitter_min_delay: Duration::from_millis(20),
            jitter_max_delay: Duration::from_millis(200),
            cname: "switchboard".into(),
            realtime_priority: None,
        }
    }
}

/// What SDP negotiation settled for a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegParams {
    pub codec: Codec,
    /// The payload type to send (and accept) for `codec`.
    pub payload_type: u8,
    /// The negotiated telephone-event payload type, if any (RFC 4733).
    pub dtmf_payload_type: Option<u8>,
    /// The address from the peer's SDP; symmetric RTP latching may override it.
    pub remote: Option<SocketAddr>,
    /// Whether we send RTP (false when we negotiated recvonly or inactive). We always
    /// receive; what arrives while the peer holds us is simply nothing.
    pub send: bool,
}

impl From<&crate::sdp::Negotiated> for LegParams {
    fn from(n: &crate::sdp::Negotiated) -> LegParams {
        use crate::sdp::Direction;
        LegParams {
            codec: n.codec.codec,
            payload_type: n.codec.pt,
            dtmf_payload_type: n.telephone_event.as_ref().map(|t| t.pt),
            remote: n.remote,
            send: matches!(n.direction, Direction::SendRecv | Direction::SendOnly),
        }
    }
}

impl LegParams {
    /// PCMU (PT 0) with telephone-event on PT 101, remote not yet known.
    pub fn pcmu() -> LegParams {
        LegParams {
            codec: Codec::Pcmu,
            payload_type: 0,
            dtmf_payload_type: Some(101),
            remote: None,
            send: true,
        }
    }
}

/// Why a playback ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaybackEnd {
    /// The clip played to its end.
    Finished,
    /// [`MediaEngine::stop_play`], a new `play`, or the leg was taken off hold.
    Stopped,
    /// The caller pressed this digit and the prompt allowed barge-in.
    Interrupted(char),
}

/// Reception/sending statistics of one leg, emitted with every RTCP report (about every
/// `rtcp_interval`).
#[derive(Debug, Clone, PartialEq)]
pub struct LegStats {
    pub packets_in: u64,
    pub packets_out: u64,
    pub lost: i64,
    pub late: u64,
    pub jitter: Duration,
    pub rtt: Option<Duration>,
    /// Where we send to (the latched or configured remote).
    pub remote: Option<SocketAddr>,
}

/// What the engine tells the server.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A telephone-event digit ended (RFC 4733).
    Dtmf {
        leg: LegId,
        digit: char,
        duration: Duration,
    },
    PlaybackDone {
        leg: LegId,
        end: PlaybackEnd,
    },
    /// A recording was closed: by [`MediaEngine::stop_recording`], room destruction or
    /// shutdown. `error` is set when the file could not be (fully) written.
    RecordingFinished {
        room: RoomId,
        path: PathBuf,
        duration: Duration,
        error: Option<String>,
    },
    LegStats {
        leg: LegId,
        stats: LegStats,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("invalid media configuration: {0}")]
    Config(String),
    #[error("no free RTP port pair in {0}..{1}")]
    NoPorts(u16, u16),
    #[error("cannot start a media worker thread: {0}")]
    Spawn(std::io::Error),
    #[error("unknown {0}")]
    UnknownLeg(LegId),
    #[error("unknown {0}")]
    UnknownRoom(RoomId),
    #[error("{0} has no members yet")]
    EmptyRoom(RoomId),
    #[error("{0} is not in {1}")]
    NotInRoom(LegId, RoomId),
    #[error("codec: {0}")]
    Codec(#[from] crate::codec::CodecError),
    #[error("{0}")]
    Play(#[from] PlayError),
    #[error("not a DTMF digit: {0:?}")]
    BadDigit(char),
    #[error("the media engine has stopped")]
    Stopped,
}

/// Where a leg lives, as the handle knows it.
#[derive(Debug, Clone, Copy)]
struct LegRoute {
    worker: usize,
    room: Option<RoomId>,
}

#[derive(Debug, Default)]
struct Routes {
    legs: HashMap<LegId, LegRoute>,
    /// A room's worker, once it has a first member.
    rooms: HashMap<RoomId, Option<usize>>,
    next_id: u64,
}

/// The running engine. Cheap to share (`&self` methods, `Sync`).
///
/// Typical call order for an inbound call answered by an agent:
///
/// ```no_run
/// use std::path::Path;
/// use switchboard_media::engine::{EngineConfig, LegParams, MediaEngine, MediaEvent};
/// use switchboard_media::room::Role;
///
/// # fn main() -> Result<(), switchboard_media::engine::MediaError> {
/// let engine = MediaEngine::start(EngineConfig {
///     music_on_hold: Some("media/prompts/music-on-hold.wav".into()),
///     ..EngineConfig::default()
/// })?;
/// let events = engine.events();
/// // INVITE from the customer: a leg (its port goes into our SDP answer), then the
/// // negotiated parameters once the answer is built.
/// let (customer, _local) = engine.create_leg(LegParams::pcmu())?;
/// engine.play(customer, Path::new("media/prompts/greeting.wav"), false, true)?;
/// if let Ok(MediaEvent::Dtmf { digit: '1', .. }) = events.recv() { /* route to sales */ }
/// // An agent answers: bridge them in a room, record it.
/// let (agent, _) = engine.create_leg(LegParams::pcmu())?;
/// let room = engine.create_room();
/// engine.add_to_room(room, customer, Role::Customer)?;
/// engine.add_to_room(room, agent, Role::Agent)?;
/// engine.bridge(room, customer, agent)?;
/// engine.start_recording(room, Path::new("/var/lib/switchboard/rec/call.wav"))?;
/// engine.hold(room, customer, agent)?; // music to the customer, silence to the agent
/// engine.bridge(room, customer, agent)?; // back
/// engine.stop_recording(room)?; // RecordingFinished { path, duration, .. } follows
/// engine.destroy_room(room)?;
/// engine.remove_leg(customer)?;
/// engine.remove_leg(agent)?;
/// engine.shutdown();
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MediaEngine {
    cfg: EngineConfig,
    workers: Vec<WorkerHandle>,
    metrics: Vec<Arc<WorkerMetrics>>,
    routes: Mutex<Routes>,
    ports: Mutex<PortAllocator>,
    clips: ClipCache,
    events: Receiver<MediaEvent>,
}

impl MediaEngine {
    /// Validate `cfg` and start the workers. No port is bound until [`MediaEngine::create_leg`].
    pub fn start(cfg: EngineConfig) -> Result<MediaEngine, MediaError> {
        if cfg.port_min >= cfg.port_max || cfg.port_max - cfg.port_min < 2 {
            return Err(MediaError::Config(format!(
                "port range {}..{} holds no RTP/RTCP pair",
                cfg.port_min, cfg.port_max
            )));
        }
        if cfg.rtcp_interval < Duration::from_millis(100) {
            return Err(MediaError::Config("rtcp_interval below 100 ms".into()));
        }
        if cfg
            .realtime_priority
            .is_some_and(|p| !(1..=99).contains(&p))
        {
            return Err(MediaError::Config(
                "realtime_priority must be 1 to 99 (SCHED_FIFO)".into(),
            ));
        }
        if let Some(moh) = &cfg.music_on_hold {
            Clip::load(moh)?;
        }
        let n = match cfg.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (ev_tx, ev_rx) = crossbeam_channel::bounded(cfg.event_queue.max(1));
        let mut workers = Vec::with_capacity(n);
        let mut metrics = Vec::with_capacity(n);
        for i in 0..n {
            let m = Arc::new(WorkerMetrics::default());
            let w = worker::spawn(i, &cfg, ev_tx.clone(), m.clone()).map_err(MediaError::Spawn)?;
            workers.push(w);
            metrics.push(m);
        }
        Ok(MediaEngine {
            ports: Mutex::new(PortAllocator::new(cfg.port_min, cfg.port_max)),
            cfg,
            workers,
            metrics,
            routes: Mutex::new(Routes::default()),
            clips: ClipCache::default(),
            events: ev_rx,
        })
    }

    /// The event stream. Every clone of the receiver competes for the same events: have one
    /// reader. Events past [`EngineConfig::event_queue`] unread are dropped and counted.
    pub fn events(&self) -> Receiver<MediaEvent> {
        self.events.clone()
    }

    pub fn metrics(&self) -> MediaMetrics {
        MediaMetrics::sum(self.metrics.iter().map(|m| m.as_ref()))
    }

    /// Number of mixing workers.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Stop every worker: recordings are finished (and reported), sockets closed.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        for w in &self.workers {
            let _ = w.tx.send(Cmd::Shutdown);
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        // Routes are plain maps updated in single statements: still valid after a panic.
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, worker: usize, cmd: Cmd) -> Result<(), MediaError> {
        let w = self.workers.get(worker).ok_or(MediaError::Stopped)?;
        w.tx.send(cmd).map_err(|_| MediaError::Stopped)
    }

    fn leg_worker(&self, leg: LegId) -> Result<usize, MediaError> {
        self.routes()
            .legs
            .get(&leg)
            .map(|r| r.worker)
            .ok_or(MediaError::UnknownLeg(leg))
    }

    /// The worker of a room that has members, checking that every leg is in it.
    fn room_worker(&self, room: RoomId, legs: &[LegId]) -> Result<usize, MediaError> {
        let r = self.routes();
        let w = r.rooms.get(&room).ok_or(MediaError::UnknownRoom(room))?;
        for &leg in legs {
            let lr = r.legs.get(&leg).ok_or(MediaError::UnknownLeg(leg))?;
            if lr.room != Some(room) {
                return Err(MediaError::NotInRoom(leg, room));
            }
        }
        w.ok_or(MediaError::EmptyRoom(room))
    }

    /// A new leg: binds an RTP/RTCP socket pair from the port range and returns the local
    /// RTP address for our SDP. The leg sends (silence, prompts, its room's mix) as soon as
    /// it has a remote address, from `params.remote` or latched from the first packet.
    pub fn create_leg(&self, params: LegParams) -> Result<(LegId, SocketAddr), MediaError> {
        let (rtp, rtcp) = {
            let mut ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
            ports.bind_pair(self.cfg.media_addr)?
        };
        let local = rtp.local_addr().map_err(|_| MediaError::NoPorts(0, 0))?;
        let mut routes = self.routes();
        routes.next_id += 1;
        let id = LegId(routes.next_id);
        let leg = Leg::new(id, params, rtp, rtcp, &self.cfg)?;
        let worker = (id.0 as usize) % self.workers.len().max(1);
        self.send(worker, Cmd::AddLeg(Box::new(leg)))?;
        routes.legs.insert(id, LegRoute { worker, room: None });
        Ok((id, local))
    }

    /// Apply a new offer/answer outcome to a leg (re-INVITE: hold via sendonly/inactive,
    /// a moved remote, a new codec). With a new codec the decoder and encoder are built
    /// here, so a codec error comes back now; the RTP stream we send stays continuous.
    pub fn update_leg(&self, leg: LegId, params: LegParams) -> Result<(), MediaError> {
        let coders = Some(leg::Coders(
            params.codec.new_decoder()?,
            params.codec.new_encoder()?,
        ));
        self.send(
            self.leg_worker(leg)?,
            Cmd::Update {
                leg,
                params,
                coders,
            },
        )
    }

    /// Point the leg at a new remote address (a re-INVITE moved the media): latching starts
    /// over from the next packet.
    pub fn set_remote(&self, leg: LegId, remote: SocketAddr) -> Result<(), MediaError> {
        self.send(self.leg_worker(leg)?, Cmd::SetRemote(leg, remote))
    }

    /// Close the leg (its sockets, its playback; it leaves its room).
    pub fn remove_leg(&self, leg: LegId) -> Result<(), MediaError> {
        let route = self
            .routes()
            .legs
            .remove(&leg)
            .ok_or(MediaError::UnknownLeg(leg))?;
        self.send(route.worker, Cmd::RemoveLeg(leg))
    }

    /// A new, empty room. It is placed on the worker of the first leg added to it.
    pub fn create_room(&self) -> RoomId {
        let mut r = self.routes();
        r.next_id += 1;
        let id = RoomId(r.next_id);
        r.rooms.insert(id, None);
        id
    }

    /// Destroy a room: a recording is finished; the members stay as legs without a room
    /// (they hear only their own prompts).
    pub fn destroy_room(&self, room: RoomId) -> Result<(), MediaError> {
        let mut r = self.routes();
        let w = r.rooms.remove(&room).ok_or(MediaError::UnknownRoom(room))?;
        for lr in r.legs.values_mut().filter(|l| l.room == Some(room)) {
            lr.room = None;
        }
        match w {
            Some(w) => self.send(w, Cmd::DestroyRoom(room)),
            None => Ok(()),
        }
    }

    /// Add a leg to a room (leaving any room it was in). It hears nobody and nobody hears it
    /// until a matrix helper says otherwise.
    pub fn add_to_room(&self, room: RoomId, leg: LegId, role: Role) -> Result<(), MediaError> {
        let mut r = self.routes();
        let room_worker = *r.rooms.get(&room).ok_or(MediaError::UnknownRoom(room))?;
        let route = *r.legs.get(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        if let Some(old) = route.room.filter(|&old| old != room) {
            self.send(route.worker, Cmd::Leave { room: old, leg })?;
        }
        let target = room_worker.unwrap_or(route.worker);
        if room_worker.is_none() {
            self.send(target, Cmd::CreateRoom(room))?;
            r.rooms.insert(room, Some(target));
        }
        if target != route.worker {
            // Move the leg: the routes lock is held throughout, so any later command for it
            // is queued on the new worker after the leg itself.
            let (tx, rx) = crossbeam_channel::bounded(1);
            self.send(route.worker, Cmd::Detach { leg, reply: tx })?;
            let moved = rx.recv().map_err(|_| MediaError::Stopped)?;
            let moved = moved.ok_or(MediaError::UnknownLeg(leg))?;
            self.send(target, Cmd::AddLeg(moved))?;
        }
        self.send(target, Cmd::Join { room, leg, role })?;
        r.legs.insert(
            leg,
            LegRoute {
                worker: target,
                room: Some(room),
            },
        );
        Ok(())
    }

    /// Take a leg out of its room (it stays alive, hearing only its own prompts).
    pub fn remove_from_room(&self, room: RoomId, leg: LegId) -> Result<(), MediaError> {
        let w = self.room_worker(room, &[leg])?;
        if let Some(lr) = self.routes().legs.get_mut(&leg) {
            lr.room = None;
        }
        self.send(w, Cmd::Leave { room, leg })
    }

    fn edit(&self, room: RoomId, legs: &[LegId], edit: MatrixEdit) -> Result<(), MediaError> {
        let w = self.room_worker(room, legs)?;
        self.send(w, Cmd::Matrix { room, edit })
    }

    /// Replace the whole matrix: exactly the `(listener, talker)` pairs given hear each other.
    pub fn set_matrix(&self, room: RoomId, hears: &[(LegId, LegId)]) -> Result<(), MediaError> {
        let legs: Vec<LegId> = hears.iter().flat_map(|&(l, t)| [l, t]).collect();
        self.edit(room, &legs, MatrixEdit::Set(hears.to_vec()))
    }

    /// `a` and `b` hear each other; music on hold on either stops.
    pub fn bridge(&self, room: RoomId, a: LegId, b: LegId) -> Result<(), MediaError> {
        self.edit(room, &[a, b], MatrixEdit::Bridge(a, b))
    }

    /// Put `held` on hold: it hears the configured music on hold (looped), nobody hears it;
    /// `other` hears nothing of it. Undo with [`MediaEngine::bridge`].
    pub fn hold(&self, room: RoomId, held: LegId, other: LegId) -> Result<(), MediaError> {
        let music = self.music_on_hold()?;
        self.edit(
            room,
            &[held, other],
            MatrixEdit::Hold { held, other, music },
        )
    }

    /// Everyone in `legs` hears every other one; music on hold on them stops.
    pub fn conference(&self, room: RoomId, legs: &[LegId]) -> Result<(), MediaError> {
        self.edit(room, legs, MatrixEdit::Conference(legs.to_vec()))
    }

    /// The agent talks to `talk_to`; `held` is put on hold with music.
    pub fn swap(
        &self,
        room: RoomId,
        agent: LegId,
        talk_to: LegId,
        held: LegId,
    ) -> Result<(), MediaError> {
        let music = self.music_on_hold()?;
        let edit = MatrixEdit::Swap {
            agent,
            talk_to,
            held,
            music,
        };
        self.edit(room, &[agent, talk_to, held], edit)
    }

    /// `m` hears everyone and is heard by no one (silent monitoring).
    pub fn monitor(&self, room: RoomId, m: LegId) -> Result<(), MediaError> {
        self.edit(room, &[m], MatrixEdit::Monitor(m))
    }

    /// `m` hears everyone and everyone hears `m`.
    pub fn barge(&self, room: RoomId, m: LegId) -> Result<(), MediaError> {
        self.edit(room, &[m], MatrixEdit::Barge(m))
    }

    /// `m` hears everyone; only `agent` hears `m` (coaching).
    pub fn whisper(&self, room: RoomId, m: LegId, agent: LegId) -> Result<(), MediaError> {
        self.edit(room, &[m, agent], MatrixEdit::Whisper { m, agent })
    }

    fn music_on_hold(&self) -> Result<Option<Clip>, MediaError> {
        match &self.cfg.music_on_hold {
            Some(p) => Ok(Some(self.clips.get_native(p)?)),
            None => Ok(None),
        }
    }

    /// Play a WAV file (mono 16-bit, 8/16/48 kHz) to one leg, on top of what its room sends
    /// it. Replaces a playback in progress (which ends with [`PlaybackEnd::Stopped`]). The
    /// file is read here, on the caller's thread, and cached. `barge_in`: a DTMF digit from
    /// the leg stops it. A [`MediaEvent::PlaybackDone`] follows when it ends (never for a
    /// looped clip unless stopped).
    pub fn play(
        &self,
        leg: LegId,
        path: &Path,
        looped: bool,
        barge_in: bool,
    ) -> Result<(), MediaError> {
        let clip = self.clips.get_native(path)?;
        self.send(
            self.leg_worker(leg)?,
            Cmd::Play {
                leg,
                clip,
                looped,
                barge_in,
            },
        )
    }

    /// Stop the leg's playback, if any ([`PlaybackEnd::Stopped`]).
    pub fn stop_play(&self, leg: LegId) -> Result<(), MediaError> {
        self.send(self.leg_worker(leg)?, Cmd::StopPlay(leg))
    }

    /// Record the room to a stereo WAV at `path` (customer left, agent side right), at the
    /// room's mixing rate. A recording already running in the room is finished first.
    pub fn start_recording(&self, room: RoomId, path: &Path) -> Result<(), MediaError> {
        self.start_recording_of(room, path, Parties::Both)
    }

    /// As [`MediaEngine::start_recording`], keeping only `parties`: the other channel of the
    /// stereo file is silence.
    pub fn start_recording_of(
        &self,
        room: RoomId,
        path: &Path,
        parties: Parties,
    ) -> Result<(), MediaError> {
        let w = self.room_worker(room, &[])?;
        self.send(
            w,
            Cmd::StartRecording {
                room,
                path: path.to_owned(),
                parties,
            },
        )
    }

    /// Finish the room's recording; [`MediaEvent::RecordingFinished`] follows.
    pub fn stop_recording(&self, room: RoomId) -> Result<(), MediaError> {
        let w = self.room_worker(room, &[])?;
        self.send(w, Cmd::StopRecording(room))
    }

    /// Send a digit as RFC 4733 telephone-event (needs a negotiated event payload type).
    /// Audio to the leg pauses while the digit plays.
    pub fn send_dtmf(&self, leg: LegId, digit: char, duration: Duration) -> Result<(), MediaError> {
        let d = Digit::from_char(digit).ok_or(MediaError::BadDigit(digit))?;
        let ms = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
        self.send(self.leg_worker(leg)?, Cmd::SendDtmf { leg, digit: d, ms })
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        self.stop();
    }
}

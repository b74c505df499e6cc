//! media-load: N two-party calls through the media engine over loopback, with recording,
//! for a bounded time; reports engine CPU per call, late ticks and loss.
//!
//! Each call is a room with a customer leg and an agent leg, bridged; two [`RtpPeer`]s play
//! the phones (a 500 Hz and a 1100 Hz tone), driven by `--peer-threads` threads on their own
//! 20 ms grid. CPU is read per thread from /proc/self/task/*/stat (Linux), so the engine's
//! threads (media-worker-*, media-record) are measured apart from the peers. Loopback only;
//! at most 2000 calls and 600 s. See bench/media-load/README.md.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Errors end the run with a message; no error type beyond that is needed here.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

macro_rules! bail {
    ($($t:tt)*) => { return Err(format!($($t)*).into()) };
}
use switchboard_media::codec::Codec;
use switchboard_media::engine::peer::RtpPeer;
use switchboard_media::engine::{
    EngineConfig, LegParams, MediaEngine, MediaMetrics, TICK_BUCKETS_US,
};
use switchboard_media::room::Role;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const MAX_CALLS: usize = 2000;
const MAX_SECS: u64 = 600;
/// Linux reports thread CPU in USER_HZ ticks, 100 per second on every mainstream arch.
const USER_HZ: f64 = 100.0;

#[derive(Debug)]
struct Args {
    calls: usize,
    secs: u64,
    warmup: u64,
    workers: usize,
    peer_threads: usize,
    customer_codec: Codec,
    record: bool,
    record_dir: PathBuf,
    keep: bool,
    realtime: Option<u8>,
}

fn usage() -> &'static str {
    "media-load [--calls N] [--secs S] [--warmup S] [--workers W] [--peer-threads P]\n\
     \x20          [--customer pcmu|opus] [--no-record] [--record-dir DIR] [--keep]\n\
     \x20          [--realtime PRIO]\n\
     Defaults: 100 calls, 20 s measured after 3 s warm-up, 1 worker, 1 peer thread, PCMU,\n\
     recording on into a temporary directory (deleted unless --keep), ordinary scheduling.\n\
     --realtime PRIO: the engine's workers under SCHED_FIFO at PRIO (1-99), as the server's\n\
     media.realtime_priority; the fake phones stay at ordinary priority."
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        calls: 100,
        secs: 20,
        warmup: 3,
        workers: 1,
        peer_threads: 1,
        customer_codec: Codec::Pcmu,
        record: true,
        record_dir: std::env::temp_dir().join(format!("media-load-{}", std::process::id())),
        keep: false,
        realtime: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || -> Result<String> {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value\n{}", usage()).into())
        };
        match arg.as_str() {
            "--calls" => a.calls = val()?.parse()?,
            "--secs" => a.secs = val()?.parse()?,
            "--warmup" => a.warmup = val()?.parse()?,
            "--workers" => a.workers = val()?.parse()?,
            "--peer-threads" => a.peer_threads = val()?.parse()?,
            "--customer" => {
                a.customer_codec = match val()?.as_str() {
                    "pcmu" => Codec::Pcmu,
                    "opus" => Codec::Opus,
                    other => bail!("unknown codec {other}"),
                }
            }
            "--no-record" => a.record = false,
            "--record-dir" => a.record_dir = PathBuf::from(val()?),
            "--keep" => a.keep = true,
            "--realtime" => a.realtime = Some(val()?.parse()?),
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{}", usage()),
        }
    }
    if a.calls == 0 || a.calls > MAX_CALLS {
        bail!("--calls must be 1..={MAX_CALLS}");
    }
    if a.secs == 0 || a.secs + a.warmup > MAX_SECS {
        bail!("--secs + --warmup must be at most {MAX_SECS}");
    }
    a.peer_threads = a.peer_threads.clamp(1, 16);
    Ok(a)
}

/// Per thread: name, CPU seconds (user + system) and of those in the kernel (system), from
/// /proc/self/task.
type ThreadCpu = (String, f64, f64);

fn thread_cpu() -> Result<Vec<ThreadCpu>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task")? {
        let path = entry?.path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue; // the thread ended meanwhile
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // After the comm: state is field 3, utime 14 and stime 15 (1-based, proc(5)).
        let ticks = |i: usize| {
            fields
                .get(i - 3)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        out.push((name, (ticks(14) + ticks(15)) / USER_HZ, ticks(15) / USER_HZ));
    }
    Ok(out)
}

fn cpu_of(threads: &[ThreadCpu], prefixes: &[&str]) -> f64 {
    threads
        .iter()
        .filter(|(n, _, _)| prefixes.iter().any(|p| n.starts_with(p)))
        .map(|(_, c, _)| c)
        .sum()
}

fn sys_of(threads: &[ThreadCpu], prefixes: &[&str]) -> f64 {
    threads
        .iter()
        .filter(|(n, _, _)| prefixes.iter().any(|p| n.starts_with(p)))
        .map(|(_, _, s)| s)
        .sum()
}

#[allow(clippy::disallowed_methods)] // a load tool paces its fake phones by the clock
fn now() -> Instant {
    Instant::now()
}

/// Drive `peers` on a 20 ms grid until `stop`; returns them for the final tally.
fn drive(mut peers: Vec<RtpPeer>, stop: Arc<AtomicBool>) -> Vec<RtpPeer> {
    let start = now();
    let mut n: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        for p in &mut peers {
            let _ = p.send_frame();
        }
        n += 1;
        let due = start + Duration::from_millis(20) * n;
        std::thread::sleep(due.saturating_duration_since(now()));
        for p in &mut peers {
            p.receive();
        }
    }
    peers
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let engine = MediaEngine::start(EngineConfig {
        port_min: 20_000,
        port_max: 20_000 + 4 * MAX_CALLS as u16 + 200,
        workers: args.workers,
        realtime_priority: args.realtime,
        ..EngineConfig::default()
    })?;
    if args.record {
        std::fs::create_dir_all(&args.record_dir)?;
    }
    let setup = now();
    let mut peers = Vec::with_capacity(2 * args.calls);
    let mut rooms = Vec::with_capacity(args.calls);
    let customer_pt = if args.customer_codec == Codec::Opus {
        111
    } else {
        0
    };
    for i in 0..args.calls {
        let room = engine.create_room();
        for (role, codec, pt, hz) in [
            (Role::Customer, args.customer_codec, customer_pt, 500.0),
            (Role::Agent, Codec::Pcmu, 0, 1100.0),
        ] {
            let params = LegParams {
                codec,
                payload_type: pt,
                dtmf_payload_type: Some(101),
                remote: None,
                send: true,
            };
            let (leg, local) = engine.create_leg(params)?;
            let peer = RtpPeer::bind(LO, local, codec, pt, hz, false)?;
            engine.set_remote(leg, peer.local_addr()?)?;
            engine.add_to_room(room, leg, role)?;
            peers.push((leg, peer));
        }
        let (c, a) = (peers[2 * i].0, peers[2 * i + 1].0);
        engine.bridge(room, c, a)?;
        if args.record {
            engine.start_recording(room, &args.record_dir.join(format!("call-{i}.wav")))?;
        }
        rooms.push(room);
    }
    println!(
        "set up {} calls in {:.1} s",
        args.calls,
        setup.elapsed().as_secs_f64()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let chunk = peers.len().div_ceil(args.peer_threads);
    let mut drivers = Vec::new();
    let mut all: Vec<RtpPeer> = peers.into_iter().map(|(_, p)| p).collect();
    while !all.is_empty() {
        let rest = all.split_off(chunk.min(all.len()));
        let mine = std::mem::replace(&mut all, rest);
        let stop = stop.clone();
        drivers.push(
            std::thread::Builder::new()
                .name("load-peers".into())
                .spawn(move || drive(mine, stop))?,
        );
    }
    std::thread::sleep(Duration::from_secs(args.warmup));
    let (m0, c0, t0) = (engine.metrics(), thread_cpu()?, now());
    std::thread::sleep(Duration::from_secs(args.secs));
    let (m1, c1, t1) = (engine.metrics(), thread_cpu()?, now());
    stop.store(true, Ordering::Relaxed);
    let mut peers = Vec::new();
    for d in drivers {
        peers.extend(d.join().map_err(|_| "peer thread panicked")?);
    }
    for &room in &rooms {
        let _ = engine.stop_recording(room);
    }
    engine.shutdown();
    report(&args, &m0, &m1, &c0, &c1, t1 - t0, &peers);
    if args.record && !args.keep {
        std::fs::remove_dir_all(&args.record_dir)?;
    }
    Ok(())
}

fn report(
    args: &Args,
    m0: &MediaMetrics,
    m1: &MediaMetrics,
    c0: &[ThreadCpu],
    c1: &[ThreadCpu],
    wall: Duration,
    peers: &[RtpPeer],
) {
    let secs = wall.as_secs_f64();
    let engine_threads = ["media-worker", "media-record"];
    let engine_cpu = cpu_of(c1, &engine_threads) - cpu_of(c0, &engine_threads);
    let worker_cpu = cpu_of(c1, &["media-worker"]) - cpu_of(c0, &["media-worker"]);
    let engine_sys = sys_of(c1, &engine_threads) - sys_of(c0, &engine_threads);
    let peer_cpu = cpu_of(c1, &["load-peers"]) - cpu_of(c0, &["load-peers"]);
    let d = |f: fn(&MediaMetrics) -> u64| f(m1) - f(m0);
    let ticks = d(|m| m.ticks);
    let late = d(|m| m.late_ticks);
    let mut hist = m1.clone();
    for (h, b) in hist.tick_buckets.iter_mut().zip(m0.tick_buckets) {
        *h -= b;
    }
    let q = |x| {
        hist.tick_quantile_us(x)
            .map_or(">20000".into(), |v: u64| v.to_string())
    };
    let peer_in: u64 = peers.iter().map(|p| p.packets_in).sum();
    let peer_gaps: u64 = peers.iter().map(|p| p.seq_gaps).sum();
    let codec = match args.customer_codec {
        Codec::Opus => "customer Opus <-> agent PCMU (transcoded)",
        _ => "PCMU <-> PCMU",
    };
    println!(
        "media-load: {} calls, {codec}, recording {}",
        args.calls,
        if args.record { "on" } else { "off" }
    );
    let sched = match args.realtime {
        Some(p) if m1.realtime_workers == args.workers as u64 => format!("SCHED_FIFO {p}"),
        Some(p) => format!("SCHED_FIFO {p} REFUSED for some workers (see the warning)"),
        None => "ordinary scheduling".into(),
    };
    println!(
        "  workers {} ({sched}), measured {secs:.1} s after {} s warm-up",
        args.workers, args.warmup
    );
    println!(
        "  engine CPU   {:.2} s = {:.1} % of one core ({:.1} % in workers; {:.0} % of it in the kernel)",
        engine_cpu,
        100.0 * engine_cpu / secs,
        100.0 * worker_cpu / secs,
        if engine_cpu > 0.0 {
            100.0 * engine_sys / engine_cpu
        } else {
            0.0
        }
    );
    // Normalise by the work actually done: a starved worker skips ticks, and CPU per
    // wall-clock second would then flatter it.
    let out = d(|m| m.packets_out) as f64;
    let expected = secs * 100.0 * args.calls as f64; // two legs x 50 packets per second
    let per_leg_tick = if out > 0.0 {
        1e6 * engine_cpu / out
    } else {
        0.0
    };
    println!(
        "  work done    {:.1} % of the packets a real-time engine sends in that time",
        100.0 * out / expected
    );
    println!(
        "  per call     {per_leg_tick:.2} us CPU per leg-tick = {:.0} us per call-second = {:.3} % of a core -> {:.0} calls per core",
        per_leg_tick * 100.0,
        per_leg_tick * 100.0 / 1e4,
        if per_leg_tick > 0.0 {
            1e6 / (per_leg_tick * 100.0)
        } else {
            0.0
        }
    );
    println!(
        "  peers CPU    {:.2} s = {:.1} % of one core (the fake phones, not the engine)",
        peer_cpu,
        100.0 * peer_cpu / secs
    );
    println!(
        "  ticks        {ticks}, late {late} ({:.3} %), tick p50 <= {} us, p99 <= {} us, p99.9 <= {} us (buckets {:?})",
        if ticks == 0 {
            0.0
        } else {
            100.0 * late as f64 / ticks as f64
        },
        q(0.5),
        q(0.99),
        q(0.999),
        TICK_BUCKETS_US
    );
    println!(
        "  engine in    {} packets, lost {}, late/dup {}, malformed {}",
        d(|m| m.packets_in),
        d(|m| m.packets_lost),
        d(|m| m.packets_late),
        d(|m| m.packets_malformed)
    );
    println!(
        "  engine out   {} packets, send errors {}, recording frames dropped {}",
        d(|m| m.packets_out),
        d(|m| m.send_errors),
        d(|m| m.recording_frames_dropped)
    );
    println!("  peers in     {peer_in} packets over the whole run, sequence gaps {peer_gaps}");
}

//! rtpengine-load: the media-load packet load, relayed by a running rtpengine instead of
//! mixed by our engine, to compare CPU per call (bench/rtpengine/README.md).
//!
//! For each call two [`RtpPeer`]s (PCMU, 20 ms) are set up as caller and callee through
//! rtpengine's ng control protocol (bencode over UDP: `offer` with the caller's SDP,
//! `answer` with the callee's; each side then sends to the port rtpengine put in the SDP
//! handed to it). The peers run on one thread on a 20 ms grid as in media-load; rtpengine's
//! CPU is read from /proc/PID/stat over the measured window. Calls are deleted at the end.
//! Loopback only; at most 2000 calls and 600 s.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use switchboard_media::codec::Codec;
use switchboard_media::engine::peer::RtpPeer;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const MAX_CALLS: usize = 2000;
const MAX_SECS: u64 = 600;
/// Linux reports CPU in USER_HZ ticks, 100 per second on every mainstream arch.
const USER_HZ: f64 = 100.0;

struct Args {
    calls: usize,
    secs: u64,
    warmup: u64,
    ng: SocketAddr,
    pid: u32,
}

fn usage() -> &'static str {
    "rtpengine-load --pid PID [--ng 127.0.0.1:22223] [--calls N] [--secs S] [--warmup S]\n\
     PID is the rtpengine process (its CPU is measured). Defaults: 100 calls, 20 s after 3 s."
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        calls: 100,
        secs: 20,
        warmup: 3,
        ng: SocketAddr::new(LO, 22223),
        pid: 0,
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
            "--ng" => a.ng = val()?.parse()?,
            "--pid" => a.pid = val()?.parse()?,
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{}", usage()).into()),
        }
    }
    if a.pid == 0 {
        return Err(format!("--pid is required\n{}", usage()).into());
    }
    if a.calls == 0 || a.calls > MAX_CALLS {
        return Err(format!("--calls must be 1..={MAX_CALLS}").into());
    }
    if a.secs == 0 || a.secs + a.warmup > MAX_SECS {
        return Err(format!("--secs + --warmup must be at most {MAX_SECS}").into());
    }
    if !a.ng.ip().is_loopback() {
        return Err("--ng must be a loopback address".into());
    }
    Ok(a)
}

/// Bencode a flat dictionary of strings (keys must be given sorted).
fn bencode(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = b"d".to_vec();
    for (k, v) in pairs {
        for s in [k, v] {
            out.extend_from_slice(format!("{}:", s.len()).as_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out.push(b'e');
    out
}

/// The string values of a bencoded dictionary's top level (other values are skipped).
fn bdecode_strings(b: &[u8]) -> Option<Vec<(String, String)>> {
    fn skip(b: &[u8], i: usize) -> Option<(usize, Option<&[u8]>)> {
        match *b.get(i)? {
            b'i' => Some((i + b.get(i..)?.iter().position(|&c| c == b'e')? + 1, None)),
            b'l' | b'd' => {
                let mut j = i + 1;
                while *b.get(j)? != b'e' {
                    j = skip(b, j)?.0;
                }
                Some((j + 1, None))
            }
            b'0'..=b'9' => {
                let colon = i + b.get(i..)?.iter().position(|&c| c == b':')?;
                let len: usize = std::str::from_utf8(b.get(i..colon)?).ok()?.parse().ok()?;
                let s = b.get(colon + 1..colon + 1 + len)?;
                Some((colon + 1 + len, Some(s)))
            }
            _ => None,
        }
    }
    if b.first() != Some(&b'd') {
        return None;
    }
    let (mut i, mut out) = (1, Vec::new());
    while *b.get(i)? != b'e' {
        let (j, key) = skip(b, i)?;
        let (k, val) = skip(b, j)?;
        if let (Some(key), Some(val)) = (key, val) {
            out.push((
                String::from_utf8_lossy(key).into_owned(),
                String::from_utf8_lossy(val).into_owned(),
            ));
        }
        i = k;
    }
    Some(out)
}

struct Ng {
    sock: UdpSocket,
    cookie: u64,
    buf: Vec<u8>,
}

impl Ng {
    fn new(to: SocketAddr) -> Result<Ng> {
        let sock = UdpSocket::bind(SocketAddr::new(LO, 0))?;
        sock.connect(to)?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Ng {
            sock,
            cookie: 0,
            buf: vec![0; 65_536],
        })
    }

    /// Send one command, return the reply's string fields (error unless result=ok).
    fn call(&mut self, pairs: &[(&str, &str)]) -> Result<Vec<(String, String)>> {
        self.cookie += 1;
        let cookie = format!("c{}", self.cookie);
        let mut msg = format!("{cookie} ").into_bytes();
        msg.extend(bencode(pairs));
        self.sock.send(&msg)?;
        loop {
            let n = self.sock.recv(&mut self.buf)?;
            let reply = self.buf.get(..n).unwrap_or_default();
            let Some(rest) = reply.strip_prefix(format!("{cookie} ").as_bytes()) else {
                continue; // a late reply to an earlier command
            };
            let fields = bdecode_strings(rest).ok_or("unparsable ng reply")?;
            let get = |k: &str| fields.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
            if get("result").as_deref() != Some("ok") {
                return Err(format!("ng error: {:?}", get("error-reason")).into());
            }
            return Ok(fields);
        }
    }
}

fn sdp(port: u16, id: usize) -> String {
    format!(
        "v=0\r\no=- {id} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
}

/// The RTP address in an SDP rtpengine returned (c= and m=audio lines).
fn sdp_addr(sdp: &str) -> Option<SocketAddr> {
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))?
        .trim()
        .parse()
        .ok()?;
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some(SocketAddr::new(ip, port))
}

fn sdp_of(fields: &[(String, String)]) -> Result<SocketAddr> {
    let sdp = fields
        .iter()
        .find(|(k, _)| k == "sdp")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| format!("no sdp in the ng reply {fields:?}"))?;
    sdp_addr(sdp).ok_or_else(|| "no address in the returned sdp".into())
}

/// CPU seconds (user, system) of process `pid`, all threads (proc(5) fields 14 and 15).
fn proc_cpu(pid: u32) -> Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let close = stat.rfind(')').ok_or("bad stat")?;
    let f: Vec<&str> = stat
        .get(close + 2..)
        .unwrap_or_default()
        .split(' ')
        .collect();
    let t = |i: usize| -> f64 { f.get(i - 3).and_then(|x| x.parse().ok()).unwrap_or(0.0) };
    Ok((t(14) / USER_HZ, t(15) / USER_HZ))
}

/// CPU seconds of this process's threads named `prefix`*.
fn own_threads_cpu(prefix: &str) -> Result<f64> {
    let mut sum = 0.0;
    for e in std::fs::read_dir("/proc/self/task")? {
        let Ok(stat) = std::fs::read_to_string(e?.path().join("stat")) else {
            continue;
        };
        let (Some(o), Some(c)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat.get(o + 1..c).unwrap_or_default().starts_with(prefix) {
            continue;
        }
        let f: Vec<&str> = stat.get(c + 2..).unwrap_or_default().split(' ').collect();
        let t = |i: usize| -> f64 { f.get(i - 3).and_then(|x| x.parse().ok()).unwrap_or(0.0) };
        sum += (t(14) + t(15)) / USER_HZ;
    }
    Ok(sum)
}

#[allow(clippy::disallowed_methods)] // a load tool paces its fake phones by the clock
fn now() -> Instant {
    Instant::now()
}

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
    let mut ng = Ng::new(args.ng)?;
    let nowhere = SocketAddr::new(LO, 9);
    let mut peers = Vec::with_capacity(2 * args.calls);
    let run = std::process::id();
    for i in 0..args.calls {
        let call_id = format!("load-{run}-{i}");
        let mut a = RtpPeer::bind(LO, nowhere, Codec::Pcmu, 0, 500.0, false)?;
        let mut b = RtpPeer::bind(LO, nowhere, Codec::Pcmu, 0, 1100.0, false)?;
        let offer = sdp(a.local_addr()?.port(), i);
        let to_b = ng.call(&[
            ("call-id", &call_id),
            ("command", "offer"),
            ("from-tag", "a"),
            ("sdp", &offer),
        ])?;
        let answer = sdp(b.local_addr()?.port(), i);
        let to_a = ng.call(&[
            ("call-id", &call_id),
            ("command", "answer"),
            ("from-tag", "a"),
            ("sdp", &answer),
            ("to-tag", "b"),
        ])?;
        b.set_remote(sdp_of(&to_b)?);
        a.set_remote(sdp_of(&to_a)?);
        peers.push(a);
        peers.push(b);
    }
    println!("set up {} calls through rtpengine", args.calls);
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("load-peers".into())
            .spawn(move || drive(peers, stop))?
    };
    std::thread::sleep(Duration::from_secs(args.warmup));
    let (c0, p0, t0) = (proc_cpu(args.pid)?, own_threads_cpu("load-peers")?, now());
    std::thread::sleep(Duration::from_secs(args.secs));
    let (c1, p1, t1) = (proc_cpu(args.pid)?, own_threads_cpu("load-peers")?, now());
    stop.store(true, Ordering::Relaxed);
    let peers = driver.join().map_err(|_| "peer thread panicked")?;
    for i in 0..args.calls {
        let call_id = format!("load-{run}-{i}");
        let _ = ng.call(&[("call-id", &call_id), ("command", "delete")]);
    }
    let secs = (t1 - t0).as_secs_f64();
    let (user, sys) = (c1.0 - c0.0, c1.1 - c0.1);
    let cpu = user + sys;
    let peer_in: u64 = peers.iter().map(|p| p.packets_in).sum();
    let gaps: u64 = peers.iter().map(|p| p.seq_gaps).sum();
    // Each call relays 2 x 50 packets per second: one "leg-tick" is one packet forwarded.
    let per_pkt = 1e6 * cpu / (secs * 100.0 * args.calls as f64);
    println!(
        "rtpengine-load: {} calls PCMU relayed (userspace), measured {secs:.1} s after {} s",
        args.calls, args.warmup
    );
    println!(
        "  rtpengine CPU {cpu:.2} s = {:.1} % of one core ({:.0} % in the kernel)",
        100.0 * cpu / secs,
        if cpu > 0.0 { 100.0 * sys / cpu } else { 0.0 }
    );
    println!(
        "  per call      {per_pkt:.2} us CPU per packet forwarded = {:.0} us per call-second -> {:.0} calls per core",
        per_pkt * 100.0,
        if per_pkt > 0.0 {
            1e6 / (per_pkt * 100.0)
        } else {
            0.0
        }
    );
    println!(
        "  peers CPU     {:.2} s = {:.1} % of one core",
        p1 - p0,
        100.0 * (p1 - p0) / secs
    );
    println!("  peers in      {peer_in} packets over the whole run, sequence gaps {gaps}");
    Ok(())
}

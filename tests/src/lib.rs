//! Harness for integration tests of the real `switchboard` binary against real SIP clients.
//!
//! [`Server`] starts the binary on free loopback ports with its own database in a temporary
//! directory, waits until `/healthz` answers, and stops it with SIGTERM (or kills it) when
//! asked or dropped. [`sipp`] runs a sipp scenario and returns its exit status and logs.
//! Tools that are missing make a test fail with the command that installs them: the README's
//! test command installs them all, and a test that silently skips is a test that lies.

// The harness waits on real processes in real time: the clock rule is for protocol cores.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace root (this crate lives in `tests/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The `switchboard` binary built next to this test executable (`cargo build` puts it in
/// the same profile directory; the README's test command builds it first).
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("SWITCHBOARD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/switchboard
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let bin = dir.join("switchboard");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p switchboard` first (the README's test command does)",
        bin.display()
    );
    bin
}

/// Fails the test with an install hint when `tool` is not on PATH.
pub fn require_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed: run `sudo apt-get install {package}` (the README's test command does this)"
    );
}

/// A copy of the shipped config with some lines changed, laid out like the repository
/// (`config/`, with a copy of `flows/` and a link to `media/` beside it) so its relative
/// paths resolve.
#[derive(Debug)]
pub struct DerivedConfig {
    _dir: tempfile::TempDir,
    /// The config file to pass to `--config`.
    pub path: PathBuf,
}

/// Writes a copy of the shipped `config/switchboard.yaml` with each `(from, to)` replacement
/// applied. Each `from` must occur exactly once, so a change to the shipped file that breaks
/// a test's assumption fails loudly.
pub fn derive_config(replacements: &[(&str, &str)]) -> DerivedConfig {
    let shipped = root().join("config/switchboard.yaml");
    let mut text = std::fs::read_to_string(&shipped).expect("read the shipped config");
    let dir = tempfile::tempdir().expect("tempdir");
    // Each server gets its own data directory (pid file, default database, recordings).
    let data = format!("  data_dir: {}", dir.path().join("data").display());
    let mut all = vec![("  data_dir: data", data.as_str())];
    all.extend_from_slice(replacements);
    for (from, to) in all {
        let n = text.matches(from).count();
        assert_eq!(n, 1, "`{from}` occurs {n} times in {}", shipped.display());
        text = text.replace(from, to);
    }
    // Flows are copied (a test may publish changed ones); media is linked (prompts, music).
    std::os::unix::fs::symlink(root().join("media"), dir.path().join("media"))
        .expect("link media beside the config");
    std::fs::create_dir(dir.path().join("flows")).expect("flows dir");
    for entry in std::fs::read_dir(root().join("flows")).expect("read flows") {
        let entry = entry.expect("flow entry");
        std::fs::copy(
            entry.path(),
            dir.path().join("flows").join(entry.file_name()),
        )
        .expect("copy flow");
    }
    std::fs::create_dir(dir.path().join("config")).expect("config dir");
    let path = dir.path().join("config/switchboard.yaml");
    std::fs::write(&path, text).expect("write config");
    DerivedConfig { _dir: dir, path }
}

impl DerivedConfig {
    /// The copied flow file `name.yaml`, for tests that publish a changed flow.
    pub fn flow_path(&self, name: &str) -> PathBuf {
        self._dir.path().join("flows").join(format!("{name}.yaml"))
    }
}

/// A port free for both UDP and TCP on 127.0.0.1 right now, and one nothing else will take
/// before the test binds it.
///
/// A test often frees a port and binds it again: a phone registers from it with one sipp run
/// and answers calls on it with the next. A port from the kernel's ephemeral range could be
/// handed, in between, to any socket bound to port 0 (a handset, another sipp), and the
/// phone's sipp then fails with "Address already in use". So ports come from below that range
/// and above the shipped RTP range (20000-29999), each at most once per process while there
/// are unused ones.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = 30_000u32;
    let high = ephemeral_low().clamp(low + 100, 32_768);
    let span = high - low;
    // Processes that run one after another start at different places.
    let offset = std::process::id() % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(low + (offset + n) % span).expect("port below 32768");
        let Ok(_udp) = UdpSocket::bind(("127.0.0.1", port)) else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 in {low}..{high}");
}

/// The first port of the kernel's ephemeral range (`ip_local_port_range`), 32768 if unknown.
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    pub database_url: String,
    pub config: PathBuf,
    pub log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts the binary on `config` with a fresh SQLite database in a temporary directory.
    pub fn start(config: &Path) -> Result<Server> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}/switchboard.db", dir.path().display());
        let mut s = Server::start_with(config, &url, dir.path())?;
        s._dir = Some(dir);
        Ok(s)
    }

    /// Starts the binary on `config` with the given database URL; logs go under `workdir`.
    pub fn start_with(config: &Path, database_url: &str, workdir: &Path) -> Result<Server> {
        let port = free_port();
        let sip: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let log = workdir.join(format!("server-{port}.log"));
        let mut s = Server {
            child: None,
            sip,
            http,
            database_url: database_url.to_string(),
            config: config.to_path_buf(),
            log,
            _dir: None,
        };
        s.launch()?;
        Ok(s)
    }

    fn launch(&mut self) -> Result<()> {
        let logfile = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(binary())
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env("SWITCHBOARD_SIP_UDP", self.sip.to_string())
            .env("SWITCHBOARD_SIP_TCP", self.sip.to_string())
            .env("SWITCHBOARD_HTTP", self.http.to_string())
            .env("SWITCHBOARD_DATABASE_URL", &self.database_url)
            .env(
                "SWITCHBOARD_LOG",
                std::env::var("SWITCHBOARD_LOG").unwrap_or_else(|_| "info".into()),
            )
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logfile)
            .spawn()
            .context("spawning switchboard")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut()
                && let Some(status) = c.try_wait()?
            {
                bail!("server exited early ({status}); log:\n{}", self.log_text());
            }
            if self.get("/healthz").is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("server did not become healthy; log:\n{}", self.log_text())
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path` on the HTTP port; returns the body of a 200.
    pub fn get(&self, path: &str) -> Result<String> {
        let mut s = TcpStream::connect_timeout(&self.http, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.http
        )?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)?;
        let (head, body) = resp.split_once("\r\n\r\n").context("no HTTP header end")?;
        if !head.starts_with("HTTP/1.1 200") {
            bail!("GET {path}: {}", head.lines().next().unwrap_or(""));
        }
        Ok(body.to_string())
    }

    /// One HTTP request to the API: `method path` with an optional bearer token and JSON
    /// body; returns the status code and the body (whatever the status).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json: Option<&str>,
    ) -> Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.http, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.http
        );
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let body = json.unwrap_or("");
        if json.is_some() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes())?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)?;
        let (head, body) = resp.split_once("\r\n\r\n").context("no HTTP header end")?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .context("no status code")?
            .parse()?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        Ok((
            status,
            if chunked {
                dechunk(body)
            } else {
                body.to_string()
            },
        ))
    }

    /// Logs `user` in to the API and returns the bearer token.
    pub fn login(&self, user: &str, password: &str) -> Result<String> {
        let (status, body) = self.api(
            "POST",
            "/api/v1/login",
            None,
            Some(&format!(
                r#"{{"username":"{user}","password":"{password}"}}"#
            )),
        )?;
        if status != 200 {
            bail!("login as {user}: {status} {body}");
        }
        let v: serde_json::Value = serde_json::from_str(&body)?;
        Ok(v["token"].as_str().context("no token")?.to_string())
    }

    /// The contact records in the server's store, read every 100 ms until `done` holds for
    /// them (at most 10 s; then whatever is there).
    pub fn contact_records(
        &self,
        done: impl Fn(&[switchboard::store::ContactRecord]) -> bool,
    ) -> Vec<switchboard::store::ContactRecord> {
        use switchboard::store::{ContactQuery, Store};
        let url = self.database_url.clone();
        tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(async move {
                let store = Store::open(&url).await.expect("open store");
                let mut found = Vec::new();
                for _ in 0..100 {
                    found = store
                        .search_contacts(&ContactQuery::between(0, i64::MAX / 2))
                        .await
                        .expect("search");
                    if done(&found) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                store.close().await;
                found
            })
    }

    /// The value of one metric line (exact name with labels), e.g.
    /// `switchboard_sip_active_bindings` or `switchboard_sip_responses_total{class="2xx"}`.
    pub fn metric(&self, name: &str) -> Result<f64> {
        let text = self.get("/metrics")?;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(name)
                && let Some(v) = rest.strip_prefix(' ')
            {
                return Ok(v.trim().parse()?);
            }
        }
        Ok(0.0)
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn stop(&mut self) -> Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("not running")?;
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("server did not stop within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// kill -9, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the same server again (same ports, database and config).
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            self.stop()?;
        }
        self.launch()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a sipp run left behind.
#[derive(Debug)]
pub struct SippRun {
    pub output: Output,
    pub messages: String,
    pub errors: String,
}

impl SippRun {
    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    /// Everything useful for a failure message.
    pub fn explain(&self) -> String {
        format!(
            "sipp exit {:?}\n--- stderr\n{}\n--- errors\n{}\n--- messages\n{}",
            self.output.status.code(),
            String::from_utf8_lossy(&self.output.stderr),
            self.errors,
            self.messages
        )
    }
}

/// Runs `tests/sipp/<scenario>` once (one call) against `target` with the injection fields
/// `fields` (one CSV line, `;`-separated) and extra `-key value` variables.
pub fn sipp(target: SocketAddr, scenario: &str, fields: &str, vars: &[(&str, &str)]) -> SippRun {
    sipp_with(target, scenario, fields, vars, &[])
}

/// As [`sipp`], with extra raw sipp arguments (e.g. `-t t1` for TCP).
pub fn sipp_with(
    target: SocketAddr,
    scenario: &str,
    fields: &str,
    vars: &[(&str, &str)],
    extra: &[&str],
) -> SippRun {
    sipp_on_port(target, scenario, fields, vars, extra, free_port())
}

/// As [`sipp_with`], with sipp on local port `port` (a phone that registered from it and
/// now answers calls there).
pub fn sipp_on_port(
    target: SocketAddr,
    scenario: &str,
    fields: &str,
    vars: &[(&str, &str)],
    extra: &[&str],
    port: u16,
) -> SippRun {
    require_tool("sipp", "sip-tester");
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("fields.csv");
    std::fs::write(&csv, format!("SEQUENTIAL\n{fields}\n")).expect("write csv");
    let scenario_path = root().join("tests/sipp").join(scenario);
    let port = port.to_string();
    let mut cmd = Command::new("sipp");
    cmd.arg(target.to_string())
        .arg("-sf")
        .arg(&scenario_path)
        .arg("-inf")
        .arg(&csv)
        .args(["-m", "1", "-l", "1", "-i", "127.0.0.1", "-p", &port])
        .args(["-timeout", "20s", "-timeout_error", "-nostdin"])
        .args(["-trace_msg", "-trace_err"])
        .args(extra)
        .current_dir(dir.path())
        .stdin(Stdio::null());
    for (k, v) in vars {
        cmd.arg("-key").arg(k).arg(v);
    }
    let output = cmd.output().expect("run sipp");
    let read_log = |suffix: &str| -> String {
        std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    };
    SippRun {
        messages: read_log("_messages.log"),
        errors: read_log("_errors.log"),
        output,
    }
}

/// Sends one raw datagram to `target` and waits up to `wait` for one reply.
pub fn udp_exchange(target: SocketAddr, payload: &[u8], wait: Duration) -> Option<String> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(wait)).ok()?;
    sock.send_to(payload, target).ok()?;
    let mut buf = vec![0u8; 65_535];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// A handset's audio side: a UDP socket that plays a PCMU tone to whoever sends it RTP
/// (symmetric RTP, like a phone behind NAT) and decodes everything it receives.
#[derive(Debug)]
pub struct Handset {
    sock: UdpSocket,
    remote: Option<SocketAddr>,
    tone: switchboard_media::tone::ToneGenerator,
    seq: u16,
    ts: u32,
    /// When sending started and how many frames went out: sending keeps to real time
    /// however irregularly `pump` is called.
    sending_since: Option<Instant>,
    sent: u64,
    created: Instant,
    /// Each packet heard: when (since the handset was made) and its 8 kHz PCM.
    frames: Vec<(Duration, Vec<i16>)>,
    /// Everything heard, as 8 kHz PCM.
    pub heard: Vec<i16>,
}

impl Handset {
    /// Binds on 127.0.0.1; it will send a tone of `freq_hz` once it hears from the far end.
    pub fn bind(freq_hz: f64) -> Handset {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind handset");
        sock.set_nonblocking(true).expect("nonblocking");
        Handset {
            sock,
            remote: None,
            tone: switchboard_media::tone::ToneGenerator::new(
                switchboard_media::frame::SampleRate::Hz8000,
                freq_hz,
                8000,
            ),
            seq: 1,
            ts: 0,
            sending_since: None,
            sent: 0,
            created: Instant::now(),
            frames: Vec::new(),
            heard: Vec::new(),
        }
    }

    /// What arrived between `from` and `to` after the handset was made.
    pub fn heard_between(&self, from: Duration, to: Duration) -> Vec<i16> {
        self.frames
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .flat_map(|(_, pcm)| pcm.iter().copied())
            .collect()
    }

    pub fn port(&self) -> u16 {
        self.sock.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Reads what arrived and sends the 20 ms frames that are due; call often.
    pub fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.sock.recv_from(&mut buf) {
            // RTP v2 with PCMU (payload type 0), 12-byte header without extensions.
            if n > 12 && buf[0] >> 6 == 2 && buf[1] & 0x7f == 0 {
                self.remote = Some(from);
                let pcm: Vec<i16> = buf[12..n]
                    .iter()
                    .map(|b| switchboard_media::codec::g711::ulaw_decode(*b))
                    .collect();
                self.heard.extend_from_slice(&pcm);
                self.frames.push((self.created.elapsed(), pcm));
            }
        }
        let Some(remote) = self.remote else {
            return;
        };
        let since = *self.sending_since.get_or_insert_with(Instant::now);
        let due = since.elapsed().as_millis() as u64 / 20 + 1;
        while self.sent < due {
            self.sent += 1;
            let mut pkt = vec![0x80, 0x00];
            pkt.extend_from_slice(&self.seq.to_be_bytes());
            pkt.extend_from_slice(&self.ts.to_be_bytes());
            pkt.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            pkt.extend(
                self.tone
                    .next_frame()
                    .samples
                    .iter()
                    .map(|x| switchboard_media::codec::g711::ulaw_encode(*x)),
            );
            let _ = self.sock.send_to(&pkt, remote);
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(160);
        }
    }
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One phone in a test call: its sipp signalling, run in a thread, and its audio side.
#[derive(Debug)]
pub struct Phone {
    pub audio: Handset,
    run: Option<std::thread::JoinHandle<SippRun>>,
    result: Option<SippRun>,
}

impl Phone {
    /// A caller dialling the demo number +15550100 with `scenario`, pressing `digit` by
    /// SIP INFO, sending a tone of `freq_hz`.
    pub fn customer(
        sip: SocketAddr,
        scenario: &'static str,
        digit: &'static str,
        freq_hz: f64,
    ) -> Phone {
        let audio = Handset::bind(freq_hz);
        let rtp = audio.port().to_string();
        let run = std::thread::spawn(move || {
            sipp(
                sip,
                scenario,
                "x",
                &[
                    ("number", "+15550100"),
                    ("domain", "demo.switchboard.test"),
                    ("digit", digit),
                    ("rtp_port", &rtp),
                ],
            )
        });
        Phone {
            audio,
            run: Some(run),
            result: None,
        }
    }

    /// An agent's phone answering at local SIP `port` with `scenario`, sending `freq_hz`.
    pub fn agent(sip: SocketAddr, scenario: &'static str, port: u16, freq_hz: f64) -> Phone {
        let audio = Handset::bind(freq_hz);
        let rtp = audio.port().to_string();
        let run = std::thread::spawn(move || {
            sipp_on_port(sip, scenario, "x", &[("rtp_port", &rtp)], &[], port)
        });
        Phone {
            audio,
            run: Some(run),
            result: None,
        }
    }

    /// Any phone: `scenario` run once from local SIP `port` with `-key` variables (plus
    /// `rtp_port`, the handset's), sending `freq_hz`; sipp may run up to 90 s.
    pub fn start(
        sip: SocketAddr,
        scenario: &'static str,
        port: u16,
        freq_hz: f64,
        vars: Vec<(&'static str, String)>,
    ) -> Phone {
        let audio = Handset::bind(freq_hz);
        let rtp = audio.port().to_string();
        let run = std::thread::spawn(move || {
            let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            all.push(("rtp_port", &rtp));
            sipp_on_port(sip, scenario, "x", &all, &["-timeout", "90s"], port)
        });
        Phone {
            audio,
            run: Some(run),
            result: None,
        }
    }

    /// Waits for sipp and takes what it left (once).
    pub fn join(&mut self) -> SippRun {
        match self.run.take() {
            Some(run) => run.join().expect("sipp thread"),
            None => self.result.take().expect("a sipp run"),
        }
    }

    /// The last half second this phone heard (8 kHz).
    pub fn recent(&self) -> Vec<i16> {
        let h = &self.audio.heard;
        h[h.len().saturating_sub(4_000)..].to_vec()
    }

    pub fn finished(&self) -> bool {
        self.run.as_ref().is_none_or(|r| r.is_finished())
    }

    /// Waits for sipp (call once it is finished) and returns what it left.
    pub fn result(&mut self) -> &SippRun {
        if let Some(run) = self.run.take() {
            self.result = Some(run.join().expect("sipp thread"));
        }
        self.result.as_ref().expect("a joined sipp run")
    }
}

/// Registers `user` from local SIP `port` (where its phone will then answer), with sipp.
pub fn register_phone(sip: SocketAddr, user: &str, password: &str, port: u16) {
    let run = sipp_on_port(
        sip,
        "register.xml",
        &format!("{user};{password};demo.switchboard.test"),
        &[],
        &[],
        port,
    );
    assert!(run.success(), "{}", run.explain());
}

/// Keeps every phone's audio flowing until all their sipp runs have finished (or `limit`).
pub fn talk(phones: &mut [&mut Phone], limit: Duration) {
    let start = Instant::now();
    while !phones.iter().all(|p| p.finished()) && start.elapsed() < limit {
        for p in phones.iter_mut() {
            p.audio.pump();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Keeps every phone's audio flowing for `d`.
pub fn pump(phones: &mut [&mut Phone], d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        for p in phones.iter_mut() {
            p.audio.pump();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The last second (8 kHz) of what a handset heard.
pub fn last_second(heard: &[i16]) -> Vec<i16> {
    heard[heard.len().saturating_sub(8_000)..].to_vec()
}

/// Pumps every phone's audio until `cond` holds on `token`'s panel snapshot
/// (`GET /api/v1/agent`), and returns that snapshot; fails after `limit`, saying `what` was
/// awaited, with the last snapshot and the server's log.
pub fn pump_until(
    server: &Server,
    token: &str,
    phones: &mut [&mut Phone],
    limit: Duration,
    what: &str,
    cond: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (status, body) = server
            .api("GET", "/api/v1/agent", Some(token), None)
            .expect("GET agent");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        if cond(&v) {
            return v;
        }
        if start.elapsed() >= limit {
            let runs: Vec<String> = phones
                .iter_mut()
                .filter(|p| p.finished())
                .map(|p| p.join().explain())
                .collect();
            panic!(
                "timed out waiting for {what}; last snapshot {v:#}\n{}\nfinished phones:\n{}",
                server.log_text(),
                runs.join("\n")
            );
        }
        pump(phones, Duration::from_millis(100));
    }
}

/// Who hears whom, from a stretch of what one party heard: each `(hz, heard)` party comes
/// through at its full level when heard (the handsets send about 8000 peak) and is absent
/// otherwise (music on hold may be there, but not at that party's frequency). `step` and
/// `who` name the check in the failure.
pub fn assert_hears(step: &str, who: &str, heard: &[i16], expect: &[(f64, bool)]) {
    for &(hz, should) in expect {
        let a = switchboard_media::tone::amplitude(heard, 8_000, hz);
        let verdict = if should { a >= 4_000.0 } else { a < 800.0 };
        assert!(
            verdict,
            "{step}: {who} {} the {hz} Hz party (amplitude {a:.0})",
            if should {
                "does not hear"
            } else {
                "still hears"
            }
        );
    }
}

/// `POST path` to the API as `token`'s user; asserts 200 and returns the JSON body.
pub fn api_post(server: &Server, token: &str, path: &str, json: Option<&str>) -> serde_json::Value {
    let (status, body) = server.api("POST", path, Some(token), json).expect("POST");
    assert_eq!(status, 200, "POST {path}: {body}\n{}", server.log_text());
    serde_json::from_str(&body).expect("json")
}

/// The state of the first contact's `kind` connection (`customer`, `third_party`) in a panel
/// snapshot, if it has one.
pub fn connection_state(snapshot: &serde_json::Value, kind: &str) -> Option<String> {
    connection(snapshot, kind).map(|(state, _)| state)
}

/// The state and endpoint of the first contact's `kind` connection in a panel snapshot.
pub fn connection(snapshot: &serde_json::Value, kind: &str) -> Option<(String, String)> {
    snapshot["contacts"][0]["connections"]
        .as_array()?
        .iter()
        .find(|c| c["kind"] == kind)
        .map(|c| {
            (
                c["state"].as_str().unwrap_or_default().to_string(),
                c["endpoint"].as_str().unwrap_or_default().to_string(),
            )
        })
}

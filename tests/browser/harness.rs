//! What the browser tests share (`tests/tests/browser.rs`, `tests/tests/browser_manager.rs`
//! include this file with `#[path]`): Chromium and node checks, the artifacts directory, the
//! scenario runner that follows a script's `@@` lines, sipp processes the test owns, a small
//! SIP UA for phones, and the handsets' audio pump.

// Each test uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_tests::{Handset, require_tool, root};

pub const DOMAIN: &str = "demo.switchboard.test";
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn browser_dir() -> PathBuf {
    root().join("tests/browser")
}

/// Where a scenario keeps its screenshots: `target/browser-artifacts/<name>/` (or under
/// `$SWITCHBOARD_BROWSER_ARTIFACTS`), emptied first.
pub fn artifacts_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("SWITCHBOARD_BROWSER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/browser-artifacts"));
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir
}

/// Chromium, node and the node packages, or a failure that says how to get them.
pub fn require_browser() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "Chromium is not installed at {CHROMIUM}: run `sudo apt-get install chromium` \
         (the browser tests drive Debian's Chromium)"
    );
    require_tool("node", "nodejs");
    require_tool("npm", "npm");
    let dir = browser_dir();
    if !dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("run npm ci");
        assert!(
            out.status.success(),
            "`npm ci` in {} failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One sipp process this test owns (killed when dropped), its logs in a temporary directory.
#[derive(Debug)]
pub struct Sipp {
    name: &'static str,
    child: Child,
    status: Option<ExitStatus>,
    dir: tempfile::TempDir,
}

impl Sipp {
    /// Runs `tests/browser/sipp/<scenario>` from local port `port` against `target` for
    /// `calls` calls, with `-key` variables `vars` (the harness's `sipp` helpers wait for
    /// sipp in a thread; this test needs to start, poll and stop it).
    pub fn start(
        name: &'static str,
        target: SocketAddr,
        scenario: &str,
        port: u16,
        calls: u32,
        vars: &[(&str, &str)],
    ) -> Sipp {
        require_tool("sipp", "sip-tester");
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("fields.csv");
        std::fs::write(&csv, "SEQUENTIAL\nx\n").expect("write csv");
        let calls = calls.to_string();
        let mut cmd = Command::new("sipp");
        cmd.arg(target.to_string())
            .arg("-sf")
            .arg(browser_dir().join("sipp").join(scenario))
            .arg("-inf")
            .arg(&csv)
            .args(["-m", &calls, "-l", &calls, "-i", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .args(["-timeout", "300s", "-timeout_error", "-nostdin", "-aa"])
            .args(["-trace_msg", "-trace_err"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout.txt")).expect("stdout file"))
            .stderr(std::fs::File::create(dir.path().join("stderr.txt")).expect("stderr file"));
        for (k, v) in vars {
            cmd.arg("-key").arg(k).arg(v);
        }
        let child = cmd.spawn().expect("start sipp");
        Sipp {
            name,
            child,
            status: None,
            dir,
        }
    }

    pub fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `limit` for sipp to finish; true if it finished and succeeded.
    pub fn wait_success(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.poll() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn log(&self, suffix: &str) -> String {
        std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }

    pub fn explain(&mut self) -> String {
        let status = match self.poll() {
            Some(s) => s.to_string(),
            None => "still running".into(),
        };
        format!(
            "--- sipp {} ({status})\n{}{}\n--- its errors\n{}\n--- its messages\n{}",
            self.name,
            self.log("stdout.txt")
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
            self.log("stderr.txt"),
            self.log("_errors.log"),
            self.log("_messages.log")
        )
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if self.poll().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An agent's softphone, signalling only (its audio is a [`Handset`]): a small SIP UAS on
/// the port the phone registered from. An INVITE without the auto-answer hints rings (180)
/// until it is CANCELled (200, then 487); one with them (`answer-after`,
/// `alert-autoanswer`: Accept pressed in the panel, or an auto-accept agent) is answered at
/// once with audio at `rtp_port`. In-dialog re-INVITEs are answered, BYE ends the call.
/// Whatever Call-ID or CSeq the server uses for calling again, it answers the same way.
/// What happened is kept as a list of events for the assertions and failure messages.
#[derive(Debug)]
pub struct SoftPhone {
    name: &'static str,
    events: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The value of header `name` (or its compact form) in a SIP message's header lines.
fn sip_header<'a>(head: &'a str, name: &str, compact: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let n = n.trim();
        (n.eq_ignore_ascii_case(name) || (!compact.is_empty() && n.eq_ignore_ascii_case(compact)))
            .then(|| v.trim())
    })
}

impl SoftPhone {
    /// `picks_up`: answer every call, hints or not (a person at a phone the trunk reaches).
    pub fn start(name: &'static str, port: u16, rtp_port: u16, picks_up: bool) -> SoftPhone {
        let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind the softphone's SIP port");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, flag) = (events.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut ua = Uas {
                port,
                rtp_port,
                picks_up,
                calls: 0,
                ringing: HashMap::new(),
                answered: HashMap::new(),
                log,
            };
            let mut buf = vec![0u8; 65_535];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                for reply in ua.handle(&text) {
                    let _ = sock.send_to(reply.as_bytes(), from);
                }
            }
        });
        SoftPhone {
            name,
            events,
            stop,
            thread: Some(thread),
        }
    }

    pub fn events(&self) -> Vec<String> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Waits up to `limit` for an event starting with `prefix`.
    pub fn wait_for(&self, prefix: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.events().iter().any(|e| e.starts_with(prefix)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn explain(&self) -> String {
        format!(
            "--- {} (SIP events)\n{}",
            self.name,
            self.events().join("\n")
        )
    }
}

impl Drop for SoftPhone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The softphone's state: ringing INVITEs by Via branch (the request and the To tag given),
/// and the responses already sent by branch (resent for retransmissions).
#[derive(Debug)]
struct Uas {
    port: u16,
    rtp_port: u16,
    picks_up: bool,
    calls: u32,
    ringing: HashMap<String, (String, String)>,
    answered: HashMap<String, Vec<String>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Uas {
    fn event(&self, e: String) {
        if let Ok(mut log) = self.log.lock() {
            log.push(e);
        }
    }

    fn sdp(&self) -> String {
        format!(
            "v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
            self.rtp_port
        )
    }

    /// A response to `request` (its header part), with `to_tag` added to a To without one.
    fn response(
        &self,
        request: &str,
        code: &str,
        to_tag: &str,
        cseq: Option<&str>,
        sdp: bool,
    ) -> String {
        let mut out = format!("SIP/2.0 {code}\r\n");
        for line in request.lines().skip(1) {
            let Some((n, _)) = line.split_once(':') else {
                continue;
            };
            let n = n.trim();
            if n.eq_ignore_ascii_case("Via") || n.eq_ignore_ascii_case("v") {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        let from = sip_header(request, "From", "f").unwrap_or("");
        let to = sip_header(request, "To", "t").unwrap_or("");
        let call_id = sip_header(request, "Call-ID", "i").unwrap_or("");
        let cseq = cseq
            .map(str::to_string)
            .or_else(|| sip_header(request, "CSeq", "").map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!("From: {from}\r\n"));
        if to.contains(";tag=") || to_tag.is_empty() {
            out.push_str(&format!("To: {to}\r\n"));
        } else {
            out.push_str(&format!("To: {to};tag={to_tag}\r\n"));
        }
        out.push_str(&format!("Call-ID: {call_id}\r\nCSeq: {cseq}\r\n"));
        out.push_str(&format!("Contact: <sip:agent@127.0.0.1:{}>\r\n", self.port));
        if sdp {
            let body = self.sdp();
            out.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            out.push_str("Content-Length: 0\r\n\r\n");
        }
        out
    }

    /// The responses to one incoming message (none for responses and ACKs).
    fn handle(&mut self, text: &str) -> Vec<String> {
        let head = text.split("\r\n\r\n").next().unwrap_or(text);
        let first = head.lines().next().unwrap_or("");
        if first.starts_with("SIP/2.0") {
            return Vec::new();
        }
        let method = first.split_whitespace().next().unwrap_or("").to_string();
        let via = sip_header(head, "Via", "v").unwrap_or("");
        let branch = via
            .split(';')
            .find_map(|p| p.trim().strip_prefix("branch="))
            .unwrap_or("")
            .to_string();
        let cseq = sip_header(head, "CSeq", "").unwrap_or("").to_string();
        let call_id = sip_header(head, "Call-ID", "i").unwrap_or("").to_string();
        if method != "ACK"
            && let Some(sent) = self.answered.get(&format!("{branch} {method}"))
        {
            return sent.clone(); // a retransmission
        }
        let replies = match method.as_str() {
            "INVITE" => {
                let to = sip_header(head, "To", "t").unwrap_or("");
                if to.contains(";tag=") {
                    self.event(format!("re-INVITE {call_id} ({cseq})"));
                    vec![self.response(head, "200 OK", "", None, true)]
                } else {
                    self.calls += 1;
                    let tag = format!("phone{}x{}", self.port, self.calls);
                    let hints = head.contains("answer-after") || head.contains("alert-autoanswer");
                    if hints || self.picks_up {
                        let how = if hints {
                            "answered with auto-answer"
                        } else {
                            "picked up"
                        };
                        self.event(format!("{how} {call_id} ({cseq}) branch {branch}"));
                        vec![
                            self.response(head, "180 Ringing", &tag, None, false),
                            self.response(head, "200 OK", &tag, None, true),
                        ]
                    } else {
                        self.event(format!("ringing {call_id} ({cseq}) branch {branch}"));
                        self.ringing
                            .insert(branch.clone(), (head.to_string(), tag.clone()));
                        vec![self.response(head, "180 Ringing", &tag, None, false)]
                    }
                }
            }
            "CANCEL" => {
                let mut out = vec![self.response(head, "200 OK", "", None, false)];
                if let Some((invite, tag)) = self.ringing.remove(&branch) {
                    self.event(format!("cancelled {call_id} ({cseq})"));
                    let invite_cseq = sip_header(&invite, "CSeq", "").unwrap_or("").to_string();
                    let terminated = self.response(
                        &invite,
                        "487 Request Terminated",
                        &tag,
                        Some(&invite_cseq),
                        false,
                    );
                    self.answered
                        .insert(format!("{branch} INVITE"), vec![terminated.clone()]);
                    out.push(terminated);
                } else {
                    self.event(format!("CANCEL for no ringing call {call_id} ({cseq})"));
                }
                out
            }
            "ACK" => {
                self.event(format!("ACK {call_id} ({cseq}) branch {branch}"));
                Vec::new()
            }
            "BYE" => {
                self.event(format!("BYE {call_id} ({cseq})"));
                vec![self.response(head, "200 OK", "", None, false)]
            }
            _ => {
                self.event(format!("{method} {call_id} ({cseq})"));
                vec![self.response(head, "200 OK", "", None, false)]
            }
        };
        if method != "ACK" {
            self.answered
                .insert(format!("{branch} {method}"), replies.clone());
        }
        replies
    }
}

/// Keeps the handsets' audio flowing (RTP both ways) until dropped.
#[derive(Debug)]
pub struct Audio {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Audio {
    pub fn start(mut handsets: Vec<Handset>) -> Audio {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                for h in handsets.iter_mut() {
                    h.pump();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Audio {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Audio {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the browser scenario printed, and how it ended.
#[derive(Debug, Default)]
pub struct Transcript {
    pub stdout: Vec<String>,
    pub stderr: String,
    pub status: Option<ExitStatus>,
    pub last_step: Option<String>,
    pub failed: Option<String>,
    pub timed_out: bool,
}

impl Transcript {
    pub fn stopped_at(&self) -> String {
        if let Some(f) = &self.failed {
            return f.clone();
        }
        match (&self.last_step, self.timed_out) {
            (Some(s), true) => format!("step `{s}` (the scenario timed out)"),
            (Some(s), false) => format!("step `{s}` (no @@failed line)"),
            (None, _) => "before the first step".into(),
        }
    }
}

impl Transcript {
    /// The script ran to its end (`@@done`) and exited 0.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success()) && self.stdout.iter().any(|l| l == "@@done")
    }
}

/// Runs `node <script> <url> <artifacts> <args>` in `tests/browser` and follows its stdout:
/// `@@step NAME` and `@@failed NAME: WHY` are noted; every line is echoed and handed to
/// `on_line`, which acts on the script's cues (e.g. `@@ready-for-call`). The script is killed
/// after `limit`.
pub fn run_scenario(
    script: &str,
    url: &str,
    artifacts: &Path,
    args: &[String],
    limit: Duration,
    mut on_line: impl FnMut(&str),
) -> Transcript {
    let mut node = Command::new("node")
        .arg(browser_dir().join(script))
        .arg(url)
        .arg(artifacts)
        .args(args)
        .current_dir(browser_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = node.stdout.take().expect("node stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = node.stderr.take().expect("node stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut t = Transcript::default();
    let start = Instant::now();
    loop {
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                println!("browser: {line}");
                if let Some(step) = line.strip_prefix("@@step ") {
                    t.last_step = Some(step.to_string());
                } else if let Some(why) = line.strip_prefix("@@failed ") {
                    t.failed = Some(why.to_string());
                }
                on_line(&line);
                t.stdout.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // stdout closed: node is exiting.
                t.status = node.wait().ok();
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if start.elapsed() > limit {
            t.timed_out = true;
            let _ = node.kill();
            t.status = node.wait().ok();
            break;
        }
    }
    t.stderr = stderr_reader.join().unwrap_or_default();
    t
}

/// The last `n` lines of the server's log.
pub fn log_tail(log: &str, n: usize) -> String {
    let tail: Vec<&str> = log.lines().rev().take(n).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// The failure message of a scenario that did not finish.
pub fn scenario_failure(
    t: &Transcript,
    artifacts: &Path,
    phones: &str,
    server_log: &str,
) -> String {
    format!(
        "the browser scenario stopped at {} (node exit: {:?}); screenshots in {}\n\
         --- browser stdout\n{}\n--- browser stderr\n{}\n{phones}\n--- server log (tail)\n{}",
        t.stopped_at(),
        t.status,
        artifacts.display(),
        t.stdout.join("\n"),
        t.stderr,
        log_tail(server_log, 120)
    )
}

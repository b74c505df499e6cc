//! The contact-center metrics end to end. A scripted set of real calls into Sales: one
//! abandoned (nobody available), one an agent misses and the customer then abandons, one
//! handled, one handled and transferred to a number by a blind REFER from the agent's phone.
//! Then `/metrics` shows exactly the expected `switchboard_cc_*` counts and gauges, and
//! histogram sums and buckets exactly as computed from the contact records the server wrote;
//! the real-time page's figures (`/api/v1/floor`) agree.
//! A real Prometheus (Debian package `prometheus`), run on a copy of docker/prometheus.yml
//! scraping the server every second, returns the same values from its query API, and
//! accepts every query of the Grafana dashboard in docker/, whose metric names all appear in
//! the server's real output.

// The test waits on real processes in real time.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard::cc_metrics::{ACW_BUCKETS_S, HOLD_BUCKETS_S, TALK_BUCKETS_S, WAIT_BUCKETS_S};
use switchboard::store::ContactRecord;
use switchboard_tests::{
    Handset, Server, SippRun, derive_config, free_port, register_phone, require_tool, root,
    sipp_on_port,
};

const DOMAIN: &str = "demo.switchboard.test";
const PROFILE: &str = "Support and Sales";

/// A phone whose sipp run goes on in a thread while the test pumps its audio.
struct Party {
    audio: Handset,
    run: Option<std::thread::JoinHandle<SippRun>>,
}

impl Party {
    fn start(sip: SocketAddr, scenario: &'static str, port: u16, vars: &[(&str, &str)]) -> Party {
        let audio = Handset::bind(440.0);
        let rtp = audio.port().to_string();
        let mut vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.push(("rtp_port".into(), rtp));
        let run = std::thread::spawn(move || {
            let all: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            sipp_on_port(sip, scenario, "x", &all, &["-timeout", "60s"], port)
        });
        Party {
            audio,
            run: Some(run),
        }
    }

    /// A customer calling the demo number and pressing 1 (Sales).
    fn customer(sip: SocketAddr, scenario: &'static str) -> Party {
        Party::start(
            sip,
            scenario,
            free_port(),
            &[("number", "+15550100"), ("domain", DOMAIN), ("digit", "1")],
        )
    }

    fn finished(&self) -> bool {
        self.run.as_ref().is_none_or(|r| r.is_finished())
    }
}

/// Pumps every party's audio until all their sipp runs are over (or `limit`), calling `each`
/// about every 100 ms; asserts every run succeeded.
fn drive(server: &Server, parties: &mut [&mut Party], limit: Duration, mut each: impl FnMut()) {
    let start = Instant::now();
    let mut last = Instant::now();
    while !parties.iter().all(|p| p.finished()) && start.elapsed() < limit {
        for p in parties.iter_mut() {
            p.audio.pump();
        }
        if last.elapsed() >= Duration::from_millis(100) {
            each();
            last = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for p in parties.iter_mut() {
        let run = p.run.take().expect("running").join().expect("sipp thread");
        assert!(
            run.success(),
            "{}\nserver log:\n{}",
            run.explain(),
            server.log_text()
        );
    }
}

/// Every sample line of an OpenMetrics text, `name{labels}` -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn scrape(server: &Server) -> BTreeMap<String, f64> {
    samples(&server.get("/metrics").expect("GET /metrics"))
}

/// Waits until every `(sample, value)` holds at `/metrics`; fails with the differences.
fn wait_for(server: &Server, what: &str, expect: &[(&str, f64)], limit: Duration) {
    let start = Instant::now();
    loop {
        let got = scrape(server);
        let wrong: Vec<String> = expect
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: expected {v}, got {:?}", got.get(*k)))
            .collect();
        if wrong.is_empty() {
            return;
        }
        if start.elapsed() > limit {
            panic!(
                "{what}: {}\nserver log:\n{}",
                wrong.join("\n"),
                server.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn post(server: &Server, token: &str, path: &str, json: Option<&str>) {
    let method = if path.ends_with("/status") {
        "PUT"
    } else {
        "POST"
    };
    let (status, body) = server.api(method, path, Some(token), json).expect(path);
    assert_eq!(status, 200, "{method} {path}: {body}");
}

fn q(name: &str, queue: &str) -> String {
    format!("switchboard_cc_{name}{{queue=\"{queue}\"}}")
}

fn agents(state: &str, profile: &str) -> String {
    format!("switchboard_cc_agents{{state=\"{state}\",routing_profile=\"{profile}\"}}")
}

/// Alice, in after-contact work, clears it from the panel once `recordings` calls'
/// recordings are closed. (A recording that closes after its contact left ACW, as a
/// transferred contact's does when the customer and the third party talk on, is stored from
/// the record as it was when recording began: its hold time would then differ from the one
/// the metrics counted at the contact's end, and the exact comparison below would fail.)
fn clear_acw(server: &Server, token: &str, recordings: usize) {
    let start = Instant::now();
    loop {
        let (status, body) = server
            .api("GET", "/api/v1/agent", Some(token), None)
            .expect("GET agent");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        let closed = server.log_text().matches("recording finished").count();
        if v["state"] == "AfterContactWork" && closed >= recordings {
            let contact = v["contacts"][0]["id"].as_str().expect("contact id");
            post(
                server,
                token,
                &format!("/api/v1/contacts/{contact}/clear"),
                None,
            );
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "Alice not in ACW with {recordings} recordings closed: {v:#}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The records the server wrote, once every contact has ended and the ACW of those an agent
/// handled is over.
fn records(server: &Server) -> Vec<ContactRecord> {
    server.contact_records(|found| {
        found.iter().all(|r| {
            r.disconnect_unix_ms.is_some()
                && (r.agent_connected_unix_ms.is_none() || r.acw_duration_ms.is_some())
        })
    })
}

/// The `_sum`, `_count` and `_bucket` samples a histogram of `ms` durations must show.
fn histogram(name: &str, queue: &str, bounds_s: &[u32], ms: &[i64]) -> Vec<(String, f64)> {
    let base = format!("switchboard_cc_{name}");
    let mut out = vec![
        (
            format!("{base}_sum{{queue=\"{queue}\"}}"),
            ms.iter().sum::<i64>() as f64 / 1_000.0,
        ),
        (
            format!("{base}_count{{queue=\"{queue}\"}}"),
            ms.len() as f64,
        ),
    ];
    for b in bounds_s {
        let n = ms.iter().filter(|v| **v <= i64::from(*b) * 1_000).count();
        out.push((
            format!("{base}_bucket{{le=\"{b}.0\",queue=\"{queue}\"}}"),
            n as f64,
        ));
    }
    out.push((
        format!("{base}_bucket{{le=\"+Inf\",queue=\"{queue}\"}}"),
        ms.len() as f64,
    ));
    out
}

/// A Prometheus server of our own, killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// docker/prometheus.yml with the scrape interval at 1 s and `target` as the target.
    fn start(target: SocketAddr) -> Prometheus {
        require_tool("prometheus", "prometheus");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = std::fs::read_to_string(root().join("docker/prometheus.yml"))
            .expect("read docker/prometheus.yml");
        for (from, to) in [
            ("  scrape_interval: 15s", "  scrape_interval: 1s"),
            ("  scrape_timeout: 10s", "  scrape_timeout: 1s"),
            ("  evaluation_interval: 15s", "  evaluation_interval: 1s"),
            ("switchboard:8080", &target.to_string()),
        ] {
            assert_eq!(
                config.matches(from).count(),
                1,
                "`{from}` in docker/prometheus.yml"
            );
            config = config.replace(from, to);
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write config");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { child, addr, dir };
        let start = Instant::now();
        while http_get(p.addr, "/-/ready").map(|(s, _)| s) != Some(200) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "prometheus did not become ready; log:\n{}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query: Prometheus's whole JSON answer.
    fn query(&self, promql: &str) -> serde_json::Value {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = http_get(self.addr, &path).expect("query prometheus");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{status} {body}: {e} (query `{promql}`)"))
    }

    /// The value of a query that returns one series.
    fn value(&self, promql: &str) -> Option<f64> {
        let v = self.query(promql);
        let result = v["data"]["result"].as_array()?;
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until every query returns its value.
    fn wait_for(&self, expect: &[(String, f64)], limit: Duration) {
        let start = Instant::now();
        loop {
            let wrong: Vec<String> = expect
                .iter()
                .filter_map(|(query, want)| {
                    let got = self.value(query);
                    (got != Some(*want)).then(|| format!("{query}: expected {want}, got {got:?}"))
                })
                .collect();
            if wrong.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "prometheus does not return the values:\n{}\nlog:\n{}",
                wrong.join("\n"),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// GET over HTTP/1.0 (so the answer is never chunked); the status and body.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Every PromQL expression of the Grafana dashboard, with Grafana's variables filled in.
fn dashboard_queries() -> Vec<String> {
    let path = root().join("docker/grafana/dashboards/switchboard.json");
    let text = std::fs::read_to_string(&path).expect("read the dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    assert!(dash["uid"].is_string() && dash["title"].is_string());
    let panels = dash["panels"].as_array().expect("panels");
    let mut out = Vec::new();
    for p in panels {
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel without queries: {p}");
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            out.push(
                expr.replace("$__rate_interval", "1m")
                    .replace("$__range", "5m")
                    .replace("$queue", ".*")
                    .replace("$routing_profile", ".*"),
            );
        }
    }
    for v in dash["templating"]["list"].as_array().expect("variables") {
        if let Some(q) = v["query"]["query"].as_str() {
            // label_values(metric, label): the metric must exist too.
            out.push(
                q.trim_start_matches("label_values(")
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    out
}

/// The `switchboard_*` names a query uses.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("switchboard_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn contact_center_metrics_after_scripted_calls_and_through_a_real_prometheus() {
    require_tool("prometheus", "prometheus");
    let trunk_port = free_port();
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        ("  ring_timeout: 20s", "  ring_timeout: 2s"),
        (
            "    address: 127.0.0.1:5070",
            &format!("    address: 127.0.0.1:{trunk_port}"),
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let prometheus = Prometheus::start(server.http);

    // At rest: both queues at zero, every agent Offline.
    wait_for(
        &server,
        "at rest",
        &[
            (&q("contacts_handled_total", "Sales"), 0.0),
            (&q("contacts_abandoned_total", "Support"), 0.0),
            (&q("contacts_in_queue", "Sales"), 0.0),
            (&agents("Offline", PROFILE), 1.0),
            (&agents("Available", PROFILE), 0.0),
            ("switchboard_cc_monitoring_sessions", 0.0),
        ],
        Duration::from_secs(5),
    );
    let token = server.login("alice", "demo-alice").expect("login");
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);

    // 1. Abandoned: nobody is available; the customer hangs up after 3 s in the queue.
    let mut customer = Party::customer(sip, "inbound_call.xml");
    drive(
        &server,
        &mut [&mut customer],
        Duration::from_secs(30),
        || {},
    );
    wait_for(
        &server,
        "abandoned",
        &[(&q("contacts_abandoned_total", "Sales"), 1.0)],
        Duration::from_secs(5),
    );

    // 2. Missed: Alice is Available but lets it ring out (2 s) and goes to Missed; the
    //    customer waits on, then hangs up: a second abandoned contact. While they wait, the
    //    floor gauges show one contact queued and Alice Missed.
    post(
        &server,
        &token,
        "/api/v1/agent/status",
        Some(r#"{"status":"Available"}"#),
    );
    let mut alice = Party::start(sip, "agent_no_answer.xml", agent_port, &[]);
    let mut customer = Party::customer(sip, "inbound_call_long.xml");
    let mut seen_waiting = false;
    drive(
        &server,
        &mut [&mut alice, &mut customer],
        Duration::from_secs(40),
        || {
            let m = scrape(&server);
            if m.get(&agents("Missed", PROFILE)) == Some(&1.0)
                && m.get(&q("contacts_in_queue", "Sales")) == Some(&1.0)
                && m.get(&q("oldest_contact_age_seconds", "Sales")) > Some(&0.0)
            {
                seen_waiting = true;
            }
        },
    );
    assert!(
        seen_waiting,
        "never saw Alice Missed with one contact waiting in Sales"
    );
    wait_for(
        &server,
        "missed and abandoned",
        &[
            (&q("contacts_missed_by_agent_total", "Sales"), 1.0),
            (&q("contacts_abandoned_total", "Sales"), 2.0),
            (&q("contacts_in_queue", "Sales"), 0.0),
            (&q("oldest_contact_age_seconds", "Sales"), 0.0),
        ],
        Duration::from_secs(5),
    );
    post(&server, &token, "/api/v1/agent/clear-missed", None);

    // 3. Handled: Alice answers; the customer hangs up after 3 s; once the call's recording
    //    is closed, Alice ends her after-contact work from the panel.
    let mut alice = Party::start(sip, "agent_answer.xml", agent_port, &[]);
    let mut customer = Party::customer(sip, "inbound_call.xml");
    drive(
        &server,
        &mut [&mut alice, &mut customer],
        Duration::from_secs(40),
        || {},
    );
    clear_acw(&server, &token, 1);
    wait_for(
        &server,
        "handled, ACW over",
        &[
            (&q("contacts_handled_total", "Sales"), 1.0),
            (&q("acw_time_seconds_count", "Sales"), 1.0),
            (&agents("Available", PROFILE), 1.0),
        ],
        Duration::from_secs(10),
    );

    // 4. Transferred: Alice answers, then hands the customer to +15550199 (a phone behind
    //    the trunk) with a blind REFER; that party hangs up 9 s later.
    let mut alice = Party::start(sip, "agent_refer_blind.xml", agent_port, &[]);
    let mut third = Party::start(sip, "third_party_answer_hangup.xml", trunk_port, &[]);
    let mut customer = Party::customer(sip, "customer_until_bye.xml");
    drive(
        &server,
        &mut [&mut alice, &mut third, &mut customer],
        Duration::from_secs(60),
        || {},
    );
    clear_acw(&server, &token, 2);

    // The counts, exactly.
    let expected: Vec<(String, f64)> = vec![
        (q("contacts_handled_total", "Sales"), 2.0),
        (q("contacts_abandoned_total", "Sales"), 2.0),
        (q("contacts_transferred_total", "Sales"), 1.0),
        (q("contacts_missed_by_agent_total", "Sales"), 1.0),
        (q("contacts_answered_within_20s_total", "Sales"), 2.0),
        (q("contacts_answered_within_60s_total", "Sales"), 2.0),
        (q("acw_time_seconds_count", "Sales"), 2.0),
        (q("contacts_handled_total", "Support"), 0.0),
        (q("contacts_abandoned_total", "Support"), 0.0),
        (q("contacts_transferred_total", "Support"), 0.0),
        (q("contacts_missed_by_agent_total", "Support"), 0.0),
        (q("contacts_in_queue", "Sales"), 0.0),
        (q("contacts_in_queue", "Support"), 0.0),
        (agents("Available", PROFILE), 1.0),
        (agents("Offline", PROFILE), 0.0),
        (agents("Missed", PROFILE), 0.0),
        (agents("Busy", PROFILE), 0.0),
        (agents("Offline", "Sales first"), 1.0),
        (agents("Offline", "Support only"), 1.0),
        ("switchboard_cc_monitoring_sessions".into(), 0.0),
    ];
    let borrowed: Vec<(&str, f64)> = expected.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    wait_for(
        &server,
        "after all calls",
        &borrowed,
        Duration::from_secs(10),
    );
    let text = server.get("/metrics").expect("metrics");
    let m = samples(&text);
    assert!(
        !m.contains_key(&q("contacts_missed_by_agent_total", "")),
        "a miss without a queue:\n{text}"
    );
    // Every agent is counted once: alice, bob, dave and maria.
    let total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("switchboard_cc_agents{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 4.0, "{text}");

    // Sums and buckets, exactly as the records give them.
    let records = records(&server);
    let sales: Vec<&ContactRecord> = records
        .iter()
        .filter(|r| r.queue.as_deref() == Some("Sales") && r.enqueue_unix_ms.is_some())
        .collect();
    assert_eq!(sales.len(), 4, "{records:#?}");
    let handled: Vec<&&ContactRecord> = sales
        .iter()
        .filter(|r| r.agent_connected_unix_ms.is_some())
        .collect();
    assert_eq!(handled.len(), 2, "{records:#?}");
    let ms = |f: &dyn Fn(&ContactRecord) -> Option<i64>, rs: &[&&ContactRecord]| -> Vec<i64> {
        rs.iter().map(|r| f(r).expect("set")).collect()
    };
    let wait = ms(
        &|r| Some(r.agent_connected_unix_ms? - r.enqueue_unix_ms?),
        &handled,
    );
    let talk = ms(
        &|r| Some(r.disconnect_unix_ms? - r.agent_connected_unix_ms?),
        &handled,
    );
    let hold = ms(&|r| Some(r.hold_duration_ms), &handled);
    let acw = ms(&|r| r.acw_duration_ms, &handled);
    let abandoned: Vec<&&ContactRecord> = sales
        .iter()
        .filter(|r| r.agent_connected_unix_ms.is_none())
        .collect();
    let abandon = ms(
        &|r| Some(r.disconnect_unix_ms? - r.enqueue_unix_ms?),
        &abandoned,
    );
    assert!(
        wait.iter().all(|w| *w <= 20_000),
        "answered within 20 s: {wait:?}"
    );
    let mut exact = Vec::new();
    exact.extend(histogram(
        "queue_wait_seconds",
        "Sales",
        WAIT_BUCKETS_S,
        &wait,
    ));
    exact.extend(histogram(
        "talk_time_seconds",
        "Sales",
        TALK_BUCKETS_S,
        &talk,
    ));
    exact.extend(histogram(
        "hold_time_seconds",
        "Sales",
        HOLD_BUCKETS_S,
        &hold,
    ));
    exact.extend(histogram("acw_time_seconds", "Sales", ACW_BUCKETS_S, &acw));
    exact.extend(histogram(
        "abandon_wait_seconds",
        "Sales",
        WAIT_BUCKETS_S,
        &abandon,
    ));
    exact.extend(histogram(
        "queue_wait_seconds",
        "Support",
        WAIT_BUCKETS_S,
        &[],
    ));
    for (k, want) in &exact {
        let got = m.get(k).copied();
        assert!(
            got.is_some_and(|g| (g - want).abs() < 1e-9),
            "{k}: expected {want}, got {got:?}\n{text}\nrecords: {records:#?}"
        );
    }
    // The real-time page's figures (GET /api/v1/floor, as a manager) are the same: today's
    // handled, abandoned and service-level counts, and the average handle time (talk + ACW)
    // the histograms' sums give.
    let maria = server.login("maria", "demo-maria").expect("login maria");
    let (status, body) = server
        .api("GET", "/api/v1/floor", Some(&maria), None)
        .expect("GET floor");
    assert_eq!(status, 200, "{body}");
    let floor: serde_json::Value = serde_json::from_str(&body).expect("floor json");
    let page = floor["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == "Sales"))
        .unwrap_or_else(|| panic!("no Sales on the floor: {floor:#}"));
    let metric = |k: String| m.get(&k).copied().unwrap_or(f64::NAN);
    for (field, name) in [
        ("handled_today", "contacts_handled_total"),
        ("abandoned_today", "contacts_abandoned_total"),
        (
            "answered_within_20s_today",
            "contacts_answered_within_20s_total",
        ),
        (
            "answered_within_60s_today",
            "contacts_answered_within_60s_total",
        ),
        ("contacts_in_queue", "contacts_in_queue"),
    ] {
        assert_eq!(
            page[field].as_f64(),
            Some(metric(q(name, "Sales"))),
            "{field} on the page vs {name}: {page:#}"
        );
    }
    let handle_ms: i64 = talk.iter().sum::<i64>() + acw.iter().sum::<i64>();
    assert_eq!(
        page["average_handle_time_ms"].as_i64(),
        Some(handle_ms / 2),
        "{page:#}"
    );
    let alice_on_page = floor["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["username"] == "alice"))
        .unwrap_or_else(|| panic!("no alice on the floor: {floor:#}"));
    assert_eq!(alice_on_page["state"], "Available");

    // No contact id, call id or caller number in any label.
    for r in &records {
        assert!(!text.contains(&r.contact_id.to_string()), "{text}");
    }
    assert!(!text.contains("+1555"), "{text}");

    // A real Prometheus scraped all this: its query API returns the same values.
    let mut through_prometheus: Vec<(String, f64)> = expected.clone();
    through_prometheus.extend(exact.iter().filter(|(k, _)| k.contains("Sales")).cloned());
    through_prometheus.push(("up{job=\"switchboard\"}".into(), 1.0));
    prometheus.wait_for(&through_prometheus, Duration::from_secs(30));
    let median = prometheus
        .value(
            "histogram_quantile(0.5, sum by (le) \
             (switchboard_cc_queue_wait_seconds_bucket{queue=\"Sales\"}))",
        )
        .expect("a median wait");
    assert!(median > 0.0 && median <= 20.0, "median wait {median}");

    // The dashboard: JSON, every metric it names is in the real output, every query parses
    // and runs in Prometheus.
    let names: Vec<&str> = m.keys().map(|k| k.split('{').next().unwrap_or(k)).collect();
    for query in dashboard_queries() {
        for name in metric_names(&query) {
            assert!(
                names.contains(&name.as_str()),
                "the dashboard uses `{name}`, which /metrics does not have (in `{query}`)"
            );
        }
        let v = prometheus.query(&query);
        assert_eq!(v["status"], "success", "`{query}`: {v}");
        assert!(
            !v["data"]["result"].as_array().is_none_or(|r| r.is_empty()),
            "`{query}` returns nothing: {v}"
        );
    }
    // And the shipped scrape config is valid as it is.
    let check = Command::new("promtool")
        .arg("check")
        .arg("config")
        .arg(root().join("docker/prometheus.yml"))
        .output()
        .expect("run promtool (package prometheus)");
    assert!(
        check.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    drop(prometheus);
}

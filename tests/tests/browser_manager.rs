//! The managers' real-time metrics and listen-in in a real browser against the real server
//! and real phones.
//!
//! `tests/browser/manager.mjs` drives headless Chromium (Debian's `/usr/bin/chromium`,
//! through `playwright-core`) as maria (CallCenterManager): the floor beside her panel, live
//! from the events socket (queues and agents). When the page is ready (`@@ready-for-call`)
//! this test has a sipp customer (`tests/browser/sipp/customer.xml`) call +15550100 and press 1
//! (Sales, open around the clock) while alice is Offline: the page counts the caller in the
//! queue, the oldest age ticking. Then (`@@agent-available`) alice goes Available through the
//! API and her phone picks up. The page shows alice on a call with a headset beside her; maria
//! presses it (with the keyboard): her phone is called, the page shows "Monitoring Alice
//! Anders" and her status is Monitoring; she switches to Barge, Whisper and back to Listen,
//! ends, listens in again; then the call ends (`@@end-call`: this test ends it as alice through
//! the API, as her panel would) and the page shows that monitoring ended, with alice in after
//! contact work and the Sales figures of the day (handled, service level); alice clears her
//! after contact work (`@@clear-acw`) and the page shows the average handle time.
//!
//! A second test runs the same call on a center whose main menu records nobody: the headset
//! beside alice is disabled with the reason as its label and tooltip, and pressing it shows
//! the reason without asking the server.
//!
//! The phones are small SIP UAs in the test ([`SoftPhone`]): they pick up whatever rings
//! (maria's for each listen-in) and note every BYE. Screenshots of every step are kept in
//! `target/browser-artifacts/manager-listen/` and `.../manager-no-recording/` (or under
//! `$SWITCHBOARD_BROWSER_ARTIFACTS`); a failure says at which step the page stopped and why,
//! with the phones' SIP and the server's log. Missing Chromium, node or npm fail the test with
//! the command that installs them. The page is embedded in the binary: build it
//! (`cargo build -p switchboard`) first.

// The test waits on real processes in real time: the clock rule is for protocol cores.
#![allow(clippy::disallowed_methods)]

#[path = "../browser/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{
    Audio, DOMAIN, Sipp, SoftPhone, artifacts_dir, require_browser, run_scenario, scenario_failure,
};
use switchboard_tests::{Handset, Server, derive_config, free_port, register_phone};

const SCENARIO_LIMIT: Duration = Duration::from_secs(240);

fn count(events: &[String], prefix: &str) -> usize {
    events.iter().filter(|e| e.starts_with(prefix)).count()
}

/// Waits up to `limit` for `phone` to have at least `n` events starting with `prefix`.
fn wait_count(phone: &SoftPhone, prefix: &str, n: usize, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if count(&phone.events(), prefix) >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// One API call as alice (her panel's actions); an error in words unless it answers 200.
fn as_alice(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> Result<serde_json::Value, String> {
    let (status, body) = server
        .api(method, path, Some(token), json)
        .map_err(|e| format!("{method} {path} as alice: {e}"))?;
    if status != 200 {
        return Err(format!("{method} {path} as alice: {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{method} {path}: {e}: {body}"))
}

/// The id of alice's contact in `state` (connected, ended, ...).
fn alices_contact(server: &Server, token: &str, state: &str) -> Result<String, String> {
    let snap = as_alice(server, token, "GET", "/api/v1/agent", None)?;
    snap["contacts"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["state"] == state))
        .and_then(|c| c["id"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("alice has no {state} contact: {snap:#}"))
}

/// What the page's cues ask of alice, as her own panel would do it.
fn alice_does(server: &Server, token: &str, cue: &str) -> Result<(), String> {
    match cue {
        "@@agent-available" => as_alice(
            server,
            token,
            "PUT",
            "/api/v1/agent/status",
            Some(r#"{"status":"Available"}"#),
        )
        .map(drop),
        "@@end-call" => {
            let contact = alices_contact(server, token, "connected")?;
            let path = format!("/api/v1/contacts/{contact}/connections/customer/end");
            as_alice(server, token, "POST", &path, None).map(drop)
        }
        "@@clear-acw" => {
            let contact = alices_contact(server, token, "ended")?;
            let path = format!("/api/v1/contacts/{contact}/clear");
            as_alice(server, token, "POST", &path, None).map(drop)
        }
        _ => Ok(()),
    }
}

/// What one run leaves for the assertions.
struct Run {
    server: Server,
    alice: SoftPhone,
    maria: SoftPhone,
    customer: Option<Sipp>,
    alice_token: String,
    audio: Audio,
}

/// Starts the server (with `recording` false the main menu records nobody), registers
/// alice's and maria's phones, and runs `manager.mjs --scenario=NAME`, placing the call and
/// acting as alice when the page says so. Panics with the whole story if the page does not get
/// to its end.
fn run(scenario: &str, recording: bool) -> Run {
    require_browser();
    let cfg = derive_config(&[
        // sipp answers only the first digest challenge it is offered.
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
    ]);
    if !recording {
        let flow = cfg.flow_path("main-menu");
        let text = std::fs::read_to_string(&flow).expect("main-menu flow");
        assert_eq!(
            text.matches("    record: both").count(),
            1,
            "the main menu should record agent and customer once"
        );
        std::fs::write(&flow, text.replace("    record: both", "    record: none"))
            .expect("write the flow");
    }
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let url = format!("http://{}/", server.http);
    let alice_token = server.login("alice", "demo-alice").expect("log alice in");

    // Both phones pick up whatever rings: alice's the customer, maria's the listen-in.
    let alice_port = free_port();
    let maria_port = free_port();
    register_phone(sip, "alice", "demo-alice", alice_port);
    register_phone(sip, "maria", "demo-maria", maria_port);
    let alice_audio = Handset::bind(1000.0);
    let maria_audio = Handset::bind(1700.0);
    let customer_audio = Handset::bind(440.0);
    let alice = SoftPhone::start("alice's phone", alice_port, alice_audio.port(), true);
    let maria = SoftPhone::start("maria's phone", maria_port, maria_audio.port(), true);
    let customer_rtp = customer_audio.port().to_string();
    let audio = Audio::start(vec![alice_audio, maria_audio, customer_audio]);

    let artifacts = artifacts_dir(&format!("manager-{scenario}"));
    let mut customer: Option<Sipp> = None;
    let mut cue_errors: Vec<String> = Vec::new();
    let t = run_scenario(
        "manager.mjs",
        &url,
        &artifacts,
        &[format!("--scenario={scenario}")],
        SCENARIO_LIMIT,
        |line| match line {
            "@@ready-for-call" if customer.is_none() => {
                customer = Some(Sipp::start(
                    "customer",
                    sip,
                    "customer.xml",
                    free_port(),
                    1,
                    &[
                        ("number", "+15550100"),
                        ("domain", DOMAIN),
                        ("digit", "1"),
                        ("rtp_port", &customer_rtp),
                    ],
                ));
            }
            cue => {
                if let Err(e) = alice_does(&server, &alice_token, cue) {
                    cue_errors.push(e);
                }
            }
        },
    );
    if !t.succeeded() || !cue_errors.is_empty() {
        let mut phones = format!("{}\n{}", alice.explain(), maria.explain());
        if let Some(c) = customer.as_mut() {
            phones.push('\n');
            phones.push_str(&c.explain());
        }
        if !cue_errors.is_empty() {
            phones.push_str("\n--- the test's own cues failed\n");
            phones.push_str(&cue_errors.join("\n"));
        }
        panic!(
            "{}",
            scenario_failure(&t, &artifacts, &phones, &server.log_text())
        );
    }
    Run {
        server,
        alice,
        maria,
        customer,
        alice_token,
        audio,
    }
}

#[test]
fn a_manager_listens_in_from_the_real_time_metrics_page() {
    let mut r = run("listen", true);

    // Maria pressed the headset twice: her phone was called twice and hung up twice, once
    // by End and once because alice's call ended.
    assert!(
        wait_count(&r.maria, "BYE", 2, Duration::from_secs(10)),
        "maria's monitor leg was not hung up after End and after the call ended\n{}\n{}",
        r.maria.explain(),
        r.server.log_text()
    );
    let events = r.maria.events();
    let called = count(&events, "picked up") + count(&events, "answered with auto-answer");
    assert_eq!(
        called,
        2,
        "maria's phone should be called once per listen-in\n{}",
        r.maria.explain()
    );
    // Alice's phone took the one call and was hung up when it ended.
    assert!(
        wait_count(&r.alice, "BYE", 1, Duration::from_secs(10)),
        "alice's phone was not hung up\n{}",
        r.alice.explain()
    );
    let customer = r.customer.as_mut().expect("the customer called");
    assert!(
        customer.wait_success(Duration::from_secs(15)),
        "the customer's call did not end cleanly\n{}",
        customer.explain()
    );
    // The server agrees with the page: maria is not Monitoring, alice is Available again.
    let maria_token = r.server.login("maria", "demo-maria").expect("log maria in");
    let (status, body) = r
        .server
        .api("GET", "/api/v1/agent", Some(&maria_token), None)
        .expect("maria's snapshot");
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(r#""state":"Monitoring""#), "{body}");
    let (_, body) = r
        .server
        .api("GET", "/api/v1/agent", Some(&r.alice_token), None)
        .expect("alice's snapshot");
    assert!(body.contains(r#""state":"Available""#), "{body}");
    assert!(
        r.server.log_text().contains("monitoring ended"),
        "the server did not log the end of monitoring"
    );
    drop(r.audio);
}

#[test]
fn the_headset_says_why_listen_in_is_not_possible_when_the_flow_does_not_record() {
    let mut r = run("no-recording", false);
    // Nothing was asked of the server: maria's phone never rang.
    let events = r.maria.events();
    let invited = ["picked up", "answered with auto-answer", "ringing"]
        .iter()
        .map(|p| count(&events, p))
        .sum::<usize>();
    assert_eq!(
        invited,
        0,
        "maria's phone was called although listen-in was refused\n{}",
        r.maria.explain()
    );
    let customer = r.customer.as_mut().expect("the customer called");
    assert!(
        customer.wait_success(Duration::from_secs(15)),
        "the customer's call did not end cleanly\n{}",
        customer.explain()
    );
    assert!(
        r.alice.events().iter().any(|e| e.starts_with("BYE")),
        "alice's phone was not hung up\n{}",
        r.alice.explain()
    );
    drop(r.audio);
}

//! The agent panel (CCP) in a real browser against the real server and real phones.
//!
//! `tests/browser/ccp.mjs` drives headless Chromium (Debian's `/usr/bin/chromium`, through
//! `playwright-core`) as alice: log in (a wrong password first), go Available, check a number
//! on the dial pad, then take three inbound calls, each Accepted and, after contact work,
//! Cleared:
//!
//! 1. Hold, Resume, Transfer to the queue quick connect "Sales queue": the customer waits on
//!    hold while the transfer waits in the Sales queue; bob (auto-accept, Available) answers
//!    and is the third party; Join, Swap, Leave, and the card says the call was handed over;
//! 2. Transfer to the external quick connect "Front desk": the trunk's far end (a phone this
//!    test answers at the demo trunk's address) is a third party while the customer waits on
//!    hold; Join, Swap, Hold all, Leave;
//! 3. Hold, Resume, End.
//!
//! Then log out. This test starts the server, registers alice's and bob's softphones (sipp)
//! and answers for them with [`SoftPhone`] (alice's rings until the server calls it again
//! with the auto-answer hints, as Accept in the panel does), and each time the page says it is
//! ready (`@@ready-for-call` on its stdout) has a sipp customer
//! (`tests/browser/sipp/customer.xml`) call +15550100 and press 2 (Support). Screenshots of
//! every step are kept in `target/browser-artifacts/ccp/` (or under
//! `$SWITCHBOARD_BROWSER_ARTIFACTS`); a failure says at which step the page stopped and why,
//! with the phones' SIP and the server's log.
//!
//! `SWITCHBOARD_BROWSER_TRANSFERS=0` takes only the third call.
//!
//! Missing Chromium, node or npm fail the test with the command that installs them; the
//! node packages are installed with `npm ci` when `tests/browser/node_modules` is missing.
//! The page is embedded in the binary: build it (`cargo build -p switchboard`) first.

// The test waits on real processes in real time: the clock rule is for protocol cores.
#![allow(clippy::disallowed_methods)]

#[path = "../browser/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{
    Audio, DOMAIN, Sipp, SoftPhone, artifacts_dir, require_browser, run_scenario, scenario_failure,
};
use switchboard_tests::{Handset, Server, derive_config, free_port, register_phone};

/// The whole browser scenario, from launch to log-out.
const SCENARIO_LIMIT: Duration = Duration::from_secs(300);

fn with_transfers() -> bool {
    std::env::var("SWITCHBOARD_BROWSER_TRANSFERS").map_or(true, |v| v != "0")
}

fn count(events: &[String], prefix: &str) -> usize {
    events.iter().filter(|e| e.starts_with(prefix)).count()
}

#[test]
fn an_agent_takes_a_call_in_the_browser_panel() {
    require_browser();
    let transfers = with_transfers();
    // The trunk's far end: numbers dialed out (the external quick connect "Front desk")
    // ring a phone the test answers.
    let gateway_port = free_port();
    let gateway_address = format!("    address: 127.0.0.1:{gateway_port}");
    let cfg = derive_config(&[
        // sipp answers only the first digest challenge it is offered.
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        // The caller presses 2 (Support): open whatever the test's clock says.
        (
            "    hours: Business hours\n    max_contacts",
            "    hours: Always open\n    max_contacts",
        ),
        // Bob (auto-accept, Sales first) answers the transfer to the Sales queue.
        (
            "  - username: bob\n",
            "  - username: bob\n    initial_status: Available\n",
        ),
        ("    address: 127.0.0.1:5070", &gateway_address),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let url = format!("http://{}/", server.http);

    // Alice's softphone rings on the offer and answers when the server calls it again
    // with the auto-answer hints (Accept in the panel).
    let alice_port = free_port();
    register_phone(sip, "alice", "demo-alice", alice_port);
    let alice_audio = Handset::bind(1000.0);
    let alice = SoftPhone::start("alice's phone", alice_port, alice_audio.port(), false);
    let bob_port = free_port();
    register_phone(sip, "bob", "demo-bob", bob_port);
    let bob_audio = Handset::bind(700.0);
    let bob = SoftPhone::start("bob's phone", bob_port, bob_audio.port(), false);
    let gateway_audio = Handset::bind(1500.0);
    let gateway = SoftPhone::start(
        "the trunk's far end",
        gateway_port,
        gateway_audio.port(),
        true,
    );
    // One handset per caller: each call's audio has its own port.
    let calls = if transfers { 3 } else { 1 };
    let customer_audio: Vec<Handset> = (0..calls).map(|_| Handset::bind(440.0)).collect();
    let customer_rtp: Vec<String> = customer_audio
        .iter()
        .map(|h| h.port().to_string())
        .collect();
    let mut handsets = vec![alice_audio, bob_audio, gateway_audio];
    handsets.extend(customer_audio);
    let audio = Audio::start(handsets);

    let artifacts = artifacts_dir("ccp");
    let mut args = Vec::new();
    if !transfers {
        args.push("--no-transfers".to_string());
    }
    let mut customers: Vec<Sipp> = Vec::new();
    let t = run_scenario("ccp.mjs", &url, &artifacts, &args, SCENARIO_LIMIT, |line| {
        if line == "@@ready-for-call" {
            let Some(rtp) = customer_rtp.get(customers.len()) else {
                panic!("the page asked for more calls than the test has callers");
            };
            customers.push(Sipp::start(
                "customer",
                sip,
                "customer.xml",
                free_port(),
                1,
                &[
                    ("number", "+15550100"),
                    ("domain", DOMAIN),
                    ("digit", "2"),
                    ("rtp_port", rtp),
                ],
            ));
        }
    });

    let explain_phones = |customers: &mut Vec<Sipp>| {
        let mut phones = alice.explain();
        for (i, c) in customers.iter_mut().enumerate() {
            phones.push_str(&format!("\n--- call {}\n", i + 1));
            phones.push_str(&c.explain());
        }
        for p in [&bob, &gateway] {
            phones.push('\n');
            phones.push_str(&p.explain());
        }
        phones
    };
    if !t.succeeded() {
        let phones = explain_phones(&mut customers);
        panic!(
            "{}",
            scenario_failure(&t, &artifacts, &phones, &server.log_text())
        );
    }
    assert_eq!(customers.len(), calls, "one caller per call");

    // Each call rang alice's phone, and Accept called it again with auto-answer; each ended
    // for her (handed over, left, ended) with a BYE.
    let events = alice.events();
    assert_eq!(
        count(&events, "ringing"),
        calls,
        "alice's phone should ring once per call\n{}",
        alice.explain()
    );
    assert_eq!(
        count(&events, "answered with auto-answer"),
        calls,
        "Accept should call alice's phone again with auto-answer, once per call\n{}",
        alice.explain()
    );
    let rang = events.iter().position(|e| e.starts_with("ringing"));
    let answered = events
        .iter()
        .position(|e| e.starts_with("answered with auto-answer"));
    assert!(
        matches!((rang, answered), (Some(r), Some(a)) if r < a),
        "alice's phone should ring, then be called again with auto-answer on Accept\n{}",
        alice.explain()
    );
    let all_hung_up = (0..150).any(|_| {
        if count(&alice.events(), "BYE") >= calls {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
        false
    });
    assert!(
        all_hung_up,
        "alice's phone was not hung up after each call\n{}",
        alice.explain()
    );

    // The last call, ended in the panel, hung up the customer for real.
    let last = customers.last_mut().expect("the customer called");
    let hung_up = last.wait_success(Duration::from_secs(15));
    assert!(
        hung_up,
        "the customer's call did not end cleanly after End in the panel\n{}",
        last.explain()
    );

    if transfers {
        // Left with the Sales queue's agent: bob has the customer, who is still talking.
        assert!(
            bob.wait_for("answered with auto-answer", Duration::from_secs(15)),
            "the customer handed over to the Sales queue did not reach bob\n{}",
            bob.explain()
        );
        // Left with the Front desk: the customer and the third party are still talking,
        // without alice.
        assert!(
            gateway.wait_for("picked up", Duration::from_secs(1)),
            "the trunk's far end was never called\n{}",
            gateway.explain()
        );
        for (i, c) in customers.iter_mut().take(2).enumerate() {
            assert!(
                c.poll().is_none(),
                "call {} was hung up when alice handed it over or left it\n{}",
                i + 1,
                c.explain()
            );
        }
        for p in [&bob, &gateway] {
            assert!(
                !p.events().iter().any(|e| e.starts_with("BYE")),
                "{} was hung up when alice handed over or left the call\n{}",
                p.explain(),
                server.log_text()
            );
        }
    }
    println!("{}", alice.explain());
    drop(audio);
}

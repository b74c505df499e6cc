//! An inbound call as a customer lives it: the number's flow answers and plays its menu (the
//! audio reaches the caller's RTP port), a digit chooses the queue, the caller waits with
//! music, and hangs up. sipp does the signalling; the test's own RTP peer is the handset.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use switchboard_media::codec::Codec;
use switchboard_media::engine::peer::RtpPeer;
use switchboard_media::tone::rms;
use switchboard_tests::{DerivedConfig, Server, derive_config, sipp};

const DOMAIN: &str = "demo.switchboard.test";

/// Runs one call that presses `digit` (by SIP INFO) and returns what the handset heard
/// (8 kHz PCM) and the sipp result.
fn call(
    server: &Server,
    scenario: &'static str,
    digit: &str,
) -> (Vec<i16>, switchboard_tests::SippRun) {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut handset = RtpPeer::bind(
        localhost,
        "127.0.0.1:9".parse().expect("addr"),
        Codec::Pcmu,
        0,
        440.0,
        true,
    )
    .expect("rtp peer");
    let port = handset.local_addr().expect("port").port().to_string();
    let sip = server.sip;
    let digit = digit.to_string();
    let run = std::thread::spawn(move || {
        sipp(
            sip,
            scenario,
            "x",
            &[
                ("number", "+15550100"),
                ("domain", DOMAIN),
                ("digit", &digit),
                ("rtp_port", &port),
            ],
        )
    });
    #[allow(clippy::disallowed_methods)] // real time: the handset listens while sipp calls
    let start = Instant::now();
    while !run.is_finished() && start.elapsed() < Duration::from_secs(20) {
        handset.receive();
        std::thread::sleep(Duration::from_millis(5));
    }
    let result = run.join().expect("sipp thread");
    (handset.captured.clone(), result)
}

fn sales_always_open() -> DerivedConfig {
    derive_config(&[])
}

#[test]
fn the_menu_is_heard_and_a_digit_queues_the_caller_with_music() {
    let cfg = sales_always_open();
    let server = Server::start(&cfg.path).expect("server");
    let (heard, sipp_run) = call(&server, "inbound_call.xml", "1");
    assert!(
        sipp_run.success(),
        "{}\n{}",
        sipp_run.explain(),
        server.log_text()
    );
    // 8 kHz: the first 1.5 s are the menu prompt, the last second before the hang-up is
    // music on hold (the caller pressed 1 after 2 s and waited 3 s in the Sales queue).
    assert!(
        heard.len() > 8_000 * 4,
        "only {} samples heard",
        heard.len()
    );
    let menu = &heard[..12_000];
    let queue = &heard[heard.len() - 8_000..];
    assert!(rms(menu) > 300.0, "menu too quiet: rms {}", rms(menu));
    assert!(
        rms(queue) > 300.0,
        "no music in the queue: rms {}",
        rms(queue)
    );
    let log = server.log_text();
    assert!(
        log.contains("inbound contact") && log.contains("flow=main-menu"),
        "{log}"
    );
    assert!(log.contains("contact queued queue=Sales"), "{log}");
    // The menu chose the customer queue flow for Sales: it runs while the caller waits.
    assert!(
        log.contains("queue flow started") && log.contains("flow=customer-queue"),
        "{log}"
    );
    assert!(
        log.contains("by=\"customer\"") || log.contains("by=customer"),
        "{log}"
    );
}

#[test]
fn out_of_hours_callers_hear_the_closed_message_and_are_hung_up_on() {
    // Support's hours never open in this center.
    let cfg = derive_config(&[
        (
            "hours_of_operation:\n",
            "hours_of_operation:\n  - name: Never\n    time_zone: UTC\n    open:\n      monday: []\n",
        ),
        (
            "    hours: Business hours\n    max_contacts",
            "    hours: Never\n    max_contacts",
        ),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    let (heard, sipp_run) = call(&server, "inbound_hung_up.xml", "2");
    let log = server.log_text();
    assert!(sipp_run.success(), "{}\n{log}", sipp_run.explain());
    // Menu (2 s), then the closed message: audio after the digit, then our BYE.
    assert!(
        heard.len() > 8_000 * 3,
        "only {} samples heard",
        heard.len()
    );
    let closed = &heard[8_000 * 2 + 1_600..8_000 * 3];
    assert!(
        rms(closed) > 300.0,
        "closed message too quiet: rms {}",
        rms(closed)
    );
    assert!(
        log.contains("by=\"flow\"") || log.contains("by=flow"),
        "{log}\n{}",
        sipp_run.explain()
    );
    assert!(!log.contains("contact queued"), "{log}");
}

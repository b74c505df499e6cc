//! Session timers (RFC 4028) where the peer asks, and re-INVITE glare (RFC 3261 §14.1), on
//! the real binary. Two callers at once, to keep the wall time near one minute:
//!
//! - one makes the server the refresher (`Session-Expires: 90;refresher=uas`): the server's
//!   refresh re-INVITE comes at half the interval; the caller's own re-INVITE crosses it and
//!   gets 491, the caller answers the server's with 491 too, and the server tries again after
//!   the random 0–2 s wait (the caller owns the Call-ID), which the caller accepts;
//! - the other first asks for 60 s (422 with `Min-SE: 90`), then refreshes itself
//!   (`refresher=uac`) and never does: the server hangs up 60 s after the answer
//!   (`min(32 s, 90/3)` before the end) and the contact ends with reason error.

// Real phones, real time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use switchboard_tests::{Phone, Server, derive_config, free_port};

fn caller(server: &Server, scenario: &'static str) -> Phone {
    Phone::start(
        server.sip,
        scenario,
        free_port(),
        440.0,
        vec![
            ("number", "+15550100".to_string()),
            ("domain", "demo.switchboard.test".to_string()),
            ("digit", "1".to_string()),
        ],
    )
}

#[test]
fn the_server_refreshes_sessions_resolves_glare_and_hangs_up_expired_ones() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let start = Instant::now();
    let mut refreshed = caller(&server, "customer_refresh_glare.xml");
    let mut expiring = caller(&server, "customer_session_expires.xml");
    let mut expired_after = None;
    while start.elapsed() < Duration::from_secs(85) {
        if expired_after.is_none() && expiring.finished() {
            expired_after = Some(start.elapsed());
        }
        if refreshed.finished() && expiring.finished() {
            break;
        }
        refreshed.audio.pump();
        expiring.audio.pump();
        std::thread::sleep(Duration::from_millis(5));
    }
    let log = server.log_text();
    let run = refreshed.join();
    assert!(run.success(), "{}\n{log}", run.explain());
    let run = expiring.join();
    assert!(run.success(), "{}\n{log}", run.explain());

    // The refresher side: two refreshes sent (the first refused by glare), the caller's
    // crossing re-INVITE refused with 491, and a retry within 0-2 s.
    assert_eq!(
        log.matches("session refresh sent").count(),
        2,
        "two refreshes expected:\n{log}"
    );
    assert!(
        log.contains("glare: our re-INVITE is in flight; 491 Request Pending"),
        "{log}"
    );
    let wait_ms: u64 = log
        .lines()
        .find(|l| l.contains("re-INVITE glare (491)"))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("wait_ms="))
        })
        .and_then(|v| v.parse().ok())
        .expect("the glare retry in the log");
    assert!(
        wait_ms <= 2_000,
        "waited {wait_ms} ms; the caller owns the Call-ID"
    );
    assert!(log.contains("owns_call_id=false"), "{log}");

    // The expiring side: 422 first, then the hang-up about 60 s after the answer (the
    // caller answered at once and pressed 1 after 2 s).
    assert!(log.contains("session interval too small; 422"), "{log}");
    assert!(
        log.contains("session expired: no refresh within the session interval"),
        "{log}"
    );
    let after = expired_after.expect("the expiring caller never finished");
    assert!(
        (Duration::from_secs(58)..Duration::from_secs(66)).contains(&after),
        "hung up after {after:?}"
    );
    assert!(
        log.contains("by=error") || log.contains("by=\"error\""),
        "the expired contact does not end with reason error:\n{log}"
    );
}

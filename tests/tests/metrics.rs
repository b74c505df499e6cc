//! `GET /metrics` as Prometheus scrapes it: OpenMetrics text with the SIP and media families,
//! and media counters that move while the server runs.

use std::time::Duration;

use switchboard_tests::{Server, derive_config, udp_exchange};

#[test]
fn metrics_expose_sip_and_media_families() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    // Labelled families appear once they have a value: one OPTIONS and one datagram of junk.
    let options = "OPTIONS sip:demo.switchboard.test SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-m1\r\n\
        From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:demo.switchboard.test>\r\n\
        Call-ID: m1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let answer = udp_exchange(server.sip, options.as_bytes(), Duration::from_secs(3));
    assert!(answer.is_some_and(|a| a.starts_with("SIP/2.0 200")));
    let _ = udp_exchange(server.sip, b"junk", Duration::from_millis(200));
    let text = server.get("/metrics").expect("metrics");
    for family in [
        "# TYPE switchboard_sip_requests counter",
        "# TYPE switchboard_sip_responses counter",
        "# TYPE switchboard_sip_active_bindings gauge",
        "# TYPE switchboard_sip_blocked_sources gauge",
        "# TYPE switchboard_sip_parse_errors counter",
        "# TYPE switchboard_sip_open_transactions gauge",
        "# TYPE switchboard_media_packets_in counter",
        "# TYPE switchboard_media_late_ticks counter",
        "# TYPE switchboard_media_active_legs gauge",
        "# TYPE switchboard_media_tick_duration_seconds histogram",
    ] {
        assert!(text.contains(family), "missing `{family}` in:\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
    // The mixing workers tick every 20 ms whether or not there are calls.
    let before = server.metric("switchboard_media_ticks_total").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let after = server.metric("switchboard_media_ticks_total").unwrap();
    assert!(
        after > before,
        "media ticks did not advance: {before} -> {after}"
    );
    assert!(
        text.contains("switchboard_media_tick_duration_seconds_bucket{le=\"+Inf\"}"),
        "{text}"
    );
}

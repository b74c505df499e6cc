//! In-dialog request order (RFC 3261 §12.2.2, §14.2) on the real binary: a caller sends two
//! re-INVITEs back to back, the second while the first's transaction still waits for its ACK;
//! both are answered 200, in order. (The server answers a re-INVITE at once, so one is never
//! left without a final response when the next arrives: the §14.2 500-with-Retry-After case
//! cannot arise.) A re-INVITE that reuses a CSeq already seen is out of order: 500.

use switchboard_tests::{Phone, Server, derive_config, free_port, talk};

#[test]
fn back_to_back_re_invites_are_answered_and_a_stale_cseq_gets_500() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let mut caller = Phone::start(
        server.sip,
        "customer_reinvite_order.xml",
        free_port(),
        440.0,
        vec![
            ("number", "+15550100".to_string()),
            ("domain", "demo.switchboard.test".to_string()),
        ],
    );
    talk(&mut [&mut caller], std::time::Duration::from_secs(20));
    let log = server.log_text();
    let run = caller.join();
    assert!(run.success(), "{}\n{log}", run.explain());
    // CSeq 2 held (sendonly), CSeq 3 resumed: both applied, in that order.
    let hold = log
        .find("hold=true")
        .expect("the first re-INVITE was not applied");
    let resume = log
        .find("hold=false")
        .expect("the second re-INVITE was not applied");
    assert!(hold < resume, "{log}");
    assert!(
        log.contains("in-dialog request out of order (CSeq not above the last); 500"),
        "{log}"
    );
    assert!(
        run.messages.contains("SIP/2.0 500"),
        "no 500 reached the caller:\n{}",
        run.messages
    );
    assert!(
        log.contains("by=customer") || log.contains("by=\"customer\""),
        "{log}"
    );
}

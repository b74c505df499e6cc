//! Test harness: a virtual clock driving one `Transactions`, and literal SIP messages.
//!
//! `Harness::run_for` jumps from deadline to deadline (never sleeping), recording when
//! each transmit left, so tests can assert on retransmission schedules.

#![allow(dead_code)] // shared by all scenario files; not each uses every helper

use std::time::{Duration, Instant};

use crate::sip::message::{Request, Response};
use crate::sip::transaction::{
    Peer, TimerConfig, TransactionEvent, TransactionKey, Transactions, Transmit, Transport,
};

pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);
pub const T4: Duration = Duration::from_secs(5);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The one place tests read the real clock: a base instant, then only additions.
#[allow(clippy::disallowed_methods)]
fn base_instant() -> Instant {
    Instant::now()
}

pub fn udp() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: "192.0.2.10:5060".parse().unwrap(),
    }
}

pub fn tcp() -> Peer {
    Peer {
        transport: Transport::Tcp,
        addr: "192.0.2.10:5060".parse().unwrap(),
    }
}

#[derive(Debug)]
pub struct Harness {
    pub tx: Transactions,
    pub t0: Instant,
    pub now: Instant,
}

impl Harness {
    pub fn new() -> Self {
        let t0 = base_instant();
        Self {
            tx: Transactions::new(TimerConfig::default()),
            t0,
            now: t0,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Fires every deadline up to `now + d`, one at a time, and returns what was sent,
    /// stamped with the virtual time since t0.
    pub fn run_for(&mut self, d: Duration) -> Vec<(Duration, Transmit)> {
        let end = self.now + d;
        let mut sent = Vec::new();
        while let Some(next) = self.tx.poll_timeout() {
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            self.tx.handle_timeout(self.now);
            while let Some(t) = self.tx.poll_transmit() {
                sent.push((self.now - self.t0, t));
            }
        }
        self.now = end;
        sent
    }

    pub fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.tx.poll_transmit()).collect()
    }

    pub fn events(&mut self) -> Vec<TransactionEvent> {
        std::iter::from_fn(|| self.tx.poll_event()).collect()
    }

    /// Responds and returns the transmits it queued.
    pub fn respond(&mut self, key: &TransactionKey, resp: Response) -> Vec<Transmit> {
        self.tx.respond(self.now, key, resp).unwrap();
        self.transmits()
    }
}

/// The start line of a transmitted message, for readable assertions.
pub fn first_line(t: &Transmit) -> String {
    let text = String::from_utf8_lossy(&t.bytes);
    text.lines().next().unwrap_or_default().to_string()
}

pub fn text(t: &Transmit) -> String {
    String::from_utf8_lossy(&t.bytes).into_owned()
}

pub fn times(sent: &[(Duration, Transmit)]) -> Vec<Duration> {
    sent.iter().map(|(at, _)| *at).collect()
}

/// A request from a phone at 192.0.2.10, with the given method, branch and Via transport.
pub fn request_via(method: &str, branch: &str, transport: &str) -> Request {
    let text = format!(
        "{method} sip:registrar.example.com SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 192.0.2.10:5060;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=from1\r\n\
         To: <sip:alice@example.com>\r\n\
         Call-ID: call-1@192.0.2.10\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:alice@192.0.2.10:5060>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Request::try_from(text.as_str()).unwrap()
}

pub fn request(method: &str, branch: &str) -> Request {
    request_via(method, branch, "UDP")
}

/// A response to `request(method, branch)`, as our TU or a remote UAS would build it.
pub fn response(code: u16, reason: &str, method: &str, branch: &str) -> Response {
    let text = format!(
        "SIP/2.0 {code} {reason}\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport=5060;received=192.0.2.10\r\n\
         From: <sip:alice@example.com>;tag=from1\r\n\
         To: <sip:alice@example.com>;tag=to1\r\n\
         Call-ID: call-1@192.0.2.10\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Response::try_from(text.as_str()).unwrap()
}

/// The key of a new server transaction, or a panic naming what came instead.
pub fn new_key(outcome: crate::sip::transaction::RequestOutcome) -> TransactionKey {
    match outcome {
        crate::sip::transaction::RequestOutcome::New { key, .. } => key,
        other => panic!("expected a new transaction, got {other:?}"),
    }
}

pub fn terminated(events: &[TransactionEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, TransactionEvent::Terminated { .. }))
}

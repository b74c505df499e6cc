//! RFC 3261 §17 timers as named data (Table 4 of the RFC, plus RFC 6026's L and M).
//!
//! Each machine arms timers through its context; the table keeps one min-heap of
//! `(deadline, transaction, timer)` entries with lazy deletion: an entry whose timer has
//! since been re-armed, stopped, or whose transaction is gone is skipped when it pops.
//! So `handle_timeout` costs O(expired · log n), whatever the table size.

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use super::key::TransactionKey;

/// Every timer a transaction can arm. "UDP" below means an unreliable transport; on TCP
/// the retransmission timers (A, E, G) are never armed and the wait timers (D, I, J, K)
/// are zero, so the transaction ends at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE client, Calling, UDP only: retransmit the INVITE. Starts at T1, doubles.
    A,
    /// INVITE client, Calling: no response after 64·T1. The TU gets a timeout (408).
    B,
    /// INVITE client, Completed: stop absorbing final-response retransmissions
    /// (≥ 32 s on UDP, 0 on TCP).
    D,
    /// Non-INVITE client, Trying/Proceeding, UDP only: retransmit the request. Starts at
    /// T1, doubles up to T2; in Proceeding it stays at T2.
    E,
    /// Non-INVITE client, Trying/Proceeding: no final response after 64·T1. Timeout.
    F,
    /// INVITE server, Completed, UDP only: retransmit the non-2xx final response. Starts at
    /// T1, doubles up to T2.
    G,
    /// INVITE server, Completed: no ACK after 64·T1. The TU learns the transaction failed.
    H,
    /// INVITE server, Confirmed: stop absorbing ACK retransmissions (T4 on UDP, 0 on TCP).
    I,
    /// Non-INVITE server, Completed: stop answering request retransmissions with the last
    /// response (64·T1 on UDP, 0 on TCP).
    J,
    /// Non-INVITE client, Completed: stop absorbing response retransmissions (T4 on UDP,
    /// 0 on TCP).
    K,
    /// INVITE server, Accepted (RFC 6026): stop absorbing INVITE retransmissions and
    /// passing the TU's 2xx retransmissions through, 64·T1 after the first 2xx.
    L,
    /// INVITE client, Accepted (RFC 6026): stop passing 2xx retransmissions from other
    /// forks to the TU, 64·T1 after the first 2xx.
    M,
    /// INVITE server, Proceeding: the TU has not sent a provisional response within
    /// 200 ms, so the transaction sends `100 Trying` itself (§17.2.1).
    Send100,
}

/// Timer base values. Defaults are the RFC's: T1 = 500 ms, T2 = 4 s, T4 = 5 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate: first retransmission interval and the unit of the 64·T1 timeouts.
    pub t1: Duration,
    /// Cap on the non-INVITE request and INVITE response retransmission interval.
    pub t2: Duration,
    /// Maximum time a message stays in the network.
    pub t4: Duration,
    /// How long an INVITE server transaction waits for the TU before sending 100 Trying.
    pub trying_delay: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Duration::from_millis(200),
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J (UDP), L and M.
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: at least 32 s on UDP (and never shorter than 64·T1), zero on TCP.
    pub fn d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timeout().max(Duration::from_secs(32))
        }
    }

    /// Timers I and K: T4 on UDP, zero on TCP.
    pub fn t4_or_zero(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: 64·T1 on UDP, zero on TCP.
    pub fn j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timeout()
        }
    }
}

/// One armed timer in the table's heap.
#[derive(Debug)]
pub(crate) struct TimerEntry {
    pub at: Instant,
    /// Insertion order: equal deadlines fire in the order they were armed.
    pub seq: u64,
    /// The transaction's incarnation, so an entry never fires on a later transaction
    /// that happens to reuse the key.
    pub epoch: u64,
    pub timer: Timer,
    pub key: TransactionKey,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for TimerEntry {}

impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TimerEntry {
    /// Reversed, so `BinaryHeap` (a max-heap) pops the earliest deadline first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Exponential back-off used by Timers A, E and G: the next interval after `current`.
pub(crate) fn backoff(current: Duration, cap: Option<Duration>) -> Duration {
    let doubled = current.saturating_mul(2);
    match cap {
        Some(cap) => doubled.min(cap),
        None => doubled,
    }
}

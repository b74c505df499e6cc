//! RFC 3261 §17 transactions, sans-IO: the four state machines and the table that routes
//! messages and timers to them.
//!
//! [`Transactions`] is the only type the I/O shell and the TU (registrar, B2BUA) talk to.
//! Call order: feed inputs (`handle_request`, `handle_response`, `handle_timeout`, and the
//! TU's `respond` / `send_request`), then drain `poll_transmit` and `poll_event`, then arm
//! one wake-up at `poll_timeout`. Nothing here reads the clock or touches a socket.
//!
//! Invariants:
//! - a transaction lives in the table exactly until its machine reaches Terminated; its
//!   removal always queues one [`TransactionEvent::Terminated`];
//! - retransmissions (ours on A/E/G, and answers to the peer's) are replays of stored
//!   `Bytes`, never re-serialisations;
//! - on a reliable transport (TCP) no retransmission timer is armed and the wait states
//!   (Timers D, I, J, K) end immediately;
//! - nothing a peer sends panics: unmatchable messages come back as values.
//!
//! RFC 6026 is followed for 2xx to INVITE: the server enters Accepted (Timer L) and the
//! client Accepted (Timer M), instead of terminating on the 2xx.

mod client_invite;
mod client_non_invite;
mod key;
mod server_invite;
mod server_non_invite;
mod shards;
mod table;
mod timer;

#[cfg(test)]
mod tests;

use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sip::message::{Request, Response};

pub use key::{KeyError, Role, TransactionKey};
pub use table::Transactions;
pub use timer::{Timer, TimerConfig};

use timer::TimerEntry;

/// The transport a message travelled on. Reliability decides which timers exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// Reliable transports get no retransmissions and zero-length wait states (§17).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

/// The far end of a transaction: where requests went or came from, where responses go.
///
/// Server transactions answer the address the request came from (symmetric response
/// routing, RFC 3581), over the same transport; the I/O shell maps a TCP peer to its
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

/// A datagram or stream write for the I/O shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub bytes: Bytes,
}

/// What [`Transactions::handle_request`] made of an incoming request.
#[derive(Debug)]
pub enum RequestOutcome {
    /// A new server transaction. The TU must answer it with [`Transactions::respond`].
    New {
        key: TransactionKey,
        request: Request,
    },
    /// A retransmission (or an ACK to a non-2xx final response) taken care of by an
    /// existing transaction; anything to resend is queued for `poll_transmit`.
    Absorbed,
    /// A new CANCEL server transaction (`key`); `target` says what it cancels and so how
    /// the TU answers.
    Cancel {
        key: TransactionKey,
        request: Request,
        target: CancelTarget,
    },
    /// An ACK that belongs to no INVITE server transaction: the ACK to a 2xx, which is
    /// end-to-end and goes to the dialog layer (§13.3.1.4, §17.2.1 with RFC 6026).
    Ack(Request),
    /// The request cannot be matched to a transaction (no usable Via or CSeq). The edge
    /// answers 400 statelessly if it can, or drops it.
    Invalid { request: Request, error: KeyError },
}

/// The INVITE transaction a CANCEL names (§9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelTarget {
    /// Still unanswered: answer the CANCEL 200, then the INVITE 487 Request Terminated.
    Pending(TransactionKey),
    /// Already has a final response: answer the CANCEL 200; nothing else changes.
    Answered(TransactionKey),
    /// Nothing to cancel: answer the CANCEL 481 Call/Transaction Does Not Exist.
    NotFound,
}

/// What [`Transactions::handle_response`] made of an incoming response.
#[derive(Debug)]
pub enum ResponseOutcome {
    /// Delivered to its client transaction; a [`TransactionEvent::Response`] is queued.
    Delivered(TransactionKey),
    /// A retransmission the transaction absorbed (an ACK may have been re-sent).
    Absorbed,
    /// No client transaction matches. A 2xx to an INVITE may still belong to a dialog
    /// (late fork, or after Timer M); anything else is dropped by the caller.
    Stray(Response),
}

/// Something the TU must learn about, drained with [`Transactions::poll_event`].
#[derive(Debug)]
pub enum TransactionEvent {
    /// A response (provisional or final) for one of our client transactions.
    Response {
        key: TransactionKey,
        response: Response,
    },
    /// The transaction gave up: Timer B or F (no final response; act as on a 408), or
    /// Timer H (our non-2xx final response was never ACKed).
    Timeout { key: TransactionKey, timer: Timer },
    /// The transaction has left the table. Emitted exactly once per transaction.
    Terminated { key: TransactionKey },
}

/// A TU call the transaction layer refused: the local side's fault, never the peer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error("no such transaction")]
    NotFound,
    #[error("a transaction with this key is already open")]
    Duplicate,
    #[error("cannot key the request: {0}")]
    Key(#[from] KeyError),
    #[error("status code {0} is not a response code (100..=699)")]
    BadStatus(u16),
    #[error("ACK is not a transaction: send it with send_stateless")]
    AckIsNotATransaction,
    #[error("not allowed in this state: {0}")]
    InvalidState(&'static str),
    #[error("only server transactions take responses from the TU")]
    NotAServerTransaction,
}

/// Whether a machine is still running after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Life {
    Alive,
    Terminated,
}

/// The outputs shared by every transaction: the table owns one, machines write to it
/// through a [`Ctx`].
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
    timers: BinaryHeap<TimerEntry>,
    timer_seq: u64,
}

/// What a machine may do while handling one input: send to its peer, arm timers, tell
/// the TU. Built by the table for one call; the machine never sees the table.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub cfg: &'a TimerConfig,
    peer: Peer,
    key: &'a TransactionKey,
    epoch: u64,
    out: &'a mut Outputs,
}

impl Ctx<'_> {
    pub fn reliable(&self) -> bool {
        self.peer.transport.is_reliable()
    }

    pub fn send(&mut self, bytes: Bytes) {
        self.out.transmits.push_back(Transmit {
            to: self.peer,
            bytes,
        });
    }

    /// Arms `timer` to fire `after` from now and returns the deadline, which the machine
    /// keeps: a popped entry whose deadline the machine no longer holds is stale.
    pub fn arm(&mut self, timer: Timer, after: Duration) -> Instant {
        let at = self.now + after;
        self.out.timer_seq += 1;
        self.out.timers.push(TimerEntry {
            at,
            seq: self.out.timer_seq,
            epoch: self.epoch,
            timer,
            key: self.key.clone(),
        });
        at
    }

    pub fn deliver(&mut self, response: Response) {
        let key = self.key.clone();
        self.out
            .events
            .push_back(TransactionEvent::Response { key, response });
    }

    pub fn timed_out(&mut self, timer: Timer) {
        let key = self.key.clone();
        self.out
            .events
            .push_back(TransactionEvent::Timeout { key, timer });
    }
}

/// The status code of a response, checked to be a real one.
pub(crate) fn status_of(resp: &Response) -> Result<u16, TransactionError> {
    match resp.status_code.code() {
        code @ 100..=699 => Ok(code),
        code => Err(TransactionError::BadStatus(code)),
    }
}

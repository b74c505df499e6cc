//! The transaction table: routes requests, responses and timer expiries to the machines
//! (STYLE practice 5, "route at the edge"), and owns the shared output queues.
//!
//! Lookup is one `HashMap` probe on a [`TransactionKey`], in one of the shards that keep
//! the table from stalling as it grows (`shards.rs`); timers live in one min-heap
//! with lazy deletion (see `timer.rs`), so a table of a million open non-INVITE server
//! transactions costs nothing per tick beyond the timers that actually expire.

use std::time::Instant;

use bytes::Bytes;

use crate::sip::message::{Method, Request, Response};

use super::client_invite::{AckTemplate, ClientInvite};
use super::client_non_invite::ClientNonInvite;
use super::key::TransactionKey;
use super::server_invite::{AckDisposition, ServerInvite};
use super::server_non_invite::ServerNonInvite;
use super::shards::Shards;
use super::{
    CancelTarget, Ctx, Life, Outputs, Peer, RequestOutcome, ResponseOutcome, TimerConfig,
    TransactionError, TransactionEvent, Transmit, status_of,
};

/// All open SIP transactions of one endpoint, client and server.
///
/// Methods, in the order the I/O shell calls them:
/// 1. inputs: [`handle_request`](Self::handle_request),
///    [`handle_response`](Self::handle_response), [`handle_timeout`](Self::handle_timeout);
///    and from the TU [`respond`](Self::respond), [`send_request`](Self::send_request),
///    [`send_stateless`](Self::send_stateless);
/// 2. outputs: [`poll_transmit`](Self::poll_transmit) and
///    [`poll_event`](Self::poll_event) until `None`;
/// 3. [`poll_timeout`](Self::poll_timeout): when to call `handle_timeout` next.
///
/// Both output queues are unbounded: drain them after every input; even a TU that
/// ignores `Terminated` events must pop them.
#[derive(Debug)]
pub struct Transactions {
    cfg: TimerConfig,
    map: Shards<Entry>,
    out: Outputs,
    next_epoch: u64,
    stray_responses: u64,
}

#[derive(Debug)]
struct Entry {
    peer: Peer,
    /// Incarnation number: timer entries armed for an earlier transaction with the same
    /// key never fire on this one.
    epoch: u64,
    machine: Machine,
}

/// INVITE and client machines are boxed so the common entry (a non-INVITE server
/// transaction) stays small.
#[derive(Debug)]
enum Machine {
    NonInviteServer(ServerNonInvite),
    InviteServer(Box<ServerInvite>),
    NonInviteClient(Box<ClientNonInvite>),
    InviteClient(Box<ClientInvite>),
}

impl Transactions {
    pub fn new(cfg: TimerConfig) -> Self {
        Self {
            cfg,
            map: Shards::default(),
            out: Outputs::default(),
            next_epoch: 0,
            stray_responses: 0,
        }
    }

    /// The timer values in use.
    pub fn config(&self) -> &TimerConfig {
        &self.cfg
    }

    /// An incoming request: either a retransmission absorbed by an existing server
    /// transaction (possibly queuing a retransmitted response), an ACK or CANCEL matched
    /// to an INVITE transaction, or a new server transaction the TU must answer.
    pub fn handle_request(&mut self, now: Instant, req: Request, from: Peer) -> RequestOutcome {
        let key = match TransactionKey::for_request(&req) {
            Ok(key) => key,
            Err(error) => {
                return RequestOutcome::Invalid {
                    request: req,
                    error,
                };
            }
        };
        let cfg = &self.cfg;
        if req.method == Method::Ack {
            let Some(entry) = self.map.get_mut(&key) else {
                return RequestOutcome::Ack(req);
            };
            let Machine::InviteServer(m) = &mut entry.machine else {
                return RequestOutcome::Ack(req);
            };
            let mut ctx = ctx(now, cfg, &mut self.out, &key, entry.peer, entry.epoch);
            let (disposition, life) = m.on_ack(&mut ctx);
            self.settle(&key, life);
            return match disposition {
                AckDisposition::Absorbed => RequestOutcome::Absorbed,
                AckDisposition::ToTu => RequestOutcome::Ack(req),
            };
        }
        if let Some(entry) = self.map.get_mut(&key) {
            let mut ctx = ctx(now, cfg, &mut self.out, &key, entry.peer, entry.epoch);
            match &mut entry.machine {
                Machine::NonInviteServer(m) => m.on_request(&mut ctx),
                Machine::InviteServer(m) => m.on_request(&mut ctx),
                // Server keys and client keys never collide (the role is part of the key).
                Machine::NonInviteClient(_) | Machine::InviteClient(_) => {}
            }
            return RequestOutcome::Absorbed;
        }

        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let mut ctx = ctx(now, cfg, &mut self.out, &key, from, epoch);
        let machine = if req.method == Method::Invite {
            Machine::InviteServer(Box::new(ServerInvite::new(&mut ctx, &req)))
        } else {
            Machine::NonInviteServer(ServerNonInvite::new())
        };
        let target = (req.method == Method::Cancel).then(|| {
            let invite = key.with_method(Method::Invite);
            match self.map.get(&invite).map(|e| &e.machine) {
                Some(Machine::InviteServer(m)) if m.is_answered() => CancelTarget::Answered(invite),
                Some(Machine::InviteServer(_)) => CancelTarget::Pending(invite),
                _ => CancelTarget::NotFound,
            }
        });
        tracing::trace!(%key, "new server transaction");
        self.map.insert(
            key.clone(),
            Entry {
                peer: from,
                epoch,
                machine,
            },
        );
        match target {
            Some(target) => RequestOutcome::Cancel {
                key,
                request: req,
                target,
            },
            None => RequestOutcome::New { key, request: req },
        }
    }

    /// TU answers a server transaction (1xx..6xx). Responses go to the peer the request
    /// came from.
    pub fn respond(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        resp: Response,
    ) -> Result<(), TransactionError> {
        let status = status_of(&resp)?;
        let entry = self.map.get_mut(key).ok_or(TransactionError::NotFound)?;
        let bytes = Bytes::from(crate::sip::message::response_bytes(&resp, None));
        let mut ctx = ctx(now, &self.cfg, &mut self.out, key, entry.peer, entry.epoch);
        let life = match &mut entry.machine {
            Machine::NonInviteServer(m) => m.on_respond(&mut ctx, status, bytes)?,
            Machine::InviteServer(m) => m.on_respond(&mut ctx, status, bytes)?,
            Machine::NonInviteClient(_) | Machine::InviteClient(_) => {
                return Err(TransactionError::NotAServerTransaction);
            }
        };
        self.settle(key, life);
        Ok(())
    }

    /// TU answers a server transaction it has not answered yet with one final response and
    /// no state kept: the response is sent once and the transaction is forgotten (reported
    /// `Terminated` like any other), so a retransmitted request is a new request.
    ///
    /// For challenges to unauthenticated requests: RFC 3261 §26.3.2.4 asks servers to send
    /// those only once, "behaving statelessly towards unauthenticated requests", and it
    /// halves the state a registrar keeps (a registration is a 401 and a 200, and each
    /// completed transaction otherwise lives 32 s on UDP). Only a non-INVITE server
    /// transaction still in Trying is answered this way; anything else gets [`respond`].
    ///
    /// [`respond`]: Self::respond
    pub fn respond_statelessly(
        &mut self,
        now: Instant,
        key: &TransactionKey,
        resp: Response,
    ) -> Result<(), TransactionError> {
        let peer = match self.map.get(key) {
            Some(Entry {
                peer,
                machine: Machine::NonInviteServer(m),
                ..
            }) if m.is_trying() && status_of(&resp)? >= 200 => *peer,
            _ => return self.respond(now, key, resp),
        };
        let bytes = Bytes::from(crate::sip::message::response_bytes(&resp, None));
        self.out.transmits.push_back(Transmit { to: peer, bytes });
        self.settle(key, Life::Terminated);
        Ok(())
    }

    /// TU sends a request as a client transaction to `to`. The request must carry a top
    /// Via with a fresh `z9hG4bK` branch; the returned key matches its responses.
    pub fn send_request(
        &mut self,
        now: Instant,
        req: Request,
        to: Peer,
    ) -> Result<TransactionKey, TransactionError> {
        if req.method == Method::Ack {
            return Err(TransactionError::AckIsNotATransaction);
        }
        let key = TransactionKey::for_outgoing(&req)?;
        if self.map.contains_key(&key) {
            return Err(TransactionError::Duplicate);
        }
        let epoch = self.new_epoch();
        let mut ctx = ctx(now, &self.cfg, &mut self.out, &key, to, epoch);
        let machine = if req.method == Method::Invite {
            let ack = AckTemplate::from_invite(&req);
            let bytes = Bytes::from(req.to_bytes());
            Machine::InviteClient(Box::new(ClientInvite::start(&mut ctx, bytes, ack)))
        } else {
            let bytes = Bytes::from(req.to_bytes());
            Machine::NonInviteClient(Box::new(ClientNonInvite::start(&mut ctx, bytes)))
        };
        tracing::trace!(%key, "new client transaction");
        self.map.insert(
            key.clone(),
            Entry {
                peer: to,
                epoch,
                machine,
            },
        );
        Ok(key)
    }

    /// An incoming response: matched to a client transaction (an event for the TU), a
    /// retransmission it absorbs, or stray (counted, and handed back).
    pub fn handle_response(
        &mut self,
        now: Instant,
        resp: Response,
        _from: Peer,
    ) -> ResponseOutcome {
        let matched = TransactionKey::for_response(&resp)
            .ok()
            .and_then(|key| self.map.get_mut(&key).map(|entry| (key, entry)));
        let (Some((key, entry)), Ok(status)) = (matched, status_of(&resp)) else {
            self.stray_responses += 1;
            return ResponseOutcome::Stray(resp);
        };
        let mut ctx = ctx(now, &self.cfg, &mut self.out, &key, entry.peer, entry.epoch);
        let (delivered, life) = match &mut entry.machine {
            Machine::NonInviteClient(m) => m.on_response(&mut ctx, status, resp),
            Machine::InviteClient(m) => m.on_response(&mut ctx, status, resp),
            Machine::NonInviteServer(_) | Machine::InviteServer(_) => {
                self.stray_responses += 1;
                return ResponseOutcome::Stray(resp);
            }
        };
        self.settle(&key, life);
        if delivered {
            ResponseOutcome::Delivered(key)
        } else {
            ResponseOutcome::Absorbed
        }
    }

    /// Fires every timer due at `now`. Costs O(expired · log n).
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.out.timers.peek().is_some_and(|t| t.at <= now) {
            let Some(t) = self.out.timers.pop() else {
                break;
            };
            let Some(entry) = self.map.get_mut(&t.key) else {
                continue;
            };
            if entry.epoch != t.epoch {
                continue;
            }
            let mut ctx = ctx(
                now,
                &self.cfg,
                &mut self.out,
                &t.key,
                entry.peer,
                entry.epoch,
            );
            let life = match &mut entry.machine {
                Machine::NonInviteServer(m) => m.on_timer(&mut ctx, t.timer, t.at),
                Machine::InviteServer(m) => m.on_timer(&mut ctx, t.timer, t.at),
                Machine::NonInviteClient(m) => m.on_timer(&mut ctx, t.timer, t.at),
                Machine::InviteClient(m) => m.on_timer(&mut ctx, t.timer, t.at),
            };
            self.settle(&t.key, life);
        }
    }

    /// Queues a message outside any transaction: the ACK to a 2xx, a stateless 400/503.
    pub fn send_stateless(&mut self, to: Peer, bytes: Bytes) {
        self.out.transmits.push_back(Transmit { to, bytes });
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.out.events.pop_front()
    }

    /// The next deadline. It may belong to a timer that was since stopped (lazy
    /// deletion), so it can be early, never late; `handle_timeout` then does nothing.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.out.timers.peek().map(|t| t.at)
    }

    /// Open transactions, client and server (a metric).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Responses that matched no client transaction, since start (a metric).
    pub fn stray_responses(&self) -> u64 {
        self.stray_responses
    }

    /// Whether the key names an open transaction.
    pub fn contains(&self, key: &TransactionKey) -> bool {
        self.map.contains_key(key)
    }

    fn new_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// Removes a transaction that reached Terminated and tells the TU.
    fn settle(&mut self, key: &TransactionKey, life: Life) {
        if life == Life::Terminated && self.map.remove(key).is_some() {
            tracing::trace!(%key, "transaction terminated");
            let key = key.clone();
            self.out
                .events
                .push_back(TransactionEvent::Terminated { key });
        }
    }
}

fn ctx<'a>(
    now: Instant,
    cfg: &'a TimerConfig,
    out: &'a mut Outputs,
    key: &'a TransactionKey,
    peer: Peer,
    epoch: u64,
) -> Ctx<'a> {
    Ctx {
        now,
        cfg,
        peer,
        key,
        epoch,
        out,
    }
}

#[cfg(test)]
mod size {
    /// A million open REGISTER transactions must stay cheap: guard the entry size.
    #[test]
    fn a_table_entry_stays_small() {
        let entry = std::mem::size_of::<super::Entry>();
        let key = std::mem::size_of::<super::TransactionKey>();
        assert!(entry <= 112, "Entry is {entry} bytes");
        assert!(key <= 24, "TransactionKey is {key} bytes");
    }
}

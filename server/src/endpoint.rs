//! The SIP endpoint: the one sans-IO machine the I/O shell drives for all SIP traffic.
//!
//! Call order (STYLE practice 2): feed every received message to [`Endpoint::handle_input`]
//! and every expired deadline to [`Endpoint::handle_timeout`]; after either, drain
//! [`Endpoint::poll_transmit`] onto the sockets, hand [`Endpoint::drain_store_writes`] to
//! the store writer, and arm a timer for [`Endpoint::poll_timeout`].
//!
//! Inside: the edge turns bytes into requests, responses, stateless replies or drops; the
//! transaction layer absorbs retransmissions; new requests are dispatched: INVITEs to
//! configured numbers (and their dialogs' BYE and INFO) to the call layer, REGISTER to the
//! registrar, OPTIONS answered here, other known methods refused with 404 (unknown user),
//! 480 (an INVITE to a user: not served yet) or 405 (with Allow).

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::calls::{Calls, Handled};
use crate::metrics::SipMetrics;
use crate::registrar::{GuardEvent, Registrar, RegistrarEvent};
use crate::sip::edge::{self, Inbound};
use crate::sip::message::{self, Method, Request, Response};
use crate::sip::transaction::{
    CancelTarget, Peer, RequestOutcome, ResponseOutcome, TransactionKey, Transactions, Transmit,
};

/// Methods this server answers today; listed in `Allow`.
pub const ALLOW: &str = "REGISTER, OPTIONS";

/// The current time as both clocks: monotonic for protocol timers, wall for persisted
/// timestamps. Only the I/O shell makes one.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub unix_ms: i64,
}

#[derive(Debug)]
pub struct Endpoint {
    tx: Transactions,
    registrar: Registrar,
    /// User names and phone numbers (user parts) requests may be addressed to.
    known_targets: HashSet<String>,
    server_header: String,
    stateless: VecDeque<Transmit>,
    metrics: SipMetrics,
    tag_counter: u64,
    calls: Option<Calls>,
}

impl Endpoint {
    pub fn new(
        tx: Transactions,
        registrar: Registrar,
        known_targets: HashSet<String>,
        server_header: String,
        metrics: SipMetrics,
    ) -> Endpoint {
        let e = Endpoint {
            tx,
            registrar,
            known_targets,
            server_header,
            stateless: VecDeque::new(),
            metrics,
            tag_counter: 0,
            calls: None,
        };
        e.update_gauges();
        e
    }

    /// Lets the call layer take INVITEs to configured numbers and their dialogs.
    pub fn with_calls(mut self, calls: Calls) -> Endpoint {
        self.calls = Some(calls);
        self
    }

    /// A media engine event (DTMF, prompt finished, ...) for a call leg.
    pub fn handle_media_event(&mut self, now: Now, event: switchboard_media::engine::MediaEvent) {
        if let Some(calls) = self.calls.as_mut() {
            calls.on_media_event(now, &mut self.tx, event);
        }
        self.drain_tx_events(now);
    }

    /// An agent's panel command, applied now or refused with nothing changed.
    pub fn handle_command(
        &mut self,
        now: Now,
        user: &str,
        command: crate::control::Command,
    ) -> Result<crate::control::AgentSnapshot, crate::control::CommandError> {
        let Some(calls) = self.calls.as_mut() else {
            return Err(crate::control::CommandError::Unavailable(
                "calls are not enabled on this server".into(),
            ));
        };
        let result = calls.on_command(now, &mut self.tx, &self.registrar, user, command);
        self.drain_tx_events(now);
        result
    }

    /// The floor as managers see it, when calls are enabled.
    pub fn floor(&mut self, now: Now) -> Option<crate::control::FloorSnapshot> {
        self.calls.as_mut().map(|c| c.floor(now.unix_ms))
    }

    /// Snapshots of the agents whose panel view changed since the last call.
    pub fn take_snapshots(&mut self) -> Vec<crate::control::AgentSnapshot> {
        self.calls
            .as_mut()
            .map(Calls::take_snapshots)
            .unwrap_or_default()
    }

    /// A reloaded config: new credentials and targets (removed users lose their bindings),
    /// and new flows for contacts that start from now on.
    pub fn reload(
        &mut self,
        now: Now,
        users: std::collections::HashMap<String, crate::sip::digest::Ha1>,
        targets: HashSet<String>,
        config: std::sync::Arc<crate::config::Config>,
    ) {
        self.registrar.set_users(now.unix_ms, users);
        if let Some(calls) = self.calls.as_mut() {
            calls.set_config(config);
        }
        self.known_targets = targets;
        self.drain_registrar_events();
        self.update_gauges();
    }

    /// One complete message from `peer`.
    pub fn handle_input(&mut self, now: Now, peer: Peer, data: &[u8]) {
        if self.registrar.is_blocked(peer.addr.ip(), now.unix_ms) {
            self.metrics.blocked_drops.inc();
            return;
        }
        match edge::classify(data, peer.addr) {
            Inbound::Request(req) => self.on_request(now, peer, *req),
            Inbound::Response(resp) => self.on_response(now, peer, *resp),
            Inbound::Reply {
                code,
                reason,
                bytes,
            } => {
                tracing::debug!(%peer.addr, code, %reason, "stateless reply");
                if code == 400 {
                    self.metrics.parse_error("bad_request");
                }
                self.metrics.response(code);
                self.stateless.push_back(Transmit {
                    to: peer,
                    bytes: Bytes::from(bytes),
                });
            }
            Inbound::Drop(why) => {
                if why != edge::DropReason::KeepAlive {
                    tracing::debug!(%peer.addr, reason = why.as_str(), "dropped message");
                    self.metrics.parse_error(why.as_str());
                }
            }
        }
        self.update_gauges();
    }

    /// Fires transaction timers due at `now` and the registrar's housekeeping.
    pub fn handle_timeout(&mut self, now: Now) {
        self.tx.handle_timeout(now.mono);
        if let Some(calls) = self.calls.as_mut() {
            calls.handle_timeout(now, &mut self.tx);
        }
        self.registrar.handle_timeout(now.unix_ms);
        self.drain_tx_events(now);
        self.drain_registrar_events();
        self.update_gauges();
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.stateless
            .pop_front()
            .or_else(|| self.tx.poll_transmit())
    }

    /// The next transaction deadline. Registrar housekeeping wants a call to
    /// [`Endpoint::handle_timeout`] at least every second besides.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.as_ref().and_then(Calls::poll_timeout);
        match (self.tx.poll_timeout(), calls) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Everything to persist since the last call: binding changes, contact records, agent
    /// events.
    pub fn drain_store_writes(&mut self) -> crate::io::store_writer::Batch {
        let (contacts, agent_events) = match self.calls.as_mut() {
            Some(c) => c.drain_records(),
            None => (Vec::new(), Vec::new()),
        };
        crate::io::store_writer::Batch {
            bindings: self.registrar.drain_changes(),
            contacts,
            agent_events,
        }
    }

    pub fn pending_binding_changes(&self) -> usize {
        self.registrar.pending_changes()
    }

    /// A To tag for a locally generated response: the time plus a counter, unique per run.
    fn next_tag(&mut self, now: Now) -> String {
        self.tag_counter = self.tag_counter.wrapping_add(1);
        format!("sb{:x}{:x}", now.unix_ms, self.tag_counter)
    }

    fn update_gauges(&self) {
        self.metrics
            .open_transactions
            .set(i64::try_from(self.tx.len()).unwrap_or(i64::MAX));
        self.metrics
            .active_bindings
            .set(i64::try_from(self.registrar.binding_count()).unwrap_or(i64::MAX));
        self.metrics
            .blocked_sources
            .set(i64::try_from(self.registrar.blocked_count()).unwrap_or(i64::MAX));
    }

    fn on_request(&mut self, now: Now, peer: Peer, req: Request) {
        self.metrics.request(method_name(req.method));
        match self.tx.handle_request(now.mono, req, peer) {
            RequestOutcome::New { key, request } => {
                let _span = tracing::debug_span!("sip_tx", branch = %key).entered();
                self.dispatch(now, peer, &key, &request);
            }
            RequestOutcome::Cancel {
                key,
                request,
                target,
            } => {
                let code = match &target {
                    CancelTarget::NotFound => 481,
                    CancelTarget::Pending(_) | CancelTarget::Answered(_) => 200,
                };
                self.respond(now, &key, &request, code, None);
                // A pending INVITE is an agent's phone dialing out: give up on that call.
                if let CancelTarget::Pending(invite) = &target
                    && let Some(calls) = self.calls.as_mut()
                {
                    calls.on_cancel(now, &mut self.tx, invite);
                }
            }
            RequestOutcome::Absorbed | RequestOutcome::Ack(_) => {}
            RequestOutcome::Invalid { request, error } => {
                self.metrics.parse_error("bad_request");
                let resp = message::response(&request, 400, Some("sb-invalid"));
                let reason = format!("Bad Request ({error})");
                self.metrics.response(400);
                self.stateless.push_back(Transmit {
                    to: peer,
                    bytes: Bytes::from(message::response_bytes(&resp, Some(&reason))),
                });
            }
        }
        self.drain_tx_events(now);
        self.drain_registrar_events();
    }

    fn dispatch(&mut self, now: Now, peer: Peer, key: &TransactionKey, req: &Request) {
        if let Some(calls) = self.calls.as_mut()
            && let Handled::Yes = calls.on_request(now, &mut self.tx, key, req, peer)
        {
            return;
        }
        match req.method {
            Method::Register => {
                let reply = self.registrar.handle_register(now.unix_ms, req, peer);
                // A challenge is sent once and remembered by no transaction (RFC 3261
                // §26.3.2.4); a retransmitted REGISTER gets a fresh one.
                let once = reply.response.status_code.code() == 401;
                self.send_as(now, key, reply.response, reply.reason, once);
            }
            Method::Options if self.addressed_to_unknown(req) => {
                self.respond(now, key, req, 404, None);
            }
            Method::Options => {
                let mut resp = message::response(req, 200, Some(&self.next_tag(now)));
                message::push_header(&mut resp, "Allow", ALLOW);
                message::push_header(&mut resp, "Accept", "application/sdp");
                message::push_header(&mut resp, "Supported", "");
                self.send(now, key, resp, None);
            }
            // An agent's phone dialing a number: authenticated, then an outbound call. A user
            // part with letters is an address, not a dialed number: unknown ones are 404.
            Method::Invite
                if self.calls.is_some()
                    && req.uri.auth.as_ref().is_some_and(|a| {
                        !self.known_targets.contains(&a.user) && looks_dialed(&a.user)
                    }) =>
            {
                match self.registrar.authenticate(now.unix_ms, req, peer) {
                    Err(reply) => self.send(now, key, reply.response, reply.reason),
                    Ok(user) => {
                        if let Some(calls) = self.calls.as_mut() {
                            calls.on_phone_dial(now, &mut self.tx, key, req, peer, &user);
                        }
                    }
                }
            }
            _ if self.addressed_to_unknown(req) => self.respond(now, key, req, 404, None),
            Method::Invite => {
                // Calls to agents and outbound calls arrive with the contacts work.
                self.respond(
                    now,
                    key,
                    req,
                    480,
                    Some("Temporarily Unavailable (calls to users are not served yet)".into()),
                );
            }
            _ => {
                let mut resp = message::response(req, 405, Some(&self.next_tag(now)));
                message::push_header(&mut resp, "Allow", ALLOW);
                self.send(now, key, resp, None);
            }
        }
    }

    /// A request whose Request-URI names a user we do not have (no user part: the server).
    fn addressed_to_unknown(&self, req: &Request) -> bool {
        match &req.uri.auth {
            Some(auth) => !self.known_targets.contains(&auth.user),
            None => false,
        }
    }

    fn respond(
        &mut self,
        now: Now,
        key: &TransactionKey,
        req: &Request,
        code: u16,
        reason: Option<String>,
    ) {
        let resp = message::response(req, code, Some(&self.next_tag(now)));
        self.send(now, key, resp, reason);
    }

    fn send(&mut self, now: Now, key: &TransactionKey, resp: Response, reason: Option<String>) {
        self.send_as(now, key, resp, reason, false);
    }

    /// `once`: answer without keeping the transaction ([`Transactions::respond_statelessly`]).
    fn send_as(
        &mut self,
        now: Now,
        key: &TransactionKey,
        mut resp: Response,
        reason: Option<String>,
        once: bool,
    ) {
        let code = resp.status_code.code();
        message::push_header(&mut resp, "Server", self.server_header.clone());
        if let Some(reason) = &reason {
            // rsipstack serialises the standard phrase; carry ours in a Warning (RFC 3261 §20.43).
            let text: String = reason.chars().filter(|c| *c != '"').collect();
            message::push_header(&mut resp, "Warning", format!("399 switchboard \"{text}\""));
        }
        self.metrics.response(code);
        let sent = if once {
            self.tx.respond_statelessly(now.mono, key, resp)
        } else {
            self.tx.respond(now.mono, key, resp)
        };
        if let Err(e) = sent {
            tracing::warn!(%key, error = %e, "could not respond");
        }
    }

    fn on_response(&mut self, now: Now, peer: Peer, resp: Response) {
        match self.tx.handle_response(now.mono, resp, peer) {
            ResponseOutcome::Delivered(_) | ResponseOutcome::Absorbed => {}
            ResponseOutcome::Stray(_) => self.metrics.parse_error("stray_response"),
        }
        self.drain_tx_events(now);
    }

    fn drain_tx_events(&mut self, now: Now) {
        while let Some(event) = self.tx.poll_event() {
            if let Some(calls) = self.calls.as_mut() {
                calls.on_tx_event(now, &mut self.tx, event);
            }
        }
        if let Some(calls) = self.calls.as_mut() {
            calls.route(now, &mut self.tx, &self.registrar);
        }
    }

    fn drain_registrar_events(&mut self) {
        while let Some(e) = self.registrar.poll_event() {
            match e {
                RegistrarEvent::AuthFailure { ip, reason } => {
                    tracing::info!(%ip, reason, "authentication failed");
                    self.metrics.auth_failure(reason);
                }
                RegistrarEvent::Guard(GuardEvent::Blocked { ip, until_ms }) => {
                    tracing::warn!(%ip, until_ms, "source blocked after repeated authentication failures");
                    self.metrics.source_blocks.inc();
                }
                RegistrarEvent::Guard(GuardEvent::Lifted { ip }) => {
                    tracing::warn!(%ip, "source block lifted");
                }
                RegistrarEvent::Registered { username, contact } => {
                    if let Some(calls) = self.calls.as_mut() {
                        calls.registration_changed(&username);
                    }
                    tracing::info!(%username, %contact, "registered");
                }
                RegistrarEvent::Unregistered { username, contact } => {
                    if let Some(calls) = self.calls.as_mut() {
                        calls.registration_changed(&username);
                    }
                    tracing::info!(%username, %contact, "unregistered");
                }
                RegistrarEvent::Expired { username, contact } => {
                    if let Some(calls) = self.calls.as_mut() {
                        calls.registration_changed(&username);
                    }
                    tracing::info!(%username, %contact, "registration expired");
                }
            }
        }
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Info => "INFO",
        Method::Invite => "INVITE",
        Method::Message => "MESSAGE",
        Method::Notify => "NOTIFY",
        Method::Options => "OPTIONS",
        Method::PRack => "PRACK",
        Method::Publish => "PUBLISH",
        Method::Refer => "REFER",
        Method::Register => "REGISTER",
        Method::Subscribe => "SUBSCRIBE",
        Method::Update => "UPDATE",
    }
}

/// Whether a Request-URI user part is something typed on a keypad (digits, `+`, `*`, `#` and
/// the separators people type), rather than a user name.
fn looks_dialed(user: &str) -> bool {
    user.chars().any(|c| c.is_ascii_digit())
        && user
            .chars()
            .all(|c| c.is_ascii_digit() || "+*#-.() ".contains(c) || c == '%')
}

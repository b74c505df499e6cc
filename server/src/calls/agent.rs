//! Offering a queued contact to an agent and connecting them: the agent leg.
//!
//! A desk-phone agent is called on their number through their trunk (picking up answers).
//! A softphone agent is called on every registered contact at once (a parallel fork): the
//! first 2xx wins, the other branches are CANCELled; a 2xx that loses the race is ACKed and
//! hung up. The INVITE carries the auto-answer hints (`Call-Info: answer-after=0`,
//! `Alert-Info: info=alert-autoanswer`) when the agent has auto-accept. When every branch
//! fails, or the ring timeout passes, the agent goes to Missed and the contact stays in its
//! place in the queue for the next agent. On answer the two legs are bridged in a room.

use std::fmt::Write as _;

use switchboard_media::engine::{LegId, LegParams, RoomId};
use switchboard_media::room::Role;
use switchboard_media::sdp::{self, Direction, SdpSession};
use uuid::Uuid;

use super::{CODECS, Calls};
use crate::agents::MissReason;
use crate::config::Phone;
use crate::endpoint::Now;
use crate::registrar::Registrar;
use crate::routing::Offer;
use crate::sip::dialog::Dialog;
use crate::sip::message::{self, Method, Request, Response, SipMessage};
use crate::sip::transaction::{Peer, TransactionEvent, TransactionKey, Transactions, Transport};

/// One INVITE branch to one of the agent's registered contacts.
#[derive(Debug)]
pub(super) struct Fork {
    pub key: TransactionKey,
    pub invite: Request,
    pub peer: Peer,
    pub done: bool,
}

/// The agent side of a contact.
#[derive(Debug)]
pub(super) struct AgentLeg {
    pub username: String,
    pub leg: LegId,
    pub session: SdpSession,
    pub local_rtp: std::net::SocketAddr,
    pub forks: Vec<Fork>,
    /// Set by the first 2xx.
    pub dialog: Option<Dialog>,
    pub room: Option<RoomId>,
}

/// `udp:203.0.113.5:5062` (how the registrar records a binding's source) as a peer.
fn peer_of(source: &str) -> Option<Peer> {
    let (transport, addr) = source.split_once(':')?;
    let transport = match transport {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        _ => return None,
    };
    Some(Peer {
        transport,
        addr: addr.parse().ok()?,
    })
}

impl Calls {
    /// Keeps agents' reachability in step with their registrations, offers waiting contacts
    /// to free agents, and handles offers that rang out. Call after anything that may free an
    /// agent or queue a contact.
    pub fn route(&mut self, now: Now, tx: &mut Transactions, registrar: &Registrar) {
        // Only the users whose registrations changed since the last pass (all of them the
        // first time): this pass runs after every SIP message.
        let changed: Vec<String> = if self.all_registrations_dirty {
            self.all_registrations_dirty = false;
            self.registrations_dirty.clear();
            self.config.users.keys().cloned().collect()
        } else {
            self.registrations_dirty.drain().collect()
        };
        for u in &changed {
            let _ = self
                .agents
                .set_registered(u, !registrar.bindings_of(u).is_empty());
        }
        for rung_out in self.router.handle_timeout(now.unix_ms, &mut self.agents) {
            tracing::info!(contact = %rung_out.contact, agent = %rung_out.username, "offer rang out; agent missed");
            self.drop_agent_leg(now, tx, rung_out.contact);
        }
        while let Some(offer) = self.router.next_offer(now.unix_ms, &mut self.agents) {
            self.offer(now, tx, registrar, offer);
        }
        self.log_agent_events();
    }

    fn offer(&mut self, now: Now, tx: &mut Transactions, registrar: &Registrar, offer: Offer) {
        let id = offer.contact;
        let Some(user) = self.config.users.get(&offer.username).cloned() else {
            return;
        };
        let peers: Vec<(String, Peer)> = match (&user.phone, &user.trunk) {
            // A desk phone is reached through its trunk: no registration, no accept step.
            (Phone::DeskPhone { number }, Some(trunk)) => self
                .config
                .trunks
                .get(trunk)
                .map(|t| {
                    let transport = match t.transport {
                        crate::config::Transport::Udp => Transport::Udp,
                        crate::config::Transport::Tcp => Transport::Tcp,
                    };
                    vec![(
                        format!("sip:{number}@{}", t.address),
                        Peer {
                            transport,
                            addr: t.address,
                        },
                    )]
                })
                .unwrap_or_default(),
            _ => registrar
                .bindings_of(&offer.username)
                .iter()
                .filter_map(|b| Some((b.contact.clone(), peer_of(&b.source)?)))
                .collect(),
        };
        if peers.is_empty() || !self.contacts.contains_key(&id) {
            let _ = self
                .router
                .offer_missed(now.unix_ms, &mut self.agents, id, MissReason::Failed);
            return;
        }
        let (leg, local_rtp) = match self.media.create_leg(LegParams::pcmu()) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "no media leg for an agent");
                let _ =
                    self.router
                        .offer_missed(now.unix_ms, &mut self.agents, id, MissReason::Failed);
                return;
            }
        };
        let mut session = SdpSession::new(self.counter, local_rtp.ip());
        let sdp_offer = session.offer(local_rtp.port(), &CODECS, Direction::SendRecv);
        let call_id = format!("{}@switchboard", self.next_token());
        let from_tag = self.next_token();
        let domain = self.config.sip.domain.clone();
        let caller = self
            .contacts
            .get(&id)
            .map(|c| c.dialog.remote_uri.clone())
            .unwrap_or_else(|| format!("<sip:anonymous@{domain}>"));
        let mut forks = Vec::new();
        for (contact_uri, peer) in peers {
            let branch = format!("z9hG4bK{}", self.next_token());
            let transport = match peer.transport {
                Transport::Udp => "UDP",
                Transport::Tcp => "TCP",
            };
            let mut text = String::with_capacity(1024);
            let _ = write!(text, "INVITE {contact_uri} SIP/2.0\r\n");
            let _ = write!(
                text,
                "Via: SIP/2.0/{transport} {};branch={branch};rport\r\n",
                self.local_sip
            );
            let _ = write!(text, "Max-Forwards: 70\r\n");
            let _ = write!(text, "From: {caller};tag={from_tag}\r\n");
            if matches!(user.phone, Phone::DeskPhone { .. }) {
                let _ = write!(text, "To: <{contact_uri}>\r\n");
            } else {
                let _ = write!(text, "To: <sip:{}@{domain}>\r\n", user.username);
            }
            let _ = write!(text, "Call-ID: {call_id}\r\n");
            let _ = write!(text, "CSeq: 1 INVITE\r\n");
            let _ = write!(text, "Contact: <sip:switchboard@{}>\r\n", self.local_sip);
            let _ = write!(text, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n");
            if user.auto_accept {
                let _ = write!(text, "Call-Info: <sip:{domain}>;answer-after=0\r\n");
                let _ = write!(
                    text,
                    "Alert-Info: <http://{domain}/>;info=alert-autoanswer;delay=0\r\n"
                );
            }
            let _ = write!(text, "Content-Type: application/sdp\r\n");
            let _ = write!(
                text,
                "Content-Length: {}\r\n\r\n{sdp_offer}",
                sdp_offer.len()
            );
            let Ok(SipMessage::Request(invite)) = message::parse(text.as_bytes()) else {
                tracing::warn!(contact = %contact_uri, "cannot build an INVITE to this binding");
                continue;
            };
            match tx.send_request(now.mono, invite.clone(), peer) {
                Ok(key) => {
                    self.by_fork.insert(key.clone(), id);
                    forks.push(Fork {
                        key,
                        invite,
                        peer,
                        done: false,
                    });
                }
                Err(e) => tracing::warn!(error = %e, "cannot send an INVITE to the agent"),
            }
        }
        if forks.is_empty() {
            let _ = self.media.remove_leg(leg);
            let _ = self
                .router
                .offer_missed(now.unix_ms, &mut self.agents, id, MissReason::Failed);
            return;
        }
        tracing::info!(contact = %id, agent = %user.username, branches = forks.len(), "offering contact to agent");
        if let Some(c) = self.contacts.get_mut(&id) {
            c.record.connection_attempts += 1;
        }
        self.save(id, now);
        self.by_leg.insert(leg, id);
        if let Some(c) = self.contacts.get_mut(&id) {
            c.agent = Some(AgentLeg {
                username: user.username.clone(),
                leg,
                session,
                local_rtp,
                forks,
                dialog: None,
                room: None,
            });
        }
    }

    /// A response or timeout for one of our client transactions (the agent INVITEs).
    pub fn on_tx_event(&mut self, now: Now, tx: &mut Transactions, event: TransactionEvent) {
        match event {
            TransactionEvent::Response { key, response } => {
                let Some(id) = self.by_fork.get(&key).copied() else {
                    return;
                };
                let code = response.status_code.code();
                if (200..300).contains(&code) {
                    self.on_answer(now, tx, id, &key, &response);
                } else if code >= 300 {
                    self.on_branch_failed(now, tx, id, &key, code);
                }
            }
            TransactionEvent::Timeout { key, .. } => {
                if let Some(id) = self.by_fork.get(&key).copied() {
                    self.on_branch_failed(now, tx, id, &key, 408);
                }
            }
            TransactionEvent::Terminated { key } => {
                self.by_fork.remove(&key);
            }
        }
    }

    fn on_answer(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        key: &TransactionKey,
        resp: &Response,
    ) {
        let local_contact = format!("sip:switchboard@{}", self.local_sip);
        let local_sip = self.local_sip.to_string();
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let Some(agent) = c.agent.as_mut() else {
            return;
        };
        let Some(fork) = agent.forks.iter_mut().find(|f| &f.key == key) else {
            return;
        };
        fork.done = true;
        let Some(mut dialog) = Dialog::uac(&fork.invite, resp, &local_contact, fork.peer) else {
            return;
        };
        let ack_branch = format!("z9hG4bK{}", {
            self.counter = self
                .counter
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1);
            format!("{:x}", self.counter >> 8)
        });
        let ack = dialog.request(Method::Ack, &local_sip, &ack_branch, Some(1), &[], None);
        tx.send_stateless(fork.peer, ack.to_bytes().into());
        if let Some(existing) = &agent.dialog {
            if existing.remote_tag != dialog.remote_tag {
                // Another branch answered too late: hang it up.
                let bye_branch = format!("z9hG4bK{}b", ack_branch);
                let bye = dialog.request(Method::Bye, &local_sip, &bye_branch, None, &[], None);
                let _ = tx.send_request(now.mono, bye, dialog.peer);
            }
            return;
        }
        // First answer wins: cancel the other branches.
        for other in agent.forks.iter_mut().filter(|f| !f.done) {
            other.done = true;
            if let Some(cancel) = cancel_for(&other.invite) {
                let _ = tx.send_request(now.mono, cancel, other.peer);
            }
        }
        let negotiated = std::str::from_utf8(&resp.body)
            .ok()
            .and_then(|s| sdp::parse(s).ok())
            .and_then(|answer| {
                agent
                    .session
                    .accept_answer(&answer, &CODECS, Direction::SendRecv)
                    .ok()
            });
        match negotiated {
            Some(n) => {
                if let Err(e) = self.media.update_leg(agent.leg, (&n).into()) {
                    tracing::warn!(error = %e, "cannot configure the agent leg");
                }
            }
            None => tracing::warn!(contact = %id, "agent answered without a usable SDP answer"),
        }
        agent.dialog = Some(dialog.clone());
        self.by_call_id.insert(dialog.call_id.clone(), id);
        let username = agent.username.clone();
        let (customer_leg, agent_leg) = (c.leg, agent.leg);
        let room = self.media.create_room();
        agent.room = Some(room);
        let _ = self.media.stop_play(customer_leg);
        let bridged = self
            .media
            .add_to_room(room, customer_leg, Role::Customer)
            .and_then(|()| self.media.add_to_room(room, agent_leg, Role::Agent))
            .and_then(|()| self.media.bridge(room, customer_leg, agent_leg));
        if let Err(e) = bridged {
            tracing::error!(error = %e, contact = %id, "cannot bridge the customer and the agent");
        }
        if c.record_call {
            let day = jiff::Timestamp::from_millisecond(now.unix_ms)
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_else(|_| "undated".into());
            let dir = self.config.storage.recordings_dir.join(day);
            let path = dir.join(format!("{id}.wav"));
            let started = std::fs::create_dir_all(&dir)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    self.media
                        .start_recording(room, &path)
                        .map_err(|e| e.to_string())
                });
            match started {
                Ok(()) => {
                    c.record.recording_path = Some(path.display().to_string());
                    self.recordings.insert(room, c.record.clone());
                }
                Err(e) => tracing::error!(contact = %id, error = %e, "cannot start the recording"),
            }
        }
        c.queued = None;
        // The customer queue flow stops where it is: the caller is with an agent now.
        c.flow = None;
        c.playing = false;
        if let Err(e) = self
            .router
            .offer_accepted(now.unix_ms, &mut self.agents, id)
        {
            tracing::warn!(error = %e, "offer accepted out of step with the router");
        }
        if let Err(e) = self.agents.contact_connected(now.unix_ms, &username, id) {
            tracing::warn!(error = %e, "agent state out of step");
        }
        tracing::info!(contact = %id, agent = %username, "agent connected");
        if let Some(c) = self.contacts.get_mut(&id) {
            c.record.agent_connected_unix_ms = Some(now.unix_ms);
            c.record.agent_username = Some(username.clone());
        }
        self.save(id, now);
    }

    fn on_branch_failed(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        key: &TransactionKey,
        code: u16,
    ) {
        let Some(agent) = self.contacts.get_mut(&id).and_then(|c| c.agent.as_mut()) else {
            return;
        };
        if let Some(f) = agent.forks.iter_mut().find(|f| &f.key == key) {
            f.done = true;
        }
        if agent.dialog.is_some() || agent.forks.iter().any(|f| !f.done) {
            return;
        }
        let reason = match code {
            486 | 600 => MissReason::BusyHere,
            603 => MissReason::Declined,
            408 => MissReason::RingTimeout,
            _ => MissReason::Failed,
        };
        tracing::info!(contact = %id, agent = %agent.username, code, "agent did not take the contact");
        let _ = self
            .router
            .offer_missed(now.unix_ms, &mut self.agents, id, reason);
        self.drop_agent_leg(now, tx, id);
    }

    /// Forgets an agent leg that never connected (CANCELling branches still ringing).
    pub(super) fn drop_agent_leg(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        let Some(agent) = self.contacts.get_mut(&id).and_then(|c| c.agent.take()) else {
            return;
        };
        for f in agent.forks.iter().filter(|f| !f.done) {
            if let Some(cancel) = cancel_for(&f.invite) {
                let _ = tx.send_request(now.mono, cancel, f.peer);
            }
        }
        let _ = self.media.remove_leg(agent.leg);
        self.by_leg.remove(&agent.leg);
    }

    /// Hangs up a connected agent leg (the customer left) and starts the agent's ACW.
    pub(super) fn hang_up_agent(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        agent: AgentLeg,
        id: Uuid,
        send_bye: bool,
    ) {
        let local_sip = self.local_sip.to_string();
        if let Some(mut d) = agent.dialog {
            if send_bye {
                let branch = format!("z9hG4bK{}", self.next_token());
                let bye = d.request(Method::Bye, &local_sip, &branch, None, &[], None);
                let _ = tx.send_request(now.mono, bye, d.peer);
            }
            self.by_call_id.remove(&d.call_id);
            if let Err(e) = self.agents.contact_ended(now.unix_ms, &agent.username, id) {
                tracing::warn!(error = %e, "agent state out of step at hang-up");
            }
        } else {
            for f in agent.forks.iter().filter(|f| !f.done) {
                if let Some(cancel) = cancel_for(&f.invite) {
                    let _ = tx.send_request(now.mono, cancel, f.peer);
                }
            }
        }
        if let Some(room) = agent.room {
            let _ = self.media.destroy_room(room);
        }
        let _ = self.media.remove_leg(agent.leg);
        self.by_leg.remove(&agent.leg);
    }
}

/// The CANCEL for an INVITE we sent (RFC 3261 §9.1): same Request-URI, Via, Call-ID, From,
/// To and CSeq number.
fn cancel_for(invite: &Request) -> Option<Request> {
    let via = message::header(invite, "Via")?;
    let from = message::header(invite, "From")?;
    let to = message::header(invite, "To")?;
    let call_id = message::header(invite, "Call-ID")?;
    let cseq = message::header(invite, "CSeq")?.split_whitespace().next()?;
    let text = format!(
        "CANCEL {} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} CANCEL\r\nContent-Length: 0\r\n\r\n",
        invite.uri
    );
    match message::parse(text.as_bytes()) {
        Ok(SipMessage::Request(r)) => Some(r),
        _ => None,
    }
}

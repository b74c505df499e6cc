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
use switchboard_media::record::Parties;
use switchboard_media::room::Role;
use switchboard_media::sdp::{Direction, SdpSession};
use uuid::Uuid;

use super::uac::{ack_2xx, apply_answer, cancel_ringing};
use super::{CODECS, Calls};
use crate::agents::MissReason;
use crate::config::{Phone, User};
use crate::endpoint::Now;
use crate::flow::{FlowInput, Recording, TransferResult};
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
    /// Accept was pressed in the panel: the phone is being called again with auto-answer.
    pub accepted: bool,
    /// After Accept, the INVITE to send once the ringing branches have ended.
    pub reoffer: Option<Reoffer>,
    /// Offered straight to this agent by a transfer_to_agent flow (not by the router):
    /// when it rings out (unix ms).
    pub direct_deadline: Option<i64>,
    /// The agent whisper playing to the agent, answered but not yet bridged.
    pub whisper: Option<super::whisper::Whisper>,
}

/// Calling an agent's phone again, with auto-answer, after Accept in the panel.
#[derive(Debug)]
pub(super) struct Reoffer {
    /// The first INVITE: the new one keeps its Call-ID and From tag.
    pub again: Request,
    pub targets: Vec<(String, Peer)>,
    pub sdp_offer: String,
}

/// Where a trunk's calls are sent.
pub(super) fn trunk_peer(t: &crate::config::Trunk) -> Peer {
    let transport = match t.transport {
        crate::config::Transport::Udp => Transport::Udp,
        crate::config::Transport::Tcp => Transport::Tcp,
    };
    Peer {
        transport,
        addr: t.address,
    }
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
    /// An agent's phone answered the offer of `contact`: an offer made to this agent by name
    /// (`direct`) is settled with the agents, a routed one with the router (which also takes
    /// the contact out of its queue). Being out of step is logged, not fatal: the call is up.
    pub(super) fn settle_accepted_offer(
        &mut self,
        now: Now,
        username: &str,
        direct: bool,
        contact: Uuid,
    ) {
        let accepted = if direct {
            self.agents
                .offer_accepted(now.unix_ms, username, contact)
                .map_err(|e| e.to_string())
        } else {
            self.router
                .offer_accepted(now.unix_ms, &mut self.agents, contact)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        if let Err(e) = accepted {
            tracing::warn!(%contact, error = %e, "accepted offer out of step with the router");
        }
    }

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
        self.direct_offers(now, tx, registrar);
        self.consult_direct_offers(now, tx, registrar);
        for rung_out in self.router.handle_timeout(now.unix_ms, &mut self.agents) {
            tracing::info!(contact = %rung_out.contact, agent = %rung_out.username, "offer rang out; agent missed");
            self.drop_agent_leg(now, tx, rung_out.contact);
        }
        while let Some(offer) = self.router.next_offer(now.unix_ms, &mut self.agents) {
            self.offer(now, tx, registrar, offer);
        }
        self.log_agent_events();
    }

    /// Where `user`'s phone is reached: every registered contact of a softphone, or the desk
    /// phone's number through its trunk.
    pub(super) fn phone_targets(&self, registrar: &Registrar, user: &User) -> Vec<(String, Peer)> {
        match (&user.phone, &user.trunk) {
            // A desk phone is reached through its trunk: no registration, no accept step.
            (Phone::DeskPhone { number }, Some(trunk)) => self
                .config
                .trunks
                .get(trunk)
                .map(|t| vec![(format!("sip:{number}@{}", t.address), trunk_peer(t))])
                .unwrap_or_default(),
            _ => registrar
                .bindings_of(&user.username)
                .iter()
                .filter_map(|b| Some((b.contact.clone(), peer_of(&b.source)?)))
                .collect(),
        }
    }

    /// Sends one INVITE per target (a parallel fork) offering `sdp_offer`; the branches that
    /// could be sent.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ring(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        user: &User,
        targets: Vec<(String, Peer)>,
        sdp_offer: &str,
        auto_answer: bool,
        again: Option<&Request>,
    ) -> Vec<Fork> {
        // Calling again (Accept in the panel) keeps the Call-ID and From tag with a higher
        // CSeq, as a retried INVITE does (RFC 3261 §8.1.3.5): the phone sees one call.
        let (call_id, from_tag, cseq) = match again.and_then(|r| {
            let call_id = message::header(r, "Call-ID")?.trim().to_string();
            let tag = message::header(r, "From")
                .and_then(message::tag_of)?
                .to_string();
            let cseq: u32 = message::header(r, "CSeq")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some((call_id, tag, cseq + 1))
        }) {
            Some(v) => v,
            None => (
                format!("{}@switchboard", self.next_token()),
                self.next_token(),
                1,
            ),
        };
        let domain = self.config.sip.domain.clone();
        let caller = self
            .contacts
            .get(&id)
            .map(|c| c.dialog.remote_uri.clone())
            .unwrap_or_else(|| format!("<sip:anonymous@{domain}>"));
        let mut forks = Vec::new();
        for (contact_uri, peer) in targets {
            let branch = format!("z9hG4bK{}", self.next_token());
            let to = if matches!(user.phone, Phone::DeskPhone { .. }) {
                format!("<{contact_uri}>")
            } else {
                format!("<sip:{}@{domain}>", user.username)
            };
            let mut extra = String::new();
            if auto_answer {
                let _ = write!(extra, "Call-Info: <sip:{domain}>;answer-after=0\r\n");
                let _ = write!(
                    extra,
                    "Alert-Info: <http://{domain}/>;info=alert-autoanswer;delay=0\r\n"
                );
            }
            let Some(invite) = build_invite(
                &InviteParts {
                    target: &contact_uri,
                    peer,
                    local_sip: self.local_sip,
                    branch: &branch,
                    from: &caller,
                    from_tag: &from_tag,
                    to: &to,
                    call_id: &call_id,
                    cseq,
                    extra: &extra,
                },
                sdp_offer,
            ) else {
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
        forks
    }

    fn offer(&mut self, now: Now, tx: &mut Transactions, registrar: &Registrar, offer: Offer) {
        let id = offer.contact;
        if let Some(contact) = self.routed.get(&id).copied() {
            // A transfer the transferring agent waits on (`consult`).
            self.offer_consult(now, tx, registrar, contact, &offer.username, None);
            return;
        }
        let Some(user) = self.config.users.get(&offer.username).cloned() else {
            return;
        };
        let peers = self.phone_targets(registrar, &user);
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
        let forks = self.ring(
            now,
            tx,
            id,
            &user,
            peers,
            &sdp_offer,
            user.auto_accept,
            None,
        );
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
                accepted: false,
                reoffer: None,
                direct_deadline: None,
                whisper: None,
            });
        }
    }

    /// A response or timeout for one of our client transactions (the agent INVITEs).
    pub fn on_tx_event(&mut self, now: Now, tx: &mut Transactions, event: TransactionEvent) {
        match event {
            TransactionEvent::Response { key, response } => {
                if self.on_refresh_tx(now, tx, &key, Some(&response))
                    || self.on_outbound_tx(now, tx, &key, Some(&response))
                    || self.on_monitor_tx(now, tx, &key, Some(&response))
                    || self.on_third_party_tx(now, tx, &key, Some(&response))
                {
                    return;
                }
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
                if self.on_refresh_tx(now, tx, &key, None)
                    || self.on_outbound_tx(now, tx, &key, None)
                    || self.on_monitor_tx(now, tx, &key, None)
                    || self.on_third_party_tx(now, tx, &key, None)
                {
                    return;
                }
                if let Some(id) = self.by_fork.get(&key).copied() {
                    self.on_branch_failed(now, tx, id, &key, 408);
                }
            }
            TransactionEvent::Terminated { key } => {
                self.by_refresh.remove(&key);
                self.by_fork.remove(&key);
                self.by_third.remove(&key);
                self.by_monitor.remove(&key);
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
        let local_sip = self.local_sip;
        let ack_branch = format!("z9hG4bK{}", self.next_token());
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
        let our_offer = String::from_utf8_lossy(&fork.invite.body).into_owned();
        let Some(mut dialog) = ack_2xx(tx, local_sip, &ack_branch, &fork.invite, resp, fork.peer)
        else {
            return;
        };
        if let Some(existing) = &agent.dialog {
            if existing.remote_tag != dialog.remote_tag {
                // Another branch answered too late: hang it up.
                let bye_branch = format!("z9hG4bK{}b", ack_branch);
                let bye = dialog.request(
                    Method::Bye,
                    &local_sip.to_string(),
                    &bye_branch,
                    None,
                    &[],
                    None,
                );
                let _ = tx.send_request(now.mono, bye, dialog.peer);
            }
            return;
        }
        // First answer wins: cancel the other branches.
        cancel_ringing(now.mono, tx, &mut agent.forks);
        apply_answer(&self.media, &mut agent.session, agent.leg, resp, "agent");
        agent.dialog = Some(dialog.clone());
        self.by_call_id.insert(dialog.call_id.clone(), id);
        let username = agent.username.clone();
        let direct = agent.direct_deadline.take().is_some();
        let queue = c.queued.take().or_else(|| c.record.queue.clone());
        // The customer queue flow stops where it is: the caller is with an agent now.
        c.flow = None;
        c.playing = false;
        c.record.agent_username = Some(username.clone());
        self.settle_accepted_offer(now, &username, direct, id);
        // A session timer the agent's phone asked for in its 2xx (RFC 4028).
        self.session_refreshed(
            now,
            &super::refresh::DialogKey::of(&dialog),
            resp,
            super::session_timer::from_2xx(resp),
            Some(&our_offer),
        );
        // Both legs join a room now (the recording starts), but hear each other only once
        // the agent whisper, if the flow set one, has played.
        self.join_agent(now, id);
        if !self.start_whisper(now, id, queue) {
            self.connect_agent(now, id);
        }
    }

    /// Puts the customer and the agent who answered in a room, not yet hearing each other,
    /// and starts the recording the flow asked for.
    fn join_agent(&mut self, now: Now, id: Uuid) {
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let Some(agent) = c.agent.as_mut() else {
            return;
        };
        let (customer_leg, agent_leg) = (c.leg, agent.leg);
        let room = self.media.create_room();
        agent.room = Some(room);
        let joined = self
            .media
            .add_to_room(room, customer_leg, Role::Customer)
            .and_then(|()| self.media.add_to_room(room, agent_leg, Role::Agent));
        if let Err(e) = joined {
            tracing::error!(error = %e, contact = %id, "cannot put the customer and the agent in a room");
        }
        c.record.agent_connected_unix_ms = Some(now.unix_ms);
        let parties = match c.recorded {
            Recording::Both => Some(Parties::Both),
            Recording::Customer => Some(Parties::Customer),
            Recording::Agent => Some(Parties::AgentSide),
            Recording::None => None,
        };
        let Some(parties) = parties else {
            return;
        };
        let day = jiff::Timestamp::from_millisecond(now.unix_ms)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_else(|_| "undated".into());
        let dir = self.config.storage.recordings_dir.join(day);
        let path = dir.join(format!("{id}.wav"));
        let started = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                self.media
                    .start_recording_of(room, &path, parties)
                    .map_err(|e| e.to_string())
            });
        match started {
            Ok(()) => {
                tracing::info!(contact = %id, recorded = ?c.recorded, path = %path.display(), "recording");
                c.record.recording_path = Some(path.display().to_string());
                self.recordings.insert(room, c.record.clone());
            }
            Err(e) => tracing::error!(contact = %id, error = %e, "cannot start the recording"),
        }
    }

    /// Bridges the customer and the agent (after the whisper, if any) and marks the agent
    /// connected.
    pub(super) fn connect_agent(&mut self, now: Now, id: Uuid) {
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let Some(agent) = c.agent.as_mut() else {
            return;
        };
        agent.whisper = None;
        let Some(room) = agent.room else {
            return;
        };
        let username = agent.username.clone();
        let (customer_leg, agent_leg) = (c.leg, agent.leg);
        let _ = self.media.stop_play(customer_leg);
        let _ = self.media.stop_play(agent_leg);
        c.playing = false;
        if let Err(e) = self.media.bridge(room, customer_leg, agent_leg) {
            tracing::error!(error = %e, contact = %id, "cannot bridge the customer and the agent");
        }
        // Whatever changed during the whisper (a hold from the phone, a manager listening
        // in) takes effect now.
        self.apply_room(id);
        if let Err(e) = self.agents.contact_connected(now.unix_ms, &username, id) {
            tracing::warn!(error = %e, "agent state out of step");
        }
        tracing::info!(contact = %id, agent = %username, "agent connected");
        // Busy stays Busy, so no agent event marks the panel: the contact goes from
        // connecting to connected here.
        self.touch(id);
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
        if agent.reoffer.is_some() {
            self.reoffer(now, tx, id);
            return;
        }
        let reason = match code {
            486 | 600 => MissReason::BusyHere,
            603 => MissReason::Declined,
            408 => MissReason::RingTimeout,
            _ => MissReason::Failed,
        };
        tracing::info!(contact = %id, agent = %agent.username, code, "agent did not take the contact");
        if agent.direct_deadline.is_some() {
            let username = agent.username.clone();
            self.direct_missed(now, tx, id, &username, reason);
            return;
        }
        let _ = self
            .router
            .offer_missed(now.unix_ms, &mut self.agents, id, reason);
        self.drop_agent_leg(now, tx, id);
    }

    /// Contacts a transfer_to_agent flow hands to a named agent: offered to them directly
    /// (not through a queue) while they are routable; the flow hears Error otherwise, and
    /// when the offer rings out or is refused.
    fn direct_offers(&mut self, now: Now, tx: &mut Transactions, registrar: &Registrar) {
        let ring = i64::try_from(self.config.routing.ring_timeout.as_millis()).unwrap_or(i64::MAX);
        let mut failed = false;
        for (id, username) in std::mem::take(&mut self.direct) {
            let ok = self.contacts.contains_key(&id)
                && self.agents.get(&username).is_some_and(|a| a.is_routable())
                && self.agents.offer(now.unix_ms, &username, id).is_ok();
            if ok {
                let deadline = now.unix_ms.saturating_add(ring);
                self.offer(
                    now,
                    tx,
                    registrar,
                    Offer {
                        contact: id,
                        queue: String::new(),
                        username: username.clone(),
                        enqueued_at_unix_ms: now.unix_ms,
                        ring_deadline_unix_ms: deadline,
                    },
                );
                match self.contacts.get_mut(&id).and_then(|c| c.agent.as_mut()) {
                    Some(a) => a.direct_deadline = Some(deadline),
                    None => {
                        let _ = self.agents.offer_missed(
                            now.unix_ms,
                            &username,
                            id,
                            MissReason::Failed,
                        );
                        self.pending
                            .push_back((id, FlowInput::Transfer(TransferResult::Error)));
                        failed = true;
                    }
                }
            } else {
                tracing::info!(contact = %id, agent = %username, "transfer to agent: the agent is not available");
                self.pending
                    .push_back((id, FlowInput::Transfer(TransferResult::Error)));
                failed = true;
            }
        }
        let rung_out: Vec<(Uuid, String)> = self
            .contacts
            .iter()
            .filter_map(|(id, c)| {
                let a = c.agent.as_ref()?;
                (a.dialog.is_none() && a.direct_deadline.is_some_and(|d| d <= now.unix_ms))
                    .then(|| (*id, a.username.clone()))
            })
            .collect();
        for (id, username) in rung_out {
            tracing::info!(contact = %id, agent = %username, "transfer to agent rang out; agent missed");
            self.direct_missed(now, tx, id, &username, MissReason::RingTimeout);
        }
        if failed {
            self.drain(now, tx);
        }
    }

    /// A direct offer failed: the agent is Missed, the transfer flow hears Error.
    fn direct_missed(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        username: &str,
        reason: MissReason,
    ) {
        let _ = self.agents.offer_missed(now.unix_ms, username, id, reason);
        self.drop_agent_leg(now, tx, id);
        self.pending
            .push_back((id, FlowInput::Transfer(TransferResult::Error)));
        self.drain(now, tx);
    }

    /// Calls the agent's phone again with auto-answer (Accept in the panel); when that cannot
    /// be sent, the offer fails as a missed one would.
    pub(super) fn reoffer(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        let Some(agent) = self.contacts.get_mut(&id).and_then(|c| c.agent.as_mut()) else {
            return;
        };
        let Some(r) = agent.reoffer.take() else {
            return;
        };
        let username = agent.username.clone();
        let Some(user) = self.config.users.get(&username).cloned() else {
            return;
        };
        let forks = self.ring(
            now,
            tx,
            id,
            &user,
            r.targets,
            &r.sdp_offer,
            true,
            Some(&r.again),
        );
        tracing::info!(contact = %id, agent = %username, branches = forks.len(), "phone called again with auto-answer");
        if forks.is_empty() {
            let _ = self
                .router
                .offer_missed(now.unix_ms, &mut self.agents, id, MissReason::Failed);
            self.drop_agent_leg(now, tx, id);
            return;
        }
        if let Some(agent) = self.contacts.get_mut(&id).and_then(|c| c.agent.as_mut()) {
            agent.forks.extend(forks);
        }
        self.touch(id);
    }

    /// Forgets an agent leg that never connected (CANCELling branches still ringing).
    pub(super) fn drop_agent_leg(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        if let Some(contact) = self.routed.get(&id).copied() {
            // The router's offer of a transfer rang out: stop its phone ringing.
            self.cancel_consult_offer(now, tx, contact);
            return;
        }
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
            // A consultation call leaves the agent on the contact they consult for.
            if !self.consults.remove(&id)
                && let Err(e) = self.agents.contact_ended(now.unix_ms, &agent.username, id)
            {
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

/// What an INVITE we originate is made of.
pub(super) struct InviteParts<'a> {
    pub target: &'a str,
    pub peer: Peer,
    pub local_sip: std::net::SocketAddr,
    pub branch: &'a str,
    /// From header value without the tag, e.g. `<sip:+15550100@host>`.
    pub from: &'a str,
    pub from_tag: &'a str,
    /// To header value, e.g. `<sip:bob@domain>`.
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    /// Extra header lines, each ending in CRLF.
    pub extra: &'a str,
}

/// An initial INVITE with an SDP offer.
pub(super) fn build_invite(p: &InviteParts<'_>, sdp_offer: &str) -> Option<Request> {
    let transport = match p.peer.transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    let mut text = String::with_capacity(1024 + sdp_offer.len());
    let _ = write!(text, "INVITE {} SIP/2.0\r\n", p.target);
    let _ = write!(
        text,
        "Via: SIP/2.0/{transport} {};branch={};rport\r\n",
        p.local_sip, p.branch
    );
    let _ = write!(text, "Max-Forwards: 70\r\n");
    let _ = write!(text, "From: {};tag={}\r\n", p.from, p.from_tag);
    let _ = write!(text, "To: {}\r\n", p.to);
    let _ = write!(text, "Call-ID: {}\r\n", p.call_id);
    let _ = write!(text, "CSeq: {} INVITE\r\n", p.cseq);
    let _ = write!(text, "Contact: <sip:switchboard@{}>\r\n", p.local_sip);
    let _ = write!(text, "Allow: {}\r\n", super::ALLOW);
    text.push_str(p.extra);
    let _ = write!(text, "Content-Type: application/sdp\r\n");
    let _ = write!(
        text,
        "Content-Length: {}\r\n\r\n{sdp_offer}",
        sdp_offer.len()
    );
    match message::parse(text.as_bytes()) {
        Ok(SipMessage::Request(r)) => Some(r),
        _ => None,
    }
}

/// The CANCEL for an INVITE we sent (RFC 3261 §9.1): same Request-URI, Via, Call-ID, From,
/// To and CSeq number.
pub(super) fn cancel_for(invite: &Request) -> Option<Request> {
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

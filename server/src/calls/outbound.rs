//! Outbound calls from the panel: the agent's phone is reached first (a softphone with the
//! auto-answer hints, a desk phone rings and is picked up), then the customer's number through
//! the trunk with the outbound caller ID of the agent's default outbound queue. When the
//! customer answers, the call becomes an ordinary connected contact (hold, transfer, end
//! work as on any other); until then it waits here.

use switchboard_media::engine::{LegId, LegParams};
use switchboard_media::room::Role;
use switchboard_media::sdp::{self, Direction, SdpSession};
use uuid::Uuid;

use super::agent::{AgentLeg, Fork, cancel_for};
use super::uac::{ack_2xx, apply_answer, cancel_ringing};
use super::{CODECS, Calls, Contact};
use crate::control::CommandError;
use crate::endpoint::Now;
use crate::registrar::Registrar;
use crate::sip::dialog::Dialog;
use crate::sip::message::{Method, Response};
use crate::sip::transaction::{TransactionKey, Transactions};
use crate::store::{ContactRecord, DisconnectReason, InitiationMethod};

/// An outbound call being placed.
#[derive(Debug)]
pub(super) struct Outbound {
    pub number: String,
    pub caller_id: String,
    pub agent: AgentLeg,
    /// Set once the agent's phone answered and the customer is being dialed.
    pub customer: Option<Dialing>,
    pub record: ContactRecord,
    pub since_unix_ms: i64,
    /// Set when the agent dialed from their phone: our answer to its INVITE waits for the
    /// customer's.
    pub phone: Option<PhoneOrigin>,
}

/// The agent's own INVITE, answered once the customer answers.
#[derive(Debug)]
pub(super) struct PhoneOrigin {
    pub key: TransactionKey,
    pub invite: crate::sip::message::Request,
    pub peer: crate::sip::transaction::Peer,
    pub local_tag: String,
    /// Our SDP answer to the phone's offer.
    pub answer_sdp: String,
    pub ringing_sent: bool,
}

#[derive(Debug)]
pub(super) struct Dialing {
    pub leg: LegId,
    pub session: SdpSession,
    pub local_rtp: std::net::SocketAddr,
    pub fork: Fork,
}

impl Calls {
    /// Dial in the panel: reach `user`'s phone, then `number` (E.164).
    pub(super) fn dial(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        registrar: &Registrar,
        user: &str,
        number: &str,
    ) -> Result<(), CommandError> {
        let u = self
            .config
            .users
            .get(user)
            .cloned()
            .ok_or_else(|| CommandError::NotFound(format!("no user `{user}`")))?;
        let agent = self
            .agents
            .get(user)
            .ok_or_else(|| CommandError::NotFound(format!("no agent `{user}`")))?;
        if agent.contact().is_some() {
            return Err(CommandError::Conflict(format!(
                "you are {}: finish that contact first",
                agent.state()
            )));
        }
        let targets = self.phone_targets(registrar, &u);
        if targets.is_empty() {
            return Err(CommandError::Unavailable(
                "your phone cannot be reached: is it registered?".into(),
            ));
        }
        let caller_id = u
            .routing_profile
            .as_ref()
            .and_then(|p| self.config.routing_profiles.get(p))
            .and_then(|p| self.config.queues.get(&p.default_outbound_queue))
            .and_then(|q| q.outbound_caller_id.clone())
            .or_else(|| self.config.phone_numbers.keys().next().cloned())
            .unwrap_or_else(|| "anonymous".into());
        let id = Uuid::new_v4();
        // Busy from now on: nothing is offered to the agent while the call is placed.
        self.agents.contact_connected(now.unix_ms, user, id)?;
        let (leg, local_rtp) = match self.media.create_leg(LegParams::pcmu()) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.agents.contact_ended(now.unix_ms, user, id);
                return Err(CommandError::Unavailable(format!("no media capacity: {e}")));
            }
        };
        let mut session = SdpSession::new(self.counter, local_rtp.ip());
        let offer = session.offer(local_rtp.port(), &CODECS, Direction::SendRecv);
        let forks = self.ring(now, tx, id, &u, targets, &offer, true, None);
        if forks.is_empty() {
            let _ = self.media.remove_leg(leg);
            let _ = self.agents.contact_ended(now.unix_ms, user, id);
            return Err(CommandError::Unavailable(
                "your phone cannot be reached".into(),
            ));
        }
        let mut record = ContactRecord::new(id, InitiationMethod::Outbound, now.unix_ms);
        record.customer_endpoint = Some(number.to_string());
        record.system_endpoint = Some(caller_id.clone());
        record.agent_username = Some(user.to_string());
        record.queue = u
            .routing_profile
            .as_ref()
            .and_then(|p| self.config.routing_profiles.get(p))
            .map(|p| p.default_outbound_queue.clone());
        record.updated_at_unix_ms = now.unix_ms;
        self.records_out.push(record.clone());
        tracing::info!(contact = %id, agent = %user, %number, "outbound call: reaching the agent's phone");
        self.outbound.insert(
            id,
            Outbound {
                number: number.to_string(),
                caller_id,
                agent: AgentLeg {
                    username: user.to_string(),
                    leg,
                    session,
                    local_rtp,
                    forks,
                    dialog: None,
                    room: None,
                    accepted: true,
                    reoffer: None,
                    direct_deadline: None,
                    whisper: None,
                },
                customer: None,
                record,
                since_unix_ms: now.unix_ms,
                phone: None,
            },
        );
        self.panel_dirty.insert(user.to_string());
        Ok(())
    }

    /// An INVITE from `user`'s phone (authenticated) to a number: an outbound call, if the
    /// user has OutboundCallAccess and the number is one. Refusals carry the reason in a
    /// Warning: 403 without the permission, 484 for what is not a number, 486 when the agent
    /// is on another contact.
    pub fn on_phone_dial(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &crate::sip::message::Request,
        peer: crate::sip::transaction::Peer,
        user: &str,
    ) {
        let Some(u) = self.config.users.get(user).cloned() else {
            super::respond(tx, now, key, req, 403, Some("no such user"));
            return;
        };
        if !u.has(crate::config::Permission::OutboundCallAccess) {
            super::respond(
                tx,
                now,
                key,
                req,
                403,
                Some("OutboundCallAccess is required to dial out"),
            );
            return;
        }
        let dialed = req
            .uri
            .auth
            .as_ref()
            .map(|a| a.user.clone())
            .unwrap_or_default();
        let country = u
            .country
            .clone()
            .unwrap_or_else(|| self.config.instance.default_country.clone());
        let number = match crate::numbers::to_e164(&dialed, &country) {
            Ok(n) => n,
            Err(e) => {
                super::respond(tx, now, key, req, 484, Some(&format!("{dialed}: {e}")));
                return;
            }
        };
        // On a connected contact, a call from the phone is a consultation (the customer on
        // hold): it may end in an attended transfer (REFER with Replaces).
        let consult_of = self
            .agents
            .get(user)
            .and_then(|a| a.contact())
            .filter(|cid| {
                self.contacts.get(cid).is_some_and(|c| {
                    c.agent
                        .as_ref()
                        .is_some_and(|a| a.username == user && a.dialog.is_some())
                })
            });
        if consult_of.is_none()
            && let Some(a) = self.agents.get(user)
            && a.contact().is_some()
        {
            super::respond(tx, now, key, req, 486, Some("you are on another contact"));
            return;
        }
        let offer = match std::str::from_utf8(&req.body)
            .map_err(|_| "SDP is not UTF-8".to_string())
            .and_then(|s| sdp::parse(s).map_err(|e| e.to_string()))
        {
            Ok(o) => o,
            Err(why) => {
                super::respond(tx, now, key, req, 488, Some(&why));
                return;
            }
        };
        let (leg, local_rtp) = match self.media.create_leg(LegParams::pcmu()) {
            Ok(l) => l,
            Err(_) => {
                super::respond(tx, now, key, req, 503, Some("no media capacity"));
                return;
            }
        };
        let mut session = SdpSession::new(self.counter, local_rtp.ip());
        let answer = match session.answer(&offer, local_rtp.port(), &CODECS) {
            Ok(a) => a,
            Err(e) => {
                let _ = self.media.remove_leg(leg);
                super::respond(tx, now, key, req, 488, Some(&e.to_string()));
                return;
            }
        };
        if let Err(e) = self.media.update_leg(leg, (&answer.negotiated).into()) {
            tracing::warn!(error = %e, "cannot configure the agent leg");
        }
        let caller_id = u
            .routing_profile
            .as_ref()
            .and_then(|p| self.config.routing_profiles.get(p))
            .and_then(|p| self.config.queues.get(&p.default_outbound_queue))
            .and_then(|q| q.outbound_caller_id.clone())
            .or_else(|| self.config.phone_numbers.keys().next().cloned())
            .unwrap_or_else(|| "anonymous".into());
        let id = Uuid::new_v4();
        if consult_of.is_some() {
            self.consults.insert(id);
        } else if let Err(e) = self.agents.contact_connected(now.unix_ms, user, id) {
            let _ = self.media.remove_leg(leg);
            super::respond(tx, now, key, req, 486, Some(&e.to_string()));
            return;
        }
        let dial = match self.invite_via_trunk(now, tx, &number, &caller_id) {
            Ok((cleg, csession, crtp, fork)) => Dialing {
                leg: cleg,
                session: csession,
                local_rtp: crtp,
                fork,
            },
            Err(e) => {
                let _ = self.media.remove_leg(leg);
                if !self.consults.remove(&id) {
                    let _ = self.agents.contact_ended(now.unix_ms, user, id);
                }
                super::respond(tx, now, key, req, 503, Some(&e.to_string()));
                return;
            }
        };
        let mut record = ContactRecord::new(id, InitiationMethod::Outbound, now.unix_ms);
        record.customer_endpoint = Some(number.clone());
        record.system_endpoint = Some(caller_id.clone());
        record.agent_username = Some(user.to_string());
        record.updated_at_unix_ms = now.unix_ms;
        self.records_out.push(record.clone());
        tracing::info!(contact = %id, agent = %user, %number, "outbound call dialed from the phone");
        let local_tag = self.next_token();
        self.outbound.insert(
            id,
            Outbound {
                number,
                caller_id,
                agent: AgentLeg {
                    username: user.to_string(),
                    leg,
                    session,
                    local_rtp,
                    forks: Vec::new(),
                    dialog: None,
                    room: None,
                    accepted: true,
                    reoffer: None,
                    direct_deadline: None,
                    whisper: None,
                },
                customer: Some(dial),
                record,
                since_unix_ms: now.unix_ms,
                phone: Some(PhoneOrigin {
                    key: key.clone(),
                    invite: req.clone(),
                    peer,
                    local_tag,
                    answer_sdp: answer.sdp,
                    ringing_sent: false,
                }),
            },
        );
        self.panel_dirty.insert(user.to_string());
    }

    /// The agent's phone CANCELled its outbound INVITE.
    pub fn on_cancel(&mut self, now: Now, tx: &mut Transactions, invite: &TransactionKey) {
        let Some(id) = self.outbound.iter().find_map(|(id, o)| {
            o.phone
                .as_ref()
                .is_some_and(|p| &p.key == invite)
                .then_some(*id)
        }) else {
            return;
        };
        if let Some(p) = self.outbound.get(&id).and_then(|o| o.phone.as_ref()) {
            super::respond(tx, now, &p.key, &p.invite, 487, None);
        }
        self.end_outbound(now, tx, id, DisconnectReason::Agent);
    }

    /// A response or timeout for an outbound call's INVITEs; false when not one of them.
    pub(super) fn on_outbound_tx(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        response: Option<&Response>,
    ) -> bool {
        let Some(id) = self.outbound.iter().find_map(|(id, o)| {
            let ours = o.agent.forks.iter().any(|f| &f.key == key)
                || o.customer.as_ref().is_some_and(|c| &c.fork.key == key);
            ours.then_some(*id)
        }) else {
            return false;
        };
        let code = response.map_or(408, |r| r.status_code.code());
        let Some(o) = self.outbound.get_mut(&id) else {
            return true;
        };
        if code < 200 {
            // The customer's phone rings: so does the agent's earpiece (180 to their phone).
            if (180..=183).contains(&code)
                && let Some(p) = o.phone.as_mut()
                && !p.ringing_sent
            {
                p.ringing_sent = true;
                let mut ringing = crate::sip::message::response(&p.invite, 180, Some(&p.local_tag));
                crate::sip::message::push_header(
                    &mut ringing,
                    "Contact",
                    format!("<sip:switchboard@{}>", self.local_sip),
                );
                let _ = tx.respond(now.mono, &p.key, ringing);
            }
            return true;
        }
        let is_agent = o.agent.forks.iter().any(|f| &f.key == key);
        if is_agent {
            if let Some(f) = o.agent.forks.iter_mut().find(|f| &f.key == key) {
                f.done = true;
            }
            match response.filter(|_| (200..300).contains(&code)) {
                Some(resp) if o.agent.dialog.is_none() => {
                    self.outbound_agent_answered(now, tx, id, key, resp)
                }
                Some(_) => {}
                None => {
                    if o.agent.dialog.is_none() && o.agent.forks.iter().all(|f| f.done) {
                        tracing::info!(contact = %id, code, "outbound call: the agent's phone did not answer");
                        self.end_outbound(now, tx, id, DisconnectReason::Agent);
                    }
                }
            }
        } else {
            match response.filter(|_| (200..300).contains(&code)) {
                Some(resp) => self.outbound_customer_answered(now, tx, id, resp),
                None => {
                    tracing::info!(contact = %id, code, "outbound call: the customer did not answer");
                    if let Some(o) = self.outbound.get_mut(&id) {
                        if let Some(c) = o.customer.as_mut() {
                            c.fork.done = true;
                        }
                        // The phone that dialed hears why (busy, not found, no answer...).
                        if let Some(p) = o.phone.take() {
                            let relay = if (400..700).contains(&code) {
                                code
                            } else {
                                480
                            };
                            super::respond(tx, now, &p.key, &p.invite, relay, None);
                        }
                    }
                    self.end_outbound(now, tx, id, DisconnectReason::Customer);
                }
            }
        }
        true
    }

    fn outbound_agent_answered(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        key: &TransactionKey,
        resp: &Response,
    ) {
        let local_sip = self.local_sip;
        let ack_branch = format!("z9hG4bK{}", self.next_token());
        let Some(o) = self.outbound.get_mut(&id) else {
            return;
        };
        let Some(fork) = o.agent.forks.iter().find(|f| &f.key == key) else {
            return;
        };
        let Some(dialog) = ack_2xx(tx, local_sip, &ack_branch, &fork.invite, resp, fork.peer)
        else {
            return;
        };
        cancel_ringing(now.mono, tx, &mut o.agent.forks);
        apply_answer(
            &self.media,
            &mut o.agent.session,
            o.agent.leg,
            resp,
            "agent",
        );
        self.by_call_id.insert(dialog.call_id.clone(), id);
        o.agent.dialog = Some(dialog);
        let (number, caller_id) = (o.number.clone(), o.caller_id.clone());
        tracing::info!(contact = %id, %number, "outbound call: agent's phone answered; dialing the customer");
        match self.invite_via_trunk(now, tx, &number, &caller_id) {
            Ok((leg, session, local_rtp, fork)) => {
                if let Some(o) = self.outbound.get_mut(&id) {
                    o.customer = Some(Dialing {
                        leg,
                        session,
                        local_rtp,
                        fork,
                    });
                }
            }
            Err(e) => {
                tracing::warn!(contact = %id, error = %e, "outbound call: cannot dial the customer");
                self.end_outbound(now, tx, id, DisconnectReason::Error);
            }
        }
    }

    fn outbound_customer_answered(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        resp: &Response,
    ) {
        let local_sip = self.local_sip;
        let ack_branch = format!("z9hG4bK{}", self.next_token());
        let Some(mut o) = self.outbound.remove(&id) else {
            return;
        };
        let Some(mut dial) = o.customer.take() else {
            return;
        };
        dial.fork.done = true;
        let Some(dialog) = ack_2xx(
            tx,
            local_sip,
            &ack_branch,
            &dial.fork.invite,
            resp,
            dial.fork.peer,
        ) else {
            self.outbound.insert(id, o);
            self.end_outbound(now, tx, id, DisconnectReason::Error);
            return;
        };
        apply_answer(&self.media, &mut dial.session, dial.leg, resp, "customer");
        let room = self.media.create_room();
        let bridged = self
            .media
            .add_to_room(room, dial.leg, Role::Customer)
            .and_then(|()| self.media.add_to_room(room, o.agent.leg, Role::Agent))
            .and_then(|()| self.media.bridge(room, dial.leg, o.agent.leg));
        if let Err(e) = bridged {
            tracing::error!(error = %e, contact = %id, "cannot bridge the outbound call");
        }
        o.agent.room = Some(room);
        if let Some(p) = o.phone.take() {
            let local_contact = format!("sip:switchboard@{}", self.local_sip);
            let mut ok = crate::sip::message::response(&p.invite, 200, Some(&p.local_tag));
            crate::sip::message::push_header(&mut ok, "Contact", format!("<{local_contact}>"));
            crate::sip::message::push_header(&mut ok, "Content-Type", "application/sdp");
            ok.body = p.answer_sdp.into_bytes();
            if let Err(e) = tx.respond(now.mono, &p.key, ok) {
                tracing::warn!(error = %e, "cannot answer the agent's phone");
            }
            match Dialog::uas(&p.invite, &p.local_tag, &local_contact, p.peer) {
                Some(d) => {
                    self.by_call_id.insert(d.call_id.clone(), id);
                    o.agent.dialog = Some(d);
                }
                None => tracing::warn!(contact = %id, "the agent's INVITE has no usable dialog"),
            }
        }
        self.by_call_id.insert(dialog.call_id.clone(), id);
        self.by_leg.insert(dial.leg, id);
        self.by_leg.insert(o.agent.leg, id);
        o.record.agent_connected_unix_ms = Some(now.unix_ms);
        o.record.updated_at_unix_ms = now.unix_ms;
        self.records_out.push(o.record.clone());
        let username = o.agent.username.clone();
        tracing::info!(contact = %id, agent = %username, "outbound call connected");
        self.contacts.insert(
            id,
            Contact {
                dialog,
                leg: dial.leg,
                flow: None,
                collecting: false,
                queued: None,
                agent: Some(o.agent),
                session: dial.session,
                local_rtp: dial.local_rtp,
                record_call: false,
                recorded: crate::flow::Recording::None,
                whisper_flow: None,
                queue_flow: None,
                playing: false,
                record: o.record,
                hold_since: None,
                customer_held: false,
                customer_moh: false,
                customer_since_unix_ms: now.unix_ms,
                third: None,
                room: None,
                refer_pending: false,
                monitors: Vec::new(),
            },
        );
        self.panel_dirty.insert(username);
    }

    /// Gives up on an outbound call before it connected: hangs up whatever was reached.
    pub(super) fn end_outbound(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        reason: DisconnectReason,
    ) {
        let Some(mut o) = self.outbound.remove(&id) else {
            return;
        };
        let local_sip = self.local_sip.to_string();
        if let Some(c) = o.customer.take() {
            if !c.fork.done
                && let Some(cancel) = cancel_for(&c.fork.invite)
            {
                let _ = tx.send_request(now.mono, cancel, c.fork.peer);
            }
            let _ = self.media.remove_leg(c.leg);
        }
        let branch = format!("z9hG4bK{}", self.next_token());
        match o.agent.dialog.as_mut() {
            Some(d) => {
                let bye = d.request(Method::Bye, &local_sip, &branch, None, &[], None);
                let _ = tx.send_request(now.mono, bye, d.peer);
                self.by_call_id.remove(&d.call_id);
            }
            None => {
                for f in o.agent.forks.iter().filter(|f| !f.done) {
                    if let Some(cancel) = cancel_for(&f.invite) {
                        let _ = tx.send_request(now.mono, cancel, f.peer);
                    }
                }
            }
        }
        let _ = self.media.remove_leg(o.agent.leg);
        let username = o.agent.username.clone();
        if !self.consults.remove(&id)
            && let Err(e) = self.agents.contact_ended(now.unix_ms, &username, id)
        {
            tracing::warn!(error = %e, "agent state out of step at outbound hang-up");
        }
        o.record.disconnect_unix_ms = Some(now.unix_ms);
        o.record.disconnect_reason = Some(reason);
        o.record.updated_at_unix_ms = now.unix_ms;
        self.records_out.push(o.record.clone());
        if self.agents.get(&username).and_then(|a| a.contact()) == Some(id) {
            self.in_acw.insert(id, o.record);
        }
        self.panel_dirty.insert(username);
    }

    /// The agent hung up (BYE from their phone) while the customer was still being dialed.
    pub(super) fn outbound_of_call_id(&self, call_id: &str) -> Option<Uuid> {
        self.outbound.iter().find_map(|(id, o)| {
            o.agent
                .dialog
                .as_ref()
                .is_some_and(|d| d.call_id == call_id)
                .then_some(*id)
        })
    }
}

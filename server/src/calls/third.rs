//! The third party of a contact: a number the agent transfers to (dialed or an external quick
//! connect), reached through the trunk while the customer waits on hold with music. Then the
//! agent can Join (all three hear each other), Swap (talk to one, the other on hold), Hold all,
//! or Leave (customer and third party stay connected; the contact continues under a new id
//! linked to the agent's). A flow's transfer_to_phone_number dials its number as a third party
//! too, with no agent (`flow_dial`).
//!
//! Who hears whom follows from the contact's state alone ([`Calls::apply_room`]): each of the
//! customer and the third party is either held (hears music, heard by nobody) or not; the
//! agent, while on the contact, hears and is heard by every party not held; two parties not
//! held hear each other (that is the conference after Join, and the plain bridge once the agent
//! left).

use switchboard_media::engine::{LegId, LegParams, RoomId};
use switchboard_media::room::Role;
use switchboard_media::sdp::{Direction, SdpSession};
use uuid::Uuid;

use super::agent::{Fork, InviteParts, build_invite, cancel_for, trunk_peer};
use super::uac::{ack_2xx, apply_answer};
use super::{CODECS, Calls};
use crate::control::CommandError;
use crate::endpoint::Now;
use crate::sip::dialog::Dialog;
use crate::sip::message::{Method, Response};
use crate::sip::transaction::{TransactionKey, Transactions};
use crate::store::{ContactRecord, DisconnectReason, InitiationMethod};

/// A party the agent brought in.
#[derive(Debug)]
pub(super) struct ThirdParty {
    /// The E.164 number dialed.
    pub number: String,
    pub leg: LegId,
    pub session: SdpSession,
    pub local_rtp: std::net::SocketAddr,
    /// Our INVITE, while we dialed it (none when it came from a consultation call).
    pub fork: Option<Fork>,
    /// Set by the 2xx.
    pub dialog: Option<Dialog>,
    pub held: bool,
    /// Music on hold is playing to it.
    pub moh: bool,
    /// When its connection state last changed (unix ms).
    pub since_unix_ms: i64,
    /// A queue or agent quick connect: the transfer being routed to an agent.
    pub routed: Option<Box<super::consult::Routed>>,
    /// Dialed by the contact's flow (transfer_to_phone_number), not by an agent: its answer
    /// or failure goes back to the flow ([`Calls::flow_dial_answered`]).
    pub by_flow: bool,
}

impl ThirdParty {
    /// A party reached (or being reached) at `number` through `leg`: not held, not dialed by
    /// a flow, not a routed transfer; the caller sets `fork`, `dialog`, `by_flow` or `routed`.
    pub fn new(
        number: String,
        leg: LegId,
        session: SdpSession,
        local_rtp: std::net::SocketAddr,
        now_ms: i64,
    ) -> ThirdParty {
        ThirdParty {
            number,
            leg,
            session,
            local_rtp,
            fork: None,
            dialog: None,
            held: false,
            moh: false,
            since_unix_ms: now_ms,
            by_flow: false,
            routed: None,
        }
    }
}

impl Calls {
    /// The room a new third party joins on `id`: the contact is connected to its agent and
    /// has no third party yet (404 or 409 otherwise).
    pub(super) fn room_for_third(&self, id: Uuid) -> Result<RoomId, CommandError> {
        let c = self
            .contacts
            .get(&id)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {id}")))?;
        if c.third.is_some() {
            return Err(CommandError::Conflict(
                "a third party is already on this contact: end it first".into(),
            ));
        }
        c.room()
            .ok_or_else(|| CommandError::Conflict("the contact is not connected to you yet".into()))
    }

    /// Sends an INVITE for `number` (E.164) to the trunk, presenting `caller_id`, with a new
    /// media leg's SDP offer.
    pub(super) fn invite_via_trunk(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        number: &str,
        caller_id: &str,
    ) -> Result<(LegId, SdpSession, std::net::SocketAddr, Fork), CommandError> {
        let trunk = self.config.trunks.values().next().cloned().ok_or_else(|| {
            CommandError::Unavailable("no trunk is configured for outbound calls".into())
        })?;
        let (leg, local_rtp) = self
            .media
            .create_leg(LegParams::pcmu())
            .map_err(|e| CommandError::Unavailable(format!("no media capacity: {e}")))?;
        let mut session = SdpSession::new(self.counter, local_rtp.ip());
        let offer = session.offer(local_rtp.port(), &CODECS, Direction::SendRecv);
        let peer = trunk_peer(&trunk);
        let target = format!("sip:{number}@{}", trunk.address);
        let branch = format!("z9hG4bK{}", self.next_token());
        let call_id = format!("{}@switchboard", self.next_token());
        let from_tag = self.next_token();
        let from = format!("<sip:{caller_id}@{}>", self.config.sip.domain);
        let to = format!("<{target}>");
        let invite = build_invite(
            &InviteParts {
                target: &target,
                peer,
                local_sip: self.local_sip,
                branch: &branch,
                from: &from,
                from_tag: &from_tag,
                to: &to,
                call_id: &call_id,
                cseq: 1,
                extra: "",
            },
            &offer,
        );
        let sent = invite
            .ok_or_else(|| {
                CommandError::Invalid(format!("{number} cannot be put in a SIP request"))
            })
            .and_then(|invite| {
                tx.send_request(now.mono, invite.clone(), peer)
                    .map(|key| (key, invite))
                    .map_err(|e| CommandError::Unavailable(format!("cannot reach the trunk: {e}")))
            });
        match sent {
            Ok((key, invite)) => Ok((
                leg,
                session,
                local_rtp,
                Fork {
                    key,
                    invite,
                    peer,
                    done: false,
                },
            )),
            Err(e) => {
                let _ = self.media.remove_leg(leg);
                Err(e)
            }
        }
    }

    /// Dials `number` through the trunk as the contact's third party; the customer goes on
    /// hold meanwhile.
    pub(super) fn dial_third_party(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        number: &str,
    ) -> Result<(), CommandError> {
        let room = self.room_for_third(id)?;
        let c = self
            .contacts
            .get(&id)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {id}")))?;
        let caller_id = c
            .record
            .queue
            .as_ref()
            .and_then(|q| self.config.queues.get(q))
            .and_then(|q| q.outbound_caller_id.clone())
            .or_else(|| c.record.system_endpoint.clone())
            .unwrap_or_else(|| "anonymous".into());
        let (leg, session, local_rtp, fork) = self.invite_via_trunk(now, tx, number, &caller_id)?;
        let (key, invite, peer) = (fork.key, fork.invite, fork.peer);
        if let Err(e) = self.media.add_to_room(room, leg, Role::ThirdParty) {
            tracing::warn!(error = %e, "cannot add the third party to the room");
        }
        self.by_third.insert(key.clone(), id);
        self.by_leg.insert(leg, id);
        tracing::info!(contact = %id, %number, "dialing a third party");
        if let Some(c) = self.contacts.get_mut(&id) {
            let mut third =
                ThirdParty::new(number.to_string(), leg, session, local_rtp, now.unix_ms);
            third.fork = Some(Fork {
                key,
                invite,
                peer,
                done: false,
            });
            c.third = Some(third);
            c.set_customer_held(true, now.unix_ms);
        }
        self.apply_room(id);
        self.save(id, now);
        self.touch(id);
        Ok(())
    }

    /// A response or timeout for a third-party INVITE; false when the key is not one.
    pub(super) fn on_third_party_tx(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        response: Option<&Response>,
    ) -> bool {
        if self.on_consult_tx(now, tx, key, response) {
            return true;
        }
        let Some(id) = self.by_third.get(key).copied() else {
            return false;
        };
        let code = response.map_or(408, |r| r.status_code.code());
        if code < 200 {
            return true;
        }
        let local_sip = self.local_sip;
        let ack_branch = format!("z9hG4bK{}", self.next_token());
        let Some(c) = self.contacts.get_mut(&id) else {
            return true;
        };
        let Some(third) = c
            .third
            .as_mut()
            .filter(|t| t.fork.as_ref().is_some_and(|f| &f.key == key))
        else {
            return true;
        };
        let Some(fork) = third.fork.as_mut() else {
            return true;
        };
        fork.done = true;
        let (invite, fork_peer) = (fork.invite.clone(), fork.peer);
        let by_flow = third.by_flow;
        if code >= 300 {
            tracing::info!(contact = %id, number = %third.number, code, "third party did not answer");
            if c.refer_pending {
                c.refer_pending = false;
                let line = format!("SIP/2.0 {code} {}", reason_phrase(code));
                self.notify_refer(now, tx, id, &line, true);
            }
            let Some(c) = self.contacts.get_mut(&id) else {
                return true;
            };
            if let Some(t) = c.third.take() {
                let _ = self.media.remove_leg(t.leg);
                self.by_leg.remove(&t.leg);
            }
            self.by_third.remove(key);
            if by_flow {
                self.flow_dial_failed(now, tx, id);
            } else {
                self.after_third_party_gone(now, tx, id);
            }
            return true;
        }
        let Some(resp) = response else { return true };
        if third.dialog.is_some() {
            return true; // a retransmitted 2xx; the transaction layer ACKs it
        }
        let Some(dialog) = ack_2xx(tx, local_sip, &ack_branch, &invite, resp, fork_peer) else {
            return true;
        };
        apply_answer(
            &self.media,
            &mut third.session,
            third.leg,
            resp,
            "third party",
        );
        self.by_call_id.insert(dialog.call_id.clone(), id);
        let dialog_key = super::refresh::DialogKey::of(&dialog);
        third.dialog = Some(dialog);
        third.since_unix_ms = now.unix_ms;
        tracing::info!(contact = %id, number = %third.number, "third party connected");
        if c.agent.is_none() {
            // The agent already left (Leave, or a blind transfer): the customer stops waiting.
            c.set_customer_held(false, now.unix_ms);
        }
        let offer = String::from_utf8_lossy(&invite.body).into_owned();
        // A session timer the third party asked for in its 2xx (RFC 4028).
        self.session_refreshed(
            now,
            &dialog_key,
            resp,
            super::session_timer::from_2xx(resp),
            Some(&offer),
        );
        let Some(c) = self.contacts.get_mut(&id) else {
            return true;
        };
        if c.refer_pending {
            c.refer_pending = false;
            self.notify_refer(now, tx, id, "SIP/2.0 200 OK", true);
            // A blind transfer completes: the agent's phone is hung up.
            let _ = self.leave(now, tx, id, true);
            return true;
        }
        self.apply_room(id);
        self.touch(id);
        if by_flow {
            self.flow_dial_answered(now, tx, id);
        }
        true
    }

    /// Hangs up the third party (BYE, or CANCEL while it rings).
    pub(super) fn hang_up_third_party(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        self.drop_third(now, tx, id, true);
    }

    /// Forgets the third party: with `hang_up`, our BYE (or CANCEL while it rings); without,
    /// it hung up itself.
    pub(super) fn drop_third(&mut self, now: Now, tx: &mut Transactions, id: Uuid, hang_up: bool) {
        let local_sip = self.local_sip.to_string();
        let branch = format!("z9hG4bK{}", self.next_token());
        let Some(t) = self.contacts.get_mut(&id).and_then(|c| c.third.take()) else {
            return;
        };
        let connected = t.dialog.is_some();
        match t.dialog {
            Some(mut d) => {
                if hang_up {
                    let bye = d.request(Method::Bye, &local_sip, &branch, None, &[], None);
                    let _ = tx.send_request(now.mono, bye, d.peer);
                }
                self.by_call_id.remove(&d.call_id);
            }
            None => {
                if let Some(f) = &t.fork
                    && let Some(cancel) = cancel_for(&f.invite)
                {
                    let _ = tx.send_request(now.mono, cancel, f.peer);
                }
            }
        }
        if let Some(f) = &t.fork {
            self.by_third.remove(&f.key);
        }
        let _ = self.media.remove_leg(t.leg);
        self.by_leg.remove(&t.leg);
        if let Some(r) = t.routed {
            self.release_routed(now, tx, id, *r, connected);
        }
    }

    /// The third party is gone (hung up, never answered, or ended by the agent): without the
    /// agent the contact is over; with them, the customer stays as they were.
    pub(super) fn after_third_party_gone(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        let agent_on = self
            .contacts
            .get(&id)
            .is_some_and(|c| c.agent.as_ref().is_some_and(|a| a.dialog.is_some()));
        if agent_on {
            self.apply_room(id);
            self.save(id, now);
            self.touch(id);
        } else {
            self.end(now, tx, id, DisconnectReason::ThirdParty);
        }
    }

    /// Sets the room's "who hears whom" from the contact's state, and music on hold for the
    /// held parties (see the module docs).
    pub(super) fn apply_room(&mut self, id: Uuid) {
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let Some(room) = c.room() else {
            return;
        };
        if c.agent.as_ref().is_some_and(|a| a.whisper.is_some()) {
            // Nobody hears anybody until the whisper has played (the bridge comes then).
            return;
        }
        let agent = c
            .agent
            .as_ref()
            .filter(|a| a.dialog.is_some())
            .map(|a| a.leg);
        let mut talking = Vec::new();
        if !c.customer_held {
            talking.push(c.leg);
        }
        if let Some(t) = c.third.as_ref().filter(|t| t.dialog.is_some() && !t.held) {
            talking.push(t.leg);
        }
        talking.extend(agent);
        let mut pairs = Vec::new();
        for &l in &talking {
            for &t in &talking {
                if l != t {
                    pairs.push((l, t));
                }
            }
        }
        pairs.extend(Self::monitor_pairs(c, &talking, agent));
        if let Err(e) = self.media.set_matrix(room, &pairs) {
            tracing::warn!(contact = %id, error = %e, "cannot set who hears whom");
        }
        let moh = self.config.media.music_on_hold.clone();
        let customer_should = c.customer_held;
        if customer_should != c.customer_moh {
            c.customer_moh = customer_should;
            music(&self.media, c.leg, customer_should, moh.as_deref());
        }
        if let Some(t) = c.third.as_mut().filter(|t| t.dialog.is_some())
            && t.held != t.moh
        {
            t.moh = t.held;
            music(&self.media, t.leg, t.held, moh.as_deref());
        }
    }

    /// The agent drops out; the customer and the third party stay connected (the customer
    /// keeps hearing music until a third party still being dialed answers). The contact goes
    /// on under a new id (a transfer), linked both ways with the agent's. `send_bye` is false
    /// when the agent's phone hung up itself.
    pub(super) fn leave(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        send_bye: bool,
    ) -> Result<Uuid, CommandError> {
        let c = self
            .contacts
            .get_mut(&id)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {id}")))?;
        let Some(third_connected) = c.third.as_ref().map(|t| t.dialog.is_some()) else {
            return Err(CommandError::Conflict(
                "there is no third party to leave the customer with: use End instead".into(),
            ));
        };
        if c.agent.as_ref().is_none_or(|a| a.dialog.is_none()) {
            return Err(CommandError::Conflict(
                "you are not connected to this contact".into(),
            ));
        }
        if c.third.as_ref().is_some_and(|t| t.routed.is_some()) {
            return self.leave_consult(now, tx, id, send_bye);
        }
        self.hang_up_monitors(now, tx, id);
        let Some(c) = self.contacts.get_mut(&id) else {
            return Err(CommandError::NotFound(format!("no contact {id}")));
        };
        let Some(mut agent) = c.agent.take() else {
            return Err(CommandError::Conflict(
                "you are not connected to this contact".into(),
            ));
        };
        // The room outlives the agent: the others talk in it.
        c.room = agent.room.take().or(c.room);
        c.set_customer_held(!third_connected, now.unix_ms);
        if let Some(t) = c.third.as_mut() {
            t.held = false;
        }
        self.hang_up_agent(now, tx, agent, id, send_bye);
        let next =
            self.transfer_record(now, id, InitiationMethod::Transfer, DisconnectReason::Agent);
        if let Some(c) = self.contacts.get_mut(&next) {
            c.record.agent_username = None;
            if let Some(t) = &c.third {
                c.record.system_endpoint = Some(t.number.clone());
            }
        }
        self.apply_room(next);
        self.save(next, now);
        tracing::info!(contact = %id, next = %next, "agent left; customer and third party stay");
        Ok(next)
    }

    /// Closes `id`'s record as handed over (by the agent, or by the flow: `by`) and continues
    /// the contact under a new id whose record links back to it. Returns the new id.
    pub(super) fn transfer_record(
        &mut self,
        now: Now,
        id: Uuid,
        how: InitiationMethod,
        by: DisconnectReason,
    ) -> Uuid {
        self.transfer_record_to(now, id, Uuid::new_v4(), how, by)
    }

    /// As [`Calls::transfer_record`], continuing under `next`.
    pub(super) fn transfer_record_to(
        &mut self,
        now: Now,
        id: Uuid,
        next: Uuid,
        how: InitiationMethod,
        by: DisconnectReason,
    ) -> Uuid {
        let Some(mut c) = self.contacts.remove(&id) else {
            return next;
        };
        c.end_hold(now.unix_ms);
        let mut old = c.record.clone();
        old.next_contact_id = Some(next);
        old.disconnect_unix_ms = Some(now.unix_ms);
        old.disconnect_reason = Some(by);
        old.updated_at_unix_ms = now.unix_ms;
        self.day.contact_closed(now.unix_ms, &old);
        self.refresh_recording_copy(&old);
        self.records_out.push(old.clone());
        if let Some(acw) = self.in_acw.get_mut(&id) {
            *acw = old.clone();
        } else if old.agent_username.is_some() {
            self.in_acw.insert(id, old.clone());
        }
        let mut record = ContactRecord::new(next, how, now.unix_ms);
        record.initial_contact_id = Some(old.initial_contact_id.unwrap_or(id));
        record.previous_contact_id = Some(id);
        record.customer_endpoint = old.customer_endpoint.clone();
        record.system_endpoint = old.system_endpoint.clone();
        record.attributes = old.attributes.clone();
        record.recording_path = old.recording_path.clone();
        record.updated_at_unix_ms = now.unix_ms;
        c.record = record;
        c.hold_since = None;
        for v in self.by_call_id.values_mut().filter(|v| **v == id) {
            *v = next;
        }
        for v in self.by_leg.values_mut().filter(|v| **v == id) {
            *v = next;
        }
        for v in self.by_third.values_mut().filter(|v| **v == id) {
            *v = next;
        }
        for v in self.by_fork.values_mut().filter(|v| **v == id) {
            *v = next;
        }
        self.contacts.insert(next, c);
        next
    }
}

/// The standard phrase for the few codes a transfer ends with, for NOTIFY bodies.
fn reason_phrase(code: u16) -> &'static str {
    match code {
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        487 => "Request Terminated",
        603 => "Decline",
        _ => "Failed",
    }
}

fn music(
    media: &switchboard_media::engine::MediaEngine,
    leg: LegId,
    on: bool,
    moh: Option<&std::path::Path>,
) {
    let result = match (on, moh) {
        (true, Some(path)) => media.play(leg, path, true, false),
        (true, None) => Ok(()),
        (false, _) => media.stop_play(leg),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot change music on hold");
    }
}

impl Calls {
    /// A blind handover to a queue or agent quick connect (Leave before the transfer was
    /// answered): the agent goes to after-contact work; the customer runs the quick connect's
    /// transfer flow (which queues them, or offers them to the agent) under a new contact id
    /// linked to the agent's. Returns the new id.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn transfer_to_flow(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        flow: &str,
        queue: Option<String>,
        target_agent: Option<String>,
        send_bye: bool,
    ) -> Result<Uuid, CommandError> {
        if let Some(target) = &target_agent {
            self.check_routable(target)?;
        }
        let flow =
            self.config.flows.get(flow).cloned().ok_or_else(|| {
                CommandError::Unavailable(format!("the flow `{flow}` is not loaded"))
            })?;
        let c = self
            .contacts
            .get_mut(&id)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {id}")))?;
        if c.third.is_some() {
            return Err(CommandError::Conflict(
                "a third party is on this contact: end it first".into(),
            ));
        }
        if c.agent.as_ref().is_none_or(|a| a.dialog.is_none()) {
            return Err(CommandError::Conflict(
                "you are not connected to this contact".into(),
            ));
        }
        self.hang_up_monitors(now, tx, id);
        let Some(c) = self.contacts.get_mut(&id) else {
            return Err(CommandError::NotFound(format!("no contact {id}")));
        };
        let Some(mut agent) = c.agent.take() else {
            return Err(CommandError::Conflict(
                "you are not connected to this contact".into(),
            ));
        };
        let room = agent.room.take();
        c.set_customer_held(false, now.unix_ms);
        c.customer_moh = false;
        let customer_leg = c.leg;
        self.hang_up_agent(now, tx, agent, id, send_bye);
        if let Some(room) = room {
            let _ = self.media.destroy_room(room);
        }
        let _ = self.media.stop_play(customer_leg);
        let how = if target_agent.is_some() {
            InitiationMethod::Transfer
        } else {
            InitiationMethod::QueueTransfer
        };
        let next = self.transfer_record(now, id, how, DisconnectReason::Agent);
        let Some(c) = self.contacts.get_mut(&next) else {
            return Ok(next);
        };
        c.playing = false;
        c.queued = None;
        c.record.flow_name = Some(flow.name.clone());
        let mut run = crate::flow::FlowRun::new(flow, c.record.attributes.clone());
        if let Some(q) = queue {
            run = run.with_working_queue(q);
        }
        if let Some(a) = target_agent {
            run = run.with_agent(a);
        }
        let mut env = flow_env!(self, now, next);
        run.start(now.mono, &mut env);
        c.flow = Some(run);
        tracing::info!(contact = %id, next = %next, "transferred through a quick connect flow");
        self.save(next, now);
        self.run_actions(now, tx, next);
        Ok(next)
    }
}

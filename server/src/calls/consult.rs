//! Queue and agent quick connects with the agent on the line, as in the Contact Control
//! Panel: the customer waits on hold with music while the quick connect's transfer flow runs
//! for the agent, who hears its prompts and then music while the transfer waits in the queue
//! (or rings the agent the quick connect names). The transfer waits under the id the contact
//! will continue under ([`Routed::next`]): the router, the other agent's state and panel know
//! it by that id.
//!
//! When the other agent's phone answers, they are the contact's third party: Join, Swap, Hold
//! all and ending either connection work as for a dialed number. Leave hands the customer to
//! them: the contact continues under `next` with them as its agent. Leaving before anyone
//! answered hands the customer to the transfer flow instead (a blind transfer,
//! [`Calls::transfer_to_flow`]). A transfer flow that disconnects, or ends without queueing,
//! ends the third-party connection; the agent is back with the customer, who stays on hold.

use switchboard_media::engine::LegParams;
use switchboard_media::room::Role;
use switchboard_media::sdp::{Direction, SdpSession};
use uuid::Uuid;

use super::agent::{Fork, Reoffer, cancel_for};
use super::third::ThirdParty;
use super::uac::{ack_2xx, apply_answer, cancel_ringing};
use super::{CODECS, Calls};
use crate::agents::MissReason;
use crate::control::CommandError;
use crate::endpoint::Now;
use crate::flow::{FlowAction, FlowInput, FlowRun, TransferResult};
use crate::registrar::Registrar;
use crate::sip::message::{Method, Response};
use crate::sip::transaction::{TransactionKey, Transactions};

/// A transfer to a queue or an agent that the agent waits on.
#[derive(Debug)]
pub(super) struct Routed {
    /// The id the contact continues under after Leave.
    pub next: Uuid,
    /// The quick connect's transfer flow, its queue and its agent (for a Leave before anyone
    /// answered, which hands the customer to the flow).
    pub flow: String,
    pub queue: Option<String>,
    pub target_agent: Option<String>,
    /// The transfer flow, until the transfer waits in a queue or reaches an agent.
    pub run: Option<FlowRun>,
    /// The queue the flow put the transfer in, and when.
    pub queued: Option<(String, i64)>,
    /// A transfer_to_agent block asked for this agent: offered on the next routing pass.
    pub direct_wanted: Option<String>,
    /// The agent whose phone rings or answered.
    pub agent: Option<String>,
    /// When a direct offer (not the router's) rings out (unix ms).
    pub direct_deadline: Option<i64>,
    /// Our INVITEs to that agent's phone.
    pub forks: Vec<Fork>,
    /// Accept in that agent's panel: the phone is called again with auto-answer once the
    /// ringing branches have ended.
    pub reoffer: Option<Reoffer>,
}

impl Calls {
    /// A queue or agent quick connect on `id`: the customer goes on hold and the transfer flow
    /// starts for the agent.
    pub(super) fn consult_flow(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        flow_name: &str,
        queue: Option<String>,
        target_agent: Option<String>,
    ) -> Result<(), CommandError> {
        if let Some(target) = &target_agent {
            self.check_routable(target)?;
        }
        let flow = self.config.flows.get(flow_name).cloned().ok_or_else(|| {
            CommandError::Unavailable(format!("the flow `{flow_name}` is not loaded"))
        })?;
        let room = self.room_for_third(id)?;
        let attributes = self
            .contacts
            .get(&id)
            .map(|c| c.record.attributes.clone())
            .unwrap_or_default();
        let label = match (&target_agent, &queue) {
            (Some(a), _) => self
                .config
                .users
                .get(a)
                .map_or_else(|| a.clone(), |u| u.display_name.clone()),
            (None, Some(q)) => q.clone(),
            (None, None) => flow_name.to_string(),
        };
        let (leg, local_rtp) = self
            .media
            .create_leg(LegParams::pcmu())
            .map_err(|e| CommandError::Unavailable(format!("no media capacity: {e}")))?;
        if let Err(e) = self.media.add_to_room(room, leg, Role::ThirdParty) {
            tracing::warn!(error = %e, "cannot add the transfer's leg to the room");
        }
        let session = SdpSession::new(self.counter, local_rtp.ip());
        let next = Uuid::new_v4();
        let mut run = FlowRun::new(flow, attributes);
        if let Some(q) = &queue {
            run = run.with_working_queue(q.clone());
        }
        if let Some(a) = &target_agent {
            run = run.with_agent(a.clone());
        }
        let mut env = flow_env!(self, now, next);
        run.start(now.mono, &mut env);
        self.by_leg.insert(leg, id);
        self.routed.insert(next, id);
        let Some(c) = self.contacts.get_mut(&id) else {
            return Err(CommandError::NotFound(format!("no contact {id}")));
        };
        let mut third = ThirdParty::new(label, leg, session, local_rtp, now.unix_ms);
        third.routed = Some(Box::new(Routed {
            next,
            flow: flow_name.to_string(),
            queue,
            target_agent,
            run: Some(run),
            queued: None,
            direct_wanted: None,
            agent: None,
            direct_deadline: None,
            forks: Vec::new(),
            reoffer: None,
        }));
        c.third = Some(third);
        c.set_customer_held(true, now.unix_ms);
        tracing::info!(contact = %id, %next, flow = %flow_name, "transfer with the agent on the line");
        self.apply_room(id);
        self.save(id, now);
        self.touch(id);
        self.run_consult(now, tx, id);
        Ok(())
    }

    /// `username` can be offered a contact now (409 or 404 otherwise).
    pub(super) fn check_routable(&self, username: &str) -> Result<(), CommandError> {
        match self.agents.get(username) {
            Some(a) if a.is_routable() => Ok(()),
            Some(a) => Err(CommandError::Conflict(format!(
                "{username} is not available ({})",
                a.state()
            ))),
            None => Err(CommandError::NotFound(format!("no agent `{username}`"))),
        }
    }

    fn routed_mut(&mut self, id: Uuid) -> Option<&mut Routed> {
        routed_in(&mut self.contacts, id)
    }

    pub(super) fn routed_of(&self, id: Uuid) -> Option<&Routed> {
        self.contacts.get(&id)?.third.as_ref()?.routed.as_deref()
    }

    /// Carries out what the transfer flow asked for; its prompts play to the agent.
    fn run_consult(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        loop {
            let Some(agent_leg) = self
                .contacts
                .get(&id)
                .and_then(|c| c.agent.as_ref())
                .map(|a| a.leg)
            else {
                return;
            };
            let moh = self.config.media.music_on_hold.clone();
            let Some(r) = routed_in(&mut self.contacts, id) else {
                return;
            };
            let next = r.next;
            let Some(run) = r.run.as_mut() else {
                return;
            };
            let Some(action) = run.poll_action() else {
                if !run.is_finished() {
                    return;
                }
                r.run = None;
                if r.queued.is_none() && r.agent.is_none() && r.direct_wanted.is_none() {
                    tracing::info!(contact = %id, "the transfer flow ended without a queue or an agent");
                    self.end_consult(now, tx, id);
                } else if r.agent.is_none()
                    && let Some(path) = moh
                {
                    // Waiting in the queue: the agent hears music until someone answers.
                    let _ = self.media.play(agent_leg, &path, true, false);
                }
                return;
            };
            let mut feed = None;
            match action {
                FlowAction::Play { prompt, .. } => {
                    if let Err(e) = self.media.play(agent_leg, &prompt.path, false, false) {
                        tracing::warn!(contact = %id, prompt = %prompt.name, error = %e, "transfer prompt failed");
                        feed = Some(FlowInput::PromptFailed);
                    }
                }
                FlowAction::StopPlayback => {
                    let _ = self.media.stop_play(agent_leg);
                }
                FlowAction::EnqueueTo { queue } => {
                    let result = match self.router.enqueue(now.unix_ms, next, &queue) {
                        Ok(_) => {
                            tracing::info!(contact = %id, %next, %queue, "transfer queued");
                            r.queued = Some((queue, now.unix_ms));
                            TransferResult::Ok
                        }
                        Err(crate::routing::EnqueueError::AtCapacity { .. }) => {
                            TransferResult::AtCapacity
                        }
                        Err(_) => TransferResult::Error,
                    };
                    feed = Some(FlowInput::Transfer(result));
                }
                // Offered on the next routing pass (it has the registrations).
                FlowAction::TransferToAgent { agent } => r.direct_wanted = Some(agent),
                FlowAction::TransferToNumber { .. } => {
                    feed = Some(FlowInput::Transfer(TransferResult::Error));
                }
                FlowAction::Disconnect { .. } => {
                    self.end_consult(now, tx, id);
                    return;
                }
                // The recording, whisper and queue flow choices belong to the customer's
                // contact; a transfer flow run for the agent leaves them as they are.
                _ => {}
            }
            if let Some(input) = feed {
                self.feed_consult(now, id, input);
            }
        }
    }

    fn feed_consult(&mut self, now: Now, id: Uuid, input: FlowInput) {
        let Some(r) = self
            .contacts
            .get_mut(&id)
            .and_then(|c| c.third.as_mut())
            .and_then(|t| t.routed.as_deref_mut())
        else {
            return;
        };
        let next = r.next;
        let Some(run) = r.run.as_mut() else {
            return;
        };
        let mut env = flow_env!(self, now, next);
        run.handle(now.mono, input, &mut env);
    }

    /// A prompt to the agent's leg ended: the transfer flow goes on, if one runs.
    pub(super) fn on_consult_input(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        input: FlowInput,
    ) -> bool {
        if self.routed_of(id).is_none_or(|r| r.run.is_none()) {
            return false;
        }
        self.feed_consult(now, id, input);
        self.run_consult(now, tx, id);
        true
    }

    /// The transfer flows' next timer.
    pub(super) fn consults_timeout(&self) -> Option<std::time::Instant> {
        self.contacts
            .values()
            .filter_map(|c| {
                c.third
                    .as_ref()?
                    .routed
                    .as_ref()?
                    .run
                    .as_ref()?
                    .poll_timeout()
            })
            .min()
    }

    pub(super) fn handle_consult_timeouts(&mut self, now: Now, tx: &mut Transactions) {
        let due: Vec<Uuid> = self
            .contacts
            .iter()
            .filter(|(_, c)| {
                c.third
                    .as_ref()
                    .and_then(|t| t.routed.as_ref()?.run.as_ref()?.poll_timeout())
                    .is_some_and(|t| t <= now.mono)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(r) = routed_in(&mut self.contacts, id) {
                let next = r.next;
                if let Some(run) = r.run.as_mut() {
                    let mut env = flow_env!(self, now, next);
                    run.handle_timeout(now.mono, &mut env);
                }
            }
            self.run_consult(now, tx, id);
        }
    }

    /// The routing pass's part: transfer_to_agent offers asked for by transfer flows, and
    /// direct offers that rang out.
    pub(super) fn consult_direct_offers(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        registrar: &Registrar,
    ) {
        let ring = i64::try_from(self.config.routing.ring_timeout.as_millis()).unwrap_or(i64::MAX);
        let wanted: Vec<(Uuid, Uuid, String)> = self
            .contacts
            .iter()
            .filter_map(|(id, c)| {
                let r = c.third.as_ref()?.routed.as_ref()?;
                Some((*id, r.next, r.direct_wanted.clone()?))
            })
            .collect();
        for (id, next, username) in wanted {
            if let Some(r) = self.routed_mut(id) {
                r.direct_wanted = None;
            }
            let offered = self.agents.get(&username).is_some_and(|a| a.is_routable())
                && self.agents.offer(now.unix_ms, &username, next).is_ok();
            if offered {
                let deadline = now.unix_ms.saturating_add(ring);
                self.offer_consult(now, tx, registrar, id, &username, Some(deadline));
            } else {
                tracing::info!(contact = %id, agent = %username, "transfer to agent: the agent is not available");
                self.feed_consult(now, id, FlowInput::Transfer(TransferResult::Error));
                self.run_consult(now, tx, id);
            }
        }
        let rung_out: Vec<Uuid> = self
            .contacts
            .iter()
            .filter_map(|(id, c)| {
                let t = c.third.as_ref()?;
                let r = t.routed.as_ref()?;
                (t.dialog.is_none() && r.direct_deadline.is_some_and(|d| d <= now.unix_ms))
                    .then_some(*id)
            })
            .collect();
        for id in rung_out {
            self.consult_offer_failed(now, tx, id, MissReason::RingTimeout);
        }
    }

    /// The router (or a transfer_to_agent flow) offers the transfer waiting as `next` to
    /// `username`: their phone rings with the customer as the caller.
    pub(super) fn offer_consult(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        registrar: &Registrar,
        id: Uuid,
        username: &str,
        direct_deadline: Option<i64>,
    ) {
        let user = self.config.users.get(username).cloned();
        let targets = user
            .as_ref()
            .map(|u| self.phone_targets(registrar, u))
            .unwrap_or_default();
        let offer = self
            .contacts
            .get_mut(&id)
            .and_then(|c| c.third.as_mut())
            .map(|t| {
                t.session
                    .offer(t.local_rtp.port(), &CODECS, Direction::SendRecv)
            });
        let forks = match (user, offer) {
            (Some(u), Some(offer)) if !targets.is_empty() => {
                self.ring(now, tx, id, &u, targets, &offer, u.auto_accept, None)
            }
            _ => Vec::new(),
        };
        for f in &forks {
            self.by_fork.remove(&f.key);
            self.by_third.insert(f.key.clone(), id);
        }
        let Some(r) = self.routed_mut(id) else {
            return;
        };
        r.agent = Some(username.to_string());
        r.direct_deadline = direct_deadline;
        if forks.is_empty() {
            self.consult_offer_failed(now, tx, id, MissReason::Failed);
            return;
        }
        tracing::info!(contact = %id, agent = %username, branches = forks.len(), "offering the transfer to an agent");
        r.forks = forks;
        self.panel_dirty.insert(username.to_string());
        self.touch(id);
    }

    /// CANCELs the branches still ringing for the transfer's offer and forgets the offer.
    pub(super) fn cancel_consult_offer(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        let Some(r) = self.routed_mut(id) else {
            return;
        };
        let forks = std::mem::take(&mut r.forks);
        r.reoffer = None;
        r.direct_deadline = None;
        if let Some(a) = r.agent.take() {
            self.panel_dirty.insert(a);
        }
        for f in &forks {
            if !f.done
                && let Some(cancel) = cancel_for(&f.invite)
            {
                let _ = tx.send_request(now.mono, cancel, f.peer);
            }
            self.by_third.remove(&f.key);
        }
        self.touch(id);
    }

    /// The agent offered the transfer did not take it: they are Missed. A queued transfer
    /// waits for the next agent; a transfer flow's transfer_to_agent takes its error branch.
    pub(super) fn consult_offer_failed(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        reason: MissReason,
    ) {
        let Some(r) = self.routed_of(id) else {
            return;
        };
        let (next, agent, direct) = (r.next, r.agent.clone(), r.direct_deadline.is_some());
        self.cancel_consult_offer(now, tx, id);
        let Some(agent) = agent else {
            return;
        };
        tracing::info!(contact = %id, %agent, ?reason, "the transfer was not taken");
        if direct {
            let _ = self.agents.offer_missed(now.unix_ms, &agent, next, reason);
            self.feed_consult(now, id, FlowInput::Transfer(TransferResult::Error));
            self.run_consult(now, tx, id);
        } else {
            let _ = self
                .router
                .offer_missed(now.unix_ms, &mut self.agents, next, reason);
        }
        self.log_agent_events();
    }

    /// Accept in the panel of the agent the transfer rings: as for a contact
    /// ([`Calls::reoffer`]), the ringing branches are CANCELled and the phone is called again
    /// with auto-answer.
    pub(super) fn accept_consult(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        registrar: &Registrar,
        user: &crate::config::User,
        id: Uuid,
    ) -> Result<(), CommandError> {
        let targets = self.phone_targets(registrar, user);
        if targets.is_empty() {
            return Err(CommandError::Unavailable(
                "your phone cannot be reached: is it registered?".into(),
            ));
        }
        let Some(t) = self.contacts.get_mut(&id).and_then(|c| c.third.as_mut()) else {
            return Err(CommandError::Conflict(
                "the transfer is no longer ringing".into(),
            ));
        };
        let sdp_offer = t
            .session
            .offer(t.local_rtp.port(), &CODECS, Direction::SendRecv);
        let Some(r) = t.routed.as_deref_mut() else {
            return Err(CommandError::Conflict(
                "the transfer is no longer ringing".into(),
            ));
        };
        if r.reoffer.is_some() {
            return Ok(());
        }
        let mut ringing = false;
        for f in r.forks.iter().filter(|f| !f.done) {
            ringing = true;
            if let Some(cancel) = cancel_for(&f.invite) {
                let _ = tx.send_request(now.mono, cancel, f.peer);
            }
        }
        r.reoffer = r.forks.first().map(|f| Reoffer {
            again: f.invite.clone(),
            targets,
            sdp_offer,
        });
        tracing::info!(contact = %id, agent = %user.username, "transfer accepted in the panel");
        if !ringing {
            self.reoffer_consult(now, tx, id);
        }
        self.touch(id);
        Ok(())
    }

    fn reoffer_consult(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        let Some(r) = self.routed_mut(id) else {
            return;
        };
        let (Some(again), Some(username)) = (r.reoffer.take(), r.agent.clone()) else {
            return;
        };
        let Some(user) = self.config.users.get(&username).cloned() else {
            return;
        };
        let forks = self.ring(
            now,
            tx,
            id,
            &user,
            again.targets,
            &again.sdp_offer,
            true,
            Some(&again.again),
        );
        for f in &forks {
            self.by_fork.remove(&f.key);
            self.by_third.insert(f.key.clone(), id);
        }
        if forks.is_empty() {
            self.consult_offer_failed(now, tx, id, MissReason::Failed);
            return;
        }
        if let Some(r) = self.routed_mut(id) {
            r.forks.extend(forks);
        }
    }

    /// A response or timeout for an INVITE to the phone of the agent the transfer rings; false
    /// when `key` is not one.
    pub(super) fn on_consult_tx(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        response: Option<&Response>,
    ) -> bool {
        let Some(id) = self.by_third.get(key).copied() else {
            return false;
        };
        if !self
            .routed_of(id)
            .is_some_and(|r| r.forks.iter().any(|f| &f.key == key))
        {
            return false;
        }
        let code = response.map_or(408, |r| r.status_code.code());
        if code < 200 {
            return true;
        }
        match response {
            Some(resp) if code < 300 => self.consult_answered(now, tx, id, key, resp),
            _ => {
                let Some(r) = self.routed_mut(id) else {
                    return true;
                };
                if let Some(f) = r.forks.iter_mut().find(|f| &f.key == key) {
                    f.done = true;
                }
                if r.forks.iter().any(|f| !f.done) {
                    return true;
                }
                if r.reoffer.is_some() {
                    self.reoffer_consult(now, tx, id);
                    return true;
                }
                let reason = match code {
                    486 | 600 => MissReason::BusyHere,
                    603 => MissReason::Declined,
                    408 => MissReason::RingTimeout,
                    _ => MissReason::Failed,
                };
                self.consult_offer_failed(now, tx, id, reason);
            }
        }
        true
    }

    fn consult_answered(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        key: &TransactionKey,
        resp: &Response,
    ) {
        let local_sip = self.local_sip;
        let ack_branch = format!("z9hG4bK{}", self.next_token());
        let bye_branch = format!("z9hG4bK{}", self.next_token());
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let agent_leg = c.agent.as_ref().map(|a| a.leg);
        let Some(t) = c.third.as_mut() else {
            return;
        };
        let Some(r) = t.routed.as_deref_mut() else {
            return;
        };
        let Some(fork) = r.forks.iter_mut().find(|f| &f.key == key) else {
            return;
        };
        fork.done = true;
        let (invite, peer) = (fork.invite.clone(), fork.peer);
        let Some(mut dialog) = ack_2xx(tx, local_sip, &ack_branch, &invite, resp, peer) else {
            return;
        };
        if t.dialog.is_some() {
            // Another branch answered first: hang this one up.
            let bye = dialog.request(
                Method::Bye,
                &local_sip.to_string(),
                &bye_branch,
                None,
                &[],
                None,
            );
            let _ = tx.send_request(now.mono, bye, dialog.peer);
            return;
        }
        cancel_ringing(now.mono, tx, &mut r.forks);
        apply_answer(&self.media, &mut t.session, t.leg, resp, "transfer's agent");
        let next = r.next;
        let direct = r.direct_deadline.take().is_some();
        r.run = None;
        let Some(username) = r.agent.clone() else {
            return;
        };
        self.by_call_id.insert(dialog.call_id.clone(), id);
        let dialog_key = super::refresh::DialogKey::of(&dialog);
        t.dialog = Some(dialog);
        t.since_unix_ms = now.unix_ms;
        self.settle_accepted_offer(now, &username, direct, next);
        if let Err(e) = self.agents.contact_connected(now.unix_ms, &username, next) {
            tracing::warn!(error = %e, "agent state out of step");
        }
        if let Some(leg) = agent_leg {
            let _ = self.media.stop_play(leg);
        }
        tracing::info!(contact = %id, %next, agent = %username, "the transfer's agent answered");
        let offer = String::from_utf8_lossy(&invite.body).into_owned();
        self.session_refreshed(
            now,
            &dialog_key,
            resp,
            super::session_timer::from_2xx(resp),
            Some(&offer),
        );
        self.apply_room(id);
        self.save(id, now);
        self.touch(id);
        self.log_agent_events();
    }

    /// The transfer is over without a Leave (the flow disconnected, or found no queue or
    /// agent): the agent is back with the customer, who stays on hold.
    fn end_consult(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        self.hang_up_third_party(now, tx, id);
        self.after_third_party_gone(now, tx, id);
    }

    /// A transfer's third party is gone (hung up, ended, or the contact ended): its queue
    /// place and offers go, the agent who talked with it goes to after-contact work, and the
    /// music to the transferring agent stops.
    pub(super) fn release_routed(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        r: Routed,
        connected: bool,
    ) {
        for f in &r.forks {
            if !connected
                && !f.done
                && let Some(cancel) = cancel_for(&f.invite)
            {
                let _ = tx.send_request(now.mono, cancel, f.peer);
            }
            self.by_third.remove(&f.key);
        }
        self.routed.remove(&r.next);
        // Withdraws a router offer in progress (the agent goes back to their status).
        self.router.dequeue(now.unix_ms, &mut self.agents, r.next);
        if let Some(agent) = &r.agent {
            let result = if connected {
                self.agents.contact_ended(now.unix_ms, agent, r.next)
            } else if r.direct_deadline.is_some() {
                self.agents.offer_withdrawn(now.unix_ms, agent, r.next)
            } else {
                Ok(())
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "agent state out of step at the transfer's end");
            }
            self.panel_dirty.insert(agent.clone());
        }
        if let Some(leg) = self
            .contacts
            .get(&id)
            .and_then(|c| c.agent.as_ref())
            .map(|a| a.leg)
        {
            let _ = self.media.stop_play(leg);
        }
        self.log_agent_events();
    }

    /// Leave on a transfer to a queue or an agent. Answered: the agent who answered becomes
    /// the contact's agent, and the contact continues under the transfer's id. Not answered
    /// yet: the customer goes to the transfer flow (a blind transfer). Returns the new id.
    pub(super) fn leave_consult(
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
        let Some(t) = c.third.as_ref() else {
            return Err(CommandError::Conflict("no transfer on this contact".into()));
        };
        let Some(r) = t.routed.as_deref() else {
            return Err(CommandError::Conflict("no transfer on this contact".into()));
        };
        if t.dialog.is_none() {
            let (flow, queue, target) = (r.flow.clone(), r.queue.clone(), r.target_agent.clone());
            self.hang_up_third_party(now, tx, id);
            return self.transfer_to_flow(now, tx, id, &flow, queue, target, send_bye);
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
        c.room = agent.room.take().or(c.room);
        let Some(next) = c
            .third
            .as_ref()
            .and_then(|t| t.routed.as_ref())
            .map(|r| r.next)
        else {
            return Err(CommandError::Conflict("no transfer on this contact".into()));
        };
        self.hang_up_agent(now, tx, agent, id, send_bye);
        let how = match self.routed_of(id).and_then(|r| r.queued.as_ref()) {
            Some(_) => crate::store::InitiationMethod::QueueTransfer,
            None => crate::store::InitiationMethod::Transfer,
        };
        let next =
            self.transfer_record_to(now, id, next, how, crate::store::DisconnectReason::Agent);
        self.routed.remove(&next);
        let Some(c) = self.contacts.get_mut(&next) else {
            return Ok(next);
        };
        let Some(t) = c.third.take() else {
            return Ok(next);
        };
        let Some(r) = t.routed else {
            return Ok(next);
        };
        let Some(username) = r.agent else {
            return Ok(next);
        };
        if t.moh {
            let _ = self.media.stop_play(t.leg);
        }
        c.set_customer_held(false, now.unix_ms);
        c.record.agent_username = Some(username.clone());
        c.record.agent_connected_unix_ms = Some(t.since_unix_ms);
        if let Some((queue, at)) = r.queued {
            c.record.queue = Some(queue);
            c.record.enqueue_unix_ms = Some(at);
        }
        c.agent = Some(super::agent::AgentLeg {
            username: username.clone(),
            leg: t.leg,
            session: t.session,
            local_rtp: t.local_rtp,
            forks: Vec::new(),
            dialog: t.dialog,
            room: c.room.take(),
            accepted: true,
            reoffer: None,
            direct_deadline: None,
            whisper: None,
        });
        tracing::info!(contact = %id, %next, agent = %username, "agent left; the transfer's agent has the customer");
        self.apply_room(next);
        self.save(next, now);
        self.touch(next);
        self.panel_dirty.insert(username);
        Ok(next)
    }
}

fn routed_in(
    contacts: &mut std::collections::HashMap<Uuid, super::Contact>,
    id: Uuid,
) -> Option<&mut Routed> {
    contacts.get_mut(&id)?.third.as_mut()?.routed.as_deref_mut()
}

//! Calls (the B2BUA), first slice: an inbound call to a configured number from an allowed
//! trunk source becomes a contact whose customer leg is anchored in the media engine, and
//! whose inbound flow runs against it: prompts, DTMF (RFC 4733 from the media engine, or
//! SIP INFO), hours, queue transfer. A queued customer hears music on hold. BYE from either
//! side ends the contact; a flow's Disconnect sends our BYE.
//!
//! Queued contacts are offered to agents ([`agent`]): the agent's registered phones ring,
//! the first answer is bridged to the customer in a mix room, and either side's BYE ends
//! both legs and puts the agent in after-contact work.
//!
//! Not built yet (tracked in the contacts issue): desk-phone agents through the trunk,
//! transfers, hold by re-INVITE, the customer queue and whisper flows, session timers, and
//! contact records. Those land on this same shape: per-contact state,
//! driven by SIP transactions, media events and timers, with `now` passed in.

mod agent;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_media::codec::Codec;
use switchboard_media::engine::{LegId, LegParams, MediaEngine, MediaEvent, PlaybackEnd, RoomId};
use switchboard_media::sdp::{self, Direction, SdpSession};
use uuid::Uuid;

use crate::agents::Agents;
use crate::config::Config;
use crate::endpoint::Now;
use crate::flow::{
    FlowAction, FlowEnv, FlowInput, FlowRun, QueueStatus, Recording, Staffing, TransferResult,
};
use crate::routing::Router;
use crate::sip::dialog::Dialog;
use crate::sip::message::{self, Method, Request};
use crate::sip::transaction::{Peer, TransactionKey, Transactions};
use crate::store::{AgentEventRow, ContactRecord, DisconnectReason, InitiationMethod};

/// Codecs we accept from customers, in our order of preference.
const CODECS: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::Opus];

/// One customer call.
#[derive(Debug)]
struct Contact {
    dialog: Dialog,
    leg: LegId,
    flow: Option<FlowRun>,
    /// The flow asked for digits: DTMF goes to it.
    collecting: bool,
    queued: Option<String>,
    agent: Option<agent::AgentLeg>,
    /// Our SDP for the customer leg (re-offers bump its version) and the leg's local port.
    session: SdpSession,
    local_rtp: SocketAddr,
    /// The flow asked for agent and customer to be recorded (set_recording_behavior).
    record_call: bool,
    /// The customer queue flow chosen by set_customer_queue_flow, started once queued.
    queue_flow: Option<String>,
    /// Something (a prompt or music) is playing to the customer.
    playing: bool,
    /// The contact record, written as the contact progresses.
    record: ContactRecord,
    /// When the current hold began (unix ms), while on hold.
    hold_since: Option<i64>,
}

impl Contact {
    fn end_hold(&mut self, now_ms: i64) {
        if let Some(since) = self.hold_since.take() {
            self.record.hold_duration_ms += (now_ms - since).max(0);
        }
    }
}

/// Which party of a contact sent an in-dialog request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    Customer,
    Agent,
}

/// What a call-layer request wants from the endpoint.
#[derive(Debug)]
pub enum Handled {
    /// The call layer answered (or will answer) it.
    Yes,
    /// Not for the call layer; the endpoint answers as before.
    No,
}

#[derive(Debug)]
pub struct Calls {
    media: Arc<MediaEngine>,
    config: Arc<Config>,
    router: Router,
    agents: Agents,
    contacts: HashMap<Uuid, Contact>,
    by_call_id: HashMap<String, Uuid>,
    by_leg: HashMap<LegId, Uuid>,
    /// Our SIP address as peers reach it (Via sent-by, Contact).
    local_sip: SocketAddr,
    counter: u64,
    /// Flow inputs waiting to be fed (from media events) with the contact they belong to.
    pending: VecDeque<(Uuid, FlowInput)>,
    /// Our INVITE branches to agents, by client transaction.
    by_fork: HashMap<TransactionKey, Uuid>,
    /// Records and agent events waiting for the store writer.
    records_out: Vec<ContactRecord>,
    events_out: Vec<AgentEventRow>,
    /// Ended contacts whose agent is still in after-contact work.
    in_acw: HashMap<Uuid, ContactRecord>,
    /// Rooms being recorded, and the record each recording belongs to.
    recordings: HashMap<RoomId, ContactRecord>,
    /// Users whose registrations changed since the last routing pass.
    registrations_dirty: std::collections::HashSet<String>,
    all_registrations_dirty: bool,
}

impl Calls {
    pub fn new(
        now: Now,
        media: Arc<MediaEngine>,
        config: Arc<Config>,
        local_sip: SocketAddr,
        seed: u64,
    ) -> Calls {
        let mut agents = Agents::from_config(&config);
        for u in config.users.values() {
            if let Some(status) = &u.initial_status
                && let Err(e) = agents.set_status(now.unix_ms, &u.username, status)
            {
                tracing::warn!(user = %u.username, error = %e, "initial status not applied");
            }
        }
        Calls {
            router: Router::from_config(&config),
            agents,
            media,
            config,
            contacts: HashMap::new(),
            by_call_id: HashMap::new(),
            by_leg: HashMap::new(),
            local_sip,
            counter: seed,
            pending: VecDeque::new(),
            by_fork: HashMap::new(),
            records_out: Vec::new(),
            events_out: Vec::new(),
            in_acw: HashMap::new(),
            recordings: HashMap::new(),
            registrations_dirty: std::collections::HashSet::new(),
            all_registrations_dirty: true,
        }
    }

    /// A published config: contacts that start from now on run its flows; contacts already
    /// running keep the flow version they started with (their `FlowRun` holds it). Queues,
    /// routing profiles and agents keep their running state until a restart.
    pub fn set_config(&mut self, config: Arc<Config>) {
        self.config = config;
        self.all_registrations_dirty = true;
    }

    /// `username`'s registrations changed: their reachability is re-read on the next pass.
    pub fn registration_changed(&mut self, username: &str) {
        self.registrations_dirty.insert(username.to_string());
    }

    fn next_token(&mut self) -> String {
        self.counter = self
            .counter
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        format!("{:x}", self.counter >> 8)
    }

    /// A new request that may be ours: INVITE to a number, or BYE/INFO in a contact's dialog.
    pub fn on_request(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
        peer: Peer,
    ) -> Handled {
        match req.method {
            Method::Invite
                if message::header(req, "To")
                    .and_then(message::tag_of)
                    .is_some() =>
            {
                match self.contact_of(req) {
                    Some((id, party)) => self.on_reinvite(now, tx, key, req, id, party),
                    None => {
                        respond(tx, now, key, req, 481, Some("no such call"));
                    }
                }
                Handled::Yes
            }
            Method::Invite => self.on_invite(now, tx, key, req, peer),
            Method::Bye | Method::Info => {
                let Some((id, party)) = self.contact_of(req) else {
                    return Handled::No;
                };
                if req.method == Method::Bye {
                    respond(tx, now, key, req, 200, None);
                    match party {
                        Party::Customer => self.end(now, tx, id, DisconnectReason::Customer),
                        Party::Agent => {
                            if let Some(a) = self.contacts.get_mut(&id).and_then(|c| c.agent.take())
                            {
                                self.hang_up_agent(now, tx, a, id, false);
                            }
                            self.end(now, tx, id, DisconnectReason::Agent);
                        }
                    }
                } else if party == Party::Agent {
                    respond(tx, now, key, req, 200, None);
                } else {
                    respond(tx, now, key, req, 200, None);
                    if let Some(digits) = info_digits(req) {
                        self.pending.push_back((id, FlowInput::Digits(digits)));
                        self.drain(now, tx);
                    }
                }
                Handled::Yes
            }
            _ => Handled::No,
        }
    }

    fn contact_of(&self, req: &Request) -> Option<(Uuid, Party)> {
        let call_id = message::header(req, "Call-ID")?.trim();
        let id = *self.by_call_id.get(call_id)?;
        let c = self.contacts.get(&id)?;
        if c.dialog.matches(req, true) {
            return Some((id, Party::Customer));
        }
        let agent = c.agent.as_ref()?.dialog.as_ref()?;
        agent.matches(req, true).then_some((id, Party::Agent))
    }

    fn on_invite(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
        peer: Peer,
    ) -> Handled {
        let Some(user) = req.uri.auth.as_ref().map(|a| a.user.clone()) else {
            return Handled::No;
        };
        let e164 = if user.starts_with('+') {
            user.clone()
        } else {
            format!("+{user}")
        };
        let Some(number) = self.config.phone_numbers.get(&e164) else {
            return Handled::No;
        };
        if self.config.trunk_for_source(peer.addr.ip()).is_none() {
            respond(
                tx,
                now,
                key,
                req,
                403,
                Some("source is not an inbound trunk"),
            );
            return Handled::Yes;
        }
        let Some(flow) = self.config.flows.get(&number.flow).cloned() else {
            respond(
                tx,
                now,
                key,
                req,
                500,
                Some("the number's flow is not loaded"),
            );
            return Handled::Yes;
        };
        let offer = match std::str::from_utf8(&req.body)
            .map_err(|_| "SDP is not UTF-8".to_string())
            .and_then(|s| sdp::parse(s).map_err(|e| e.to_string()))
        {
            Ok(o) => o,
            Err(why) => {
                respond(tx, now, key, req, 488, Some(&why));
                return Handled::Yes;
            }
        };
        let (leg, local_rtp) = match self.media.create_leg(LegParams::pcmu()) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "no media leg for an inbound call");
                respond(tx, now, key, req, 503, Some("no media capacity"));
                return Handled::Yes;
            }
        };
        let mut session = SdpSession::new(self.counter, local_rtp.ip());
        let answer = match session.answer(&offer, local_rtp.port(), &CODECS) {
            Ok(a) => a,
            Err(e) => {
                let _ = self.media.remove_leg(leg);
                respond(tx, now, key, req, 488, Some(&e.to_string()));
                return Handled::Yes;
            }
        };
        if let Err(e) = self.media.update_leg(leg, (&answer.negotiated).into()) {
            tracing::error!(error = %e, "cannot configure the customer leg");
        }
        let local_tag = self.next_token();
        let local_contact = format!("sip:switchboard@{}", self.local_sip);
        let Some(dialog) = Dialog::uas(req, &local_tag, &local_contact, peer) else {
            let _ = self.media.remove_leg(leg);
            respond(
                tx,
                now,
                key,
                req,
                400,
                Some("INVITE without a usable From tag or Contact"),
            );
            return Handled::Yes;
        };
        let mut ok = message::response(req, 200, Some(&local_tag));
        message::push_header(&mut ok, "Contact", format!("<{local_contact}>"));
        message::push_header(&mut ok, "Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO");
        message::push_header(&mut ok, "Content-Type", "application/sdp");
        ok.body = answer.sdp.into_bytes();
        if let Err(e) = tx.respond(now.mono, key, ok) {
            tracing::warn!(error = %e, "cannot answer the INVITE");
        }
        let id = Uuid::new_v4();
        let _span = tracing::info_span!("contact", %id, call_id = %dialog.call_id).entered();
        tracing::info!(number = %e164, flow = %flow.name, "inbound contact");
        self.by_call_id.insert(dialog.call_id.clone(), id);
        self.by_leg.insert(leg, id);
        let mut record = ContactRecord::new(id, InitiationMethod::Inbound, now.unix_ms);
        record.customer_endpoint = Some(dialog.remote_uri.clone());
        record.system_endpoint = Some(e164.clone());
        record.flow_name = Some(flow.name.clone());
        record.updated_at_unix_ms = now.unix_ms;
        self.records_out.push(record.clone());
        let mut run = FlowRun::new(flow, Default::default());
        let mut env = Env::new(
            &self.config,
            &self.router,
            &self.agents,
            now.unix_ms,
            id,
            &mut self.counter,
        );
        run.start(now.mono, &mut env);
        self.contacts.insert(
            id,
            Contact {
                dialog,
                leg,
                flow: Some(run),
                collecting: false,
                queued: None,
                agent: None,
                session,
                local_rtp,
                record,
                record_call: false,
                queue_flow: None,
                playing: false,
                hold_since: None,
            },
        );
        self.run_actions(now, tx, id);
        Handled::Yes
    }

    /// A re-INVITE in a contact's dialog: hold (sendonly/inactive) or resume (sendrecv) by
    /// one party; the other hears music on hold, or they are bridged again.
    fn on_reinvite(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
        id: Uuid,
        party: Party,
    ) {
        let offer = match std::str::from_utf8(&req.body)
            .map_err(|_| "SDP is not UTF-8".to_string())
            .and_then(|s| sdp::parse(s).map_err(|e| e.to_string()))
        {
            Ok(o) => o,
            Err(why) => {
                respond(tx, now, key, req, 488, Some(&why));
                return;
            }
        };
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let holding = matches!(offer.direction, Direction::SendOnly | Direction::Inactive);
        let customer_leg = c.leg;
        let (answer, this_leg, other_leg, room, local_tag, contact) = match party {
            Party::Customer => {
                let a = c.session.answer(&offer, c.local_rtp.port(), &CODECS);
                let other = c.agent.as_ref().map(|a| a.leg);
                let room = c.agent.as_ref().and_then(|a| a.room);
                (
                    a,
                    customer_leg,
                    other,
                    room,
                    c.dialog.local_tag.clone(),
                    c.dialog.local_contact.clone(),
                )
            }
            Party::Agent => {
                let Some(agent) = c.agent.as_mut() else {
                    return;
                };
                let Some(d) = agent.dialog.as_ref() else {
                    return;
                };
                let a = agent
                    .session
                    .answer(&offer, agent.local_rtp.port(), &CODECS);
                (
                    a,
                    agent.leg,
                    Some(customer_leg),
                    agent.room,
                    d.local_tag.clone(),
                    d.local_contact.clone(),
                )
            }
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                respond(tx, now, key, req, 488, Some(&e.to_string()));
                return;
            }
        };
        if let Err(e) = self.media.update_leg(this_leg, (&answer.negotiated).into()) {
            tracing::warn!(error = %e, "cannot apply the re-INVITE to the leg");
        }
        if let (Some(other), Some(room)) = (other_leg, room) {
            let changed = if holding {
                if c.hold_since.is_none() {
                    c.record.hold_count += 1;
                    c.hold_since = Some(now.unix_ms);
                }
                self.media.hold(room, other, this_leg)
            } else {
                c.end_hold(now.unix_ms);
                self.media.bridge(
                    room,
                    customer_leg,
                    if this_leg == customer_leg {
                        other
                    } else {
                        this_leg
                    },
                )
            };
            if let Err(e) = changed {
                tracing::warn!(error = %e, "cannot change the room for hold/resume");
            }
        }
        tracing::info!(contact = %id, ?party, hold = holding, "re-INVITE");
        self.save(id, now);
        let mut ok = message::response(req, 200, Some(&local_tag));
        message::push_header(&mut ok, "Contact", format!("<{contact}>"));
        message::push_header(&mut ok, "Content-Type", "application/sdp");
        ok.body = answer.sdp.into_bytes();
        if let Err(e) = tx.respond(now.mono, key, ok) {
            tracing::warn!(error = %e, "cannot answer the re-INVITE");
        }
    }

    /// A media event for one of our legs.
    pub fn on_media_event(&mut self, now: Now, tx: &mut Transactions, event: MediaEvent) {
        let (leg, input) = match event {
            MediaEvent::Dtmf { leg, digit, .. } => (leg, FlowInput::Digits(digit.to_string())),
            MediaEvent::PlaybackDone { leg, end } => {
                if let Some(c) = self
                    .by_leg
                    .get(&leg)
                    .and_then(|id| self.contacts.get_mut(id))
                    && c.leg == leg
                {
                    c.playing = false;
                }
                match end {
                    PlaybackEnd::Finished | PlaybackEnd::Interrupted(_) => {
                        (leg, FlowInput::PromptFinished)
                    }
                    PlaybackEnd::Stopped => return,
                }
            }
            MediaEvent::RecordingFinished {
                room,
                path,
                duration,
                error,
            } => {
                self.on_recording_finished(now, room, &path, duration, error);
                return;
            }
            MediaEvent::LegStats { .. } => return,
        };
        if let Some(id) = self.by_leg.get(&leg).copied() {
            if matches!(input, FlowInput::Digits(_))
                && !self
                    .contacts
                    .get(&id)
                    .is_some_and(|c| c.collecting || c.flow.is_some())
            {
                return;
            }
            self.pending.push_back((id, input));
            self.drain(now, tx);
        }
    }

    fn drain(&mut self, now: Now, tx: &mut Transactions) {
        while let Some((id, input)) = self.pending.pop_front() {
            let Some(c) = self.contacts.get_mut(&id) else {
                continue;
            };
            let Some(run) = c.flow.as_mut() else {
                continue;
            };
            let mut env = Env::new(
                &self.config,
                &self.router,
                &self.agents,
                now.unix_ms,
                id,
                &mut self.counter,
            );
            run.handle(now.mono, input, &mut env);
            self.run_actions(now, tx, id);
        }
    }

    /// Carries out what the contact's flow asked for.
    fn run_actions(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        loop {
            let Some(c) = self.contacts.get_mut(&id) else {
                return;
            };
            let Some(run) = c.flow.as_mut() else {
                return;
            };
            let Some(action) = run.poll_action() else {
                if run.is_finished() {
                    c.flow = None;
                    if c.queued.is_none() {
                        self.end(now, tx, id, DisconnectReason::Flow);
                        return;
                    }
                    // Queued: the customer queue flow the contact flow chose takes over
                    // (music, announcements); without one, plain music on hold.
                    let queue_flow = c
                        .queue_flow
                        .take()
                        .and_then(|name| self.config.flows.get(&name).cloned());
                    match queue_flow {
                        Some(flow) => {
                            tracing::info!(contact = %id, flow = %flow.name, "queue flow started");
                            let queue = c.queued.clone().unwrap_or_default();
                            let mut next = FlowRun::new(flow, c.record.attributes.clone())
                                .with_working_queue(queue);
                            let mut env = Env::new(
                                &self.config,
                                &self.router,
                                &self.agents,
                                now.unix_ms,
                                id,
                                &mut self.counter,
                            );
                            next.start(now.mono, &mut env);
                            c.flow = Some(next);
                            continue;
                        }
                        None => {
                            if !c.playing
                                && let Some(moh) = &self.config.media.music_on_hold
                            {
                                let _ = self.media.play(c.leg, moh, true, false);
                                c.playing = true;
                            }
                        }
                    }
                } else if c.queued.is_some()
                    && !c.playing
                    && let Some(moh) = &self.config.media.music_on_hold
                {
                    // The queue flow waits without a prompt: music meanwhile.
                    let _ = self.media.play(c.leg, moh, true, false);
                    c.playing = true;
                }
                return;
            };
            let leg = c.leg;
            match action {
                FlowAction::Play {
                    prompt,
                    interruptible,
                } => match self.media.play(leg, &prompt.path, false, interruptible) {
                    Ok(()) => c.playing = true,
                    Err(e) => {
                        tracing::warn!(error = %e, prompt = %prompt.name, "prompt failed");
                        self.pending.push_back((id, FlowInput::PromptFailed));
                    }
                },
                FlowAction::CollectDigits { .. } => c.collecting = true,
                FlowAction::StopPlayback => {
                    let _ = self.media.stop_play(leg);
                }
                FlowAction::SetQueueFlow { flow } => c.queue_flow = Some(flow),
                FlowAction::SetRecording(r) => {
                    if !matches!(r, Recording::Both | Recording::None) {
                        tracing::warn!(contact = %id, recording = ?r, "recording one party only is not supported yet; the call will not be recorded");
                    }
                    c.record_call = matches!(r, Recording::Both);
                }
                FlowAction::EnqueueTo { queue } => {
                    let result = match self.router.enqueue(now.unix_ms, id, &queue) {
                        Ok(_) => {
                            tracing::info!(%queue, "contact queued");
                            c.record.enqueue_unix_ms = Some(now.unix_ms);
                            c.record.queue = Some(queue.clone());
                            c.record.updated_at_unix_ms = now.unix_ms;
                            self.records_out.push(c.record.clone());
                            c.queued = Some(queue);
                            TransferResult::Ok
                        }
                        Err(crate::routing::EnqueueError::AtCapacity { .. }) => {
                            TransferResult::AtCapacity
                        }
                        Err(_) => TransferResult::Error,
                    };
                    self.pending.push_back((id, FlowInput::Transfer(result)));
                }
                FlowAction::TransferToAgent { .. } | FlowAction::TransferToNumber { .. } => {
                    // Agent legs arrive with the rest of the contacts issue.
                    self.pending
                        .push_back((id, FlowInput::Transfer(TransferResult::Error)));
                }
                FlowAction::Disconnect { .. } => {
                    self.end(now, tx, id, DisconnectReason::Flow);
                    return;
                }
                FlowAction::EndFlow => {}
                // Recording and the per-contact flow choices take effect with agent legs.
                _ => {}
            }
            self.drain_pending_for(now, id);
        }
    }

    /// Feeds inputs the actions just produced (failed prompt, transfer result).
    fn drain_pending_for(&mut self, now: Now, id: Uuid) {
        let mut rest = VecDeque::new();
        while let Some((cid, input)) = self.pending.pop_front() {
            if cid != id {
                rest.push_back((cid, input));
                continue;
            }
            if let Some(run) = self.contacts.get_mut(&id).and_then(|c| c.flow.as_mut()) {
                let mut env = Env::new(
                    &self.config,
                    &self.router,
                    &self.agents,
                    now.unix_ms,
                    id,
                    &mut self.counter,
                );
                run.handle(now.mono, input, &mut env);
            }
        }
        self.pending = rest;
    }

    /// Ends a contact: our BYE when `we_hang_up`, then media and queue clean-up.
    fn end(&mut self, now: Now, tx: &mut Transactions, id: Uuid, reason: DisconnectReason) {
        let Some(mut c) = self.contacts.remove(&id) else {
            return;
        };
        if reason != DisconnectReason::Customer {
            let branch = format!("z9hG4bK{}", self.next_token());
            let bye = c.dialog.request(
                Method::Bye,
                &self.local_sip.to_string(),
                &branch,
                None,
                &[],
                None,
            );
            if let Err(e) = tx.send_request(now.mono, bye, c.dialog.peer) {
                tracing::warn!(error = %e, "cannot send BYE");
            }
        }
        if c.queued.is_some() {
            self.router.cancel(now.unix_ms, &mut self.agents, id);
        }
        let had_agent = c.agent.as_ref().is_some_and(|a| a.dialog.is_some());
        if let Some(agent) = c.agent.take() {
            self.hang_up_agent(now, tx, agent, id, true);
        }
        let _ = self.media.remove_leg(c.leg);
        self.by_leg.remove(&c.leg);
        self.by_call_id.remove(&c.dialog.call_id);
        c.end_hold(now.unix_ms);
        c.record.disconnect_unix_ms = Some(now.unix_ms);
        c.record.disconnect_reason = Some(reason);
        c.record.updated_at_unix_ms = now.unix_ms;
        self.records_out.push(c.record.clone());
        if had_agent {
            // Its ACW duration is filled in when the agent's after-contact work ends.
            self.in_acw.insert(id, c.record);
        }
        tracing::info!(contact = %id, by = reason.as_str(), "contact ended");
    }

    /// A room's recording was closed: its duration goes into the contact's record.
    fn on_recording_finished(
        &mut self,
        now: Now,
        room: RoomId,
        path: &std::path::Path,
        duration: Duration,
        error: Option<String>,
    ) {
        let Some(mut record) = self.recordings.remove(&room) else {
            return;
        };
        if let Some(e) = error {
            tracing::error!(contact = %record.contact_id, path = %path.display(), error = %e, "recording failed");
        }
        // The live copy may be newer (the contact may still run): merge into the latest.
        let latest = self
            .contacts
            .get(&record.contact_id)
            .map(|c| c.record.clone())
            .or_else(|| self.in_acw.get(&record.contact_id).cloned())
            .unwrap_or_else(|| record.clone());
        record = latest;
        record.recording_path = Some(path.display().to_string());
        record.recording_duration_ms =
            Some(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX));
        record.updated_at_unix_ms = now.unix_ms.max(record.updated_at_unix_ms);
        if let Some(acw) = self.in_acw.get_mut(&record.contact_id) {
            acw.recording_path = record.recording_path.clone();
            acw.recording_duration_ms = record.recording_duration_ms;
        }
        tracing::info!(contact = %record.contact_id, path = %path.display(), ?duration, "recording finished");
        self.records_out.push(record);
    }

    /// Contact records and agent events to persist since the last call.
    pub fn drain_records(&mut self) -> (Vec<ContactRecord>, Vec<AgentEventRow>) {
        (
            std::mem::take(&mut self.records_out),
            std::mem::take(&mut self.events_out),
        )
    }

    /// Queues the contact's record as it stands now.
    fn save(&mut self, id: Uuid, now: Now) {
        if let Some(c) = self.contacts.get_mut(&id) {
            c.record.updated_at_unix_ms = now.unix_ms;
            self.records_out.push(c.record.clone());
        }
    }

    /// The earliest flow deadline of any contact.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.contacts
            .values()
            .filter_map(|c| c.flow.as_ref()?.poll_timeout())
            .min()
    }

    /// Agent state changes, as they happen. (Stored as agent events with the contact records.)
    pub(super) fn log_agent_events(&mut self) {
        while let Some(e) = self.agents.poll_event() {
            self.events_out.push(AgentEventRow::from(&e));
            if e.from == crate::agents::AgentState::AfterContactWork
                && let Some(contact) = e.contact
                && let Some(mut record) = self.in_acw.remove(&contact)
            {
                let ended = record.disconnect_unix_ms.unwrap_or(e.at_unix_ms);
                record.acw_duration_ms = Some((e.at_unix_ms - ended).max(0));
                record.updated_at_unix_ms = e.at_unix_ms;
                self.records_out.push(record);
            }
            tracing::info!(
                agent = %e.username,
                from = %e.from.as_str(),
                to = %e.to.as_str(),
                reason = e.reason.as_str(),
                "agent state"
            );
        }
    }

    pub fn handle_timeout(&mut self, now: Now, tx: &mut Transactions) {
        self.agents.handle_timeout(now.unix_ms);
        self.log_agent_events();
        let due: Vec<Uuid> = self
            .contacts
            .iter()
            .filter(|(_, c)| {
                c.flow
                    .as_ref()
                    .and_then(FlowRun::poll_timeout)
                    .is_some_and(|t| t <= now.mono)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(run) = self.contacts.get_mut(&id).and_then(|c| c.flow.as_mut()) {
                let mut env = Env::new(
                    &self.config,
                    &self.router,
                    &self.agents,
                    now.unix_ms,
                    id,
                    &mut self.counter,
                );
                run.handle_timeout(now.mono, &mut env);
            }
            self.run_actions(now, tx, id);
        }
    }
}

fn respond(
    tx: &mut Transactions,
    now: Now,
    key: &TransactionKey,
    req: &Request,
    code: u16,
    warning: Option<&str>,
) {
    let mut resp = message::response(req, code, Some("sbc"));
    if let Some(w) = warning {
        let text: String = w.chars().filter(|c| *c != '"').collect();
        message::push_header(&mut resp, "Warning", format!("399 switchboard \"{text}\""));
    }
    if let Err(e) = tx.respond(now.mono, key, resp) {
        tracing::warn!(error = %e, "could not respond");
    }
}

/// DTMF carried in SIP INFO: `application/dtmf-relay` (`Signal=5`) or `application/dtmf`.
fn info_digits(req: &Request) -> Option<String> {
    let ctype = message::header(req, "Content-Type")?.to_ascii_lowercase();
    let body = std::str::from_utf8(&req.body).ok()?;
    let digit = if ctype.starts_with("application/dtmf-relay") {
        body.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Signal=")
                    .or_else(|| l.trim().strip_prefix("Signal ="))
            })?
            .trim()
            .to_string()
    } else if ctype.starts_with("application/dtmf") {
        body.trim().to_string()
    } else {
        return None;
    };
    (digit.len() == 1
        && digit
            .chars()
            .all(|c| c.is_ascii_digit() || "*#ABCD".contains(c)))
    .then_some(digit)
}

/// What a flow may ask about the center, answered from config, queues and agents.
struct Env<'a> {
    config: &'a Config,
    router: &'a Router,
    agents: &'a Agents,
    now_ms: i64,
    contact: Uuid,
    rng: &'a mut u64,
}

impl<'a> Env<'a> {
    fn new(
        config: &'a Config,
        router: &'a Router,
        agents: &'a Agents,
        now_ms: i64,
        contact: Uuid,
        rng: &'a mut u64,
    ) -> Env<'a> {
        Env {
            config,
            router,
            agents,
            now_ms,
            contact,
            rng,
        }
    }
}

impl FlowEnv for Env<'_> {
    fn hours_open(&mut self, hours: &str) -> Option<bool> {
        let at = jiff::Timestamp::from_millisecond(self.now_ms).ok()?;
        self.config
            .hours_of_operation
            .get(hours)
            .map(|h| h.is_open(at))
    }

    fn queue_hours(&mut self, queue: &str) -> Option<String> {
        self.config.queues.get(queue).map(|q| q.hours.clone())
    }

    fn queue_status(&mut self, queue: &str) -> Option<QueueStatus> {
        let s = self.router.queue_status(self.now_ms, queue)?;
        let position = self
            .router
            .waiting(self.contact)
            .filter(|w| w.queue == queue)
            .and_then(|_| self.router.position(self.contact))
            .map(|p| p.0);
        Some(QueueStatus {
            contacts_in_queue: s.contacts_in_queue,
            oldest_contact_age: s.oldest_contact_age.unwrap_or(Duration::ZERO),
            position,
        })
    }

    fn staffing(&mut self, queue: &str) -> Option<Staffing> {
        let s = self.router.staffing(queue, self.agents)?;
        Some(Staffing {
            available: s.available,
            staffed: s.staffed,
            online: s.online,
        })
    }

    fn random_percent(&mut self) -> u32 {
        *self.rng ^= *self.rng << 13;
        *self.rng ^= *self.rng >> 7;
        *self.rng ^= *self.rng << 17;
        u32::try_from(*self.rng % 100).unwrap_or(0)
    }
}

//! Calls (the B2BUA): an inbound call to a configured number from an allowed trunk source
//! becomes a contact whose customer leg is anchored in the media engine, and whose inbound
//! flow runs against it: prompts, DTMF (RFC 4733 from the media engine, or SIP INFO), hours,
//! queue transfer. A queued customer hears the queue flow or music on hold. BYE from either
//! side ends the contact; a flow's Disconnect sends our BYE.
//!
//! Queued contacts are offered to agents ([`agent`]): the agent's phones ring, the first
//! answer joins the customer in a mix room, the agent whisper plays (`whisper`), then the
//! two are bridged; either side's BYE ends both legs and puts the agent in after-contact work.
//! Transfers and third parties (`third`, `refer`), panel commands (`panel`), outbound
//! calls (`outbound`) and listen-in (`monitor`) work on the same contact. Every dialog's
//! in-dialog order, re-INVITE glare and session timers are `refresh`'s.
//!
//! One shape throughout: per-contact state driven by SIP transactions, media events and
//! timers, with `now` passed in.

/// The [`Env`] for contact `id`'s flow at `now`, from `calls`' fields (a macro, not a method,
/// so the borrows stay per field while a contact is borrowed mutably).
macro_rules! flow_env {
    ($calls:ident, $now:expr, $id:expr) => {
        $crate::calls::Env::new(
            &$calls.config,
            &$calls.router,
            &$calls.agents,
            $now.unix_ms,
            $id,
            &mut $calls.counter,
        )
    };
}

mod agent;
mod consult;
mod floor;
mod flow_dial;
mod monitor;
mod outbound;
mod panel;
mod refer;
mod refresh;
mod session_timer;
mod third;
mod uac;
mod whisper;

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

/// The methods we take in a call's dialogs (the Allow of our INVITEs and their 2xx).
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

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
    /// The flow asked for agent and customer to be recorded (set_recording_behavior: both).
    /// Listen-in is allowed on such contacts only.
    record_call: bool,
    /// Whose voice the recording keeps (set_recording_behavior): `Both`, one party (the other
    /// channel of the stereo file is silent), or `None`.
    recorded: Recording,
    /// The agent whisper flow chosen by set_whisper_flow, played to the agent on answer.
    whisper_flow: Option<String>,
    /// The customer queue flow chosen by set_customer_queue_flow, started once queued.
    queue_flow: Option<String>,
    /// Something (a prompt or music) is playing to the customer.
    playing: bool,
    /// The contact record, written as the contact progresses.
    record: ContactRecord,
    /// When the current hold began (unix ms), while on hold.
    hold_since: Option<i64>,
    /// The agent put the customer on hold (panel, phone, or while a third party is dialed).
    customer_held: bool,
    /// Music on hold is playing to the customer because of `customer_held`.
    customer_moh: bool,
    /// When the customer connection's state last changed (unix ms).
    customer_since_unix_ms: i64,
    /// A party the agent transferred to (dialed number or external quick connect), or the
    /// number the flow's transfer_to_phone_number dialed.
    third: Option<third::ThirdParty>,
    /// The room, once the agent has left it to the customer and the third party (or while
    /// the flow's transfer_to_phone_number dials and after it connects).
    room: Option<RoomId>,
    /// The agent's phone asked for a transfer by REFER: NOTIFY it how the third party answers.
    refer_pending: bool,
    /// Managers listening in, barging or whispering.
    monitors: Vec<monitor::Monitor>,
}

impl Contact {
    /// The mix room the contact's legs are in, if connected.
    fn room(&self) -> Option<RoomId> {
        self.agent.as_ref().and_then(|a| a.room).or(self.room)
    }

    /// Puts the customer on hold or takes them off it, counting it on the record.
    fn set_customer_held(&mut self, held: bool, now_ms: i64) {
        self.customer_held_to(held);
        self.sync_hold_record(now_ms);
    }

    fn customer_held_to(&mut self, held: bool) {
        self.customer_held = held;
    }

    /// Brings the record's hold count and duration (and the connection's since) in line
    /// with `customer_held`.
    fn sync_hold_record(&mut self, now_ms: i64) {
        match (self.customer_held, self.hold_since.is_some()) {
            (true, false) => {
                self.record.hold_count += 1;
                self.hold_since = Some(now_ms);
                self.customer_since_unix_ms = now_ms;
            }
            (false, true) => {
                self.end_hold(now_ms);
                self.customer_since_unix_ms = now_ms;
            }
            _ => {}
        }
    }

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
    Third,
    Monitor,
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
    /// Our INVITEs to third parties, by client transaction.
    by_third: HashMap<TransactionKey, Uuid>,
    /// Outbound calls being placed (not yet connected to the customer).
    outbound: HashMap<Uuid, outbound::Outbound>,
    /// Calls an agent's phone placed while on a contact (consultations): they do not
    /// change the agent's state.
    consults: std::collections::HashSet<Uuid>,
    /// Agents whose panel snapshot may have changed, and what was last published.
    panel_dirty: std::collections::HashSet<String>,
    published: HashMap<String, crate::control::AgentSnapshot>,
    /// When each agent's current state began, from their events (unix ms).
    status_since: HashMap<String, i64>,
    /// Today's per-queue tallies for the floor view.
    day: floor::DayStats,
    /// Our INVITEs to managers' phones, by client transaction.
    by_monitor: HashMap<TransactionKey, Uuid>,
    /// Contacts a transfer_to_agent flow hands to an agent, offered on the next pass.
    direct: Vec<(Uuid, String)>,
    /// Session timers and glare state of the dialogs that negotiated a timer.
    sessions: HashMap<refresh::DialogKey, session_timer::DialogSession>,
    /// Our session refreshes (re-INVITE or UPDATE), by client transaction.
    by_refresh: HashMap<TransactionKey, refresh::DialogKey>,
    /// Transfers to a queue or agent the agent waits on, by the id they will continue under
    /// (the router's and the other agent's id for them), with the contact's id.
    routed: HashMap<Uuid, Uuid>,
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
        let panel_dirty = config.users.keys().cloned().collect();
        let status_since = config
            .users
            .keys()
            .map(|u| (u.clone(), now.unix_ms))
            .collect();
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
            by_third: HashMap::new(),
            outbound: HashMap::new(),
            consults: std::collections::HashSet::new(),
            panel_dirty,
            published: HashMap::new(),
            status_since,
            day: floor::DayStats::default(),
            by_monitor: HashMap::new(),
            direct: Vec::new(),
            sessions: HashMap::new(),
            by_refresh: HashMap::new(),
            routed: HashMap::new(),
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
        self.panel_dirty.insert(username.to_string());
    }

    fn next_token(&mut self) -> String {
        self.counter = self
            .counter
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        format!("{:x}", self.counter >> 8)
    }

    /// A pseudo-random number (for the glare wait), from the same generator as tokens.
    fn next_random(&mut self) -> u64 {
        self.counter = self
            .counter
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.counter >> 16
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
                    Some((id, party)) => {
                        if self.in_order(now, tx, key, req)
                            && let Some(timer) = self.session_gate(now, tx, key, req)
                        {
                            self.on_reinvite(now, tx, key, req, id, party, timer);
                        }
                    }
                    None => {
                        respond(tx, now, key, req, 481, Some("no such call"));
                    }
                }
                Handled::Yes
            }
            Method::Invite => self.on_invite(now, tx, key, req, peer),
            Method::Update => {
                let Some((id, party)) = self.contact_of(req) else {
                    return Handled::No;
                };
                if self.in_order(now, tx, key, req)
                    && let Some(timer) = self.session_gate(now, tx, key, req)
                {
                    if req.body.is_empty() {
                        self.on_update_refresh(now, tx, key, req, timer);
                    } else {
                        self.on_reinvite(now, tx, key, req, id, party, timer);
                    }
                }
                Handled::Yes
            }
            Method::Refer => {
                let Some((id, party)) = self.contact_of(req) else {
                    return Handled::No;
                };
                if self.in_order(now, tx, key, req) {
                    self.on_refer(now, tx, key, req, id, party == Party::Agent);
                }
                Handled::Yes
            }
            Method::Bye | Method::Info => {
                if req.method == Method::Bye
                    && let Some(id) = message::header(req, "Call-ID")
                        .and_then(|c| self.outbound_of_call_id(c.trim()))
                {
                    respond(tx, now, key, req, 200, None);
                    self.end_outbound(now, tx, id, DisconnectReason::Agent);
                    return Handled::Yes;
                }
                let Some((id, party)) = self.contact_of(req) else {
                    return Handled::No;
                };
                if !self.in_order(now, tx, key, req) {
                    return Handled::Yes;
                }
                if req.method == Method::Bye {
                    respond(tx, now, key, req, 200, None);
                    match party {
                        Party::Customer => self.end(now, tx, id, DisconnectReason::Customer),
                        Party::Agent
                            if self.contacts.get(&id).is_some_and(|c| c.third.is_some()) =>
                        {
                            // Hanging up with a third party on the line leaves the customer
                            // with them (as Leave in the panel; how phones finish a transfer).
                            let _ = self.leave(now, tx, id, false);
                        }
                        Party::Agent => {
                            if let Some(a) = self.contacts.get_mut(&id).and_then(|c| c.agent.take())
                            {
                                self.hang_up_agent(now, tx, a, id, false);
                            }
                            self.end(now, tx, id, DisconnectReason::Agent);
                        }
                        Party::Monitor => {
                            let user = self.contacts.get(&id).and_then(|c| {
                                c.monitors
                                    .iter()
                                    .find(|m| {
                                        m.dialog.as_ref().is_some_and(|d| d.matches(req, true))
                                    })
                                    .map(|m| m.username.clone())
                            });
                            if let Some(u) = user {
                                self.hang_up_monitor(now, tx, id, &u, false);
                            }
                        }
                        Party::Third => {
                            self.drop_third(now, tx, id, false);
                            self.after_third_party_gone(now, tx, id);
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
        if let Some(agent) = c.agent.as_ref().and_then(|a| a.dialog.as_ref())
            && agent.matches(req, true)
        {
            return Some((id, Party::Agent));
        }
        if c.monitors
            .iter()
            .any(|m| m.dialog.as_ref().is_some_and(|d| d.matches(req, true)))
        {
            return Some((id, Party::Monitor));
        }
        let third = c.third.as_ref()?.dialog.as_ref()?;
        third.matches(req, true).then_some((id, Party::Third))
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
        // A session timer only if the caller asks (RFC 4028); too short an interval is 422.
        let Some(timer) = self.session_gate(now, tx, key, req) else {
            return Handled::Yes;
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
        message::push_header(&mut ok, "Allow", ALLOW);
        message::push_header(&mut ok, "Supported", "timer");
        for (name, value) in timer.headers() {
            message::push_header(&mut ok, name, value);
        }
        message::push_header(&mut ok, "Content-Type", "application/sdp");
        let local_sdp = answer.sdp;
        ok.body = local_sdp.clone().into_bytes();
        if let Err(e) = tx.respond(now.mono, key, ok) {
            tracing::warn!(error = %e, "cannot answer the INVITE");
        }
        let dialog_key = refresh::DialogKey::of(&dialog);
        let id = Uuid::new_v4();
        let _span = tracing::info_span!("contact", %id, call_id = %dialog.call_id).entered();
        tracing::info!(number = %e164, flow = %flow.name, "inbound contact");
        self.by_call_id.insert(dialog.call_id.clone(), id);
        self.by_leg.insert(leg, id);
        let mut record = ContactRecord::new(id, InitiationMethod::Inbound, now.unix_ms);
        record.customer_endpoint = Some(caller_number(&dialog.remote_uri));
        record.system_endpoint = Some(e164.clone());
        record.flow_name = Some(flow.name.clone());
        record.updated_at_unix_ms = now.unix_ms;
        self.records_out.push(record.clone());
        let mut run = FlowRun::new(flow, Default::default());
        let mut env = flow_env!(self, now, id);
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
                recorded: Recording::None,
                whisper_flow: None,
                queue_flow: None,
                playing: false,
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
        self.session_refreshed(now, &dialog_key, req, timer.negotiated(), Some(&local_sdp));
        self.run_actions(now, tx, id);
        Handled::Yes
    }

    /// A re-INVITE (or an UPDATE with an offer) in a contact's dialog: hold
    /// (sendonly/inactive) or resume (sendrecv) by one party; the other hears music on hold,
    /// or they are bridged again. Its 2xx carries the session timer `timer` (RFC 4028).
    #[allow(clippy::too_many_arguments)]
    fn on_reinvite(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
        id: Uuid,
        party: Party,
        timer: session_timer::UasAnswer,
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
        if party == Party::Monitor {
            respond(
                tx,
                now,
                key,
                req,
                488,
                Some("a monitoring leg cannot be re-negotiated"),
            );
            return;
        }
        let room_now = c.room();
        let (answer, this_leg, other_leg, room, local_tag, contact) = match party {
            Party::Monitor => return,
            Party::Third => {
                let Some(t) = c.third.as_mut() else {
                    return;
                };
                let Some(d) = t.dialog.as_ref() else {
                    return;
                };
                let a = t.session.answer(&offer, t.local_rtp.port(), &CODECS);
                (
                    a,
                    t.leg,
                    None,
                    room_now,
                    d.local_tag.clone(),
                    d.local_contact.clone(),
                )
            }
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
        match party {
            // The agent's phone holds: as Hold (all) in the panel; resume talks to the customer.
            Party::Agent => {
                c.set_customer_held(holding, now.unix_ms);
                if let Some(t) = c.third.as_mut().filter(|t| t.dialog.is_some())
                    && holding
                {
                    t.held = true;
                    t.since_unix_ms = now.unix_ms;
                }
                self.apply_room(id);
                self.touch(id);
            }
            // The customer holds us: the agent hears music until they resume.
            Party::Customer => {
                if let (Some(other), Some(room)) = (other_leg, room) {
                    let changed = if holding {
                        self.media.hold(room, other, this_leg)
                    } else {
                        self.media.bridge(room, customer_leg, other)
                    };
                    if let Err(e) = changed {
                        tracing::warn!(error = %e, "cannot change the room for hold/resume");
                    }
                }
            }
            Party::Third | Party::Monitor => {}
        }
        tracing::info!(contact = %id, ?party, hold = holding, "re-INVITE");
        self.save(id, now);
        let mut ok = message::response(req, 200, Some(&local_tag));
        message::push_header(&mut ok, "Contact", format!("<{contact}>"));
        if timer != session_timer::UasAnswer::NoTimer {
            message::push_header(&mut ok, "Supported", "timer");
        }
        for (name, value) in timer.headers() {
            message::push_header(&mut ok, name, value);
        }
        message::push_header(&mut ok, "Content-Type", "application/sdp");
        ok.body = answer.sdp.clone().into_bytes();
        if let Err(e) = tx.respond(now.mono, key, ok) {
            tracing::warn!(error = %e, "cannot answer the re-INVITE");
        }
        if let Some(dialog) = refresh::DialogKey::of_request(req) {
            self.session_refreshed(now, &dialog, req, timer.negotiated(), Some(&answer.sdp));
        }
    }

    /// An UPDATE without a body: a session refresh (RFC 4028) or a target refresh. Its 200
    /// carries the session timer `timer`.
    fn on_update_refresh(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
        timer: session_timer::UasAnswer,
    ) {
        let mut ok = message::response(req, 200, None);
        message::push_header(
            &mut ok,
            "Contact",
            format!("<sip:switchboard@{}>", self.local_sip),
        );
        if timer != session_timer::UasAnswer::NoTimer {
            message::push_header(&mut ok, "Supported", "timer");
        }
        for (name, value) in timer.headers() {
            message::push_header(&mut ok, name, value);
        }
        if let Err(e) = tx.respond(now.mono, key, ok) {
            tracing::warn!(error = %e, "cannot answer the UPDATE");
        }
        if let Some(dialog) = refresh::DialogKey::of_request(req) {
            self.session_refreshed(now, &dialog, req, timer.negotiated(), None);
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
            let agent_leg = self
                .contacts
                .get(&id)
                .and_then(|c| c.agent.as_ref())
                .is_some_and(|a| a.leg == leg);
            if agent_leg {
                // The agent's leg: its prompts are the whisper's or a transfer flow's, never
                // the customer flow's.
                if matches!(input, FlowInput::PromptFinished)
                    && self.on_consult_input(now, tx, id, FlowInput::PromptFinished)
                {
                    return;
                }
                self.on_agent_leg_input(now, id, input);
                return;
            }
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
            let mut env = flow_env!(self, now, id);
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
                    if c.third.as_ref().is_some_and(|t| t.dialog.is_some()) {
                        // transfer_to_phone_number connected: the customer talks to it.
                        return;
                    }
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
                            let mut env = flow_env!(self, now, id);
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
                    // Listen-in stays tied to recording both parties; what the file keeps
                    // follows `recorded`.
                    c.record_call = matches!(r, Recording::Both);
                    c.recorded = r;
                }
                FlowAction::SetWhisperFlow {
                    flow,
                    kind: crate::flow::FlowKind::AgentWhisper,
                } => c.whisper_flow = Some(flow),
                FlowAction::SetWhisperFlow { flow, kind } => {
                    tracing::warn!(contact = %id, %flow, kind = kind.as_str(), "only agent whisper flows are played; this one is ignored");
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
                FlowAction::TransferToAgent { agent } => {
                    // Offered on the next routing pass (it has the registrations).
                    tracing::info!(contact = %id, %agent, "transfer to agent");
                    self.direct.push((id, agent));
                }
                FlowAction::TransferToNumber { number, caller_id } => {
                    // Answered with a Transfer result once the number answers or fails.
                    self.dial_from_flow(now, tx, id, &number, caller_id.as_deref());
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
                let mut env = flow_env!(self, now, id);
                run.handle(now.mono, input, &mut env);
            }
        }
        self.pending = rest;
    }

    /// Ends a contact: our BYE when `we_hang_up`, then media and queue clean-up.
    fn end(&mut self, now: Now, tx: &mut Transactions, id: Uuid, reason: DisconnectReason) {
        self.hang_up_monitors(now, tx, id);
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
        if c.third.is_some() {
            self.contacts.insert(id, c);
            self.hang_up_third_party(now, tx, id);
            let Some(back) = self.contacts.remove(&id) else {
                return;
            };
            c = back;
        }
        if let Some(room) = c.room.take() {
            let _ = self.media.destroy_room(room);
        }
        let had_agent =
            c.agent.as_ref().is_some_and(|a| a.dialog.is_some()) && !self.consults.contains(&id);
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
        self.day.contact_closed(now.unix_ms, &c.record);
        self.refresh_recording_copy(&c.record);
        self.records_out.push(c.record.clone());
        if had_agent {
            // Its ACW duration is filled in when the agent's after-contact work ends.
            self.in_acw.insert(id, c.record);
        }
        tracing::info!(contact = %id, by = reason.as_str(), "contact ended");
    }

    /// A recording still open for `record`'s contact finishes into this (newer) copy of the
    /// record, not the one from when it started: otherwise its write would put back stale
    /// holds and ACW once the contact has left after-contact work.
    fn refresh_recording_copy(&mut self, record: &ContactRecord) {
        for copy in self
            .recordings
            .values_mut()
            .filter(|r| r.contact_id == record.contact_id)
        {
            let path = copy.recording_path.take();
            *copy = record.clone();
            copy.recording_path = copy.recording_path.take().or(path);
        }
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

    /// The earliest deadline: a contact's flow, an agent whisper, a dialog's session timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let flows = self.contacts.values().filter_map(|c| {
            let whisper = c
                .agent
                .as_ref()
                .and_then(|a| a.whisper.as_ref()?.poll_timeout());
            let flow = c.flow.as_ref().and_then(FlowRun::poll_timeout);
            match (flow, whisper) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        });
        flows
            .chain(self.sessions_timeout())
            .chain(self.consults_timeout())
            .min()
    }

    /// Agent state changes, as they happen. (Stored as agent events with the contact records.)
    pub(super) fn log_agent_events(&mut self) {
        while let Some(e) = self.agents.poll_event() {
            self.events_out.push(AgentEventRow::from(&e));
            self.panel_dirty.insert(e.username.clone());
            self.status_since.insert(e.username.clone(), e.at_unix_ms);
            if e.from == crate::agents::AgentState::AfterContactWork
                && let Some(contact) = e.contact
                && let Some(mut record) = self.in_acw.remove(&contact)
            {
                let ended = record.disconnect_unix_ms.unwrap_or(e.at_unix_ms);
                record.acw_duration_ms = Some((e.at_unix_ms - ended).max(0));
                record.updated_at_unix_ms = e.at_unix_ms;
                self.day.handle_time(e.at_unix_ms, &record);
                self.refresh_recording_copy(&record);
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
                let mut env = flow_env!(self, now, id);
                run.handle_timeout(now.mono, &mut env);
            }
            self.run_actions(now, tx, id);
        }
        self.handle_whisper_timeouts(now);
        self.handle_consult_timeouts(now, tx);
        self.handle_session_timeouts(now, tx);
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

/// The caller as a record and the panel show them: the user part of the From URI (the
/// number, for calls from a carrier), or the URI when it has none.
fn caller_number(from: &str) -> String {
    let uri = match (from.find('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => &from[a + 1..b],
        _ => from.trim(),
    };
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))
        .unwrap_or(uri);
    match rest.split(['@', ';']).next() {
        Some(user) if !user.is_empty() && rest.contains('@') => user.to_string(),
        _ => uri.to_string(),
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

//! The agent panel's commands and snapshots (see [`crate::control`]).
//!
//! Commands are checked against the state first and change nothing when refused. Every
//! change to what an agent would see marks them dirty; [`Calls::take_snapshots`] builds the
//! dirty agents' snapshots and returns those that differ from what was last published.

use uuid::Uuid;

use super::Calls;
use crate::agents::{Activity, AgentError};
use crate::config::{Phone, QuickConnectTarget};
use crate::control::{
    AgentSnapshot, Command, CommandError, ConnectionKind, ConnectionState, ConnectionView,
    ContactState, ContactView, StatusOption, TransferTarget,
};
use crate::endpoint::Now;
use crate::registrar::Registrar;
use crate::sip::transaction::Transactions;
use crate::store::DisconnectReason;

impl From<AgentError> for CommandError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::UnknownAgent(_) => CommandError::NotFound(e.to_string()),
            AgentError::UnknownStatus { .. } => CommandError::Invalid(e.to_string()),
            AgentError::Refused { .. } | AgentError::WrongContact { .. } => {
                CommandError::Conflict(e.to_string())
            }
        }
    }
}

impl Calls {
    /// Applies one panel command for `user`.
    pub fn on_command(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        registrar: &Registrar,
        user: &str,
        command: Command,
    ) -> Result<AgentSnapshot, CommandError> {
        if self.agents.get(user).is_none() {
            return Err(CommandError::NotFound(format!("no agent `{user}`")));
        }
        let result = self.apply_command(now, tx, registrar, user, command);
        self.panel_dirty.insert(user.to_string());
        self.log_agent_events();
        self.route(now, tx, registrar);
        result?;
        self.snapshot(user)
            .ok_or_else(|| CommandError::NotFound(format!("no agent `{user}`")))
    }

    fn apply_command(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        registrar: &Registrar,
        user: &str,
        command: Command,
    ) -> Result<(), CommandError> {
        match command {
            Command::Snapshot => Ok(()),
            Command::SetStatus { status } => {
                Ok(self.agents.set_status(now.unix_ms, user, &status)?)
            }
            Command::ClearMissed => Ok(self.agents.clear_missed(now.unix_ms, user)?),
            Command::ClearContact { contact } => {
                let agent = self.agents.get(user);
                match agent.map(|a| a.activity()) {
                    Some(Activity::AfterContactWork(acw)) if acw.contact == contact => {
                        Ok(self.agents.clear_acw(now.unix_ms, user)?)
                    }
                    Some(Activity::Missed(m)) if m.contact == contact => {
                        Ok(self.agents.clear_missed(now.unix_ms, user)?)
                    }
                    _ => Err(CommandError::Conflict(format!(
                        "contact {contact} is not in after-contact work or missed for you"
                    ))),
                }
            }
            Command::Accept { contact } => self.accept(now, tx, registrar, user, contact),
            Command::Reject { contact } => {
                self.ringing_for(user, contact)?;
                if let Some(id) = self.routed.get(&contact).copied() {
                    tracing::info!(%contact, agent = %user, "agent rejected the transfer");
                    self.consult_offer_failed(now, tx, id, crate::agents::MissReason::Rejected);
                    return Ok(());
                }
                tracing::info!(%contact, agent = %user, "agent rejected the contact");
                let _ = self.router.offer_missed(
                    now.unix_ms,
                    &mut self.agents,
                    contact,
                    crate::agents::MissReason::Rejected,
                );
                self.drop_agent_leg(now, tx, contact);
                self.touch(contact);
                Ok(())
            }
            Command::Hold {
                contact,
                connection,
            } => self.set_held(now, user, contact, connection, true),
            Command::Resume {
                contact,
                connection,
            } => self.set_held(now, user, contact, connection, false),
            Command::EndConnection {
                contact,
                connection,
            } => {
                if self
                    .outbound
                    .get(&contact)
                    .is_some_and(|o| o.agent.username == user)
                {
                    // Hanging up an outbound call that has not connected yet.
                    self.end_outbound(now, tx, contact, DisconnectReason::Agent);
                    return Ok(());
                }
                if let Some(id) = self.routed.get(&contact).copied() {
                    // The agent a transfer reached hangs up their side (whichever connection
                    // they pick: they are one party of the transferring agent's call). The
                    // transferring agent is back with the customer, who stays on hold.
                    let answered = self.routed_of(id).is_some_and(|r| {
                        r.agent.as_deref() == Some(user)
                            && self
                                .contacts
                                .get(&id)
                                .and_then(|c| c.third.as_ref())
                                .is_some_and(|t| t.dialog.is_some())
                    });
                    if !answered {
                        return Err(CommandError::Conflict(format!(
                            "you are not connected to contact {contact}"
                        )));
                    }
                    tracing::info!(%contact, agent = %user, "the transfer's agent hung up");
                    self.hang_up_third_party(now, tx, id);
                    self.after_third_party_gone(now, tx, id);
                    return Ok(());
                }
                self.on_contact(user, contact)?;
                match connection {
                    ConnectionKind::Customer => {
                        self.end(now, tx, contact, DisconnectReason::Agent);
                    }
                    ConnectionKind::ThirdParty => {
                        if self
                            .contacts
                            .get(&contact)
                            .is_some_and(|c| c.third.is_none())
                        {
                            return Err(CommandError::NotFound(
                                "there is no third party on this contact".into(),
                            ));
                        }
                        self.hang_up_third_party(now, tx, contact);
                        self.after_third_party_gone(now, tx, contact);
                    }
                }
                Ok(())
            }
            Command::Transfer { contact, target } => {
                self.on_contact(user, contact)?;
                match target {
                    TransferTarget::Number(n) => self.dial_third_party(now, tx, contact, &n),
                    TransferTarget::QuickConnect(name) => {
                        let qc =
                            self.config
                                .quick_connects
                                .get(&name)
                                .cloned()
                                .ok_or_else(|| {
                                    CommandError::NotFound(format!("no quick connect `{name}`"))
                                })?;
                        match qc.target {
                            QuickConnectTarget::External { number } => {
                                self.dial_third_party(now, tx, contact, &number)
                            }
                            QuickConnectTarget::Queue { queue, flow } => {
                                self.consult_flow(now, tx, contact, &flow, Some(queue), None)
                            }
                            QuickConnectTarget::Agent { username, flow } => {
                                self.consult_flow(now, tx, contact, &flow, None, Some(username))
                            }
                        }
                    }
                }
            }
            Command::Join { contact } => self.with_third(
                user,
                contact,
                |c| {
                    c.customer_held_to(false);
                    if let Some(t) = c.third.as_mut() {
                        t.held = false;
                    }
                },
                now,
            ),
            Command::HoldAll { contact } => self.with_third(
                user,
                contact,
                |c| {
                    c.customer_held_to(true);
                    if let Some(t) = c.third.as_mut() {
                        t.held = true;
                    }
                },
                now,
            ),
            Command::Swap { contact } => self.with_third(
                user,
                contact,
                |c| {
                    // Talk to whoever is held now (the customer when both are).
                    let talk_to_customer = c.customer_held;
                    c.customer_held_to(!talk_to_customer);
                    if let Some(t) = c.third.as_mut() {
                        t.held = talk_to_customer;
                    }
                },
                now,
            ),
            Command::Leave { contact } => {
                self.on_contact(user, contact)?;
                self.leave(now, tx, contact, true).map(|_| ())
            }
            Command::Monitor { contact, mode } => {
                self.start_monitor(now, tx, registrar, user, contact, mode)
            }
            Command::SetMonitorMode { mode } => self.set_monitor_mode(now, user, mode),
            Command::StopMonitoring => self.stop_monitor(now, tx, user),
            Command::Dial { number } => self.dial(now, tx, registrar, user, &number),
        }
    }

    /// The contact rings `user` now.
    fn ringing_for(&self, user: &str, contact: Uuid) -> Result<(), CommandError> {
        match self.agents.get(user).map(|a| a.activity()) {
            Some(Activity::Incoming(i)) if i.contact == contact => Ok(()),
            _ => Err(CommandError::Conflict(format!(
                "contact {contact} is not ringing for you"
            ))),
        }
    }

    /// `user` is connected to `contact` now.
    fn on_contact(&self, user: &str, contact: Uuid) -> Result<(), CommandError> {
        if self.routed.contains_key(&contact) {
            return Err(CommandError::Conflict(
                "this call is still the transferring agent's until they leave it; you can end your side"
                    .into(),
            ));
        }
        let c = self
            .contacts
            .get(&contact)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {contact}")))?;
        match &c.agent {
            Some(a) if a.username == user && a.dialog.is_some() => Ok(()),
            _ => Err(CommandError::Conflict(format!(
                "you are not connected to contact {contact}"
            ))),
        }
    }

    /// Accept in the panel: the softphone's ringing branches are CANCELled and, once they
    /// have ended, the phone is called again with the auto-answer hints (same Call-ID, next
    /// CSeq), so it connects without a touch.
    fn accept(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        registrar: &Registrar,
        user: &str,
        contact: Uuid,
    ) -> Result<(), CommandError> {
        self.ringing_for(user, contact)?;
        let u = self
            .config
            .users
            .get(user)
            .cloned()
            .ok_or_else(|| CommandError::NotFound(format!("no user `{user}`")))?;
        if matches!(u.phone, Phone::DeskPhone { .. }) {
            return Err(CommandError::Conflict(
                "a desk phone has no Accept: pick up the handset to answer".into(),
            ));
        }
        if let Some(id) = self.routed.get(&contact).copied() {
            return self.accept_consult(now, tx, registrar, &u, id);
        }
        let targets = self.phone_targets(registrar, &u);
        if targets.is_empty() {
            return Err(CommandError::Unavailable(
                "your phone cannot be reached: is it registered?".into(),
            ));
        }
        let Some(agent) = self
            .contacts
            .get_mut(&contact)
            .and_then(|c| c.agent.as_mut())
        else {
            return Err(CommandError::Conflict(
                "the contact is no longer ringing".into(),
            ));
        };
        if agent.accepted {
            return Ok(());
        }
        agent.accepted = true;
        let port = agent.local_rtp.port();
        let sdp_offer = agent.session.offer(
            port,
            &super::CODECS,
            switchboard_media::sdp::Direction::SendRecv,
        );
        let mut ringing = false;
        for f in agent.forks.iter().filter(|f| !f.done) {
            ringing = true;
            if let Some(cancel) = super::agent::cancel_for(&f.invite) {
                let _ = tx.send_request(now.mono, cancel, f.peer);
            }
        }
        agent.reoffer = agent.forks.first().map(|f| super::agent::Reoffer {
            again: f.invite.clone(),
            targets,
            sdp_offer,
        });
        tracing::info!(%contact, agent = %user, "accepted in the panel");
        if !ringing {
            self.reoffer(now, tx, contact);
        }
        self.touch(contact);
        Ok(())
    }

    fn set_held(
        &mut self,
        now: Now,
        user: &str,
        contact: Uuid,
        connection: ConnectionKind,
        held: bool,
    ) -> Result<(), CommandError> {
        self.on_contact(user, contact)?;
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {contact}")))?;
        match connection {
            ConnectionKind::Customer => c.set_customer_held(held, now.unix_ms),
            ConnectionKind::ThirdParty => match c.third.as_mut().filter(|t| t.dialog.is_some()) {
                Some(t) => {
                    if t.held != held {
                        t.held = held;
                        t.since_unix_ms = now.unix_ms;
                    }
                }
                None => {
                    return Err(CommandError::Conflict(
                        "there is no connected third party on this contact".into(),
                    ));
                }
            },
        }
        self.apply_room(contact);
        self.save(contact, now);
        self.touch(contact);
        Ok(())
    }

    /// Join, Swap, Hold all: need a connected third party.
    fn with_third(
        &mut self,
        user: &str,
        contact: Uuid,
        change: impl FnOnce(&mut super::Contact),
        now: Now,
    ) -> Result<(), CommandError> {
        self.on_contact(user, contact)?;
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {contact}")))?;
        if c.third.as_ref().is_none_or(|t| t.dialog.is_none()) {
            return Err(CommandError::Conflict(
                "there is no connected third party on this contact".into(),
            ));
        }
        let third_before = c.third.as_ref().map(|t| t.held);
        change(c);
        c.sync_hold_record(now.unix_ms);
        if let Some(t) = c.third.as_mut()
            && Some(t.held) != third_before
        {
            t.since_unix_ms = now.unix_ms;
        }
        self.apply_room(contact);
        self.save(contact, now);
        self.touch(contact);
        Ok(())
    }

    /// Marks the agent of `contact` as needing a new snapshot.
    pub(super) fn touch(&mut self, contact: Uuid) {
        if let Some(a) = self.contacts.get(&contact).and_then(|c| c.agent.as_ref()) {
            self.panel_dirty.insert(a.username.clone());
        }
        if let Some(a) = self.routed_of(contact).and_then(|r| r.agent.clone()) {
            self.panel_dirty.insert(a);
        }
        for a in self.agents.iter() {
            if a.contact() == Some(contact) {
                self.panel_dirty.insert(a.username().to_string());
            }
        }
    }

    /// The snapshots that changed since the last call.
    pub fn take_snapshots(&mut self) -> Vec<AgentSnapshot> {
        if self.panel_dirty.is_empty() {
            return Vec::new();
        }
        let dirty: Vec<String> = self.panel_dirty.drain().collect();
        let mut out = Vec::new();
        for user in dirty {
            let Some(s) = self.snapshot(&user) else {
                continue;
            };
            if self.published.get(&user) != Some(&s) {
                self.published.insert(user, s.clone());
                out.push(s);
            }
        }
        out
    }

    /// What `user`'s panel shows now.
    pub fn snapshot(&self, user: &str) -> Option<AgentSnapshot> {
        let agent = self.agents.get(user)?;
        let u = self.config.users.get(user)?;
        let state = agent.state();
        let state_since = match agent.activity() {
            Activity::Idle => self.status_since.get(user).copied().unwrap_or(0),
            Activity::Incoming(s) => s.since_unix_ms,
            Activity::Busy(s) => s.since_unix_ms,
            Activity::AfterContactWork(s) => s.since_unix_ms,
            Activity::Missed(s) => s.since_unix_ms,
            Activity::Monitoring(s) => s.since_unix_ms,
        };
        let mut contacts = Vec::new();
        let mut monitoring = None;
        match (agent.contact(), agent.activity()) {
            (Some(id), Activity::Monitoring(m)) => {
                monitoring = self.contacts.get(&id).and_then(|c| {
                    let mon = c.monitors.iter().find(|x| x.username == user)?;
                    let agent_name = c.agent.as_ref().map(|a| a.username.clone())?;
                    Some(crate::control::MonitoringView {
                        contact: id,
                        agent_display_name: self
                            .config
                            .users
                            .get(&agent_name)
                            .map(|u| u.display_name.clone())
                            .unwrap_or_else(|| agent_name.clone()),
                        agent: agent_name,
                        mode: mon.mode,
                        connected: mon.dialog.is_some(),
                        since_unix_ms: m.since_unix_ms,
                    })
                });
            }
            (Some(id), activity) => contacts.extend(self.contact_view(user, id, activity)),
            (None, _) => {}
        }
        Some(AgentSnapshot {
            username: user.to_string(),
            display_name: u.display_name.clone(),
            status: agent.status().to_string(),
            state: state.as_str().to_string(),
            state_since_unix_ms: state_since,
            statuses: self
                .agents
                .statuses()
                .iter()
                .map(|s| StatusOption {
                    name: s.name.clone(),
                    routable: s.routable,
                })
                .collect(),
            phone: match u.phone {
                Phone::Softphone => "softphone".into(),
                Phone::DeskPhone { .. } => "desk_phone".into(),
            },
            phone_reachable: agent.is_reachable(),
            auto_accept: u.auto_accept,
            contacts,
            monitoring,
        })
    }

    fn contact_view(&self, user: &str, id: Uuid, activity: &Activity) -> Option<ContactView> {
        if let Some(o) = self.outbound.get(&id) {
            return Some(ContactView {
                id,
                state: ContactState::Connecting,
                initiation: o.record.initiation_method.as_str().to_string(),
                queue: o.record.queue.clone(),
                customer: Some(o.number.clone()),
                state_since_unix_ms: o.since_unix_ms,
                acw_until_unix_ms: None,
                connections: vec![ConnectionView {
                    kind: ConnectionKind::Customer,
                    endpoint: o.number.clone(),
                    state: ConnectionState::Connecting,
                    state_since_unix_ms: o.since_unix_ms,
                }],
            });
        }
        if let Some(view) = self.transfer_view(id, activity) {
            return Some(view);
        }
        let live = self.contacts.get(&id);
        let record = live.map(|c| &c.record).or_else(|| self.in_acw.get(&id))?;
        let (state, since) = match activity {
            Activity::Incoming(i) => {
                let accepted = live
                    .and_then(|c| c.agent.as_ref())
                    .is_some_and(|a| a.username == user && a.accepted);
                if accepted {
                    (ContactState::Connecting, i.since_unix_ms)
                } else {
                    (ContactState::Incoming, i.since_unix_ms)
                }
            }
            // Accepted but not bridged yet (the agent whisper playing): still connecting.
            Activity::Busy(b) if !b.connected => (ContactState::Connecting, b.since_unix_ms),
            Activity::Busy(b) => (ContactState::Connected, b.since_unix_ms),
            Activity::AfterContactWork(a) => (ContactState::Ended, a.since_unix_ms),
            Activity::Missed(m) => (ContactState::Missed, m.since_unix_ms),
            _ => (ContactState::Connected, 0),
        };
        let mut connections = Vec::new();
        if let Some(c) = live.filter(|_| state == ContactState::Connected) {
            connections.push(ConnectionView {
                kind: ConnectionKind::Customer,
                endpoint: record.customer_endpoint.clone().unwrap_or_default(),
                state: if c.customer_held {
                    ConnectionState::Hold
                } else {
                    ConnectionState::Connected
                },
                state_since_unix_ms: c.customer_since_unix_ms,
            });
            if let Some(t) = &c.third {
                connections.push(ConnectionView {
                    kind: ConnectionKind::ThirdParty,
                    endpoint: t.number.clone(),
                    state: match (&t.dialog, t.held) {
                        (None, _) => ConnectionState::Connecting,
                        (Some(_), true) => ConnectionState::Hold,
                        (Some(_), false) => ConnectionState::Connected,
                    },
                    state_since_unix_ms: t.since_unix_ms,
                });
            }
        }
        Some(ContactView {
            id,
            state,
            initiation: record.initiation_method.as_str().to_string(),
            queue: record.queue.clone(),
            customer: record.customer_endpoint.clone(),
            state_since_unix_ms: since,
            acw_until_unix_ms: self.agents.get(user).and_then(|a| a.acw_until()),
            connections,
        })
    }

    /// What the agent a transfer rings (or reached) sees while the transferring agent is
    /// still on the contact: the transfer's id, the customer (on hold unless joined) and the
    /// transferring agent as a third party.
    fn transfer_view(&self, next: Uuid, activity: &Activity) -> Option<ContactView> {
        let c = self.contacts.get(self.routed.get(&next)?)?;
        let t = c.third.as_ref()?;
        let r = t.routed.as_deref()?;
        let (state, since) = match activity {
            Activity::Incoming(i) => {
                if r.reoffer.is_some() {
                    (ContactState::Connecting, i.since_unix_ms)
                } else {
                    (ContactState::Incoming, i.since_unix_ms)
                }
            }
            Activity::Busy(b) if b.connected => (ContactState::Connected, b.since_unix_ms),
            Activity::Busy(b) => (ContactState::Connecting, b.since_unix_ms),
            _ => return None,
        };
        let mut connections = Vec::new();
        if state == ContactState::Connected {
            let they_hear = |held: bool| {
                if held || t.held {
                    ConnectionState::Hold
                } else {
                    ConnectionState::Connected
                }
            };
            connections.push(ConnectionView {
                kind: ConnectionKind::Customer,
                endpoint: c.record.customer_endpoint.clone().unwrap_or_default(),
                state: they_hear(c.customer_held),
                state_since_unix_ms: c.customer_since_unix_ms,
            });
            if let Some(a) = &c.agent {
                connections.push(ConnectionView {
                    kind: ConnectionKind::ThirdParty,
                    endpoint: self
                        .config
                        .users
                        .get(&a.username)
                        .map_or_else(|| a.username.clone(), |u| u.display_name.clone()),
                    state: they_hear(false),
                    state_since_unix_ms: t.since_unix_ms,
                });
            }
        }
        Some(ContactView {
            id: next,
            state,
            initiation: if r.queued.is_some() {
                crate::store::InitiationMethod::QueueTransfer
            } else {
                crate::store::InitiationMethod::Transfer
            }
            .as_str()
            .to_string(),
            queue: r.queued.as_ref().map(|(q, _)| q.clone()),
            customer: c.record.customer_endpoint.clone(),
            state_since_unix_ms: since,
            acw_until_unix_ms: None,
            connections,
        })
    }
}

//! Listen-in: a manager's phone is called (auto-answer on softphones, the desk phone rings)
//! and joins the contact's room as a monitor leg that hears the agent and the customer and
//! that nobody hears. Beyond Amazon Connect, the manager may switch the same session to
//! barge (everyone hears them) or whisper (only the agent hears them).
//!
//! Allowed only on a connected contact whose flow recorded agent and customer
//! (`set_recording_behavior: both`); the manager is Monitoring meanwhile. The session ends
//! when the manager hangs up or presses End, and when the agent's call ends.

use switchboard_media::engine::{LegId, LegParams};
use switchboard_media::room::Role;
use switchboard_media::sdp::{Direction, SdpSession};
use uuid::Uuid;

use super::agent::{Fork, cancel_for};
use super::uac::{ack_2xx, apply_answer, cancel_ringing};
use super::{CODECS, Calls};
use crate::control::{CommandError, MonitorMode};
use crate::endpoint::Now;
use crate::registrar::Registrar;
use crate::sip::dialog::Dialog;
use crate::sip::message::{Method, Response};
use crate::sip::transaction::{TransactionKey, Transactions};
use crate::store::AgentEventRow;

/// A manager on a contact.
#[derive(Debug)]
pub(super) struct Monitor {
    pub username: String,
    pub leg: LegId,
    pub session: SdpSession,
    pub forks: Vec<Fork>,
    /// Set once the manager's phone answered.
    pub dialog: Option<Dialog>,
    pub mode: MonitorMode,
}

impl Calls {
    /// The manager `user` starts listening in on `contact` in `mode`.
    pub(super) fn start_monitor(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        registrar: &Registrar,
        user: &str,
        contact: Uuid,
        mode: MonitorMode,
    ) -> Result<(), CommandError> {
        let c = self
            .contacts
            .get(&contact)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {contact}")))?;
        if c.agent.as_ref().is_none_or(|a| a.dialog.is_none()) {
            return Err(CommandError::Conflict(
                "the contact is not connected to an agent".into(),
            ));
        }
        if !c.record_call {
            return Err(CommandError::Conflict(
                "listen-in is only possible on contacts whose flow records agent and customer (set_recording_behavior: both)"
                    .into(),
            ));
        }
        if c.agent.as_ref().is_some_and(|a| a.username == user) {
            return Err(CommandError::Conflict(
                "you cannot monitor your own contact".into(),
            ));
        }
        let u = self
            .config
            .users
            .get(user)
            .cloned()
            .ok_or_else(|| CommandError::NotFound(format!("no user `{user}`")))?;
        let targets = self.phone_targets(registrar, &u);
        if targets.is_empty() {
            return Err(CommandError::Unavailable(
                "your phone cannot be reached: is it registered?".into(),
            ));
        }
        self.agents.start_monitoring(now.unix_ms, user, contact)?;
        // The start (the state change), then the mode it starts in: both stored in order.
        self.log_agent_events();
        self.monitor_mode_event(now, user, contact, mode);
        let (leg, local_rtp) = match self.media.create_leg(LegParams::pcmu()) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.agents.stop_monitoring(now.unix_ms, user);
                return Err(CommandError::Unavailable(format!("no media capacity: {e}")));
            }
        };
        let mut session = SdpSession::new(self.counter, local_rtp.ip());
        // We only send to the monitor unless it barges: still ask for sendrecv, so a mode
        // change needs no re-INVITE.
        let offer = session.offer(local_rtp.port(), &CODECS, Direction::SendRecv);
        let forks = self.ring(now, tx, contact, &u, targets, &offer, true, None);
        if forks.is_empty() {
            let _ = self.media.remove_leg(leg);
            let _ = self.agents.stop_monitoring(now.unix_ms, user);
            return Err(CommandError::Unavailable(
                "your phone cannot be reached".into(),
            ));
        }
        for f in &forks {
            self.by_monitor.insert(f.key.clone(), contact);
        }
        tracing::info!(%contact, manager = %user, mode = mode.as_str(), "monitoring: calling the manager's phone");
        if let Some(c) = self.contacts.get_mut(&contact) {
            c.monitors.push(Monitor {
                username: user.to_string(),
                leg,
                session,
                forks,
                dialog: None,
                mode,
            });
        }
        self.touch(contact);
        Ok(())
    }

    /// Switches `user`'s monitoring session to `mode`.
    pub(super) fn set_monitor_mode(
        &mut self,
        now: Now,
        user: &str,
        mode: MonitorMode,
    ) -> Result<(), CommandError> {
        let id = self.monitoring_contact(user)?;
        if let Some(m) = self
            .contacts
            .get_mut(&id)
            .and_then(|c| c.monitors.iter_mut().find(|m| m.username == user))
            && m.mode != mode
        {
            m.mode = mode;
            self.monitor_mode_event(now, user, id, mode);
        }
        tracing::info!(contact = %id, manager = %user, mode = mode.as_str(), "monitoring mode");
        self.apply_room(id);
        self.panel_dirty.insert(user.to_string());
        Ok(())
    }

    /// Stores the mode a monitoring session is in from now (listen, barge or whisper) as an
    /// agent event of the manager: Monitoring to Monitoring, reason `monitoring_mode_<mode>`,
    /// with the contact (whose record names the agent and the customer).
    fn monitor_mode_event(&mut self, now: Now, user: &str, contact: Uuid, mode: MonitorMode) {
        let state = crate::agents::AgentState::Monitoring.as_str().to_owned();
        self.events_out.push(AgentEventRow {
            id: None,
            at_unix_ms: now.unix_ms,
            username: user.to_owned(),
            from_state: state.clone(),
            to_state: state,
            reason: format!("monitoring_mode_{}", mode.as_str()),
            contact_id: Some(contact),
        });
    }

    fn monitoring_contact(&self, user: &str) -> Result<Uuid, CommandError> {
        self.contacts
            .iter()
            .find(|(_, c)| c.monitors.iter().any(|m| m.username == user))
            .map(|(id, _)| *id)
            .ok_or_else(|| CommandError::Conflict("you are not monitoring a contact".into()))
    }

    /// Ends `user`'s monitoring session (End in the panel).
    pub(super) fn stop_monitor(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        user: &str,
    ) -> Result<(), CommandError> {
        let id = self.monitoring_contact(user)?;
        self.hang_up_monitor(now, tx, id, user, true);
        Ok(())
    }

    /// Hangs up one monitor leg and ends the manager's Monitoring state.
    pub(super) fn hang_up_monitor(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        user: &str,
        send_bye: bool,
    ) {
        let local_sip = self.local_sip.to_string();
        let branch = format!("z9hG4bK{}", self.next_token());
        let Some(c) = self.contacts.get_mut(&id) else {
            return;
        };
        let Some(pos) = c.monitors.iter().position(|m| m.username == user) else {
            return;
        };
        let mut m = c.monitors.remove(pos);
        match m.dialog.as_mut() {
            Some(d) => {
                if send_bye {
                    let bye = d.request(Method::Bye, &local_sip, &branch, None, &[], None);
                    let _ = tx.send_request(now.mono, bye, d.peer);
                }
                self.by_call_id.remove(&d.call_id);
            }
            None => {
                for f in m.forks.iter().filter(|f| !f.done) {
                    if let Some(cancel) = cancel_for(&f.invite) {
                        let _ = tx.send_request(now.mono, cancel, f.peer);
                    }
                }
            }
        }
        for f in &m.forks {
            self.by_monitor.remove(&f.key);
        }
        let _ = self.media.remove_leg(m.leg);
        self.by_leg.remove(&m.leg);
        if let Err(e) = self.agents.stop_monitoring(now.unix_ms, user) {
            tracing::warn!(error = %e, "monitoring state out of step");
        }
        tracing::info!(contact = %id, manager = %user, "monitoring ended");
        self.apply_room(id);
    }

    /// Every monitor of a contact that is ending.
    pub(super) fn hang_up_monitors(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        let users: Vec<String> = self
            .contacts
            .get(&id)
            .map(|c| c.monitors.iter().map(|m| m.username.clone()).collect())
            .unwrap_or_default();
        for u in users {
            self.hang_up_monitor(now, tx, id, &u, true);
        }
    }

    /// A response or timeout for a manager's INVITE; false when not one.
    pub(super) fn on_monitor_tx(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        response: Option<&Response>,
    ) -> bool {
        let Some(id) = self.by_monitor.get(key).copied() else {
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
        let Some(m) = c
            .monitors
            .iter_mut()
            .find(|m| m.forks.iter().any(|f| &f.key == key))
        else {
            return true;
        };
        if let Some(f) = m.forks.iter_mut().find(|f| &f.key == key) {
            f.done = true;
        }
        let user = m.username.clone();
        match response.filter(|_| (200..300).contains(&code)) {
            Some(resp) if m.dialog.is_none() => {
                let Some(fork) = m.forks.iter().find(|f| &f.key == key) else {
                    return true;
                };
                let Some(dialog) =
                    ack_2xx(tx, local_sip, &ack_branch, &fork.invite, resp, fork.peer)
                else {
                    return true;
                };
                cancel_ringing(now.mono, tx, &mut m.forks);
                apply_answer(&self.media, &mut m.session, m.leg, resp, "manager");
                self.by_call_id.insert(dialog.call_id.clone(), id);
                m.dialog = Some(dialog);
                let leg = m.leg;
                if let Some(room) = c.room()
                    && let Err(e) = self.media.add_to_room(room, leg, Role::Monitor)
                {
                    tracing::warn!(error = %e, "cannot add the monitor to the room");
                }
                self.by_leg.insert(leg, id);
                tracing::info!(contact = %id, manager = %user, "monitoring: manager connected");
                self.apply_room(id);
            }
            Some(_) => {}
            None => {
                if m.dialog.is_none() && m.forks.iter().all(|f| f.done) {
                    tracing::info!(contact = %id, manager = %user, code, "monitoring: the manager's phone did not answer");
                    self.hang_up_monitor(now, tx, id, &user, false);
                }
            }
        }
        true
    }

    /// Who hears the monitors, given who is talking (see `apply_room`).
    pub(super) fn monitor_pairs(
        c: &super::Contact,
        talking: &[LegId],
        agent: Option<LegId>,
    ) -> Vec<(LegId, LegId)> {
        let mut pairs = Vec::new();
        for m in c.monitors.iter().filter(|m| m.dialog.is_some()) {
            for &t in talking {
                pairs.push((m.leg, t));
                match m.mode {
                    MonitorMode::Listen => {}
                    MonitorMode::Barge => pairs.push((t, m.leg)),
                    MonitorMode::Whisper => {
                        if Some(t) == agent {
                            pairs.push((t, m.leg));
                        }
                    }
                }
            }
        }
        pairs
    }
}

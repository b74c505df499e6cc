//! Agent states, sans-IO: every configured user is an [`Agent`] with a chosen status
//! (Available, Offline, Break, ...) and, on top of it, at most one system state: Incoming (a
//! contact is ringing), Busy, AfterContactWork, Missed or Monitoring (see `state.rs`).
//!
//! [`Agents`] is the registry the shell and the router drive. Methods take `now` in unix
//! milliseconds (the same wall clock the registrar and the event rows use) and never read a
//! clock. Every change of an agent's visible [`AgentState`] queues exactly one [`AgentEvent`]
//! (drain with [`Agents::poll_event`]) for the store and the panel; refused operations change
//! nothing and say why. After-contact work ends on its own: arm a timer for
//! [`Agents::poll_timeout`] and call [`Agents::handle_timeout`].
//!
//! Invariants: an agent is offered one contact at a time and only while routable (routable
//! status, no system state, reachable: a desk phone always, a softphone while registered).

mod state;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

pub use state::{
    Activity, AfterContactWork, Agent, AgentEvent, AgentSpec, AgentState, ChangeReason, Incoming,
    MissReason, Missed, Monitoring, OnContact,
};

use crate::config::{AgentStatus, Config, Phone};

/// Contacts are identified by a UUID, made by the call layer.
pub type ContactId = uuid::Uuid;

/// The configured status agents start in, meaning logged out; config validation requires it.
pub const OFFLINE: &str = "Offline";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("no agent `{0}`")]
    UnknownAgent(String),
    #[error("unknown status `{name}`; the configured statuses are {}", known.join(", "))]
    UnknownStatus { name: String, known: Vec<String> },
    #[error("agent `{username}` is {state}: {why}")]
    Refused {
        username: String,
        state: AgentState,
        why: &'static str,
    },
    #[error("agent `{username}` is handling contact {expected:?}, not {got}")]
    WrongContact {
        username: String,
        expected: Option<ContactId>,
        got: ContactId,
    },
}

/// All agents, keyed by username, plus the events their changes produced.
#[derive(Debug, Clone)]
pub struct Agents {
    statuses: Vec<AgentStatus>,
    agents: BTreeMap<String, Agent>,
    events: VecDeque<AgentEvent>,
}

impl Agents {
    /// Every user of `config`, Offline and (softphones) unregistered.
    pub fn from_config(config: &Config) -> Agents {
        let specs = config.users.values().map(|u| AgentSpec {
            username: u.username.clone(),
            routing_profile: u.routing_profile.clone(),
            desk_phone: matches!(u.phone, Phone::DeskPhone { .. }),
            acw_timeout: u.acw_timeout,
        });
        Agents::new(config.agent_statuses.clone(), specs)
    }

    /// `statuses` must include `Offline` (config validation guarantees it).
    pub fn new(statuses: Vec<AgentStatus>, specs: impl IntoIterator<Item = AgentSpec>) -> Agents {
        let agents = specs
            .into_iter()
            .map(|spec| (spec.username.clone(), Agent::new(spec)))
            .collect();
        Agents {
            statuses,
            agents,
            events: VecDeque::new(),
        }
    }

    pub fn get(&self, username: &str) -> Option<&Agent> {
        self.agents.get(username)
    }

    /// In username order.
    pub fn iter(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// The configured statuses, in configured order (what the panel offers).
    pub fn statuses(&self) -> &[AgentStatus] {
        &self.statuses
    }

    /// The agent picks a configured status. Clears Missed and ends after-contact work; refused
    /// while a contact rings, while on a contact and while monitoring.
    pub fn set_status(&mut self, now: i64, username: &str, name: &str) -> Result<(), AgentError> {
        let Some(status) = self.statuses.iter().find(|s| s.name == name) else {
            return Err(AgentError::UnknownStatus {
                name: name.to_string(),
                known: self.statuses.iter().map(|s| s.name.clone()).collect(),
            });
        };
        let routable = status.routable;
        let status = status.name.clone();
        self.apply(username, |a| a.set_status(now, &status, routable))
    }

    /// The router offers `contact`: the agent's phone rings. Only while routable.
    pub fn offer(
        &mut self,
        now: i64,
        username: &str,
        contact: ContactId,
    ) -> Result<(), AgentError> {
        self.apply(username, |a| a.offer(now, contact))
    }

    /// The agent accepted the offered contact (answered, or Accept in the panel): Busy.
    pub fn offer_accepted(
        &mut self,
        now: i64,
        username: &str,
        contact: ContactId,
    ) -> Result<(), AgentError> {
        self.apply(username, |a| a.offer_accepted(now, contact))
    }

    /// The offer failed (rang out, 486, 603, rejected): Missed until the status is changed.
    pub fn offer_missed(
        &mut self,
        now: i64,
        username: &str,
        contact: ContactId,
        reason: MissReason,
    ) -> Result<(), AgentError> {
        self.apply(username, |a| a.offer_missed(now, contact, reason))
    }

    /// The offered contact went away before the agent accepted: back to the chosen status,
    /// idle time kept.
    pub fn offer_withdrawn(
        &mut self,
        now: i64,
        username: &str,
        contact: ContactId,
    ) -> Result<(), AgentError> {
        self.apply(username, |a| a.offer_withdrawn(now, contact))
    }

    /// The contact is bridged to the agent: from an offer (auto-accept, a desk phone picked up),
    /// after acceptance, or with no offer (an outbound call; not while Offline). For an
    /// outbound call, call it when the call is placed, so nothing is offered while it dials.
    pub fn contact_connected(
        &mut self,
        now: i64,
        username: &str,
        contact: ContactId,
    ) -> Result<(), AgentError> {
        self.apply(username, |a| a.contact_connected(now, contact))
    }

    /// The contact ended: after-contact work for the user's `acw_timeout`, or straight back to
    /// the chosen status when it is zero.
    pub fn contact_ended(
        &mut self,
        now: i64,
        username: &str,
        contact: ContactId,
    ) -> Result<(), AgentError> {
        self.apply(username, |a| a.contact_ended(now, contact))
    }

    /// The agent ends after-contact work early: back to the chosen status.
    pub fn clear_acw(&mut self, now: i64, username: &str) -> Result<(), AgentError> {
        self.apply(username, |a| a.end_acw(now, false))
    }

    /// Back to the chosen status after a missed contact (as picking that status again would).
    pub fn clear_missed(&mut self, now: i64, username: &str) -> Result<(), AgentError> {
        self.apply(username, |a| a.clear_missed(now))
    }

    /// A manager starts listening in on `contact`; only with nothing else going on.
    pub fn start_monitoring(
        &mut self,
        now: i64,
        username: &str,
        contact: ContactId,
    ) -> Result<(), AgentError> {
        self.apply(username, |a| a.start_monitoring(now, contact))
    }

    pub fn stop_monitoring(&mut self, now: i64, username: &str) -> Result<(), AgentError> {
        self.apply(username, |a| a.stop_monitoring(now))
    }

    /// Whether the user's softphone has at least one live binding (feed it from the
    /// registrar's `bindings_of(user)` whenever bindings change). Not a state change: no event.
    /// Desk-phone agents are reachable either way.
    pub fn set_registered(&mut self, username: &str, present: bool) -> Result<(), AgentError> {
        let agent = self
            .agents
            .get_mut(username)
            .ok_or_else(|| AgentError::UnknownAgent(username.to_string()))?;
        agent.set_registered(present);
        Ok(())
    }

    /// When the earliest after-contact work ends by itself.
    pub fn poll_timeout(&self) -> Option<i64> {
        self.agents.values().filter_map(Agent::acw_until).min()
    }

    /// Ends every after-contact work due at `now`.
    pub fn handle_timeout(&mut self, now: i64) {
        let due: Vec<String> = self
            .agents
            .values()
            .filter(|a| a.acw_until().is_some_and(|until| until <= now))
            .map(|a| a.username().to_string())
            .collect();
        for username in due {
            // Cannot fail: the agent is in after-contact work.
            let _ = self.apply(&username, |a| a.end_acw(now, true));
        }
    }

    /// The next queued state change, oldest first.
    pub fn poll_event(&mut self) -> Option<AgentEvent> {
        self.events.pop_front()
    }

    fn apply(
        &mut self,
        username: &str,
        op: impl FnOnce(&mut Agent) -> Result<Option<AgentEvent>, AgentError>,
    ) -> Result<(), AgentError> {
        let agent = self
            .agents
            .get_mut(username)
            .ok_or_else(|| AgentError::UnknownAgent(username.to_string()))?;
        if let Some(event) = op(agent)? {
            tracing::debug!(
                agent = %event.username, from = %event.from, to = %event.to,
                reason = %event.reason, "agent state"
            );
            self.events.push_back(event);
        }
        Ok(())
    }
}

//! One agent's state: the status they chose, and the system activity on top of it.
//!
//! The chosen status (a configured one: Available, Offline, Break, ...) stays underneath every
//! system state, so after a contact and its after-contact work the agent returns to what they
//! had chosen, as in Amazon Connect. The activity is one of the per-state structs below; each
//! holds only what is valid in that state, and transitions consume the old state.
//!
//! Every method takes `now` in unix milliseconds and returns the [`AgentEvent`] for the change
//! it made (none when the visible [`AgentState`] did not change), or why it refused.

use std::fmt;
use std::time::Duration;

use super::{AgentError, ContactId, OFFLINE};

/// What the panel shows and what an event row records: the chosen status when no system state
/// applies, otherwise the system state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// A configured status (Available, Offline, Break, ...), with nothing on top.
    Status(String),
    /// A contact is ringing the agent (offered, not yet accepted).
    Incoming,
    /// On a contact: accepted (whisper playing) or connected.
    Busy,
    AfterContactWork,
    /// An offered contact rang out or was rejected; not routable until the status is changed.
    Missed,
    /// A manager listening in on a contact.
    Monitoring,
}

impl AgentState {
    /// The name as stored and shown: the status name, or the system state's name.
    pub fn as_str(&self) -> &str {
        match self {
            AgentState::Status(name) => name,
            AgentState::Incoming => "Incoming",
            AgentState::Busy => "Busy",
            AgentState::AfterContactWork => "AfterContactWork",
            AgentState::Missed => "Missed",
            AgentState::Monitoring => "Monitoring",
        }
    }

    pub fn is_system(&self) -> bool {
        !matches!(self, AgentState::Status(_))
    }
}

/// Stored and pushed as its name, e.g. `"Available"` or `"AfterContactWork"`.
impl serde::Serialize for AgentState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an offered contact did not reach the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissReason {
    /// Nobody answered within `routing.ring_timeout`.
    RingTimeout,
    /// The phone answered 486 Busy Here.
    BusyHere,
    /// The phone answered 603 Decline.
    Declined,
    /// The agent rejected the contact in the panel.
    Rejected,
    /// The agent's phone could not be reached (an error response, no route).
    Failed,
}

impl MissReason {
    pub fn as_str(self) -> &'static str {
        match self {
            MissReason::RingTimeout => "ring_timeout",
            MissReason::BusyHere => "busy_here",
            MissReason::Declined => "declined",
            MissReason::Rejected => "rejected",
            MissReason::Failed => "failed",
        }
    }
}

/// Why a state changed; a fixed vocabulary (stored, and usable as a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeReason {
    /// The agent (or an admin) picked a status.
    StatusSet,
    /// The router offered a contact.
    Offered,
    /// The agent accepted the offered contact.
    Accepted,
    /// A contact was connected without an offer (an outbound call) or straight from the offer
    /// (auto-accept, a desk phone picked up).
    Connected,
    OfferMissed(MissReason),
    /// The offered contact went away (the customer hung up, or it left the queue) before the
    /// agent accepted.
    OfferWithdrawn,
    /// The contact ended (either side hung up).
    ContactEnded,
    AcwExpired,
    AcwCleared,
    MissedCleared,
    MonitoringStarted,
    MonitoringStopped,
}

impl ChangeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeReason::StatusSet => "status_set",
            ChangeReason::Offered => "offered",
            ChangeReason::Accepted => "accepted",
            ChangeReason::Connected => "connected",
            ChangeReason::OfferMissed(MissReason::RingTimeout) => "missed_ring_timeout",
            ChangeReason::OfferMissed(MissReason::BusyHere) => "missed_busy_here",
            ChangeReason::OfferMissed(MissReason::Declined) => "missed_declined",
            ChangeReason::OfferMissed(MissReason::Rejected) => "missed_rejected",
            ChangeReason::OfferMissed(MissReason::Failed) => "missed_failed",
            ChangeReason::OfferWithdrawn => "offer_withdrawn",
            ChangeReason::ContactEnded => "contact_ended",
            ChangeReason::AcwExpired => "acw_expired",
            ChangeReason::AcwCleared => "acw_cleared",
            ChangeReason::MissedCleared => "missed_cleared",
            ChangeReason::MonitoringStarted => "monitoring_started",
            ChangeReason::MonitoringStopped => "monitoring_stopped",
        }
    }
}

/// Stored and pushed as [`ChangeReason::as_str`], e.g. `"missed_ring_timeout"`.
impl serde::Serialize for ChangeReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for ChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change of an agent's visible state: stored as an event row (metrics derive from these)
/// and pushed to the panel (it serializes to JSON with the states and reason as strings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentEvent {
    pub at_unix_ms: i64,
    pub username: String,
    pub from: AgentState,
    pub to: AgentState,
    pub reason: ChangeReason,
    /// The contact the change is about (offered, handled, wrapped up, monitored), if any.
    pub contact: Option<ContactId>,
}

/// A contact is ringing the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub contact: ContactId,
    pub since_unix_ms: i64,
}

impl Incoming {
    fn accept(self, now: i64, connected: bool) -> OnContact {
        OnContact {
            contact: self.contact,
            since_unix_ms: now,
            connected,
        }
    }

    fn miss(self, now: i64, reason: MissReason) -> Missed {
        Missed {
            contact: self.contact,
            since_unix_ms: now,
            reason,
        }
    }
}

/// On a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnContact {
    pub contact: ContactId,
    pub since_unix_ms: i64,
    /// False while the agent leg is up but not yet bridged (the agent whisper playing).
    pub connected: bool,
}

impl OnContact {
    /// After-contact work for `acw`, or none when `acw` is zero.
    fn end(self, now: i64, acw: Duration) -> Option<AfterContactWork> {
        (!acw.is_zero()).then(|| AfterContactWork {
            contact: self.contact,
            since_unix_ms: now,
            until_unix_ms: now.saturating_add(duration_ms(acw)),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterContactWork {
    pub contact: ContactId,
    pub since_unix_ms: i64,
    /// When it ends by itself (the user's `acw_timeout` after the contact ended).
    pub until_unix_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    pub contact: ContactId,
    pub since_unix_ms: i64,
    pub reason: MissReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub contact: ContactId,
    pub since_unix_ms: i64,
}

/// The system state on top of the chosen status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// Nothing on top: the chosen status shows.
    Idle,
    Incoming(Incoming),
    Busy(OnContact),
    AfterContactWork(AfterContactWork),
    Missed(Missed),
    Monitoring(Monitoring),
}

impl Activity {
    fn contact(&self) -> Option<ContactId> {
        match self {
            Activity::Idle => None,
            Activity::Incoming(s) => Some(s.contact),
            Activity::Busy(s) => Some(s.contact),
            Activity::AfterContactWork(s) => Some(s.contact),
            Activity::Missed(s) => Some(s.contact),
            Activity::Monitoring(s) => Some(s.contact),
        }
    }
}

/// What the agent state machine needs to know about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    pub username: String,
    pub routing_profile: Option<String>,
    /// Desk phones are called through a trunk: always reachable, no binding needed.
    pub desk_phone: bool,
    /// Zero means no after-contact work.
    pub acw_timeout: Duration,
}

/// One agent. Created in the status named `Offline`, not yet idle.
#[derive(Debug, Clone)]
pub struct Agent {
    spec: AgentSpec,
    status: String,
    status_routable: bool,
    activity: Activity,
    registered: bool,
    idle_since: Option<i64>,
}

impl Agent {
    pub(super) fn new(spec: AgentSpec) -> Agent {
        Agent {
            spec,
            status: OFFLINE.to_string(),
            status_routable: false,
            activity: Activity::Idle,
            registered: false,
            idle_since: None,
        }
    }

    pub fn username(&self) -> &str {
        &self.spec.username
    }

    pub fn routing_profile(&self) -> Option<&str> {
        self.spec.routing_profile.as_deref()
    }

    /// The status the agent chose; it shows again once system states are over.
    pub fn status(&self) -> &str {
        &self.status
    }

    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    pub fn state(&self) -> AgentState {
        match &self.activity {
            Activity::Idle => AgentState::Status(self.status.clone()),
            Activity::Incoming(_) => AgentState::Incoming,
            Activity::Busy(_) => AgentState::Busy,
            Activity::AfterContactWork(_) => AgentState::AfterContactWork,
            Activity::Missed(_) => AgentState::Missed,
            Activity::Monitoring(_) => AgentState::Monitoring,
        }
    }

    /// The contact the agent is ringing for, on, wrapping up, missed or monitoring.
    pub fn contact(&self) -> Option<ContactId> {
        self.activity.contact()
    }

    /// Whether a contact can reach the agent's phone: a desk phone always (through the trunk),
    /// a softphone while it has at least one live binding.
    pub fn is_reachable(&self) -> bool {
        self.spec.desk_phone || self.registered
    }

    /// In a routable status with no system state on top (reachability aside).
    pub fn is_ready(&self) -> bool {
        self.status_routable && self.activity == Activity::Idle
    }

    /// Whether the router may offer this agent a contact now.
    pub fn is_routable(&self) -> bool {
        self.is_ready() && self.is_reachable()
    }

    /// Since when the agent has been idle, for longest-idle selection: the last moment they
    /// became ready to take a contact, that is, picked a routable status from a state that was
    /// not ready (Offline, Break, Missed, ...) or finished their last contact (end of after-
    /// contact work, or of the contact itself when there is none). A withdrawn offer does not
    /// reset it. Meaningful only while [`Agent::is_ready`].
    pub fn idle_since(&self) -> Option<i64> {
        self.idle_since
    }

    /// Online as Amazon Connect counts it: any status but Offline, whatever the activity.
    pub fn is_online(&self) -> bool {
        self.status != OFFLINE || self.activity != Activity::Idle
    }

    /// Staffed as Amazon Connect counts it: online and not in non-productive time, i.e. in a
    /// routable status, or busy with a contact (ringing, on it, wrapping up, missed).
    pub fn is_staffed(&self) -> bool {
        self.is_online()
            && (self.status_routable
                || matches!(
                    self.activity,
                    Activity::Incoming(_)
                        | Activity::Busy(_)
                        | Activity::AfterContactWork(_)
                        | Activity::Missed(_)
                ))
    }

    /// When after-contact work ends by itself, if the agent is in it.
    pub fn acw_until(&self) -> Option<i64> {
        match &self.activity {
            Activity::AfterContactWork(acw) => Some(acw.until_unix_ms),
            _ => None,
        }
    }

    pub(super) fn set_registered(&mut self, present: bool) {
        self.registered = present;
    }

    /// Picks `status` (known to be configured, routable or not).
    pub(super) fn set_status(
        &mut self,
        now: i64,
        status: &str,
        routable: bool,
    ) -> Result<Option<AgentEvent>, AgentError> {
        let reason = match &self.activity {
            Activity::Idle | Activity::Missed(_) | Activity::AfterContactWork(_) => {
                ChangeReason::StatusSet
            }
            Activity::Incoming(_) => {
                return Err(self.refused("a contact is ringing: accept or reject it first"));
            }
            Activity::Busy(_) => {
                return Err(self.refused(
                    "on a contact: change status after it ends (during after-contact work)",
                ));
            }
            Activity::Monitoring(_) => {
                return Err(self.refused("monitoring a contact: stop monitoring first"));
            }
        };
        let contact = self.activity.contact();
        Ok(self.change(
            now,
            Some((status, routable)),
            Activity::Idle,
            reason,
            contact,
        ))
    }

    pub(super) fn offer(
        &mut self,
        now: i64,
        contact: ContactId,
    ) -> Result<Option<AgentEvent>, AgentError> {
        if !self.is_ready() {
            return Err(self.refused("not in a routable status with nothing on top"));
        }
        if !self.is_reachable() {
            return Err(self.refused("the softphone has no registration"));
        }
        let incoming = Incoming {
            contact,
            since_unix_ms: now,
        };
        Ok(self.change(
            now,
            None,
            Activity::Incoming(incoming),
            ChangeReason::Offered,
            Some(contact),
        ))
    }

    fn take_incoming(&mut self, contact: ContactId) -> Result<Incoming, AgentError> {
        match &self.activity {
            Activity::Incoming(i) if i.contact == contact => Ok(i.clone()),
            Activity::Incoming(i) => Err(AgentError::WrongContact {
                username: self.spec.username.clone(),
                expected: Some(i.contact),
                got: contact,
            }),
            _ => Err(self.refused("no contact is being offered")),
        }
    }

    pub(super) fn offer_accepted(
        &mut self,
        now: i64,
        contact: ContactId,
    ) -> Result<Option<AgentEvent>, AgentError> {
        let on = self.take_incoming(contact)?.accept(now, false);
        Ok(self.change(
            now,
            None,
            Activity::Busy(on),
            ChangeReason::Accepted,
            Some(contact),
        ))
    }

    pub(super) fn offer_missed(
        &mut self,
        now: i64,
        contact: ContactId,
        reason: MissReason,
    ) -> Result<Option<AgentEvent>, AgentError> {
        let missed = self.take_incoming(contact)?.miss(now, reason);
        Ok(self.change(
            now,
            None,
            Activity::Missed(missed),
            ChangeReason::OfferMissed(reason),
            Some(contact),
        ))
    }

    pub(super) fn offer_withdrawn(
        &mut self,
        now: i64,
        contact: ContactId,
    ) -> Result<Option<AgentEvent>, AgentError> {
        self.take_incoming(contact)?;
        Ok(self.change(
            now,
            None,
            Activity::Idle,
            ChangeReason::OfferWithdrawn,
            Some(contact),
        ))
    }

    /// The contact's media is bridged to the agent: from the offer (auto-accept, desk phone),
    /// after acceptance (no visible change), or with no offer at all (an outbound call).
    pub(super) fn contact_connected(
        &mut self,
        now: i64,
        contact: ContactId,
    ) -> Result<Option<AgentEvent>, AgentError> {
        let on = match &mut self.activity {
            Activity::Busy(on) if on.contact == contact => {
                on.connected = true;
                return Ok(None);
            }
            Activity::Busy(on) => {
                return Err(AgentError::WrongContact {
                    username: self.spec.username.clone(),
                    expected: Some(on.contact),
                    got: contact,
                });
            }
            Activity::Incoming(_) => self.take_incoming(contact)?.accept(now, true),
            Activity::Idle if self.status != OFFLINE => OnContact {
                contact,
                since_unix_ms: now,
                connected: true,
            },
            Activity::Idle => return Err(self.refused("Offline: pick a status to make calls")),
            Activity::AfterContactWork(_) => {
                return Err(self.refused("in after-contact work: clear it first"));
            }
            Activity::Missed(_) => {
                return Err(self.refused("missed a contact: change status first"));
            }
            Activity::Monitoring(_) => {
                return Err(self.refused("monitoring a contact: stop monitoring first"));
            }
        };
        Ok(self.change(
            now,
            None,
            Activity::Busy(on),
            ChangeReason::Connected,
            Some(contact),
        ))
    }

    pub(super) fn contact_ended(
        &mut self,
        now: i64,
        contact: ContactId,
    ) -> Result<Option<AgentEvent>, AgentError> {
        let on = match &self.activity {
            Activity::Busy(on) if on.contact == contact => on.clone(),
            Activity::Busy(on) => {
                return Err(AgentError::WrongContact {
                    username: self.spec.username.clone(),
                    expected: Some(on.contact),
                    got: contact,
                });
            }
            _ => return Err(self.refused("not on a contact")),
        };
        let next = match on.end(now, self.spec.acw_timeout) {
            Some(acw) => Activity::AfterContactWork(acw),
            None => Activity::Idle,
        };
        let event = self.change(now, None, next, ChangeReason::ContactEnded, Some(contact));
        // Finishing a contact puts the agent at the back of the idle line, even when the
        // status was not routable (it may become so later; then set_status resets it again).
        if self.activity == Activity::Idle {
            self.idle_since = Some(now);
        }
        Ok(event)
    }

    /// Ends after-contact work: cleared by the agent (`expired` false) or timed out.
    pub(super) fn end_acw(
        &mut self,
        now: i64,
        expired: bool,
    ) -> Result<Option<AgentEvent>, AgentError> {
        let contact = match &self.activity {
            Activity::AfterContactWork(acw) => acw.contact,
            _ => return Err(self.refused("not in after-contact work")),
        };
        let reason = if expired {
            ChangeReason::AcwExpired
        } else {
            ChangeReason::AcwCleared
        };
        let event = self.change(now, None, Activity::Idle, reason, Some(contact));
        self.idle_since = Some(now);
        Ok(event)
    }

    pub(super) fn clear_missed(&mut self, now: i64) -> Result<Option<AgentEvent>, AgentError> {
        let contact = match &self.activity {
            Activity::Missed(m) => m.contact,
            _ => return Err(self.refused("no missed contact to clear")),
        };
        Ok(self.change(
            now,
            None,
            Activity::Idle,
            ChangeReason::MissedCleared,
            Some(contact),
        ))
    }

    pub(super) fn start_monitoring(
        &mut self,
        now: i64,
        contact: ContactId,
    ) -> Result<Option<AgentEvent>, AgentError> {
        if self.activity != Activity::Idle {
            return Err(self.refused("busy: finish the current contact first"));
        }
        let monitoring = Monitoring {
            contact,
            since_unix_ms: now,
        };
        Ok(self.change(
            now,
            None,
            Activity::Monitoring(monitoring),
            ChangeReason::MonitoringStarted,
            Some(contact),
        ))
    }

    pub(super) fn stop_monitoring(&mut self, now: i64) -> Result<Option<AgentEvent>, AgentError> {
        let contact = match &self.activity {
            Activity::Monitoring(m) => m.contact,
            _ => return Err(self.refused("not monitoring")),
        };
        Ok(self.change(
            now,
            None,
            Activity::Idle,
            ChangeReason::MonitoringStopped,
            Some(contact),
        ))
    }

    fn refused(&self, why: &'static str) -> AgentError {
        AgentError::Refused {
            username: self.spec.username.clone(),
            state: self.state(),
            why,
        }
    }

    /// Applies a transition and keeps `idle_since`: becoming ready from a state that was not
    /// (other than a withdrawn offer, which never made the agent stop being idle) resets it.
    fn change(
        &mut self,
        now: i64,
        status: Option<(&str, bool)>,
        activity: Activity,
        reason: ChangeReason,
        contact: Option<ContactId>,
    ) -> Option<AgentEvent> {
        let from = self.state();
        let was_ready = self.is_ready();
        let was_incoming = matches!(self.activity, Activity::Incoming(_));
        if let Some((name, routable)) = status {
            name.clone_into(&mut self.status);
            self.status_routable = routable;
        }
        self.activity = activity;
        if self.is_ready() && !was_ready && !was_incoming {
            self.idle_since = Some(now);
        }
        let to = self.state();
        (from != to).then(|| AgentEvent {
            at_unix_ms: now,
            username: self.spec.username.clone(),
            from,
            to,
            reason,
            contact,
        })
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

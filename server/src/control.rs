//! What the agent panel and the core say to each other, sans-IO.
//!
//! The API (HTTP and WebSocket) never touches call state: it sends a [`Command`] on behalf
//! of a logged-in user into the core loop, which applies it (or refuses it with a
//! [`CommandError`], changing nothing) and answers with the user's [`AgentSnapshot`]. After
//! every change the core publishes the snapshots of the agents it touched; the WebSocket
//! pushes them. A snapshot is the whole truth for one agent (modelled on the Amazon Connect
//! Streams API): their state and every contact they are on with its connections, so a page
//! that reconnects is back in step with one message.
//!
//! Permissions are the API's to check (it knows who is asking); the core checks that the
//! command makes sense in the current state.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An action an agent takes from the panel. Numbers are E.164 already: the API formats what
/// the agent typed (see [`crate::numbers`]) before sending the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Only read the agent's snapshot.
    Snapshot,
    /// Choose a configured status (Available, Offline, Break, ...).
    SetStatus { status: String },
    /// Answer the ringing contact (softphones: the phone is called again with auto-answer).
    Accept { contact: Uuid },
    /// Refuse the ringing contact: it goes back to its place in the queue and the agent
    /// goes to Missed.
    Reject { contact: Uuid },
    /// Put one connection on hold (it hears music), or take it off hold.
    Hold {
        contact: Uuid,
        connection: ConnectionKind,
    },
    Resume {
        contact: Uuid,
        connection: ConnectionKind,
    },
    /// Hang up one connection. Ending the customer ends the contact; ending the third party
    /// leaves the agent with the customer (still on hold if they were).
    EndConnection {
        contact: Uuid,
        connection: ConnectionKind,
    },
    /// Reach a third party while the customer waits on hold with music.
    Transfer {
        contact: Uuid,
        target: TransferTarget,
    },
    /// All three parties hear each other.
    Join { contact: Uuid },
    /// Talk to the party on hold; the one the agent was talking to goes on hold.
    Swap { contact: Uuid },
    /// Customer and third party both on hold.
    HoldAll { contact: Uuid },
    /// The agent drops out; customer and third party stay connected to each other.
    Leave { contact: Uuid },
    /// An outbound call: the agent's phone first, then the customer at `number`.
    Dial { number: String },
    /// End after-contact work for `contact`.
    ClearContact { contact: Uuid },
    /// Leave the Missed state: back to the chosen status.
    ClearMissed,
    /// A manager listens in on `contact` (their phone is called).
    Monitor { contact: Uuid, mode: MonitorMode },
    /// Switch the manager's monitoring session between listen, barge and whisper.
    SetMonitorMode { mode: MonitorMode },
    /// End the manager's monitoring session.
    StopMonitoring,
}

/// How a manager takes part in a monitored contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hears agent and customer; nobody hears the manager (needs ManagerListenIn).
    Listen,
    /// Everyone hears the manager (needs ManagerBargeIn).
    Barge,
    /// Only the agent hears the manager (needs ManagerWhisper).
    Whisper,
}

impl MonitorMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Barge => "barge",
            MonitorMode::Whisper => "whisper",
        }
    }
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// A configured quick connect, by name (the API has checked the agent may use it).
    QuickConnect(String),
    /// A number the agent dialed, in E.164.
    Number(String),
}

/// Why the core refused a command. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No such contact, connection or quick connect for this agent (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// Not possible in the current state, e.g. Join without a third party (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The input itself is wrong, e.g. an unknown status name (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    /// The server cannot do it right now, e.g. no media capacity (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
}

/// One agent as the panel shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentSnapshot {
    pub username: String,
    pub display_name: String,
    /// The status the agent chose (Available, Offline, Break, ...).
    pub status: String,
    /// What the agent is doing now: the chosen status, or a system state on top of it
    /// (Incoming, Busy, AfterContactWork, Missed, Monitoring).
    pub state: String,
    /// When `state` began (unix ms).
    pub state_since_unix_ms: i64,
    /// The statuses the agent may choose, in configured order.
    pub statuses: Vec<StatusOption>,
    /// `softphone` or `desk_phone` (a desk phone has no Accept: picking up answers).
    pub phone: String,
    /// The agent's phone is reachable (a softphone is registered; a desk phone always).
    pub phone_reachable: bool,
    pub auto_accept: bool,
    /// Contacts the agent is on, ringing, or wrapping up (oldest first). A contact a manager
    /// monitors is not theirs: it shows in `monitoring` instead.
    pub contacts: Vec<ContactView>,
    /// While the user monitors a contact (state Monitoring): whose, and how.
    pub monitoring: Option<MonitoringView>,
}

/// A manager's monitoring session as their panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MonitoringView {
    pub contact: Uuid,
    /// The monitored agent's user name and display name.
    pub agent: String,
    pub agent_display_name: String,
    pub mode: MonitorMode,
    /// The manager's phone has answered (until then it is being called).
    pub connected: bool,
    pub since_unix_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusOption {
    pub name: String,
    /// Contacts are routed to agents in this status.
    pub routable: bool,
}

/// A contact as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    pub state: ContactState,
    /// inbound, outbound, transfer or queue_transfer.
    pub initiation: String,
    pub queue: Option<String>,
    /// The customer's number or URI.
    pub customer: Option<String>,
    /// When `state` began (unix ms).
    pub state_since_unix_ms: i64,
    /// While in after-contact work: when it ends by itself (unix ms).
    pub acw_until_unix_ms: Option<i64>,
    /// The customer first, then the third party if there is one.
    pub connections: Vec<ConnectionView>,
}

/// Contact states, as in the Streams API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactState {
    /// Ringing the agent.
    Incoming,
    /// Accepted; the agent's phone is being connected (or an outbound call is dialing).
    Connecting,
    Connected,
    /// The contact is over; the agent is in after-contact work for it.
    Ended,
    /// The agent did not answer or rejected it.
    Missed,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionView {
    /// `customer` or `third_party`: what the commands name.
    pub kind: ConnectionKind,
    /// The number or URI of this party.
    pub endpoint: String,
    pub state: ConnectionState,
    /// When `state` began (unix ms).
    pub state_since_unix_ms: i64,
}

/// The two connections a contact can have besides the agent's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    Customer,
    ThirdParty,
}

impl ConnectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Customer => "customer",
            ConnectionKind::ThirdParty => "third_party",
        }
    }
}

/// Connection states, as in the Streams API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Being dialed.
    Connecting,
    Connected,
    Hold,
    Disconnected,
}

/// The whole floor as managers see it (the real-time metrics page, Prometheus gauges):
/// published by the core whenever it changes, at most a few times a second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FloorSnapshot {
    pub at_unix_ms: i64,
    pub queues: Vec<QueueFloor>,
    pub agents: Vec<AgentFloor>,
    /// Managers listening in (or barging, whispering) right now.
    pub monitoring_sessions: u32,
}

/// One queue, live. Today's figures count contacts that ended since midnight UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueFloor {
    pub name: String,
    pub contacts_in_queue: u32,
    pub oldest_contact_age_ms: Option<i64>,
    pub agents_online: u32,
    pub agents_staffed: u32,
    pub agents_available: u32,
    pub agents_on_contact: u32,
    pub agents_in_acw: u32,
    pub agents_missed: u32,
    pub handled_today: u32,
    pub abandoned_today: u32,
    /// Handled contacts answered within 20 s and within 60 s of being queued.
    pub answered_within_20s_today: u32,
    pub answered_within_60s_today: u32,
    /// Average of talk + hold + ACW over today's handled contacts whose ACW is over.
    pub average_handle_time_ms: Option<i64>,
}

/// One agent, live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentFloor {
    pub username: String,
    pub display_name: String,
    pub routing_profile: Option<String>,
    /// As in [`AgentSnapshot::state`].
    pub state: String,
    pub state_since_unix_ms: i64,
    pub contact: Option<Uuid>,
    pub queue: Option<String>,
    /// On a connected contact whose flow records agent and customer: listen-in is possible.
    pub listen_in_allowed: bool,
    /// Why listen-in is not possible while the agent is on a contact, in plain words.
    pub listen_in_reason: Option<String>,
}

//! The validated, typed configuration. Everything here has been checked: references resolve,
//! numbers are E.164, durations and addresses parsed. Other modules read these types and never
//! see YAML.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::flows::FlowFile;
use super::values::{OpenRange, PortRange};

/// Passwords shipped in `config/switchboard.yaml` and `bench/loadtest.yaml`. A server that
/// still uses them is a demo, whatever it listens on.
pub const DEMO_PASSWORDS: &[&str] = &[
    "demo-alice",
    "demo-bob",
    "demo-dave",
    "demo-maria",
    "secret",
];

/// The whole configuration, as loaded from one file plus the flow directory it names.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file, as given to [`super::load`].
    pub source: PathBuf,
    pub instance: Instance,
    pub sip: SipConfig,
    pub routing: RoutingConfig,
    pub http: HttpConfig,
    pub media: MediaConfig,
    pub storage: StorageConfig,
    pub security_profiles: BTreeMap<String, SecurityProfile>,
    /// In configured order (the order the agent panel shows them).
    pub agent_statuses: Vec<AgentStatus>,
    pub hours_of_operation: BTreeMap<String, HoursOfOperation>,
    pub queues: BTreeMap<String, Queue>,
    pub routing_profiles: BTreeMap<String, RoutingProfile>,
    /// Keyed by username.
    pub users: BTreeMap<String, User>,
    pub quick_connects: BTreeMap<String, QuickConnect>,
    /// Keyed by the E.164 number.
    pub phone_numbers: BTreeMap<String, PhoneNumber>,
    pub trunks: BTreeMap<String, Trunk>,
    /// The flow directory: `flows.directory` joined onto the config file's directory.
    pub flows_dir: PathBuf,
    /// Every `*.yaml` file in [`Config::flows_dir`], keyed by flow name.
    pub flows: BTreeMap<String, FlowFile>,
}

impl Config {
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.get(username)
    }

    /// Users whose password is one of [`DEMO_PASSWORDS`] (compared by HA1, so precomputed
    /// credentials are caught too). The server warns about them.
    pub fn users_with_demo_passwords(&self) -> Vec<&str> {
        self.users
            .values()
            .filter(|u| {
                DEMO_PASSWORDS.iter().any(|pw| {
                    Credentials::from_password(&u.username, &self.sip.domain, pw).ha1_md5
                        == u.credentials.ha1_md5
                })
            })
            .map(|u| u.username.as_str())
            .collect()
    }

    /// The trunk whose `inbound_sources` contain `ip`, if any: a request from there is a
    /// carrier's, not a phone's.
    pub fn trunk_for_source(&self, ip: IpAddr) -> Option<&Trunk> {
        self.trunks.values().find(|t| t.accepts_from(ip))
    }

    /// The configured agent status called `name`.
    pub fn agent_status(&self, name: &str) -> Option<&AgentStatus> {
        self.agent_statuses.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    /// ISO 3166-1 alpha-2, upper case: the country dialed numbers without `+` belong to.
    pub default_country: String,
}

#[derive(Debug, Clone)]
pub struct SipConfig {
    /// The SIP domain phones register to; also the digest realm.
    pub domain: String,
    pub listen_udp: SocketAddr,
    pub listen_tcp: SocketAddr,
    pub user_agent: String,
    pub registration: RegistrationConfig,
    pub auth: AuthConfig,
}

/// REGISTER expiry bounds (RFC 3261 §10.3): below `min_expires` we answer 423.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationConfig {
    pub min_expires: Duration,
    pub max_expires: Duration,
    /// Used when the REGISTER carries no expiry.
    pub default_expires: Duration,
}

/// Digest authentication and brute-force protection.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Digest algorithms offered in a challenge, most preferred first (RFC 8760 §2.4: a
    /// phone answers the first one it supports).
    pub algorithms: Vec<crate::sip::digest::Algorithm>,
    pub nonce_lifetime: Duration,
    /// Failed authentications from one source within `failure_window` before it is blocked.
    pub max_failures: u32,
    pub failure_window: Duration,
    pub block_for: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct RoutingConfig {
    /// How long an offered contact rings an agent before it counts as Missed.
    pub ring_timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// The address written into SDP: where phones and gateways send RTP.
    pub address: IpAddr,
    pub rtp_ports: PortRange,
    /// WAV played to held callers; `None` means silence.
    pub music_on_hold: Option<PathBuf>,
    /// SCHED_FIFO priority (1-99) for the mixing workers; `None`: ordinary scheduling.
    pub realtime_priority: Option<u8>,
}

/// Paths as written in the file; relative ones are relative to the server's working directory.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub recordings_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct SecurityProfile {
    pub name: String,
    pub permissions: BTreeSet<Permission>,
}

/// What a user may do. YAML spells them as in [`Permission::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    BasicAgentAccess,
    OutboundCallAccess,
    TransferDestinationsView,
    ManagerListenIn,
    ManagerBargeIn,
    ManagerWhisper,
    AccessMetrics,
    ListenCallRecordings,
    ContactSearch,
    UsersEdit,
    ContactFlowsEdit,
    RoutingEdit,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::BasicAgentAccess,
        Permission::OutboundCallAccess,
        Permission::TransferDestinationsView,
        Permission::ManagerListenIn,
        Permission::ManagerBargeIn,
        Permission::ManagerWhisper,
        Permission::AccessMetrics,
        Permission::ListenCallRecordings,
        Permission::ContactSearch,
        Permission::UsersEdit,
        Permission::ContactFlowsEdit,
        Permission::RoutingEdit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::BasicAgentAccess => "BasicAgentAccess",
            Permission::OutboundCallAccess => "OutboundCallAccess",
            Permission::TransferDestinationsView => "TransferDestinations.View",
            Permission::ManagerListenIn => "ManagerListenIn",
            Permission::ManagerBargeIn => "ManagerBargeIn",
            Permission::ManagerWhisper => "ManagerWhisper",
            Permission::AccessMetrics => "AccessMetrics",
            Permission::ListenCallRecordings => "ListenCallRecordings",
            Permission::ContactSearch => "ContactSearch",
            Permission::UsersEdit => "Users.Edit",
            Permission::ContactFlowsEdit => "ContactFlows.Edit",
            Permission::RoutingEdit => "Routing.Edit",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "unknown permission `{s}`, expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// An agent status an agent can pick. System states (Busy, AfterContactWork, Missed,
/// Monitoring) are not configured; they belong to the agent state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    pub name: String,
    /// Whether contacts are offered to an agent in this status.
    pub routable: bool,
}

/// Names the agent state machine owns; configuring them is an error.
pub const RESERVED_STATUS_NAMES: &[&str] = &[
    "Incoming",
    "Busy",
    "AfterContactWork",
    "Missed",
    "Monitoring",
];

#[derive(Debug, Clone)]
pub struct HoursOfOperation {
    pub name: String,
    /// The IANA name as written, e.g. "America/New_York".
    pub time_zone_name: String,
    pub time_zone: jiff::tz::TimeZone,
    /// Opening ranges per weekday, Monday first; an empty day is closed. Sorted, non-overlapping.
    pub weekly: [Vec<OpenRange>; 7],
}

impl HoursOfOperation {
    /// Whether the hours are open at instant `at` (in this schedule's time zone).
    pub fn is_open(&self, at: jiff::Timestamp) -> bool {
        let local = at.to_zoned_datetime(self.time_zone.clone());
        let day = usize::from(local.weekday().to_monday_zero_offset().unsigned_abs());
        let minute =
            u16::from(local.hour().unsigned_abs()) * 60 + u16::from(local.minute().unsigned_abs());
        self.weekly
            .get(day)
            .is_some_and(|ranges| ranges.iter().any(|r| r.contains(minute)))
    }
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    /// Name of a [`HoursOfOperation`].
    pub hours: String,
    /// Most contacts waiting at once; `None` means no limit.
    pub max_contacts: Option<u32>,
    /// E.164 number shown on outbound calls made from this queue.
    pub outbound_caller_id: Option<String>,
    /// Names of [`QuickConnect`]s offered to agents handling this queue's contacts.
    pub quick_connects: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RoutingProfile {
    pub name: String,
    /// In configured order.
    pub queues: Vec<RoutingProfileQueue>,
    /// Queue name; always one of `queues`.
    pub default_outbound_queue: String,
}

#[derive(Debug, Clone)]
pub struct RoutingProfileQueue {
    pub queue: String,
    /// 1 is the highest priority.
    pub priority: u32,
    /// How long a contact waits in the queue before agents of this profile are offered it.
    pub delay: Duration,
}

#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub display_name: String,
    pub credentials: Credentials,
    pub security_profiles: Vec<String>,
    /// Union of the permissions of `security_profiles`.
    pub permissions: BTreeSet<Permission>,
    pub routing_profile: Option<String>,
    pub phone: Phone,
    /// The trunk a desk phone is called through: `Some` exactly when `phone` is a desk phone.
    pub trunk: Option<String>,
    pub auto_accept: bool,
    /// After-contact work time; zero means no ACW.
    pub acw_timeout: Duration,
    pub country: Option<String>,
    /// The status the agent is in when the server starts (default Offline): for unattended
    /// lines and test centers; people normally choose theirs in the panel.
    pub initial_status: Option<String>,
}

impl User {
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

/// Digest HA1 values for the SIP realm (the configured `sip.domain`). The plain password is
/// never kept.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Lowercase hex MD5(username:realm:password).
    pub ha1_md5: String,
    /// Lowercase hex SHA-256(username:realm:password), RFC 8760.
    pub ha1_sha256: String,
}

impl Credentials {
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        let a1 = format!("{username}:{realm}:{password}");
        Credentials {
            ha1_md5: hex::encode(Md5::digest(a1.as_bytes())),
            ha1_sha256: hex::encode(Sha256::digest(a1.as_bytes())),
        }
    }
}

impl fmt::Debug for Credentials {
    /// HA1 values are password equivalents for digest auth: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phone {
    /// A SIP client that registers with us (or the web panel's own).
    Softphone,
    /// A phone reached by calling `number` (E.164) through the user's trunk.
    DeskPhone { number: String },
}

#[derive(Debug, Clone)]
pub struct QuickConnect {
    pub name: String,
    pub target: QuickConnectTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuickConnectTarget {
    /// Transfer to `username`, running `flow` (a transfer_to_agent flow).
    Agent { username: String, flow: String },
    /// Transfer into `queue`, running `flow` (a transfer_to_queue flow).
    Queue { queue: String, flow: String },
    /// Call `number` (E.164) through a trunk.
    External { number: String },
}

/// An inbound number: calls to it run `flow`, an inbound flow.
#[derive(Debug, Clone)]
pub struct PhoneNumber {
    pub number: String,
    pub flow: String,
}

#[derive(Debug, Clone)]
pub struct Trunk {
    pub name: String,
    /// The gateway outbound and desk-phone calls are sent to.
    pub address: SocketAddr,
    pub transport: Transport,
    /// Calls from these networks are accepted as this carrier's, without digest auth.
    pub inbound_sources: Vec<IpNet>,
}

impl Trunk {
    pub fn accepts_from(&self, ip: IpAddr) -> bool {
        self.inbound_sources.iter().any(|net| net.contains(&ip))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Udp,
    Tcp,
}

//! The YAML shape, exactly as written: serde structs with every value wrapped in [`Spanned`] so
//! validation can point at it. Nothing here is checked beyond YAML types and unknown keys; see
//! `validate.rs` for the rest.
//!
//! These types hold plain passwords, so they deliberately have no `Debug`.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::model::Transport;

pub(crate) type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub instance: RawInstance,
    pub sip: RawSip,
    #[serde(default)]
    pub routing: Option<RawRouting>,
    #[serde(default)]
    pub http: Option<RawHttp>,
    pub media: RawMedia,
    #[serde(default)]
    pub storage: Option<RawStorage>,
    #[serde(default)]
    pub flows: Option<RawFlows>,
    #[serde(default)]
    pub security_profiles: Vec<RawSecurityProfile>,
    #[serde(default)]
    pub agent_statuses: Option<S<Vec<RawAgentStatus>>>,
    #[serde(default)]
    pub hours_of_operation: Vec<RawHours>,
    #[serde(default)]
    pub queues: Vec<RawQueue>,
    #[serde(default)]
    pub routing_profiles: Vec<RawRoutingProfile>,
    #[serde(default)]
    pub users: Vec<RawUser>,
    #[serde(default)]
    pub quick_connects: Vec<RawQuickConnect>,
    #[serde(default)]
    pub phone_numbers: Vec<RawPhoneNumber>,
    #[serde(default)]
    pub trunks: Vec<RawTrunk>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInstance {
    pub name: S<String>,
    pub default_country: S<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSip {
    pub domain: S<String>,
    #[serde(default)]
    pub listen_udp: Option<S<String>>,
    #[serde(default)]
    pub listen_tcp: Option<S<String>>,
    #[serde(default)]
    pub user_agent: Option<S<String>>,
    #[serde(default)]
    pub registration: Option<RawRegistration>,
    #[serde(default)]
    pub auth: Option<RawAuth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegistration {
    #[serde(default)]
    pub min_expires: Option<S<String>>,
    #[serde(default)]
    pub max_expires: Option<S<String>>,
    #[serde(default)]
    pub default_expires: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    #[serde(default)]
    pub nonce_lifetime: Option<S<String>>,
    #[serde(default)]
    pub max_failures: Option<S<u32>>,
    #[serde(default)]
    pub failure_window: Option<S<String>>,
    #[serde(default)]
    pub block_for: Option<S<String>>,
    #[serde(default)]
    pub algorithms: Option<S<Vec<S<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouting {
    #[serde(default)]
    pub ring_timeout: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    #[serde(default)]
    pub listen: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMedia {
    pub address: S<String>,
    #[serde(default)]
    pub rtp_ports: Option<S<String>>,
    #[serde(default)]
    pub music_on_hold: Option<S<String>>,
    #[serde(default)]
    pub realtime_priority: Option<S<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorage {
    #[serde(default)]
    pub data_dir: Option<S<String>>,
    #[serde(default)]
    pub database_url: Option<S<String>>,
    #[serde(default)]
    pub recordings_dir: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlows {
    #[serde(default)]
    pub directory: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecurityProfile {
    pub name: S<String>,
    #[serde(default)]
    pub permissions: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgentStatus {
    pub name: S<String>,
    pub routable: S<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHours {
    pub name: S<String>,
    pub time_zone: S<String>,
    #[serde(default)]
    pub open: RawWeek,
}

/// Opening ranges per weekday; a day left out is closed.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWeek {
    #[serde(default)]
    pub monday: Vec<S<String>>,
    #[serde(default)]
    pub tuesday: Vec<S<String>>,
    #[serde(default)]
    pub wednesday: Vec<S<String>>,
    #[serde(default)]
    pub thursday: Vec<S<String>>,
    #[serde(default)]
    pub friday: Vec<S<String>>,
    #[serde(default)]
    pub saturday: Vec<S<String>>,
    #[serde(default)]
    pub sunday: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    pub name: S<String>,
    pub hours: S<String>,
    #[serde(default)]
    pub max_contacts: Option<S<u32>>,
    #[serde(default)]
    pub outbound_caller_id: Option<S<String>>,
    #[serde(default)]
    pub quick_connects: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoutingProfile {
    pub name: S<String>,
    pub queues: S<Vec<RawProfileQueue>>,
    pub default_outbound_queue: S<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfileQueue {
    pub queue: S<String>,
    pub priority: S<u32>,
    #[serde(default)]
    pub delay: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUser {
    pub username: S<String>,
    #[serde(default)]
    pub display_name: Option<S<String>>,
    #[serde(default)]
    pub password: Option<S<String>>,
    #[serde(default)]
    pub ha1_md5: Option<S<String>>,
    #[serde(default)]
    pub ha1_sha256: Option<S<String>>,
    pub security_profiles: S<Vec<S<String>>>,
    #[serde(default)]
    pub routing_profile: Option<S<String>>,
    pub phone: S<RawPhone>,
    #[serde(default)]
    pub trunk: Option<S<String>>,
    #[serde(default)]
    pub auto_accept: Option<S<bool>>,
    #[serde(default)]
    pub acw_timeout: Option<S<String>>,
    #[serde(default)]
    pub country: Option<S<String>>,
    #[serde(default)]
    pub initial_status: Option<S<String>>,
}

/// `phone: softphone` or `phone: { desk_phone: "+15550142" }`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawPhone {
    Softphone,
    DeskPhone(S<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuickConnect {
    pub name: S<String>,
    #[serde(default)]
    pub agent: Option<S<String>>,
    #[serde(default)]
    pub queue: Option<S<String>>,
    #[serde(default)]
    pub external: Option<S<String>>,
    #[serde(default)]
    pub flow: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPhoneNumber {
    pub number: S<String>,
    pub flow: S<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrunk {
    pub name: S<String>,
    pub address: S<String>,
    #[serde(default)]
    pub transport: Option<S<Transport>>,
    #[serde(default)]
    pub inbound_sources: Vec<S<String>>,
}

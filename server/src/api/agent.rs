//! What an agent does from the panel: status, contacts and their connections, transfers,
//! outbound calls, and the quick connects and number formatting those need.
//!
//! Each handler checks the permission its action needs against the live config, turns what
//! the agent typed into a [`Command`] (numbers into E.164 with the agent's country), and
//! hands it to the core, which applies it whole or not at all. The answer is the agent's
//! snapshot after the command. Path parameters are parsed here, after the session is
//! checked, so a request without a session is 401 whatever else is wrong with it.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::auth::{Agent, country_of};
use super::error::{ApiError, Body, ErrorBody, Params, Segments};
use crate::config::{Config, Permission, QuickConnect, QuickConnectTarget, User};
use crate::control::{AgentSnapshot, Command, ConnectionKind, TransferTarget};

type Snapshot = Result<Json<AgentSnapshot>, ApiError>;

async fn run(st: &AppState, agent: &Agent, command: Command) -> Snapshot {
    Ok(Json(st.core.command(agent.username(), command).await?))
}

fn contact_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id)
        .map_err(|_| ApiError::bad_request(format!("`{id}` is not a contact id (a UUID)")))
}

fn connection_kind(kind: &str) -> Result<ConnectionKind, ApiError> {
    match kind {
        "customer" => Ok(ConnectionKind::Customer),
        "third_party" => Ok(ConnectionKind::ThirdParty),
        _ => Err(ApiError::bad_request(format!(
            "`{kind}` is not a connection: use customer or third_party"
        ))),
    }
}

/// What the agent typed, in E.164 for their country.
fn e164(agent: &Agent, number: &str) -> Result<String, ApiError> {
    crate::numbers::to_e164(number, country_of(&agent.user, &agent.config))
        .map_err(|e| ApiError::unprocessable(e.to_string()))
}

/// The agent's snapshot.
#[utoipa::path(
    get,
    path = "/api/v1/agent",
    tag = "agent",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The agent's state and contacts.", body = AgentSnapshot),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess.", body = ErrorBody),
        (status = 503, description = "The server cannot answer now (shutting down).", body = ErrorBody),
    )
)]
pub async fn get_agent(State(st): State<AppState>, agent: Agent) -> Snapshot {
    run(&st, &agent, Command::Snapshot).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// One of the snapshot's `statuses`.
    pub status: String,
}

/// Choose a status (Available, Offline, Break, ...).
#[utoipa::path(
    put,
    path = "/api/v1/agent/status",
    tag = "agent",
    request_body = StatusRequest,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The status is set.", body = AgentSnapshot),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess.", body = ErrorBody),
        (status = 409, description = "Not possible in the agent's state.", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorBody),
        (status = 422, description = "No such status, or no `status` field.", body = ErrorBody),
        (status = 503, description = "The server cannot do it now.", body = ErrorBody),
    )
)]
pub async fn set_status(
    State(st): State<AppState>,
    agent: Agent,
    Body(req): Body<StatusRequest>,
) -> Snapshot {
    run(&st, &agent, Command::SetStatus { status: req.status }).await
}

/// Leave the Missed state, back to the chosen status.
#[utoipa::path(
    post,
    path = "/api/v1/agent/clear-missed",
    tag = "agent",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Missed is cleared.", body = AgentSnapshot),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess.", body = ErrorBody),
        (status = 409, description = "The agent is not in Missed.", body = ErrorBody),
        (status = 503, description = "The server cannot do it now.", body = ErrorBody),
    )
)]
pub async fn clear_missed(State(st): State<AppState>, agent: Agent) -> Snapshot {
    run(&st, &agent, Command::ClearMissed).await
}

/// One handler per contact action: `POST /api/v1/contacts/{id}/<action>`.
macro_rules! contact_action {
    ($(#[doc = $doc:literal])* $name:ident, $path:tt, $command:ident) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            post,
            path = $path,
            tag = "contacts",
            params(("id" = Uuid, Path, description = "The contact's id (a UUID).")),
            security(("session_cookie" = []), ("bearer" = [])),
            responses(
                (status = 200, description = "Done.", body = AgentSnapshot),
                (status = 400, description = "The id is not a UUID.", body = ErrorBody),
                (status = 401, description = "No live session.", body = ErrorBody),
                (status = 403, description = "The user lacks BasicAgentAccess.", body = ErrorBody),
                (status = 404, description = "The agent has no such contact.", body = ErrorBody),
                (status = 409, description = "Not possible in the contact's state.", body = ErrorBody),
                (status = 422, description = "The core refused the input.", body = ErrorBody),
                (status = 503, description = "The server cannot do it now.", body = ErrorBody),
            )
        )]
        pub async fn $name(
            State(st): State<AppState>,
            agent: Agent,
            Segments(id): Segments<String>,
        ) -> Snapshot {
            let contact = contact_id(&id)?;
            run(&st, &agent, Command::$command { contact }).await
        }
    };
}

contact_action!(
    /// Answer the ringing contact (softphones; a desk phone answers by picking up).
    accept, "/api/v1/contacts/{id}/accept", Accept
);
contact_action!(
    /// Refuse the ringing contact: it goes back to its queue and the agent to Missed.
    reject, "/api/v1/contacts/{id}/reject", Reject
);
contact_action!(
    /// End after-contact work for the contact.
    clear_contact, "/api/v1/contacts/{id}/clear", ClearContact
);
contact_action!(
    /// Conference: the customer, the third party and the agent all hear each other.
    join, "/api/v1/contacts/{id}/join", Join
);
contact_action!(
    /// Talk to the party on hold; the other goes on hold.
    swap, "/api/v1/contacts/{id}/swap", Swap
);
contact_action!(
    /// Put both the customer and the third party on hold.
    hold_all, "/api/v1/contacts/{id}/hold-all", HoldAll
);
contact_action!(
    /// The agent drops out; the customer and the third party stay connected.
    leave, "/api/v1/contacts/{id}/leave", Leave
);

/// One handler per connection action:
/// `POST /api/v1/contacts/{id}/connections/{kind}/<action>`.
macro_rules! connection_action {
    ($(#[doc = $doc:literal])* $name:ident, $path:tt, $command:ident) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            post,
            path = $path,
            tag = "contacts",
            params(
                ("id" = Uuid, Path, description = "The contact's id (a UUID)."),
                ("kind" = ConnectionKind, Path, description = "`customer` or `third_party`."),
            ),
            security(("session_cookie" = []), ("bearer" = [])),
            responses(
                (status = 200, description = "Done.", body = AgentSnapshot),
                (status = 400, description = "The id is not a UUID, or the kind is neither customer nor third_party.", body = ErrorBody),
                (status = 401, description = "No live session.", body = ErrorBody),
                (status = 403, description = "The user lacks BasicAgentAccess.", body = ErrorBody),
                (status = 404, description = "The agent has no such contact or connection.", body = ErrorBody),
                (status = 409, description = "Not possible in the connection's state.", body = ErrorBody),
                (status = 422, description = "The core refused the input.", body = ErrorBody),
                (status = 503, description = "The server cannot do it now.", body = ErrorBody),
            )
        )]
        pub async fn $name(
            State(st): State<AppState>,
            agent: Agent,
            Segments((id, kind)): Segments<(String, String)>,
        ) -> Snapshot {
            let contact = contact_id(&id)?;
            let connection = connection_kind(&kind)?;
            run(&st, &agent, Command::$command { contact, connection }).await
        }
    };
}

connection_action!(
    /// Put the connection on hold (it hears music).
    hold, "/api/v1/contacts/{id}/connections/{kind}/hold", Hold
);
connection_action!(
    /// Take the connection off hold.
    resume, "/api/v1/contacts/{id}/connections/{kind}/resume", Resume
);
connection_action!(
    /// Hang up the connection. Ending the customer ends the contact.
    end_connection, "/api/v1/contacts/{id}/connections/{kind}/end", EndConnection
);

/// What a quick connect reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuickConnectType {
    Agent,
    Queue,
    External,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuickConnectView {
    /// What the transfer names.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: QuickConnectType,
    /// The agent's user name, the queue's name, or the E.164 number.
    pub target: String,
}

impl QuickConnectView {
    fn of(q: &QuickConnect) -> QuickConnectView {
        let (kind, target) = match &q.target {
            QuickConnectTarget::Agent { username, .. } => (QuickConnectType::Agent, username),
            QuickConnectTarget::Queue { queue, .. } => (QuickConnectType::Queue, queue),
            QuickConnectTarget::External { number } => (QuickConnectType::External, number),
        };
        QuickConnectView {
            name: q.name.clone(),
            kind,
            target: target.clone(),
        }
    }
}

/// The quick connects `user` may use: those on the queues of their routing profile, in
/// the profile's queue order, each once; not one that reaches the user themselves.
pub fn quick_connects_for<'a>(user: &User, config: &'a Config) -> Vec<&'a QuickConnect> {
    let Some(profile) = user
        .routing_profile
        .as_ref()
        .and_then(|p| config.routing_profiles.get(p))
    else {
        return Vec::new();
    };
    let mut out: Vec<&QuickConnect> = Vec::new();
    let names = profile
        .queues
        .iter()
        .filter_map(|q| config.queues.get(&q.queue))
        .flat_map(|q| q.quick_connects.iter());
    for name in names {
        let Some(qc) = config.quick_connects.get(name) else {
            continue;
        };
        let to_self = matches!(&qc.target, QuickConnectTarget::Agent { username, .. } if *username == user.username);
        if !to_self && !out.iter().any(|o| o.name == qc.name) {
            out.push(qc);
        }
    }
    out
}

/// The quick connects the agent may transfer to.
#[utoipa::path(
    get,
    path = "/api/v1/quick-connects",
    tag = "contacts",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The agent's quick connects.", body = Vec<QuickConnectView>),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess or TransferDestinations.View.", body = ErrorBody),
    )
)]
pub async fn quick_connects(agent: Agent) -> Result<Json<Vec<QuickConnectView>>, ApiError> {
    agent.require(Permission::TransferDestinationsView)?;
    Ok(Json(
        quick_connects_for(&agent.user, &agent.config)
            .into_iter()
            .map(QuickConnectView::of)
            .collect(),
    ))
}

/// A transfer target: exactly one of the two fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// A quick connect's name, from `GET /api/v1/quick-connects`.
    #[serde(default)]
    pub quick_connect: Option<String>,
    /// A number as typed (national or international); formatted with the agent's country.
    #[serde(default)]
    pub number: Option<String>,
}

/// Reach a third party (the customer waits on hold): a quick connect, or a number.
#[utoipa::path(
    post,
    path = "/api/v1/contacts/{id}/transfer",
    tag = "contacts",
    params(("id" = Uuid, Path, description = "The contact's id (a UUID).")),
    request_body = TransferRequest,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The third party is being reached.", body = AgentSnapshot),
        (status = 400, description = "The id is not a UUID, or the body is not JSON.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess, TransferDestinations.View (quick connect) or OutboundCallAccess (number).", body = ErrorBody),
        (status = 404, description = "No such contact, or no such quick connect among the agent's.", body = ErrorBody),
        (status = 409, description = "Not possible in the contact's state.", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorBody),
        (status = 422, description = "Neither or both fields, or a number that cannot be dialed (the reason says why).", body = ErrorBody),
        (status = 503, description = "The server cannot do it now.", body = ErrorBody),
    )
)]
pub async fn transfer(
    State(st): State<AppState>,
    agent: Agent,
    Segments(id): Segments<String>,
    Body(req): Body<TransferRequest>,
) -> Snapshot {
    let contact = contact_id(&id)?;
    let target = match (req.quick_connect, req.number) {
        (Some(name), None) => {
            agent.require(Permission::TransferDestinationsView)?;
            if !quick_connects_for(&agent.user, &agent.config)
                .iter()
                .any(|q| q.name == name)
            {
                return Err(ApiError::not_found(format!(
                    "no quick connect `{name}` among yours"
                )));
            }
            TransferTarget::QuickConnect(name)
        }
        (None, Some(number)) => {
            agent.require(Permission::OutboundCallAccess)?;
            TransferTarget::Number(e164(&agent, &number)?)
        }
        _ => {
            return Err(ApiError::unprocessable(
                "give either `quick_connect` or `number`",
            ));
        }
    };
    run(&st, &agent, Command::Transfer { contact, target }).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialRequest {
    /// The customer's number as typed (national or international); formatted with the
    /// agent's country.
    pub number: String,
}

/// Call a customer: the agent's phone first, then the number.
#[utoipa::path(
    post,
    path = "/api/v1/calls",
    tag = "contacts",
    request_body = DialRequest,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The call is being placed.", body = AgentSnapshot),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess or OutboundCallAccess.", body = ErrorBody),
        (status = 409, description = "Not possible in the agent's state.", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorBody),
        (status = 422, description = "A number that cannot be dialed (the reason says why), or no `number`.", body = ErrorBody),
        (status = 503, description = "The server cannot do it now.", body = ErrorBody),
    )
)]
pub async fn dial(
    State(st): State<AppState>,
    agent: Agent,
    Body(req): Body<DialRequest>,
) -> Snapshot {
    agent.require(Permission::OutboundCallAccess)?;
    let number = e164(&agent, &req.number)?;
    run(&st, &agent, Command::Dial { number }).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// The number as typed.
    pub number: String,
    /// ISO 3166-1 alpha-2 country to read a national number in; default the agent's.
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Formatted {
    pub e164: String,
}

/// A typed number in E.164, or the reason it cannot be dialed: for the dial pad.
#[utoipa::path(
    get,
    path = "/api/v1/numbers/format",
    tag = "contacts",
    params(FormatQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The number in E.164.", body = Formatted),
        (status = 400, description = "No `number` in the query.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess.", body = ErrorBody),
        (status = 422, description = "The number cannot be dialed, or the country is unknown (the reason says why).", body = ErrorBody),
    )
)]
pub async fn format_number(
    agent: Agent,
    Params(q): Params<FormatQuery>,
) -> Result<Json<Formatted>, ApiError> {
    let country = match q.country.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => c.to_ascii_uppercase(),
        _ => country_of(&agent.user, &agent.config).to_string(),
    };
    let e164 = crate::numbers::to_e164(&q.number, &country)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    Ok(Json(Formatted { e164 }))
}

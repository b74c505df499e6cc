//! What a manager does: the floor (queues and agents, live) and listen-in, with barge and
//! whisper beyond Amazon Connect.
//!
//! Listen-in needs ManagerListenIn; switching to barge needs ManagerBargeIn, to whisper
//! ManagerWhisper. The core refuses (409, with the reason the page shows) a contact whose
//! flow did not record agent and customer, or a manager who is busy.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::auth::Agent;
use super::error::{ApiError, Body, ErrorBody};
use crate::config::Permission;
use crate::control::{AgentSnapshot, Command, FloorSnapshot, MonitorMode};

type Snapshot = Result<Json<AgentSnapshot>, ApiError>;

/// The permission each monitoring mode needs.
fn permission_for(mode: MonitorMode) -> Permission {
    match mode {
        MonitorMode::Listen => Permission::ManagerListenIn,
        MonitorMode::Barge => Permission::ManagerBargeIn,
        MonitorMode::Whisper => Permission::ManagerWhisper,
    }
}

/// The floor now: queues and agents (AccessMetrics). Live changes come on the events socket.
#[utoipa::path(
    get,
    path = "/api/v1/floor",
    tag = "manager",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Queues and agents, live.", body = FloorSnapshot),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess or AccessMetrics.", body = ErrorBody),
        (status = 503, description = "The server has not computed the floor yet.", body = ErrorBody),
    )
)]
pub async fn floor(
    State(st): State<AppState>,
    agent: Agent,
) -> Result<Json<FloorSnapshot>, ApiError> {
    agent.require(Permission::AccessMetrics)?;
    st.core.floor().map(|f| Json((*f).clone())).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the floor is not ready yet",
        )
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorRequest {
    /// The contact to listen in on (an agent's current contact, from the floor).
    pub contact: Uuid,
    /// listen (default), barge or whisper.
    #[serde(default)]
    pub mode: Option<MonitorMode>,
}

/// Listen in on a contact: the manager's phone is called and hears agent and customer.
#[utoipa::path(
    post,
    path = "/api/v1/monitor",
    tag = "manager",
    request_body = MonitorRequest,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The manager's phone is being connected; their state is Monitoring.", body = AgentSnapshot),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks the permission the mode needs.", body = ErrorBody),
        (status = 404, description = "No such contact.", body = ErrorBody),
        (status = 409, description = "Not possible: the contact is not recorded, not connected, or the manager is busy.", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorBody),
        (status = 422, description = "A body of the wrong shape.", body = ErrorBody),
        (status = 503, description = "The manager's phone cannot be reached.", body = ErrorBody),
    )
)]
pub async fn start(
    State(st): State<AppState>,
    agent: Agent,
    Body(req): Body<MonitorRequest>,
) -> Snapshot {
    let mode = req.mode.unwrap_or(MonitorMode::Listen);
    agent.require(Permission::ManagerListenIn)?;
    agent.require(permission_for(mode))?;
    let command = Command::Monitor {
        contact: req.contact,
        mode,
    };
    Ok(Json(st.core.command(agent.username(), command).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeRequest {
    pub mode: MonitorMode,
}

/// Switch the monitoring session between listen, barge and whisper.
#[utoipa::path(
    put,
    path = "/api/v1/monitor/mode",
    tag = "manager",
    request_body = ModeRequest,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The mode is changed.", body = AgentSnapshot),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks the permission the mode needs.", body = ErrorBody),
        (status = 409, description = "The user is not monitoring.", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorBody),
        (status = 422, description = "No such mode.", body = ErrorBody),
        (status = 503, description = "The server cannot do it now.", body = ErrorBody),
    )
)]
pub async fn set_mode(
    State(st): State<AppState>,
    agent: Agent,
    Body(req): Body<ModeRequest>,
) -> Snapshot {
    agent.require(Permission::ManagerListenIn)?;
    agent.require(permission_for(req.mode))?;
    let command = Command::SetMonitorMode { mode: req.mode };
    Ok(Json(st.core.command(agent.username(), command).await?))
}

/// End the monitoring session (End call in the panel).
#[utoipa::path(
    delete,
    path = "/api/v1/monitor",
    tag = "manager",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Monitoring ended.", body = AgentSnapshot),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks ManagerListenIn.", body = ErrorBody),
        (status = 409, description = "The user is not monitoring.", body = ErrorBody),
        (status = 503, description = "The server cannot do it now.", body = ErrorBody),
    )
)]
pub async fn stop(State(st): State<AppState>, agent: Agent) -> Snapshot {
    agent.require(Permission::ManagerListenIn)?;
    Ok(Json(
        st.core
            .command(agent.username(), Command::StopMonitoring)
            .await?,
    ))
}

//! The agent panel's HTTP API under `/api/v1` (axum): log-in and sessions, the agent's
//! actions, and the live events WebSocket, described by the OpenAPI document served at
//! `/api/v1/openapi.json` (utoipa, generated from the same handlers and types).
//!
//! The API holds no call state: it checks who is asking and what they may do, against the
//! live config, and sends [`crate::control::Command`]s through the
//! [`CoreHandle`]. Invariants:
//! - every route but log-in and the OpenAPI document needs a live session (401 otherwise),
//!   and every panel route needs BasicAgentAccess (403 naming it);
//! - every refusal has the body [`ErrorBody`], including malformed input and unknown routes;
//! - a refused command changed nothing (the core applies commands whole or not at all).
//!
//! Files: `auth.rs` log-in and who is asking, `sessions.rs` and `limiter.rs` the sans-IO
//! session store and log-in rate limit, `agent.rs` the actions, `events.rs` the WebSocket,
//! `manager.rs` the floor and listen-in, `history.rs` contact records and agent events (search,
//! paging, CSV and JSON-lines export), `recordings.rs` a contact's recording, `error.rs` the
//! error shape.

pub mod agent;
pub mod auth;
pub mod error;
pub mod events;
pub mod history;
pub mod limiter;
pub mod manager;
pub mod recordings;
pub mod sessions;

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use tokio::sync::watch;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::io::panel::CoreHandle;
use crate::store::Store;
pub use error::{ApiError, ErrorBody};
use limiter::{LimitConfig, LoginLimiter};
use sessions::{SessionLimits, Sessions};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub core: CoreHandle,
    pub sessions: Arc<Mutex<Sessions>>,
    pub limiter: Arc<Mutex<LoginLimiter>>,
    /// Becomes `true` when the server stops: open WebSockets close.
    pub shutdown: watch::Receiver<bool>,
    /// Contact records and agent events, for history and recordings.
    pub store: Store,
}

impl AppState {
    pub fn new(
        core: CoreHandle,
        limits: SessionLimits,
        shutdown: watch::Receiver<bool>,
        store: Store,
    ) -> AppState {
        let login_limits = LimitConfig::from(&core.config().sip.auth);
        AppState {
            core,
            sessions: Arc::new(Mutex::new(Sessions::new(limits))),
            limiter: Arc::new(Mutex::new(LoginLimiter::new(login_limits))),
            shutdown,
            store,
        }
    }
}

/// Wall-clock now, in unix ms, from the I/O shell's clock.
pub(crate) fn now_ms() -> i64 {
    crate::io::clock::now().unix_ms
}

/// The API routes, with JSON answers for unknown routes and methods. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: log-in limits by peer address.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/login", post(auth::login))
        .route("/api/v1/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/agent", get(agent::get_agent))
        .route("/api/v1/agent/status", put(agent::set_status))
        .route("/api/v1/agent/clear-missed", post(agent::clear_missed))
        .route("/api/v1/contacts/{id}/accept", post(agent::accept))
        .route("/api/v1/contacts/{id}/reject", post(agent::reject))
        .route("/api/v1/contacts/{id}/clear", post(agent::clear_contact))
        .route("/api/v1/contacts/{id}/join", post(agent::join))
        .route("/api/v1/contacts/{id}/swap", post(agent::swap))
        .route("/api/v1/contacts/{id}/hold-all", post(agent::hold_all))
        .route("/api/v1/contacts/{id}/leave", post(agent::leave))
        .route("/api/v1/contacts/{id}/transfer", post(agent::transfer))
        .route(
            "/api/v1/contacts/{id}/connections/{kind}/hold",
            post(agent::hold),
        )
        .route(
            "/api/v1/contacts/{id}/connections/{kind}/resume",
            post(agent::resume),
        )
        .route(
            "/api/v1/contacts/{id}/connections/{kind}/end",
            post(agent::end_connection),
        )
        .route("/api/v1/quick-connects", get(agent::quick_connects))
        .route("/api/v1/calls", post(agent::dial))
        .route("/api/v1/numbers/format", get(agent::format_number))
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/floor", get(manager::floor))
        .route(
            "/api/v1/monitor",
            post(manager::start).delete(manager::stop),
        )
        .route("/api/v1/monitor/mode", put(manager::set_mode))
        .route("/api/v1/contacts", get(history::search_contacts))
        .route("/api/v1/contacts/{id}", get(history::get_contact))
        .route(
            "/api/v1/contacts/{id}/recording",
            get(recordings::get_recording),
        )
        .route("/api/v1/agent-events", get(history::agent_events))
        .fallback(error::no_such_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}

/// Session schemes, named by the routes' `security`.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                auth::COOKIE,
                "Set by POST /api/v1/login (HttpOnly, SameSite=Strict).",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The `token` from POST /api/v1/login."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "query_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "The `token` from POST /api/v1/login; only on /api/v1/events.",
            ))),
        );
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Switchboard agent panel API",
        description = "What the web Contact Control Panel uses: log in, agent status, contacts and their connections, transfers, outbound calls, live events. Every refusal is JSON: `{\"error\": \"...\", \"permission\": \"...\"}` (`permission` only on a 403 for a missing permission)."
    ),
    paths(
        openapi_json,
        auth::login,
        auth::logout,
        auth::me,
        agent::get_agent,
        agent::set_status,
        agent::clear_missed,
        agent::accept,
        agent::reject,
        agent::clear_contact,
        agent::join,
        agent::swap,
        agent::hold_all,
        agent::leave,
        agent::transfer,
        agent::hold,
        agent::resume,
        agent::end_connection,
        agent::quick_connects,
        agent::dial,
        agent::format_number,
        events::events,
        manager::floor,
        manager::start,
        manager::set_mode,
        manager::stop,
        history::search_contacts,
        history::get_contact,
        history::agent_events,
        recordings::get_recording,
    ),
    components(schemas(ErrorBody, events::Event, crate::store::history::ExportFormat)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "session", description = "Log in and out."),
        (name = "agent", description = "The agent's status and live state."),
        (name = "contacts", description = "Contacts, connections, transfers and calls."),
        (name = "manager", description = "The floor, live, and listen-in (barge, whisper)."),
        (name = "history", description = "Contact records and agent events: search, page, export as CSV or JSON lines; recordings."),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document, built once.
pub fn openapi_document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot render the document: {e}\"}}"))
    })
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "session",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json"))
)]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi_document(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_route_with_its_errors() {
        let doc: serde_json::Value = serde_json::from_str(openapi_document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 29, "{:?}", paths.keys().collect::<Vec<_>>());
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let public = path.ends_with("/login") || path.ends_with("/openapi.json");
                assert_eq!(
                    public,
                    op.get("security").is_none(),
                    "{method} {path}: security named exactly on routes that need a session"
                );
                assert!(
                    public || responses.contains_key("401"),
                    "{method} {path} documents its 401"
                );
                assert!(
                    responses.keys().any(|c| c.starts_with('2') || c == "101"),
                    "{method} {path} documents its success"
                );
            }
        }
        assert!(doc["components"]["schemas"]["AgentSnapshot"].is_object());
        for schema in [
            "ContactRecord",
            "ContactPage",
            "AgentEventPage",
            "ExportFormat",
        ] {
            assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
        }
        assert!(doc["components"]["securitySchemes"]["session_cookie"].is_object());
    }
}

//! `GET /api/v1/events`: the agent's snapshots over a WebSocket.
//!
//! On connect the page gets the agent's current snapshot, then every snapshot the core
//! publishes for this agent, in order. A socket that falls behind the core's notifications
//! is sent the latest snapshot instead of the ones it missed (a snapshot is the whole truth,
//! so nothing is lost but intermediate states). The socket closes when the session ends
//! (log-out, expiry, the user removed or losing BasicAgentAccess in a config reload) or the
//! server stops, with a close code that says which (see [`close_codes`]).
//!
//! Browsers cannot set headers on a WebSocket: besides the cookie and bearer header, the
//! token may come as `?token=`. A handshake from another site's page (an `Origin` that is not
//! this host) is refused, so a logged-in browser cannot be made to open the stream elsewhere.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Agent, Session, request_token};
use super::error::{ApiError, ErrorBody, Params};
use crate::config::Permission;
use crate::control::{AgentSnapshot, Command, FloorSnapshot};

/// Close codes the stream ends with.
pub mod close_codes {
    /// The server is stopping (RFC 6455 "going away"): reconnect later.
    pub const GOING_AWAY: u16 = 1001;
    /// The session ended (log-out or expiry): log in again.
    pub const SESSION_ENDED: u16 = 4401;
    /// The user no longer has BasicAgentAccess.
    pub const FORBIDDEN: u16 = 4403;
}

/// How often the session behind an open socket is checked (and renewed: an open panel is
/// an agent at work).
const SESSION_CHECK: Duration = Duration::from_secs(1);
/// A ping this often keeps idle proxies from dropping the socket.
const PING_EVERY_CHECKS: u32 = 30;

/// A message on the events socket, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The agent's whole state now.
    Snapshot { agent: AgentSnapshot },
    /// The floor (queues and agents, live), for users with AccessMetrics: first the current
    /// one, then one per change.
    Floor { floor: FloorSnapshot },
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The session token, for clients that can send neither the cookie nor a header.
    #[serde(default)]
    pub token: Option<String>,
}

/// Whether the handshake comes from a page of this host (or from no page at all).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// The agent's snapshots, live (WebSocket).
///
/// Each message is an [`Event`]: `{"type": "snapshot", "agent": {...}}`, first the current
/// one, then one per change. Close codes: 1001 the server is stopping, 4401 the session
/// ended, 4403 the user lost BasicAgentAccess.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "agent",
    params(EventsQuery),
    security(("session_cookie" = []), ("bearer" = []), ("query_token" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket; each message is an Event.", body = Event),
        (status = 400, description = "Not a WebSocket handshake.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess, or the page is on another site.", body = ErrorBody),
        (status = 503, description = "The server cannot answer now.", body = ErrorBody),
    )
)]
pub async fn events(
    State(st): State<AppState>,
    headers: HeaderMap,
    Params(q): Params<EventsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let token = request_token(&headers)
        .or(q.token)
        .ok_or_else(ApiError::unauthorized)?;
    let agent = Agent::new(&st, Session::find(&st, &token)?)?;
    if !same_origin(&headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the events stream is only for pages of this server",
        ));
    }
    let ws = ws.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let username = agent.username().to_string();
    // Subscribe before reading the snapshot, so no change falls between the two.
    let mut rx = st.core.subscribe();
    let mut current = st.core.command(&username, Command::Snapshot).await?;
    // Changes published before the read are already queued: the newest of them (if any) is
    // at least as new as the read, and the queue is drained so the page is not walked
    // back through older states.
    loop {
        match rx.try_recv() {
            Ok(s) if s.username == username => current = (*s).clone(),
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    let floor = agent
        .user
        .has(Permission::AccessMetrics)
        .then(|| st.core.subscribe_floor());
    Ok(ws.on_upgrade(move |socket| stream(socket, st, token, username, current, rx, floor)))
}

async fn send(socket: &mut WebSocket, agent: AgentSnapshot) -> bool {
    let Ok(text) = serde_json::to_string(&Event::Snapshot { agent }) else {
        return false;
    };
    socket.send(Message::text(text)).await.is_ok()
}

async fn send_floor(socket: &mut WebSocket, floor: FloorSnapshot) -> bool {
    let Ok(text) = serde_json::to_string(&Event::Floor { floor }) else {
        return false;
    };
    socket.send(Message::text(text)).await.is_ok()
}

/// The next floor for a subscriber; never, for a user without AccessMetrics.
async fn next_floor(
    rx: &mut Option<broadcast::Receiver<Arc<FloorSnapshot>>>,
) -> Result<Arc<FloorSnapshot>, RecvError> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Why an open socket's session no longer holds, if it does not.
fn session_gone(st: &AppState, token: &str) -> Option<(u16, &'static str)> {
    let Ok(session) = Session::find(st, token) else {
        return Some((close_codes::SESSION_ENDED, "the session has ended"));
    };
    match Agent::new(st, session) {
        Ok(_) => None,
        Err(e) if e.status == StatusCode::FORBIDDEN => Some((
            close_codes::FORBIDDEN,
            "the user no longer has BasicAgentAccess",
        )),
        Err(_) => Some((close_codes::SESSION_ENDED, "the session has ended")),
    }
}

async fn stream(
    mut socket: WebSocket,
    st: AppState,
    token: String,
    username: String,
    initial: AgentSnapshot,
    mut rx: broadcast::Receiver<Arc<AgentSnapshot>>,
    mut floor_rx: Option<broadcast::Receiver<Arc<FloorSnapshot>>>,
) {
    let mut shutdown = st.shutdown.clone();
    if *shutdown.borrow_and_update() {
        close(
            &mut socket,
            close_codes::GOING_AWAY,
            "the server is stopping",
        )
        .await;
        return;
    }
    if !send(&mut socket, initial).await {
        return;
    }
    if floor_rx.is_some()
        && let Some(f) = st.core.floor()
        && !send_floor(&mut socket, (*f).clone()).await
    {
        return;
    }
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    check.tick().await;
    let mut checks = 0u32;
    loop {
        tokio::select! {
            published = rx.recv() => match published {
                Ok(s) if s.username == username => {
                    if !send(&mut socket, (*s).clone()).await {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(user = %username, missed, "events socket fell behind; resending the latest snapshot");
                    let latest = match st.core.snapshot(&username) {
                        Some(s) => Some((*s).clone()),
                        None => st.core.command(&username, Command::Snapshot).await.ok(),
                    };
                    if let Some(s) = latest
                        && !send(&mut socket, s).await
                    {
                        return;
                    }
                }
                Err(RecvError::Closed) => {
                    close(&mut socket, close_codes::GOING_AWAY, "the server is stopping").await;
                    return;
                }
            },
            floor = next_floor(&mut floor_rx) => match floor {
                Ok(f) => {
                    if !send_floor(&mut socket, (*f).clone()).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    if let Some(f) = st.core.floor()
                        && !send_floor(&mut socket, (*f).clone()).await
                    {
                        return;
                    }
                }
                Err(RecvError::Closed) => floor_rx = None,
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by the socket itself; the page sends nothing else.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = check.tick() => {
                if let Some((code, reason)) = session_gone(&st, &token) {
                    close(&mut socket, code, reason).await;
                    return;
                }
                checks += 1;
                if checks.is_multiple_of(PING_EVERY_CHECKS)
                    && socket.send(Message::Ping(Default::default())).await.is_err()
                {
                    return;
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    close(&mut socket, close_codes::GOING_AWAY, "the server is stopping").await;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_pages_of_this_host_may_open_the_stream() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h), "no Origin: not a browser page");
        h.insert(header::HOST, HeaderValue::from_static("ccp.example:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://ccp.example:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn events_are_tagged_by_type() {
        let agent = AgentSnapshot {
            username: "alice".into(),
            display_name: "Alice".into(),
            status: "Offline".into(),
            state: "Offline".into(),
            state_since_unix_ms: 0,
            statuses: vec![],
            phone: "softphone".into(),
            phone_reachable: false,
            auto_accept: false,
            contacts: vec![],
            monitoring: None,
        };
        let v = serde_json::to_value(Event::Snapshot { agent }).unwrap();
        assert_eq!(v["type"], "snapshot");
        assert_eq!(v["agent"]["username"], "alice");
    }
}

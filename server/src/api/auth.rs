//! Log-in, log-out, and who is asking.
//!
//! A user logs in with the user name and password of their SIP phone. The password is never
//! stored: it is checked by hashing `user:realm:password` (realm = `sip.domain`) with
//! SHA-256 and comparing with the configured HA1 in constant time. An unknown user costs the
//! same hash as a known one and gets the same answer as a wrong password. Failures are
//! counted per source ([`super::limiter`]); a blocked source gets 429 even with the right
//! password. Only then is BasicAgentAccess required (403 naming it).
//!
//! Every other request names its session by the `sb_session` cookie (the page) or an
//! `Authorization: Bearer` header (scripts); the WebSocket also takes `?token=`, since a
//! browser cannot set headers on it. Permissions are read from the live config on every
//! request, never from the session.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, RequestPartsExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::error::{ApiError, Body, ErrorBody};
use super::limiter::LimitConfig;
use super::sessions::new_token;
use super::{AppState, now_ms};
use crate::config::{Config, Permission, Phone, User};

/// The session cookie's name.
pub const COOKIE: &str = "sb_session";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The logged-in user, as the panel shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub username: String,
    pub display_name: String,
    /// The user's permissions, spelled as in the config.
    pub permissions: Vec<String>,
    /// `softphone` or `desk_phone`.
    pub phone: String,
    /// ISO 3166-1 alpha-2 country numbers typed without `+` are read in: the user's own,
    /// else the instance's default.
    pub country: String,
}

impl UserView {
    pub fn of(user: &User, config: &Config) -> UserView {
        UserView {
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            permissions: user
                .permissions
                .iter()
                .map(|p| p.as_str().to_string())
                .collect(),
            phone: match user.phone {
                Phone::Softphone => "softphone",
                Phone::DeskPhone { .. } => "desk_phone",
            }
            .to_string(),
            country: country_of(user, config).to_string(),
        }
    }
}

/// The country a user's typed numbers are read in.
pub fn country_of<'a>(user: &'a User, config: &'a Config) -> &'a str {
    user.country
        .as_deref()
        .unwrap_or(&config.instance.default_country)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// The session token: send it as `Authorization: Bearer <token>` (the page uses the
    /// cookie set with it instead).
    pub token: String,
    /// When the session ends if not used again (unix ms). Each use moves it on, up to a
    /// fixed limit after log-in.
    pub expires_unix_ms: i64,
    pub user: UserView,
}

/// Whether `password` is `user`'s, by the SHA-256 HA1, compared in constant time. An
/// unknown user (`None`) costs the same hash and compare, against a dummy.
fn password_matches(config: &Config, username: &str, user: Option<&User>, password: &str) -> bool {
    let a1 = format!("{username}:{}:{password}", config.sip.domain);
    let computed = hex::encode(Sha256::digest(a1.as_bytes()));
    let dummy = "-".repeat(computed.len());
    let expected = user.map_or(dummy.as_str(), |u| u.credentials.ha1_sha256.as_str());
    let same: bool = computed.as_bytes().ct_eq(expected.as_bytes()).into();
    same && user.is_some()
}

fn session_cookie(token: &str, max_age_secs: i64) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}"
    ))
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot set the cookie"))
}

/// Log in with the user name and password of your phone.
#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set too.", body = LoginResponse,
            headers(("Set-Cookie" = String, description = "`sb_session=<token>; HttpOnly; SameSite=Strict; Path=/; Max-Age=<s>`"))),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 401, description = "Unknown user or wrong password (the same answer for both).", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess.", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorBody),
        (status = 422, description = "The JSON lacks `username` or `password`.", body = ErrorBody),
        (status = 429, description = "Too many failed log-ins from this address.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until log-ins are accepted again."))),
    )
)]
pub async fn login(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(req): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let config = st.core.config();
    let ip = peer.ip();
    {
        let mut limiter = st.limiter.lock().unwrap_or_else(|e| e.into_inner());
        limiter.set_config(LimitConfig::from(&config.sip.auth));
        if let Some(left_ms) = limiter.blocked_for(ip, now) {
            let secs = u64::try_from((left_ms + 999) / 1000).unwrap_or(1).max(1);
            return Err(ApiError::too_many(secs));
        }
    }
    let user = config.user(&req.username);
    if !password_matches(&config, &req.username, user, &req.password) {
        let blocked = st
            .limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failure(ip, now);
        if let Some(until) = blocked {
            tracing::warn!(%ip, until_unix_ms = until, "panel log-ins from this address blocked after repeated failures");
        }
        tracing::info!(%ip, "panel log-in failed");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password",
        ));
    }
    let Some(user) = user else {
        return Err(ApiError::unauthorized());
    };
    if !user.has(Permission::BasicAgentAccess) {
        return Err(ApiError::forbidden(Permission::BasicAgentAccess));
    }
    let token = new_token();
    let (info, limits) = {
        let mut sessions = st.sessions.lock().unwrap_or_else(|e| e.into_inner());
        (
            sessions.create(token.clone(), &user.username, now),
            sessions.limits(),
        )
    };
    tracing::info!(user = %user.username, %ip, "panel log-in");
    let cookie = session_cookie(&token, limits.absolute_ms / 1000)?;
    let body = LoginResponse {
        token,
        expires_unix_ms: info.expires_ms,
        user: UserView::of(user, &config),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// End this session (and clear the cookie).
#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "session",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Logged out; the cookie is cleared.",
            headers(("Set-Cookie" = String, description = "`sb_session=; Max-Age=0`"))),
        (status = 401, description = "No live session.", body = ErrorBody),
    )
)]
pub async fn logout(State(st): State<AppState>, session: Session) -> Result<Response, ApiError> {
    st.sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&session.token);
    tracing::info!(user = %session.username, "panel log-out");
    let cookie = session_cookie("", 0)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The logged-in user.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "session",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The logged-in user.", body = UserView),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess.", body = ErrorBody),
    )
)]
pub async fn me(agent: Agent) -> Json<UserView> {
    Json(UserView::of(&agent.user, &agent.config))
}

/// The token a request carries: the `sb_session` cookie, else a bearer header.
pub fn request_token(headers: &HeaderMap) -> Option<String> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string());
    from_cookie.or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_string())
            })
            .filter(|t| !t.is_empty())
    })
}

/// A request with a live session (any user who logged in).
#[derive(Debug, Clone)]
pub struct Session {
    pub username: String,
    pub token: String,
}

impl Session {
    /// Looks `token` up and marks the session used.
    pub fn find(st: &AppState, token: &str) -> Result<Session, ApiError> {
        let info = st
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .touch(token, now_ms())
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Session {
            username: info.username,
            token: token.to_string(),
        })
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let token = request_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        Session::find(st, &token)
    }
}

/// A request from a user who may use the panel: a live session, the user still in the live
/// config, and BasicAgentAccess there.
#[derive(Debug, Clone)]
pub struct Agent {
    pub session: Session,
    /// The live config this request is judged by.
    pub config: Arc<Config>,
    /// The user, as in `config`.
    pub user: User,
}

impl Agent {
    pub fn new(st: &AppState, session: Session) -> Result<Agent, ApiError> {
        let config = st.core.config();
        let Some(user) = config.user(&session.username) else {
            // The user was removed from the config: the session is void.
            st.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&session.token);
            return Err(ApiError::unauthorized());
        };
        if !user.has(Permission::BasicAgentAccess) {
            return Err(ApiError::forbidden(Permission::BasicAgentAccess));
        }
        let user = user.clone();
        Ok(Agent {
            session,
            config,
            user,
        })
    }

    pub fn username(&self) -> &str {
        &self.session.username
    }

    /// 403 naming `permission` unless the user has it.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.user.has(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(permission))
        }
    }
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let session: Session = parts.extract_with_state(st).await?;
        Agent::new(st, session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_cookie_or_a_bearer_header() {
        let mut h = HeaderMap::new();
        assert_eq!(request_token(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(request_token(&h).as_deref(), Some("abc"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; sb_session=def; x=1"),
        );
        assert_eq!(request_token(&h).as_deref(), Some("def"), "cookie first");
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(request_token(&h), None);
        h.insert(header::COOKIE, HeaderValue::from_static("sb_session="));
        assert_eq!(request_token(&h), None, "an empty (cleared) cookie is none");
    }
}

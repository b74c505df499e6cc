//! The HTTP listener: the agent panel (the page at `/` and the API under `/api/v1`, see
//! [`crate::api`]), `/metrics` (OpenMetrics text) and `/healthz`.
//!
//! The page is three files embedded in the binary (`server/web/`), served with a strict
//! Content-Security-Policy: scripts, styles and connections only from this server (nothing
//! inline, nothing from elsewhere), and no framing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, AppState, sessions::SessionLimits};
use crate::metrics::Metrics;

/// The panel page, embedded.
const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");

pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                        .into_response()
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
}

/// The web panel: `/`, `/app.js`, `/app.css`.
pub fn web_router() -> Router {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move {
                page(&headers, "text/html; charset=utf-8", INDEX_HTML)
            }),
        )
        .route(
            "/app.js",
            get(|headers: HeaderMap| async move {
                page(&headers, "text/javascript; charset=utf-8", APP_JS)
            }),
        )
        .route(
            "/app.css",
            get(|headers: HeaderMap| async move {
                page(&headers, "text/css; charset=utf-8", APP_CSS)
            }),
        )
}

/// The host the page was asked from, if it is safe to write into a header.
fn request_host(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let safe = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    safe.then_some(host)
}

/// The page's Content-Security-Policy. `connect-src 'self'` covers same-origin WebSockets
/// in current browsers; older ones (Safari before 15.4) need the ws:/wss: URL of this host
/// spelled out.
fn content_security_policy(headers: &HeaderMap) -> String {
    let sockets = request_host(headers)
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; connect-src 'self'{sockets}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

fn page(headers: &HeaderMap, content_type: &'static str, body: &'static str) -> Response {
    let csp = HeaderValue::from_str(&content_security_policy(headers))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, csp),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            // A new binary may bring a new page: browsers revalidate rather than guess.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    core: super::panel::CoreHandle,
    store: crate::store::Store,
    mut shutdown: watch::Receiver<bool>,
) {
    let state = AppState::new(core, SessionLimits::DEFAULT, shutdown.clone(), store);
    let app = router(metrics)
        .merge(web_router())
        .merge(api::router(state));
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = shutdown.changed().await;
    })
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "http server failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_this_host_for_websockets_and_nothing_else() {
        let mut h = HeaderMap::new();
        assert_eq!(
            content_security_policy(&h),
            "default-src 'self'; connect-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        h.insert(header::HOST, HeaderValue::from_static("10.0.0.5:8080"));
        assert!(
            content_security_policy(&h)
                .contains("connect-src 'self' ws://10.0.0.5:8080 wss://10.0.0.5:8080;")
        );
        h.insert(header::HOST, HeaderValue::from_static("x; script-src *"));
        assert!(!content_security_policy(&h).contains("script-src"));
    }
}

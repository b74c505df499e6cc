//! Opening the PostgreSQL backend: one pool, migrations applied on open.
//!
//! Tables live in the first schema of the connection's `search_path` (set it with
//! `?options=-c%20search_path%3D<schema>` in the URL to keep several stores in one database).
//!
//! `open` makes its first connection by hand: the pool retries a refused connection until its
//! timeout and then reports only "pool timed out", while the operator needs the real cause
//! (refused, unknown host, bad password). A server that refuses connections is retried for a
//! few seconds, as one still starting up does (docker compose).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use super::error::{StoreError, redact_url};

const MAX_CONNECTIONS: u32 = 8;
/// How long `open` and each statement wait for a free connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at a server that refuses connections; the waits between them add up to about 3.5 s.
const CONNECT_ATTEMPTS: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub(super) async fn open(url: &str) -> Result<PgPool, StoreError> {
    let redacted = redact_url(url);
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redacted.clone(),
        reason: e.to_string(),
    })?;
    let first = first_connection(&options)
        .await
        .map_err(|source| StoreError::Open {
            url: redacted.clone(),
            source,
        })?;
    // The server answers and accepts us: the pool's own first connection will not hang.
    if let Err(error) = first.close().await {
        tracing::debug!(%error, "closing the probe connection failed");
    }
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Open {
            url: redacted.clone(),
            source,
        })?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            url: redacted,
            source,
        })?;
    Ok(pool)
}

/// Connects once, retrying only while the server refuses connections.
async fn first_connection(options: &PgConnectOptions) -> Result<PgConnection, sqlx::Error> {
    let mut backoff = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(options)).await {
            Ok(Err(sqlx::Error::Io(e)))
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && attempt < CONNECT_ATTEMPTS => {}
            Ok(result) => return result,
            Err(_elapsed) => {
                return Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {} s", ACQUIRE_TIMEOUT.as_secs()),
                )));
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
        attempt += 1;
    }
}

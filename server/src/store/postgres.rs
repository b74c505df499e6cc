//! Opening the PostgreSQL backend: one pool, migrations applied on open.
//!
//! Tables live in the first schema of the connection's `search_path` (set it with
//! `?options=-c%20search_path%3D<schema>` in the URL to keep several stores in one database).

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::error::{StoreError, redact_url};

const MAX_CONNECTIONS: u32 = 8;
/// How long `open` and each statement wait for a free connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub(super) async fn open(url: &str) -> Result<PgPool, StoreError> {
    let redacted = redact_url(url);
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redacted.clone(),
        reason: e.to_string(),
    })?;
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

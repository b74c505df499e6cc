//! Persistence: one [`Store`] in front of SQLite (the default, an embedded file) or PostgreSQL,
//! chosen by the URL given to [`Store::open`] (`sqlite://path/to/file.db` or `postgres://...`).
//!
//! Invariants:
//! - The schema changes only through the migrations in `server/migrations/sqlite/` and
//!   `server/migrations/postgres/`, applied by [`Store::open`]; both backends hold the same tables
//!   with the same column meaning.
//! - SQLite runs in WAL mode with `synchronous=NORMAL` and a busy timeout, and has exactly one
//!   writer connection: every write goes through it, so writers queue in the pool instead of
//!   fighting over the file lock. Reads use a small separate pool of `query_only` connections.
//! - A call that takes a batch applies it in one transaction: all of it or none of it.
//! - The store never reads the clock; callers pass `now` in Unix milliseconds.
//!
//! Adding a table: a migration per backend, plus one file like `bindings.rs` holding its row
//! types and an `impl Store` block whose methods match on `Db` for the backend-specific SQL.

mod agent_events;
mod bindings;
mod contacts;
mod error;
pub mod history;
mod postgres;
mod sqlite;

pub use agent_events::{AgentEventQuery, AgentEventRow};
pub use bindings::{Binding, BindingChange};
pub use contacts::{
    Channel, ContactCursor, ContactQuery, ContactRecord, DisconnectReason, InitiationMethod,
    UnknownWord,
};
pub use error::{StoreError, redact_url};

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle. Cheap to clone: clones share the same connection pools.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

/// The backend and its pools; table files match on this.
#[derive(Debug, Clone)]
enum Db {
    Sqlite(sqlite::SqlitePools),
    Postgres(sqlx::PgPool),
}

impl Store {
    /// Connects to the database named by `url` and applies pending migrations.
    ///
    /// `sqlite://path/to/file.db` creates the parent directory and the file when missing
    /// (`sqlite:///abs/path.db` for an absolute path; `sqlite::memory:` for a throw-away
    /// database). `postgres://user:password@host:port/db` (or `postgresql://`) connects to an
    /// existing database; its tables go into the first schema on the `search_path`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let db = match scheme.as_str() {
            "sqlite" => Db::Sqlite(sqlite::open(url).await?),
            "postgres" | "postgresql" => Db::Postgres(postgres::open(url).await?),
            _ => {
                return Err(StoreError::InvalidUrl {
                    url: redact_url(url),
                    reason: "expected a sqlite:// or postgres:// URL".to_owned(),
                });
            }
        };
        tracing::info!(backend = ?db.backend(), url = %redact_url(url), "store opened");
        Ok(Store { db })
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Closes the pools of this store and all its clones, waiting for in-flight statements.
    /// SQLite first checkpoints the WAL into the main file and truncates it. Later calls on
    /// any clone fail with [`StoreError::Query`].
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pools) => pools.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Db {
    fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }
}

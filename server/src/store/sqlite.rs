//! Opening and closing the SQLite backend.
//!
//! Invariants: the writer pool holds exactly one connection, kept open for the life of the
//! store (WAL journal, `synchronous=NORMAL`, busy timeout); migrations run on it before any
//! reader connects. Reader connections are `query_only`, so a write sent to the wrong pool fails
//! loudly instead of competing for the write lock. An in-memory database has no file to share,
//! so there the reader pool is the writer pool.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::error::{StoreError, redact_url};

/// How long a statement waits for a lock held by another process (e.g. a backup tool) before
/// failing with SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers: enough for the API and the registrar to read side by side.
const MAX_READERS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Debug, Clone)]
pub(super) struct SqlitePools {
    /// One connection; every write goes here.
    pub(super) writer: SqlitePool,
    /// Query-only connections for reads (the writer itself for an in-memory database).
    pub(super) reader: SqlitePool,
}

pub(super) async fn open(url: &str) -> Result<SqlitePools, StoreError> {
    let redacted = redact_url(url);
    let base = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redacted.clone(),
        reason: e.to_string(),
    })?;
    let in_memory = is_in_memory(url);
    if let Some(dir) = base.get_filename().parent()
        && !in_memory
        && !dir.as_os_str().is_empty()
    {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
    }

    let writer_options = base
        .clone()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(writer_options)
        .await
        .map_err(|source| StoreError::Open {
            url: redacted.clone(),
            source,
        })?;
    MIGRATOR
        .run(&writer)
        .await
        .map_err(|source| StoreError::Migrate {
            url: redacted.clone(),
            source,
        })?;

    let reader = if in_memory {
        writer.clone()
    } else {
        let reader_options = base
            .create_if_missing(false)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("query_only", "ON");
        SqlitePoolOptions::new()
            .max_connections(MAX_READERS)
            .min_connections(0)
            .connect_with(reader_options)
            .await
            .map_err(|source| StoreError::Open {
                url: redacted,
                source,
            })?
    };
    Ok(SqlitePools { writer, reader })
}

/// `sqlite::memory:`, `sqlite://:memory:` and `?mode=memory` name a database without a file.
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory")
}

impl SqlitePools {
    pub(super) async fn close(&self) {
        if self.writer.is_closed() {
            return;
        }
        self.reader.close().await;
        // Fold the WAL back into the main file so the file alone is a complete copy.
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await
        {
            tracing::warn!(%error, "SQLite WAL checkpoint on close failed");
        }
        self.writer.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::is_in_memory;

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://x.db?mode=memory"));
        assert!(!is_in_memory("sqlite://data/x.db"));
        assert!(!is_in_memory("sqlite:///tmp/memory.db?mode=rwc"));
    }
}

//! The `agent_events` table: one row per change of an agent's visible state, appended in
//! batches; metrics derive from these.
//!
//! [`Store::insert_agent_events`] writes a batch as one set-based statement (over `json_each`
//! on SQLite, over `UNNEST`ed arrays on PostgreSQL), so a batch lands whole or not at all, and
//! its rows get ascending ids in batch order. [`Store::list_agent_events`] pages by id: pass the
//! last id seen as `after_id`. A reader tailing the table by id relies on ids committing in
//! order, which holds with one writer (SQLite always; on PostgreSQL, the server's one flushing
//! task): concurrent PostgreSQL writers could commit a lower id after a higher one was read.

use sqlx::{PgPool, Sqlite};

use super::contacts::parse_contact_id;
use super::sqlite::SqlitePools;
use super::{Db, Store, StoreError};
use crate::agents::{AgentEvent, ContactId};

/// One agent state change, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentEventRow {
    /// Assigned by the database: `None` on a row to insert (ignored if set), `Some` when read.
    pub id: Option<i64>,
    pub at_unix_ms: i64,
    /// Not empty (a database constraint).
    pub username: String,
    /// The state before: a configured status name or a system state (`Incoming`, `Busy`,
    /// `AfterContactWork`, `Missed`, `Monitoring`).
    pub from_state: String,
    /// The state after, in the same vocabulary; not empty (a database constraint).
    pub to_state: String,
    /// [`ChangeReason::as_str`](crate::agents::ChangeReason::as_str), e.g. `missed_ring_timeout`.
    pub reason: String,
    /// The contact the change is about, if any.
    pub contact_id: Option<ContactId>,
}

impl From<&AgentEvent> for AgentEventRow {
    fn from(event: &AgentEvent) -> AgentEventRow {
        AgentEventRow {
            id: None,
            at_unix_ms: event.at_unix_ms,
            username: event.username.clone(),
            from_state: event.from.as_str().to_owned(),
            to_state: event.to.as_str().to_owned(),
            reason: event.reason.as_str().to_owned(),
            contact_id: event.contact,
        }
    }
}

/// An event listing: `at_unix_ms` in `from_unix_ms..to_unix_ms` (half-open), optionally for
/// one user, ids above `after_id`, ordered by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEventQuery {
    pub from_unix_ms: i64,
    pub to_unix_ms: i64,
    pub username: Option<String>,
    /// At most this many rows (0 gives none).
    pub limit: u32,
    /// Start after this id: the previous page's last row's id.
    pub after_id: Option<i64>,
}

impl AgentEventQuery {
    /// Page size when the caller has no opinion.
    pub const DEFAULT_LIMIT: u32 = 1000;

    /// Every event in `from_unix_ms..to_unix_ms`, first page.
    pub fn between(from_unix_ms: i64, to_unix_ms: i64) -> AgentEventQuery {
        AgentEventQuery {
            from_unix_ms,
            to_unix_ms,
            username: None,
            limit: Self::DEFAULT_LIMIT,
            after_id: None,
        }
    }
}

/// The columns, in [`AgentEventRow`]'s field order.
macro_rules! columns {
    () => {
        "id, at_unix_ms, username, from_state, to_state, reason, contact_id"
    };
}

/// Identity and autoincrement ids start at 1: "after 0" is "from the start".
const BEFORE_FIRST_ID: i64 = 0;

impl Store {
    /// Appends `rows` in order, in one transaction: on error none of them is stored. Their
    /// `id`s are ignored; the database assigns ascending ones.
    pub async fn insert_agent_events(&self, rows: &[AgentEventRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let result = match &self.db {
            Db::Sqlite(pools) => sqlite_insert(pools, rows).await,
            Db::Postgres(pool) => postgres_insert(pool, rows).await,
        };
        result.map_err(StoreError::query("insert_agent_events"))?;
        tracing::trace!(rows = rows.len(), "agent events inserted");
        Ok(())
    }

    /// The events matching `query`, ordered by id.
    pub async fn list_agent_events(
        &self,
        query: &AgentEventQuery,
    ) -> Result<Vec<AgentEventRow>, StoreError> {
        let after_id = query.after_id.unwrap_or(BEFORE_FIRST_ID);
        let limit = i64::from(query.limit);
        let result = async {
            let rows = match (&self.db, &query.username) {
                (Db::Sqlite(pools), None) => {
                    sqlx::query_as::<_, EventRow>(concat!(
                        "SELECT ",
                        columns!(),
                        " FROM agent_events WHERE at_unix_ms >= ?1 AND at_unix_ms < ?2 \
                         AND id > ?3 ORDER BY id LIMIT ?4"
                    ))
                    .bind(query.from_unix_ms)
                    .bind(query.to_unix_ms)
                    .bind(after_id)
                    .bind(limit)
                    .fetch_all(&pools.reader)
                    .await?
                }
                (Db::Sqlite(pools), Some(username)) => {
                    sqlx::query_as::<_, EventRow>(concat!(
                        "SELECT ",
                        columns!(),
                        " FROM agent_events WHERE at_unix_ms >= ?1 AND at_unix_ms < ?2 \
                         AND id > ?3 AND username = ?5 ORDER BY id LIMIT ?4"
                    ))
                    .bind(query.from_unix_ms)
                    .bind(query.to_unix_ms)
                    .bind(after_id)
                    .bind(limit)
                    .bind(username.as_str())
                    .fetch_all(&pools.reader)
                    .await?
                }
                (Db::Postgres(pool), None) => {
                    sqlx::query_as::<_, EventRow>(concat!(
                        "SELECT ",
                        columns!(),
                        " FROM agent_events WHERE at_unix_ms >= $1 AND at_unix_ms < $2 \
                         AND id > $3 ORDER BY id LIMIT $4"
                    ))
                    .bind(query.from_unix_ms)
                    .bind(query.to_unix_ms)
                    .bind(after_id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                }
                (Db::Postgres(pool), Some(username)) => {
                    sqlx::query_as::<_, EventRow>(concat!(
                        "SELECT ",
                        columns!(),
                        " FROM agent_events WHERE at_unix_ms >= $1 AND at_unix_ms < $2 \
                         AND id > $3 AND username = $5 ORDER BY id LIMIT $4"
                    ))
                    .bind(query.from_unix_ms)
                    .bind(query.to_unix_ms)
                    .bind(after_id)
                    .bind(limit)
                    .bind(username.as_str())
                    .fetch_all(pool)
                    .await?
                }
            };
            rows.into_iter()
                .map(EventRow::into_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()
        };
        result.await.map_err(StoreError::query("list_agent_events"))
    }
}

/// A row for `json_each`, in insert column order.
type SqliteRow<'a> = (i64, &'a str, &'a str, &'a str, &'a str, Option<String>);

/// The batch as one JSON array of rows for `json_each` (SQLite has no array binds); a single
/// statement is atomic, and `ORDER BY key` hands the rows to the insert in batch order.
async fn sqlite_insert(pools: &SqlitePools, rows: &[AgentEventRow]) -> Result<(), sqlx::Error> {
    let encoded: Vec<SqliteRow<'_>> = rows
        .iter()
        .map(|r| {
            (
                r.at_unix_ms,
                r.username.as_str(),
                r.from_state.as_str(),
                r.to_state.as_str(),
                r.reason.as_str(),
                r.contact_id.map(|id| id.to_string()),
            )
        })
        .collect();
    let json = serde_json::to_string(&encoded).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query::<Sqlite>(
        "INSERT INTO agent_events (at_unix_ms, username, from_state, to_state, reason, \
         contact_id) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
         value ->> 5 FROM json_each(?1) ORDER BY key",
    )
    .bind(json)
    .execute(&pools.writer)
    .await?;
    Ok(())
}

/// The batch as column arrays for one `INSERT ... SELECT FROM UNNEST`, in batch order.
async fn postgres_insert(pool: &PgPool, rows: &[AgentEventRow]) -> Result<(), sqlx::Error> {
    let at: Vec<i64> = rows.iter().map(|r| r.at_unix_ms).collect();
    let username: Vec<&str> = rows.iter().map(|r| r.username.as_str()).collect();
    let from_state: Vec<&str> = rows.iter().map(|r| r.from_state.as_str()).collect();
    let to_state: Vec<&str> = rows.iter().map(|r| r.to_state.as_str()).collect();
    let reason: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
    let contact_id: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.contact_id.map(|id| id.to_string()))
        .collect();
    sqlx::query(
        "INSERT INTO agent_events (at_unix_ms, username, from_state, to_state, reason, \
         contact_id) SELECT at_unix_ms, username, from_state, to_state, reason, contact_id \
         FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
             WITH ORDINALITY AS e(at_unix_ms, username, from_state, to_state, reason, contact_id, n) \
         ORDER BY n",
    )
    .bind(&at)
    .bind(&username)
    .bind(&from_state)
    .bind(&to_state)
    .bind(&reason)
    .bind(&contact_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// A stored row as the database returns it, before parsing the contact id.
#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    at_unix_ms: i64,
    username: String,
    from_state: String,
    to_state: String,
    reason: String,
    contact_id: Option<String>,
}

impl EventRow {
    fn into_row(self) -> Result<AgentEventRow, sqlx::Error> {
        Ok(AgentEventRow {
            id: Some(self.id),
            at_unix_ms: self.at_unix_ms,
            username: self.username,
            from_state: self.from_state,
            to_state: self.to_state,
            reason: self.reason,
            contact_id: self
                .contact_id
                .as_deref()
                .map(parse_contact_id)
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::AgentEventRow;
    use crate::agents::{AgentEvent, AgentState, ChangeReason, ContactId, MissReason};

    #[test]
    fn an_agent_event_becomes_a_row_of_words() {
        let contact = ContactId::from_u128(7);
        let event = AgentEvent {
            at_unix_ms: 42,
            username: "alice".into(),
            from: AgentState::Incoming,
            to: AgentState::Missed,
            reason: ChangeReason::OfferMissed(MissReason::RingTimeout),
            contact: Some(contact),
        };
        assert_eq!(
            AgentEventRow::from(&event),
            AgentEventRow {
                id: None,
                at_unix_ms: 42,
                username: "alice".into(),
                from_state: "Incoming".into(),
                to_state: "Missed".into(),
                reason: "missed_ring_timeout".into(),
                contact_id: Some(contact),
            }
        );
        let status = AgentEvent {
            from: AgentState::Status("Offline".into()),
            to: AgentState::Status("Available".into()),
            reason: ChangeReason::StatusSet,
            contact: None,
            ..event
        };
        let row = AgentEventRow::from(&status);
        assert_eq!(
            (row.from_state.as_str(), row.to_state.as_str()),
            ("Offline", "Available")
        );
        assert_eq!(row.contact_id, None);
    }
}

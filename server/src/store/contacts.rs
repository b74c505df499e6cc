//! The `contacts` table: one [`ContactRecord`] per contact, after Amazon Connect's contact trace
//! records, written as the contact progresses and closed when it ends.
//!
//! [`Store::upsert_contact`] merges: a `None` field keeps what the row already holds (a record
//! written without the disconnect does not reopen a closed contact); every other field
//! overwrites. A write older than the row (`updated_at_unix_ms` below the stored one) changes
//! nothing, so a late write-behind cannot undo a newer one; writing the same record again is a
//! no-op. [`Store::close_contact`] closes an open contact once: the first close wins.
//!
//! Searches are time ranges over the initiation time, ordered by (initiation time, contact id),
//! paged by a keyset cursor ([`ContactCursor`]): a page starts strictly after the last row of
//! the previous one, so rows written meanwhile neither repeat nor shift a page. The statement is
//! put together from static fragments (one per filter given), values always bound, so each
//! filter combination is a prepared statement of its own and can use its index.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use sqlx::AssertSqlSafe;

use super::{Backend, Db, Store, StoreError};
use crate::agents::ContactId;

/// A vocabulary value was not one of the known words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{word}`; expected one of {}", expected.join(", "))]
pub struct UnknownWord {
    pub kind: &'static str,
    pub word: String,
    pub expected: &'static [&'static str],
}

/// A fixed vocabulary stored as text: `as_str`, `FromStr`, `Display`, and serialized as the word.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every word, in declaration order.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// The word as stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;

            fn from_str(word: &str) -> Result<Self, UnknownWord> {
                match word {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownWord { kind: $kind, word: word.to_owned(), expected: Self::WORDS }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// How the contact started.
    InitiationMethod, "initiation method" {
        /// A customer called in.
        Inbound => "inbound",
        /// An agent (or the system) called out.
        Outbound => "outbound",
        /// Transferred to an agent or an external number.
        Transfer => "transfer",
        /// Transferred to another queue.
        QueueTransfer => "queue_transfer",
        /// A callback the customer asked for.
        Callback => "callback",
    }
);

vocabulary!(
    /// Who or what ended the contact.
    DisconnectReason, "disconnect reason" {
        /// The customer hung up.
        Customer => "customer",
        /// The agent hung up.
        Agent => "agent",
        /// A third party (a conference participant, a transfer target) hung up.
        ThirdParty => "third_party",
        /// The contact flow disconnected the contact.
        Flow => "flow",
        /// A failure: a network or media error, an unreachable trunk.
        Error => "error",
    }
);

vocabulary!(
    /// The medium of the contact.
    Channel, "channel" {
        Voice => "voice",
    }
);

/// One contact's record. Times are Unix milliseconds, durations milliseconds; `None` means not
/// known (yet).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactRecord {
    pub contact_id: ContactId,
    /// The first contact of a chain of transfers (unset on that first contact itself).
    pub initial_contact_id: Option<ContactId>,
    /// The contact this one was transferred from.
    pub previous_contact_id: Option<ContactId>,
    /// The contact this one was transferred to.
    pub next_contact_id: Option<ContactId>,
    pub initiation_method: InitiationMethod,
    pub channel: Channel,
    /// The customer's number or URI (the caller on inbound, the callee on outbound).
    pub customer_endpoint: Option<String>,
    /// Our number or URI: the one dialled on inbound, the caller id presented on outbound.
    /// On the contact that continues a call transferred to a number, the number called.
    pub system_endpoint: Option<String>,
    pub initiation_unix_ms: i64,
    pub enqueue_unix_ms: Option<i64>,
    pub queue: Option<String>,
    pub agent_connected_unix_ms: Option<i64>,
    pub agent_username: Option<String>,
    /// How many times the contact was offered to an agent.
    pub connection_attempts: u32,
    pub disconnect_unix_ms: Option<i64>,
    pub disconnect_reason: Option<DisconnectReason>,
    pub hold_count: u32,
    /// Non-negative (a database constraint), as are the other durations.
    pub hold_duration_ms: i64,
    pub acw_duration_ms: Option<i64>,
    /// Contact attributes set by the flow; stored as a JSON object.
    pub attributes: BTreeMap<String, String>,
    pub recording_path: Option<String>,
    pub recording_duration_ms: Option<i64>,
    pub flow_name: Option<String>,
    /// The flow's version or content hash, when known.
    pub flow_version: Option<String>,
    /// When this state of the record was reached; orders writes (see the module docs).
    pub updated_at_unix_ms: i64,
}

impl ContactRecord {
    /// The record of a voice contact that has just started: nothing else known yet.
    pub fn new(
        contact_id: ContactId,
        initiation_method: InitiationMethod,
        initiation_unix_ms: i64,
    ) -> ContactRecord {
        ContactRecord {
            contact_id,
            initial_contact_id: None,
            previous_contact_id: None,
            next_contact_id: None,
            initiation_method,
            channel: Channel::Voice,
            customer_endpoint: None,
            system_endpoint: None,
            initiation_unix_ms,
            enqueue_unix_ms: None,
            queue: None,
            agent_connected_unix_ms: None,
            agent_username: None,
            connection_attempts: 0,
            disconnect_unix_ms: None,
            disconnect_reason: None,
            hold_count: 0,
            hold_duration_ms: 0,
            acw_duration_ms: None,
            attributes: BTreeMap::new(),
            recording_path: None,
            recording_duration_ms: None,
            flow_name: None,
            flow_version: None,
            updated_at_unix_ms: initiation_unix_ms,
        }
    }

    /// The cursor that makes the next page start after this record.
    pub fn cursor(&self) -> ContactCursor {
        ContactCursor {
            initiation_unix_ms: self.initiation_unix_ms,
            contact_id: self.contact_id,
        }
    }
}

/// A position in the (initiation time, contact id) order of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ContactCursor {
    pub initiation_unix_ms: i64,
    pub contact_id: ContactId,
}

/// A contact search: initiation time in `from_unix_ms..to_unix_ms` (half-open), every filter
/// given must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactQuery {
    pub from_unix_ms: i64,
    pub to_unix_ms: i64,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub disconnect_reason: Option<DisconnectReason>,
    /// At most this many records (0 gives none).
    pub limit: u32,
    /// Start after this position: the [`ContactRecord::cursor`] of the previous page's last row.
    pub after: Option<ContactCursor>,
}

impl ContactQuery {
    /// Page size when the caller has no opinion.
    pub const DEFAULT_LIMIT: u32 = 100;

    /// Every contact initiated in `from_unix_ms..to_unix_ms`, first page.
    pub fn between(from_unix_ms: i64, to_unix_ms: i64) -> ContactQuery {
        ContactQuery {
            from_unix_ms,
            to_unix_ms,
            queue: None,
            agent: None,
            disconnect_reason: None,
            limit: Self::DEFAULT_LIMIT,
            after: None,
        }
    }
}

/// The columns, in [`ContactRecord`]'s field order and the order of every insert's binds;
/// `$attributes` is how the attributes column is named (PostgreSQL reads JSONB as text).
macro_rules! columns {
    ($attributes:literal) => {
        concat!(
            "contact_id, initial_contact_id, previous_contact_id, next_contact_id, \
             initiation_method, channel, customer_endpoint, system_endpoint, initiation_unix_ms, \
             enqueue_unix_ms, queue, agent_connected_unix_ms, agent_username, \
             connection_attempts, disconnect_unix_ms, disconnect_reason, hold_count, \
             hold_duration_ms, acw_duration_ms, ",
            $attributes,
            ", recording_path, recording_duration_ms, flow_name, flow_version, updated_at_unix_ms"
        )
    };
}

/// The merge on conflict (see the module docs); the same SQL on both backends.
macro_rules! merge {
    () => {
        " ON CONFLICT (contact_id) DO UPDATE SET \
         initial_contact_id = COALESCE(excluded.initial_contact_id, contacts.initial_contact_id), \
         previous_contact_id = COALESCE(excluded.previous_contact_id, contacts.previous_contact_id), \
         next_contact_id = COALESCE(excluded.next_contact_id, contacts.next_contact_id), \
         initiation_method = excluded.initiation_method, channel = excluded.channel, \
         customer_endpoint = COALESCE(excluded.customer_endpoint, contacts.customer_endpoint), \
         system_endpoint = COALESCE(excluded.system_endpoint, contacts.system_endpoint), \
         initiation_unix_ms = excluded.initiation_unix_ms, \
         enqueue_unix_ms = COALESCE(excluded.enqueue_unix_ms, contacts.enqueue_unix_ms), \
         queue = COALESCE(excluded.queue, contacts.queue), \
         agent_connected_unix_ms = \
             COALESCE(excluded.agent_connected_unix_ms, contacts.agent_connected_unix_ms), \
         agent_username = COALESCE(excluded.agent_username, contacts.agent_username), \
         connection_attempts = excluded.connection_attempts, \
         disconnect_unix_ms = COALESCE(excluded.disconnect_unix_ms, contacts.disconnect_unix_ms), \
         disconnect_reason = COALESCE(excluded.disconnect_reason, contacts.disconnect_reason), \
         hold_count = excluded.hold_count, hold_duration_ms = excluded.hold_duration_ms, \
         acw_duration_ms = COALESCE(excluded.acw_duration_ms, contacts.acw_duration_ms), \
         attributes = excluded.attributes, \
         recording_path = COALESCE(excluded.recording_path, contacts.recording_path), \
         recording_duration_ms = \
             COALESCE(excluded.recording_duration_ms, contacts.recording_duration_ms), \
         flow_name = COALESCE(excluded.flow_name, contacts.flow_name), \
         flow_version = COALESCE(excluded.flow_version, contacts.flow_version), \
         updated_at_unix_ms = excluded.updated_at_unix_ms \
         WHERE excluded.updated_at_unix_ms >= contacts.updated_at_unix_ms"
    };
}

const SQLITE_UPSERT: &str = concat!(
    "INSERT INTO contacts (",
    columns!("attributes"),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
    merge!()
);
const POSTGRES_UPSERT: &str = concat!(
    "INSERT INTO contacts (",
    columns!("attributes"),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19, $20::jsonb, $21, $22, $23, $24, $25)",
    merge!()
);
const SQLITE_SELECT: &str = concat!("SELECT ", columns!("attributes"), " FROM contacts");
const POSTGRES_SELECT: &str = concat!(
    "SELECT ",
    columns!("attributes::text AS attributes"),
    " FROM contacts"
);

/// Binds a [`ContactParams`] in [`columns!`] order (a macro: the query types differ per backend).
macro_rules! bind_contact {
    ($query:expr, $p:expr) => {{
        let (p, r) = (&$p, $p.record);
        $query
            .bind(p.contact_id.as_str())
            .bind(p.initial_contact_id.as_deref())
            .bind(p.previous_contact_id.as_deref())
            .bind(p.next_contact_id.as_deref())
            .bind(r.initiation_method.as_str())
            .bind(r.channel.as_str())
            .bind(r.customer_endpoint.as_deref())
            .bind(r.system_endpoint.as_deref())
            .bind(r.initiation_unix_ms)
            .bind(r.enqueue_unix_ms)
            .bind(r.queue.as_deref())
            .bind(r.agent_connected_unix_ms)
            .bind(r.agent_username.as_deref())
            .bind(i64::from(r.connection_attempts))
            .bind(r.disconnect_unix_ms)
            .bind(r.disconnect_reason.map(DisconnectReason::as_str))
            .bind(i64::from(r.hold_count))
            .bind(r.hold_duration_ms)
            .bind(r.acw_duration_ms)
            .bind(p.attributes.as_str())
            .bind(r.recording_path.as_deref())
            .bind(r.recording_duration_ms)
            .bind(r.flow_name.as_deref())
            .bind(r.flow_version.as_deref())
            .bind(r.updated_at_unix_ms)
    }};
}

/// What a record needs encoded before binding.
struct ContactParams<'a> {
    record: &'a ContactRecord,
    contact_id: String,
    initial_contact_id: Option<String>,
    previous_contact_id: Option<String>,
    next_contact_id: Option<String>,
    attributes: String,
}

impl<'a> ContactParams<'a> {
    fn new(record: &'a ContactRecord) -> Result<Self, sqlx::Error> {
        Ok(ContactParams {
            record,
            contact_id: record.contact_id.to_string(),
            initial_contact_id: record.initial_contact_id.map(|id| id.to_string()),
            previous_contact_id: record.previous_contact_id.map(|id| id.to_string()),
            next_contact_id: record.next_contact_id.map(|id| id.to_string()),
            attributes: serde_json::to_string(&record.attributes)
                .map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
        })
    }
}

impl Store {
    /// Inserts the record, or merges it into the stored one (see the module docs). Returns
    /// false when the stored row is newer and nothing was written.
    pub async fn upsert_contact(&self, record: &ContactRecord) -> Result<bool, StoreError> {
        let result = async {
            let params = ContactParams::new(record)?;
            let done = match &self.db {
                Db::Sqlite(pools) => bind_contact!(sqlx::query(SQLITE_UPSERT), params)
                    .execute(&pools.writer)
                    .await?
                    .rows_affected(),
                Db::Postgres(pool) => bind_contact!(sqlx::query(POSTGRES_UPSERT), params)
                    .execute(pool)
                    .await?
                    .rows_affected(),
            };
            Ok::<_, sqlx::Error>(done > 0)
        };
        result.await.map_err(StoreError::query("upsert_contact"))
    }

    /// Records the end of an open contact: its disconnect time and reason, and moves
    /// `updated_at_unix_ms` up to the disconnect time. Returns false (and changes nothing) when
    /// there is no such contact or it is already closed.
    pub async fn close_contact(
        &self,
        contact_id: ContactId,
        disconnect_unix_ms: i64,
        reason: DisconnectReason,
    ) -> Result<bool, StoreError> {
        let id = contact_id.to_string();
        let result = match &self.db {
            Db::Sqlite(pools) => sqlx::query(
                "UPDATE contacts SET disconnect_unix_ms = ?2, disconnect_reason = ?3, \
                     updated_at_unix_ms = max(updated_at_unix_ms, ?2) \
                     WHERE contact_id = ?1 AND disconnect_unix_ms IS NULL",
            )
            .bind(id)
            .bind(disconnect_unix_ms)
            .bind(reason.as_str())
            .execute(&pools.writer)
            .await
            .map(|done| done.rows_affected()),
            Db::Postgres(pool) => sqlx::query(
                "UPDATE contacts SET disconnect_unix_ms = $2, disconnect_reason = $3, \
                     updated_at_unix_ms = GREATEST(updated_at_unix_ms, $2) \
                     WHERE contact_id = $1 AND disconnect_unix_ms IS NULL",
            )
            .bind(id)
            .bind(disconnect_unix_ms)
            .bind(reason.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()),
        };
        result
            .map(|changed| changed > 0)
            .map_err(StoreError::query("close_contact"))
    }

    /// The record of one contact, if stored.
    pub async fn get_contact(
        &self,
        contact_id: ContactId,
    ) -> Result<Option<ContactRecord>, StoreError> {
        let id = contact_id.to_string();
        let result = async {
            let row = match &self.db {
                Db::Sqlite(pools) => {
                    sqlx::query_as::<_, ContactRow>(concat!(
                        "SELECT ",
                        columns!("attributes"),
                        " FROM contacts WHERE contact_id = ?1"
                    ))
                    .bind(id)
                    .fetch_optional(&pools.reader)
                    .await?
                }
                Db::Postgres(pool) => {
                    sqlx::query_as::<_, ContactRow>(concat!(
                        "SELECT ",
                        columns!("attributes::text AS attributes"),
                        " FROM contacts WHERE contact_id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
                }
            };
            row.map(ContactRow::into_record).transpose()
        };
        result.await.map_err(StoreError::query("get_contact"))
    }

    /// The contacts matching `query`, ordered by initiation time then contact id.
    pub async fn search_contacts(
        &self,
        query: &ContactQuery,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let result = async {
            let (sql, params) = search_sql(self.backend(), query);
            let rows = match &self.db {
                Db::Sqlite(pools) => {
                    let mut q = sqlx::query_as::<_, ContactRow>(AssertSqlSafe(sql));
                    for param in params {
                        q = match param {
                            Param::Int(v) => q.bind(v),
                            Param::Text(v) => q.bind(v),
                        };
                    }
                    q.fetch_all(&pools.reader).await?
                }
                Db::Postgres(pool) => {
                    let mut q = sqlx::query_as::<_, ContactRow>(AssertSqlSafe(sql));
                    for param in params {
                        q = match param {
                            Param::Int(v) => q.bind(v),
                            Param::Text(v) => q.bind(v),
                        };
                    }
                    q.fetch_all(pool).await?
                }
            };
            rows.into_iter()
                .map(ContactRow::into_record)
                .collect::<Result<Vec<_>, sqlx::Error>>()
        };
        result.await.map_err(StoreError::query("search_contacts"))
    }
}

/// A bound value of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    Int(i64),
    Text(String),
}

/// The search statement for `backend`, from static fragments only, and its values in order.
fn search_sql(backend: Backend, query: &ContactQuery) -> (String, Vec<Param>) {
    let mut sql = String::from(match backend {
        Backend::Sqlite => SQLITE_SELECT,
        Backend::Postgres => POSTGRES_SELECT,
    });
    let mut params = Vec::new();
    let mut push = |sql: &mut String, fragment: &str, param: Param| {
        params.push(param);
        sql.push_str(fragment);
        sql.push_str(match backend {
            Backend::Sqlite => "?",
            Backend::Postgres => "$",
        });
        sql.push_str(&params.len().to_string());
    };
    push(
        &mut sql,
        " WHERE initiation_unix_ms >= ",
        Param::Int(query.from_unix_ms),
    );
    push(
        &mut sql,
        " AND initiation_unix_ms < ",
        Param::Int(query.to_unix_ms),
    );
    if let Some(queue) = &query.queue {
        push(&mut sql, " AND queue = ", Param::Text(queue.clone()));
    }
    if let Some(agent) = &query.agent {
        push(
            &mut sql,
            " AND agent_username = ",
            Param::Text(agent.clone()),
        );
    }
    if let Some(reason) = query.disconnect_reason {
        push(
            &mut sql,
            " AND disconnect_reason = ",
            Param::Text(reason.as_str().to_owned()),
        );
    }
    if let Some(after) = &query.after {
        push(
            &mut sql,
            " AND (initiation_unix_ms, contact_id) > (",
            Param::Int(after.initiation_unix_ms),
        );
        push(&mut sql, ", ", Param::Text(after.contact_id.to_string()));
        sql.push(')');
    }
    push(
        &mut sql,
        " ORDER BY initiation_unix_ms, contact_id LIMIT ",
        Param::Int(i64::from(query.limit)),
    );
    (sql, params)
}

/// A stored row as the database returns it, before parsing ids, words and JSON.
#[derive(sqlx::FromRow)]
struct ContactRow {
    contact_id: String,
    initial_contact_id: Option<String>,
    previous_contact_id: Option<String>,
    next_contact_id: Option<String>,
    initiation_method: String,
    channel: String,
    customer_endpoint: Option<String>,
    system_endpoint: Option<String>,
    initiation_unix_ms: i64,
    enqueue_unix_ms: Option<i64>,
    queue: Option<String>,
    agent_connected_unix_ms: Option<i64>,
    agent_username: Option<String>,
    connection_attempts: i64,
    disconnect_unix_ms: Option<i64>,
    disconnect_reason: Option<String>,
    hold_count: i64,
    hold_duration_ms: i64,
    acw_duration_ms: Option<i64>,
    attributes: String,
    recording_path: Option<String>,
    recording_duration_ms: Option<i64>,
    flow_name: Option<String>,
    flow_version: Option<String>,
    updated_at_unix_ms: i64,
}

impl ContactRow {
    fn into_record(self) -> Result<ContactRecord, sqlx::Error> {
        let id = |s: Option<String>| s.as_deref().map(parse_contact_id).transpose();
        Ok(ContactRecord {
            contact_id: parse_contact_id(&self.contact_id)?,
            initial_contact_id: id(self.initial_contact_id)?,
            previous_contact_id: id(self.previous_contact_id)?,
            next_contact_id: id(self.next_contact_id)?,
            initiation_method: self.initiation_method.parse().map_err(decode)?,
            channel: self.channel.parse().map_err(decode)?,
            customer_endpoint: self.customer_endpoint,
            system_endpoint: self.system_endpoint,
            initiation_unix_ms: self.initiation_unix_ms,
            enqueue_unix_ms: self.enqueue_unix_ms,
            queue: self.queue,
            agent_connected_unix_ms: self.agent_connected_unix_ms,
            agent_username: self.agent_username,
            connection_attempts: u32::try_from(self.connection_attempts).map_err(decode)?,
            disconnect_unix_ms: self.disconnect_unix_ms,
            disconnect_reason: self
                .disconnect_reason
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(decode)?,
            hold_count: u32::try_from(self.hold_count).map_err(decode)?,
            hold_duration_ms: self.hold_duration_ms,
            acw_duration_ms: self.acw_duration_ms,
            attributes: serde_json::from_str(&self.attributes).map_err(decode)?,
            recording_path: self.recording_path,
            recording_duration_ms: self.recording_duration_ms,
            flow_name: self.flow_name,
            flow_version: self.flow_version,
            updated_at_unix_ms: self.updated_at_unix_ms,
        })
    }
}

/// A stored value that does not parse as its Rust type.
fn decode<E: std::error::Error + Send + Sync + 'static>(error: E) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}

/// A contact id column: a hyphenated UUID.
pub(super) fn parse_contact_id(text: &str) -> Result<ContactId, sqlx::Error> {
    ContactId::parse_str(text).map_err(decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for word in InitiationMethod::WORDS {
            assert_eq!(
                word.parse::<InitiationMethod>().map(|m| m.as_str()),
                Ok(*word)
            );
        }
        for word in DisconnectReason::WORDS {
            assert_eq!(
                word.parse::<DisconnectReason>().map(|r| r.as_str()),
                Ok(*word)
            );
        }
        assert_eq!("voice".parse(), Ok(Channel::Voice));
        let err = "hangup".parse::<DisconnectReason>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown disconnect reason `hangup`; expected one of customer, agent, third_party, \
             flow, error"
        );
    }

    #[test]
    fn search_numbers_placeholders_per_backend() {
        let mut query = ContactQuery::between(10, 20);
        query.agent = Some("alice".into());
        query.after = Some(ContactCursor {
            initiation_unix_ms: 15,
            contact_id: ContactId::nil(),
        });
        let (sql, params) = search_sql(Backend::Postgres, &query);
        assert!(sql.starts_with(POSTGRES_SELECT), "{sql}");
        assert!(
            sql.ends_with(
                " WHERE initiation_unix_ms >= $1 AND initiation_unix_ms < $2 \
                 AND agent_username = $3 AND (initiation_unix_ms, contact_id) > ($4, $5) \
                 ORDER BY initiation_unix_ms, contact_id LIMIT $6"
            ),
            "{sql}"
        );
        assert_eq!(
            params,
            [
                Param::Int(10),
                Param::Int(20),
                Param::Text("alice".into()),
                Param::Int(15),
                Param::Text(ContactId::nil().to_string()),
                Param::Int(100),
            ]
        );
        let (sql, params) = search_sql(Backend::Sqlite, &ContactQuery::between(0, 1));
        assert!(sql.ends_with("< ?2 ORDER BY initiation_unix_ms, contact_id LIMIT ?3"));
        assert_eq!(params.len(), 3);
    }
}

//! The `bindings` table: SIP registrations (RFC 3261 §10.3), persisted so they survive a restart.
//!
//! The registrar owns the live location service in memory and writes behind in batches;
//! [`Store::apply_bindings`] applies one batch in one transaction, in batch order. A row is keyed
//! by (username, contact). RFC 5626 §6: an upsert carrying both `+sip.instance` and `reg-id`
//! first deletes the user's other row for the same (instance, reg-id) flow, so a phone that comes
//! back on a new Contact URI replaces its old binding instead of adding one.
//!
//! A statement per change would cost a round trip per row (to the PostgreSQL server, or to
//! sqlx's SQLite worker thread), so the batch is cut into rounds in which each username appears
//! at most once (see [`rounds`]), and each round is at most four set-based statements: over
//! `UNNEST`ed arrays on PostgreSQL, over `json_each` of a JSON array on SQLite. All statements
//! are static strings, prepared once per connection and reused.

use std::collections::HashMap;

use sqlx::{PgPool, Postgres, Sqlite, Transaction};

use super::sqlite::SqlitePools;
use super::{Db, Store, StoreError};

/// One registered contact of one address-of-record.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Binding {
    /// The address-of-record's user.
    pub username: String,
    /// The Contact URI as registered; unique per username.
    pub contact: String,
    /// `+sip.instance` (RFC 5626), e.g. `"<urn:uuid:...>"`.
    pub instance_id: Option<String>,
    /// `reg-id` (RFC 5626).
    pub reg_id: Option<i64>,
    pub expires_at_unix_ms: i64,
    pub call_id: String,
    /// Must be non-negative (a database constraint).
    pub cseq: i64,
    /// Where the REGISTER came from, e.g. `"udp:203.0.113.5:5062"`; behind NAT we send there.
    pub source: String,
    pub user_agent: Option<String>,
    /// Contact `q` preference, within 0.0..=1.0 (a database constraint).
    pub q: Option<f64>,
    pub updated_at_unix_ms: i64,
}

/// One change in a write-behind batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingChange {
    /// Insert or replace the (username, contact) row, after removing the user's other row with
    /// the same (instance_id, reg_id) when both are set.
    Upsert(Binding),
    /// Remove one contact (REGISTER with `Expires: 0` for it).
    Remove { username: String, contact: String },
    /// Remove every contact of a user (`Contact: *` with `Expires: 0`).
    RemoveAll { username: String },
}

impl BindingChange {
    pub fn username(&self) -> &str {
        match self {
            BindingChange::Upsert(binding) => &binding.username,
            BindingChange::Remove { username, .. } | BindingChange::RemoveAll { username } => {
                username
            }
        }
    }
}

/// The column list, in the order of [`Binding`]'s fields and of every insert's binds.
macro_rules! columns {
    () => {
        "username, contact, instance_id, reg_id, expires_at_unix_ms, call_id, cseq, source, \
         user_agent, q, updated_at_unix_ms"
    };
}

/// What an upsert overwrites on conflict (every column but the key).
macro_rules! update_set {
    () => {
        " ON CONFLICT (username, contact) DO UPDATE SET \
         instance_id = excluded.instance_id, reg_id = excluded.reg_id, \
         expires_at_unix_ms = excluded.expires_at_unix_ms, call_id = excluded.call_id, \
         cseq = excluded.cseq, source = excluded.source, user_agent = excluded.user_agent, \
         q = excluded.q, updated_at_unix_ms = excluded.updated_at_unix_ms"
    };
}

impl Store {
    /// Applies `changes` in order, in one transaction: on error nothing of the batch is applied.
    pub async fn apply_bindings(&self, changes: &[BindingChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let result = match &self.db {
            Db::Sqlite(pools) => sqlite_apply(pools, changes).await,
            Db::Postgres(pool) => postgres_apply(pool, changes).await,
        };
        result.map_err(StoreError::query("apply_bindings"))?;
        tracing::trace!(changes = changes.len(), "bindings batch applied");
        Ok(())
    }

    /// The bindings still live at `now_unix_ms` (`expires_at_unix_ms > now`), ordered by
    /// username then contact.
    pub async fn load_bindings(&self, now_unix_ms: i64) -> Result<Vec<Binding>, StoreError> {
        let result = match &self.db {
            Db::Sqlite(pools) => {
                sqlx::query_as::<_, Binding>(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM bindings WHERE expires_at_unix_ms > ?1 ORDER BY username, contact"
                ))
                .bind(now_unix_ms)
                .fetch_all(&pools.reader)
                .await
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, Binding>(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM bindings WHERE expires_at_unix_ms > $1 ORDER BY username, contact"
                ))
                .bind(now_unix_ms)
                .fetch_all(pool)
                .await
            }
        };
        result.map_err(StoreError::query("load_bindings"))
    }

    /// Deletes the bindings expired at `now_unix_ms` (`expires_at_unix_ms <= now`); returns how
    /// many.
    pub async fn purge_expired_bindings(&self, now_unix_ms: i64) -> Result<u64, StoreError> {
        let result = match &self.db {
            Db::Sqlite(pools) => sqlx::query("DELETE FROM bindings WHERE expires_at_unix_ms <= ?1")
                .bind(now_unix_ms)
                .execute(&pools.writer)
                .await
                .map(|done| done.rows_affected()),
            Db::Postgres(pool) => {
                sqlx::query("DELETE FROM bindings WHERE expires_at_unix_ms <= $1")
                    .bind(now_unix_ms)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            }
        };
        result.map_err(StoreError::query("purge_expired_bindings"))
    }
}

async fn sqlite_apply(pools: &SqlitePools, changes: &[BindingChange]) -> Result<(), sqlx::Error> {
    // Encode before taking the write lock.
    let rounds: Vec<SqliteRound> = rounds(changes)
        .iter()
        .map(|round| SqliteRound::new(round))
        .collect::<Result<_, _>>()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    // IMMEDIATE takes the write lock up front: no deferred-to-write upgrade that could fail.
    let mut tx = pools.writer.begin_with("BEGIN IMMEDIATE").await?;
    for round in &rounds {
        sqlite_apply_round(&mut tx, round).await?;
    }
    tx.commit().await
}

/// One round as JSON arrays of rows, for `json_each`: SQLite has no array binds, and one
/// statement per kind of change instead of one per change saves a trip to sqlx's SQLite worker
/// thread per row (that trip, not SQLite, is most of the cost of a row).
struct SqliteRound {
    remove_all: Option<String>,
    remove: Option<String>,
    flows: Option<String>,
    upserts: Option<String>,
}

/// An upsert's row, in [`columns!`] order.
type UpsertRow<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<i64>,
    i64,
    &'a str,
    i64,
    &'a str,
    Option<&'a str>,
    Option<f64>,
    i64,
);

impl SqliteRound {
    fn new(round: &[&BindingChange]) -> Result<Self, serde_json::Error> {
        let mut remove_all: Vec<&str> = Vec::new();
        let mut remove: Vec<(&str, &str)> = Vec::new();
        let mut flows: Vec<(&str, &str, i64, &str)> = Vec::new();
        let mut upserts: Vec<UpsertRow<'_>> = Vec::with_capacity(round.len());
        for change in round {
            match change {
                BindingChange::RemoveAll { username } => remove_all.push(username),
                BindingChange::Remove { username, contact } => remove.push((username, contact)),
                BindingChange::Upsert(b) => {
                    if let (Some(instance_id), Some(reg_id)) = (&b.instance_id, b.reg_id) {
                        flows.push((&b.username, instance_id, reg_id, &b.contact));
                    }
                    upserts.push((
                        &b.username,
                        &b.contact,
                        b.instance_id.as_deref(),
                        b.reg_id,
                        b.expires_at_unix_ms,
                        &b.call_id,
                        b.cseq,
                        &b.source,
                        b.user_agent.as_deref(),
                        b.q,
                        b.updated_at_unix_ms,
                    ));
                }
            }
        }
        fn encode<T: serde::Serialize>(rows: &[T]) -> Result<Option<String>, serde_json::Error> {
            if rows.is_empty() {
                Ok(None)
            } else {
                serde_json::to_string(rows).map(Some)
            }
        }
        Ok(SqliteRound {
            remove_all: encode(&remove_all)?,
            remove: encode(&remove)?,
            flows: encode(&flows)?,
            upserts: encode(&upserts)?,
        })
    }
}

/// As for PostgreSQL: within a round each username appears once, so only the per-user order
/// matters, and a user's flow delete runs before their insert.
async fn sqlite_apply_round(
    tx: &mut Transaction<'static, Sqlite>,
    round: &SqliteRound,
) -> Result<(), sqlx::Error> {
    if let Some(json) = &round.remove_all {
        sqlx::query("DELETE FROM bindings WHERE username IN (SELECT value FROM json_each(?1))")
            .bind(json)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(json) = &round.remove {
        sqlx::query(
            "DELETE FROM bindings WHERE (username, contact) IN \
             (SELECT value ->> 0, value ->> 1 FROM json_each(?1))",
        )
        .bind(json)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(json) = &round.flows {
        sqlx::query(
            "DELETE FROM bindings WHERE rowid IN ( \
                 SELECT b.rowid FROM json_each(?1) AS d JOIN bindings AS b \
                 ON b.username = d.value ->> 0 AND b.instance_id = d.value ->> 1 \
                     AND b.reg_id = d.value ->> 2 AND b.contact <> d.value ->> 3)",
        )
        .bind(json)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(json) = &round.upserts {
        // `WHERE true` keeps SQLite from reading ON CONFLICT as a join constraint.
        sqlx::query(concat!(
            "INSERT INTO bindings (",
            columns!(),
            ") SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
             value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10 \
             FROM json_each(?1) WHERE true",
            update_set!()
        ))
        .bind(json)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Cuts a batch into rounds in which each username appears at most once: a user's k-th change
/// goes to round k. Running the rounds in order gives the same result as running the batch in
/// order, because every statement is filtered by username, so changes of different users touch
/// disjoint rows and commute, and each user's changes keep their order.
fn rounds(changes: &[BindingChange]) -> Vec<Vec<&BindingChange>> {
    let mut rounds: Vec<Vec<&BindingChange>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(changes.len());
    for change in changes {
        let count = seen.entry(change.username()).or_insert(0);
        if rounds.len() <= *count {
            rounds.push(Vec::new());
        }
        rounds[*count].push(change);
        *count += 1;
    }
    rounds
}

/// One round as column arrays, ready to bind to `UNNEST`.
#[derive(Default)]
struct RoundColumns<'a> {
    remove_all: Vec<&'a str>,
    remove_user: Vec<&'a str>,
    remove_contact: Vec<&'a str>,
    flow_user: Vec<&'a str>,
    flow_instance: Vec<&'a str>,
    flow_reg_id: Vec<i64>,
    flow_contact: Vec<&'a str>,
    upsert: UpsertColumns<'a>,
}

#[derive(Default)]
struct UpsertColumns<'a> {
    username: Vec<&'a str>,
    contact: Vec<&'a str>,
    instance_id: Vec<Option<&'a str>>,
    reg_id: Vec<Option<i64>>,
    expires_at_unix_ms: Vec<i64>,
    call_id: Vec<&'a str>,
    cseq: Vec<i64>,
    source: Vec<&'a str>,
    user_agent: Vec<Option<&'a str>>,
    q: Vec<Option<f64>>,
    updated_at_unix_ms: Vec<i64>,
}

impl<'a> RoundColumns<'a> {
    fn new(round: &[&'a BindingChange]) -> Self {
        let mut cols = RoundColumns::default();
        for change in round {
            match change {
                BindingChange::RemoveAll { username } => cols.remove_all.push(username),
                BindingChange::Remove { username, contact } => {
                    cols.remove_user.push(username);
                    cols.remove_contact.push(contact);
                }
                BindingChange::Upsert(b) => {
                    if let (Some(instance_id), Some(reg_id)) = (&b.instance_id, b.reg_id) {
                        cols.flow_user.push(&b.username);
                        cols.flow_instance.push(instance_id);
                        cols.flow_reg_id.push(reg_id);
                        cols.flow_contact.push(&b.contact);
                    }
                    let u = &mut cols.upsert;
                    u.username.push(&b.username);
                    u.contact.push(&b.contact);
                    u.instance_id.push(b.instance_id.as_deref());
                    u.reg_id.push(b.reg_id);
                    u.expires_at_unix_ms.push(b.expires_at_unix_ms);
                    u.call_id.push(&b.call_id);
                    u.cseq.push(b.cseq);
                    u.source.push(&b.source);
                    u.user_agent.push(b.user_agent.as_deref());
                    u.q.push(b.q);
                    u.updated_at_unix_ms.push(b.updated_at_unix_ms);
                }
            }
        }
        cols
    }
}

async fn postgres_apply(pool: &PgPool, changes: &[BindingChange]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for round in rounds(changes) {
        postgres_apply_round(&mut tx, &RoundColumns::new(&round)).await?;
    }
    tx.commit().await
}

/// Within a round every username appears once, so the statements below touch disjoint rows per
/// user and only the per-user order matters: a user's flow delete runs before their insert.
async fn postgres_apply_round(
    tx: &mut Transaction<'static, Postgres>,
    cols: &RoundColumns<'_>,
) -> Result<(), sqlx::Error> {
    if !cols.remove_all.is_empty() {
        sqlx::query("DELETE FROM bindings WHERE username = ANY($1::text[])")
            .bind(&cols.remove_all)
            .execute(&mut **tx)
            .await?;
    }
    if !cols.remove_user.is_empty() {
        sqlx::query(
            "DELETE FROM bindings b USING UNNEST($1::text[], $2::text[]) AS d(username, contact) \
             WHERE b.username = d.username AND b.contact = d.contact",
        )
        .bind(&cols.remove_user)
        .bind(&cols.remove_contact)
        .execute(&mut **tx)
        .await?;
    }
    if !cols.flow_user.is_empty() {
        sqlx::query(
            "DELETE FROM bindings b \
             USING UNNEST($1::text[], $2::text[], $3::int8[], $4::text[]) \
                 AS d(username, instance_id, reg_id, contact) \
             WHERE b.username = d.username AND b.instance_id = d.instance_id \
                 AND b.reg_id = d.reg_id AND b.contact <> d.contact",
        )
        .bind(&cols.flow_user)
        .bind(&cols.flow_instance)
        .bind(&cols.flow_reg_id)
        .bind(&cols.flow_contact)
        .execute(&mut **tx)
        .await?;
    }
    let u = &cols.upsert;
    if !u.username.is_empty() {
        sqlx::query(concat!(
            "INSERT INTO bindings (",
            columns!(),
            ") SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], \
             $5::int8[], $6::text[], $7::int8[], $8::text[], $9::text[], $10::float8[], \
             $11::int8[])",
            update_set!()
        ))
        .bind(&u.username)
        .bind(&u.contact)
        .bind(&u.instance_id)
        .bind(&u.reg_id)
        .bind(&u.expires_at_unix_ms)
        .bind(&u.call_id)
        .bind(&u.cseq)
        .bind(&u.source)
        .bind(&u.user_agent)
        .bind(&u.q)
        .bind(&u.updated_at_unix_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{BindingChange, rounds};

    fn remove(user: &str, contact: &str) -> BindingChange {
        BindingChange::Remove {
            username: user.to_owned(),
            contact: contact.to_owned(),
        }
    }

    #[test]
    fn rounds_hold_each_user_once_and_keep_per_user_order() {
        let batch = vec![
            remove("a", "1"),
            remove("b", "1"),
            remove("a", "2"),
            remove("a", "3"),
            remove("c", "1"),
            remove("b", "2"),
        ];
        let got: Vec<Vec<(&str, &str)>> = rounds(&batch)
            .into_iter()
            .map(|round| {
                round
                    .into_iter()
                    .map(|c| match c {
                        BindingChange::Remove { username, contact } => {
                            (username.as_str(), contact.as_str())
                        }
                        _ => unreachable!(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            got,
            vec![
                vec![("a", "1"), ("b", "1"), ("c", "1")],
                vec![("a", "2"), ("b", "2")],
                vec![("a", "3")],
            ]
        );
    }

    #[test]
    fn a_batch_of_distinct_users_is_one_round() {
        let batch: Vec<_> = (0..100).map(|i| remove(&format!("u{i}"), "c")).collect();
        assert_eq!(rounds(&batch).len(), 1);
    }
}

//! The store against real databases: every backend-generic test runs once on a fresh SQLite file
//! in a temporary directory and once on PostgreSQL (`SWITCHBOARD_TEST_POSTGRES_URL`, default
//! `postgres://127.0.0.1:5432/test`) in a schema of its own, dropped at the end.
//!
//! PostgreSQL not reachable is a failure, unless `SWITCHBOARD_SKIP_POSTGRES=1`, in which case
//! each PostgreSQL test says SKIPPED on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::PathBuf;

use sqlx::Connection;
use switchboard::agents::{AgentEvent, AgentState, ChangeReason};
use switchboard::store::{
    AgentEventQuery, AgentEventRow, Backend, Binding, BindingChange, ContactQuery, ContactRecord,
    DisconnectReason, InitiationMethod, Store, StoreError,
};
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://127.0.0.1:5432/test";
const NOW: i64 = 1_790_000_000_000;
const HOUR_MS: i64 = 3_600_000;

/// The PostgreSQL server to test against. A URL without a user gets one from `PGUSER`, `USER`
/// or `LOGNAME`, else `postgres`: sqlx would otherwise ask the OS, which in some containers
/// answers "anonymous".
fn postgres_url() -> String {
    let url = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return url;
    }
    let user = ["PGUSER", "USER", "LOGNAME"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "postgres".to_owned());
    format!("{scheme}://{user}@{rest}")
}

/// A fresh database for one test, removed on drop (also when the test panics).
enum TestDb {
    Sqlite { dir: tempfile::TempDir },
    Postgres { base_url: String, schema: String },
}

impl TestDb {
    fn sqlite() -> TestDb {
        TestDb::Sqlite {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `None` when PostgreSQL is unreachable and the environment says to skip.
    async fn postgres(test: &str) -> Option<TestDb> {
        let base_url = postgres_url();
        let mut conn = match sqlx::PgConnection::connect(&base_url).await {
            Ok(conn) => conn,
            Err(error) if std::env::var("SWITCHBOARD_SKIP_POSTGRES").as_deref() == Ok("1") => {
                eprintln!(
                    "\n*** SKIPPED: PostgreSQL not reachable at {base_url} ({error}); \
                     test `{test}` did NOT run on PostgreSQL ***\n"
                );
                return None;
            }
            Err(error) => panic!(
                "cannot connect to PostgreSQL at {base_url}: {error}. Start it, point \
                 SWITCHBOARD_TEST_POSTGRES_URL at one, or set SWITCHBOARD_SKIP_POSTGRES=1 to skip"
            ),
        };
        let schema = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        Some(TestDb::Postgres { base_url, schema })
    }

    fn url(&self) -> String {
        match self {
            TestDb::Sqlite { dir } => {
                // A missing parent directory: open must create it.
                format!("sqlite://{}", self.sqlite_path_in(dir).display())
            }
            TestDb::Postgres { base_url, schema } => {
                let sep = if base_url.contains('?') { '&' } else { '?' };
                format!("{base_url}{sep}options=-c%20search_path%3D{schema}")
            }
        }
    }

    fn sqlite_path_in(&self, dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("nested").join("switchboard.db")
    }

    async fn open(&self) -> Store {
        Store::open(&self.url()).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { base_url, schema } = self {
            let (base_url, name) = (base_url.clone(), schema.clone());
            // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
            let cleanup = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&base_url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await?;
                    conn.close().await
                })
            });
            if let Ok(Err(error)) = cleanup.join() {
                eprintln!("warning: could not drop test schema {schema}: {error}");
            }
        }
    }
}

/// Runs `body` on a fresh SQLite file and (as a separate test) on PostgreSQL.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::TestDb::sqlite();
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = super::TestDb::postgres(stringify!($name)).await {
                        super::$name(&db).await;
                    }
                }
            )*
        }
    };
}

both_backends!(
    open_reports_backend_and_is_idempotent,
    upsert_then_load,
    upsert_replaces_same_contact,
    expired_bindings_are_not_loaded_and_are_purged,
    remove_one_contact,
    remove_all_contacts_of_a_user,
    same_instance_and_reg_id_replace_the_old_contact,
    instance_without_reg_id_or_other_reg_id_adds_a_binding,
    batch_applies_in_order,
    failing_batch_applies_nothing,
    large_batch_round_trips,
    concurrent_batches_from_clones_all_land,
    rows_survive_reopen,
    contact_upsert_then_get,
    contact_progressive_updates_end_with_every_field,
    contact_upsert_merges_and_ignores_stale_writes,
    contact_close_first_wins,
    contact_attributes_round_trip_as_json,
    contact_constraint_violation_is_a_query_error,
    contact_search_by_time_queue_agent_and_reason,
    contact_search_pages_every_row_exactly_once,
    agent_events_insert_and_list_by_user_and_time,
    agent_events_page_by_id,
    failing_agent_event_batch_inserts_nothing,
    contacts_and_agent_events_survive_reopen,
);

fn binding(user: &str, contact: &str) -> Binding {
    Binding {
        username: user.to_owned(),
        contact: contact.to_owned(),
        instance_id: None,
        reg_id: None,
        expires_at_unix_ms: NOW + HOUR_MS,
        call_id: format!("call-{user}-{contact}"),
        cseq: 1,
        source: "udp:203.0.113.5:5062".to_owned(),
        user_agent: Some("Yealink SIP-T46U".to_owned()),
        q: Some(0.5),
        updated_at_unix_ms: NOW,
    }
}

fn flow(user: &str, contact: &str, instance: &str, reg_id: i64) -> Binding {
    Binding {
        instance_id: Some(format!("<urn:uuid:{instance}>")),
        reg_id: Some(reg_id),
        ..binding(user, contact)
    }
}

fn upsert(b: &Binding) -> BindingChange {
    BindingChange::Upsert(b.clone())
}

fn remove(user: &str, contact: &str) -> BindingChange {
    BindingChange::Remove {
        username: user.to_owned(),
        contact: contact.to_owned(),
    }
}

fn remove_all(user: &str) -> BindingChange {
    BindingChange::RemoveAll {
        username: user.to_owned(),
    }
}

fn contacts(bindings: &[Binding]) -> Vec<(&str, &str)> {
    bindings
        .iter()
        .map(|b| (b.username.as_str(), b.contact.as_str()))
        .collect()
}

async fn with_store<F, Fut>(db: &TestDb, body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = db.open().await;
    body(store.clone()).await;
    store.close().await;
}

async fn open_reports_backend_and_is_idempotent(db: &TestDb) {
    let first = db.open().await;
    let expected = match db {
        TestDb::Sqlite { .. } => Backend::Sqlite,
        TestDb::Postgres { .. } => Backend::Postgres,
    };
    assert_eq!(first.backend(), expected);
    first.close().await;
    // Migrations already applied: opening again is a no-op, not an error.
    let second = db.open().await;
    assert!(second.load_bindings(NOW).await.unwrap().is_empty());
    second.close().await;
}

async fn upsert_then_load(db: &TestDb) {
    with_store(db, |store| async move {
        let a = binding("alice", "sip:alice@198.51.100.7:5060;transport=udp");
        let mut b = flow(
            "bob",
            "sip:bob@10.0.0.2:5062",
            "00000000-0000-0000-0000-00000000000b",
            1,
        );
        b.user_agent = None;
        b.q = None;
        b.cseq = i64::from(u32::MAX);
        store
            .apply_bindings(&[upsert(&b), upsert(&a)])
            .await
            .unwrap();
        let loaded = store.load_bindings(NOW).await.unwrap();
        // Ordered by username, field for field what went in.
        assert_eq!(loaded, vec![a, b]);
    })
    .await;
}

async fn upsert_replaces_same_contact(db: &TestDb) {
    with_store(db, |store| async move {
        let first = binding("alice", "sip:alice@198.51.100.7");
        let refreshed = Binding {
            cseq: 2,
            expires_at_unix_ms: NOW + 2 * HOUR_MS,
            source: "tcp:198.51.100.7:40000".to_owned(),
            updated_at_unix_ms: NOW + 1000,
            ..first.clone()
        };
        store.apply_bindings(&[upsert(&first)]).await.unwrap();
        store.apply_bindings(&[upsert(&refreshed)]).await.unwrap();
        assert_eq!(store.load_bindings(NOW).await.unwrap(), vec![refreshed]);
    })
    .await;
}

async fn expired_bindings_are_not_loaded_and_are_purged(db: &TestDb) {
    with_store(db, |store| async move {
        let live = binding("alice", "sip:live@x");
        let at_now = Binding {
            expires_at_unix_ms: NOW,
            ..binding("alice", "sip:expires-now@x")
        };
        let past = Binding {
            expires_at_unix_ms: NOW - HOUR_MS,
            ..binding("bob", "sip:past@x")
        };
        store
            .apply_bindings(&[upsert(&live), upsert(&at_now), upsert(&past)])
            .await
            .unwrap();
        assert_eq!(store.load_bindings(NOW).await.unwrap(), vec![live.clone()]);
        // Before expiry everything loads.
        assert_eq!(
            store.load_bindings(NOW - 2 * HOUR_MS).await.unwrap().len(),
            3
        );

        assert_eq!(store.purge_expired_bindings(NOW).await.unwrap(), 2);
        assert_eq!(store.purge_expired_bindings(NOW).await.unwrap(), 0);
        // Purged rows are gone even for a reader with an earlier clock.
        assert_eq!(
            store.load_bindings(NOW - 2 * HOUR_MS).await.unwrap(),
            vec![live]
        );
    })
    .await;
}

async fn remove_one_contact(db: &TestDb) {
    with_store(db, |store| async move {
        let batch = [
            upsert(&binding("alice", "sip:desk@x")),
            upsert(&binding("alice", "sip:soft@x")),
            upsert(&binding("bob", "sip:desk@x")),
        ];
        store.apply_bindings(&batch).await.unwrap();
        store
            .apply_bindings(&[
                remove("alice", "sip:desk@x"),
                remove("alice", "sip:unknown@x"),
            ])
            .await
            .unwrap();
        let loaded = store.load_bindings(NOW).await.unwrap();
        assert_eq!(
            contacts(&loaded),
            vec![("alice", "sip:soft@x"), ("bob", "sip:desk@x")]
        );
    })
    .await;
}

async fn remove_all_contacts_of_a_user(db: &TestDb) {
    with_store(db, |store| async move {
        let batch = [
            upsert(&binding("alice", "sip:desk@x")),
            upsert(&flow("alice", "sip:soft@x", "a1", 1)),
            upsert(&binding("bob", "sip:desk@x")),
        ];
        store.apply_bindings(&batch).await.unwrap();
        store.apply_bindings(&[remove_all("alice")]).await.unwrap();
        let loaded = store.load_bindings(NOW).await.unwrap();
        assert_eq!(contacts(&loaded), vec![("bob", "sip:desk@x")]);
    })
    .await;
}

async fn same_instance_and_reg_id_replace_the_old_contact(db: &TestDb) {
    with_store(db, |store| async move {
        // The phone registers two flows (RFC 5626 §4.2), then re-registers flow 1 from a new
        // Contact (new NAT port) in a later batch and flow 2 twice within one batch.
        let flow1 = flow("alice", "sip:alice@192.0.2.1:5060", "phone-a", 1);
        let flow2 = flow("alice", "sip:alice@192.0.2.1:5061", "phone-a", 2);
        let other_user = flow("bob", "sip:alice@192.0.2.1:5060", "phone-a", 1);
        store
            .apply_bindings(&[upsert(&flow1), upsert(&flow2), upsert(&other_user)])
            .await
            .unwrap();

        let flow1_moved = Binding {
            cseq: 2,
            ..flow("alice", "sip:alice@192.0.2.1:7000", "phone-a", 1)
        };
        store.apply_bindings(&[upsert(&flow1_moved)]).await.unwrap();

        let flow2_a = flow("alice", "sip:alice@192.0.2.1:7001", "phone-a", 2);
        let flow2_b = flow("alice", "sip:alice@192.0.2.1:7002", "phone-a", 2);
        store
            .apply_bindings(&[upsert(&flow2_a), upsert(&flow2_b)])
            .await
            .unwrap();

        let loaded = store.load_bindings(NOW).await.unwrap();
        assert_eq!(loaded, vec![flow1_moved, flow2_b, other_user]);
    })
    .await;
}

async fn instance_without_reg_id_or_other_reg_id_adds_a_binding(db: &TestDb) {
    with_store(db, |store| async move {
        let no_reg_id = |contact: &str| Binding {
            instance_id: Some("<urn:uuid:phone-b>".to_owned()),
            ..binding("carol", contact)
        };
        let batch = [
            upsert(&no_reg_id("sip:carol@a")),
            upsert(&no_reg_id("sip:carol@b")),
            upsert(&flow("carol", "sip:carol@c", "phone-b", 1)),
            upsert(&flow("carol", "sip:carol@d", "phone-b", 2)),
            upsert(&flow("carol", "sip:carol@e", "phone-c", 1)),
        ];
        store.apply_bindings(&batch).await.unwrap();
        assert_eq!(store.load_bindings(NOW).await.unwrap().len(), 5);
    })
    .await;
}

async fn batch_applies_in_order(db: &TestDb) {
    with_store(db, |store| async move {
        store
            .apply_bindings(&[
                upsert(&binding("alice", "sip:old@x")),
                upsert(&binding("bob", "sip:b@x")),
            ])
            .await
            .unwrap();
        // Within one batch: later changes see earlier ones, per user, across users.
        let batch = [
            upsert(&binding("alice", "sip:gone@x")),
            upsert(&binding("dave", "sip:d@x")),
            remove_all("alice"),
            remove("alice", "sip:never@x"),
            upsert(&binding("alice", "sip:new@x")),
            upsert(&binding("bob", "sip:b2@x")),
            remove("bob", "sip:b2@x"),
            remove("bob", "sip:b@x"),
            upsert(&binding("bob", "sip:b@x")),
            upsert(&binding("erin", "sip:e@x")),
            remove("erin", "sip:e@x"),
        ];
        store.apply_bindings(&batch).await.unwrap();
        let loaded = store.load_bindings(NOW).await.unwrap();
        assert_eq!(
            contacts(&loaded),
            vec![
                ("alice", "sip:new@x"),
                ("bob", "sip:b@x"),
                ("dave", "sip:d@x")
            ]
        );
    })
    .await;
}

async fn failing_batch_applies_nothing(db: &TestDb) {
    with_store(db, |store| async move {
        let kept = binding("alice", "sip:kept@x");
        store.apply_bindings(&[upsert(&kept)]).await.unwrap();
        // Valid changes before and after one that breaks the cseq >= 0 constraint.
        let bad = Binding {
            cseq: -1,
            ..binding("zed", "sip:bad@x")
        };
        let batch = [
            upsert(&binding("bob", "sip:new@x")),
            remove_all("alice"),
            upsert(&Binding {
                cseq: 9,
                ..kept.clone()
            }),
            upsert(&bad),
            upsert(&binding("carol", "sip:after@x")),
        ];
        let err = store.apply_bindings(&batch).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Query {
                    op: "apply_bindings",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.is_open_failure());
        assert_eq!(store.load_bindings(NOW).await.unwrap(), vec![kept.clone()]);
        // The store is still usable after the rollback.
        store
            .apply_bindings(&[upsert(&binding("bob", "sip:new@x"))])
            .await
            .unwrap();
        assert_eq!(store.load_bindings(NOW).await.unwrap().len(), 2);
    })
    .await;
}

async fn large_batch_round_trips(db: &TestDb) {
    with_store(db, |store| async move {
        let batch: Vec<BindingChange> = (0..1500)
            .map(|i| {
                let user = format!("agent{:04}", i % 1000);
                let contact = format!("sip:{user}@10.1.{}.{}:5060", i / 250, i % 250);
                if i % 2 == 0 {
                    upsert(&flow(&user, &contact, &format!("dev-{user}"), 1))
                } else {
                    upsert(&binding(&user, &contact))
                }
            })
            .collect();
        store.apply_bindings(&batch).await.unwrap();
        let loaded = store.load_bindings(NOW).await.unwrap();
        // Users 0..499 got two contacts (i and i + 1000); when both are flows of the same
        // instance and reg-id (even i), the second replaces the first.
        let expected_replaced = (0..500).filter(|i| i % 2 == 0).count();
        assert_eq!(loaded.len(), 1500 - expected_replaced);
    })
    .await;
}

async fn concurrent_batches_from_clones_all_land(db: &TestDb) {
    with_store(db, |store| async move {
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for round in 0..5 {
                        let batch: Vec<_> = (0..20)
                            .map(|i| {
                                upsert(&binding(&format!("t{t}"), &format!("sip:{round}-{i}@x")))
                            })
                            .collect();
                        store.apply_bindings(&batch).await.unwrap();
                        store.load_bindings(NOW).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(store.load_bindings(NOW).await.unwrap().len(), 16 * 5 * 20);
    })
    .await;
}

async fn rows_survive_reopen(db: &TestDb) {
    let a = flow("alice", "sip:alice@192.0.2.1", "phone-a", 1);
    let store = db.open().await;
    store.apply_bindings(&[upsert(&a)]).await.unwrap();
    store.close().await;
    drop(store);
    let reopened = db.open().await;
    assert_eq!(reopened.load_bindings(NOW).await.unwrap(), vec![a]);
    reopened.close().await;
}

// ---- contact records ----

const MIN_MS: i64 = 60_000;

fn contact_id(n: u128) -> Uuid {
    Uuid::from_u128(0x5b00_0000_0000_4000_8000_0000_0000_0000 | n)
}

/// An inbound contact just arrived from the trunk, nothing else known yet.
fn inbound(n: u128, at: i64) -> ContactRecord {
    ContactRecord {
        customer_endpoint: Some("+14155550100".to_owned()),
        system_endpoint: Some("+18005550199".to_owned()),
        flow_name: Some("main-menu".to_owned()),
        ..ContactRecord::new(contact_id(n), InitiationMethod::Inbound, at)
    }
}

/// A contact handled start to end, every field set.
fn finished(n: u128, at: i64, queue: &str, agent: &str, reason: DisconnectReason) -> ContactRecord {
    ContactRecord {
        enqueue_unix_ms: Some(at + 5_000),
        queue: Some(queue.to_owned()),
        agent_connected_unix_ms: Some(at + 20_000),
        agent_username: Some(agent.to_owned()),
        connection_attempts: 1,
        disconnect_unix_ms: Some(at + MIN_MS),
        disconnect_reason: Some(reason),
        updated_at_unix_ms: at + MIN_MS,
        ..inbound(n, at)
    }
}

fn ids(records: &[ContactRecord]) -> Vec<Uuid> {
    records.iter().map(|r| r.contact_id).collect()
}

async fn contact_upsert_then_get(db: &TestDb) {
    with_store(db, |store| async move {
        let a = inbound(1, NOW);
        assert!(store.upsert_contact(&a).await.unwrap());
        assert_eq!(
            store.get_contact(a.contact_id).await.unwrap(),
            Some(a.clone())
        );
        assert_eq!(store.get_contact(contact_id(2)).await.unwrap(), None);
        // Writing the same record again changes nothing (and is not an error).
        store.upsert_contact(&a).await.unwrap();
        assert_eq!(store.get_contact(a.contact_id).await.unwrap(), Some(a));
    })
    .await;
}

async fn contact_progressive_updates_end_with_every_field(db: &TestDb) {
    with_store(db, |store| async move {
        let initial = contact_id(100);
        let previous = contact_id(101);
        // A contact transferred in from another queue, written at each milestone.
        let mut record = ContactRecord {
            initial_contact_id: Some(initial),
            previous_contact_id: Some(previous),
            flow_version: Some("sha256:9f2c".to_owned()),
            ..ContactRecord::new(contact_id(1), InitiationMethod::QueueTransfer, NOW)
        };
        record.customer_endpoint = Some("sip:+14155550100@carrier.example".to_owned());
        record.system_endpoint = Some("+18005550199".to_owned());
        record.flow_name = Some("transfer-to-billing".to_owned());
        store.upsert_contact(&record).await.unwrap();

        record.enqueue_unix_ms = Some(NOW + 3_000);
        record.queue = Some("billing".to_owned());
        record
            .attributes
            .insert("account".to_owned(), "A-1001".to_owned());
        record.updated_at_unix_ms = NOW + 3_000;
        store.upsert_contact(&record).await.unwrap();

        // Offered twice (the first agent missed it), then connected.
        record.connection_attempts = 2;
        record.agent_connected_unix_ms = Some(NOW + 45_000);
        record.agent_username = Some("alice".to_owned());
        record.updated_at_unix_ms = NOW + 45_000;
        store.upsert_contact(&record).await.unwrap();

        record.hold_count = 2;
        record.hold_duration_ms = 31_500;
        record.recording_path = Some("recordings/2026/11/23/5b.wav".to_owned());
        record.recording_duration_ms = Some(95_000);
        record.next_contact_id = Some(contact_id(2));
        record.updated_at_unix_ms = NOW + 140_000;
        store.upsert_contact(&record).await.unwrap();

        assert!(
            store
                .close_contact(record.contact_id, NOW + 150_000, DisconnectReason::Agent)
                .await
                .unwrap()
        );
        // After-contact work ends; the in-memory copy never saw the close.
        record.acw_duration_ms = Some(12_000);
        record.updated_at_unix_ms = NOW + 162_000;
        store.upsert_contact(&record).await.unwrap();

        let expected = ContactRecord {
            disconnect_unix_ms: Some(NOW + 150_000),
            disconnect_reason: Some(DisconnectReason::Agent),
            ..record.clone()
        };
        assert_eq!(
            store.get_contact(record.contact_id).await.unwrap(),
            Some(expected)
        );
    })
    .await;
}

async fn contact_upsert_merges_and_ignores_stale_writes(db: &TestDb) {
    with_store(db, |store| async move {
        let full = finished(1, NOW, "sales", "alice", DisconnectReason::Customer);
        store.upsert_contact(&full).await.unwrap();

        // An older write (a late write-behind of an earlier state) changes nothing.
        let stale = ContactRecord {
            queue: Some("support".to_owned()),
            hold_count: 7,
            updated_at_unix_ms: NOW + 1_000,
            ..inbound(1, NOW)
        };
        assert!(!store.upsert_contact(&stale).await.unwrap());
        assert_eq!(
            store.get_contact(full.contact_id).await.unwrap().as_ref(),
            Some(&full)
        );

        // A newer write without the optional fields keeps them; the counters overwrite.
        let newer = ContactRecord {
            hold_count: 1,
            hold_duration_ms: 4_000,
            updated_at_unix_ms: NOW + 2 * MIN_MS,
            ..inbound(1, NOW)
        };
        assert!(store.upsert_contact(&newer).await.unwrap());
        let merged = ContactRecord {
            hold_count: 1,
            hold_duration_ms: 4_000,
            connection_attempts: 0,
            updated_at_unix_ms: NOW + 2 * MIN_MS,
            ..full.clone()
        };
        assert_eq!(
            store.get_contact(full.contact_id).await.unwrap(),
            Some(merged)
        );

        // A set field overwrites (moved to another queue).
        let moved = ContactRecord {
            queue: Some("retention".to_owned()),
            updated_at_unix_ms: NOW + 3 * MIN_MS,
            ..inbound(1, NOW)
        };
        store.upsert_contact(&moved).await.unwrap();
        let got = store.get_contact(full.contact_id).await.unwrap().unwrap();
        assert_eq!(got.queue.as_deref(), Some("retention"));
        assert_eq!(got.agent_username.as_deref(), Some("alice"));
    })
    .await;
}

async fn contact_close_first_wins(db: &TestDb) {
    with_store(db, |store| async move {
        let open = ContactRecord {
            updated_at_unix_ms: NOW + 10_000,
            ..inbound(1, NOW)
        };
        store.upsert_contact(&open).await.unwrap();
        // Unknown contact: nothing to close.
        assert!(
            !store
                .close_contact(contact_id(9), NOW, DisconnectReason::Customer)
                .await
                .unwrap()
        );
        // Closed at a time before the last write: updated_at does not go back.
        assert!(
            store
                .close_contact(open.contact_id, NOW + 5_000, DisconnectReason::Flow)
                .await
                .unwrap()
        );
        assert!(
            !store
                .close_contact(open.contact_id, NOW + 20_000, DisconnectReason::Error)
                .await
                .unwrap()
        );
        let got = store.get_contact(open.contact_id).await.unwrap().unwrap();
        assert_eq!(got.disconnect_unix_ms, Some(NOW + 5_000));
        assert_eq!(got.disconnect_reason, Some(DisconnectReason::Flow));
        assert_eq!(got.updated_at_unix_ms, NOW + 10_000);

        let other = inbound(2, NOW);
        store.upsert_contact(&other).await.unwrap();
        store
            .close_contact(other.contact_id, NOW + MIN_MS, DisconnectReason::ThirdParty)
            .await
            .unwrap();
        let got = store.get_contact(other.contact_id).await.unwrap().unwrap();
        assert_eq!(got.updated_at_unix_ms, NOW + MIN_MS);
        // An upsert from before the close is stale; the close stays.
        assert!(!store.upsert_contact(&other).await.unwrap());
        assert_eq!(
            store
                .get_contact(other.contact_id)
                .await
                .unwrap()
                .unwrap()
                .disconnect_reason,
            Some(DisconnectReason::ThirdParty)
        );
    })
    .await;
}

async fn contact_attributes_round_trip_as_json(db: &TestDb) {
    with_store(db, |store| async move {
        let mut record = inbound(1, NOW);
        for (key, value) in [
            ("tier", "gold"),
            ("empty", ""),
            ("quotes", r#"say "hi" \ bye"#),
            ("unicode", "Grüße, 世界 ☎"),
            ("looks_like_json", r#"{"a":[1,2]}"#),
            ("number_as_text", "00042"),
            ("line\nbreak", "tab\there"),
        ] {
            record.attributes.insert(key.to_owned(), value.to_owned());
        }
        store.upsert_contact(&record).await.unwrap();
        let got = store.get_contact(record.contact_id).await.unwrap().unwrap();
        assert_eq!(got.attributes, record.attributes);

        // The column holds a JSON object the database itself can read.
        let tier: Option<String> = match db {
            TestDb::Sqlite { .. } => {
                let path = sqlite_db_path(db);
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                let tier = sqlx::query_scalar("SELECT attributes ->> 'tier' FROM contacts")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                tier
            }
            TestDb::Postgres { .. } => {
                let mut conn = sqlx::PgConnection::connect(&db.url()).await.unwrap();
                let tier = sqlx::query_scalar("SELECT attributes ->> 'tier' FROM contacts")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                tier
            }
        };
        assert_eq!(tier.as_deref(), Some("gold"));

        // Emptied attributes are written as an empty object, not kept.
        record.attributes.clear();
        record.updated_at_unix_ms += 1;
        store.upsert_contact(&record).await.unwrap();
        let got = store.get_contact(record.contact_id).await.unwrap().unwrap();
        assert!(got.attributes.is_empty());
    })
    .await;
}

async fn contact_constraint_violation_is_a_query_error(db: &TestDb) {
    with_store(db, |store| async move {
        let bad = ContactRecord {
            hold_duration_ms: -1,
            ..inbound(1, NOW)
        };
        let err = store.upsert_contact(&bad).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Query {
                    op: "upsert_contact",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(store.get_contact(bad.contact_id).await.unwrap(), None);
    })
    .await;
}

async fn contact_search_by_time_queue_agent_and_reason(db: &TestDb) {
    with_store(db, |store| async move {
        use DisconnectReason::{Agent, Customer, Error};
        let records = [
            finished(1, NOW - MIN_MS, "sales", "alice", Customer),
            finished(2, NOW, "sales", "alice", Customer),
            finished(3, NOW + MIN_MS, "support", "alice", Agent),
            finished(4, NOW + 2 * MIN_MS, "sales", "bob", Agent),
            // Still waiting in the queue: no agent, no disconnect.
            ContactRecord {
                enqueue_unix_ms: Some(NOW + 3 * MIN_MS),
                queue: Some("support".to_owned()),
                ..inbound(5, NOW + 3 * MIN_MS)
            },
            finished(6, NOW + 4 * MIN_MS, "support", "bob", Error),
            // At the (exclusive) end of the range.
            finished(7, NOW + 5 * MIN_MS, "sales", "alice", Customer),
        ];
        // Written out of order: the search orders.
        for record in records.iter().rev() {
            store.upsert_contact(record).await.unwrap();
        }
        let range = || ContactQuery::between(NOW, NOW + 5 * MIN_MS);
        let search = |query: ContactQuery| {
            let store = store.clone();
            async move { ids(&store.search_contacts(&query).await.unwrap()) }
        };
        let c = contact_id;

        assert_eq!(search(range()).await, [c(2), c(3), c(4), c(5), c(6)]);
        let all = store.search_contacts(&range()).await.unwrap();
        assert_eq!(all[0], records[1], "search returns whole records");
        assert_eq!(
            search(ContactQuery::between(i64::MIN, i64::MAX))
                .await
                .len(),
            7
        );
        assert!(search(ContactQuery::between(NOW, NOW)).await.is_empty());

        let queue = |q: &str| ContactQuery {
            queue: Some(q.to_owned()),
            ..range()
        };
        assert_eq!(search(queue("sales")).await, [c(2), c(4)]);
        assert_eq!(search(queue("support")).await, [c(3), c(5), c(6)]);
        assert!(search(queue("nobody")).await.is_empty());

        let agent = |a: &str| ContactQuery {
            agent: Some(a.to_owned()),
            ..range()
        };
        assert_eq!(search(agent("alice")).await, [c(2), c(3)]);
        assert_eq!(search(agent("bob")).await, [c(4), c(6)]);

        let reason = |r| ContactQuery {
            disconnect_reason: Some(r),
            ..range()
        };
        assert_eq!(search(reason(Customer)).await, [c(2)]);
        assert_eq!(search(reason(Agent)).await, [c(3), c(4)]);
        assert_eq!(search(reason(Error)).await, [c(6)]);

        // Filters combine.
        let combined = ContactQuery {
            queue: Some("sales".to_owned()),
            agent: Some("bob".to_owned()),
            disconnect_reason: Some(Agent),
            ..ContactQuery::between(i64::MIN, i64::MAX)
        };
        assert_eq!(search(combined.clone()).await, [c(4)]);
        let none = ContactQuery {
            disconnect_reason: Some(Customer),
            ..combined
        };
        assert!(search(none).await.is_empty());

        assert_eq!(
            search(ContactQuery {
                limit: 2,
                ..range()
            })
            .await,
            [c(2), c(3)]
        );
        assert!(
            search(ContactQuery {
                limit: 0,
                ..range()
            })
            .await
            .is_empty()
        );
    })
    .await;
}

async fn contact_search_pages_every_row_exactly_once(db: &TestDb) {
    with_store(db, |store| async move {
        // Random ids and many equal initiation times: the id breaks the ties.
        let records: Vec<ContactRecord> = (0..257)
            .map(|i| {
                let queue = if i % 2 == 0 { "sales" } else { "support" };
                ContactRecord {
                    contact_id: Uuid::new_v4(),
                    ..finished(
                        0,
                        NOW + (i / 4) * 1_000,
                        queue,
                        "alice",
                        DisconnectReason::Customer,
                    )
                }
            })
            .collect();
        for record in &records {
            store.upsert_contact(record).await.unwrap();
        }
        // The order both backends must give: initiation time, then the id's text.
        let key = |r: &ContactRecord| (r.initiation_unix_ms, r.contact_id.to_string());
        let mut sorted = records.clone();
        sorted.sort_by_key(key);
        let expected: Vec<_> = sorted.iter().map(key).collect();

        for (page_size, queue) in [(10, None), (1, None), (256, None), (7, Some("sales"))] {
            let mut query = ContactQuery {
                limit: page_size,
                queue: queue.map(str::to_owned),
                ..ContactQuery::between(NOW, NOW + HOUR_MS)
            };
            let mut seen = Vec::new();
            loop {
                let page = store.search_contacts(&query).await.unwrap();
                assert!(page.len() <= page_size as usize);
                let Some(last) = page.last() else { break };
                query.after = Some(last.cursor());
                seen.extend(page.iter().map(key));
            }
            let want: Vec<_> = sorted
                .iter()
                .filter(|r| queue.is_none_or(|q| r.queue.as_deref() == Some(q)))
                .map(key)
                .collect();
            assert_eq!(seen, want, "page size {page_size}, queue {queue:?}");
        }

        // A row written behind the cursor between two pages does not shift the next page.
        let mut query = ContactQuery {
            limit: 100,
            ..ContactQuery::between(NOW, NOW + HOUR_MS)
        };
        let first = store.search_contacts(&query).await.unwrap();
        query.after = Some(first[99].cursor());
        let late = ContactRecord {
            contact_id: Uuid::new_v4(),
            ..finished(0, NOW, "sales", "bob", DisconnectReason::Agent)
        };
        store.upsert_contact(&late).await.unwrap();
        let second = store.search_contacts(&query).await.unwrap();
        let second_keys: Vec<_> = second.iter().map(key).collect();
        assert_eq!(second_keys, expected[100..200]);
    })
    .await;
}

// ---- agent events ----

fn event(at: i64, user: &str, from: &str, to: &str, reason: &str) -> AgentEventRow {
    AgentEventRow {
        id: None,
        at_unix_ms: at,
        username: user.to_owned(),
        from_state: from.to_owned(),
        to_state: to.to_owned(),
        reason: reason.to_owned(),
        contact_id: None,
    }
}

/// The rows as read back: ids stripped, for comparing with what went in.
fn without_ids(rows: &[AgentEventRow]) -> Vec<AgentEventRow> {
    rows.iter()
        .map(|r| AgentEventRow {
            id: None,
            ..r.clone()
        })
        .collect()
}

async fn agent_events_insert_and_list_by_user_and_time(db: &TestDb) {
    with_store(db, |store| async move {
        let contact = contact_id(1);
        let offered = AgentEvent {
            at_unix_ms: NOW + 1_000,
            username: "alice".to_owned(),
            from: AgentState::Status("Available".to_owned()),
            to: AgentState::Incoming,
            reason: ChangeReason::Offered,
            contact: Some(contact),
        };
        let accepted = AgentEvent {
            at_unix_ms: NOW + 4_000,
            from: AgentState::Incoming,
            to: AgentState::Busy,
            reason: ChangeReason::Accepted,
            ..offered.clone()
        };
        let batch = vec![
            event(NOW - 1, "alice", "Offline", "Available", "status_set"),
            event(NOW, "bob", "Offline", "Available", "status_set"),
            AgentEventRow::from(&offered),
            event(NOW + 2_000, "bob", "Available", "Break", "status_set"),
            AgentEventRow::from(&accepted),
            event(NOW + HOUR_MS, "alice", "Available", "Offline", "status_set"),
        ];
        store.insert_agent_events(&batch).await.unwrap();
        store.insert_agent_events(&[]).await.unwrap();

        let all = store
            .list_agent_events(&AgentEventQuery::between(i64::MIN, i64::MAX))
            .await
            .unwrap();
        assert_eq!(without_ids(&all), batch);
        let ids: Vec<i64> = all.iter().map(|r| r.id.unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(all[2].contact_id, Some(contact));
        assert_eq!(
            (
                all[4].from_state.as_str(),
                all[4].to_state.as_str(),
                all[4].reason.as_str()
            ),
            ("Incoming", "Busy", "accepted")
        );

        // [NOW, NOW + HOUR_MS): the first and last rows are outside.
        let range = || AgentEventQuery::between(NOW, NOW + HOUR_MS);
        let rows = store.list_agent_events(&range()).await.unwrap();
        assert_eq!(without_ids(&rows), batch[1..5]);
        let alice = AgentEventQuery {
            username: Some("alice".to_owned()),
            ..range()
        };
        let rows = store.list_agent_events(&alice).await.unwrap();
        assert_eq!(without_ids(&rows), [batch[2].clone(), batch[4].clone()]);
        let nobody = AgentEventQuery {
            username: Some("carol".to_owned()),
            ..range()
        };
        assert!(store.list_agent_events(&nobody).await.unwrap().is_empty());

        // A later batch continues the ids.
        store
            .insert_agent_events(&[event(
                NOW + 5_000,
                "bob",
                "Break",
                "Available",
                "status_set",
            )])
            .await
            .unwrap();
        let rows = store.list_agent_events(&range()).await.unwrap();
        assert_eq!(rows.len(), 5);
        assert!(rows[4].id.unwrap() > ids[5]);
    })
    .await;
}

async fn agent_events_page_by_id(db: &TestDb) {
    with_store(db, |store| async move {
        let users = ["alice", "bob", "carol"];
        for chunk in 0..5 {
            let batch: Vec<_> = (0..100)
                .map(|i| {
                    let n = chunk * 100 + i;
                    // Times not in id order within a user: listing is by id regardless.
                    let at = NOW + (n % 7) * 1_000 + n;
                    event(
                        at,
                        users[(n % 3) as usize],
                        "Available",
                        "Busy",
                        "connected",
                    )
                })
                .collect();
            store.insert_agent_events(&batch).await.unwrap();
        }
        for (username, page_size, expected) in [
            (None, 33, 500),
            (Some("bob"), 10, 167),
            (Some("carol"), 1000, 166),
        ] {
            let mut query = AgentEventQuery {
                username: username.map(str::to_owned),
                limit: page_size,
                ..AgentEventQuery::between(NOW, NOW + HOUR_MS)
            };
            let mut ids = Vec::new();
            loop {
                let page = store.list_agent_events(&query).await.unwrap();
                assert!(page.len() <= page_size as usize);
                let Some(last) = page.last() else { break };
                query.after_id = last.id;
                assert!(
                    page.iter()
                        .all(|r| username.is_none_or(|u| r.username == u))
                );
                ids.extend(page.iter().map(|r| r.id.unwrap()));
            }
            assert_eq!(ids.len(), expected, "{username:?}");
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "{username:?}: {ids:?}");
        }
        let empty = AgentEventQuery {
            limit: 0,
            ..AgentEventQuery::between(NOW, NOW + HOUR_MS)
        };
        assert!(store.list_agent_events(&empty).await.unwrap().is_empty());
    })
    .await;
}

async fn failing_agent_event_batch_inserts_nothing(db: &TestDb) {
    with_store(db, |store| async move {
        let kept = event(NOW, "alice", "Offline", "Available", "status_set");
        store
            .insert_agent_events(std::slice::from_ref(&kept))
            .await
            .unwrap();
        // Valid rows before and after one that breaks the non-empty username constraint.
        let batch = [
            event(NOW + 1, "bob", "Offline", "Available", "status_set"),
            event(NOW + 2, "", "Offline", "Available", "status_set"),
            event(NOW + 3, "carol", "Offline", "Available", "status_set"),
        ];
        let err = store.insert_agent_events(&batch).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Query {
                    op: "insert_agent_events",
                    ..
                }
            ),
            "{err:?}"
        );
        let all = store
            .list_agent_events(&AgentEventQuery::between(i64::MIN, i64::MAX))
            .await
            .unwrap();
        assert_eq!(without_ids(&all), [kept]);
        // Still usable after the rollback.
        store.insert_agent_events(&batch[..1]).await.unwrap();
        let all = store
            .list_agent_events(&AgentEventQuery::between(i64::MIN, i64::MAX))
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
    })
    .await;
}

async fn contacts_and_agent_events_survive_reopen(db: &TestDb) {
    let record = ContactRecord {
        attributes: [("tier".to_owned(), "gold".to_owned())].into(),
        ..finished(1, NOW, "sales", "alice", DisconnectReason::Customer)
    };
    let open = inbound(2, NOW + 1_000);
    let events = [
        event(NOW, "alice", "Available", "Busy", "connected"),
        event(
            NOW + MIN_MS,
            "alice",
            "Busy",
            "AfterContactWork",
            "contact_ended",
        ),
    ];
    let store = db.open().await;
    store.upsert_contact(&record).await.unwrap();
    store.upsert_contact(&open).await.unwrap();
    store.insert_agent_events(&events).await.unwrap();
    let before = store
        .list_agent_events(&AgentEventQuery::between(i64::MIN, i64::MAX))
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let reopened = db.open().await;
    assert_eq!(
        reopened.get_contact(record.contact_id).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        reopened
            .search_contacts(&ContactQuery::between(i64::MIN, i64::MAX))
            .await
            .unwrap(),
        [record, open.clone()]
    );
    // The contact still open before the restart is closed after it.
    assert!(
        reopened
            .close_contact(open.contact_id, NOW + MIN_MS, DisconnectReason::Error)
            .await
            .unwrap()
    );
    let after = reopened
        .list_agent_events(&AgentEventQuery::between(i64::MIN, i64::MAX))
        .await
        .unwrap();
    assert_eq!(after, before);
    // Ids continue after the restart.
    reopened.insert_agent_events(&events[..1]).await.unwrap();
    let all = reopened
        .list_agent_events(&AgentEventQuery::between(i64::MIN, i64::MAX))
        .await
        .unwrap();
    assert!(all[2].id > before[1].id);
    reopened.close().await;
}

// ---- SQLite only ----

fn sqlite_db_path(db: &TestDb) -> PathBuf {
    match db {
        TestDb::Sqlite { dir } => db.sqlite_path_in(dir),
        TestDb::Postgres { .. } => unreachable!(),
    }
}

#[tokio::test]
async fn sqlite_creates_parent_directory_and_file_in_wal_mode() {
    let db = TestDb::sqlite();
    let path = sqlite_db_path(&db);
    assert!(!path.exists());
    let store = db.open().await;
    assert!(path.exists());
    store
        .apply_bindings(&[upsert(&binding("alice", "sip:a@x"))])
        .await
        .unwrap();

    // Ask the file itself, over a connection of our own: WAL is a property of the database.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM bindings")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
    conn.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn sqlite_close_checkpoints_the_wal() {
    let db = TestDb::sqlite();
    let path = sqlite_db_path(&db);
    let store = db.open().await;
    let batch: Vec<_> = (0..200)
        .map(|i| upsert(&binding("alice", &format!("sip:{i}@x"))))
        .collect();
    store.apply_bindings(&batch).await.unwrap();
    store.close().await;
    let wal = path.with_file_name("switchboard.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "WAL left behind after close");
    // Closing twice is harmless.
    store.close().await;
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let a = binding("alice", "sip:a@x");
    store.apply_bindings(&[upsert(&a)]).await.unwrap();
    assert_eq!(store.load_bindings(NOW).await.unwrap(), vec![a]);
    store.close().await;
}

// ---- errors ----

#[tokio::test]
async fn unknown_scheme_is_an_invalid_url() {
    let err = Store::open("mysql://u:secret@db/x").await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("secret"));
}

/// The error and its causes, one per line, the way `main` prints them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        out.push_str("\n  caused by: ");
        out.push_str(&e.to_string());
        cause = e.source();
    }
    out
}

#[tokio::test]
async fn unreachable_postgres_is_an_open_error_with_the_cause_and_without_the_password() {
    // Port 1 on loopback: refused (retried for a few seconds, as for a server starting up).
    let err = Store::open("postgres://sb:hunter2@127.0.0.1:1/switchboard")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.is_open_failure());
    let shown = format!("{} | {err:?}", chain(&err));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("sb:***@127.0.0.1:1"), "{shown}");
    assert!(shown.to_lowercase().contains("refused"), "{shown}");
}

#[tokio::test]
async fn sqlite_file_in_unwritable_place_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let url = format!("sqlite://{}/sub/x.db", blocker.display());
    let err = Store::open(&url).await.unwrap_err();
    assert!(err.is_open_failure(), "{err:?}");
}

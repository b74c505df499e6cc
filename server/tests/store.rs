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
use switchboard::store::{Backend, Binding, BindingChange, Store, StoreError};

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

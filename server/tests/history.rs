//! History over real databases: request parameters to pages of contacts and agent events,
//! cursors that walk every row once, CSV of rows read back, and the day report's rows and
//! figures. Each test runs on a fresh SQLite file and on PostgreSQL
//! (`SWITCHBOARD_TEST_POSTGRES_URL`, default `postgres://127.0.0.1:5432/test`) in a schema of
//! its own, dropped at the end, as in `store.rs`; `SWITCHBOARD_SKIP_POSTGRES=1` skips
//! PostgreSQL with a SKIPPED line on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::Connection;
use switchboard::report::{self, Day, QueueSummary};
use switchboard::store::history::{
    AgentEventParams, ContactSearchParams, HistoryParamError, contacts_csv,
};
use switchboard::store::{AgentEventRow, ContactRecord, DisconnectReason, InitiationMethod, Store};
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://127.0.0.1:5432/test";
/// Midnight UTC starting 2026-09-21.
const DAY: i64 = 1_789_948_800_000;
const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

/// The PostgreSQL server to test against; a URL without a user gets one from `PGUSER`, `USER`
/// or `LOGNAME`, else `postgres` (as in `store.rs`).
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
        let schema = format!("sb_test_{}", Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        Some(TestDb::Postgres { base_url, schema })
    }

    fn url(&self) -> String {
        match self {
            TestDb::Sqlite { dir } => format!("sqlite://{}", dir.path().join("sb.db").display()),
            TestDb::Postgres { base_url, schema } => {
                let sep = if base_url.contains('?') { '&' } else { '?' };
                format!("{base_url}{sep}options=-c%20search_path%3D{schema}")
            }
        }
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

/// Runs each test on a fresh SQLite file and (as a separate test) on PostgreSQL, with an open
/// store that is closed afterwards.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::TestDb::sqlite();
                    let store = switchboard::store::Store::open(&db.url()).await.unwrap();
                    super::$name(&store).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = super::TestDb::postgres(stringify!($name)).await {
                        let store = switchboard::store::Store::open(&db.url()).await.unwrap();
                        super::$name(&store).await;
                        store.close().await;
                    }
                }
            )*
        }
    };
}

both_backends!(
    contact_pages_walk_every_match_once_and_end_without_a_cursor,
    contact_params_filter_by_queue_agent_reason_and_time,
    agent_event_pages_by_user_and_time,
    csv_of_stored_records,
    report_of_a_stored_day,
);

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x5b00_0000_0000_4000_8000_0000_0000_0000 | n)
}

/// A contact queued in `queue` 5 s after it began at `DAY + at`.
fn queued(n: u128, at: i64, queue: &str) -> ContactRecord {
    ContactRecord {
        customer_endpoint: Some("+14155550100".to_owned()),
        system_endpoint: Some("+18005550199".to_owned()),
        enqueue_unix_ms: Some(DAY + at + 5 * SEC),
        queue: Some(queue.to_owned()),
        ..ContactRecord::new(id(n), InitiationMethod::Inbound, DAY + at)
    }
}

/// `queued`, answered by `agent` after `wait` in queue, talked `talk`, then `acw`.
fn handled(n: u128, at: i64, queue: &str, agent: &str, wait: i64, talk: i64) -> ContactRecord {
    let connected = DAY + at + 5 * SEC + wait;
    ContactRecord {
        agent_connected_unix_ms: Some(connected),
        agent_username: Some(agent.to_owned()),
        connection_attempts: 1,
        disconnect_unix_ms: Some(connected + talk),
        disconnect_reason: Some(DisconnectReason::Agent),
        acw_duration_ms: Some(10 * SEC),
        updated_at_unix_ms: connected + talk + 10 * SEC,
        ..queued(n, at, queue)
    }
}

/// `queued`, hung up by the customer after `wait` in queue.
fn abandoned(n: u128, at: i64, queue: &str, wait: i64) -> ContactRecord {
    ContactRecord {
        disconnect_unix_ms: Some(DAY + at + 5 * SEC + wait),
        disconnect_reason: Some(DisconnectReason::Customer),
        updated_at_unix_ms: DAY + at + 5 * SEC + wait,
        ..queued(n, at, queue)
    }
}

async fn store_all(store: &Store, records: &[ContactRecord]) {
    for r in records {
        assert!(store.upsert_contact(r).await.unwrap());
    }
}

fn ids(records: &[ContactRecord]) -> Vec<Uuid> {
    records.iter().map(|r| r.contact_id).collect()
}

async fn contact_pages_walk_every_match_once_and_end_without_a_cursor(store: &Store) {
    // Seven contacts, three sharing one initiation time (the id breaks the tie), one outside
    // the range.
    let records = [
        queued(5, HOUR, "Sales"),
        queued(2, HOUR, "Sales"),
        queued(9, HOUR, "Sales"),
        queued(1, 2 * HOUR, "Sales"),
        queued(7, 3 * HOUR, "Sales"),
        queued(3, 4 * HOUR, "Sales"),
        queued(4, 30 * HOUR, "Sales"),
    ];
    store_all(store, &records).await;
    let mut params = ContactSearchParams {
        from: Some(DAY),
        to: Some(DAY + 24 * HOUR),
        limit: Some(2),
        ..ContactSearchParams::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = store
            .contact_page(&params.to_query().unwrap())
            .await
            .unwrap();
        pages.push(ids(&page.items));
        match page.next_cursor {
            Some(cursor) => params.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        pages,
        [vec![id(2), id(5)], vec![id(9), id(1)], vec![id(7), id(3)],]
    );

    // A row written behind the cursor does not shift the next page; one ahead shows up.
    params.limit = Some(3);
    params.cursor = None;
    let first = store
        .contact_page(&params.to_query().unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&first.items), [id(2), id(5), id(9)]);
    store_all(
        store,
        &[queued(0, HOUR, "Sales"), queued(8, 5 * HOUR, "Sales")],
    )
    .await;
    params.cursor = first.next_cursor;
    let second = store
        .contact_page(&params.to_query().unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&second.items), [id(1), id(7), id(3)]);
    params.cursor = second.next_cursor;
    let third = store
        .contact_page(&params.to_query().unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&third.items), [id(8)]);
    assert_eq!(third.next_cursor, None);

    // An agent-event cursor is not a contact cursor.
    params.cursor = Some(switchboard::store::history::encode_agent_event_cursor(1));
    assert_eq!(params.to_query(), Err(HistoryParamError::Cursor));
}

async fn contact_params_filter_by_queue_agent_reason_and_time(store: &Store) {
    store_all(
        store,
        &[
            handled(1, HOUR, "Sales", "alice", 10 * SEC, MIN),
            handled(2, 2 * HOUR, "Support", "alice", 10 * SEC, MIN),
            handled(3, 3 * HOUR, "Sales", "bob", 10 * SEC, MIN),
            abandoned(4, 4 * HOUR, "Sales", 30 * SEC),
            abandoned(5, 26 * HOUR, "Sales", 30 * SEC),
        ],
    )
    .await;
    let search = |params: ContactSearchParams| async move {
        let page = store
            .contact_page(&params.to_query().unwrap())
            .await
            .unwrap();
        assert_eq!(page.next_cursor, None);
        ids(&page.items)
    };
    let day = || ContactSearchParams {
        from: Some(DAY),
        to: Some(DAY + 24 * HOUR),
        ..ContactSearchParams::default()
    };
    assert_eq!(search(day()).await, [id(1), id(2), id(3), id(4)]);
    assert_eq!(
        search(ContactSearchParams::default()).await,
        [id(1), id(2), id(3), id(4), id(5)]
    );
    let sales = ContactSearchParams {
        queue: Some("Sales".into()),
        ..day()
    };
    assert_eq!(search(sales.clone()).await, [id(1), id(3), id(4)]);
    let alice = ContactSearchParams {
        agent: Some("alice".into()),
        ..day()
    };
    assert_eq!(search(alice.clone()).await, [id(1), id(2)]);
    let alice_sales = ContactSearchParams {
        queue: Some("Sales".into()),
        ..alice
    };
    assert_eq!(search(alice_sales).await, [id(1)]);
    let by_customer = ContactSearchParams {
        disconnect_reason: Some("customer".into()),
        ..ContactSearchParams::default()
    };
    assert_eq!(search(by_customer).await, [id(4), id(5)]);
    let late = ContactSearchParams {
        from: Some(DAY + 2 * HOUR),
        to: Some(DAY + 3 * HOUR + 1),
        ..sales
    };
    assert_eq!(search(late).await, [id(3)]);
}

fn event(at: i64, user: &str, from: &str, to: &str) -> AgentEventRow {
    AgentEventRow {
        id: None,
        at_unix_ms: DAY + at,
        username: user.to_owned(),
        from_state: from.to_owned(),
        to_state: to.to_owned(),
        reason: "status_set".to_owned(),
        contact_id: None,
    }
}

async fn agent_event_pages_by_user_and_time(store: &Store) {
    let batch: Vec<AgentEventRow> = (0..7)
        .map(|i| {
            let user = if i % 2 == 0 { "alice" } else { "bob" };
            event(i * HOUR, user, "Offline", "Available")
        })
        .chain([event(25 * HOUR, "alice", "Available", "Offline")])
        .collect();
    store.insert_agent_events(&batch).await.unwrap();
    let mut params = AgentEventParams {
        from: Some(DAY),
        to: Some(DAY + 24 * HOUR),
        username: Some("alice".into()),
        limit: Some(3),
        ..AgentEventParams::default()
    };
    let first = store
        .agent_event_page(&params.to_query().unwrap())
        .await
        .unwrap();
    let hours = |rows: &[AgentEventRow]| -> Vec<i64> {
        rows.iter().map(|r| (r.at_unix_ms - DAY) / HOUR).collect()
    };
    assert_eq!(hours(&first.items), [0, 2, 4]);
    assert!(first.items.iter().all(|r| r.username == "alice"));
    params.cursor = first.next_cursor;
    let second = store
        .agent_event_page(&params.to_query().unwrap())
        .await
        .unwrap();
    assert_eq!(hours(&second.items), [6]);
    assert_eq!(second.next_cursor, None);

    let everyone = AgentEventParams::default();
    let all = store
        .agent_event_page(&everyone.to_query().unwrap())
        .await
        .unwrap();
    assert_eq!(hours(&all.items), [0, 1, 2, 3, 4, 5, 6, 25]);
    assert_eq!(all.next_cursor, None);
}

async fn csv_of_stored_records(store: &Store) {
    let mut first = handled(1, 9 * HOUR, "Sales, East", "alice", 12 * SEC, 90 * SEC);
    first.hold_count = 1;
    first.hold_duration_ms = 30 * SEC;
    first.attributes.insert("tier".into(), "gold".into());
    store_all(
        store,
        &[first, abandoned(2, 10 * HOUR, "Sales, East", 7_250)],
    )
    .await;
    let page = store
        .contact_page(
            &ContactSearchParams::default()
                .to_query()
                .expect("default params"),
        )
        .await
        .unwrap();
    assert_eq!(
        contacts_csv(&page.items, true),
        "contact_id,initial_contact_id,previous_contact_id,next_contact_id,initiation_method,\
         channel,customer_endpoint,system_endpoint,initiation_timestamp,enqueue_timestamp,queue,\
         queue_duration_ms,agent_connected_timestamp,agent_username,connection_attempts,\
         agent_interaction_ms,hold_count,hold_duration_ms,acw_duration_ms,disconnect_timestamp,\
         disconnect_reason,attributes,recording_path,recording_duration_ms,flow_name,\
         flow_version,updated_at_timestamp\r\n\
         5b000000-0000-4000-8000-000000000001,,,,inbound,voice,+14155550100,+18005550199,\
         2026-09-21T09:00:00.000Z,2026-09-21T09:00:05.000Z,\"Sales, East\",12000,\
         2026-09-21T09:00:17.000Z,alice,1,60000,1,30000,10000,2026-09-21T09:01:47.000Z,agent,\
         \"{\"\"tier\"\":\"\"gold\"\"}\",,,,,2026-09-21T09:01:57.000Z\r\n\
         5b000000-0000-4000-8000-000000000002,,,,inbound,voice,+14155550100,+18005550199,\
         2026-09-21T10:00:00.000Z,2026-09-21T10:00:05.000Z,\"Sales, East\",7250,,,0,,0,0,,\
         2026-09-21T10:00:12.250Z,customer,{},,,,,2026-09-21T10:00:12.250Z\r\n"
    );
}

async fn report_of_a_stored_day(store: &Store) {
    store_all(
        store,
        &[
            // Sales: waits 10 s and 50 s answered, 30 s abandoned; handle 70 s and 130 s.
            handled(1, 9 * HOUR, "Sales", "alice", 10 * SEC, MIN),
            handled(2, 10 * HOUR, "Sales", "bob", 50 * SEC, 2 * MIN),
            abandoned(3, 11 * HOUR, "Sales", 30 * SEC),
            // The day before and the day after: not in this report.
            abandoned(4, -HOUR, "Sales", SEC),
            abandoned(5, 24 * HOUR, "Sales", SEC),
        ],
    )
    .await;
    store
        .insert_agent_events(&[
            event(-HOUR, "alice", "Offline", "Break"),
            event(8 * HOUR, "alice", "Offline", "Available"),
            event(18 * HOUR, "alice", "Available", "Offline"),
        ])
        .await
        .unwrap();
    let day = Day::new(jiff::civil::date(2026, 9, 21), jiff::tz::TimeZone::UTC).unwrap();
    let rows = report::load(store, &day).await.unwrap();
    assert_eq!(ids(&rows.contacts), [id(1), id(2), id(3)]);
    assert_eq!(rows.events.len(), 2);
    let summary = report::summarize(&rows.contacts, &rows.events, DAY, DAY + 24 * HOUR);
    assert_eq!(
        summary.queues,
        [QueueSummary {
            queue: "Sales".into(),
            contacts: 3,
            handled: 2,
            abandoned: 1,
            average_wait_ms: Some(30_000),
            average_handle_ms: Some(100_000),
            answered_within: [1, 2],
        }]
    );
    let alice = &summary.agents[0];
    assert_eq!(
        (alice.username.as_str(), alice.handled, alice.acw_ms),
        ("alice", 1, 10_000)
    );
    assert_eq!(
        alice
            .time_in_state_ms
            .clone()
            .into_iter()
            .collect::<Vec<_>>(),
        [
            ("Available".to_owned(), 10 * HOUR),
            ("Offline".to_owned(), 14 * HOUR)
        ]
    );
}

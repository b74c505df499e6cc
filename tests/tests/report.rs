//! `switchboard report` as a supervisor runs it: the exact tables for a day written to the
//! database, the refusal of a bad date or time zone, and the figures and CSV export of records
//! made by a real call.

use std::process::Command;
use std::time::Duration;

use switchboard::store::history::{ContactSearchParams, contacts_csv, rfc3339_ms};
use switchboard::store::{AgentEventRow, ContactRecord, DisconnectReason, InitiationMethod, Store};
use switchboard_tests::{
    Phone, Server, binary, derive_config, free_port, register_phone, root, talk,
};

/// Midnight UTC starting 2026-09-21.
const DAY: i64 = 1_789_948_800_000;
const SEC: i64 = 1_000;
const HOUR: i64 = 3_600 * SEC;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(binary())
        .args(args)
        .current_dir(root())
        .env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .output()
        .expect("run switchboard");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A contact queued in `queue` at `DAY + at` (5 s after it began).
fn queued(n: u128, at: i64, queue: &str) -> ContactRecord {
    let mut r = ContactRecord::new(
        uuid::Uuid::from_u128(n),
        InitiationMethod::Inbound,
        DAY + at - 5 * SEC,
    );
    r.queue = Some(queue.to_owned());
    r.enqueue_unix_ms = Some(DAY + at);
    r
}

fn handled(n: u128, at: i64, queue: &str, agent: &str, wait: i64, talk: i64) -> ContactRecord {
    let mut r = queued(n, at, queue);
    let connected = DAY + at + wait;
    r.agent_username = Some(agent.to_owned());
    r.agent_connected_unix_ms = Some(connected);
    r.disconnect_unix_ms = Some(connected + talk);
    r.disconnect_reason = Some(DisconnectReason::Customer);
    r.acw_duration_ms = Some(10 * SEC);
    r.updated_at_unix_ms = connected + talk + 10 * SEC;
    r
}

fn abandoned(n: u128, at: i64, queue: &str, wait: i64) -> ContactRecord {
    let mut r = queued(n, at, queue);
    r.disconnect_unix_ms = Some(DAY + at + wait);
    r.disconnect_reason = Some(DisconnectReason::Customer);
    r.updated_at_unix_ms = DAY + at + wait;
    r
}

fn status(at: i64, user: &str, from: &str, to: &str) -> AgentEventRow {
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

#[test]
fn report_prints_the_days_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("history.db").display());
    runtime().block_on(async {
        let store = Store::open(&url).await.expect("open store");
        for r in [
            handled(1, 9 * HOUR, "Sales", "alice", 10 * SEC, 60 * SEC),
            handled(2, 10 * HOUR, "Sales", "bob", 50 * SEC, 120 * SEC),
            abandoned(3, 11 * HOUR, "Sales", 30 * SEC),
            abandoned(4, 12 * HOUR, "Support", 90 * SEC),
            // The next day: not in the report.
            abandoned(5, 24 * HOUR + 10 * SEC, "Sales", SEC),
        ] {
            store.upsert_contact(&r).await.expect("write contact");
        }
        store
            .insert_agent_events(&[
                status(8 * HOUR, "alice", "Offline", "Available"),
                status(18 * HOUR, "alice", "Available", "Offline"),
            ])
            .await
            .expect("write events");
        store.close().await;
    });

    let (code, stdout, stderr) = run(&[
        "report",
        "--config",
        "config/switchboard.yaml",
        "--database-url",
        &url,
        "--date",
        "2026-09-21",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "\
Switchboard demo: 2026-09-21 (UTC), 2026-09-21T00:00:00Z to 2026-09-22T00:00:00Z

Queues
Queue       Contacts  Handled  Abandoned  Avg wait  Avg handle  SL 20s  SL 60s
Sales              3        2          1   0:00:30     0:01:40   33.3%   66.7%
Support            1        0          1   0:01:30           -    0.0%    0.0%
All queues         4        2          2   0:00:45     0:01:40   25.0%   50.0%

Agents
Agent  Handled  Avg handle     Hold      ACW
alice        1     0:01:10  0:00:00  0:00:10
bob          1     0:02:10  0:00:00  0:00:10

Time in status
Agent  Available   Offline
alice   10:00:00  14:00:00
"
    );

    // The same day seen from New York starts at 04:00Z: the contacts are the same, alice's
    // day runs 04:00Z..04:00Z next day.
    let (code, stdout, stderr) = run(&[
        "report",
        "--config",
        "config/switchboard.yaml",
        "--database-url",
        &url,
        "--date",
        "2026-09-21",
        "--time-zone",
        "America/New_York",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.starts_with(
            "Switchboard demo: 2026-09-21 (America/New_York), 2026-09-21T04:00:00Z to \
             2026-09-22T04:00:00Z\n"
        ),
        "{stdout}"
    );
    // The contact at 00:00:05Z on the 22nd falls into New York's 21st.
    assert!(
        stdout.contains("\nSales              4        2          2 "),
        "{stdout}"
    );
    assert!(stdout.ends_with("alice   10:00:00  14:00:00\n"), "{stdout}");
}

#[test]
fn report_refuses_a_bad_date_or_time_zone() {
    let (code, stdout, stderr) = run(&["report", "--date", "2026-02-30"]);
    assert_eq!(code, Some(64), "{stdout}");
    assert!(
        stderr.starts_with("--date: expected YYYY-MM-DD: "),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["report", "--time-zone", "Mars/Olympus_Mons"]);
    assert_eq!(code, Some(64));
    assert!(
        stderr.starts_with("--time-zone Mars/Olympus_Mons: "),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["report", "--config", "tests/fixtures/dangling-queue.yaml"]);
    assert_eq!(code, Some(64));
    assert!(stderr.contains("unknown queue `Billing`"), "{stderr}");
}

#[test]
fn report_and_csv_export_of_a_real_call() {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ]);
    #[allow(clippy::disallowed_methods)] // wall clock: the records' timestamps are real
    let began_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let mut server = Server::start(&cfg.path).expect("server");
    let sip = server.sip;
    let agent_port = free_port();
    register_phone(sip, "alice", "demo-alice", agent_port);
    let mut agent = Phone::agent(sip, "agent_answer.xml", agent_port, 1000.0);
    let mut customer = Phone::customer(sip, "inbound_call.xml", "1", 440.0);
    talk(&mut [&mut customer, &mut agent], Duration::from_secs(30));
    assert!(customer.result().success());
    assert!(agent.result().success());
    server.stop().expect("clean stop");

    // Search and export as the API does: alice's contacts since the test began.
    let params = ContactSearchParams {
        from: Some(began_ms - 1_000),
        agent: Some("alice".into()),
        ..ContactSearchParams::default()
    };
    let page = runtime().block_on(async {
        let store = Store::open(&server.database_url).await.expect("open store");
        let page = store
            .contact_page(&params.to_query().expect("params"))
            .await
            .expect("search");
        store.close().await;
        page
    });
    assert_eq!(page.items.len(), 1, "{page:#?}");
    assert_eq!(page.next_cursor, None);
    let r = &page.items[0];
    let csv = contacts_csv(&page.items, true);
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 2, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(header.len(), row.len(), "{csv}");
    let cell = |name: &str| row[header.iter().position(|h| *h == name).expect(name)];
    assert_eq!(cell("contact_id"), r.contact_id.to_string());
    assert_eq!(cell("queue"), "Sales");
    assert_eq!(cell("agent_username"), "alice");
    assert_eq!(cell("disconnect_reason"), "customer");
    assert_eq!(cell("system_endpoint"), "+15550100");
    assert_eq!(
        cell("initiation_timestamp"),
        rfc3339_ms(r.initiation_unix_ms)
    );
    let connected = r.agent_connected_unix_ms.expect("connected");
    assert_eq!(cell("agent_connected_timestamp"), rfc3339_ms(connected));
    let ended = r.disconnect_unix_ms.expect("ended");
    assert_eq!(cell("disconnect_timestamp"), rfc3339_ms(ended));
    assert!(cell("disconnect_timestamp").ends_with('Z'), "{csv}");
    let enqueued = r.enqueue_unix_ms.expect("enqueued");
    assert_eq!(
        cell("queue_duration_ms"),
        (connected - enqueued).to_string()
    );

    // The report of that day counts the call: one contact in Sales, handled by alice, answered
    // within 20 s.
    // The UTC day of the call: the date part of its RFC 3339 time.
    let date = rfc3339_ms(r.initiation_unix_ms)[..10].to_owned();
    let (code, stdout, stderr) = run(&[
        "report",
        "--config",
        &cfg.path.display().to_string(),
        "--database-url",
        &server.database_url,
        "--date",
        &date,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let cells = |first: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(first))
            .unwrap_or_else(|| panic!("no `{first}` row in\n{stdout}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let sales = cells("Sales");
    assert_eq!(sales[1..4], ["1", "1", "0"], "{stdout}");
    assert_eq!(sales[6..], ["100.0%", "100.0%"], "{stdout}");
    let alice = cells("alice");
    assert_eq!(alice[1], "1", "{stdout}");
    assert!(stdout.contains("\nTime in status\n"), "{stdout}");
}

//! History over the API against records made by real calls. Two sipp customers press 1 for
//! Sales (whose flow records agent and customer); Alice's sipp phone answers; Alice ends each
//! call from the panel and clears after-contact work. Then Maria (CallCenterManager:
//! AccessMetrics, ListenCallRecordings) searches the records by time range, queue, agent and
//! disconnect reason, pages with `limit=1` by the cursor and by the `Link` header, exports CSV
//! and JSON lines, lists Alice's status changes, and downloads a recording: a stereo WAV with
//! the customer's tone on the left and Alice's on the right. Alice (an agent) may read none of
//! it; an unknown contact is 404, malformed parameters 400; a record pointing outside the
//! recordings directory, or at a file that is gone, gets 404.

// Real phones, real time: the tests read the clock.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchboard::store::{ContactRecord, InitiationMethod, Store};
use switchboard_media::tone::amplitude;
use switchboard_tests::{Phone, Server, derive_config, free_port, pump, register_phone};

const CUSTOMER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
const NIL: &str = "00000000-0000-0000-0000-000000000000";

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("ms fit i64")
}

/// An answer: status, headers, and the body as bytes (recordings are binary).
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }

    /// Asserts the status and returns the body as JSON.
    fn expect(&self, status: u16, what: &str) -> Value {
        assert_eq!(self.status, status, "{what}: {}", self.text());
        self.json()
    }

    /// Asserts a refusal in the API's error shape, naming `permission` on a 403.
    fn refused(&self, status: u16, what: &str) -> Value {
        let v = self.expect(status, what);
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {v}"
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        v
    }

    /// The target of the `Link: <...>; rel="next"` header.
    fn next_link(&self) -> Option<String> {
        let link = self.header("link")?;
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        let target = link.strip_prefix('<')?.split_once('>')?.0;
        Some(target.to_string())
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..end]).expect("chunk size");
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        let rest = &body[end + 2..];
        out.extend_from_slice(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn request(server: &Server, method: &str, path: &str, token: Option<&str>) -> Reply {
    let mut s = TcpStream::connect_timeout(&server.http, Duration::from_secs(2)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.http
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(head.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read reply");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = &raw[end + 4..];
    Reply {
        status,
        headers,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        },
    }
}

fn get(server: &Server, path: &str, token: &str) -> Reply {
    request(server, "GET", path, Some(token))
}

fn post(server: &Server, path: &str, token: &str) -> Reply {
    request(server, "POST", path, Some(token))
}

/// Waits, pumping audio, until `cond` holds on Alice's snapshot.
fn wait_agent(
    server: &Server,
    token: &str,
    parties: &mut [&mut Phone],
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let v = get(server, "/api/v1/agent", token).expect(200, "GET agent");
        if cond(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}: {v:#}\n{}",
            server.log_text()
        );
        pump(parties, Duration::from_millis(100));
    }
}

/// One call: a customer presses 1 for Sales, Alice's phone answers, they talk a little, Alice
/// ends it from the panel and clears after-contact work. Returns the contact id.
fn one_call(server: &Server, alice: &str, agent_port: u16) -> String {
    let sip = server.sip;
    let mut agent = Phone::start(sip, "phone_until_bye.xml", agent_port, AGENT_HZ, vec![]);
    let mut customer = Phone::start(
        sip,
        "customer_until_bye.xml",
        free_port(),
        CUSTOMER_HZ,
        vec![
            ("number", "+15550100".into()),
            ("domain", "demo.switchboard.test".into()),
            ("digit", "1".into()),
        ],
    );
    let mut all = [&mut customer, &mut agent];
    let snap = wait_agent(server, alice, &mut all, "Alice connected", |v| {
        v["contacts"][0]["state"] == "connected"
    });
    let contact = snap["contacts"][0]["id"]
        .as_str()
        .expect("contact id")
        .to_string();
    // Some audio both ways for the recording.
    pump(&mut all, Duration::from_millis(1500));
    post(
        server,
        &format!("/api/v1/contacts/{contact}/connections/customer/end"),
        alice,
    )
    .expect(200, "end the customer");
    let [customer, agent] = all;
    let run = agent.join();
    assert!(run.success(), "agent phone: {}", run.explain());
    let run = customer.join();
    assert!(run.success(), "customer: {}", run.explain());
    // After-contact work, cleared from the panel (the contact may take a moment to get there).
    let start = Instant::now();
    loop {
        let r = post(server, &format!("/api/v1/contacts/{contact}/clear"), alice);
        if r.status == 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "clear after-contact work: {} {}",
            r.status,
            r.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    contact
}

/// RFC 4180 records of `text` (quoted fields may hold commas, quotes and line ends).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF in {text:?}");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        row.is_empty() && field.is_empty(),
        "the last record ends with CRLF: {text:?}"
    );
    rows
}

/// The contact ids of a JSON page, in order.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["contact_id"].as_str().expect("contact_id").to_string())
        .collect()
}

/// Follows `Link` headers from `first`, collecting every page's contact ids.
fn follow_links(server: &Server, token: &str, first: &str) -> (Vec<String>, usize) {
    let mut ids_seen = Vec::new();
    let mut pages = 0;
    let mut next = Some(first.to_string());
    while let Some(path) = next {
        let r = get(server, &path, token);
        let page = r.expect(200, &path);
        ids_seen.extend(ids(&page));
        pages += 1;
        next = r.next_link();
        assert_eq!(
            next.is_some(),
            !page["next_cursor"].is_null(),
            "a Link exactly when there is a next cursor: {page}"
        );
        assert!(pages <= 10, "paging does not end");
    }
    (ids_seen, pages)
}

/// Where the server writes recordings: `<data_dir>/recordings` beside the derived config.
fn recordings_dir(config: &Path) -> PathBuf {
    config
        .parent()
        .and_then(Path::parent)
        .expect("derived config layout")
        .join("data/recordings")
}

#[test]
fn history_search_paging_exports_and_recordings_over_records_made_by_real_calls() {
    let cfg = derive_config(&[
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
        (
            "  - username: alice\n",
            "  - username: alice\n    initial_status: Available\n",
        ),
    ]);
    let began = now_ms();
    let mut server = Server::start(&cfg.path).expect("server");
    let alice = server.login("alice", "demo-alice").expect("login alice");
    let agent_port = free_port();
    register_phone(server.sip, "alice", "demo-alice", agent_port);

    // A status change from the panel, then two calls.
    for status in ["Break", "Available"] {
        let (code, body) = server
            .api(
                "PUT",
                "/api/v1/agent/status",
                Some(&alice),
                Some(&format!(r#"{{"status":"{status}"}}"#)),
            )
            .expect("PUT status");
        assert_eq!(code, 200, "{status}: {body}");
    }
    let first = one_call(&server, &alice, agent_port);
    let second = one_call(&server, &alice, agent_port);
    let ended = now_ms() + 1;
    let calls = vec![first.clone(), second.clone()];

    let maria = server.login("maria", "demo-maria").expect("login maria");
    let range = format!("from={began}&to={ended}");

    // The records land shortly after the calls (write-behind), recordings once closed.
    let start = Instant::now();
    let page = loop {
        let page = get(&server, &format!("/api/v1/contacts?{range}"), &maria)
            .expect(200, "search the range");
        let done = page["items"].as_array().is_some_and(|items| {
            items.len() == 2
                && items.iter().all(|r| {
                    !r["disconnect_reason"].is_null() && !r["recording_duration_ms"].is_null()
                })
        });
        if done {
            break page;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "records not stored: {page:#}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ids(&page), calls, "both calls, in initiation order");
    assert!(page["next_cursor"].is_null());
    let reason = page["items"][0]["disconnect_reason"]
        .as_str()
        .expect("disconnect reason")
        .to_string();
    for r in page["items"].as_array().expect("items") {
        assert_eq!(r["queue"], "Sales", "{r:#}");
        assert_eq!(r["agent_username"], "alice", "{r:#}");
        assert_eq!(r["initiation_method"], "inbound", "{r:#}");
        assert_eq!(r["system_endpoint"], "+15550100", "{r:#}");
        assert_eq!(r["disconnect_reason"], reason.as_str(), "{r:#}");
        let id = r["contact_id"].as_str().expect("id");
        assert!(
            r["recording_path"]
                .as_str()
                .is_some_and(|p| p.ends_with(&format!("{id}.wav"))),
            "{r:#}"
        );
    }

    // Filters: queue, agent, disconnect reason, time range.
    let search = |query: &str| -> Vec<String> {
        ids(&get(&server, &format!("/api/v1/contacts?{query}"), &maria).expect(200, query))
    };
    assert_eq!(search(&format!("{range}&queue=Sales&agent=alice")), calls);
    assert_eq!(
        search(&format!("{range}&disconnect_reason={reason}")),
        calls
    );
    let other_reason = if reason == "flow" { "error" } else { "flow" };
    assert!(search(&format!("{range}&disconnect_reason={other_reason}")).is_empty());
    assert!(search(&format!("{range}&queue=Support")).is_empty());
    assert!(search(&format!("{range}&agent=bob")).is_empty());
    assert!(search(&format!("from={ended}")).is_empty());
    assert!(search(&format!("from={}&to={began}", began - 60_000)).is_empty());

    // One contact's record, as the search has it.
    let record = get(&server, &format!("/api/v1/contacts/{first}"), &maria)
        .expect(200, "GET the first contact");
    assert_eq!(record, page["items"][0]);

    // Paging with limit=1: by the cursor, and by the Link header.
    let p1 = get(
        &server,
        &format!("/api/v1/contacts?{range}&limit=1"),
        &maria,
    );
    let body = p1.expect(200, "page 1");
    assert_eq!(ids(&body), vec![first.clone()]);
    let cursor = body["next_cursor"].as_str().expect("a cursor").to_string();
    let link = p1.next_link().expect("a Link to page 2");
    assert_eq!(
        link,
        format!("/api/v1/contacts?{range}&limit=1&cursor={cursor}")
    );
    let p2 = get(&server, &link, &maria);
    let body = p2.expect(200, "page 2");
    assert_eq!(ids(&body), vec![second.clone()]);
    assert!(body["next_cursor"].is_null(), "{body}");
    assert!(p2.header("link").is_none(), "no Link on the last page");
    let (all_ids, pages) = follow_links(
        &server,
        &maria,
        &format!("/api/v1/contacts?{range}&limit=1&queue=Sales"),
    );
    assert_eq!((all_ids, pages), (calls.clone(), 2));

    // CSV: the header row, then one row per contact; paged exports append to one file.
    let csv = get(
        &server,
        &format!("/api/v1/contacts?{range}&format=csv"),
        &maria,
    );
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.header("content-disposition"),
        Some("attachment; filename=\"contacts.csv\"")
    );
    let rows = parse_csv(&csv.text());
    assert_eq!(rows.len(), 3, "{rows:?}");
    let header = &rows[0];
    assert_eq!(
        header[..4],
        [
            "contact_id",
            "initial_contact_id",
            "previous_contact_id",
            "next_contact_id"
        ]
    );
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column in {header:?}"))
    };
    for (row, id) in rows[1..].iter().zip(&calls) {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert_eq!(&row[col("contact_id")], id);
        assert_eq!(row[col("queue")], "Sales");
        assert_eq!(row[col("agent_username")], "alice");
        assert_eq!(row[col("disconnect_reason")], reason);
        assert_eq!(row[col("initiation_method")], "inbound");
        assert!(row[col("recording_path")].ends_with(&format!("{id}.wav")));
        assert!(
            row[col("initiation_timestamp")].ends_with('Z'),
            "RFC 3339 UTC: {row:?}"
        );
        let talked: i64 = row[col("agent_interaction_ms")].parse().expect("ms");
        assert!(talked >= 1_000, "talked {talked} ms: {row:?}");
    }
    let csv1 = get(
        &server,
        &format!("/api/v1/contacts?{range}&format=csv&limit=1"),
        &maria,
    );
    let link = csv1.next_link().expect("a Link to the second CSV page");
    assert!(link.contains("format=csv"), "{link}");
    let csv2 = get(&server, &link, &maria);
    assert_eq!(csv2.status, 200, "{}", csv2.text());
    assert!(csv2.header("link").is_none());
    assert_eq!(
        format!("{}{}", csv1.text(), csv2.text()),
        csv.text(),
        "the pages of an export make the whole export"
    );

    // JSON lines: one record per line, the same as the JSON page's items.
    let jsonl = get(
        &server,
        &format!("/api/v1/contacts?{range}&format=jsonl"),
        &maria,
    );
    assert_eq!(jsonl.status, 200, "{}", jsonl.text());
    assert_eq!(jsonl.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(
        jsonl.header("content-disposition"),
        Some("attachment; filename=\"contacts.jsonl\"")
    );
    let lines: Vec<Value> = jsonl
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(&lines, page["items"].as_array().expect("items"));

    // Alice's status changes: the panel's, and each contact's from offer to cleared.
    let events = get(
        &server,
        &format!("/api/v1/agent-events?{range}&username=alice"),
        &maria,
    )
    .expect(200, "agent events");
    let items = events["items"].as_array().expect("items").clone();
    let has = |from: &str, to: &str, reason: &str, contact: Option<&str>| {
        items.iter().any(|e| {
            e["username"] == "alice"
                && e["from_state"] == from
                && e["to_state"] == to
                && e["reason"] == reason
                && contact.is_none_or(|c| e["contact_id"] == c)
        })
    };
    assert!(has("Available", "Break", "status_set", None), "{events:#}");
    assert!(has("Break", "Available", "status_set", None), "{events:#}");
    for id in &calls {
        assert!(
            has("Available", "Incoming", "offered", Some(id)),
            "{events:#}"
        );
        assert!(
            items
                .iter()
                .any(|e| e["contact_id"] == id.as_str() && e["to_state"] == "Busy"),
            "{events:#}"
        );
        assert!(
            has("AfterContactWork", "Available", "acw_cleared", Some(id)),
            "{events:#}"
        );
    }
    let event_ids: Vec<i64> = items
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(event_ids.windows(2).all(|w| w[0] < w[1]), "{event_ids:?}");
    assert!(
        items
            .iter()
            .all(|e| e["at_unix_ms"].as_i64() >= Some(began))
    );
    // Paged two at a time, the same events.
    let mut paged = Vec::new();
    let mut next = Some(format!(
        "/api/v1/agent-events?{range}&username=alice&limit=2"
    ));
    while let Some(path) = next {
        let r = get(&server, &path, &maria);
        let page = r.expect(200, &path);
        assert!(page["items"].as_array().expect("items").len() <= 2);
        paged.extend(page["items"].as_array().expect("items").clone());
        next = r.next_link();
    }
    assert_eq!(paged, items);
    // As CSV.
    let csv = get(
        &server,
        &format!("/api/v1/agent-events?{range}&username=alice&format=csv"),
        &maria,
    );
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_eq!(
        csv.header("content-disposition"),
        Some("attachment; filename=\"agent-events.csv\"")
    );
    let rows = parse_csv(&csv.text());
    assert_eq!(
        rows[0],
        [
            "id",
            "timestamp",
            "username",
            "from_state",
            "to_state",
            "reason",
            "contact_id"
        ]
    );
    assert_eq!(rows.len(), items.len() + 1);
    for (row, e) in rows[1..].iter().zip(&items) {
        assert_eq!(row[0], e["id"].as_i64().expect("id").to_string());
        assert_eq!(row[2], "alice");
        assert_eq!(row[4], e["to_state"].as_str().expect("to_state"));
    }

    // The recording: stereo WAV, the customer on the left, Alice on the right.
    let wav = get(
        &server,
        &format!("/api/v1/contacts/{second}/recording"),
        &maria,
    );
    assert_eq!(wav.status, 200, "{}", String::from_utf8_lossy(&wav.body));
    assert_eq!(wav.header("content-type"), Some("audio/wav"));
    assert_eq!(
        wav.header("content-disposition"),
        Some(format!("inline; filename=\"{second}.wav\"").as_str())
    );
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav.body.clone())).expect("a WAV");
    let spec = reader.spec();
    assert_eq!(spec.channels, 2, "{spec:?}");
    assert_eq!(spec.bits_per_sample, 16, "{spec:?}");
    assert!(spec.sample_rate >= 8_000, "{spec:?}");
    let frames = reader.duration();
    let wav_ms = i64::from(frames) * 1000 / i64::from(spec.sample_rate);
    let stored_ms = page["items"][1]["recording_duration_ms"]
        .as_i64()
        .expect("recording duration");
    assert!(wav_ms >= 1_000, "{wav_ms} ms recorded");
    assert!(
        (wav_ms - stored_ms).abs() <= 100,
        "the file holds {wav_ms} ms, the record says {stored_ms} ms"
    );
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("samples");
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    // Half a second from the middle of the call.
    let rate = usize::try_from(spec.sample_rate).expect("rate");
    let middle = |ch: &[i16]| -> Vec<i16> {
        let mid = ch.len() / 2;
        ch[mid.saturating_sub(rate / 4)..(mid + rate / 4).min(ch.len())].to_vec()
    };
    let (left, right) = (middle(&left), middle(&right));
    let level = |ch: &[i16], hz: f64| amplitude(ch, spec.sample_rate, hz);
    assert!(level(&left, CUSTOMER_HZ) >= 2_000.0, "customer on the left");
    assert!(
        level(&left, AGENT_HZ) < 800.0,
        "only the customer on the left"
    );
    assert!(level(&right, AGENT_HZ) >= 2_000.0, "Alice on the right");
    assert!(
        level(&right, CUSTOMER_HZ) < 800.0,
        "only Alice on the right"
    );

    // Alice, an agent, may read none of it.
    let forbidden = |path: &str, permission: &str| {
        let v = get(&server, path, &alice).refused(403, path);
        assert_eq!(v["permission"], permission, "{path}: {v}");
    };
    forbidden(&format!("/api/v1/contacts?{range}"), "ContactSearch");
    forbidden(
        &format!("/api/v1/contacts?{range}&format=csv"),
        "ContactSearch",
    );
    forbidden("/api/v1/contacts?limit=0", "ContactSearch");
    forbidden("/api/v1/agent-events", "AccessMetrics");
    forbidden(&format!("/api/v1/contacts/{first}"), "ContactSearch");
    forbidden(
        &format!("/api/v1/contacts/{first}/recording"),
        "ListenCallRecordings",
    );
    // Without a session: 401.
    request(&server, "GET", "/api/v1/contacts", None).refused(401, "no session");
    request(
        &server,
        "GET",
        &format!("/api/v1/contacts/{first}/recording"),
        None,
    )
    .refused(401, "no session");

    // Unknown contacts and malformed ids.
    for path in [
        format!("/api/v1/contacts/{NIL}"),
        format!("/api/v1/contacts/{NIL}/recording"),
    ] {
        get(&server, &path, &maria).refused(404, &path);
    }
    get(&server, "/api/v1/contacts/not-a-uuid", &maria).refused(400, "bad id");
    get(&server, "/api/v1/contacts/not-a-uuid/recording", &maria).refused(400, "bad id");

    // Malformed parameters: 400 with the reason.
    for (query, says) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("from=5&to=5", "before"),
        ("from=yesterday", "from"),
        ("format=xml", "format"),
        ("disconnect_reason=hangup", "hangup"),
        ("cursor=nope", "cursor"),
    ] {
        for route in ["contacts", "agent-events"] {
            if route == "agent-events" && query.starts_with("disconnect_reason") {
                continue;
            }
            let path = format!("/api/v1/{route}?{query}");
            let v = get(&server, &path, &maria).refused(400, &path);
            assert!(
                v["error"].as_str().is_some_and(|e| e.contains(says)),
                "{path}: {v}"
            );
        }
    }
    // A contact cursor is not an agent-event cursor.
    get(
        &server,
        &format!("/api/v1/agent-events?cursor={cursor}"),
        &maria,
    )
    .refused(400, "a foreign cursor");

    // Records whose recording is not servable: outside the recordings directory (directly,
    // by `..`, by a link planted inside it), and gone. Written while the server is stopped.
    let dir = recordings_dir(&cfg.path);
    let day = std::fs::read_dir(&dir)
        .expect("recordings directory")
        .flatten()
        .next()
        .expect("a day directory")
        .path();
    let secret = cfg.path.clone(); // any file outside the recordings directory
    let link = day.join("planted.wav");
    std::os::unix::fs::symlink(&secret, &link).expect("plant a link");
    let traversal = day.join("../../../config/switchboard.yaml");
    assert!(traversal.exists(), "{}", traversal.display());
    let gone = day.join("deleted.wav");
    let bad_paths = [&secret, &traversal, &link, &gone];
    server.stop().expect("stop");
    let bad_ids: Vec<String> = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let store = Store::open(&server.database_url).await.expect("open store");
            let mut ids = Vec::new();
            for (n, path) in bad_paths.iter().enumerate() {
                let id = uuid::Uuid::from_u128(0xbad0 + n as u128);
                let mut r = ContactRecord::new(id, InitiationMethod::Inbound, began);
                r.recording_path = Some(path.display().to_string());
                store.upsert_contact(&r).await.expect("write a record");
                ids.push(id.to_string());
            }
            store.close().await;
            ids
        });
    server.restart().expect("restart");
    let maria = server.login("maria", "demo-maria").expect("login maria");
    for (id, path) in bad_ids.iter().zip(bad_paths) {
        let v = get(&server, &format!("/api/v1/contacts/{id}/recording"), &maria)
            .refused(404, &path.display().to_string());
        assert!(!v.to_string().contains("demo-alice"), "{v}");
    }
    let refusals = server
        .log_text()
        .matches("recording path outside the recordings directory refused")
        .count();
    assert_eq!(refusals, 3, "each path outside is logged");
    // The real recordings are still served after the restart.
    assert_eq!(
        get(
            &server,
            &format!("/api/v1/contacts/{first}/recording"),
            &maria
        )
        .status,
        200
    );
    let listed: BTreeSet<String> = ids(&get(&server, &format!("/api/v1/contacts?{range}"), &maria)
        .expect(200, "search after restart"))
    .into_iter()
    .collect();
    assert!(calls.iter().all(|c| listed.contains(c)), "{listed:?}");
}

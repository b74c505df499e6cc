//! The agent panel API (`/api/v1`) against the real binary: log-in and sessions, the log-in
//! rate limit, permissions named in 403s (read from the live config), quick connects per
//! routing profile, number formatting, a status change seen by GET and pushed on the events
//! WebSocket, and every route in the OpenAPI document answering as documented. Actions on
//! live calls are covered by the call tests; here they only need to reach the core.

// Waiting for pushed events and for a reload is real time.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_tests::{Server, binary, derive_config, root};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

/// How a request proves who it is.
#[derive(Debug, Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The error body every refusal has; its `error` is plain words.
    fn error(&self) -> Value {
        let v = self.json();
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "no `error` in {} {}",
            self.status,
            self.body
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.body
        );
        v
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// One HTTP/1.1 request; `content_type` is sent only when given, so tests can leave it out.
fn request(
    server: &Server,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut s = TcpStream::connect_timeout(&server.http, Duration::from_secs(2)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.http
    );
    match auth {
        Auth::None => {}
        Auth::Bearer(t) => head.push_str(&format!("Authorization: Bearer {t}\r\n")),
        Auth::Cookie(t) => head.push_str(&format!("Cookie: theme=dark; sb_session={t}\r\n")),
    }
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    let body = body.unwrap_or("");
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(head.as_bytes()).expect("send");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read reply");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header end");
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
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn get(server: &Server, path: &str, auth: Auth<'_>) -> Reply {
    request(server, "GET", path, auth, None, None)
}

fn send_json(server: &Server, method: &str, path: &str, auth: Auth<'_>, body: Value) -> Reply {
    request(
        server,
        method,
        path,
        auth,
        Some("application/json"),
        Some(&body.to_string()),
    )
}

fn post(server: &Server, path: &str, auth: Auth<'_>) -> Reply {
    request(server, "POST", path, auth, None, None)
}

fn login_reply(server: &Server, username: &str, password: &str) -> Reply {
    send_json(
        server,
        "POST",
        "/api/v1/login",
        Auth::None,
        json!({"username": username, "password": password}),
    )
}

/// Logs in and returns the token.
fn login(server: &Server, username: &str, password: &str) -> String {
    let r = login_reply(server, username, password);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().expect("token").to_string()
}

fn assert_forbidden(r: &Reply, permission: &str) {
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error()["permission"], permission, "{}", r.body);
}

const NIL: &str = "00000000-0000-0000-0000-000000000000";

#[test]
fn login_sets_a_session_cookie_and_sessions_end_at_logout() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");

    let r = login_reply(&server, "alice", "demo-alice");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let token = v["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32, "{token}");
    assert!(v["expires_unix_ms"].as_i64().unwrap() > 0);
    assert_eq!(
        v["user"],
        json!({
            "username": "alice",
            "display_name": "Alice Anders",
            "permissions": ["BasicAgentAccess", "OutboundCallAccess", "TransferDestinations.View"],
            "phone": "softphone",
            "country": "US",
        })
    );
    let cookie = r.header("set-cookie").expect("Set-Cookie");
    assert!(
        cookie.starts_with(&format!("sb_session={token};")),
        "{cookie}"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    // Dave's desk phone and country show in his user object.
    let dave = login_reply(&server, "dave", "demo-dave").json();
    assert_eq!(dave["user"]["phone"], "desk_phone");

    // Unknown user and wrong password: the same 401.
    let wrong = login_reply(&server, "alice", "demo-bob");
    let unknown = login_reply(&server, "zoe", "demo-alice");
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.error(), unknown.error());
    assert!(wrong.header("set-cookie").is_none());

    // Malformed bodies are refused with the same JSON shape.
    let broken = request(
        &server,
        "POST",
        "/api/v1/login",
        Auth::None,
        Some("application/json"),
        Some("{\"username\": "),
    );
    assert_eq!(broken.status, 400);
    broken.error();
    let partial = send_json(
        &server,
        "POST",
        "/api/v1/login",
        Auth::None,
        json!({"username": "alice"}),
    );
    assert_eq!(partial.status, 422);
    assert!(
        partial.error()["error"]
            .as_str()
            .unwrap()
            .contains("password")
    );
    let untyped = request(
        &server,
        "POST",
        "/api/v1/login",
        Auth::None,
        None,
        Some("{}"),
    );
    assert_eq!(untyped.status, 415);
    untyped.error();

    // The session works by cookie and by bearer header; nothing else does.
    let me = get(&server, "/api/v1/me", Auth::Cookie(&token));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json(), v["user"]);
    assert_eq!(get(&server, "/api/v1/me", Auth::Bearer(&token)).status, 200);
    let none = get(&server, "/api/v1/me", Auth::None);
    assert_eq!(none.status, 401);
    none.error();
    assert_eq!(
        get(&server, "/api/v1/agent", Auth::Bearer("not-a-session")).status,
        401
    );

    // Log-out ends this session only, and clears the cookie.
    let other = login(&server, "alice", "demo-alice");
    let out = post(&server, "/api/v1/logout", Auth::Cookie(&token));
    assert_eq!(out.status, 204, "{}", out.body);
    assert!(
        out.header("set-cookie")
            .is_some_and(|c| c.starts_with("sb_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        out.headers
    );
    assert_eq!(get(&server, "/api/v1/me", Auth::Cookie(&token)).status, 401);
    assert_eq!(
        post(&server, "/api/v1/logout", Auth::Bearer(&token)).status,
        401
    );
    assert_eq!(get(&server, "/api/v1/me", Auth::Bearer(&other)).status, 200);

    // Unknown routes and methods answer in the same shape.
    let nowhere = get(&server, "/api/v1/nowhere", Auth::Bearer(&other));
    assert_eq!(nowhere.status, 404);
    nowhere.error();
    let wrong_method = request(
        &server,
        "DELETE",
        "/api/v1/agent",
        Auth::Bearer(&other),
        None,
        None,
    );
    assert_eq!(wrong_method.status, 405);
    wrong_method.error();
}

#[test]
fn repeated_login_failures_from_one_address_are_refused_with_429() {
    // sipp answers only MD5 challenges.
    let cfg = derive_config(&[
        ("max_failures: 10", "max_failures: 3"),
        ("    algorithms: [SHA-256, MD5]", "    algorithms: [MD5]"),
    ]);
    let server = Server::start(&cfg.path).expect("server");
    for _ in 0..3 {
        assert_eq!(login_reply(&server, "alice", "guess").status, 401);
    }
    // Blocked now, even with the right password.
    let r = login_reply(&server, "alice", "demo-alice");
    assert_eq!(r.status, 429, "{}", r.body);
    r.error();
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=300).contains(&retry), "block_for is 5m: {retry}");
    // SIP registrations from the same address are a separate count and still work.
    let sip = switchboard_tests::sipp(
        server.sip,
        "register.xml",
        "alice;demo-alice;demo.switchboard.test",
        &[],
    );
    assert!(sip.success(), "{}", sip.explain());
}

/// Adds `adam`, who has only the Admin profile (no BasicAgentAccess).
const ADD_ADAM: (&str, &str) = (
    "  - username: maria\n",
    "  - username: adam\n    display_name: Adam Admin\n    password: demo-adam\n    \
     security_profiles: [Admin]\n    phone: softphone\n  - username: maria\n",
);

#[test]
fn missing_permissions_are_named_and_read_from_the_live_config() {
    let cfg = derive_config(&[ADD_ADAM]);
    let server = Server::start(&cfg.path).expect("server");

    // No BasicAgentAccess: no panel, said only to someone who knows the password.
    assert_forbidden(
        &login_reply(&server, "adam", "demo-adam"),
        "BasicAgentAccess",
    );
    assert_eq!(login_reply(&server, "adam", "wrong").status, 401);

    // Maria (CallCenterManager) may use the panel, but neither dial out nor transfer.
    let maria = login(&server, "maria", "demo-maria");
    let m = Auth::Bearer(&maria);
    assert_eq!(get(&server, "/api/v1/agent", m).status, 200);
    assert_forbidden(
        &get(&server, "/api/v1/quick-connects", m),
        "TransferDestinations.View",
    );
    assert_forbidden(
        &send_json(
            &server,
            "POST",
            "/api/v1/calls",
            m,
            json!({"number": "+15550123"}),
        ),
        "OutboundCallAccess",
    );
    let transfer = format!("/api/v1/contacts/{NIL}/transfer");
    assert_forbidden(
        &send_json(
            &server,
            "POST",
            &transfer,
            m,
            json!({"quick_connect": "Bob"}),
        ),
        "TransferDestinations.View",
    );
    assert_forbidden(
        &send_json(
            &server,
            "POST",
            &transfer,
            m,
            json!({"number": "+15550123"}),
        ),
        "OutboundCallAccess",
    );

    // Alice may; a dial to nowhere reaches the core (refused there, not here).
    let alice = login(&server, "alice", "demo-alice");
    let a = Auth::Cookie(&alice);
    let dial = send_json(
        &server,
        "POST",
        "/api/v1/calls",
        a,
        json!({"number": "abc"}),
    );
    assert_eq!(dial.status, 422, "{}", dial.body);

    // The admin takes OutboundCallAccess and TransferDestinations.View from alice: her
    // session stays, her permissions go at once.
    let text = std::fs::read_to_string(&cfg.path).expect("read config");
    let from = "    password: demo-alice\n    security_profiles: [Agent]\n";
    assert_eq!(text.matches(from).count(), 1);
    let text = text.replace(
        from,
        "    password: demo-alice\n    security_profiles: [CallCenterManager]\n",
    );
    std::fs::write(&cfg.path, text).expect("write config");
    let published = Command::new(binary())
        .args(["flows", "publish", "--config"])
        .arg(&cfg.path)
        .current_dir(root())
        .output()
        .expect("run flows publish");
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = send_json(
            &server,
            "POST",
            "/api/v1/calls",
            a,
            json!({"number": "+15550123"}),
        );
        if r.status == 403 {
            assert_forbidden(&r, "OutboundCallAccess");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still allowed: {} {}",
            r.status,
            r.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_forbidden(
        &get(&server, "/api/v1/quick-connects", a),
        "TransferDestinations.View",
    );
    let me = get(&server, "/api/v1/me", a).json();
    assert!(
        !me["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("OutboundCallAccess")),
        "{me}"
    );
}

#[test]
fn quick_connects_are_those_on_the_queues_of_the_routing_profile() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let names = |user: &str, password: &str| -> Vec<Value> {
        let token = login(&server, user, password);
        let r = get(&server, "/api/v1/quick-connects", Auth::Bearer(&token));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json().as_array().unwrap().clone()
    };
    // Alice, "Support and Sales": Support's (Bob, Sales queue, Front desk), then Sales's
    // (Support queue; Front desk only once).
    assert_eq!(
        names("alice", "demo-alice"),
        vec![
            json!({"name": "Bob", "type": "agent", "target": "bob"}),
            json!({"name": "Sales queue", "type": "queue", "target": "Sales"}),
            json!({"name": "Front desk", "type": "external", "target": "+15550199"}),
            json!({"name": "Support queue", "type": "queue", "target": "Support"}),
        ]
    );
    // Dave, "Support only": Support's.
    let dave: Vec<Value> = names("dave", "demo-dave");
    let dave: Vec<&str> = dave.iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(dave, ["Bob", "Sales queue", "Front desk"]);
    // Bob, "Sales first": Sales's, then Support's, without a transfer to himself.
    let bob: Vec<Value> = names("bob", "demo-bob");
    let bob: Vec<&str> = bob.iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(bob, ["Support queue", "Front desk", "Sales queue"]);

    // A quick connect not among Dave's is not his to use.
    let token = login(&server, "dave", "demo-dave");
    let path = format!("/api/v1/contacts/{NIL}/transfer");
    let r = send_json(
        &server,
        "POST",
        &path,
        Auth::Bearer(&token),
        json!({"quick_connect": "Support queue"}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(
        r.error()["error"]
            .as_str()
            .unwrap()
            .contains("Support queue")
    );
    // One of his reaches the core, which has no such contact.
    let r = send_json(
        &server,
        "POST",
        &path,
        Auth::Bearer(&token),
        json!({"quick_connect": "Sales queue"}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    // Neither or both targets.
    for body in [
        json!({}),
        json!({"quick_connect": "Bob", "number": "+15550123"}),
    ] {
        let r = send_json(&server, "POST", &path, Auth::Bearer(&token), body);
        assert_eq!(r.status, 422, "{}", r.body);
        r.error();
    }
}

#[test]
fn typed_numbers_are_formatted_for_the_dial_pad() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let token = login(&server, "alice", "demo-alice");
    let format = |query: &str| {
        get(
            &server,
            &format!("/api/v1/numbers/format?{query}"),
            Auth::Bearer(&token),
        )
    };
    let ok = |query: &str, e164: &str| {
        let r = format(query);
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        assert_eq!(r.json(), json!({"e164": e164}), "{query}");
    };
    // Alice has no country of her own: the instance's (US).
    ok("number=(415)%20555-0134", "+14155550134");
    ok("number=%2B44%2020%207946%200018", "+442079460018");
    ok("number=011%2044%2020%207946%200018", "+442079460018");
    ok("number=020%207946%200018&country=GB", "+442079460018");
    ok("number=020%207946%200018&country=gb", "+442079460018");
    for (query, reason) in [
        ("number=12", "too short"),
        ("number=555-CALL-NOW", "not part of a phone number"),
        ("number=020%207946%200018&country=XX", "unknown country"),
    ] {
        let r = format(query);
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        let e = r.error();
        assert!(
            e["error"].as_str().unwrap().contains(reason),
            "{query}: {e}"
        );
    }
    let missing = format("country=US");
    assert_eq!(missing.status, 400);
    missing.error();
    assert_eq!(
        get(&server, "/api/v1/numbers/format?number=12", Auth::None).status,
        401
    );
    // Dialing formats the same way and refuses with the same reason.
    let r = send_json(
        &server,
        "POST",
        "/api/v1/calls",
        Auth::Bearer(&token),
        json!({"number": "12"}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.error()["error"], "the number is too short");
}

type Socket = WebSocket<TcpStream>;

/// Opens `/api/v1/events{query}` with `cookie` (if any); the handshake's HTTP status on failure.
fn open_events(server: &Server, query: &str, cookie: Option<&str>) -> Result<Socket, u16> {
    let stream = TcpStream::connect(server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    let mut req = format!("ws://{}/api/v1/events{query}", server.http)
        .into_client_request()
        .expect("events request");
    if let Some(token) = cookie {
        req.headers_mut().insert(
            "Cookie",
            format!("sb_session={token}")
                .parse()
                .expect("cookie header"),
        );
    }
    match tungstenite::client(req, stream) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        Err(e) => panic!("handshake: {e}"),
    }
}

/// What the socket says next within `wait`: a JSON message, or the close code.
#[derive(Debug)]
enum Heard {
    Event(Value),
    Closed(Option<u16>),
    Nothing,
}

fn next_event(ws: &mut Socket, wait: Duration) -> Heard {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Text(t)) => {
                return Heard::Event(serde_json::from_str(&t).expect("JSON event"));
            }
            Ok(Message::Close(frame)) => return Heard::Closed(frame.map(|f| u16::from(f.code))),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Heard::Closed(None);
            }
            Err(e) => panic!("events socket: {e}"),
        }
    }
    Heard::Nothing
}

fn snapshot_of(heard: Heard) -> Value {
    match heard {
        Heard::Event(v) => {
            assert_eq!(v["type"], "snapshot", "{v}");
            v["agent"].clone()
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

#[test]
fn a_status_change_is_answered_read_back_and_pushed_on_the_websocket() {
    let cfg = derive_config(&[]);
    let mut server = Server::start(&cfg.path).expect("server");
    assert_eq!(open_events(&server, "", None).err(), Some(401));
    assert_eq!(open_events(&server, "?token=nope", None).err(), Some(401));

    let alice = login(&server, "alice", "demo-alice");
    let bob = login(&server, "bob", "demo-bob");
    let mut by_cookie = open_events(&server, "", Some(&alice)).expect("socket by cookie");
    let mut by_query =
        open_events(&server, &format!("?token={alice}"), None).expect("socket by ?token");
    for ws in [&mut by_cookie, &mut by_query] {
        let first = snapshot_of(next_event(ws, Duration::from_secs(5)));
        assert_eq!(first["username"], "alice");
        assert_eq!(first["status"], "Offline", "{first}");
    }

    // Bob's change is not Alice's business.
    let r = send_json(
        &server,
        "PUT",
        "/api/v1/agent/status",
        Auth::Bearer(&bob),
        json!({"status": "Lunch"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let r = send_json(
        &server,
        "PUT",
        "/api/v1/agent/status",
        Auth::Cookie(&alice),
        json!({"status": "Break"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "Break");
    let read = get(&server, "/api/v1/agent", Auth::Bearer(&alice));
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["status"], "Break");
    for ws in [&mut by_cookie, &mut by_query] {
        let pushed = snapshot_of(next_event(ws, Duration::from_secs(5)));
        assert_eq!(
            pushed["username"], "alice",
            "only Alice's snapshots: {pushed}"
        );
        assert_eq!(pushed["status"], "Break");
        assert_eq!(
            pushed,
            read.json(),
            "the pushed snapshot is the one GET reads"
        );
    }

    // An unknown status changes nothing.
    let r = send_json(
        &server,
        "PUT",
        "/api/v1/agent/status",
        Auth::Cookie(&alice),
        json!({"status": "Asleep"}),
    );
    assert_eq!(r.status, 422);
    r.error();
    assert_eq!(
        get(&server, "/api/v1/agent", Auth::Bearer(&alice)).json()["status"],
        "Break"
    );

    // A socket opened now starts from the current state.
    let mut late = open_events(&server, "", Some(&alice)).expect("late socket");
    assert_eq!(
        snapshot_of(next_event(&mut late, Duration::from_secs(5)))["status"],
        "Break"
    );

    // Log-out closes every socket of the session.
    assert_eq!(
        post(&server, "/api/v1/logout", Auth::Bearer(&alice)).status,
        204
    );
    for ws in [&mut by_cookie, &mut by_query, &mut late] {
        match next_event(ws, Duration::from_secs(5)) {
            Heard::Closed(code) => assert_eq!(code, Some(4401)),
            other => panic!("expected the socket to close, got {other:?}"),
        }
    }

    // Stopping the server closes open sockets ("going away") and does not wait on them.
    let dave = login(&server, "dave", "demo-dave");
    let mut open = open_events(&server, "", Some(&dave)).expect("socket");
    snapshot_of(next_event(&mut open, Duration::from_secs(5)));
    let stopped = server.stop().expect("stop");
    assert!(stopped.success(), "{stopped}");
    match next_event(&mut open, Duration::from_secs(5)) {
        Heard::Closed(code) => assert_eq!(code, Some(1001)),
        other => panic!("expected the socket to close, got {other:?}"),
    }
}

/// The success schema of a documented response, resolved one `$ref` deep: its required
/// properties, checked against a body.
fn check_body_against_schema(doc: &Value, schema: &Value, body: &Value, what: &str) {
    let resolve = |s: &Value| -> Value {
        match s["$ref"].as_str() {
            Some(r) => {
                let name = r.rsplit('/').next().expect("schema name");
                doc["components"]["schemas"][name].clone()
            }
            None => s.clone(),
        }
    };
    let schema = resolve(schema);
    if schema["type"] == "array" {
        for item in body
            .as_array()
            .unwrap_or_else(|| panic!("{what}: not an array: {body}"))
        {
            check_body_against_schema(doc, &schema["items"], item, what);
        }
        return;
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().expect("property name");
        assert!(
            body.get(key).is_some(),
            "{what}: `{key}` missing from {body}"
        );
    }
}

#[test]
fn every_documented_route_answers_as_documented() {
    let cfg = derive_config(&[]);
    let server = Server::start(&cfg.path).expect("server");
    let r = get(&server, "/api/v1/openapi.json", Auth::None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    // Every route of the panel is there.
    for p in [
        "/api/v1/login",
        "/api/v1/logout",
        "/api/v1/me",
        "/api/v1/agent",
        "/api/v1/agent/status",
        "/api/v1/agent/clear-missed",
        "/api/v1/contacts/{id}/accept",
        "/api/v1/contacts/{id}/reject",
        "/api/v1/contacts/{id}/clear",
        "/api/v1/contacts/{id}/join",
        "/api/v1/contacts/{id}/swap",
        "/api/v1/contacts/{id}/hold-all",
        "/api/v1/contacts/{id}/leave",
        "/api/v1/contacts/{id}/transfer",
        "/api/v1/contacts/{id}/connections/{kind}/hold",
        "/api/v1/contacts/{id}/connections/{kind}/resume",
        "/api/v1/contacts/{id}/connections/{kind}/end",
        "/api/v1/quick-connects",
        "/api/v1/calls",
        "/api/v1/numbers/format",
        "/api/v1/events",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} is not documented");
    }

    let token = login(&server, "alice", "demo-alice");
    let operations: usize = paths
        .values()
        .map(|ops| ops.as_object().map_or(0, |m| m.len()))
        .sum();
    assert!(
        operations >= 30,
        "only {operations} operations are documented"
    );
    let mut checked = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            let what = format!("{method} {path}");
            let documented = |status: u16| op["responses"].get(status.to_string()).is_some();
            let public = path == "/api/v1/login" || path == "/api/v1/openapi.json";
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let has_body = op.get("requestBody").is_some();
            let required_query = params
                .iter()
                .any(|p| p["in"] == "query" && p["required"] == true);
            let in_path = params.iter().any(|p| p["in"] == "path");
            let call = |path: &str, auth: Auth<'_>, body: Option<&str>| {
                request(
                    &server,
                    &method,
                    path,
                    auth,
                    body.map(|_| "application/json"),
                    body,
                )
            };

            // Without a session: 401, as documented.
            if !public {
                let good_path = path.replace("{id}", NIL).replace("{kind}", "customer");
                let r = call(&good_path, Auth::None, has_body.then_some("{}"));
                assert_eq!(r.status, 401, "{what} without a session: {}", r.body);
                assert!(documented(401), "{what}: 401 not documented");
                r.error();
            }

            // With a session and bad input: a documented 4xx.
            let (bad_path, bad_body) = if in_path {
                (
                    path.replace("{id}", "not-a-uuid")
                        .replace("{kind}", "sideways"),
                    has_body.then_some("{}"),
                )
            } else if has_body {
                (path.clone(), Some("{\"oops\": "))
            } else {
                (path.clone(), None)
            };
            let bad_input = in_path || has_body || required_query;
            if path == "/api/v1/logout" {
                // Its own session, so the rest keep theirs.
                let own = login(&server, "alice", "demo-alice");
                let r = call(&bad_path, Auth::Bearer(&own), None);
                assert!(
                    documented(r.status),
                    "{what}: {} is not documented",
                    r.status
                );
                assert_eq!(r.status, 204);
                checked += 1;
                continue;
            }
            let r = call(&bad_path, Auth::Bearer(&token), bad_body);
            assert!(
                documented(r.status),
                "{what} ({bad_path}, {bad_body:?}) answered {} which is not documented: {}",
                r.status,
                r.body
            );
            if bad_input {
                assert!(
                    (400..500).contains(&r.status),
                    "{what} with bad input answered {}: {}",
                    r.status,
                    r.body
                );
                r.error();
            } else if (200..300).contains(&r.status) {
                let schema =
                    &op["responses"][r.status.to_string()]["content"]["application/json"]["schema"];
                if !schema.is_null() && path != "/api/v1/openapi.json" {
                    check_body_against_schema(&doc, schema, &r.json(), &what);
                }
            } else {
                r.error();
            }
            // With a session and good input, contact actions reach the core, which knows
            // no such contact: a documented refusal in the JSON shape.
            if in_path {
                let good_path = path.replace("{id}", NIL).replace("{kind}", "customer");
                let body = has_body.then(|| json!({"quick_connect": "Bob"}).to_string());
                let r = call(&good_path, Auth::Bearer(&token), body.as_deref());
                assert!(
                    documented(r.status) && [404, 409].contains(&r.status),
                    "{what} on an unknown contact answered {}: {}",
                    r.status,
                    r.body
                );
                r.error();
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked, operations,
        "every documented operation was exercised"
    );
}

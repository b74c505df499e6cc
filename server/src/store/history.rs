//! History: paged searches over contact records and agent events, and their export formats.
//!
//! This sits on top of [`Store::search_contacts`] and [`Store::list_agent_events`] (which hold
//! the SQL and the keyset order) and adds what a reader over HTTP needs: request parameters
//! checked into a query ([`ContactSearchParams`], [`AgentEventParams`]), a page size bounded by
//! [`MAX_PAGE_SIZE`], and an opaque cursor string per page ([`Page::next_cursor`]). A page asks
//! the database for one row more than its size, so `next_cursor` is `None` exactly on the last
//! page, and a caller never fetches an empty page to learn that it is done.
//!
//! Cursors: a contact cursor is the (initiation time, contact id) of the last row returned, an
//! agent-event cursor its id; both are hex-encoded with a kind tag, so one kind is refused where
//! the other is expected. A cursor stays valid while rows are written: a page starts strictly
//! after it.
//!
//! Formats: CSV after RFC 4180 (a header row, CRLF line ends, fields with `,` `"` CR or LF
//! quoted, quotes doubled), timestamps as RFC 3339 UTC with milliseconds, durations in
//! milliseconds; text a caller could choose (a caller id, an attribute) that would start a
//! spreadsheet formula is prefixed with `'`. JSON lines: one row per line, as the JSON API
//! serializes it.

use std::fmt::Write as _;

use super::{
    AgentEventQuery, AgentEventRow, ContactCursor, ContactQuery, ContactRecord, DisconnectReason,
    Store, StoreError, UnknownWord,
};
use crate::agents::ContactId;

/// The most rows one page may hold.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Rows per page when the request names no `limit`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// A request the caller got wrong (an HTTP 400): every variant names the offending parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryParamError {
    #[error("limit must be between 1 and {MAX_PAGE_SIZE}, got {0}")]
    Limit(u32),
    #[error("from ({from}) must be before to ({to})")]
    Range { from: i64, to: i64 },
    #[error("cursor is not one this listing handed out")]
    Cursor,
    #[error(transparent)]
    DisconnectReason(#[from] UnknownWord),
}

/// One page of a listing, in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// How a listing is returned.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Deserialize,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// A JSON [`Page`]: `{"items": [...], "next_cursor": ...}`.
    #[default]
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// JSON lines: one JSON object per row.
    Jsonl,
}

impl ExportFormat {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/json",
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }

    /// The file name extension of a download in this format.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }
}

/// `/api/v1/contacts` query parameters. Times are Unix milliseconds over the initiation time,
/// `from` inclusive, `to` exclusive; missing bounds are open.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactSearchParams {
    /// Contacts initiated at or after this time (Unix ms).
    #[serde(default)]
    pub from: Option<i64>,
    /// Contacts initiated before this time (Unix ms).
    #[serde(default)]
    pub to: Option<i64>,
    #[serde(default)]
    pub queue: Option<String>,
    /// The username of the agent the contact was connected to.
    #[serde(default)]
    pub agent: Option<String>,
    /// customer, agent, third_party, flow or error.
    #[serde(default)]
    pub disconnect_reason: Option<String>,
    /// Rows per page, 1 to 1000; default 100.
    #[serde(default)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
    /// json (default), csv or jsonl.
    #[serde(default)]
    pub format: Option<ExportFormat>,
}

impl ContactSearchParams {
    /// The store query for these parameters: one page, `limit` rows.
    pub fn to_query(&self) -> Result<ContactQuery, HistoryParamError> {
        let (from, to) = range(self.from, self.to)?;
        Ok(ContactQuery {
            from_unix_ms: from,
            to_unix_ms: to,
            queue: self.queue.clone(),
            agent: self.agent.clone(),
            disconnect_reason: self
                .disconnect_reason
                .as_deref()
                .map(str::parse::<DisconnectReason>)
                .transpose()?,
            limit: page_size(self.limit)?,
            after: self
                .cursor
                .as_deref()
                .map(decode_contact_cursor)
                .transpose()?,
        })
    }
}

/// `/api/v1/agent-events` query parameters. Times are Unix milliseconds, `from` inclusive,
/// `to` exclusive; missing bounds are open.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentEventParams {
    /// Events at or after this time (Unix ms).
    #[serde(default)]
    pub from: Option<i64>,
    /// Events before this time (Unix ms).
    #[serde(default)]
    pub to: Option<i64>,
    /// Only this agent's events.
    #[serde(default)]
    pub username: Option<String>,
    /// Rows per page, 1 to 1000; default 100.
    #[serde(default)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
    /// json (default), csv or jsonl.
    #[serde(default)]
    pub format: Option<ExportFormat>,
}

impl AgentEventParams {
    /// The store query for these parameters: one page, `limit` rows.
    pub fn to_query(&self) -> Result<AgentEventQuery, HistoryParamError> {
        let (from, to) = range(self.from, self.to)?;
        Ok(AgentEventQuery {
            from_unix_ms: from,
            to_unix_ms: to,
            username: self.username.clone(),
            limit: page_size(self.limit)?,
            after_id: self
                .cursor
                .as_deref()
                .map(decode_agent_event_cursor)
                .transpose()?,
        })
    }
}

fn range(from: Option<i64>, to: Option<i64>) -> Result<(i64, i64), HistoryParamError> {
    let (from, to) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
    if from >= to {
        return Err(HistoryParamError::Range { from, to });
    }
    Ok((from, to))
}

fn page_size(limit: Option<u32>) -> Result<u32, HistoryParamError> {
    match limit.unwrap_or(DEFAULT_PAGE_SIZE) {
        n @ 1..=MAX_PAGE_SIZE => Ok(n),
        n => Err(HistoryParamError::Limit(n)),
    }
}

/// Tags that keep one listing's cursors out of the other.
const CONTACT_TAG: &str = "c1";
const AGENT_EVENT_TAG: &str = "e1";

/// The opaque form of a contact position.
pub fn encode_contact_cursor(cursor: &ContactCursor) -> String {
    hex::encode(format!(
        "{CONTACT_TAG}:{}:{}",
        cursor.initiation_unix_ms,
        cursor.contact_id.simple()
    ))
}

pub fn decode_contact_cursor(text: &str) -> Result<ContactCursor, HistoryParamError> {
    let plain = untag(text, CONTACT_TAG)?;
    let (ms, id) = plain.split_once(':').ok_or(HistoryParamError::Cursor)?;
    Ok(ContactCursor {
        initiation_unix_ms: ms.parse().map_err(|_| HistoryParamError::Cursor)?,
        contact_id: ContactId::try_parse(id).map_err(|_| HistoryParamError::Cursor)?,
    })
}

/// The opaque form of an agent-event position (the last id seen).
pub fn encode_agent_event_cursor(id: i64) -> String {
    hex::encode(format!("{AGENT_EVENT_TAG}:{id}"))
}

pub fn decode_agent_event_cursor(text: &str) -> Result<i64, HistoryParamError> {
    untag(text, AGENT_EVENT_TAG)?
        .parse()
        .map_err(|_| HistoryParamError::Cursor)
}

/// The text after `tag:` in hex-encoded `text`.
fn untag(text: &str, tag: &str) -> Result<String, HistoryParamError> {
    let bytes = hex::decode(text).map_err(|_| HistoryParamError::Cursor)?;
    let plain = String::from_utf8(bytes).map_err(|_| HistoryParamError::Cursor)?;
    plain
        .strip_prefix(tag)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::to_owned)
        .ok_or(HistoryParamError::Cursor)
}

impl Store {
    /// One page of [`Store::search_contacts`]: `query.limit` records, and a cursor when more
    /// follow.
    pub async fn contact_page(
        &self,
        query: &ContactQuery,
    ) -> Result<Page<ContactRecord>, StoreError> {
        let mut probe = query.clone();
        probe.limit = query.limit.saturating_add(1);
        let items = self.search_contacts(&probe).await?;
        Ok(paginate(items, query.limit, |r| {
            encode_contact_cursor(&r.cursor())
        }))
    }

    /// One page of [`Store::list_agent_events`]: `query.limit` events, and a cursor when more
    /// follow.
    pub async fn agent_event_page(
        &self,
        query: &AgentEventQuery,
    ) -> Result<Page<AgentEventRow>, StoreError> {
        let mut probe = query.clone();
        probe.limit = query.limit.saturating_add(1);
        let items = self.list_agent_events(&probe).await?;
        // Rows read back always carry their id.
        Ok(paginate(items, query.limit, |r| {
            encode_agent_event_cursor(r.id.unwrap_or_default())
        }))
    }
}

/// Keeps the first `limit` of `items` (fetched with one extra row) and sets the cursor when
/// the extra row was there.
fn paginate<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more { items.last().map(cursor) } else { None };
    Page { items, next_cursor }
}

/// How long the contact waited in its queue: from enqueue until an agent connected or, never
/// connected, until it ended. `None` if it never queued or is still waiting.
pub fn queue_duration_ms(r: &ContactRecord) -> Option<i64> {
    let left = r.agent_connected_unix_ms.or(r.disconnect_unix_ms)?;
    Some((left - r.enqueue_unix_ms?).max(0))
}

/// Time the agent talked to the customer: connected until disconnect, less time on hold.
/// `None` if no agent connected or the contact has not ended.
pub fn agent_interaction_ms(r: &ContactRecord) -> Option<i64> {
    let connected = r.disconnect_unix_ms? - r.agent_connected_unix_ms?;
    Some((connected - r.hold_duration_ms).max(0))
}

/// Talk plus hold plus after-contact work (none recorded counts as none done). `None` if no
/// agent connected or the contact has not ended.
pub fn handle_duration_ms(r: &ContactRecord) -> Option<i64> {
    Some(agent_interaction_ms(r)? + r.hold_duration_ms + r.acw_duration_ms.unwrap_or(0))
}

/// The CSV columns of a contact record, in order.
pub const CONTACT_CSV_COLUMNS: &[&str] = &[
    "contact_id",
    "initial_contact_id",
    "previous_contact_id",
    "next_contact_id",
    "initiation_method",
    "channel",
    "customer_endpoint",
    "system_endpoint",
    "initiation_timestamp",
    "enqueue_timestamp",
    "queue",
    "queue_duration_ms",
    "agent_connected_timestamp",
    "agent_username",
    "connection_attempts",
    "agent_interaction_ms",
    "hold_count",
    "hold_duration_ms",
    "acw_duration_ms",
    "disconnect_timestamp",
    "disconnect_reason",
    "attributes",
    "recording_path",
    "recording_duration_ms",
    "flow_name",
    "flow_version",
    "updated_at_timestamp",
];

/// The CSV columns of an agent event, in order.
pub const AGENT_EVENT_CSV_COLUMNS: &[&str] = &[
    "id",
    "timestamp",
    "username",
    "from_state",
    "to_state",
    "reason",
    "contact_id",
];

/// `records` as CSV, with the header row first when `header` (the first page of an export).
pub fn contacts_csv(records: &[ContactRecord], header: bool) -> String {
    let mut out = String::new();
    if header {
        header_row(&mut out, CONTACT_CSV_COLUMNS);
    }
    for r in records {
        let mut row = Row::new(&mut out);
        row.id(Some(r.contact_id));
        row.id(r.initial_contact_id);
        row.id(r.previous_contact_id);
        row.id(r.next_contact_id);
        row.word(r.initiation_method.as_str());
        row.word(r.channel.as_str());
        row.text(r.customer_endpoint.as_deref());
        row.text(r.system_endpoint.as_deref());
        row.time(Some(r.initiation_unix_ms));
        row.time(r.enqueue_unix_ms);
        row.text(r.queue.as_deref());
        row.int(queue_duration_ms(r));
        row.time(r.agent_connected_unix_ms);
        row.text(r.agent_username.as_deref());
        row.int(Some(i64::from(r.connection_attempts)));
        row.int(agent_interaction_ms(r));
        row.int(Some(i64::from(r.hold_count)));
        row.int(Some(r.hold_duration_ms));
        row.int(r.acw_duration_ms);
        row.time(r.disconnect_unix_ms);
        row.word(r.disconnect_reason.map_or("", DisconnectReason::as_str));
        // A map of strings always serializes; an empty cell would be the only fallback anyway.
        let attributes = serde_json::to_string(&r.attributes).unwrap_or_default();
        row.text(Some(&attributes));
        row.text(r.recording_path.as_deref());
        row.int(r.recording_duration_ms);
        row.text(r.flow_name.as_deref());
        row.text(r.flow_version.as_deref());
        row.time(Some(r.updated_at_unix_ms));
        row.end();
    }
    out
}

/// `rows` as CSV, with the header row first when `header` (the first page of an export).
pub fn agent_events_csv(rows: &[AgentEventRow], header: bool) -> String {
    let mut out = String::new();
    if header {
        header_row(&mut out, AGENT_EVENT_CSV_COLUMNS);
    }
    for e in rows {
        let mut row = Row::new(&mut out);
        row.int(e.id);
        row.time(Some(e.at_unix_ms));
        row.text(Some(&e.username));
        row.text(Some(&e.from_state));
        row.text(Some(&e.to_state));
        row.word(&e.reason);
        row.id(e.contact_id);
        row.end();
    }
    out
}

/// `records` as JSON lines, each line ending in `\n`.
pub fn contacts_jsonl(records: &[ContactRecord]) -> Result<String, serde_json::Error> {
    json_lines(records)
}

/// `rows` as JSON lines, each line ending in `\n`.
pub fn agent_events_jsonl(rows: &[AgentEventRow]) -> Result<String, serde_json::Error> {
    json_lines(rows)
}

fn json_lines<T: serde::Serialize>(rows: &[T]) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for row in rows {
        out.push_str(&serde_json::to_string(row)?);
        out.push('\n');
    }
    Ok(out)
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-09-21T14:13:20.250Z`; the bare number if the
/// instant is beyond what a calendar date can show.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(unix_ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => unix_ms.to_string(),
    }
}

fn header_row(out: &mut String, columns: &[&str]) {
    let mut row = Row::new(out);
    for column in columns {
        row.word(column);
    }
    row.end();
}

/// One CSV row being written.
struct Row<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Row<'a> {
    fn new(out: &'a mut String) -> Row<'a> {
        Row { out, first: true }
    }

    fn separator(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    /// A value we produce (a column name, a vocabulary word): quoted if needed, never guarded.
    fn word(&mut self, value: &str) {
        self.separator();
        quote_into(self.out, value);
    }

    /// Text from outside: quoted if needed, and kept from being read as a formula.
    fn text(&mut self, value: Option<&str>) {
        self.separator();
        let value = value.unwrap_or_default();
        if starts_formula(value) {
            let guarded = format!("'{value}");
            quote_into(self.out, &guarded);
        } else {
            quote_into(self.out, value);
        }
    }

    fn int(&mut self, value: Option<i64>) {
        self.separator();
        if let Some(v) = value {
            let _ = write!(self.out, "{v}");
        }
    }

    fn time(&mut self, unix_ms: Option<i64>) {
        self.separator();
        if let Some(ms) = unix_ms {
            self.out.push_str(&rfc3339_ms(ms));
        }
    }

    fn id(&mut self, id: Option<ContactId>) {
        self.separator();
        if let Some(id) = id {
            let _ = write!(self.out, "{}", id.hyphenated());
        }
    }

    fn end(self) {
        self.out.push_str("\r\n");
    }
}

/// RFC 4180 §2: a field holding a comma, a quote, CR or LF goes in quotes, its quotes doubled.
fn quote_into(out: &mut String, value: &str) {
    if value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Whether a spreadsheet would evaluate `value` (OWASP "CSV injection"): it starts with `=`,
/// `@`, a tab or CR, or with `+`/`-` not followed by digits only (so `+15550100` stays a
/// number).
fn starts_formula(value: &str) -> bool {
    let mut chars = value.chars();
    match chars.next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => {
            let rest = chars.as_str();
            rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use super::*;
    use crate::store::InitiationMethod;

    const T: i64 = 1_790_000_000_000; // 2026-09-21T14:13:20Z

    fn id(n: u128) -> ContactId {
        ContactId::from_u128(n)
    }

    #[test]
    fn contact_cursor_round_trips_and_is_opaque() {
        let cursor = ContactCursor {
            initiation_unix_ms: T,
            contact_id: id(0xabc),
        };
        let text = encode_contact_cursor(&cursor);
        assert_eq!(
            text,
            hex::encode("c1:1790000000000:00000000000000000000000000000abc")
        );
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode_contact_cursor(&text), Ok(cursor));
        let negative = ContactCursor {
            initiation_unix_ms: -5,
            contact_id: id(1),
        };
        assert_eq!(
            decode_contact_cursor(&encode_contact_cursor(&negative)),
            Ok(negative)
        );
    }

    #[test]
    fn agent_event_cursor_round_trips() {
        assert_eq!(encode_agent_event_cursor(42), hex::encode("e1:42"));
        assert_eq!(
            decode_agent_event_cursor(&encode_agent_event_cursor(42)),
            Ok(42)
        );
    }

    #[test]
    fn foreign_or_broken_cursors_are_refused() {
        let event = encode_agent_event_cursor(7);
        let contact = encode_contact_cursor(&ContactCursor {
            initiation_unix_ms: 1,
            contact_id: id(1),
        });
        for bad in [
            event.as_str(),
            "",
            "zz",
            "abc",
            &hex::encode("c1:x:00000000000000000000000000000001"),
            &hex::encode("c1:1:not-a-uuid"),
            &hex::encode("c1:1"),
            &hex::encode([0xff, 0xfe]),
        ] {
            assert_eq!(
                decode_contact_cursor(bad),
                Err(HistoryParamError::Cursor),
                "{bad}"
            );
        }
        assert_eq!(
            decode_agent_event_cursor(&contact),
            Err(HistoryParamError::Cursor)
        );
        assert_eq!(
            decode_agent_event_cursor(&hex::encode("e1:")),
            Err(HistoryParamError::Cursor)
        );
    }

    #[test]
    fn contact_params_become_a_query() {
        let params = ContactSearchParams {
            from: Some(T),
            to: Some(T + 1000),
            queue: Some("Sales".into()),
            agent: Some("alice".into()),
            disconnect_reason: Some("customer".into()),
            limit: Some(1000),
            cursor: Some(encode_contact_cursor(&ContactCursor {
                initiation_unix_ms: T + 5,
                contact_id: id(9),
            })),
            format: Some(ExportFormat::Csv),
        };
        assert_eq!(
            params.to_query(),
            Ok(ContactQuery {
                from_unix_ms: T,
                to_unix_ms: T + 1000,
                queue: Some("Sales".into()),
                agent: Some("alice".into()),
                disconnect_reason: Some(DisconnectReason::Customer),
                limit: 1000,
                after: Some(ContactCursor {
                    initiation_unix_ms: T + 5,
                    contact_id: id(9),
                }),
            })
        );
        assert_eq!(
            ContactSearchParams::default().to_query(),
            Ok(ContactQuery {
                limit: 100,
                ..ContactQuery::between(i64::MIN, i64::MAX)
            })
        );
    }

    #[test]
    fn bad_params_are_refused_with_the_reason() {
        let with = |f: fn(&mut ContactSearchParams)| {
            let mut p = ContactSearchParams::default();
            f(&mut p);
            p.to_query().unwrap_err().to_string()
        };
        assert_eq!(
            with(|p| p.limit = Some(0)),
            "limit must be between 1 and 1000, got 0"
        );
        assert_eq!(
            with(|p| p.limit = Some(1001)),
            "limit must be between 1 and 1000, got 1001"
        );
        assert_eq!(
            with(|p| {
                p.from = Some(5);
                p.to = Some(5);
            }),
            "from (5) must be before to (5)"
        );
        assert_eq!(
            with(|p| p.disconnect_reason = Some("hangup".into())),
            "unknown disconnect reason `hangup`; expected one of customer, agent, third_party, \
             flow, error"
        );
        assert_eq!(
            with(|p| p.cursor = Some("nope".into())),
            "cursor is not one this listing handed out"
        );
        let events = AgentEventParams {
            cursor: Some(encode_agent_event_cursor(3)),
            username: Some("bob".into()),
            to: Some(T),
            ..AgentEventParams::default()
        };
        assert_eq!(
            events.to_query(),
            Ok(AgentEventQuery {
                from_unix_ms: i64::MIN,
                to_unix_ms: T,
                username: Some("bob".into()),
                limit: 100,
                after_id: Some(3),
            })
        );
        let too_many = AgentEventParams {
            limit: Some(5000),
            ..AgentEventParams::default()
        };
        assert_eq!(too_many.to_query(), Err(HistoryParamError::Limit(5000)));
    }

    #[test]
    fn params_parse_from_a_query_string_shape() {
        let params: ContactSearchParams = serde_json::from_value(serde_json::json!({
            "from": 1, "to": 2, "format": "jsonl", "limit": 10
        }))
        .unwrap();
        assert_eq!(params.format, Some(ExportFormat::Jsonl));
        assert_eq!(params.limit, Some(10));
        assert_eq!(ExportFormat::Csv.content_type(), "text/csv; charset=utf-8");
        assert_eq!(ExportFormat::Jsonl.extension(), "jsonl");
    }

    #[test]
    fn paginate_sets_the_cursor_only_when_more_rows_follow() {
        let page = paginate(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(
            page,
            Page {
                items: vec![1, 2],
                next_cursor: Some("2".into())
            }
        );
        let last = paginate(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(
            last,
            Page {
                items: vec![1, 2],
                next_cursor: None
            }
        );
        let empty = paginate(Vec::<i32>::new(), 2, |n| n.to_string());
        assert_eq!(empty.next_cursor, None);
    }

    fn answered() -> ContactRecord {
        let mut r = ContactRecord::new(id(1), InitiationMethod::Inbound, T);
        r.customer_endpoint = Some("+15550123".into());
        r.system_endpoint = Some("+15550100".into());
        r.enqueue_unix_ms = Some(T + 4_000);
        r.queue = Some("Sales, East".into());
        r.agent_connected_unix_ms = Some(T + 16_500);
        r.agent_username = Some("alice".into());
        r.connection_attempts = 2;
        r.hold_count = 1;
        r.hold_duration_ms = 30_000;
        r.disconnect_unix_ms = Some(T + 136_500);
        r.disconnect_reason = Some(DisconnectReason::Customer);
        r.acw_duration_ms = Some(15_000);
        r.attributes = BTreeMap::from([("note".into(), "said \"hi\"".into())]);
        r.flow_name = Some("inbound".into());
        r.updated_at_unix_ms = T + 151_500;
        r
    }

    #[test]
    fn derived_durations() {
        let r = answered();
        assert_eq!(queue_duration_ms(&r), Some(12_500));
        assert_eq!(agent_interaction_ms(&r), Some(90_000));
        assert_eq!(handle_duration_ms(&r), Some(135_000));
        let mut waiting = ContactRecord::new(id(2), InitiationMethod::Inbound, T);
        waiting.enqueue_unix_ms = Some(T + 1);
        assert_eq!(queue_duration_ms(&waiting), None);
        assert_eq!(handle_duration_ms(&waiting), None);
        waiting.disconnect_unix_ms = Some(T + 9_001);
        assert_eq!(queue_duration_ms(&waiting), Some(9_000));
        assert_eq!(agent_interaction_ms(&waiting), None);
    }

    #[test]
    fn contacts_csv_is_rfc_4180_with_rfc_3339_times() {
        let mut flow_ended = ContactRecord::new(id(2), InitiationMethod::Inbound, T + 250);
        flow_ended.customer_endpoint = Some("=HYPERLINK(\"http://x\")".into());
        flow_ended.system_endpoint = Some("line1\nline2".into());
        flow_ended.disconnect_unix_ms = Some(T + 5_250);
        flow_ended.disconnect_reason = Some(DisconnectReason::Flow);
        flow_ended.updated_at_unix_ms = T + 5_250;
        let csv = contacts_csv(&[answered(), flow_ended], true);
        let expected = concat!(
            "contact_id,initial_contact_id,previous_contact_id,next_contact_id,",
            "initiation_method,channel,customer_endpoint,system_endpoint,initiation_timestamp,",
            "enqueue_timestamp,queue,queue_duration_ms,agent_connected_timestamp,agent_username,",
            "connection_attempts,agent_interaction_ms,hold_count,hold_duration_ms,",
            "acw_duration_ms,disconnect_timestamp,disconnect_reason,attributes,recording_path,",
            "recording_duration_ms,flow_name,flow_version,updated_at_timestamp\r\n",
            "00000000-0000-0000-0000-000000000001,,,,inbound,voice,+15550123,+15550100,",
            "2026-09-21T14:13:20.000Z,2026-09-21T14:13:24.000Z,\"Sales, East\",12500,",
            "2026-09-21T14:13:36.500Z,alice,2,90000,1,30000,15000,2026-09-21T14:15:36.500Z,",
            "customer,\"{\"\"note\"\":\"\"said \\\"\"hi\\\"\"\"\"}\",,,inbound,,",
            "2026-09-21T14:15:51.500Z\r\n",
            "00000000-0000-0000-0000-000000000002,,,,inbound,voice,",
            "\"'=HYPERLINK(\"\"http://x\"\")\",\"line1\nline2\",2026-09-21T14:13:20.250Z,,,,,,0,,",
            "0,0,,2026-09-21T14:13:25.250Z,flow,{},,,,,2026-09-21T14:13:25.250Z\r\n",
        );
        assert_eq!(csv, expected);
        assert_eq!(
            CONTACT_CSV_COLUMNS.len(),
            csv.lines().next().unwrap().split(',').count()
        );
        assert_eq!(contacts_csv(&[], true).lines().count(), 1);
        assert_eq!(contacts_csv(&[], false), "");
    }

    #[test]
    fn formula_guard_keeps_numbers() {
        for (value, guarded) in [
            ("+15550100", false),
            ("-12", false),
            ("sip:bob@x", false),
            ("", false),
            ("=1+1", true),
            ("@SUM(A1)", true),
            ("+", true),
            ("-1+cmd|' /C calc'!A0", true),
            ("\tx", true),
        ] {
            assert_eq!(starts_formula(value), guarded, "{value:?}");
        }
    }

    #[test]
    fn agent_events_csv_and_json_lines() {
        let rows = [
            AgentEventRow {
                id: Some(7),
                at_unix_ms: T,
                username: "alice".into(),
                from_state: "Offline".into(),
                to_state: "Available".into(),
                reason: "status_set".into(),
                contact_id: None,
            },
            AgentEventRow {
                id: Some(8),
                at_unix_ms: T + 1,
                username: "alice".into(),
                from_state: "Available".into(),
                to_state: "Incoming".into(),
                reason: "offered".into(),
                contact_id: Some(id(3)),
            },
        ];
        assert_eq!(
            agent_events_csv(&rows, true),
            "id,timestamp,username,from_state,to_state,reason,contact_id\r\n\
             7,2026-09-21T14:13:20.000Z,alice,Offline,Available,status_set,\r\n\
             8,2026-09-21T14:13:20.001Z,alice,Available,Incoming,offered,\
             00000000-0000-0000-0000-000000000003\r\n"
        );
        assert_eq!(
            agent_events_jsonl(&rows).unwrap(),
            "{\"id\":7,\"at_unix_ms\":1790000000000,\"username\":\"alice\",\
             \"from_state\":\"Offline\",\"to_state\":\"Available\",\"reason\":\"status_set\",\
             \"contact_id\":null}\n\
             {\"id\":8,\"at_unix_ms\":1790000000001,\"username\":\"alice\",\
             \"from_state\":\"Available\",\"to_state\":\"Incoming\",\"reason\":\"offered\",\
             \"contact_id\":\"00000000-0000-0000-0000-000000000003\"}\n"
        );
    }

    #[test]
    fn contacts_json_lines_are_one_record_per_line() {
        let text = contacts_jsonl(&[answered(), answered()]).unwrap();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2);
        let value: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(value, serde_json::to_value(answered()).unwrap());
        assert_eq!(value["queue"], "Sales, East");
        assert_eq!(value["hold_duration_ms"], 30_000);
        assert_eq!(value["attributes"]["note"], "said \"hi\"");
    }

    #[test]
    fn timestamps_outside_the_calendar_stay_numbers() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(i64::MAX), i64::MAX.to_string());
    }
}

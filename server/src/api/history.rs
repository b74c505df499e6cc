//! History over HTTP: contact records and agent events, searched, paged and exported, and one
//! contact's record by id. The queries, cursors and export formats are the store's
//! ([`crate::store::history`]); this file checks who asks and shapes the answer.
//!
//! Who may read what (from the live config, on every request):
//! - contact searches: ContactSearch or AccessMetrics (a 403 names ContactSearch);
//! - agent events: AccessMetrics;
//! - one contact's record: ContactSearch, AccessMetrics or ListenCallRecordings (the page
//!   needs it to offer the recording).
//!
//! An unknown contact id is 404 whoever asks, before any permission check, as on the agent's
//! contact routes: ids are random UUIDs, so this tells nothing about other contacts.
//!
//! Paging: every format is paged the same way. When more rows follow, the answer carries a
//! `Link: </api/v1/...?<same query>&cursor=<c>>; rel="next"` header (RFC 8288), and JSON also
//! has `next_cursor` in its body. A CSV page has its header row only when the request names no
//! cursor, so the pages of an export, fetched in order and appended, make one CSV file.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::auth::Agent;
use super::error::{ApiError, ErrorBody, Params, Segments};
use crate::config::Permission;
use crate::store::history::{
    AgentEventParams, ContactSearchParams, ExportFormat, Page, agent_events_csv,
    agent_events_jsonl, contacts_csv, contacts_jsonl,
};
use crate::store::{AgentEventRow, ContactRecord, StoreError};

/// Who may search contact records.
const CONTACT_READERS: &[Permission] = &[Permission::ContactSearch, Permission::AccessMetrics];
/// Who may read one contact's record: searchers, and whoever may play its recording.
const RECORD_READERS: &[Permission] = &[
    Permission::ContactSearch,
    Permission::AccessMetrics,
    Permission::ListenCallRecordings,
];

/// 403 naming the first of `any_of` unless the user has one of them.
pub(crate) fn require_one_of(agent: &Agent, any_of: &[Permission]) -> Result<(), ApiError> {
    if any_of.iter().any(|p| agent.user.has(*p)) {
        return Ok(());
    }
    let named = any_of.first().copied().unwrap_or(Permission::ContactSearch);
    let mut refusal = ApiError::forbidden(named);
    let names: Vec<&str> = any_of.iter().map(|p| p.as_str()).collect();
    refusal.body.error = format!("this needs one of the permissions {}", names.join(", "));
    Err(refusal)
}

/// A database failure is ours: logged, and answered 503 so the caller may retry.
pub(crate) fn store_failed(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "history read failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the contact store cannot answer now; try again",
    )
}

pub(crate) fn contact_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id)
        .map_err(|_| ApiError::bad_request(format!("`{id}` is not a contact id (a UUID)")))
}

/// The stored record of contact `id`, or 404.
pub(crate) async fn find_contact(st: &AppState, id: Uuid) -> Result<ContactRecord, ApiError> {
    st.store
        .get_contact(id)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| ApiError::not_found(format!("no contact {id} is stored")))
}

/// `query` with its `cursor` parameter (if any) replaced by `cursor`. Cursors are hex, so
/// they need no escaping.
fn with_cursor(query: Option<&str>, cursor: &str) -> String {
    let next = format!("cursor={cursor}");
    let mut pairs: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("cursor"))
        .collect();
    pairs.push(&next);
    pairs.join("&")
}

/// How one listing is answered in each format.
struct Listing<T: 'static> {
    /// The route, for the next page's link.
    path: &'static str,
    /// Downloads are named `<stem>.csv` and `<stem>.jsonl`.
    stem: &'static str,
    csv: fn(&[T], bool) -> String,
    jsonl: fn(&[T]) -> Result<String, serde_json::Error>,
}

const CONTACTS: Listing<ContactRecord> = Listing {
    path: "/api/v1/contacts",
    stem: "contacts",
    csv: contacts_csv,
    jsonl: contacts_jsonl,
};

const AGENT_EVENTS: Listing<AgentEventRow> = Listing {
    path: "/api/v1/agent-events",
    stem: "agent-events",
    csv: agent_events_csv,
    jsonl: agent_events_jsonl,
};

impl<T: Serialize> Listing<T> {
    /// `page` in `format`; `first` when the request named no cursor (the CSV header goes on
    /// that page only); `query` is the request's, for the next page's link.
    fn answer(
        &self,
        page: &Page<T>,
        format: ExportFormat,
        first: bool,
        query: Option<&str>,
    ) -> Result<Response, ApiError> {
        let unrenderable = |e: serde_json::Error| {
            tracing::error!(error = %e, listing = self.stem, "cannot render a history page");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot render this page")
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(cursor) = &page.next_cursor {
            let link = format!(
                "<{}?{}>; rel=\"next\"",
                self.path,
                with_cursor(query, cursor)
            );
            // The query came from the request line, so it is header-safe; a link that is not
            // is left out rather than failing the page (`next_cursor` is in JSON anyway).
            if let Ok(value) = HeaderValue::from_str(&link) {
                headers.insert(header::LINK, value);
            }
        }
        if format != ExportFormat::Json {
            let disposition = format!(
                "attachment; filename=\"{}.{}\"",
                self.stem,
                format.extension()
            );
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
        }
        let body = match format {
            ExportFormat::Json => serde_json::to_string(page).map_err(unrenderable)?,
            ExportFormat::Csv => (self.csv)(&page.items, first),
            ExportFormat::Jsonl => (self.jsonl)(&page.items).map_err(unrenderable)?,
        };
        Ok((headers, body).into_response())
    }
}

/// Search contact records by initiation time, queue, agent and disconnect reason, in
/// initiation order; page through them, or export them as CSV or JSON lines.
#[utoipa::path(
    get,
    path = "/api/v1/contacts",
    tag = "history",
    params(ContactSearchParams),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "One page of matching records, in initiation order. CSV (RFC 4180, RFC 3339 UTC times, durations in ms) has its header row on the first page only (no `cursor`); JSON lines hold one record per line.",
            content(
                (ContactPageDoc = "application/json"),
                (String = "text/csv; charset=utf-8"),
                (String = "application/x-ndjson"),
            ),
            headers(
                ("Link" = String, description = "When more records follow: `</api/v1/contacts?<same query>&cursor=<c>>; rel=\"next\"`."),
                ("Content-Disposition" = String, description = "csv and jsonl: `attachment; filename=\"contacts.csv\"` (or `.jsonl`)."),
            )),
        (status = 400, description = "A parameter is malformed: a limit outside 1..1000, `from` not before `to`, an unknown disconnect reason or format, or a cursor this listing did not hand out.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess, or both ContactSearch and AccessMetrics (`permission` names ContactSearch).", body = ErrorBody),
        (status = 500, description = "A page could not be rendered.", body = ErrorBody),
        (status = 503, description = "The contact store cannot answer now.", body = ErrorBody),
    )
)]
pub async fn search_contacts(
    State(st): State<AppState>,
    agent: Agent,
    params: Result<Params<ContactSearchParams>, ApiError>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    require_one_of(&agent, CONTACT_READERS)?;
    let Params(params) = params?;
    let query = params
        .to_query()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let page = st.store.contact_page(&query).await.map_err(store_failed)?;
    CONTACTS.answer(
        &page,
        params.format.unwrap_or_default(),
        params.cursor.is_none(),
        raw.as_deref(),
    )
}

/// List agents' status changes (one row per change of an agent's visible state), in the
/// order they happened; page through them, or export them as CSV or JSON lines.
#[utoipa::path(
    get,
    path = "/api/v1/agent-events",
    tag = "history",
    params(AgentEventParams),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "One page of events, oldest first. CSV has its header row on the first page only (no `cursor`).",
            content(
                (AgentEventPageDoc = "application/json"),
                (String = "text/csv; charset=utf-8"),
                (String = "application/x-ndjson"),
            ),
            headers(
                ("Link" = String, description = "When more events follow: `</api/v1/agent-events?<same query>&cursor=<c>>; rel=\"next\"`."),
                ("Content-Disposition" = String, description = "csv and jsonl: `attachment; filename=\"agent-events.csv\"` (or `.jsonl`)."),
            )),
        (status = 400, description = "A parameter is malformed: a limit outside 1..1000, `from` not before `to`, an unknown format, or a cursor this listing did not hand out.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess or AccessMetrics.", body = ErrorBody),
        (status = 500, description = "A page could not be rendered.", body = ErrorBody),
        (status = 503, description = "The contact store cannot answer now.", body = ErrorBody),
    )
)]
pub async fn agent_events(
    State(st): State<AppState>,
    agent: Agent,
    params: Result<Params<AgentEventParams>, ApiError>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    agent.require(Permission::AccessMetrics)?;
    let Params(params) = params?;
    let query = params
        .to_query()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let page = st
        .store
        .agent_event_page(&query)
        .await
        .map_err(store_failed)?;
    AGENT_EVENTS.answer(
        &page,
        params.format.unwrap_or_default(),
        params.cursor.is_none(),
        raw.as_deref(),
    )
}

/// One contact's record, as stored (ended contacts, and running ones as far as written).
/// `recording_path` is set when the contact was recorded: play it from
/// `/api/v1/contacts/{id}/recording`.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}",
    tag = "history",
    params(("id" = Uuid, Path, description = "The contact's id (a UUID).")),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The contact's record.", body = ContactRecordDoc),
        (status = 400, description = "The id is not a UUID.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess, or all of ContactSearch, AccessMetrics and ListenCallRecordings.", body = ErrorBody),
        (status = 404, description = "No such contact is stored.", body = ErrorBody),
        (status = 503, description = "The contact store cannot answer now.", body = ErrorBody),
    )
)]
pub async fn get_contact(
    State(st): State<AppState>,
    agent: Agent,
    Segments(id): Segments<String>,
) -> Result<Response, ApiError> {
    let record = find_contact(&st, contact_id(&id)?).await?;
    require_one_of(&agent, RECORD_READERS)?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(record),
    )
        .into_response())
}

// The JSON shapes, for the OpenAPI document only: the store's types serialize exactly so (a
// test below holds them together), and the store stays free of API concerns.

/// How the contact started.
#[derive(ToSchema)]
#[schema(as = InitiationMethod, rename_all = "snake_case")]
#[allow(dead_code, reason = "documents ContactRecord; never built")]
enum InitiationMethodDoc {
    Inbound,
    Outbound,
    Transfer,
    QueueTransfer,
    Callback,
}

/// Who or what ended the contact.
#[derive(ToSchema)]
#[schema(as = DisconnectReason, rename_all = "snake_case")]
#[allow(dead_code, reason = "documents ContactRecord; never built")]
enum DisconnectReasonDoc {
    Customer,
    Agent,
    ThirdParty,
    Flow,
    Error,
}

/// The contact's medium.
#[derive(ToSchema)]
#[schema(as = Channel, rename_all = "snake_case")]
#[allow(dead_code, reason = "documents ContactRecord; never built")]
enum ChannelDoc {
    Voice,
}

/// One contact's record, after Amazon Connect's contact trace records. Times are Unix
/// milliseconds, durations milliseconds; `null` means not known (yet).
#[derive(ToSchema)]
#[schema(as = ContactRecord)]
#[allow(dead_code, reason = "documents ContactRecord; never built")]
struct ContactRecordDoc {
    contact_id: Uuid,
    /// The first contact of a chain of transfers (null on that first contact itself).
    initial_contact_id: Option<Uuid>,
    /// The contact this one was transferred from.
    previous_contact_id: Option<Uuid>,
    /// The contact this one was transferred to.
    next_contact_id: Option<Uuid>,
    initiation_method: InitiationMethodDoc,
    channel: ChannelDoc,
    /// The customer's number or URI (the caller on inbound, the callee on outbound).
    customer_endpoint: Option<String>,
    /// Our number or URI: the one dialled on inbound, the caller id presented on outbound.
    /// On the contact that continues a call transferred to a number, the number called.
    system_endpoint: Option<String>,
    initiation_unix_ms: i64,
    enqueue_unix_ms: Option<i64>,
    queue: Option<String>,
    agent_connected_unix_ms: Option<i64>,
    /// The agent the contact was connected to.
    agent_username: Option<String>,
    /// How many times the contact was offered to an agent.
    connection_attempts: u32,
    disconnect_unix_ms: Option<i64>,
    disconnect_reason: Option<DisconnectReasonDoc>,
    hold_count: u32,
    hold_duration_ms: i64,
    acw_duration_ms: Option<i64>,
    /// Contact attributes set by the flow.
    attributes: std::collections::BTreeMap<String, String>,
    /// Set when the contact was recorded: fetch it from `/api/v1/contacts/{id}/recording`.
    recording_path: Option<String>,
    /// Set when the recording is finished.
    recording_duration_ms: Option<i64>,
    flow_name: Option<String>,
    /// The flow's version or content hash, when known.
    flow_version: Option<String>,
    /// When this state of the record was reached.
    updated_at_unix_ms: i64,
}

/// One change of an agent's visible state.
#[derive(ToSchema)]
#[schema(as = AgentEvent)]
#[allow(dead_code, reason = "documents AgentEventRow; never built")]
struct AgentEventDoc {
    /// Ascending in the order events were stored; the cursor pages by it.
    id: Option<i64>,
    at_unix_ms: i64,
    username: String,
    /// The state before: a configured status name or a system state (`Incoming`, `Busy`,
    /// `AfterContactWork`, `Missed`, `Monitoring`).
    from_state: String,
    /// The state after, in the same vocabulary.
    to_state: String,
    /// Why it changed, e.g. `status_set`, `offered`, `missed_ring_timeout`.
    reason: String,
    /// The contact the change is about, if any.
    contact_id: Option<Uuid>,
}

/// One page of contact records.
#[derive(ToSchema)]
#[schema(as = ContactPage)]
#[allow(dead_code, reason = "documents Page<ContactRecord>; never built")]
struct ContactPageDoc {
    items: Vec<ContactRecordDoc>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// One page of agent events.
#[derive(ToSchema)]
#[schema(as = AgentEventPage)]
#[allow(dead_code, reason = "documents Page<AgentEventRow>; never built")]
struct AgentEventPageDoc {
    items: Vec<AgentEventDoc>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;

    use serde_json::Value;
    use utoipa::PartialSchema;

    use super::*;
    use crate::store::{DisconnectReason, InitiationMethod};

    #[test]
    fn the_next_link_keeps_the_query_and_replaces_the_cursor() {
        assert_eq!(with_cursor(None, "ab"), "cursor=ab");
        assert_eq!(
            with_cursor(Some("from=1&cursor=00&format=csv"), "ab"),
            "from=1&format=csv&cursor=ab"
        );
        assert_eq!(
            with_cursor(Some("queue=Sales%20East&&cursorx=1"), "ab"),
            "queue=Sales%20East&cursorx=1&cursor=ab"
        );
    }

    fn schema_json<T: PartialSchema>() -> Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    /// The documented properties of an object schema, and which are required.
    fn properties(schema: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
        let props = schema["properties"].as_object().unwrap();
        let required = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        (props.keys().cloned().collect(), required)
    }

    /// The keys of a serialized value, and those that are never null.
    fn keys(value: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
        let object = value.as_object().unwrap();
        (
            object.keys().cloned().collect(),
            object
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k.clone())
                .collect(),
        )
    }

    fn words(schema: &Value) -> Vec<String> {
        schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_documented_shapes_are_what_the_store_serializes() {
        let bare = ContactRecord::new(Uuid::nil(), InitiationMethod::Inbound, 1);
        let (keys_all, not_null) = keys(&serde_json::to_value(&bare).unwrap());
        let (documented, required) = properties(&schema_json::<ContactRecordDoc>());
        assert_eq!(keys_all, documented);
        assert_eq!(not_null, required, "required exactly when never null");

        let event = AgentEventRow {
            id: None,
            at_unix_ms: 1,
            username: "alice".into(),
            from_state: "Available".into(),
            to_state: "Busy".into(),
            reason: "connected".into(),
            contact_id: None,
        };
        let (keys_all, not_null) = keys(&serde_json::to_value(&event).unwrap());
        let (documented, required) = properties(&schema_json::<AgentEventDoc>());
        assert_eq!(keys_all, documented);
        assert_eq!(not_null, required);

        let page = Page::<ContactRecord> {
            items: vec![],
            next_cursor: None,
        };
        let (keys_all, _) = keys(&serde_json::to_value(&page).unwrap());
        let (documented, _) = properties(&schema_json::<ContactPageDoc>());
        assert_eq!(keys_all, documented);

        assert_eq!(
            words(&schema_json::<InitiationMethodDoc>()),
            InitiationMethod::WORDS
        );
        assert_eq!(
            words(&schema_json::<DisconnectReasonDoc>()),
            DisconnectReason::WORDS
        );
        assert_eq!(
            words(&schema_json::<ChannelDoc>()),
            crate::store::Channel::WORDS
        );
    }
}

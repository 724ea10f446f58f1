//! `/v1/reviews`: submit an application, read a review, list the reviewers' queue.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Read, Require, Submit};
use super::error::ApiError;
use super::metrics::Tally;
use crate::application::{Application, FieldError, Receipt};
use crate::ids::{mask_id, mask_id_numbers};
use crate::ledger::{self, Appended, NewRecord, Record, Refusal};
use crate::library::{self, Provenance};
use crate::review::{Review, Verdict};
use crate::route_index::ApprovedRoute;

/// Largest page of the queue.
pub const MAX_LIMIT: usize = 200;

/// Now, as recorded in the ledger: RFC 3339 UTC with microseconds (fixed width, so text
/// order is time order).
pub fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn json_response(status: StatusCode, body: String, location: Option<&str>) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

/// `/v1/reviews/{id}` with the id percent-encoded.
pub fn location(application_id: &str) -> String {
    format!("/v1/reviews/{}", percent_encode(application_id))
}

/// `text` percent-encoded but for letters, digits and `-_.`: a path segment or query value.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Review one application.
///
/// The review is recorded in the ledger before the answer. The same `application_id` with
/// the same content (compared as canonical JSON) returns the stored review with `200`; with
/// different content it is a `409`. A part given as `{"ref": "<application id>"}` is taken
/// from the carrier's library first; the expanded application is what is reviewed and
/// recorded, and the review's `provenance` lists what was reused from where.
#[utoipa::path(
    post,
    path = "/v1/reviews",
    tag = "reviews",
    request_body(content = Application, description = "The unified application form (see SPEC.md)", content_type = "application/json"),
    responses(
        (status = 201, description = "Reviewed and recorded; `Location` names the review", body = Review,
            headers(("Location" = String, description = "/v1/reviews/{id}"))),
        (status = 200, description = "Already reviewed with the same content: the stored review", body = Review),
        (status = 400, description = "Malformed JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API key", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks `submit`, or a reference names another carrier's data (`/problems/foreign-reference`)", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Same id, different content", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid application: every field error with its JSON Pointer", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger cannot record now (`/problems/ledger-unavailable`): nothing was stored", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["submit"]))
)]
pub async fn create(
    allowed: Require<Submit>,
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let arrival = Arrival::now(allowed.caller());
    let body = super::error::body_bytes(body, state.limits.body_bytes)?;
    review_and_record(&state, arrival, body, |mut value, ledger| {
        let reused = library::expand(&mut value, ledger)?;
        Ok((value, Provenance { reused, ..Provenance::default() }))
    })
    .await
}

/// A request for a review as it arrived.
pub(super) struct Arrival {
    /// Stamped on arrival: what `submitted_at` is compared with, and what the ledger records.
    at: DateTime<Utc>,
    /// Where the machine decision time starts.
    clock: Instant,
    /// Who asked.
    caller: String,
}

impl Arrival {
    /// A request arriving now from `caller`.
    pub(super) fn now(caller: &str) -> Arrival {
        Arrival { at: Utc::now(), clock: Instant::now(), caller: caller.to_string() }
    }
}

/// The id and carrier of an application refused for form errors, as far as they could be
/// read.
#[derive(Default)]
struct Who {
    application_id: Option<String>,
    uscc: Option<String>,
}

impl Who {
    fn read(&mut self, value: &Value) {
        if let Some(id) = value.get("application_id").and_then(Value::as_str) {
            self.application_id = Some(id.to_string());
        }
        if let Some(uscc) = library::uscc_of(value) {
            self.uscc = Some(uscc.to_string());
        }
    }
}

/// Reviews and records the application that `assemble` makes of the request body (and the
/// ledger): the application to review, expanded, and how it was assembled. An application
/// refused for form errors is recorded as a refusal before the `422` is answered.
pub(super) async fn review_and_record(
    state: &Arc<AppState>,
    arrival: Arrival,
    body: Bytes,
    assemble: impl FnOnce(Value, &dyn crate::ledger::Ledger) -> Result<(Value, Provenance), ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let receipt = state.limits.max_clock_skew.map(|max_skew| Receipt { at: arrival.at, max_skew });
    let reviewer = state.reviewer()?;
    let st = Arc::clone(state);
    let start = Instant::now();
    let (caller, recorded_at, clock) = (arrival.caller.clone(), rfc3339(arrival.at), arrival.clock);
    // The review runs on a review thread (CPU bound, and a remote registry blocks); the
    // ledger write is then awaited without holding a thread (the writer batches commits).
    // The body is parsed and the review dropped on that thread too: what one thread
    // allocates is cheapest to free there (see `Tally`).
    //
    // A stored id is found by the ledger's append (the same content answers the stored
    // review), not looked up first: under load those lookups kept read transactions open on
    // the WAL so often that SQLite could seldom start it over, and every commit then paid a
    // checkpoint. A resubmission is reviewed again for nothing, which is rare.
    let reviews = &state.reviews;
    let (who, outcome) = reviews
        .run(move || {
            let mut who = Who::default();
            let reviewed = || -> Result<Reviewed, ApiError> {
                let value = parse_object(&body)?;
                who.read(&value);
                let (value, provenance) = assemble(value, st.ledger.as_ref())?;
                who.read(&value);
                let application = ledger::canonical_json(&value);
                let content_hash = ledger::content_hash(&application);
                let reviewed = reviewer.review_with_travel(&value, receipt.as_ref());
                let (review, travel) = reviewed.map_err(|errors| {
                    st.metrics.invalid();
                    ApiError::Invalid(errors)
                })?;
                let machine_decision_ms = clock.elapsed().as_secs_f64() * 1e3;
                let recorded = library::Recorded { review: &review, provenance: &provenance, machine_decision_ms };
                let review_json = serde_json::to_string(&recorded).map_err(|e| ApiError::Internal(e.to_string()))?;
                // An approved permit joins the index of approved routes once stored; its entry
                // is made here, off the async threads, from the review's own match.
                let approved = travel
                    .filter(|_| review.verdict == Verdict::Approve)
                    .map(|travel| ApprovedRoute::new(&review.application_id, &travel));
                let record = NewRecord {
                    application_id: review.application_id.clone(),
                    content_hash,
                    application,
                    review: review_json,
                    verdict: review.verdict,
                    caller,
                    recorded_at,
                };
                Ok((Tally::of(&review), record, approved))
            };
            let outcome = reviewed();
            (who, outcome)
        })
        .await?;
    let (tally, record, approved) = match outcome {
        Err(ApiError::Invalid(errors)) => {
            record_refusal(state, who, &errors, arrival).await;
            return Err(ApiError::Invalid(errors));
        }
        outcome => outcome?,
    };
    let content_hash = record.content_hash.clone();
    let appended = state.ledger.append(record).await?;
    if let Appended::New(r) = &appended {
        if let Some(approved) = approved {
            state.index_approved(r.seq, approved)?;
        }
        state.metrics.review(&tally, start.elapsed());
        tracing::debug!(application_id = %r.entry.application_id, verdict = %r.entry.verdict, "reviewed");
    }
    stored_answer(appended, &content_hash)
}

/// What the blocking part of a review hands back: counts for the metrics, the record to
/// store, and an approved route's entry in the index.
type Reviewed = (Tally, NewRecord, Option<ApprovedRoute>);

/// Stores a refusal for form errors (what the data-quality indicator counts) before the
/// `422` is answered. One that cannot be stored leaves the answer as it is: the applicant's
/// form is refused either way; the failure is logged.
async fn record_refusal(state: &AppState, who: Who, errors: &[FieldError], arrival: Arrival) {
    let refusal = Refusal {
        application_id: who.application_id,
        uscc: who.uscc,
        pointers: errors.iter().map(|e| mask_id_numbers(&e.pointer).into_owned()).collect(),
        caller: arrival.caller,
        recorded_at: rfc3339(arrival.at),
    };
    if let Err(e) = state.ledger.add_refusal(refusal).await {
        tracing::error!(error = %e, "a refusal for form errors could not be recorded");
    }
}

/// The body as a JSON object.
fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
    let value = crate::application::read_json(body)?;
    if !value.is_object() {
        return Err(ApiError::BadRequest("the body must be a JSON object".into()));
    }
    Ok(value)
}

fn stored_answer(appended: Appended, content_hash: &str) -> Result<Response, ApiError> {
    match appended {
        Appended::New(r) => Ok(review_answer(StatusCode::CREATED, r)),
        Appended::Existing(r) | Appended::Conflict(r) if r.entry.content_hash == content_hash => {
            Ok(review_answer(StatusCode::OK, r))
        }
        Appended::Existing(r) | Appended::Conflict(r) => Err(ApiError::Conflict(format!(
            "application `{}` was already reviewed with different content; use a new application_id",
            r.entry.application_id
        ))),
    }
}

/// A stored review as the answer, its verdict noted for the request log.
fn review_answer(status: StatusCode, r: Record) -> Response {
    let mut resp = json_response(status, r.entry.review, Some(&location(&r.entry.application_id)));
    resp.extensions_mut().insert(super::log::AnsweredVerdict(r.entry.verdict));
    resp
}

/// The recorded review of one application.
#[utoipa::path(
    get,
    path = "/v1/reviews/{id}",
    tag = "reviews",
    params(("id" = String, Path, description = "application_id")),
    responses(
        (status = 200, description = "The review as recorded, with `case`: the case's status and the reviewers' decisions", body = Review),
        (status = 404, description = "No review with this id", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
pub async fn get_one(
    _allowed: Require<Read>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let st = Arc::clone(&state);
    let lookup = id.clone();
    let found = tokio::task::spawn_blocking(move || {
        st.ledger.get(&lookup)?.map(|r| Ok::<_, ApiError>((st.ledger.decisions(&lookup)?, r))).transpose()
    })
    .await??;
    match found {
        Some((decisions, r)) => {
            let body = super::workbench::decisions::Case::of(&r, &decisions)?.joined_to(&r.entry.review)?;
            Ok(json_response(StatusCode::OK, body, None))
        }
        None => Err(ApiError::NotFound(format!("no review of application `{id}`"))),
    }
}

/// Queue filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `approve` or `escalate`.
    pub verdict: Option<String>,
    /// Only reviews recorded at or after this instant (RFC 3339) or day (`YYYY-MM-DD`, UTC).
    pub since: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// `next` from the previous page.
    pub cursor: Option<String>,
}

/// One entry of the queue; ID numbers masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEntry {
    /// Position in the ledger.
    pub seq: i64,
    /// The application.
    pub application_id: String,
    /// `approve` or `escalate`.
    pub verdict: Verdict,
    /// Permit class.
    pub permit_class: Option<u8>,
    /// Jurisdiction.
    pub jurisdiction: String,
    /// Carrier name.
    pub carrier: String,
    /// Agent's ID number, masked.
    pub agent_id_number: String,
    /// Drivers' ID numbers, masked.
    pub driver_id_numbers: Vec<String>,
    /// Why it escalated.
    pub reasons: Vec<String>,
    /// Who submitted it.
    pub caller: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// Where the full review is.
    pub href: String,
}

/// A page of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    /// Entries in ledger order.
    pub items: Vec<QueueEntry>,
    /// Cursor of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

pub(super) fn parse_since(s: &str) -> Result<String, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Micros, true));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true))
            .unwrap_or_default());
    }
    Err(ApiError::BadRequest(format!("`since` must be an RFC 3339 date-time or a YYYY-MM-DD date, found `{s}`")))
}

fn entry(r: &Record) -> QueueEntry {
    let app: Value = serde_json::from_str(&r.entry.application).unwrap_or(Value::Null);
    let review: Value = serde_json::from_str(&r.entry.review).unwrap_or(Value::Null);
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    QueueEntry {
        seq: r.seq,
        application_id: r.entry.application_id.clone(),
        verdict: r.entry.verdict,
        permit_class: review.get("permit_class").and_then(Value::as_u64).and_then(|c| u8::try_from(c).ok()),
        jurisdiction: text(&review, "/jurisdiction"),
        carrier: text(&app, "/carrier/name"),
        agent_id_number: mask_id(&text(&app, "/agent/id_number")),
        driver_id_numbers: app
            .get("drivers")
            .and_then(Value::as_array)
            .map(|ds| ds.iter().map(|d| mask_id(&text(d, "/id_number"))).collect())
            .unwrap_or_default(),
        reasons: review
            .get("reasons")
            .and_then(Value::as_array)
            .map(|rs| rs.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
        caller: r.entry.caller.clone(),
        recorded_at: r.entry.recorded_at.clone(),
        href: location(&r.entry.application_id),
    }
}

/// The reviewers' queue: recorded reviews in ledger order, filtered, paginated.
#[utoipa::path(
    get,
    path = "/v1/reviews",
    tag = "reviews",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of the queue", body = QueuePage),
        (status = 400, description = "Bad filter", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
pub async fn list(
    _allowed: Require<Read>,
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let verdict = q
        .verdict
        .map(|v| {
            Verdict::parse(&v)
                .ok_or_else(|| ApiError::BadRequest(format!("`verdict` must be `approve` or `escalate`, found `{v}`")))
        })
        .transpose()?;
    let (limit, after_seq) = page_of(q.limit, q.cursor.as_deref())?;
    let since = q.since.as_deref().map(parse_since).transpose()?;
    let query = ledger::Query { verdict, since, after_seq, limit: limit + 1 };
    let st = Arc::clone(&state);
    let mut records = tokio::task::spawn_blocking(move || st.ledger.list(&query)).await??;
    let next = next_cursor(&mut records, limit, |r| r.seq);
    let page = QueuePage { items: records.iter().map(entry).collect(), next };
    Ok(axum::Json(page).into_response())
}

/// Page size (default 50) and the sequence number to continue after, from a list's
/// `limit` and `cursor` parameters.
pub(super) fn page_of(limit: Option<usize>, cursor: Option<&str>) -> Result<(usize, Option<i64>), ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("`limit` must be between 1 and {MAX_LIMIT}")));
    }
    let after_seq = cursor
        .map(|c| c.parse::<i64>().map_err(|_| ApiError::BadRequest("`cursor` is not one this service gave".into())))
        .transpose()?;
    Ok((limit, after_seq))
}

/// Cuts `rows` (fetched `limit + 1` at a time) to `limit` and names the cursor of the next
/// page, if there is one.
pub(super) fn next_cursor<T>(rows: &mut Vec<T>, limit: usize, seq: impl Fn(&T) -> i64) -> Option<String> {
    (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|r| seq(r).to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates() {
        assert_eq!(location("JN-2026/1 x"), "/v1/reviews/JN-2026%2F1%20x");
    }
}

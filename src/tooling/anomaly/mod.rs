//! The anomaly model's tooling: a seeded generator of normal applications ([`generator`]),
//! planted anomalies for evaluation only ([`anomalies`]), reproducible training ([`train`])
//! and its evaluation ([`eval`]). Scoring is in [`crate::anomaly`].

pub mod anomalies;
pub mod eval;
pub mod generator;
pub mod train;

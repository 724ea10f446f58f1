//! Routes: what the declared route meets on the road network.
//!
//! [`RouteFindings`] is what items R1-R5 read: the declared geometry's own measures and, when
//! a road network is loaded, the match onto it.

mod findings;

pub use findings::{Gap, RouteFindings, analyse_geometry};

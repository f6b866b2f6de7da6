//! x
pub mod curve;
pub mod intervals;
pub mod metrics;
pub mod samples;

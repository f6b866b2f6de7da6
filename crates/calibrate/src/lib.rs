//! Calibration of warning bands against verified outcomes.
//!
//! Sample villages are scored once by a model ([`Samples`]); the alert
//! curve ([`curve::sweep`]) gives precision, recall and volume at every
//! threshold by one sort and one sweep; an [`Objective`] picks where alerts
//! start, and the bands above are cut where the chance of need changes most
//! ([`fit::fit`]). [`calibrate()`] then measures the bands honestly:
//! leave-one-village-out, bootstrap intervals that resample villages as
//! well as households, Wilson and Clopper–Pearson intervals, the model's
//! default bands as a baseline, a likelihood table and a verification plan.
#![deny(missing_docs)]

pub mod bootstrap;
mod calibrate;
pub mod curve;
pub mod evaluate;
pub mod evaluation;
pub mod fit;
pub mod folds;
pub mod household_size;
pub mod intervals;
pub mod likelihood;
pub mod logistic;
pub mod metrics;
pub mod ranking;
pub mod samples;
pub mod scorecard;
pub mod text;
pub mod tune;

pub use calibrate::{
    by_village, calibrate, size_table, thresholds_toml, BandMin, Baseline, Calibration, FoldResult,
    LeaveOneVillageOut, Options, Progress, Spread, VerificationPlan, VillageAccuracy, CALIBRATE_STEPS,
};
pub use curve::Objective;
pub use samples::{SampleError, Samples};

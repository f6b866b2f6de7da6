//! The calibration workbench: a local web page where an analyst edits item
//! points, category weights, switches items off and moves the band
//! thresholds, and sees at once what that does to alert precision, recall
//! and volume, in sample and leave-one-village-out. Every figure comes from
//! the calibration crate, as `hhrisk calibrate` computes it.
#![deny(missing_docs)]

pub mod edit;
pub mod server;

pub use edit::{apply, evaluate, Edits};
pub use server::{router, serve, Access, Workbench};

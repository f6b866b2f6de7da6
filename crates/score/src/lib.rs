//! Scoring households against an indicator model.
//!
//! A [`Scorer`] evaluates every item of a checked [`hhrisk_model::Model`]
//! for one household at a time: item counts, category subtotals, the total,
//! the per-capita score (total ÷ co-resident members) and the alert level
//! from a set of [`hhrisk_model::Bands`]. It works on one household's
//! [`hhrisk_model::expr::Inputs`], so it does not care how the roster was
//! read; [`ScoreMatrix`] gathers many scores for calibration.
//!
//! ```
//! use hhrisk_model::{Model, expr::Inputs};
//! use hhrisk_score::Scorer;
//!
//! let model = Model::from_toml(r#"
//! [model]
//! name = "demo"
//! version = "1"
//! source = "doc example"
//! [[departments]]
//! id = "civil_affairs"
//! name = "民政局"
//! [[columns]]
//! name = "age"
//! file = "members"
//! type = "integer"
//! [[categories]]
//! id = "demographics"
//! name = "人口"
//! [[items]]
//! id = "D01"
//! category = "demographics"
//! name = "老年成员"
//! per = "member"
//! when = "age >= 60"
//! points = 3
//! department = "civil_affairs"
//! [[bands.levels]]
//! name = "yellow"
//! min = 1
//! "#, "demo.toml").unwrap();
//!
//! // One household, one member column (age): 67, 40 and 12.
//! let ages = [67.0, 40.0, 12.0];
//! let inputs = Inputs { household: &[], members: &ages, stride: 1, count: 3 };
//! let score = Scorer::new(&model, &model.bands).score(&inputs);
//! assert_eq!(score.total, 3.0);
//! assert_eq!(score.per_capita, 1.0);
//! assert_eq!(score.alert, Some(0));
//! ```
#![deny(missing_docs)]

pub mod batch;
pub mod explain;
pub mod matrix;
pub mod output;
pub mod score;

pub use batch::{ScoreBatches, ScoredBatch};
pub use explain::{explain_household, Explanation};
pub use matrix::ScoreMatrix;
pub use output::{ScoreColumns, ScoreWriter};
pub use score::{BatchScores, Hit, HouseholdScore, Scorer, ALERT_KINDS};

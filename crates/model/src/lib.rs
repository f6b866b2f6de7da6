//! Indicator models for hhrisk.
//!
//! An indicator model is a TOML file that an analyst edits: the input
//! columns it reads (with types, ranges and what a missing value means),
//! named parameters, categories, items with conditions and points, and the
//! default warning bands. [`Model::from_toml`] parses it once, checks every
//! name and type, and compiles every condition; mistakes come back as
//! [`Problem`]s with line, column and the item they are in. Rosters are
//! read against a model by `hhrisk-roster`; nothing here reads a table.
//!
//! ```
//! use hhrisk_model::{expr::Inputs, Model};
//!
//! let model = Model::from_toml(r#"
//! [model]
//! name = "demo"
//! version = "1"
//! source = "doc example"
//! [[parameters]]
//! name = "monitoring_line"
//! value = 9048
//! [[departments]]
//! id = "civil_affairs"
//! name = "民政局"
//! [[columns]]
//! name = "annual_net_income"
//! file = "households"
//! type = "decimal"
//! [[categories]]
//! id = "income"
//! name = "家庭财产收入情况"
//! [[items]]
//! id = "I02"
//! category = "income"
//! name = "人均纯收入低于监测线"
//! when = "per_capita(annual_net_income) < monitoring_line"
//! points = 10
//! department = "civil_affairs"
//! "#, "demo.toml").unwrap();
//!
//! // 20000 yuan for a household of 3 (no member columns declared): 6667
//! // per head, below the line.
//! let household = [20000.0];
//! let x = Inputs { household: &household, members: &[], stride: 0, count: 3 };
//! assert!(model.items[0].condition.eval(&x, 0));
//!
//! // A mistake is reported where it is.
//! let err = Model::from_toml("[model]\nname = 1\n", "bad.toml").unwrap_err();
//! assert!(err.to_string().contains("bad.toml:2:8"));
//! ```
#![deny(missing_docs)]

pub mod bands;
mod build;
pub mod column;
pub mod error;
pub mod expr;
pub mod model;
mod raw;
mod rewrite;
pub mod scoring;
mod source;

pub use bands::{Band, Bands};
pub use build::{MAX_ITEM_POINTS, MAX_MODEL_STEPS, MAX_WEIGHT};
pub use column::{CellError, Column, ColumnType};
pub use error::ModelError;
pub use model::{Category, Class, Department, Derived, Group, Identity, Item, Meta, Model, Parameter, Per};
pub use rewrite::{rewrite_model, rewrite_points, Rewrite};
pub use scoring::{equivalence_scale, Normalise, Scoring};
pub use source::Problem;

//! x
pub mod bands;
pub mod column;
pub mod date;
pub mod error;
pub mod expr;
pub mod model;
pub mod privacy;
mod raw;
pub mod roster;
mod source;

pub use bands::{Band, Bands};
pub use column::{Column, ColumnType};
pub use error::ModelError;
pub use model::{Category, Department, Derived, Item, Meta, Model, Parameter, Per};
pub use roster::{Household, Issue, ReadOptions, Roster, RosterError};
pub use source::Problem;

//! Household rosters read against an indicator model.
//!
//! A roster is two tables, `households.csv` and `members.csv` (or two
//! sheets of a workbook), joined by `household_id`. [`read`] is the one
//! way in: it streams a roster whose members are grouped by household,
//! puts members in household order first when they are not, and reads the
//! roster whole only when it must (a member of an unknown household, a
//! repeated id), handing every household, accepted or refused, to the same
//! [`Work`] whichever way was taken. Each declared cell is parsed once
//! into a number; every bad row becomes an [`Issue`] with file, line,
//! column and key, and refuses its household.
#![deny(missing_docs)]

mod assemble;
mod cell;
mod checked;
pub mod grouped;
mod layout;
pub mod privacy;
mod read;
pub mod roster;
mod split;
pub mod stream;
mod workers;

pub use checked::{Checked, CheckedHousehold};
pub use read::{absent_columns, read, How, Summary};
pub use roster::{
    Household, HouseholdView, Issue, ReadOptions, Roster, RosterError, MAX_COLUMNS, MAX_ROW_BYTES,
};
pub use stream::{each, StreamError, StreamSummary, Streamed, Work, WorkError};

#[cfg(test)]
mod stream_tests;

//! Closing the loop: alerts dispatched to the responsible departments,
//! their returns merged into outcomes, and month-to-month monitoring of
//! roster snapshots (changes, gradual exit from dibao, drift).
#![deny(missing_docs)]

pub mod diff;
pub mod dispatch;
pub mod feedback;

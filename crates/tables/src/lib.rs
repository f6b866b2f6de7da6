//! The files county offices really have, read and written safely.
//!
//! Rosters, outcomes, returns and scores come as CSV in UTF-8 (with or
//! without a byte-order mark), GBK / GB18030 or UTF-16, with any line
//! ending, or as Excel and OpenDocument workbooks. Every table is read
//! here, with limits enforced while reading (line length, sheet size,
//! unpacked size) and every record keeping the line it came from; every
//! output is written here, through [`AtomicFile`], so that a failed run
//! never leaves half a file or destroys the one before. Nothing here knows
//! about indicator models: `hhrisk-roster` reads a roster against one.
#![deny(missing_docs)]

pub mod atomic;
pub mod date;
pub mod encoding;
pub mod location;
pub mod out;
pub mod raw;
pub mod records;
pub mod table;

pub use atomic::{AtomicFile, SYNC_EVERY};
pub use encoding::{open, Encoding, MAX_LINE_BYTES};
pub use location::Location;
pub use out::{escape_controls, neutralise, restore, write_workbook, Format, OutTable, WriteError};
pub use raw::RawCsv;
pub use records::{trim_cell, Fields, Records};
pub use table::{is_workbook, sheet_names, Origin, Table, TableError, TextTable};

#[cfg(test)]
mod tests;

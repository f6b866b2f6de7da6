//! Where something is in a file: what every message of the readers names.

use std::fmt;

/// A place in a table: the file, the line (or sheet row), and the column
/// when one cell is meant (its 1-based number and its header name).
///
/// Displayed as `members.csv: line 3, column 2 (age)`, the form every
/// message about a file starts with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Location {
    /// The file (a workbook's sheet as `book.xlsx [members]`).
    pub file: String,
    /// 1-based line, or sheet row (1 is the header).
    pub line: u64,
    /// 1-based column number and header name, when one cell is meant.
    pub column: Option<(usize, String)>,
}

impl Location {
    /// A whole line of `file`.
    pub fn line(file: impl Into<String>, line: u64) -> Location {
        Location { file: file.into(), line, column: None }
    }

    /// One cell: column `number` (1-based), headed `name`.
    pub fn cell(file: impl Into<String>, line: u64, number: usize, name: impl Into<String>) -> Location {
        Location { file: file.into(), line, column: Some((number, name.into())) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: line {}", self.file, self.line)?;
        if let Some((n, name)) = &self.column {
            write!(f, ", column {n} ({name})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_reads_as_messages_begin() {
        assert_eq!(Location::line("r/households.csv", 7).to_string(), "r/households.csv: line 7");
        assert_eq!(
            Location::cell("r/members.csv", 3, 2, "age").to_string(),
            "r/members.csv: line 3, column 2 (age)"
        );
    }
}

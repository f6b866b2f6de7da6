//! Output tables written as CSV (for any tool) or as an Excel workbook
//! (for county offices), atomically.

use std::io::Write;
use std::path::Path;

use crate::AtomicFile;

/// The output format of lists people open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// CSV, UTF-8.
    #[default]
    Csv,
    /// An Excel workbook (.xlsx).
    Xlsx,
}

impl Format {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// A table to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutTable {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

/// Why a table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// File system.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The workbook library.
    #[error("cannot write {path}: {message}")]
    Xlsx {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Text that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`
/// first) gets a leading apostrophe, unless it is a plain number: a roster
/// cell like `=HYPERLINK(..)` must not run when a county office opens an
/// output in Excel.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@']) && cell.parse::<f64>().is_err();
    if risky {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// `text` with every control character (a terminal's escape, a bell, a
/// carriage return, a line break) written as its code, `\u{1b}`: a message
/// shows what a cell holds and cannot move a terminal's cursor, recolour
/// it or forge a line of its own.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| if c.is_control() { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() })
        .collect::<String>()
        .into()
}

/// The text [`neutralise`] was given: a cell read back from one of our own
/// outputs (a household id in a scores file, a dispatch list, a return, an
/// outcomes file) loses the apostrophe neutralising put before it, so that
/// it joins the roster's own id again.
pub fn restore(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.strip_prefix('\'') {
        Some(rest) if neutralise(rest).len() > rest.len() => rest.into(),
        _ => cell.into(),
    }
}

/// Whether a cell is a quantity rather than a code: no leading zeros (as
/// in `007`) and shorter than an ID number.
fn looks_numeric(cell: &str) -> bool {
    let digits = cell.trim_start_matches('-');
    cell.len() < 15 && !(digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0."))
}

impl OutTable {
    /// Writes the table as `format` to `path` (a sheet named `sheet` for
    /// workbooks), with a byte-order mark on CSV when `bom`.
    pub fn write(&self, path: &Path, format: Format, sheet: &str, bom: bool) -> Result<(), WriteError> {
        let io = |source| WriteError::Io { path: path.display().to_string(), source };
        let mut file = AtomicFile::create(path).map_err(io)?;
        match format {
            Format::Csv => {
                if bom {
                    file.write_all("\u{feff}".as_bytes()).map_err(io)?;
                }
                let mut w = csv::Writer::from_writer(&mut file);
                let err = |e: csv::Error| WriteError::Io {
                    path: path.display().to_string(),
                    source: std::io::Error::other(e),
                };
                w.write_record(&self.header).map_err(err)?;
                for row in &self.rows {
                    let shown = |c: &String| neutralise(&escape_controls(c)).into_owned();
                    w.write_record(row.iter().map(shown)).map_err(err)?;
                }
                w.flush().map_err(io)?;
            }
            Format::Xlsx => {
                let xlsx = |e: rust_xlsxwriter::XlsxError| WriteError::Xlsx {
                    path: path.display().to_string(),
                    message: e.to_string(),
                };
                let mut book = rust_xlsxwriter::Workbook::new();
                let ws = book.add_worksheet();
                ws.set_name(sheet).map_err(xlsx)?;
                for (c, h) in self.header.iter().enumerate() {
                    ws.write_string(0, c as u16, h).map_err(xlsx)?;
                }
                for (r, row) in self.rows.iter().enumerate() {
                    for (c, cell) in row.iter().enumerate() {
                        // text stays text (an ID number is not a number to Excel)
                        match cell.parse::<f64>() {
                            Ok(v) if v.is_finite() && looks_numeric(cell) => {
                                ws.write_number(r as u32 + 1, c as u16, v).map_err(xlsx)?
                            }
                            _ => ws
                                .write_string(r as u32 + 1, c as u16, escape_controls(cell).as_ref())
                                .map_err(xlsx)?,
                        };
                    }
                }
                file.write_all(&book.save_to_buffer().map_err(xlsx)?).map_err(io)?;
            }
        }
        file.commit().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        // (a cell that already starts with an apostrophe before a formula
        // sign, `'@SUM`, reads back without it: the one text the two
        // cannot tell apart, and no roster writes such ids)
        for cell in ["@SUM(A1)", "=1+1", "-x", "+86 138", "-3.5", "H001", "'plain"] {
            assert_eq!(restore(&neutralise(cell)), cell, "{cell}");
        }
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-3.5"), "-3.5");
        assert_eq!(neutralise("+86 138"), "'+86 138");
        assert_eq!(neutralise("张三"), "张三");
    }
}

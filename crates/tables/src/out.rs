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
    /// Columns whose cells a reader fills in from a list, offered as a
    /// drop-down in workbooks: (column, allowed values, whether only they
    /// are accepted; otherwise others may be typed).
    pub choices: Vec<(usize, Vec<String>, bool)>,
    /// Said once about the whole table, in workbooks as a note on the
    /// first header cell (CSV has no place for it).
    pub note: Option<String>,
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

/// Rows a worksheet holds below its header.
const MAX_XLSX_ROWS: usize = 1_048_575;

impl OutTable {
    /// Column widths for a workbook, in characters: the widest of the
    /// header and the first thousand cells (a Chinese character counts
    /// twice), between 6 and 60.
    fn widths(&self) -> Vec<f64> {
        let width = |s: &str| s.chars().map(|c| if c.is_ascii() { 1.0 } else { 2.0 }).sum::<f64>();
        (0..self.header.len())
            .map(|c| {
                let cells = self.rows.iter().take(1000).filter_map(|r| r.get(c)).map(|s| width(s));
                cells.fold(width(&self.header[c]), f64::max).clamp(6.0, 60.0) + 2.0
            })
            .collect()
    }

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
                self.add_sheet(&mut book, sheet).map_err(xlsx)?;
                file.write_all(&book.save_to_buffer().map_err(xlsx)?).map_err(io)?;
            }
        }
        file.commit().map_err(io)
    }

    /// Adds the table to `book` as a sheet named `sheet`: the header bold,
    /// frozen and filtered, columns as wide as their text, drop-downs on
    /// the columns to fill in, text kept as text.
    fn add_sheet(
        &self,
        book: &mut rust_xlsxwriter::Workbook,
        sheet: &str,
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        let ws = book.add_worksheet();
        ws.set_name(sheet)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (c, h) in self.header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &bold)?;
        }
        if !self.header.is_empty() {
            ws.set_freeze_panes(1, 0)?;
            let last = self.rows.len().min(MAX_XLSX_ROWS) as u32;
            ws.autofilter(0, 0, last, self.header.len() as u16 - 1)?;
        }
        if let (Some(note), false) = (&self.note, self.header.is_empty()) {
            let note = rust_xlsxwriter::Note::new(note).set_author("hhrisk").set_width(360).set_height(80);
            ws.insert_note(0, 0, &note)?;
        }
        for (c, width) in self.widths().into_iter().enumerate() {
            ws.set_column_width(c as u16, width)?;
        }
        for (c, values, strict) in &self.choices {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let mut check = rust_xlsxwriter::DataValidation::new().allow_list_strings(&values)?;
            if !strict {
                check = check.set_error_style(rust_xlsxwriter::DataValidationErrorStyle::Information);
            }
            let last = self.rows.len().clamp(1, MAX_XLSX_ROWS) as u32;
            ws.add_data_validation(1, *c as u16, last, *c as u16, &check)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                // text stays text (an ID number is not a number to Excel)
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() && looks_numeric(cell) => {
                        ws.write_number(r as u32 + 1, c as u16, v)?
                    }
                    _ => ws.write_string(r as u32 + 1, c as u16, escape_controls(cell).as_ref())?,
                };
            }
        }
        Ok(())
    }
}

/// Writes several tables into one workbook at `path`, a sheet each
/// (`(sheet name, table)`), atomically.
pub fn write_workbook(path: &Path, sheets: &[(&str, &OutTable)]) -> Result<(), WriteError> {
    let io = |source| WriteError::Io { path: path.display().to_string(), source };
    let xlsx = |e: rust_xlsxwriter::XlsxError| WriteError::Xlsx {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut book = rust_xlsxwriter::Workbook::new();
    for (name, table) in sheets {
        table.add_sheet(&mut book, name).map_err(xlsx)?;
    }
    let mut file = AtomicFile::create(path).map_err(io)?;
    file.write_all(&book.save_to_buffer().map_err(xlsx)?).map_err(io)?;
    file.commit().map_err(io)
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

#[cfg(test)]
mod workbook_tests {
    use super::*;

    /// The sheet XML of a workbook written from `table`.
    fn sheet_xml(table: &OutTable) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.xlsx");
        table.write(&path, Format::Xlsx, "list", false).unwrap();
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml)
            .unwrap();
        xml
    }

    /// A workbook an office can use as it is: the header bold and frozen,
    /// a filter on it, columns as wide as their text, and drop-down lists
    /// on the columns to fill in (strict or not).
    #[test]
    fn workbooks_have_a_frozen_filtered_header_widths_and_drop_downs() {
        let table = OutTable {
            header: vec!["household_id".into(), "村".into(), "verified_need".into(), "assistance".into()],
            rows: vec![vec!["H001".into(), "花园村花园村花园村".into(), String::new(), String::new()]],
            choices: vec![
                (2, vec!["1".into(), "0".into()], true),
                (3, vec!["education".into(), "medical".into()], false),
            ],
            note: None,
        };
        let xml = sheet_xml(&table);
        assert!(
            xml.contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#),
            "{xml}"
        );
        assert!(xml.contains(r#"<autoFilter ref="A1:D2"/>"#), "{xml}");
        // 村 column: nine Chinese characters, 18 wide, plus 2
        assert!(xml.contains(r#"<col min="2" max="2" width="20.7109375" customWidth="1"/>"#), "{xml}");
        assert!(xml.contains(r#"<formula1>"1,0"</formula1>"#), "{xml}");
        assert!(xml.contains(r#"sqref="C2""#) && xml.contains(r#"sqref="D2""#), "{xml}");
        assert!(xml.contains(r#"errorStyle="information""#), "assistance accepts other kinds: {xml}");
    }

    /// A table's note is said once, as a note on its first header cell.
    #[test]
    fn a_note_is_said_once_on_the_first_header_cell() {
        let table = OutTable {
            header: vec!["户编号".into(), "身份证号".into()],
            rows: vec![vec!["H001".into(), "420921********0011".into()]; 3],
            note: Some("身份证号和姓名已脱敏。".into()),
            ..OutTable::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.xlsx");
        table.write(&path, Format::Xlsx, "list", false).unwrap();
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/comments1.xml").unwrap(), &mut xml).unwrap();
        assert!(xml.contains(r#"<comment ref="A1""#) && xml.contains("身份证号和姓名已脱敏。"), "{xml}");
        assert_eq!(xml.matches("<comment ").count(), 1, "{xml}");
    }
}

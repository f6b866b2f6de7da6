//! Tables read whole, from CSV text or from a workbook's sheet.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use calamine::{open_workbook_auto, Data, Reader};

use crate::encoding::{open, Encoding, LineFeeds};

/// Where a table comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A CSV file.
    Csv(PathBuf),
    /// A sheet of a workbook.
    Sheet(PathBuf, String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Csv(p) => write!(f, "{}", p.display()),
            Origin::Sheet(p, s) => write!(f, "{} [sheet {s}]", p.display()),
        }
    }
}

/// A table being read: a header, then records with their line numbers
/// (sheet rows for workbooks).
pub enum Table {
    /// From CSV.
    Csv(csv::Reader<Box<dyn Read + Send>>),
    /// From a worksheet, already converted to text.
    Sheet(std::vec::IntoIter<(u64, csv::ByteRecord)>),
}

/// Why a table could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file could not be read.
    #[error("cannot read {origin}: {source}")]
    Io {
        /// The table.
        origin: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The workbook could not be read or lacks the sheet.
    #[error("cannot read {origin}: {message}")]
    Workbook {
        /// The table.
        origin: String,
        /// What went wrong and how to fix it.
        message: String,
    },
    /// The CSV is malformed.
    #[error("{origin}: line {line}: {message}")]
    Csv {
        /// The table.
        origin: String,
        /// Line.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// Whether a path names a workbook (`.xlsx`, `.xlsm`, `.xls`, `.ods`).
pub fn is_workbook(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "xlsx" | "xlsm" | "xls" | "xlsb" | "ods"))
}

/// Text of a workbook cell as a CSV export would show it: whole numbers
/// without `.0`, dates as `YYYY-MM-DD`, booleans as 1/0.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        // Excel counts days from 1899-12-30; 25569 is 1970-01-01.
        Data::DateTime(d) if d.is_datetime() => crate::date::format_date(d.as_f64().floor() as i32 - 25_569),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Most bytes a workbook may unpack to (its XML): 2 GiB, far above a
/// county's roster, and what a small file that claims more (a zip bomb)
/// is refused at.
pub const MAX_UNPACKED_BYTES: u128 = 2 << 30;

/// Refuses a zip-based workbook (.xlsx, .xlsm, .ods) whose parts declare
/// more than [`MAX_UNPACKED_BYTES`], before any part is unpacked. Other
/// formats (.xls) are not zip archives and pass.
pub(crate) fn check_unpacked_size(path: &Path) -> Result<(), String> {
    let Ok(file) = File::open(path) else { return Ok(()) };
    let Ok(archive) = zip::ZipArchive::new(BufReader::new(file)) else { return Ok(()) };
    match archive.decompressed_size() {
        Some(size) if size > MAX_UNPACKED_BYTES => Err(format!(
            "the workbook unpacks to {} MiB, over the limit of {} MiB; this is not a roster workbook (save \
             the sheets as CSV files)",
            size >> 20,
            MAX_UNPACKED_BYTES >> 20
        )),
        _ => Ok(()),
    }
}

/// Most columns a sheet may use.
pub const MAX_SHEET_COLUMNS: u32 = 10_000;

/// Most fields (rows × columns of the used range, empty rows left out) a
/// sheet may hold: 50 million, far above a county's roster.
pub const MAX_SHEET_FIELDS: u64 = 50_000_000;

/// Checks the grid each sheet of an OpenDocument workbook declares (its
/// rows and columns, repeats counted, up to the last cell holding
/// something) against [`MAX_SHEET_COLUMNS`] and [`MAX_SHEET_FIELDS`],
/// reading `content.xml` as a stream, before calamine builds the grids of
/// every sheet as it opens the workbook: a few kilobytes can declare a
/// cell a million rows and 16,000 columns away.
pub(crate) fn check_ods_grid(path: &Path) -> Result<(), String> {
    use quick_xml::events::{BytesStart, Event};
    let xml = |e: quick_xml::Error| format!("content.xml cannot be read: {e}");
    let Ok(file) = File::open(path) else { return Ok(()) };
    let Ok(mut archive) = zip::ZipArchive::new(BufReader::new(file)) else { return Ok(()) };
    let Ok(content) = archive.by_name("content.xml") else { return Ok(()) };
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(content));
    let repeats = |e: &BytesStart, name: &str| -> u64 {
        e.try_get_attribute(name).ok().flatten().and_then(|a| a.value.trim().parse().ok()).unwrap_or(1)
    };
    let (mut inside, mut row, mut rows_used, mut width) = (false, 0u64, 0u64, 0u64);
    let mut sheet = String::new();
    // the row being read: its repeats, the next column, the last used one
    let (mut row_repeats, mut column, mut last) = (1u64, 0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        let (event, empty) = match reader.read_event_into(&mut buf).map_err(xml)? {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                match e.name().as_ref() {
                    "table:table" => inside = false,
                    "table:table-row" if inside => {
                        if last > 0 {
                            rows_used = row.saturating_add(row_repeats);
                            width = width.max(last);
                        }
                        row = row.saturating_add(row_repeats);
                        // a used row ends: the grid so far is checked
                        if width > u64::from(MAX_SHEET_COLUMNS) {
                            return Err(format!(
                                "sheet \"{sheet}\": a cell in column {width}, more than {MAX_SHEET_COLUMNS} \
                                 columns; this is not a roster sheet (delete the far cells, or save the sheet as \
                                 CSV)"
                            ));
                        }
                        if rows_used.saturating_mul(width) > MAX_SHEET_FIELDS {
                            return Err(format!(
                                "sheet \"{sheet}\": {rows_used} rows of {width} columns: more than \
                                 {MAX_SHEET_FIELDS} fields; split the sheet, or delete the cells far below or to \
                                 the right of the roster"
                            ));
                        }
                    }
                    _ => {}
                }
                buf.clear();
                continue;
            }
            Event::Eof => break,
            _ => {
                buf.clear();
                continue;
            }
        };
        match event.name().as_ref() {
            "table:table" if !empty => {
                sheet = event
                    .try_get_attribute("table:name")
                    .ok()
                    .flatten()
                    .map_or_else(String::new, |a| a.value.into_owned());
                (inside, row, rows_used, width) = (true, 0, 0, 0);
            }
            "table:table-row" if inside => {
                (row_repeats, column, last) = (repeats(&event, "table:number-rows-repeated"), 0, 0);
                if empty {
                    row = row.saturating_add(row_repeats);
                }
            }
            "table:table-cell" | "table:covered-table-cell" if inside => {
                let n = repeats(&event, "table:number-columns-repeated");
                let filled = !empty || event.try_get_attribute("office:value-type").ok().flatten().is_some();
                column = column.saturating_add(n);
                if filled {
                    last = column;
                }
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

/// The rows of an `.xlsx` sheet, read cell by cell: the used range is
/// checked before any row is built, so that a small file claiming a cell at
/// `XFD1048576` is refused instead of allocating the whole grid. Rows keep
/// their sheet line; empty rows are left out; every row is as wide as the
/// used columns.
fn xlsx_rows<RS: Read + std::io::Seek>(
    book: &mut calamine::Xlsx<RS>,
    sheet: &str,
) -> Result<Vec<(u64, csv::ByteRecord)>, String> {
    let mut reader = book.worksheet_cells_reader(sheet).map_err(|e| e.to_string())?;
    let mut cells: Vec<(u32, u32, String)> = Vec::new();
    let (mut low, mut high) = (u32::MAX, 0u32);
    while let Some(cell) = reader.next_cell().map_err(|e| e.to_string())? {
        let (row, column) = cell.get_position();
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.is_empty() {
            continue;
        }
        (low, high) = (low.min(column), high.max(column));
        if high - low >= MAX_SHEET_COLUMNS {
            return Err(format!(
                "line {}: a cell in column {}, more than {MAX_SHEET_COLUMNS} columns from the first used; this is \
                 not a roster sheet (delete the stray cells)",
                u64::from(row) + 1,
                u64::from(column) + 1
            ));
        }
        if cells.len() as u64 >= MAX_SHEET_FIELDS {
            return Err(format!("more than {MAX_SHEET_FIELDS} cells; split the sheet"));
        }
        cells.push((row, column, text));
    }
    cells.sort_by_key(|&(row, column, _)| (row, column));
    let width = if cells.is_empty() { 0 } else { (high - low + 1) as usize };
    let mut rows_used = 0u64;
    let mut last = None;
    for &(row, _, _) in &cells {
        if last != Some(row) {
            rows_used += 1;
            last = Some(row);
        }
    }
    if rows_used * width as u64 > MAX_SHEET_FIELDS {
        return Err(format!(
            "{rows_used} rows of {width} columns: more than {MAX_SHEET_FIELDS} fields; split the sheet, or delete \
             stray cells far from the table"
        ));
    }
    let mut rows: Vec<(u64, csv::ByteRecord)> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut current = None;
    for (row, column, text) in cells {
        if current != Some(row) {
            if let Some(r) = current {
                rows.push((u64::from(r) + 1, csv::ByteRecord::from(std::mem::take(&mut fields))));
            }
            fields = vec![String::new(); width];
            current = Some(row);
        }
        fields[(column - low) as usize] = text;
    }
    if let Some(r) = current {
        rows.push((u64::from(r) + 1, csv::ByteRecord::from(fields)));
    }
    Ok(rows)
}

/// The sheets of a workbook, in order (its size checked first, as when a
/// sheet is read).
pub fn sheet_names(path: &Path) -> Result<Vec<String>, TableError> {
    let err = |message: String| TableError::Workbook { origin: path.display().to_string(), message };
    check_unpacked_size(path).map_err(err)?;
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ods")) {
        check_ods_grid(path).map_err(err)?;
    }
    let book = open_workbook_auto(path).map_err(|e| err(e.to_string()))?;
    Ok(book.sheet_names())
}

impl Table {
    /// Opens a CSV file, or sheet `sheet` of a workbook.
    pub fn open(path: &Path, sheet: &str, encoding: Encoding) -> Result<(Table, Origin), TableError> {
        if is_workbook(path) {
            let origin = Origin::Sheet(path.to_path_buf(), sheet.to_string());
            let err = |message: String| TableError::Workbook { origin: origin.to_string(), message };
            check_unpacked_size(path).map_err(err)?;
            // calamine builds an OpenDocument workbook's sheets, whole grids,
            // as it opens it: the sheet's size is checked first. (An .xls
            // sheet cannot be larger than 65,536 rows of 256 columns.)
            let ods = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ods"));
            if ods {
                check_ods_grid(path).map_err(err)?;
            }
            let mut book = open_workbook_auto(path).map_err(|e| err(e.to_string()))?;
            let names = book.sheet_names();
            if !names.iter().any(|n| n == sheet) {
                return Err(err(format!(
                    "no sheet named \"{sheet}\" (the workbook has: {})",
                    names.join(", ")
                )));
            }
            if let calamine::Sheets::Xlsx(xlsx) = &mut book {
                let rows = xlsx_rows(xlsx, sheet).map_err(err)?;
                return Ok((Table::Sheet(rows.into_iter()), origin));
            }

            let range = book.worksheet_range(sheet).map_err(|e| err(e.to_string()))?;
            let first = range.start().map_or(0, |(row, _)| u64::from(row));
            let rows: Vec<(u64, csv::ByteRecord)> = range
                .rows()
                .enumerate()
                .map(|(i, row)| {
                    // every row as wide as the sheet's used range: empty
                    // trailing cells are empty fields, as in a CSV export
                    let fields: Vec<String> = row.iter().map(cell_text).collect();
                    (first + i as u64 + 1, csv::ByteRecord::from(fields))
                })
                .filter(|(_, r)| r.iter().any(|f| !f.is_empty()))
                .collect();
            return Ok((Table::Sheet(rows.into_iter()), origin));
        }
        let origin = Origin::Csv(path.to_path_buf());
        let (stream, _) =
            open(path, encoding).map_err(|source| TableError::Io { origin: origin.to_string(), source })?;
        Ok((
            Table::Csv(
                csv::ReaderBuilder::new()
                    .flexible(true)
                    .has_headers(false)
                    .from_reader(Box::new(LineFeeds::new(stream)) as Box<dyn Read + Send>),
            ),
            origin,
        ))
    }

    /// The next record and its line, or `None` at the end.
    pub fn next(&mut self, record: &mut csv::ByteRecord, origin: &Origin) -> Result<Option<u64>, TableError> {
        match self {
            Table::Csv(reader) => match reader.read_byte_record(record) {
                Ok(true) => Ok(Some(record.position().map_or(0, |p| p.line()))),
                Ok(false) => Ok(None),
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    Err(match e.into_kind() {
                        csv::ErrorKind::Io(source) => TableError::Io { origin: origin.to_string(), source },
                        other => TableError::Csv {
                            origin: origin.to_string(),
                            line,
                            message: format!("{other:?}"),
                        },
                    })
                }
            },
            Table::Sheet(rows) => Ok(rows.next().map(|(line, r)| {
                *record = r;
                line
            })),
        }
    }
}

/// A cell's text, trimmed; undecodable bytes are an error naming the line.
fn decoded(cell: &[u8], origin: &Origin, line: u64) -> Result<String, TableError> {
    if cell.contains(&0) {
        return Err(TableError::Csv {
            origin: origin.to_string(),
            line,
            message: "a NUL byte in a cell: the file is damaged or not text (is it UTF-16? save it as UTF-8)"
                .into(),
        });
    }
    std::str::from_utf8(cell).map(|s| s.trim().to_string()).map_err(|_| TableError::Csv {
        origin: origin.to_string(),
        line,
        message: "the text is not UTF-8 (is the file GBK? pass --encoding gbk)".into(),
    })
}

/// A whole table read into text: its origin, header and rows (with their
/// lines). For small tables (outcomes, returns, scores files); rosters are
/// read record by record.
#[derive(Debug, Clone)]
pub struct TextTable {
    /// Where it came from.
    pub origin: Origin,
    /// Header names, trimmed.
    pub header: Vec<String>,
    /// Rows with their lines; fields trimmed.
    pub rows: Vec<(u64, Vec<String>)>,
}

impl TextTable {
    /// Reads a CSV file or a workbook's sheet. Undecodable text is an error
    /// naming the line.
    pub fn read(path: &Path, sheet: &str, encoding: Encoding) -> Result<TextTable, TableError> {
        let (mut table, origin) = Table::open(path, sheet, encoding)?;
        let mut record = csv::ByteRecord::new();
        let mut header = Vec::new();
        let mut rows = Vec::new();
        let mut header_read = false;
        while let Some(line) = table.next(&mut record, &origin)? {
            let fields = record.iter().map(|f| decoded(f, &origin, line)).collect::<Result<Vec<_>, _>>()?;
            // the first record is the header, whatever line the reader
            // gives it
            if !header_read {
                header_read = true;
                header = fields;
            } else {
                rows.push((line, fields));
            }
        }
        Ok(TextTable { origin, header, rows })
    }

    /// Reads only the columns named `wanted` (those the header has, in
    /// the order given) and only the rows `keep` accepts, given the header
    /// so kept and the row's trimmed texts in those columns: a large table
    /// (a roster's members, a scores file) costs the memory of what is
    /// kept, not of the whole file.
    /// Undecodable text in a column read is an error naming the line.
    pub fn read_columns(
        path: &Path,
        sheet: &str,
        encoding: Encoding,
        wanted: &[&str],
        mut keep: impl FnMut(&[String], &[String]) -> bool,
    ) -> Result<TextTable, TableError> {
        let (mut table, origin) = Table::open(path, sheet, encoding)?;
        let mut record = csv::ByteRecord::new();
        let (mut header, mut at): (Vec<String>, Vec<usize>) = (Vec::new(), Vec::new());
        let (mut rows, mut fields, mut header_read) = (Vec::new(), Vec::new(), false);
        while let Some(line) = table.next(&mut record, &origin)? {
            let text = |f: &[u8]| decoded(f, &origin, line);
            if !header_read {
                header_read = true;
                let names = record.iter().map(text).collect::<Result<Vec<String>, _>>()?;
                (header, at) = wanted
                    .iter()
                    .filter_map(|w| names.iter().position(|n| n == w).map(|i| (w.to_string(), i)))
                    .unzip();
                continue;
            }
            fields.clear();
            for &i in &at {
                fields.push(text(record.get(i).unwrap_or_default())?);
            }
            if keep(&header, &fields) {
                rows.push((line, std::mem::take(&mut fields)));
            }
        }
        Ok(TextTable { origin, header, rows })
    }

    /// Position of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}

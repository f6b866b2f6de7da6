//! The files county offices really have: CSV in UTF-8 (with or without a
//! byte-order mark), GBK / GB18030 or UTF-16, and Excel workbooks. Every
//! table the tools read goes through [`Table`], which yields records with
//! the line (or sheet row) they came from.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use calamine::{open_workbook_auto, Data, Reader};
use encoding_rs_io::DecodeReaderBytesBuilder;

/// The text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 unless the start of the file is not, then GB18030 (which
    /// covers GBK); a UTF-16 byte-order mark is honoured. The default.
    #[default]
    Auto,
    /// UTF-8 (a byte-order mark is skipped).
    Utf8,
    /// GB18030, a superset of GBK and GB2312.
    Gb18030,
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "auto" => Ok(Encoding::Auto),
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gbk" | "gb2312" | "gb18030" | "cp936" => Ok(Encoding::Gb18030),
            _ => Err(format!("unknown encoding \"{s}\": use auto, utf-8, gbk or gb18030")),
        }
    }
}

/// How much of a file is looked at to tell UTF-8 from GB18030.
const SNIFF: usize = 1 << 16;

/// Whether bytes are UTF-8, allowing a sequence cut off at the end.
fn looks_utf8(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4,
    }
}

/// Opens a text file as a UTF-8 byte stream, decoding it if needed.
/// Returns the stream and the name of the encoding read.
pub fn open(path: &Path, encoding: Encoding) -> std::io::Result<(Box<dyn Read + Send>, &'static str)> {
    let mut file = File::open(path)?;
    let mut head = vec![0u8; SNIFF];
    let mut n = 0;
    while n < SNIFF {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    head.truncate(n);
    let utf16 = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
    let chosen = match encoding {
        Encoding::Utf8 => encoding_rs::UTF_8,
        Encoding::Gb18030 => encoding_rs::GB18030,
        Encoding::Auto if utf16 || looks_utf8(&head) => encoding_rs::UTF_8,
        Encoding::Auto => encoding_rs::GB18030,
    };
    let whole = std::io::Cursor::new(head).chain(file);
    if chosen == encoding_rs::UTF_8 && !utf16 {
        // csv-core skips a UTF-8 byte-order mark itself; no decoding needed
        return Ok((Box::new(BufReader::with_capacity(1 << 16, whole)), "utf-8"));
    }
    let decoder = DecodeReaderBytesBuilder::new().encoding(Some(chosen)).bom_override(true).build(whole);
    let name = if utf16 { "utf-16" } else { chosen.name() };
    Ok((
        Box::new(BufReader::with_capacity(1 << 16, decoder)),
        if name == "gb18030" { "gb18030" } else { name },
    ))
}

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

impl Table {
    /// Opens a CSV file, or sheet `sheet` of a workbook.
    pub fn open(path: &Path, sheet: &str, encoding: Encoding) -> Result<(Table, Origin), TableError> {
        if is_workbook(path) {
            let origin = Origin::Sheet(path.to_path_buf(), sheet.to_string());
            let err = |message: String| TableError::Workbook { origin: origin.to_string(), message };
            let mut book = open_workbook_auto(path).map_err(|e| err(e.to_string()))?;
            let names = book.sheet_names();
            if !names.iter().any(|n| n == sheet) {
                return Err(err(format!(
                    "no sheet named \"{sheet}\" (the workbook has: {})",
                    names.join(", ")
                )));
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
            Table::Csv(csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(stream)),
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

/// Records read back to back into one buffer: the bytes of their fields
/// and where each field ends (relative to its record's start), with each
/// record's line. Cleared and refilled without freeing, so a batch of
/// records costs no allocation once the buffers have grown.
#[derive(Debug, Default)]
pub struct Records {
    /// Field bytes; only the first `data_used` are records.
    data: Vec<u8>,
    data_used: usize,
    ends: Vec<usize>,
    ends_used: usize,
    /// Per record: its line, and where its bytes and field ends start.
    rows: Vec<(u64, usize, usize)>,
}

impl Records {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Forgets the records, keeping the buffers.
    pub fn clear(&mut self) {
        self.data_used = 0;
        self.ends_used = 0;
        self.rows.clear();
    }

    /// Appends a record read by the csv crate.
    pub fn push(&mut self, line: u64, record: &csv::ByteRecord) {
        let (d, e) = (self.data_used, self.ends_used);
        self.reserve(record.as_slice().len(), record.len());
        self.data[d..d + record.as_slice().len()].copy_from_slice(record.as_slice());
        let mut at = 0;
        for (end, field) in self.ends[e..].iter_mut().zip(record.iter()) {
            at += field.len();
            *end = at;
        }
        self.data_used += record.as_slice().len();
        self.ends_used += record.len();
        self.rows.push((line, d, e));
    }

    /// Appends a record given as its field bytes and ends.
    pub fn push_fields(&mut self, line: u64, data: &[u8], ends: &[usize]) {
        let (d, e) = (self.data_used, self.ends_used);
        self.reserve(data.len(), ends.len());
        self.data[d..d + data.len()].copy_from_slice(data);
        self.ends[e..e + ends.len()].copy_from_slice(ends);
        self.data_used += data.len();
        self.ends_used += ends.len();
        self.rows.push((line, d, e));
    }

    /// Keeps the first `n` records.
    pub fn truncate(&mut self, n: usize) {
        if let Some(&(_, data, ends)) = self.rows.get(n) {
            self.data_used = data;
            self.ends_used = ends;
            self.rows.truncate(n);
        }
    }

    /// Record `r`: its line, the bytes of its fields and where each ends.
    pub fn get(&self, r: usize) -> (u64, &[u8], &[usize]) {
        let (line, data, ends) = self.rows[r];
        let (data_end, ends_end) =
            self.rows.get(r + 1).map_or((self.data_used, self.ends_used), |next| (next.1, next.2));
        (line, &self.data[data..data_end], &self.ends[ends..ends_end])
    }

    /// Makes room for `bytes` more field bytes and `fields` more ends.
    fn reserve(&mut self, bytes: usize, fields: usize) {
        let grow = |need: usize, len: usize| if need > len { need.max(2 * len).max(1024) } else { len };
        let data = grow(self.data_used + bytes, self.data.len());
        self.data.resize(data, 0);
        let ends = grow(self.ends_used + fields, self.ends.len());
        self.ends.resize(ends, 0);
    }
}

/// A CSV file read by csv-core straight into [`Records`], without a copy
/// through a `ByteRecord`. The records and their lines are those of the
/// csv crate's reader (built on the same csv-core, with the same settings
/// as [`Table`]'s: commas, double quotes, any line ending, a UTF-8
/// byte-order mark skipped, rows of any length).
pub struct RawCsv {
    source: Box<dyn Read + Send>,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    input_done: bool,
    done: bool,
    core: csv_core::Reader,
}

impl RawCsv {
    /// Opens a CSV file (decoding it to UTF-8 if needed, as [`Table`]).
    pub fn open(path: &Path, encoding: Encoding) -> std::io::Result<RawCsv> {
        let (source, _) = open(path, encoding)?;
        Ok(RawCsv {
            source,
            buffer: vec![0; 1 << 16].into_boxed_slice(),
            start: 0,
            end: 0,
            input_done: false,
            done: false,
            core: csv_core::Reader::new(),
        })
    }

    /// Appends the next record to `records`; its line, or `None` at the
    /// end.
    pub fn read(&mut self, records: &mut Records) -> std::io::Result<Option<u64>> {
        use csv_core::ReadRecordResult::*;
        let line = self.core.line();
        if self.done {
            return Ok(None);
        }
        let (d, e) = (records.data_used, records.ends_used);
        let (mut out, mut ends) = (0, 0);
        records.reserve(1024, 64);
        loop {
            if self.start == self.end && !self.input_done {
                self.start = 0;
                self.end = loop {
                    match self.source.read(&mut self.buffer) {
                        Ok(n) => break n,
                        Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(err) => return Err(err),
                    }
                };
                self.input_done = self.end == 0;
            }
            let (result, read, written, ended) = self.core.read_record(
                &self.buffer[self.start..self.end],
                &mut records.data[d + out..],
                &mut records.ends[e + ends..],
            );
            self.start += read;
            out += written;
            ends += ended;
            match result {
                InputEmpty => {}
                OutputFull => records.reserve(out + 1, 0),
                OutputEndsFull => records.reserve(0, ends + 1),
                Record => {
                    records.data_used += out;
                    records.ends_used += ends;
                    records.rows.push((line, d, e));
                    return Ok(Some(line));
                }
                End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }
}

/// A cell's text, trimmed; undecodable bytes are an error naming the line.
fn decoded(cell: &[u8], origin: &Origin, line: u64) -> Result<String, TableError> {
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
        while let Some(line) = table.next(&mut record, &origin)? {
            let fields = record.iter().map(|f| decoded(f, &origin, line)).collect::<Result<Vec<_>, _>>()?;
            if line == 1 || (header.is_empty() && rows.is_empty()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_columns_and_rows_asked_for_are_kept() {
        let dir = std::env::temp_dir().join(format!("hhrisk-columns-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("members.csv");
        // a byte that is not UTF-8 in a column not asked for is no error
        let mut bytes = b"household_id,note,person_id,name\nA, x ,p1, \xe5\xbc\xa0\xe4\xb8\x89 \n".to_vec();
        bytes.extend_from_slice(b"B,\xff,p2,li\nA,,p3,wang\n");
        std::fs::write(&path, &bytes).unwrap();
        let keep_a = |header: &[String], fields: &[String]| {
            let h = header.iter().position(|c| c == "household_id").unwrap();
            fields[h] == "A"
        };
        let t = TextTable::read_columns(
            &path,
            "members",
            Encoding::Utf8,
            &["name", "household_id", "age"],
            keep_a,
        )
        .unwrap();
        assert_eq!(t.header, ["name", "household_id"], "asked-for order; `age` is not in the file");
        assert_eq!(t.rows, [(2, vec!["张三".to_string(), "A".into()]), (4, vec!["wang".into(), "A".into()])]);
        // the same byte in a column that is read names its line
        let err =
            TextTable::read_columns(&path, "members", Encoding::Utf8, &["note"], |_, _| true).unwrap_err();
        assert!(err.to_string().contains('3'), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn read_all(path: &Path) -> Vec<(u64, Vec<String>)> {
        let (mut t, origin) = Table::open(path, "households", Encoding::Auto).unwrap();
        let mut r = csv::ByteRecord::new();
        let mut out = Vec::new();
        while let Some(line) = t.next(&mut r, &origin).unwrap() {
            out.push((line, r.iter().map(|f| String::from_utf8(f.to_vec()).unwrap()).collect()));
        }
        out
    }

    #[test]
    fn gbk_bom_and_utf16_files_decode_to_the_same_records() {
        let dir = std::env::temp_dir().join(format!("hhrisk-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "household_id,village\nH1,东山村\nH2,西河村\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let files = [
            ("utf8.csv", text.as_bytes().to_vec()),
            ("bom.csv", [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()),
            ("gbk.csv", gbk.into_owned()),
            ("utf16.csv", utf16),
        ];
        let want = vec![
            (1, vec!["household_id".to_string(), "village".into()]),
            (2, vec!["H1".into(), "东山村".into()]),
            (3, vec!["H2".into(), "西河村".into()]),
        ];
        for (name, bytes) in files {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(read_all(&path), want, "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn encodings_are_named_as_offices_name_them() {
        assert_eq!("GBK".parse::<Encoding>(), Ok(Encoding::Gb18030));
        assert_eq!("utf_8".parse::<Encoding>(), Ok(Encoding::Utf8));
        assert!("latin1".parse::<Encoding>().is_err());
        assert!(looks_utf8("东山".as_bytes()) && looks_utf8(&"东山".as_bytes()[..4]));
        assert!(!looks_utf8(&[0xB6, 0xAB, 0x41]));
    }
}

//! The files county offices really have: CSV in UTF-8 (with or without a
//! byte-order mark), GBK / GB18030 or UTF-16, and Excel workbooks. Every
//! table the tools read goes through [`Table`], which yields records with
//! the line (or sheet row) they came from.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

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

/// UTF-16 little- or big-endian, told by where the zero bytes fall in a
/// file's head (at least 16 bytes, and a zero in most places of one parity
/// and almost none of the other); `None` for anything else.
fn utf16_without_mark(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let pairs = head.len() / 2;
    if pairs < 8 {
        return None;
    }
    let zeros = |parity: usize| head.iter().skip(parity).step_by(2).take(pairs).filter(|&&b| b == 0).count();
    let (even, odd) = (zeros(0), zeros(1));
    if odd * 2 > pairs && even * 20 < pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even * 2 > pairs && odd * 20 < pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Opens a text file as a UTF-8 byte stream, decoding it if needed.
/// Returns the stream and the name of the encoding read.
pub fn open(path: &Path, encoding: Encoding) -> std::io::Result<(Box<dyn Read + Send>, &'static str)> {
    let sniffed = Sniffed::open(path, encoding)?;
    let name = sniffed.name();
    if sniffed.plain() {
        // the CSV readers skip a UTF-8 byte-order mark; no decoding needed
        let cr = cr_only(&sniffed.head);
        let whole = std::io::Cursor::new(sniffed.head).chain(sniffed.file);
        if cr {
            // lines ending in CR alone: made line feeds before the limits
            // count them
            return Ok((
                Box::new(BufReader::with_capacity(1 << 16, Bounded::new(LineFeeds::new(whole)))),
                name,
            ));
        }
        return Ok((Box::new(BufReader::with_capacity(1 << 16, Bounded::new(whole))), name));
    }
    let mut source = BufReader::with_capacity(1 << 16, sniffed.decoder());
    let mut head = Vec::with_capacity(SNIFF);
    (&mut source).take(SNIFF as u64).read_to_end(&mut head)?;
    let cr = cr_only(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head));
    let whole = std::io::Cursor::new(head).chain(source);
    if cr {
        return Ok((Box::new(BufReader::with_capacity(1 << 16, Bounded::new(LineFeeds::new(whole)))), name));
    }
    Ok((Box::new(BufReader::with_capacity(1 << 16, Bounded::new(whole))), name))
}

/// Longest line a table may have, checked while reading: far above a row
/// ([`crate::roster::MAX_ROW_BYTES`], whose check names the household once
/// the row is read), so that only a file that is no table at all (a binary
/// file, `/dev/zero`) meets it, after 64 MiB at most.
pub const MAX_LINE_BYTES: u64 = 64 << 20;

/// Line feeds in `bytes`.
fn line_feeds(bytes: &[u8]) -> u64 {
    // counted in bytes over blocks that cannot overflow one: the compiler
    // turns the inner sum into wide vector adds
    bytes.chunks(255).map(|block| u64::from(block.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n')))).sum()
}

/// A reader that refuses a line longer than
/// [`MAX_LINE_BYTES`] as it goes, so that a file without line breaks (a
/// binary file, `/dev/zero`) fails fast in bounded memory instead of being
/// buffered whole as one record.
struct Bounded<R> {
    inner: R,
    /// Bytes since the last line feed.
    since: u64,
    quoted: bool,
    /// Line feeds seen (outside and inside quotes), for the message.
    lines: u64,
    /// The line of the quote that opened the current quoted text.
    quote_line: u64,
    /// The last byte read (a line feed before the first).
    prev: u8,
    /// Bytes read so far.
    offset: u64,
    /// Where the last quoted text closed.
    closed_at: Option<u64>,
    /// The file starts with a UTF-8 byte-order mark.
    bom: bool,
    /// Quotes open quoted text anywhere, as simd-csv takes them (the
    /// roster reader), not only at a field's start (the csv crate).
    any_quote: bool,
}

impl<R: Read> Bounded<R> {
    /// For the csv crate's readers.
    fn new(inner: R) -> Self {
        Bounded {
            inner,
            since: 0,
            quoted: false,
            lines: 0,
            quote_line: 0,
            prev: b'\n',
            offset: 0,
            closed_at: None,
            bom: false,
            any_quote: false,
        }
    }

    /// For the roster reader (simd-csv).
    fn for_rosters(inner: R) -> Self {
        Bounded { any_quote: true, ..Bounded::new(inner) }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.quoted && !buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {}: a quote (\") opens there and is never closed, so the rest of the file would be one \
                     cell; close it, or write a quote inside a cell as two (\"\")",
                    self.quote_line
                ),
            ));
        }
        // a byte-order mark is only at the very start: elsewhere, two files
        // were joined and a cell would start with it unseen
        let from = if self.offset == 0 { 3.min(n) } else { 0 };
        // (at a line's start: a U+FEFF inside a cell is a zero-width space
        // pasted with the text, and harmless)
        let at_line_start = |k: usize| {
            let before = if from + k > 0 { buf[from + k - 1] } else { self.prev };
            matches!(before, b'\n' | b'\r')
        };
        if let Some(k) = memchr::memmem::find_iter(&buf[from..n], b"\xEF\xBB\xBF").find(|&k| at_line_start(k))
        {
            let line = self.lines + 1 + memchr::memchr_iter(b'\n', &buf[..from + k]).count() as u64;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {line}: a byte-order mark (U+FEFF) in the middle of the file: were two files joined? \
                     remove it (and any second header row)"
                ),
            ));
        }
        let base = self.offset;
        self.offset += n as u64;
        let data = &buf[..n];
        if base == 0 && data.starts_with(b"\xEF\xBB\xBF") {
            self.bom = true;
        }
        // quotes are rare in a roster: visit each; line feeds are many:
        // count them in bulk (the count vectorises), and only up to a
        // quote that opens, for its line
        let mut counted = 0;
        let mut lines = self.lines;
        for i in memchr::memchr_iter(b'"', data) {
            let at = base + i as u64;
            if self.quoted {
                self.quoted = false;
                self.closed_at = Some(at);
                continue;
            }
            // `""` inside quotes: the second quote goes on with the text
            let escaped = self.closed_at.is_some_and(|c| c + 1 == at);
            // as the csv crate takes them, a quote opens a field only at its
            // start; the roster reader (simd-csv) opens one anywhere
            let before = if i > 0 { data[i - 1] } else { self.prev };
            let opens = escaped
                || self.any_quote
                || at == 0
                || (self.bom && at == 3)
                || matches!(before, b',' | b'\n' | b'\r');
            if opens {
                self.quoted = true;
                if !escaped {
                    lines += line_feeds(&data[counted..i]);
                    counted = i;
                    self.quote_line = lines + 1;
                }
            }
        }
        self.lines = lines + line_feeds(&data[counted..]);
        if n > 0 {
            self.prev = data[n - 1];
        }
        // the length of the current line (a line break inside quotes
        // counts: a cell that long is refused later anyway)
        match memchr::memrchr(b'\n', data) {
            Some(last) => self.since = (n - last - 1) as u64,
            None => self.since += n as u64,
        }
        if self.since > MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {}: more than {} MiB without a line break; this is not a CSV table (a binary file, or a \
                     quote left open?)",
                    self.lines + 1,
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        Ok(n)
    }
}

/// [`open`] for a reader that buffers its input itself, with a UTF-8
/// byte-order mark dropped: a UTF-8 file is read as it is, from where
/// its text starts, with no buffer and no copy between. Also returns the
/// file's size when it is a plain UTF-8 file: a decoded file's size in
/// bytes does not tell how far its UTF-8 text has gone, nor a pipe's.
fn open_unbuffered(path: &Path, encoding: Encoding) -> std::io::Result<(Box<dyn Read + Send>, Option<u64>)> {
    use std::io::{Seek, SeekFrom};
    let mut sniffed = Sniffed::open(path, encoding)?;
    let mark = if sniffed.head.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    if sniffed.plain() && cr_only(&sniffed.head) {
        // lines ending in CR alone (old Mac software): read through a
        // filter that makes them line feeds, the one case that pays for it
        sniffed.head.drain(..mark);
        let whole = std::io::Cursor::new(std::mem::take(&mut sniffed.head)).chain(sniffed.file);
        return Ok((Box::new(Bounded::for_rosters(LineFeeds::new(whole))), None));
    }
    if sniffed.plain() {
        // back to the start, so that the head's buffer is not copied on;
        // anything but a plain file (a pipe, a terminal, a device, which
        // may not seek or may pretend to) reads the head first
        let size = sniffed.file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        if size.is_some() && sniffed.file.seek(SeekFrom::Start(mark as u64)).is_ok() {
            return Ok((Box::new(Bounded::for_rosters(sniffed.file)), size));
        }
        sniffed.head.drain(..mark);
        return Ok((
            Box::new(Bounded::for_rosters(std::io::Cursor::new(sniffed.head).chain(sniffed.file))),
            None,
        ));
    }
    let mut source = BufReader::with_capacity(1 << 16, sniffed.decoder());
    // a decoder may hand on the mark; the decoded head also tells lines
    // that end in CR alone
    let mut head = Vec::with_capacity(SNIFF);
    (&mut source).take(SNIFF as u64).read_to_end(&mut head)?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        head.drain(..3);
    }
    let cr = cr_only(&head);
    let whole = std::io::Cursor::new(head).chain(source);
    if cr {
        return Ok((Box::new(Bounded::for_rosters(LineFeeds::new(whole))), None));
    }
    Ok((Box::new(Bounded::for_rosters(whole)), None))
}

/// A file opened, with its first bytes read to tell its encoding.
struct Sniffed {
    file: File,
    /// The first [`SNIFF`] bytes (fewer in a shorter file), read.
    head: Vec<u8>,
    encoding: &'static encoding_rs::Encoding,
    utf16: bool,
}

impl Sniffed {
    fn open(path: &Path, encoding: Encoding) -> std::io::Result<Sniffed> {
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
        let marked = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
        // UTF-16 without a byte-order mark: text in ASCII has a zero byte
        // in every other place
        let unmarked = if marked { None } else { utf16_without_mark(&head) };
        let utf16 = marked || unmarked.is_some();
        let encoding = match (encoding, unmarked) {
            (_, Some(e)) => e,
            (Encoding::Utf8, _) => encoding_rs::UTF_8,
            (Encoding::Gb18030, _) => encoding_rs::GB18030,
            (Encoding::Auto, _) if utf16 || looks_utf8(&head) => encoding_rs::UTF_8,
            (Encoding::Auto, _) => encoding_rs::GB18030,
        };
        Ok(Sniffed { file, head, encoding, utf16 })
    }

    /// Whether the file is read as it is (UTF-8).
    fn plain(&self) -> bool {
        self.encoding == encoding_rs::UTF_8 && !self.utf16
    }

    /// The name of the encoding read, as `--encoding` spells it.
    fn name(&self) -> &'static str {
        match (self.utf16, self.plain()) {
            (true, _) => "utf-16",
            (false, true) => "utf-8",
            (false, false) => "gb18030",
        }
    }

    /// The whole file, decoded to UTF-8.
    fn decoder(
        self,
    ) -> encoding_rs_io::DecodeReaderBytes<std::io::Chain<std::io::Cursor<Vec<u8>>, File>, Vec<u8>> {
        let whole = std::io::Cursor::new(self.head).chain(self.file);
        DecodeReaderBytesBuilder::new().encoding(Some(self.encoding)).bom_override(true).build(whole)
    }
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

/// Most bytes a workbook may unpack to (its XML): 2 GiB, far above a
/// county's roster, and what a small file that claims more (a zip bomb)
/// is refused at.
pub const MAX_UNPACKED_BYTES: u128 = 2 << 30;

/// Refuses a zip-based workbook (.xlsx, .xlsm, .ods) whose parts declare
/// more than [`MAX_UNPACKED_BYTES`], before any part is unpacked. Other
/// formats (.xls) are not zip archives and pass.
fn check_unpacked_size(path: &Path) -> Result<(), String> {
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

impl Table {
    /// Opens a CSV file, or sheet `sheet` of a workbook.
    pub fn open(path: &Path, sheet: &str, encoding: Encoding) -> Result<(Table, Origin), TableError> {
        if is_workbook(path) {
            let origin = Origin::Sheet(path.to_path_buf(), sheet.to_string());
            let err = |message: String| TableError::Workbook { origin: origin.to_string(), message };
            check_unpacked_size(path).map_err(err)?;
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

/// Whether the first line of a file's head ends in a CR that no LF
/// follows (outside quotes).
fn cr_only(head: &[u8]) -> bool {
    let mut quoted = false;
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return false,
            b'\r' if !quoted => return head.get(i + 1).is_some_and(|&b| b != b'\n'),
            _ => {}
        }
    }
    false
}

/// A reader that turns CRLF and a lone CR into LF, so that the csv
/// crate, which counts lines by their line feeds, names the same lines
/// whatever the line endings (and cells spanning lines read the same).
struct LineFeeds<R> {
    inner: R,
    /// The last byte handed on was a CR turned into LF: a LF right after
    /// it is dropped.
    after_cr: bool,
}

impl<R: Read> LineFeeds<R> {
    fn new(inner: R) -> Self {
        LineFeeds { inner, after_cr: false }
    }
}

impl<R: Read> Read for LineFeeds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut out = 0;
            for i in 0..n {
                let b = buf[i];
                if b == b'\n' && std::mem::take(&mut self.after_cr) {
                    continue;
                }
                self.after_cr = b == b'\r';
                buf[out] = if b == b'\r' { b'\n' } else { b };
                out += 1;
            }
            // a chunk that was a single dropped LF hands on nothing: read on
            if out > 0 {
                return Ok(out);
            }
        }
    }
}

/// Records read back to back into one buffer: the bytes of their fields,
/// each followed by one byte that is not part of it (the delimiter, so
/// that a record is copied from the file in one piece), and where each
/// field ends (relative to its record's start), with each record's line.
/// Cleared and refilled without freeing, so a batch of records costs no
/// allocation once the buffers have grown.
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
        self.push_cells(line, record.iter());
    }

    /// Appends a record given cell by cell.
    fn push_cells<C: AsRef<[u8]>>(&mut self, line: u64, cells: impl ExactSizeIterator<Item = C>) {
        let (d, e, n) = (self.data_used, self.ends_used, cells.len());
        self.reserve(0, n);
        let (mut at, mut count) = (0, 0);
        for cell in cells.take(n) {
            let cell = cell.as_ref();
            self.reserve(at + cell.len() + 1, 0);
            self.data[d + at..d + at + cell.len()].copy_from_slice(cell);
            at += cell.len();
            self.ends[e + count] = at;
            // the byte between two fields
            self.data[d + at] = b',';
            at += 1;
            count += 1;
        }
        self.data_used += at;
        self.ends_used += count;
        self.rows.push((line, d, e));
    }

    /// Appends a record as it was in the file (less its line break).
    #[inline(always)]
    fn push_raw(&mut self, line: u64, raw: &[u8]) -> std::io::Result<()> {
        if memchr::memchr(b'"', raw).is_none() {
            self.push_unquoted(line, raw);
            return Ok(());
        }
        let pushed = quoted(raw, |record| self.push_cells(line, record.unescaped_iter()))?;
        if pushed.is_none() {
            self.push_cells(line, std::iter::empty::<&[u8]>());
        }
        Ok(())
    }

    /// Appends a record with no quote in it as it was in the file (less
    /// its line break): its fields are the bytes between its commas.
    #[inline(always)]
    fn push_unquoted(&mut self, line: u64, raw: &[u8]) {
        let (d, e) = (self.data_used, self.ends_used);
        // room for a field a byte and one more; a long record (a file with
        // no line breaks, say) has its commas counted, so that its ends
        // take no more room than its fields
        let fields =
            if raw.len() <= LONG_RECORD { raw.len() } else { memchr::memchr_iter(b',', raw).count() };
        self.reserve(raw.len(), fields + 1);
        self.data[d..d + raw.len()].copy_from_slice(raw);
        let count = field_ends(raw, &mut self.ends[e..]);
        self.data_used += raw.len();
        self.ends_used += count;
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
    /// Only what is needed is zeroed (the capacity doubles as it must):
    /// zeroing all of it touched pages that a batch never used.
    fn reserve(&mut self, bytes: usize, fields: usize) {
        let need = self.data_used + bytes;
        if need > self.data.len() {
            self.data.resize(need, 0);
        }
        let need = self.ends_used + fields;
        if need > self.ends.len() {
            self.ends.resize(need, 0);
        }
    }
}

/// Bytes beyond which a record's commas are counted before its field
/// ends are written (`Records::push_unquoted`).
const LONG_RECORD: usize = 1 << 12;

/// A record that holds a quote, as it was in the file, read by the same
/// reader as the file (for its fields, unescaped).
fn quoted<T>(raw: &[u8], f: impl FnOnce(&simd_csv::ZeroCopyByteRecord) -> T) -> std::io::Result<Option<T>> {
    let mut reader =
        simd_csv::ZeroCopyReaderBuilder::new().has_headers(false).flexible(true).from_reader(raw);
    match reader.read_byte_record() {
        Ok(record) => Ok(record.map(|r| f(&r))),
        Err(err) => Err(std::io::Error::other(format!("{:?}", err.into_kind()))),
    }
}

/// Field `at` of a record as it was in the file, unescaped; `None` when
/// the record has fewer fields.
fn field(raw: &[u8], at: usize) -> std::io::Result<Option<std::borrow::Cow<'_, [u8]>>> {
    if memchr::memchr(b'"', raw).is_none() {
        return Ok(raw.split(|&b| b == b',').nth(at).map(std::borrow::Cow::Borrowed));
    }
    Ok(quoted(raw, |record| record.unescape(at).map(|cell| std::borrow::Cow::Owned(cell.into_owned())))?
        .flatten())
}

/// Writes where each field of `raw` (a record with no quote) ends to
/// `ends`, which has room for one more than `raw` has bytes: at each
/// comma, and at the end. Eight bytes at a time: a comma is a zero byte
/// of the word XORed with commas, found by the usual carry-free test.
/// Returns the number of fields.
#[inline(always)]
fn field_ends(raw: &[u8], ends: &mut [usize]) -> usize {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const COMMAS: u64 = 0x2C2C_2C2C_2C2C_2C2C;
    let mut count = 0;
    let mut put = |at: usize| {
        if let Some(end) = ends.get_mut(count) {
            *end = at;
            count += 1;
        }
    };
    let (words, rest) = raw.as_chunks::<8>();
    for (k, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word) ^ COMMAS;
        // the high bit of each byte that is zero in `x`
        let mut zero = !(((x & LOW) + LOW) | x | LOW);
        while zero != 0 {
            put(8 * k + zero.trailing_zeros() as usize / 8);
            zero &= zero - 1;
        }
    }
    let base = raw.len() - rest.len();
    for (i, &b) in rest.iter().enumerate() {
        if b == b',' {
            put(base + i);
        }
    }
    put(raw.len());
    count
}

/// A CSV file read straight into [`Records`]: simd-csv's splitter finds
/// where each record ends (its quotes and line feeds, many bytes at
/// once); a record with no quote, nearly every one, is then copied in one
/// piece and cut at its commas eight bytes at a time (`field_ends`),
/// and a record with a quote is read by simd-csv's zero-copy reader.
/// Reading is a large share of `score`'s work: reading and joining the
/// 100k-household roster took 0.78 G instructions with simd-csv's
/// zero-copy reader on every record (it notes every comma as it goes),
/// and 0.50 G this way.
///
/// The records are those of the csv crate's reader (commas, double quotes,
/// CRLF or LF line endings, blank lines skipped, a UTF-8 byte-order mark
/// skipped, rows of any length), with two differences, on text no exporter
/// writes: a cell that opens a quote and goes on after the closing one
/// (`"ab"c`) is kept as written instead of read as `abc`, and line breaks
/// made of a carriage return alone (old Mac files) are refused with an
/// error that says so.
pub struct RawCsv {
    reader: simd_csv::Splitter<Noted<Box<dyn Read + Send>>>,
    /// The file's size in bytes, when it is a plain UTF-8 file.
    size: Option<u64>,
    lines: Lines,
    first: bool,
    done: bool,
}

/// The carriage returns and line feeds of a stream, `(offset, is_lf)`,
/// as its bytes are read.
type Breaks = Vec<(u64, bool)>;

/// A source that notes where its line breaks fall as it is read (one
/// vectorised search a buffer), so that each record gets its line
/// without a second look at its bytes.
struct Noted<R> {
    inner: R,
    read: u64,
    noted: Arc<Mutex<Breaks>>,
}

impl<R: Read> Read for Noted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let bytes = &buf[..n];
        let start = self.read;
        self.read += n as u64;
        let mut noted = self.noted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        noted
            .extend(memchr::memchr2_iter(b'\n', b'\r', bytes).map(|i| (start + i as u64, bytes[i] == b'\n')));
        Ok(n)
    }
}

/// Lines of records, from the line breaks a [`Noted`] source found.
#[derive(Debug, Default)]
struct Lines {
    noted: Arc<Mutex<Breaks>>,
    /// Breaks not yet passed, taken from `noted` a buffer at a time.
    breaks: VecDeque<(u64, bool)>,
    /// Line feeds passed.
    feeds: u64,
}

impl Lines {
    /// The next break at or after the ones passed, if the source has been
    /// read that far.
    #[inline]
    fn next(&mut self) -> Option<(u64, bool)> {
        if self.breaks.is_empty() {
            let mut noted = self.noted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.breaks.extend(noted.drain(..));
        }
        self.breaks.front().copied()
    }

    /// Passes the breaks before `offset`.
    #[inline]
    fn pass(&mut self, offset: u64) {
        while let Some((_, feed)) = self.next().filter(|&(at, _)| at < offset) {
            self.feeds += u64::from(feed);
            self.breaks.pop_front();
        }
    }

    /// The line of the record read from `offset` on: the reader skips the
    /// blank lines (line breaks one after another) before it.
    #[inline]
    fn of_record_from(&mut self, offset: u64) -> u64 {
        self.pass(offset);
        let mut at = offset;
        while let Some((_, feed)) = self.next().filter(|&(b, _)| b == at) {
            self.feeds += u64::from(feed);
            self.breaks.pop_front();
            at += 1;
        }
        self.feeds + 1
    }
}

impl RawCsv {
    /// Opens a CSV file (decoding it to UTF-8 if needed, as [`Table`]).
    pub fn open(path: &Path, encoding: Encoding) -> std::io::Result<RawCsv> {
        // a UTF-8 byte-order mark is dropped, so that offsets in the
        // stream are those the reader sees
        let (source, size) = open_unbuffered(path, encoding)?;
        let lines = Lines::default();
        let reader = simd_csv::SplitterBuilder::new()
            .has_headers(false)
            .buffer_capacity(1 << 16)
            .from_reader(Noted { inner: source, read: 0, noted: Arc::clone(&lines.noted) });
        Ok(RawCsv { reader, size, lines, first: true, done: false })
    }

    /// Appends the next record to `records`; its line, or `None` at the
    /// end.
    #[inline]
    pub fn read(&mut self, records: &mut Records) -> std::io::Result<Option<u64>> {
        self.read_raw(|line, raw| records.push_raw(line, raw).map(|()| line))?.transpose()
    }

    /// Bytes read so far and bytes left, for a UTF-8 file whose size is
    /// known.
    pub fn progress(&self) -> Option<(u64, u64)> {
        let read = self.reader.position();
        self.size.map(|size| (read, size.saturating_sub(read)))
    }

    /// Hands the next record, as it is in the file, and its line to
    /// `visit`; what it returns, or `None` at the end.
    #[inline(always)]
    pub fn read_raw<T>(&mut self, visit: impl FnOnce(u64, &[u8]) -> T) -> std::io::Result<Option<T>> {
        if self.done {
            return Ok(None);
        }
        // where the last record ended (0 before the header)
        let from = self.reader.position();
        let record = match self.reader.split_record() {
            Ok(Some(record)) => record,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(err) => {
                self.done = true;
                return Err(match err.into_kind() {
                    simd_csv::ErrorKind::Io(err) => err,
                    other => std::io::Error::other(format!("{other:?}")),
                });
            }
        };
        let line = self.lines.of_record_from(from);
        if std::mem::take(&mut self.first) && memchr::memchr(b'\r', record).is_some() {
            self.done = true;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the header row holds a carriage return: the file's lines end in CR alone (an old Mac \
                 format); save it with LF or CRLF line endings",
            ));
        }
        Ok(Some(visit(line, record)))
    }
}

/// The rows of a members.csv that is not grouped by household in the
/// order of households.csv, put in that order in memory, so that the
/// roster still streams: each record kept as it is in the file, back to
/// back (about the size of the file), with its household's place and its
/// line (24 bytes a member). Holding the whole roster as checked values
/// would take about 2.5 KB a household instead.
pub struct GroupedCsv {
    arena: Vec<u8>,
    /// For each member row: its household's place in households.csv, its
    /// length, where it starts in `arena` and its line; sorted by place,
    /// a household's members in file order.
    order: Vec<(u32, u32, u64, u64)>,
    next: usize,
}

impl GroupedCsv {
    /// Reads both files (after their headers), `households_id` and
    /// `members_id` being the `household_id` columns. `None` when a member's
    /// household is not in households.csv, a `household_id` repeats there, or
    /// an id cannot be read: the whole-file read reports those.
    pub fn group(
        households: &Path,
        households_id: usize,
        members: &Path,
        members_id: usize,
        encoding: Encoding,
    ) -> std::io::Result<Option<GroupedCsv>> {
        use std::hash::BuildHasher;
        let hasher = foldhash::quality::RandomState::default();
        // ids as the reader compares them (trimmed), as 64-bit fingerprints:
        // a collision only sends the roster to the whole-file read, since the
        // reader still compares the ids themselves
        let key = |record: &[u8], at: usize| {
            let cell = field(record, at).ok()??;
            crate::roster::trim_cell(&cell).ok().filter(|id| !id.is_empty()).map(|id| hasher.hash_one(id))
        };
        let mut places: std::collections::HashMap<u64, u32, foldhash::fast::RandomState> = Default::default();
        let mut raw = RawCsv::open(households, encoding)?;
        raw.read_raw(|_, _| ())?;
        while let Some(found) = raw.read_raw(|_, record| key(record, households_id))? {
            let place = u32::try_from(places.len()).map_err(std::io::Error::other)?;
            match found {
                Some(id) if places.insert(id, place).is_none() => {}
                _ => return Ok(None),
            }
        }
        // sized for the file, when the memory is there (else it grows)
        let size = usize::try_from(std::fs::metadata(members).map_or(0, |m| m.len())).unwrap_or(usize::MAX);
        let mut arena = Vec::new();
        let _ = arena.try_reserve_exact(size);
        let mut order = Vec::new();
        let mut raw = RawCsv::open(members, encoding)?;
        raw.read_raw(|_, _| ())?;
        loop {
            let kept = raw.read_raw(|line, record| {
                let place = *places.get(&key(record, members_id)?)?;
                order.push((place, u32::try_from(record.len()).ok()?, arena.len() as u64, line));
                arena.extend_from_slice(record);
                Some(())
            })?;
            match kept {
                Some(Some(())) => {}
                Some(None) => return Ok(None),
                None => break,
            }
            // room for the rest at the first thousand rows' size, so that
            // the list does not double (and copy itself) as it grows
            if order.len() == 1000 {
                let each = arena.len() / 1000 + 1;
                let _ = order.try_reserve((size / each).saturating_mul(21) / 20);
            }
        }
        // by place, then where the row was in the file (the arena follows
        // the file): a household's members keep their order, with no
        // buffer as a stable sort would take
        order.sort_unstable_by_key(|&(place, _, start, _)| (place, start));
        Ok(Some(GroupedCsv { arena, order, next: 0 }))
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.arena.len() + self.order.len() * std::mem::size_of::<(u32, u32, u64, u64)>()
    }

    /// Appends the next member row, in household order, to `records`; its
    /// line, or `None` at the end.
    pub fn read(&mut self, records: &mut Records) -> std::io::Result<Option<u64>> {
        let Some(&(_, len, start, line)) = self.order.get(self.next) else { return Ok(None) };
        self.next += 1;
        let start = usize::try_from(start).map_err(std::io::Error::other)?;
        let raw = &self.arena[start..start + len as usize];
        records.push_raw(line, raw)?;
        Ok(Some(line))
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

    /// A file of `bytes` in a fresh temporary folder.
    fn file_of(bytes: &[u8]) -> (PathBuf, PathBuf) {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hhrisk-raw-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("roster.csv");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    type Read = Vec<(u64, Vec<Vec<u8>>)>;

    /// Every record `RawCsv` reads from `bytes`: its line and fields.
    fn raw_records(bytes: &[u8]) -> std::io::Result<Read> {
        let (dir, path) = file_of(bytes);
        let result = raw_records_of(&path, Encoding::Utf8);
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    /// Every record `RawCsv` reads from the file at `path`.
    fn raw_records_of(path: &Path, encoding: Encoding) -> std::io::Result<Read> {
        let mut raw = RawCsv::open(path, encoding)?;
        let mut records = Records::default();
        let result = loop {
            match raw.read(&mut records) {
                Ok(Some(_)) => {}
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        result.map(|()| lines_and_fields(&records))
    }

    /// A named pipe cannot seek back over the bytes read to tell the
    /// encoding: those are read first, and the records are those of the
    /// same bytes in a file (longer than those bytes, with and without a
    /// byte-order mark, as UTF-8 and as GB18030).
    #[test]
    fn a_pipe_reads_as_a_file_does() {
        let rows: String = (0..10_000).map(|i| format!("{i},村{i},x\n")).collect();
        let plain = format!("id,village,note\n{rows}");
        assert!(plain.len() > SNIFF);
        let marked = [&b"\xEF\xBB\xBF"[..], plain.as_bytes()].concat();
        let gb = encoding_rs::GB18030.encode(&plain).0.into_owned();
        for (bytes, encoding) in
            [(plain.as_bytes(), Encoding::Auto), (&marked[..], Encoding::Auto), (&gb[..], Encoding::Gb18030)]
        {
            let (dir, file) = file_of(bytes);
            let pipe = dir.join("pipe.csv");
            let made = std::process::Command::new("mkfifo").arg(&pipe).status().unwrap();
            assert!(made.success(), "mkfifo failed");
            let writer = {
                let (pipe, bytes) = (pipe.clone(), bytes.to_vec());
                std::thread::spawn(move || std::fs::write(pipe, bytes).unwrap())
            };
            let piped = raw_records_of(&pipe, encoding).unwrap();
            writer.join().unwrap();
            let read = raw_records_of(&file, encoding).unwrap();
            assert_eq!(piped.len(), 10_001);
            assert_eq!(piped[0].1[0], b"id", "the byte-order mark is dropped");
            assert_eq!(piped, read);
            assert_eq!(read[10_000].1, [b"9999".to_vec(), "村9999".as_bytes().to_vec(), b"x".to_vec()]);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// Each record's line and fields.
    fn lines_and_fields(records: &Records) -> Read {
        (0..records.len())
            .map(|r| {
                let (line, data, ends) = records.get(r);
                let fields = crate::roster::Fields { data, ends };
                (line, (0..fields.len()).map(|i| fields.get(i).unwrap().to_vec()).collect())
            })
            .collect()
    }

    /// The fields of each record as the csv crate reads them (the
    /// reference for fields; its lines are off by one after each CRLF,
    /// which it reads as two line breaks, `\r` ending the record and `\n`
    /// starting the next).
    fn csv_fields(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
        reader.byte_records().map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect()).collect()
    }

    /// Records longer than `LONG_RECORD` have their commas counted first:
    /// the same fields, and a record with no comma takes one end, not one a
    /// byte (a file with no line breaks would otherwise take eight times
    /// its size).
    #[test]
    fn long_records_are_cut_the_same_and_take_room_for_their_fields() {
        let wide = format!("{},{}", "x".repeat(LONG_RECORD), "y,".repeat(LONG_RECORD));
        let flat = "z".repeat(100 * LONG_RECORD);
        let bytes = format!("a,b\n{wide}\n{flat}\n");
        assert_eq!(
            raw_records(bytes.as_bytes()).unwrap().into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
            csv_fields(bytes.as_bytes())
        );
        let mut records = Records::default();
        records.push_unquoted(1, flat.as_bytes());
        assert_eq!(records.get(0).2, &[flat.len()][..]);
        assert!(records.ends.len() <= 1024, "{} ends kept for one field", records.ends.len());
    }

    #[test]
    fn raw_records_match_the_csv_crate_and_lines_count_line_feeds() {
        let files: [(&[u8], &[u64]); 7] = [
            (b"a,b,c\n1,2,3\n4,,6\n", &[1, 2, 3]),
            (b"a,b,c\r\n1,2,3\r\n4,,6", &[1, 2, 3]),
            (b"\xEF\xBB\xBFa,b\n1,2\n", &[1, 2]),
            (b"a,b\n\"x,y\",\"he said \"\"no\"\"\"\n\"two\nlines\",z\n3,4\n", &[1, 2, 3, 5]),
            (b"a,b\r\n\"x\r\ny\",1\r\n2,3\r\n", &[1, 2, 4]),
            (b"a\n\"\"\n,\n,,\n", &[1, 2, 3, 4]),
            (b"", &[]),
        ];
        for (bytes, lines) in files {
            let read = raw_records(bytes).unwrap();
            let text = String::from_utf8_lossy(bytes);
            assert_eq!(read.iter().map(|r| r.0).collect::<Vec<_>>(), lines, "{text:?}");
            assert_eq!(read.into_iter().map(|r| r.1).collect::<Vec<_>>(), csv_fields(bytes), "{text:?}");
        }
    }

    #[test]
    fn records_after_blank_lines_get_their_own_line() {
        // (the csv crate reports such a record at the first blank line)
        let lf = raw_records(b"a,b\n\n\n1,2\n\n3,4\n\n").unwrap();
        let crlf = raw_records(b"a,b\r\n\r\n\r\n1,2\r\n\r\n3,4\r\n").unwrap();
        for read in [lf, crlf] {
            let lines: Vec<u64> = read.iter().map(|r| r.0).collect();
            assert_eq!(lines, [1, 4, 6]);
            assert_eq!(read[2].1, [b"3".to_vec(), b"4".to_vec()]);
        }
    }

    #[test]
    fn lines_ending_in_a_bare_carriage_return_read_as_line_feeds() {
        let read = raw_records(b"household_id,village\rH1,x\rH2,\"y\rz\"\r").unwrap();
        let lines: Vec<u64> = read.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 2, 3]);
        assert_eq!(read[2].1, [b"H2".to_vec(), b"y\nz".to_vec()]);
        // a carriage return inside quotes, further down, is data
        let read = raw_records(b"a,b\n\"x\ry\",1\n").unwrap();
        assert_eq!(read[1].1[0], b"x\ry");
    }

    #[test]
    fn grouped_members_come_in_household_order_with_their_own_lines_and_fields() {
        let (dir, households) = file_of(b"household_id,village\r\nH2,x\r\nH1,y\r\nH3,z\r\n");
        let members = dir.join("members.csv");
        // out of order, CRLF, a quoted name holding a comma, a quote and a line break
        std::fs::write(
            &members,
            b"household_id,person_id,name\r\nH1,p1,a\r\nH3,p5,\"b, \"\"c\"\"\r\nd\"\r\nH2,p2,e\r\nH1,p3,f\r\n H2 ,p4,g\r\n",
        )
        .unwrap();
        let mut grouped = GroupedCsv::group(&households, 0, &members, 0, Encoding::Utf8).unwrap().unwrap();
        let mut records = Records::default();
        while grouped.read(&mut records).unwrap().is_some() {}
        let read = lines_and_fields(&records);
        let row = |line: u64, cells: [&str; 3]| (line, cells.iter().map(|c| c.as_bytes().to_vec()).collect());
        assert_eq!(
            read,
            [
                // (the quoted name spans lines 3 and 4)
                row(5, ["H2", "p2", "e"]),
                row(7, [" H2 ", "p4", "g"]),
                row(2, ["H1", "p1", "a"]),
                row(6, ["H1", "p3", "f"]),
                row(3, ["H3", "p5", "b, \"c\"\r\nd"]),
            ]
        );
        // a member of a household not in households.csv: not put in order
        std::fs::write(&members, b"household_id,person_id\nH1,p1\nH9,p2\n").unwrap();
        assert!(GroupedCsv::group(&households, 0, &members, 0, Encoding::Utf8).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest::proptest! {
        /// Field ends found eight bytes at a time are where the commas
        /// are, whatever the record's length and where its commas fall.
        #[test]
        fn field_ends_are_the_commas(raw in "[a,,é0]{0,40}") {
            let raw = raw.as_bytes();
            let mut ends = vec![0; raw.len() + 1];
            let n = field_ends(raw, &mut ends);
            let mut expected: Vec<usize> = (0..raw.len()).filter(|&i| raw[i] == b',').collect();
            expected.push(raw.len());
            proptest::prop_assert_eq!(&ends[..n], &expected[..]);
        }

        #[test]
        fn raw_records_agree_with_the_csv_crate_on_any_written_table(
            rows in proptest::collection::vec(
                proptest::collection::vec("[a-z0-9 ,\"\r\n东]{0,5}", 1..5), 0..12),
            crlf: bool,
        ) {
            let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
            let mut writer = csv::WriterBuilder::new().flexible(true).terminator(terminator).from_writer(Vec::new());
            // each record's line: one more than the line feeds before it
            let mut lines = Vec::new();
            for row in &rows {
                writer.flush().unwrap();
                lines.push(1 + writer.get_ref().iter().filter(|&&b| b == b'\n').count() as u64);
                writer.write_record(row).unwrap();
            }
            let bytes = writer.into_inner().unwrap();
            let read = raw_records(&bytes);
            // a header holding a carriage return is refused; any other
            // table reads as the csv crate reads it, at the lines counted
            if rows.first().is_some_and(|h| h.iter().any(|c| c.contains('\r'))) {
                proptest::prop_assert!(read.is_err());
            } else {
                let read = read.unwrap();
                proptest::prop_assert_eq!(read.iter().map(|r| r.0).collect::<Vec<_>>(), lines);
                proptest::prop_assert_eq!(read.into_iter().map(|r| r.1).collect::<Vec<_>>(), csv_fields(&bytes));
            }
        }
    }
}

#[cfg(test)]
mod line_end_tests {
    use super::*;

    /// A zip archive of one stored part whose headers declare `size`
    /// bytes unpacked (and hold none): all a reader of the central
    /// directory sees.
    fn zip_declaring(name: &str, size: u32) -> Vec<u8> {
        let n = name.len() as u16;
        let mut z = Vec::new();
        let le16 = |v: u16| v.to_le_bytes();
        let le32 = |v: u32| v.to_le_bytes();
        // local file header
        z.extend(le32(0x0403_4b50));
        z.extend(le16(20));
        z.extend(le16(0));
        z.extend(le16(0)); // stored
        z.extend([0u8; 4]); // time, date
        z.extend(le32(0)); // crc
        z.extend(le32(0)); // compressed size
        z.extend(le32(size)); // uncompressed size
        z.extend(le16(n));
        z.extend(le16(0));
        z.extend(name.as_bytes());
        let central = z.len() as u32;
        z.extend(le32(0x0201_4b50));
        z.extend(le16(20));
        z.extend(le16(20));
        z.extend(le16(0));
        z.extend(le16(0));
        z.extend([0u8; 4]);
        z.extend(le32(0));
        z.extend(le32(0));
        z.extend(le32(size));
        z.extend(le16(n));
        z.extend(le16(0)); // extra
        z.extend(le16(0)); // comment
        z.extend(le16(0)); // disk
        z.extend(le16(0)); // internal attributes
        z.extend(le32(0)); // external attributes
        z.extend(le32(0)); // local header offset
        z.extend(name.as_bytes());
        let central_size = z.len() as u32 - central;
        z.extend(le32(0x0605_4b50));
        z.extend(le16(0));
        z.extend(le16(0));
        z.extend(le16(1));
        z.extend(le16(1));
        z.extend(le32(central_size));
        z.extend(le32(central));
        z.extend(le16(0));
        z
    }

    #[test]
    fn a_workbook_that_unpacks_past_the_limit_is_refused_before_unpacking() {
        let dir = std::env::temp_dir().join(format!("hhrisk-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bomb.xlsx");
        std::fs::write(&path, zip_declaring("xl/worksheets/sheet1.xml", 3 << 30)).unwrap();
        let e = check_unpacked_size(&path).unwrap_err();
        assert!(e.starts_with("the workbook unpacks to 3072 MiB, over the limit of 2048 MiB"), "{e}");
        let e = Table::open(&path, "households", Encoding::Auto).err().unwrap().to_string();
        assert!(e.contains("unpacks to 3072 MiB"), "{e}");
        std::fs::write(&path, zip_declaring("xl/worksheets/sheet1.xml", 1 << 20)).unwrap();
        assert!(check_unpacked_size(&path).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn through_bounded(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // small reads, so that quotes fall on both sides of a boundary
        let mut r = Bounded::new(bytes);
        let mut buf = [0u8; 3];
        loop {
            match r.read(&mut buf)? {
                0 => return Ok(out),
                k => out.extend_from_slice(&buf[..k]),
            }
        }
    }

    #[test]
    fn a_quote_left_open_is_named_once_and_quotes_in_text_are_text() {
        let err = through_bounded(b"a,b\n1,\"x\n2,y\n3,z\n").unwrap_err();
        assert!(err.to_string().starts_with("line 2: a quote (\") opens there and is never closed"), "{err}");
        // a quote inside an unquoted cell is text; doubled quotes inside
        // quotes are one quote; a quoted cell may span lines
        for fine in [
            &b"a,b\n1,12\" TV\n2,y\n"[..],
            b"a,b\n1,\"say \"\"hi\"\"\"\n2,\"two\nlines\"\n",
            b"\"a\",b\n",
            b"\xEF\xBB\xBF\"a\",b\n1,2\n",
            // a quote after a character whose last byte is 0xBF (\u{53BF})
            "a,b\n1,某县\"x\n2,y\n".as_bytes(),
            // a doubled quote in unquoted text
            b"a,b\n1,12\"\" TV\n2,y\n",
            // a zero-width no-break space inside a cell
            "a,b\n1,x\u{FEFF}y\n".as_bytes(),
        ] {
            assert_eq!(through_bounded(fine).unwrap(), fine, "{}", String::from_utf8_lossy(fine));
        }
        // the roster reader takes a quote anywhere as opening: a stray one
        // there is named, not a cascade
        let mut r = Bounded::for_rosters(&b"a,b\n1,12\" TV\n2,y\n"[..]);
        let mut sink = Vec::new();
        let err = r.read_to_end(&mut sink).unwrap_err();
        assert!(err.to_string().starts_with("line 2: a quote"), "{err}");
    }

    /// Outcomes, returns and scores files are read by [`TextTable`]: the
    /// same table whatever the line endings (LF, CRLF as Excel on Windows
    /// saves, CR alone as old Mac software did), with the lines named
    /// alike.
    #[test]
    fn every_line_ending_reads_the_same_table() {
        let dir = std::env::temp_dir().join(format!("hhrisk-line-ends-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lf = "household_id,verified_need,note\nH1,1,\"two\nlines\"\nH2,0,x\n";
        let mut tables = Vec::new();
        for (name, text) in
            [("lf", lf.to_string()), ("crlf", lf.replace('\n', "\r\n")), ("cr", lf.replace('\n', "\r"))]
        {
            let path = dir.join(format!("{name}.csv"));
            std::fs::write(&path, text).unwrap();
            for sheet_reader in [true, false] {
                let t = if sheet_reader {
                    TextTable::read(&path, "outcomes", Encoding::Auto).unwrap()
                } else {
                    TextTable::read_columns(
                        &path,
                        "outcomes",
                        Encoding::Auto,
                        &["household_id", "verified_need", "note"],
                        |_, _| true,
                    )
                    .unwrap()
                };
                let cells: Vec<Vec<String>> = t.rows.iter().map(|(_, r)| r.clone()).collect();
                tables.push((
                    name,
                    t.header.clone(),
                    cells,
                    t.rows.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
                ));
            }
        }
        let want_cells: Vec<Vec<String>> = vec![
            vec!["H1".into(), "1".into(), "two\nlines".into()],
            vec!["H2".into(), "0".into(), "x".into()],
        ];
        for (name, header, cells, lines) in &tables {
            assert_eq!(header, &["household_id", "verified_need", "note"], "{name}");
            let cells: Vec<Vec<String>> = cells
                .iter()
                .map(|r| r.iter().map(|c| c.replace("\r\n", "\n").replace('\r', "\n")).collect())
                .collect();
            assert_eq!(cells, want_cells, "{name}");
            assert_eq!(lines, &[2, 4], "{name}: lines");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

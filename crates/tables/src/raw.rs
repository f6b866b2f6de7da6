//! CSV read record by record, fast, with each record's line.

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::encoding::{open_unbuffered, Encoding};
use crate::records::Records;

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
    /// Opens a CSV file (decoding it to UTF-8 if needed, as [`Table`](crate::Table)).
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

//! The files county offices really have: CSV in UTF-8 (with or without a
//! byte-order mark), GBK / GB18030 or UTF-16, and Excel workbooks. Every
//! table the tools read goes through [`Table`](crate::Table), which yields records with
//! the line (or sheet row) they came from.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::str::FromStr;

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
pub(crate) const SNIFF: usize = 1 << 16;

/// Whether bytes are UTF-8, allowing a sequence cut off at the end.
pub(crate) fn looks_utf8(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4,
    }
}

/// UTF-16 little- or big-endian, told by where the zero bytes fall in a
/// file's head (at least 16 bytes, and a zero in most places of one parity
/// and almost none of the other); `None` for anything else.
pub(crate) fn utf16_without_mark(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
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
/// (`hhrisk_roster::MAX_ROW_BYTES`, whose check names the household once
/// the row is read), so that only a file that is no table at all (a binary
/// file, `/dev/zero`) meets it, after 64 MiB at most.
pub const MAX_LINE_BYTES: u64 = 64 << 20;

/// Line feeds in `bytes`.
pub(crate) fn line_feeds(bytes: &[u8]) -> u64 {
    // counted in bytes over blocks that cannot overflow one: the compiler
    // turns the inner sum into wide vector adds
    bytes.chunks(255).map(|block| u64::from(block.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n')))).sum()
}

/// A reader that refuses a line longer than
/// [`MAX_LINE_BYTES`] as it goes, so that a file without line breaks (a
/// binary file, `/dev/zero`) fails fast in bounded memory instead of being
/// buffered whole as one record.
pub(crate) struct Bounded<R> {
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
    pub(crate) fn new(inner: R) -> Self {
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
    pub(crate) fn for_rosters(inner: R) -> Self {
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
pub(crate) fn open_unbuffered(
    path: &Path,
    encoding: Encoding,
) -> std::io::Result<(Box<dyn Read + Send>, Option<u64>)> {
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
pub(crate) struct Sniffed {
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

/// Whether the first line of a file's head ends in a CR that no LF
/// follows (outside quotes).
pub(crate) fn cr_only(head: &[u8]) -> bool {
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
pub(crate) struct LineFeeds<R> {
    inner: R,
    /// The last byte handed on was a CR turned into LF: a LF right after
    /// it is dropped.
    after_cr: bool,
}

impl<R: Read> LineFeeds<R> {
    pub(crate) fn new(inner: R) -> Self {
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

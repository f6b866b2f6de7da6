//! Records read back to back into one buffer, and their fields.

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
    pub(crate) ends: Vec<usize>,
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
    pub fn push_raw(&mut self, line: u64, raw: &[u8]) -> std::io::Result<()> {
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
    pub(crate) fn push_unquoted(&mut self, line: u64, raw: &[u8]) {
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
pub(crate) const LONG_RECORD: usize = 1 << 12;

/// A record that holds a quote, as it was in the file, read by the same
/// reader as the file (for its fields, unescaped).
pub(crate) fn quoted<T>(
    raw: &[u8],
    f: impl FnOnce(&simd_csv::ZeroCopyByteRecord) -> T,
) -> std::io::Result<Option<T>> {
    let mut reader =
        simd_csv::ZeroCopyReaderBuilder::new().has_headers(false).flexible(true).from_reader(raw);
    match reader.read_byte_record() {
        Ok(record) => Ok(record.map(|r| f(&r))),
        Err(err) => Err(std::io::Error::other(format!("{:?}", err.into_kind()))),
    }
}

/// Field `at` of a record as it was in the file, unescaped; `None` when
/// the record has fewer fields.
pub fn field(raw: &[u8], at: usize) -> std::io::Result<Option<std::borrow::Cow<'_, [u8]>>> {
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
pub(crate) fn field_ends(raw: &[u8], ends: &mut [usize]) -> usize {
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

/// One record's fields: the bytes of all fields, each followed by a
/// one-byte delimiter, and where each ends. Records read by the csv crate
/// and records kept in a batch both show themselves this way to
/// the roster's checks.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// The fields' bytes, each followed by a one-byte delimiter.
    pub data: &'a [u8],
    /// Where each field ends in `data`.
    pub ends: &'a [usize],
}

impl<'a> Fields<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the record has no field.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(i)?;
        // a one-byte delimiter follows each field
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        self.data.get(start..end)
    }
}

/// A cell's text without surrounding white space: ASCII spaces cheaply,
/// and Unicode ones (the full-width space of Chinese input, U+3000) when
/// the cell starts or ends with a non-ASCII byte.
#[allow(clippy::result_unit_err)]
pub fn trim_cell(bytes: &[u8]) -> Result<&str, ()> {
    let t = bytes.trim_ascii();
    let text = std::str::from_utf8(t).map_err(|_| ())?;
    // U+FFFD: bytes the decoder could not read in the file's encoding
    if !t.is_ascii() && text.contains('\u{FFFD}') {
        return Err(());
    }
    match (t.first(), t.last()) {
        (Some(a), Some(z)) if !a.is_ascii() || !z.is_ascii() => Ok(text.trim()),
        _ => Ok(text),
    }
}

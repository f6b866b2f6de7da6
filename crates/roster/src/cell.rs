//! The common cells of a roster, read straight from their bytes.
//!
//! Nearly every cell of a real roster is a plain number, `0`/`1`, one of a
//! column's declared values or empty. [`CellReader::fast`] reads those
//! without building strings or validating UTF-8, and answers `None` for
//! anything else (a date, a unit, a full-width space, a value out of
//! range, an error of any kind); the caller then reads the cell with
//! [`Column::parse_cell`], which decides and words the error. So the fast
//! path never changes a result: a property test checks it against
//! `parse_cell` on arbitrary cells.

use hhrisk_model::column::{Column, ColumnType};

/// How one declared column's cells are read quickly.
#[derive(Debug, Clone)]
pub(crate) struct CellReader {
    kind: Kind,
    /// Missing-value markers (the column's own or the model's), then the
    /// declared values of a category column, as bytes: a marker wins, as
    /// in `parse_cell`.
    words: Vec<Word>,
    /// Whether some marker starts with a digit, so that numbers must be
    /// compared with the markers too.
    digit_marker: bool,
    /// For a category column: its words found by one probe.
    table: Option<Table>,
    default: Option<f64>,
    min: f64,
    max: f64,
}

#[derive(Debug, Clone)]
enum Kind {
    Integer,
    Decimal,
    Bool,
    Category,
    /// Always read by `parse_cell` (dates).
    Slow,
}

/// A cell text known in advance.
#[derive(Debug, Clone)]
struct Word {
    bytes: Box<[u8]>,
    /// `None` for a missing marker, the value's index for a category value.
    value: Option<f64>,
}

impl CellReader {
    pub(crate) fn new(column: &Column, model_missing: &[String]) -> CellReader {
        let markers = column.missing_values.as_deref().unwrap_or(model_missing);
        let kind = match &column.ty {
            ColumnType::Integer => Kind::Integer,
            ColumnType::Decimal => Kind::Decimal,
            ColumnType::Bool => Kind::Bool,
            ColumnType::Category(_) => Kind::Category,
            ColumnType::Date => Kind::Slow,
        };
        // `parse_cell` compares trimmed text, and refuses text holding
        // U+FFFD (undecodable bytes): a marker that could only match such
        // text is left to it, and so is a value holding U+FFFD.
        let plain = |w: &String| w.trim() == w.as_str() && !w.contains('\u{FFFD}');
        let mut words: Vec<Word> = markers
            .iter()
            .filter(|m| plain(m))
            .map(|m| Word { bytes: m.as_bytes().into(), value: None })
            .collect();
        if let ColumnType::Category(values) = &column.ty {
            // values first (the commoner cells); a value that is also a
            // marker is left out, since the marker wins in `parse_cell`
            let values: Vec<Word> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| plain(v) && !words.iter().any(|m| *m.bytes == *v.as_bytes()))
                .map(|(i, v)| Word { bytes: v.as_bytes().into(), value: Some(i as f64) })
                .collect();
            words.splice(0..0, values);
        }
        let table = matches!(kind, Kind::Category).then(|| Table::new(&words)).flatten();
        CellReader {
            kind,
            table,
            words,
            digit_marker: markers.iter().any(|m| m.as_bytes().first().is_some_and(u8::is_ascii_digit)),
            default: column.default,
            min: column.min.unwrap_or(f64::NEG_INFINITY),
            max: column.max.unwrap_or(f64::INFINITY),
        }
    }

    /// The value of a cell (as it is in the file, untrimmed), when it is
    /// one of the common forms; `None` sends it to `Column::parse_cell`.
    #[inline]
    pub(crate) fn fast(&self, cell: &[u8]) -> Option<f64> {
        // the commonest cell of all: one digit (yes/no, counts, grades)
        if let (&[digit @ b'0'..=b'9'], false) = (cell, self.digit_marker) {
            match self.kind {
                Kind::Bool if digit <= b'1' => return self.in_range(f64::from(digit - b'0')),
                Kind::Integer | Kind::Decimal => return self.in_range(f64::from(digit - b'0')),
                _ => {}
            }
        }
        // a category cell written exactly as one of its words
        if let Some(word) = self.table.as_ref().and_then(|t| t.find(&self.words, cell)) {
            return match word.value {
                None => self.default,
                Some(v) => self.in_range(v),
            };
        }
        // then digits from end to end, in a number
        // column that no marker starting with a digit complicates
        if let (Some(a), Some(z)) = (cell.first(), cell.last()) {
            if a.is_ascii_digit() && z.is_ascii_digit() && !self.digit_marker {
                let value = match self.kind {
                    // no sign to look for: the first byte is a digit
                    Kind::Integer => Some(digits(cell).map(exact)),
                    Kind::Decimal => Some(decimal(cell)),
                    Kind::Bool => Some(yes_no(cell)),
                    // a category's values are looked up below
                    Kind::Category | Kind::Slow => None,
                };
                if let Some(value) = value {
                    return self.in_range(value?);
                }
            }
        }
        let cell = cell.trim_ascii();
        // a non-ASCII byte at either end may be Unicode white space
        if cell.first().is_some_and(|b| !b.is_ascii()) || cell.last().is_some_and(|b| !b.is_ascii()) {
            return None;
        }
        // an empty cell is always missing
        if cell.is_empty() {
            return self.default;
        }
        // A marker or a category value. No marker starts with a digit
        // unless `digit_marker`, so a number is looked up only then.
        if !cell[0].is_ascii_digit() || self.digit_marker || self.is_category() {
            let word = self
                .words
                .iter()
                .find(|w| w.bytes.len() == cell.len() && w.bytes[0] == cell[0] && same(&w.bytes, cell));
            match word {
                Some(Word { value: None, .. }) => return self.default,
                Some(Word { value: Some(v), .. }) => return self.in_range(*v),
                None => {}
            }
        }
        self.in_range(self.number(cell)?)
    }

    #[inline]
    fn is_category(&self) -> bool {
        matches!(self.kind, Kind::Category)
    }

    /// A number, yes/no or nothing, by the column's type.
    #[inline]
    fn number(&self, cell: &[u8]) -> Option<f64> {
        match self.kind {
            Kind::Integer => integer(cell),
            Kind::Decimal => decimal(cell),
            Kind::Bool => yes_no(cell),
            Kind::Category | Kind::Slow => None,
        }
    }

    #[inline]
    fn in_range(&self, value: f64) -> Option<f64> {
        (value >= self.min && value <= self.max).then_some(value)
    }
}

/// Where each of a category column's words is, by a hash of its length
/// and a few of its bytes: a cell is compared with one word at most,
/// where a scan of the words compared it with each in turn. Only exact
/// cells are found (no trimming); anything else goes the long way.
#[derive(Debug, Clone)]
struct Table {
    /// Multiplier of the hash, the first of a fixed list that gives each
    /// word a slot of its own.
    seed: u32,
    /// `1 +` the index of the word in each slot; 0 for none.
    slots: [u8; 64],
}

impl Table {
    /// `None` when two words cannot be told apart by the hash (the same
    /// length and the same bytes where it looks), or there are too many.
    fn new(words: &[Word]) -> Option<Table> {
        let mut seeds = (0u32..256).map(|k| 0x9E37_79B9u32.wrapping_add(k.wrapping_mul(0x6A09_E667)) | 1);
        seeds.find_map(|seed| {
            let mut slots = [0u8; 64];
            for (i, word) in words.iter().enumerate() {
                // an empty word (the empty cell) is found before; a word
                // repeated is found at its first place
                if word.bytes.is_empty() || words[..i].iter().any(|w| w.bytes == word.bytes) {
                    continue;
                }
                let slot = &mut slots[Table::slot(seed, &word.bytes)];
                if *slot != 0 {
                    return None;
                }
                *slot = u8::try_from(i + 1).ok()?;
            }
            Some(Table { seed, slots })
        })
    }

    #[inline]
    fn slot(seed: u32, cell: &[u8]) -> usize {
        let n = cell.len();
        let byte = |i: usize| u32::from(cell.get(i).copied().unwrap_or(0));
        let key = byte(0) | byte(n / 2) << 8 | byte(n.wrapping_sub(1)) << 16 | (n as u32) << 24;
        (key.wrapping_mul(seed) >> 26) as usize
    }

    /// The word that `cell` is, byte for byte.
    #[inline]
    fn find<'w>(&self, words: &'w [Word], cell: &[u8]) -> Option<&'w Word> {
        let at = usize::from(self.slots[Table::slot(self.seed, cell)]).checked_sub(1)?;
        words.get(at).filter(|w| same(&w.bytes, cell))
    }
}

/// Byte equality of two texts, as a few word compares when short (a
/// call to `memcmp` costs more than comparing a few bytes).
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    fn ends<const N: usize>(s: &[u8]) -> Option<(&[u8; N], &[u8; N])> {
        Some((s.first_chunk::<N>()?, s.last_chunk::<N>()?))
    }
    if a.len() != b.len() {
        return false;
    }
    // overlapping first and last chunks cover the text
    match a.len() {
        0 => true,
        1 => a[0] == b[0],
        2..4 => ends::<2>(a) == ends::<2>(b),
        4..8 => ends::<4>(a) == ends::<4>(b),
        8..=16 => ends::<8>(a) == ends::<8>(b),
        _ => a == b,
    }
}

/// Splits an optional sign off.
#[inline]
fn sign(cell: &[u8]) -> (bool, &[u8]) {
    match cell.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, cell),
    }
}

/// `0` or `1`.
#[inline]
fn yes_no(cell: &[u8]) -> Option<f64> {
    match cell {
        b"0" => Some(0.0),
        b"1" => Some(1.0),
        _ => None,
    }
}

/// A whole number below 2⁵³ as an `f64` (exactly): through `i64`, which
/// converts in one instruction where `u64` takes several.
#[inline]
fn exact(n: u64) -> f64 {
    n as i64 as f64
}

/// Digits only, up to 15 (so below 2⁵³, exact in an `f64`).
#[inline]
fn digits(cell: &[u8]) -> Option<u64> {
    if cell.len() > 15 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in cell {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// `[+-]digits`, up to 15 digits (so below 2⁵³, exact in an `f64`).
#[inline]
fn integer(cell: &[u8]) -> Option<f64> {
    let (negative, rest) = sign(cell);
    if rest.is_empty() {
        return None;
    }
    // as a whole number first: `-0` is zero, not minus zero
    let n = digits(rest)? as i64;
    Some((if negative { -n } else { n }) as f64)
}

/// `[+-]digits[.digits]`, up to 15 digits in all: the digits as a whole
/// number (exact below 2⁵³) divided by a power of ten (exact up to 10²²),
/// one correctly rounded division, so the value is the nearest `f64` to
/// the decimal, as `str::parse` gives.
#[inline]
fn decimal(cell: &[u8]) -> Option<f64> {
    const POWERS: [f64; 16] =
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (negative, text) = sign(cell);
    if text.is_empty() || text.len() > 16 || !text[0].is_ascii_digit() {
        return None;
    }
    // one pass: digits, and at most one point after the first digit
    let (mut n, mut digits, mut point) = (0u64, 0usize, None);
    for (k, &b) in text.iter().enumerate() {
        if b.is_ascii_digit() {
            n = n * 10 + u64::from(b - b'0');
            digits += 1;
        } else if b == b'.' && point.is_none() {
            point = Some(k);
        } else {
            return None;
        }
    }
    if digits > 15 {
        return None;
    }
    let places = point.map_or(0, |p| text.len() - p - 1);
    // (a whole number needs no division; dividing by 1 would not change it)
    let v = if places == 0 { exact(n) } else { exact(n) / POWERS[places] };
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hhrisk_model::expr::Scope;

    fn column(ty: ColumnType, default: Option<f64>) -> Column {
        Column {
            name: "c".into(),
            file: Scope::Household,
            slot: 0,
            ty,
            unit: None,
            description: None,
            label: None,
            value_labels: Vec::new(),
            min: Some(-1000.0),
            max: Some(100_000.0),
            default,
            missing_values: None,
            optional: false,
        }
    }

    fn missing() -> Vec<String> {
        ["", "N/A", "-", "—", "无", "0.0"].iter().map(|s| s.to_string()).collect()
    }

    /// Whatever `fast` answers, `parse_cell` answers the same.
    fn agrees(c: &Column, cell: &[u8]) {
        agrees_with(c, cell, &missing());
        agrees_with(c, cell, &no_digit_marker());
    }

    fn agrees_with(c: &Column, cell: &[u8], missing: &[String]) {
        let reader = CellReader::new(c, missing);
        if let Some(v) = reader.fast(cell) {
            let text = std::str::from_utf8(cell).expect("fast read only UTF-8");
            let slow = c.parse_cell(text, missing);
            assert_eq!(slow.map(f64::to_bits), Ok(v.to_bits()), "{:?} {text:?}", c.ty);
        }
    }

    /// Markers as models write them: none starts with a digit, so that
    /// numbers take the quickest ways.
    fn no_digit_marker() -> Vec<String> {
        ["", "N/A", "-", "无"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_digit_is_read_by_the_column_type() {
        let read = |c: &Column, cell: &[u8]| CellReader::new(c, &no_digit_marker()).fast(cell);
        let [int, dec, yes_no, cat, date] = columns().try_into().expect("five columns");
        for d in b'0'..=b'9' {
            let v = Some(f64::from(d - b'0'));
            assert_eq!(read(&int, &[d]), v);
            assert_eq!(read(&dec, &[d]), v);
            assert_eq!(read(&yes_no, &[d]), v.filter(|&v| v <= 1.0), "2 to 9 are not yes/no");
            assert_eq!(read(&cat, &[d]), None);
            assert_eq!(read(&date, &[d]), None);
            for c in columns() {
                agrees(&c, &[d]);
            }
        }
        let small = Column { max: Some(5.0), ..int };
        assert_eq!(read(&small, b"6"), None, "out of range: parse_cell words it");
    }

    fn columns() -> Vec<Column> {
        vec![
            column(ColumnType::Integer, None),
            column(ColumnType::Decimal, Some(7.0)),
            column(ColumnType::Bool, Some(0.0)),
            column(ColumnType::Category(vec!["A".into(), "健康".into(), "-".into()]), None),
            column(ColumnType::Date, Some(1.0)),
        ]
    }

    #[test]
    fn common_cells_are_read_fast_and_the_same() {
        let dec = CellReader::new(&columns()[1], &missing());
        assert_eq!(dec.fast(b" 8500.5 "), Some(8500.5));
        assert_eq!(dec.fast(b"-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(dec.fast(b"0.1"), Some(0.1));
        assert_eq!(dec.fast(b"N/A"), Some(7.0));
        assert_eq!(dec.fast(b"0.0"), Some(7.0), "a marker that starts with a digit");
        assert_eq!(dec.fast(b"200000"), None, "out of range: parse_cell words it");
        assert_eq!(dec.fast(b"1e3"), None);
        assert_eq!(dec.fast("\u{3000}5".as_bytes()), None);
        let cat = CellReader::new(&columns()[3], &missing());
        assert_eq!(cat.fast("健康".as_bytes()), Some(1.0), "a value as written, whatever its bytes");
        assert_eq!(cat.fast("健康\u{3000}".as_bytes()), None, "non-ASCII at the ends: parse_cell trims");
        assert_eq!(cat.fast(b"A"), Some(0.0));
        assert_eq!(cat.fast(b"-"), None, "a marker with no default");
        for c in columns() {
            for cell in [
                "0",
                "1",
                "-0",
                "+7",
                "12",
                "007",
                "8500.",
                "8500.25",
                ".5",
                "1.2.3",
                "--1",
                "-",
                "",
                " ",
                "N/A",
                "无",
                "A",
                "健康",
                "0.0",
                "0.00",
                "123456789012345",
                "1234567890123456",
                "99999.99",
                "2024-06-30",
                "\u{3000}1",
                "1\u{3000}",
                "\u{b}1",
                "1e2",
                "inf",
                "NaN",
            ] {
                agrees(&c, cell.as_bytes());
            }
        }
    }

    #[test]
    fn digits_beyond_exactness_go_the_slow_way() {
        let int = CellReader::new(&column(ColumnType::Integer, None), &[]);
        assert_eq!(int.fast(b"1234567890123456"), None);
        assert_eq!(int.fast(b"-999"), Some(-999.0));
        let dec = CellReader::new(&Column { max: None, ..column(ColumnType::Decimal, None) }, &[]);
        assert_eq!(dec.fast(b"123456789012345.6"), None);
        assert_eq!(dec.fast(b"12345678901234.5"), Some(12345678901234.5));
        assert_eq!(dec.fast(b"1234567890123.45"), Some(1234567890123.45));
    }

    #[test]
    fn category_words_are_found_by_the_table_or_by_a_scan() {
        let values: Vec<String> =
            ["aXbc", "aYbc", "none", "compulsory", "high_school", "健康", "x"].map(String::from).into();
        let scanned = column(ColumnType::Category(values.clone()), Some(9.0));
        let tabled = column(ColumnType::Category(values[2..].to_vec()), Some(9.0));
        let (scan, table) = (CellReader::new(&scanned, &missing()), CellReader::new(&tabled, &missing()));
        assert!(scan.table.is_none(), "aXbc and aYbc have the same length, ends and middle");
        assert!(table.table.is_some());
        // non-ASCII at the ends: found by the table, left to parse_cell by a scan
        assert_eq!(table.fast("健康".as_bytes()), Some(3.0));
        assert_eq!(table.fast("无".as_bytes()), Some(9.0), "a marker");
        assert_eq!(scan.fast("健康".as_bytes()), None);
        for (reader, c, from) in [(&scan, &scanned, 0), (&table, &tabled, 2)] {
            for (i, v) in values[from..].iter().enumerate().filter(|(_, v)| v.is_ascii()) {
                assert_eq!(reader.fast(v.as_bytes()), Some(i as f64), "{v}");
            }
            assert_eq!(reader.fast(b" none "), Some(0.0 + 2.0 - from as f64), "trimmed the long way");
            assert_eq!(reader.fast(b"nonE"), None);
            assert_eq!(reader.fast(b"compulsorx"), None);
            for cell in ["无", "健康", " none", "none ", "x ", "nonex", "", "N/A", "high_schoo", "\u{3000}x"]
            {
                agrees(c, cell.as_bytes());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn short_texts_are_equal_as_slices_are(
            a in proptest::collection::vec(0u8..4, 0..20),
            b in proptest::collection::vec(0u8..4, 0..20),
        ) {
            proptest::prop_assert_eq!(same(&a, &b), a == b);
            proptest::prop_assert!(same(&a, &a));
        }

        #[test]
        fn fast_reading_never_disagrees(cell in "[ 0-9.+\\-eE/NA无—健康]{0,12}") {
            for c in columns() {
                agrees(&c, cell.as_bytes());
            }
        }

        #[test]
        fn any_number_reads_the_same(v in -1.0e6f64..1.0e6, places in 0usize..6) {
            let text = format!("{v:.places$}");
            for c in columns() {
                agrees(&c, text.as_bytes());
            }
        }
    }
}

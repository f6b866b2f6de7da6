//! Writing scores and refused rows as CSV, atomically.

use std::io::Write;
use std::path::Path;

use hhrisk_model::Model;
use hhrisk_roster::Issue;
use hhrisk_tables::neutralise;

use crate::score::{Hit, HouseholdScore};

/// Decimal places of scores in output files.
pub const DECIMALS: u32 = 4;

/// Formats a number with at most [`DECIMALS`] places, trailing zeros
/// dropped: `7.6667`, `23`, `-0.5`.
pub fn format_number(value: f64) -> String {
    let mut out = Vec::new();
    push_units(&mut out, to_units(value));
    // digits, a point and a sign: ASCII
    String::from_utf8_lossy(&out).into_owned()
}

fn to_units(value: f64) -> i64 {
    (value * 10f64.powi(DECIMALS as i32)).round() as i64
}

/// Appends a number of units (10⁻⁴) as [`format_number`] writes it.
fn push_units(out: &mut Vec<u8>, units: i64) {
    // the commonest number of a scores file: a category with no points
    if units == 0 {
        out.push(b'0');
        return;
    }
    let scale = 10u64.pow(DECIMALS);
    if units < 0 {
        out.push(b'-');
    }
    let (whole, frac) = (units.unsigned_abs() / scale, units.unsigned_abs() % scale);
    out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
    if frac != 0 {
        let mut digits = [b'0'; DECIMALS as usize];
        let mut f = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        let kept = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
        out.push(b'.');
        out.extend_from_slice(&digits[..kept]);
    }
}

/// Rounds the parts to [`DECIMALS`] places so that the rounded parts add up
/// exactly to the rounded total (largest remainders take the leftover
/// units), then formats them. An evaluator summing the category columns in
/// a spreadsheet gets the per-capita score to the last digit.
pub fn apportion(parts: &[f64], total: f64) -> Vec<String> {
    let (mut units, mut order) = (Vec::new(), Vec::new());
    apportion_units(parts, total, &mut units, &mut order);
    units
        .into_iter()
        .map(|u| {
            let mut s = Vec::new();
            push_units(&mut s, u);
            String::from_utf8_lossy(&s).into_owned()
        })
        .collect()
}

/// `x.floor() as i64`, without a call to the maths library: truncation,
/// then one step down for negative fractions (exact for every `f64`,
/// saturating the same way).
fn floor_i64(x: f64) -> i64 {
    let t = x as i64;
    if (t as f64) > x {
        t.saturating_sub(1)
    } else {
        t
    }
}

/// [`apportion`] into units (10⁻⁴), reusing the caller's buffers.
fn apportion_units(parts: &[f64], total: f64, units: &mut Vec<i64>, order: &mut Vec<(f64, usize)>) {
    let scale = 10f64.powi(DECIMALS as i32);
    units.clear();
    units.extend(parts.iter().map(|p| floor_i64(p * scale)));
    let mut leftover = to_units(total) - units.iter().sum::<i64>();
    if leftover == 0 {
        return;
    }
    // the remainders, computed once, largest first (ties in order)
    order.clear();
    order.extend(parts.iter().enumerate().map(|(i, p)| (p * scale - (p * scale).floor(), i)));
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut k = 0;
    while leftover != 0 && !order.is_empty() {
        let i = order[k % order.len()].1;
        let step = leftover.signum();
        units[i] += step;
        leftover -= step;
        k += 1;
    }
}

/// What goes into a scores file besides the fixed columns.
#[derive(Debug, Clone, Copy)]
pub struct ScoreColumns {
    /// How many items `top_items` lists; defaults to `3`.
    pub top: usize,
    /// Add one `item_<id>` column per item with the times it counted
    /// (0/1, or matching members); defaults to `false`.
    pub item_counts: bool,
}

impl Default for ScoreColumns {
    fn default() -> Self {
        ScoreColumns { top: 3, item_counts: false }
    }
}

/// The names of the columns of a scores file.
pub fn header(model: &Model, columns: ScoreColumns) -> Vec<String> {
    let mut header = vec![
        "household_id".to_string(),
        "village".into(),
        "members".into(),
        "total_points".into(),
        "per_capita_score".into(),
        "score".into(),
    ];
    header.extend(model.categories.iter().map(|c| format!("cat_{}", c.id)));
    header.extend([
        "alert_level".to_string(),
        "top_items".into(),
        "triggered_by".into(),
        "alert_kind".into(),
    ]);
    if columns.item_counts {
        header.extend(model.items.iter().map(|i| format!("item_{}", i.id)));
    }
    header
}

/// Writes the scores file: one row per household.
///
/// Rows are built as bytes: numbers never need quoting, so they go in as
/// they are formatted; a text cell (an id, a village, item lists) goes in
/// as it is unless it holds a delimiter, a quote or a line break, and is
/// then quoted by the `csv` crate. The bytes are those of `csv::Writer`
/// with its defaults (a property test compares the two).
pub struct ScoreWriter<W: Write> {
    out: W,
    columns: ScoreColumns,
    /// Buffers reused from row to row.
    row: Vec<u8>,
    field: String,
    parts: Vec<f64>,
    units: Vec<i64>,
    order: Vec<(f64, usize)>,
    top: Vec<Hit>,
    counts: Vec<u32>,
}

impl<W: Write> ScoreWriter<W> {
    /// Starts a scores file and writes its header.
    pub fn new(mut out: W, model: &Model, columns: ScoreColumns) -> csv::Result<Self> {
        let mut csv = csv::Writer::from_writer(&mut out);
        csv.write_record(header(model, columns))?;
        csv.flush()?;
        drop(csv);
        Ok(Self::rows(out, model, columns))
    }

    /// A writer of rows only, without the header (for a batch of rows that
    /// goes into a file after others).
    pub fn rows(out: W, model: &Model, columns: ScoreColumns) -> Self {
        ScoreWriter {
            out,
            columns,
            row: Vec::with_capacity(256),
            field: String::new(),
            parts: Vec::new(),
            units: Vec::new(),
            order: Vec::new(),
            top: Vec::new(),
            counts: vec![0; model.items.len()],
        }
    }

    /// Writes one household's row.
    pub fn write(
        &mut self,
        model: &Model,
        bands: &hhrisk_model::Bands,
        id: &str,
        village: &str,
        s: &HouseholdScore,
    ) -> csv::Result<()> {
        let (row, f) = (&mut self.row, &mut self.field);
        row.clear();
        push_text(row, &neutralise(id))?;
        row.push(b',');
        push_text(row, &neutralise(&hhrisk_tables::escape_controls(village)))?;
        row.push(b',');
        row.extend_from_slice(itoa::Buffer::new().format(s.members).as_bytes());
        for v in [s.total, s.per_capita, s.score] {
            row.push(b',');
            push_units(row, to_units(v));
        }
        self.parts.clear();
        self.parts.extend((0..s.categories.len()).map(|c| s.category_per_capita(c)));
        apportion_units(&self.parts, s.per_capita, &mut self.units, &mut self.order);
        for &u in &self.units {
            row.push(b',');
            push_units(row, u);
        }
        row.push(b',');
        push_text(row, s.alert.map_or("", |a| bands.levels[a].name.as_str()))?;
        // the largest positive contributions, ties in model order: each hit
        // goes into place in a list kept to the length asked for
        self.top.clear();
        let before = |a: &Hit, b: &Hit| b.points.total_cmp(&a.points).then(a.item.cmp(&b.item)).is_lt();
        for hit in s.hits.iter().filter(|h| h.points > 0.0) {
            let at = self.top.iter().position(|t| before(hit, t)).unwrap_or(self.top.len());
            if at < self.columns.top {
                self.top.insert(at, *hit);
                self.top.truncate(self.columns.top);
            }
        }
        f.clear();
        for (k, h) in self.top.iter().enumerate() {
            if k > 0 {
                f.push(';');
            }
            f.push_str(&model.items[h.item].id);
        }
        row.push(b',');
        push_text(row, f)?;
        f.clear();
        for h in s.hits.iter().filter(|h| model.items[h.item].trigger) {
            if !f.is_empty() {
                f.push(';');
            }
            f.push_str(&model.items[h.item].id);
        }
        row.push(b',');
        push_text(row, f)?;
        row.push(b',');
        for (k, kind) in s.kinds().enumerate() {
            if k > 0 {
                row.push(b';');
            }
            row.extend_from_slice(kind.as_bytes());
        }
        if self.columns.item_counts {
            self.counts.iter_mut().for_each(|c| *c = 0);
            for h in &s.hits {
                self.counts[h.item] = h.count;
            }
            let mut digits = itoa::Buffer::new();
            for &c in &self.counts {
                row.push(b',');
                row.extend_from_slice(digits.format(c).as_bytes());
            }
        }
        row.push(b'\n');
        self.out.write_all(row)?;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Appends a text cell: as it is when `csv::Writer` would leave it
/// unquoted (no delimiter, quote or line break in it), otherwise quoted by
/// that writer.
fn push_text(row: &mut Vec<u8>, text: &str) -> csv::Result<()> {
    if !text.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        row.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    csv.write_field(text)?;
    csv.write_record(None::<&[u8]>)?;
    let quoted = csv.into_inner().map_err(|e| e.into_error())?;
    row.extend_from_slice(quoted.strip_suffix(b"\n").unwrap_or(&quoted));
    Ok(())
}

/// Writes refused rows: one line per problem, with the household it refuses.
pub fn write_rejects<W: Write>(out: W, issues: &[Issue]) -> csv::Result<W> {
    write_rejects_in(out, issues, false)
}

/// [`write_rejects`], with the header in Chinese when `zh` (a file for a
/// Chinese office; nothing reads it back).
pub fn write_rejects_in<W: Write>(out: W, issues: &[Issue], zh: bool) -> csv::Result<W> {
    let mut csv = csv::Writer::from_writer(out);
    if zh {
        csv.write_record(["户编号", "户所在行", "文件", "行", "列", "身份证号", "原因"])?;
    } else {
        csv.write_record([
            "household_id",
            "household_line",
            "file",
            "line",
            "column",
            "person_id",
            "reason",
        ])?;
    }
    for i in issues {
        let file =
            Path::new(&i.file).file_name().map_or(i.file.clone(), |f| f.to_string_lossy().into_owned());
        csv.write_record([
            neutralise(i.household_id.as_deref().unwrap_or_default()).into_owned(),
            i.household_line.map(|l| l.to_string()).unwrap_or_default(),
            file,
            i.line.to_string(),
            i.column.as_ref().map(|(n, name)| format!("{n} ({name})")).unwrap_or_default(),
            i.person_id.clone().unwrap_or_default(),
            neutralise(&i.message).into_owned(),
        ])?;
    }
    csv.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_places_at_most() {
        assert_eq!(format_number(23.0), "23");
        assert_eq!(format_number(23.0 / 3.0), "7.6667");
        assert_eq!(format_number(-0.5), "-0.5");
        assert_eq!(format_number(-1e-9), "0");
        assert_eq!(format_number(0.00005), "0.0001");
    }

    /// What `csv::Writer` writes for a record of these cells.
    fn by_the_csv_crate(cells: &[&str]) -> Vec<u8> {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(cells).unwrap();
        csv.into_inner().unwrap()
    }

    #[test]
    fn text_cells_are_quoted_as_the_csv_crate_quotes_them() {
        for text in ["", "BYS000001", "白云山村", "a,b", "say \"no\"", "two\nlines", "cr\r", " padded "] {
            let mut row = Vec::new();
            push_text(&mut row, text).unwrap();
            row.extend_from_slice(b",x\n");
            assert_eq!(row, by_the_csv_crate(&[text, "x"]), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_cell_is_written_as_the_csv_crate_writes_it(
            text in "[a-z,\"\r\n 村;=-]{0,12}",
            units in proptest::num::i64::ANY,
        ) {
            let mut row = Vec::new();
            push_text(&mut row, &text).unwrap();
            row.push(b',');
            push_units(&mut row, units);
            row.push(b'\n');
            let mut number = Vec::new();
            push_units(&mut number, units);
            let number = String::from_utf8(number).unwrap();
            proptest::prop_assert_eq!(row, by_the_csv_crate(&[text.as_str(), number.as_str()]));
        }
    }

    #[test]
    fn floor_without_the_library_is_floor() {
        for x in
            [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.9999, -2.0001, 1e15 + 0.5, -1e18, 1e300, -1e300, f64::NAN]
        {
            assert_eq!(floor_i64(x), x.floor() as i64, "{x}");
        }
    }

    #[test]
    fn apportioned_parts_add_up_to_the_rounded_total() {
        // Three thirds of 1: rounded alone they give 0.3333 × 3 = 0.9999.
        let third = 1.0 / 3.0;
        assert_eq!(apportion(&[third, third, third], 1.0), ["0.3334", "0.3333", "0.3333"]);
        // Negative parts: -2/3 and 5/3 add to 1.
        assert_eq!(apportion(&[-2.0 / 3.0, 5.0 / 3.0], 1.0), ["-0.6667", "1.6667"]);
        assert_eq!(apportion(&[2.5, 0.0, -1.25], 1.25), ["2.5", "0", "-1.25"]);
    }
}

//! Writing scores and refused rows as CSV, atomically.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use hhrisk_model::{Issue, Model};

use crate::score::{Hit, HouseholdScore};

/// Decimal places of scores in output files.
pub const DECIMALS: u32 = 4;

/// A file written under a temporary name in the target's folder and renamed
/// over the target only when complete, so that a failed or interrupted run
/// never leaves a half-written file or destroys the previous one.
///
/// A large file is synced to disk as it is written, by a helper thread,
/// [`SYNC_EVERY`] bytes at a time: the sync before the rename then has
/// little left to write, instead of holding up the end of a run.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Bytes written, and when the helper was last asked to sync.
    written: u64,
    asked_at: u64,
    syncer: Option<Syncer>,
}

/// Bytes written between two early syncs of an [`AtomicFile`].
pub const SYNC_EVERY: u64 = 8 << 20;

/// The thread that syncs a file while it is being written.
#[derive(Debug)]
struct Syncer {
    /// A message asks for a sync; closing the channel ends the thread.
    ask: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Syncer {
    fn start(file: &File) -> std::io::Result<Syncer> {
        let file = file.try_clone()?;
        // one request waits at most: a sync asked for while another runs
        // covers what was written meanwhile
        let (ask, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new().name("hhrisk-sync".into()).spawn(move || {
            for () in asked {
                file.sync_data()?;
            }
            Ok(())
        })?;
        Ok(Syncer { ask, thread })
    }

    /// Waits for the syncs asked for; the first error of any.
    fn finish(self) -> std::io::Result<()> {
        drop(self.ask);
        self.thread.join().unwrap_or_else(|_| Err(std::io::Error::other("the syncing thread failed")))
    }
}

impl AtomicFile {
    /// Starts writing `target`: into a new file beside it, created
    /// exclusively under a name no other run uses (never following a
    /// symbolic link), renamed over `target` by [`AtomicFile::commit`] and
    /// removed on every other path. A target that exists and is not a
    /// regular file (a folder, a device, a pipe) is refused. Temporary
    /// files of the same target left by runs that died are removed.
    pub fn create(target: &Path) -> std::io::Result<AtomicFile> {
        if let Ok(meta) = std::fs::metadata(target) {
            if !meta.is_file() {
                let what = if meta.is_dir() { "a folder" } else { "not a regular file" };
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{} is {what}; give the path of a file to write", target.display()),
                ));
            }
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!(".{name}.hhrisk-");
        remove_stale(&dir, &prefix);
        let mut attempt = 0u32;
        let (temp, file) = loop {
            let temp = dir.join(format!("{prefix}{}-{:016x}.tmp", std::process::id(), random_tag(attempt)));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => break (temp, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(e),
            }
        };
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp,
            // a batch of scores rows (about 19 KB for 256 households) is
            // larger than the buffer, so it goes to the file without a copy
            writer: Some(BufWriter::with_capacity(1 << 14, file)),
            written: 0,
            asked_at: 0,
            syncer: None,
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> std::io::Result<()> {
        let Some(w) = self.writer.take() else { return Err(std::io::Error::other("file already committed")) };
        let done = (|| {
            let file = w.into_inner().map_err(|e| e.into_error())?;
            if let Some(syncer) = self.syncer.take() {
                syncer.finish()?;
            }
            file.sync_all()?;
            drop(file);
            std::fs::rename(&self.temp, &self.target)
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        done
    }
}

/// A number no other temporary file of this process has had, nor likely
/// any other process: the standard library's randomly seeded hasher over
/// the time, a counter and `attempt`.
fn random_tag(attempt: u32) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u32(attempt);
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

/// Removes `dir/{prefix}{pid}-{tag}.tmp` files whose process is gone: what
/// a killed run left. Only where a process can be looked up (`/proc`).
fn remove_stale(dir: &Path, prefix: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(".tmp")) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        // a minute untouched as well: a writer on another machine sharing
        // the folder has a pid this one cannot see
        let idle = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() >= 60);
        if is_file && idle && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(w) = &mut self.writer else {
            return Err(std::io::Error::other("file already committed"));
        };
        let n = w.write(buf)?;
        self.written += n as u64;
        if self.written - self.asked_at >= SYNC_EVERY {
            self.asked_at = self.written;
            if self.syncer.is_none() {
                self.syncer = Some(Syncer::start(w.get_ref())?);
            }
            if let Some(syncer) = &self.syncer {
                // full: a sync is already waiting, and will cover this
                let _ = syncer.ask.try_send(());
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.as_mut().map_or(Ok(()), |w| w.flush())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
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
    header.extend(["alert_level".to_string(), "top_items".into(), "triggered_by".into()]);
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
        push_text(row, &neutralise(village))?;
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
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(["household_id", "household_line", "file", "line", "column", "person_id", "reason"])?;
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
    fn formulas_are_neutralised_numbers_are_not() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-3.5"), "-3.5");
        assert_eq!(neutralise("+86 138"), "'+86 138");
        assert_eq!(neutralise("张三"), "张三");
    }

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

    #[test]
    fn an_abandoned_atomic_file_leaves_the_old_one() {
        let dir = std::env::temp_dir().join(format!("hhrisk-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.csv");
        std::fs::write(&target, "old").unwrap();
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_files_are_exclusive_and_cleaned_up() {
        let dir = std::env::temp_dir().join(format!("hhrisk-atomic-excl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.csv");
        // a run that died left its temporary file: the next one removes it
        let stale = dir.join(".out.csv.hhrisk-4000000000-00000000000000aa.tmp");
        std::fs::write(&stale, "half").unwrap();
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&stale).unwrap().set_modified(an_hour_ago).unwrap();
        // one just written is left: its writer may be on another machine
        let fresh = dir.join(".out.csv.hhrisk-4000000001-00000000000000bb.tmp");
        std::fs::write(&fresh, "half").unwrap();
        // two writers of one target in one process do not share a file
        let mut a = AtomicFile::create(&target).unwrap();
        assert!(!stale.exists(), "a dead run's temporary file is removed");
        assert!(fresh.exists(), "a fresh one is left");
        std::fs::remove_file(&fresh).unwrap();
        let mut b = AtomicFile::create(&target).unwrap();
        assert_ne!(a.temp, b.temp);
        a.write_all(b"aaaa").unwrap();
        b.write_all(b"bb").unwrap();
        a.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "aaaa");
        drop(b);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        // a folder or a device is not a file to write
        let e = AtomicFile::create(&dir).err().unwrap();
        assert!(e.to_string().contains("is a folder"), "{e}");
        #[cfg(unix)]
        assert!(AtomicFile::create(Path::new("/dev/null"))
            .err()
            .unwrap()
            .to_string()
            .contains("not a regular file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_large_file_synced_as_it_is_written_comes_out_whole() {
        let dir = std::env::temp_dir().join(format!("hhrisk-atomic-large-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.csv");
        // three and a half times SYNC_EVERY, in rows of 100 bytes: the
        // helper is asked to sync three times along the way
        let row: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let rows = (SYNC_EVERY * 7 / 2) as usize / row.len();
        let mut f = AtomicFile::create(&target).unwrap();
        for _ in 0..rows {
            f.write_all(&row).unwrap();
        }
        assert!(f.syncer.is_some(), "a file this large is synced as it goes");
        f.commit().unwrap();
        let written = std::fs::read(&target).unwrap();
        assert_eq!(written.len(), rows * row.len());
        assert!(written.chunks(row.len()).all(|r| r == row.as_slice()));
        // abandoned while the helper runs: the temporary file goes
        {
            let mut f = AtomicFile::create(&target).unwrap();
            for _ in 0..rows / 2 {
                f.write_all(b"x").unwrap();
                f.write_all(&row).unwrap();
            }
        }
        assert_eq!(std::fs::read(&target).unwrap().len(), rows * row.len(), "the old file is kept");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

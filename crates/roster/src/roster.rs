//! Reading a roster folder (`households.csv`, `members.csv`) against a
//! model's declared columns.
//!
//! Each cell of a declared column is parsed once into the evaluator's number
//! form; the text is not kept. Every problem becomes an [`Issue`] with file,
//! line, column and key, and refuses the household it belongs to; the other
//! households are kept. Problems that make the whole file unreadable (no
//! such file, a declared column missing from the header) are a
//! [`RosterError`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cell::CellReader;
use crate::privacy::{age_from_id, mask_id, parse_resident_id};
use hhrisk_model::column::Column;
use hhrisk_model::column::ColumnType;
use hhrisk_model::expr::{Inputs, Scope};
use hhrisk_model::Model;
use hhrisk_tables::date::format_date;
use hhrisk_tables::{trim_cell, Fields, Records};

/// A problem that makes a roster file unreadable as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not CSV as expected.
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The header lacks a column that the model or the roster layout needs.
    #[error(
        "{path}: line 1 (header): missing column `{column}`, which {needed_by}; add it to the file \
         (the header has: {header}){hint}"
    )]
    MissingColumn {
        /// The file.
        path: String,
        /// The missing column.
        column: String,
        /// Who needs it.
        needed_by: String,
        /// The columns the header does have.
        header: String,
        /// A likely cause, when one is recognisable (another delimiter).
        hint: String,
    },
    /// The file has no header, or a header and no data rows.
    #[error("{path}: {message}")]
    Empty {
        /// The file.
        path: String,
        /// What is missing and how to fix it.
        message: String,
    },
    /// The table could not be opened or read.
    #[error(transparent)]
    Table(#[from] hhrisk_tables::TableError),
    /// The header names a column twice.
    #[error("{path}: line 1 (header), columns {first} and {second}: `{column}` appears twice; rename or remove one")]
    DuplicateColumn {
        /// The file.
        path: String,
        /// The repeated name.
        column: String,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of the repeat.
        second: usize,
    },
}

/// One problem with one row of a roster. The household it concerns is
/// refused; the message says how to fix the row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Issue {
    /// The file (`…/households.csv` or `…/members.csv`).
    pub file: String,
    /// 1-based line of the row in that file.
    pub line: u64,
    /// 1-based column number and header name, when one cell is at fault.
    pub column: Option<(usize, String)>,
    /// The household concerned (as written in the row).
    pub household_id: Option<String>,
    /// Line of that household in `households.csv`, when it is there.
    pub household_line: Option<u64>,
    /// The person concerned, masked unless asked otherwise.
    pub person_id: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: line {}", self.file, self.line)?;
        if let Some((n, name)) = &self.column {
            write!(f, ", column {n} ({name})")?;
        }
        if let Some(h) = &self.household_id {
            write!(f, ", household {h}")?;
        }
        if let Some(p) = &self.person_id {
            write!(f, ", person {p}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A household that passed every check.
#[derive(Debug, Clone)]
pub struct Household {
    /// `household_id`.
    pub id: String,
    /// `village`.
    pub village: String,
    /// Line in `households.csv`.
    pub line: u64,
    values: usize,
    members: std::ops::Range<usize>,
}

impl Household {
    /// Number of co-resident members (rows in `members.csv`).
    pub fn member_count(&self) -> usize {
        self.members.len()
    }
}

/// Options for reading a roster.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Show person ids unmasked in issues (off by default: ids are masked).
    pub unmasked: bool,
    /// Text encoding of CSV files; defaults to detecting UTF-8 or GB18030.
    pub encoding: hhrisk_tables::Encoding,
    /// When streaming, skip the check that no household or person id
    /// repeats anywhere in the files (it keeps 8 bytes a key in memory);
    /// defaults to `false`. Repeats next to each other are still caught.
    pub skip_duplicate_check: bool,
}

/// A roster read against a model: the households that passed, their inputs
/// as numbers, and every problem found.
#[derive(Debug)]
pub struct Roster {
    /// The roster folder.
    pub dir: PathBuf,
    /// Households that passed every check, in file order.
    pub households: Vec<Household>,
    /// Every problem found; each refuses the household it concerns.
    pub issues: Vec<Issue>,
    /// Data rows in `households.csv`.
    pub household_rows: usize,
    /// Data rows in `members.csv`.
    pub member_rows: usize,
    household_values: Vec<f64>,
    household_stride: usize,
    member_values: Vec<f64>,
    member_stride: usize,
    person_ids: Vec<String>,
    member_lines: Vec<u64>,
}

impl Roster {
    /// The inputs of an accepted household, for evaluation.
    pub fn inputs(&self, h: &Household) -> Inputs<'_> {
        Inputs {
            household: &self.household_values[h.values..h.values + self.household_stride],
            members: &self.member_values
                [h.members.start * self.member_stride..h.members.end * self.member_stride],
            stride: self.member_stride,
            count: h.members.len(),
        }
    }

    /// Person ids (as in the file) and `members.csv` lines of a household's
    /// members, in evaluation order.
    pub fn members_of(&self, h: &Household) -> impl Iterator<Item = (&str, u64)> {
        h.members.clone().map(|i| (self.person_ids[i].as_str(), self.member_lines[i]))
    }

    /// `f` of household `h` seen as a [`HouseholdView`], as a stream hands
    /// households over.
    pub fn with_view<T>(&self, h: &Household, f: impl FnOnce(HouseholdView) -> T) -> T {
        let members: Vec<&str> = self.members_of(h).map(|(id, _)| id).collect();
        f(HouseholdView {
            id: &h.id,
            village: &h.village,
            line: h.line,
            inputs: self.inputs(h),
            members: &members,
        })
    }

    /// Number of household rows refused (at least one issue each).
    pub fn rejected_households(&self) -> usize {
        self.household_rows - self.households.len()
    }

    /// Reads `households.csv` and `members.csv` from a roster folder.
    /// `dir` may also be a workbook with sheets `households` and `members`.
    pub fn read(model: &Model, dir: &Path, options: &ReadOptions) -> Result<Roster, RosterError> {
        let (households_at, members_at) = if hhrisk_tables::is_workbook(dir) {
            ((dir.to_path_buf(), "households"), (dir.to_path_buf(), "members"))
        } else {
            ((dir.join("households.csv"), "households"), (dir.join("members.csv"), "members"))
        };
        let households = Table::read(model, &households_at.0, households_at.1, Scope::Household, options)?;
        if households.rows.is_empty() {
            return Err(RosterError::Empty {
                path: households.path,
                message: "the file has a header but no households; export the roster again".to_string(),
            });
        }
        let members = Table::read(model, &members_at.0, members_at.1, Scope::Member, options)?;
        Ok(assemble(dir, households, members, options))
    }
}

/// One file read into numbers, before households and members are joined.
struct Table {
    path: String,
    stride: usize,
    values: Vec<f64>,
    rows: Vec<Row>,
    issues: Vec<Issue>,
}

struct Row {
    line: u64,
    /// `household_id`.
    household: String,
    /// `village` for households, `person_id` for members.
    key: String,
    ok: bool,
}

/// How a declared column is checked against what a resident ID number says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FromId {
    Age,
    Sex { male: f64, female: f64 },
}

/// What a resident ID number says of a person, for messages.
#[derive(Debug, Clone, Copy)]
enum Said {
    Age(i64),
    Sex(bool),
}

impl Said {
    fn words(self, id: &hhrisk_model::Identity) -> String {
        match self {
            Said::Age(age) => format!("{age} years on {}", format_date(id.as_of)),
            Said::Sex(male) => (if male { "male" } else { "female" }).to_string(),
        }
    }
}

/// A household that passed every check, however the roster was read
/// (whole, or streamed in batches): what explaining and dispatching read.
#[derive(Debug, Clone, Copy)]
pub struct HouseholdView<'a> {
    /// `household_id`.
    pub id: &'a str,
    /// `village`.
    pub village: &'a str,
    /// Line in households.csv.
    pub line: u64,
    /// Its inputs.
    pub inputs: Inputs<'a>,
    /// Its members' `person_id`s, in file order (trimmed, unmasked).
    pub members: &'a [&'a str],
}

/// The keys of one row read.
pub(crate) struct RowKeys {
    pub line: u64,
    pub household: String,
    pub key: String,
    pub ok: bool,
}

/// The texts of a row's keys when they are known before it is checked:
/// its `household_id` (a member row joined by comparing ids), its key (a
/// village name the same, byte for byte, as the row before's).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Known<'a> {
    pub household: Option<&'a str>,
    pub key: Option<&'a str>,
}

/// A row checked: whether it passed, and its keys (trimmed; empty when
/// missing or unreadable).
pub(crate) struct Checked<'a> {
    pub ok: bool,
    pub household: &'a str,
    pub key: &'a str,
}

/// A table's header checked against the model: where the keys and each
/// declared column are, and how each column's cells are read. Checking a
/// row needs nothing else, so batches of rows can be checked on any thread.
pub(crate) struct Layout<'m> {
    model: &'m Model,
    file: Scope,
    unmasked: bool,
    pub path: String,
    names: Vec<String>,
    pub id_at: usize,
    pub key_at: usize,
    key_name: &'static str,
    /// Per declared column, in slot order: how to read it.
    plan: Vec<ColumnPlan<'m>>,
    /// The day ages are counted on, as year, month and day.
    as_of: (i32, u32, u32),
}

/// How one declared column is read from a row.
struct ColumnPlan<'m> {
    column: &'m Column,
    /// Its position in the row.
    at: usize,
    from_id: Option<FromId>,
    cells: CellReader,
}

/// Reads the rows of one roster table (households or members), checking
/// every declared cell; the header is checked once, when it opens.
pub(crate) struct RowReader<'m> {
    pub layout: Layout<'m>,
    pub input: Input,
    /// The row being read.
    row: Records,
}

/// A table's records after its header, with their lines.
pub(crate) struct Input {
    source: Source,
    origin: hhrisk_tables::Origin,
    /// A workbook row on its way into a `Records`.
    record: csv::ByteRecord,
}

enum Source {
    /// A worksheet, through `text::Table`.
    Sheet(hhrisk_tables::Table),
    /// CSV, read by simd-csv straight into record buffers.
    Csv(Box<hhrisk_tables::RawCsv>),
    /// A members.csv put in household order in memory.
    Grouped(Box<crate::grouped::GroupedCsv>),
}

impl Input {
    /// Bytes read so far and bytes left, for a CSV file.
    pub fn progress(&self) -> Option<(u64, u64)> {
        match &self.source {
            Source::Csv(raw) => raw.progress(),
            Source::Sheet(_) | Source::Grouped(_) => None,
        }
    }

    /// Appends the next record to `records`; its line, or `None` at the end.
    pub fn read_into(&mut self, records: &mut Records) -> Result<Option<u64>, RosterError> {
        match &mut self.source {
            Source::Sheet(table) => {
                let line = table.next(&mut self.record, &self.origin)?;
                if let Some(line) = line {
                    records.push(line, &self.record);
                }
                Ok(line)
            }
            Source::Grouped(grouped) => grouped
                .read(records)
                .map_err(|source| RosterError::Io { path: self.origin.to_string(), source }),
            Source::Csv(raw) => {
                raw.read(records).map_err(|source| RosterError::Io { path: self.origin.to_string(), source })
            }
        }
    }
}

impl<'m> RowReader<'m> {
    /// Opens a CSV file, or sheet `sheet` of a workbook, and checks its
    /// header.
    pub fn open(
        model: &'m Model,
        path: &Path,
        sheet: &str,
        file: Scope,
        options: &ReadOptions,
    ) -> Result<Self, RosterError> {
        let (source, origin) = if hhrisk_tables::is_workbook(path) {
            let (table, origin) = hhrisk_tables::Table::open(path, sheet, options.encoding)?;
            (Source::Sheet(table), origin)
        } else {
            let origin = hhrisk_tables::Origin::Csv(path.to_path_buf());
            let raw = hhrisk_tables::RawCsv::open(path, options.encoding)
                .map_err(|source| hhrisk_tables::TableError::Io { origin: origin.to_string(), source })?;
            (Source::Csv(Box::new(raw)), origin)
        };
        let mut input = Input { source, origin, record: csv::ByteRecord::new() };
        let mut header = Records::default();
        input.read_into(&mut header)?;
        let (data, ends) =
            if header.is_empty() { (&[][..], &[][..]) } else { (header.get(0).1, header.get(0).2) };
        let layout = Layout::new(model, Fields { data, ends }, input.origin.to_string(), file, options)?;
        Ok(RowReader { layout, input, row: Records::default() })
    }

    /// Reads the rows after the header from `grouped` instead.
    pub(crate) fn regroup(&mut self, grouped: crate::grouped::GroupedCsv) {
        self.input.source = Source::Grouped(Box::new(grouped));
    }

    /// Number of declared columns (the length of a row of values).
    pub fn stride(&self) -> usize {
        self.layout.stride()
    }

    /// Reads the next row: its values are appended to `values` (NaN where a
    /// cell is refused), its problems to `issues`.
    pub fn next(
        &mut self,
        values: &mut Vec<f64>,
        issues: &mut Vec<Issue>,
    ) -> Result<Option<RowKeys>, RosterError> {
        self.row.clear();
        let Some(line) = self.input.read_into(&mut self.row)? else { return Ok(None) };
        let (_, data, ends) = self.row.get(0);
        let fields = Fields { data, ends };
        let checked = self.layout.check(fields, line, values, issues);
        Ok(Some(RowKeys {
            line,
            household: checked.household.to_string(),
            key: checked.key.to_string(),
            ok: checked.ok,
        }))
    }
}

impl<'m> Layout<'m> {
    fn new(
        model: &'m Model,
        header: Fields,
        shown: String,
        file: Scope,
        options: &ReadOptions,
    ) -> Result<Self, RosterError> {
        if header.len() > MAX_COLUMNS {
            return Err(RosterError::Empty {
                path: shown,
                message: format!(
                    "line 1 (header): {} columns, over the limit of {MAX_COLUMNS}; this is not a roster table",
                    header.len()
                ),
            });
        }
        let names: Vec<String> = (0..header.len())
            .filter_map(|i| header.get(i))
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        if names.iter().all(String::is_empty) {
            return Err(RosterError::Empty {
                path: shown,
                message: "the file is empty; it needs a header row and one row per record".to_string(),
            });
        }
        let mut first_at: HashMap<&str, usize> = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if let Some(&j) = first_at.get(name.as_str()) {
                return Err(RosterError::DuplicateColumn {
                    path: shown,
                    column: name.clone(),
                    first: j + 1,
                    second: i + 1,
                });
            }
            first_at.insert(name, i);
        }
        let find = |column: &str, needed_by: &str| {
            names.iter().position(|n| n == column).ok_or_else(|| RosterError::MissingColumn {
                path: shown.clone(),
                column: column.to_string(),
                needed_by: needed_by.to_string(),
                header: names.join(", "),
                hint: match names.iter().find(|n| fold_id(n) == fold_id(column)) {
                    Some(near) => format!(
                        "; the header has `{near}`, which differs only by letter case or full-width letters: names \
                         must match exactly, so rename it `{column}`"
                    ),
                    None => delimiter_hint(&names),
                },
            })
        };
        let layout = "the roster layout requires";
        let id_at = find("household_id", layout)?;
        let key_name = if file == Scope::Household { "village" } else { "person_id" };
        let key_at = find(key_name, layout)?;
        let declared: Vec<&Column> = model.columns_of(file).collect();
        let needed_by = format!("model {} declares", model.path);
        let at: Vec<usize> = declared.iter().map(|c| find(&c.name, &needed_by)).collect::<Result<_, _>>()?;
        let from_id: Vec<Option<FromId>> = declared
            .iter()
            .map(|column| {
                let identity = model.identity.as_ref().filter(|_| file == Scope::Member)?;
                let index = model.columns.iter().position(|c| std::ptr::eq(c, *column));
                if index.is_some() && index == identity.age_column {
                    return Some(FromId::Age);
                }
                if index.is_some() && index == identity.sex_column {
                    let ColumnType::Category(values) = &column.ty else { return None };
                    let code =
                        |a: &str, b: &str| values.iter().position(|v| v == a || v == b).map(|i| i as f64);
                    return Some(FromId::Sex { male: code("M", "男")?, female: code("F", "女")? });
                }
                None
            })
            .collect();
        let plan = declared
            .iter()
            .zip(at)
            .zip(from_id)
            .map(|((&column, at), from_id)| ColumnPlan {
                column,
                at,
                from_id,
                cells: CellReader::new(column, &model.missing_values),
            })
            .collect();
        Ok(Layout {
            model,
            file,
            unmasked: options.unmasked,
            path: shown,
            names,
            id_at,
            key_at,
            key_name,
            plan,
            as_of: hhrisk_tables::date::civil_from_days(model.identity.as_ref().map_or(0, |id| id.as_of)),
        })
    }

    /// Number of declared columns (the length of a row of values).
    pub fn stride(&self) -> usize {
        self.plan.len()
    }

    /// Checks one row: its values are appended to `values` (NaN where a
    /// cell is refused), its problems to `issues`; `true` when it has none.
    pub fn check<'a>(
        &self,
        record: Fields<'a>,
        line: u64,
        values: &mut Vec<f64>,
        issues: &mut Vec<Issue>,
    ) -> Checked<'a> {
        self.check_known(record, line, Known::default(), values, issues)
    }

    /// [`Layout::check`] of a row whose keys' texts may be known already
    /// (read from the same bytes): a member row joined to its household by
    /// comparing ids, a household of the same village as the row before.
    pub fn check_known<'a>(
        &self,
        record: Fields<'a>,
        line: u64,
        known: Known<'a>,
        values: &mut Vec<f64>,
        issues: &mut Vec<Issue>,
    ) -> Checked<'a> {
        let (model, file, names) = (self.model, self.file, &self.names);
        let text = |known: Option<&'a str>, at: usize| match known {
            Some(text) => Some(Ok(text)),
            None => record.get(at).map(trim_cell),
        };
        let texts = [text(known.household, self.id_at), text(known.key, self.key_at)];
        let [household, key] = texts.map(|t| match t {
            Some(Ok(t)) => t,
            _ => "",
        });
        let unmasked = self.unmasked;
        let shown_key = |k: &str| if unmasked { k.to_string() } else { mask_id(k) };
        let path = &self.path;
        let issue = |column: Option<usize>, message: String| Issue {
            file: path.clone(),
            line,
            column: column.map(|i| (i + 1, names[i].clone())),
            household_id: (!household.is_empty()).then(|| household.to_string()),
            household_line: None,
            person_id: (file == Scope::Member && !key.is_empty()).then(|| shown_key(key)),
            message,
        };
        let before = issues.len();
        if record.data.len() > MAX_ROW_BYTES {
            issues.push(issue(
                None,
                format!(
                    "the row is {} bytes long, over the limit of {} MiB; a field this long is not roster data \
                     (check the quoting of the row above)",
                    record.data.len(),
                    MAX_ROW_BYTES >> 20
                ),
            ));
        }
        if memchr::memchr(0, record.data).is_some() {
            let at = (0..record.len()).find(|&i| record.get(i).is_some_and(|c| c.contains(&0)));
            issues.push(issue(
                at,
                "a NUL byte in the cell: the file is damaged or not text (is it UTF-16? save it as UTF-8)"
                    .into(),
            ));
        }
        if record.len() != names.len() {
            issues.push(issue(
                None,
                format!(
                    "the row has {} fields but the header has {}; check for a stray or missing delimiter",
                    record.len(),
                    names.len()
                ),
            ));
        }
        for ((i, what), text) in
            [(self.id_at, "household_id"), (self.key_at, self.key_name)].into_iter().zip(texts)
        {
            match text {
                Some(Ok(v)) if !v.is_empty() || what == "village" => {}
                Some(Ok(_)) | None => issues.push(issue(
                    Some(i).filter(|&i| i < record.len()),
                    format!("`{what}` is empty; every row needs one"),
                )),
                Some(Err(_)) => issues.push(issue(Some(i), not_utf8())),
            }
        }
        // what the person's ID number says, when the model checks them
        let identity = match (&model.identity, file) {
            (Some(identity), Scope::Member) if !key.is_empty() => match parse_resident_id(key) {
                Ok(said) => Some((identity, said)),
                Err(message) => {
                    issues.push(issue(Some(self.key_at), format!("person_id {} {message}", shown_key(key))));
                    None
                }
            },
            _ => None,
        };
        let first = values.len();
        values.resize(first + self.plan.len(), f64::NAN);
        for (slot, plan) in values[first..].iter_mut().zip(&self.plan) {
            let ColumnPlan { column, at: i, from_id, cells } = plan;
            let i = *i;
            let cell = record.get(i);
            // the common case: a plain cell, nothing derived from the ID
            let fast = cell.and_then(|c| cells.fast(c));
            if let (Some(v), None) = (fast, from_id) {
                *slot = v;
                continue;
            }
            let derived = match (identity, from_id) {
                (Some((id, _)), Some(FromId::Age)) => {
                    let age = age_from_id(key, self.as_of);
                    Some((id, age as f64, Said::Age(age)))
                }
                (Some((id, (_, male))), Some(FromId::Sex { male: m, female: f })) => {
                    Some((id, if male { *m } else { *f }, Said::Sex(male)))
                }
                _ => None,
            };
            let value = match (fast, derived) {
                (Some(v), None) => Ok(v),
                (Some(v), Some((id, d, _))) if v == d && !id.fill => Ok(v),
                _ => self.read_slowly(column, cell.map(trim_cell), derived),
            };
            match value {
                Ok(v) => *slot = v,
                Err(message) => issues.push(issue(Some(i), message)),
            }
        }
        Checked { ok: issues.len() == before, household, key }
    }

    /// A cell that is not one of the common forms, or is checked against
    /// the ID number: read and worded by `Column::parse_cell`.
    fn read_slowly(
        &self,
        column: &Column,
        cell: Option<Result<&str, ()>>,
        derived: Option<(&hhrisk_model::Identity, f64, Said)>,
    ) -> Result<f64, String> {
        let model = self.model;
        match (cell, derived) {
            (Some(Ok(cell)), Some((id, v, _)))
                if id.fill && column.is_missing(cell, &model.missing_values) =>
            {
                Ok(v)
            }
            (Some(Ok(cell)), Some((id, v, said))) => {
                column.parse_cell(cell, &model.missing_values).and_then(|got| {
                    if got == v {
                        Ok(got)
                    } else {
                        Err(format!(
                            "{} does not match the ID number ({}); correct the {} or the ID number",
                            column.format_value(got),
                            said.words(id),
                            column.name
                        ))
                    }
                })
            }
            (Some(Ok(cell)), None) => column.parse_cell(cell, &model.missing_values),
            (Some(Err(_)), _) => Err(not_utf8()),
            (None, _) => Err("the row ends before this column".to_string()),
        }
    }
}

impl Table {
    fn read(
        model: &Model,
        path: &Path,
        sheet: &str,
        file: Scope,
        options: &ReadOptions,
    ) -> Result<Table, RosterError> {
        let mut reader = RowReader::open(model, path, sheet, file, options)?;
        let mut table = Table {
            path: reader.layout.path.clone(),
            stride: reader.stride(),
            values: Vec::new(),
            rows: Vec::new(),
            issues: Vec::new(),
        };
        while let Some(k) = reader.next(&mut table.values, &mut table.issues)? {
            table.rows.push(Row { line: k.line, household: k.household, key: k.key, ok: k.ok });
        }
        Ok(table)
    }
}

/// Names another delimiter when the header looks split by one.
/// A text with letters in lower case and full-width forms (`Ｈ００１`, as
/// Chinese input methods type them) made ASCII: two ids or names that fold
/// alike but differ are most likely one typed two ways.
pub fn fold_id(text: &str) -> std::borrow::Cow<'_, str> {
    // the common case, ASCII without a lower-case letter, is its own fold
    if text.bytes().all(|b| b < 0x80 && !b.is_ascii_lowercase()) {
        return text.into();
    }
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .flat_map(char::to_uppercase)
        .collect::<String>()
        .into()
}

fn delimiter_hint(names: &[String]) -> String {
    let joined = names.join(",");
    match [';', '\t', '|'].into_iter().find(|d| joined.contains(*d)) {
        Some(d) => format!(
            ". The header seems to be separated by {}: save the file as comma-separated CSV",
            if d == '\t' { "tabs".to_string() } else { format!("`{d}`") }
        ),
        None => String::new(),
    }
}

fn not_utf8() -> String {
    "the text is not readable in the file's encoding (UTF-8, or GBK detected); pass --encoding gbk if the file \
     is GBK, or save it as CSV UTF-8"
        .to_string()
}

/// Longest row accepted, in bytes: a roster row is a few hundred bytes; a
/// row over this is a broken quote or not a roster.
pub const MAX_ROW_BYTES: usize = 1 << 20;

/// Most columns a header may have.
pub const MAX_COLUMNS: usize = 10_000;

fn assemble(dir: &Path, mut households: Table, mut members: Table, options: &ReadOptions) -> Roster {
    let mut issues = Vec::new();
    let show = |k: &str| {
        if options.unmasked {
            k.to_string()
        } else {
            mask_id(k)
        }
    };

    // Duplicate keys: every row carrying the key is refused, since which
    // one is right cannot be told.
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in households.rows.iter().enumerate() {
        if !row.household.is_empty() {
            by_id.entry(&row.household).or_default().push(i);
        }
    }
    let mut refused_ids: Vec<String> = Vec::new();
    for (id, rows) in &by_id {
        if rows.len() > 1 {
            let lines: Vec<String> = rows.iter().map(|&r| households.rows[r].line.to_string()).collect();
            for &r in rows {
                issues.push(Issue {
                    file: households.path.clone(),
                    line: households.rows[r].line,
                    column: None,
                    household_id: Some(id.to_string()),
                    household_line: Some(households.rows[r].line),
                    person_id: None,
                    message: format!(
                        "household_id {id} appears on lines {}; keep one row per household",
                        lines.join(", ")
                    ),
                });
            }
            refused_ids.push(id.to_string());
        }
    }
    // Household ids that differ only by letter case or full-width letters:
    // most likely one household written two ways; refused like repeats.
    let mut by_fold: HashMap<std::borrow::Cow<'_, str>, Vec<&str>> = HashMap::new();
    for id in by_id.keys() {
        by_fold.entry(fold_id(id)).or_default().push(id);
    }
    for ids in by_fold.values().filter(|ids| ids.len() > 1) {
        let mut ids = ids.clone();
        ids.sort_unstable();
        let listed: Vec<String> = ids
            .iter()
            .map(|id| {
                let lines: Vec<String> =
                    by_id[id].iter().map(|&r| households.rows[r].line.to_string()).collect();
                format!("{id} (line {})", lines.join(", "))
            })
            .collect();
        for id in &ids {
            for &r in &by_id[id] {
                issues.push(Issue {
                    file: households.path.clone(),
                    line: households.rows[r].line,
                    column: None,
                    household_id: Some(id.to_string()),
                    household_line: Some(households.rows[r].line),
                    person_id: None,
                    message: format!(
                        "household_ids {} differ only by letter case or full-width letters: most likely one \
                         household written two ways; make them the same, or clearly different",
                        listed.join(" and ")
                    ),
                });
            }
            refused_ids.push(id.to_string());
        }
    }
    let mut by_person: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in members.rows.iter().enumerate() {
        if !row.key.is_empty() {
            by_person.entry(&row.key).or_default().push(i);
        }
    }
    let mut bad_member = vec![false; members.rows.len()];
    for (person, rows) in &by_person {
        if rows.len() > 1 {
            let lines: Vec<String> = rows.iter().map(|&r| members.rows[r].line.to_string()).collect();
            for &r in rows {
                bad_member[r] = true;
                issues.push(Issue {
                    file: members.path.clone(),
                    line: members.rows[r].line,
                    column: None,
                    household_id: Some(members.rows[r].household.clone()),
                    household_line: None,
                    person_id: Some(show(person)),
                    message: format!(
                        "person_id {} appears on lines {}; a person lives in one household only",
                        show(person),
                        lines.join(", ")
                    ),
                });
            }
        }
    }
    drop(by_person);
    for (i, row) in members.rows.iter().enumerate() {
        bad_member[i] |= !row.ok;
    }

    // Join members to households, ids as written; an id that matches
    // only once folded is named in the message.
    let folded: HashMap<String, &str> = by_id.keys().map(|id| (fold_id(id).into_owned(), *id)).collect();
    let mut members_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in members.rows.iter().enumerate() {
        if by_id.contains_key(row.household.as_str()) {
            members_of.entry(&row.household).or_default().push(i);
        } else if !row.household.is_empty() {
            issues.push(Issue {
                file: members.path.clone(),
                line: row.line,
                column: None,
                household_id: Some(row.household.clone()),
                household_line: None,
                person_id: Some(show(&row.key)),
                message: match folded.get(fold_id(&row.household).as_ref()) {
                    Some(near) => format!(
                        "household {} is not in households.csv, which has {near}: they differ only by letter case \
                         or full-width letters, and ids must match exactly; write {near}",
                        row.household
                    ),
                    None => format!(
                        "household {} is not in households.csv; add the household, or correct this member's \
                         household_id",
                        row.household
                    ),
                },
            });
        }
    }

    let mut refused_households: HashMap<&str, bool> = HashMap::new();
    for id in &refused_ids {
        refused_households.insert(id, true);
    }
    // A member row without a household_id, below rows of a household (as
    // a workbook's merged cells leave them): it is most likely that
    // household's member, so the household is refused rather than scored
    // without it.
    let mut above: Option<(&str, u64)> = None;
    for row in &members.rows {
        if !row.household.is_empty() {
            above = Some((&row.household, row.line));
            continue;
        }
        let Some((id, line)) = above else { continue };
        if !by_id.contains_key(id) {
            continue;
        }
        refused_households.insert(id, true);
        issues.push(Issue {
            file: members.path.clone(),
            line: row.line,
            column: None,
            household_id: Some(id.to_string()),
            household_line: None,
            person_id: (!row.key.is_empty()).then(|| show(&row.key)),
            message: format!(
                "this member row has no household_id and follows household {id} (line {line}), as merged cells \
                 leave it: household {id} is refused rather than scored without this member; write the \
                 household_id on every member row"
            ),
        });
    }
    for (i, bad) in bad_member.iter().enumerate() {
        if *bad {
            refused_households.insert(&members.rows[i].household, true);
        }
    }

    let mut accepted = Vec::new();
    let mut household_values = Vec::new();
    let mut member_values = Vec::new();
    let mut person_ids = Vec::new();
    let mut member_lines = Vec::new();
    for (i, row) in households.rows.iter().enumerate() {
        let list = members_of.get(row.household.as_str());
        if list.is_none()
            && !row.household.is_empty()
            && !refused_households.contains_key(row.household.as_str())
        {
            issues.push(Issue {
                file: households.path.clone(),
                line: row.line,
                column: None,
                household_id: Some(row.household.clone()),
                household_line: Some(row.line),
                person_id: None,
                message: "the household has no members in members.csv; add its members, or remove the row"
                    .to_string(),
            });
            continue;
        }
        if !row.ok || refused_households.contains_key(row.household.as_str()) {
            continue;
        }
        let Some(list) = list else { continue };
        let start = person_ids.len();
        for &m in list {
            let from = m * members.stride;
            member_values.extend_from_slice(&members.values[from..from + members.stride]);
            person_ids.push(members.rows[m].key.clone());
            member_lines.push(members.rows[m].line);
        }
        accepted.push(Household {
            id: row.household.clone(),
            village: row.key.clone(),
            line: row.line,
            values: household_values.len(),
            members: start..person_ids.len(),
        });
        household_values
            .extend_from_slice(&households.values[i * households.stride..(i + 1) * households.stride]);
    }

    // Tie each issue to the household row it refuses.
    let line_of: HashMap<&str, u64> =
        households.rows.iter().map(|r| (r.household.as_str(), r.line)).collect();
    let mut all = std::mem::take(&mut households.issues);
    all.append(&mut members.issues);
    all.append(&mut issues);
    for issue in &mut all {
        if issue.household_line.is_none() {
            issue.household_line = match (&issue.household_id, issue.file == households.path) {
                (_, true) => Some(issue.line),
                (Some(id), false) => line_of.get(id.as_str()).copied(),
                (None, false) => None,
            };
        }
    }
    all.sort_by(|a, b| {
        (a.file != households.path, a.line, a.column.as_ref().map(|c| c.0)).cmp(&(
            b.file != households.path,
            b.line,
            b.column.as_ref().map(|c| c.0),
        ))
    });

    Roster {
        dir: dir.to_path_buf(),
        households: accepted,
        issues: all,
        household_rows: households.rows.len(),
        member_rows: members.rows.len(),
        household_values,
        household_stride: households.stride,
        member_values,
        member_stride: members.stride,
        person_ids,
        member_lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"
[model]
name = "t"
version = "1"
source = "test"
[[departments]]
id = "d"
name = "d"
[[columns]]
name = "income"
file = "households"
type = "decimal"
[[columns]]
name = "age"
file = "members"
type = "integer"
max = 120
[[categories]]
id = "c"
name = "c"
[[items]]
id = "I1"
category = "c"
name = "i"
when = "income < 100"
points = 1
department = "d"
"#;

    fn read(households: &[u8], members: &[u8]) -> Result<Roster, RosterError> {
        read_with(households, members, hhrisk_tables::Encoding::Auto)
    }

    fn read_with(
        households: &[u8],
        members: &[u8],
        encoding: hhrisk_tables::Encoding,
    ) -> Result<Roster, RosterError> {
        let dir = std::env::temp_dir().join(format!(
            "hhrisk-roster-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("households.csv"), households).unwrap();
        std::fs::write(dir.join("members.csv"), members).unwrap();
        let model = Model::from_toml(MODEL, "m.toml").unwrap();
        let roster = Roster::read(&model, &dir, &ReadOptions { encoding, ..ReadOptions::default() });
        std::fs::remove_dir_all(&dir).unwrap();
        roster
    }

    const MEMBERS: &[u8] = b"household_id,person_id,age\nH1,P1,40\nH1,P2,12\nH2,P3,70\n";

    #[test]
    fn excel_exports_are_read_bom_crlf_and_quotes_included() {
        let households = "\u{feff}household_id,village,income,note\r\nH1,\"东山村, 一组\", 88.5 ,\"said \"\"hello\"\"\"\r\nH2,西河村,1000,\r\n";
        let r = read(households.as_bytes(), MEMBERS).unwrap();
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        assert_eq!(r.households.len(), 2);
        assert_eq!(r.households[0].village, "东山村, 一组");
        let x = r.inputs(&r.households[0]);
        assert_eq!((x.household, x.members, x.count), (&[88.5][..], &[40.0, 12.0][..], 2));
        assert_eq!(r.members_of(&r.households[1]).collect::<Vec<_>>(), [("P3", 4)]);
    }

    #[test]
    fn gbk_is_detected_and_utf8_when_asked_is_checked_where_read() {
        // GBK bytes: 东山 in the village name (carried), 五 in a number cell.
        let households = b"household_id,village,income\nH1,\xb6\xab\xc9\xbd,88\nH2,x,\xce\xe5\n";
        let r = read(households, MEMBERS).unwrap();
        assert_eq!(r.households.iter().map(|h| h.village.as_str()).collect::<Vec<_>>(), ["东山"]);
        assert!(r.issues[0]
            .to_string()
            .contains("line 3, column 3 (income), household H2: \"五\" is not a number"));
        let r = read_with(households, MEMBERS, hhrisk_tables::Encoding::Utf8).unwrap();
        let messages: Vec<String> = r.issues.iter().map(ToString::to_string).collect();
        assert!(
            messages[0].contains("line 2, column 2 (village), household H1: the text is not readable"),
            "{messages:?}"
        );
        assert!(messages[0].contains("--encoding gbk"), "{messages:?}");
    }

    #[test]
    fn resident_ids_are_checked_and_fill_or_check_age_and_sex() {
        let identity = r#"
[[columns]]
name = "sex"
file = "members"
type = "category"
values = ["M", "F"]
[identity]
person_id = "resident_id"
age_column = "age"
sex_column = "sex"
as_of = 2024-06-30
"#;
        // 11010519491231002X: GB 11643's example, a woman born 1949-12-31,
        // 74 on 2024-06-30. 110105194912310021: a wrong check character.
        let dir = std::env::temp_dir().join(format!("hhrisk-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("households.csv"), "household_id,village,income\nH1,x,5\nH2,x,5\nH3,x,5\n")
            .unwrap();
        // 110105194912310046: another woman born that day (sequence 004).
        let members = "household_id,person_id,age,sex\nH1,11010519491231002X,74,F\nH2,110105194912310021,74,F\nH3,110105194912310046,70,M\n";
        std::fs::write(dir.join("members.csv"), members).unwrap();
        let model = Model::from_toml(&format!("{MODEL}{identity}"), "m.toml").unwrap();
        let r = Roster::read(&model, &dir, &ReadOptions::default()).unwrap();
        let messages: Vec<String> = r.issues.iter().map(ToString::to_string).collect();
        assert!(messages.iter().any(|m| m.contains("line 3, column 2 (person_id), household H2, person 110105********0021: person_id 110105********0021 has a wrong check character (1 instead of X)")), "{messages:#?}");
        assert!(
            messages.iter().any(|m| m.contains("line 4, column 3 (age), household H3")
                && m.contains("70 does not match the ID number (74 years on 2024-06-30)")),
            "{messages:#?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("line 4, column 4 (sex)")
                && m.contains("M does not match the ID number (female)")),
            "{messages:#?}"
        );
        assert_eq!(r.households.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["H1"]);

        // fill: empty ages and sexes come from the ID number
        std::fs::write(dir.join("members.csv"), "household_id,person_id,age,sex\nH1,11010519491231002X,,\nH2,110105194912310046,74,F\nH3,110105194912310062,74,F\n").unwrap();
        let model = Model::from_toml(
            &format!("{MODEL}{}", identity.replace("as_of", "derived = \"fill\"\nas_of")),
            "m.toml",
        )
        .unwrap();
        let r = Roster::read(&model, &dir, &ReadOptions::default()).unwrap();
        let h1 = r.households.iter().find(|h| h.id == "H1").expect("H1 filled");
        assert_eq!(r.inputs(h1).members, &[74.0, 1.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rows_without_keys_are_refused() {
        let r = read(b"household_id,village,income\n,x,5\nH2,x,5\n", MEMBERS).unwrap();
        let messages: Vec<String> = r.issues.iter().map(ToString::to_string).collect();
        assert!(messages[0].ends_with("households.csv: line 2, column 1 (household_id): `household_id` is empty; every row needs one"), "{messages:?}");
        // H1's members have no household row now
        assert!(messages.iter().any(|m| m.contains(
            "members.csv: line 2, household H1, person P1: household H1 is not in households.csv"
        )));
        assert_eq!((r.households.len(), r.rejected_households()), (1, 1));
        assert_eq!(r.issues[0].household_line, Some(2));
    }

    #[test]
    fn unreadable_files_are_errors_that_say_why() {
        let err = |h: &[u8]| read(h, MEMBERS).unwrap_err().to_string();
        assert!(err(b"")
            .ends_with("households.csv: the file is empty; it needs a header row and one row per record"));
        assert!(err(b"household_id,village,income\n").contains("a header but no households"));
        let e = err(b"household_id;village;income\nH1;x;5\n");
        assert!(e.contains("line 1 (header): missing column `household_id`"), "{e}");
        assert!(e.contains("separated by `;`"), "{e}");
        let e = err(b"household_id,village,income,village\n");
        assert!(e.contains("columns 2 and 4: `village` appears twice"), "{e}");
        let e = err(b"household_id,village\nH1,x\n");
        assert!(e.contains("missing column `income`, which model m.toml declares"), "{e}");
    }
}

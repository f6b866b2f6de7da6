//! How a roster file's columns are read against the model: the plan
//! made from the header, and the checks of every row.

use std::collections::HashMap;
use std::path::Path;

use crate::cell::CellReader;
use crate::privacy::{age_from_id, mask_id, parse_resident_id};
use hhrisk_model::column::Column;
use hhrisk_model::column::ColumnType;
use hhrisk_model::expr::Scope;
use hhrisk_model::Model;
use hhrisk_tables::{trim_cell, Fields, Records};

use crate::roster::*;

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
    pub(crate) model: &'m Model,
    pub(crate) file: Scope,
    pub(crate) unmasked: bool,
    pub path: String,
    pub(crate) names: Vec<String>,
    pub id_at: usize,
    pub key_at: usize,
    pub(crate) key_name: &'static str,
    /// Per declared column, in slot order: how to read it.
    pub(crate) plan: Vec<ColumnPlan<'m>>,
    /// The day ages are counted on, as year, month and day.
    pub(crate) as_of: (i32, u32, u32),
    /// Optional columns the file lacks, whose rows all take the default.
    pub absent: Vec<String>,
}

/// Where an optional column the file lacks is "in the row": nowhere, so
/// every row reads it as an empty cell and takes its default.
const ABSENT: usize = usize::MAX;

/// How one declared column is read from a row.
pub(crate) struct ColumnPlan<'m> {
    pub(crate) column: &'m Column,
    /// Its position in the row.
    pub(crate) at: usize,
    pub(crate) from_id: Option<FromId>,
    pub(crate) cells: CellReader,
}

/// Reads the rows of one roster table (households or members), checking
/// every declared cell; the header is checked once, when it opens.
pub(crate) struct RowReader<'m> {
    pub layout: Layout<'m>,
    pub input: Input,
    /// The row being read.
    pub(crate) row: Records,
}

/// A table's records after its header, with their lines.
pub(crate) struct Input {
    pub(crate) source: Source,
    pub(crate) origin: hhrisk_tables::Origin,
    /// A workbook row on its way into a `Records`.
    pub(crate) record: csv::ByteRecord,
}

pub(crate) enum Source {
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
    pub(crate) fn new(
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
        let at: Vec<usize> = declared
            .iter()
            .map(|c| match find(&c.name, &needed_by) {
                Err(_) if c.optional => Ok(ABSENT),
                found => found,
            })
            .collect::<Result<_, _>>()?;
        let absent =
            declared.iter().zip(&at).filter(|(_, &at)| at == ABSENT).map(|(c, _)| c.name.clone()).collect();
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
            absent,
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
            let cell = if i == ABSENT { Some(&b""[..]) } else { record.get(i) };
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
    pub(crate) fn read_slowly(
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
                column.parse_cell(cell, &model.missing_values).map_err(|e| e.to_string()).and_then(|got| {
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
            (Some(Ok(cell)), None) => {
                column.parse_cell(cell, &model.missing_values).map_err(|e| e.to_string())
            }
            (Some(Err(_)), _) => Err(not_utf8()),
            (None, _) => Err("the row ends before this column".to_string()),
        }
    }
}

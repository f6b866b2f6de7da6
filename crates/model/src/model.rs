//! The checked indicator model, built once from the TOML file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::value::Datetime;
use toml::{Spanned, Value};

use crate::bands::Bands;
use crate::column::{Column, ColumnType};
use crate::error::ModelError;
use crate::expr::{
    parse, Ast, AstKind, BoolExpr, Checker, ExprError, Scope, Symbol, Symbols, Type, RESERVED,
};
use crate::raw::{RawColumn, RawItem, RawModel};
use crate::scoring::{Normalise, Scoring};
use crate::source::{Problem, SourceFile};
use hhrisk_tables::date::days_from_civil;

/// Cell texts that mean "missing" when a model does not list its own.
pub const DEFAULT_MISSING: &[&str] = &["", "N/A", "NA", "n/a", "-", "—", "无", "/"];

/// Columns with a fixed meaning in every roster (see the roster layout).
pub const FIXED_COLUMNS: &[&str] = &["household_id", "village", "person_id"];

/// A checked indicator model: every name resolved, every condition compiled.
#[derive(Debug, Clone)]
pub struct Model {
    /// Where the model was read from, for messages.
    pub path: String,
    /// Name, version, source and period in force.
    pub meta: Meta,
    /// Named constants used by conditions.
    pub parameters: Vec<Parameter>,
    /// Cell texts that mean "missing" unless a column says otherwise.
    pub missing_values: Vec<String>,
    /// Departments that alerts are referred to.
    pub departments: Vec<Department>,
    /// Input columns, household columns and member columns in declaration
    /// order.
    pub columns: Vec<Column>,
    /// The indicator categories.
    pub categories: Vec<Category>,
    /// Named intermediate values, as written.
    pub derived: Vec<Derived>,
    /// The scored items.
    pub items: Vec<Item>,
    /// The default warning bands, before any calibration.
    pub bands: Bands,
    /// How person ids are checked, and what they fill or check.
    pub identity: Option<Identity>,
    /// How points become the score that bands apply to.
    pub scoring: Scoring,
}

/// Person ids that are resident ID numbers: their form and check digit
/// are verified, and the birth date and sex they carry fill or check the
/// declared age and sex columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// `fill` missing ages and sexes from the ID number, or `check` them
    /// against it.
    pub fill: bool,
    /// Index into [`Model::columns`] of the age column (whole years).
    pub age_column: Option<usize>,
    /// Index into [`Model::columns`] of the sex column (a category with
    /// values `M`/`F` or `男`/`女`).
    pub sex_column: Option<usize>,
    /// Day number on which ages are counted.
    pub as_of: i32,
}

/// Model metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Meta {
    /// Name, usually Chinese.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// Version of the model.
    pub version: String,
    /// Where the model comes from.
    pub source: String,
    /// Longer description.
    pub description: Option<String>,
    /// First day in force (day number).
    pub effective_from: Option<i32>,
    /// Last day in force (day number).
    pub effective_to: Option<i32>,
}

/// A named constant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Parameter {
    /// Its name in conditions.
    pub name: String,
    /// Its value (a day number for dates, 1/0 for yes/no).
    pub value: f64,
    /// Its type: `number`, `date` or `bool`.
    pub kind: &'static str,
    /// Unit of measure.
    pub unit: Option<String>,
    /// What it is.
    pub description: Option<String>,
}

/// A department that alerts are referred to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Department {
    /// Short id used by items.
    pub id: String,
    /// Name, usually Chinese.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
}

/// An indicator category.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Category {
    /// Short id; the score column is `cat_<id>`.
    pub id: String,
    /// Name, usually Chinese.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// Multiplies the points of every item in the category; defaults to `1`.
    pub weight: f64,
}

/// A named intermediate value.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// Its name in conditions.
    pub name: String,
    /// Household- or member-level.
    pub scope: Scope,
    /// Its expression as written.
    pub expr: String,
    /// What it is.
    pub description: Option<String>,
}

/// Whether an item counts once per household or once per matching member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// Once per household when its condition holds.
    Household,
    /// Once for every member for whom the condition holds.
    Member,
}

/// A scored item.
#[derive(Debug, Clone)]
pub struct Item {
    /// Short id (`D01`).
    pub id: String,
    /// Index into [`Model::categories`].
    pub category: usize,
    /// Name, usually Chinese.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// The condition as written.
    pub when: String,
    /// The compiled condition, evaluated per household or per member.
    pub condition: BoolExpr,
    /// Points when the condition holds (negative for signs of means).
    pub points: f64,
    /// Once per household or per matching member.
    pub per: Per,
    /// Index into [`Model::departments`].
    pub department: usize,
    /// Whether the item is a main indicator pushed to its department.
    pub main: bool,
    /// Whether the item raises an alert on its own, whatever the score.
    pub trigger: bool,
    /// Why the item exists, tied to policy.
    pub rationale: Option<String>,
    /// Indexes into [`Model::columns`] of the columns the condition reads,
    /// directly or through derived values.
    pub reads: Vec<usize>,
    /// Whether the item's points are divided by the household's divisor
    /// (see [`Scoring`]); `divide = false` adds them whole.
    pub divide: bool,
    /// Whether the item is switched off (`off = true`): kept in the file,
    /// never scored.
    pub off: bool,
}

impl Model {
    /// Reads and checks a model file.
    pub fn from_path(path: &Path) -> Result<Model, ModelError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
        Model::from_toml(&text, &path.display().to_string())
    }

    /// Checks a model given as text; `path` names it in messages.
    pub fn from_toml(text: &str, path: &str) -> Result<Model, ModelError> {
        let src = SourceFile { path: path.to_string(), text: text.to_string() };
        let raw: RawModel = parse_toml(&src)?;
        let mut problems = Vec::new();
        let model = build(raw, &src, &mut problems);
        if problems.is_empty() {
            Ok(model)
        } else {
            Err(ModelError::Invalid(problems))
        }
    }

    /// The declared columns of one file, in slot order.
    pub fn columns_of(&self, file: Scope) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(move |c| c.file == file)
    }

    /// The item with this id.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }
}

/// Rewrites the points of some items in a model file's text, leaving
/// everything else (comments, order, layout) as it was. `points` maps item
/// ids to new points; ids not in the file are ignored.
pub fn rewrite_points(text: &str, path: &str, points: &HashMap<String, f64>) -> Result<String, ModelError> {
    rewrite_model(text, path, &Rewrite { points: points.clone(), ..Rewrite::default() })
}

/// Values to write into a model file's text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rewrite {
    /// Item id → points.
    pub points: HashMap<String, f64>,
    /// Category id → weight.
    pub weights: HashMap<String, f64>,
    /// Band name → lowest score of the band.
    pub band_mins: HashMap<String, f64>,
    /// Items whose `trigger = true` becomes `false` (switched off).
    pub untrigger: Vec<String>,
    /// Item id → why: items that get `off = true`, with the reason as a
    /// comment on the same line.
    pub off: Vec<(String, String)>,
    /// The normalisation written into `[scoring]`.
    pub normalise: Option<Normalise>,
    /// Bands whose `[[bands.levels]]` table is taken out.
    pub drop_bands: Vec<String>,
    /// The band `[bands] trigger` names (when the file names one).
    pub band_trigger: Option<String>,
}

fn toml_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Rewrites item points, category weights and band thresholds in a model
/// file's text, keeping its comments, order and layout. A category without
/// a `weight` line gets one after its `id`.
pub fn rewrite_model(text: &str, path: &str, rewrite: &Rewrite) -> Result<String, ModelError> {
    let src = SourceFile { path: path.to_string(), text: text.to_string() };
    let raw: RawModel = parse_toml(&src)?;
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for it in &raw.items {
        if let Some(&p) = rewrite.points.get(it.id.get_ref()) {
            edits.push((it.points.span(), toml_number(p)));
        }
        if let Some((_, why)) = rewrite.off.iter().find(|(id, _)| id == it.id.get_ref()).filter(|_| !it.off) {
            let end = it.points.span().end;
            let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
            let why = why.replace(['\n', '\r'], " ");
            edits.push((line_end..line_end, format!("\noff = true  # {why}")));
        }
        if let Some(t) =
            it.trigger.as_ref().filter(|t| *t.get_ref() && rewrite.untrigger.contains(it.id.get_ref()))
        {
            edits.push((t.span(), "false".to_string()));
        }
    }
    for c in &raw.categories {
        let Some(&w) = rewrite.weights.get(c.id.get_ref()) else { continue };
        match &c.weight {
            Some(old) => edits.push((old.span(), toml_number(w))),
            None => {
                let end = c.id.span().end;
                let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
                edits.push((line_end..line_end, format!("\nweight = {}", toml_number(w))));
            }
        }
    }
    if let Some(bands) = &raw.bands {
        for b in &bands.levels {
            if rewrite.drop_bands.contains(b.name.get_ref()) {
                // from the table's header to the next table (or the end)
                let start =
                    text[..b.name.span().start].rfind("[[bands.levels]]").unwrap_or(b.name.span().start);
                let after = b.min.span().end.max(b.name.span().end);
                let end = text[after..].find("\n[").map_or(text.len(), |i| after + i + 1);
                edits.push((start..end, String::new()));
            } else if let Some(&min) = rewrite.band_mins.get(b.name.get_ref()) {
                edits.push((b.min.span(), toml_number(min)));
            }
        }
        if let (Some(old), Some(new)) = (&bands.trigger, &rewrite.band_trigger) {
            edits.push((old.span(), format!("\"{}\"", new.replace('\\', "\\\\").replace('"', "\\\""))));
        }
    }
    if let Some(n) = rewrite.normalise {
        let value = format!("\"{n}\"");
        match raw.scoring.as_ref().and_then(|s| s.normalise.as_ref()) {
            Some(old) => edits.push((old.span(), value)),
            None => match text.find("\n[scoring]") {
                Some(at) => {
                    let end = at + "\n[scoring]".len();
                    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
                    edits.push((line_end..line_end, format!("\nnormalise = {value}")));
                }
                None => {
                    let sep = if text.ends_with('\n') { "" } else { "\n" };
                    edits.push((text.len()..text.len(), format!("{sep}\n[scoring]\nnormalise = {value}\n")));
                }
            },
        }
    }
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = text.to_string();
    for (span, value) in edits {
        out.replace_range(span, &value);
    }
    Ok(out)
}

pub(crate) fn parse_toml<T: DeserializeOwned>(src: &SourceFile) -> Result<T, ModelError> {
    toml::from_str(&src.text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let message = e.message().trim().to_string();
        ModelError::Invalid(vec![src.problem(at, "", message)])
    })
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn datetime_days(dt: &Datetime) -> Option<i32> {
    match (dt.date, dt.time, dt.offset) {
        (Some(d), None, None) => days_from_civil(i32::from(d.year), u32::from(d.month), u32::from(d.day)),
        _ => None,
    }
}

/// Turns a TOML value into the evaluator's number form for a column type.
fn value_for(ty: &ColumnType, value: &Value) -> Result<f64, String> {
    match (ty, value) {
        (ColumnType::Integer, Value::Integer(i)) => Ok(*i as f64),
        (ColumnType::Decimal, Value::Integer(i)) => Ok(*i as f64),
        (ColumnType::Decimal, Value::Float(f)) if f.is_finite() => Ok(*f),
        (ColumnType::Bool, Value::Boolean(b)) => Ok(f64::from(u8::from(*b))),
        (ColumnType::Date, Value::Datetime(dt)) => {
            datetime_days(dt).map(f64::from).ok_or_else(|| "write a plain date, like 2024-06-30".to_string())
        }
        (ColumnType::Category(values), Value::String(s)) => values
            .iter()
            .position(|v| v == s)
            .map(|i| i as f64)
            .ok_or_else(|| format!("\"{s}\" is not one of the column's values ({})", values.join(", "))),
        (ty, v) => {
            Err(format!("a {} column needs a {} here, not {}", ty.keyword(), expected(ty), v.type_str()))
        }
    }
}

fn expected(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::Bool => "true or false",
        ColumnType::Integer => "whole number",
        ColumnType::Decimal => "number",
        ColumnType::Category(_) => "quoted value from `values`",
        ColumnType::Date => "date (2024-06-30, unquoted)",
    }
}

fn build(raw: RawModel, src: &SourceFile, problems: &mut Vec<Problem>) -> Model {
    let mut sym = Symbols::default();

    let date_of = |d: &Option<Spanned<Datetime>>, problems: &mut Vec<Problem>| {
        d.as_ref().and_then(|d| {
            let days = datetime_days(d.get_ref());
            if days.is_none() {
                problems.push(src.problem(d.span().start, "model", "write a plain date, like 2024-01-01"));
            }
            days
        })
    };
    let meta = Meta {
        effective_from: date_of(&raw.model.effective_from, problems),
        effective_to: date_of(&raw.model.effective_to, problems),
        name: raw.model.name,
        name_en: raw.model.name_en,
        version: raw.model.version,
        source: raw.model.source,
        description: raw.model.description,
    };
    if let (Some(from), Some(to), Some(span)) =
        (meta.effective_from, meta.effective_to, &raw.model.effective_to)
    {
        if to < from {
            problems.push(src.problem(
                span.span().start,
                "model",
                "`effective_to` is before `effective_from`",
            ));
        }
    }
    let missing_values =
        raw.model.missing_values.unwrap_or_else(|| DEFAULT_MISSING.iter().map(|s| s.to_string()).collect());

    let mut name_ok = |name: &Spanned<String>, what: &str, problems: &mut Vec<Problem>| {
        let at = name.span().start;
        let n = name.get_ref();
        if !is_identifier(n) {
            problems.push(src.problem(
                at,
                format!("{what} {n}"),
                "names are ASCII letters, digits and `_`, starting with a letter (e.g. `annual_income`)",
            ));
            false
        } else if RESERVED.contains(&n.as_str()) || FIXED_COLUMNS.contains(&n.as_str()) {
            problems.push(src.problem(at, format!("{what} {n}"), "this name is reserved; choose another"));
            false
        } else {
            true
        }
    };

    let mut parameters = Vec::new();
    for p in raw.parameters {
        if !name_ok(&p.name, "parameter", problems) {
            continue;
        }
        let name = p.name.get_ref().clone();
        let (value, ty, kind) = match p.value.get_ref() {
            Value::Integer(i) => (*i as f64, Type::Int, "number"),
            Value::Float(f) if f.is_finite() => (*f, Type::Dec, "number"),
            Value::Boolean(b) => (f64::from(u8::from(*b)), Type::Bool, "bool"),
            Value::Datetime(dt) if datetime_days(dt).is_some() => {
                (f64::from(datetime_days(dt).unwrap_or_default()), Type::Date, "date")
            }
            _ => {
                problems.push(src.problem(
                    p.value.span().start,
                    format!("parameter {name}"),
                    "a parameter is a number, true/false or a date (2024-06-30, unquoted)",
                ));
                continue;
            }
        };
        if !sym.define(&name, Symbol::Param { value, ty }) {
            problems.push(src.problem(
                p.name.span().start,
                format!("parameter {name}"),
                "this name is declared twice",
            ));
        }
        parameters.push(Parameter { name, value, kind, unit: p.unit, description: p.description });
    }

    let mut columns = Vec::new();
    let mut slots = [0usize; 2];
    for c in raw.columns {
        if let Some(column) = check_column(c, src, &mut sym, &mut slots, problems, &mut name_ok) {
            columns.push(column);
        }
    }

    let mut departments: Vec<Department> = Vec::new();
    for d in raw.departments {
        let id = d.id.get_ref().clone();
        // `dispatch` names a file after the id: nothing that could leave
        // its folder, hide it or clash with a roster
        if id.is_empty()
            || id.len() > 64
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || id.eq_ignore_ascii_case("chain")
        {
            problems.push(src.problem(
                d.id.span().start,
                format!("department {id}"),
                "department ids are 1 to 64 ASCII letters, digits, `_` or `-`, not `chain` (`dispatch` names a file \
                 after each, beside chain.csv)",
            ));
        }
        if departments.iter().any(|x| x.id.eq_ignore_ascii_case(&id)) {
            problems.push(src.problem(
                d.id.span().start,
                format!("department {id}"),
                "this id is declared twice",
            ));
        }
        departments.push(Department { id, name: d.name, name_en: d.name_en });
    }

    let mut categories: Vec<Category> = Vec::new();
    for c in raw.categories {
        let id = c.id.get_ref().clone();
        let context = format!("category {id}");
        if !is_identifier(&id) {
            problems.push(src.problem(
                c.id.span().start,
                &context,
                "ids are ASCII letters, digits and `_` (the score column is cat_<id>)",
            ));
        }
        if categories.iter().any(|x| x.id == id) {
            problems.push(src.problem(c.id.span().start, &context, "this id is declared twice"));
        }
        let weight = c.weight.as_ref().map_or(1.0, |w| *w.get_ref());
        if !weight.is_finite() {
            let at = c.weight.as_ref().map_or(0, |w| w.span().start);
            problems.push(src.problem(at, &context, "`weight` must be a finite number"));
        }
        categories.push(Category { id, name: c.name, name_en: c.name_en, weight });
    }
    if categories.is_empty() {
        problems.push(src.problem(0, "categories", "the model declares no [[categories]]"));
    }

    // Derived values: declare all first (they may refer to each other), then
    // compile each once so that its mistakes are reported at its definition.
    let mut derived = Vec::new();
    let mut derived_spans = HashMap::new();
    let mut derived_asts = HashMap::new();
    for d in raw.derived {
        if !name_ok(&d.name, "derived", problems) {
            continue;
        }
        let name = d.name.get_ref().clone();
        let scope = match d.scope.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("household") => Scope::Household,
            Some("member") => Scope::Member,
            Some(other) => {
                let at = d.scope.as_ref().map_or(0, |s| s.span().start);
                problems.push(src.problem(
                    at,
                    format!("derived {name}"),
                    format!("scope is \"household\" or \"member\", not \"{other}\""),
                ));
                continue;
            }
        };
        derived_spans.insert(name.clone(), (d.expr.span(), d.expr.get_ref().clone()));
        match parse(d.expr.get_ref()) {
            Ok(ast) => {
                if !sym.define_derived(&name, ast.clone(), scope) {
                    problems.push(src.problem(
                        d.name.span().start,
                        format!("derived {name}"),
                        "this name is declared twice",
                    ));
                }
                derived_asts.insert(name.clone(), ast);
            }
            Err(e) => problems.push(expr_problem(src, &derived_spans, &d.expr, format!("derived {name}"), e)),
        }
        derived.push(Derived { name, scope, expr: d.expr.into_inner(), description: d.description });
    }
    let checker = Checker::new(&sym);
    let mut reported = HashSet::new();
    for d in &derived {
        if let (Some((span, text)), true) = (derived_spans.get(&d.name), derived_asts.contains_key(&d.name)) {
            if let Err(e) = checker.derived(&d.name, 0..0) {
                let key = (e.within.clone(), e.span.clone(), e.message.clone());
                if reported.insert(key) {
                    let spanned = Spanned::new(span.clone(), text.clone());
                    problems.push(expr_problem(
                        src,
                        &derived_spans,
                        &spanned,
                        format!("derived {}", d.name),
                        e,
                    ));
                }
            }
        }
    }

    let bands = raw.bands.map(|b| Bands::check(b, src, problems)).unwrap_or_default();
    if raw.items.is_empty() {
        problems.push(src.problem(0, "items", "the model declares no [[items]]"));
    }

    let mut items: Vec<Item> = Vec::new();
    for raw_item in raw.items {
        if let Some(item) = check_item(
            raw_item,
            src,
            &checker,
            &derived_spans,
            &derived_asts,
            &columns,
            &categories,
            &departments,
            problems,
        ) {
            if items.iter().any(|x| x.id == item.id) {
                let at = src.text.find(&format!("\"{}\"", item.id)).unwrap_or(0);
                problems.push(src.problem(at, format!("item {}", item.id), "this item id is used twice"));
            }
            items.push(item);
        }
    }
    // A mistake in a derived value surfaces again in every item that uses
    // it; report it once, where it is.
    let mut seen = HashSet::new();
    problems.retain(|p| seen.insert((p.line, p.column, p.message.clone())));

    let identity = raw.identity.and_then(|i| check_identity(i, src, &columns, &parameters, problems));
    let scoring = check_scoring(raw.scoring, src, &columns, identity.as_ref(), problems);
    Model {
        path: src.path.clone(),
        meta,
        parameters,
        missing_values,
        departments,
        columns,
        categories,
        derived,
        items,
        bands,
        identity,
        scoring,
    }
}

fn check_scoring(
    raw: Option<crate::raw::RawScoring>,
    src: &SourceFile,
    columns: &[Column],
    identity: Option<&Identity>,
    problems: &mut Vec<Problem>,
) -> Scoring {
    let context = "scoring";
    let Some(raw) = raw else {
        return Scoring { age_column: identity.and_then(|i| i.age_column), ..Scoring::default() };
    };
    let normalise = match &raw.normalise {
        None => Normalise::default(),
        Some(n) => Normalise::parse(n.get_ref()).unwrap_or_else(|| {
            let names: Vec<String> = Normalise::ALL.iter().map(|n| format!("\"{n}\"")).collect();
            problems.push(src.problem(
                n.span().start,
                context,
                format!("normalise is one of {}, not \"{}\"", names.join(", "), n.get_ref()),
            ));
            Normalise::default()
        }),
    };
    let age_column = match &raw.age_column {
        Some(name) => {
            let found = columns.iter().position(|c| {
                c.name == *name.get_ref()
                    && c.file == Scope::Member
                    && matches!(c.ty, ColumnType::Integer | ColumnType::Decimal)
            });
            if found.is_none() {
                problems.push(src.problem(
                    name.span().start,
                    context,
                    format!(
                        "\"{}\" is not a declared member column of ages (type integer or decimal)",
                        name.get_ref()
                    ),
                ));
            }
            found
        }
        None => identity.and_then(|i| i.age_column),
    };
    if normalise == Normalise::Equivalence && age_column.is_none() && raw.age_column.is_none() {
        let at = raw.normalise.as_ref().map_or(0, |n| n.span().start);
        problems.push(src.problem(
            at,
            context,
            "the equivalence scale needs ages: add `age_column = \"<member column of ages>\"` to [scoring]",
        ));
    }
    Scoring { normalise, age_column, stated: raw.normalise.is_some() }
}

fn check_identity(
    raw: crate::raw::RawIdentity,
    src: &SourceFile,
    columns: &[Column],
    parameters: &[Parameter],
    problems: &mut Vec<Problem>,
) -> Option<Identity> {
    let context = "identity";
    match raw.person_id.as_ref().map(|p| p.get_ref().as_str()) {
        Some("resident_id") => {}
        Some(other) => {
            let at = raw.person_id.as_ref().map_or(0, |p| p.span().start);
            problems.push(src.problem(
                at,
                context,
                format!("person_id is \"resident_id\" (18-character ID numbers), not \"{other}\""),
            ));
            return None;
        }
        None => return None,
    }
    let fill = match raw.derived.as_ref().map(|d| d.get_ref().as_str()) {
        None | Some("check") => false,
        Some("fill") => true,
        Some(other) => {
            let at = raw.derived.as_ref().map_or(0, |d| d.span().start);
            problems.push(src.problem(
                at,
                context,
                format!("derived is \"check\" or \"fill\", not \"{other}\""),
            ));
            false
        }
    };
    let mut member_column = |key: &Option<Spanned<String>>, ok: &dyn Fn(&ColumnType) -> bool, want: &str| {
        let key = key.as_ref()?;
        match columns.iter().position(|c| c.name == *key.get_ref() && c.file == Scope::Member && ok(&c.ty)) {
            Some(i) => Some(i),
            None => {
                problems.push(src.problem(
                    key.span().start,
                    context,
                    format!("\"{}\" is not a declared member column of type {want}", key.get_ref()),
                ));
                None
            }
        }
    };
    let age_column = member_column(&raw.age_column, &|t| *t == ColumnType::Integer, "integer");
    let sexes = |t: &ColumnType| matches!(t, ColumnType::Category(v) if (v.contains(&"M".to_string()) && v.contains(&"F".to_string())) || (v.contains(&"男".to_string()) && v.contains(&"女".to_string())));
    let sex_column = member_column(&raw.sex_column, &sexes, "category with values M and F (or 男 and 女)");
    let as_of = match &raw.as_of {
        Some(d) => datetime_days(d.get_ref()).or_else(|| {
            problems.push(src.problem(d.span().start, context, "as_of is a plain date, like 2024-06-30"));
            None
        })?,
        None => match parameters.iter().find(|p| p.name == "assessment_date" && p.kind == "date") {
            Some(p) => p.value as i32,
            None if age_column.is_some() => {
                problems.push(src.problem(
                    0,
                    context,
                    "ages need a date to count from: give `as_of`, or an `assessment_date` parameter",
                ));
                return None;
            }
            None => 0,
        },
    };
    Some(Identity { fill, age_column, sex_column, as_of })
}

fn check_column(
    c: RawColumn,
    src: &SourceFile,
    sym: &mut Symbols,
    slots: &mut [usize; 2],
    problems: &mut Vec<Problem>,
    name_ok: &mut impl FnMut(&Spanned<String>, &str, &mut Vec<Problem>) -> bool,
) -> Option<Column> {
    if !name_ok(&c.name, "column", problems) {
        return None;
    }
    let name = c.name.get_ref().clone();
    let context = format!("column {name}");
    let file = match c.file.get_ref().as_str() {
        "households" => Scope::Household,
        "members" => Scope::Member,
        other => {
            problems.push(src.problem(
                c.file.span().start,
                &context,
                format!("file is \"households\" or \"members\", not \"{other}\""),
            ));
            return None;
        }
    };
    let ty = match c.ty.get_ref().as_str() {
        "bool" => ColumnType::Bool,
        "integer" => ColumnType::Integer,
        "decimal" => ColumnType::Decimal,
        "date" => ColumnType::Date,
        "category" => {
            let Some(values) = &c.values else {
                problems.push(src.problem(
                    c.ty.span().start,
                    &context,
                    "a category column lists its allowed `values = [..]`",
                ));
                return None;
            };
            let list = values.get_ref().clone();
            let unique: HashSet<&String> = list.iter().collect();
            if list.is_empty()
                || list.len() > 64
                || unique.len() != list.len()
                || list.iter().any(|v| v.trim().is_empty() || v.trim() != v)
            {
                problems.push(src.problem(
                    values.span().start,
                    &context,
                    "`values` must list 1 to 64 distinct, non-empty values without surrounding spaces",
                ));
                return None;
            }
            ColumnType::Category(list)
        }
        other => {
            problems.push(src.problem(
                c.ty.span().start,
                &context,
                format!("type is one of bool, integer, decimal, category, date; not \"{other}\""),
            ));
            return None;
        }
    };
    if c.values.is_some() && !matches!(ty, ColumnType::Category(_)) {
        let at = c.values.as_ref().map_or(0, |v| v.span().start);
        problems.push(src.problem(at, &context, "`values` is only for category columns"));
    }
    let mut bound = |b: &Option<Spanned<Value>>, key: &str| -> Option<f64> {
        let b = b.as_ref()?;
        if !matches!(ty, ColumnType::Integer | ColumnType::Decimal | ColumnType::Date) {
            problems.push(src.problem(
                b.span().start,
                &context,
                format!("`{key}` is only for numbers and dates"),
            ));
            return None;
        }
        let ty = if ty == ColumnType::Integer { ColumnType::Decimal } else { ty.clone() };
        value_for(&ty, b.get_ref()).map_err(|m| problems.push(src.problem(b.span().start, &context, m))).ok()
    };
    let (min, max) = (bound(&c.min, "min"), bound(&c.max, "max"));
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            let at = c.max.as_ref().map_or(0, |m| m.span().start);
            problems.push(src.problem(at, &context, "`max` is below `min`"));
        }
    }
    let slot = &mut slots[usize::from(file == Scope::Member)];
    let mut column = Column {
        name: name.clone(),
        file,
        slot: *slot,
        ty,
        unit: c.unit,
        description: c.description,
        min,
        max,
        default: None,
        missing_values: c.missing_values,
    };
    if let Some(d) = &c.default {
        match value_for(&column.ty, d.get_ref()).and_then(|v| column.check_range(v).map(|()| v)) {
            Ok(v) => column.default = Some(v),
            Err(m) => problems.push(src.problem(d.span().start, &context, format!("`default`: {m}"))),
        }
    }
    *slot += 1;
    let ty = match &column.ty {
        ColumnType::Bool => Type::Bool,
        ColumnType::Integer => Type::Int,
        ColumnType::Decimal => Type::Dec,
        ColumnType::Date => Type::Date,
        ColumnType::Category(values) => Type::Cat(sym.add_category(&name, values.clone())),
    };
    if !sym.define(&name, Symbol::Column { scope: file, slot: column.slot as u32, ty }) {
        problems.push(src.problem(
            c.name.span().start,
            &context,
            "this name is declared twice (column names are shared by both files)",
        ));
        return None;
    }
    Some(column)
}

/// Places a condition's mistake in the model file: in the condition itself,
/// or in the derived value it uses.
fn expr_problem(
    src: &SourceFile,
    derived: &HashMap<String, (std::ops::Range<usize>, String)>,
    text: &Spanned<String>,
    context: String,
    e: ExprError,
) -> Problem {
    let (span, value, context) = match e.within.as_ref().and_then(|d| derived.get(d).map(|x| (d, x))) {
        Some((name, (span, value))) if context == format!("derived {name}") => {
            (span.clone(), value.as_str(), context)
        }
        Some((name, (span, value))) => {
            (span.clone(), value.as_str(), format!("{context} (in derived {name})"))
        }
        None => (text.span(), text.get_ref().as_str(), context),
    };
    let (start, exact) = src.string_content(&span, value);
    let at = if exact { start + e.span.start } else { start };
    src.problem(at, context, e.message)
}

#[allow(clippy::too_many_arguments)]
fn check_item(
    it: RawItem,
    src: &SourceFile,
    checker: &Checker,
    derived_spans: &HashMap<String, (std::ops::Range<usize>, String)>,
    derived_asts: &HashMap<String, Ast>,
    columns: &[Column],
    categories: &[Category],
    departments: &[Department],
    problems: &mut Vec<Problem>,
) -> Option<Item> {
    let id = it.id.get_ref().clone();
    let context = format!("item {id}");
    let before = problems.len();
    if id.is_empty() || id.contains([',', ';', '"', ' ']) {
        problems.push(src.problem(
            it.id.span().start,
            &context,
            "item ids are non-empty, without spaces , ; or quotes",
        ));
    }
    let category = categories.iter().position(|c| c.id == *it.category.get_ref());
    if category.is_none() {
        let ids: Vec<&str> = categories.iter().map(|c| c.id.as_str()).collect();
        problems.push(src.problem(
            it.category.span().start,
            &context,
            format!("category \"{}\" is not declared; declared: {}", it.category.get_ref(), ids.join(", ")),
        ));
    }
    let department = departments.iter().position(|d| d.id == *it.department.get_ref());
    if department.is_none() {
        let ids: Vec<&str> = departments.iter().map(|d| d.id.as_str()).collect();
        problems.push(src.problem(
            it.department.span().start,
            &context,
            format!(
                "department \"{}\" is not declared in [[departments]]; declared: {}",
                it.department.get_ref(),
                ids.join(", ")
            ),
        ));
    }
    let points = *it.points.get_ref();
    if !points.is_finite() {
        problems.push(src.problem(it.points.span().start, &context, "`points` must be a finite number"));
    }
    let per = match it.per.as_ref().map(|p| p.get_ref().as_str()) {
        None | Some("household") => Per::Household,
        Some("member") => Per::Member,
        Some(other) => {
            let at = it.per.as_ref().map_or(0, |p| p.span().start);
            problems.push(src.problem(
                at,
                &context,
                format!("per is \"household\" or \"member\", not \"{other}\""),
            ));
            Per::Household
        }
    };
    let scope = if per == Per::Member { Scope::Member } else { Scope::Household };
    let compiled = parse(it.when.get_ref()).and_then(|ast| {
        let condition = checker.condition(&ast, scope)?;
        Ok((condition, ast))
    });
    let (condition, ast) = match compiled {
        Ok(x) => x,
        Err(e) => {
            problems.push(expr_problem(src, derived_spans, &it.when, context, e));
            return None;
        }
    };
    if problems.len() > before {
        return None;
    }
    let mut reads = Vec::new();
    collect_reads(&ast, columns, derived_asts, &mut HashSet::new(), &mut reads);
    reads.sort_unstable();
    reads.dedup();
    Some(Item {
        id,
        category: category?,
        name: it.name,
        name_en: it.name_en,
        when: it.when.into_inner(),
        condition,
        points,
        per,
        department: department?,
        main: it.main,
        trigger: it.trigger.as_ref().is_some_and(|t| *t.get_ref()),
        rationale: it.rationale,
        reads,
        divide: it.divide,
        off: it.off,
    })
}

fn collect_reads<'a>(
    ast: &'a Ast,
    columns: &[Column],
    derived: &'a HashMap<String, Ast>,
    seen: &mut HashSet<&'a str>,
    out: &mut Vec<usize>,
) {
    match &ast.kind {
        AstKind::Name(n) => {
            if let Some(i) = columns.iter().position(|c| c.name == *n) {
                out.push(i);
            } else if let Some(d) = derived.get(n) {
                if seen.insert(n) {
                    collect_reads(d, columns, derived, seen, out);
                }
            }
        }
        AstKind::Call(_, args) => args.iter().for_each(|a| collect_reads(a, columns, derived, seen, out)),
        AstKind::Neg(a) | AstKind::Not(a) => collect_reads(a, columns, derived, seen, out),
        AstKind::Binary(_, a, b) => {
            collect_reads(a, columns, derived, seen, out);
            collect_reads(b, columns, derived, seen, out);
        }
        AstKind::In { value, list, .. } => {
            collect_reads(value, columns, derived, seen, out);
            list.iter().for_each(|a| collect_reads(a, columns, derived, seen, out));
        }
        AstKind::Num(_) | AstKind::Str(_) | AstKind::Bool(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"[model]
name = "t"
version = "1"
source = "test"

[[parameters]]
name = "line"
value = 9048

[[departments]]
id = "civil_affairs"
name = "民政局"

[[columns]]
name = "income"
file = "households"
type = "decimal"
min = 0

[[columns]]
name = "health"
file = "members"
type = "category"
values = ["healthy", "chronic"]

[[categories]]
id = "income"
name = "收入"
weight = 2

[[items]]
id = "I01"
category = "income"
name = "低收入"
when = "per_capita(income) < line"
points = 10
department = "civil_affairs"
"#;

    fn problems(text: &str) -> Vec<String> {
        match Model::from_toml(text, "m.toml") {
            Ok(_) => vec![],
            Err(e) => e.problems().iter().map(|p| p.to_string()).collect(),
        }
    }

    /// The first problem reported contains `want` (later ones may follow
    /// from it: an item using a column whose declaration failed).
    fn one_problem(text: &str, want: &str) {
        let got = problems(text);
        assert!(
            got.first().is_some_and(|p| p.contains(want)),
            "expected a problem with {want:?}, got {got:#?}"
        );
    }

    #[test]
    fn weights_and_bands_are_rewritten_in_place() {
        let text = format!("{BASE}\n[bands]\n[[bands.levels]]\nname = \"red\"\nmin = 12\n");
        let rewrite = Rewrite {
            weights: [("income".to_string(), 1.5)].into(),
            band_mins: [("red".to_string(), 14.5)].into(),
            ..Rewrite::default()
        };
        let out = rewrite_model(&text.replace("weight = 2\n", ""), "m.toml", &rewrite).unwrap();
        let m = Model::from_toml(&out, "m.toml").unwrap();
        assert_eq!((m.categories[0].weight, m.bands.levels[0].min), (1.5, 14.5));
        let out = rewrite_model(&text, "m.toml", &rewrite).unwrap();
        assert_eq!(out, text.replace("weight = 2", "weight = 1.5").replace("min = 12", "min = 14.5"));
    }

    #[test]
    fn points_are_rewritten_in_place() {
        let text = BASE.replace("points = 10", "points = 10 # why ten");
        let new: HashMap<String, f64> = [("I01".to_string(), 7.0), ("X".to_string(), 1.0)].into();
        let out = rewrite_points(&text, "m.toml", &new).unwrap();
        assert_eq!(out, text.replace("points = 10 #", "points = 7 #"));
        assert_eq!(Model::from_toml(&out, "m.toml").unwrap().items[0].points, 7.0);
    }

    #[test]
    fn the_scoring_table_is_checked() {
        let m = Model::from_toml(BASE, "m.toml").unwrap();
        assert_eq!(m.scoring, Scoring::default());
        assert!(m.items[0].divide && !m.items[0].off);
        let text = format!("{BASE}divide = false\noff = true\n[scoring]\nnormalise = \"total\"\n");
        let m = Model::from_toml(&text, "m.toml").unwrap();
        assert_eq!(m.scoring.normalise, Normalise::Total);
        assert!(!m.items[0].divide && m.items[0].off);
        one_problem(
            &format!("{BASE}[scoring]\nnormalise = \"per-head\"\n"),
            "m.toml:39:13: scoring: normalise is one of \"per_capita\", \"total\"",
        );
        one_problem(
            &format!("{BASE}[scoring]\nnormalise = \"equivalence\"\n"),
            "the equivalence scale needs ages",
        );
        one_problem(
            &format!("{BASE}[scoring]\nnormalise = \"equivalence\"\nage_column = \"health\"\n"),
            "m.toml:40:14: scoring: \"health\" is not a declared member column of ages",
        );
        let aged = BASE.replace(
            "[[categories]]",
            "[[columns]]\nname = \"age\"\nfile = \"members\"\ntype = \"integer\"\n\n[[categories]]",
        );
        let m = Model::from_toml(
            &format!("{aged}[scoring]\nnormalise = \"equivalence\"\nage_column = \"age\"\n"),
            "m.toml",
        )
        .unwrap();
        assert_eq!((m.scoring.normalise, m.scoring.age_column), (Normalise::Equivalence, Some(2)));
        assert!(m.scoring.stated);
        assert!(!Model::from_toml(BASE, "m.toml").unwrap().scoring.stated);
    }

    #[test]
    fn bands_can_be_taken_out() {
        let text = format!(
            "{BASE}\n[bands]\ntrigger = \"red\"\n\n[[bands.levels]]\nname = \"red\"\nmin = 20\n\n[[bands.levels]]\nname = \"orange\"\nmin = 10\n\n[[bands.levels]]\nname = \"yellow\"\nmin = 5\n"
        );
        assert_eq!(Model::from_toml(&text, "m.toml").unwrap().bands.levels.len(), 3);
        let rewrite = Rewrite {
            drop_bands: vec!["red".into()],
            band_trigger: Some("orange".into()),
            band_mins: [("orange".to_string(), 12.5)].into(),
            ..Rewrite::default()
        };
        let out = rewrite_model(&text, "m.toml", &rewrite).unwrap();
        let m = Model::from_toml(&out, "m.toml").unwrap();
        let names: Vec<(&str, f64)> = m.bands.levels.iter().map(|b| (b.name.as_str(), b.min)).collect();
        assert_eq!(names, [("orange", 12.5), ("yellow", 5.0)]);
        assert_eq!(m.bands.trigger, Some(0));
        assert!(!out.contains("\"red\""), "{out}");
        // the last table too
        let rewrite = Rewrite { drop_bands: vec!["yellow".into()], ..Rewrite::default() };
        let out = rewrite_model(&text, "m.toml", &rewrite).unwrap();
        assert_eq!(Model::from_toml(&out, "m.toml").unwrap().bands.levels.len(), 2);
    }

    #[test]
    fn fitted_points_switch_items_off_and_set_the_normalisation() {
        let rewrite = Rewrite {
            points: [("I01".to_string(), 0.0)].into(),
            off: vec![("I01".to_string(), "fitted points fell to 0".to_string())],
            normalise: Some(Normalise::SqrtMembers),
            ..Rewrite::default()
        };
        let out = rewrite_model(BASE, "m.toml", &rewrite).unwrap();
        assert!(out.contains("points = 0\noff = true  # fitted points fell to 0\n"), "{out}");
        assert!(out.ends_with("\n[scoring]\nnormalise = \"sqrt_members\"\n"), "{out}");
        let m = Model::from_toml(&out, "m.toml").unwrap();
        assert!(m.items[0].off);
        assert_eq!(m.scoring.normalise, Normalise::SqrtMembers);
        // a second rewrite replaces the normalisation in place
        let again = Rewrite { normalise: Some(Normalise::Total), ..Rewrite::default() };
        let out = rewrite_model(&out, "m.toml", &again).unwrap();
        assert_eq!(Model::from_toml(&out, "m.toml").unwrap().scoring.normalise, Normalise::Total);
        assert_eq!(out.matches("[scoring]").count(), 1);
    }

    #[test]
    fn department_ids_are_safe_file_names() {
        for bad in ["../roster", "a/b", "households.csv", "", ".hidden", "民政", "chain", "Chain"] {
            let text = BASE
                .replace("id = \"civil_affairs\"", &format!("id = \"{bad}\""))
                .replace("department = \"civil_affairs\"", &format!("department = \"{bad}\""));
            one_problem(&text, "department ids are 1 to 64 ASCII letters");
        }
        let text = BASE.replace("civil_affairs", "civil-affairs_2");
        assert!(Model::from_toml(&text, "m.toml").is_ok());
    }

    #[test]
    fn the_base_model_is_valid_and_compiled() {
        let m = Model::from_toml(BASE, "m.toml").unwrap();
        assert_eq!(m.categories[0].weight, 2.0);
        assert_eq!(m.items[0].reads, vec![0]);
        assert_eq!(m.columns[1].slot, 0, "member columns are numbered apart");
        assert_eq!(m.missing_values, DEFAULT_MISSING);
    }

    #[test]
    fn unknown_keys_and_wrong_shapes_are_refused_where_they_are() {
        one_problem(&BASE.replace("points = 10", "pionts = 10"), "m.toml:36:1: unknown field `pionts`");
        one_problem(&BASE.replace("points = 10", "points = \"ten\""), "m.toml:36:10:");
        one_problem(&BASE.replace("version = \"1\"\n", ""), "missing field `version`");
    }

    #[test]
    fn declarations_are_checked() {
        one_problem(
            &BASE.replace("type = \"decimal\"", "type = \"money\""),
            "m.toml:17:8: column income: type is one of",
        );
        one_problem(&BASE.replace("file = \"households\"", "file = \"people\""), "column income: file is");
        one_problem(
            &BASE.replace("values = [\"healthy\", \"chronic\"]", "values = [\"a\", \"a\"]"),
            "distinct",
        );
        one_problem(&BASE.replace("name = \"income\"\nfile", "name = \"household_id\"\nfile"), "reserved");
        one_problem(
            &BASE.replace("name = \"line\"", "name = \"income\""),
            "m.toml:15:8: column income: this name is declared twice",
        );
        one_problem(
            &BASE.replace("min = 0", "min = 0\ndefault = -5"),
            "`default`: -5 is outside the allowed range",
        );
        one_problem(&BASE.replace("min = 0", "min = 10\nmax = 5"), "`max` is below `min`");
        one_problem(
            &BASE.replace("category = \"income\"", "category = \"money\""),
            "item I01: category \"money\" is not declared",
        );
        one_problem(
            &BASE.replace("department = \"civil_affairs\"\n", "department = \"roads\"\n"),
            "department \"roads\"",
        );
        one_problem(
            &format!("{BASE}\n{}", &BASE[BASE.find("[[items]]").unwrap()..]),
            "item I01: this item id is used twice",
        );
        one_problem(
            &BASE.replace("value = 9048", "value = \"9048\""),
            "parameter line: a parameter is a number",
        );
        one_problem(
            &BASE.replace(
                "version = \"1\"",
                "version = \"1\"\neffective_from = 2025-01-01\neffective_to = 2024-01-01",
            ),
            "`effective_to` is before",
        );
    }

    #[test]
    fn condition_mistakes_point_into_the_condition() {
        // `when = "` is 8 characters: the condition starts in column 9.
        one_problem(
            &BASE.replace("per_capita(income) < line", "per_capita(income) < lin"),
            "m.toml:35:30: item I01: unknown name `lin` (did you mean `line`?)",
        );
        one_problem(
            &BASE.replace("\"per_capita(income) < line\"", "'health == \"chronic\"'"),
            "m.toml:35:9: item I01: `health` is a member column",
        );
        // with per = "member" the same condition is fine
        assert!(problems(&BASE.replace(
            "when = \"per_capita(income) < line\"",
            "per = \"member\"\nwhen = 'health == \"chronic\"'"
        ))
        .is_empty());
    }

    #[test]
    fn a_broken_derived_value_is_reported_once_at_its_definition() {
        let text = BASE
            .replace(
                "[[categories]]",
                "[[derived]]\nname = \"pc\"\nexpr = \"income / members2\"\n\n[[categories]]",
            )
            .replace("per_capita(income) < line", "pc < line");
        let got = problems(&text);
        assert_eq!(got, ["m.toml:28:18: derived pc: unknown name `members2` (did you mean `members`?): declare it as a column, parameter or derived value"]);
    }
}

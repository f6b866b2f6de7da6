//! Building a checked [`Model`] from the parsed TOML: every name, type
//! and condition checked, every problem located.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;
use toml::value::Datetime;
use toml::{Spanned, Value};

use crate::bands::Bands;
use crate::column::{Column, ColumnType};
use crate::error::ModelError;
use crate::expr::{parse, Ast, AstKind, Checker, ExprError, Scope, Symbol, Symbols, Type, RESERVED};
use crate::raw::{RawColumn, RawItem, RawModel};
use crate::scoring::{Normalise, Scoring};
use crate::source::{Problem, SourceFile};
use hhrisk_tables::date::days_from_civil;

use crate::model::*;

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

/// Largest magnitude of an item's points. With category weights within
/// [`MAX_WEIGHT`], an item adds at most a million a member, so that a
/// household's total (even of millions of members and hundreds of items)
/// stays far below 2^53, where the scores file could no longer print it
/// exactly, and is always a finite number.
pub const MAX_ITEM_POINTS: f64 = 10_000.0;

/// Largest magnitude of a category's weight (see [`MAX_ITEM_POINTS`]).
pub const MAX_WEIGHT: f64 = 100.0;

/// Most steps (nodes visited, see [`crate::expr::MAX_NODES`]) the
/// conditions of all items may take for one household together: about
/// 3,000 times the bundled model (344 steps), and a bound on scoring's
/// work that no number of items can pass.
pub const MAX_MODEL_STEPS: u64 = 1_000_000;

/// Why the bounds are there, for messages.
const EXACT: &str = ", so that every household's total is a number the scores file prints exactly";

pub(crate) fn build(raw: RawModel, src: &SourceFile, problems: &mut Vec<Problem>) -> Model {
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
            || id.eq_ignore_ascii_case("check_means")
        {
            problems.push(src.problem(
                d.id.span().start,
                format!("department {id}"),
                "department ids are 1 to 64 ASCII letters, digits, `_` or `-`, not `chain` or `check_means` \
                 (`dispatch` names a file after each, beside chain.csv and check_means.csv)",
            ));
        }
        if departments.iter().any(|x| x.id.eq_ignore_ascii_case(&id)) {
            problems.push(src.problem(
                d.id.span().start,
                format!("department {id}"),
                "this id is declared twice",
            ));
        }
        departments.push(Department { id, name: d.name, name_en: d.name_en, due_days: d.due_days });
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
        if !weight.is_finite() || weight.abs() > MAX_WEIGHT {
            let at = c.weight.as_ref().map_or(0, |w| w.span().start);
            problems.push(src.problem(
                at,
                &context,
                format!("`weight` must be a number between -{MAX_WEIGHT} and {MAX_WEIGHT}{EXACT}"),
            ));
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
    let mut steps = 0;
    for raw_item in raw.items {
        if let Some(item) = check_item(
            raw_item,
            src,
            &checker,
            &mut steps,
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

    let mut groups: Vec<Group> = Vec::new();
    for g in raw.groups {
        let id = g.id.get_ref().clone();
        let context = format!("group {id}");
        let id_ok = (1..=64).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_alphabetic())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !id_ok {
            problems.push(src.problem(
                g.id.span().start,
                &context,
                "group ids are 1 to 64 ASCII letters, digits and `_`, starting with a letter (e.g. `elderly_only`)",
            ));
            continue;
        }
        if groups.iter().any(|x| x.id == id) {
            problems.push(src.problem(g.id.span().start, &context, "this group id is used twice"));
            continue;
        }
        let condition = parse(g.when.get_ref()).and_then(|ast| checker.condition(&ast, Scope::Household));
        match condition {
            Ok(condition) => groups.push(Group {
                id,
                name: g.name,
                name_en: g.name_en,
                when: g.when.get_ref().clone(),
                condition,
                description: g.description,
            }),
            Err(e) => problems.push(expr_problem(src, &derived_spans, &g.when, context, e)),
        }
    }

    let mut classes: Vec<Class> = Vec::new();
    for c in raw.classes {
        let id = c.id.get_ref().clone();
        let context = format!("class {id}");
        let id_ok = (1..=64).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_alphabetic())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !id_ok || classes.iter().any(|x| x.id == id) {
            let why = if id_ok {
                "this class id is used twice"
            } else {
                "class ids are 1 to 64 ASCII letters, digits and `_`, starting with a letter (e.g. `dibao`)"
            };
            problems.push(src.problem(c.id.span().start, &context, why));
            continue;
        }
        let department = departments.iter().position(|d| d.id == *c.department.get_ref());
        if department.is_none() {
            let ids: Vec<&str> = departments.iter().map(|d| d.id.as_str()).collect();
            problems.push(src.problem(
                c.department.span().start,
                &context,
                format!(
                    "department \"{}\" is not declared; declared: {}",
                    c.department.get_ref(),
                    ids.join(", ")
                ),
            ));
        }
        let compile =
            |when: &Spanned<String>, what: &str, problems: &mut Vec<Problem>| match parse(when.get_ref())
                .and_then(|ast| checker.condition(&ast, Scope::Household))
            {
                Ok(b) => Some(b),
                Err(e) => {
                    problems.push(expr_problem(src, &derived_spans, when, format!("{context} ({what})"), e));
                    None
                }
            };
        let eligible = compile(&c.eligible, "eligible", problems);
        let enrolled = compile(&c.enrolled, "enrolled", problems);
        if let (Some(eligible), Some(enrolled), Some(department)) = (eligible, enrolled, department) {
            classes.push(Class {
                id,
                name: c.name,
                name_en: c.name_en,
                eligible_when: c.eligible.get_ref().clone(),
                eligible,
                enrolled_when: c.enrolled.get_ref().clone(),
                enrolled,
                department,
                description: c.description,
            });
        }
    }

    // A mistake in a derived value surfaces again in every item, group or class that uses
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
        groups,
        classes,
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
    // labels for a category's values: only for values it has
    let mut value_labels = Vec::new();
    if let Some(labels) = &c.value_labels {
        match &ty {
            ColumnType::Category(values) => {
                for (value, label) in labels.get_ref() {
                    if !values.contains(value) {
                        problems.push(src.problem(
                            labels.span().start,
                            &context,
                            format!(
                                "`value_labels` names \"{value}\", which is not one of the column's `values`"
                            ),
                        ));
                    } else if label.trim().is_empty() {
                        problems.push(src.problem(
                            labels.span().start,
                            &context,
                            format!("`value_labels`: the label of \"{value}\" is empty"),
                        ));
                    } else {
                        value_labels.push((value.clone(), label.clone()));
                    }
                }
            }
            _ => problems.push(src.problem(
                labels.span().start,
                &context,
                "`value_labels` is only for category columns",
            )),
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
        label: c.label.filter(|l| !l.trim().is_empty()),
        value_labels,
        min,
        max,
        default: None,
        missing_values: c.missing_values,
        optional: c.optional.as_ref().is_some_and(|o| *o.get_ref()),
    };
    if let Some(d) = &c.default {
        match value_for(&column.ty, d.get_ref())
            .and_then(|v| column.check_range(v).map(|()| v).map_err(|e| e.to_string()))
        {
            Ok(v) => column.default = Some(v),
            Err(m) => problems.push(src.problem(d.span().start, &context, format!("`default`: {m}"))),
        }
    }
    if let Some(o) = c.optional.as_ref().filter(|o| *o.get_ref() && c.default.is_none()) {
        problems.push(src.problem(
            o.span().start,
            &context,
            "an optional column needs a `default`: the value every row takes when the file lacks the column",
        ));
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
    steps: &mut u64,
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
    let gate = match it.kind.as_ref().map(|k| k.get_ref().as_str()) {
        None | Some("points") => false,
        Some("gate") => true,
        Some(other) => {
            let at = it.kind.as_ref().map_or(0, |k| k.span().start);
            problems.push(src.problem(
                at,
                &context,
                format!("kind is \"points\" or \"gate\", not \"{other}\""),
            ));
            false
        }
    };
    let points = match (&it.points, gate) {
        (Some(p), false) => *p.get_ref(),
        (None, false) => {
            problems.push(src.problem(
                it.id.span().start,
                &context,
                "the item has no `points`; give them, or make it `kind = \"gate\"` (a sign of means that decides \
                 eligibility and adds no points)",
            ));
            0.0
        }
        (None, true) => 0.0,
        (Some(p), true) => {
            if *p.get_ref() != 0.0 {
                problems.push(src.problem(
                    p.span().start,
                    &context,
                    "a gate adds no points: it decides eligibility (class rules and the check_means list); remove \
                     `points`, or make it an item of points",
                ));
            }
            0.0
        }
    };
    if gate && (it.main || it.trigger.as_ref().is_some_and(|t| *t.get_ref())) {
        problems.push(src.problem(
            it.id.span().start,
            &context,
            "a gate is neither a main indicator nor a trigger: it sends no household to a department by itself",
        ));
    }
    if !points.is_finite() || points.abs() > MAX_ITEM_POINTS {
        let at = it.points.as_ref().map_or(it.id.span().start, |p| p.span().start);
        problems.push(src.problem(
            at,
            &context,
            format!("`points` must be a number between -{MAX_ITEM_POINTS} and {MAX_ITEM_POINTS}{EXACT}"),
        ));
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
    *steps = steps.saturating_add(checker.steps(&ast));
    if *steps > MAX_MODEL_STEPS {
        problems.push(src.problem(
            it.when.span().start,
            &context,
            format!(
                "with the items before it, evaluating the model takes {steps} steps for each household, more \
                 than {MAX_MODEL_STEPS}; compute the values in fewer steps, or split the model",
            ),
        ));
        // counted once: the items after it are not reported again
        *steps = 0;
    }
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
        gate,
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

//! The checked indicator model, built once from the TOML file.

use std::path::Path;

use crate::bands::Bands;
use crate::column::Column;
use crate::error::ModelError;
use crate::expr::{BoolExpr, Scope};
use crate::raw::RawModel;
use crate::scoring::Scoring;
use crate::source::SourceFile;

use crate::build::{build, parse_toml};

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
    /// Household types that evaluations break precision and recall down
    /// by (`[[groups]]`).
    pub groups: Vec<Group>,
    /// Eligibility classes (`[[classes]]`: 特困, 低保, 低边, 刚性支出 …),
    /// the most protective first.
    pub classes: Vec<Class>,
}

/// An eligibility class (`[[classes]]`): who is entitled to it by the
/// rules (income, and the asset tests the rule states), and who is
/// enrolled in it. A household enrolled in no class that meets a class's
/// rule, no gate item firing, is alerted as `not_enrolled` (应纳未纳) to
/// the department of the first such class.
#[derive(Debug, Clone)]
pub struct Class {
    /// Short id (`dibao`).
    pub id: String,
    /// Name, usually Chinese.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// The rule as written.
    pub eligible_when: String,
    /// The rule, compiled (household level).
    pub eligible: BoolExpr,
    /// Who is enrolled, as written.
    pub enrolled_when: String,
    /// Who is enrolled, compiled (household level).
    pub enrolled: BoolExpr,
    /// Index into [`Model::departments`]: who enrols households.
    pub department: usize,
    /// What the class is, for people.
    pub description: Option<String>,
}

/// A household type (`[[groups]]`): elderly only, a member with a
/// disability … A household belongs to every group whose condition holds;
/// groups inform evaluation and never change a score.
#[derive(Debug, Clone)]
pub struct Group {
    /// Short id (`elderly_only`), the name in JSON and tables.
    pub id: String,
    /// Name, usually Chinese.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// The condition as written.
    pub when: String,
    /// The compiled condition, evaluated per household.
    pub condition: BoolExpr,
    /// What the group is, for people.
    pub description: Option<String>,
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
    /// Days it has to answer a referral (限时), when the model says.
    pub due_days: Option<u32>,
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
    /// Whether the item is a gate (`kind = "gate"`): a sign of means that
    /// adds no points but decides eligibility: a household where one
    /// fires meets no class rule (`not_enrolled` is not raised), and an
    /// enrolled one is listed for civil affairs to check (`check_means`).
    pub gate: bool,
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

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;

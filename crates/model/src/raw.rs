//! The model file as written: serde structs that mirror the TOML, before any
//! check. [`crate::Model`] is built from these once, at load.

use serde::Deserialize;
use toml::value::Datetime;
use toml::{Spanned, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    pub model: RawMeta,
    #[serde(default)]
    pub parameters: Vec<RawParameter>,
    #[serde(default)]
    pub departments: Vec<RawDepartment>,
    #[serde(default)]
    pub columns: Vec<RawColumn>,
    #[serde(default)]
    pub categories: Vec<RawCategory>,
    #[serde(default)]
    pub derived: Vec<RawDerived>,
    #[serde(default)]
    pub items: Vec<RawItem>,
    #[serde(default)]
    pub bands: Option<RawBands>,
    #[serde(default)]
    pub identity: Option<RawIdentity>,
    #[serde(default)]
    pub scoring: Option<RawScoring>,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub classes: Vec<RawClass>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClass {
    pub id: Spanned<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub eligible: Spanned<String>,
    pub enrolled: Spanned<String>,
    pub department: Spanned<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    pub id: Spanned<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub when: Spanned<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScoring {
    pub normalise: Option<Spanned<String>>,
    pub age_column: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIdentity {
    pub person_id: Option<Spanned<String>>,
    pub derived: Option<Spanned<String>>,
    pub age_column: Option<Spanned<String>>,
    pub sex_column: Option<Spanned<String>>,
    pub as_of: Option<Spanned<Datetime>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeta {
    pub name: String,
    pub name_en: Option<String>,
    pub version: String,
    pub source: String,
    pub description: Option<String>,
    pub effective_from: Option<Spanned<Datetime>>,
    pub effective_to: Option<Spanned<Datetime>>,
    pub missing_values: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParameter {
    pub name: Spanned<String>,
    pub value: Spanned<Value>,
    pub unit: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDepartment {
    pub id: Spanned<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub due_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawColumn {
    pub name: Spanned<String>,
    pub file: Spanned<String>,
    #[serde(rename = "type")]
    pub ty: Spanned<String>,
    pub unit: Option<String>,
    pub description: Option<String>,
    pub label: Option<String>,
    pub value_labels: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    pub min: Option<Spanned<Value>>,
    pub max: Option<Spanned<Value>>,
    pub values: Option<Spanned<Vec<String>>>,
    pub default: Option<Spanned<Value>>,
    pub missing_values: Option<Vec<String>>,
    pub optional: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCategory {
    pub id: Spanned<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub weight: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDerived {
    pub name: Spanned<String>,
    pub scope: Option<Spanned<String>>,
    pub expr: Spanned<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawItem {
    pub id: Spanned<String>,
    pub category: Spanned<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub when: Spanned<String>,
    pub points: Option<Spanned<f64>>,
    pub kind: Option<Spanned<String>>,
    pub per: Option<Spanned<String>>,
    pub department: Spanned<String>,
    #[serde(default)]
    pub main: bool,
    pub trigger: Option<Spanned<bool>>,
    pub rationale: Option<String>,
    #[serde(default = "yes")]
    pub divide: bool,
    #[serde(default)]
    pub off: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBands {
    pub trigger: Option<Spanned<String>>,
    #[serde(default)]
    pub levels: Vec<RawBand>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBand {
    pub name: Spanned<String>,
    pub label: Option<String>,
    pub label_en: Option<String>,
    pub min: Spanned<f64>,
}

/// A thresholds file: just the `[bands]` table of a model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThresholds {
    pub bands: RawBands,
}

//! Declared input columns and the reading of one cell.

use crate::expr::Scope;
use hhrisk_tables::date::{format_date, parse_date};

/// The type of an input column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnType {
    /// Yes or no: `1`/`0`, `true`/`false`, `yes`/`no`, `y`/`n`, `是`/`否`,
    /// `有`/`无` (`无` only where the column's missing markers leave it out).
    Bool,
    /// A whole number.
    Integer,
    /// A decimal number.
    Decimal,
    /// One of a declared list of values (at most 64).
    Category(Vec<String>),
    /// A calendar date: `2024-03-05`, `2024/3/5`, `2024.03.05` or `20240305`.
    Date,
}

impl ColumnType {
    /// The name used for this type in model files.
    pub fn keyword(&self) -> &'static str {
        match self {
            ColumnType::Bool => "bool",
            ColumnType::Integer => "integer",
            ColumnType::Decimal => "decimal",
            ColumnType::Category(_) => "category",
            ColumnType::Date => "date",
        }
    }
}

/// Spellings accepted for yes.
pub const TRUE_WORDS: &[&str] = &["1", "true", "TRUE", "True", "yes", "Yes", "YES", "y", "Y", "是", "有"];
/// Spellings accepted for no.
pub const FALSE_WORDS: &[&str] = &["0", "false", "FALSE", "False", "no", "No", "NO", "n", "N", "否", "无"];

/// An input column that a model reads, as declared and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its header name in the CSV file.
    pub name: String,
    /// Which file holds it: `households.csv` or `members.csv`.
    pub file: Scope,
    /// Its position among the declared columns of its file.
    pub slot: usize,
    /// Its type.
    pub ty: ColumnType,
    /// Unit of measure (`yuan`, `years` …), for people.
    pub unit: Option<String>,
    /// What it means, for people.
    pub description: Option<String>,
    /// Its header in lists people read, in Chinese (`年人均纯收入`): the
    /// name when there is none.
    pub label: Option<String>,
    /// A category's values as people read them (`chronic` → `慢性病`), for
    /// the lists people open; values without one are shown as written.
    pub value_labels: Vec<(String, String)>,
    /// Smallest allowed value (day number for dates).
    pub min: Option<f64>,
    /// Largest allowed value (day number for dates).
    pub max: Option<f64>,
    /// The value a missing cell stands for; `None` means a missing cell is an
    /// error and the household is refused.
    pub default: Option<f64>,
    /// Cell texts that mean "missing" for this column, replacing the model's
    /// list (e.g. when `无` is a real answer here).
    pub missing_values: Option<Vec<String>>,
    /// The file may lack the column: every row then takes the `default`
    /// (which an optional column must have), and the reader says so.
    pub optional: bool,
}

/// Why a cell could not be read. Displayed, it says what is wrong and how
/// to fix it: the message a roster's problem carries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CellError {
    /// Empty, or a missing-value marker, in a column with no `default`.
    #[error("value is missing{}; fill it in, or give column `{column}` a `default` in the model", quoted_in_brackets(.text))]
    Missing {
        /// The cell's text (empty, or the marker).
        text: String,
        /// The column.
        column: String,
    },
    /// Not a yes/no word.
    #[error("\"{0}\" is not yes/no; write 1 or 0 (also accepted: true/false, 是/否)")]
    NotYesNo(String),
    /// Not a whole number.
    #[error("\"{0}\" is not a whole number; write digits only, like 42")]
    NotWhole(String),
    /// Not a number.
    #[error("\"{0}\" is not a number; write it like 8500 or 8500.50, without separators or units")]
    NotNumber(String),
    /// Not one of a category column's values.
    #[error("\"{text}\" is not an allowed value; use one of: {allowed}")]
    NotAllowed {
        /// The cell's text.
        text: String,
        /// The values allowed, listed.
        allowed: String,
    },
    /// Not a date.
    #[error("\"{0}\" is not a date; write it like 2024-06-30")]
    NotDate(String),
    /// A number too large for any roster (and for exact arithmetic).
    #[error("\"{text}\" is out of range: too large a number for any roster{allowed}")]
    TooLarge {
        /// The cell's text.
        text: String,
        /// What the column allows, as `; the column allows …`, if it says.
        allowed: String,
    },
    /// Outside the column's declared range.
    #[error("{value} is outside the allowed range {min} to {max}{unit}; correct the value, or widen the range in the model")]
    OutOfRange {
        /// The value, as people write it.
        value: String,
        /// The lower bound, `…` when there is none.
        min: String,
        /// The upper bound, `…` when there is none.
        max: String,
        /// The unit, with a leading space, or nothing.
        unit: String,
    },
}

/// ` ("text")`, or nothing for empty text.
fn quoted_in_brackets(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(" (\"{text}\")")
    }
}

/// Digits with an optional sign: a whole number, whatever its size.
fn is_digits(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

impl Column {
    /// The error for a number too large for any roster.
    fn too_large(&self, text: &str) -> CellError {
        let allowed = match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("; the column allows {lo} to {hi}"),
            (Some(lo), None) => format!("; the column allows {lo} and more"),
            (None, Some(hi)) => format!("; the column allows up to {hi}"),
            (None, None) => String::new(),
        };
        CellError::TooLarge { text: text.to_string(), allowed }
    }

    /// Reads one cell into the evaluator's number form. `missing` is the
    /// model's list of missing-value markers. The error says what is wrong
    /// and how to fix it.
    pub fn parse_cell(&self, text: &str, missing: &[String]) -> Result<f64, CellError> {
        let text = text.trim();
        if self.is_missing(text, missing) {
            return self
                .default
                .ok_or_else(|| CellError::Missing { text: text.to_string(), column: self.name.clone() });
        }
        let value = match &self.ty {
            ColumnType::Bool => {
                if TRUE_WORDS.contains(&text) {
                    1.0
                } else if FALSE_WORDS.contains(&text) {
                    0.0
                } else {
                    return Err(CellError::NotYesNo(text.to_string()));
                }
            }
            ColumnType::Integer => match text.parse::<i64>() {
                Ok(v) if v.unsigned_abs() < (1 << 53) => v as f64,
                _ if is_digits(text) => return Err(self.too_large(text)),
                _ => return Err(CellError::NotWhole(text.to_string())),
            },
            ColumnType::Decimal => match text.parse::<f64>() {
                Ok(v)
                    if v.is_finite() && text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
                {
                    v
                }
                Ok(v)
                    if v.is_infinite()
                        && text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
                {
                    return Err(self.too_large(text))
                }
                _ => return Err(CellError::NotNumber(text.to_string())),
            },
            ColumnType::Category(values) => match values.iter().position(|v| v == text) {
                Some(i) => i as f64,
                None => {
                    return Err(CellError::NotAllowed { text: text.to_string(), allowed: values.join(", ") })
                }
            },
            ColumnType::Date => match parse_date(text) {
                Some(d) => f64::from(d),
                None => return Err(CellError::NotDate(text.to_string())),
            },
        };
        self.check_range(value).map(|()| value)
    }

    /// Whether a cell's text means "missing" for this column.
    pub fn is_missing(&self, text: &str, missing: &[String]) -> bool {
        let text = text.trim();
        // Numbers, the bulk of cells, start with a digit that no usual
        // missing marker starts with: skip the comparisons for them.
        if text.as_bytes().first().is_some_and(u8::is_ascii_digit) && !self.digit_marker(missing) {
            return false;
        }
        text.is_empty() || self.missing_values.as_deref().unwrap_or(missing).iter().any(|m| m == text)
    }

    /// Whether some missing marker starts with a digit (rare, e.g. `0`).
    fn digit_marker(&self, missing: &[String]) -> bool {
        self.missing_values
            .as_deref()
            .unwrap_or(missing)
            .iter()
            .any(|m| m.as_bytes().first().is_some_and(u8::is_ascii_digit))
    }

    /// Whether a value lies in the declared range; the error says which.
    pub fn check_range(&self, value: f64) -> Result<(), CellError> {
        let below = self.min.is_some_and(|min| value < min);
        let above = self.max.is_some_and(|max| value > max);
        if below || above {
            let bound = |b: Option<f64>| b.map_or_else(|| "…".to_string(), |b| self.format_value(b));
            return Err(CellError::OutOfRange {
                value: self.format_value(value),
                min: bound(self.min),
                max: bound(self.max),
                unit: self.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Shows a value of this column as people write it.
    pub fn format_value(&self, value: f64) -> String {
        match &self.ty {
            ColumnType::Bool => if value != 0.0 { "yes" } else { "no" }.to_string(),
            ColumnType::Category(values) => {
                values.get(value as usize).cloned().unwrap_or_else(|| value.to_string())
            }
            ColumnType::Date => format_date(value as i32),
            ColumnType::Integer | ColumnType::Decimal => value.to_string(),
        }
    }

    /// A value as people read it in Chinese: a category's value label
    /// (`慢性病`), yes/no as 是/否; anything else as [`Column::format_value`].
    pub fn format_value_zh(&self, value: f64) -> String {
        match &self.ty {
            ColumnType::Bool => if value != 0.0 { "是" } else { "否" }.to_string(),
            ColumnType::Category(values) => {
                let text = values.get(value as usize).map(String::as_str);
                match text.and_then(|t| self.value_labels.iter().find(|(v, _)| v == t)) {
                    Some((_, label)) => label.clone(),
                    None => self.format_value(value),
                }
            }
            _ => self.format_value(value),
        }
    }

    /// The column's header in lists people read, in Chinese: its `label`,
    /// else its name.
    pub fn label_zh(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(ty: ColumnType) -> Column {
        Column {
            name: "c".into(),
            file: Scope::Household,
            slot: 0,
            ty,
            unit: Some("yuan".into()),
            description: None,
            label: None,
            value_labels: Vec::new(),
            min: Some(-1000.0),
            max: Some(100_000.0),
            default: None,
            missing_values: None,
            optional: false,
        }
    }

    #[test]
    fn cells_are_read_by_type() {
        let missing = vec!["N/A".to_string(), "无".to_string()];
        let dec = column(ColumnType::Decimal);
        assert_eq!(dec.parse_cell(" 8500.5 ", &missing), Ok(8500.5));
        assert_eq!(dec.parse_cell("-300", &missing), Ok(-300.0));
        assert!(dec.parse_cell("8,500", &missing).unwrap_err().to_string().contains("not a number"));
        assert!(dec.parse_cell("inf", &missing).unwrap_err().to_string().contains("not a number"));
        assert!(dec
            .parse_cell("200000", &missing)
            .unwrap_err()
            .to_string()
            .contains("outside the allowed range -1000 to 100000 yuan"));
        assert!(dec.parse_cell("N/A", &missing).unwrap_err().to_string().contains("missing (\"N/A\")"));
        assert!(dec
            .parse_cell("", &missing)
            .unwrap_err()
            .to_string()
            .contains("give column `c` a `default`"));

        let int = column(ColumnType::Integer);
        assert_eq!(int.parse_cell("42", &missing), Ok(42.0));
        assert!(int.parse_cell("4.5", &missing).unwrap_err().to_string().contains("whole number"));

        let b = Column { default: Some(0.0), ..column(ColumnType::Bool) };
        assert_eq!(b.parse_cell("是", &missing), Ok(1.0));
        assert_eq!(b.parse_cell("N", &missing), Ok(0.0));
        assert_eq!(b.parse_cell("无", &missing), Ok(0.0));
        assert!(b.parse_cell("maybe", &missing).is_err());

        let cat =
            Column { min: None, max: None, ..column(ColumnType::Category(vec!["A".into(), "B".into()])) };
        assert_eq!(cat.parse_cell("B", &missing), Ok(1.0));
        assert!(cat.parse_cell("C", &missing).unwrap_err().to_string().contains("use one of: A, B"));

        let date = Column { min: None, max: None, ..column(ColumnType::Date) };
        assert_eq!(date.parse_cell("2024/1/2", &missing), Ok(19_724.0));
        assert_eq!(date.format_value(19_724.0), "2024-01-02");
    }

    #[test]
    fn a_column_can_have_its_own_missing_markers() {
        // Here 无 is a real answer ("none"), not a missing value.
        let c = Column { missing_values: Some(vec![String::new()]), ..column(ColumnType::Bool) };
        assert_eq!(c.parse_cell("无", &["无".to_string()]), Ok(0.0));
        assert!(c.parse_cell("", &["无".to_string()]).unwrap_err().to_string().contains("missing"));
    }
}

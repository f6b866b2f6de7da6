//! Feedback (反馈): departments' returns merged into the roster's
//! `outcomes.csv`, with what does not fit reported.

use std::collections::BTreeMap;
use std::path::Path;

use hhrisk_tables::{Encoding, TextTable};

use hhrisk_tables::OutTable;

/// Why returns could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    /// A table could not be read.
    #[error(transparent)]
    Table(#[from] hhrisk_tables::TableError),
    /// A table lacks a column or has a bad value.
    #[error("{origin}: {message}")]
    Invalid {
        /// The table.
        origin: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// One department's answer about one household.
#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    /// Where it was read (file or sheet).
    pub origin: String,
    /// Line or row.
    pub line: u64,
    /// The household.
    pub household_id: String,
    /// The answering department.
    pub department: Option<String>,
    /// Whether the department found the household in need.
    pub verified_need: bool,
    /// What it gave (`education;medical`).
    pub assistance: Vec<String>,
    /// How much it gave (yuan), when said.
    pub amount: Option<f64>,
}

/// The dispatched households, from a dispatch folder's chain file:
/// household → departments it was sent to.
pub fn read_chain(
    dispatch: &Path,
    encoding: Encoding,
) -> Result<BTreeMap<String, Vec<String>>, FeedbackError> {
    let path = ["chain.csv", "chain.xlsx"]
        .iter()
        .map(|f| dispatch.join(f))
        .find(|p| p.is_file())
        .unwrap_or_else(|| dispatch.join("chain.csv"));
    // a workbook written in Chinese names its sheet so
    let t = match TextTable::read(&path, "chain", encoding) {
        Ok(t) => t,
        Err(first) => TextTable::read(&path, "救助链", encoding).map_err(|_| first)?,
    };
    let column = |key: &str| t.column(key).or_else(|| t.column(crate::dispatch::header_zh(key)));
    let (Some(id), Some(depts)) = (column("household_id"), column("departments")) else {
        return Err(FeedbackError::Invalid {
            origin: t.origin.to_string(),
            message: "not a chain file written by hhrisk dispatch".into(),
        });
    };
    // departments written by their Chinese names, back to their ids, from
    // the names dispatch.json records
    let names = department_names(dispatch);
    let id_of =
        |d: &str| names.iter().find(|(_, name)| name == d).map_or(d, |(id, _)| id.as_str()).to_string();
    Ok(t.rows
        .iter()
        .map(|(_, r)| {
            let d = r.get(depts).map_or("", String::as_str);
            (
                hhrisk_tables::restore(&r[id]).into_owned(),
                d.split(';').filter(|s| !s.is_empty()).map(id_of).collect(),
            )
        })
        .collect())
}

/// The departments' names by id that a dispatch folder's `dispatch.json`
/// records (`department_names`); none when it has no such record.
fn department_names(dispatch: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(dispatch.join("dispatch.json")) else { return Vec::new() };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    json["department_names"]
        .as_object()
        .map(|m| m.iter().filter_map(|(id, n)| Some((id.clone(), n.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// Reads one returns file (CSV; of a workbook, the sheet `returns`, else
/// the sheet named after the file, else its only sheet). Columns: `household_id`, `verified_need`
/// (1/0, 是/否; empty: not answered yet, the row is left out), optional
/// `assistance` and `department`; without a `department` column the file's
/// name is taken as the department id. A department's dispatch list, its
/// return columns filled in, is such a file.
pub fn read_returns(path: &Path, encoding: Encoding) -> Result<Vec<Return>, FeedbackError> {
    // a workbook: its sheet `returns`, else the one named after the file
    // (a list keeps its department's id), else its only sheet (a list
    // written in Chinese names its sheet after the department's name)
    let sheet = match hhrisk_tables::is_workbook(path) {
        false => "returns".to_string(),
        true => {
            let names = hhrisk_tables::sheet_names(path)?;
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match names.as_slice() {
                _ if names.iter().any(|n| n == "returns") => "returns".to_string(),
                _ if names.contains(&stem) => stem,
                [only] => only.clone(),
                _ => "returns".to_string(),
            }
        }
    };
    let t = TextTable::read(path, &sheet, encoding)?;
    let origin = t.origin.to_string();
    let invalid = |message: String| FeedbackError::Invalid { origin: origin.clone(), message };
    // a list written in Chinese comes back with Chinese headers
    let column = |key: &str| t.column(key).or_else(|| t.column(crate::dispatch::header_zh(key)));
    let (Some(id_at), Some(need_at)) = (column("household_id"), column("verified_need")) else {
        return Err(invalid(format!(
            "line 1 (header): a return needs columns `household_id` and `verified_need` (1 or 0), or `{}` and `{}` \
             as Chinese lists name them",
            crate::dispatch::header_zh("household_id"),
            crate::dispatch::header_zh("verified_need")
        )));
    };
    let (assist_at, dept_at, amount_at) = (column("assistance"), column("department"), column("amount"));
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let mut out = Vec::new();
    for (line, row) in &t.rows {
        let get = |i: usize| row.get(i).map_or("", String::as_str);
        let id = hhrisk_tables::restore(get(id_at)).into_owned();
        let verified_need = match get(need_at).trim() {
            // a dispatch list returned before this row was answered: the
            // household stays unanswered (and is reported so)
            "" => continue,
            "1" | "是" | "yes" | "true" => true,
            "0" | "否" | "no" | "false" => false,
            other => {
                return Err(invalid(format!(
                    "line {line}, column {} (verified_need), household {id}: \"{other}\" must be 1 or 0",
                    need_at + 1
                )))
            }
        };
        let amount = match amount_at.map(get).map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => match a.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ => {
                    return Err(invalid(format!(
                        "line {line}, column {} (amount), household {id}: \"{a}\" is not an amount in yuan; write \
                         a plain number such as 1200, or leave it empty",
                        amount_at.map_or(0, |i| i + 1)
                    )))
                }
            },
        };
        out.push(Return {
            origin: origin.clone(),
            line: *line,
            amount,
            household_id: id,
            department: dept_at
                .map(|i| get(i).to_string())
                .filter(|d| !d.is_empty())
                .or_else(|| stem.clone()),
            verified_need,
            assistance: assist_at
                .map(get)
                .unwrap_or("")
                .split([';', '；', ','])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                // the Chinese names of the drop-down, as their keys
                .map(|s| {
                    let key = crate::dispatch::ASSISTANCE_ZH.iter().find(|(_, zh)| *zh == s).map(|(k, _)| *k);
                    key.unwrap_or(s).to_string()
                })
                .collect(),
        });
    }
    Ok(out)
}

/// A return that does not fit the dispatch.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    /// `unknown_household`, `unknown_department`, `conflict` or
    /// `unanswered`.
    pub kind: &'static str,
    /// The household.
    pub household_id: String,
    /// Where (file and line), when a return is at fault.
    pub at: Option<String>,
    /// What happened.
    pub message: String,
}

/// Returns merged into outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// `outcomes.csv`: one row per household and department that answered
    /// (household_id, department, verified_need, assistance, amount,
    /// batch); readers take a household as in need when any department
    /// found it so.
    pub outcomes: OutTable,
    /// What did not fit.
    pub problems: Vec<Problem>,
}

/// Merges returns. A household is in need when any department that
/// answered found it so (one that helped has verified the need); two
/// departments disagreeing is reported as a conflict. Returns for
/// households never dispatched are reported and left out; dispatched
/// households nobody answered for are reported and left out (they are not
/// verified).
pub fn merge(chain: &BTreeMap<String, Vec<String>>, returns: &[Return], batch: &str) -> Merged {
    let mut answers: BTreeMap<&str, Vec<&Return>> = BTreeMap::new();
    let mut problems = Vec::new();
    for r in returns {
        let sent_to = chain.get(&r.household_id);
        let department =
            r.department.as_deref().filter(|d| sent_to.is_some_and(|s| !s.iter().any(|x| x == d)));
        if let (Some(sent_to), Some(d)) = (sent_to, department) {
            // an answer from a department the household was not sent to
            // (a mistyped department, a file named after another)
            problems.push(Problem {
                kind: "unknown_department",
                household_id: r.household_id.clone(),
                at: Some(format!("{}: line {}", r.origin, r.line)),
                message: format!(
                    "department {d} answered for household {}, which was sent to {} only; the answer is left out: \
                     check the department column, or the file's name",
                    r.household_id,
                    if sent_to.is_empty() { "no department".to_string() } else { sent_to.join(", ") }
                ),
            });
        } else if sent_to.is_some() {
            answers.entry(&r.household_id).or_default().push(r);
        } else {
            problems.push(Problem {
                kind: "unknown_household",
                household_id: r.household_id.clone(),
                at: Some(format!("{}: line {}", r.origin, r.line)),
                message: format!(
                    "household {} was never dispatched in this batch; check the id, or dispatch it first",
                    r.household_id
                ),
            });
        }
    }
    let mut outcomes = OutTable {
        header: ["household_id", "department", "verified_need", "assistance", "amount", "batch"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: Vec::new(),
        ..OutTable::default()
    };
    for (id, sent_to) in chain {
        let Some(list) = answers.get(id.as_str()) else {
            problems.push(Problem {
                kind: "unanswered",
                household_id: id.clone(),
                at: None,
                message: format!(
                    "dispatched to {} and nobody answered; it stays unverified",
                    sent_to.join(", ")
                ),
            });
            continue;
        };
        let yes: Vec<String> = list.iter().filter(|r| r.verified_need).map(|r| who(r)).collect();
        let no: Vec<String> = list.iter().filter(|r| !r.verified_need).map(|r| who(r)).collect();
        if !yes.is_empty() && !no.is_empty() {
            problems.push(Problem {
                kind: "conflict",
                household_id: id.clone(),
                at: None,
                message: format!(
                    "in need according to {}, not according to {}; recorded as in need, check with the departments",
                    yes.join(", "),
                    no.join(", ")
                ),
            });
        }
        // one row per department that answered, in the order of the
        // answers; a department answering twice differently is reported,
        // its first answer kept (the same answer on several rows, as on
        // each member's row of a list, is one answer)
        let mut seen: Vec<(String, &Return)> = Vec::new();
        for r in list {
            let department = r.department.clone().unwrap_or_default();
            if let Some((_, first)) = seen.iter().find(|(d, _)| *d == department) {
                let same = (first.verified_need, &first.assistance, first.amount)
                    == (r.verified_need, &r.assistance, r.amount);
                if same {
                    continue;
                }
                problems.push(Problem {
                    kind: "repeated",
                    household_id: id.clone(),
                    at: Some(format!("{}: line {}", r.origin, r.line)),
                    message: format!(
                        "{} answered twice for this household; the first answer is kept, remove the other",
                        who(r)
                    ),
                });
                continue;
            }
            seen.push((department.clone(), r));
            outcomes.rows.push(vec![
                id.clone(),
                department,
                if r.verified_need { "1" } else { "0" }.to_string(),
                r.assistance.join(";"),
                r.amount.map(|a| format!("{a}")).unwrap_or_default(),
                batch.to_string(),
            ]);
        }
    }
    Merged { outcomes, problems }
}

fn who(r: &Return) -> String {
    r.department.clone().unwrap_or_else(|| format!("{} line {}", r.origin, r.line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ret(id: &str, dept: &str, need: bool, assistance: &[&str]) -> Return {
        Return {
            origin: format!("{dept}.csv"),
            line: 2,
            household_id: id.into(),
            department: Some(dept.into()),
            verified_need: need,
            assistance: assistance.iter().map(|s| s.to_string()).collect(),
            amount: None,
        }
    }

    #[test]
    fn returns_merge_with_conflicts_unknowns_and_silence_reported() {
        let chain: BTreeMap<String, Vec<String>> = [
            ("H1".to_string(), vec!["education".to_string(), "medical_security".to_string()]),
            ("H2".to_string(), vec!["education".to_string()]),
            ("H3".to_string(), vec!["jobs".to_string()]),
        ]
        .into();
        let returns = vec![
            ret("H1", "education", true, &["education"]),
            ret("H1", "medical_security", false, &[]),
            ret("H2", "education", false, &[]),
            ret("H9", "education", true, &["education"]),
        ];
        let m = merge(&chain, &returns, "2024-Q3");
        assert_eq!(
            m.outcomes.rows,
            vec![
                vec!["H1", "education", "1", "education", "", "2024-Q3"],
                vec!["H1", "medical_security", "0", "", "", "2024-Q3"],
                vec!["H2", "education", "0", "", "", "2024-Q3"]
            ]
        );
        let kinds: Vec<(&str, &str)> = m.problems.iter().map(|p| (p.kind, p.household_id.as_str())).collect();
        assert_eq!(kinds, [("unknown_household", "H9"), ("conflict", "H1"), ("unanswered", "H3")]);
        assert!(m.problems[1]
            .message
            .contains("in need according to education, not according to medical_security"));
    }

    /// A Chinese list returned with an answer on each member's row: read
    /// under its Chinese headers, its drop-down's kinds as their keys, the
    /// same answer on several rows one answer, a different one reported.
    #[test]
    fn a_chinese_list_answered_on_every_member_row_is_one_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("education.csv");
        std::fs::write(
            &path,
            "户编号,村（社区）,身份证号,核实需要帮扶（1是0否）,帮扶措施,帮扶金额（元）\n\
             H1,花园村,420921********0011,1,教育资助；医疗救助,500\n\
             H1,花园村,420921********0022,1,教育资助；医疗救助,500\n\
             H2,花园村,420921********0033,0,,\n\
             H2,花园村,420921********0044,1,教育资助,\n\
             H3,花园村,420921********0055,,,\n",
        )
        .unwrap();
        let returns = read_returns(&path, Encoding::Auto).unwrap();
        assert_eq!(returns.len(), 4, "the unanswered row is skipped");
        assert_eq!(returns[0].assistance, ["education", "medical"]);
        assert_eq!(returns[0].department.as_deref(), Some("education"), "from the file's name");
        let chain: BTreeMap<String, Vec<String>> = [
            ("H1".to_string(), vec!["education".to_string()]),
            ("H2".to_string(), vec!["education".to_string()]),
            ("H3".to_string(), vec!["education".to_string()]),
        ]
        .into();
        let m = merge(&chain, &returns, "b");
        assert_eq!(
            m.outcomes.rows,
            vec![
                vec!["H1", "education", "1", "education;medical", "500", "b"],
                vec!["H2", "education", "0", "", "", "b"],
            ]
        );
        let kinds: Vec<(&str, &str)> = m.problems.iter().map(|p| (p.kind, p.household_id.as_str())).collect();
        assert_eq!(kinds, [("conflict", "H2"), ("repeated", "H2"), ("unanswered", "H3")]);
    }
}

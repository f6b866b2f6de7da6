//! Reading a roster folder (`households.csv`, `members.csv`) against a
//! model's declared columns.
//!
//! Each cell of a declared column is parsed once into the evaluator's number
//! form; the text is not kept. Every problem becomes an [`Issue`] with file,
//! line, column and key, and refuses the household it belongs to; the other
//! households are kept. Problems that make the whole file unreadable (no
//! such file, a declared column missing from the header) are a
//! [`RosterError`].

use std::path::{Path, PathBuf};

use hhrisk_model::expr::{Inputs, Scope};
use hhrisk_model::Model;
use hhrisk_tables::date::format_date;

pub(crate) use crate::assemble::*;
pub use crate::assemble::{fold_id, MAX_COLUMNS, MAX_ROW_BYTES};
pub(crate) use crate::layout::*;

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
    /// The work done with the households, or the writing of its
    /// output, failed.
    #[error(transparent)]
    Work(#[from] crate::stream::WorkError),
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

impl Issue {
    /// A problem with a whole row of `file` (no one cell), concerning
    /// `household`.
    pub(crate) fn of_row(file: &str, line: u64, household: &str, message: String) -> Issue {
        Issue {
            file: file.to_string(),
            line,
            column: None,
            household_id: Some(household.to_string()),
            household_line: None,
            person_id: None,
            message,
        }
    }

    /// A problem with a whole row of households.csv.
    pub(crate) fn of_household(file: &str, line: u64, household: &str, message: String) -> Issue {
        Issue { household_line: Some(line), ..Issue::of_row(file, line, household, message) }
    }

    /// The problem with everything that looks like a resident ID number
    /// masked (in its household id, person id and message), however it is
    /// written: what is shown when ids are not asked for unmasked.
    pub fn masked(&self) -> Issue {
        use crate::privacy::scrub;
        let shown = self.escaped();
        Issue {
            household_id: shown.household_id.as_deref().map(|h| scrub(h).into_owned()),
            person_id: shown.person_id.as_deref().map(|p| scrub(p).into_owned()),
            message: scrub(&shown.message).into_owned(),
            ..shown
        }
    }

    /// The problem with control characters in its texts written as their
    /// codes (see [`escape_controls`](crate::privacy::escape_controls)).
    pub fn escaped(&self) -> Issue {
        use crate::privacy::escape_controls;
        Issue {
            household_id: self.household_id.as_deref().map(|h| escape_controls(h).into_owned()),
            person_id: self.person_id.as_deref().map(|p| escape_controls(p).into_owned()),
            message: escape_controls(&self.message).into_owned(),
            ..self.clone()
        }
    }

    /// The problem of a household row that no member row follows.
    pub(crate) fn no_members(file: &str, line: u64, household: &str) -> Issue {
        let message = "the household has no members in members.csv; add its members, or remove the row";
        Issue::of_household(file, line, household, message.to_string())
    }
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
    pub(crate) values: usize,
    pub(crate) members: std::ops::Range<usize>,
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
    pub(crate) household_values: Vec<f64>,
    pub(crate) household_stride: usize,
    pub(crate) member_values: Vec<f64>,
    pub(crate) member_stride: usize,
    pub(crate) person_ids: Vec<String>,
    pub(crate) member_lines: Vec<u64>,
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
pub(crate) struct Table {
    pub(crate) path: String,
    pub(crate) stride: usize,
    pub(crate) values: Vec<f64>,
    pub(crate) rows: Vec<Row>,
    pub(crate) issues: Vec<Issue>,
}

pub(crate) struct Row {
    pub(crate) line: u64,
    /// `household_id`.
    pub(crate) household: String,
    /// `village` for households, `person_id` for members.
    pub(crate) key: String,
    pub(crate) ok: bool,
}

/// How a declared column is checked against what a resident ID number says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FromId {
    Age,
    Sex { male: f64, female: f64 },
}

/// What a resident ID number says of a person, for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Said {
    Age(i64),
    Sex(bool),
}

impl Said {
    pub(crate) fn words(self, id: &hhrisk_model::Identity) -> String {
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

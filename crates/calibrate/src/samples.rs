//! Sample villages with verified outcomes, scored once and held as
//! matrices.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hhrisk_model::Model;
use hhrisk_model::Normalise;
use hhrisk_roster::{ReadOptions, Roster, RosterError};
use hhrisk_score::{HouseholdScore, ScoreMatrix, Scorer};
use hhrisk_tables::{is_workbook, Encoding, TextTable};
use ndarray::{Array1, Array2, Axis};

/// Why samples could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// A roster could not be read.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// A roster has rows that the model refuses; calibration needs every
    /// sample household.
    #[error("{path}: {count} problem(s) in the sample roster, first: {first}; fix them (hhrisk validate lists all)")]
    Refused {
        /// The roster folder.
        path: String,
        /// Number of problems.
        count: usize,
        /// The first one.
        first: String,
    },
    /// An outcomes file is missing or malformed.
    #[error("{path}: {message}")]
    Outcomes {
        /// The file (with line and column where known).
        path: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The folder holds no roster.
    #[error("{0}: no roster found (expected households.csv, or sub-folders that hold one)")]
    NoRoster(String),
}

/// Sample households with outcomes, scored by a model.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Village names, sorted.
    pub villages: Vec<String>,
    /// Per household: index into `villages`.
    pub village: Vec<usize>,
    /// Per household: `household_id`.
    pub ids: Vec<String>,
    /// Per household: verified need.
    pub need: Vec<bool>,
    /// Per household: whether a trigger item fired.
    pub triggered: Vec<bool>,
    /// Item counts, category totals and members.
    pub matrix: ScoreMatrix,
    /// Per household: the normalised score bands apply to.
    pub score: Array1<f64>,
    /// Households read but without an outcome (left out).
    pub unverified: usize,
    /// Households whose outcome says they were verified because alerted
    /// or drawn for an audit (`selected_by`): then the verified households
    /// are no fair sample of all, and recall here cannot be measured.
    pub selected: usize,
    /// Roster folders read.
    pub rosters: Vec<PathBuf>,
}

/// The rosters under `dir`: `dir` itself if it is a roster (a folder with
/// `households.csv`, or a workbook), else its sub-folders and workbooks that
/// are, sorted by name.
pub fn roster_dirs(dir: &Path) -> Result<Vec<PathBuf>, SampleError> {
    let is_roster = |p: &Path| p.join("households.csv").is_file() || (p.is_file() && is_workbook(p));
    if is_roster(dir) {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|source| RosterError::Io { path: dir.display().to_string(), source })?;
    let mut dirs: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| is_roster(p)).collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(SampleError::NoRoster(dir.display().to_string()));
    }
    Ok(dirs)
}

/// Where a roster's outcomes are: `outcomes.csv` in a roster folder, the
/// `outcomes` sheet of a workbook, or the file itself.
pub fn outcomes_of(location: &Path) -> PathBuf {
    if location.is_dir() {
        location.join("outcomes.csv")
    } else {
        location.to_path_buf()
    }
}

/// Verified need and batch by household, from an outcomes table.
pub type Outcomes = HashMap<String, (bool, Option<String>)>;

/// One row of an outcomes table: a household's overall outcome, or one
/// department's answer about it (with a `department` column, one row per
/// household and department).
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRow {
    /// The household.
    pub household_id: String,
    /// The department that answered; `None` for the household's overall
    /// outcome.
    pub department: Option<String>,
    /// Whether it was found in need.
    pub need: bool,
    /// Kinds of assistance given (`education;medical`).
    pub assistance: Vec<String>,
    /// Verification batch.
    pub batch: Option<String>,
    /// Why it was verified: `alert` (it was alerted) or `audit` (drawn at
    /// random from the households not alerted); `None` when the table does
    /// not say (every household verified, as in a sample-village exercise).
    pub selected_by: Option<String>,
}

/// Reads an outcomes table (CSV, or the `outcomes` sheet of a workbook):
/// `household_id` → verified need and batch. With a `department` column a
/// household may have one row per department: it is in need when any
/// department found it so, unless a row without department (its overall
/// outcome) says otherwise.
pub fn read_outcomes(path: &Path, encoding: Encoding) -> Result<Outcomes, SampleError> {
    Ok(outcomes_of_rows(&read_outcome_rows(path, encoding)?))
}

/// Households' outcomes from an outcomes table's rows (see
/// [`read_outcomes`]).
pub fn outcomes_of_rows(rows: &[OutcomeRow]) -> Outcomes {
    let mut out: Outcomes = HashMap::new();
    let overall: std::collections::HashSet<&str> =
        rows.iter().filter(|r| r.department.is_none()).map(|r| r.household_id.as_str()).collect();
    for r in rows {
        let entry = out.entry(r.household_id.clone()).or_insert((false, None));
        if r.department.is_none() {
            entry.0 = r.need;
        } else if !overall.contains(r.household_id.as_str()) {
            entry.0 |= r.need;
        }
        if entry.1.is_none() {
            entry.1.clone_from(&r.batch);
        }
    }
    out
}

/// Every row of an outcomes table, in file order (see [`read_outcomes`]).
/// A household has at most one overall row and one row per department.
pub fn read_outcome_rows(path: &Path, encoding: Encoding) -> Result<Vec<OutcomeRow>, SampleError> {
    let t = TextTable::read(path, "outcomes", encoding).map_err(|e| SampleError::Outcomes {
        path: path.display().to_string(),
        message: format!("{e}; calibration and evaluation need verified outcomes"),
    })?;
    let shown = t.origin.to_string();
    let err = |message: String| SampleError::Outcomes { path: shown.clone(), message };
    let (Some(id_at), Some(need_at)) = (t.column("household_id"), t.column("verified_need")) else {
        return Err(err("line 1 (header): needs columns `household_id` and `verified_need`".into()));
    };
    let (batch_at, dept_at, help_at) = (t.column("batch"), t.column("department"), t.column("assistance"));
    let selected_at = t.column("selected_by");
    let mut out = Vec::new();
    let mut lines: HashMap<(String, String), u64> = HashMap::new();
    for (line, row) in &t.rows {
        let get = |i: usize| row.get(i).map_or("", String::as_str);
        let id = hhrisk_tables::restore(get(id_at)).into_owned();
        let need = match get(need_at) {
            "1" => true,
            "0" => false,
            other => {
                return Err(err(format!(
                    "line {line}, column {} (verified_need), household {id}: \"{other}\" must be 1 or 0",
                    need_at + 1
                )))
            }
        };
        let department = dept_at.map(get).map(str::trim).filter(|d| !d.is_empty()).map(String::from);
        let selected_by = match selected_at.map(get).map(str::trim).unwrap_or("") {
            "" => None,
            s @ ("alert" | "audit") => Some(s.to_string()),
            other => {
                return Err(err(format!(
                    "line {line}, column {} (selected_by), household {id}: \"{other}\" must be `alert` (verified \
                     because alerted) or `audit` (drawn at random from the households not alerted)",
                    selected_at.map_or(0, |i| i + 1)
                )))
            }
        };
        let key = (id.clone(), department.clone().unwrap_or_default());
        if let Some(first) = lines.insert(key, *line) {
            let whose = department.as_ref().map_or(String::new(), |d| format!(" from {d}"));
            return Err(err(format!(
                "line {line}, household {id}: a second outcome{whose} (the first is on line {first}); keep one per \
                 household and department"
            )));
        }
        out.push(OutcomeRow {
            household_id: id,
            department,
            need,
            assistance: help_at
                .map(get)
                .unwrap_or("")
                .split([';', '；', ','])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            batch: batch_at.map(get).filter(|b| !b.is_empty()).map(String::from),
            selected_by,
        });
    }
    Ok(out)
}

impl Samples {
    /// Reads every roster under `dir`, scores it with `model` and joins the
    /// outcomes. Households without an outcome are counted and left out.
    pub fn load(model: &Model, dir: &Path, encoding: Encoding) -> Result<Samples, SampleError> {
        Self::load_with(model, dir, encoding, None)
    }

    /// [`Samples::load`], the outcomes taken from `outcomes` (a case
    /// ledger's verified answers, say) instead of each roster's
    /// outcomes.csv.
    pub fn load_with(
        model: &Model,
        dir: &Path,
        encoding: Encoding,
        outcomes: Option<&[OutcomeRow]>,
    ) -> Result<Samples, SampleError> {
        // every normalisation's divisor is kept, for `fit --normalise auto`
        let scorer = Scorer::new(model, &model.bands).with_equivalents();
        let mut scores: Vec<HouseholdScore> = Vec::new();
        let (mut villages_of, mut ids, mut need) = (Vec::new(), Vec::new(), Vec::new());
        let (mut unverified, mut selected) = (0, 0);
        let rosters = roster_dirs(dir)?;
        for path in &rosters {
            let roster = Roster::read(model, path, &ReadOptions { encoding, ..ReadOptions::default() })?;
            if let Some(first) = roster.issues.first() {
                return Err(SampleError::Refused {
                    path: path.display().to_string(),
                    count: roster.issues.len(),
                    first: first.to_string(),
                });
            }
            let rows = match outcomes {
                Some(given) => {
                    let here: std::collections::HashSet<&str> =
                        roster.households.iter().map(|h| h.id.as_str()).collect();
                    given.iter().filter(|r| here.contains(r.household_id.as_str())).cloned().collect()
                }
                None => read_outcome_rows(&outcomes_of(path), encoding)?,
            };
            selected += rows.iter().filter(|r| r.selected_by.is_some()).count();
            let outcomes = outcomes_of_rows(&rows);
            for h in &roster.households {
                let Some(&(verified, _)) = outcomes.get(&h.id) else {
                    unverified += 1;
                    continue;
                };
                scores.push(scorer.score(&roster.inputs(h)));
                villages_of.push(h.village.clone());
                ids.push(h.id.clone());
                need.push(verified);
            }
        }
        let mut villages: Vec<String> = villages_of.clone();
        villages.sort();
        villages.dedup();
        let village = villages_of.iter().map(|v| villages.binary_search(v).unwrap_or(0)).collect();
        let matrix = ScoreMatrix::from_scores(scores.iter(), model.items.len(), model.categories.len());
        let triggered = scores.iter().map(|s| s.triggered).collect();
        let score = matrix.score.clone();
        Ok(Samples { villages, village, ids, need, triggered, matrix, score, unverified, selected, rosters })
    }

    /// Number of households.
    pub fn len(&self) -> usize {
        self.need.len()
    }

    /// Whether there are no households.
    pub fn is_empty(&self) -> bool {
        self.need.is_empty()
    }

    /// Scores under the model's normalisation with other item points
    /// (same order as the model's items), category weights kept.
    /// Computed as the scorer computes it, `(total - undivided) / divisor +
    /// undivided`, so that the model's own points give back the scores
    /// to the last bit.
    pub fn rescore(&self, model: &Model, points: &[f64]) -> Array1<f64> {
        let weighted = |keep: &dyn Fn(&hhrisk_model::Item) -> bool| -> Array1<f64> {
            model
                .items
                .iter()
                .zip(points)
                .map(|(item, p)| if keep(item) { model.categories[item.category].weight * p } else { 0.0 })
                .collect()
        };
        let total = self.matrix.item_counts.dot(&weighted(&|_| true));
        let divisor = self.divisor(model.scoring.normalise);
        if model.items.iter().all(|i| i.divide) {
            return total / divisor;
        }
        let undivided = self.matrix.item_counts.dot(&weighted(&|i| !i.divide));
        (total - &undivided) / divisor + undivided
    }

    /// What each household divides its points by under `normalise`.
    pub fn divisor(&self, normalise: Normalise) -> Array1<f64> {
        let m = &self.matrix;
        m.members.iter().zip(&m.equivalents).map(|(&n, &e)| normalise.divisor(n, e)).collect()
    }

    /// The design matrix under `normalise`: per household and item,
    /// category weight × count, divided by the household's divisor unless
    /// the item says `divide = false`; a household's score is this row ·
    /// points.
    pub fn features(&self, model: &Model, normalise: Normalise) -> Array2<f64> {
        let divisor = self.divisor(normalise);
        let mut x = self.matrix.item_counts.clone();
        for (j, item) in model.items.iter().enumerate() {
            let weight = model.categories[item.category].weight;
            let mut column = x.column_mut(j);
            if item.divide {
                column.zip_mut_with(&divisor, |v, d| *v = weight * *v / d);
            } else {
                column.mapv_inplace(|v| weight * v);
            }
        }
        x
    }

    /// Per household, whether item `j` counted.
    pub fn fires(&self, j: usize) -> impl Iterator<Item = bool> + '_ {
        self.matrix
            .item_counts
            .index_axis(Axis(1), j)
            .into_iter()
            .map(|c| *c > 0.0)
            .collect::<Vec<_>>()
            .into_iter()
    }
}

//! Sample villages with verified outcomes, scored once and held as
//! matrices.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hhrisk_model::{Model, ReadOptions, Roster, RosterError};
use hhrisk_score::{HouseholdScore, ScoreMatrix, Scorer};
use ndarray::{Array1, Axis};

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
    /// Per household: per-capita score.
    pub score: Array1<f64>,
    /// Households read but without an outcome (left out).
    pub unverified: usize,
    /// Roster folders read.
    pub rosters: Vec<PathBuf>,
}

/// The roster folders under `dir`: `dir` itself if it holds
/// `households.csv`, else its sub-folders that do, sorted by name.
pub fn roster_dirs(dir: &Path) -> Result<Vec<PathBuf>, SampleError> {
    if dir.join("households.csv").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|source| RosterError::Io { path: dir.display().to_string(), source })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("households.csv").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(SampleError::NoRoster(dir.display().to_string()));
    }
    Ok(dirs)
}

/// Reads `outcomes.csv` of a roster: `household_id` → verified need.
pub fn read_outcomes(path: &Path) -> Result<HashMap<String, bool>, SampleError> {
    let shown = path.display().to_string();
    let err = |message: String| SampleError::Outcomes { path: shown.clone(), message };
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| err(format!("cannot read: {e}; calibration needs verified outcomes")))?;
    let header = reader.headers().map_err(|e| err(e.to_string()))?.clone();
    let find = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(id_at), Some(need_at)) = (find("household_id"), find("verified_need")) else {
        return Err(err("line 1 (header): needs columns `household_id` and `verified_need`".into()));
    };
    let mut out: HashMap<String, bool> = HashMap::new();
    let mut lines: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| err(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let id = record.get(id_at).unwrap_or("").trim().to_string();
        let need = match record.get(need_at).map(str::trim) {
            Some("1") => true,
            Some("0") => false,
            other => {
                return Err(err(format!(
                    "line {line}, column {} (verified_need), household {id}: \"{}\" must be 1 or 0",
                    need_at + 1,
                    other.unwrap_or("")
                )))
            }
        };
        if let Some(first) = lines.insert(id.clone(), line) {
            return Err(err(format!(
                "line {line}, household {id}: a second outcome (the first is on line {first}); keep one per household"
            )));
        }
        out.insert(id, need);
    }
    Ok(out)
}

impl Samples {
    /// Reads every roster under `dir`, scores it with `model` and joins the
    /// outcomes. Households without an outcome are counted and left out.
    pub fn load(model: &Model, dir: &Path) -> Result<Samples, SampleError> {
        let scorer = Scorer::new(model, &model.bands);
        let mut scores: Vec<HouseholdScore> = Vec::new();
        let (mut villages_of, mut ids, mut need) = (Vec::new(), Vec::new(), Vec::new());
        let mut unverified = 0;
        let rosters = roster_dirs(dir)?;
        for path in &rosters {
            let roster = Roster::read(model, path, &ReadOptions::default())?;
            if let Some(first) = roster.issues.first() {
                return Err(SampleError::Refused {
                    path: path.display().to_string(),
                    count: roster.issues.len(),
                    first: first.to_string(),
                });
            }
            let outcomes = read_outcomes(&path.join("outcomes.csv"))?;
            for h in &roster.households {
                let Some(&verified) = outcomes.get(&h.id) else {
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
        let score = matrix.per_capita();
        Ok(Samples { villages, village, ids, need, triggered, matrix, score, unverified, rosters })
    }

    /// Number of households.
    pub fn len(&self) -> usize {
        self.need.len()
    }

    /// Whether there are no households.
    pub fn is_empty(&self) -> bool {
        self.need.is_empty()
    }

    /// Per-capita scores with other item points (same order as the
    /// model's items), category weights kept.
    pub fn rescore(&self, model: &Model, points: &[f64]) -> Array1<f64> {
        let weighted: Array1<f64> = model
            .items
            .iter()
            .zip(points)
            .map(|(item, p)| model.categories[item.category].weight * p)
            .collect();
        self.matrix.item_counts.dot(&weighted) / &self.matrix.members
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

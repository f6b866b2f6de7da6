//! Evaluating alerts that were sent: from a scores file and the outcomes
//! departments reported, or from published counts alone.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::metrics::{Accuracy, Counts};
use crate::samples::SampleError;

/// One scored household, with what is known about it.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// `household_id`.
    pub household_id: String,
    /// `village`.
    pub village: String,
    /// `alert_level`, `None` when not alerted.
    pub alert_level: Option<String>,
    /// `per_capita_score`, when the file has it (orders the bands).
    pub score: Option<f64>,
    /// Verified need, `None` when not verified.
    pub need: Option<bool>,
    /// Verification batch.
    pub batch: Option<String>,
    /// Departments the household's fired items are referred to.
    pub departments: Vec<String>,
    /// Household types it belongs to (`elderly_only`, `disability` …).
    pub types: Vec<&'static str>,
}

/// Accuracy in one group (a band, village, batch, department or type).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Households in the group with an outcome.
    #[serde(flatten)]
    pub accuracy: Accuracy,
    /// Alerts in the group without an outcome (left out of precision).
    pub unverified_alerts: u64,
}

/// Everything `hhrisk evaluate` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Households in the scores file.
    pub scored: u64,
    /// Alerts without an outcome, left out.
    pub unverified_alerts: u64,
    /// Share of verified alerts found in need.
    pub precision: Option<f64>,
    /// Share of verified households in need that were alerted; `None` when
    /// only alerted households were verified (then it cannot be measured).
    pub recall: Option<f64>,
    /// Alerts with an outcome.
    pub alerts: u64,
    /// Of them, verified in need.
    pub verified: u64,
    /// Wilson 95 % interval of the precision.
    pub wilson: Option<crate::intervals::Interval>,
    /// Clopper–Pearson 95 % interval of the precision.
    pub clopper_pearson: Option<crate::intervals::Interval>,
    /// All figures with intervals.
    pub overall: Accuracy,
    /// By alert level.
    pub by_band: Vec<Group>,
    /// By village.
    pub by_village: Vec<Group>,
    /// By verification batch.
    pub by_batch: Vec<Group>,
    /// By responsible department (households whose fired items it owns).
    pub by_department: Vec<Group>,
    /// By household type.
    pub by_household_type: Vec<Group>,
    /// What could not be measured, and why.
    pub notes: Vec<String>,
}

/// Household types, with their descriptions.
pub const HOUSEHOLD_TYPES: [(&str, &str); 5] = [
    ("elderly_only", "every member aged 60 or over"),
    ("disability", "a member with a disability certificate"),
    ("single_parent", "a single parent raising children"),
    ("students", "a member at school (compulsory, high school, vocational or college)"),
    ("female_head", "the head of household is a woman"),
];

fn group<'a>(
    records: &'a [Record],
    key: impl Fn(&'a Record) -> Vec<String>,
    measure_recall: bool,
) -> Vec<Group> {
    let mut groups: BTreeMap<String, (Counts, u64)> = BTreeMap::new();
    for r in records {
        for name in key(r) {
            let g = groups.entry(name).or_default();
            match r.need {
                Some(need) => g.0.add(r.alert_level.is_some(), need),
                None if r.alert_level.is_some() => g.1 += 1,
                None => {}
            }
        }
    }
    groups
        .into_iter()
        .map(|(name, (c, unverified))| {
            let mut accuracy = Accuracy::from(c);
            if !measure_recall {
                accuracy.recall = None;
                accuracy.recall_ci = Default::default();
            }
            Group { name, accuracy, unverified_alerts: unverified }
        })
        .collect()
}

/// Evaluates scored households against outcomes.
pub fn evaluate(records: &[Record]) -> Evaluation {
    let mut notes = Vec::new();
    let verified_not_alerted = records.iter().filter(|r| r.alert_level.is_none() && r.need.is_some()).count();
    let measure_recall = verified_not_alerted > 0;
    if !measure_recall {
        notes.push(
            "only alerted households were verified: recall (the share of households in need that the alerts \
             found) cannot be measured; verify a sample of households that were not alerted to measure it"
                .to_string(),
        );
    }
    let overall = group(records, |_| vec!["all".to_string()], measure_recall).pop();
    let (overall, unverified) =
        overall.map_or_else(|| (Accuracy::from(Counts::default()), 0), |g| (g.accuracy, g.unverified_alerts));
    if unverified > 0 {
        notes.push(format!("{unverified} alerts have no outcome and are left out of precision"));
    }
    let alerted_only: Vec<Record> = records.iter().filter(|r| r.alert_level.is_some()).cloned().collect();
    let mut by_band = group(&alerted_only, |r| r.alert_level.clone().into_iter().collect(), false);
    // most severe first: by the highest score seen in each band
    let top = |name: &str| {
        alerted_only
            .iter()
            .filter(|r| r.alert_level.as_deref() == Some(name))
            .filter_map(|r| r.score)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    by_band.sort_by(|a, b| top(&b.name).total_cmp(&top(&a.name)).then(a.name.cmp(&b.name)));
    let by_department = group(records, |r| r.departments.clone(), measure_recall);
    if records.iter().all(|r| r.departments.is_empty()) {
        notes
            .push("no department breakdown: give --model and --roster to know which items fired".to_string());
    }
    let by_household_type =
        group(records, |r| r.types.iter().map(|t| t.to_string()).collect(), measure_recall);
    Evaluation {
        scored: records.len() as u64,
        unverified_alerts: unverified,
        precision: overall.precision,
        recall: overall.recall,
        alerts: overall.alerts,
        verified: overall.true_alerts,
        wilson: overall.precision_ci.wilson,
        clopper_pearson: overall.precision_ci.clopper_pearson,
        overall,
        by_band,
        by_village: group(records, |r| vec![r.village.clone()], measure_recall),
        by_batch: group(records, |r| r.batch.clone().into_iter().collect(), measure_recall),
        by_department,
        by_household_type,
        notes,
    }
}

/// Precision from published counts alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CountsOnly {
    /// `verified / alerts`.
    pub precision: f64,
    /// Alerts sent.
    pub alerts: u64,
    /// Alerts verified as right.
    pub verified: u64,
    /// Wilson score interval (95 %).
    pub wilson: crate::intervals::Interval,
    /// Clopper–Pearson interval (95 %).
    pub clopper_pearson: crate::intervals::Interval,
}

/// Precision of `verified` right alerts out of `alerts`, with intervals.
pub fn from_counts(alerts: u64, verified: u64) -> Option<CountsOnly> {
    use crate::intervals::{clopper_pearson, wilson, CONFIDENCE};
    if alerts == 0 || verified > alerts {
        return None;
    }
    Some(CountsOnly {
        precision: verified as f64 / alerts as f64,
        alerts,
        verified,
        wilson: wilson(verified, alerts, CONFIDENCE)?,
        clopper_pearson: clopper_pearson(verified, alerts, CONFIDENCE)?,
    })
}

/// Outcome rows: verified need and batch by household.
pub fn read_outcome_rows(path: &Path) -> Result<HashMap<String, (bool, Option<String>)>, SampleError> {
    let needs = crate::samples::read_outcomes(path)?;
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| SampleError::Outcomes { path: path.display().to_string(), message: e.to_string() })?;
    let header = reader
        .headers()
        .map_err(|e| SampleError::Outcomes { path: path.display().to_string(), message: e.to_string() })?
        .clone();
    let (id_at, batch_at) = (
        header.iter().position(|h| h.trim() == "household_id"),
        header.iter().position(|h| h.trim() == "batch"),
    );
    let mut batches: HashMap<String, String> = HashMap::new();
    if let (Some(i), Some(b)) = (id_at, batch_at) {
        for rec in reader.records().flatten() {
            let batch = rec.get(b).unwrap_or("").trim();
            if !batch.is_empty() {
                batches.insert(rec.get(i).unwrap_or("").trim().to_string(), batch.to_string());
            }
        }
    }
    Ok(needs
        .into_iter()
        .map(|(id, need)| {
            let batch = batches.remove(&id);
            (id, (need, batch))
        })
        .collect())
}

/// Household types by `household_id`.
pub type TypesByHousehold = HashMap<String, Vec<&'static str>>;

/// Household types read from a roster's raw files (columns `age`,
/// `disability_grade`, `school`, `relation`, `sex` in members.csv and
/// `single_parent` in households.csv; a type whose columns are missing is
/// left out, and the returned notes say so).
pub fn household_types(roster: &Path) -> Result<(TypesByHousehold, Vec<String>), SampleError> {
    let err = |path: &Path, e: csv::Error| SampleError::Outcomes {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut types: HashMap<String, Vec<&'static str>> = HashMap::new();
    let mut notes = Vec::new();
    let yes = |v: &str| matches!(v.trim(), "1" | "true" | "TRUE" | "yes" | "y" | "Y" | "是" | "有");

    let path = roster.join("households.csv");
    let mut r = csv::Reader::from_path(&path).map_err(|e| err(&path, e))?;
    let header = r.headers().map_err(|e| err(&path, e))?.clone();
    let col = |h: &csv::StringRecord, name: &str| h.iter().position(|c| c.trim() == name);
    let (id_at, single_at) = (col(&header, "household_id"), col(&header, "single_parent"));
    if single_at.is_none() {
        notes.push("households.csv has no `single_parent` column: no single-parent breakdown".to_string());
    }
    if let (Some(id_at), Some(single_at)) = (id_at, single_at) {
        for rec in r.records() {
            let rec = rec.map_err(|e| err(&path, e))?;
            if yes(rec.get(single_at).unwrap_or("")) {
                types
                    .entry(rec.get(id_at).unwrap_or("").trim().to_string())
                    .or_default()
                    .push("single_parent");
            }
        }
    }

    let path = roster.join("members.csv");
    let mut r = csv::Reader::from_path(&path).map_err(|e| err(&path, e))?;
    let header = r.headers().map_err(|e| err(&path, e))?.clone();
    let at = |name: &str| col(&header, name);
    let (id_at, age_at, dis_at, school_at, rel_at, sex_at) =
        (at("household_id"), at("age"), at("disability_grade"), at("school"), at("relation"), at("sex"));
    for (name, needed) in [
        ("age", age_at),
        ("disability_grade", dis_at),
        ("school", school_at),
        ("relation and sex", rel_at.and(sex_at)),
    ] {
        if needed.is_none() {
            notes.push(format!(
                "members.csv has no `{name}` column: the household types that need it are left out"
            ));
        }
    }
    let Some(id_at) = id_at else { return Ok((types, notes)) };
    // per household: (all 60+, any disability, any student, female head)
    let mut flags: BTreeMap<String, (bool, bool, bool, bool)> = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| err(&path, e))?;
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim);
        let f =
            flags.entry(get(Some(id_at)).unwrap_or("").to_string()).or_insert((true, false, false, false));
        f.0 &= get(age_at).and_then(|a| a.parse::<u32>().ok()).is_some_and(|a| a >= 60);
        f.1 |= get(dis_at).and_then(|d| d.parse::<u32>().ok()).is_some_and(|d| d > 0);
        f.2 |= get(school_at)
            .is_some_and(|s| matches!(s, "compulsory" | "high_school" | "vocational" | "college"));
        f.3 |= get(rel_at) == Some("head") && matches!(get(sex_at), Some("F" | "女"));
    }
    for (id, (elderly, disability, students, female_head)) in flags {
        let t = types.entry(id).or_default();
        for (on, name, col) in [
            (elderly, "elderly_only", age_at),
            (disability, "disability", dis_at),
            (students, "students", school_at),
            (female_head, "female_head", rel_at.and(sex_at)),
        ] {
            if on && col.is_some() {
                t.push(name);
            }
        }
    }
    Ok((types, notes))
}

/// Reads a scores file written by `hhrisk score` and joins outcomes.
pub fn read_scores(
    scores: &Path,
    outcomes: &HashMap<String, (bool, Option<String>)>,
) -> Result<Vec<Record>, SampleError> {
    let err = |message: String| SampleError::Outcomes { path: scores.display().to_string(), message };
    let mut r = csv::Reader::from_path(scores).map_err(|e| err(e.to_string()))?;
    let header = r.headers().map_err(|e| err(e.to_string()))?.clone();
    let at = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(id_at), Some(level_at)) = (at("household_id"), at("alert_level")) else {
        return Err(err(
            "line 1 (header): needs `household_id` and `alert_level`, as `hhrisk score` writes".into()
        ));
    };
    let village_at = at("village");
    let score_at = at("per_capita_score");
    let mut records = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let id = rec.get(id_at).unwrap_or("").trim().to_string();
        let level = rec.get(level_at).unwrap_or("").trim();
        let outcome = outcomes.get(&id);
        records.push(Record {
            village: village_at.and_then(|i| rec.get(i)).unwrap_or("").trim().to_string(),
            alert_level: (!level.is_empty()).then(|| level.to_string()),
            score: score_at.and_then(|i| rec.get(i)).and_then(|v| v.trim().parse().ok()),
            need: outcome.map(|o| o.0),
            batch: outcome.and_then(|o| o.1.clone()),
            household_id: id,
            departments: Vec::new(),
            types: Vec::new(),
        });
    }
    Ok(records)
}

/// The departments each household's fired items are referred to, by
/// scoring the roster with the model.
pub fn departments(
    model: &hhrisk_model::Model,
    roster: &Path,
) -> Result<HashMap<String, Vec<String>>, SampleError> {
    let r = hhrisk_model::Roster::read(model, roster, &hhrisk_model::ReadOptions::default())?;
    let scorer = hhrisk_score::Scorer::new(model, &model.bands);
    let mut out = HashMap::new();
    let mut score = hhrisk_score::HouseholdScore::default();
    for h in &r.households {
        scorer.score_into(&r.inputs(h), &mut score);
        let mut d: Vec<String> = score
            .hits
            .iter()
            .map(|hit| model.departments[model.items[hit.item].department].id.clone())
            .collect();
        d.sort();
        d.dedup();
        out.insert(h.id.clone(), d);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        id: &str,
        village: &str,
        level: Option<&str>,
        need: Option<bool>,
        types: Vec<&'static str>,
    ) -> Record {
        Record {
            household_id: id.into(),
            village: village.into(),
            alert_level: level.map(String::from),
            score: Some(match level {
                Some("red") => 30.0,
                Some("yellow") => 12.0,
                _ => 0.0,
            }),
            need,
            batch: Some(if id < "h4" { "1" } else { "2" }.into()),
            departments: if level.is_some() { vec!["education".into()] } else { vec![] },
            types,
        }
    }

    #[test]
    fn breakdowns_by_hand() {
        // h1 red need, h2 red no, h3 yellow need, h4 yellow unverified,
        // h5 none need, h6 none no.
        let records = vec![
            record("h1", "A", Some("red"), Some(true), vec!["disability"]),
            record("h2", "A", Some("red"), Some(false), vec![]),
            record("h3", "B", Some("yellow"), Some(true), vec!["disability"]),
            record("h4", "B", Some("yellow"), None, vec![]),
            record("h5", "B", None, Some(true), vec!["disability"]),
            record("h6", "A", None, Some(false), vec![]),
        ];
        let e = evaluate(&records);
        // verified alerts h1 h2 h3: 2 of 3; in need h1 h3 h5: 2 of 3 found
        assert_eq!((e.alerts, e.verified, e.unverified_alerts), (3, 2, 1));
        assert_eq!(e.precision, Some(2.0 / 3.0));
        assert_eq!(e.recall, Some(2.0 / 3.0));
        let band = |n: &str| e.by_band.iter().find(|g| g.name == n).unwrap();
        assert_eq!(
            e.by_band.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["red", "yellow"],
            "most severe first"
        );
        assert_eq!((band("red").accuracy.alerts, band("red").accuracy.precision), (2, Some(0.5)));
        assert_eq!((band("yellow").accuracy.alerts, band("yellow").unverified_alerts), (1, 1));
        // village A: h1 h2 alerted (1 right), h6 not; B: h3 right, h5 missed
        let v: Vec<(String, Option<f64>, Option<f64>)> =
            e.by_village.iter().map(|g| (g.name.clone(), g.accuracy.precision, g.accuracy.recall)).collect();
        assert_eq!(v, [("A".into(), Some(0.5), Some(1.0)), ("B".into(), Some(1.0), Some(0.5))]);
        // disability: h1 h3 found, h5 missed
        let d = &e.by_household_type[0];
        assert_eq!(
            (d.name.as_str(), d.accuracy.precision, d.accuracy.recall),
            ("disability", Some(1.0), Some(2.0 / 3.0))
        );
        // batches: 1 = h1 h2 h3 (2 of 3 right), 2 = h4 unverified, h5, h6
        assert_eq!(e.by_batch[0].accuracy.precision, Some(2.0 / 3.0));
        assert_eq!(e.by_batch[1].accuracy.alerts, 0);
    }

    #[test]
    fn recall_is_not_claimed_when_only_alerts_were_verified() {
        let records = vec![
            record("h1", "A", Some("red"), Some(true), vec![]),
            record("h2", "A", Some("red"), Some(false), vec![]),
            record("h5", "A", None, None, vec![]),
        ];
        let e = evaluate(&records);
        assert_eq!(e.recall, None);
        assert!(e.notes[0].contains("recall"));
    }

    #[test]
    fn xiaochang_counts_give_59_percent() {
        let c = from_counts(687, 404).unwrap();
        assert!((c.precision - 0.588).abs() < 0.001);
        // statsmodels proportion_confint(404, 687, method="wilson" | "beta")
        assert!((c.wilson.lo - 0.5508694057827112).abs() < 1e-9);
        assert!((c.clopper_pearson.hi - 0.625149450245067).abs() < 1e-9);
        assert_eq!(from_counts(0, 0), None);
        assert_eq!(from_counts(3, 4), None);
    }
}

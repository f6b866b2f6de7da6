//! Evaluating alerts that were sent: from a scores file and the outcomes
//! departments reported, or from published counts alone.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::metrics::{Accuracy, Counts};
use hhrisk_tables::{is_workbook, Encoding, TextTable};

use crate::samples::{Outcomes, SampleError};

/// One scored household, with what is known about it.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// `household_id`.
    pub household_id: String,
    /// `village`.
    pub village: String,
    /// `alert_level`, `None` when not alerted.
    pub alert_level: Option<String>,
    /// `score` (or, in an older file, `per_capita_score`), when the file
    /// has it (orders the bands).
    pub score: Option<f64>,
    /// Verified need, `None` when not verified.
    pub need: Option<bool>,
    /// `members`, when the file has it.
    pub members: Option<usize>,
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
    /// Alert rate, need rate, precision and recall by household size (1,
    /// 2, 3, 4–5, 6+ members); empty when the scores file has no
    /// `members` column.
    pub by_household_size: Vec<crate::household_size::SizeGroup>,
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

/// Evaluates scored households against outcomes; warns when a household
/// size group's alert rate departs from its need rate by more than
/// `size_warning_factor`.
pub fn evaluate(records: &[Record], size_warning_factor: f64) -> Evaluation {
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
    let by_household_size = if records.iter().all(|r| r.members.is_some()) && !records.is_empty() {
        let rows = records.iter().map(|r| (r.members.unwrap_or(0), r.alert_level.is_some(), r.need));
        let table = crate::household_size::by_household_size(rows, measure_recall);
        notes.extend(crate::household_size::warnings(&table, size_warning_factor));
        table
    } else {
        notes.push("no breakdown by household size: the scores file has no `members` column".to_string());
        Vec::new()
    };
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
        by_household_size,
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

/// Household types by `household_id`.
pub type TypesByHousehold = HashMap<String, Vec<&'static str>>;

/// Household types read from a roster's own tables (columns `age`,
/// `disability_grade`, `school`, `relation`, `sex` of members and
/// `single_parent` of households; a type whose columns are missing is left
/// out, and the returned notes say so). `roster` is a folder or a workbook.
pub fn household_types(
    roster: &Path,
    encoding: Encoding,
) -> Result<(TypesByHousehold, Vec<String>), SampleError> {
    let table = |file: &str, sheet: &str| {
        let path = if is_workbook(roster) { roster.to_path_buf() } else { roster.join(file) };
        TextTable::read(&path, sheet, encoding)
            .map_err(|e| SampleError::Outcomes { path: path.display().to_string(), message: e.to_string() })
    };
    let mut types: TypesByHousehold = HashMap::new();
    let mut notes = Vec::new();
    let yes = |v: &str| matches!(v, "1" | "true" | "TRUE" | "yes" | "y" | "Y" | "是" | "有");

    let h = table("households.csv", "households")?;
    match (h.column("household_id"), h.column("single_parent")) {
        (Some(id_at), Some(single_at)) => {
            for (_, row) in &h.rows {
                if row.get(single_at).is_some_and(|v| yes(v)) {
                    types
                        .entry(row.get(id_at).cloned().unwrap_or_default())
                        .or_default()
                        .push("single_parent");
                }
            }
        }
        _ => notes.push(
            "the households table has no `single_parent` column: no single-parent breakdown".to_string(),
        ),
    }

    let m = table("members.csv", "members")?;
    let (age_at, dis_at, school_at) = (m.column("age"), m.column("disability_grade"), m.column("school"));
    let head_at = m.column("relation").zip(m.column("sex"));
    for (name, present) in [
        ("age", age_at.is_some()),
        ("disability_grade", dis_at.is_some()),
        ("school", school_at.is_some()),
        ("relation and sex", head_at.is_some()),
    ] {
        if !present {
            notes.push(format!(
                "the members table has no `{name}` column: the household types that need it are left out"
            ));
        }
    }
    let Some(id_at) = m.column("household_id") else { return Ok((types, notes)) };
    // per household: (all 60+, any disability, any student, female head)
    let mut flags: BTreeMap<String, (bool, bool, bool, bool)> = BTreeMap::new();
    for (_, row) in &m.rows {
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).map(String::as_str);
        let f =
            flags.entry(get(Some(id_at)).unwrap_or("").to_string()).or_insert((true, false, false, false));
        f.0 &= get(age_at).and_then(|a| a.parse::<u32>().ok()).is_some_and(|a| a >= 60);
        f.1 |= get(dis_at).and_then(|d| d.parse::<u32>().ok()).is_some_and(|d| d > 0);
        f.2 |= get(school_at)
            .is_some_and(|s| matches!(s, "compulsory" | "high_school" | "vocational" | "college"));
        f.3 |= head_at
            .is_some_and(|(r, s)| get(Some(r)) == Some("head") && matches!(get(Some(s)), Some("F" | "女")));
    }
    for (id, (elderly, disability, students, female_head)) in flags {
        let t = types.entry(id).or_default();
        for (on, name, present) in [
            (elderly, "elderly_only", age_at.is_some()),
            (disability, "disability", dis_at.is_some()),
            (students, "students", school_at.is_some()),
            (female_head, "female_head", head_at.is_some()),
        ] {
            if on && present {
                t.push(name);
            }
        }
    }
    Ok((types, notes))
}

/// Reads a scores file written by `hhrisk score` (CSV or workbook sheet
/// `scores`) and joins outcomes.
pub fn read_scores(
    scores: &Path,
    outcomes: &Outcomes,
    encoding: Encoding,
) -> Result<Vec<Record>, SampleError> {
    let err = |message: String| SampleError::Outcomes { path: scores.display().to_string(), message };
    let t = TextTable::read(scores, "scores", encoding).map_err(|e| err(e.to_string()))?;
    let (Some(id_at), Some(level_at)) = (t.column("household_id"), t.column("alert_level")) else {
        return Err(err(
            "line 1 (header): needs `household_id` and `alert_level`, as `hhrisk score` writes".into()
        ));
    };
    // the normalised `score` bands apply to; a scores file written before
    // it existed has only `per_capita_score`, which was then the same
    let (village_at, score_at) = (t.column("village"), t.column("score").or(t.column("per_capita_score")));
    let members_at = t.column("members");
    Ok(t.rows
        .iter()
        .map(|(_, row)| {
            let get = |i: Option<usize>| i.and_then(|i| row.get(i)).map_or("", String::as_str);
            let id = hhrisk_tables::restore(get(Some(id_at))).into_owned();
            let level = get(Some(level_at));
            let outcome = outcomes.get(&id);
            Record {
                village: get(village_at).to_string(),
                alert_level: (!level.is_empty()).then(|| level.to_string()),
                score: get(score_at).parse().ok(),
                need: outcome.map(|o| o.0),
                members: get(members_at).parse().ok(),
                batch: outcome.and_then(|o| o.1.clone()),
                household_id: id,
                departments: Vec::new(),
                types: Vec::new(),
            }
        })
        .collect())
}

/// The departments each household's fired items are referred to, by
/// scoring the roster with the model.
pub fn departments(
    model: &hhrisk_model::Model,
    roster: &Path,
    encoding: Encoding,
) -> Result<HashMap<String, Vec<String>>, SampleError> {
    let options = hhrisk_roster::ReadOptions { encoding, ..hhrisk_roster::ReadOptions::default() };
    let r = hhrisk_roster::Roster::read(model, roster, &options)?;
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
            members: None,
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
        let e = evaluate(&records, 2.0);
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
        let e = evaluate(&records, 2.0);
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

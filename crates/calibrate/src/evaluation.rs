//! Evaluating alerts that were sent: from a scores file and the outcomes
//! departments reported, or from published counts alone.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::metrics::{Accuracy, Counts};
use hhrisk_tables::{Encoding, TextTable};

use crate::samples::{Outcomes, SampleError};

/// Alert kinds, in the order the scores file lists them.
pub use hhrisk_score::ALERT_KINDS;

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
    /// Household types (the model's `[[groups]]`) it belongs to.
    pub types: Vec<String>,
    /// Alert kinds (`risk`, `not_enrolled`, `check_means`) from the scores
    /// file's `alert_kind`; empty in a file from before them.
    pub kinds: Vec<String>,
    /// Each department's own answer (department, found in need), when
    /// the outcomes have one row per household and department.
    pub answers: Vec<(String, bool)>,
    /// Kinds of assistance given, by any department, once each.
    pub assistance: Vec<String>,
    /// Drawn at random from the households not alerted to be verified
    /// (`selected_by` = `audit` in the outcomes).
    pub audited: bool,
}

/// Recall and the share in need estimated from an audit sample: the
/// alerts' precision among those verified, and the share in need among
/// households drawn at random from those not alerted, each weighted by
/// the households it stands for.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEstimate {
    /// Alerted households in the scores file.
    pub alerts: u64,
    /// Of them, verified.
    pub verified_alerts: u64,
    /// Of those, in need.
    pub verified_alerts_in_need: u64,
    /// Households not alerted in the scores file.
    pub not_alerted: u64,
    /// Of them, audited.
    pub audited: u64,
    /// Of those, in need.
    pub audited_in_need: u64,
    /// Households in need, estimated: `alerts × precision + not_alerted ×
    /// audited_in_need / audited`.
    pub in_need: f64,
    /// Share of all households in need, estimated.
    pub base_rate: f64,
    /// Share of the households in need that the alerts found, estimated.
    pub recall: Option<f64>,
    /// Its 95 % interval: percentile bootstrap of the two verified samples
    /// (2,000 replicates, a fixed seed).
    pub recall_ci: Option<crate::intervals::Interval>,
}

/// The audit estimate, when some verified households were drawn at random
/// from those not alerted; `None` when no household was audited.
pub fn audit_estimate(records: &[Record]) -> Option<AuditEstimate> {
    let alerted = |r: &Record| r.alert_level.is_some();
    let audited: Vec<bool> =
        records.iter().filter(|r| r.audited && !alerted(r)).filter_map(|r| r.need).collect();
    if audited.is_empty() {
        return None;
    }
    let verified: Vec<bool> = records.iter().filter(|r| alerted(r)).filter_map(|r| r.need).collect();
    let alerts = records.iter().filter(|r| alerted(r)).count() as u64;
    let not_alerted = records.len() as u64 - alerts;
    let estimate = |verified: &[bool], audited: &[bool]| {
        let share = |v: &[bool]| v.iter().filter(|&&n| n).count() as f64 / v.len().max(1) as f64;
        let found = if verified.is_empty() { 0.0 } else { alerts as f64 * share(verified) };
        let missed = not_alerted as f64 * share(audited);
        (found, missed)
    };
    let (found, missed) = estimate(&verified, &audited);
    let recall = (found + missed > 0.0 && !verified.is_empty()).then(|| found / (found + missed));
    // stratified bootstrap: each sample drawn again within itself
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_240_630);
    let (mut v, mut a) = (Vec::new(), Vec::new());
    let replicates: Vec<f64> = (0..2000)
        .filter_map(|_| {
            v.clear();
            a.clear();
            v.extend((0..verified.len()).map(|_| verified[rng.random_range(0..verified.len())]));
            a.extend((0..audited.len()).map(|_| audited[rng.random_range(0..audited.len())]));
            let (f, m) = estimate(&v, &a);
            (f + m > 0.0 && !v.is_empty()).then(|| f / (f + m))
        })
        .collect();
    let count = |v: &[bool]| v.iter().filter(|&&n| n).count() as u64;
    Some(AuditEstimate {
        alerts,
        verified_alerts: verified.len() as u64,
        verified_alerts_in_need: count(&verified),
        not_alerted,
        audited: audited.len() as u64,
        audited_in_need: count(&audited),
        in_need: found + missed,
        base_rate: (found + missed) / records.len().max(1) as f64,
        recall,
        recall_ci: recall.and_then(|_| crate::bootstrap::percentile_interval(replicates)),
    })
}

/// Assistance given of one kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Assistance {
    /// The kind (`education`, `medical` …).
    pub kind: String,
    /// Households that received it (人次, as Xiaochang counts: a household
    /// helped in two ways counts once in each).
    pub households: u64,
    /// Of them, alerted (a band reached).
    pub alerted: u64,
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
    /// By alert kind: how many households of each list (`risk`,
    /// `not_enrolled`, `check_means`) were verified in need.
    pub by_alert_kind: Vec<Group>,
    /// Assistance given, by kind, most frequent first.
    pub assistance: Vec<Assistance>,
    /// Alert rate, need rate, precision and recall by household size (1,
    /// 2, 3, 4–5, 6+ members); empty when the scores file has no
    /// `members` column.
    pub by_household_size: Vec<crate::household_size::SizeGroup>,
    /// Share of households in need, when every household scored was
    /// verified (otherwise the verified ones are not a fair sample of
    /// them).
    pub base_rate: Option<f64>,
    /// Precision over the base rate: how many times better than alerting
    /// households at random.
    pub lift: Option<f64>,
    /// The precision set against Xiaochang's, in one sentence.
    pub against_xiaochang: Option<Comparison>,
    /// Recall and the base rate weighted by an audit sample, when the
    /// outcomes say which households were audited.
    pub audit: Option<AuditEstimate>,
    /// What could not be measured, and why.
    pub notes: Vec<String>,
    /// The same notes in Chinese, for the terminal (not in --json).
    #[serde(skip)]
    pub notes_zh: Vec<String>,
}

/// Xiaochang's published figures: 687 alerts, 404 verified as right.
pub const XIAOCHANG: (u64, u64) = (687, 404);

/// Whether a precision differs from another beyond chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Higher, and the interval of the difference lies above 0.
    Higher,
    /// Lower, and the interval of the difference lies below 0.
    Lower,
    /// The interval of the difference includes 0.
    NoClearDifference,
}

/// A precision compared with Xiaochang's 404 of 687.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// This precision.
    pub precision: f64,
    /// Xiaochang's, 404 / 687.
    pub xiaochang: f64,
    /// `precision - xiaochang`.
    pub difference: f64,
    /// Newcombe's 95 % interval of the difference.
    pub difference_ci: crate::intervals::Interval,
    /// What the interval says.
    pub verdict: Verdict,
    /// The comparison in one plain sentence.
    pub sentence: String,
    /// The same sentence in Chinese, for the terminal (not in --json).
    #[serde(skip)]
    pub sentence_zh: String,
}

/// `verified` right alerts of `alerts` set against Xiaochang's 404 of 687:
/// the difference, its Newcombe interval and a sentence saying whether it
/// is more than chance (`None` without alerts).
pub fn against_xiaochang(verified: u64, alerts: u64) -> Option<Comparison> {
    use crate::intervals::{newcombe_difference, wilson, CONFIDENCE};
    let (x_alerts, x_verified) = XIAOCHANG;
    let ci = newcombe_difference(verified, alerts, x_verified, x_alerts, CONFIDENCE)?;
    let (p, x) = (verified as f64 / alerts as f64, x_verified as f64 / x_alerts as f64);
    let (own, theirs) = (wilson(verified, alerts, CONFIDENCE)?, wilson(x_verified, x_alerts, CONFIDENCE)?);
    let verdict = if ci.lo > 0.0 {
        Verdict::Higher
    } else if ci.hi < 0.0 {
        Verdict::Lower
    } else {
        Verdict::NoClearDifference
    };
    let pct = |v: f64| format!("{:.1} %", 100.0 * v);
    let pts = |v: f64| format!("{:+.1}", 100.0 * v);
    let span = |i: crate::intervals::Interval| format!("[{:.1}, {:.1}]", 100.0 * i.lo, 100.0 * i.hi);
    let (d, way) = ((p - x).abs() * 100.0, if p >= x { "higher" } else { "lower" });
    let head = format!(
        "precision {} {} of {alerts} alerts against Xiaochang's {} {}: {d:.1} points {way}",
        pct(p),
        span(own),
        pct(x),
        span(theirs)
    );
    let range = format!("{} to {} points", pts(ci.lo), pts(ci.hi));
    let sentence = match verdict {
        Verdict::Higher => format!("{head}, more than chance explains (the difference is {range}, 95 %): better than Xiaochang"),
        Verdict::Lower => format!("{head}, more than chance explains (the difference is {range}, 95 %): worse than Xiaochang"),
        Verdict::NoClearDifference => format!(
            "{head}, but the difference could be anywhere from {range} (95 %): not shown to differ from Xiaochang; \
             more verified alerts would tell"
        ),
    };
    let head_zh = format!(
        "精确率 {} {}（预警 {alerts} 户），孝昌县实际为 {} {}：{} {d:.1} 个百分点",
        pct(p),
        span(own),
        pct(x),
        span(theirs),
        if p >= x { "高" } else { "低" }
    );
    let range_zh = format!("{} 至 {} 个百分点", pts(ci.lo), pts(ci.hi));
    let sentence_zh = match verdict {
        Verdict::Higher => {
            format!("{head_zh}，超出偶然波动所能解释的范围（差值的 95 % 置信区间为 {range_zh}）：优于孝昌县")
        }
        Verdict::Lower => {
            format!("{head_zh}，超出偶然波动所能解释的范围（差值的 95 % 置信区间为 {range_zh}）：不如孝昌县")
        }
        Verdict::NoClearDifference => format!(
            "{head_zh}，但差值可能是 {range_zh}之间的任何值（95 % 置信区间）：不能认为与孝昌县有差别；\
             核实更多预警户后才能判断"
        ),
    };
    Some(Comparison {
        precision: p,
        xiaochang: x,
        difference: p - x,
        difference_ci: ci,
        verdict,
        sentence,
        sentence_zh,
    })
}

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
    // each note in English (for --json) and in Chinese
    let (mut notes, mut notes_zh) = (Vec::new(), Vec::new());
    // households verified though on no list: a band's, or another kind's
    // (a household checked because it was listed as not enrolled was not
    // drawn at random from the others)
    let verified_not_alerted =
        records.iter().filter(|r| r.alert_level.is_none() && r.kinds.is_empty() && r.need.is_some()).count();
    // with an audit sample, the verified households are no fair sample of
    // all: recall and the base rate are weighted estimates, not counts
    let audit = audit_estimate(records);
    let measure_recall = verified_not_alerted > 0 && audit.is_none();
    if let Some(a) = &audit {
        notes.push(format!(
            "recall and the share in need are estimated from the audit: {} of the {} households not alerted were \
             drawn at random and verified ({} in need), each standing for {:.1} households; breakdowns give no recall",
            a.audited,
            a.not_alerted,
            a.audited_in_need,
            a.not_alerted as f64 / a.audited as f64
        ));
        notes_zh.push(format!(
            "召回率和需要帮扶比例按抽查估计：从未预警的 {} 户中随机抽取 {} 户核查（其中核实有需要 {} 户），\
             每个抽查户代表 {:.1} 户；分组统计不给出召回率",
            a.not_alerted,
            a.audited,
            a.audited_in_need,
            a.not_alerted as f64 / a.audited as f64
        ));
    } else if !measure_recall {
        notes.push(
            "only alerted households were verified: recall (the share of households in need that the alerts \
             found) cannot be measured; verify a sample of households that were not alerted to measure it"
                .to_string(),
        );
        notes_zh.push(
            "只有预警过的户经过核查：无法衡量召回率（核实有需要的户中被预警找出的比例）；\
             如需衡量，请从未预警的户中抽取一部分核查"
                .to_string(),
        );
    }
    let overall = group(records, |_| vec!["all".to_string()], measure_recall).pop();
    let (overall, unverified) =
        overall.map_or_else(|| (Accuracy::from(Counts::default()), 0), |g| (g.accuracy, g.unverified_alerts));
    if unverified > 0 {
        notes.push(format!("{unverified} alerts have no outcome and are left out of precision"));
        notes_zh.push(format!("有 {unverified} 个预警户没有核查结果，未计入精确率"));
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
    // each department's precision from its own answers when the outcomes
    // carry them; otherwise from the departments of the fired items
    let answered = records.iter().any(|r| !r.answers.is_empty());
    let by_department = if answered {
        let rows: Vec<Record> = records
            .iter()
            .flat_map(|r| {
                r.answers.iter().map(move |(d, need)| Record {
                    alert_level: Some("sent".into()),
                    need: Some(*need),
                    departments: vec![d.clone()],
                    ..r.clone()
                })
            })
            .collect();
        group(&rows, |r| r.departments.clone(), false)
    } else {
        group(records, |r| r.departments.clone(), measure_recall)
    };
    if !answered && records.iter().all(|r| r.departments.is_empty()) {
        notes
            .push("no department breakdown: give --model and --roster to know which items fired".to_string());
        notes_zh
            .push("无法按部门分组统计：请给出 --model 和 --roster，以确定每户触发了哪些指标项".to_string());
    }
    let by_household_type = group(records, |r| r.types.clone(), measure_recall);
    // each kind's list as if it were the alerts: its households verified in need
    let by_alert_kind = {
        let listed: Vec<Record> = records
            .iter()
            .filter(|r| !r.kinds.is_empty())
            .map(|r| Record { alert_level: Some("listed".into()), ..r.clone() })
            .collect();
        group(&listed, |r| r.kinds.clone(), false)
    };
    let by_household_size = if records.iter().all(|r| r.members.is_some()) && !records.is_empty() {
        let rows = records.iter().map(|r| (r.members.unwrap_or(0), r.alert_level.is_some(), r.need));
        let table = crate::household_size::by_household_size(rows, measure_recall);
        notes.extend(crate::household_size::warnings(&table, size_warning_factor));
        notes_zh.extend(crate::household_size::warnings_zh(&table, size_warning_factor));
        table
    } else {
        notes.push("no breakdown by household size: the scores file has no `members` column".to_string());
        notes_zh.push("无法按家庭人口分组统计：评分文件中没有 `members` 列".to_string());
        Vec::new()
    };
    // every household verified: the base rate is theirs; otherwise the
    // verified ones over-represent the alerted
    let base_rate = records
        .iter()
        .all(|r| r.need.is_some())
        .then_some(overall.households)
        .filter(|&n| n > 0)
        .map(|n| overall.in_need as f64 / n as f64)
        .or(audit.as_ref().map(|a| a.base_rate));
    if base_rate.is_none() {
        notes.push(
            "not every household was verified: the base rate (the share in need) and the lift over it are not \
             measured"
                .to_string(),
        );
        notes_zh.push(
            "并非每户都经过核查：无法衡量基准比例（需要帮扶的户所占比例），也无法衡量预警精确率是它的几倍"
                .to_string(),
        );
    }
    let mut assistance: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in records {
        for kind in &r.assistance {
            let a = assistance.entry(kind).or_default();
            a.0 += 1;
            a.1 += u64::from(r.alert_level.is_some());
        }
    }
    let mut assistance: Vec<Assistance> = assistance
        .into_iter()
        .map(|(kind, (households, alerted))| Assistance { kind: kind.to_string(), households, alerted })
        .collect();
    assistance.sort_by(|a, b| b.households.cmp(&a.households).then(a.kind.cmp(&b.kind)));
    let lift = base_rate.zip(overall.precision).filter(|(b, _)| *b > 0.0).map(|(b, p)| p / b);
    let against = against_xiaochang(overall.true_alerts, overall.alerts);
    let recall = audit.as_ref().map_or(overall.recall, |a| a.recall);
    Evaluation {
        recall,
        audit,
        base_rate,
        lift,
        against_xiaochang: against,
        scored: records.len() as u64,
        unverified_alerts: unverified,
        precision: overall.precision,
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
        by_alert_kind,
        assistance,
        by_household_size,
        notes,
        notes_zh,
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
    let kinds_at = t.column("alert_kind");
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
                kinds: get(kinds_at).split(';').filter(|k| !k.is_empty()).map(String::from).collect(),
                answers: Vec::new(),
                assistance: Vec::new(),
                audited: false,
            }
        })
        .collect())
}

/// The sample households as evaluation records: alerted by `bands`, with
/// their alert kinds, household types (`[[groups]]`) and departments, and
/// their verified need; the rosters are read again for the kinds and
/// types. For the report's breakdowns of a calibration.
pub fn sample_records(
    model: &hhrisk_model::Model,
    samples: &crate::Samples,
    bands: &hhrisk_model::Bands,
) -> Result<Vec<Record>, SampleError> {
    let need: HashMap<(&str, &str), bool> = samples
        .ids
        .iter()
        .zip(&samples.village)
        .zip(&samples.need)
        .map(|((id, &v), &n)| ((samples.villages[v].as_str(), id.as_str()), n))
        .collect();
    let scorer = hhrisk_score::Scorer::new(model, bands);
    let mut records = Vec::new();
    for path in &samples.rosters {
        let r = hhrisk_roster::Roster::read(model, path, &hhrisk_roster::ReadOptions::default())?;
        for h in &r.households {
            let Some(&verified) = need.get(&(h.village.as_str(), h.id.as_str())) else { continue };
            let inputs = r.inputs(h);
            let s = scorer.score(&inputs);
            let Facts { departments, groups } = household_facts(model, &inputs, &s);
            records.push(Record {
                household_id: h.id.clone(),
                village: h.village.clone(),
                alert_level: s.alert.map(|a| bands.levels[a].name.clone()),
                score: Some(s.score),
                need: Some(verified),
                members: Some(s.members),
                batch: None,
                departments,
                types: groups,
                kinds: s.kinds().map(String::from).collect(),
                answers: Vec::new(),
                assistance: Vec::new(),
                audited: false,
            });
        }
    }
    Ok(records)
}

/// Adds to each record the departments' own answers and the assistance
/// given, from an outcomes table's rows.
pub fn attach_answers(records: &mut [Record], rows: &[crate::samples::OutcomeRow]) {
    let mut by_household: HashMap<&str, Vec<&crate::samples::OutcomeRow>> = HashMap::new();
    for r in rows {
        by_household.entry(r.household_id.as_str()).or_default().push(r);
    }
    for record in records.iter_mut() {
        let Some(mine) = by_household.get(record.household_id.as_str()) else { continue };
        record.answers = mine.iter().filter_map(|r| Some((r.department.clone()?, r.need))).collect();
        let mut kinds: Vec<String> = mine.iter().flat_map(|r| r.assistance.iter().cloned()).collect();
        kinds.sort();
        kinds.dedup();
        record.assistance = kinds;
        record.audited = mine.iter().any(|r| r.selected_by.as_deref() == Some("audit"));
    }
}

/// What scoring the roster with the model says of each household, by
/// `household_id`: the departments its fired items are referred to, and
/// the household types (`[[groups]]`) it belongs to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Departments of the fired items, sorted, once each.
    pub departments: Vec<String>,
    /// Ids of the groups whose condition holds, in the model's order.
    pub groups: Vec<String>,
}

/// [`Facts`] of every household of the roster (refused households have
/// none).
pub fn facts(
    model: &hhrisk_model::Model,
    roster: &Path,
    encoding: Encoding,
) -> Result<HashMap<String, Facts>, SampleError> {
    let options = hhrisk_roster::ReadOptions { encoding, ..hhrisk_roster::ReadOptions::default() };
    let r = hhrisk_roster::Roster::read(model, roster, &options)?;
    let scorer = hhrisk_score::Scorer::new(model, &model.bands);
    let mut out = HashMap::new();
    let mut score = hhrisk_score::HouseholdScore::default();
    for h in &r.households {
        let inputs = r.inputs(h);
        scorer.score_into(&inputs, &mut score);
        out.insert(h.id.clone(), household_facts(model, &inputs, &score));
    }
    Ok(out)
}

/// A scored household's [`Facts`].
fn household_facts(
    model: &hhrisk_model::Model,
    inputs: &hhrisk_model::expr::Inputs,
    score: &hhrisk_score::HouseholdScore,
) -> Facts {
    let mut departments: Vec<String> =
        score.hits.iter().map(|hit| model.departments[model.items[hit.item].department].id.clone()).collect();
    departments.sort();
    departments.dedup();
    let groups = model.groups.iter().filter(|g| g.condition.eval(inputs, 0)).map(|g| g.id.clone()).collect();
    Facts { departments, groups }
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
            types: types.into_iter().map(String::from).collect(),
            kinds: Vec::new(),
            answers: Vec::new(),
            assistance: Vec::new(),
            audited: false,
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

    /// By hand: 10 alerted, 8 verified of which 6 in need (precision
    /// 0.75); 90 not alerted, 10 audited of which 2 in need (0.2). In need:
    /// 10 × 0.75 + 90 × 0.2 = 7.5 + 18 = 25.5 of 100; recall 7.5 / 25.5.
    #[test]
    fn recall_is_weighted_by_the_audit_sample() {
        let mut records = Vec::new();
        for k in 0..100 {
            let alerted = k < 10;
            let need = match k {
                0..=5 => Some(true),
                6 | 7 => Some(false),
                8 | 9 => None,
                10 | 11 => Some(true),
                12..=19 => Some(false),
                _ => None,
            };
            let mut r = record(&format!("h{k:03}"), "A", alerted.then_some("red"), need, vec![]);
            r.audited = (10..20).contains(&k);
            records.push(r);
        }
        let a = audit_estimate(&records).unwrap();
        assert_eq!((a.alerts, a.verified_alerts, a.verified_alerts_in_need), (10, 8, 6));
        assert_eq!((a.not_alerted, a.audited, a.audited_in_need), (90, 10, 2));
        assert!((a.in_need - 25.5).abs() < 1e-12 && (a.base_rate - 0.255).abs() < 1e-12);
        assert!((a.recall.unwrap() - 7.5 / 25.5).abs() < 1e-12);
        let ci = a.recall_ci.unwrap();
        // an audit of 10 finds no one in need in a tenth of the replicates: up to 1
        assert!(ci.lo < 7.5 / 25.5 && 7.5 / 25.5 < ci.hi && ci.lo > 0.0 && ci.hi <= 1.0, "{ci:?}");
        // evaluate reports it, and no raw recall from the verified alone
        let e = evaluate(&records, 2.0);
        assert_eq!(e.recall, a.recall);
        assert_eq!(e.base_rate, Some(a.base_rate));
        assert!(e.by_village.iter().all(|g| g.accuracy.recall.is_none()));
        // without audited households: no estimate
        records.iter_mut().for_each(|r| r.audited = false);
        assert!(audit_estimate(&records).is_none());
    }
}

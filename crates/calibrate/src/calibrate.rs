//! The whole calibration: fit, estimate honestly, compare with the
//! model's default bands, and plan verification.

use hhrisk_model::{Bands, Model};

use crate::bootstrap::{percentile_interval, resample};
use crate::curve::{sweep, Objective, Point};
use crate::evaluate::{alerted, band_figures, levels, precision_rises, BandFigures};
use crate::fit::{fit, BandName};
use crate::folds::{leave_one_village_out, rows_without};
use crate::household_size::SizeGroup;
use crate::intervals::{households_to_verify, CONFIDENCE};
use crate::likelihood;
use crate::metrics::{Accuracy, Counts};
use crate::ranking::{auc, average_precision, mean};
use crate::samples::Samples;
use crate::tune::{
    coefficients, features, mcnemar_exact, suggest, top_n, Comparison, HeldOutRanking, ItemSuggestion,
    PairedTest, TuneError, TuneOptions, Tuned,
};

/// How to calibrate.
#[derive(Debug, Clone)]
pub struct Options {
    /// What the alert threshold must achieve.
    pub objective: Objective,
    /// The bands to fit, most severe first; defaults to the model's.
    pub bands: Vec<BandName>,
    /// Bootstrap replicates; defaults to 1000.
    pub replicates: usize,
    /// Seed of the bootstrap; defaults to 2024.
    pub seed: u64,
    /// Margins for the verification plan; defaults to 0.05 and 0.10.
    pub margins: Vec<f64>,
    /// Score ranges in the likelihood table; defaults to 10.
    pub likelihood_bins: usize,
    /// Suggest tuned item points and compare them; defaults to `None`.
    pub tune: Option<TuneOptions>,
    /// Warn when a household-size group's alert rate is more than this
    /// many times its need rate, or less than its inverse; defaults to 2.
    pub size_warning_factor: f64,
    /// Told how far the work has gone; defaults to telling no one.
    pub progress: Progress,
}

/// Who is told how far a calibration or a fit has gone: `(done, total)`
/// steps, steps of unequal length (a stage of the work each).
#[derive(Clone, Default)]
pub struct Progress(Option<std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>>);

impl Progress {
    /// Tells `tell`.
    pub fn new(tell: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        Progress(Some(std::sync::Arc::new(tell)))
    }

    /// `done` of `total` steps.
    pub fn tell(&self, done: u64, total: u64) {
        if let Some(tell) = &self.0 {
            tell(done, total);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(told)" } else { "Progress(none)" })
    }
}

/// Stages of a calibration, for [`Progress`].
pub const CALIBRATE_STEPS: u64 = 5;

impl Options {
    /// Defaults for a model: its band names, 1000 replicates, seed 2024.
    pub fn new(model: &Model, objective: Objective) -> Options {
        Options {
            objective,
            bands: model
                .bands
                .levels
                .iter()
                .map(|b| BandName {
                    name: b.name.clone(),
                    label: b.label.clone(),
                    label_en: b.label_en.clone(),
                })
                .collect(),
            replicates: 1000,
            seed: 2024,
            margins: vec![0.05, 0.10],
            likelihood_bins: 10,
            tune: None,
            size_warning_factor: crate::household_size::DEFAULT_FACTOR,
            progress: Progress::default(),
        }
    }
}

/// A band as written in calibration.json.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BandMin {
    /// Band name.
    pub level: String,
    /// Lowest score in the band.
    pub min_score: f64,
}

fn band_mins(bands: &Bands) -> Vec<BandMin> {
    bands.levels.iter().map(|b| BandMin { level: b.name.clone(), min_score: b.min }).collect()
}

/// Accuracy in one village.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VillageAccuracy {
    /// Village name.
    pub village: String,
    /// Accuracy there.
    #[serde(flatten)]
    pub accuracy: Accuracy,
}

/// One leave-one-village-out fold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FoldResult {
    /// The village left out.
    pub village: String,
    /// Bands fitted on the other villages.
    pub bands: Vec<BandMin>,
    /// Whether the objective could be met on the other villages.
    pub objective_met: bool,
    /// Accuracy on the village left out.
    #[serde(flatten)]
    pub accuracy: Accuracy,
}

/// How far a band's threshold moves between folds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Spread {
    /// Band name.
    pub level: String,
    /// Smallest `min_score` over the folds.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub sd: f64,
    /// The threshold fitted on all villages.
    pub all_villages: f64,
}

/// Leave-one-village-out figures: the held-out villages pooled, and each
/// fold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LeaveOneVillageOut {
    /// Pooled over the held-out villages.
    #[serde(flatten)]
    pub accuracy: Accuracy,
    /// Each fold.
    pub folds: Vec<FoldResult>,
    /// How far each threshold moves between folds.
    pub threshold_spread: Vec<Spread>,
}

/// The model's default bands on the same households.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Baseline {
    /// The default bands.
    pub bands: Vec<BandMin>,
    /// Their accuracy on all sample households.
    pub in_sample: Accuracy,
    /// Fixed bands are not fitted, so held out they do as in sample: the
    /// same figures, pooled over villages.
    pub leave_one_village_out: Accuracy,
    /// Per village.
    pub per_village: Vec<VillageAccuracy>,
    /// Per band.
    pub band_figures: Vec<BandFigures>,
}

/// How many households to verify to know a band's precision within a
/// margin.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerificationPlan {
    /// Band name, or `all alerts`.
    pub level: String,
    /// Precision observed in the samples (the planning value).
    pub precision: f64,
    /// Half-width wanted of the 95 % exact interval.
    pub margin: f64,
    /// Households to verify.
    pub households: Option<u64>,
}

/// Everything calibration found, as written to calibration.json.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Calibration {
    /// The model's normalisation: what the scores and bands are in.
    pub normalise: hhrisk_model::Normalise,
    /// The objective.
    pub objective: Objective,
    /// Whether the objective could be met on all villages.
    pub objective_met: bool,
    /// The fitted bands, most severe first.
    pub bands: Vec<BandMin>,
    /// The band that trigger items raise a household to.
    pub trigger_band: Option<String>,
    /// Each fitted band's figures on all sample households.
    pub band_figures: Vec<BandFigures>,
    /// The fitted bands on the households they were fitted on.
    pub in_sample: Accuracy,
    /// In sample, per village.
    pub per_village: Vec<VillageAccuracy>,
    /// Fitted without each village, measured on it.
    pub leave_one_village_out: LeaveOneVillageOut,
    /// The model's default bands.
    pub baseline: Baseline,
    /// Share in need by score range.
    pub likelihood: Vec<likelihood::Row>,
    /// Households to verify per band and margin.
    pub verification_plan: Vec<VerificationPlan>,
    /// The alert curve over all villages: one point per distinct score (at
    /// most 500, evenly spaced, when there are more).
    pub curve: Vec<Point>,
    /// What each item does: how often it counts, and the accuracy of the
    /// fitted bands without it.
    pub items: Vec<ItemEffect>,
    /// Alert rate, need rate, precision and recall of the fitted bands by
    /// household size (1, 2, 3, 4–5, 6+ members), on all sample households.
    pub by_household_size: Vec<SizeGroup>,
    /// Tuned item points beside the current ones (with `--tune`).
    pub tuned: Option<Tuned>,
    /// Things the analyst should know (objective not met, empty bands …).
    pub warnings: Vec<String>,
    /// The same warnings in Chinese, for the terminal (not written).
    #[serde(skip)]
    pub warnings_zh: Vec<String>,
}

/// What one item does on the sample villages.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemEffect {
    /// Item id.
    pub item: String,
    /// Share of households where it counts.
    pub fires: f64,
    /// Share of those households verified in need.
    pub in_need_when_fires: Option<f64>,
    /// Precision of the fitted bands with the item's points set to 0.
    pub precision_without: Option<f64>,
    /// Recall of the fitted bands without the item.
    pub recall_without: Option<f64>,
    /// Change in precision from dropping it.
    pub precision_change: Option<f64>,
    /// Change in recall from dropping it.
    pub recall_change: Option<f64>,
}

impl Calibration {
    /// The fitted bands, as `hhrisk score` applies them.
    pub fn fitted_bands(&self) -> Bands {
        let levels: Vec<hhrisk_model::Band> = self
            .bands
            .iter()
            .map(|b| hhrisk_model::Band {
                name: b.level.clone(),
                label: None,
                label_en: None,
                min: b.min_score,
            })
            .collect();
        let trigger = self.trigger_band.as_ref().and_then(|t| levels.iter().position(|b| &b.name == t));
        Bands { levels, trigger }
    }
}

/// Households of each village, in the order of their ids, so that the
/// bootstrap draws the same households whatever order the files had.
pub fn by_village(samples: &Samples) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); samples.villages.len()];
    for (i, &v) in samples.village.iter().enumerate() {
        out[v].push(i);
    }
    for rows in &mut out {
        rows.sort_by(|&a, &b| samples.ids[a].cmp(&samples.ids[b]));
    }
    out
}

/// Accuracy with bootstrap intervals added.
fn accuracy(
    alerted: &[bool],
    need: &[bool],
    groups: &[Vec<usize>],
    rows: &[usize],
    options: &Options,
) -> Accuracy {
    let mut a = Accuracy::from(Counts::of(alerted, need, rows.iter().copied()));
    let replicates = resample(groups, options.replicates, options.seed, |rows| {
        Counts::of(alerted, need, rows.iter().copied())
    });
    a.precision_ci.bootstrap = percentile_interval(replicates.iter().filter_map(Counts::precision).collect());
    a.recall_ci.bootstrap = percentile_interval(replicates.iter().filter_map(Counts::recall).collect());
    a
}

fn per_village(samples: &Samples, alerted: &[bool], groups: &[Vec<usize>]) -> Vec<VillageAccuracy> {
    groups
        .iter()
        .enumerate()
        .map(|(v, rows)| VillageAccuracy {
            village: samples.villages[v].clone(),
            accuracy: Counts::of(alerted, &samples.need, rows.iter().copied()).into(),
        })
        .collect()
}

/// Calibrates bands on sample villages.
pub fn calibrate(model: &Model, samples: &Samples, options: &Options) -> Calibration {
    let scores = samples.score.as_slice().map_or_else(|| samples.score.to_vec(), <[f64]>::to_vec);
    let (need, triggered) = (&samples.need, &samples.triggered);
    let groups = by_village(samples);
    let all: Vec<usize> = (0..samples.len()).collect();
    // each warning in English (for the files and --json) and in Chinese
    let (mut warnings, mut warnings_zh) = (Vec::new(), Vec::new());
    // Fit the bands asked for; while precision does not rise with severity
    // (the data cannot tell the bands apart), fit one band fewer, dropping
    // the most severe name, and say so.
    let mut names = options.bands.clone();
    let (fitted, trigger) = loop {
        let trigger = trigger_index(model, &names);
        let fitted = fit(&scores, need, triggered, &all, &options.objective, &names, trigger);
        let Some(f) = &fitted else { break (fitted, trigger) };
        let figures = band_figures(&f.bands, &levels(&f.bands, &scores, triggered), need, &all);
        if names.len() <= 1 || precision_rises(&figures) {
            break (fitted, trigger);
        }
        let shown: Vec<String> = figures
            .iter()
            .map(|f| format!("{} {}", f.level, f.chance_of_need.as_deref().unwrap_or("empty")))
            .collect();
        warnings.push(format!(
            "{} bands cannot be told apart on these villages (chance of need by band: {}): precision must rise \
             with severity, so {} band{} fitted instead, without {}",
            names.len(),
            shown.join(", "),
            names.len() - 1,
            if names.len() == 2 { " is" } else { "s are" },
            names[0].name
        ));
        let shown_zh: Vec<String> = figures
            .iter()
            .map(|f| match &f.chance_of_need {
                Some(c) => format!("{} {}", f.level, c.replace(" (", "（").replace(')', "）")),
                None => format!("{} 无户", f.level),
            })
            .collect();
        warnings_zh.push(format!(
            "在这些样本村上无法区分 {} 个预警区间（各区间需要帮扶的可能性：{}）：精确率须随预警等级升高而升高，\
             因此改为校准 {} 个区间，去掉 {}",
            names.len(),
            shown_zh.join("，"),
            names.len() - 1,
            names[0].name
        ));
        names.remove(0);
    };
    let (bands, met) =
        fitted.as_ref().map_or_else(|| (Bands::default(), false), |f| (f.bands.clone(), f.met));
    if !met {
        warnings.push(format!(
            "the objective cannot be met on these villages: {}. {}; the bands come as close as the data allow",
            options.objective.describe(),
            capitalise(&options.objective.fallback())
        ));
        warnings_zh.push(format!(
            "在这些样本村上达不到校准目标：{}。{}；预警区间已尽量接近目标",
            options.objective.describe_zh(),
            options.objective.fallback_zh()
        ));
    }
    let lv = levels(&bands, &scores, triggered);
    let fitted_alerts = alerted(&lv);
    let figures = band_figures(&bands, &lv, need, &all);
    for f in figures.iter().filter(|f| f.households == 0) {
        warnings.push(format!("band {} holds no sample household: a gap between its neighbours", f.level));
        warnings_zh.push(format!("预警区间 {} 内没有样本户：只是相邻两个区间之间的空档", f.level));
    }

    options.progress.tell(1, CALIBRATE_STEPS);
    let (folds, held_out_alerts) =
        leave_one_village_out(&scores, need, triggered, &groups, &options.objective, &names, trigger);
    options.progress.tell(2, CALIBRATE_STEPS);
    let fold_results: Vec<FoldResult> = folds
        .iter()
        .map(|f| FoldResult {
            village: samples.villages[f.village].clone(),
            bands: f.fitted.as_ref().map(|x| band_mins(&x.bands)).unwrap_or_default(),
            objective_met: f.fitted.as_ref().is_some_and(|x| x.met),
            accuracy: f.held_out.into(),
        })
        .collect();
    let threshold_spread = bands
        .levels
        .iter()
        .enumerate()
        .map(|(b, band)| {
            let mins: Vec<f64> =
                folds.iter().filter_map(|f| f.fitted.as_ref().map(|x| x.bands.levels[b].min)).collect();
            let n = mins.len().max(1) as f64;
            let mean = mins.iter().sum::<f64>() / n;
            let sd = (mins.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
            Spread {
                level: band.name.clone(),
                min: mins.iter().copied().fold(f64::INFINITY, f64::min),
                max: mins.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                mean,
                sd,
                all_villages: band.min,
            }
        })
        .collect();

    let base_lv = levels(&model.bands, &scores, triggered);
    let base_alerts = alerted(&base_lv);
    let base_in_sample = accuracy(&base_alerts, need, &groups, &all, options);
    let baseline = Baseline {
        bands: band_mins(&model.bands),
        leave_one_village_out: base_in_sample.clone(),
        in_sample: base_in_sample,
        per_village: per_village(samples, &base_alerts, &groups),
        band_figures: band_figures(&model.bands, &base_lv, need, &all),
    };

    options.progress.tell(3, CALIBRATE_STEPS);
    let mut verification_plan = Vec::new();
    let overall = Counts::of(&fitted_alerts, need, all.iter().copied());
    let planned = figures
        .iter()
        .filter_map(|f| f.precision.map(|p| (f.level.clone(), p)))
        .chain(overall.precision().map(|p| ("all alerts".to_string(), p)));
    for (level, precision) in planned {
        for &margin in &options.margins {
            verification_plan.push(VerificationPlan {
                level: level.clone(),
                precision,
                margin,
                households: households_to_verify(precision, margin, CONFIDENCE, 10_000_000),
            });
        }
    }

    let in_sample = accuracy(&fitted_alerts, need, &groups, &all, options);
    let sizes = size_table(samples, &fitted_alerts);
    warnings.extend(crate::household_size::warnings(&sizes, options.size_warning_factor));
    warnings_zh.extend(crate::household_size::warnings_zh(&sizes, options.size_warning_factor));
    let items = item_effects(model, samples, &bands, &in_sample);
    options.progress.tell(4, CALIBRATE_STEPS);
    let tuned = match options.tune {
        Some(t) => {
            match tune_and_compare(model, samples, options, &t, &groups, &fitted_alerts, &held_out_alerts) {
                Ok(tuned) => Some(tuned),
                Err(e) => {
                    warnings.push(format!("no tuned points: {e}"));
                    warnings_zh.push(format!("未给出调整后的分值：{}", e.to_zh()));
                    None
                }
            }
        }
        None => None,
    };
    options.progress.tell(CALIBRATE_STEPS, CALIBRATE_STEPS);

    Calibration {
        normalise: model.scoring.normalise,
        objective: options.objective,
        objective_met: met,
        bands: band_mins(&bands),
        trigger_band: bands.trigger.map(|t| bands.levels[t].name.clone()),
        band_figures: figures,
        in_sample,
        per_village: per_village(samples, &fitted_alerts, &groups),
        leave_one_village_out: LeaveOneVillageOut {
            accuracy: accuracy(&held_out_alerts, need, &groups, &all, options),
            folds: fold_results,
            threshold_spread,
        },
        baseline,
        likelihood: likelihood::table(&scores, need, &all, options.likelihood_bins),
        verification_plan,
        curve: thin(sweep(&scores, need, triggered, &all), MAX_CURVE_POINTS),
        items,
        by_household_size: sizes,
        tuned,
        warnings,
        warnings_zh,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// The band trigger items raise a household to, among `names`: the
/// model's trigger band, or the most severe band fitted when that one was
/// not.
fn trigger_index(model: &Model, names: &[BandName]) -> Option<usize> {
    let t = model.bands.trigger?;
    names.iter().position(|b| b.name == model.bands.levels[t].name).or((!names.is_empty()).then_some(0))
}

/// Alerts by household size among the sample households.
pub fn size_table(samples: &Samples, alerted: &[bool]) -> Vec<SizeGroup> {
    let rows =
        (0..samples.len()).map(|i| (samples.matrix.members[i] as usize, alerted[i], Some(samples.need[i])));
    crate::household_size::by_household_size(rows, true)
}

/// Most curve points written to calibration.json.
pub const MAX_CURVE_POINTS: usize = 500;

/// Keeps at most `max` points, evenly spaced by alert volume, always with
/// the first and the last.
fn thin(points: Vec<Point>, max: usize) -> Vec<Point> {
    if points.len() <= max || max < 2 {
        return points;
    }
    let last = points.len() - 1;
    (0..max).map(|k| points[k * last / (max - 1)]).collect()
}

/// Households where a trigger item other than `skip` counts.
fn triggered_without(model: &Model, samples: &Samples, skip: Option<usize>) -> Vec<bool> {
    let triggers: Vec<usize> = model
        .items
        .iter()
        .enumerate()
        .filter(|(j, i)| i.trigger && Some(*j) != skip)
        .map(|(j, _)| j)
        .collect();
    let counts = &samples.matrix.item_counts;
    (0..samples.len()).map(|i| triggers.iter().any(|&j| counts[[i, j]] > 0.0)).collect()
}

fn item_effects(model: &Model, samples: &Samples, bands: &Bands, with_all: &Accuracy) -> Vec<ItemEffect> {
    let current: Vec<f64> = model.items.iter().map(|i| i.points).collect();
    let all: Vec<usize> = (0..samples.len()).collect();
    model
        .items
        .iter()
        .enumerate()
        .map(|(j, item)| {
            let fires: Vec<bool> = samples.fires(j).collect();
            let firing = fires.iter().filter(|&&f| f).count();
            let in_need = fires.iter().zip(&samples.need).filter(|(f, n)| **f && **n).count();
            let mut points = current.clone();
            points[j] = 0.0;
            let scores = samples.rescore(model, &points);
            let triggered = if item.trigger {
                triggered_without(model, samples, Some(j))
            } else {
                samples.triggered.clone()
            };
            let scores = scores.to_vec();
            let without =
                Counts::of(&alerted(&levels(bands, &scores, &triggered)), &samples.need, all.iter().copied());
            let change = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a - b);
            ItemEffect {
                item: item.id.clone(),
                fires: firing as f64 / samples.len().max(1) as f64,
                in_need_when_fires: (firing > 0).then(|| in_need as f64 / firing as f64),
                precision_without: without.precision(),
                recall_without: without.recall(),
                precision_change: change(without.precision(), with_all.precision),
                recall_change: change(without.recall(), with_all.recall),
            }
        })
        .collect()
}

fn as_flags(n: usize, rows: &[usize]) -> Vec<bool> {
    let mut out = vec![false; n];
    for &i in rows {
        out[i] = true;
    }
    out
}

/// Two alert rules on the same households: their accuracy, and a paired
/// test of the difference (McNemar on the households in need that only
/// one of them alerts; a village bootstrap interval for the difference in
/// precision, `new` minus `current`).
pub(crate) fn paired_comparison(
    current: &[bool],
    new: &[bool],
    need: &[bool],
    groups: &[Vec<usize>],
    options: &Options,
) -> (Comparison, PairedTest) {
    let all: Vec<usize> = (0..need.len()).collect();
    let comparison = Comparison {
        current: accuracy(current, need, groups, &all, options),
        tuned: accuracy(new, need, groups, &all, options),
    };
    let (mut current_only, mut tuned_only) = (0, 0);
    for i in 0..need.len() {
        if need[i] && current[i] && !new[i] {
            current_only += 1;
        }
        if need[i] && new[i] && !current[i] {
            tuned_only += 1;
        }
    }
    let difference = |rows: &[usize]| {
        let c = Counts::of(current, need, rows.iter().copied());
        let d = Counts::of(new, need, rows.iter().copied());
        d.precision().zip(c.precision()).map(|(a, b)| a - b)
    };
    let diffs: Vec<f64> =
        resample(groups, options.replicates, options.seed, difference).into_iter().flatten().collect();
    let test = PairedTest {
        method: "mcnemar-exact",
        current_only,
        tuned_only,
        p_value: mcnemar_exact(current_only, tuned_only),
        precision_difference: difference(&all).unwrap_or(0.0),
        difference_ci: percentile_interval(diffs),
    };
    (comparison, test)
}

fn tune_and_compare(
    model: &Model,
    samples: &Samples,
    options: &Options,
    t: &TuneOptions,
    groups: &[Vec<usize>],
    fitted_alerts: &[bool],
    held_out_alerts: &[bool],
) -> Result<Tuned, TuneError> {
    let (need, triggered) = (&samples.need, &samples.triggered);
    let n = samples.len();
    let all: Vec<usize> = (0..n).collect();
    let x = features(model, samples);
    let current: Vec<f64> = model.items.iter().map(|i| i.points).collect();
    let fires_in = |rows: &[usize]| -> Vec<bool> {
        (0..current.len()).map(|j| rows.iter().any(|&i| samples.matrix.item_counts[[i, j]] > 0.0)).collect()
    };

    let beta = coefficients(&x, need, &all, t)?;
    let fires_all = fires_in(&all);
    let suggested = suggest(&current, &beta, &fires_all, t.max_change);
    let tuned_scores = samples.rescore(model, &suggested);
    let volume = fitted_alerts.iter().filter(|&&a| a).count();
    let tuned_alerts = as_flags(n, &top_n(&tuned_scores, triggered, &all, volume));
    let in_sample = Comparison {
        current: accuracy(fitted_alerts, need, groups, &all, options),
        tuned: accuracy(&tuned_alerts, need, groups, &all, options),
    };

    let mut lovo_tuned = vec![false; n];
    let mut ranking = Vec::new();
    let current_scores = samples.score.to_vec();
    for (v, rows) in groups.iter().enumerate() {
        let train = rows_without(groups, v);
        let beta_v = coefficients(&x, need, &train, t)?;
        let points_v = suggest(&current, &beta_v, &fires_in(&train), t.max_change);
        let scores_v = samples.rescore(model, &points_v);
        let tuned_scores = scores_v.to_vec();
        ranking.push([
            average_precision(&current_scores, need, rows),
            average_precision(&tuned_scores, need, rows),
            auc(&current_scores, need, rows),
            auc(&tuned_scores, need, rows),
        ]);
        let volume_v = rows.iter().filter(|&&i| held_out_alerts[i]).count();
        for i in top_n(&scores_v, triggered, rows, volume_v) {
            lovo_tuned[i] = true;
        }
    }
    let (lovo, paired_test) = paired_comparison(held_out_alerts, &lovo_tuned, need, groups, options);

    let points = model
        .items
        .iter()
        .enumerate()
        .map(|(j, item)| ItemSuggestion {
            item: item.id.clone(),
            current: current[j],
            suggested: suggested[j],
            coefficient: beta[j],
            fires: samples.fires(j).filter(|&f| f).count() as f64 / n.max(1) as f64,
        })
        .collect();
    let mean = |k: usize| mean(ranking.iter().map(|r: &[Option<f64>; 4]| r[k]));
    let held_out_ranking = HeldOutRanking {
        average_precision_current: mean(0),
        average_precision_tuned: mean(1),
        auc_current: mean(2),
        auc_tuned: mean(3),
    };
    Ok(Tuned {
        options: *t,
        fitted_on: "all sample villages: its in-sample figures are optimistic; leave_one_village_out and held_out_ranking tune without each village and measure on it",
        points,
        in_sample,
        leave_one_village_out: lovo,
        held_out_ranking,
        paired_test,
    })
}

/// The fitted bands as a thresholds file for `hhrisk score --thresholds`.
pub fn thresholds_toml(calibration: &Calibration, options: &Options, header: &str) -> String {
    let mut s = String::new();
    for line in header.lines() {
        s.push_str(&format!("# {line}\n"));
    }
    s.push_str("\n[bands]\n");
    if let Some(t) = &calibration.trigger_band {
        s.push_str(&format!("trigger = {}\n", toml_string(t)));
    }
    for (b, band) in calibration.bands.iter().enumerate() {
        s.push('\n');
        if let Some(f) = calibration.band_figures.get(b) {
            s.push_str(&format!(
                "# chance of need in the sample villages: {} ({} households)\n",
                f.chance_of_need.as_deref().unwrap_or("no household"),
                f.households
            ));
        }
        s.push_str("[[bands.levels]]\n");
        s.push_str(&format!("name = {}\n", toml_string(&band.level)));
        if let Some(name) = options.bands.iter().find(|n| n.name == band.level) {
            if let Some(l) = &name.label {
                s.push_str(&format!("label = {}\n", toml_string(l)));
            }
            if let Some(l) = &name.label_en {
                s.push_str(&format!("label_en = {}\n", toml_string(l)));
            }
        }
        s.push_str(&format!("min = {:?}\n", band.min_score));
    }
    s
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::Samples;
    use hhrisk_score::ScoreMatrix;
    use ndarray::{Array1, Array2};

    const MODEL: &str = r#"
[model]
name = "t"
version = "1"
source = "test"
[[departments]]
id = "d"
name = "d"
[[columns]]
name = "car"
file = "households"
type = "bool"
[[categories]]
id = "c"
name = "c"
[[items]]
id = "A"
category = "c"
name = "a"
when = "car"
points = 1
department = "d"
[bands]
trigger = "yellow"
[[bands.levels]]
name = "red"
min = 200
[[bands.levels]]
name = "orange"
min = 100
[[bands.levels]]
name = "yellow"
min = 50
"#;

    /// 300 households in 3 villages scored 1 to 300, one member each. The
    /// chance of need is 50 % in the top third, 80 % in the middle and 20 %
    /// at the bottom: no three bands can have precision rising with
    /// severity above the middle.
    fn samples() -> Samples {
        let n = 300;
        let score: Array1<f64> = (1..=n).map(|i| i as f64).collect();
        let need: Vec<bool> = (1..=n)
            .map(|i| match i {
                201.. => i % 2 == 0,
                101..=200 => i % 5 != 0,
                _ => i % 5 == 0,
            })
            .collect();
        Samples {
            villages: vec!["a".into(), "b".into(), "c".into()],
            village: (0..n).map(|i| i % 3).collect(),
            ids: (0..n).map(|i| format!("h{i:03}")).collect(),
            need,
            triggered: vec![false; n],
            matrix: ScoreMatrix {
                members: Array1::ones(n),
                equivalents: Array1::ones(n),
                score: score.clone(),
                item_counts: Array2::zeros((n, 1)),
                category_totals: score.clone().insert_axis(ndarray::Axis(1)),
            },
            score,
            unverified: 0,
            selected: 0,
            rosters: Vec::new(),
        }
    }

    #[test]
    fn bands_whose_precision_cannot_rise_are_merged_and_said() {
        let model = Model::from_toml(MODEL, "t.toml").unwrap();
        let options = Options {
            replicates: 50,
            ..Options::new(&model, Objective::RecallAtPrecision { target: 0.45, lower_bound: false })
        };
        let c = calibrate(&model, &samples(), &options);
        assert!(c.bands.len() < 3, "{:?}", c.band_figures);
        assert!(
            c.warnings.iter().any(|w| w.starts_with("3 bands cannot be told apart on these villages")),
            "{:?}",
            c.warnings
        );
        // what is left rises with severity, and keeps the trigger band
        assert!(crate::evaluate::precision_rises(&c.band_figures), "{:?}", c.band_figures);
        assert_eq!(c.trigger_band.as_deref(), Some("yellow"));
        assert!(c.band_figures.iter().all(|b| b.chance_of_need.is_some()));
        // the size table covers every household (all of one member here)
        assert_eq!(c.by_household_size[0].households, 300);
        assert_eq!(c.by_household_size.iter().map(|g| g.households).sum::<u64>(), 300);
    }

    /// The progress is told each stage in turn, and ends at its total; it
    /// changes nothing in the result.
    #[test]
    fn progress_goes_stage_by_stage_to_the_end() {
        let model = Model::from_toml(MODEL, "t.toml").unwrap();
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = told.clone();
        let quiet = Options {
            replicates: 50,
            ..Options::new(&model, Objective::RecallAtPrecision { target: 0.45, lower_bound: false })
        };
        let watched = Options {
            progress: Progress::new(move |d, t| seen.lock().unwrap().push((d, t))),
            ..quiet.clone()
        };
        let (a, b) = (calibrate(&model, &samples(), &quiet), calibrate(&model, &samples(), &watched));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let told = told.lock().unwrap().clone();
        let want: Vec<(u64, u64)> = (1..=CALIBRATE_STEPS).map(|d| (d, CALIBRATE_STEPS)).collect();
        assert_eq!(told, want);
    }

    #[test]
    fn the_objective_not_met_is_said_in_plain_words() {
        let model = Model::from_toml(MODEL, "t.toml").unwrap();
        let options = Options {
            replicates: 20,
            ..Options::new(&model, Objective::RecallAtPrecision { target: 0.99, lower_bound: true })
        };
        let c = calibrate(&model, &samples(), &options);
        assert!(!c.objective_met);
        let w = c.warnings.iter().find(|w| w.contains("cannot be met")).unwrap();
        assert!(
            w.starts_with(
                "the objective cannot be met on these villages: find as many households in need as possible while \
                 the lower 95 % bound of precision stays at or above 99 %. The alerts start where the lower 95 % \
                 bound of precision is highest instead"
            ),
            "{w}"
        );
        assert!(!w.contains('{') && !w.contains("RecallAtPrecision"), "{w}");
    }
}

//! Points learned from verified outcomes (`hhrisk fit`): an integer
//! scorecard from a class-weighted, L2-penalised logistic regression of
//! need on the item features, with the strength of the penalty chosen by
//! leave-one-village-out inside the training villages, and every figure
//! measured on villages the points were not fitted on.
//!
//! The features are the model's own arithmetic: category weight × count,
//! divided by the household's divisor under the normalisation (unless the
//! item says `divide = false`), so that a coefficient is directly a number
//! of points and the fitted score is the model's score with new points.

use hhrisk_model::{Model, Normalise};
use ndarray::Array2;

use crate::bootstrap::resample;
use crate::calibrate::{by_village, paired_comparison, size_table, Options};
use crate::folds::{leave_one_village_out, rows_without};
use crate::household_size::SizeGroup;
use crate::logistic::{balanced_weights, Design, LogisticFit, Problem};
use crate::ranking::{auc, average_precision, mean};
use crate::samples::Samples;
use crate::tune::{top_n, Comparison, PairedTest, TuneError};

/// Which normalisation to fit under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NormaliseChoice {
    /// The model's own when it states one (`[scoring] normalise`); else
    /// as `Auto`.
    #[default]
    Model,
    /// This one.
    Given(Normalise),
    /// The one whose fitted points rank best held out.
    Auto,
}

/// How to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Largest magnitude of a fitted item's points; defaults to 20.
    pub max_points: u32,
    /// Let the data choose each item's sign; by default an item keeps the
    /// sign its author gave it (and may fall to 0).
    pub free_signs: bool,
    /// Which normalisation.
    pub normalise: NormaliseChoice,
    /// Penalties tried (scikit-learn's `C`, inverse strength), ascending.
    pub penalties: Vec<f64>,
    /// Village bootstrap replicates for the spread of each item's points;
    /// defaults to 50.
    pub replicates: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            max_points: 20,
            free_signs: false,
            normalise: NormaliseChoice::Model,
            penalties: vec![0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0],
            replicates: 50,
        }
    }
}

/// The penalty used when there are too few villages to choose one.
pub const DEFAULT_PENALTY: f64 = 1.0;

/// What fitting found, as written to `NEW.fit.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scorecard {
    /// The normalisation of the fitted model.
    pub normalise: Normalise,
    /// `model`, `--normalise`, `auto`, or `auto (the model states none)`.
    pub normalise_chosen_by: &'static str,
    /// Held-out figures of each normalisation tried.
    pub candidates: Vec<Candidate>,
    /// The penalty of the final fit, chosen by leave-one-village-out on
    /// all sample villages.
    pub penalty: Penalty,
    /// Points per unit of coefficient: `max_points / max |coefficient|`.
    pub scale: f64,
    /// Largest magnitude of a fitted item's points.
    pub max_points: u32,
    /// Whether items kept their authors' signs.
    pub sign_constraints: bool,
    /// Per item.
    pub items: Vec<FittedItem>,
    /// Current and fitted points on villages they were not fitted on.
    pub held_out: HeldOut,
    /// Things the analyst should know.
    pub warnings: Vec<String>,
    /// The same warnings in Chinese, for the terminal (not written).
    #[serde(skip)]
    pub warnings_zh: Vec<String>,
}

/// Held-out figures of one normalisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// The normalisation.
    pub normalise: Normalise,
    /// Mean over held-out villages of the average precision of the fitted
    /// integer points.
    pub average_precision: Option<f64>,
    /// The same for the area under the ROC curve.
    pub auc: Option<f64>,
}

/// How the penalty was chosen.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Penalty {
    /// scikit-learn's `C` (inverse strength) of the final fit.
    pub c: f64,
    /// Each `C` tried, with the mean average precision of its fits on the
    /// village left out (empty when there were too few villages).
    pub tried: Vec<PenaltyScore>,
}

/// One penalty tried.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PenaltyScore {
    /// scikit-learn's `C`.
    pub c: f64,
    /// Mean average precision on the village left out.
    pub average_precision: Option<f64>,
}

/// One item's fitted points.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FittedItem {
    /// Item id.
    pub item: String,
    /// Points in the input model.
    pub current_points: f64,
    /// Regression coefficient (log-odds of need per unit of the item's
    /// feature), from the fit on all sample villages.
    pub coefficient: f64,
    /// Fitted integer points.
    pub points: f64,
    /// Share of sample households where the item counts.
    pub fires: f64,
    /// `non-negative` or `non-positive` (the author's sign), `free`, or
    /// `off` (switched off in the input model, left off).
    pub constraint: &'static str,
    /// Standard deviation of the points over a village bootstrap (same
    /// scale as `points`).
    pub points_sd: Option<f64>,
    /// Points fitted without each village (each fold scaled to
    /// `max_points`), in the order of `held_out.villages`.
    pub fold_points: Vec<f64>,
    /// Whether the item is switched off in the fitted model (points 0;
    /// trigger items are never switched off).
    pub dropped: bool,
    /// Whether the item raises an alert on its own (kept whatever its
    /// points).
    pub trigger: bool,
}

/// Current and fitted points on villages they were not fitted on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HeldOut {
    /// Per village left out.
    pub villages: Vec<VillageRanking>,
    /// Mean over villages of the average precision.
    pub average_precision: Pair,
    /// Mean over villages of the area under the ROC curve.
    pub auc: Pair,
    /// At the volume the current model alerts in each village (its bands
    /// fitted without that village): the fitted points alert as many
    /// households, the highest scores first.
    pub at_current_volume: Comparison,
    /// Paired test of that comparison: McNemar on the households in need
    /// alerted by one rule only, and a village bootstrap interval for the
    /// difference in precision.
    pub paired_test: PairedTest,
    /// Those held-out alerts by household size.
    pub by_household_size: SizeComparison,
}

/// Alerts by household size of the current and the fitted points.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SizeComparison {
    /// The current model's held-out alerts.
    pub current: Vec<SizeGroup>,
    /// The fitted points' held-out alerts, at the same volume.
    pub fitted: Vec<SizeGroup>,
}

/// A figure for the current points, the fitted points before rounding,
/// and the fitted integer points.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Pair {
    /// The input model's points.
    pub current: Option<f64>,
    /// The fitted coefficients, unrounded.
    pub fitted_unrounded: Option<f64>,
    /// The fitted integer points (what the new model scores).
    pub fitted: Option<f64>,
}

/// One village left out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VillageRanking {
    /// Village.
    pub village: String,
    /// Households with an outcome.
    pub households: usize,
    /// Of which in need.
    pub in_need: usize,
    /// `C` chosen without this village (by leave-one-village-out among
    /// the others).
    pub penalty: f64,
    /// Average precision.
    pub average_precision: Pair,
    /// Area under the ROC curve.
    pub auc: Pair,
}

/// A ranking figure of scores over some rows (average precision, AUC).
type Ranking = fn(&[f64], &[bool], &[usize]) -> Option<f64>;

/// Per household, scores from fits that did not see its village.
struct CrossValidated {
    /// Linear predictor (without intercept) of the unrounded fit.
    raw: Vec<f64>,
    /// Score with the fold's integer points.
    integer: Vec<f64>,
    /// Per village, the fold's integer points.
    fold_points: Vec<Vec<f64>>,
    /// Per village, the penalty chosen.
    penalties: Vec<f64>,
}

/// Fits made, and those that stopped at the step limit short of the
/// optimum (shared by the folds' threads).
#[derive(Debug, Default)]
struct Tally {
    fits: std::sync::atomic::AtomicUsize,
    short: std::sync::atomic::AtomicUsize,
}

impl Tally {
    fn record(&self, fit: LogisticFit) -> LogisticFit {
        use std::sync::atomic::Ordering::Relaxed;
        self.fits.fetch_add(1, Relaxed);
        if !fit.converged {
            self.short.fetch_add(1, Relaxed);
        }
        fit
    }
}

/// Per item, the lowest and highest coefficient allowed.
fn bounds(model: &Model, free_signs: bool) -> Vec<(f64, f64)> {
    model
        .items
        .iter()
        .map(|item| match item.points {
            _ if item.off => (0.0, 0.0),
            _ if free_signs => (f64::NEG_INFINITY, f64::INFINITY),
            p if p > 0.0 => (0.0, f64::INFINITY),
            p if p < 0.0 => (f64::NEG_INFINITY, 0.0),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        })
        .collect()
}

fn constraint(bound: (f64, f64)) -> &'static str {
    match bound {
        (0.0, 0.0) => "off",
        (0.0, _) => "non-negative",
        (_, 0.0) => "non-positive",
        _ => "free",
    }
}

/// `x · coefficients` for the rows.
fn linear(x: &Array2<f64>, beta: &[f64], rows: &[usize]) -> Vec<(usize, f64)> {
    rows.iter().map(|&i| (i, x.row(i).iter().zip(beta).map(|(a, b)| a * b).sum())).collect()
}

/// Integer points: scaled so that the largest magnitude is `max_points`,
/// rounded. Returns the points and the scale.
fn integer_points(beta: &[f64], max_points: u32) -> (Vec<f64>, f64) {
    let largest = beta.iter().fold(0.0f64, |m, b| m.max(b.abs()));
    if largest == 0.0 {
        return (vec![0.0; beta.len()], 0.0);
    }
    let scale = f64::from(max_points) / largest;
    (beta.iter().map(|b| (b * scale).round() + 0.0).collect(), scale)
}

/// Fits on the households `rows`, all with weight 1 times their class
/// weight, from `start`.
fn fit_rows(
    tally: &Tally,
    x: &Array2<f64>,
    need: &[bool],
    rows: &[usize],
    bounds: &[(f64, f64)],
    c: f64,
    start: Option<&LogisticFit>,
) -> LogisticFit {
    let design = Design::from_rows(x, rows);
    let y: Vec<bool> = rows.iter().map(|&i| need[i]).collect();
    let w = balanced_weights(&y);
    tally.record(Problem { x: &design, y: &y, weights: &w, c, bounds }.fit(start))
}

/// Chooses the penalty by leaving out each of `villages` in turn, fitting
/// on the others along the path of penalties, and scoring the one left
/// out. Returns the best `C` (the strongest penalty among equals) and the
/// mean held-out average precision of each.
fn choose_penalty(
    tally: &Tally,
    x: &Array2<f64>,
    need: &[bool],
    villages: &[&[usize]],
    bounds: &[(f64, f64)],
    penalties: &[f64],
) -> (f64, Vec<PenaltyScore>) {
    if villages.len() < 2 || penalties.is_empty() {
        return (DEFAULT_PENALTY, Vec::new());
    }
    let mut scores: Vec<Vec<Option<f64>>> = vec![Vec::new(); penalties.len()];
    for (u, held) in villages.iter().enumerate() {
        let train = rows_without(villages, u);
        let design = Design::from_rows(x, &train);
        let y: Vec<bool> = train.iter().map(|&i| need[i]).collect();
        let w = balanced_weights(&y);
        let mut start: Option<LogisticFit> = None;
        for (k, &c) in penalties.iter().enumerate() {
            let fit = tally.record(Problem { x: &design, y: &y, weights: &w, c, bounds }.fit(start.as_ref()));
            let mut s = vec![0.0; need.len()];
            for (i, v) in linear(x, &fit.coefficients, held) {
                s[i] = v;
            }
            scores[k].push(average_precision(&s, need, held));
            start = Some(fit);
        }
    }
    let tried: Vec<PenaltyScore> = penalties
        .iter()
        .zip(&scores)
        .map(|(&c, s)| PenaltyScore { c, average_precision: mean(s.iter().copied()) })
        .collect();
    let best = tried
        .iter()
        .filter_map(|t| t.average_precision.map(|a| (t.c, a)))
        .fold(None, |best: Option<(f64, f64)>, (c, a)| match best {
            Some((_, b)) if b >= a => best,
            _ => Some((c, a)),
        })
        .map_or(DEFAULT_PENALTY, |(c, _)| c);
    (best, tried)
}

/// Nested leave-one-village-out: for each village, the penalty is chosen
/// among the other villages, the points fitted on them, and the village
/// scored. Folds run on as many threads as the machine has; the result
/// does not depend on it.
fn cross_validate(
    tally: &Tally,
    x: &Array2<f64>,
    need: &[bool],
    groups: &[Vec<usize>],
    bounds: &[(f64, f64)],
    options: &FitOptions,
) -> CrossValidated {
    let fold = |v: usize| {
        let others: Vec<&[usize]> =
            groups.iter().enumerate().filter(|(w, _)| *w != v).map(|(_, r)| r.as_slice()).collect();
        let (c, _) = choose_penalty(tally, x, need, &others, bounds, &options.penalties);
        let train = rows_without(groups, v);
        let fit = fit_rows(tally, x, need, &train, bounds, c, None);
        let (points, _) = integer_points(&fit.coefficients, options.max_points);
        let raw = linear(x, &fit.coefficients, &groups[v]);
        let integer = linear(x, &points, &groups[v]);
        (c, points, raw, integer)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, groups.len().max(1));
    let mut results: Vec<Option<_>> = (0..groups.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let chunks: Vec<Vec<usize>> =
            (0..threads).map(|t| (t..groups.len()).step_by(threads).collect()).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|folds| scope.spawn(move || folds.into_iter().map(|v| (v, fold(v))).collect::<Vec<_>>()))
            .collect();
        for h in handles {
            for (v, r) in h.join().expect("a fold does not panic") {
                results[v] = Some(r);
            }
        }
    });
    let n = need.len();
    let mut out = CrossValidated {
        raw: vec![0.0; n],
        integer: vec![0.0; n],
        fold_points: Vec::new(),
        penalties: Vec::new(),
    };
    for r in results {
        let (c, points, raw, integer) = r.expect("every fold ran");
        for (i, v) in raw {
            out.raw[i] = v;
        }
        for (i, v) in integer {
            out.integer[i] = v;
        }
        out.fold_points.push(points);
        out.penalties.push(c);
    }
    out
}

/// Fits points to the outcomes of the sample villages and measures them,
/// and the model's current points, on villages they were not fitted on.
/// `calibration` gives the objective and bands the current model's alerts
/// are fitted with (for the comparison at its alert volume), the bootstrap
/// replicates and the seed.
pub fn fit_points(
    model: &Model,
    samples: &Samples,
    options: &FitOptions,
    calibration: &Options,
) -> Result<Scorecard, TuneError> {
    let need = &samples.need;
    if need.iter().all(|&t| t) || need.iter().all(|&t| !t) {
        return Err(TuneError::OneClass);
    }
    let groups = by_village(samples);
    if groups.len() < 2 {
        return Err(TuneError::Fit(
            format!(
                "fit needs sample households in at least 2 villages, to measure the points on a village they were \
                 not fitted on; these are all in {}",
                samples.villages.first().map_or("none", String::as_str)
            ),
            format!(
                "拟合分值需要至少 2 个样本村的户，才能在未参与拟合的村上衡量分值；{}",
                samples.villages.first().map_or("现在没有样本户".to_string(), |v| format!("这些户都在 {v}"))
            ),
        ));
    }
    // each warning in English (for the files and --json) and in Chinese
    let (mut warnings, mut warnings_zh) = (Vec::new(), Vec::new());
    let mut warn = |en: String, zh: String| {
        warnings.push(en);
        warnings_zh.push(zh);
    };
    if groups.len() < 3 {
        warn(
            format!(
                "only {} sample villages: the penalty cannot be chosen on villages left out inside the training \
                 villages, C = {DEFAULT_PENALTY} is used in each fold",
                groups.len(),
            ),
            format!(
                "只有 {} 个样本村：无法在训练用的村内部用留一村交叉验证选择惩罚强度，每一折都用 C = {DEFAULT_PENALTY}",
                groups.len(),
            ),
        );
    }
    let bounds = bounds(model, options.free_signs);
    let tally = Tally::default();
    if options.normalise == NormaliseChoice::Given(Normalise::Equivalence)
        && model.scoring.age_column.is_none()
    {
        return Err(TuneError::Fit(
            "--normalise equivalence needs ages: name the member column of ages in [scoring] age_column (or \
             [identity] age_column)"
                .into(),
            "--normalise equivalence 需要年龄：请在 [scoring] age_column（或 [identity] age_column）中指定成员表的年龄列"
                .into(),
        ));
    }
    let choice = match options.normalise {
        NormaliseChoice::Model if !model.scoring.stated => NormaliseChoice::Auto,
        other => other,
    };
    let candidates: Vec<Normalise> = match choice {
        NormaliseChoice::Model => vec![model.scoring.normalise],
        NormaliseChoice::Given(n) => vec![n],
        NormaliseChoice::Auto => Normalise::ALL
            .into_iter()
            .filter(|&n| n != Normalise::Equivalence || model.scoring.age_column.is_some())
            .collect(),
    };
    if choice == NormaliseChoice::Auto && model.scoring.age_column.is_none() {
        warn(
            "equivalence was not tried: the model names no age column ([scoring] or [identity] age_column)"
                .into(),
            "未尝试 equivalence：指标模型没有指定年龄列（[scoring] 或 [identity] age_column）".into(),
        );
    }
    let per_village = |scores: &[f64], f: Ranking| -> Vec<Option<f64>> {
        groups.iter().map(|rows| f(scores, need, rows)).collect()
    };
    let mut tried = Vec::new();
    let mut best: Option<(Normalise, Array2<f64>, CrossValidated, Option<f64>)> = None;
    // steps for the progress: each normalisation's cross-validation, the
    // final fit, the bootstrap, the comparison
    let steps = candidates.len() as u64 + 3;
    let tell = |done: u64| calibration.progress.tell(done, steps);
    tell(0);
    for normalise in candidates {
        let x = samples.features(model, normalise);
        let cv = cross_validate(&tally, &x, need, &groups, &bounds, options);
        let ap = mean(per_village(&cv.integer, average_precision));
        tried.push(Candidate { normalise, average_precision: ap, auc: mean(per_village(&cv.integer, auc)) });
        let better = match &best {
            None => true,
            Some((_, _, _, b)) => ap.unwrap_or(f64::NEG_INFINITY) > b.unwrap_or(f64::NEG_INFINITY),
        };
        if better {
            best = Some((normalise, x, cv, ap));
        }
        tell(tried.len() as u64);
    }
    let (normalise, x, cv, _) = best.ok_or(TuneError::OneClass)?;

    // the final fit, on every village
    let all_groups: Vec<&[usize]> = groups.iter().map(Vec::as_slice).collect();
    let (c, penalty_path) = choose_penalty(&tally, &x, need, &all_groups, &bounds, &options.penalties);
    let all: Vec<usize> = (0..samples.len()).collect();
    let fit = fit_rows(&tally, &x, need, &all, &bounds, c, None);
    if !fit.converged {
        warn(
            "the regression did not converge in its step limit; the points are approximate".into(),
            "回归在迭代步数上限内没有收敛；分值为近似值".into(),
        );
    }
    let (points, scale) = integer_points(&fit.coefficients, options.max_points);
    if scale == 0.0 {
        return Err(TuneError::Fit(
            "every coefficient is 0: no item separates households in need from the others".into(),
            "所有系数都是 0：没有一个指标项能把需要帮扶的户与其他户区分开".into(),
        ));
    }

    tell(steps - 3 + 1);
    // spread of the points over a village bootstrap, on the final scale
    let design = Design::from_rows(&x, &all);
    let replicates = resample(&groups, options.replicates, calibration.seed, |rows| {
        let mut times = vec![0.0; samples.len()];
        for &i in rows {
            times[i] += 1.0;
        }
        let drawn: f64 = rows.len() as f64;
        let positives: f64 = rows.iter().filter(|&&i| need[i]).count() as f64;
        if positives == 0.0 || positives == drawn {
            return None;
        }
        let (wp, wn) = (drawn / (2.0 * positives), drawn / (2.0 * (drawn - positives)));
        let weights: Vec<f64> = times.iter().zip(need).map(|(&t, &y)| t * if y { wp } else { wn }).collect();
        let refit = tally
            .record(Problem { x: &design, y: need, weights: &weights, c, bounds: &bounds }.fit(Some(&fit)));
        Some(refit.coefficients.iter().map(|b| b * scale).collect::<Vec<f64>>())
    });
    let replicates: Vec<Vec<f64>> = replicates.into_iter().flatten().collect();
    tell(steps - 1);
    let sd = |j: usize| -> Option<f64> {
        let n = replicates.len();
        (n >= 2).then(|| {
            let m = replicates.iter().map(|r| r[j]).sum::<f64>() / n as f64;
            (replicates.iter().map(|r| (r[j] - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        })
    };

    let items: Vec<FittedItem> = model
        .items
        .iter()
        .enumerate()
        .map(|(j, item)| FittedItem {
            item: item.id.clone(),
            current_points: item.points,
            coefficient: fit.coefficients[j],
            points: points[j],
            fires: samples.fires(j).filter(|&f| f).count() as f64 / samples.len() as f64,
            constraint: constraint(bounds[j]),
            points_sd: sd(j),
            fold_points: cv.fold_points.iter().map(|p| p[j]).collect(),
            dropped: points[j] == 0.0 && !item.trigger,
            trigger: item.trigger,
        })
        .collect();

    // the current model on the same villages: its scores rank as they are;
    // its alerts come from bands fitted without each village
    let current = samples.score.to_vec();
    let trigger = model
        .bands
        .trigger
        .and_then(|t| calibration.bands.iter().position(|b| b.name == model.bands.levels[t].name));
    let (_, current_alerts) = leave_one_village_out(
        &current,
        need,
        &samples.triggered,
        &groups,
        &calibration.objective,
        &calibration.bands,
        trigger,
    );
    let fitted_scores = ndarray::Array1::from(cv.integer.clone());
    let mut fitted_alerts = vec![false; samples.len()];
    for rows in &groups {
        let volume = rows.iter().filter(|&&i| current_alerts[i]).count();
        for i in top_n(&fitted_scores, &samples.triggered, rows, volume) {
            fitted_alerts[i] = true;
        }
    }
    let (at_current_volume, paired_test) =
        paired_comparison(&current_alerts, &fitted_alerts, need, &groups, calibration);

    let pair = |f: Ranking, rows: &[usize]| Pair {
        current: f(&current, need, rows),
        fitted_unrounded: f(&cv.raw, need, rows),
        fitted: f(&cv.integer, need, rows),
    };
    let villages: Vec<VillageRanking> = groups
        .iter()
        .enumerate()
        .map(|(v, rows)| VillageRanking {
            village: samples.villages[v].clone(),
            households: rows.len(),
            in_need: rows.iter().filter(|&&i| need[i]).count(),
            penalty: cv.penalties[v],
            average_precision: pair(average_precision, rows),
            auc: pair(auc, rows),
        })
        .collect();
    let mean_of = |get: fn(&VillageRanking) -> Pair| Pair {
        current: mean(villages.iter().map(|v| get(v).current)),
        fitted_unrounded: mean(villages.iter().map(|v| get(v).fitted_unrounded)),
        fitted: mean(villages.iter().map(|v| get(v).fitted)),
    };
    let held_out = HeldOut {
        average_precision: mean_of(|v| v.average_precision),
        auc: mean_of(|v| v.auc),
        villages,
        at_current_volume,
        paired_test,
        by_household_size: SizeComparison {
            current: size_table(samples, &current_alerts),
            fitted: size_table(samples, &fitted_alerts),
        },
    };
    if let (Some(now), Some(new)) = (held_out.average_precision.current, held_out.average_precision.fitted) {
        if new < now {
            warn(
                format!(
                    "the fitted points rank households in need worse than the current ones on villages they were \
                     not fitted on (average precision {new:.3} against {now:.3}): keep the current points"
                ),
                format!(
                    "在未参与拟合的村上，拟合分值对需要帮扶的户的排序不如现行分值（平均精确率 {new:.3}，\
                     现行分值为 {now:.3}）：请保留现行分值"
                ),
            );
        }
    }
    let (fits, short) = (tally.fits.into_inner(), tally.short.into_inner());
    if short > 0 {
        warn(
            format!(
                "{short} of {fits} regression fits stopped at the step limit short of their optimum: the figures \
                 that depend on them are approximate"
            ),
            format!(
                "{fits} 次回归拟合中有 {short} 次停在迭代步数上限、未达到最优：依赖这些拟合的数字为近似值"
            ),
        );
    }
    if choice == NormaliseChoice::Auto && tried.len() > 1 {
        warn(
            format!(
                "the normalisation was chosen as the best of {} on these same villages: its held-out figures are \
                 slightly optimistic (a choice among so few is a small bias, but not none)",
                tried.len()
            ),
            format!(
                "标准化方式是在这些样本村上从 {} 种中选出的最好的一种：它的留一村交叉验证数字略偏乐观\
                 （只在几种之中选择，偏差很小，但不是没有）",
                tried.len()
            ),
        );
    }
    tell(steps);
    Ok(Scorecard {
        normalise,
        normalise_chosen_by: match options.normalise {
            NormaliseChoice::Model if choice == NormaliseChoice::Auto => "auto (the model states none)",
            NormaliseChoice::Model => "model",
            NormaliseChoice::Given(_) => "--normalise",
            NormaliseChoice::Auto => "auto",
        },
        candidates: tried,
        penalty: Penalty { c, tried: penalty_path },
        scale,
        max_points: options.max_points,
        sign_constraints: !options.free_signs,
        items,
        held_out,
        warnings,
        warnings_zh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_points_scale_the_largest_to_the_maximum() {
        // largest |β| 2.5 → scale 8; 1.3 × 8 = 10.4 → 10; -0.05 × 8 = -0.4
        // → 0 (and not -0)
        let (points, scale) = integer_points(&[2.5, 1.3, -0.05, -1.0], 20);
        assert_eq!(scale, 8.0);
        assert_eq!(points, [20.0, 10.0, 0.0, -8.0]);
        assert!(points[2].is_sign_positive());
        assert_eq!(integer_points(&[0.0, 0.0], 20), (vec![0.0, 0.0], 0.0));
    }

    #[test]
    fn signs_follow_the_author_unless_freed() {
        let text = r#"
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
points = 3
department = "d"
[[items]]
id = "B"
category = "c"
name = "b"
when = "car"
points = -2
department = "d"
[[items]]
id = "C"
category = "c"
name = "c"
when = "car"
points = 0
department = "d"
[[items]]
id = "D"
category = "c"
name = "d"
when = "car"
points = 0
off = true
department = "d"
"#;
        let model = Model::from_toml(text, "t.toml").unwrap();
        let b = bounds(&model, false);
        let names: Vec<&str> = b.iter().map(|&b| constraint(b)).collect();
        assert_eq!(names, ["non-negative", "non-positive", "free", "off"]);
        let names: Vec<&str> = bounds(&model, true).iter().map(|&b| constraint(b)).collect();
        assert_eq!(names, ["free", "free", "free", "off"]);
    }
}

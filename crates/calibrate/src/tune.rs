//! Suggesting better item points: an L2-regularised logistic regression of
//! verified need on the items, turned into integer points that keep each
//! item's sign and move each by a bounded amount, so that a county office
//! can follow the suggestion.

use hhrisk_model::Model;
use ndarray::{Array1, Array2};

use crate::logistic::{Design, Problem};

use crate::samples::Samples;

/// How to tune.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TuneOptions {
    /// L2 penalty on the summed log-loss; defaults to `1.0`.
    pub alpha: f64,
    /// Largest relative change of an item's points (0.5: at most half
    /// again, at least half); defaults to `0.5`.
    pub max_change: f64,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions { alpha: 1.0, max_change: 0.5 }
    }
}

/// Why tuning failed.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The regression could not be fitted: why, in English and in
    /// Chinese.
    #[error("the logistic regression could not be fitted: {0}")]
    Fit(String, String),
    /// The households are all in need, or none is.
    #[error("fitting points needs households both in need and not in need among the samples; check outcomes.csv (verified_need 1 and 0)")]
    OneClass,
}

impl TuneError {
    /// The message in Chinese (its `Display` is English).
    pub fn to_zh(&self) -> String {
        match self {
            TuneError::Fit(_, zh) => format!("无法拟合 logistic 回归：{zh}"),
            TuneError::OneClass => {
                "拟合分值需要样本中既有需要帮扶的户，也有不需要帮扶的户；请检查 outcomes.csv\
                                    （verified_need 应既有 1 也有 0）"
                    .to_string()
            }
        }
    }
}

/// The design matrix under the model's normalisation (see
/// [`Samples::features`]): a household's score is its row · points.
pub fn features(model: &Model, samples: &Samples) -> Array2<f64> {
    samples.features(model, model.scoring.normalise)
}

/// Fits the regression on the households `rows`; returns the coefficient
/// of each item (log-odds of need per point of per-capita weighted count).
pub fn coefficients(
    x: &Array2<f64>,
    need: &[bool],
    rows: &[usize],
    options: &TuneOptions,
) -> Result<Array1<f64>, TuneError> {
    let targets: Vec<bool> = rows.iter().map(|&i| need[i]).collect();
    if targets.iter().all(|&t| t) || targets.iter().all(|&t| !t) {
        return Err(TuneError::OneClass);
    }
    let design = Design::from_rows(x, rows);
    let weights = vec![1.0; rows.len()];
    let bounds = vec![(f64::NEG_INFINITY, f64::INFINITY); x.ncols()];
    let c = if options.alpha > 0.0 { 1.0 / options.alpha } else { f64::INFINITY };
    let fitted = Problem { x: &design, y: &targets, weights: &weights, c, bounds: &bounds }.fit(None);
    if fitted.coefficients.iter().any(|b| !b.is_finite()) {
        return Err(TuneError::Fit(
            "the coefficients did not stay finite".into(),
            "系数没有保持有限值（发散）".into(),
        ));
    }
    Ok(Array1::from(fitted.coefficients))
}

/// Turns coefficients into integer points near the current ones: scaled
/// by the median ratio of current points to coefficients (over the items
/// that fire and whose coefficient has the item's sign), so that about half
/// the items move up and half down; each kept on its sign and within
/// `max_change` of its current value, and rounded. Items that never fire
/// in `fires` keep their points.
pub fn suggest(current: &[f64], beta: &Array1<f64>, fires: &[bool], max_change: f64) -> Vec<f64> {
    let mut ratios: Vec<f64> = (0..current.len())
        .filter(|&j| fires[j] && current[j] * beta[j] > 0.0)
        .map(|j| current[j] / beta[j])
        .collect();
    ratios.sort_by(f64::total_cmp);
    let scale = match ratios.len() {
        0 => 0.0,
        n if n % 2 == 1 => ratios[n / 2],
        n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
    };
    current
        .iter()
        .enumerate()
        .map(|(j, &p)| {
            if !fires[j] || p == 0.0 || scale == 0.0 {
                return p;
            }
            let magnitude = p.abs();
            let (lo, hi) = (magnitude * (1.0 - max_change), magnitude * (1.0 + max_change));
            // a coefficient of the wrong sign pulls the item to its smallest
            // allowed weight, never across zero
            let wanted = (scale * beta[j] * p.signum()).clamp(lo, hi);
            let rounded = wanted.round().clamp(lo.ceil().max(1.0), hi.floor().max(1.0));
            rounded * p.signum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: statsmodels `mcnemar(table, exact=True).pvalue` for
    /// tables with discordant cells (3, 12), (7, 7) and (0, 9).
    #[test]
    fn mcnemar_matches_statsmodels() {
        assert!((mcnemar_exact(3, 12) - 0.03515625).abs() < 1e-12);
        assert!((mcnemar_exact(7, 7) - 1.0).abs() < 1e-12);
        assert!((mcnemar_exact(0, 9) - 0.00390625).abs() < 1e-12);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }

    #[test]
    fn suggestions_keep_signs_and_bounds() {
        let current = [10.0, -8.0, 4.0, 6.0, 3.0];
        // item 2's coefficient has the wrong sign; item 4 never fires
        let beta = Array1::from(vec![2.0, -1.0, -0.5, 3.0, 9.0]);
        let fires = [true, true, true, true, false];
        // ratios of items with agreeing signs: 10/2 = 5, -8/-1 = 8, 6/3 = 2;
        // median 5. wanted: 10; -5 (within 4..12); item 2 has the wrong sign:
        // its lowest allowed 2; 15 → 9 (the bound 6 × 1.5); 3 unchanged
        assert_eq!(suggest(&current, &beta, &fires, 0.5), [10.0, -5.0, 2.0, 9.0, 3.0]);
    }

    #[test]
    fn the_regression_finds_the_informative_item() {
        // 200 households, two items: item 0 goes with need, item 1 is noise.
        let n = 200;
        let mut x = Array2::<f64>::zeros((n, 2));
        let mut need = vec![false; n];
        for i in 0..n {
            x[[i, 0]] = f64::from(u8::from(i % 2 == 0));
            x[[i, 1]] = f64::from(u8::from(i % 3 == 0));
            // need for 80 % of item-0 households, 20 % of the others
            need[i] = if i % 2 == 0 { i % 10 != 0 } else { i % 10 == 1 };
        }
        let rows: Vec<usize> = (0..n).collect();
        let beta =
            coefficients(&x, &need, &rows, &TuneOptions { alpha: 0.0, ..TuneOptions::default() }).unwrap();
        // unpenalised, the coefficient of item 0 is the log odds ratio
        // ln((0.8/0.2)/(0.2/0.8)) = ln 16 = 2.77 when item 1 is unrelated
        assert!((beta[0] - 16f64.ln()).abs() < 0.15, "{beta}");
        assert!(beta[1].abs() < 0.4, "{beta}");
        // with need as the rarer label the sign still points to need
        let flipped: Vec<bool> = need.iter().map(|n| !n).collect();
        let beta =
            coefficients(&x, &flipped, &rows, &TuneOptions { alpha: 0.0, ..TuneOptions::default() }).unwrap();
        assert!(beta[0] < -2.5, "{beta}");
    }
}

/// One item's suggestion.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemSuggestion {
    /// Item id.
    pub item: String,
    /// Points now.
    pub current: f64,
    /// Suggested points.
    pub suggested: f64,
    /// Regression coefficient (log-odds of need per point of per-capita
    /// weighted count).
    pub coefficient: f64,
    /// Share of sample households where the item counts.
    pub fires: f64,
}

/// A paired comparison of two alert rules at the same volume.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairedTest {
    /// `mcnemar-exact`: households in need alerted by one rule only.
    pub method: &'static str,
    /// Households in need alerted by the current points only.
    pub current_only: u64,
    /// Households in need alerted by the tuned points only.
    pub tuned_only: u64,
    /// Two-sided exact p-value.
    pub p_value: f64,
    /// Tuned precision minus current precision.
    pub precision_difference: f64,
    /// Bootstrap (villages, then households) interval of that difference.
    pub difference_ci: Option<crate::intervals::Interval>,
}

/// The tuned points beside the current ones.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Tuned {
    /// How the suggestion was made.
    pub options: TuneOptions,
    /// What the suggested points (and `tuned.toml`) are fitted on.
    pub fitted_on: &'static str,
    /// Per item.
    pub points: Vec<ItemSuggestion>,
    /// On all sample households, tuned points alerting as many
    /// households as the fitted bands do.
    pub in_sample: Comparison,
    /// Points tuned without each village, measured on it at the volume the
    /// current points' bands (fitted without it) alert there; pooled.
    pub leave_one_village_out: Comparison,
    /// Ranking power of the current and tuned points, each village scored
    /// by points tuned without it (mean over villages).
    pub held_out_ranking: HeldOutRanking,
    /// Paired test of the leave-one-village-out comparison.
    pub paired_test: PairedTest,
}

/// Average precision and AUC held out, as `hhrisk fit` reports them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct HeldOutRanking {
    /// With the current points.
    pub average_precision_current: Option<f64>,
    /// With the tuned points.
    pub average_precision_tuned: Option<f64>,
    /// With the current points.
    pub auc_current: Option<f64>,
    /// With the tuned points.
    pub auc_tuned: Option<f64>,
}

/// Current and tuned points on the same households and alert volume.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// With the current points.
    pub current: crate::metrics::Accuracy,
    /// With the tuned points.
    pub tuned: crate::metrics::Accuracy,
}

/// Alerts the `n` households of `rows` with the highest scores (trigger
/// households first, ties by position): a rule at a fixed volume.
pub fn top_n(scores: &Array1<f64>, triggered: &[bool], rows: &[usize], n: usize) -> Vec<usize> {
    let mut order = rows.to_vec();
    order.sort_by(|&a, &b| {
        triggered[b].cmp(&triggered[a]).then(scores[b].total_cmp(&scores[a])).then(a.cmp(&b))
    });
    order.truncate(n);
    order
}

/// Exact two-sided McNemar p-value for `b` and `c` discordant pairs.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    use statrs::distribution::{Binomial, DiscreteCDF};
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    Binomial::new(0.5, n).map_or(1.0, |d| (2.0 * d.cdf(b.min(c))).min(1.0))
}

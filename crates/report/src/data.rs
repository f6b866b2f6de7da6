//! The numbers behind each chart, computed once from a calibration and the
//! sample households. Charts only draw these; tests check them.

use hhrisk_calibrate::curve::{sweep, Point};
use hhrisk_calibrate::evaluate::{alerted, levels};
use hhrisk_calibrate::intervals::{wilson, CONFIDENCE};
use hhrisk_calibrate::{Calibration, Samples};
use hhrisk_model::{Bands, Model};

/// One threshold of the precision / recall / volume chart.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThresholdPoint {
    /// Per-capita score threshold (alerts at or above it).
    pub threshold: f64,
    /// Precision of the alerts.
    pub precision: f64,
    /// Wilson 95 % interval of the precision.
    pub precision_lo: f64,
    /// Upper bound.
    pub precision_hi: f64,
    /// Recall.
    pub recall: f64,
    /// Share of households alerted.
    pub alert_share: f64,
}

/// A marked threshold (a band's lower bound).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Marker {
    /// Band name.
    pub name: String,
    /// Label in the report's language (the name when the model has none).
    pub label: String,
    /// Where it starts.
    pub min: f64,
}

/// Precision, recall and volume against the threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThresholdChart {
    /// The curve, lowest threshold first.
    pub points: Vec<ThresholdPoint>,
    /// Fitted bands.
    pub fitted: Vec<Marker>,
    /// The model's default bands.
    pub default: Vec<Marker>,
}

/// A precision–recall curve.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrCurve {
    /// Name of the scoring.
    pub name: String,
    /// (recall, precision) from the highest threshold down.
    pub points: Vec<(f64, f64)>,
}

/// One bin of the score histogram.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Bin {
    /// Lower edge (inclusive).
    pub from: f64,
    /// Upper edge (exclusive; the last bin includes it).
    pub to: f64,
    /// Households verified in need.
    pub in_need: u64,
    /// Households verified not in need.
    pub not_in_need: u64,
}

/// Precision in one village.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VillageBar {
    /// Village.
    pub village: String,
    /// Bands fitted on the other villages: precision here.
    pub held_out: Option<f64>,
    /// Wilson interval.
    pub held_out_lo: Option<f64>,
    /// Upper bound.
    pub held_out_hi: Option<f64>,
    /// Alerts.
    pub alerts: u64,
    /// The model's default bands: precision here.
    pub default: Option<f64>,
}

/// A named amount (a category's or item's contribution, a department's
/// alerts).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Amount {
    /// Id.
    pub id: String,
    /// Label in the report's language.
    pub label: String,
    /// Among alerted households.
    pub alerted: f64,
    /// Among households not alerted.
    pub not_alerted: f64,
}

/// Everything the report draws.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChartData {
    /// Precision, recall and volume against the threshold.
    pub threshold: ThresholdChart,
    /// Precision–recall curves: current points, then tuned when there are.
    pub pr_curves: Vec<PrCurve>,
    /// Score histogram by verified need.
    pub distribution: Vec<Bin>,
    /// Per-village precision.
    pub villages: Vec<VillageBar>,
    /// Xiaochang's precision, the line to beat.
    pub xiaochang_precision: f64,
    /// Mean per-capita points by category.
    pub categories: Vec<Amount>,
    /// Items with the largest mean per-capita points among alerted
    /// households.
    pub items: Vec<Amount>,
    /// Alerted households per responsible department (`alerted`), and the
    /// households where its items fire without an alert (`not_alerted`).
    pub departments: Vec<Amount>,
}

/// Xiaochang's reported precision: 404 of 687 alerts.
pub const XIAOCHANG: f64 = 404.0 / 687.0;

/// Items shown in the item chart.
pub const TOP_ITEMS: usize = 15;

fn markers(bands: &Bands, model: &Model, label: &dyn Fn(&str, Option<&str>) -> String) -> Vec<Marker> {
    bands
        .levels
        .iter()
        .map(|b| {
            let known = model.bands.levels.iter().find(|m| m.name == b.name);
            let shown = known
                .and_then(|m| m.label.as_deref())
                .map_or_else(|| b.name.clone(), |zh| label(zh, known.and_then(|m| m.label_en.as_deref())));
            Marker { name: b.name.clone(), label: shown, min: b.min }
        })
        .collect()
}

fn pr(points: &[Point]) -> Vec<(f64, f64)> {
    points.iter().filter_map(|p| Some((p.counts.recall()?, p.counts.precision()?))).collect()
}

/// Lowest and highest score worth drawing: the 1st and 99th percentiles,
/// so that a few extreme households do not squeeze the chart.
pub fn score_range(scores: &[f64]) -> (f64, f64) {
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return (0.0, 1.0);
    }
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.01), at(0.99));
    if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    }
}

/// Computes every chart's numbers. `label` picks an item's or category's
/// name in the report's language.
pub fn chart_data(
    model: &Model,
    samples: &Samples,
    calibration: &Calibration,
    fitted: &Bands,
    label: &dyn Fn(&str, Option<&str>) -> String,
) -> ChartData {
    let scores = samples.score.to_vec();
    let all: Vec<usize> = (0..samples.len()).collect();
    let households = samples.len().max(1) as f64;
    let curve = sweep(&scores, &samples.need, &samples.triggered, &all);
    let (lo, hi) = score_range(&scores);
    let mut points: Vec<ThresholdPoint> = curve
        .iter()
        .filter(|p| p.threshold >= lo && p.threshold <= hi)
        .filter_map(|p| {
            let ci = wilson(p.counts.true_alerts, p.counts.alerts, CONFIDENCE)?;
            Some(ThresholdPoint {
                threshold: p.threshold,
                precision: p.counts.precision()?,
                precision_lo: ci.lo,
                precision_hi: ci.hi,
                recall: p.counts.recall().unwrap_or(0.0),
                alert_share: p.counts.alerts as f64 / households,
            })
        })
        .collect();
    points.reverse();

    let mut pr_curves = vec![PrCurve { name: "current".into(), points: pr(&curve) }];
    if let Some(t) = &calibration.tuned {
        let tuned_points: Vec<f64> = t.points.iter().map(|p| p.suggested).collect();
        let tuned = samples.rescore(model, &tuned_points).to_vec();
        pr_curves.push(PrCurve {
            name: "tuned".into(),
            points: pr(&sweep(&tuned, &samples.need, &samples.triggered, &all)),
        });
    }

    let bins = 30;
    let width = (hi - lo) / bins as f64;
    let mut distribution: Vec<Bin> = (0..bins)
        .map(|b| Bin {
            from: lo + b as f64 * width,
            to: lo + (b + 1) as f64 * width,
            in_need: 0,
            not_in_need: 0,
        })
        .collect();
    for (i, &s) in scores.iter().enumerate() {
        // households outside the drawn range go into the end bins
        let b = (((s - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        if samples.need[i] {
            distribution[b].in_need += 1;
        } else {
            distribution[b].not_in_need += 1;
        }
    }

    let villages = calibration
        .leave_one_village_out
        .folds
        .iter()
        .map(|f| {
            let ci = f.accuracy.precision_ci.wilson;
            VillageBar {
                village: f.village.clone(),
                held_out: f.accuracy.precision,
                held_out_lo: ci.map(|i| i.lo),
                held_out_hi: ci.map(|i| i.hi),
                alerts: f.accuracy.alerts,
                default: calibration
                    .baseline
                    .per_village
                    .iter()
                    .find(|v| v.village == f.village)
                    .and_then(|v| v.accuracy.precision),
            }
        })
        .collect();

    let is_alerted = alerted(&levels(fitted, &scores, &samples.triggered));
    let n_alerted = is_alerted.iter().filter(|&&a| a).count().max(1) as f64;
    let n_other = (samples.len() - is_alerted.iter().filter(|&&a| a).count()).max(1) as f64;
    let split_mean = |value: &dyn Fn(usize) -> f64| {
        let (mut a, mut o) = (0.0, 0.0);
        for (i, &yes) in is_alerted.iter().enumerate() {
            if yes {
                a += value(i)
            } else {
                o += value(i)
            }
        }
        (a / n_alerted, o / n_other)
    };
    let m = &samples.matrix;
    let categories = model
        .categories
        .iter()
        .enumerate()
        .map(|(c, cat)| {
            let (alerted, not_alerted) = split_mean(&|i| m.category_totals[[i, c]] / m.members[i]);
            Amount {
                id: cat.id.clone(),
                label: label(&cat.name, cat.name_en.as_deref()),
                alerted,
                not_alerted,
            }
        })
        .collect();
    let mut items: Vec<Amount> = model
        .items
        .iter()
        .enumerate()
        .map(|(j, item)| {
            let weight = model.categories[item.category].weight * item.points;
            let (alerted, not_alerted) = split_mean(&|i| weight * m.item_counts[[i, j]] / m.members[i]);
            Amount {
                id: item.id.clone(),
                label: format!("{} {}", item.id, label(&item.name, item.name_en.as_deref())),
                alerted,
                not_alerted,
            }
        })
        .collect();
    items.sort_by(|a, b| b.alerted.abs().total_cmp(&a.alerted.abs()).then(a.id.cmp(&b.id)));
    items.truncate(TOP_ITEMS);
    let departments = model
        .departments
        .iter()
        .enumerate()
        .map(|(d, dept)| {
            let owned: Vec<usize> =
                model.items.iter().enumerate().filter(|(_, it)| it.department == d).map(|(j, _)| j).collect();
            let (mut a, mut o) = (0.0, 0.0);
            for (i, &yes) in is_alerted.iter().enumerate() {
                if owned.iter().any(|&j| m.item_counts[[i, j]] > 0.0) {
                    if yes {
                        a += 1.0
                    } else {
                        o += 1.0
                    }
                }
            }
            Amount {
                id: dept.id.clone(),
                label: label(&dept.name, dept.name_en.as_deref()),
                alerted: a,
                not_alerted: o,
            }
        })
        .collect();

    ChartData {
        threshold: ThresholdChart {
            points,
            fitted: markers(fitted, model, label),
            default: markers(&model.bands, model, label),
        },
        pr_curves,
        distribution,
        villages,
        xiaochang_precision: XIAOCHANG,
        categories,
        items,
        departments,
    }
}

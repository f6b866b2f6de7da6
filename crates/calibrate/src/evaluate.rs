//! Applying bands to scored households, and the accuracy of each band.

use hhrisk_model::Bands;

use crate::intervals::clopper_pearson;
use crate::intervals::{Interval, CONFIDENCE};
use crate::metrics::Counts;

/// The alert level of every household (index into `bands.levels`).
pub fn levels(bands: &Bands, scores: &[f64], triggered: &[bool]) -> Vec<Option<usize>> {
    scores.iter().zip(triggered).map(|(&s, &t)| bands.level(s, t)).collect()
}

/// Whether each household is alerted.
pub fn alerted(levels: &[Option<usize>]) -> Vec<bool> {
    levels.iter().map(Option::is_some).collect()
}

/// One band's figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BandFigures {
    /// Band name.
    pub level: String,
    /// Label.
    pub label: Option<String>,
    /// Lowest score in the band.
    pub min_score: f64,
    /// Score where the next more severe band starts (`None` for the top).
    pub below: Option<f64>,
    /// Households in the band.
    pub households: u64,
    /// Of them, verified in need.
    pub in_need: u64,
    /// Share in need: the band's own precision.
    pub precision: Option<f64>,
    /// Clopper–Pearson interval of that precision.
    pub precision_ci: Option<Interval>,
    /// The chance of need in the band with its 95 % interval, in words
    /// (`71 % (65 – 76 %)`): what a department can expect of an alert of
    /// this level.
    pub chance_of_need: Option<String>,
}

/// `71 % (65 – 76 %)`: a share with its Clopper–Pearson interval.
pub fn chance(k: u64, n: u64) -> Option<String> {
    let ci = clopper_pearson(k, n, CONFIDENCE)?;
    let pc = |v: f64| format!("{:.0}", 100.0 * v);
    Some(format!("{} % ({} – {} %)", pc(k as f64 / n as f64), pc(ci.lo), pc(ci.hi)))
}

/// Whether precision rises with severity: each band (most severe first)
/// holds households and is more precise than the next less severe one.
pub fn precision_rises(figures: &[BandFigures]) -> bool {
    figures.iter().all(|f| f.households > 0)
        && figures.windows(2).all(|w| w[0].precision.unwrap_or(0.0) > w[1].precision.unwrap_or(0.0))
}

/// Figures of each band over the households `rows`.
pub fn band_figures(
    bands: &Bands,
    levels: &[Option<usize>],
    need: &[bool],
    rows: &[usize],
) -> Vec<BandFigures> {
    bands
        .levels
        .iter()
        .enumerate()
        .map(|(b, band)| {
            let mut c = Counts::default();
            for &i in rows.iter().filter(|&&i| levels[i] == Some(b)) {
                c.add(true, need[i]);
            }
            BandFigures {
                level: band.name.clone(),
                label: band.label.clone(),
                min_score: band.min,
                below: b.checked_sub(1).map(|up| bands.levels[up].min),
                households: c.alerts,
                in_need: c.true_alerts,
                precision: c.precision(),
                precision_ci: clopper_pearson(c.true_alerts, c.alerts, CONFIDENCE),
                chance_of_need: chance(c.true_alerts, c.alerts),
            }
        })
        .collect()
}

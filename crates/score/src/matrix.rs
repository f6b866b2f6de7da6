//! Scores of many households held as matrices, for calibration and
//! reports: one row per household.

use ndarray::{Array1, Array2};

use crate::score::HouseholdScore;

/// Item counts and category totals of a set of households, row by row.
///
/// The per-capita score of row `i` is `category_totals.row(i).sum() /
/// members[i]`; refitting item points only needs `item_counts` (points are
/// linear in them).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMatrix {
    /// Co-resident members per household.
    pub members: Array1<f64>,
    /// Equivalence scale per household (see
    /// [`HouseholdScore::equivalents`]).
    pub equivalents: Array1<f64>,
    /// The normalised score per household, as scored.
    pub score: Array1<f64>,
    /// Households × items: 0/1 for household items, matching members for
    /// per-member items.
    pub item_counts: Array2<f64>,
    /// Households × categories: weighted points per category (not per
    /// capita).
    pub category_totals: Array2<f64>,
}

impl ScoreMatrix {
    /// Collects household scores into matrices.
    pub fn from_scores<'a>(
        scores: impl ExactSizeIterator<Item = &'a HouseholdScore>,
        items: usize,
        categories: usize,
    ) -> Self {
        let n = scores.len();
        let mut m = ScoreMatrix {
            members: Array1::zeros(n),
            equivalents: Array1::zeros(n),
            score: Array1::zeros(n),
            item_counts: Array2::zeros((n, items)),
            category_totals: Array2::zeros((n, categories)),
        };
        for (row, s) in scores.enumerate() {
            m.members[row] = s.members as f64;
            m.equivalents[row] = s.equivalents;
            m.score[row] = s.score;
            for hit in &s.hits {
                m.item_counts[[row, hit.item]] = f64::from(hit.count);
            }
            for (c, v) in s.categories.iter().enumerate() {
                m.category_totals[[row, c]] = *v;
            }
        }
        m
    }

    /// Per-capita scores, one per household.
    pub fn per_capita(&self) -> Array1<f64> {
        self.category_totals.sum_axis(ndarray::Axis(1)) / &self.members
    }
}

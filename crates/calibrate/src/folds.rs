//! Leave-one-village-out: fit on the other villages, measure on the one
//! left out, for every village.

use hhrisk_model::Bands;

use crate::curve::Objective;
use crate::evaluate::levels;
use crate::fit::{fit, BandName, Fitted};
use crate::metrics::Counts;

/// One fold: the village left out, the bands fitted without it, and how
/// they did on it.
#[derive(Debug, Clone)]
pub struct Fold {
    /// Index of the village left out.
    pub village: usize,
    /// Bands fitted on the other villages (`None` if they hold no
    /// households).
    pub fitted: Option<Fitted>,
    /// Accuracy on the village left out.
    pub held_out: Counts,
}

/// The rows of every village but `v`: a fold's training households.
pub fn rows_without<G: AsRef<[usize]>>(by_village: &[G], v: usize) -> Vec<usize> {
    by_village
        .iter()
        .enumerate()
        .filter(|(w, _)| *w != v)
        .flat_map(|(_, rows)| rows.as_ref().iter().copied())
        .collect()
}

/// Runs every fold. Returns the folds and, per household, whether the
/// bands fitted without its village alert it.
#[allow(clippy::too_many_arguments)]
pub fn leave_one_village_out(
    scores: &[f64],
    need: &[bool],
    triggered: &[bool],
    by_village: &[Vec<usize>],
    objective: &Objective,
    names: &[BandName],
    trigger: Option<usize>,
) -> (Vec<Fold>, Vec<bool>) {
    let mut alerted = vec![false; scores.len()];
    let folds = (0..by_village.len())
        .map(|v| {
            let train = rows_without(by_village, v);
            let fitted = fit(scores, need, triggered, &train, objective, names, trigger);
            let bands = fitted.as_ref().map_or_else(Bands::default, |f| f.bands.clone());
            let lv = levels(&bands, scores, triggered);
            let mut held_out = Counts::default();
            for &i in &by_village[v] {
                alerted[i] = lv[i].is_some();
                held_out.add(alerted[i], need[i]);
            }
            Fold { village: v, fitted, held_out }
        })
        .collect();
    (folds, alerted)
}

//! How well a score ranks households in need first, whatever the
//! threshold: average precision and the area under the ROC curve, as
//! scikit-learn computes them (`average_precision_score`,
//! `roc_auc_score`), ties counted as scikit-learn counts them.

/// Rows sorted by descending score, and the (in need, not in need) counts
/// of each run of tied scores.
fn tied_runs(scores: &[f64], need: &[bool], rows: &[usize]) -> Vec<(u64, u64)> {
    let mut order: Vec<usize> = rows.to_vec();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let mut last = f64::NAN;
    for i in order {
        if runs.is_empty() || scores[i].total_cmp(&last).is_ne() {
            runs.push((0, 0));
            last = scores[i];
        }
        let run = runs.last_mut().expect("a run was pushed");
        if need[i] {
            run.0 += 1;
        } else {
            run.1 += 1;
        }
    }
    runs
}

/// Average precision of `scores` over `rows`: the sum, over each distinct
/// score from the highest down, of the precision at that threshold times
/// the recall it adds. `None` when no row is in need.
pub fn average_precision(scores: &[f64], need: &[bool], rows: &[usize]) -> Option<f64> {
    let runs = tied_runs(scores, need, rows);
    let positives: u64 = runs.iter().map(|r| r.0).sum();
    if positives == 0 {
        return None;
    }
    let (mut tp, mut fp, mut ap) = (0u64, 0u64, 0.0);
    for (p, n) in runs {
        tp += p;
        fp += n;
        ap += (p as f64 / positives as f64) * (tp as f64 / (tp + fp) as f64);
    }
    Some(ap)
}

/// Area under the ROC curve: the chance that a household in need scores
/// above one that is not, ties counting a half. `None` unless both kinds
/// are among `rows`.
pub fn auc(scores: &[f64], need: &[bool], rows: &[usize]) -> Option<f64> {
    let runs = tied_runs(scores, need, rows);
    let (positives, negatives): (u64, u64) = runs.iter().fold((0, 0), |(a, b), r| (a + r.0, b + r.1));
    if positives == 0 || negatives == 0 {
        return None;
    }
    // walking up from the lowest scores: each positive beats the negatives
    // below its run and ties half of those in it
    let (mut below, mut wins) = (0u64, 0.0);
    for (p, n) in runs.iter().rev() {
        wins += *p as f64 * (below as f64 + 0.5 * *n as f64);
        below += n;
    }
    Some(wins / (positives as f64 * negatives as f64))
}

/// Mean of the figures that exist (a village without households in need
/// has no average precision); `None` when none does.
pub fn mean(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, n) = values.into_iter().flatten().fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten households with ties across the classes. By hand: thresholds
    /// 0.9, 0.8, 0.7, 0.5 reach recall ¼, ½, ¾, 1 at precision 1, 2/3,
    /// 3/4, 4/7: AP = ¼ (1 + 2/3 + 3/4 + 4/7) = 0.7470238; AUC: the
    /// positives beat 6, 5.5, 5 and 4 of the 6 negatives: 20.5/24. Both
    /// as scikit-learn 1.9.1 gives them (0.7470238095238095,
    /// 0.8541666666666667).
    #[test]
    fn figures_match_a_hand_calculation_and_scikit_learn() {
        let need = [true, false, true, true, false, false, true, false, false, false];
        let scores = [0.9, 0.8, 0.8, 0.7, 0.5, 0.5, 0.5, 0.3, 0.2, 0.1];
        let rows: Vec<usize> = (0..10).collect();
        let ap = average_precision(&scores, &need, &rows).unwrap();
        assert!((ap - 0.7470238095238095).abs() < 1e-15, "{ap}");
        assert!((auc(&scores, &need, &rows).unwrap() - 0.8541666666666667).abs() < 1e-15);
        // row order does not matter
        let reversed: Vec<usize> = (0..10).rev().collect();
        assert_eq!(average_precision(&scores, &need, &reversed), Some(ap));
        // one class only: undefined
        assert_eq!(auc(&scores, &need, &[0, 2]), None);
        assert_eq!(average_precision(&scores, &need, &[1, 4]), None);
    }
}

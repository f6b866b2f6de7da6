//! The likelihood table: for each range of score, the share of
//! households that verification found in need, as the Poverty Probability
//! Index publishes one.

use crate::intervals::{clopper_pearson, Interval, CONFIDENCE};

/// One score range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// Lowest score in the range.
    pub from: f64,
    /// Highest score in the range.
    pub to: f64,
    /// Households in the range.
    pub households: u64,
    /// Of them, verified in need.
    pub in_need: u64,
    /// Share in need.
    pub share: f64,
    /// Clopper–Pearson interval of the share.
    pub ci: Option<Interval>,
}

/// Splits the households `rows` into about `bins` ranges of equal size by
/// score (never splitting equal scores), highest scores first.
pub fn table(scores: &[f64], need: &[bool], rows: &[usize], bins: usize) -> Vec<Row> {
    let mut order: Vec<usize> = rows.to_vec();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let per_bin = order.len().div_ceil(bins.max(1)).max(1);
    let mut out: Vec<Row> = Vec::new();
    let mut k = 0;
    while k < order.len() {
        let start = k;
        k = (k + per_bin).min(order.len());
        // keep households with the last score together
        while k < order.len() && scores[order[k]] == scores[order[k - 1]] {
            k += 1;
        }
        let slice = &order[start..k];
        let n = slice.len() as u64;
        let in_need = slice.iter().filter(|&&i| need[i]).count() as u64;
        out.push(Row {
            from: scores[order[k - 1]],
            to: scores[order[start]],
            households: n,
            in_need,
            share: in_need as f64 / n as f64,
            ci: clopper_pearson(in_need, n, CONFIDENCE),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_keep_ties_together_and_count_by_hand() {
        // scores 9 8 8 8 5 4 2 1, need 1 1 0 1 0 1 0 0; 4 bins of 2
        let scores = [9.0, 8.0, 8.0, 8.0, 5.0, 4.0, 2.0, 1.0];
        let need = [true, true, false, true, false, true, false, false];
        let t = table(&scores, &need, &(0..8).collect::<Vec<_>>(), 4);
        let got: Vec<(f64, f64, u64, u64)> =
            t.iter().map(|r| (r.from, r.to, r.households, r.in_need)).collect();
        // the tie at 8 pulls the first range to 4 households
        assert_eq!(got, [(8.0, 9.0, 4, 3), (4.0, 5.0, 2, 1), (1.0, 2.0, 2, 0)]);
        assert_eq!(t[0].share, 0.75);
        assert_eq!(t.iter().map(|r| r.households).sum::<u64>(), 8, "every household counted once");
    }
}

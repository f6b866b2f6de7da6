//! Fitting warning bands: the objective picks where alerts start; the
//! bands above it are cut where the chance of need changes most.

use hhrisk_model::{Band, Bands};

use crate::curve::{sweep, Objective, Point};

/// Names of the bands to fit, most severe first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BandName {
    /// Short name (`red`).
    pub name: String,
    /// Label (`红色预警`).
    pub label: Option<String>,
    /// English label.
    pub label_en: Option<String>,
}

/// Bands fitted on some households.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The bands, most severe first.
    pub bands: Bands,
    /// The curve point the objective picked (where alerts start).
    pub point: Point,
    /// Whether the objective's constraint was met.
    pub met: bool,
}

/// Most cut positions the segmentation considers (quantiles of the alerted
/// households when there are more distinct scores).
const MAX_GROUPS: usize = 200;

/// Fits bands on the households `rows`. `trigger` is the index of the
/// band trigger items raise a household to. `None` when `rows` is empty.
pub fn fit(
    scores: &[f64],
    need: &[bool],
    triggered: &[bool],
    rows: &[usize],
    objective: &Objective,
    names: &[BandName],
    trigger: Option<usize>,
) -> Option<Fitted> {
    let points = sweep(scores, need, triggered, rows);
    let (point, met) = objective.pick(&points)?;
    let lowest = point.cut();
    // Households alerted by score, highest first, grouped by equal score.
    let mut alerted: Vec<usize> =
        rows.iter().copied().filter(|&i| !triggered[i] && scores[i] >= point.threshold).collect();
    alerted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut groups: Vec<(f64, f64, u64, u64)> = Vec::new(); // (high, low, n, k)
    for &i in &alerted {
        match groups.last_mut() {
            Some(g) if g.1 == scores[i] => {
                g.2 += 1;
                g.3 += u64::from(need[i]);
            }
            _ => groups.push((scores[i], scores[i], 1, u64::from(need[i]))),
        }
    }
    let groups = coarsen(groups, MAX_GROUPS);
    let k = names.len().max(1);
    let total: u64 = groups.iter().map(|g| g.2).sum();
    let min_size = ((total as f64 * 0.05).ceil() as u64).max(3);
    let cuts = segment(&groups, k, min_size).or_else(|| segment(&groups, k, 1)).unwrap_or_default();
    // cuts[j]: first group of segment j + 1. The band above a cut starts
    // halfway between the groups on either side.
    let mut mins: Vec<f64> = cuts.iter().map(|&g| (groups[g - 1].1 + groups[g].0) / 2.0).collect();
    mins.push(lowest);
    // Fewer distinct scores than bands: the most severe bands stay empty,
    // above every score seen.
    let top = groups.first().map_or(lowest, |g| g.0);
    while mins.len() < k {
        mins.insert(0, top + mins.len() as f64);
    }
    let levels = names
        .iter()
        .zip(&mins)
        .map(|(n, &min)| Band {
            name: n.name.clone(),
            label: n.label.clone(),
            label_en: n.label_en.clone(),
            min,
        })
        .collect();
    Some(Fitted { bands: Bands { levels, trigger: trigger.or(k.checked_sub(1)) }, point, met })
}

/// Merges neighbouring groups until at most `max` remain, cutting at
/// equal-count positions.
fn coarsen(groups: Vec<(f64, f64, u64, u64)>, max: usize) -> Vec<(f64, f64, u64, u64)> {
    if groups.len() <= max {
        return groups;
    }
    let total: u64 = groups.iter().map(|g| g.2).sum();
    let mut out: Vec<(f64, f64, u64, u64)> = Vec::with_capacity(max);
    let mut seen = 0;
    for g in groups {
        let bucket = (seen * max as u64 / total.max(1)) as usize;
        seen += g.2;
        let open = out.len() > bucket;
        match out.last_mut() {
            Some(last) if open => {
                last.1 = g.1;
                last.2 += g.2;
                last.3 += g.3;
            }
            _ => out.push(g),
        }
    }
    out
}

fn log_likelihood(n: u64, k: u64) -> f64 {
    let term = |a: u64| if a == 0 { 0.0 } else { a as f64 * (a as f64 / n as f64).ln() };
    term(k) + term(n - k)
}

/// Splits the groups into `k` contiguous segments of at least `min_size`
/// households that maximise the binomial log-likelihood: the cuts where the
/// chance of need changes most. Returns the first group index of segments
/// 2..k. Dynamic programming, O(k·m²) for m groups; ties go to the earlier
/// cut, so the result is deterministic.
fn segment(groups: &[(f64, f64, u64, u64)], k: usize, min_size: u64) -> Option<Vec<usize>> {
    let m = groups.len();
    let k = k.min(m);
    if k <= 1 {
        return (m > 0).then(Vec::new);
    }
    let mut n_prefix = vec![0u64; m + 1];
    let mut k_prefix = vec![0u64; m + 1];
    for (i, g) in groups.iter().enumerate() {
        n_prefix[i + 1] = n_prefix[i] + g.2;
        k_prefix[i + 1] = k_prefix[i] + g.3;
    }
    let seg = |a: usize, b: usize| {
        let n = n_prefix[b] - n_prefix[a];
        (n >= min_size).then(|| log_likelihood(n, k_prefix[b] - k_prefix[a]))
    };
    // best[s][b]: best value of s + 1 segments covering groups 0..b.
    let mut best = vec![vec![None::<f64>; m + 1]; k];
    let mut from = vec![vec![0usize; m + 1]; k];
    for (b, slot) in best[0].iter_mut().enumerate().skip(1) {
        *slot = seg(0, b);
    }
    for s in 1..k {
        for b in s + 1..=m {
            for a in s..b {
                if let (Some(prev), Some(v)) = (best[s - 1][a], seg(a, b)) {
                    if best[s][b].is_none_or(|cur| prev + v > cur + 1e-12) {
                        best[s][b] = Some(prev + v);
                        from[s][b] = a;
                    }
                }
            }
        }
    }
    best[k - 1][m]?;
    let mut cuts = Vec::with_capacity(k - 1);
    let mut b = m;
    for s in (1..k).rev() {
        let a = from[s][b];
        cuts.push(a);
        b = a;
    }
    cuts.reverse();
    Some(cuts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<BandName> {
        n.iter().map(|n| BandName { name: n.to_string(), label: None, label_en: None }).collect()
    }

    #[test]
    fn segments_follow_the_change_in_need() {
        // Groups by score (high to low): need 1,1,1,1 | 0,1,0,1 | 0,0,0,0.
        // Two segments of at least 2: the likelihood is highest cutting
        // after the four certain needs (4 in need of 4, then 2 of 8).
        let groups: Vec<(f64, f64, u64, u64)> = [1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0]
            .iter()
            .enumerate()
            .map(|(i, &k)| (12.0 - i as f64, 12.0 - i as f64, 1, k))
            .collect();
        assert_eq!(segment(&groups, 2, 2), Some(vec![4]));
        // Three segments: the third cut falls before the run of zeros.
        assert_eq!(segment(&groups, 3, 2), Some(vec![4, 8]));
        // Impossible sizes give none.
        assert_eq!(segment(&groups, 3, 5), None);
    }

    #[test]
    fn bands_are_ordered_and_start_where_the_objective_says() {
        // 20 households, score i, need for i >= 10 and a few below.
        let scores: Vec<f64> = (0..20).map(f64::from).collect();
        let need: Vec<bool> = (0..20).map(|i| i >= 10 || i == 3 || i == 7).collect();
        let triggered = vec![false; 20];
        let rows: Vec<usize> = (0..20).collect();
        let objective = Objective::RecallAtPrecision { target: 0.8, lower_bound: false };
        let f =
            fit(&scores, &need, &triggered, &rows, &objective, &names(&["red", "orange", "yellow"]), None)
                .unwrap();
        // alerting ≥ 7 gives 11 of 13 = 0.846; ≥ 6 gives 11/14 = 0.786 < 0.8;
        // ≥ 3 gives 12/17 = 0.71. So alerts start at 7, cut halfway to 6.
        assert_eq!((f.point.threshold, f.met), (7.0, true));
        let mins: Vec<f64> = f.bands.levels.iter().map(|b| b.min).collect();
        assert_eq!(mins[2], 6.5);
        assert!(mins[0] > mins[1] && mins[1] > mins[2], "{mins:?}");
        assert_eq!(f.bands.trigger, Some(2));
    }

    #[test]
    fn too_few_scores_leave_the_top_bands_empty() {
        let scores = [5.0, 5.0, 1.0];
        let need = [true, true, false];
        let objective = Objective::PrecisionAtRecall { target: 1.0 };
        let f = fit(&scores, &need, &[false; 3], &[0, 1, 2], &objective, &names(&["a", "b", "c"]), Some(0))
            .unwrap();
        let mins: Vec<f64> = f.bands.levels.iter().map(|b| b.min).collect();
        // alerts start at 5 (halfway to 1 = 3); one group, so a and b sit above 5
        assert_eq!(mins, [7.0, 6.0, 3.0]);
        assert_eq!(f.bands.trigger, Some(0));
    }
}

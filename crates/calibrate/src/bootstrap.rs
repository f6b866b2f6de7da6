//! Bootstrap that respects villages: households of one village are not
//! independent, so each replicate draws villages with replacement, then
//! households within each drawn village.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::intervals::{Interval, CONFIDENCE};

/// Draws `replicates` two-stage resamples of the households grouped in
/// `by_village` and hands each to `stat` (row indices, with repeats).
/// Deterministic for a seed.
pub fn resample<T>(
    by_village: &[Vec<usize>],
    replicates: usize,
    seed: u64,
    mut stat: impl FnMut(&[usize]) -> T,
) -> Vec<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let villages: Vec<&Vec<usize>> = by_village.iter().filter(|v| !v.is_empty()).collect();
    let mut rows = Vec::new();
    (0..replicates)
        .map(|_| {
            rows.clear();
            for _ in 0..villages.len() {
                let v = villages[rng.random_range(0..villages.len())];
                for _ in 0..v.len() {
                    rows.push(v[rng.random_range(0..v.len())]);
                }
            }
            stat(&rows)
        })
        .collect()
}

/// The percentile interval of bootstrap values (those that exist).
pub fn percentile_interval(mut values: Vec<f64>) -> Option<Interval> {
    values.retain(|v| v.is_finite());
    if values.len() < 2 {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Some(Interval { lo: quantile(&values, tail), hi: quantile(&values, 1.0 - tail) })
}

/// Linear-interpolation quantile of sorted values (NumPy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + frac * (next - sorted[i]),
        None => sorted[i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy() {
        // numpy.quantile([1, 2, 3, 4, 10], [0.025, 0.5, 0.975]) = [1.1, 3.0, 9.4]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((quantile(&v, 0.025) - 1.1).abs() < 1e-12);
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert!((quantile(&v, 0.975) - 9.4).abs() < 1e-12);
    }

    #[test]
    fn resamples_are_deterministic_and_keep_village_sizes() {
        let by_village = vec![vec![0, 1, 2], vec![3, 4], vec![5]];
        let a = resample(&by_village, 50, 7, |rows| rows.to_vec());
        let b = resample(&by_village, 50, 7, |rows| rows.to_vec());
        assert_eq!(a, b);
        // each replicate draws 3 villages; a village drawn brings its own size
        for rows in &a {
            assert!((3..=9).contains(&rows.len()));
        }
        // single-village replicates happen: some replicate holds only rows of one village
        assert!(a.iter().any(|r| r.iter().all(|&i| i <= 2) || r.iter().all(|&i| i >= 3)));
    }
}

//! Confidence intervals for single proportions, and how many households to
//! verify for a given precision of the estimate.

use statrs::distribution::{Beta, ContinuousCDF, Normal};

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// Confidence level used throughout; 95 %.
pub const CONFIDENCE: f64 = 0.95;

fn z(confidence: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(1.959_963_984_540_054, |n| n.inverse_cdf(1.0 - (1.0 - confidence) / 2.0))
}

/// Wilson score interval for `k` successes in `n` trials (`None` when
/// `n == 0`).
pub fn wilson(k: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let z = z(confidence);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    Some(Interval { lo: (centre - half).max(0.0), hi: (centre + half).min(1.0) })
}

/// Clopper–Pearson (exact) interval for `k` successes in `n` trials
/// (`None` when `n == 0`).
pub fn clopper_pearson(k: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 || k > n {
        return None;
    }
    let alpha = 1.0 - confidence;
    let (kf, nf) = (k as f64, n as f64);
    let lo = if k == 0 { 0.0 } else { Beta::new(kf, nf - kf + 1.0).ok()?.inverse_cdf(alpha / 2.0) };
    let hi = if k == n { 1.0 } else { Beta::new(kf + 1.0, nf - kf).ok()?.inverse_cdf(1.0 - alpha / 2.0) };
    Some(Interval { lo, hi })
}

/// Newcombe's hybrid score interval (his method 10, from the two Wilson
/// intervals) for the difference `k1 / n1 - k2 / n2` of two independent
/// proportions (`None` when either `n` is 0). Unlike the plain Wald
/// interval it stays inside [-1, 1] and behaves near 0 % and 100 %.
pub fn newcombe_difference(k1: u64, n1: u64, k2: u64, n2: u64, confidence: f64) -> Option<Interval> {
    let (a, b) = (wilson(k1, n1, confidence)?, wilson(k2, n2, confidence)?);
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let d = p1 - p2;
    Some(Interval {
        lo: d - ((p1 - a.lo).powi(2) + (b.hi - p2).powi(2)).sqrt(),
        hi: d + ((a.hi - p1).powi(2) + (p2 - b.lo).powi(2)).sqrt(),
    })
}

/// The number of households a county must verify so that the exact
/// (Clopper–Pearson) interval of a proportion near `p` is no wider than
/// `± margin`. Searches upwards, so the answer is exact, not a
/// normal-approximation formula. `None` if no sample under `limit` does.
pub fn households_to_verify(p: f64, margin: f64, confidence: f64, limit: u64) -> Option<u64> {
    if !(0.0..=1.0).contains(&p) || margin <= 0.0 {
        return None;
    }
    let fits = |n: u64| {
        let k = (p * n as f64).round() as u64;
        clopper_pearson(k, n, confidence).is_some_and(|i| (i.hi - i.lo) / 2.0 <= margin)
    };
    // Widths shrink roughly as 1/sqrt(n): bracket, then bisect, then step
    // back to the smallest n that fits (rounding of k makes widths jagged).
    let mut hi = 1;
    while !fits(hi) {
        hi *= 2;
        if hi > limit {
            return None;
        }
    }
    let mut lo = hi / 2;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    while hi > 1 && fits(hi - 1) {
        hi -= 1;
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Interval, lo: f64, hi: f64) {
        assert!((a.lo - lo).abs() < 1e-8 && (a.hi - hi).abs() < 1e-8, "{a:?} vs ({lo}, {hi})");
    }

    /// Against statsmodels 0.15.0:
    /// `confint_proportions_2indep(k1, n1, 404, 687, method="newcomb",
    /// compare="diff", alpha=0.05)`.
    #[test]
    fn newcombe_difference_matches_statsmodels() {
        for (k, n, lo, hi) in [
            (35, 58, -0.11813707262133347, 0.13688170258018306),
            (350, 500, 0.05680494369858249, 0.16548110124569015),
            (0, 10, -0.6242793182191083, -0.3080499463919933),
            (10, 10, 0.13205026086087207, 0.44913059421728885),
        ] {
            close(newcombe_difference(k, n, 404, 687, CONFIDENCE).unwrap(), lo, hi);
        }
        assert_eq!(newcombe_difference(1, 0, 404, 687, CONFIDENCE), None);
    }

    /// Reference values from statsmodels 0.14,
    /// `proportion_confint(k, n, alpha=0.05, method="wilson" | "beta")`.
    #[test]
    fn intervals_match_statsmodels() {
        let cases = [
            (404, 687, (0.5508694057827112, 0.6242793182191083), (0.5502189673583978, 0.625149450245067)),
            (0, 10, (0.0, 0.27753279986288926), (0.0, 0.30849710781876083)),
            (10, 10, (0.7224672001371106, 1.0), (0.6915028921812392, 1.0)),
            (3, 7, (0.15821985525146964, 0.7495416354723428), (0.09898827844250786, 0.815948432359917)),
            (57, 85, (0.5652019122526614, 0.7612222638578386), (0.5601601410335867, 0.7687401659136373)),
        ];
        for (k, n, w, cp) in cases {
            close(wilson(k, n, 0.95).unwrap(), w.0, w.1);
            close(clopper_pearson(k, n, 0.95).unwrap(), cp.0, cp.1);
        }
        assert_eq!(wilson(0, 0, 0.95), None);
    }

    #[test]
    fn verification_sample_is_the_smallest_that_fits() {
        let n = households_to_verify(0.6, 0.05, 0.95, 1_000_000).unwrap();
        let half = |n: u64| {
            let i = clopper_pearson((0.6 * n as f64).round() as u64, n, 0.95).unwrap();
            (i.hi - i.lo) / 2.0
        };
        assert!(half(n) <= 0.05 && half(n - 1) > 0.05, "{n}");
        // the normal approximation says 1.96² × 0.24 / 0.05² ≈ 369; the exact
        // interval is a little wider, so a few more are needed
        assert!((369..=400).contains(&n), "{n}");
        assert_eq!(households_to_verify(0.6, 0.0, 0.95, 1000), None);
    }
}

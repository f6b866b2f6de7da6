//! Alert accuracy: counts, precision, recall, F-beta, with intervals.

use crate::intervals::{clopper_pearson, wilson, Interval, CONFIDENCE};

/// Confusion counts of a set of alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Counts {
    /// Households evaluated.
    pub households: u64,
    /// Households verified in need.
    pub in_need: u64,
    /// Households alerted.
    pub alerts: u64,
    /// Alerted households verified in need.
    pub true_alerts: u64,
}

impl Counts {
    /// Counts alerts against outcomes over the households `rows`.
    pub fn of(alerted: &[bool], need: &[bool], rows: impl IntoIterator<Item = usize>) -> Counts {
        let mut c = Counts::default();
        for i in rows {
            c.add(alerted[i], need[i]);
        }
        c
    }

    /// Adds one household.
    pub fn add(&mut self, alerted: bool, need: bool) {
        self.households += 1;
        self.in_need += u64::from(need);
        self.alerts += u64::from(alerted);
        self.true_alerts += u64::from(alerted && need);
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: Counts) {
        self.households += other.households;
        self.in_need += other.in_need;
        self.alerts += other.alerts;
        self.true_alerts += other.true_alerts;
    }

    /// Share of alerts verified in need (`None` without alerts).
    pub fn precision(&self) -> Option<f64> {
        (self.alerts > 0).then(|| self.true_alerts as f64 / self.alerts as f64)
    }

    /// Share of households in need that were alerted (`None` without any).
    pub fn recall(&self) -> Option<f64> {
        (self.in_need > 0).then(|| self.true_alerts as f64 / self.in_need as f64)
    }

    /// F-beta score: recall counts `beta` times as much as precision.
    pub fn f_beta(&self, beta: f64) -> f64 {
        let b2 = beta * beta;
        let denom = (1.0 + b2) * self.true_alerts as f64
            + b2 * (self.in_need - self.true_alerts) as f64
            + (self.alerts - self.true_alerts) as f64;
        if denom == 0.0 {
            0.0
        } else {
            (1.0 + b2) * self.true_alerts as f64 / denom
        }
    }
}

/// Intervals of one proportion by method.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Default)]
pub struct Intervals {
    /// Wilson score interval.
    pub wilson: Option<Interval>,
    /// Clopper–Pearson (exact) interval.
    pub clopper_pearson: Option<Interval>,
    /// Percentile interval of a bootstrap that resamples villages, then
    /// households within them.
    pub bootstrap: Option<Interval>,
}

impl Intervals {
    /// Wilson and Clopper–Pearson intervals of `k` of `n` (95 %).
    pub fn exact(k: u64, n: u64) -> Intervals {
        Intervals {
            wilson: wilson(k, n, CONFIDENCE),
            clopper_pearson: clopper_pearson(k, n, CONFIDENCE),
            bootstrap: None,
        }
    }
}

/// Accuracy of a set of alerts, as written in calibration.json.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Accuracy {
    /// Share of alerts verified in need.
    pub precision: Option<f64>,
    /// Share of households in need that were alerted.
    pub recall: Option<f64>,
    /// Households alerted.
    pub alerts: u64,
    /// Alerted households verified in need.
    pub true_alerts: u64,
    /// Households evaluated.
    pub households: u64,
    /// Households verified in need.
    pub in_need: u64,
    /// Share of households alerted.
    pub alert_rate: f64,
    /// Intervals of the precision (95 %).
    pub precision_ci: Intervals,
    /// Intervals of the recall (95 %).
    pub recall_ci: Intervals,
}

impl From<Counts> for Accuracy {
    fn from(c: Counts) -> Accuracy {
        Accuracy {
            precision: c.precision(),
            recall: c.recall(),
            alerts: c.alerts,
            true_alerts: c.true_alerts,
            households: c.households,
            in_need: c.in_need,
            alert_rate: if c.households == 0 { 0.0 } else { c.alerts as f64 / c.households as f64 },
            precision_ci: Intervals::exact(c.true_alerts, c.alerts),
            recall_ci: Intervals::exact(c.true_alerts, c.in_need),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_hand() {
        // 6 households: alerted [1,1,1,0,0,0], need [1,0,1,1,0,0]
        // alerts 3, true alerts 2, in need 3: precision 2/3, recall 2/3
        let alerted = [true, true, true, false, false, false];
        let need = [true, false, true, true, false, false];
        let c = Counts::of(&alerted, &need, 0..6);
        assert_eq!(c, Counts { households: 6, in_need: 3, alerts: 3, true_alerts: 2 });
        assert_eq!(c.precision(), Some(2.0 / 3.0));
        assert_eq!(c.recall(), Some(2.0 / 3.0));
        // F1 = 2PR/(P+R) = 2/3; F2 = 5PR/(4P+R) = 5·(4/9)/(10/3) = 2/3 too
        assert!((c.f_beta(1.0) - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.f_beta(2.0) - 2.0 / 3.0).abs() < 1e-12);
        // only the first two: P = 1/2, R = 1/3, F1 = 2·(1/6)/(5/6) = 0.4,
        // F2 = 5·(1/6)/(2 + 1/3) = 5/14
        let c = Counts::of(&alerted, &need, 0..2);
        let c = Counts { in_need: 3, ..c };
        assert!((c.f_beta(1.0) - 0.4).abs() < 1e-12);
        assert!((c.f_beta(2.0) - 5.0 / 14.0).abs() < 1e-12);
        assert_eq!(Counts::default().precision(), None);
    }
}

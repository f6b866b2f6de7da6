//! The alert curve: precision, recall and volume at every threshold, by one
//! sort and one sweep; and the objectives that pick a threshold from it.

use crate::intervals::{wilson, CONFIDENCE};
use crate::metrics::Counts;

/// Alerts at one threshold: every household whose score is at least
/// `threshold` (and every household a trigger item alerts).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Point {
    /// The lowest alerted score (a score that occurs in the data).
    pub threshold: f64,
    /// The next lower score in the data (`-inf` below the lowest): any
    /// cut in between alerts the same households.
    pub next_lower: f64,
    /// Counts at this threshold.
    pub counts: Counts,
}

impl Point {
    /// A cut that alerts the same households and sits halfway to the next
    /// lower score, so that small differences in new data matter less.
    pub fn cut(&self) -> f64 {
        if self.next_lower.is_finite() {
            (self.threshold + self.next_lower) / 2.0
        } else {
            self.threshold
        }
    }
}

/// Every distinct threshold of the scores, highest first. `forced` marks
/// households alerted whatever their score (trigger items); they count at
/// every threshold. Households with equal scores always fall on the same
/// side of a threshold.
pub fn sweep(scores: &[f64], need: &[bool], forced: &[bool], rows: &[usize]) -> Vec<Point> {
    let mut order: Vec<usize> = rows.iter().copied().filter(|&i| !forced[i]).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let in_need = rows.iter().filter(|&&i| need[i]).count() as u64;
    let mut c = Counts { households: rows.len() as u64, in_need, alerts: 0, true_alerts: 0 };
    for &i in rows.iter().filter(|&&i| forced[i]) {
        c.alerts += 1;
        c.true_alerts += u64::from(need[i]);
    }
    let mut points: Vec<Point> = Vec::new();
    let mut k = 0;
    while k < order.len() {
        let value = scores[order[k]];
        while k < order.len() && scores[order[k]] == value {
            c.alerts += 1;
            c.true_alerts += u64::from(need[order[k]]);
            k += 1;
        }
        if let Some(last) = points.last_mut() {
            last.next_lower = value;
        }
        points.push(Point { threshold: value, next_lower: f64::NEG_INFINITY, counts: c });
    }
    points
}

/// What the analyst asks the alert threshold to achieve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Objective {
    /// Highest recall while precision stays at or above `target`; with
    /// `lower_bound`, the Wilson lower bound of precision must.
    RecallAtPrecision {
        /// Precision to keep.
        target: f64,
        /// Require the lower 95 % bound, not the point estimate.
        lower_bound: bool,
    },
    /// Highest precision while recall stays at or above `target`.
    PrecisionAtRecall {
        /// Recall to keep.
        target: f64,
    },
    /// Highest recall with at most this share of households alerted (the
    /// departments' verification capacity).
    Budget {
        /// Share of households that may be alerted.
        share: f64,
    },
    /// Highest F-beta (recall weighs `beta` times precision).
    FBeta {
        /// The beta.
        beta: f64,
    },
}

/// Why an objective given as text could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ObjectiveError {
    /// No `=value`.
    #[error("objective \"{0}\" needs a value: {USAGE}")]
    NoValue(String),
    /// The value is not a number.
    #[error("objective \"{text}\": \"{value}\" is not a number")]
    NotANumber {
        /// The objective as given.
        text: String,
        /// Its value.
        value: String,
    },
    /// A share outside 0 to 1.
    #[error("objective \"{text}\": {value} is not a share between 0 and 1")]
    NotAShare {
        /// The objective as given.
        text: String,
        /// Its value.
        value: f64,
    },
    /// Not an objective hhrisk knows.
    #[error("unknown objective \"{0}\": {USAGE}")]
    Unknown(String),
}

impl Objective {
    /// Parses `recall-at-precision=0.6`, `recall-at-precision-lower=0.6`,
    /// `precision-at-recall=0.7`, `budget=0.3` (a share) or `budget=300`
    /// (households, out of `households`), `f-beta=1`.
    pub fn parse(text: &str, households: usize) -> Result<Objective, ObjectiveError> {
        let text_owned = || text.to_string();
        let (name, value) = text.split_once('=').ok_or_else(|| ObjectiveError::NoValue(text_owned()))?;
        let v: f64 = value
            .trim()
            .parse()
            .map_err(|_| ObjectiveError::NotANumber { text: text_owned(), value: value.to_string() })?;
        let share = |v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(ObjectiveError::NotAShare { text: text_owned(), value: v })
            }
        };
        match name.trim() {
            "recall-at-precision" => {
                Ok(Objective::RecallAtPrecision { target: share(v)?, lower_bound: false })
            }
            "recall-at-precision-lower" => {
                Ok(Objective::RecallAtPrecision { target: share(v)?, lower_bound: true })
            }
            "precision-at-recall" => Ok(Objective::PrecisionAtRecall { target: share(v)? }),
            "budget" if v > 1.0 => Ok(Objective::Budget { share: (v / households.max(1) as f64).min(1.0) }),
            "budget" => Ok(Objective::Budget { share: share(v)? }),
            "f-beta" if v > 0.0 => Ok(Objective::FBeta { beta: v }),
            _ => Err(ObjectiveError::Unknown(text_owned())),
        }
    }

    /// The objective in plain words.
    pub fn describe(&self) -> String {
        let pc = |v: f64| format!("{} %", (1000.0 * v).round() / 10.0);
        match *self {
            Objective::RecallAtPrecision { target, lower_bound: true } => format!(
                "find as many households in need as possible while the lower 95 % bound of precision stays at or above {}",
                pc(target)
            ),
            Objective::RecallAtPrecision { target, lower_bound: false } => {
                format!("find as many households in need as possible while precision stays at or above {}", pc(target))
            }
            Objective::PrecisionAtRecall { target } => {
                format!("alert as precisely as possible while finding at least {} of the households in need", pc(target))
            }
            Objective::Budget { share } => {
                format!("find as many households in need as possible alerting at most {} of households", pc(share))
            }
            Objective::FBeta { beta } => format!("the best F-beta with beta = {beta} (recall weighs {beta} times precision)"),
        }
    }

    /// What [`Objective::pick`] does instead when the objective cannot be
    /// met, in plain words.
    pub fn fallback(&self) -> String {
        match *self {
            Objective::RecallAtPrecision { lower_bound: true, .. } => {
                "the alerts start where the lower 95 % bound of precision is highest instead".into()
            }
            Objective::RecallAtPrecision { lower_bound: false, .. } => {
                "the alerts start where precision is highest instead".into()
            }
            Objective::PrecisionAtRecall { .. } => "the alerts start where recall is highest instead".into(),
            Objective::Budget { .. } => {
                "the alerts start at the highest score instead (the fewest alerts)".into()
            }
            Objective::FBeta { .. } => "nothing else: it can always be met".into(),
        }
    }

    /// [`Objective::describe`] in Chinese.
    pub fn describe_zh(&self) -> String {
        let pc = |v: f64| format!("{} %", (1000.0 * v).round() / 10.0);
        match *self {
            Objective::RecallAtPrecision { target, lower_bound: true } => {
                format!("在精确率的 95 % 置信下限不低于 {} 的前提下，找出尽可能多的需要帮扶的户", pc(target))
            }
            Objective::RecallAtPrecision { target, lower_bound: false } => {
                format!("在精确率不低于 {} 的前提下，找出尽可能多的需要帮扶的户", pc(target))
            }
            Objective::PrecisionAtRecall { target } => {
                format!("在至少找出 {} 需要帮扶的户的前提下，使预警尽可能准确", pc(target))
            }
            Objective::Budget { share } => {
                format!("预警户数不超过全部户的 {}，找出尽可能多的需要帮扶的户", pc(share))
            }
            Objective::FBeta { beta } => {
                format!("F-beta 最优，beta = {beta}（召回率的权重是精确率的 {beta} 倍）")
            }
        }
    }

    /// [`Objective::fallback`] in Chinese.
    pub fn fallback_zh(&self) -> String {
        match *self {
            Objective::RecallAtPrecision { lower_bound: true, .. } => {
                "改为从精确率 95 % 置信下限最高处开始预警".into()
            }
            Objective::RecallAtPrecision { lower_bound: false, .. } => "改为从精确率最高处开始预警".into(),
            Objective::PrecisionAtRecall { .. } => "改为从召回率最高处开始预警".into(),
            Objective::Budget { .. } => "改为只从最高分开始预警（预警户数最少）".into(),
            Objective::FBeta { .. } => "无需改动：该目标总能达到".into(),
        }
    }

    /// Picks a point of the curve. Among equally good points the one with
    /// fewer alerts wins. The flag says whether the objective's constraint
    /// was met; when it cannot be, the point closest to meeting it is
    /// returned.
    pub fn pick(&self, points: &[Point]) -> Option<(Point, bool)> {
        let precision = |p: &Point| p.counts.precision().unwrap_or(0.0);
        let recall = |p: &Point| p.counts.recall().unwrap_or(0.0);
        // `best` keeps the first point with the largest key: points come
        // in rising alert volume, so ties go to fewer alerts.
        let best = |key: &dyn Fn(&Point) -> f64, ok: &dyn Fn(&Point) -> bool| {
            points.iter().filter(|p| ok(p)).fold(None::<&Point>, |b, p| match b {
                Some(b) if key(b) >= key(p) => Some(b),
                _ => Some(p),
            })
        };
        let pick = match *self {
            Objective::RecallAtPrecision { target, lower_bound } => {
                let level = move |p: &Point| {
                    if lower_bound {
                        wilson(p.counts.true_alerts, p.counts.alerts, CONFIDENCE).map_or(0.0, |i| i.lo)
                    } else {
                        precision(p)
                    }
                };
                best(&recall, &|p| level(p) >= target)
                    .map(|p| (*p, true))
                    .or_else(|| best(&level, &|_| true).map(|p| (*p, false)))
            }
            Objective::PrecisionAtRecall { target } => best(&precision, &|p| recall(p) >= target)
                .map(|p| (*p, true))
                .or_else(|| best(&recall, &|_| true).map(|p| (*p, false))),
            Objective::Budget { share } => {
                let cap = (share * points.first().map_or(0, |p| p.counts.households) as f64).floor() as u64;
                best(&recall, &|p| p.counts.alerts <= cap)
                    .map(|p| (*p, true))
                    .or_else(|| points.first().map(|p| (*p, false)))
            }
            Objective::FBeta { beta } => best(&|p| p.counts.f_beta(beta), &|_| true).map(|p| (*p, true)),
        };
        pick
    }
}

/// How objectives are written.
pub const USAGE: &str = "use recall-at-precision=P, recall-at-precision-lower=P, precision-at-recall=R, \
                         budget=SHARE or budget=HOUSEHOLDS, f-beta=B";

#[cfg(test)]
mod tests {
    use super::*;

    // Scores with a tie at 5; household 6 is forced (trigger) with score 0.
    //   i:      0    1    2    3    4    5    6
    //   score:  9    7    5    5    3    1    0
    //   need:   1    1    0    1    0    1    1
    //   forced: -    -    -    -    -    -    yes
    const SCORES: [f64; 7] = [9.0, 7.0, 5.0, 5.0, 3.0, 1.0, 0.0];
    const NEED: [bool; 7] = [true, true, false, true, false, true, true];
    const FORCED: [bool; 7] = [false, false, false, false, false, false, true];

    fn points() -> Vec<Point> {
        sweep(&SCORES, &NEED, &FORCED, &(0..7).collect::<Vec<_>>())
    }

    #[test]
    fn the_sweep_counts_by_hand() {
        // in need: 0,1,3,5,6 = 5. Household 6 is alerted at every threshold.
        //   ≥9: {6,0}          alerts 2, true 2
        //   ≥7: {6,0,1}        alerts 3, true 3
        //   ≥5: {6,0,1,2,3}    alerts 5, true 4   (the tie moves together)
        //   ≥3: + 4            alerts 6, true 4
        //   ≥1: + 5            alerts 7, true 5
        let p = points();
        let got: Vec<(f64, f64, u64, u64)> =
            p.iter().map(|p| (p.threshold, p.next_lower, p.counts.alerts, p.counts.true_alerts)).collect();
        assert_eq!(
            got,
            [
                (9.0, 7.0, 2, 2),
                (7.0, 5.0, 3, 3),
                (5.0, 3.0, 5, 4),
                (3.0, 1.0, 6, 4),
                (1.0, f64::NEG_INFINITY, 7, 5)
            ]
        );
        assert!(p.iter().all(|p| p.counts.households == 7 && p.counts.in_need == 5));
        assert_eq!(p[2].cut(), 4.0);
        // recall never falls as the threshold falls
        assert!(p.windows(2).all(|w| w[1].counts.true_alerts >= w[0].counts.true_alerts));
    }

    #[test]
    fn objectives_pick_as_worked_by_hand() {
        let p = points();
        let pick = |o: Objective| o.pick(&p).map(|(p, ok)| (p.threshold, ok));
        // precision ≥ 0.8: thresholds 9 (1.0), 7 (1.0), 5 (0.8); best recall at 5
        assert_eq!(pick(Objective::RecallAtPrecision { target: 0.8, lower_bound: false }), Some((5.0, true)));
        // Wilson lower bound of 3/3 is 0.4385, of 4/5 0.3755: none reaches 0.8;
        // the highest lower bound is 3/3 at threshold 7 (2/2 gives 0.342)
        assert_eq!(pick(Objective::RecallAtPrecision { target: 0.8, lower_bound: true }), Some((7.0, false)));
        assert_eq!(pick(Objective::RecallAtPrecision { target: 0.4, lower_bound: true }), Some((7.0, true)));
        // recall ≥ 0.8 (4 of 5): thresholds 5 (P 0.8), 3 (0.667), 1 (0.714): pick 5
        assert_eq!(pick(Objective::PrecisionAtRecall { target: 0.8 }), Some((5.0, true)));
        // at most 3 of 7 alerted (share 0.45 → 3): threshold 7
        assert_eq!(pick(Objective::Budget { share: 0.45 }), Some((7.0, true)));
        // F1: 9: 2·2/(2+5)=0.571; 7: 6/8=0.75; 5: 8/10=0.8; 3: 8/11; 1: 10/12=0.833
        assert_eq!(pick(Objective::FBeta { beta: 1.0 }), Some((1.0, true)));
        // F0.5 favours precision: 5: 1.25·4/(1.25·4+0.25·1+1)=0.8; 7: 3.75/(3.75+0.5)=0.882
        assert_eq!(pick(Objective::FBeta { beta: 0.5 }), Some((7.0, true)));
    }

    /// Reference: scikit-learn 1.x, `precision_recall_curve(y, s)` on
    /// y = [1,0,1,1,0,0,1,0,1,0,0,1],
    /// s = [3.5,2.0,7.25,3.5,1.0,-2.0,9.0,3.5,0.5,6.0,2.0,4.75]
    /// (thresholds, precision, recall, lowest threshold first).
    #[test]
    fn the_curve_matches_scikit_learn() {
        let need = [true, false, true, true, false, false, true, false, true, false, false, true];
        let scores = [3.5, 2.0, 7.25, 3.5, 1.0, -2.0, 9.0, 3.5, 0.5, 6.0, 2.0, 4.75];
        let sklearn = [
            (-2.0, 0.5, 1.0),
            (0.5, 0.5454545454545454, 1.0),
            (1.0, 0.5, 0.8333333333333334),
            (2.0, 0.5555555555555556, 0.8333333333333334),
            (3.5, 0.7142857142857143, 0.8333333333333334),
            (4.75, 0.75, 0.5),
            (6.0, 0.6666666666666666, 0.3333333333333333),
            (7.25, 1.0, 0.3333333333333333),
            (9.0, 1.0, 0.16666666666666666),
        ];
        let mut points = sweep(&scores, &need, &[false; 12], &(0..12).collect::<Vec<_>>());
        points.reverse();
        assert_eq!(points.len(), sklearn.len());
        for (p, (t, precision, recall)) in points.iter().zip(sklearn) {
            assert_eq!(p.threshold, t);
            assert!((p.counts.precision().unwrap() - precision).abs() < 1e-12, "{t}");
            assert!((p.counts.recall().unwrap() - recall).abs() < 1e-12, "{t}");
        }
    }

    #[test]
    fn objectives_parse() {
        assert_eq!(Objective::parse("budget=300", 1000), Ok(Objective::Budget { share: 0.3 }));
        assert_eq!(
            Objective::parse("recall-at-precision-lower=0.59", 10),
            Ok(Objective::RecallAtPrecision { target: 0.59, lower_bound: true })
        );
        assert!(Objective::parse("recall-at-precision=59", 10)
            .unwrap_err()
            .to_string()
            .contains("not a share"));
        assert!(Objective::parse("accuracy=1", 10).unwrap_err().to_string().contains("unknown objective"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn data() -> impl Strategy<Value = Vec<(f64, bool, bool)>> {
        // scores on a coarse grid so that ties are common
        prop::collection::vec(
            ((-20i32..40).prop_map(|s| f64::from(s) / 2.0), any::<bool>(), prop::bool::weighted(0.1)),
            1..80,
        )
    }

    proptest! {
        #[test]
        fn recall_never_rises_as_the_threshold_rises(rows in data()) {
            let (scores, need, forced): (Vec<f64>, Vec<bool>, Vec<bool>) = split(&rows);
            let points = sweep(&scores, &need, &forced, &(0..rows.len()).collect::<Vec<_>>());
            // points go from the highest threshold down
            for w in points.windows(2) {
                prop_assert!(w[0].threshold > w[1].threshold);
                prop_assert!(w[1].counts.alerts > w[0].counts.alerts);
                prop_assert!(w[1].counts.true_alerts >= w[0].counts.true_alerts);
            }
        }

        #[test]
        fn every_household_is_counted_once(rows in data()) {
            let (scores, need, forced) = split(&rows);
            let points = sweep(&scores, &need, &forced, &(0..rows.len()).collect::<Vec<_>>());
            if let Some(last) = points.last() {
                // at the lowest threshold everyone is alerted, once
                prop_assert_eq!(last.counts.alerts, rows.len() as u64);
                prop_assert_eq!(last.counts.true_alerts, need.iter().filter(|&&n| n).count() as u64);
            } else {
                prop_assert!(forced.iter().all(|&f| f));
            }
        }

        #[test]
        fn the_curve_does_not_depend_on_row_order(rows in data(), seed in any::<u64>()) {
            let (scores, need, forced) = split(&rows);
            let mut order: Vec<usize> = (0..rows.len()).collect();
            // a deterministic shuffle from the seed
            let mut x = seed | 1;
            for i in (1..order.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let a = sweep(&scores, &need, &forced, &(0..rows.len()).collect::<Vec<_>>());
            let b = sweep(&scores, &need, &forced, &order);
            prop_assert_eq!(a, b);
        }
    }

    fn split(rows: &[(f64, bool, bool)]) -> (Vec<f64>, Vec<bool>, Vec<bool>) {
        (
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
        )
    }
}

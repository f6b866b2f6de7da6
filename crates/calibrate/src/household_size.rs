//! Alerts by household size: whether the alerts fall on households of
//! each size as often as need does.
//!
//! Dividing points by the number of members favours small households: on
//! the bundled villages, per-capita bands alert 64 % of one-person
//! households and 9 % of households of six or more while their need rates
//! are about equal. Every command that measures alerts shows this table,
//! and warns when a size group's alert rate departs from its need rate by
//! more than a factor the analyst sets.

use crate::metrics::Counts;

/// The size groups: 1, 2, 3, 4–5 and 6 or more members.
pub const GROUPS: [&str; 5] = ["1", "2", "3", "4–5", "6+"];

/// Default factor between a group's alert rate and need rate above which
/// `calibrate`, `fit` and `evaluate` warn.
pub const DEFAULT_FACTOR: f64 = 2.0;

/// Fewest households in a group for a warning: below, rates are noise.
pub const MIN_HOUSEHOLDS: u64 = 20;

/// The index into [`GROUPS`] of a household of `members`.
pub fn group_of(members: usize) -> usize {
    match members {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4 | 5 => 3,
        _ => 4,
    }
}

/// Alerts and need among households of one size group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SizeGroup {
    /// `1`, `2`, `3`, `4–5` or `6+` members.
    pub group: &'static str,
    /// Households in the group.
    pub households: u64,
    /// Of them, verified in need.
    pub in_need: u64,
    /// Of them, alerted.
    pub alerts: u64,
    /// `alerts / households`.
    #[serde(serialize_with = "six_places")]
    pub alert_rate: Option<f64>,
    /// `in_need / verified households`.
    #[serde(serialize_with = "six_places")]
    pub need_rate: Option<f64>,
    /// Share of the verified alerts found in need.
    #[serde(serialize_with = "six_places")]
    pub precision: Option<f64>,
    /// Share of the households in need that were alerted (`None` when
    /// households that were not alerted were not verified).
    #[serde(serialize_with = "six_places")]
    pub recall: Option<f64>,
}

/// Rates to 6 decimal places: enough for any roster, and a long run of
/// digits is not mistaken for an ID number by a reader scanning for them.
fn six_places<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&((v * 1e6).round() / 1e6)),
        None => s.serialize_none(),
    }
}

/// The table, from each household's members, alert and verified need
/// (`None`: not verified). `recall` is left out when `measure_recall` is
/// false (only alerted households were verified).
pub fn by_household_size(
    households: impl IntoIterator<Item = (usize, bool, Option<bool>)>,
    measure_recall: bool,
) -> Vec<SizeGroup> {
    let mut counts = [Counts::default(); 5];
    let mut totals = [(0u64, 0u64, 0u64); 5]; // households, alerts, verified
    for (members, alerted, need) in households {
        let g = group_of(members);
        totals[g].0 += 1;
        totals[g].1 += u64::from(alerted);
        if let Some(need) = need {
            totals[g].2 += 1;
            counts[g].add(alerted, need);
        }
    }
    GROUPS
        .iter()
        .zip(counts.iter().zip(totals))
        .map(|(&group, (c, (households, alerts, verified)))| {
            let in_need = c.in_need;
            SizeGroup {
                group,
                households,
                in_need,
                alerts,
                alert_rate: (households > 0).then(|| alerts as f64 / households as f64),
                need_rate: (verified > 0).then(|| in_need as f64 / verified as f64),
                precision: c.precision(),
                recall: if measure_recall { c.recall() } else { None },
            }
        })
        .collect()
}

/// Warnings for the groups (of at least [`MIN_HOUSEHOLDS`]) whose alert
/// rate is more than `factor` times their need rate, or less than
/// `1/factor` times it.
pub fn warnings(groups: &[SizeGroup], factor: f64) -> Vec<String> {
    departures(groups, factor)
        .map(|(g, alert, need, too_many)| {
            let members = if g.group == "1" {
                "one-person households".to_string()
            } else {
                format!("households of {} members", g.group)
            };
            format!(
                "{members}: {:.0} % alerted but {:.0} % in need ({} the need rate); the alerts {} households of this \
                 size — if the points are divided by household size, compare other normalisations with `hhrisk fit \
                 --normalise auto`",
                100.0 * alert,
                100.0 * need,
                if too_many { format!("more than {factor} times") } else { format!("less than 1/{factor} of") },
                if too_many { "over-reach" } else { "under-reach" },
            )
        })
        .collect()
}

/// [`warnings`] in Chinese.
pub fn warnings_zh(groups: &[SizeGroup], factor: f64) -> Vec<String> {
    departures(groups, factor)
        .map(|(g, alert, need, too_many)| {
            let members = match g.group {
                "1" => "单人户".to_string(),
                "6+" => "6 人及以上户".to_string(),
                other => format!("{other} 人户"),
            };
            format!(
                "{members}的预警率为 {:.0} %，需要帮扶比例为 {:.0} %（预警率{}）：预警对这一人口规模的户覆盖{}；\
                 如果分值按家庭人口分摊，请用 `hhrisk fit --normalise auto` 比较其他标准化方式",
                100.0 * alert,
                100.0 * need,
                if too_many {
                    format!("超过需要帮扶比例的 {factor} 倍")
                } else {
                    format!("不到需要帮扶比例的 1/{factor}")
                },
                if too_many { "过多" } else { "不足" },
            )
        })
        .collect()
}

/// The groups (of at least [`MIN_HOUSEHOLDS`]) whose alert rate departs
/// from their need rate by more than `factor`: each with its alert rate,
/// its need rate, and whether it is alerted too often.
fn departures(groups: &[SizeGroup], factor: f64) -> impl Iterator<Item = (&SizeGroup, f64, f64, bool)> {
    groups.iter().filter(|g| g.households >= MIN_HOUSEHOLDS).filter_map(move |g| {
        let (Some(alert), Some(need)) = (g.alert_rate, g.need_rate) else { return None };
        let too_many = need > 0.0 && alert > factor * need;
        let too_few = alert * factor < need;
        (too_many || too_few).then_some((g, alert, need, too_many))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_rates_by_hand() {
        assert_eq!([1, 2, 3, 4, 5, 6, 9].map(group_of), [0, 1, 2, 3, 3, 4, 4]);
        // one-person households: 30, 20 alerted of which 6 in need, 9 in
        // need in all (3 not alerted); six-person households: 25, 2
        // alerted (both in need), 10 in need; one household of 4 without
        // an outcome, alerted
        let mut rows = Vec::new();
        for i in 0..30 {
            rows.push((1, i < 20, Some(i < 6 || (20..23).contains(&i))));
        }
        for i in 0..25 {
            rows.push((6, i < 2, Some(i < 10)));
        }
        rows.push((4, true, None));
        let t = by_household_size(rows, true);
        assert_eq!(t.iter().map(|g| g.group).collect::<Vec<_>>(), GROUPS);
        let one = &t[0];
        assert_eq!((one.households, one.in_need, one.alerts), (30, 9, 20));
        assert_eq!((one.alert_rate, one.need_rate), (Some(20.0 / 30.0), Some(9.0 / 30.0)));
        assert_eq!((one.precision, one.recall), (Some(6.0 / 20.0), Some(6.0 / 9.0)));
        let six = &t[4];
        assert_eq!((six.alert_rate, six.need_rate), (Some(2.0 / 25.0), Some(10.0 / 25.0)));
        assert_eq!((six.precision, six.recall), (Some(1.0), Some(0.2)));
        // the unverified household counts as scored and alerted, not in the rates of need
        assert_eq!((t[3].households, t[3].alerts, t[3].need_rate, t[3].precision), (1, 1, None, None));
        assert_eq!(t[1].alert_rate, None);
        // 67 % alerted against 30 % in need: 2.2 times, over 2; 8 % against
        // 40 %: 1 in 5; the group of 4–5 is too small to judge
        let w = warnings(&t, 2.0);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with(
                "one-person households: 67 % alerted but 30 % in need (more than 2 times the need rate)"
            ),
            "{w:?}"
        );
        assert!(
            w[1].starts_with(
                "households of 6+ members: 8 % alerted but 40 % in need (less than 1/2 of the need rate)"
            ),
            "{w:?}"
        );
        assert_eq!(warnings(&t, 5.0).len(), 0);
        // the same warnings in Chinese, with the same figures
        let zh = warnings_zh(&t, 2.0);
        assert_eq!(zh.len(), 2, "{zh:?}");
        assert!(
            zh[0].starts_with("单人户的预警率为 67 %，需要帮扶比例为 30 %（预警率超过需要帮扶比例的 2 倍）"),
            "{zh:?}"
        );
        assert!(
            zh[1].starts_with(
                "6 人及以上户的预警率为 8 %，需要帮扶比例为 40 %（预警率不到需要帮扶比例的 1/2）"
            ),
            "{zh:?}"
        );
        assert!(warnings_zh(&t, 5.0).is_empty());
        // without verified non-alerts, recall is not measured
        assert!(by_household_size([(2, true, Some(true))], false)[1].recall.is_none());
    }
}

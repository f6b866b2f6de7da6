//! Monitoring over time: what changed between two roster snapshots, and
//! whether the population still looks like the one the bands were fitted
//! on.

use std::collections::{BTreeMap, BTreeSet};

use hhrisk_model::column::ColumnType;
use hhrisk_model::expr::Scope;
use hhrisk_model::{Bands, Model};
use hhrisk_roster::Roster;
use hhrisk_score::output::format_number;
use hhrisk_score::Scorer;
use hhrisk_tables::OutTable;

/// A household's state in one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Village.
    pub village: String,
    /// Alert level name.
    pub level: Option<String>,
    /// The normalised score bands apply to.
    pub score: f64,
    /// Per-capita subtotal of each category.
    pub categories: Vec<f64>,
    /// Items that counted, with their counts.
    pub items: BTreeMap<String, u32>,
    /// Whether the household is on dibao (`class` = `dibao`), when the
    /// model has such a column.
    pub on_dibao: Option<bool>,
}

/// Scores a roster into states by household.
pub fn snapshot(model: &Model, bands: &Bands, roster: &Roster) -> BTreeMap<String, State> {
    let scorer = Scorer::new(model, bands);
    let class = model.columns.iter().find(|c| {
        c.name == "class"
            && c.file == Scope::Household
            && matches!(&c.ty, ColumnType::Category(v) if v.iter().any(|v| v == "dibao"))
    });
    let mut out = BTreeMap::new();
    let mut s = Default::default();
    for h in &roster.households {
        let x = roster.inputs(h);
        scorer.score_into(&x, &mut s);
        out.insert(
            h.id.clone(),
            State {
                village: h.village.clone(),
                level: s.alert.map(|a| bands.levels[a].name.clone()),
                score: s.score,
                categories: (0..s.categories.len()).map(|c| s.category_per_capita(c)).collect(),
                items: s.hits.iter().map(|hit| (model.items[hit.item].id.clone(), hit.count)).collect(),
                on_dibao: class.map(|c| c.format_value(x.household[c.slot]) == "dibao"),
            },
        );
    }
    out
}

/// How a household changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// The household.
    pub household_id: String,
    /// Village (new, or old when it disappeared).
    pub village: String,
    /// `entered`, `left`, `moved`, `appeared`, `disappeared`.
    pub kind: &'static str,
    /// Alert level before.
    pub old_level: Option<String>,
    /// Alert level now.
    pub new_level: Option<String>,
    /// Score before.
    pub old_score: Option<f64>,
    /// Score now.
    pub new_score: Option<f64>,
    /// Items that count now and did not (or count more often).
    pub items_added: Vec<String>,
    /// Items that counted and no longer do (or less often).
    pub items_removed: Vec<String>,
}

/// A household that left dibao, kept in view for the gradual-exit period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GradualExit {
    /// The household.
    pub household_id: String,
    /// What happened.
    pub note: String,
}

/// The population stability index of one quantity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Drift {
    /// `score` or `cat_<id>`.
    pub quantity: String,
    /// The index.
    pub psi: f64,
    /// `stable` (< 0.1), `moderate` (< 0.25) or `shifted`.
    pub level: &'static str,
}

/// A diff between two snapshots.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diff {
    /// Households in each kind of change.
    pub counts: BTreeMap<&'static str, usize>,
    /// Every change of alert status, and appearances and disappearances.
    pub changes: Vec<Change>,
    /// Households that left dibao.
    pub gradual_exit: Vec<GradualExit>,
    /// Drift of the score and each category between the reference (the
    /// calibration sample, or the old snapshot) and the new snapshot.
    pub drift: Vec<Drift>,
    /// What the reference was.
    pub drift_reference: String,
    /// Plain warnings.
    pub warnings: Vec<String>,
}

fn item_changes(old: &BTreeMap<String, u32>, new: &BTreeMap<String, u32>) -> (Vec<String>, Vec<String>) {
    let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    for id in ids {
        let (a, b) = (old.get(id).copied().unwrap_or(0), new.get(id).copied().unwrap_or(0));
        if b > a {
            added.push(id.clone());
        } else if a > b {
            removed.push(id.clone());
        }
    }
    (added, removed)
}

impl Diff {
    /// The changes as a table (`hhrisk diff --changes FILE`).
    pub fn changes_table(&self) -> OutTable {
        let header = [
            "household_id",
            "village",
            "change",
            "old_level",
            "new_level",
            "old_score",
            "new_score",
            "items_added",
            "items_removed",
        ];
        let rows = self
            .changes
            .iter()
            .map(|c| {
                vec![
                    c.household_id.clone(),
                    c.village.clone(),
                    c.kind.to_string(),
                    c.old_level.clone().unwrap_or_default(),
                    c.new_level.clone().unwrap_or_default(),
                    c.old_score.map(format_number).unwrap_or_default(),
                    c.new_score.map(format_number).unwrap_or_default(),
                    c.items_added.join(";"),
                    c.items_removed.join(";"),
                ]
            })
            .collect();
        OutTable { header: header.iter().map(|h| h.to_string()).collect(), rows, ..OutTable::default() }
    }

    /// What `hhrisk diff` prints of the roster folders `old` and `new`: the
    /// counts, the first 30 changes, gradual exits and drift.
    pub fn to_text(&self, old: &std::path::Path, new: &std::path::Path) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let counts: Vec<String> = self.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(s, "{} → {}: {}", old.display(), new.display(), counts.join(", "));
        for c in self.changes.iter().take(30) {
            let _ = writeln!(
                s,
                "  {:<12} {:<12} {:>7} → {:<7} +[{}] -[{}]",
                c.household_id,
                c.kind,
                c.old_level.as_deref().unwrap_or("-"),
                c.new_level.as_deref().unwrap_or("-"),
                c.items_added.join(","),
                c.items_removed.join(",")
            );
        }
        if self.changes.len() > 30 {
            let _ = writeln!(s, "  … and {} more (--changes FILE writes them all)", self.changes.len() - 30);
        }
        for g in &self.gradual_exit {
            let _ = writeln!(s, "  gradual exit: {} {}", g.household_id, g.note);
        }
        let _ = writeln!(s, "drift against {} (population stability index):", self.drift_reference);
        for x in &self.drift {
            let _ = writeln!(s, "  {:<22} {:>6.3}  {}", x.quantity, x.psi, x.level);
        }
        s
    }
}

/// Compares two snapshots. `reference` holds the score and
/// category subtotals of the population the bands were fitted on (the
/// calibration sample; `None`: the old snapshot). `gradual_exit_days`
/// comes from the model's parameters.
pub fn diff(
    model: &Model,
    old: &BTreeMap<String, State>,
    new: &BTreeMap<String, State>,
    reference: Option<(&str, Vec<Vec<f64>>)>,
    gradual_exit_days: Option<f64>,
) -> Diff {
    let mut changes = Vec::new();
    let mut gradual_exit = Vec::new();
    let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for id in ids {
        let (o, n) = (old.get(id), new.get(id));
        let kind = match (o, n) {
            (None, Some(_)) => "appeared",
            (Some(_), None) => "disappeared",
            (Some(o), Some(n)) => match (&o.level, &n.level) {
                (None, Some(_)) => "entered",
                (Some(_), None) => "left",
                (Some(a), Some(b)) if a != b => "moved",
                _ => "",
            },
            (None, None) => "",
        };
        let empty = BTreeMap::new();
        if !kind.is_empty() {
            let (added, removed) =
                item_changes(o.map_or(&empty, |s| &s.items), n.map_or(&empty, |s| &s.items));
            changes.push(Change {
                household_id: id.clone(),
                village: n.or(o).map(|s| s.village.clone()).unwrap_or_default(),
                kind,
                old_level: o.and_then(|s| s.level.clone()),
                new_level: n.and_then(|s| s.level.clone()),
                old_score: o.map(|s| s.score),
                new_score: n.map(|s| s.score),
                items_added: added,
                items_removed: removed,
            });
        }
        if o.and_then(|s| s.on_dibao) == Some(true) && n.and_then(|s| s.on_dibao) != Some(true) {
            let period = gradual_exit_days.map_or_else(
                || "the model names no gradual_exit_days parameter".to_string(),
                |d| format!("keep it in view for the gradual-exit period of {d} days (渐退期)"),
            );
            let what = if n.is_some() { "left dibao" } else { "left dibao and is no longer in the roster" };
            gradual_exit.push(GradualExit { household_id: id.clone(), note: format!("{what}: {period}") });
        }
    }
    let mut counts: BTreeMap<&'static str, usize> =
        ["entered", "left", "moved", "appeared", "disappeared"].iter().map(|k| (*k, 0)).collect();
    for c in &changes {
        *counts.entry(c.kind).or_default() += 1;
    }

    // Drift: reference columns are score, then each category.
    let columns = |states: &BTreeMap<String, State>| -> Vec<Vec<f64>> {
        let mut cols = vec![states.values().map(|s| s.score).collect::<Vec<_>>()];
        for c in 0..model.categories.len() {
            cols.push(states.values().map(|s| s.categories[c]).collect());
        }
        cols
    };
    let (reference_name, reference) = match reference {
        Some((name, cols)) => (name.to_string(), cols),
        None => ("the old snapshot".to_string(), columns(old)),
    };
    let now = columns(new);
    let names: Vec<String> = std::iter::once("score".to_string())
        .chain(model.categories.iter().map(|c| format!("cat_{}", c.id)))
        .collect();
    let drift: Vec<Drift> = names
        .into_iter()
        .zip(reference.iter().zip(&now))
        .map(|(quantity, (r, n))| {
            let psi = psi(r, n);
            Drift {
                quantity,
                psi,
                level: if psi < 0.1 {
                    "stable"
                } else if psi < 0.25 {
                    "moderate"
                } else {
                    "shifted"
                },
            }
        })
        .collect();
    let mut warnings = Vec::new();
    if let Some(d) = drift.first().filter(|d| d.level == "shifted") {
        warnings.push(format!(
            "the scores have shifted (PSI {:.2} against {reference_name}): the bands were fitted on a \
             population that no longer looks like this one; recalibrate before trusting their precision",
            d.psi
        ));
    }
    for d in drift.iter().skip(1).filter(|d| d.level == "shifted") {
        warnings.push(format!(
            "{} has shifted (PSI {:.2}): check what changed in its items or data",
            d.quantity, d.psi
        ));
    }
    Diff { counts, changes, gradual_exit, drift, drift_reference: reference_name, warnings }
}

/// Population stability index of `new` against `reference`, over the
/// reference's deciles (equal values never split; empty bins count as
/// 0.0001 so the index stays finite).
pub fn psi(reference: &[f64], new: &[f64]) -> f64 {
    if reference.is_empty() || new.is_empty() {
        return 0.0;
    }
    let mut sorted = reference.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = (1..10).map(|k| sorted[k * sorted.len() / 10]).collect();
    cuts.dedup();
    let bin = |v: f64| cuts.partition_point(|&c| c <= v);
    let share = |values: &[f64]| {
        let mut counts = vec![0.0; cuts.len() + 1];
        for &v in values {
            counts[bin(v)] += 1.0;
        }
        counts.iter().map(|c| (c / values.len() as f64).max(1e-4)).collect::<Vec<_>>()
    };
    let (r, n) = (share(reference), share(new));
    r.iter().zip(&n).map(|(r, n)| (n - r) * (n / r).ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_by_hand() {
        // reference 0..100: deciles at 10, 20, …, 90; ten bins of 10 %.
        let reference: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(psi(&reference, &reference).abs() < 1e-12);
        // everything moved into the top bin: one bin at 100 %, nine at 0.01 %
        // PSI = (1 − 0.1) ln(1/0.1) + 9 × (0.0001 − 0.1) ln(0.0001/0.1)
        let shifted = vec![95.0; 100];
        let want = 0.9 * 10f64.ln() + 9.0 * (0.0001 - 0.1) * (0.001f64).ln();
        assert!((psi(&reference, &shifted) - want).abs() < 1e-9, "{}", psi(&reference, &shifted));
        // half the households one decile up: 10 %→5 % in bin 0, 15 % in bin 9 …
        let moved: Vec<f64> =
            (0..100).map(|v| if v % 2 == 0 { f64::from(v) } else { f64::from((v + 10).min(99)) }).collect();
        let p = psi(&reference, &moved);
        assert!(p > 0.0 && p < 0.1, "{p}");
    }
}

//! Scoring one household: items, category subtotals, per-capita score and
//! alert level.

use std::sync::Arc;

use hhrisk_model::expr::{BatchEval, BoolFn, Columns, CountFn, Inputs, Level};
use hhrisk_model::{equivalence_scale, Bands, Model, Per};

/// One item that fired for a household.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index into [`Model::items`].
    pub item: usize,
    /// 1 for a household item; the number of matching members for a
    /// per-member item.
    pub count: u32,
    /// Category weight × points × count.
    pub points: f64,
}

/// The score of one household.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HouseholdScore {
    /// Co-resident members.
    pub members: usize,
    /// Sum of all contributions.
    pub total: f64,
    /// `total / members`.
    pub per_capita: f64,
    /// The modified OECD equivalence scale of the household (see
    /// [`hhrisk_model::equivalence_scale`]), from the model's age column,
    /// when the scorer computes it (see [`Scorer::with_equivalents`]); else
    /// the number of members.
    pub equivalents: f64,
    /// What the divided points are divided by, under the model's
    /// normalisation.
    pub divisor: f64,
    /// Contributions of the items with `divide = false`, part of `total`.
    pub undivided: f64,
    /// The normalised score that bands apply to: `(total - undivided) /
    /// divisor + undivided` (exactly `total / members` under
    /// `per_capita` when every item is divided).
    pub score: f64,
    /// Sum of contributions per category (not divided by members), in
    /// model order.
    pub categories: Vec<f64>,
    /// Items that fired, in model order.
    pub hits: Vec<Hit>,
    /// Whether a trigger item fired.
    pub triggered: bool,
    /// Alert level: index into the bands' levels, `None` for no alert.
    pub alert: Option<usize>,
}

impl HouseholdScore {
    /// Per-capita subtotal of category `c`.
    pub fn category_per_capita(&self, c: usize) -> f64 {
        self.categories[c] / self.members as f64
    }

    /// Up to `n` items with the largest positive contributions, largest
    /// first (ties in model order).
    pub fn top_items(&self, n: usize) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self.hits.iter().copied().filter(|h| h.points > 0.0).collect();
        hits.sort_by(|a, b| b.points.total_cmp(&a.points).then(a.item.cmp(&b.item)));
        hits.truncate(n);
        hits
    }
}

/// Scores households against a model, with a set of warning bands.
#[derive(Clone)]
pub struct Scorer<'m> {
    model: &'m Model,
    bands: &'m Bands,
    /// Each item's condition as a closure (see `BoolExpr::to_fn`), shared
    /// by the clones of a scorer on worker threads.
    conditions: Arc<[Condition]>,
    /// Slot in a member row of the age column, when the equivalence scale
    /// is computed: under `equivalence`, or when asked
    /// ([`Scorer::with_equivalents`]).
    age_slot: Option<usize>,
}

/// An item's condition, compiled for its scope.
enum Condition {
    /// Whether the household item fires.
    Household(BoolFn),
    /// How many members the per-member item counts.
    Member(CountFn),
}

impl std::fmt::Debug for Scorer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer").field("model", &self.model.path).field("bands", self.bands).finish()
    }
}

impl<'m> Scorer<'m> {
    /// A scorer using the model's items and these bands (the model's own
    /// default bands, or a calibrated thresholds file).
    pub fn new(model: &'m Model, bands: &'m Bands) -> Self {
        let conditions = model
            .items
            .iter()
            .map(|item| match item.per {
                Per::Household => Condition::Household(item.condition.to_fn()),
                Per::Member => Condition::Member(item.condition.to_count_fn()),
            })
            .collect();
        let age_slot = model
            .scoring
            .age_column
            .filter(|_| model.scoring.normalise == hhrisk_model::Normalise::Equivalence)
            .map(|c| model.columns[c].slot);
        Scorer { model, bands, conditions, age_slot }
    }

    /// Also computes each household's equivalence scale when the model
    /// names an age column, whatever its normalisation (for fitting, which
    /// tries every normalisation); scoring alone skips it unless the model
    /// divides by it.
    pub fn with_equivalents(mut self) -> Self {
        self.age_slot = self.model.scoring.age_column.map(|c| self.model.columns[c].slot);
        self
    }

    /// The model.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// The bands.
    pub fn bands(&self) -> &'m Bands {
        self.bands
    }

    /// Scores one household with at least one member.
    pub fn score(&self, inputs: &Inputs) -> HouseholdScore {
        let mut out = HouseholdScore::default();
        self.score_into(inputs, &mut out);
        out
    }

    /// Scores one household into `out`, reusing its buffers.
    pub fn score_into(&self, inputs: &Inputs, out: &mut HouseholdScore) {
        let model = self.model;
        out.members = inputs.member_count();
        out.categories.clear();
        out.categories.resize(model.categories.len(), 0.0);
        out.hits.clear();
        out.triggered = false;
        out.undivided = 0.0;
        for (index, (item, condition)) in model.items.iter().zip(self.conditions.iter()).enumerate() {
            if item.off {
                continue;
            }
            let count = match condition {
                Condition::Household(fires) => u32::from(fires(inputs, 0)),
                Condition::Member(count) => count(inputs),
            };
            if count == 0 {
                continue;
            }
            let points = model.categories[item.category].weight * item.points * f64::from(count);
            out.categories[item.category] += points;
            if !item.divide {
                out.undivided += points;
            }
            out.hits.push(Hit { item: index, count, points });
            out.triggered |= item.trigger;
        }
        out.equivalents = match self.age_slot {
            Some(slot) => {
                equivalence_scale((0..inputs.count).map(|m| inputs.members[m * inputs.stride + slot]))
            }
            None => out.members as f64,
        };
        self.finish(out);
    }

    /// Total, per-capita and normalised scores and the alert level, once
    /// the hits, category subtotals and equivalence scale are in.
    fn finish(&self, s: &mut HouseholdScore) {
        // Summing the categories (not the hits) keeps total and subtotals
        // consistent to the last bit.
        s.total = s.categories.iter().sum();
        let members = s.members as f64;
        s.per_capita = s.total / members;
        s.divisor = self.model.scoring.normalise.divisor(members, s.equivalents);
        // `undivided` is exactly 0 when no such item fired, so the score is
        // then `total / divisor` to the last bit
        s.score = (s.total - s.undivided) / s.divisor + s.undivided;
        s.alert = self.bands.level(s.score, s.triggered);
    }
}

/// A worker's buffers for [`Scorer::score_batch`].
#[derive(Debug, Default)]
pub struct BatchScores {
    eval: BatchEval,
    fired: Vec<bool>,
    /// Running count of the member rows an item fired for.
    running: Vec<u32>,
    /// The households an item fired for, with the count for each.
    which: Vec<(u32, u32)>,
    scores: Vec<HouseholdScore>,
}

impl Scorer<'_> {
    /// Scores the households of a batch at once: each item's condition
    /// runs over the whole batch (see `BatchEval`), then the hits are added
    /// up household by household in model order, as [`Scorer::score_into`]
    /// adds them, so that each score is the same to the last bit. Household
    /// `h`'s score is the `h`th of the slice returned.
    pub fn score_batch<'s>(&self, x: &Columns, state: &'s mut BatchScores) -> &'s [HouseholdScore] {
        let model = self.model;
        let n = x.len();
        let BatchScores { eval, fired, running, which, scores } = state;
        eval.load(x);
        which.clear();
        which.resize(n, (0, 0));
        if scores.len() < n {
            scores.resize_with(n, HouseholdScore::default);
        }
        let scores = &mut scores[..n];
        for (h, s) in scores.iter_mut().enumerate() {
            s.members = x.span(h).len();
            s.categories.clear();
            s.categories.resize(model.categories.len(), 0.0);
            s.hits.clear();
            s.triggered = false;
            s.undivided = 0.0;
            s.equivalents = match self.age_slot {
                Some(slot) => equivalence_scale(x.span(h).map(|m| x.members[m * x.member_stride + slot])),
                None => s.members as f64,
            };
        }
        for (index, item) in model.items.iter().enumerate() {
            if item.off {
                continue;
            }
            let level = match item.per {
                Per::Household => Level::Household,
                Per::Member => Level::Member,
            };
            eval.bool(&item.condition, x, level, fired);
            let weighted = model.categories[item.category].weight * item.points;
            // The households the item fired for, and how many times, gathered
            // without a branch on each household: whether an item fires is
            // as good as random, and a mispredicted branch for each of the
            // batch's households and items would cost more than the rest.
            let found = match item.per {
                Per::Household => {
                    let mut k = 0;
                    for (h, &f) in fired.iter().enumerate() {
                        which[k] = (h as u32, 1);
                        k += usize::from(f);
                    }
                    k
                }
                Per::Member => {
                    // running count of the members it fired for: household
                    // `h` has the difference across its span
                    let mut sum = 0u32;
                    running.clear();
                    running.push(0);
                    running.extend(fired.iter().map(|&f| {
                        sum += u32::from(f);
                        sum
                    }));
                    let mut k = 0;
                    for (h, ends) in x.starts.windows(2).enumerate() {
                        let count = running[ends[1]] - running[ends[0]];
                        which[k] = (h as u32, count);
                        k += usize::from(count > 0);
                    }
                    k
                }
            };
            for &(h, count) in &which[..found] {
                let s = &mut scores[h as usize];
                let points = weighted * f64::from(count);
                s.categories[item.category] += points;
                if !item.divide {
                    s.undivided += points;
                }
                s.hits.push(Hit { item: index, count, points });
                s.triggered |= item.trigger;
            }
        }
        for s in scores.iter_mut() {
            self.finish(s);
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::ScoreMatrix;
    use hhrisk_model::expr::Columns;

    /// Two categories (weights 1 and 0.5), a household item, a per-member
    /// item, a negative item and a trigger.
    const MODEL: &str = r#"
[model]
name = "t"
version = "1"
source = "test"
[[departments]]
id = "d"
name = "d"
[[columns]]
name = "car"
file = "households"
type = "bool"
[[columns]]
name = "age"
file = "members"
type = "integer"
[[columns]]
name = "cost"
file = "members"
type = "decimal"
[[categories]]
id = "people"
name = "人口"
[[categories]]
id = "money"
name = "财产"
weight = 0.5
[[items]]
id = "OLD"
category = "people"
name = "老人"
per = "member"
when = "age >= 60"
points = 3
department = "d"
[[items]]
id = "ALONE"
category = "people"
name = "独居"
when = "members == 1"
points = 8
department = "d"
[[items]]
id = "CAR"
category = "money"
name = "车"
when = "car"
points = -10
department = "d"
[[items]]
id = "COST"
category = "money"
name = "医疗费"
per = "member"
when = "cost > 20000"
points = 4
department = "d"
trigger = true
[bands]
trigger = "low"
[[bands.levels]]
name = "high"
min = 5
[[bands.levels]]
name = "low"
min = 2
"#;

    fn score(car: f64, members: &[(f64, f64)]) -> HouseholdScore {
        let model = Model::from_toml(MODEL, "t.toml").unwrap();
        let flat: Vec<f64> = members.iter().flat_map(|&(a, c)| [a, c]).collect();
        let x = Inputs { household: &[car], members: &flat, stride: 2, count: members.len() };
        Scorer::new(&model, &model.bands).score(&x)
    }

    #[test]
    fn contributions_are_weight_times_points_times_count() {
        // Three members, two aged 60+ (OLD × 2 = 6), a car (0.5 × -10 = -5),
        // one cost over 20000 (0.5 × 4 = 2, a trigger).
        // total 6 - 5 + 2 = 3; per capita 1; people 6, money -3.
        let s = score(1.0, &[(65.0, 0.0), (70.0, 25000.0), (30.0, 0.0)]);
        assert_eq!(s.categories, [6.0, -3.0]);
        assert_eq!((s.total, s.per_capita), (3.0, 1.0));
        let hits: Vec<(usize, u32, f64)> = s.hits.iter().map(|h| (h.item, h.count, h.points)).collect();
        assert_eq!(hits, [(0, 2, 6.0), (2, 1, -5.0), (3, 1, 2.0)]);
        // per capita 1 is below every band, but the trigger raises it to "low"
        assert!(s.triggered);
        assert_eq!(s.alert, Some(1));
        assert_eq!(s.category_per_capita(1), -1.0);
        // top items: positive contributions only, largest first
        assert_eq!(s.top_items(3).iter().map(|h| h.item).collect::<Vec<_>>(), [0, 3]);
    }

    #[test]
    fn normalisations_and_undivided_items() {
        // Three members aged 65, 70 and 30 with a car and one cost: total 3
        // (see above), of which COST's 2 is undivided here.
        let members = [(65.0, 0.0), (70.0, 25000.0), (30.0, 0.0)];
        let flat: Vec<f64> = members.iter().flat_map(|&(a, c)| [a, c]).collect();
        let x = Inputs { household: &[1.0], members: &flat, stride: 2, count: 3 };
        let with = |scoring: &str| {
            let text = MODEL.replace("trigger = true\n", "trigger = true\ndivide = false\n") + scoring;
            let model = Model::from_toml(&text, "t.toml").unwrap();
            let s = Scorer::new(&model, &model.bands).score(&x);
            let columns = Columns {
                household: &[1.0],
                household_stride: 1,
                members: &flat,
                member_stride: 2,
                starts: &[0, 3],
                owner: &[0, 0, 0],
            };
            let batch = Scorer::new(&model, &model.bands).score_batch(&columns, &mut BatchScores::default())
                [0]
            .clone();
            assert_eq!(batch, s, "{scoring}");
            s
        };
        // divided part 3 - 2 = 1; equivalence scale of three adults 2
        let s = with("");
        assert_eq!(
            (s.total, s.per_capita, s.undivided, s.divisor, s.score),
            (3.0, 1.0, 2.0, 3.0, 1.0 / 3.0 + 2.0)
        );
        assert_eq!(with("[scoring]\nnormalise = \"total\"\n").score, 3.0);
        assert_eq!(with("[scoring]\nnormalise = \"sqrt_members\"\n").score, 1.0 / 3f64.sqrt() + 2.0);
        let s = with("[scoring]\nnormalise = \"equivalence\"\nage_column = \"age\"\n");
        assert_eq!((s.equivalents, s.score), (2.0, 0.5 + 2.0));
        // "high" starts at 5: under `total` with CAR off, 6 + 2 = 8 alerts
        let text = MODEL.replace("points = -10\n", "points = -10\noff = true\n")
            + "[scoring]\nnormalise = \"total\"\n";
        let model = Model::from_toml(&text, "t.toml").unwrap();
        let s = Scorer::new(&model, &model.bands).score(&x);
        assert_eq!((s.total, s.score, s.alert), (8.0, 8.0, Some(0)));
        assert!(s.hits.iter().all(|h| h.item != 2), "an item that is off never counts");
    }

    #[test]
    fn a_single_member_household() {
        // One member of 80: OLD 3 + ALONE 8 = 11 per capita: "high".
        let s = score(0.0, &[(80.0, 0.0)]);
        assert_eq!((s.total, s.per_capita, s.alert, s.triggered), (11.0, 11.0, Some(0), false));
        // top_items breaks ties in model order
        assert_eq!(s.top_items(1).iter().map(|h| h.item).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn the_score_matrix_holds_counts_and_subtotals() {
        let a = score(1.0, &[(65.0, 0.0), (70.0, 25000.0), (30.0, 0.0)]);
        let b = score(0.0, &[(80.0, 0.0)]);
        let m = ScoreMatrix::from_scores([&a, &b].into_iter(), 4, 2);
        assert_eq!(m.members.to_vec(), [3.0, 1.0]);
        assert_eq!(m.item_counts.row(0).to_vec(), [2.0, 0.0, 1.0, 1.0]);
        assert_eq!(m.item_counts.row(1).to_vec(), [1.0, 1.0, 0.0, 0.0]);
        assert_eq!(m.category_totals.row(0).to_vec(), [6.0, -3.0]);
        assert_eq!(m.per_capita().to_vec(), [1.0, 11.0]);
    }
}

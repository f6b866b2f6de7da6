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
    /// Index into the model's classes of the class the household meets
    /// the rule of but is not enrolled in (应纳未纳, alert kind
    /// `not_enrolled`), the first in model order.
    pub not_enrolled: Option<usize>,
    /// Enrolled in a class while a gate item (a sign of means) fired: to be
    /// checked by civil affairs (疑似错保, alert kind `check_means`).
    pub check_means: bool,
}

/// Alert kinds, as the scores file names them.
pub const ALERT_KINDS: [&str; 3] = ["risk", "not_enrolled", "check_means"];

impl HouseholdScore {
    /// The alert kinds that apply, in the order of [`ALERT_KINDS`]: `risk`
    /// (a band reached), `not_enrolled`, `check_means`.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        [self.alert.is_some(), self.not_enrolled.is_some(), self.check_means]
            .into_iter()
            .zip(ALERT_KINDS)
            .filter_map(|(on, kind)| on.then_some(kind))
    }

    /// Whether any alert kind applies (the household goes on a list).
    pub fn alerted(&self) -> bool {
        self.kinds().next().is_some()
    }
}

/// The class a household should be enrolled in but is not, and whether it
/// is enrolled with a sign of means, from each class's rule and enrolment
/// and whether a gate fired. A household enrolled in no class that meets
/// a rule, no gate firing, is not enrolled in the first class (in model
/// order, most protective first) whose rule it meets; one already enrolled
/// in a class is not flagged for another (moving between classes is the
/// periodic review's work, and a rule the roster cannot fully show, such as
/// 特困's "no legal supporter", would flag many wrongly).
fn class_kinds(
    classes: usize,
    gate: bool,
    eligible: impl Fn(usize) -> bool,
    enrolled: impl Fn(usize) -> bool,
) -> (Option<usize>, bool) {
    let any_enrolled = (0..classes).any(&enrolled);
    let not_enrolled = if any_enrolled || gate { None } else { (0..classes).find(|&c| eligible(c)) };
    (not_enrolled, gate && any_enrolled)
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
    /// Each class's rule and enrolment as closures.
    classes: Arc<[(BoolFn, BoolFn)]>,
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
        let classes = model.classes.iter().map(|c| (c.eligible.to_fn(), c.enrolled.to_fn())).collect();
        Scorer { model, bands, conditions, age_slot, classes }
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
        let gate = out.hits.iter().any(|h| model.items[h.item].gate);
        (out.not_enrolled, out.check_means) = class_kinds(
            self.classes.len(),
            gate,
            |c| (self.classes[c].0)(inputs, 0),
            |c| (self.classes[c].1)(inputs, 0),
        );
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
    /// Per class, its rule and enrolment over the batch.
    classes: Vec<(Vec<bool>, Vec<bool>)>,
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
        let BatchScores { eval, fired, running, which, scores, classes } = state;
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
            (s.not_enrolled, s.check_means) = (None, false);
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
        if !model.classes.is_empty() {
            classes.resize_with(model.classes.len(), Default::default);
            for (class, (eligible, enrolled)) in model.classes.iter().zip(classes.iter_mut()) {
                eval.bool(&class.eligible, x, Level::Household, eligible);
                eval.bool(&class.enrolled, x, Level::Household, enrolled);
            }
            for (h, s) in scores.iter_mut().enumerate() {
                let gate = s.hits.iter().any(|hit| model.items[hit.item].gate);
                (s.not_enrolled, s.check_means) =
                    class_kinds(classes.len(), gate, |c| classes[c].0[h], |c| classes[c].1[h]);
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

#[cfg(test)]
mod class_tests {
    use super::*;
    use hhrisk_model::expr::OwnedColumns;

    /// Two classes, the more protective first, and a gate (a business).
    const MODEL: &str = r#"
[model]
name = "t"
version = "1"
source = "test"
[[departments]]
id = "civil"
name = "民政"
[[columns]]
name = "income"
file = "households"
type = "decimal"
[[columns]]
name = "class"
file = "households"
type = "category"
values = ["none", "dibao", "edge"]
[[columns]]
name = "business"
file = "households"
type = "bool"
[[columns]]
name = "age"
file = "members"
type = "integer"
[[categories]]
id = "c"
name = "c"
[[items]]
id = "LOW"
category = "c"
name = "低收入"
when = "income / members < 6000"
points = 20
department = "civil"
[[items]]
id = "BIZ"
category = "c"
name = "经营实体"
kind = "gate"
when = "business"
department = "civil"
[[classes]]
id = "dibao"
name = "低保"
eligible = "income / members < 6000"
enrolled = 'class == "dibao"'
department = "civil"
[[classes]]
id = "edge"
name = "低边"
eligible = "income / members < 9000"
enrolled = 'class == "edge"'
department = "civil"
[[bands.levels]]
name = "red"
min = 10
"#;

    /// By hand, one member each: (income, class code, business) → the
    /// kinds. 5000 is below both rules, 8000 below the edge rule only.
    #[test]
    fn alert_kinds_follow_the_class_rules_and_the_gates() {
        let model = Model::from_toml(MODEL, "t.toml").unwrap();
        assert!(model.items[1].gate && model.items[1].points == 0.0);
        type Case = ((f64, f64, f64), &'static [&'static str], Option<usize>);
        let cases: [Case; 7] = [
            // below the dibao rule, not enrolled: risk (20 points) and not enrolled in dibao
            ((5000.0, 0.0, 0.0), &["risk", "not_enrolled"], Some(0)),
            // the same, enrolled in dibao: risk only
            ((5000.0, 1.0, 0.0), &["risk"], None),
            // the same, enrolled in the edge class: enrolled, not flagged
            ((5000.0, 2.0, 0.0), &["risk"], None),
            // a business: no class rule is met; enrolled: check its means
            ((5000.0, 0.0, 1.0), &["risk"], None),
            ((5000.0, 1.0, 1.0), &["risk", "check_means"], None),
            // below the edge rule only, not enrolled: edge, no risk
            ((8000.0, 0.0, 0.0), &["not_enrolled"], Some(1)),
            // enrolled in dibao though above both rules: nothing (no gate)
            ((20000.0, 1.0, 0.0), &[], None),
        ];
        let scorer = Scorer::new(&model, &model.bands);
        let mut batch = OwnedColumns::default();
        for ((income, class, business), _, _) in &cases {
            let household = [*income, *class, *business];
            batch.push(&Inputs { household: &household, members: &[40.0], stride: 1, count: 1 });
        }
        let mut state = BatchScores::default();
        let scored = scorer.score_batch(&batch.columns(), &mut state).to_vec();
        for (((income, class, business), kinds, class_of), in_batch) in cases.iter().zip(&scored) {
            let household = [*income, *class, *business];
            let one = scorer.score(&Inputs { household: &household, members: &[40.0], stride: 1, count: 1 });
            let what = format!("{income} {class} {business}");
            assert_eq!(one.kinds().collect::<Vec<_>>(), *kinds, "{what}");
            assert_eq!(one.not_enrolled, *class_of, "{what}");
            assert_eq!(
                (in_batch.not_enrolled, in_batch.check_means),
                (one.not_enrolled, one.check_means),
                "{what}"
            );
        }
    }

    #[test]
    fn gates_are_checked_when_the_model_loads() {
        let with = |item: &str| MODEL.replace("kind = \"gate\"\n", item);
        for (item, want) in [
            ("kind = \"gate\"\npoints = 5\n", "a gate adds no points"),
            ("kind = \"gate\"\nmain = true\n", "a gate is neither a main indicator nor a trigger"),
            ("kind = \"toll\"\n", "kind is \"points\" or \"gate\""),
            ("", "the item has no `points`"),
        ] {
            let err = Model::from_toml(&with(item), "t.toml").unwrap_err().to_string();
            assert!(err.contains(want), "{item:?}: {err}");
        }
        let err = Model::from_toml(
            &MODEL.replace(
                "department = \"civil\"\n[[classes]]\nid = \"edge\"",
                "department = \"nobody\"\n[[classes]]\nid = \"edge\"",
            ),
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("class dibao: department \"nobody\" is not declared"), "{err}");
    }
}

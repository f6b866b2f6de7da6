//! Scoring one household: items, category subtotals, per-capita score and
//! alert level.

use hhrisk_model::expr::Inputs;
use hhrisk_model::{Bands, Model, Per};

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
#[derive(Debug, Clone, Copy)]
pub struct Scorer<'m> {
    model: &'m Model,
    bands: &'m Bands,
}

impl<'m> Scorer<'m> {
    /// A scorer using the model's items and these bands (the model's own
    /// default bands, or a calibrated thresholds file).
    pub fn new(model: &'m Model, bands: &'m Bands) -> Self {
        Scorer { model, bands }
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
        for (index, item) in model.items.iter().enumerate() {
            let count = match item.per {
                Per::Household => u32::from(item.condition.eval(inputs, 0)),
                Per::Member => (0..out.members).filter(|&m| item.condition.eval(inputs, m)).count() as u32,
            };
            if count == 0 {
                continue;
            }
            let points = model.categories[item.category].weight * item.points * f64::from(count);
            out.categories[item.category] += points;
            out.hits.push(Hit { item: index, count, points });
            out.triggered |= item.trigger;
        }
        // Summing the categories (not the hits) keeps total and subtotals
        // consistent to the last bit.
        out.total = out.categories.iter().sum();
        out.per_capita = out.total / out.members as f64;
        out.alert = self.bands.level(out.per_capita, out.triggered);
    }
}

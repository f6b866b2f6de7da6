//! Edits an analyst makes to a model, applied to a copy of it and
//! evaluated with the calibration crate: the page never computes metrics
//! of its own.

use std::collections::BTreeMap;

use hhrisk_calibrate::{calibrate, Calibration, Objective, Options, Samples};
use hhrisk_model::{Band, Bands, Model};

/// What the page sends: new points, category weights, items switched off
/// and band thresholds. Everything is optional; what is not given stays.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edits {
    /// Item id → points.
    #[serde(default)]
    pub points: BTreeMap<String, f64>,
    /// Category id → weight.
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    /// Items switched off (their points count as 0, their trigger no more).
    #[serde(default)]
    pub off: Vec<String>,
    /// Band thresholds, most severe first: level name → lowest score.
    #[serde(default)]
    pub bands: Vec<BandEdit>,
}

/// One band's threshold.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandEdit {
    /// Band name, one of the model's.
    pub level: String,
    /// Lowest score in the band.
    pub min_score: f64,
}

/// Why edits cannot be applied: the page shows the message (HTTP 422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EditError(pub String);

/// The model with edits applied (bands edited become its default bands).
pub fn apply(model: &Model, edits: &Edits) -> Result<Model, EditError> {
    let mut m = model.clone();
    for (id, &p) in &edits.points {
        let item = m
            .items
            .iter_mut()
            .find(|i| i.id == *id)
            .ok_or_else(|| EditError(format!("no item \"{id}\" in the model")))?;
        let max = hhrisk_model::MAX_ITEM_POINTS;
        if item.gate && p != 0.0 {
            return Err(EditError(format!("{id} is a gate: it decides eligibility and adds no points")));
        }
        if !p.is_finite() || p.abs() > max {
            return Err(EditError(format!("points of {id} must be a number between -{max} and {max}")));
        }
        item.points = p;
    }
    for (id, &w) in &edits.weights {
        let cat = m
            .categories
            .iter_mut()
            .find(|c| c.id == *id)
            .ok_or_else(|| EditError(format!("no category \"{id}\" in the model")))?;
        let max = hhrisk_model::MAX_WEIGHT;
        if w < 0.0 {
            return Err(EditError(format!(
                "weight of {id} is below 0: it would turn every item of the category around (signs of means would \
                 add points); give 0 to switch the category off"
            )));
        }
        if !w.is_finite() || w.abs() > max {
            return Err(EditError(format!("weight of {id} must be a number between -{max} and {max}")));
        }
        cat.weight = w;
    }
    for id in &edits.off {
        let item = m
            .items
            .iter_mut()
            .find(|i| i.id == *id)
            .ok_or_else(|| EditError(format!("no item \"{id}\" in the model")))?;
        item.points = 0.0;
        item.trigger = false;
    }
    if !edits.bands.is_empty() {
        let mut levels: Vec<Band> = Vec::new();
        for b in &edits.bands {
            let known = model.bands.levels.iter().find(|l| l.name == b.level);
            if !b.min_score.is_finite() {
                return Err(EditError(format!("band {} needs a finite threshold", b.level)));
            }
            if levels.last().is_some_and(|prev| b.min_score >= prev.min) {
                return Err(EditError(format!("band {} must start below the band above it", b.level)));
            }
            levels.push(Band {
                name: b.level.clone(),
                label: known.and_then(|k| k.label.clone()),
                label_en: known.and_then(|k| k.label_en.clone()),
                min: b.min_score,
            });
        }
        let trigger = model
            .bands
            .trigger
            .and_then(|t| levels.iter().position(|l| l.name == model.bands.levels[t].name));
        m.bands = Bands { trigger: trigger.or(levels.len().checked_sub(1)), levels };
    }
    Ok(m)
}

/// The sample households rescored by an edited model (its points, weights
/// and trigger items).
pub fn rescore(model: &Model, samples: &Samples) -> Samples {
    let points: Vec<f64> = model.items.iter().map(|i| i.points).collect();
    let mut s = samples.clone();
    s.score = samples.rescore(model, &points);
    let triggers: Vec<usize> =
        model.items.iter().enumerate().filter(|(_, i)| i.trigger).map(|(j, _)| j).collect();
    s.triggered =
        (0..s.len()).map(|i| triggers.iter().any(|&j| s.matrix.item_counts[[i, j]] > 0.0)).collect();
    s.matrix.category_totals = category_totals(model, samples);
    s
}

fn category_totals(model: &Model, samples: &Samples) -> ndarray::Array2<f64> {
    let m = &samples.matrix;
    let mut totals = ndarray::Array2::<f64>::zeros((samples.len(), model.categories.len()));
    for (j, item) in model.items.iter().enumerate() {
        let w = model.categories[item.category].weight * item.points;
        for i in 0..samples.len() {
            totals[[i, item.category]] += w * m.item_counts[[i, j]];
        }
    }
    totals
}

/// Evaluates an edited model on the samples exactly as `hhrisk calibrate`
/// would on the saved model: the bands edited are its default bands
/// (`baseline`), the objective's bands are fitted (`in_sample`,
/// `leave_one_village_out`).
pub fn evaluate(model: &Model, samples: &Samples, objective: Objective, replicates: usize) -> Calibration {
    let rescored = rescore(model, samples);
    let mut options = Options::new(model, objective);
    options.replicates = replicates;
    calibrate(model, &rescored, &options)
}

/// Households whose alert level (under the model's own bands) changes
/// with the edits: `entered`, `left` and `moved`, each a list of
/// `{household_id, village, before, after}`.
pub fn changes(before: &Model, after: &Model, samples: &Samples) -> serde_json::Value {
    use hhrisk_calibrate::evaluate::levels;
    let (a, b) = (rescore(before, samples), rescore(after, samples));
    let la = levels(&before.bands, &a.score.to_vec(), &a.triggered);
    let lb = levels(&after.bands, &b.score.to_vec(), &b.triggered);
    let name = |bands: &Bands, l: Option<usize>| l.map(|l| bands.levels[l].name.clone());
    let mut out = serde_json::json!({ "entered": [], "left": [], "moved": [] });
    for i in 0..samples.len() {
        let (x, y) = (name(&before.bands, la[i]), name(&after.bands, lb[i]));
        let kind = match (&x, &y) {
            (None, Some(_)) => "entered",
            (Some(_), None) => "left",
            (Some(p), Some(q)) if p != q => "moved",
            _ => continue,
        };
        if let Some(list) = out[kind].as_array_mut() {
            list.push(serde_json::json!({
                "household_id": samples.ids[i],
                "village": samples.villages[samples.village[i]],
                "before": x,
                "after": y,
            }));
        }
    }
    out
}

/// What the page draws, computed here so that it computes nothing: per
/// threshold of the alert curve, precision, recall and the share alerted.
pub fn chart(calibration: &Calibration) -> serde_json::Value {
    let points: Vec<serde_json::Value> = calibration
        .curve
        .iter()
        .map(|p| {
            serde_json::json!({
                "threshold": p.threshold,
                "precision": p.counts.precision(),
                "recall": p.counts.recall(),
                "alert_share": p.counts.alerts as f64 / p.counts.households.max(1) as f64,
            })
        })
        .collect();
    serde_json::json!({ "points": points, "bands": calibration.bands })
}

/// Each sample household's household types (indexes into the model's
/// `[[groups]]`), in the samples' order, from the rosters read again;
/// empty lists when they cannot be read.
pub fn household_types(model: &Model, samples: &Samples) -> Vec<Vec<usize>> {
    let records =
        hhrisk_calibrate::evaluation::sample_records(model, samples, &model.bands).unwrap_or_default();
    let by_id: std::collections::HashMap<(&str, &str), &Vec<String>> =
        records.iter().map(|r| ((r.village.as_str(), r.household_id.as_str()), &r.types)).collect();
    (0..samples.len())
        .map(|i| {
            let key = (samples.villages[samples.village[i]].as_str(), samples.ids[i].as_str());
            by_id
                .get(&key)
                .map(|types| {
                    types.iter().filter_map(|t| model.groups.iter().position(|g| &g.id == t)).collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

/// Precision and recall of the fitted bands (in sample) for each household
/// type: the groups of the model, with the households `types` puts in each.
pub fn by_household_type(
    model: &Model,
    samples: &Samples,
    calibration: &Calibration,
    types: &[Vec<usize>],
) -> serde_json::Value {
    let rescored = rescore(model, samples);
    let scores = rescored.score.to_vec();
    let levels =
        hhrisk_calibrate::evaluate::levels(&calibration.fitted_bands(), &scores, &rescored.triggered);
    let rows: Vec<serde_json::Value> = model
        .groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let mut counts = hhrisk_calibrate::metrics::Counts::default();
            for (i, level) in levels.iter().enumerate() {
                if types.get(i).is_some_and(|t| t.contains(&g)) {
                    counts.add(level.is_some(), samples.need[i]);
                }
            }
            let a = hhrisk_calibrate::metrics::Accuracy::from(counts);
            serde_json::json!({
                "id": group.id, "name": group.name, "name_en": group.name_en,
                "households": a.households, "alerts": a.alerts, "true_alerts": a.true_alerts,
                "precision": a.precision, "recall": a.recall,
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}

//! Rewriting a model file in place: new points, bands or switches, the
//! analyst's comments and layout kept.

use std::collections::HashMap;

use crate::error::ModelError;
use crate::raw::RawModel;
use crate::scoring::Normalise;
use crate::source::SourceFile;

use crate::build::parse_toml;

/// Rewrites the points of some items in a model file's text, leaving
/// everything else (comments, order, layout) as it was. `points` maps item
/// ids to new points; ids not in the file are ignored.
pub fn rewrite_points(text: &str, path: &str, points: &HashMap<String, f64>) -> Result<String, ModelError> {
    rewrite_model(text, path, &Rewrite { points: points.clone(), ..Rewrite::default() })
}

/// Values to write into a model file's text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rewrite {
    /// Item id → points.
    pub points: HashMap<String, f64>,
    /// Category id → weight.
    pub weights: HashMap<String, f64>,
    /// Band name → lowest score of the band.
    pub band_mins: HashMap<String, f64>,
    /// Items whose `trigger = true` becomes `false` (switched off).
    pub untrigger: Vec<String>,
    /// Item id → why: items that get `off = true`, with the reason as a
    /// comment on the same line.
    pub off: Vec<(String, String)>,
    /// The normalisation written into `[scoring]`.
    pub normalise: Option<Normalise>,
    /// Bands whose `[[bands.levels]]` table is taken out.
    pub drop_bands: Vec<String>,
    /// The band `[bands] trigger` names (when the file names one).
    pub band_trigger: Option<String>,
}

fn toml_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Rewrites item points, category weights and band thresholds in a model
/// file's text, keeping its comments, order and layout. A category without
/// a `weight` line gets one after its `id`.
pub fn rewrite_model(text: &str, path: &str, rewrite: &Rewrite) -> Result<String, ModelError> {
    let src = SourceFile { path: path.to_string(), text: text.to_string() };
    let raw: RawModel = parse_toml(&src)?;
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for it in &raw.items {
        // a gate has no points to rewrite, nor to switch off
        let Some(points) = &it.points else { continue };
        if let Some(&p) = rewrite.points.get(it.id.get_ref()) {
            edits.push((points.span(), toml_number(p)));
        }
        if let Some((_, why)) = rewrite.off.iter().find(|(id, _)| id == it.id.get_ref()).filter(|_| !it.off) {
            let end = points.span().end;
            let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
            let why = why.replace(['\n', '\r'], " ");
            edits.push((line_end..line_end, format!("\noff = true  # {why}")));
        }
        if let Some(t) =
            it.trigger.as_ref().filter(|t| *t.get_ref() && rewrite.untrigger.contains(it.id.get_ref()))
        {
            edits.push((t.span(), "false".to_string()));
        }
    }
    for c in &raw.categories {
        let Some(&w) = rewrite.weights.get(c.id.get_ref()) else { continue };
        match &c.weight {
            Some(old) => edits.push((old.span(), toml_number(w))),
            None => {
                let end = c.id.span().end;
                let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
                edits.push((line_end..line_end, format!("\nweight = {}", toml_number(w))));
            }
        }
    }
    if let Some(bands) = &raw.bands {
        for b in &bands.levels {
            if rewrite.drop_bands.contains(b.name.get_ref()) {
                // from the table's header to the next table (or the end)
                let start =
                    text[..b.name.span().start].rfind("[[bands.levels]]").unwrap_or(b.name.span().start);
                let after = b.min.span().end.max(b.name.span().end);
                let end = text[after..].find("\n[").map_or(text.len(), |i| after + i + 1);
                edits.push((start..end, String::new()));
            } else if let Some(&min) = rewrite.band_mins.get(b.name.get_ref()) {
                edits.push((b.min.span(), toml_number(min)));
            }
        }
        if let (Some(old), Some(new)) = (&bands.trigger, &rewrite.band_trigger) {
            edits.push((old.span(), format!("\"{}\"", new.replace('\\', "\\\\").replace('"', "\\\""))));
        }
    }
    if let Some(n) = rewrite.normalise {
        let value = format!("\"{n}\"");
        match raw.scoring.as_ref().and_then(|s| s.normalise.as_ref()) {
            Some(old) => edits.push((old.span(), value)),
            None => match text.find("\n[scoring]") {
                Some(at) => {
                    let end = at + "\n[scoring]".len();
                    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
                    edits.push((line_end..line_end, format!("\nnormalise = {value}")));
                }
                None => {
                    let sep = if text.ends_with('\n') { "" } else { "\n" };
                    edits.push((text.len()..text.len(), format!("{sep}\n[scoring]\nnormalise = {value}\n")));
                }
            },
        }
    }
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = text.to_string();
    for (span, value) in edits {
        out.replace_range(span, &value);
    }
    Ok(out)
}

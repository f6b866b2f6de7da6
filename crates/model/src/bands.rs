//! Warning bands: the score intervals that raise an alert.

use std::path::Path;

use crate::error::ModelError;
use crate::raw::{RawBands, RawThresholds};
use crate::source::{Problem, SourceFile};

/// One warning band: households whose score (normalised, see `Scoring`) is at least `min`
/// (and below the next more severe band) get this alert level.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Band {
    /// Short name written in `alert_level` (`red`, `orange` …).
    pub name: String,
    /// Label for people (`红色预警`).
    pub label: Option<String>,
    /// English label.
    pub label_en: Option<String>,
    /// Lowest score in the band.
    pub min: f64,
}

/// Ordered warning bands, most severe first.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Bands {
    /// The bands, most severe (highest `min`) first.
    pub levels: Vec<Band>,
    /// Index of the band that a trigger item raises a household to, at
    /// least; defaults to the least severe band.
    pub trigger: Option<usize>,
}

impl Bands {
    /// The alert level (index into `levels`) of a score, raised
    /// to the trigger band when a trigger item fired. `None`: no alert.
    pub fn level(&self, per_capita: f64, triggered: bool) -> Option<usize> {
        let by_score = self.levels.iter().position(|b| per_capita >= b.min);
        let by_trigger = if triggered { self.trigger } else { None };
        match (by_score, by_trigger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Reads a thresholds file: a TOML file with the same `[bands]` table as
    /// a model.
    pub fn from_path(path: &Path) -> Result<Bands, ModelError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
        Bands::from_toml(&text, &path.display().to_string())
    }

    /// Parses a thresholds file from text; `path` names it in messages.
    pub fn from_toml(text: &str, path: &str) -> Result<Bands, ModelError> {
        let src = SourceFile { path: path.to_string(), text: text.to_string() };
        let raw: RawThresholds = crate::build::parse_toml(&src)?;
        let mut problems = Vec::new();
        let bands = Bands::check(raw.bands, &src, &mut problems);
        if problems.is_empty() {
            Ok(bands)
        } else {
            Err(ModelError::Invalid(problems))
        }
    }

    pub(crate) fn check(raw: RawBands, src: &SourceFile, problems: &mut Vec<Problem>) -> Bands {
        let mut levels: Vec<Band> = Vec::new();
        for band in raw.levels {
            let at = band.name.span().start;
            let name = band.name.into_inner();
            let context = format!("band {name}");
            if name.is_empty() || name.contains([',', ';', '"', '\n']) {
                problems.push(src.problem(
                    at,
                    &context,
                    "band names must be non-empty, without , ; or quotes",
                ));
            }
            if levels.iter().any(|b| b.name == name) {
                problems.push(src.problem(
                    at,
                    &context,
                    "this band name is used twice; give each band its own name",
                ));
            }
            let min = *band.min.get_ref();
            if !min.is_finite() {
                problems.push(src.problem(band.min.span().start, &context, "`min` must be a finite number"));
            } else if let Some(prev) = levels.last().filter(|prev| min >= prev.min) {
                problems.push(src.problem(
                    band.min.span().start,
                    &context,
                    format!(
                        "bands go from most to least severe, so `min` must be below the previous band's ({} in `{}`)",
                        prev.min, prev.name
                    ),
                ));
            }
            levels.push(Band { name, label: band.label, label_en: band.label_en, min });
        }
        let trigger = match raw.trigger {
            Some(t) => match levels.iter().position(|b| b.name == *t.get_ref()) {
                Some(i) => Some(i),
                None => {
                    problems.push(src.problem(
                        t.span().start,
                        "bands",
                        format!("`trigger` names band \"{}\", which is not among the levels", t.get_ref()),
                    ));
                    None
                }
            },
            None => levels.len().checked_sub(1),
        };
        Bands { levels, trigger }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRESHOLDS: &str = r#"
[bands]
trigger = "orange"
[[bands.levels]]
name = "red"
min = 12
[[bands.levels]]
name = "orange"
min = 8.5
[[bands.levels]]
name = "yellow"
min = 5
"#;

    #[test]
    fn a_score_falls_in_the_most_severe_band_it_reaches() {
        let bands = Bands::from_toml(THRESHOLDS, "t.toml").unwrap();
        let name = |s: f64, t: bool| bands.level(s, t).map(|i| bands.levels[i].name.as_str());
        assert_eq!(name(12.0, false), Some("red"));
        assert_eq!(name(11.99, false), Some("orange"));
        assert_eq!(name(8.5, false), Some("orange"));
        assert_eq!(name(5.0, false), Some("yellow"));
        assert_eq!(name(4.99, false), None);
        // a trigger raises to orange at least, never lowers
        assert_eq!(name(-3.0, true), Some("orange"));
        assert_eq!(name(6.0, true), Some("orange"));
        assert_eq!(name(20.0, true), Some("red"));
    }

    #[test]
    fn disordered_bands_are_refused_with_their_position() {
        let bad = THRESHOLDS.replace("min = 5", "min = 9").replace("\"orange\"\n[[", "\"amber\"\n[[");
        let err = Bands::from_toml(&bad, "t.toml").unwrap_err().to_string();
        assert!(err.contains("t.toml:12:7: band yellow: bands go from most to least severe"), "{err}");
        assert!(err.contains("t.toml:3:11: bands: `trigger` names band \"amber\""), "{err}");
    }
}

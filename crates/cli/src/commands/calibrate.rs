//! `hhrisk calibrate`: warning bands fitted on sample villages.

use std::io::Write;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use hhrisk_tables::AtomicFile;

use super::*;

#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    model_path: &Path,
    samples_dir: &Path,
    out: &Path,
    objective: &str,
    bands: Option<Vec<String>>,
    replicates: usize,
    seed: u64,
    json: bool,
    tune: Option<hhrisk_calibrate::tune::TuneOptions>,
    size_warning_factor: f64,
    ledger: Option<&Path>,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::{calibrate, fit::BandName, thresholds_toml, Options};
    if let Some(t) = &tune {
        if !(0.0..1.0).contains(&t.max_change) {
            bail!("--max-change must be at least 0 and below 1 (0.5: points move by at most half)");
        }
    }
    let (model, samples, objective) = load_samples_from(model_path, samples_dir, objective, io, ledger)?;
    if let Some(l) = ledger {
        eprintln!(
            "outcomes from the ledger {}: {} households answered for; only households that were alerted were \
             verified, so these samples are not the villages' households at random",
            l.display(),
            samples.len()
        );
    }
    let mut options = Options::new(&model, objective);
    if let Some(names) = bands {
        options.bands = names
            .into_iter()
            .map(|name| {
                let known = model.bands.levels.iter().find(|b| b.name == name);
                BandName {
                    label: known.and_then(|b| b.label.clone()),
                    label_en: known.and_then(|b| b.label_en.clone()),
                    name,
                }
            })
            .collect();
    }
    if options.bands.is_empty() {
        bail!("no bands to fit: the model declares none; name them with --bands red,orange,yellow");
    }
    options.replicates = replicates;
    options.seed = seed;
    options.tune = tune;
    options.size_warning_factor = size_warning_factor;
    let result = calibrate(&model, &samples, &options);

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let header = format!(
        "Warning bands fitted by hhrisk calibrate\nmodel: {} ({} {})\nsamples: {} ({} households with outcomes)\nobjective: {}{}",
        model_path.display(),
        model.meta.name,
        model.meta.version,
        samples_dir.display(),
        samples.len(),
        result.objective.describe(),
        if result.objective_met {
            String::new()
        } else {
            format!(" (not met on these villages: {})", result.objective.fallback())
        }
    );
    let write = |name: &str, text: &str| -> anyhow::Result<()> {
        let path = out.join(name);
        let mut file =
            AtomicFile::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(text.as_bytes())?;
        file.commit().with_context(|| format!("cannot write {}", path.display()))
    };
    // each responsible department's and each alert kind's share in need,
    // under the fitted bands (in sample), with intervals
    let records = hhrisk_calibrate::evaluation::sample_records(&model, &samples, &result.fitted_bands())?;
    let breakdown = hhrisk_calibrate::evaluation::evaluate(&records, f64::INFINITY);
    let mut json_value = serde_json::to_value(&result)?;
    json_value["by_department"] = serde_json::to_value(&breakdown.by_department)?;
    json_value["by_alert_kind"] = serde_json::to_value(&breakdown.by_alert_kind)?;
    let json_text = serde_json::to_string_pretty(&json_value)? + "\n";
    write("thresholds.toml", &thresholds_toml(&result, &options, &header))?;
    write("calibration.json", &json_text)?;
    if let Some(tuned) = &result.tuned {
        let text = std::fs::read_to_string(model_path)
            .with_context(|| format!("cannot read {}", model_path.display()))?;
        let points: std::collections::HashMap<String, f64> =
            tuned.points.iter().map(|p| (p.item.clone(), p.suggested)).collect();
        let rewritten = hhrisk_model::rewrite_points(&text, &model_path.display().to_string(), &points)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let held = &tuned.leave_one_village_out;
        let note = format!(
            "# Tuned by hhrisk calibrate --tune from {} on {}: item points suggested by a logistic\n\
             # regression, each kept on its sign and within {:.0} % of its value. Fitted on all {} sample\n\
             # villages, so its accuracy on them is optimistic. Tuned without each village and measured on it,\n\
             # at the current points' alert volume: precision {} with the current points, {} tuned (McNemar\n\
             # p = {:.3}). Review before adopting; calibration.json (\"tuned\") has the whole comparison.\n\n",
            model_path.display(),
            samples_dir.display(),
            100.0 * tuned.options.max_change,
            samples.villages.len(),
            percent(held.current.precision),
            percent(held.tuned.precision),
            tuned.paired_test.p_value
        );
        write("tuned.toml", &(note + &rewritten))?;
    }
    if json {
        print!("{json_text}");
    } else {
        print!("{}", calibration_text(&result, &samples));
        print!("{}", groups_text("by responsible department (fitted bands, in sample; the departments of the items that fired)", &breakdown.by_department));
        print!(
            "{}",
            groups_text("by alert kind (fitted bands for risk, in sample)", &breakdown.by_alert_kind)
        );
    }
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    let mut written = vec!["thresholds.toml", "calibration.json"];
    if result.tuned.is_some() {
        written.push("tuned.toml");
    }
    let written: Vec<String> = written.iter().map(|f| out.join(f).display().to_string()).collect();
    eprintln!("wrote {}", written.join(", "));
    Ok(ExitCode::SUCCESS)
}

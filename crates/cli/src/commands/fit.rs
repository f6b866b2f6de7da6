//! `hhrisk fit`: item points fitted on sample villages.

use std::io::Write;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use hhrisk_model::Model;
use hhrisk_score::output::format_number;
use hhrisk_tables::AtomicFile;
use serde_json::json;

use super::*;

/// Checks `--size-warning-factor`.
pub fn size_factor(factor: f64) -> anyhow::Result<f64> {
    if !(factor.is_finite() && factor > 1.0) {
        bail!(crate::tr!(
            "--size-warning-factor {factor}: give a number above 1 (2: warn when a size group is alerted twice as \
             often as it is in need, or half as often)",
            "--size-warning-factor {factor}：请给出大于 1 的数（2：某一人口规模的户被预警的比例达到其实际需要帮扶比例的\
             两倍或一半时发出警告）"
        ));
    }
    Ok(factor)
}

/// `NEW.fit.json` beside `NEW.toml`.
pub fn fit_json_path(out: &Path) -> std::path::PathBuf {
    out.with_extension("fit.json")
}

#[allow(clippy::too_many_arguments)]
pub fn fit(
    model_path: &Path,
    samples_dir: &Path,
    out: &Path,
    objective: &str,
    fit: &hhrisk_calibrate::scorecard::FitOptions,
    replicates: usize,
    seed: u64,
    json: bool,
    size_warning_factor: f64,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::{calibrate, scorecard::fit_points, Options};
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let mut options = Options::new(&model, objective);
    let bandless = options.bands.is_empty();
    if bandless {
        // a model without bands gets Xiaochang's three
        options.bands =
            [("red", "红色预警", "Red"), ("orange", "橙色预警", "Orange"), ("yellow", "黄色预警", "Yellow")]
                .into_iter()
                .map(|(name, label, label_en)| hhrisk_calibrate::fit::BandName {
                    name: name.into(),
                    label: Some(label.into()),
                    label_en: Some(label_en.into()),
                })
                .collect();
    }
    options.replicates = replicates;
    options.seed = seed;
    options.size_warning_factor = size_warning_factor;
    // the fit's stages, then the calibration of its bands (5 stages)
    let bar = progress(crate::tr!("fitting", "拟合中"));
    options.progress = stages(&bar, 0, hhrisk_calibrate::CALIBRATE_STEPS);
    let card = fit_points(&model, &samples, fit, &options).map_err(|e| {
        if crate::lang::zh() {
            anyhow::anyhow!(e.to_zh())
        } else {
            anyhow::Error::from(e)
        }
    })?;

    // the fitted model: the input file with new points, dropped items
    // switched off, the normalisation, then its bands fitted again
    let text = std::fs::read_to_string(model_path).with_context(|| {
        let path = model_path.display();
        crate::tr!("cannot read {path}", "无法读取 {path}")
    })?;
    let shown = out.display().to_string();
    let fit_json = fit_json_path(out);
    let fit_json_name = fit_json
        .file_name()
        .map_or_else(|| fit_json.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut rewrite = hhrisk_model::Rewrite { normalise: Some(card.normalise), ..Default::default() };
    for (item, fitted) in model.items.iter().zip(&card.items) {
        if item.off {
            continue;
        }
        rewrite.points.insert(item.id.clone(), fitted.points);
        if fitted.dropped {
            rewrite.off.push((
                item.id.clone(),
                format!(
                    "hhrisk fit: the fitted points fell to 0 (coefficient {:.4}, was {} points); see {fit_json_name}",
                    fitted.coefficient,
                    format_number(item.points)
                ),
            ));
        }
    }
    let fitted_text =
        hhrisk_model::rewrite_model(&text, &shown, &rewrite).map_err(|e| anyhow::anyhow!("{e}"))?;
    let new_model = Model::from_toml(&fitted_text, &shown).map_err(|e| anyhow::anyhow!("{e}"))?;
    let points: Vec<f64> = new_model.items.iter().map(|i| if i.off { 0.0 } else { i.points }).collect();
    let mut rescored = samples.clone();
    rescored.score = samples.rescore(&new_model, &points);
    let done = bar.position();
    options.progress = stages(&bar, done, 0);
    let bands = calibrate(&new_model, &rescored, &options);
    bar.finish_and_clear();
    let rewrite = hhrisk_model::Rewrite {
        band_mins: bands.bands.iter().map(|b| (b.level.clone(), b.min_score)).collect(),
        // bands the data could not tell apart are taken out
        drop_bands: new_model
            .bands
            .levels
            .iter()
            .filter(|l| !bands.bands.iter().any(|b| b.level == l.name))
            .map(|l| l.name.clone())
            .collect(),
        band_trigger: bands.trigger_band.clone(),
        ..Default::default()
    };
    let mut fitted_text =
        hhrisk_model::rewrite_model(&fitted_text, &shown, &rewrite).map_err(|e| anyhow::anyhow!("{e}"))?;
    if bandless {
        let bands_text =
            hhrisk_calibrate::thresholds_toml(&bands, &options, "Warning bands fitted by hhrisk fit");
        fitted_text = format!("{}\n\n{bands_text}", fitted_text.trim_end());
    }
    // the file must read back as the model it describes
    let check = Model::from_toml(&fitted_text, &shown).map_err(|e| anyhow::anyhow!("{e}"))?;
    if check.bands.levels.len() != bands.bands.len() {
        bail!(crate::tr!(
            "internal error: the fitted model's bands did not read back; please report it",
            "内部错误：拟合后的指标模型未能读回其预警区间；请报告此问题"
        ));
    }
    let held = &card.held_out;
    let header = format!(
        "# Points fitted by hhrisk fit from {} on {} ({} households with outcomes, {} villages):\n\
         # class-weighted L2 logistic regression (C = {}, chosen by leave-one-village-out), normalise = {},\n\
         # largest points ±{}, {}. Held out, average precision {} with the current points, {} with these.\n\
         # Bands fitted again on the same villages. Every figure: {fit_json_name}\n",
        model_path.display(),
        samples_dir.display(),
        samples.len(),
        samples.villages.len(),
        card.penalty.c,
        card.normalise,
        card.max_points,
        if card.sign_constraints { "items keep their authors' signs" } else { "signs chosen by the data" },
        held.average_precision.current.map_or("–".into(), |v| format!("{v:.3}")),
        held.average_precision.fitted.map_or("–".into(), |v| format!("{v:.3}")),
    );
    let mut report = serde_json::to_value(&card)?;
    report["model"] = json!(model_path.display().to_string());
    report["households"] = json!(samples.len());
    report["fitted_bands"] = json!({
        "objective": bands.objective,
        "objective_met": bands.objective_met,
        "bands": bands.bands,
        "band_figures": bands.band_figures,
        "in_sample": bands.in_sample,
        "leave_one_village_out": bands.leave_one_village_out.accuracy,
        "likelihood": bands.likelihood,
        "warnings": bands.warnings,
    });
    report["by_household_size"] = serde_json::to_value(&bands.by_household_size)?;
    let json_text = serde_json::to_string_pretty(&report)? + "\n";
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| {
            let dir = dir.display();
            crate::tr!("cannot create {dir}", "无法创建 {dir}")
        })?;
    }
    for (path, body) in [(out.to_path_buf(), header + &fitted_text), (fit_json.clone(), json_text.clone())] {
        let mut file = AtomicFile::create(&path).with_context(|| cannot_write(&path))?;
        file.write_all(body.as_bytes())?;
        file.commit().with_context(|| cannot_write(&path))?;
    }
    let warnings = if crate::lang::zh() {
        card.warnings_zh.iter().chain(&bands.warnings_zh)
    } else {
        card.warnings.iter().chain(&bands.warnings)
    };
    for w in warnings {
        eprintln!("{}", crate::tr!("warning: {w}", "警告：{w}"));
    }
    if json {
        print!("{json_text}");
    } else if crate::lang::zh() {
        print!("{}", hhrisk_calibrate::text::fit_text_zh(&card, &bands, &samples));
    } else {
        print!("{}", fit_text(&card, &bands, &samples));
    }
    let (out, fit_json) = (out.display(), fit_json.display());
    eprintln!("{}", crate::tr!("wrote {out}, {fit_json}", "已写出 {out}、{fit_json}"));
    Ok(ExitCode::SUCCESS)
}

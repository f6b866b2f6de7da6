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
            bail!(crate::tr!(
                "--max-change must be at least 0 and below 1 (0.5: points move by at most half)",
                "--max-change 须不小于 0 且小于 1（0.5：分值最多变动一半）"
            ));
        }
    }
    let (model, samples, objective) = load_samples_from(model_path, samples_dir, objective, io, ledger)?;
    if let Some(l) = ledger {
        let (l, n) = (l.display(), samples.len());
        eprintln!(
            "{}",
            crate::tr!(
                "outcomes from the ledger {l}: {n} households answered for; only households that were alerted were \
                 verified, so these samples are not the villages' households at random",
                "核查结果取自台账 {l}：共 {n} 户有反馈；只有预警过的户才经过核查，所以这些样本并非从各村随机抽取的户"
            )
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
        bail!(crate::tr!(
            "no bands to fit: the model declares none; name them with --bands red,orange,yellow",
            "没有可校准的预警区间：指标模型中没有定义；请用 --bands red,orange,yellow 指定"
        ));
    }
    options.replicates = replicates;
    options.seed = seed;
    options.tune = tune;
    options.size_warning_factor = size_warning_factor;
    let bar = progress(crate::tr!("calibrating", "校准中"));
    options.progress = stages(&bar, 0, 0);
    let result = calibrate(&model, &samples, &options);
    bar.finish_and_clear();

    std::fs::create_dir_all(out).with_context(|| {
        let out = out.display();
        crate::tr!("cannot create {out}", "无法创建 {out}")
    })?;
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
        let mut file = AtomicFile::create(&path).with_context(|| cannot_write(&path))?;
        file.write_all(text.as_bytes())?;
        file.commit().with_context(|| cannot_write(&path))
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
        let text = std::fs::read_to_string(model_path).with_context(|| {
            let path = model_path.display();
            crate::tr!("cannot read {path}", "无法读取 {path}")
        })?;
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
        if crate::lang::zh() {
            print!("{}", hhrisk_calibrate::text::calibration_text_zh(&result, &samples));
        } else {
            print!("{}", calibration_text(&result, &samples));
        }
        let by_department = crate::tr!(
            "by responsible department (fitted bands, in sample; the departments of the items that fired)",
            "按责任部门（校准后的预警区间，样本内；取触发指标项所属的部门）"
        );
        print!("{}", groups_text(&by_department, &breakdown.by_department));
        let by_kind = crate::tr!(
            "by alert kind (fitted bands for risk, in sample)",
            "按预警类型（risk 用校准后的预警区间，样本内）"
        );
        print!("{}", groups_text(&by_kind, &breakdown.by_alert_kind));
    }
    let warnings = if crate::lang::zh() { &result.warnings_zh } else { &result.warnings };
    for w in warnings {
        eprintln!("{}", crate::tr!("warning: {w}", "警告：{w}"));
    }
    let mut written = vec!["thresholds.toml", "calibration.json"];
    if result.tuned.is_some() {
        written.push("tuned.toml");
    }
    let written: Vec<String> = written.iter().map(|f| out.join(f).display().to_string()).collect();
    let written = written.join(if crate::lang::zh() { "、" } else { ", " });
    eprintln!("{}", crate::tr!("wrote {written}", "已写出 {written}"));
    Ok(ExitCode::SUCCESS)
}

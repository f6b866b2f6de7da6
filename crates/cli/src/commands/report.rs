//! `hhrisk report`: the evaluator's report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

use super::*;

#[allow(clippy::too_many_arguments)]
pub fn report(
    model_path: &Path,
    samples_dir: &Path,
    out: &Path,
    objective: &str,
    replicates: usize,
    seed: u64,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::{calibrate, tune::TuneOptions, Options};
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let mut options = Options::new(&model, objective);
    if options.bands.is_empty() {
        bail!(crate::tr!("the model declares no bands to fit", "指标模型中没有定义可校准的预警区间"));
    }
    options.replicates = replicates;
    options.seed = seed;
    options.tune = Some(TuneOptions::default());
    let calibration = calibrate(&model, &samples, &options);
    // the report speaks the language of the run
    let lang = if crate::lang::zh() { hhrisk_report::Lang::Zh } else { hhrisk_report::Lang::En };
    let report =
        hhrisk_report::build(&model, &samples, calibration, &samples_dir.display().to_string(), lang);
    let files = hhrisk_report::write(&report, out)?;
    let (count, index) = (files.len(), out.join("index.html"));
    let index = index.display();
    eprintln!("{}", crate::tr!("wrote {count} files; open {index}", "已写出 {count} 个文件；请打开 {index}"));
    Ok(ExitCode::SUCCESS)
}

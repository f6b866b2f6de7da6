//! `hhrisk report`: the evaluator's report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

use super::*;

/// Report languages on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LangArg {
    /// 中文
    Zh,
    /// English
    En,
}

#[allow(clippy::too_many_arguments)]
pub fn report(
    model_path: &Path,
    samples_dir: &Path,
    out: &Path,
    lang: LangArg,
    objective: &str,
    replicates: usize,
    seed: u64,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::{calibrate, tune::TuneOptions, Options};
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let mut options = Options::new(&model, objective);
    if options.bands.is_empty() {
        bail!("the model declares no bands to fit");
    }
    options.replicates = replicates;
    options.seed = seed;
    options.tune = Some(TuneOptions::default());
    let calibration = calibrate(&model, &samples, &options);
    let lang = match lang {
        LangArg::Zh => hhrisk_report::Lang::Zh,
        LangArg::En => hhrisk_report::Lang::En,
    };
    let report =
        hhrisk_report::build(&model, &samples, calibration, &samples_dir.display().to_string(), lang);
    let files = hhrisk_report::write(&report, out)?;
    eprintln!("wrote {} files; open {}", files.len(), out.join("index.html").display());
    Ok(ExitCode::SUCCESS)
}

//! `hhrisk workbench`: the browser workbench.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::*;

pub fn workbench(
    model_path: &Path,
    samples_dir: &Path,
    addr: std::net::SocketAddr,
    allow_remote: bool,
    objective: &str,
    replicates: usize,
    io: Io,
) -> anyhow::Result<ExitCode> {
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let model_text = std::fs::read_to_string(model_path)
        .with_context(|| format!("cannot read {}", model_path.display()))?;
    let workbench = hhrisk_workbench::Workbench::new(
        model,
        model_path.to_path_buf(),
        model_text,
        samples,
        objective,
        replicates,
    );
    hhrisk_workbench::serve(workbench, addr, allow_remote, |bound| {
        eprintln!("workbench on http://{bound}/ (Ctrl-C to stop)");
    })?;
    Ok(ExitCode::SUCCESS)
}

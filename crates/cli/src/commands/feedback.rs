//! `hhrisk feedback`: departments' returns turned into outcomes.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use super::*;

pub fn feedback(
    dispatch_dir: &Path,
    returns: &[std::path::PathBuf],
    out: &Path,
    batch: Option<&str>,
    json: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_monitor::feedback::{merge, read_chain, read_returns};
    let chain = read_chain(dispatch_dir, io.encoding)?;
    let manifest_batch = std::fs::read_to_string(dispatch_dir.join("dispatch.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["batch"].as_str().map(String::from));
    let batch = batch.map(String::from).or(manifest_batch).unwrap_or_else(|| "batch-1".into());
    let mut all = Vec::new();
    for path in returns {
        all.extend(read_returns(path, io.encoding)?);
    }
    let merged = merge(&chain, &all, &batch);
    merged.outcomes.write(out, hhrisk_tables::Format::Csv, "outcomes", io.bom)?;
    let answered: std::collections::BTreeSet<&str> =
        merged.outcomes.rows.iter().map(|r| r[0].as_str()).collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "outcomes": merged.outcomes.rows.len(),
                "households": answered.len(),
                "problems": merged.problems
            }))?
        );
    }
    eprintln!(
        "{} households answered for ({} answers, one per household and department), of {} dispatched → {} (batch \
         {batch})",
        answered.len(),
        merged.outcomes.rows.len(),
        chain.len(),
        out.display()
    );
    for p in &merged.problems {
        eprintln!(
            "  {}: household {}{}: {}",
            p.kind,
            p.household_id,
            p.at.as_ref().map(|a| format!(" ({a})")).unwrap_or_default(),
            p.message
        );
    }
    Ok(ExitCode::SUCCESS)
}

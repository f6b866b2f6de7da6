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
    ledger: Option<LedgerUse>,
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
    if let Some(l) = &ledger {
        let event = l.event(returns.to_vec())?;
        let answers: Vec<hhrisk_ledger::Answer> = all
            .iter()
            .map(|r| hhrisk_ledger::Answer {
                household_id: r.household_id.clone(),
                department: r.department.clone().unwrap_or_default(),
                date: event.date.clone(),
                verified_need: r.verified_need,
                assistance: r.assistance.clone(),
                amount: r.amount,
                note: String::new(),
                origin: format!("{}: line {}", r.origin, r.line),
            })
            .collect();
        let done = hhrisk_ledger::Ledger::open(&l.file)?.record_answers(&answers, &event)?;
        eprintln!(
            "ledger {}: {} answer{} recorded ({} late), {} case{} closed (every department answered)",
            l.file.display(),
            done.recorded,
            if done.recorded == 1 { "" } else { "s" },
            done.late,
            done.closed.len(),
            if done.closed.len() == 1 { "" } else { "s" }
        );
        for r in &done.refused {
            eprintln!("  not recorded ({}): {}", r.origin, r.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}

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
    let (households, answers, dispatched) = (answered.len(), merged.outcomes.rows.len(), chain.len());
    let shown_out = out.display();
    eprintln!(
        "{}",
        crate::tr!(
            "{households} households answered for ({answers} answers, one per household and department), of \
             {dispatched} dispatched → {shown_out} (batch {batch})",
            "已派单 {dispatched} 户，其中 {households} 户有反馈（反馈 {answers} 条，每户每个部门一条）→ {shown_out}\
             （批次 {batch}）"
        )
    );
    for p in &merged.problems {
        let (kind, household, message) = (p.kind, &p.household_id, &p.message);
        let at = match &p.at {
            Some(a) => crate::tr!(" ({a})", "（{a}）"),
            None => String::new(),
        };
        eprintln!(
            "{}",
            crate::tr!(
                "  {kind}: household {household}{at}: {message}",
                "  {kind}：户 {household}{at}：{message}"
            )
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
        let (file, recorded, late, closed) = (l.file.display(), done.recorded, done.late, done.closed.len());
        let (answers, cases) = (if recorded == 1 { "" } else { "s" }, if closed == 1 { "" } else { "s" });
        eprintln!(
            "{}",
            crate::tr!(
                "ledger {file}: {recorded} answer{answers} recorded ({late} late), {closed} case{cases} closed (every \
                 department answered)",
                "台账 {file}：记录反馈 {recorded} 条（其中超期 {late} 条），办结案件 {closed} 件（各部门均已反馈）"
            )
        );
        for r in &done.refused {
            let (origin, message) = (&r.origin, &r.message);
            eprintln!(
                "{}",
                crate::tr!("  not recorded ({origin}): {message}", "  未记录（{origin}）：{message}")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `hhrisk dispatch`: each department's list of alerted households.

use std::io::Write;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use hhrisk_tables::AtomicFile;
use serde_json::json;

use super::*;

/// Formats of lists on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// CSV, UTF-8 (add --bom for Excel).
    Csv,
    /// Excel workbook.
    Xlsx,
}

#[allow(clippy::too_many_arguments)]
pub fn dispatch(
    model_path: &Path,
    scores: &Path,
    roster_dir: &Path,
    out: &Path,
    format: FormatArg,
    batch: &str,
    unmasked: bool,
    ledger: Option<LedgerUse>,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_monitor::dispatch::{masking_note, DispatchOptions, Dispatcher, Lines};
    use hhrisk_roster::stream::{each, Streamed};
    use std::collections::HashMap;

    let model = load_model(model_path)?;
    let options = DispatchOptions { unmasked, zh: crate::lang::zh() };
    let alerts = hhrisk_monitor::dispatch::read_alerts(scores, io.encoding)?;
    // household id → its alerts (a scores file may repeat one)
    let mut alerted: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, a) in alerts.iter().enumerate() {
        alerted.entry(a.household_id.as_str()).or_default().push(k);
    }
    let names = hhrisk_monitor::dispatch::read_names(roster_dir, &alerted, io.encoding)?;
    // the roster is streamed (as `score` reads it), or read whole when it
    // must be; the lists are the same
    let dispatcher = Dispatcher::new(&model, options);
    let work = each(|h, found: &mut Vec<(usize, Lines)>| {
        if let Streamed::Household(h) = h {
            for &a in alerted.get(h.id).map_or(&[][..], Vec::as_slice) {
                found.push((a, dispatcher.household(&alerts[a], h, &names)));
            }
        }
        Ok(())
    });
    let read = io.read_options(false);
    let (_, batches) = read_all(&model, roster_dir, &read, io.threads, &work)?;
    let mut lines: Vec<Option<Lines>> = vec![None; alerts.len()];
    for (a, l) in batches.into_iter().flatten() {
        lines[a] = Some(l);
    }
    // a household whose case is open in the ledger is not sent again to the
    // departments its case went to
    let mut db = ledger.as_ref().map(|l| hhrisk_ledger::Ledger::open(&l.file)).transpose()?;
    let open = match &db {
        Some(db) => db.open_referrals()?,
        None => Default::default(),
    };
    for (alert, line) in alerts.iter().zip(lines.iter_mut()) {
        if let (Some(line), Some(sent)) = (line.as_mut(), open.get(&alert.household_id)) {
            line.hold(|d| sent.contains(&model.departments[d].id), "open case in the ledger, not sent again");
        }
    }
    // what the ledger records, before the lines are consumed
    let cases: Vec<hhrisk_ledger::CaseAlert> = alerts
        .iter()
        .zip(&lines)
        .filter_map(|(a, line)| {
            let line = line.as_ref()?;
            Some(hhrisk_ledger::CaseAlert {
                household_id: a.household_id.clone(),
                village: line.village().to_string(),
                kinds: a.kinds.split(';').filter(|k| !k.is_empty()).map(String::from).collect(),
                level: a.level.clone(),
                score: a.score.clone(),
                items: line.pushed().to_vec(),
                departments: line
                    .referred()
                    .iter()
                    .map(|&d| {
                        let default = ledger.as_ref().map_or(15, |l| l.due_days);
                        (model.departments[d].id.clone(), model.departments[d].due_days.unwrap_or(default))
                    })
                    .collect(),
            })
        })
        .collect();
    let d = dispatcher.assemble(&alerts, lines);
    let format = match format {
        FormatArg::Csv => hhrisk_tables::Format::Csv,
        FormatArg::Xlsx => hhrisk_tables::Format::Xlsx,
    };
    std::fs::create_dir_all(out).with_context(|| {
        let out = out.display();
        crate::tr!("cannot create {out}", "无法创建 {out}")
    })?;
    let mut d = d;
    if format == hhrisk_tables::Format::Xlsx {
        // a workbook says whether it is masked once, in its header's note
        d.drop_masking_column();
    }
    // files named by department id (feedback and the ledger know them so);
    // a workbook's sheet by the department's name in Chinese
    let zh = crate::lang::zh();
    let sheet = |id: &str, zh_name: &str| if zh { sheet_name(zh_name) } else { id.to_string() };
    let mut counts = serde_json::Map::new();
    for (dept, table) in &d.departments {
        let name =
            model.departments.iter().find(|x| &x.id == dept).map_or(dept.as_str(), |x| x.name.as_str());
        table.write(
            &out.join(format!("{dept}.{}", format.extension())),
            format,
            &sheet(dept, name),
            io.bom,
        )?;
        counts.insert(dept.clone(), json!(d.households.get(dept).copied().unwrap_or(0)));
    }
    let leads: serde_json::Map<String, serde_json::Value> =
        d.leads.iter().map(|(k, n)| (k.clone(), json!(n))).collect();
    d.chain.write(
        &out.join(format!("chain.{}", format.extension())),
        format,
        &sheet("chain", "救助链"),
        io.bom,
    )?;
    if !model.classes.is_empty() {
        let path = out.join(format!("check_means.{}", format.extension()));
        d.check_means.write(&path, format, &sheet("check_means", "疑似错保核查"), io.bom)?;
    }
    let manifest = json!({
        "batch": batch,
        "model": model_path.display().to_string(),
        "scores": scores.display().to_string(),
        "alerts": alerts.len(),
        "departments": counts,
        "leads": leads,
        "check_means": d.check_means.rows.len(),
        "not_in_roster": d.not_in_roster,
        "masking": masking_note(unmasked),
        // the chain may name departments in Chinese: feedback maps them back
        "department_names": model.departments.iter().map(|d| (d.id.clone(), json!(d.name))).collect::<serde_json::Map<_, _>>(),
    });
    let mut file = AtomicFile::create(&out.join("dispatch.json"))?;
    file.write_all((serde_json::to_string_pretty(&manifest)? + "\n").as_bytes())?;
    file.commit()?;
    let sent: Vec<String> = d.households.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let led: Vec<String> = leads.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let checks = if model.classes.is_empty() {
        String::new()
    } else {
        let n = d.check_means.rows.len();
        crate::tr!(
            "; enrolled with signs of means, for civil affairs to check: {n}",
            "；已纳入保障但有财产收入迹象、交民政核查的 {n} 户"
        )
    };
    let listed = |names: Vec<String>| match names.is_empty() {
        true => crate::tr!("none", "无"),
        false => names.join(if crate::lang::zh() { "，" } else { ", " }),
    };
    let (n, shown_out, sent, led) = (alerts.len(), out.display(), listed(sent), listed(led));
    eprintln!(
        "{}",
        crate::tr!(
            "dispatched {n} alerted households → {shown_out} (lists: {sent}; leading the case: {led}{checks})",
            "预警户 {n} 户已派单 → {shown_out}（各部门清单：{sent}；主责部门：{led}{checks}）"
        )
    );
    if unmasked {
        eprintln!(
            "{}",
            crate::tr!(
                "warning: the lists hold full ID numbers and names (--unmasked); share them only with the \
                 departments named",
                "警告：派单清单含完整的身份证号和姓名（--unmasked）；只可交给清单所列的部门"
            )
        );
    }
    if let (Some(l), Some(db)) = (&ledger, db.as_mut()) {
        let mut inputs = vec![model_path.to_path_buf(), scores.to_path_buf()];
        inputs.extend(roster_table_files(roster_dir));
        let event = l.event(inputs)?;
        let model_hash = hhrisk_ledger::file_hash(model_path)?;
        let b = hhrisk_ledger::Batch {
            name: batch.to_string(),
            model: (model.meta.name.clone(), model.meta.version.clone(), model_hash),
            thresholds: None,
            alerts: cases,
        };
        let recorded = db.record_batch(&b, &event)?;
        let (file, opened, updated) = (l.file.display(), recorded.opened.len(), recorded.updated.len());
        let cases = if opened == 1 { "" } else { "s" };
        eprintln!(
            "{}",
            crate::tr!(
                "ledger {file}: batch {batch} recorded; {opened} case{cases} opened, {updated} open already \
                 (updated; not sent again to the departments they went to)",
                "台账 {file}：已记录批次 {batch}；新立案 {opened} 件，已在办 {updated} 件（已更新，不再向原派单部门重复派单）"
            )
        );
    }
    for id in &d.not_in_roster {
        eprintln!(
            "{}",
            crate::tr!(
                "warning: alerted household {id} is not in the roster (or was refused by it); listed in the chain \
                 with no department",
                "警告：预警户 {id} 不在名册中（或被名册拒收）；已列入 chain 清单，未派给任何部门"
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The roster's table files (households.csv and members.csv, or the
/// workbook), for the ledger's input hashes.
fn roster_table_files(roster: &Path) -> Vec<std::path::PathBuf> {
    if hhrisk_tables::is_workbook(roster) {
        vec![roster.to_path_buf()]
    } else {
        ["households.csv", "members.csv"].iter().map(|f| roster.join(f)).filter(|p| p.is_file()).collect()
    }
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let clean: String = name.chars().map(|c| if "[]:*?/\\".contains(c) { '_' } else { c }).take(31).collect();
    if clean.trim().is_empty() {
        "sheet".to_string()
    } else {
        clean
    }
}

//! `hhrisk validate`: a model and a roster checked, nothing written.

use std::path::Path;
use std::process::ExitCode;

use hhrisk_model::{Model, ModelError};
use hhrisk_roster::{Issue, ReadOptions};
use hhrisk_tables::date::format_date;
use serde_json::json;

use super::*;

pub fn validate(
    model_path: &Path,
    roster: Option<&Path>,
    json: bool,
    unmasked: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    let model = Model::from_path(model_path);
    let model_json = match &model {
        Ok(m) => json!({
            "path": model_path.display().to_string(),
            "name": m.meta.name,
            "version": m.meta.version,
            "categories": m.categories.len(),
            "items": m.items.len(),
            "columns": m.columns.len(),
            "parameters": m.parameters.len(),
            "effective_from": m.meta.effective_from.map(format_date),
            "effective_to": m.meta.effective_to.map(format_date),
            "bands": m.bands.levels.iter().map(|b| json!({"name": b.name, "min": b.min})).collect::<Vec<_>>(),
            "errors": [],
        }),
        Err(e) => json!({
            "path": model_path.display().to_string(),
            "errors": model_errors(e),
        }),
    };
    let mut valid = model.is_ok();
    let mut out = json!({ "model": model_json });
    if !json {
        match &model {
            Ok(m) => {
                let (path, name, version) = (model_path.display(), &m.meta.name, &m.meta.version);
                let (categories, items, columns, parameters) =
                    (m.categories.len(), m.items.len(), m.columns.len(), m.parameters.len());
                println!(
                    "{}",
                    crate::tr!(
                        "model {path} ({name} {version}): {categories} categories, {items} items, {columns} input \
                         columns, {parameters} parameters: OK",
                        "指标模型 {path}（{name} {version}）：{categories} 个类别，{items} 个指标项，{columns} 个输入列，\
                         {parameters} 个参数：通过"
                    )
                )
            }
            Err(e) => {
                let path = model_path.display();
                eprintln!("{}", crate::tr!("model {path}: {e}", "指标模型 {path}：{e}"))
            }
        }
    }
    if let (Some(dir), Ok(m)) = (roster, &model) {
        let roster_json = match check_roster(m, dir, &io.read_options(unmasked), io.threads) {
            Ok(r) => {
                valid &= r.issues.is_empty();
                if !json {
                    let (path, households, members, accepted) =
                        (dir.display(), r.household_rows, r.member_rows, r.accepted);
                    let (refused, problems) = (r.household_rows - r.accepted, r.issues.len());
                    println!(
                        "{}",
                        crate::tr!(
                            "roster {path}: {households} households, {members} members; {accepted} accepted, \
                             {refused} refused, {problems} problems",
                            "名册 {path}：{households} 户，{members} 人；接收 {accepted} 户，拒收 {refused} 户，\
                             {problems} 处问题"
                        )
                    );
                    print_issues(&r.issues);
                }
                json!({
                    "dir": dir.display().to_string(),
                    "households": r.household_rows,
                    "members": r.member_rows,
                    "accepted": r.accepted,
                    "rejected": r.household_rows - r.accepted,
                    "errors": r.issues.iter().map(issue_json).collect::<Vec<_>>(),
                })
            }
            Err(e) => {
                valid = false;
                if !json {
                    let path = dir.display();
                    eprintln!("{}", crate::tr!("roster {path}: {e}", "名册 {path}：{e}"));
                }
                json!({
                    "dir": dir.display().to_string(),
                    "households": null,
                    "members": null,
                    "errors": [{ "message": e.to_string() }],
                })
            }
        };
        out["roster"] = roster_json;
    }
    out["valid"] = json!(valid);
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What checking a roster found, without scoring it.
struct RosterCheck {
    household_rows: usize,
    member_rows: usize,
    accepted: usize,
    /// Every problem, household by household.
    issues: Vec<Issue>,
}

/// Checks every row of a roster. A roster grouped in household order is
/// streamed on `threads` threads, with memory that does not grow with the
/// file, as `score` reads it; members in another order are put in order in
/// memory first, and the roster is read whole only when that fails. The
/// problems are the same either way.
fn check_roster(
    model: &Model,
    dir: &Path,
    options: &ReadOptions,
    threads: usize,
) -> Result<RosterCheck, String> {
    use hhrisk_roster::stream::{each, Streamed};

    // the problems of the households refused
    let refusals = each(|household, kept: &mut Vec<Issue>| {
        if let Streamed::Refused(issues) = household {
            kept.extend_from_slice(issues);
        }
        Ok(())
    });
    let (summary, issues) = read_all(model, dir, options, threads, &refusals).map_err(|e| e.to_string())?;
    Ok(RosterCheck {
        household_rows: summary.household_rows,
        member_rows: summary.member_rows,
        accepted: summary.accepted,
        issues: shown(issues.into_iter().flatten().collect(), options.unmasked),
    })
}

fn model_errors(e: &ModelError) -> Vec<serde_json::Value> {
    match e {
        ModelError::Io { .. } => vec![json!({ "message": e.to_string() })],
        ModelError::Invalid(problems) => {
            problems.iter().map(|p| serde_json::to_value(p).unwrap_or_default()).collect()
        }
    }
}

fn issue_json(i: &Issue) -> serde_json::Value {
    json!({
        "file": i.file,
        "line": i.line,
        "column": i.column.as_ref().map(|c| c.0),
        "column_name": i.column.as_ref().map(|c| c.1.clone()),
        "household_id": i.household_id,
        "household_line": i.household_line,
        "person_id": i.person_id,
        "message": i.message,
    })
}

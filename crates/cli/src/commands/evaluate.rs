//! `hhrisk evaluate`: alert accuracy from counts or a scores file.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

use super::*;

pub fn evaluate_counts(alerts: u64, verified: u64, json: bool) -> anyhow::Result<ExitCode> {
    let Some(c) = hhrisk_calibrate::evaluation::from_counts(alerts, verified) else {
        bail!("--verified ({verified}) must be between 0 and --alerts ({alerts}), and --alerts above 0");
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!(
            "precision {} ({verified} of {alerts} alerts verified as right)",
            percent(Some(c.precision))
        );
        println!("  95 % Wilson interval          {}", interval(Some(c.wilson)));
        println!("  95 % Clopper–Pearson interval {}", interval(Some(c.clopper_pearson)));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn evaluate(
    scores: &Path,
    outcomes: &Path,
    roster: Option<&Path>,
    model: Option<&Path>,
    json: bool,
    size_warning_factor: f64,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::evaluation;
    let outcomes_file = hhrisk_calibrate::samples::outcomes_of(outcomes);
    let is_roster = |p: &Path| p.join("households.csv").is_file() || hhrisk_tables::is_workbook(p);
    let roster =
        roster.map(Path::to_path_buf).or_else(|| is_roster(outcomes).then(|| outcomes.to_path_buf()));
    let rows = hhrisk_calibrate::samples::read_outcomes(&outcomes_file, io.encoding)?;
    let mut records = evaluation::read_scores(scores, &rows, io.encoding)?;
    let mut notes = Vec::new();
    match &roster {
        Some(dir) => {
            let (types, type_notes) = evaluation::household_types(dir, io.encoding)?;
            notes.extend(type_notes);
            for r in &mut records {
                r.types = types.get(&r.household_id).cloned().unwrap_or_default();
            }
            if let Some(model_path) = model {
                let model = load_model(model_path)?;
                let departments = evaluation::departments(&model, dir, io.encoding)?;
                for r in &mut records {
                    r.departments = departments.get(&r.household_id).cloned().unwrap_or_default();
                }
            }
        }
        None => notes.push("no roster: give --roster for the breakdown by household type".to_string()),
    }
    let mut result = evaluation::evaluate(&records, size_warning_factor);
    result.notes.extend(notes);
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "{} households scored; {} alerts with an outcome, {} of them verified in need",
        result.scored, result.alerts, result.verified
    );
    let _ = writeln!(
        out,
        "precision {} {}   recall {} {}",
        percent(result.precision),
        interval(result.overall.precision_ci.wilson),
        percent(result.recall),
        interval(result.overall.recall_ci.wilson)
    );
    let section = |out: &mut String, title: &str, groups: &[evaluation::Group]| {
        if groups.is_empty() {
            return;
        }
        let _ = writeln!(out, "\nby {title}:");
        for g in groups {
            let a = &g.accuracy;
            let _ = writeln!(
                out,
                "  {} alerts {:>6}  precision {:>7} {:<14} recall {:>7} {}",
                pad(&g.name, 22),
                a.alerts,
                percent(a.precision),
                interval(a.precision_ci.wilson),
                percent(a.recall),
                interval(a.recall_ci.wilson)
            );
        }
    };
    section(&mut out, "band", &result.by_band);
    section(&mut out, "village", &result.by_village);
    section(&mut out, "batch", &result.by_batch);
    section(&mut out, "department", &result.by_department);
    section(&mut out, "household type", &result.by_household_type);
    out.push_str(&size_section(&result.by_household_size));
    for n in &result.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "(95 % Wilson intervals; --json adds Clopper–Pearson)");
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

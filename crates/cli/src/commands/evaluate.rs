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
        if (alerts, verified) != hhrisk_calibrate::evaluation::XIAOCHANG {
            if let Some(against) = hhrisk_calibrate::evaluation::against_xiaochang(verified, alerts) {
                println!("{}", against.sentence);
            }
        }
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
    let rows = hhrisk_calibrate::samples::read_outcome_rows(&outcomes_file, io.encoding)?;
    let households = hhrisk_calibrate::samples::outcomes_of_rows(&rows);
    let mut records = evaluation::read_scores(scores, &households, io.encoding)?;
    evaluation::attach_answers(&mut records, &rows);
    let mut notes = Vec::new();
    match (&roster, model) {
        (Some(dir), Some(model_path)) => {
            let model = load_model(model_path)?;
            if model.groups.is_empty() {
                notes.push(format!(
                    "model {} declares no household types ([[groups]]): no breakdown by household type",
                    model_path.display()
                ));
            }
            let mut facts = evaluation::facts(&model, dir, io.encoding)?;
            for r in &mut records {
                let f = facts.remove(&r.household_id).unwrap_or_default();
                (r.departments, r.types) = (f.departments, f.groups);
            }
        }
        _ => notes.push(
            "give --model and --roster for the breakdown by household type (the model's [[groups]])"
                .to_string(),
        ),
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
        match &result.audit {
            Some(a) => format!("{} (estimated from the audit)", interval(a.recall_ci)),
            None => interval(result.overall.recall_ci.wilson),
        }
    );
    if let (Some(base), Some(lift)) = (result.base_rate, result.lift) {
        let _ = writeln!(
            out,
            "base rate {} of households in need: the alerts are {lift:.2} times as precise as alerting at random",
            percent(Some(base))
        );
    }
    if let Some(c) = &result.against_xiaochang {
        let _ = writeln!(out, "{}", c.sentence);
    }
    let section = |out: &mut String, title: &str, groups: &[evaluation::Group]| {
        out.push_str(&groups_text(&format!("by {title}"), groups));
    };
    section(&mut out, "band", &result.by_band);
    section(&mut out, "village", &result.by_village);
    section(&mut out, "batch", &result.by_batch);
    section(&mut out, "department", &result.by_department);
    section(&mut out, "household type", &result.by_household_type);
    section(&mut out, "alert kind", &result.by_alert_kind);
    if !result.assistance.is_empty() {
        let _ = writeln!(out, "\nassistance given (households, 人次):");
        for a in &result.assistance {
            let _ =
                writeln!(out, "  {} {:>6}  of them alerted {:>6}", pad(&a.kind, 22), a.households, a.alerted);
        }
    }
    out.push_str(&size_section(&result.by_household_size));
    for n in &result.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "(95 % Wilson intervals; --json adds Clopper–Pearson)");
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

//! `hhrisk simulate`: sample villages with known outcomes.

use std::path::Path;
use std::process::ExitCode;

/// The households a scores file lists with an alert level or an alert
/// kind: those a county verifies.
pub fn alerted_ids(
    scores: &Path,
    encoding: hhrisk_tables::Encoding,
) -> anyhow::Result<std::collections::HashSet<String>> {
    let alerts = hhrisk_monitor::dispatch::read_alerts(scores, encoding)?;
    Ok(alerts.into_iter().map(|a| a.household_id).collect())
}

pub fn simulate(out: &Path, options: &hhrisk_simulate::Options) -> anyhow::Result<ExitCode> {
    let bar = super::progress("households simulated");
    let counted = std::cell::Cell::new(false);
    let summary = hhrisk_simulate::simulate_with_progress(out, options, &|done, total| {
        if !counted.replace(true) {
            bar.set_length(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30} {percent:>3}% {human_pos}/{human_len} {msg}, {elapsed} gone, about {eta} left",
            ) {
                bar.set_style(style);
            }
        }
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    let struck: Vec<String> =
        summary.shocks.iter().filter(|(_, s)| *s != "none").map(|(v, s)| format!("{v}: {s}")).collect();
    if !struck.is_empty() {
        eprintln!("village shocks this year: {}", struck.join(", "));
    }
    for (dir, households, members, in_need) in &summary.rosters {
        eprintln!(
            "{}: {households} households, {members} members, {in_need} verified in need ({:.1} %)",
            dir.display(),
            100.0 * *in_need as f64 / (*households).max(1) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}

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
    let bar = super::progress(crate::tr!("households simulated", "户已模拟"));
    let counted = std::cell::Cell::new(false);
    let summary = hhrisk_simulate::simulate_with_progress(out, options, &|done, total| {
        if !counted.replace(true) {
            super::with_total(&bar, total);
        }
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    let struck: Vec<String> =
        summary.shocks.iter().filter(|(_, s)| *s != "none").map(|(v, s)| format!("{v}: {s}")).collect();
    if !struck.is_empty() {
        let struck = struck.join(", ");
        eprintln!("{}", crate::tr!("village shocks this year: {struck}", "本年度受冲击的村：{struck}"));
    }
    for (dir, households, members, in_need) in &summary.rosters {
        let (dir, share) = (dir.display(), 100.0 * *in_need as f64 / (*households).max(1) as f64);
        eprintln!(
            "{}",
            crate::tr!(
                "{dir}: {households} households, {members} members, {in_need} verified in need ({share:.1} %)",
                "{dir}：{households} 户，{members} 人，经核实需要帮扶 {in_need} 户（{share:.1} %）"
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

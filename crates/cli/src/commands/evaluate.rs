//! `hhrisk evaluate`: alert accuracy from counts or a scores file.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

use super::*;

pub fn evaluate_counts(alerts: u64, verified: u64, json: bool) -> anyhow::Result<ExitCode> {
    let Some(c) = hhrisk_calibrate::evaluation::from_counts(alerts, verified) else {
        bail!(crate::tr!(
            "--verified ({verified}) must be between 0 and --alerts ({alerts}), and --alerts above 0",
            "--verified（{verified}）须在 0 到 --alerts（{alerts}）之间，且 --alerts 须大于 0"
        ));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        let precision = percent(Some(c.precision));
        println!(
            "{}",
            crate::tr!(
                "precision {precision} ({verified} of {alerts} alerts verified as right)",
                "精确率 {precision}（预警 {alerts} 户，经核实准确 {verified} 户）"
            )
        );
        let (wilson, clopper_pearson) = (interval(Some(c.wilson)), interval(Some(c.clopper_pearson)));
        println!(
            "{}",
            crate::tr!(
                "  95 % Wilson interval          {wilson}",
                "  95 % Wilson 置信区间          {wilson}"
            )
        );
        println!(
            "{}",
            crate::tr!(
                "  95 % Clopper–Pearson interval {clopper_pearson}",
                "  95 % Clopper–Pearson 置信区间 {clopper_pearson}"
            )
        );
        if (alerts, verified) != hhrisk_calibrate::evaluation::XIAOCHANG {
            if let Some(against) = hhrisk_calibrate::evaluation::against_xiaochang(verified, alerts) {
                println!("{}", if crate::lang::zh() { &against.sentence_zh } else { &against.sentence });
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
    // each note in English for --json, and as the text shows it
    macro_rules! note {
        ($en:literal, $zh:literal) => {
            (format!($en), crate::tr!($en, $zh))
        };
    }
    let mut notes: Vec<(String, String)> = Vec::new();
    match (&roster, model) {
        (Some(dir), Some(model_path)) => {
            let model = load_model(model_path)?;
            if model.groups.is_empty() {
                let path = model_path.display();
                notes.push(note!(
                    "model {path} declares no household types ([[groups]]): no breakdown by household type",
                    "指标模型 {path} 没有定义户类型（[[groups]]），无法按户类型分组统计"
                ));
            }
            let mut facts = evaluation::facts(&model, dir, io.encoding)?;
            for r in &mut records {
                let f = facts.remove(&r.household_id).unwrap_or_default();
                (r.departments, r.types) = (f.departments, f.groups);
            }
        }
        _ => notes.push(note!(
            "give --model and --roster for the breakdown by household type (the model's [[groups]])",
            "如需按户类型（指标模型的 [[groups]]）分组统计，请同时给出 --model 和 --roster"
        )),
    }
    let mut result = evaluation::evaluate(&records, size_warning_factor);
    if json {
        result.notes.extend(notes.into_iter().map(|(en, _)| en));
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    // the library's notes as the text shows them, then the command's
    if crate::lang::zh() {
        result.notes = std::mem::take(&mut result.notes_zh);
    }
    result.notes.extend(notes.into_iter().map(|(_, shown)| shown));
    let mut out = String::new();
    use std::fmt::Write as _;
    let (scored, alerts, verified) = (result.scored, result.alerts, result.verified);
    let _ = writeln!(
        out,
        "{}",
        crate::tr!(
            "{scored} households scored; {alerts} alerts with an outcome, {verified} of them verified in need",
            "已评分 {scored} 户；有核查结果的预警 {alerts} 户，其中经核实需要帮扶 {verified} 户"
        )
    );
    let (precision, precision_ci) = (percent(result.precision), interval(result.overall.precision_ci.wilson));
    let recall = percent(result.recall);
    let recall_ci = match &result.audit {
        Some(a) => {
            let ci = interval(a.recall_ci);
            crate::tr!("{ci} (estimated from the audit)", "{ci}（由抽查估计）")
        }
        None => interval(result.overall.recall_ci.wilson),
    };
    let line = crate::tr!(
        "precision {precision} {precision_ci}   recall {recall} {recall_ci}",
        "精确率 {precision} {precision_ci}   召回率 {recall} {recall_ci}"
    );
    // (the English line keeps its trailing space when recall has no interval)
    let _ = writeln!(out, "{}", if crate::lang::zh() { line.trim_end() } else { &line });
    if let (Some(base), Some(lift)) = (result.base_rate, result.lift) {
        let base = percent(Some(base));
        let _ = writeln!(
            out,
            "{}",
            crate::tr!(
                "base rate {base} of households in need: the alerts are {lift:.2} times as precise as alerting at \
                 random",
                "需要帮扶的户占全部户的 {base}（基准比例）：预警的精确率是随机预警的 {lift:.2} 倍"
            )
        );
    }
    if let Some(c) = &result.against_xiaochang {
        let _ = writeln!(out, "{}", if crate::lang::zh() { &c.sentence_zh } else { &c.sentence });
    }
    for (title, groups) in [
        (crate::tr!("by band", "按预警区间"), &result.by_band),
        (crate::tr!("by village", "按村"), &result.by_village),
        (crate::tr!("by batch", "按批次"), &result.by_batch),
        (crate::tr!("by department", "按部门"), &result.by_department),
        (crate::tr!("by household type", "按户类型"), &result.by_household_type),
        (crate::tr!("by alert kind", "按预警类型"), &result.by_alert_kind),
    ] {
        out.push_str(&groups_text(&title, groups));
    }
    if !result.assistance.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            crate::tr!("assistance given (households, 人次):", "已给予的帮扶（户，人次）：")
        );
        for a in &result.assistance {
            let (kind, households, alerted) = (pad(&a.kind, 22), a.households, a.alerted);
            let _ = writeln!(
                out,
                "{}",
                crate::tr!(
                    "  {kind} {households:>6}  of them alerted {alerted:>6}",
                    "  {kind} {households:>6}  其中预警过 {alerted:>6}"
                )
            );
        }
    }
    if crate::lang::zh() {
        out.push_str(&hhrisk_calibrate::text::size_section_zh(&result.by_household_size));
    } else {
        out.push_str(&size_section(&result.by_household_size));
    }
    for n in &result.notes {
        let _ = writeln!(out, "{}", crate::tr!("note: {n}", "提示：{n}"));
    }
    let _ = writeln!(
        out,
        "{}",
        crate::tr!(
            "(95 % Wilson intervals; --json adds Clopper–Pearson)",
            "（95 % Wilson 置信区间；--json 另给出 Clopper–Pearson 区间）"
        )
    );
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

//! `hhrisk cases` and the ledger side of `dispatch` and `feedback`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hhrisk_ledger::{CaseFilter, Event, Ledger};

/// A ledger that `dispatch` or `feedback` records into.
#[derive(Debug, Clone)]
pub struct LedgerUse {
    /// The ledger file.
    pub file: PathBuf,
    /// Days a department has to answer, unless the model says.
    pub due_days: u32,
    /// The day of the batch or answers; today when `None`.
    pub date: Option<String>,
    /// The command line, for the audit trail.
    pub command: String,
}

impl LedgerUse {
    /// The event this command records, with its input files.
    pub fn event(&self, inputs: Vec<PathBuf>) -> anyhow::Result<Event> {
        let date = self.date.clone().unwrap_or_else(hhrisk_ledger::today);
        hhrisk_ledger::day(&date)?;
        Ok(Event { command: self.command.clone(), inputs, date })
    }
}

/// The ledger at `path`, which must exist (listing an empty new one would
/// hide a mistyped path).
pub fn existing(path: &Path) -> anyhow::Result<Ledger> {
    if !path.is_file() {
        anyhow::bail!(
            "{}: no ledger here; record a batch first with `hhrisk dispatch … --ledger {}`",
            path.display(),
            path.display()
        );
    }
    Ok(Ledger::open(path)?)
}

/// A household id as listings show it: masked when it looks like an ID
/// number, unless asked.
fn shown(id: &str, unmasked: bool) -> String {
    if unmasked {
        hhrisk_tables::escape_controls(id).into_owned()
    } else {
        hhrisk_roster::privacy::scrub(&hhrisk_tables::escape_controls(id)).into_owned()
    }
}

pub fn cases(
    ledger: &Path,
    filter: &CaseFilter,
    as_of: Option<&str>,
    json: bool,
    unmasked: bool,
) -> anyhow::Result<ExitCode> {
    let l = existing(ledger)?;
    let as_of = as_of.map(String::from).unwrap_or_else(hhrisk_ledger::today);
    let mut list = l.cases(filter, &as_of)?;
    for c in &mut list {
        c.household_id = shown(&c.household_id, unmasked);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    use std::fmt::Write as _;
    let mut out = String::new();
    let what = if filter.overdue {
        "overdue"
    } else if filter.all {
        "all"
    } else {
        "open"
    };
    let _ = writeln!(
        out,
        "{} {what} case{} in {} (as of {as_of})",
        list.len(),
        if list.len() == 1 { "" } else { "s" },
        ledger.display()
    );
    for c in &list {
        let _ = writeln!(
            out,
            "{:<20} {:<10} {:<8} opened {} ({}), owner {}{}{}",
            c.household_id,
            c.village,
            c.status,
            c.opened,
            c.batch,
            c.owner,
            if c.kinds.is_empty() { String::new() } else { format!(", {}", c.kinds) },
            if c.days_overdue > 0 { format!(", {} days overdue", c.days_overdue) } else { String::new() }
        );
        for r in &c.departments {
            let state = match (&r.answered, r.verified_need) {
                (Some(d), Some(n)) => format!(
                    "answered {d}{}: {}{}",
                    if r.late { " (late)" } else { "" },
                    if n { "in need" } else { "not in need" },
                    if r.assistance.is_empty() { String::new() } else { format!(", gave {}", r.assistance) }
                ),
                _ if r.days_overdue > 0 => format!("due {}, {} days overdue", r.due, r.days_overdue),
                _ => format!("due {}", r.due),
            };
            let _ = writeln!(out, "    {:<20} {:<4} {state}", r.department, r.role);
        }
    }
    if filter.overdue {
        // the list a county leader asks for: days overdue per department
        let mut by: std::collections::BTreeMap<&str, (u64, i64)> = Default::default();
        for c in &list {
            for r in c.departments.iter().filter(|r| r.days_overdue > 0) {
                let e = by.entry(&r.department).or_default();
                e.0 += 1;
                e.1 = e.1.max(r.days_overdue);
            }
        }
        let _ = writeln!(out, "\noverdue by department:");
        for (d, (n, most)) in by {
            let _ = writeln!(
                out,
                "  {d:<20} {n:>5} case{} overdue, the oldest by {most} days",
                if n == 1 { "" } else { "s" }
            );
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

pub fn case_chain(ledger: &Path, household: &str, json: bool, unmasked: bool) -> anyhow::Result<ExitCode> {
    let l = existing(ledger)?;
    let chain = l.chain(household)?;
    if chain.is_empty() {
        anyhow::bail!("household {} is not in the ledger {}", shown(household, unmasked), ledger.display());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&chain)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("household {} (一户一条救助链):", shown(household, unmasked));
    for e in &chain {
        println!("  {}  {:<8} {}", e.date, e.what, e.detail);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn close_case(
    ledger: &Path,
    household: &str,
    reason: &str,
    date: Option<&str>,
    command: &str,
) -> anyhow::Result<ExitCode> {
    let mut l = existing(ledger)?;
    let date = date.map(String::from).unwrap_or_else(hhrisk_ledger::today);
    l.close(household, reason, &Event { command: command.to_string(), inputs: Vec::new(), date })?;
    eprintln!("closed the case of household {}: {reason}", shown(household, false));
    Ok(ExitCode::SUCCESS)
}

/// How `evaluate --ledger` groups.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ByArg {
    /// One group per batch.
    Batch,
    /// One group per calendar quarter.
    Quarter,
    /// One group per department (its own answers).
    Department,
    /// One group per village.
    Village,
}

pub fn evaluate_ledger(ledger: &Path, by: ByArg, json: bool) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::intervals::{wilson, CONFIDENCE};
    let l = existing(ledger)?;
    let by = match by {
        ByArg::Batch => hhrisk_ledger::By::Batch,
        ByArg::Quarter => hhrisk_ledger::By::Quarter,
        ByArg::Department => hhrisk_ledger::By::Department,
        ByArg::Village => hhrisk_ledger::By::Village,
    };
    let groups = l.figures(by)?;
    let rows: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| {
            let precision = (g.verified > 0).then(|| g.in_need as f64 / g.verified as f64);
            serde_json::json!({
                "group": g.group, "alerts": g.alerts, "verified": g.verified, "in_need": g.in_need,
                "precision": precision, "precision_wilson": wilson(g.in_need, g.verified, CONFIDENCE),
                "assistance": g.assistance, "amount": g.amount, "answers": g.answers, "late": g.late,
                "median_days_to_answer": g.median_days_to_answer,
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (g, row) in groups.iter().zip(&rows) {
        println!(
            "{:<16} alerts {:>6}  verified {:>6}  in need {:>6}  precision {} {}",
            g.group,
            g.alerts,
            g.verified,
            g.in_need,
            super::percent(row["precision"].as_f64()),
            super::interval(wilson(g.in_need, g.verified, CONFIDENCE))
        );
        let kinds: Vec<String> = g.assistance.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "                 assistance (人次): {}; {} yuan; {} answers, {} late, median {} days to answer",
            if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") },
            g.amount,
            g.answers,
            g.late,
            g.median_days_to_answer.map_or("–".to_string(), |d| format!("{d}"))
        );
    }
    println!("(95 % Wilson intervals; precision is over the verified alerts)");
    Ok(ExitCode::SUCCESS)
}

/// The workbook a county office prints: open cases by department, the
/// overdue ones, the cases closed in the month of `as_of`.
pub fn cases_workbook(
    ledger: &Path,
    filter: &CaseFilter,
    as_of: Option<&str>,
    out: &Path,
    unmasked: bool,
) -> anyhow::Result<ExitCode> {
    use hhrisk_tables::OutTable;
    let l = existing(ledger)?;
    let as_of = as_of.map(String::from).unwrap_or_else(hhrisk_ledger::today);
    let open = l.cases(&CaseFilter { overdue: false, all: false, ..filter.clone() }, &as_of)?;
    let header = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let referral_header =
        header(&["部门", "户编号", "村", "批次", "角色", "派单日期", "办理时限", "超期天数", "反馈日期"]);
    let row = |c: &hhrisk_ledger::CaseView, r: &hhrisk_ledger::ReferralView| {
        vec![
            r.department.clone(),
            shown(&c.household_id, unmasked),
            c.village.clone(),
            r.batch.clone(),
            if r.role == "lead" { "主责".to_string() } else { "协办".to_string() },
            r.sent.clone(),
            r.due.clone(),
            r.days_overdue.to_string(),
            r.answered.clone().unwrap_or_default(),
        ]
    };
    let mut by_department: Vec<Vec<String>> =
        open.iter().flat_map(|c| c.departments.iter().map(move |r| row(c, r))).collect();
    by_department.sort();
    let mut overdue: Vec<(i64, Vec<String>)> = open
        .iter()
        .flat_map(|c| {
            c.departments.iter().filter(|r| r.days_overdue > 0).map(move |r| (r.days_overdue, row(c, r)))
        })
        .collect();
    overdue.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let month = as_of.get(..7).unwrap_or("").to_string();
    let all = l.cases(&CaseFilter { all: true, ..filter.clone() }, &as_of)?;
    let closed: Vec<Vec<String>> = all
        .iter()
        .filter_map(|c| {
            let (date, reason) = c.closed.as_ref()?;
            date.starts_with(&month).then(|| {
                vec![
                    shown(&c.household_id, unmasked),
                    c.village.clone(),
                    c.opened.clone(),
                    date.clone(),
                    reason.clone(),
                ]
            })
        })
        .collect();
    let sheets = [
        (
            "在办案件",
            OutTable { header: referral_header.clone(), rows: by_department, ..OutTable::default() },
        ),
        (
            "超期",
            OutTable {
                header: referral_header,
                rows: overdue.into_iter().map(|(_, r)| r).collect(),
                ..OutTable::default()
            },
        ),
        (
            "本月办结",
            OutTable {
                header: header(&["户编号", "村", "立案日期", "办结日期", "办结原因"]),
                rows: closed,
                ..OutTable::default()
            },
        ),
    ];
    let refs: Vec<(&str, &OutTable)> = sheets.iter().map(|(n, t)| (*n, t)).collect();
    hhrisk_tables::write_workbook(out, &refs)?;
    eprintln!(
        "wrote {}: {} open referrals, {} overdue, {} cases closed in {month}",
        out.display(),
        sheets[0].1.rows.len(),
        sheets[1].1.rows.len(),
        sheets[2].1.rows.len()
    );
    Ok(ExitCode::SUCCESS)
}

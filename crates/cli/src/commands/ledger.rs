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
        let path = path.display();
        anyhow::bail!(crate::tr!(
            "{path}: no ledger here; record a batch first with `hhrisk dispatch … --ledger {path}`",
            "{path}：这里没有台账；请先用 `hhrisk dispatch … --ledger {path}` 记录一个批次"
        ));
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
        crate::tr!("overdue", "超期")
    } else if filter.all {
        crate::tr!("all", "全部")
    } else {
        crate::tr!("open", "在办")
    };
    let (n, cases, shown_ledger) = (list.len(), if list.len() == 1 { "" } else { "s" }, ledger.display());
    let _ = writeln!(
        out,
        "{}",
        crate::tr!(
            "{n} {what} case{cases} in {shown_ledger} (as of {as_of})",
            "台账 {shown_ledger} 中{what}案件 {n} 件（截至 {as_of}）"
        )
    );
    for c in &list {
        let kinds = if c.kinds.is_empty() {
            String::new()
        } else {
            let kinds = &c.kinds;
            crate::tr!(", {kinds}", "，{kinds}")
        };
        let overdue = if c.days_overdue > 0 {
            let days = c.days_overdue;
            crate::tr!(", {days} days overdue", "，超期 {days} 天")
        } else {
            String::new()
        };
        let (id, village, status, opened, batch, owner) =
            (&c.household_id, &c.village, &c.status, &c.opened, &c.batch, &c.owner);
        let _ = writeln!(
            out,
            "{}",
            crate::tr!(
                "{id:<20} {village:<10} {status:<8} opened {opened} ({batch}), owner {owner}{kinds}{overdue}",
                "{id:<20} {village:<10} {status:<8} 立案 {opened}（{batch}），主责 {owner}{kinds}{overdue}"
            )
        );
        for r in &c.departments {
            let (due, days) = (&r.due, r.days_overdue);
            let state = match (&r.answered, r.verified_need) {
                (Some(d), Some(n)) => {
                    let late = if r.late { crate::tr!(" (late)", "（超期）") } else { String::new() };
                    let need = if n {
                        crate::tr!("in need", "需要帮扶")
                    } else {
                        crate::tr!("not in need", "不需要帮扶")
                    };
                    let gave = if r.assistance.is_empty() {
                        String::new()
                    } else {
                        let assistance = &r.assistance;
                        crate::tr!(", gave {assistance}", "，帮扶措施：{assistance}")
                    };
                    crate::tr!("answered {d}{late}: {need}{gave}", "已于 {d} 反馈{late}：{need}{gave}")
                }
                _ if days > 0 => crate::tr!("due {due}, {days} days overdue", "时限 {due}，超期 {days} 天"),
                _ => crate::tr!("due {due}", "时限 {due}"),
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
        let _ = writeln!(out, "\n{}", crate::tr!("overdue by department:", "各部门超期情况："));
        for (d, (n, most)) in by {
            let cases = if n == 1 { "" } else { "s" };
            let _ = writeln!(
                out,
                "{}",
                crate::tr!(
                    "  {d:<20} {n:>5} case{cases} overdue, the oldest by {most} days",
                    "  {d:<20} 超期案件 {n:>5} 件，最久超期 {most} 天"
                )
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
        let (household, ledger) = (shown(household, unmasked), ledger.display());
        anyhow::bail!(crate::tr!(
            "household {household} is not in the ledger {ledger}",
            "户 {household} 不在台账 {ledger} 中"
        ));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&chain)?);
        return Ok(ExitCode::SUCCESS);
    }
    let household = shown(household, unmasked);
    println!(
        "{}",
        crate::tr!("household {household} (一户一条救助链):", "户 {household}（一户一条救助链）：")
    );
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
    let household = shown(household, false);
    eprintln!(
        "{}",
        crate::tr!(
            "closed the case of household {household}: {reason}",
            "已办结户 {household} 的案件：{reason}"
        )
    );
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
        let (group, alerts, verified, in_need) = (&g.group, g.alerts, g.verified, g.in_need);
        let precision = super::percent(row["precision"].as_f64());
        let ci = super::interval(wilson(g.in_need, g.verified, CONFIDENCE));
        println!(
            "{}",
            crate::tr!(
                "{group:<16} alerts {alerts:>6}  verified {verified:>6}  in need {in_need:>6}  precision {precision} \
                 {ci}",
                "{group:<16} 预警 {alerts:>6}  已核查 {verified:>6}  需要帮扶 {in_need:>6}  精确率 {precision} {ci}"
            )
        );
        let kinds: Vec<String> = g.assistance.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let kinds = match kinds.is_empty() {
            true => crate::tr!("none", "无"),
            false => kinds.join(if crate::lang::zh() { "，" } else { ", " }),
        };
        let (amount, answers, late) = (g.amount, g.answers, g.late);
        let median = g.median_days_to_answer.map_or("–".to_string(), |d| format!("{d}"));
        println!(
            "{}",
            crate::tr!(
                "                 assistance (人次): {kinds}; {amount} yuan; {answers} answers, {late} late, median \
                 {median} days to answer",
                "                 帮扶（人次）：{kinds}；{amount} 元；反馈 {answers} 条，超期 {late} 条，\
                 反馈用时中位数 {median} 天"
            )
        );
    }
    println!(
        "{}",
        crate::tr!(
            "(95 % Wilson intervals; precision is over the verified alerts)",
            "（95 % Wilson 置信区间；精确率按已核查的预警计算）"
        )
    );
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
    let (out, open, overdue, closed) =
        (out.display(), sheets[0].1.rows.len(), sheets[1].1.rows.len(), sheets[2].1.rows.len());
    eprintln!(
        "{}",
        crate::tr!(
            "wrote {out}: {open} open referrals, {overdue} overdue, {closed} cases closed in {month}",
            "已写出 {out}：在办派单 {open} 条，其中超期 {overdue} 条；{month} 办结案件 {closed} 件"
        )
    );
    Ok(ExitCode::SUCCESS)
}

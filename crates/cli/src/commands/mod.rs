//! One module per subcommand: load, run the library, print. What they
//! share (loading a model, reading a roster, printing problems) is here.

use std::io::Write;

use std::path::Path;

use anyhow::{bail, Context};
use hhrisk_calibrate::text::{calibration_text, fit_text, interval, pad, percent, size_section};
use hhrisk_model::{Bands, Model};
use hhrisk_roster::{How, Work};
use hhrisk_roster::{Issue, ReadOptions};
use hhrisk_tables::AtomicFile;

mod calibrate;
mod csv_floor;
mod diff;
mod dispatch;
mod evaluate;
mod explain;
mod feedback;
mod fit;
mod items;
mod ledger;
mod report;
mod score;
mod simulate;
mod validate;
mod workbench;

pub use calibrate::calibrate;
pub use csv_floor::csv_floor;
pub use diff::diff;
pub use dispatch::{dispatch, FormatArg};
pub use evaluate::{evaluate, evaluate_counts};
pub use explain::explain;
pub use feedback::feedback;
pub use fit::{fit, fit_json_path, size_factor};
pub use items::{items, ItemsFormat};
pub use ledger::{case_chain, cases, cases_workbook, close_case, evaluate_ledger, ByArg, LedgerUse};
pub use report::report;
pub use score::score;
pub use simulate::{alerted_ids, simulate};
pub use validate::validate;
pub use workbench::{workbench, WorkbenchAccess};

/// Options shared by every command: how inputs are decoded and outputs
/// written.
#[derive(Debug, Clone, Copy)]
pub struct Io {
    /// Encoding of CSV inputs.
    pub encoding: hhrisk_tables::Encoding,
    /// Start CSV outputs with a byte-order mark.
    pub bom: bool,
    /// Skip the whole-file duplicate-key check when streaming.
    pub skip_duplicate_check: bool,
    /// Worker threads for streaming (1: all on the calling thread).
    pub threads: usize,
    /// Print where the run's time went, on stderr.
    pub timings: bool,
}

impl Io {
    fn read_options(self, unmasked: bool) -> ReadOptions {
        ReadOptions { unmasked, encoding: self.encoding, skip_duplicate_check: self.skip_duplicate_check }
    }

    /// Creates an output file, with the byte-order mark when asked.
    pub fn create(self, path: &Path) -> anyhow::Result<AtomicFile> {
        let mut file = AtomicFile::create(path).with_context(|| cannot_write(path))?;
        if self.bom {
            file.write_all("\u{feff}".as_bytes())?;
        }
        Ok(file)
    }
}

/// A progress counter on stderr, drawn only when stderr is a terminal and
/// the run lasts: quiet in pipes, logs and tests.
fn progress(what: String) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    // whole households a second, grouped as the count is: "918,259/s"
    let rate = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{}/s", indicatif::HumanCount(state.per_sec() as u64));
    };
    let style = indicatif::ProgressStyle::with_template("{spinner} {elapsed} {human_pos} {msg} ({rate})")
        .map(|style| style.with_key("rate", rate))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message(what);
    bar
}

/// A band as people read it: its Chinese label in Chinese (`红色预警`),
/// else its name (`red`).
pub fn band_label(band: &hhrisk_model::Band) -> &str {
    match &band.label {
        Some(label) if crate::lang::zh() => label,
        _ => &band.name,
    }
}

/// "cannot write PATH", in the language of the run.
pub fn cannot_write(path: &Path) -> String {
    let path = path.display();
    crate::tr!("cannot write {path}", "无法写入 {path}")
}

/// Gives a visible progress bar its total, so that it shows a percentage
/// and the time left: the lines of `table` after its header (counted only
/// when the bar is shown: a terminal is watching, so the count's fraction
/// of a second is nobody's benchmark). Records with line breaks inside
/// quotes make the count a little high; the bar then ends short of 100 %.
fn set_total(bar: &indicatif::ProgressBar, table: &Path) {
    use std::io::Read;
    if bar.is_hidden() || !table.is_file() {
        return;
    }
    let Ok(mut file) = std::fs::File::open(table) else { return };
    let (mut buf, mut lines) = (vec![0u8; 1 << 20], 0u64);
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
    with_total(bar, lines.saturating_sub(1).max(1));
}

/// A progress bar for a calibration's or a fit's stages, shown on a
/// terminal, with its percentage and the time left; `offset` steps done
/// before (a fit's stages before its bands' calibration), `extra` to come
/// after.
fn stages(bar: &indicatif::ProgressBar, offset: u64, extra: u64) -> hhrisk_calibrate::Progress {
    let bar = bar.clone();
    let styled = std::sync::atomic::AtomicBool::new(false);
    hhrisk_calibrate::Progress::new(move |done, total| {
        if !styled.swap(true, std::sync::atomic::Ordering::Relaxed) {
            with_total(&bar, offset + total + extra);
        }
        bar.set_position(offset + done);
    })
}

/// A progress bar's total, and the style that shows its percentage and
/// the time left.
fn with_total(bar: &indicatif::ProgressBar, total: u64) {
    bar.set_length(total);
    let style = indicatif::ProgressStyle::with_template(if crate::lang::zh() {
        "{bar:30} {percent:>3}% {human_pos}/{human_len} {msg}，已用 {elapsed}，约剩 {eta}"
    } else {
        "{bar:30} {percent:>3}% {human_pos}/{human_len} {msg}, {elapsed} gone, about {eta} left"
    });
    if let Ok(style) = style {
        bar.set_style(style);
    }
}

/// Issues printed before the rest are summarised.
const SHOWN_ISSUES: usize = 20;

fn load_model(path: &Path) -> anyhow::Result<Model> {
    Model::from_path(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Loads a model and its sample villages with outcomes, and reads the
/// calibration objective: what calibrate, report and workbench share.
fn load_samples(
    model_path: &Path,
    samples_dir: &Path,
    objective: &str,
    io: Io,
) -> anyhow::Result<(Model, hhrisk_calibrate::Samples, hhrisk_calibrate::Objective)> {
    load_samples_from(model_path, samples_dir, objective, io, None)
}

/// [`load_samples`], the outcomes taken from a case ledger when one is
/// given: each referral's latest answer, marked as verified because alerted.
fn load_samples_from(
    model_path: &Path,
    samples_dir: &Path,
    objective: &str,
    io: Io,
    ledger: Option<&Path>,
) -> anyhow::Result<(Model, hhrisk_calibrate::Samples, hhrisk_calibrate::Objective)> {
    let model = load_model(model_path)?;
    let from_ledger = match ledger {
        Some(l) => {
            let rows = ledger::existing(l)?.verified_outcomes()?;
            Some(
                rows.into_iter()
                    .map(|o| hhrisk_calibrate::samples::OutcomeRow {
                        household_id: o.household_id,
                        department: Some(o.department),
                        need: o.verified_need,
                        assistance: o.assistance,
                        batch: Some(o.batch),
                        selected_by: Some("alert".into()),
                    })
                    .collect::<Vec<_>>(),
            )
        }
        None => None,
    };
    let samples =
        hhrisk_calibrate::Samples::load_with(&model, samples_dir, io.encoding, from_ledger.as_deref())?;
    if samples.is_empty() {
        let dir = samples_dir.display();
        bail!(crate::tr!(
            "{dir}: no sample household has an outcome; calibration needs verified outcomes",
            "{dir}：样本中没有一户有核查结果；校准需要已核实的结果（outcomes.csv）"
        ));
    }
    let objective =
        hhrisk_calibrate::Objective::parse(objective, samples.len()).map_err(anyhow::Error::msg)?;
    Ok((model, samples, objective))
}

fn load_bands(model: &Model, thresholds: Option<&Path>) -> anyhow::Result<Bands> {
    let Some(path) = thresholds else { return Ok(model.bands.clone()) };
    let bands = Bands::from_path(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if bands.levels.is_empty() {
        // no band: no alert at all, not even from the trigger items
        let triggers: Vec<&str> = model.items.iter().filter(|i| i.trigger).map(|i| i.id.as_str()).collect();
        if !triggers.is_empty() {
            let (path, triggers) = (path.display(), triggers.join(", "));
            bail!(crate::tr!(
                "{path}: no warning bands, so no household would be alerted, not even by the model's trigger items \
                 ({triggers}); give the bands ([[bands.levels]] with name and min), or leave out --thresholds to use \
                 the model's",
                "{path}：没有预警区间，任何一户都不会预警，连模型的触发项（{triggers}）也不会；请给出区间\
                 （[[bands.levels]]，含 name 和 min），或去掉 --thresholds，使用模型自带的区间"
            ));
        }
        let path = path.display();
        eprintln!(
            "{}",
            crate::tr!(
                "warning: {path}: no warning bands: no household will be alerted",
                "警告：{path}：没有预警区间，不会有任何一户预警"
            )
        );
    }
    Ok(bands)
}

/// Problems as they are shown: control characters written as their codes
/// and, unless asked for unmasked, anything that looks like an ID number
/// masked, wherever it is.
fn shown(issues: Vec<Issue>, unmasked: bool) -> Vec<Issue> {
    let show = if unmasked { Issue::escaped } else { Issue::masked };
    issues.iter().map(show).collect()
}

fn print_issues(issues: &[Issue]) {
    for issue in issues.iter().take(SHOWN_ISSUES) {
        eprintln!("  {}", issue_text(issue));
    }
    if issues.len() > SHOWN_ISSUES {
        let more = issues.len() - SHOWN_ISSUES;
        eprintln!("  {}", crate::tr!("… and {more} more", "……另有 {more} 处"));
    }
}

/// A problem with a row, in the language of the run: where (file, line,
/// column, household, person) and what. The explanation itself is the
/// reader's, in English.
pub fn issue_text(issue: &Issue) -> String {
    if !crate::lang::zh() {
        return issue.to_string();
    }
    let mut s = format!("{}：第 {} 行", issue.file, issue.line);
    if let Some((n, name)) = &issue.column {
        s.push_str(&format!("，第 {n} 列（{name}）"));
    }
    if let Some(h) = &issue.household_id {
        s.push_str(&format!("，户 {h}"));
    }
    if let Some(p) = &issue.person_id {
        s.push_str(&format!("，人员 {p}"));
    }
    s.push_str(&format!("：{}", issue.message));
    s
}

/// Tells the user that members.csv was put in household order in memory,
/// and how to avoid it.
fn note_regrouped(roster_dir: &Path, bytes: usize) {
    let (file, mb) = (roster_dir.join("members.csv"), bytes.div_ceil(1 << 20));
    let file = file.display();
    eprintln!(
        "{}",
        crate::tr!(
            "note: {file}: the members of each household do not follow one another in the order of households.csv; \
             they were put in that order first, a part of the file at a time ({mb} MB held), which took an extra \
             pass over the file. Sorted that way, it streams without one.",
            "提示：{file}：各户成员没有按 households.csv 的户序连续排列；已先按户序分段重排（占用 {mb} MB），\
             多读了一遍文件。按户序排好后，可直接流式读取，不必多读这一遍。"
        )
    );
}

/// Says how the roster was read when it matters to the user: members put
/// in household order in memory, or the whole file read; and which
/// optional columns the files lack (every row took their default).
fn note_how(model: &Model, roster_dir: &Path, options: &ReadOptions, how: How) {
    if let How::Regrouped { bytes } = how {
        note_regrouped(roster_dir, bytes);
    }
    let absent = hhrisk_roster::absent_columns(model, roster_dir, options).unwrap_or_default();
    if !absent.is_empty() {
        let (dir, absent) = (roster_dir.display(), absent.join(", "));
        eprintln!(
            "{}",
            crate::tr!(
                "note: {dir}: the roster has no column {absent}: every row took the default the model gives \
                 (optional columns); add the column to use its values",
                "提示：{dir}：名册中没有列 {absent}，每一行都取了模型给定的默认值（可选列）；如要使用实际值，请补上该列"
            )
        );
    }
}

/// Reads a roster through [`hhrisk_roster::read`], keeping every batch's
/// output (for works whose outputs are small: problems, explanations,
/// lists).
fn read_all<W: Work>(
    model: &Model,
    dir: &Path,
    options: &ReadOptions,
    threads: usize,
    work: &W,
) -> Result<(hhrisk_roster::Summary, Vec<W::Output>), hhrisk_roster::RosterError> {
    let keep = |outputs: &mut Vec<W::Output>, output| {
        outputs.push(output);
        Ok(())
    };
    let (summary, outputs) =
        hhrisk_roster::read(model, dir, options, threads, work, || Ok(Vec::new()), keep)?;
    note_how(model, dir, options, summary.how);
    Ok((summary, outputs))
}

/// A table of groups (departments, alert kinds) with precision and recall,
/// in the language of the run.
pub(crate) fn groups_text(title: &str, groups: &[hhrisk_calibrate::evaluation::Group]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if groups.is_empty() {
        return out;
    }
    let zh = crate::lang::zh();
    let _ = writeln!(out, "\n{title}{}", if zh { "：" } else { ":" });
    for g in groups {
        let a = &g.accuracy;
        if zh {
            let row = format!(
                "  {} 预警 {:>6} 户  精确率 {:>7} {:<14} 召回率 {:>7} {}",
                pad(&g.name, 22),
                a.alerts,
                percent(a.precision),
                interval(a.precision_ci.wilson),
                percent(a.recall),
                interval(a.recall_ci.wilson)
            );
            let _ = writeln!(out, "{}", row.trim_end());
            continue;
        }
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
    out
}

//! `hhrisk score`: a roster scored into a scores file.

use std::collections::BTreeMap;
use std::io::Write;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use hhrisk_roster::Issue;
use hhrisk_roster::WorkError;
use hhrisk_score::output::write_rejects_in;
use hhrisk_score::{ScoreColumns, Scorer};
use hhrisk_tables::AtomicFile;

use super::*;

/// What `score` collects from a stream: the scores file, the alerts by
/// level, the problems and the households seen (for the progress bar).
struct Scoring {
    file: AtomicFile,
    alerts: BTreeMap<usize, usize>,
    issues: Vec<Issue>,
    seen: u64,
}

#[allow(clippy::too_many_arguments)]
pub fn score(
    model_path: &Path,
    roster_dir: &Path,
    out: &Path,
    thresholds: Option<&Path>,
    rejects: Option<&Path>,
    columns: ScoreColumns,
    unmasked: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let model = load_model(model_path)?;
    let bands = load_bands(&model, thresholds)?;
    let scorer = Scorer::new(&model, &bands);
    let loaded = start.elapsed();
    let options = io.read_options(unmasked);

    // Stream, in batches of households checked and scored on every core.
    // A roster whose members are not grouped in the order of its
    // households is put in that order, a part at a time, and streamed; it is read
    // whole only when that fails too (a member of an unknown household, a
    // repeated id), and the whole-file read reports why.
    let bar = progress(crate::tr!("households", "户"));
    set_total(&bar, &roster_dir.join("households.csv"));
    let work = hhrisk_score::ScoreBatches::new(scorer.clone(), columns);
    // each attempt writes a fresh scores file
    let fresh = || -> Result<Scoring, WorkError> {
        let write = |source| WorkError::Write { path: out.display().to_string(), source };
        let mut file = io.create(out).map_err(|e| write(std::io::Error::other(e)))?;
        let header = hhrisk_score::output::header(&model, columns);
        let mut writer = csv::Writer::from_writer(&mut file);
        writer.write_record(header).map_err(|e| write(e.into()))?;
        writer.flush().map_err(write)?;
        drop(writer);
        Ok(Scoring { file, alerts: BTreeMap::new(), issues: Vec::new(), seen: 0 })
    };
    let collect = |s: &mut Scoring, batch: hhrisk_score::ScoredBatch| {
        s.seen += batch.households as u64;
        bar.set_position(s.seen);
        for (level, &n) in batch.alerts.iter().enumerate() {
            if n > 0 {
                *s.alerts.entry(level).or_default() += n;
            }
        }
        s.issues.extend(batch.issues);
        s.file
            .write_all(&batch.rows)
            .map_err(|source| WorkError::Write { path: out.display().to_string(), source })
    };
    let (summary, Scoring { file, alerts, issues, .. }) =
        hhrisk_roster::read(&model, roster_dir, &options, io.threads, &work, fresh, collect)?;
    let issues = shown(issues, unmasked);
    note_how(&model, roster_dir, &options, summary.how);
    let (accepted, household_rows) = (summary.accepted, summary.household_rows);
    bar.finish_and_clear();
    let scored = start.elapsed();
    let refused = household_rows - accepted;
    if !issues.is_empty() && rejects.is_none() {
        drop(file);
        let n = issues.len();
        eprintln!("{}", crate::tr!("{n} problem(s) in the roster:", "名册中有 {n} 处问题："));
        print_issues(&issues);
        // every household may be fine and some member rows not (members
        // of a household that is not in households.csv)
        let what = if refused == 0 {
            let n = issues.len();
            let rows = plural(n, "row belongs", "rows belong");
            crate::tr!(
                "no household refused, but {n} member {rows} to no household of households.csv",
                "没有拒收的户，但有 {n} 行成员不属于 households.csv 中的任何一户"
            )
        } else {
            crate::tr!(
                "{refused} of {household_rows} households refused",
                "{household_rows} 户中拒收 {refused} 户"
            )
        };
        bail!(crate::tr!(
            "{what}; nothing written. Fix the rows above, or pass --rejects FILE to write them there and score the \
             rest",
            "{what}；未写出任何文件。请改正上面列出的行，或加 --rejects 文件名，把它们写到该文件中，其余的照常评分"
        ));
    }
    if let Some(path) = rejects {
        let file = io.create(path)?;
        write_rejects_in(file, &issues, crate::lang::zh())?.commit().with_context(|| cannot_write(path))?;
    }
    file.commit().with_context(|| cannot_write(out))?;

    let summary: Vec<String> =
        alerts.iter().map(|(&level, n)| format!("{} {n}", band_label(&bands.levels[level]))).collect();
    let shown_out = out.display();
    let alerted = match summary.is_empty() {
        true => crate::tr!("none", "无"),
        false => summary.join(if crate::lang::zh() { "，" } else { ", " }),
    };
    eprintln!(
        "{}",
        crate::tr!(
            "scored {accepted} of {household_rows} households → {shown_out} (alerts: {alerted})",
            "已评分 {accepted}/{household_rows} 户 → {shown_out}（预警：{alerted}）"
        )
    );
    if let Some(path) = rejects {
        let (households, n, problems) = (
            plural(refused, "household", "households"),
            issues.len(),
            plural(issues.len(), "problem", "problems"),
        );
        let path = path.display();
        eprintln!(
            "{}",
            crate::tr!(
                "refused {refused} {households} ({n} {problems}) → {path}",
                "拒收 {refused} 户（{n} 处问题）→ {path}"
            )
        );
    }
    if io.timings {
        let done = start.elapsed();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let each = (scored - loaded).as_secs_f64() * 1e6 / household_rows.max(1) as f64;
        eprintln!(
            "timings: model {:.1} ms; households read, checked, scored and written {:.1} ms ({each:.3} µs each); \
             files synced and renamed {:.1} ms; in all {:.1} ms (process start and exit not included)",
            ms(loaded),
            ms(scored - loaded),
            ms(done - scored),
            ms(done)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `one` for 1, else `many`.
fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

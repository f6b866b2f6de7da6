//! One function per subcommand: load, run the library, print.

use std::collections::BTreeMap;
use std::io::Write;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use hhrisk_model::{Bands, Model, ModelError};
use hhrisk_roster::stream::{stream_as, MemberOrder, StreamError, StreamSummary, Work};
use hhrisk_roster::{Issue, ReadOptions, Roster};
use hhrisk_score::output::{format_number, write_rejects};
use hhrisk_score::{ScoreColumns, ScoreWriter, Scorer};
use hhrisk_tables::date::format_date;
use hhrisk_tables::AtomicFile;
use serde_json::json;

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
        let mut file =
            AtomicFile::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        if self.bom {
            file.write_all("\u{feff}".as_bytes())?;
        }
        Ok(file)
    }
}

/// A progress counter on stderr, drawn only when stderr is a terminal and
/// the run lasts: quiet in pipes, logs and tests.
fn progress(what: &'static str) -> indicatif::ProgressBar {
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
    let model = load_model(model_path)?;
    let samples = hhrisk_calibrate::Samples::load(&model, samples_dir, io.encoding)?;
    if samples.is_empty() {
        bail!(
            "{}: no sample household has an outcome; calibration needs verified outcomes",
            samples_dir.display()
        );
    }
    let objective =
        hhrisk_calibrate::Objective::parse(objective, samples.len()).map_err(anyhow::Error::msg)?;
    Ok((model, samples, objective))
}

fn load_bands(model: &Model, thresholds: Option<&Path>) -> anyhow::Result<Bands> {
    match thresholds {
        Some(path) => Bands::from_path(path).map_err(|e| anyhow::anyhow!("{e}")),
        None => Ok(model.bands.clone()),
    }
}

fn print_issues(issues: &[Issue]) {
    for issue in issues.iter().take(SHOWN_ISSUES) {
        eprintln!("  {issue}");
    }
    if issues.len() > SHOWN_ISSUES {
        eprintln!("  … and {} more", issues.len() - SHOWN_ISSUES);
    }
}

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
            Ok(m) => println!(
                "model {} ({} {}): {} categories, {} items, {} input columns, {} parameters: OK",
                model_path.display(),
                m.meta.name,
                m.meta.version,
                m.categories.len(),
                m.items.len(),
                m.columns.len(),
                m.parameters.len()
            ),
            Err(e) => eprintln!("model {}: {e}", model_path.display()),
        }
    }
    if let (Some(dir), Ok(m)) = (roster, &model) {
        let roster_json = match check_roster(m, dir, &io.read_options(unmasked), io.threads) {
            Ok(r) => {
                valid &= r.issues.is_empty();
                if !json {
                    println!(
                        "roster {}: {} households, {} members; {} accepted, {} refused, {} problems",
                        dir.display(),
                        r.household_rows,
                        r.member_rows,
                        r.accepted,
                        r.household_rows - r.accepted,
                        r.issues.len()
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
                    eprintln!("roster {}: {e}", dir.display());
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
    match stream_all(model, dir, options, threads, &refusals).map_err(|e| e.to_string())? {
        Ok((summary, issues)) => Ok(RosterCheck {
            household_rows: summary.household_rows,
            member_rows: summary.member_rows,
            accepted: summary.accepted,
            issues: issues.into_iter().flatten().collect(),
        }),
        Err(StreamError::NotAligned(_) | StreamError::Repeated(_)) => {
            let r = Roster::read(model, dir, options).map_err(|e| e.to_string())?;
            Ok(RosterCheck {
                household_rows: r.household_rows,
                member_rows: r.member_rows,
                accepted: r.households.len(),
                issues: r.issues,
            })
        }
        Err(e) => Err(e.to_string()),
    }
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

/// Tells the user that members.csv was put in household order in memory,
/// and how to avoid it.
fn note_regrouped(roster_dir: &Path, bytes: usize) {
    eprintln!(
        "note: {}: the members of each household do not follow one another in the order of households.csv; \
         they were put in that order in memory ({} MB). Sorted that way, the file streams in constant memory.",
        roster_dir.join("members.csv").display(),
        bytes.div_ceil(1 << 20)
    );
}

/// A roster streamed: its counts and what was collected; or why it must be
/// read whole.
type Outcome<S> = Result<(StreamSummary, S), StreamError>;

/// Streams a roster as it is and, when its members are not grouped in
/// household order, again with them put in that order in memory (with a
/// note). Each attempt starts from `fresh()`, to which `collect` adds the
/// batches' outputs in file order. `Err(NotAligned | Repeated)` inside when
/// the roster must be read whole.
fn stream_fresh<W: Work, S>(
    model: &Model,
    dir: &Path,
    options: &ReadOptions,
    threads: usize,
    work: &W,
    mut fresh: impl FnMut() -> anyhow::Result<S>,
    mut collect: impl FnMut(&mut S, W::Output) -> Result<(), String> + Send,
) -> anyhow::Result<Outcome<S>>
where
    S: Send,
{
    let mut result = Err(StreamError::NotAligned(String::new()));
    for order in [MemberOrder::AsItIs, MemberOrder::Regrouped] {
        let mut state = fresh()?;
        let streamed =
            stream_as(model, dir, options, threads, work, |output| collect(&mut state, output), order);
        result = streamed.map(|summary| (summary, state));
        if !matches!(result, Err(StreamError::NotAligned(_))) {
            break;
        }
    }
    if let Ok((summary, _)) = &result {
        if summary.regrouped_bytes > 0 {
            note_regrouped(dir, summary.regrouped_bytes);
        }
    }
    Ok(result)
}

/// [`stream_fresh`] keeping every batch's output (for works whose outputs
/// are small: problems, explanations, lists).
fn stream_all<W: Work>(
    model: &Model,
    dir: &Path,
    options: &ReadOptions,
    threads: usize,
    work: &W,
) -> anyhow::Result<Outcome<Vec<W::Output>>> {
    let keep = |outputs: &mut Vec<W::Output>, output| {
        outputs.push(output);
        Ok(())
    };
    stream_fresh(model, dir, options, threads, work, || Ok(Vec::new()), keep)
}

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
    // households is put in that order in memory and streamed; it is read
    // whole only when that fails too (a member of an unknown household, a
    // repeated id), and the whole-file read reports why.
    let bar = progress("households");
    let work = hhrisk_score::ScoreBatches::new(scorer.clone(), columns);
    // each attempt writes a fresh scores file
    let fresh = || -> anyhow::Result<Scoring> {
        let mut file = io.create(out)?;
        let mut header = csv::Writer::from_writer(&mut file);
        header.write_record(hhrisk_score::output::header(&model, columns))?;
        header.flush()?;
        drop(header);
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
        s.file.write_all(&batch.rows).map_err(|e| format!("cannot write {}: {e}", out.display()))
    };
    let streamed = stream_fresh(&model, roster_dir, &options, io.threads, &work, fresh, collect)?;
    let (file, accepted, household_rows, alerts, issues) = match streamed {
        Ok((summary, Scoring { file, alerts, issues, .. })) => {
            (file, summary.accepted, summary.household_rows, alerts, issues)
        }
        Err(StreamError::NotAligned(_) | StreamError::Repeated(_)) => {
            let mut alerts = BTreeMap::new();
            let roster = Roster::read(&model, roster_dir, &options)?;
            let mut writer = ScoreWriter::new(io.create(out)?, &model, columns)?;
            let mut score = Default::default();
            for h in &roster.households {
                scorer.score_into(&roster.inputs(h), &mut score);
                writer.write(&model, &bands, &h.id, &h.village, &score)?;
                if let Some(level) = score.alert {
                    *alerts.entry(level).or_default() += 1;
                }
            }
            (writer.finish()?, roster.households.len(), roster.household_rows, alerts, roster.issues)
        }
        Err(StreamError::Roster(e)) => return Err(e.into()),
        Err(e) => bail!("{e}"),
    };
    bar.finish_and_clear();
    let scored = start.elapsed();
    let refused = household_rows - accepted;
    if !issues.is_empty() && rejects.is_none() {
        drop(file);
        eprintln!("{} problem(s) in the roster:", issues.len());
        print_issues(&issues);
        bail!(
            "{refused} of {household_rows} households refused; nothing written. Fix the rows above, or pass \
             --rejects FILE to write them there and score the rest"
        );
    }
    if let Some(path) = rejects {
        let file = io.create(path)?;
        write_rejects(file, &issues)?.commit().with_context(|| format!("cannot write {}", path.display()))?;
    }
    file.commit().with_context(|| format!("cannot write {}", out.display()))?;

    let summary: Vec<String> =
        alerts.iter().map(|(&level, n)| format!("{} {n}", bands.levels[level].name)).collect();
    eprintln!(
        "scored {accepted} of {household_rows} households → {} (alerts: {})",
        out.display(),
        if summary.is_empty() { "none".to_string() } else { summary.join(", ") }
    );
    if let Some(path) = rejects {
        eprintln!("refused {refused} households ({} problems) → {}", issues.len(), path.display());
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

pub fn explain(
    model_path: &Path,
    roster_dir: &Path,
    household: &str,
    thresholds: Option<&Path>,
    json: bool,
    unmasked: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_roster::stream::{each, Streamed};
    use hhrisk_score::{explain_household, Explanation};

    /// What became of the household asked about.
    enum Found {
        Explained(Box<Explanation>),
        Refused(Vec<Issue>),
    }

    let model = load_model(model_path)?;
    let bands = load_bands(&model, thresholds)?;
    let scorer = Scorer::new(&model, &bands);
    let options = io.read_options(unmasked);
    // the roster is streamed (as `score` reads it), or read whole when it must be
    let work = each(|h, found: &mut Vec<Found>| {
        match h {
            Streamed::Household(h) if h.id == household => {
                found.push(Found::Explained(Box::new(explain_household(&scorer, h, unmasked))));
            }
            Streamed::Refused(issues)
                if issues.iter().any(|i| i.household_id.as_deref() == Some(household)) =>
            {
                found.push(Found::Refused(issues.to_vec()));
            }
            _ => {}
        }
        Ok(())
    });
    let found = match stream_all(&model, roster_dir, &options, io.threads, &work)? {
        Ok((_, found)) => found.into_iter().flatten().next(),
        Err(StreamError::NotAligned(_) | StreamError::Repeated(_)) => {
            let roster = Roster::read(&model, roster_dir, &options)?;
            match roster.households.iter().find(|h| h.id == household) {
                Some(h) => {
                    Some(Found::Explained(Box::new(hhrisk_score::explain(&scorer, &roster, h, unmasked))))
                }
                None => {
                    let issues: Vec<Issue> = roster
                        .issues
                        .iter()
                        .filter(|i| i.household_id.as_deref() == Some(household))
                        .cloned()
                        .collect();
                    (!issues.is_empty()).then_some(Found::Refused(issues))
                }
            }
        }
        Err(StreamError::Roster(e)) => return Err(e.into()),
        Err(e) => bail!("{e}"),
    };
    let explanation = match found {
        Some(Found::Explained(explanation)) => explanation,
        Some(Found::Refused(issues)) => {
            eprintln!("household {household} was refused; it has no score until these are fixed:");
            print_issues(&issues);
            return Ok(ExitCode::FAILURE);
        }
        None => bail!("household {household} is not in {}", roster_dir.join("households.csv").display()),
    };
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&explanation)?)?;
    } else {
        write!(stdout, "{}", explanation.to_text())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Output formats of `hhrisk items`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ItemsFormat {
    /// A Markdown table.
    Markdown,
    /// CSV.
    Csv,
}

pub fn items(model_path: &Path, format: ItemsFormat) -> anyhow::Result<ExitCode> {
    let model = load_model(model_path)?;
    let rows = model.items.iter().map(|it| {
        let flags = [(it.main, "main"), (it.trigger, "trigger")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect::<Vec<_>>()
            .join(", ");
        [
            it.id.clone(),
            model.categories[it.category].id.clone(),
            it.name.clone(),
            it.name_en.clone().unwrap_or_default(),
            format!("`{}`", it.when),
            format_number(it.points),
            format!("{:?}", it.per).to_lowercase(),
            model.departments[it.department].id.clone(),
            flags,
            it.rationale.clone().unwrap_or_default(),
        ]
    });
    let header =
        ["id", "category", "name", "name_en", "when", "points", "per", "department", "flags", "rationale"];
    let mut stdout = std::io::stdout().lock();
    match format {
        ItemsFormat::Markdown => {
            writeln!(stdout, "| {} |", header.join(" | "))?;
            writeln!(stdout, "|{}", "---|".repeat(header.len()))?;
            for row in rows {
                let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
                writeln!(stdout, "| {} |", cells.join(" | "))?;
            }
        }
        ItemsFormat::Csv => {
            let mut csv = csv::Writer::from_writer(stdout);
            csv.write_record(header)?;
            for mut row in rows {
                row[4] = row[4].trim_matches('`').to_string();
                csv.write_record(&row)?;
            }
            csv.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn simulate(out: &Path, options: &hhrisk_simulate::Options) -> anyhow::Result<ExitCode> {
    let summary = hhrisk_simulate::simulate(out, options)?;
    for (dir, households, members, in_need) in &summary.rosters {
        eprintln!(
            "{}: {households} households, {members} members, {in_need} verified in need ({:.1} %)",
            dir.display(),
            100.0 * *in_need as f64 / (*households).max(1) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    model_path: &Path,
    samples_dir: &Path,
    out: &Path,
    objective: &str,
    bands: Option<Vec<String>>,
    replicates: usize,
    seed: u64,
    json: bool,
    tune: Option<hhrisk_calibrate::tune::TuneOptions>,
    size_warning_factor: f64,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::{calibrate, fit::BandName, thresholds_toml, Options};
    if let Some(t) = &tune {
        if !(0.0..1.0).contains(&t.max_change) {
            bail!("--max-change must be at least 0 and below 1 (0.5: points move by at most half)");
        }
    }
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let mut options = Options::new(&model, objective);
    if let Some(names) = bands {
        options.bands = names
            .into_iter()
            .map(|name| {
                let known = model.bands.levels.iter().find(|b| b.name == name);
                BandName {
                    label: known.and_then(|b| b.label.clone()),
                    label_en: known.and_then(|b| b.label_en.clone()),
                    name,
                }
            })
            .collect();
    }
    if options.bands.is_empty() {
        bail!("no bands to fit: the model declares none; name them with --bands red,orange,yellow");
    }
    options.replicates = replicates;
    options.seed = seed;
    options.tune = tune;
    options.size_warning_factor = size_warning_factor;
    let result = calibrate(&model, &samples, &options);

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let header = format!(
        "Warning bands fitted by hhrisk calibrate\nmodel: {} ({} {})\nsamples: {} ({} households with outcomes)\nobjective: {}{}",
        model_path.display(),
        model.meta.name,
        model.meta.version,
        samples_dir.display(),
        samples.len(),
        result.objective.describe(),
        if result.objective_met {
            String::new()
        } else {
            format!(" (not met on these villages: {})", result.objective.fallback())
        }
    );
    let write = |name: &str, text: &str| -> anyhow::Result<()> {
        let path = out.join(name);
        let mut file =
            AtomicFile::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(text.as_bytes())?;
        file.commit().with_context(|| format!("cannot write {}", path.display()))
    };
    let json_text = serde_json::to_string_pretty(&result)? + "\n";
    write("thresholds.toml", &thresholds_toml(&result, &options, &header))?;
    write("calibration.json", &json_text)?;
    if let Some(tuned) = &result.tuned {
        let text = std::fs::read_to_string(model_path)
            .with_context(|| format!("cannot read {}", model_path.display()))?;
        let points: std::collections::HashMap<String, f64> =
            tuned.points.iter().map(|p| (p.item.clone(), p.suggested)).collect();
        let rewritten = hhrisk_model::rewrite_points(&text, &model_path.display().to_string(), &points)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let held = &tuned.leave_one_village_out;
        let note = format!(
            "# Tuned by hhrisk calibrate --tune from {} on {}: item points suggested by a logistic\n\
             # regression, each kept on its sign and within {:.0} % of its value. Fitted on all {} sample\n\
             # villages, so its accuracy on them is optimistic. Tuned without each village and measured on it,\n\
             # at the current points' alert volume: precision {} with the current points, {} tuned (McNemar\n\
             # p = {:.3}). Review before adopting; calibration.json (\"tuned\") has the whole comparison.\n\n",
            model_path.display(),
            samples_dir.display(),
            100.0 * tuned.options.max_change,
            samples.villages.len(),
            percent(held.current.precision),
            percent(held.tuned.precision),
            tuned.paired_test.p_value
        );
        write("tuned.toml", &(note + &rewritten))?;
    }
    if json {
        print!("{json_text}");
    } else {
        print!("{}", summary(&result, &samples));
    }
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    let mut written = vec!["thresholds.toml", "calibration.json"];
    if result.tuned.is_some() {
        written.push("tuned.toml");
    }
    let written: Vec<String> = written.iter().map(|f| out.join(f).display().to_string()).collect();
    eprintln!("wrote {}", written.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// Checks `--size-warning-factor`.
pub fn size_factor(factor: f64) -> anyhow::Result<f64> {
    if !(factor.is_finite() && factor > 1.0) {
        bail!("--size-warning-factor {factor}: give a number above 1 (2: warn when a size group is alerted twice as often as it is in need, or half as often)");
    }
    Ok(factor)
}

/// `NEW.fit.json` beside `NEW.toml`.
pub fn fit_json_path(out: &Path) -> std::path::PathBuf {
    out.with_extension("fit.json")
}

#[allow(clippy::too_many_arguments)]
pub fn fit(
    model_path: &Path,
    samples_dir: &Path,
    out: &Path,
    objective: &str,
    fit: &hhrisk_calibrate::scorecard::FitOptions,
    replicates: usize,
    seed: u64,
    json: bool,
    size_warning_factor: f64,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::{calibrate, scorecard::fit_points, Options};
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let mut options = Options::new(&model, objective);
    let bandless = options.bands.is_empty();
    if bandless {
        // a model without bands gets Xiaochang's three
        options.bands =
            [("red", "红色预警", "Red"), ("orange", "橙色预警", "Orange"), ("yellow", "黄色预警", "Yellow")]
                .into_iter()
                .map(|(name, label, label_en)| hhrisk_calibrate::fit::BandName {
                    name: name.into(),
                    label: Some(label.into()),
                    label_en: Some(label_en.into()),
                })
                .collect();
    }
    options.replicates = replicates;
    options.seed = seed;
    options.size_warning_factor = size_warning_factor;
    let card = fit_points(&model, &samples, fit, &options)?;

    // the fitted model: the input file with new points, dropped items
    // switched off, the normalisation, then its bands fitted again
    let text = std::fs::read_to_string(model_path)
        .with_context(|| format!("cannot read {}", model_path.display()))?;
    let shown = out.display().to_string();
    let fit_json = fit_json_path(out);
    let fit_json_name = fit_json
        .file_name()
        .map_or_else(|| fit_json.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut rewrite = hhrisk_model::Rewrite { normalise: Some(card.normalise), ..Default::default() };
    for (item, fitted) in model.items.iter().zip(&card.items) {
        if item.off {
            continue;
        }
        rewrite.points.insert(item.id.clone(), fitted.points);
        if fitted.dropped {
            rewrite.off.push((
                item.id.clone(),
                format!(
                    "hhrisk fit: the fitted points fell to 0 (coefficient {:.4}, was {} points); see {fit_json_name}",
                    fitted.coefficient,
                    format_number(item.points)
                ),
            ));
        }
    }
    let fitted_text =
        hhrisk_model::rewrite_model(&text, &shown, &rewrite).map_err(|e| anyhow::anyhow!("{e}"))?;
    let new_model = Model::from_toml(&fitted_text, &shown).map_err(|e| anyhow::anyhow!("{e}"))?;
    let points: Vec<f64> = new_model.items.iter().map(|i| if i.off { 0.0 } else { i.points }).collect();
    let mut rescored = samples.clone();
    rescored.score = samples.rescore(&new_model, &points);
    let bands = calibrate(&new_model, &rescored, &options);
    let rewrite = hhrisk_model::Rewrite {
        band_mins: bands.bands.iter().map(|b| (b.level.clone(), b.min_score)).collect(),
        // bands the data could not tell apart are taken out
        drop_bands: new_model
            .bands
            .levels
            .iter()
            .filter(|l| !bands.bands.iter().any(|b| b.level == l.name))
            .map(|l| l.name.clone())
            .collect(),
        band_trigger: bands.trigger_band.clone(),
        ..Default::default()
    };
    let mut fitted_text =
        hhrisk_model::rewrite_model(&fitted_text, &shown, &rewrite).map_err(|e| anyhow::anyhow!("{e}"))?;
    if bandless {
        let bands_text =
            hhrisk_calibrate::thresholds_toml(&bands, &options, "Warning bands fitted by hhrisk fit");
        fitted_text = format!("{}\n\n{bands_text}", fitted_text.trim_end());
    }
    // the file must read back as the model it describes
    let check = Model::from_toml(&fitted_text, &shown).map_err(|e| anyhow::anyhow!("{e}"))?;
    if check.bands.levels.len() != bands.bands.len() {
        bail!("internal error: the fitted model's bands did not read back; please report it");
    }
    let held = &card.held_out;
    let header = format!(
        "# Points fitted by hhrisk fit from {} on {} ({} households with outcomes, {} villages):\n\
         # class-weighted L2 logistic regression (C = {}, chosen by leave-one-village-out), normalise = {},\n\
         # largest points ±{}, {}. Held out, average precision {} with the current points, {} with these.\n\
         # Bands fitted again on the same villages. Every figure: {fit_json_name}\n",
        model_path.display(),
        samples_dir.display(),
        samples.len(),
        samples.villages.len(),
        card.penalty.c,
        card.normalise,
        card.max_points,
        if card.sign_constraints { "items keep their authors' signs" } else { "signs chosen by the data" },
        held.average_precision.current.map_or("–".into(), |v| format!("{v:.3}")),
        held.average_precision.fitted.map_or("–".into(), |v| format!("{v:.3}")),
    );
    let mut report = serde_json::to_value(&card)?;
    report["model"] = json!(model_path.display().to_string());
    report["households"] = json!(samples.len());
    report["fitted_bands"] = json!({
        "objective": bands.objective,
        "objective_met": bands.objective_met,
        "bands": bands.bands,
        "band_figures": bands.band_figures,
        "in_sample": bands.in_sample,
        "leave_one_village_out": bands.leave_one_village_out.accuracy,
        "likelihood": bands.likelihood,
        "warnings": bands.warnings,
    });
    report["by_household_size"] = serde_json::to_value(&bands.by_household_size)?;
    let json_text = serde_json::to_string_pretty(&report)? + "\n";
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for (path, body) in [(out.to_path_buf(), header + &fitted_text), (fit_json.clone(), json_text.clone())] {
        let mut file =
            AtomicFile::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(body.as_bytes())?;
        file.commit().with_context(|| format!("cannot write {}", path.display()))?;
    }
    for w in card.warnings.iter().chain(&bands.warnings) {
        eprintln!("warning: {w}");
    }
    if json {
        print!("{json_text}");
    } else {
        print!("{}", fit_summary(&card, &bands, &samples));
    }
    eprintln!("wrote {}, {}", out.display(), fit_json.display());
    Ok(ExitCode::SUCCESS)
}

fn fit_summary(
    card: &hhrisk_calibrate::scorecard::Scorecard,
    bands: &hhrisk_calibrate::Calibration,
    samples: &hhrisk_calibrate::Samples,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let f3 = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
    let _ = writeln!(
        s,
        "fitted on {} households in {} villages; normalise = {} ({}); C = {} (chosen by leave-one-village-out)",
        samples.len(),
        samples.villages.len(),
        card.normalise,
        match card.normalise_chosen_by {
            "auto" => "chosen: it ranks best on villages left out",
            "auto (the model states none)" => {
                "the model states none ([scoring] normalise), so the one that ranks best on villages left out"
            }
            "model" => "the model's",
            _ => "as asked",
        },
        card.penalty.c
    );
    if card.candidates.len() > 1 {
        let _ = writeln!(s, "\nnormalisations tried (held out, fitted points):");
        for c in &card.candidates {
            let _ = writeln!(
                s,
                "  {:<13} average precision {}   AUC {}{}",
                c.normalise.name(),
                f3(c.average_precision),
                f3(c.auc),
                if c.normalise == card.normalise { "   ← chosen" } else { "" }
            );
        }
    }
    let h = &card.held_out;
    let _ = writeln!(s, "\nheld out (each village scored by points fitted without it):");
    let _ = writeln!(s, "                     current   fitted   (before rounding)");
    for (name, p) in [("average precision", h.average_precision), ("AUC", h.auc)] {
        let _ = writeln!(
            s,
            "  {:<18} {:>7}  {:>7}   ({})",
            name,
            f3(p.current),
            f3(p.fitted),
            f3(p.fitted_unrounded)
        );
    }
    let t = &h.paired_test;
    let _ = writeln!(
        s,
        "  at the current model's alert volume ({} alerts): precision {} → {}; difference {:+.1} points {} \
         (village bootstrap), McNemar p = {:.3} ({} households in need found only by the current points, {} only by the fitted)",
        h.at_current_volume.current.alerts,
        percent(h.at_current_volume.current.precision),
        percent(h.at_current_volume.tuned.precision),
        100.0 * t.precision_difference,
        interval(t.difference_ci),
        t.p_value,
        t.current_only,
        t.tuned_only
    );
    let dropped: Vec<&str> = card.items.iter().filter(|i| i.dropped).map(|i| i.item.as_str()).collect();
    let changed = card.items.iter().filter(|i| i.constraint != "off" && i.points != i.current_points).count();
    let _ = writeln!(
        s,
        "\nitems: {} with new points, {} switched off (points fell to 0){}{}",
        changed,
        dropped.len(),
        if dropped.is_empty() { "" } else { ": " },
        dropped.join(", ")
    );
    let sizes = &h.by_household_size;
    let _ = writeln!(s, "\nheld-out alerts by household size (current → fitted):");
    for (c, f) in sizes.current.iter().zip(&sizes.fitted) {
        let _ = writeln!(
            s,
            "  {:<4} members: need rate {:>7}   alert rate {:>7} → {:>7}   precision {:>7} → {:>7}",
            c.group,
            percent(c.need_rate),
            percent(c.alert_rate),
            percent(f.alert_rate),
            percent(c.precision),
            percent(f.precision)
        );
    }
    let _ = writeln!(s, "\nbands of the fitted model:");
    for b in &bands.band_figures {
        let _ = writeln!(
            s,
            "  {} {:>8}  {:>5} households  precision {} {}",
            pad(&b.level, 8),
            format!("≥ {}", format_number(b.min_score)),
            b.households,
            percent(b.precision),
            interval(b.precision_ci)
        );
    }
    s
}

/// The table by household size, as text (empty for no table).
fn size_section(groups: &[hhrisk_calibrate::household_size::SizeGroup]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if groups.is_empty() {
        return s;
    }
    let _ = writeln!(s, "\nby household size:");
    let _ = writeln!(s, "  members  households  in need   alerts  alert rate  need rate  precision   recall");
    for g in groups {
        let _ = writeln!(
            s,
            "  {:<7} {:>11} {:>8} {:>8} {:>11} {:>10} {:>10} {:>8}",
            g.group,
            g.households,
            g.in_need,
            g.alerts,
            percent(g.alert_rate),
            percent(g.need_rate),
            percent(g.precision),
            percent(g.recall)
        );
    }
    s
}

/// Pads to a display width, counting CJK characters as two columns.
fn pad(text: &str, width: usize) -> String {
    let shown: usize = text.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(shown)))
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{:.1} %", 100.0 * x))
}

fn interval(i: Option<hhrisk_calibrate::intervals::Interval>) -> String {
    i.map_or_else(String::new, |i| format!("[{:.1}, {:.1}]", 100.0 * i.lo, 100.0 * i.hi))
}

fn summary(r: &hhrisk_calibrate::Calibration, samples: &hhrisk_calibrate::Samples) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{} households with outcomes in {} villages", samples.len(), samples.villages.len());
    if samples.unverified > 0 {
        let _ = writeln!(s, "({} households without an outcome left out)", samples.unverified);
    }
    let _ = writeln!(s, "\nfitted bands (score, normalise = {}):", r.normalise);
    for b in &r.band_figures {
        let _ = writeln!(
            s,
            "  {:<8} ≥ {:>8.3}   {:>5} households, {:>5} in need: precision {} {}",
            b.level,
            b.min_score,
            b.households,
            b.in_need,
            percent(b.precision),
            interval(b.precision_ci)
        );
    }
    let line = |s: &mut String, name: &str, a: &hhrisk_calibrate::metrics::Accuracy| {
        let _ = writeln!(
            s,
            "  {} precision {:>7} {:<14} recall {:>7} {:<14} alerts {}",
            pad(name, 30),
            percent(a.precision),
            interval(a.precision_ci.bootstrap.or(a.precision_ci.wilson)),
            percent(a.recall),
            interval(a.recall_ci.bootstrap.or(a.recall_ci.wilson)),
            a.alerts
        );
    };
    let _ = writeln!(s, "\naccuracy (95 % intervals: bootstrap over villages and households):");
    line(&mut s, "default bands of the model", &r.baseline.in_sample);
    line(&mut s, "fitted bands, in sample", &r.in_sample);
    line(&mut s, "fitted, leave-one-village-out", &r.leave_one_village_out.accuracy);
    let _ = writeln!(s, "\nleave-one-village-out, each village measured with bands fitted on the others:");
    for f in &r.leave_one_village_out.folds {
        line(&mut s, &f.village, &f.accuracy);
    }
    s.push_str(&size_section(&r.by_household_size));
    if let Some(t) = &r.tuned {
        let _ = writeln!(
            s,
            "\ntuned points (tuned.toml is fitted on all {} sample villages: its in-sample rows are optimistic; the \
             leave-one-village-out rows tune without each village and measure on it), at the same alert volume as \
             the current points:",
            samples.villages.len()
        );
        line(&mut s, "current, in sample", &t.in_sample.current);
        line(&mut s, "tuned, in sample (optimistic)", &t.in_sample.tuned);
        line(&mut s, "current, leave-one-village-out", &t.leave_one_village_out.current);
        line(&mut s, "tuned, leave-one-village-out", &t.leave_one_village_out.tuned);
        let p = &t.paired_test;
        let _ = writeln!(
            s,
            "  paired test (McNemar, exact): {} households in need found only by the tuned points, {} only by the current; p = {:.3}; precision difference {:+.1} points {}",
            p.tuned_only,
            p.current_only,
            p.p_value,
            100.0 * p.precision_difference,
            interval(p.difference_ci)
        );
        let r = &t.held_out_ranking;
        let f3 = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(
            s,
            "  held out, each village ranked by points tuned without it: average precision {} → {}, AUC {} → {}",
            f3(r.average_precision_current),
            f3(r.average_precision_tuned),
            f3(r.auc_current),
            f3(r.auc_tuned)
        );
        let changed: Vec<String> = t
            .points
            .iter()
            .filter(|p| p.suggested != p.current)
            .map(|p| format!("{} {}→{}", p.item, format_number(p.current), format_number(p.suggested)))
            .collect();
        let _ = writeln!(s, "  {} items change: {}", changed.len(), changed.join(", "));
        let _ = writeln!(
            s,
            "  (--tune keeps each item on its sign and within --max-change of its points; `hhrisk fit` learns points \
             without that cage, with the penalty chosen on villages left out)"
        );
    }
    s
}

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

/// Report languages on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LangArg {
    /// 中文
    Zh,
    /// English
    En,
}

#[allow(clippy::too_many_arguments)]
pub fn report(
    model_path: &Path,
    samples_dir: &Path,
    out: &Path,
    lang: LangArg,
    objective: &str,
    replicates: usize,
    seed: u64,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_calibrate::{calibrate, tune::TuneOptions, Options};
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let mut options = Options::new(&model, objective);
    if options.bands.is_empty() {
        bail!("the model declares no bands to fit");
    }
    options.replicates = replicates;
    options.seed = seed;
    options.tune = Some(TuneOptions::default());
    let calibration = calibrate(&model, &samples, &options);
    let lang = match lang {
        LangArg::Zh => hhrisk_report::Lang::Zh,
        LangArg::En => hhrisk_report::Lang::En,
    };
    let report =
        hhrisk_report::build(&model, &samples, calibration, &samples_dir.display().to_string(), lang);
    let files = hhrisk_report::write(&report, out)?;
    eprintln!("wrote {} files; open {}", files.len(), out.join("index.html").display());
    Ok(ExitCode::SUCCESS)
}

/// Formats of lists on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// CSV, UTF-8 (add --bom for Excel).
    Csv,
    /// Excel workbook.
    Xlsx,
}

/// Reads the alerted households of a scores file (only those rows, and
/// only the columns used).
fn read_alerts(scores: &Path, io: Io) -> anyhow::Result<Vec<hhrisk_monitor::dispatch::Alert>> {
    use hhrisk_tables::TextTable;
    let wanted = ["household_id", "alert_level", "score", "per_capita_score"];
    let t = TextTable::read_columns(scores, "scores", io.encoding, &wanted, |header, fields| {
        let level = header.iter().position(|h| h == "alert_level");
        level.and_then(|l| fields.get(l)).is_some_and(|l| !l.is_empty())
    })?;
    let (Some(id), Some(l)) = (t.column("household_id"), t.column("alert_level")) else {
        bail!(
            "{}: line 1 (header): needs `household_id` and `alert_level`, as `hhrisk score` writes",
            t.origin
        );
    };
    // `score` (bands apply to it); an older file has only `per_capita_score`
    let score = t.column("score").or(t.column("per_capita_score"));
    // only rows with an alert were kept
    Ok(t.rows
        .iter()
        .map(|(_, r)| hhrisk_monitor::dispatch::Alert {
            household_id: r[id].clone(),
            level: r[l].clone(),
            score: score.and_then(|s| r.get(s)).cloned().unwrap_or_default(),
        })
        .collect())
}

/// Names of the members of the alerted households, from the roster's
/// members table (`name` column), by person id.
fn read_names(
    roster: &Path,
    alerted: &std::collections::HashMap<&str, Vec<usize>>,
    io: Io,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let path =
        if hhrisk_tables::is_workbook(roster) { roster.to_path_buf() } else { roster.join("members.csv") };
    let wanted = ["household_id", "person_id", "name"];
    let t =
        hhrisk_tables::TextTable::read_columns(&path, "members", io.encoding, &wanted, |header, fields| {
            let household = header.iter().position(|h| h == "household_id");
            household.and_then(|h| fields.get(h)).is_some_and(|h| alerted.contains_key(h.as_str()))
        })?;
    Ok(match (t.column("person_id"), t.column("name")) {
        (Some(p), Some(n)) => {
            t.rows.iter().map(|(_, r)| (r[p].clone(), r.get(n).cloned().unwrap_or_default())).collect()
        }
        _ => Default::default(),
    })
}

#[allow(clippy::too_many_arguments)]
pub fn dispatch(
    model_path: &Path,
    scores: &Path,
    roster_dir: &Path,
    out: &Path,
    format: FormatArg,
    batch: &str,
    unmasked: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_monitor::dispatch::{dispatch, masking_note, DispatchOptions, Dispatcher, Lines};
    use hhrisk_roster::stream::{each, Streamed};
    use std::collections::HashMap;

    let model = load_model(model_path)?;
    let options = DispatchOptions { unmasked };
    let alerts = read_alerts(scores, io)?;
    // household id → its alerts (a scores file may repeat one)
    let mut alerted: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, a) in alerts.iter().enumerate() {
        alerted.entry(a.household_id.as_str()).or_default().push(k);
    }
    let names = read_names(roster_dir, &alerted, io)?;
    // the roster is streamed (as `score` reads it), or read whole when it
    // must be; the lists are the same
    let dispatcher = Dispatcher::new(&model, options);
    let work = each(|h, found: &mut Vec<(usize, Lines)>| {
        if let Streamed::Household(h) = h {
            for &a in alerted.get(h.id).map_or(&[][..], Vec::as_slice) {
                found.push((a, dispatcher.household(&alerts[a], h, &names)));
            }
        }
        Ok(())
    });
    let read = io.read_options(false);
    let d = match stream_all(&model, roster_dir, &read, io.threads, &work)? {
        Ok((_, batches)) => {
            let mut lines: Vec<Option<Lines>> = vec![None; alerts.len()];
            for (a, l) in batches.into_iter().flatten() {
                lines[a] = Some(l);
            }
            dispatcher.assemble(&alerts, lines)
        }
        Err(StreamError::NotAligned(_) | StreamError::Repeated(_)) => {
            let roster = Roster::read(&model, roster_dir, &read)?;
            dispatch(&model, &roster, &alerts, &names, options)
        }
        Err(StreamError::Roster(e)) => return Err(e.into()),
        Err(e) => bail!("{e}"),
    };
    let format = match format {
        FormatArg::Csv => hhrisk_monitor::Format::Csv,
        FormatArg::Xlsx => hhrisk_monitor::Format::Xlsx,
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut counts = serde_json::Map::new();
    for (dept, table) in &d.departments {
        table.write(&out.join(format!("{dept}.{}", format.extension())), format, dept, io.bom)?;
        counts.insert(dept.clone(), json!(table.rows.len()));
    }
    d.chain.write(&out.join(format!("chain.{}", format.extension())), format, "chain", io.bom)?;
    let manifest = json!({
        "batch": batch,
        "model": model_path.display().to_string(),
        "scores": scores.display().to_string(),
        "alerts": alerts.len(),
        "departments": counts,
        "not_in_roster": d.not_in_roster,
        "masking": masking_note(unmasked),
    });
    let mut file = AtomicFile::create(&out.join("dispatch.json"))?;
    file.write_all((serde_json::to_string_pretty(&manifest)? + "\n").as_bytes())?;
    file.commit()?;
    let sent: Vec<String> = d
        .departments
        .iter()
        .filter(|(_, t)| !t.rows.is_empty())
        .map(|(k, t)| format!("{k} {}", t.rows.len()))
        .collect();
    eprintln!("dispatched {} alerted households → {} ({})", alerts.len(), out.display(), sent.join(", "));
    if unmasked {
        eprintln!("warning: the lists hold full ID numbers and names (--unmasked); share them only with the departments named");
    }
    for id in &d.not_in_roster {
        eprintln!("warning: alerted household {id} is not in the roster (or was refused by it); listed in the chain with no department");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn feedback(
    dispatch_dir: &Path,
    returns: &[std::path::PathBuf],
    out: &Path,
    batch: Option<&str>,
    json: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_monitor::feedback::{merge, read_chain, read_returns};
    let chain = read_chain(dispatch_dir, io.encoding)?;
    let manifest_batch = std::fs::read_to_string(dispatch_dir.join("dispatch.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["batch"].as_str().map(String::from));
    let batch = batch.map(String::from).or(manifest_batch).unwrap_or_else(|| "batch-1".into());
    let mut all = Vec::new();
    for path in returns {
        all.extend(read_returns(path, io.encoding)?);
    }
    let merged = merge(&chain, &all, &batch);
    merged.outcomes.write(out, hhrisk_monitor::Format::Csv, "outcomes", io.bom)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "outcomes": merged.outcomes.rows.len(), "problems": merged.problems })
            )?
        );
    }
    eprintln!(
        "{} households answered for, of {} dispatched → {} (batch {batch})",
        merged.outcomes.rows.len(),
        chain.len(),
        out.display()
    );
    for p in &merged.problems {
        eprintln!(
            "  {}: household {}{}: {}",
            p.kind,
            p.household_id,
            p.at.as_ref().map(|a| format!(" ({a})")).unwrap_or_default(),
            p.message
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
pub fn diff(
    model_path: &Path,
    old: &Path,
    new: &Path,
    thresholds: Option<&Path>,
    samples: Option<&Path>,
    changes: Option<&Path>,
    json: bool,
    io: Io,
) -> anyhow::Result<ExitCode> {
    use hhrisk_monitor::diff::{diff, snapshot};
    let model = load_model(model_path)?;
    let bands = load_bands(&model, thresholds)?;
    let read = |dir: &Path| -> anyhow::Result<Roster> {
        let r = Roster::read(&model, dir, &io.read_options(false))?;
        if !r.issues.is_empty() {
            eprintln!(
                "{}: {} problems, {} households refused and left out of the diff (hhrisk validate lists them)",
                dir.display(),
                r.issues.len(),
                r.rejected_households()
            );
        }
        Ok(r)
    };
    let (old_states, new_states) =
        (snapshot(&model, &bands, &read(old)?), snapshot(&model, &bands, &read(new)?));
    let reference = match samples {
        Some(dir) => {
            let s = hhrisk_calibrate::Samples::load(&model, dir, io.encoding)?;
            let mut cols = vec![s.score.to_vec()];
            for c in 0..model.categories.len() {
                cols.push(
                    (0..s.len()).map(|i| s.matrix.category_totals[[i, c]] / s.matrix.members[i]).collect(),
                );
            }
            Some((format!("the calibration sample {}", dir.display()), cols))
        }
        None => None,
    };
    let exit_days = model.parameters.iter().find(|p| p.name == "gradual_exit_days").map(|p| p.value);
    let d = diff(
        &model,
        &old_states,
        &new_states,
        reference.as_ref().map(|(n, c)| (n.as_str(), c.clone())),
        exit_days,
    );
    if let Some(path) = changes {
        let table = hhrisk_monitor::OutTable {
            header: [
                "household_id",
                "village",
                "change",
                "old_level",
                "new_level",
                "old_score",
                "new_score",
                "items_added",
                "items_removed",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows: d
                .changes
                .iter()
                .map(|c| {
                    vec![
                        c.household_id.clone(),
                        c.village.clone(),
                        c.kind.to_string(),
                        c.old_level.clone().unwrap_or_default(),
                        c.new_level.clone().unwrap_or_default(),
                        c.old_score.map(format_number).unwrap_or_default(),
                        c.new_score.map(format_number).unwrap_or_default(),
                        c.items_added.join(";"),
                        c.items_removed.join(";"),
                    ]
                })
                .collect(),
        };
        table.write(path, hhrisk_monitor::Format::Csv, "changes", io.bom)?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        let counts: Vec<String> = d.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("{} → {}: {}", old.display(), new.display(), counts.join(", "));
        for c in d.changes.iter().take(30) {
            println!(
                "  {:<12} {:<12} {:>7} → {:<7} +[{}] -[{}]",
                c.household_id,
                c.kind,
                c.old_level.as_deref().unwrap_or("-"),
                c.new_level.as_deref().unwrap_or("-"),
                c.items_added.join(","),
                c.items_removed.join(",")
            );
        }
        if d.changes.len() > 30 {
            println!("  … and {} more (--changes FILE writes them all)", d.changes.len() - 30);
        }
        for g in &d.gradual_exit {
            println!("  gradual exit: {} {}", g.household_id, g.note);
        }
        println!("drift against {} (population stability index):", d.drift_reference);
        for x in &d.drift {
            println!("  {:<22} {:>6.3}  {}", x.quantity, x.psi, x.level);
        }
    }
    for w in &d.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn csv_floor(roster: &Path) -> anyhow::Result<ExitCode> {
    let start = std::time::Instant::now();
    let mut counts = Vec::new();
    for file in ["households.csv", "members.csv"] {
        let path = roster.join(file);
        let mut reader =
            csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut record = csv::ByteRecord::new();
        let mut n = 0u64;
        while reader.read_byte_record(&mut record)? {
            n += 1;
        }
        counts.push(n);
    }
    println!("{} {} {:.3}", counts[0], counts[1], start.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

pub fn workbench(
    model_path: &Path,
    samples_dir: &Path,
    addr: std::net::SocketAddr,
    allow_remote: bool,
    objective: &str,
    replicates: usize,
    io: Io,
) -> anyhow::Result<ExitCode> {
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let model_text = std::fs::read_to_string(model_path)
        .with_context(|| format!("cannot read {}", model_path.display()))?;
    let workbench = hhrisk_workbench::Workbench::new(
        model,
        model_path.to_path_buf(),
        model_text,
        samples,
        objective,
        replicates,
    );
    hhrisk_workbench::serve(workbench, addr, allow_remote, |bound| {
        eprintln!("workbench on http://{bound}/ (Ctrl-C to stop)");
    })?;
    Ok(ExitCode::SUCCESS)
}

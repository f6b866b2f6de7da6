//! `hhrisk`: score household rosters against an indicator model.
//!
//! The binary only parses arguments and wires the library crates; `main`
//! alone turns errors into exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use hhrisk_roster::privacy::{escape_controls, scrub};

mod commands;
mod guard;
mod help_zh;
mod lang;

/// Household risk scoring: check an indicator model, score a roster,
/// explain a household's score.
#[derive(Debug, Parser)]
#[command(
    name = "hhrisk",
    version,
    about = "hhrisk: score household rosters against an indicator model, calibrate and evaluate the alerts, \
             send them to departments and keep the cases (低收入人口监测预警)",
    long_about = None,
    after_help = "Examples:
  hhrisk score --model indicators/xiaochang.toml --roster sample_villages/02_hy --out scores.csv
  hhrisk calibrate --model indicators/xiaochang.toml --samples sample_villages --out calibration
  hhrisk dispatch --model indicators/xiaochang.toml --scores scores.csv --roster sample_villages/02_hy \\
      --out lists --batch 2024-07 --ledger hhrisk.db
  hhrisk cases --overdue --ledger hhrisk.db
  hhrisk evaluate --alerts 687 --verified 404"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Text encoding of CSV inputs: auto (UTF-8, or GBK/GB18030 when the
    /// file is not UTF-8), utf-8, gbk or gb18030.
    #[arg(long, global = true, default_value = "auto")]
    encoding: hhrisk_tables::Encoding,
    /// Start CSV outputs with a UTF-8 byte-order mark, so that Excel opens
    /// them with the right characters: the default (the flag is kept for
    /// scripts that give it).
    #[arg(long, global = true, overrides_with = "no_bom")]
    bom: bool,
    /// Write CSV outputs without the byte-order mark, for programs that do
    /// not expect one.
    #[arg(long, global = true, overrides_with = "bom")]
    no_bom: bool,
    /// Language of the interface: zh (Chinese, the default) or en; without
    /// it, HHRISK_LANG or the locale (LANG) decides.
    #[arg(long, global = true, value_enum)]
    lang: Option<lang::Lang>,
}

/// How bands are fitted and the intervals of their figures drawn (calibrate,
/// fit, report).
#[derive(Debug, clap::Args)]
struct Fitting {
    /// What the bands must achieve: recall-at-precision=P,
    /// recall-at-precision-lower=P (the lower 95 % bound of precision
    /// must reach P), precision-at-recall=R, budget=SHARE or
    /// budget=HOUSEHOLDS, f-beta=B.
    #[arg(long, default_value = "recall-at-precision-lower=0.59")]
    objective: String,
    /// Bootstrap replicates for the intervals.
    #[arg(long, default_value_t = 1000)]
    replicates: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
}

/// The warning on alerts by household size (calibrate, fit, evaluate).
#[derive(Debug, clap::Args)]
struct SizeWarning {
    /// Warn when a household-size group's alert rate is more than this
    /// many times its need rate (or less than its inverse).
    #[arg(long = "size-warning-factor", default_value_t = 2.0)]
    size_warning_factor: f64,
}

/// How a roster is read (validate, score).
#[derive(Debug, clap::Args)]
struct Reading {
    /// Worker threads that read, check (and score) batches of households
    /// in turn (0: one per core). The output is the same, byte for byte,
    /// whatever the number.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Show person ids unmasked in messages and the rejects file.
    #[arg(long)]
    unmasked: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a model and, if given, a roster against the model's columns.
    Validate {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// A roster folder (households.csv, members.csv).
        #[arg(long)]
        roster: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        reading: Reading,
    },
    /// Score every household of a roster; one output row per household.
    Score {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// The roster folder (households.csv, members.csv).
        #[arg(long)]
        roster: PathBuf,
        /// Where to write the scores (CSV).
        #[arg(long)]
        out: PathBuf,
        /// Warning bands to apply instead of the model's default bands
        /// (a TOML file with a `[bands]` table).
        #[arg(long)]
        thresholds: Option<PathBuf>,
        /// Write refused rows here, with their reasons, and score the rest.
        /// Without it, any refused row stops the run.
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// How many items to list in `top_items`.
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// Add one `item_<id>` column per item: how many times it counted.
        #[arg(long)]
        item_columns: bool,
        /// Do not keep every id in memory to catch repeats anywhere in the
        /// files (national-scale rosters: memory then stays flat).
        #[arg(long)]
        skip_duplicate_check: bool,
        #[command(flatten)]
        reading: Reading,
        /// Print on stderr where the run's time went: loading the model,
        /// the households (read, checked, scored, written), syncing.
        #[arg(long)]
        timings: bool,
    },
    /// Show, item by item, why a household got its score.
    Explain {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// The roster folder.
        #[arg(long)]
        roster: PathBuf,
        /// The household's `household_id`.
        #[arg(long)]
        household: String,
        /// Warning bands to apply instead of the model's default bands.
        #[arg(long)]
        thresholds: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Show person ids unmasked.
        #[arg(long)]
        unmasked: bool,
    },
    /// Fit warning bands on sample villages with verified outcomes.
    Calibrate {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// Sample villages: a roster folder, or a folder of roster folders,
        /// each with outcomes.csv.
        #[arg(long)]
        samples: PathBuf,
        /// Folder to write thresholds.toml and calibration.json into.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        fitting: Fitting,
        /// Band names to fit, most severe first (default: the model's).
        #[arg(long, value_delimiter = ',')]
        bands: Option<Vec<String>>,
        /// Print one JSON object (calibration.json) instead of a summary.
        #[arg(long)]
        json: bool,
        /// Also suggest item points from a logistic regression on the
        /// items, compare them with the current ones and write tuned.toml.
        #[arg(long)]
        tune: bool,
        /// With --tune: the largest relative change of an item's points.
        #[arg(long, default_value_t = 0.5)]
        max_change: f64,
        #[command(flatten)]
        size: SizeWarning,
        /// Take the outcomes from this case ledger's verified answers
        /// instead of the villages' outcomes.csv (only the households that
        /// were alerted and answered for are samples, and the output says so).
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
    /// Fit item points to the verified outcomes of sample villages: writes
    /// a complete model with integer points learned by a class-weighted,
    /// penalised logistic regression (the penalty chosen by
    /// leave-one-village-out), its bands fitted again, and NEW.fit.json
    /// beside it with every figure measured on villages the points were
    /// not fitted on.
    Fit {
        /// The indicator model (TOML) whose items are fitted.
        #[arg(long)]
        model: PathBuf,
        /// Sample villages: a roster folder, or a folder of roster folders,
        /// each with outcomes.csv.
        #[arg(long)]
        samples: PathBuf,
        /// The model to write (NEW.toml); NEW.fit.json goes beside it.
        #[arg(long)]
        out: PathBuf,
        /// Largest magnitude of an item's fitted points.
        #[arg(long, default_value_t = 20)]
        max_points: u32,
        /// Let the data choose each item's sign (by default an item keeps
        /// the sign its author gave it, and may fall to 0).
        #[arg(long)]
        free_signs: bool,
        /// per_capita, total, sqrt_members, equivalence, or auto (the one
        /// that ranks best on villages left out); default: the model's
        /// `[scoring] normalise` when it states one, else auto.
        #[arg(long)]
        normalise: Option<String>,
        #[command(flatten)]
        fitting: Fitting,
        /// Print NEW.fit.json instead of a summary.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        size: SizeWarning,
    },
    /// Measure the accuracy of alerts: from a scores file and outcomes, or
    /// from published counts alone.
    Evaluate {
        /// Scores written by `hhrisk score` (alerts are rows with an alert level).
        #[arg(long, requires = "outcomes", conflicts_with_all = ["alerts", "verified"])]
        scores: Option<PathBuf>,
        /// outcomes.csv, or a roster folder holding one.
        #[arg(long)]
        outcomes: Option<PathBuf>,
        /// The roster, for the breakdown by household type (default: the
        /// outcomes folder when it is a roster).
        #[arg(long)]
        roster: Option<PathBuf>,
        /// The model, for the breakdown by responsible department (with a roster).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Published count of alerts.
        #[arg(long, requires = "verified")]
        alerts: Option<u64>,
        /// Published count of alerts verified as right.
        #[arg(long, requires = "alerts")]
        verified: Option<u64>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        size: SizeWarning,
        /// Evaluate the alerts and answers a case ledger holds, over time.
        #[arg(long, conflicts_with_all = ["scores", "alerts", "verified"])]
        ledger: Option<PathBuf>,
        /// With --ledger: group by batch, quarter, department or village.
        #[arg(long, value_enum, default_value = "batch", requires = "ledger")]
        by: commands::ByArg,
    },
    /// Write a report (HTML page, charts, summary) of a calibration on sample villages.
    Report {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// Sample villages with outcomes (as for calibrate).
        #[arg(long)]
        samples: PathBuf,
        /// Folder to write index.html, summary.md, report.json and the charts into.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        fitting: Fitting,
    },
    /// Write one list per responsible department of the alerted households,
    /// and the chain of departments per household (派单).
    Dispatch {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// Scores written by `hhrisk score` (alerts are rows with an alert level).
        #[arg(long)]
        scores: PathBuf,
        /// The roster the scores came from (folder or workbook).
        #[arg(long)]
        roster: PathBuf,
        /// Folder to write the lists into.
        #[arg(long)]
        out: PathBuf,
        /// csv or xlsx.
        #[arg(long, value_enum, default_value = "csv")]
        format: commands::FormatArg,
        /// Name of this alert batch (written into dispatch.json, used by feedback).
        #[arg(long, default_value = "batch-1")]
        batch: String,
        /// Write full ID numbers and names; the files say so in every row.
        #[arg(long)]
        unmasked: bool,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Merge departments' returns into outcomes.csv (反馈).
    Feedback {
        /// The folder `hhrisk dispatch` wrote.
        #[arg(long)]
        dispatch: PathBuf,
        /// Returns from departments (CSV or workbooks): household_id,
        /// verified_need, optional assistance and department.
        #[arg(long, num_args = 1.., required = true)]
        returns: Vec<PathBuf>,
        /// Where to write the outcomes (roster outcomes.csv layout).
        #[arg(long)]
        out: PathBuf,
        /// Batch name (default: the dispatch's).
        #[arg(long)]
        batch: Option<String>,
        /// Print the problems as one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// The cases the ledger holds (台账): open cases with filters, the
    /// overdue list, a household's chain, closing a case by hand.
    Cases {
        #[command(subcommand)]
        action: Option<CasesAction>,
        /// The ledger file.
        #[arg(long, default_value = "hhrisk.db", global = true)]
        ledger: PathBuf,
        /// Only cases referred to this department.
        #[arg(long)]
        department: Option<String>,
        /// Only this village's cases.
        #[arg(long)]
        village: Option<String>,
        /// Only cases alerted in this batch.
        #[arg(long)]
        batch: Option<String>,
        /// Only cases with an alert of this kind (risk, not_enrolled, check_means).
        #[arg(long)]
        kind: Option<String>,
        /// Only cases with a referral past its due date, most overdue first.
        #[arg(long)]
        overdue: bool,
        /// Closed cases too.
        #[arg(long)]
        all: bool,
        /// The day overdue days are counted to (default: today).
        #[arg(long, global = true)]
        as_of: Option<String>,
        /// Print JSON (one object per case) instead of a table.
        #[arg(long, global = true)]
        json: bool,
        /// Show household ids in full even when they look like ID numbers.
        #[arg(long, global = true)]
        unmasked: bool,
        /// Write the office workbook (open cases by department, overdue,
        /// closed this month) to this .xlsx file instead of listing.
        #[arg(long)]
        xlsx: Option<PathBuf>,
    },
    /// Compare two roster snapshots: alerts entered, left, moved; households
    /// appeared or gone; items changed; gradual exit; drift.
    Diff {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// The earlier roster.
        #[arg(long)]
        old: PathBuf,
        /// The later roster.
        #[arg(long)]
        new: PathBuf,
        /// Warning bands (default: the model's).
        #[arg(long)]
        thresholds: Option<PathBuf>,
        /// The calibration sample, as reference for drift (default: the old roster).
        #[arg(long)]
        samples: Option<PathBuf>,
        /// Write every change to this CSV file.
        #[arg(long)]
        changes: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Serve the calibration workbench: a local page to tune points,
    /// weights and bands and see precision move.
    Workbench {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// Sample villages with outcomes (as for calibrate).
        #[arg(long)]
        samples: PathBuf,
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 8048)]
        port: u16,
        /// Address to listen on (loopback unless --allow-remote).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Allow a non-loopback address. The workbench then requires a
        /// token on every request (printed once, in the address to open)
        /// and says that its traffic is not encrypted.
        #[arg(long)]
        allow_remote: bool,
        /// The token to require (default with --allow-remote: a random one).
        #[arg(long)]
        token: Option<String>,
        /// The one folder edited models are saved into (default: the
        /// model's folder).
        #[arg(long)]
        save_dir: Option<PathBuf>,
        /// The calibration objective (see calibrate).
        #[arg(long, default_value = "recall-at-precision-lower=0.59")]
        objective: String,
        /// Bootstrap replicates per evaluation.
        #[arg(long, default_value_t = 200)]
        replicates: usize,
    },
    /// Simulate sample villages: rosters with verified outcomes.
    Simulate {
        /// Folder to write (one sub-folder per village).
        #[arg(long)]
        out: PathBuf,
        /// Number of villages (cycling through the four profiles).
        #[arg(long, default_value_t = 4)]
        villages: usize,
        /// Households in all (default: each profile's own size, 150 to 500).
        #[arg(long)]
        households: Option<usize>,
        /// Seed of the random draws.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// Write one roster holding every village instead of one per village.
        #[arg(long)]
        flat: bool,
        /// Replace the rosters a folder already holds.
        #[arg(long)]
        force: bool,
        /// Verify as a county does: only the households this scores file
        /// (from `hhrisk score` of the same simulated roster) lists with an
        /// alert level or kind, plus an audit sample of the others
        /// (--audit-share); outcomes.csv then has `selected_by`.
        #[arg(long)]
        alerts: Option<PathBuf>,
        /// With --alerts: the share of the households not alerted drawn at
        /// random to be verified too, so that recall can be estimated.
        #[arg(long, requires = "alerts", default_value_t = 0.05)]
        audit_share: f64,
        /// The share of households really in need (the need line is scaled
        /// to give it); default: the simulator's own line.
        #[arg(long)]
        base_rate: Option<f64>,
    },
    /// Read a roster's two files with the csv crate alone, record by
    /// record: the floor that scoring is measured against (benchmarks).
    #[command(hide = true)]
    CsvFloor {
        /// The roster folder.
        #[arg(long)]
        roster: PathBuf,
    },
    /// List a model's items (Markdown table or CSV), for documentation.
    Items {
        /// The indicator model (TOML).
        #[arg(long)]
        model: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: commands::ItemsFormat,
    },
}

/// Where `dispatch` and `feedback` record what they did, when asked.
#[derive(Debug, Clone, clap::Args)]
struct LedgerArgs {
    /// Record the batch (dispatch) or the answers (feedback) in this case
    /// ledger (created when missing); a household with an open case is not
    /// sent again.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Days a department has to answer (default 15; a department's
    /// `due_days` in the model wins).
    #[arg(long, default_value_t = 15)]
    due_days: u32,
    /// The day of the batch or of the answers (default: today).
    #[arg(long)]
    date: Option<String>,
}

/// What `hhrisk cases` can do besides listing.
#[derive(Debug, Clone, clap::Subcommand)]
enum CasesAction {
    /// A household's chain across all batches: alerts, referrals, answers,
    /// closings.
    Show {
        /// The household.
        household_id: String,
    },
    /// Close a household's open case by hand.
    Close {
        /// The household.
        household_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: String,
    },
}

/// A thread count as given, or one per core for 0.
fn per_core(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

/// The run's inputs and outputs, checked before anything is read (see
/// [`guard`]).
fn guard_files(command: &Command) -> anyhow::Result<()> {
    use guard::{check, check_folder, folder_files, roster_files, samples_files, Named};
    let tag = |flag: &'static str, paths: Vec<PathBuf>| paths.into_iter().map(move |p| (flag, p));
    let folder_out = |flag: &'static str, dir: &PathBuf, names: &[&str]| -> anyhow::Result<Vec<Named>> {
        if dir.exists() && !dir.is_dir() {
            let dir = dir.display();
            anyhow::bail!(tr!(
                "{flag} {dir}: is a file; give a folder",
                "{flag} {dir}：这是一个文件；请给出文件夹"
            ));
        }
        Ok(names.iter().map(|n| (flag, dir.join(n))).collect())
    };
    // a roster is a folder or a workbook: a table file given instead would
    // be read as a folder and named twice in the message
    let roster = match command {
        Command::Score { roster, .. }
        | Command::Explain { roster, .. }
        | Command::Dispatch { roster, .. } => Some(roster),
        Command::Validate { roster, .. } | Command::Evaluate { roster, .. } => roster.as_ref(),
        _ => None,
    };
    if let Some(r) = roster.filter(|r| r.is_file() && !hhrisk_tables::is_workbook(r)) {
        let r = r.display();
        anyhow::bail!(tr!(
            "--roster {r}: is a file, not a roster; give the roster's folder (households.csv and members.csv inside) \
             or a workbook (.xlsx, .xls or .ods) with sheets households and members",
            "--roster {r}：这是一个文件，不是名册；请给出名册文件夹（内含 households.csv 和 members.csv），\
             或含 households、members 两个工作表的工作簿（.xlsx、.xls 或 .ods）"
        ));
    }
    // score writes CSV (a million households do not fit a worksheet): a
    // workbook's name would hold CSV text that Excel refuses to open
    if let Command::Score { out, rejects, .. } = command {
        for (flag, path) in std::iter::once(("--out", out)).chain(rejects.iter().map(|r| ("--rejects", r))) {
            if hhrisk_tables::is_workbook(path) {
                let path = path.display();
                anyhow::bail!(tr!(
                    "{flag} {path}: score writes CSV, not a workbook; name it .csv (Excel opens it)",
                    "{flag} {path}：score 写出的是 CSV，不是工作簿；请用 .csv 作文件名（Excel 可以直接打开）"
                ));
            }
        }
    }
    match command {
        Command::Score { model, roster, out, thresholds, rejects, .. } => {
            let mut inputs: Vec<Named> = vec![("--model", model.clone())];
            inputs.extend(tag("--roster", roster_files(roster)));
            inputs.extend(thresholds.iter().map(|t| ("--thresholds", t.clone())));
            let mut outputs: Vec<Named> = vec![("--out", out.clone())];
            outputs.extend(rejects.iter().map(|r| ("--rejects", r.clone())));
            check(&inputs, &outputs)
        }
        Command::Calibrate { model, samples, out, .. } => {
            let mut inputs: Vec<Named> = vec![("--model", model.clone())];
            inputs.extend(tag("--samples", samples_files(samples)));
            check(&inputs, &folder_out("--out", out, &["thresholds.toml", "calibration.json", "tuned.toml"])?)
        }
        Command::Fit { model, samples, out, .. } => {
            let mut inputs: Vec<Named> = vec![("--model", model.clone())];
            inputs.extend(tag("--samples", samples_files(samples)));
            check(&inputs, &[("--out", out.clone()), ("--out (its .fit.json)", commands::fit_json_path(out))])
        }
        Command::Report { model, samples, out, .. } => {
            let mut inputs: Vec<Named> = vec![("--model", model.clone())];
            inputs.extend(tag("--samples", samples_files(samples)));
            check(&inputs, &folder_out("--out", out, &["index.html", "summary.md", "report.json"])?)
        }
        Command::Dispatch { model, scores, roster, out, .. } => {
            let mut inputs: Vec<Named> = vec![("--model", model.clone()), ("--scores", scores.clone())];
            inputs.extend(tag("--roster", roster_files(roster)));
            check_folder("--out", out, &inputs)
        }
        Command::Feedback { dispatch, returns, out, .. } => {
            let mut inputs: Vec<Named> = tag("--dispatch", folder_files(dispatch)).collect();
            inputs.extend(tag("--returns", returns.clone()));
            check(&inputs, &[("--out", out.clone())])
        }
        Command::Cases { ledger, xlsx: Some(xlsx), .. } => {
            check(&[("--ledger", ledger.clone())], &[("--xlsx", xlsx.clone())])
        }
        Command::Diff { model, old, new, thresholds, samples, changes: Some(changes), .. } => {
            let mut inputs: Vec<Named> = vec![("--model", model.clone())];
            inputs.extend(tag("--old", roster_files(old)));
            inputs.extend(tag("--new", roster_files(new)));
            inputs.extend(thresholds.iter().map(|t| ("--thresholds", t.clone())));
            inputs.extend(samples.iter().flat_map(|s| tag("--samples", samples_files(s))));
            check(&inputs, &[("--changes", changes.clone())])
        }
        Command::Simulate { out, force: false, .. } => {
            if out.exists() && !out.is_dir() {
                let out = out.display();
                anyhow::bail!(tr!(
                    "--out {out}: is a file; give a folder",
                    "--out {out}：这是一个文件；请给出文件夹"
                ));
            }
            if let Some(found) =
                samples_files(out).into_iter().find(|f| f.ends_with("households.csv") && f.is_file())
            {
                let (out, found) = (out.display(), found.display());
                anyhow::bail!(tr!(
                    "--out {out} already holds a roster ({found}): simulated villages would replace it; choose \
                     another folder, or add --force to replace it",
                    "--out {out} 中已有名册（{found}）：模拟的村会把它覆盖；请换一个文件夹，或加 --force 覆盖"
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A command line the run refuses before it reads anything (bad flag
/// values, an output that is an input): exit status 2, as for one that does
/// not parse.
#[derive(Debug)]
struct Usage(anyhow::Error);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Usage {}

fn usage(err: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(Usage(err))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    guard_files(&cli.command).map_err(usage)?;
    let io = commands::Io {
        encoding: cli.encoding,
        bom: !cli.no_bom,
        skip_duplicate_check: false,
        threads: 1,
        timings: false,
    };
    match cli.command {
        Command::Validate { model, roster, json, reading } => {
            let io = commands::Io { threads: per_core(reading.threads), ..io };
            commands::validate(&model, roster.as_deref(), json, reading.unmasked, io)
        }
        Command::Score {
            model,
            roster,
            out,
            thresholds,
            rejects,
            top,
            item_columns,
            skip_duplicate_check,
            reading: Reading { threads, unmasked },
            timings,
        } => {
            let columns = hhrisk_score::ScoreColumns { top, item_counts: item_columns };
            let io = commands::Io { skip_duplicate_check, threads: per_core(threads), timings, ..io };
            commands::score(
                &model,
                &roster,
                &out,
                thresholds.as_deref(),
                rejects.as_deref(),
                columns,
                unmasked,
                io,
            )
        }
        Command::Explain { model, roster, household, thresholds, json, unmasked } => {
            let io = commands::Io { threads: per_core(0), ..io };
            commands::explain(&model, &roster, &household, thresholds.as_deref(), json, unmasked, io)
        }
        Command::Items { model, format } => commands::items(&model, format),
        Command::CsvFloor { roster } => commands::csv_floor(&roster),
        Command::Calibrate {
            model,
            samples,
            out,
            fitting: Fitting { objective, replicates, seed },
            bands,
            json,
            tune,
            max_change,
            size: SizeWarning { size_warning_factor },
            ledger,
        } => {
            let tune = tune.then_some(hhrisk_calibrate::tune::TuneOptions {
                max_change,
                ..hhrisk_calibrate::tune::TuneOptions::default()
            });
            let factor = commands::size_factor(size_warning_factor).map_err(usage)?;
            commands::calibrate(
                &model,
                &samples,
                &out,
                &objective,
                bands,
                replicates,
                seed,
                json,
                tune,
                factor,
                ledger.as_deref(),
                io,
            )
        }
        Command::Fit {
            model,
            samples,
            out,
            max_points,
            free_signs,
            normalise,
            fitting: Fitting { objective, replicates, seed },
            json,
            size: SizeWarning { size_warning_factor },
        } => {
            let factor = commands::size_factor(size_warning_factor).map_err(usage)?;
            let normalise = match normalise.as_deref() {
                None => hhrisk_calibrate::scorecard::NormaliseChoice::Model,
                Some("auto") => hhrisk_calibrate::scorecard::NormaliseChoice::Auto,
                Some(name) => match hhrisk_model::Normalise::parse(name) {
                    Some(n) => hhrisk_calibrate::scorecard::NormaliseChoice::Given(n),
                    None => {
                        return Err(usage(anyhow::anyhow!(
                            "--normalise {name}: choose per_capita, total, sqrt_members, equivalence or auto"
                        )))
                    }
                },
            };
            if max_points == 0 || f64::from(max_points) > hhrisk_model::MAX_ITEM_POINTS {
                return Err(usage(anyhow::anyhow!(
                    "--max-points must be between 1 and {} (20: the largest item gets ±20 points)",
                    hhrisk_model::MAX_ITEM_POINTS
                )));
            }
            let fit = hhrisk_calibrate::scorecard::FitOptions {
                max_points,
                free_signs,
                normalise,
                ..hhrisk_calibrate::scorecard::FitOptions::default()
            };
            commands::fit(&model, &samples, &out, &objective, &fit, replicates, seed, json, factor, io)
        }
        Command::Evaluate {
            scores,
            outcomes,
            roster,
            model,
            alerts,
            verified,
            json,
            size: SizeWarning { size_warning_factor },
            ledger,
            by,
        } => {
            let factor = commands::size_factor(size_warning_factor).map_err(usage)?;
            if let Some(ledger) = ledger {
                return commands::evaluate_ledger(&ledger, by, json);
            }
            match (alerts, verified, scores, outcomes) {
                (Some(a), Some(v), _, _) => commands::evaluate_counts(a, v, json),
                (_, _, Some(s), Some(o)) => {
                    commands::evaluate(&s, &o, roster.as_deref(), model.as_deref(), json, factor, io)
                }
                _ => Err(usage(anyhow::anyhow!(
                    "give --scores FILE --outcomes FILE_OR_ROSTER_DIR, --alerts N --verified K, or --ledger FILE"
                ))),
            }
        }
        Command::Report { model, samples, out, fitting: Fitting { objective, replicates, seed } } => {
            commands::report(&model, &samples, &out, &objective, replicates, seed, io)
        }
        Command::Dispatch { model, scores, roster, out, format, batch, unmasked, ledger } => {
            let io = commands::Io { threads: per_core(0), ..io };
            let ledger = ledger.ledger.clone().map(|file| commands::LedgerUse {
                file,
                due_days: ledger.due_days,
                date: ledger.date.clone(),
                command: command_line(),
            });
            commands::dispatch(&model, &scores, &roster, &out, format, &batch, unmasked, ledger, io)
        }
        Command::Feedback { dispatch, returns, out, batch, json, ledger } => {
            let ledger = ledger.ledger.clone().map(|file| commands::LedgerUse {
                file,
                due_days: ledger.due_days,
                date: ledger.date.clone(),
                command: command_line(),
            });
            commands::feedback(&dispatch, &returns, &out, batch.as_deref(), json, ledger, io)
        }
        Command::Cases {
            action,
            ledger,
            department,
            village,
            batch,
            kind,
            overdue,
            all,
            as_of,
            json,
            unmasked,
            xlsx,
        } => {
            let filter = hhrisk_ledger::CaseFilter { department, village, batch, kind, overdue, all };
            match (action, xlsx) {
                (None, Some(out)) => {
                    commands::cases_workbook(&ledger, &filter, as_of.as_deref(), &out, unmasked)
                }
                (None, None) => commands::cases(&ledger, &filter, as_of.as_deref(), json, unmasked),
                (Some(CasesAction::Show { household_id }), _) => {
                    commands::case_chain(&ledger, &household_id, json, unmasked)
                }
                (Some(CasesAction::Close { household_id, reason }), _) => {
                    commands::close_case(&ledger, &household_id, &reason, as_of.as_deref(), &command_line())
                }
            }
        }
        Command::Diff { model, old, new, thresholds, samples, changes, json } => commands::diff(
            &model,
            &old,
            &new,
            thresholds.as_deref(),
            samples.as_deref(),
            changes.as_deref(),
            json,
            io,
        ),
        Command::Workbench {
            model,
            samples,
            port,
            bind,
            allow_remote,
            token,
            save_dir,
            objective,
            replicates,
        } => {
            if token.as_ref().is_some_and(|t| t.len() < 16 || !t.bytes().all(|b| b.is_ascii_alphanumeric())) {
                return Err(usage(anyhow::anyhow!(
                    "--token: give at least 16 letters and digits (or leave it out for a random one)"
                )));
            }
            let access = commands::WorkbenchAccess { allow_remote, token, save_dir };
            commands::workbench(
                &model,
                &samples,
                std::net::SocketAddr::new(bind, port),
                access,
                &objective,
                replicates,
                io,
            )
        }
        Command::Simulate {
            out,
            villages,
            households,
            seed,
            flat,
            force: _,
            alerts,
            audit_share,
            base_rate,
        } => {
            let alerted = alerts.as_deref().map(|a| commands::alerted_ids(a, io.encoding)).transpose()?;
            let options = hhrisk_simulate::Options {
                villages,
                households,
                seed,
                flat,
                alerted,
                audit_share,
                base_rate,
                ..hhrisk_simulate::Options::default()
            };
            commands::simulate(&out, &options)
        }
    }
}

/// Exit status when standard output or error cannot be written: a closed
/// pipe (128 + SIGPIPE, as a shell reports a command killed by it), or
/// another failure (`EX_IOERR`).
const BROKEN_PIPE: u8 = 141;
const OUTPUT_FAILED: u8 = 74;

fn main() -> ExitCode {
    // `print!` and `eprint!` panic when their stream fails (a pipe closed
    // by `head`, a full disk): end quietly, with a status that says so
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if let Some(m) = message.filter(|m| m.starts_with("failed printing to std")) {
            std::process::exit(i32::from(if m.contains("Broken pipe") {
                BROKEN_PIPE
            } else {
                OUTPUT_FAILED
            }));
        }
        default_hook(info);
    }));
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    lang::set(lang::detect(&args, |k| std::env::var(k).ok()));
    let parsed =
        lang::localise(Cli::command()).try_get_matches_from(&args).and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => return parse_error(&err),
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::from(BROKEN_PIPE),
        // an error may quote a cell: anything like an ID number is masked
        Err(err) if err.downcast_ref::<Usage>().is_some() => {
            eprintln!(
                "{}{}",
                tr!("error: ", "错误："),
                scrub(&escape_controls(&lang::message(&err.to_string())))
            );
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!(
                "{}{}",
                tr!("error: ", "错误："),
                scrub(&escape_controls(&lang::message(&err.to_string())))
            );
            // a cause whose words the message above already holds (an
            // error that shows its source) is not repeated
            let mut shown = err.to_string();
            for cause in err.chain().skip(1) {
                let text = cause.to_string();
                if !shown.contains(&text) {
                    eprintln!(
                        "  {}{}",
                        tr!("caused by: ", "原因："),
                        scrub(&escape_controls(&lang::message(&text)))
                    );
                    shown = text;
                }
            }
            ExitCode::FAILURE
        }
    }
}

/// A command line that does not parse, or a request for help or the
/// version: clap's own rendering in English; in Chinese, the common
/// mistakes said in Chinese with the usage line, the rest as clap says them.
/// Exit status 0 for help and version, 2 for a mistake.
fn parse_error(err: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let shown = |result: std::io::Result<()>, code: u8| match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(BROKEN_PIPE),
        _ => ExitCode::from(code),
    };
    let code = u8::try_from(err.exit_code()).unwrap_or(2);
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return shown(err.print(), 0);
    }
    if !lang::zh() || err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return shown(err.print(), code);
    }
    let text = |kind: ContextKind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join("、")),
        Some(ContextValue::StyledStr(s)) => Some(s.to_string()),
        Some(ContextValue::StyledStrs(v)) => {
            Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("、"))
        }
        Some(ContextValue::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg).unwrap_or_default();
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let mut message = match err.kind() {
        ErrorKind::UnknownArgument => format!("不认识的参数 '{arg}'"),
        ErrorKind::InvalidSubcommand => {
            format!("没有这个命令 '{}'", text(ContextKind::InvalidSubcommand).unwrap_or_default())
        }
        ErrorKind::MissingRequiredArgument => format!("缺少必需的参数：{arg}"),
        ErrorKind::MissingSubcommand => "缺少子命令".to_string(),
        ErrorKind::InvalidValue => match text(ContextKind::ValidValue) {
            Some(valid) => format!("参数 {arg} 的值 '{value}' 无效；可选：{valid}"),
            None => format!("参数 {arg} 缺少值"),
        },
        ErrorKind::ValueValidation => {
            let source = std::error::Error::source(err)
                .map(|e| format!("：{}", lang::message(&e.to_string())))
                .unwrap_or_default();
            format!("参数 {arg} 的值 '{value}' 无效{source}")
        }
        ErrorKind::ArgumentConflict => match text(ContextKind::PriorArg) {
            Some(prior) => format!("参数 {arg} 不能与 {prior} 同时使用"),
            None => format!("参数 {arg} 不能与其他参数同时使用"),
        },
        ErrorKind::TooManyValues => format!("参数 {arg} 的值太多：'{value}'"),
        ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => format!("参数 {arg} 的值个数不对"),
        ErrorKind::NoEquals => format!("参数 {arg} 的值须用 '=' 给出"),
        ErrorKind::InvalidUtf8 => "命令行含有无效的 UTF-8 字符".to_string(),
        _ => return shown(err.print(), code),
    };
    if let Some(suggested) =
        text(ContextKind::SuggestedArg).or_else(|| text(ContextKind::SuggestedSubcommand))
    {
        message.push_str(&format!("（是否想用 '{suggested}'？）"));
    }
    let usage = text(ContextKind::Usage).map(|u| u.replacen("Usage: ", "用法：", 1)).unwrap_or_default();
    let usage = usage.trim();
    let help = "更多信息请用 '--help'。";
    let out = if usage.is_empty() {
        format!("错误：{message}\n\n{help}\n")
    } else {
        format!("错误：{message}\n\n{usage}\n\n{help}\n")
    };
    use std::io::Write;
    shown(std::io::stderr().write_all(out.as_bytes()), code)
}

/// Output piped into `head` and closed early is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let io =
            e.downcast_ref::<std::io::Error>().or_else(|| match e.downcast_ref::<csv::Error>()?.kind() {
                csv::ErrorKind::Io(io) => Some(io),
                _ => None,
            });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The command line as typed, for the ledger's audit trail (anything that
/// looks like an ID number masked).
fn command_line() -> String {
    let line = std::env::args().collect::<Vec<_>>().join(" ");
    hhrisk_roster::privacy::scrub(&line).into_owned()
}

//! Simulated sample villages: rosters with verified outcomes.
//!
//! Real household data cannot be shipped, so hhrisk ships a simulator. Each
//! household is drawn from its village's [`profile::Profile`]: who lives
//! there, their health, schooling and work, income, assets, spending and
//! shocks. Its real need is then simulated from its circumstances,
//! including things no roster records (kin who send money, unreported
//! migrant pay, luck), and verification is simulated with errors on top.
//! The outcome never looks at an indicator model's score or items.
//!
//! Output follows the roster layout: per village a folder with
//! `households.csv`, `members.csv` and `outcomes.csv`, with the columns the
//! bundled model `indicators/xiaochang.toml` declares, plus `name`,
//! `relation` and `sex` of each member (carried along). People carry
//! synthetic 18-character resident ID numbers with Xiaochang's area code
//! and a valid check character. Same options, same bytes.
#![deny(missing_docs)]

pub mod household;
pub mod people;
pub mod profile;

use std::path::{Path, PathBuf};

use hhrisk_tables::AtomicFile;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use household::{Home, IdAllocator};
use profile::{profiles, Profile};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of villages, cycling through the four profiles; defaults to 4.
    pub villages: usize,
    /// Households in all; `None` gives each village its profile's default
    /// size (150 to 500).
    pub households: Option<usize>,
    /// Seed of the random draws; defaults to 2024.
    pub seed: u64,
    /// Write one roster folder holding every village (the `village` column
    /// tells them apart) instead of one folder per village; defaults to
    /// `false`.
    pub flat: bool,
    /// Verification batch written in outcomes.csv; defaults to
    /// `sample-2024`.
    pub batch: String,
    /// Verify as a county does: only these alerted households (ids from a
    /// scores file of the same roster), plus an audit sample of the others
    /// (see `audit_share`); outcomes.csv then says why each was verified
    /// (`selected_by`). `None`: every household verified, as in a
    /// sample-village exercise.
    pub alerted: Option<std::collections::HashSet<String>>,
    /// With `alerted`: the share of the other households drawn at random
    /// to be verified too, so that recall can be estimated.
    pub audit_share: f64,
    /// The share of households really in need: the need line is scaled
    /// until that share of the households (the first 20,000 of a larger
    /// run) is in need. `None`: the line of [`household::NEED_LINE`].
    pub base_rate: Option<f64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            villages: 4,
            households: None,
            seed: 2024,
            flat: false,
            batch: "sample-2024".into(),
            alerted: None,
            audit_share: 0.0,
            base_rate: None,
        }
    }
}

/// Why a household was verified, or that it was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    /// Every household is verified (no `selected_by` column).
    All,
    /// It was alerted.
    Alert,
    /// Drawn at random from the households not alerted.
    Audit,
    /// Not verified: no outcome row.
    No,
}

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// A file or folder could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The options make no sense.
    #[error("{0}")]
    Options(String),
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Per roster folder: its path, households, members and households
    /// verified in need.
    pub rosters: Vec<(PathBuf, usize, usize, usize)>,
    /// Per village, its name and the shock it drew (`none`, `flood`,
    /// `factory closing`).
    pub shocks: Vec<(String, &'static str)>,
}

/// Header of households.csv.
pub const HOUSEHOLD_COLUMNS: [&str; 22] = [
    "household_id",
    "village",
    "class",
    "annual_net_income",
    "prev_year_net_income",
    "deposits",
    "cars",
    "commercial_property",
    "urban_house",
    "registered_business",
    "housing_fund",
    "house_safety",
    "water_safe",
    "disaster_loss",
    "accident",
    "business_failed",
    "education_spending",
    "care_spending",
    "rigid_debt",
    "single_parent",
    "dibao_exit_date",
    "urban",
];

/// Header of members.csv.
pub const MEMBER_COLUMNS: [&str; 19] = [
    "household_id",
    "person_id",
    "name",
    "relation",
    "sex",
    "age",
    "health",
    "disability_grade",
    "disability_new",
    "labour",
    "employment",
    "lost_job",
    "school",
    "dropout_risk",
    "oop_medical",
    "medical_insurance",
    "public_payroll",
    "no_guardian",
    "needs_care",
];

/// Header of outcomes.csv.
pub const OUTCOME_COLUMNS: [&str; 4] = ["household_id", "verified_need", "assistance", "batch"];

/// Header of outcomes.csv when only alerted and audited households are
/// verified.
pub const SELECTED_OUTCOME_COLUMNS: [&str; 5] =
    ["household_id", "verified_need", "assistance", "batch", "selected_by"];

/// The seed of one household's random draws: households are independent of
/// each other, so a later parallel writer gives the same bytes.
/// Mixed into the seed of the audit draws.
const AUDIT_STREAM: u64 = 0xA0D1_7A0D_17A0_D17A;

/// Mixed into the seed of each village's shock.
const SHOCK_STREAM: u64 = 0x50C4_50C4_50C4;

/// The scale of the need line under which `rate` of the households are
/// really in need: bisection over the households the run will make (the
/// first 20,000 of a larger one, spread over the villages as the run
/// spreads them), drawn with their own seeds.
fn need_scale_for(rate: f64, villages: &[Profile], sizes: &[usize], seed: u64) -> f64 {
    let total: usize = sizes.iter().sum();
    let keep = |size: usize| if total <= 20_000 { size } else { size * 20_000 / total.max(1) + 1 };
    let share = |scale: f64| {
        let mut ids = IdAllocator::default();
        let (mut n, mut need) = (0usize, 0usize);
        for (v, &size) in sizes.iter().enumerate() {
            for i in 0..keep(size) {
                let mut rng = ChaCha8Rng::seed_from_u64(household_seed(seed, v, i));
                need += usize::from(household::simulate(&mut rng, &villages[v], i, &mut ids, scale).need);
                n += 1;
            }
        }
        need as f64 / n.max(1) as f64
    };
    let (mut lo, mut hi): (f64, f64) = (0.05, 10.0);
    for _ in 0..30 {
        let mid = (lo * hi).sqrt();
        if share(mid) < rate {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo * hi).sqrt()
}

fn household_seed(seed: u64, village: usize, index: usize) -> u64 {
    // SplitMix64 finaliser over the three numbers.
    let mut z = seed
        ^ (village as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct RosterFiles {
    dir: PathBuf,
    households: csv::Writer<AtomicFile>,
    members: csv::Writer<AtomicFile>,
    outcomes: csv::Writer<AtomicFile>,
    counts: (usize, usize, usize),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SimulateError + '_ {
    move |source| SimulateError::Io { path: path.display().to_string(), source }
}

fn csv_err(path: &Path) -> impl FnOnce(csv::Error) -> SimulateError + '_ {
    move |e| SimulateError::Io { path: path.display().to_string(), source: std::io::Error::other(e) }
}

impl RosterFiles {
    fn create(dir: &Path, selected: bool) -> Result<Self, SimulateError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        // written under temporary names, renamed when complete: a run
        // stopped halfway leaves the previous roster as it was
        let open = |name: &str, header: &[&str]| -> Result<csv::Writer<AtomicFile>, SimulateError> {
            let path = dir.join(name);
            let file = AtomicFile::create(&path).map_err(io_err(&path))?;
            let mut w = csv::Writer::from_writer(file);
            w.write_record(header).map_err(csv_err(&path))?;
            Ok(w)
        };
        Ok(RosterFiles {
            dir: dir.to_path_buf(),
            households: open("households.csv", &HOUSEHOLD_COLUMNS)?,
            members: open("members.csv", &MEMBER_COLUMNS)?,
            outcomes: open(
                "outcomes.csv",
                if selected { &SELECTED_OUTCOME_COLUMNS } else { &OUTCOME_COLUMNS },
            )?,
            counts: (0, 0, 0),
        })
    }

    fn write(&mut self, h: &Home, batch: &str, selected: Selected) -> csv::Result<()> {
        let b = |v: bool| if v { "1" } else { "0" };
        let n = |v: f64| format!("{v}");
        self.households.write_record([
            h.id.as_str(),
            &h.village,
            h.class,
            &n(h.annual_net_income),
            &h.prev_year_net_income.map(n).unwrap_or_default(),
            &n(h.deposits),
            &h.cars.to_string(),
            b(h.commercial_property),
            b(h.urban_house),
            b(h.registered_business),
            b(h.housing_fund),
            h.house_safety,
            b(h.water_safe),
            &n(h.disaster_loss),
            b(h.accident),
            b(h.business_failed),
            &n(h.education_spending),
            &n(h.care_spending),
            &n(h.rigid_debt),
            b(h.single_parent),
            h.dibao_exit_date.as_deref().unwrap_or(""),
            b(h.urban),
        ])?;
        for p in &h.members {
            self.members.write_record([
                h.id.as_str(),
                &p.id,
                &p.name,
                p.relation,
                if p.male { "M" } else { "F" },
                &p.age.to_string(),
                p.health,
                &p.disability_grade.to_string(),
                b(p.disability_new),
                p.labour,
                p.employment,
                b(p.lost_job),
                p.school,
                b(p.dropout_risk),
                &n(p.oop_medical),
                b(p.medical_insurance),
                b(p.public_payroll),
                b(p.no_guardian),
                b(p.needs_care),
            ])?;
        }
        let outcome = [h.id.as_str(), b(h.verified_need), &h.assistance.join(";"), batch];
        match selected {
            Selected::All => self.outcomes.write_record(outcome)?,
            Selected::Alert => self.outcomes.write_record(outcome.iter().chain(&["alert"]))?,
            Selected::Audit => self.outcomes.write_record(outcome.iter().chain(&["audit"]))?,
            Selected::No => {}
        }
        self.counts.0 += 1;
        self.counts.1 += h.members.len();
        self.counts.2 += usize::from(h.verified_need && selected != Selected::No);
        Ok(())
    }

    fn finish(self) -> Result<(PathBuf, usize, usize, usize), SimulateError> {
        for (name, w) in [
            ("households.csv", self.households),
            ("members.csv", self.members),
            ("outcomes.csv", self.outcomes),
        ] {
            let path = self.dir.join(name);
            w.into_inner()
                .map_err(|e| SimulateError::Io { path: path.display().to_string(), source: e.into_error() })?
                .commit()
                .map_err(io_err(&path))?;
        }
        Ok((self.dir, self.counts.0, self.counts.1, self.counts.2))
    }
}

/// The folder name of village `v` (1-based number and profile code).
pub fn village_folder(v: usize, profile: &Profile) -> String {
    format!("{:02}_{}", v + 1, profile.code.to_lowercase())
}

/// Simulates villages into `out` and returns what was written.
pub fn simulate(out: &Path, options: &Options) -> Result<Summary, SimulateError> {
    simulate_with_progress(out, options, &|_, _| {})
}

/// [`simulate`], telling `progress` the households written and the total
/// after every thousand (and at the end).
pub fn simulate_with_progress(
    out: &Path,
    options: &Options,
    progress: &dyn Fn(u64, u64),
) -> Result<Summary, SimulateError> {
    if options.villages == 0 {
        return Err(SimulateError::Options("--villages must be at least 1".into()));
    }
    let all = profiles();
    let sizes: Vec<usize> = match options.households {
        Some(total) => (0..options.villages)
            .map(|v| total / options.villages + usize::from(v < total % options.villages))
            .collect(),
        None => (0..options.villages).map(|v| all[v % all.len()].default_households).collect(),
    };
    let (total, mut written) = (sizes.iter().sum::<usize>() as u64, 0u64);
    let mut summary = Summary::default();
    let mut ids = IdAllocator::default();
    if !(0.0..=1.0).contains(&options.audit_share) {
        return Err(SimulateError::Options("--audit-share must be between 0 and 1".into()));
    }
    let selecting = options.alerted.is_some();
    // each village's profile, with its shock of the year
    let village_profiles: Vec<Profile> = sizes
        .iter()
        .enumerate()
        .map(|(v, _)| {
            let mut profile = all[v % all.len()].clone();
            let round = v / all.len();
            if round > 0 {
                // More villages than profiles: same kind, a new name.
                profile.name = format!("{}{}", profile.name, round + 1);
                profile.code = format!("{}{}", profile.code, round + 1);
            }
            let mut draw = ChaCha8Rng::seed_from_u64(household_seed(options.seed ^ SHOCK_STREAM, v, 0));
            profile.shock = profile::Shock::draw(profile.kind, rand::Rng::random::<f64>(&mut draw));
            profile
        })
        .collect();
    summary.shocks = village_profiles.iter().map(|p| (p.name.clone(), p.shock.name())).collect();
    let need_scale = match options.base_rate {
        None => 1.0,
        Some(rate) if rate > 0.0 && rate < 1.0 => {
            need_scale_for(rate, &village_profiles, &sizes, options.seed)
        }
        Some(_) => return Err(SimulateError::Options("--base-rate must be between 0 and 1".into())),
    };
    let mut flat = if options.flat { Some(RosterFiles::create(out, selecting)?) } else { None };
    for (v, &size) in sizes.iter().enumerate() {
        let profile = &village_profiles[v];
        let mut own = match flat {
            Some(_) => None,
            None => Some(RosterFiles::create(&out.join(village_folder(v, profile)), selecting)?),
        };
        let files = match (&mut flat, &mut own) {
            (Some(f), _) | (None, Some(f)) => f,
            (None, None) => unreachable!("a roster is open"),
        };
        for i in 0..size {
            let mut rng = ChaCha8Rng::seed_from_u64(household_seed(options.seed, v, i));
            let home = household::simulate(&mut rng, profile, i, &mut ids, need_scale);
            // the audit draw has a stream of its own: the households are
            // the same bytes whether or not they are audited
            let selected = match &options.alerted {
                None => Selected::All,
                Some(alerted) if alerted.contains(&home.id) => Selected::Alert,
                Some(_) => {
                    let mut audit =
                        ChaCha8Rng::seed_from_u64(household_seed(options.seed ^ AUDIT_STREAM, v, i));
                    if rand::Rng::random_bool(&mut audit, options.audit_share) {
                        Selected::Audit
                    } else {
                        Selected::No
                    }
                }
            };
            files.write(&home, &options.batch, selected).map_err(csv_err(&files.dir))?;
            written += 1;
            if written % 1000 == 0 || written == total {
                progress(written, total);
            }
        }
        if let Some(f) = own {
            summary.rosters.push(f.finish()?);
        }
    }
    if let Some(f) = flat {
        summary.rosters.push(f.finish()?);
    }
    Ok(summary)
}

//! Properties that must hold for any roster: every household counted once,
//! scores that add up, results that do not depend on row order. Rosters
//! come from the simulator with random seeds, then random cells are
//! spoiled.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hhrisk_calibrate::{calibrate, Objective, Options, Samples};
use hhrisk_model::Model;
use hhrisk_roster::stream::{stream, stream_as, MemberOrder, StreamError, Streamed, Work, WorkError};
use hhrisk_roster::{HouseholdView, ReadOptions, Roster};
use hhrisk_score::Scorer;
use hhrisk_tables::Encoding;
use proptest::prelude::*;

/// Collects the ids of the households accepted and counts those refused.
struct Ids;

impl Work for Ids {
    type State = (Vec<String>, usize);
    type Output = (Vec<String>, usize);
    fn state(&self) -> Self::State {
        (Vec::new(), 0)
    }
    fn household(&self, state: &mut Self::State, h: Streamed<'_>) -> Result<(), WorkError> {
        match h {
            Streamed::Household(h) => state.0.push(h.id.to_string()),
            Streamed::Refused(_) => state.1 += 1,
        }
        Ok(())
    }
    fn output(&self, state: &mut Self::State) -> Self::Output {
        std::mem::take(state)
    }
}

fn model() -> Model {
    Model::from_path(&common::model()).unwrap()
}

/// A simulated one-village roster of `households` households.
fn roster(dir: &Path, seed: u64, households: usize) -> PathBuf {
    let options = hhrisk_simulate::Options {
        villages: 1,
        households: Some(households),
        seed,
        flat: true,
        ..Default::default()
    };
    hhrisk_simulate::simulate(dir, &options).unwrap();
    dir.to_path_buf()
}

fn rewrite(path: &Path, edit: impl FnOnce(&mut Vec<Vec<String>>)) {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_path(path).unwrap();
    let mut rows: Vec<Vec<String>> =
        r.records().map(|x| x.unwrap().iter().map(String::from).collect()).collect();
    edit(&mut rows);
    let mut w = csv::Writer::from_path(path).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
}

/// Shuffles data rows (the header stays first) with a seed.
fn shuffle(rows: &mut [Vec<String>], seed: u64) {
    let mut x = seed | 1;
    for i in (2..rows.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rows.swap(i, 1 + (x % i as u64) as usize);
    }
}

const GARBAGE: [&str; 8] = ["abc", "", "-5", "99999999999", "1.5", "N/A", "=cmd()", "是"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn households_in_equal_households_scored_plus_refused(
        seed in 0u64..10_000,
        spoil in prop::collection::vec((1usize..60, 0usize..40, 0usize..8, any::<bool>()), 0..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let roster_dir = roster(dir.path(), seed, 50);
        rewrite(&roster_dir.join("households.csv"), |rows| {
            for &(r, c, g, _) in spoil.iter().filter(|s| !s.3) {
                let r = r % (rows.len() - 1) + 1;
                let c = c % rows[r].len();
                rows[r][c] = GARBAGE[g].to_string();
            }
        });
        rewrite(&roster_dir.join("members.csv"), |rows| {
            for &(r, c, g, _) in spoil.iter().filter(|s| s.3) {
                let r = r % (rows.len() - 1) + 1;
                let c = c % rows[r].len();
                rows[r][c] = GARBAGE[g].to_string();
            }
        });
        let model = model();
        let whole = Roster::read(&model, &roster_dir, &ReadOptions::default()).unwrap();
        let refused: std::collections::BTreeSet<u64> = whole.issues.iter().filter_map(|i| i.household_line).collect();
        prop_assert_eq!(whole.household_rows, 50);
        prop_assert_eq!(whole.households.len() + whole.rejected_households(), whole.household_rows);
        // every refused household row has at least one issue naming it
        prop_assert_eq!(refused.len(), whole.rejected_households());

        // streaming agrees, or hands the roster to the whole-file path
        let mut accepted = Vec::new();
        let mut refused_stream = 0;
        match stream(&model, &roster_dir, &ReadOptions::default(), 2, &Ids, |(ids, refused)| {
            accepted.extend(ids);
            refused_stream += refused;
            Ok(())
        }) {
            Ok(summary) => {
                prop_assert_eq!(summary.accepted + summary.refused, 50);
                let whole_ids: Vec<String> = whole.households.iter().map(|h| h.id.clone()).collect();
                prop_assert_eq!(accepted, whole_ids);
                prop_assert_eq!(refused_stream, whole.rejected_households());
            }
            Err(StreamError::NotAligned(_) | StreamError::Repeated(_)) => {}
            Err(e) => prop_assert!(false, "{e}"),
        }

        // the members shuffled: put back in order in memory, the roster
        // streams to the same households, or goes to the whole-file path
        rewrite(&roster_dir.join("members.csv"), |rows| shuffle(rows, seed));
        let whole = Roster::read(&model, &roster_dir, &ReadOptions::default()).unwrap();
        let (mut accepted, mut refused_stream) = (Vec::new(), 0);
        let collect = |(ids, refused): (Vec<String>, usize)| {
            accepted.extend(ids);
            refused_stream += refused;
            Ok(())
        };
        match stream_as(&model, &roster_dir, &ReadOptions::default(), 2, &Ids, collect, MemberOrder::Regrouped) {
            Ok(summary) => {
                prop_assert!(summary.regrouped_bytes > 0);
                let whole_ids: Vec<String> = whole.households.iter().map(|h| h.id.clone()).collect();
                prop_assert_eq!(accepted, whole_ids);
                prop_assert_eq!(refused_stream, whole.rejected_households());
            }
            Err(StreamError::NotAligned(_) | StreamError::Repeated(_)) => {}
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn scores_add_up(seed in 0u64..10_000) {
        let dir = tempfile::tempdir().unwrap();
        let roster_dir = roster(dir.path(), seed, 40);
        let model = model();
        let r = Roster::read(&model, &roster_dir, &ReadOptions::default()).unwrap();
        let scorer = Scorer::new(&model, &model.bands);
        for h in &r.households {
            let s = scorer.score(&r.inputs(h));
            let members = s.members as f64;
            prop_assert!((s.per_capita * members - s.total).abs() < 1e-9 * s.total.abs().max(1.0));
            let sum: f64 = s.categories.iter().sum();
            prop_assert_eq!(sum, s.total);
            let per_capita: f64 = (0..s.categories.len()).map(|c| s.category_per_capita(c)).sum();
            prop_assert!((per_capita - s.per_capita).abs() < 1e-9);
            let from_hits: f64 = s.hits.iter().map(|h| h.points).sum();
            prop_assert!((from_hits - s.total).abs() < 1e-9);
        }
    }

    /// The scorer runs each item's condition as a closure; the tree walked
    /// by `explain` must give the same answer on every item and member.
    #[test]
    fn compiled_conditions_agree_with_the_trees(seed in 0u64..10_000) {
        let dir = tempfile::tempdir().unwrap();
        let roster_dir = roster(dir.path(), seed, 60);
        let model = model();
        let r = Roster::read(&model, &roster_dir, &ReadOptions::default()).unwrap();
        let scorer = Scorer::new(&model, &model.bands);
        for h in &r.households {
            let x = r.inputs(h);
            let score = scorer.score(&x);
            for (index, item) in model.items.iter().enumerate() {
                let closure = item.condition.to_fn();
                let members = match item.per {
                    hhrisk_model::Per::Household => 1,
                    hhrisk_model::Per::Member => x.count,
                };
                let mut count = 0;
                for m in 0..members {
                    prop_assert_eq!(closure(&x, m), item.condition.eval(&x, m), "{} {}", item.id, h.id);
                    count += u32::from(item.condition.eval(&x, m));
                }
                let scored = score.hits.iter().find(|hit| hit.item == index).map_or(0, |hit| hit.count);
                prop_assert_eq!(scored, count, "{} {}", item.id, h.id);
            }
        }
    }

    /// Streamed batches are scored all at once, each condition over the
    /// whole batch: every item and every score must be those of the tree
    /// and of the one-household scorer, to the last bit.
    #[test]
    fn batch_scoring_agrees_with_the_trees(seed in 0u64..10_000) {
        use hhrisk_model::expr::{BatchEval, Level, OwnedColumns};
        let dir = tempfile::tempdir().unwrap();
        let roster_dir = roster(dir.path(), seed, 60);
        let model = model();
        let r = Roster::read(&model, &roster_dir, &ReadOptions::default()).unwrap();
        let scorer = Scorer::new(&model, &model.bands);
        // the households side by side, as a stream's batch holds them
        let owned: OwnedColumns = r.households.iter().map(|h| r.inputs(h)).collect();
        let columns = owned.columns();
        let (starts, owner) = (columns.starts, columns.owner);
        let mut eval = BatchEval::default();
        eval.load(&columns);
        let mut fired = Vec::new();
        for item in &model.items {
            let (level, rows) = match item.per {
                hhrisk_model::Per::Household => (Level::Household, r.households.len()),
                hhrisk_model::Per::Member => (Level::Member, owner.len()),
            };
            eval.bool(&item.condition, &columns, level, &mut fired);
            prop_assert_eq!(fired.len(), rows);
            for (row, &f) in fired.iter().enumerate() {
                let (h, m) = match level {
                    Level::Household => (row, 0),
                    Level::Member => (owner[row], row - starts[owner[row]]),
                };
                let x = columns.inputs(h);
                prop_assert_eq!(f, item.condition.eval(&x, m), "{} {}", item.id, r.households[h].id);
            }
        }
        let mut state = hhrisk_score::BatchScores::default();
        let scores = scorer.score_batch(&columns, &mut state);
        prop_assert_eq!(scores.len(), r.households.len());
        for (h, s) in r.households.iter().zip(scores) {
            let one = scorer.score(&r.inputs(h));
            prop_assert_eq!(s, &one, "{}", h.id);
            prop_assert_eq!(s.per_capita.to_bits(), one.per_capita.to_bits());
        }
    }

    #[test]
    fn scores_and_calibration_do_not_depend_on_row_order(seed in 0u64..10_000, order in any::<u64>()) {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let options = hhrisk_simulate::Options { villages: 3, households: Some(90), seed, ..Default::default() };
        hhrisk_simulate::simulate(a.path(), &options).unwrap();
        hhrisk_simulate::simulate(b.path(), &options).unwrap();
        for village in std::fs::read_dir(b.path()).unwrap() {
            let v = village.unwrap().path();
            for (k, file) in ["households.csv", "members.csv", "outcomes.csv"].iter().enumerate() {
                rewrite(&v.join(file), |rows| shuffle(rows, order.wrapping_add(k as u64)));
            }
        }
        let model = model();
        let scores = |dir: &Path| -> BTreeMap<String, (String, f64)> {
            let mut out = BTreeMap::new();
            let scorer = Scorer::new(&model, &model.bands);
            for v in std::fs::read_dir(dir).unwrap() {
                let r = Roster::read(&model, &v.unwrap().path(), &ReadOptions::default()).unwrap();
                for h in &r.households {
                    out.insert(h.id.clone(), (h.village.clone(), scorer.score(&r.inputs(h)).per_capita));
                }
            }
            out
        };
        prop_assert_eq!(scores(a.path()), scores(b.path()));

        let run = |dir: &Path| {
            let samples = Samples::load(&model, dir, Encoding::Auto).unwrap();
            let objective = Objective::RecallAtPrecision { target: 0.5, lower_bound: false };
            let mut options = Options::new(&model, objective);
            options.replicates = 30;
            serde_json::to_string(&calibrate(&model, &samples, &options)).unwrap()
        };
        prop_assert_eq!(run(a.path()), run(b.path()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The model parser never panics: any text is a model or a list of
    /// problems with positions.
    #[test]
    fn any_model_text_is_checked_without_panicking(text in "\\PC{0,400}") {
        if let Err(e) = Model::from_toml(&text, "fuzz.toml") {
            let io = matches!(e, hhrisk_model::ModelError::Io { .. });
            prop_assert!(!e.problems().is_empty() || io);
        }
    }

    /// Conditions made of the language's own pieces never panic the checker.
    #[test]
    fn any_condition_is_checked_without_panicking(
        parts in prop::collection::vec(prop::sample::select(vec![
            "income", "age", "members", "line", "count(", "sum(", "any(", "max(", ")", "(", ",", "+", "-", "*", "/",
            "==", "<", ">=", "and", "or", "not", "in", "[", "]", "\"x\"", "1", "0", "2.5", "date(\"2024-01-01\")",
        ]), 0..12),
    ) {
        let when = parts.join(" ");
        let text = format!(
            "[model]\nname='f'\nversion='1'\nsource='f'\n[[parameters]]\nname='line'\nvalue=9048\n[[departments]]\nid='d'\nname='d'\n\
             [[columns]]\nname='income'\nfile='households'\ntype='decimal'\n[[columns]]\nname='age'\nfile='members'\ntype='integer'\n\
             [[categories]]\nid='c'\nname='c'\n[[items]]\nid='X'\ncategory='c'\nname='x'\nwhen='''{when}'''\npoints=1\ndepartment='d'\n"
        );
        let _ = Model::from_toml(&text, "fuzz.toml");
    }

    /// The roster reader never panics on arbitrary bytes: it scores, refuses
    /// rows, or refuses the file, with a message.
    #[test]
    fn any_roster_bytes_are_read_without_panicking(
        households in prop::collection::vec(any::<u8>(), 0..300),
        members in prop::collection::vec(any::<u8>(), 0..300),
        header in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let prefix_h: &[u8] = if header { b"household_id,village,class,annual_net_income,house_safety\n" } else { b"" };
        let prefix_m: &[u8] = if header { b"household_id,person_id,age,health,labour,employment\n" } else { b"" };
        std::fs::write(dir.path().join("households.csv"), [prefix_h, &households].concat()).unwrap();
        std::fs::write(dir.path().join("members.csv"), [prefix_m, &members].concat()).unwrap();
        let model = model();
        match Roster::read(&model, dir.path(), &ReadOptions::default()) {
            Ok(r) => prop_assert_eq!(r.households.len() + r.rejected_households(), r.household_rows),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let _ = stream(&model, dir.path(), &ReadOptions::default(), 2, &Ids, |_| Ok(()));
    }
}

/// Fails on one household: a worker-side failure.
struct FailOn(&'static str);

impl Work for FailOn {
    type State = ();
    type Output = ();
    fn state(&self) {}
    fn household(&self, _: &mut (), h: Streamed<'_>) -> Result<(), WorkError> {
        match h {
            Streamed::Household(h) if h.id == self.0 => {
                Err(WorkError::Work(format!("cannot take {}", h.id).into()))
            }
            _ => Ok(()),
        }
    }
    fn output(&self, _: &mut ()) {}
}

/// A failure on either side of a many-batch stream stops every thread
/// (none left waiting on a full channel) and is reported as it was.
#[test]
fn failures_stop_a_stream_of_many_batches() {
    let dir = tempfile::tempdir().unwrap();
    let roster_dir = roster(dir.path(), 11, 6000);
    let model = model();
    let ids: Vec<String> = {
        let r = Roster::read(&model, &roster_dir, &ReadOptions::default()).unwrap();
        r.households.iter().map(|h| h.id.clone()).collect()
    };
    for threads in [1, 2, 4] {
        // the collecting side fails on the second batch
        let mut batches = 0;
        let result = stream(&model, &roster_dir, &ReadOptions::default(), threads, &Ids, |_| {
            batches += 1;
            if batches == 2 {
                Err(WorkError::Work("disk full".into()))
            } else {
                Ok(())
            }
        });
        assert!(
            matches!(result, Err(StreamError::Consumer(ref m)) if m.to_string() == "disk full"),
            "{result:?}"
        );
        assert_eq!(batches, 2, "nothing is collected after a failure");
        // a worker fails on a household in the middle
        let id: &'static str = Box::leak(ids[3100].clone().into_boxed_str());
        let result = stream(&model, &roster_dir, &ReadOptions::default(), threads, &FailOn(id), |_| Ok(()));
        assert!(
            matches!(result, Err(StreamError::Consumer(ref m)) if m.to_string().contains(id)),
            "{result:?}"
        );
    }
}

/// Holds the first household of the roster until told, and counts the
/// batches worked meanwhile.
struct HoldFirst {
    first: String,
    worked: std::sync::atomic::AtomicUsize,
    worked_while_held: std::sync::atomic::AtomicUsize,
}

impl Work for HoldFirst {
    type State = Vec<String>;
    type Output = Vec<String>;
    fn state(&self) -> Vec<String> {
        Vec::new()
    }
    fn household(&self, state: &mut Vec<String>, h: Streamed<'_>) -> Result<(), WorkError> {
        if let Streamed::Household(HouseholdView { id, .. }) = h {
            if id == self.first {
                // time for the other workers to run ahead as far as they may
                std::thread::sleep(std::time::Duration::from_millis(300));
                let worked = self.worked.load(std::sync::atomic::Ordering::SeqCst);
                self.worked_while_held.store(worked, std::sync::atomic::Ordering::SeqCst);
            }
            state.push(id.to_string());
        }
        Ok(())
    }
    fn output(&self, state: &mut Vec<String>) -> Vec<String> {
        self.worked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::mem::take(state)
    }
}

/// While the first batch is held up, the other workers work only a few
/// batches ahead of it (two per thread and two more), not the whole file;
/// then every household is collected, in file order.
#[test]
fn workers_run_only_a_few_batches_ahead_of_a_slow_one() {
    let dir = tempfile::tempdir().unwrap();
    let roster_dir = roster(dir.path(), 12, 20 * hhrisk_roster::stream::BATCH);
    let model = model();
    let expected: Vec<String> = {
        let r = Roster::read(&model, &roster_dir, &ReadOptions::default()).unwrap();
        r.households.iter().map(|h| h.id.clone()).collect()
    };
    let threads = 2;
    let work = HoldFirst { first: expected[0].clone(), worked: 0.into(), worked_while_held: 0.into() };
    let mut collected = Vec::new();
    let summary = stream(&model, &roster_dir, &ReadOptions::default(), threads, &work, |batch| {
        collected.extend(batch);
        Ok(())
    })
    .unwrap();
    assert_eq!(summary.accepted, expected.len());
    assert_eq!(collected, expected);
    let ahead = work.worked_while_held.load(std::sync::atomic::Ordering::SeqCst);
    assert!(ahead <= 2 * threads + 2, "{ahead} batches worked while the first was held");
}

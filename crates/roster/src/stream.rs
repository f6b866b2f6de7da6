//! Streaming a roster whose members are grouped by household in the order
//! of households.csv, as exports and the simulator write them: batches of
//! households at a time, with memory that does not hold the file, checked
//! and scored on every core.
//!
//! Each worker thread takes the reader in turn (a lock) to read the next
//! batch of [`BATCH`] households from both files record by record
//! (simd-csv, see `RawCsv`), joining members to their household
//! by comparing ids. It then checks every cell of its batch
//! (`Layout::check`) and hands the batch to a [`Work`], which turns it into
//! an output (rows of a scores file), while another worker reads. The
//! outputs are collected in file order by the workers themselves: the one
//! that finishes the batch whose turn it is hands it over (writing it
//! while it is still in that core's cache), with any later ones that
//! finished before it; a worker that gets more than a few batches ahead
//! waits. There is no reader thread and no collecting thread: with one
//! thread per core and none more, reading (the one part done in file
//! order) never waits for a core held by another thread. Batches
//! are cut where they are whatever the number of threads, and each is
//! worked alone, so the outputs are the same, byte for byte, on one thread
//! or many.
//!
//! When the files turn out not to be aligned (a member whose household is
//! neither the current nor the next one), streaming stops with
//! [`StreamError::NotAligned`]; when a key repeats (found by the workers
//! at the end, from 64-bit fingerprints of the keys), with
//! [`StreamError::Repeated`]. The caller then reads the roster whole with
//! [`Roster::read`](crate::Roster::read), which joins any order and
//! refuses every row of a repeated key. The results are the same
//! households scored or refused.

use std::ops::Range;
use std::path::Path;
use std::sync::{Condvar, Mutex, PoisonError};

use hhrisk_model::expr::Scope;
use hhrisk_model::Model;
use hhrisk_tables::Records;

use crate::checked::{work_batch, Scratch};
pub use crate::checked::{Checked, CheckedHousehold};
use crate::grouped::GroupedCsv;
use crate::roster::{HouseholdView, Issue, ReadOptions, RosterError, RowReader};
use crate::split::Splitter;
use crate::workers::{stop, worker, Collector, Ending, Ordered, Seen, Shared, Together};

/// What the stream hands over, household by household.
#[derive(Debug)]
pub enum Streamed<'a> {
    /// A household that passed every check.
    Household(HouseholdView<'a>),
    /// A household refused, with every problem found in its rows.
    Refused(&'a [Issue]),
}

/// What is done with the households of a stream, batch by batch, on the
/// worker threads.
pub trait Work: Sync {
    /// What a worker thread keeps from batch to batch (its buffers).
    type State: Send;
    /// What a batch of households gives; outputs are collected in file
    /// order.
    type Output: Send;
    /// A worker's fresh state.
    fn state(&self) -> Self::State;
    /// Takes one household (in file order within its batch). A work
    /// implements this, or overrides [`Work::batch`], which alone calls it.
    fn household(&self, state: &mut Self::State, household: Streamed<'_>) -> Result<(), WorkError> {
        let _ = (state, household);
        Err(WorkError::WholeBatchesOnly)
    }
    /// Takes a whole batch, checked. By default its households go one by
    /// one, in file order, to [`Work::household`]; a work that gains from
    /// seeing the batch at once (evaluating conditions over it) overrides
    /// this.
    fn batch(&self, state: &mut Self::State, batch: &Checked<'_>) -> Result<(), WorkError> {
        for household in batch.households() {
            let streamed = match household {
                CheckedHousehold::Accepted { index, id, village, line, members } => {
                    Streamed::Household(HouseholdView {
                        id,
                        village,
                        line,
                        inputs: batch.columns.inputs(index),
                        members,
                    })
                }
                CheckedHousehold::Refused(issues) => Streamed::Refused(issues),
            };
            self.household(state, streamed)?;
        }
        Ok(())
    }
    /// Ends a batch: its output.
    fn output(&self, state: &mut Self::State) -> Self::Output;
}

/// A [`Work`] that keeps, batch by batch, what a function makes of each
/// household: the function pushes into the batch's list (or not), and the
/// lists are collected in file order. Made by [`each`].
pub struct Each<T, F> {
    f: F,
    kept: std::marker::PhantomData<fn() -> T>,
}

/// The [`Work`] that runs `f` on every household of the stream, `f`
/// pushing what it keeps into the list of the household's batch.
pub fn each<T, F>(f: F) -> Each<T, F>
where
    F: Fn(Streamed<'_>, &mut Vec<T>) -> Result<(), WorkError> + Sync,
{
    Each { f, kept: std::marker::PhantomData }
}

impl<T: Send, F> Work for Each<T, F>
where
    F: Fn(Streamed<'_>, &mut Vec<T>) -> Result<(), WorkError> + Sync,
{
    type State = Vec<T>;
    type Output = Vec<T>;
    fn state(&self) -> Vec<T> {
        Vec::new()
    }
    fn household(&self, kept: &mut Vec<T>, household: Streamed<'_>) -> Result<(), WorkError> {
        (self.f)(household, kept)
    }
    fn output(&self, kept: &mut Vec<T>) -> Vec<T> {
        std::mem::take(kept)
    }
}

/// Counts of a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Data rows in households.csv.
    pub household_rows: usize,
    /// Data rows in members.csv.
    pub member_rows: usize,
    /// Households scored.
    pub accepted: usize,
    /// Households refused.
    pub refused: usize,
    /// Bytes held to put members.csv in household order
    /// ([`MemberOrder::Regrouped`]); 0 when it was read as it is.
    pub regrouped_bytes: usize,
}

/// Why a [`Work`] or the collecting of its outputs stopped a stream.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// An output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A work that only overrides [`Work::batch`] was handed a single
    /// household.
    #[error("this work takes whole batches only")]
    WholeBatchesOnly,
    /// The work itself failed (formatting a row, say).
    #[error(transparent)]
    Work(Box<dyn std::error::Error + Send + Sync>),
    /// A worker thread could not be started, or failed.
    #[error("a worker thread failed: {0}")]
    Thread(String),
}

/// Why a stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A file could not be read at all.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// The files cannot be streamed as they are (members not grouped in
    /// the order of households.csv): put the members in order
    /// ([`MemberOrder::Regrouped`]) or read the roster whole.
    #[error("{0}")]
    NotAligned(String),
    /// A key repeats (or two keys' 64-bit fingerprints collide): read the
    /// roster whole, which names the rows.
    #[error("{0}")]
    Repeated(String),
    /// The work or the collecting failed (writing output).
    #[error(transparent)]
    Consumer(#[from] WorkError),
}

/// Households in a batch. 256 rather than 512: the same time at 1M
/// households (and 0.4 % fewer instructions), half the buffers a worker
/// keeps warm, and 8 % less time at 10k, where the last batch leaves a
/// core idle; 128 costs more a batch than it saves. The first batches and
/// those near the end of households.csv are smaller (see
/// `Splitter::batch_size`).
pub const BATCH: usize = 256;

/// A batch of households with their members, joined but not yet checked.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) seq: usize,
    pub(crate) households: Records,
    pub(crate) members: Records,
    /// Per household: its member records.
    pub(crate) spans: Vec<Range<usize>>,
}

/// A batch worked.
pub(crate) struct Done<O> {
    pub(crate) seq: usize,
    pub(crate) output: O,
    pub(crate) accepted: usize,
    pub(crate) refused: usize,
}

/// Streams a roster folder (or workbook) in batches of households over
/// `threads` worker threads (on the calling thread when `threads` ≤ 1),
/// handing every household to `work` and every batch's output, in file
/// order, to `collect`. On many threads `collect` runs on the worker that
/// finished the batch next in file order (one at a time), so that the
/// output is written by the core that made it.
pub fn stream<W: Work>(
    model: &Model,
    dir: &Path,
    options: &ReadOptions,
    threads: usize,
    work: &W,
    collect: impl FnMut(W::Output) -> Result<(), WorkError> + Send,
) -> Result<StreamSummary, StreamError> {
    stream_as(model, dir, options, threads, work, collect, MemberOrder::AsItIs)
}

/// How members.csv is read by [`stream_as`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOrder {
    /// As it is: grouped by household in the order of households.csv
    /// ([`stream`]).
    AsItIs,
    /// Not grouped that way: its rows are first put in that order
    /// ([`GroupedCsv`], a partition of consecutive households at a time),
    /// then the roster streams as a grouped one does, with the same
    /// results. The stream fails with [`StreamError::NotAligned`] when
    /// a member's household is not in households.csv, a `household_id`
    /// repeats or cannot be read, or the roster is a workbook: the
    /// whole-file read reports those.
    Regrouped,
}

/// [`stream`], reading members.csv as `order` says.
pub fn stream_as<W: Work>(
    model: &Model,
    dir: &Path,
    options: &ReadOptions,
    threads: usize,
    work: &W,
    collect: impl FnMut(W::Output) -> Result<(), WorkError> + Send,
    order: MemberOrder,
) -> Result<StreamSummary, StreamError> {
    let workbook = hhrisk_tables::is_workbook(dir);
    let (h_at, m_at) = if workbook {
        ((dir.to_path_buf(), "households"), (dir.to_path_buf(), "members"))
    } else {
        ((dir.join("households.csv"), "households"), (dir.join("members.csv"), "members"))
    };
    let mut households = RowReader::open(model, &h_at.0, h_at.1, Scope::Household, options)?;
    let mut members = RowReader::open(model, &m_at.0, m_at.1, Scope::Member, options)?;
    let mut regrouped_bytes = 0;
    if order == MemberOrder::Regrouped {
        if workbook {
            return Err(StreamError::NotAligned("a workbook's members are not put in order".into()));
        }
        let grouped = GroupedCsv::group(
            &h_at.0,
            households.layout.id_at,
            &m_at.0,
            members.layout.id_at,
            options.encoding,
            threads,
        )
        .map_err(|source| RosterError::Io { path: m_at.0.display().to_string(), source })?;
        let Some(grouped) = grouped else {
            return Err(StreamError::NotAligned(
                "a member's household is not in households.csv, or a household_id repeats or cannot be read"
                    .into(),
            ));
        };
        regrouped_bytes = grouped.bytes();
        members.regroup(grouped);
    }
    let check = !options.skip_duplicate_check;
    // seeded afresh each run, so that no roster can be made to collide
    let hasher = foldhash::quality::RandomState::default();
    let mut collector = Collector::new(collect);

    let (counts, mut summary, repeats) = if threads <= 1 {
        let (h, m) = (&households.layout, &members.layout);
        let mut state = work.state();
        let mut scratch = Scratch::new(check);
        let mut batch = Batch::default();
        let mut split = Splitter::new(h, m, &mut households.input, &mut members.input, check);
        while split.fill(&mut batch)? {
            collector.take(work_batch(h, m, work, &mut state, &mut scratch, &batch, &hasher));
            if let Some(e) = collector.failed.take() {
                return Err(e);
            }
        }
        // household and person ids seen, as fingerprints
        let repeats = Seen::repeats(&Seen::take_share(&mut [scratch.seen], 0, 1));
        (split.finish()?, collector.summary, repeats)
    } else {
        // No reader thread: each worker takes the splitter in turn to cut
        // its next batch, then checks and works it while another reads.
        // Reading is the one part done in file order; with a thread per
        // core and none more, it never waits for a core held by a worker.
        let (h, m) = (&households.layout, &members.layout);
        let shared = Mutex::new(Shared {
            split: Splitter::new(h, m, &mut households.input, &mut members.input, check),
            failed: None,
            ended: false,
        });
        // a worker whose batch is this far ahead of the next to be
        // collected waits: memory holds a few batches, never the file
        let ahead = 2 * threads + 2;
        let collector = Ordered { state: Mutex::new(collector), advanced: Condvar::new(), ahead };
        let ending = Ending::new(threads);
        let result = std::thread::scope(|scope| -> Result<(), StreamError> {
            let together = Together { shared: &shared, collector: &collector, ending: &ending };
            let hasher = &hasher;
            let mut workers = Vec::with_capacity(threads);
            for started in 0..threads {
                // named, so that a profiler tells the threads apart
                let worker = std::thread::Builder::new()
                    .name("hhrisk-worker".into())
                    .spawn_scoped(scope, move || worker(h, m, work, together, check, hasher));
                match worker {
                    Ok(worker) => workers.push(worker),
                    Err(e) => {
                        // those started stop at their next batch, and do
                        // not wait for the others at the end
                        stop(&shared, &collector);
                        ending.fewer(started);
                        return Err(WorkError::Thread(format!("cannot start a thread: {e}")).into());
                    }
                }
            }
            for worker in workers {
                if worker.join().is_err() {
                    return Err(WorkError::Thread("a thread panicked".into()).into());
                }
            }
            Ok(())
        });
        let Shared { split, failed, .. } =
            shared.into_inner().map_err(|_| WorkError::Thread("a thread panicked".into()))?;
        let collected =
            collector.state.into_inner().map_err(|_| WorkError::Thread("a thread panicked".into()))?;
        result?;
        if let Some(e) = collected.failed.or(failed) {
            return Err(e);
        }
        let repeats = ending.state.into_inner().unwrap_or_else(PoisonError::into_inner).repeats;
        (split.finish()?, collected.summary, repeats)
    };
    summary.household_rows = counts.0 as usize;
    summary.member_rows = counts.1 as usize;
    summary.regrouped_bytes = regrouped_bytes;
    if repeats.0 {
        return Err(StreamError::Repeated("a household_id repeats in households.csv".into()));
    }
    if repeats.1 {
        return Err(StreamError::Repeated("a person_id repeats in members.csv".into()));
    }
    Ok(summary)
}

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

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::ops::Range;
use std::path::Path;
use std::sync::{Condvar, Mutex, PoisonError};

use crate::cell::same;
use crate::grouped::GroupedCsv;
use crate::roster::{HouseholdView, Input, Issue, Known, Layout, ReadOptions, RosterError, RowReader};
use hhrisk_model::expr::{Columns, Scope};
use hhrisk_model::Model;
use hhrisk_tables::{trim_cell, Fields, Records};

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
    fn household(&self, state: &mut Self::State, household: Streamed<'_>) -> Result<(), String> {
        let _ = (state, household);
        Err("this work takes whole batches only".into())
    }
    /// Takes a whole batch, checked. By default its households go one by
    /// one, in file order, to [`Work::household`]; a work that gains from
    /// seeing the batch at once (evaluating conditions over it) overrides
    /// this.
    fn batch(&self, state: &mut Self::State, batch: &Checked<'_>) -> Result<(), String> {
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
    F: Fn(Streamed<'_>, &mut Vec<T>) -> Result<(), String> + Sync,
{
    Each { f, kept: std::marker::PhantomData }
}

impl<T: Send, F> Work for Each<T, F>
where
    F: Fn(Streamed<'_>, &mut Vec<T>) -> Result<(), String> + Sync,
{
    type State = Vec<T>;
    type Output = Vec<T>;
    fn state(&self) -> Vec<T> {
        Vec::new()
    }
    fn household(&self, kept: &mut Vec<T>, household: Streamed<'_>) -> Result<(), String> {
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
    /// The consumer failed (writing output).
    #[error("{0}")]
    Consumer(String),
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
struct Batch {
    seq: usize,
    households: Records,
    members: Records,
    /// Per household: its member records.
    spans: Vec<Range<usize>>,
}

/// A batch worked.
struct Done<O> {
    seq: usize,
    output: O,
    accepted: usize,
    refused: usize,
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
    collect: impl FnMut(W::Output) -> Result<(), String> + Send,
) -> Result<StreamSummary, StreamError> {
    stream_as(model, dir, options, threads, work, collect, MemberOrder::AsItIs)
}

/// How members.csv is read by [`stream_as`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOrder {
    /// As it is: grouped by household in the order of households.csv
    /// ([`stream`]).
    AsItIs,
    /// Not grouped that way: its rows are first put in that order in
    /// memory ([`GroupedCsv`], about the size of the file and 24 bytes a
    /// member), then the roster streams as a grouped one does, with the
    /// same results. The stream fails with [`StreamError::NotAligned`] when
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
    collect: impl FnMut(W::Output) -> Result<(), String> + Send,
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
                        return Err(StreamError::Consumer(format!("cannot start a thread: {e}")));
                    }
                }
            }
            for worker in workers {
                if worker.join().is_err() {
                    return Err(StreamError::Consumer("a thread failed".into()));
                }
            }
            Ok(())
        });
        let Shared { split, failed, .. } =
            shared.into_inner().map_err(|_| StreamError::Consumer("a thread failed".into()))?;
        let collected =
            collector.state.into_inner().map_err(|_| StreamError::Consumer("a thread failed".into()))?;
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

/// Fingerprints of the keys seen: 8 bytes a key instead of the key, kept
/// in 256 buckets by their first byte as they arrive, and checked for
/// repeats at the end, bucket by bucket (a repeat always falls in one
/// bucket), the buckets shared out over the threads. A collision of two
/// different 64-bit fingerprints (about 1 in 10⁵ for 40 million keys) only
/// sends the roster to the whole-file path, which compares the keys
/// themselves.
struct Seen {
    buckets: Vec<Vec<u64>>,
}

impl Seen {
    fn new(check: bool) -> Seen {
        Seen { buckets: if check { vec![Vec::new(); 256] } else { Vec::new() } }
    }

    fn push(&mut self, fingerprint: u64) {
        if let Some(bucket) = self.buckets.get_mut((fingerprint >> 56) as usize) {
            bucket.push(fingerprint);
        }
    }

    /// Share `share` of `shares` of the buckets of every set in `sets`,
    /// taken out of them: one job per kind of key and bucket, that bucket
    /// of every set (households' and people's buckets in turn, so that
    /// each share holds as many of either).
    fn take_share(sets: &mut [[Seen; 2]], share: usize, shares: usize) -> Vec<(bool, Vec<Vec<u64>>)> {
        let mut jobs = Vec::new();
        for bucket in (share..256).step_by(shares.max(1)) {
            for kind in 0..2 {
                let lists: Vec<Vec<u64>> = sets
                    .iter_mut()
                    .filter_map(|set| set[kind].buckets.get_mut(bucket))
                    .map(std::mem::take)
                    .filter(|list| !list.is_empty())
                    .collect();
                if !lists.is_empty() {
                    jobs.push((kind == 0, lists));
                }
            }
        }
        jobs
    }

    /// Whether a fingerprint repeats in a job (see [`Seen::take_share`]),
    /// among household ids and among person ids: each job's lists go into
    /// one hash set, which a repeat fails to enter.
    fn repeats(jobs: &[(bool, Vec<Vec<u64>>)]) -> (bool, bool) {
        let mut found = (false, false);
        let mut set = Keys::default();
        for (household, lists) in jobs {
            if repeats_in(lists, &mut set) {
                if *household {
                    found.0 = true;
                } else {
                    found.1 = true;
                }
            }
        }
        found
    }
}

/// The end of a stream on several workers: each leaves its fingerprints
/// here when it runs out of batches and, once all have, checks a share
/// of the buckets of all of them. The check takes every core, and no
/// thread is started for it.
struct Ending {
    state: Mutex<Left>,
    all_in: Condvar,
}

/// What the workers left.
struct Left {
    /// Workers started.
    expected: usize,
    arrived: usize,
    sets: Vec<[Seen; 2]>,
    /// A worker failed: the stream fails, and nothing is checked.
    failed: bool,
    /// A repeat found among household ids, among person ids.
    repeats: (bool, bool),
}

impl Ending {
    fn new(workers: usize) -> Ending {
        let left =
            Left { expected: workers, arrived: 0, sets: Vec::new(), failed: false, repeats: (false, false) };
        Ending { state: Mutex::new(left), all_in: Condvar::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Left> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leaves a worker's fingerprints, waits for the others' and checks
    /// its share; `failed`: the worker stopped on a failure.
    fn arrive(&self, seen: [Seen; 2], failed: bool) {
        let mut left = self.lock();
        let share = left.arrived;
        left.arrived += 1;
        left.failed |= failed;
        left.sets.push(seen);
        self.all_in.notify_all();
        let mut left =
            self.all_in.wait_while(left, |l| l.arrived < l.expected).unwrap_or_else(PoisonError::into_inner);
        if left.failed {
            return;
        }
        let shares = left.expected;
        let jobs = Seen::take_share(&mut left.sets, share, shares);
        drop(left);
        let found = Seen::repeats(&jobs);
        // the lists are freed here, on every core
        drop(jobs);
        let mut left = self.lock();
        left.repeats.0 |= found.0;
        left.repeats.1 |= found.1;
    }

    /// A worker that panicked: the others stop waiting for it, and
    /// nothing is checked. `arrived`: it had arrived already.
    fn give_up(&self, arrived: bool) {
        let mut left = self.lock();
        left.failed = true;
        left.arrived += usize::from(!arrived);
        self.all_in.notify_all();
    }

    /// Only `started` workers could be started: those do not wait for
    /// the others, and nothing is checked.
    fn fewer(&self, started: usize) {
        let mut left = self.lock();
        left.expected = started;
        left.failed = true;
        self.all_in.notify_all();
    }
}

/// A set of fingerprints, reused from bucket to bucket.
type Keys = std::collections::HashSet<u64, std::hash::BuildHasherDefault<Spread>>;

/// Hashes a fingerprint by moving its bits: it is random already, but the
/// top byte is the bucket's, the same for every key of a set, and the hash
/// set takes its slot from the low bits of the hash and its tag from the
/// top ones, so the halves are swapped.
#[derive(Default)]
struct Spread(u64);

impl std::hash::Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
        self.0 = self.0.rotate_left(32);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.rotate_left(32);
    }
}

/// Whether a value repeats within or across lists.
fn repeats_in(lists: &[Vec<u64>], set: &mut Keys) -> bool {
    set.clear();
    set.reserve(lists.iter().map(Vec::len).sum());
    lists.iter().flatten().any(|&f| !set.insert(f))
}

/// Hands finished batches to `collect` in file order, keeping those that
/// finish early until their turn.
struct Collector<O, C> {
    collect: C,
    /// The batch to hand over next.
    next: usize,
    waiting: BTreeMap<usize, Done<O>>,
    summary: StreamSummary,
    /// The first failure of a batch or of `collect`: the stream stops.
    failed: Option<StreamError>,
    /// Workers asleep until the batches before theirs are collected: a
    /// worker that collects wakes them only when there are some (waking
    /// is a system call, and most batches find nobody asleep).
    sleepers: usize,
}

impl<O, C: FnMut(O) -> Result<(), String>> Collector<O, C> {
    fn new(collect: C) -> Self {
        Collector {
            collect,
            next: 0,
            waiting: BTreeMap::new(),
            summary: StreamSummary::default(),
            failed: None,
            sleepers: 0,
        }
    }

    /// Takes a batch worked (or why it failed), and hands over every batch
    /// whose turn it is. After a failure nothing more is handed over.
    fn take(&mut self, done: Result<Done<O>, StreamError>) {
        if self.failed.is_some() {
            return;
        }
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                self.failed = Some(e);
                return;
            }
        };
        self.waiting.insert(done.seq, done);
        while let Some(d) = self.waiting.remove(&self.next) {
            self.summary.accepted += d.accepted;
            self.summary.refused += d.refused;
            self.next += 1;
            if let Err(e) = (self.collect)(d.output) {
                self.failed = Some(StreamError::Consumer(e));
                return;
            }
        }
    }
}

/// The collector shared by the workers, and the signal that its next
/// batch has moved on.
struct Ordered<O, C> {
    state: Mutex<Collector<O, C>>,
    advanced: Condvar,
    /// How far ahead of the next batch to collect a worker may get.
    ahead: usize,
}

/// The splitter, shared by the workers: each takes it in turn to cut its
/// next batch, so batches are cut in file order and in the same places
/// whatever the number of threads.
struct Shared<'r> {
    split: Splitter<'r>,
    /// Why the files could not be cut into batches.
    failed: Option<StreamError>,
    /// No more batches: the files are read, or something failed.
    ended: bool,
}

/// Ends the stream for every worker: no more batches are cut, and those
/// waiting for their turn to be collected wake up to stop.
fn stop<O, C>(shared: &Mutex<Shared>, collector: &Ordered<O, C>) {
    shared.lock().unwrap_or_else(PoisonError::into_inner).ended = true;
    let mut c = collector.state.lock().unwrap_or_else(PoisonError::into_inner);
    if c.failed.is_none() {
        c.failed = Some(StreamError::Consumer("a thread failed".into()));
    }
    drop(c);
    collector.advanced.notify_all();
}

/// What the workers share: the splitter, the collector and the end.
struct Together<'a, 'r, O, C> {
    shared: &'a Mutex<Shared<'r>>,
    collector: &'a Ordered<O, C>,
    ending: &'a Ending,
}

impl<O, C> Clone for Together<'_, '_, O, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O, C> Copy for Together<'_, '_, O, C> {}

/// Stops the stream (see [`stop`]) when the worker that holds it unwinds,
/// and tells the end not to wait for it.
struct Stops<'a, 'r, O, C> {
    together: Together<'a, 'r, O, C>,
    /// The worker has left its fingerprints.
    arrived: bool,
}

impl<O, C> Drop for Stops<'_, '_, O, C> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            stop(self.together.shared, self.together.collector);
            self.together.ending.give_up(self.arrived);
        }
    }
}

fn worker<W: Work, C: FnMut(W::Output) -> Result<(), String>>(
    h: &Layout,
    m: &Layout,
    work: &W,
    together: Together<'_, '_, W::Output, C>,
    check: bool,
    hasher: &foldhash::quality::RandomState,
) {
    let Together { shared, collector, ending } = together;
    let mut state = work.state();
    let mut scratch = Scratch::new(check);
    let mut batch = Batch::default();
    // a worker that panics stops the others, which would otherwise wait
    // for its batch to be collected, or for it at the end, forever
    let mut stops = Stops { together, arrived: false };
    let stop_all = || stop(shared, collector);
    // whether the worker stops on a failure
    let failed = loop {
        {
            let Ok(mut shared) = shared.lock() else { break true };
            if shared.ended {
                // (another worker read the last batch, or failed)
                break false;
            }
            match shared.split.fill(&mut batch) {
                Ok(true) => {}
                Ok(false) => {
                    shared.ended = true;
                    break false;
                }
                Err(e) => {
                    shared.failed = Some(e);
                    shared.ended = true;
                    break true;
                }
            }
        }
        let seq = batch.seq;
        let result = work_batch(h, m, work, &mut state, &mut scratch, &batch, hasher);
        let mut c = match collector.state.lock() {
            Ok(c) => c,
            Err(poisoned) => {
                // released first: stopping takes the lock again
                drop(poisoned);
                stop_all();
                break true;
            }
        };
        c.take(result);
        if c.sleepers > 0 {
            collector.advanced.notify_all();
        }
        c.sleepers += 1;
        let mut waited =
            collector.advanced.wait_while(c, |c| c.failed.is_none() && seq >= c.next + collector.ahead);
        if let Ok(c) = &mut waited {
            c.sleepers -= 1;
        }
        let go_on = matches!(&waited, Ok(c) if c.failed.is_none());
        // released first: stopping takes the lock again
        drop(waited);
        if !go_on {
            stop_all();
            break true;
        }
    };
    // the buffers go before the wait at the end
    drop((state, batch));
    stops.arrived = true;
    ending.arrive(scratch.seen, failed);
}

/// Reads both files and cuts them into batches of joined households.
struct Splitter<'r> {
    h_layout: &'r Layout<'r>,
    m_layout: &'r Layout<'r>,
    households: &'r mut Input,
    members: &'r mut Input,
    /// The member record read ahead, when it belongs to a later batch.
    carry: Records,
    /// Whether a member record has been read ahead (the last one of the
    /// batch being filled, or the one in `carry`).
    pending: bool,
    started: bool,
    last_household: String,
    /// Its bytes as in the file, and those of the last person id.
    last_household_raw: Vec<u8>,
    last_person_raw: Vec<u8>,
    /// Whether `last_person_raw` is `plain`.
    last_person_plain: bool,
    /// Whether keys are checked for repeats by fingerprints (so that the
    /// splitter need not compare a person id with the one before).
    fingerprints: bool,
    seq: usize,
    household_rows: u64,
    member_rows: u64,
}

impl<'r> Splitter<'r> {
    fn new(
        h_layout: &'r Layout,
        m_layout: &'r Layout,
        households: &'r mut Input,
        members: &'r mut Input,
        fingerprints: bool,
    ) -> Self {
        Splitter {
            h_layout,
            m_layout,
            households,
            members,
            carry: Records::default(),
            pending: false,
            started: false,
            last_household: String::new(),
            last_household_raw: Vec::new(),
            last_person_raw: Vec::new(),
            last_person_plain: false,
            fingerprints,
            seq: 0,
            household_rows: 0,
            member_rows: 0,
        }
    }

    /// Fills `batch` with the next households; `false` when there are none.
    fn fill(&mut self, batch: &mut Batch) -> Result<bool, StreamError> {
        batch.households.clear();
        batch.members.clear();
        batch.spans.clear();
        batch.seq = self.seq;
        if !self.started {
            self.started = true;
            self.pending = self.members.read_into(&mut batch.members)?.is_some();
        } else if self.pending {
            let (line, data, ends) = self.carry.get(0);
            batch.members.push_fields(line, data, ends);
        }
        let (h_id, m_id, m_key) = (self.h_layout.id_at, self.m_layout.id_at, self.m_layout.key_at);
        let size = self.batch_size();
        while batch.spans.len() < size {
            let Some(line) = self.households.read_into(&mut batch.households)? else { break };
            self.household_rows += 1;
            let (_, data, ends) = batch.households.get(batch.households.len() - 1);
            let raw_id = (Fields { data, ends }).get(h_id).unwrap_or_default();
            let id = match trim_cell(raw_id) {
                Ok(id) if !id.is_empty() && id != self.last_household => id,
                _ => {
                    return Err(StreamError::NotAligned(format!(
                        "household_id at line {line} is empty or repeated"
                    )))
                }
            };
            self.last_household.clear();
            self.last_household.push_str(id);
            self.last_household_raw.clear();
            self.last_household_raw.extend_from_slice(raw_id);
            // the pending member, if any, is the last record of the batch
            let first = batch.members.len() - usize::from(self.pending);
            while self.pending {
                let (m_line, data, ends) = batch.members.get(batch.members.len() - 1);
                let fields = Fields { data, ends };
                // the same bytes as the household's id, or the same text
                let raw_id = fields.get(m_id).unwrap_or_default();
                if !same(raw_id, &self.last_household_raw)
                    && trim_cell(raw_id) != Ok(self.last_household.as_str())
                {
                    break;
                }
                if !self.fresh_person(fields.get(m_key).unwrap_or_default()) {
                    return Err(StreamError::NotAligned(format!(
                        "person_id at members line {m_line} is empty or repeated"
                    )));
                }
                self.member_rows += 1;
                self.pending = self.members.read_into(&mut batch.members)?.is_some();
            }
            batch.spans.push(first..batch.members.len() - usize::from(self.pending));
        }
        if self.pending {
            // the member read ahead goes with the next batch
            self.carry.clear();
            let last = batch.members.len() - 1;
            let (line, data, ends) = batch.members.get(last);
            self.carry.push_fields(line, data, ends);
            batch.members.truncate(last);
        }
        self.seq += 1;
        Ok(!batch.spans.is_empty())
    }

    /// Households in the next batch: [`BATCH`], but fewer in the first
    /// batches, so that every thread starts soon, and near the end of
    /// households.csv (going by its size), so that no thread is left
    /// working a long last batch while the others have none. The sizes
    /// follow from the files alone, never from the number of threads.
    fn batch_size(&self) -> usize {
        let first = BATCH >> 3usize.saturating_sub(self.seq);
        // households left, at the bytes a household so far
        let left = match self.households.progress() {
            Some((read, left)) if self.household_rows > 0 && read > 0 => {
                usize::try_from(u128::from(left) * u128::from(self.household_rows) / u128::from(read))
                    .unwrap_or(usize::MAX)
            }
            _ => usize::MAX,
        };
        first.min((left / 4).max(BATCH / 8))
    }

    /// Whether a member's person id (its bytes in the file) may follow the
    /// one before: not empty, and, unless fingerprints find repeats at the
    /// end (next to each other or not), not the same as the one before.
    fn fresh_person(&mut self, raw: &[u8]) -> bool {
        let plain = plain(raw);
        if self.fingerprints {
            return plain || matches!(trim_cell(raw), Ok(p) if !p.is_empty());
        }
        let fresh = if plain && self.last_person_plain {
            // no space or non-ASCII byte at the ends: the text is the bytes
            !same(raw, &self.last_person_raw)
        } else {
            matches!(trim_cell(raw), Ok(p) if !p.is_empty() && trim_cell(&self.last_person_raw) != Ok(p))
        };
        self.last_person_raw.clear();
        self.last_person_raw.extend_from_slice(raw);
        self.last_person_plain = plain;
        fresh
    }

    /// After the last batch: the row counts, or why the files do not fit.
    fn finish(self) -> Result<(u64, u64), StreamError> {
        if self.household_rows == 0 {
            return Err(StreamError::Roster(RosterError::Empty {
                path: self.h_layout.path.clone(),
                message: "the file has a header but no households; export the roster again".to_string(),
            }));
        }
        if self.pending {
            let (line, data, ends) = self.carry.get(0);
            let id = match (Fields { data, ends }).get(self.m_layout.id_at).map(trim_cell) {
                Some(Ok(id)) => id,
                _ => "",
            };
            return Err(StreamError::NotAligned(format!(
                "members.csv line {line}: household {id} is not where households.csv has it (or not there at all)"
            )));
        }
        Ok((self.household_rows, self.member_rows))
    }
}

/// Whether a cell's text is its bytes: ASCII, not empty, with no white
/// space at either end (so `trim_cell` would return it as it is).
fn plain(bytes: &[u8]) -> bool {
    matches!((bytes.first(), bytes.last()), (Some(&a), Some(&z)) if a > b' ' && z > b' ') && bytes.is_ascii()
}

/// A worker's buffers, kept from batch to batch, and the keys it has seen.
struct Scratch {
    /// Household and person ids, as fingerprints (none without the check).
    seen: [Seen; 2],
    h_values: Vec<f64>,
    m_values: Vec<f64>,
    starts: Vec<usize>,
    owner: Vec<usize>,
    issues: Vec<Issue>,
    entries: Vec<Entry>,
}

impl Scratch {
    fn new(check: bool) -> Scratch {
        Scratch {
            seen: [Seen::new(check), Seen::new(check)],
            h_values: Vec::new(),
            m_values: Vec::new(),
            starts: Vec::new(),
            owner: Vec::new(),
            issues: Vec::new(),
            entries: Vec::new(),
        }
    }
}

/// One household of a checked batch, in file order.
#[derive(Debug, Clone)]
enum Entry {
    /// The `k`th household accepted.
    Accepted(usize),
    /// A household refused, with these problems.
    Refused(Range<usize>),
}

/// A batch of households checked: the accepted ones' inputs side by side
/// (for evaluating conditions over the whole batch at once), and every
/// household in file order, accepted or refused.
#[derive(Debug)]
pub struct Checked<'a> {
    /// The accepted households' inputs.
    pub columns: Columns<'a>,
    ids: Vec<&'a str>,
    villages: Vec<&'a str>,
    lines: Vec<u64>,
    /// The accepted households' members' `person_id`s, member row by
    /// member row (as `columns.owner`).
    member_ids: Vec<&'a str>,
    entries: &'a [Entry],
    issues: &'a [Issue],
}

/// A household of a checked batch, as [`Checked::households`] gives it.
#[derive(Debug)]
pub enum CheckedHousehold<'a> {
    /// The `index`th accepted household (its inputs are
    /// `columns.inputs(index)`).
    Accepted {
        /// Index among the accepted households of the batch.
        index: usize,
        /// `household_id`.
        id: &'a str,
        /// `village`.
        village: &'a str,
        /// Line in households.csv.
        line: u64,
        /// Its members' `person_id`s, in file order (trimmed, unmasked).
        members: &'a [&'a str],
    },
    /// A household refused, with every problem found in its rows.
    Refused(&'a [Issue]),
}

impl<'a> Checked<'a> {
    /// Every household of the batch, in file order.
    pub fn households(&self) -> impl Iterator<Item = CheckedHousehold<'_>> + '_ {
        self.entries.iter().map(|e| match e {
            &Entry::Accepted(index) => CheckedHousehold::Accepted {
                index,
                id: self.ids[index],
                village: self.villages[index],
                line: self.lines[index],
                members: &self.member_ids[self.columns.span(index)],
            },
            Entry::Refused(issues) => CheckedHousehold::Refused(&self.issues[issues.clone()]),
        })
    }

    /// Households in the batch, accepted or refused.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks a batch's rows and hands its households to `work`.
fn work_batch<W: Work>(
    h: &Layout,
    m: &Layout,
    work: &W,
    state: &mut W::State,
    scratch: &mut Scratch,
    batch: &Batch,
    hasher: &foldhash::quality::RandomState,
) -> Result<Done<W::Output>, StreamError> {
    let (mut accepted, mut refused) = (0, 0);
    let stride = m.stride();
    let Scratch { h_values, m_values, starts, owner, issues, entries, seen } = scratch;
    let check = !seen[0].buckets.is_empty();
    for v in [&mut *h_values, &mut *m_values] {
        v.clear();
    }
    for v in [&mut *starts, &mut *owner] {
        v.clear();
    }
    starts.push(0);
    issues.clear();
    entries.clear();
    let n = batch.spans.len();
    let (mut ids, mut villages, mut lines) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let mut member_ids = Vec::with_capacity(batch.members.len());
    let mut last_village: Option<(&[u8], &str)> = None;
    for (i, span) in batch.spans.iter().enumerate() {
        let (h_kept, m_kept, before) = (h_values.len(), m_values.len(), issues.len());
        let ids_kept = member_ids.len();
        let (line, data, ends) = batch.households.get(i);
        let fields = Fields { data, ends };
        // households of a village follow one another: its name, read
        // once, is known for the next row with the same bytes
        let raw_village = fields.get(h.key_at);
        let village = match (last_village, raw_village) {
            (Some((raw, text)), Some(now)) if same(raw, now) => Some(text),
            _ => None,
        };
        let household =
            h.check_known(fields, line, Known { household: None, key: village }, h_values, issues);
        if let (Some(raw), true) = (raw_village, household.ok) {
            last_village = Some((raw, household.key));
        }
        let (mut ok, id) = (household.ok, household.household);
        if check {
            // folded: ids that differ only by case or width look like a
            // repeat, and the whole-file read names them
            seen[0].push(hasher.hash_one(crate::roster::fold_id(id)));
        }
        for r in span.clone() {
            let (m_line, data, ends) = batch.members.get(r);
            let m_fields = Fields { data, ends };
            // the splitter matched this row's household_id to `id`
            let known = Known { household: Some(id), key: None };
            let member = m.check_known(m_fields, m_line, known, m_values, issues);
            ok &= member.ok;
            member_ids.push(member.key);
            if check {
                seen[1].push(hasher.hash_one(member.key));
            }
        }
        for issue in &mut issues[before..] {
            issue.household_line.get_or_insert(line);
        }
        if span.is_empty() {
            // No members here. If the files are in different orders, some
            // member is never taken and the stream ends in NotAligned.
            issues.push(Issue {
                file: h.path.clone(),
                line,
                column: None,
                household_id: Some(id.to_string()),
                household_line: Some(line),
                person_id: None,
                message: "the household has no members in members.csv; add its members, or remove the row"
                    .to_string(),
            });
            ok = false;
        }
        if ok {
            entries.push(Entry::Accepted(accepted));
            owner.extend(std::iter::repeat_n(accepted, span.len()));
            starts.push(owner.len());
            ids.push(id);
            villages.push(household.key);
            lines.push(line);
            accepted += 1;
        } else {
            h_values.truncate(h_kept);
            m_values.truncate(m_kept);
            member_ids.truncate(ids_kept);
            entries.push(Entry::Refused(before..issues.len()));
            refused += 1;
        }
    }
    let checked = Checked {
        columns: Columns {
            household: h_values,
            household_stride: h.stride(),
            members: m_values,
            member_stride: stride,
            starts,
            owner,
        },
        ids,
        villages,
        lines,
        member_ids,
        entries,
        issues,
    };
    work.batch(state, &checked).map_err(StreamError::Consumer)?;
    Ok(Done { seq: batch.seq, output: work.output(state), accepted, refused })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Roster;

    #[test]
    fn a_repeat_is_found_within_a_list_or_across_lists() {
        let lists = |l: &[&[u64]]| l.iter().map(|v| v.to_vec()).collect::<Vec<_>>();
        // one set for all, as a thread reuses it
        let set = &mut Keys::default();
        assert!(!repeats_in(&lists(&[&[5, 1, 9], &[2, 8, 4], &[7]]), set));
        assert!(repeats_in(&lists(&[&[5, 1, 5], &[2]]), set), "within a list");
        assert!(repeats_in(&lists(&[&[5, 1, 9], &[2, 9]]), set), "across two lists");
        assert!(repeats_in(&lists(&[&[3], &[4], &[1, 3]]), set), "the first and the last list");
        assert!(!repeats_in(&lists(&[]), set));
        // fingerprints of one bucket: the same top byte
        let bucket: Vec<u64> =
            (0..10_000u64).map(|i| (0xAB << 56) | i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8).collect();
        assert!(!repeats_in(std::slice::from_ref(&bucket), set));
        assert!(repeats_in(&[bucket.clone(), vec![bucket[7_777]]], set));
    }

    #[test]
    fn repeats_are_found_whichever_share_holds_them() {
        // keys spread over every bucket, as fingerprints are
        let key = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // two workers' sets, households' and people's; the second worker
        // also holds person key `person` and household key `household`
        let sets = |person: Option<u64>, household: Option<u64>| {
            let mut sets = [
                [super::Seen::new(true), super::Seen::new(true)],
                [super::Seen::new(true), super::Seen::new(true)],
            ];
            for i in 0..10_000 {
                sets[(i % 2) as usize][1].push(key(i));
                sets[(i % 2) as usize][0].push(key(i + 20_000));
            }
            person.into_iter().for_each(|p| sets[1][1].push(key(p)));
            household.into_iter().for_each(|h| sets[1][0].push(key(h + 20_000)));
            sets
        };
        for shares in [1, 2, 3] {
            let found = |mut sets: [[super::Seen; 2]; 2]| {
                let found = (0..shares)
                    .map(|share| super::Seen::repeats(&super::Seen::take_share(&mut sets, share, shares)))
                    .fold((false, false), |a, f| (a.0 || f.0, a.1 || f.1));
                // every bucket was in one share
                assert!(sets.iter().flatten().flat_map(|s| &s.buckets).all(Vec::is_empty));
                found
            };
            assert_eq!(found(sets(None, None)), (false, false), "{shares}");
            assert_eq!(found(sets(Some(4_444), None)), (false, true), "{shares}");
            assert_eq!(found(sets(None, Some(7))), (true, false), "{shares}");
            // a person key equal to a household key is no repeat
            assert_eq!(found(sets(Some(20_007), None)), (false, false), "{shares}");
        }
        // nothing kept (--skip-duplicate-check): nothing to check
        let mut none = [[super::Seen::new(false), super::Seen::new(false)]];
        assert!(super::Seen::take_share(&mut none, 0, 1).is_empty());
    }

    fn fixture() -> (Model, std::path::PathBuf) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        (Model::from_path(&root.join("indicators/xiaochang.toml")).unwrap(), root.join("tests/data/roster"))
    }

    type Seen = (String, Vec<f64>, Vec<f64>);

    /// Keeps what it is handed: households accepted, with their inputs.
    fn keep() -> impl Work<Output = Vec<Seen>> {
        each(|h, kept: &mut Vec<Seen>| {
            if let Streamed::Household(HouseholdView { id, inputs, .. }) = h {
                kept.push((id.to_string(), inputs.household.to_vec(), inputs.members.to_vec()));
            }
            Ok(())
        })
    }

    /// The households the whole-file read accepts, with their inputs.
    fn accepted_whole(model: &Model, dir: &Path) -> Vec<Seen> {
        let whole = Roster::read(model, dir, &ReadOptions::default()).unwrap();
        whole
            .households
            .iter()
            .map(|h| {
                let x = whole.inputs(h);
                (h.id.clone(), x.household.to_vec(), x.members.to_vec())
            })
            .collect()
    }

    /// A roster of `n` households alike (the first of the test roster,
    /// with its members), under a fresh folder.
    fn copies(n: usize, name: &str, gb18030: bool) -> std::path::PathBuf {
        let (_, source) = fixture();
        let dir = std::env::temp_dir().join(format!("hhrisk-stream-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["households.csv", "members.csv"] {
            let text = std::fs::read_to_string(source.join(file)).unwrap();
            let mut lines = text.lines();
            let mut out = format!("{}\n", lines.next().unwrap());
            let first: Vec<&str> = lines.filter(|l| l.starts_with("H001,")).collect();
            for k in 0..n {
                for row in &first {
                    out.push_str(&format!("C{k:05}{}\n", &row[4..]));
                }
            }
            let bytes =
                if gb18030 { encoding_rs::GB18030.encode(&out).0.into_owned() } else { out.into_bytes() };
            std::fs::write(dir.join(file), bytes).unwrap();
        }
        dir
    }

    /// The sizes of the batches a roster of `n` copies is cut into.
    fn batch_sizes(n: usize, gb18030: bool) -> Vec<usize> {
        let (model, _) = fixture();
        let dir = copies(n, if gb18030 { "batches-gb" } else { "batches" }, gb18030);
        let options = ReadOptions::default();
        let open = |file: &str, scope| RowReader::open(&model, &dir.join(file), "", scope, &options).unwrap();
        let (mut households, mut members) =
            (open("households.csv", Scope::Household), open("members.csv", Scope::Member));
        let (h, m) = (&households.layout, &members.layout);
        let mut split = Splitter::new(h, m, &mut households.input, &mut members.input, true);
        let (mut batch, mut sizes) = (Batch::default(), Vec::new());
        while split.fill(&mut batch).unwrap() {
            sizes.push(batch.spans.len());
        }
        std::fs::remove_dir_all(&dir).unwrap();
        sizes
    }

    #[test]
    fn batches_are_smaller_at_the_start_and_near_the_end() {
        let sizes = batch_sizes(3000, false);
        // By hand: 32, 64 and 128 to start, then 256 until 2016 are read
        // and 984 left; then a quarter of those left each time (245: the
        // header's bytes make the estimate a little low), 32 at least.
        let tail = [245, 184, 138, 104, 78, 58, 44, 33, 32, 32, 32, 4];
        let expected: Vec<usize> = [32, 64, 128].into_iter().chain([256; 7]).chain(tail).collect();
        assert_eq!(sizes, expected);
        assert_eq!(sizes.iter().sum::<usize>(), 3000);
        // A file read through a decoder (GB18030 here) has no size in the
        // reader's bytes: its batches do not shrink at the end.
        let decoded = batch_sizes(3000, true);
        let expected: Vec<usize> = [32, 64, 128].into_iter().chain([256; 10]).chain([216]).collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn streaming_hands_over_what_the_whole_file_read_accepts() {
        let (model, dir) = fixture();
        let expected = accepted_whole(&model, &dir);
        for threads in [1, 2, 3] {
            let mut streamed = Vec::new();
            let summary = stream(&model, &dir, &ReadOptions::default(), threads, &keep(), |batch| {
                streamed.extend(batch);
                Ok(())
            })
            .unwrap();
            assert_eq!(
                summary,
                StreamSummary {
                    household_rows: 6,
                    member_rows: 17,
                    accepted: 6,
                    refused: 0,
                    regrouped_bytes: 0
                }
            );
            assert_eq!(streamed, expected, "{threads} threads");
        }
    }

    #[test]
    fn members_in_another_order_stop_the_stream_and_stream_once_regrouped() {
        let (model, dir) = fixture();
        let tmp = std::env::temp_dir().join(format!("hhrisk-stream-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::copy(dir.join("households.csv"), tmp.join("households.csv")).unwrap();
        let members = std::fs::read_to_string(dir.join("members.csv")).unwrap();
        let mut lines: Vec<&str> = members.lines().collect();
        lines.swap(1, 5); // a member of H003 before those of H001
        lines.swap(2, 17); // and the last member (H006) second
        std::fs::write(tmp.join("members.csv"), lines.join("\n") + "\n").unwrap();
        let options = ReadOptions::default();
        let expected = accepted_whole(&model, &tmp);
        for threads in [1, 2] {
            let result = stream(&model, &tmp, &options, threads, &keep(), |_| Ok(()));
            assert!(matches!(result, Err(StreamError::NotAligned(_))), "{result:?}");
            let mut streamed = Vec::new();
            let collect = |batch| {
                streamed.extend(batch);
                Ok(())
            };
            let summary =
                stream_as(&model, &tmp, &options, threads, &keep(), collect, MemberOrder::Regrouped).unwrap();
            assert_eq!((summary.household_rows, summary.member_rows, summary.accepted), (6, 17, 6));
            assert!(summary.regrouped_bytes > members.len() - 200, "{summary:?}");
            assert_eq!(streamed, expected, "{threads} threads");
        }
        // a member whose household is not in households.csv: the whole-file read reports it
        let unknown = members.replacen("H006,", "H099,", 1);
        std::fs::write(tmp.join("members.csv"), unknown).unwrap();
        let result = stream_as(&model, &tmp, &options, 2, &keep(), |_| Ok(()), MemberOrder::Regrouped);
        assert!(matches!(result, Err(StreamError::NotAligned(_))), "{result:?}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// What `f` returns, run on a thread of its own: a stream that hangs
    /// fails the test after two minutes instead of stopping the suite.
    fn unless_it_hangs<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(f());
        });
        receiver.recv_timeout(std::time::Duration::from_secs(120)).expect("the stream hung")
    }

    #[test]
    fn workers_far_ahead_sleep_until_their_turn_and_wake() {
        // the third batch takes long: the other workers get more than a
        // few batches ahead, sleep, and must be woken when it is collected
        let dir = copies(3_000, "ahead", false);
        for threads in [2, 3] {
            let (model, dir) = (fixture().0, dir.clone());
            // a worker left asleep hangs the stream
            let (accepted, ids) = unless_it_hangs(move || {
                let work = each(|household, kept: &mut Vec<String>| {
                    if let Streamed::Household(h) = household {
                        if h.id == "C00100" {
                            std::thread::sleep(std::time::Duration::from_millis(200));
                        }
                        kept.push(h.id.to_string());
                    }
                    Ok(())
                });
                let mut ids = Vec::new();
                // (the copies repeat person ids from household to household)
                let options = ReadOptions { skip_duplicate_check: true, ..ReadOptions::default() };
                let result = stream(&model, &dir, &options, threads, &work, |batch| {
                    ids.extend(batch);
                    Ok(())
                });
                (result.map(|s| s.accepted), ids)
            });
            assert_eq!(accepted.unwrap(), 3_000, "{threads} threads");
            let expected: Vec<String> = (0..3_000).map(|k| format!("C{k:05}")).collect();
            assert_eq!(ids, expected, "{threads} threads: in file order");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_worker_that_panics_stops_the_others() {
        // a panic in the third batch: the other workers go on until they
        // are too far ahead of it, and used to wait there for its batch
        let dir = copies(3_000, "panic", false);
        for threads in [2, 3] {
            let (model, dir) = (fixture().0, dir.clone());
            let result = unless_it_hangs(move || {
                let work = each(|household, _: &mut Vec<()>| match household {
                    Streamed::Household(h) if h.id == "C00100" => panic!("a bug in the work"),
                    _ => Ok(()),
                });
                stream(&model, &dir, &ReadOptions::default(), threads, &work, |_| Ok(()))
            });
            assert!(
                matches!(result, Err(StreamError::Consumer(ref m)) if m == "a thread failed"),
                "{threads} threads: {result:?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_consumer_stops_every_thread() {
        let (model, dir) = fixture();
        let result = stream(&model, &dir, &ReadOptions::default(), 2, &keep(), |_| Err("disk full".into()));
        assert!(matches!(result, Err(StreamError::Consumer(ref m)) if m == "disk full"), "{result:?}");
    }
}

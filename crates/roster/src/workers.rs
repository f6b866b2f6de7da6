//! The worker threads of a stream: each cuts its next batch in turn,
//! checks and works it, and hands the output over in file order; at the
//! end they look for repeated keys together.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, PoisonError};

use crate::checked::{work_batch, Scratch};
use crate::roster::Layout;
use crate::split::Splitter;
use crate::stream::{Batch, Done, StreamError, StreamSummary, Work, WorkError};

/// Fingerprints of the keys seen: 8 bytes a key instead of the key, kept
/// in 256 buckets by their first byte as they arrive, and checked for
/// repeats at the end, bucket by bucket (a repeat always falls in one
/// bucket), the buckets shared out over the threads. A collision of two
/// different 64-bit fingerprints (about 1 in 10⁵ for 40 million keys) only
/// sends the roster to the whole-file path, which compares the keys
/// themselves.
pub(crate) struct Seen {
    pub(crate) buckets: Vec<Vec<u64>>,
}

impl Seen {
    pub(crate) fn new(check: bool) -> Seen {
        Seen { buckets: if check { vec![Vec::new(); 256] } else { Vec::new() } }
    }

    pub(crate) fn push(&mut self, fingerprint: u64) {
        if let Some(bucket) = self.buckets.get_mut((fingerprint >> 56) as usize) {
            bucket.push(fingerprint);
        }
    }

    /// Share `share` of `shares` of the buckets of every set in `sets`,
    /// taken out of them: one job per kind of key and bucket, that bucket
    /// of every set (households' and people's buckets in turn, so that
    /// each share holds as many of either).
    pub(crate) fn take_share(
        sets: &mut [[Seen; 2]],
        share: usize,
        shares: usize,
    ) -> Vec<(bool, Vec<Vec<u64>>)> {
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
    pub(crate) fn repeats(jobs: &[(bool, Vec<Vec<u64>>)]) -> (bool, bool) {
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
pub(crate) struct Ending {
    pub(crate) state: Mutex<Left>,
    pub(crate) all_in: Condvar,
}

/// What the workers left.
pub(crate) struct Left {
    /// Workers started.
    pub(crate) expected: usize,
    pub(crate) arrived: usize,
    pub(crate) sets: Vec<[Seen; 2]>,
    /// A worker failed: the stream fails, and nothing is checked.
    pub(crate) failed: bool,
    /// A repeat found among household ids, among person ids.
    pub(crate) repeats: (bool, bool),
}

impl Ending {
    pub(crate) fn new(workers: usize) -> Ending {
        let left =
            Left { expected: workers, arrived: 0, sets: Vec::new(), failed: false, repeats: (false, false) };
        Ending { state: Mutex::new(left), all_in: Condvar::new() }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Left> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leaves a worker's fingerprints, waits for the others' and checks
    /// its share; `failed`: the worker stopped on a failure.
    pub(crate) fn arrive(&self, seen: [Seen; 2], failed: bool) {
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
    pub(crate) fn give_up(&self, arrived: bool) {
        let mut left = self.lock();
        left.failed = true;
        left.arrived += usize::from(!arrived);
        self.all_in.notify_all();
    }

    /// Only `started` workers could be started: those do not wait for
    /// the others, and nothing is checked.
    pub(crate) fn fewer(&self, started: usize) {
        let mut left = self.lock();
        left.expected = started;
        left.failed = true;
        self.all_in.notify_all();
    }
}

/// A set of fingerprints, reused from bucket to bucket.
pub(crate) type Keys = std::collections::HashSet<u64, std::hash::BuildHasherDefault<Spread>>;

/// Hashes a fingerprint by moving its bits: it is random already, but the
/// top byte is the bucket's, the same for every key of a set, and the hash
/// set takes its slot from the low bits of the hash and its tag from the
/// top ones, so the halves are swapped.
#[derive(Default)]
pub(crate) struct Spread(u64);

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
pub(crate) fn repeats_in(lists: &[Vec<u64>], set: &mut Keys) -> bool {
    set.clear();
    set.reserve(lists.iter().map(Vec::len).sum());
    lists.iter().flatten().any(|&f| !set.insert(f))
}

/// Hands finished batches to `collect` in file order, keeping those that
/// finish early until their turn.
pub(crate) struct Collector<O, C> {
    pub(crate) collect: C,
    /// The batch to hand over next.
    pub(crate) next: usize,
    pub(crate) waiting: BTreeMap<usize, Done<O>>,
    pub(crate) summary: StreamSummary,
    /// The first failure of a batch or of `collect`: the stream stops.
    pub(crate) failed: Option<StreamError>,
    /// Workers asleep until the batches before theirs are collected: a
    /// worker that collects wakes them only when there are some (waking
    /// is a system call, and most batches find nobody asleep).
    pub(crate) sleepers: usize,
}

impl<O, C: FnMut(O) -> Result<(), WorkError>> Collector<O, C> {
    pub(crate) fn new(collect: C) -> Self {
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
    pub(crate) fn take(&mut self, done: Result<Done<O>, StreamError>) {
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
pub(crate) struct Ordered<O, C> {
    pub(crate) state: Mutex<Collector<O, C>>,
    pub(crate) advanced: Condvar,
    /// How far ahead of the next batch to collect a worker may get.
    pub(crate) ahead: usize,
}

/// The splitter, shared by the workers: each takes it in turn to cut its
/// next batch, so batches are cut in file order and in the same places
/// whatever the number of threads.
pub(crate) struct Shared<'r> {
    pub(crate) split: Splitter<'r>,
    /// Why the files could not be cut into batches.
    pub(crate) failed: Option<StreamError>,
    /// No more batches: the files are read, or something failed.
    pub(crate) ended: bool,
}

/// Ends the stream for every worker: no more batches are cut, and those
/// waiting for their turn to be collected wake up to stop.
pub(crate) fn stop<O, C>(shared: &Mutex<Shared>, collector: &Ordered<O, C>) {
    shared.lock().unwrap_or_else(PoisonError::into_inner).ended = true;
    let mut c = collector.state.lock().unwrap_or_else(PoisonError::into_inner);
    if c.failed.is_none() {
        c.failed = Some(StreamError::Consumer(WorkError::Thread("a thread panicked".into())));
    }
    drop(c);
    collector.advanced.notify_all();
}

/// What the workers share: the splitter, the collector and the end.
pub(crate) struct Together<'a, 'r, O, C> {
    pub(crate) shared: &'a Mutex<Shared<'r>>,
    pub(crate) collector: &'a Ordered<O, C>,
    pub(crate) ending: &'a Ending,
}

impl<O, C> Clone for Together<'_, '_, O, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O, C> Copy for Together<'_, '_, O, C> {}

/// Stops the stream (see [`stop`]) when the worker that holds it unwinds,
/// and tells the end not to wait for it.
pub(crate) struct Stops<'a, 'r, O, C> {
    pub(crate) together: Together<'a, 'r, O, C>,
    /// The worker has left its fingerprints.
    pub(crate) arrived: bool,
}

impl<O, C> Drop for Stops<'_, '_, O, C> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            stop(self.together.shared, self.together.collector);
            self.together.ending.give_up(self.arrived);
        }
    }
}

pub(crate) fn worker<W: Work, C: FnMut(W::Output) -> Result<(), WorkError>>(
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

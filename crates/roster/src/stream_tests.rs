//! Tests of streaming: the same households as the whole-file read, whatever the threads.

use std::path::Path;

use crate::roster::*;
use crate::split::Splitter;
use crate::stream::*;
use crate::workers::{repeats_in, Keys};
use crate::Roster;
use hhrisk_model::expr::Scope;
use hhrisk_model::Model;

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
            [crate::workers::Seen::new(true), crate::workers::Seen::new(true)],
            [crate::workers::Seen::new(true), crate::workers::Seen::new(true)],
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
        let found = |mut sets: [[crate::workers::Seen; 2]; 2]| {
            let found = (0..shares)
                .map(|share| {
                    crate::workers::Seen::repeats(&crate::workers::Seen::take_share(&mut sets, share, shares))
                })
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
    let mut none = [[crate::workers::Seen::new(false), crate::workers::Seen::new(false)]];
    assert!(crate::workers::Seen::take_share(&mut none, 0, 1).is_empty());
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
        let bytes = if gb18030 { encoding_rs::GB18030.encode(&out).0.into_owned() } else { out.into_bytes() };
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
            StreamSummary { household_rows: 6, member_rows: 17, accepted: 6, refused: 0, regrouped_bytes: 0 }
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
            matches!(result, Err(StreamError::Consumer(WorkError::Thread(ref m))) if m == "a thread panicked"),
            "{threads} threads: {result:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_consumer_stops_every_thread() {
    let (model, dir) = fixture();
    let result = stream(&model, &dir, &ReadOptions::default(), 2, &keep(), |_| {
        Err(WorkError::Work("disk full".into()))
    });
    assert!(
        matches!(result, Err(StreamError::Consumer(ref m)) if m.to_string() == "disk full"),
        "{result:?}"
    );
}

#[test]
fn members_in_another_order_stop_the_stream_within_a_few_batches() {
    // members.csv backwards: the first household's members come last
    let dir = copies(2000, "backwards", false);
    let members = std::fs::read_to_string(dir.join("members.csv")).unwrap();
    let mut lines: Vec<&str> = members.lines().collect();
    lines[1..].reverse();
    std::fs::write(dir.join("members.csv"), lines.join("\n") + "\n").unwrap();
    let model = fixture().0;
    for threads in [1, 2] {
        // every household handed over, accepted or refused
        let every = each(|_, seen: &mut Vec<()>| {
            seen.push(());
            Ok(())
        });
        let mut handed = 0;
        let collect = |batch: Vec<()>| {
            handed += batch.len();
            Ok(())
        };
        let result = stream(&model, &dir, &ReadOptions::default(), threads, &every, collect);
        assert!(matches!(result, Err(StreamError::NotAligned(_))), "{result:?}");
        // not every household found without members before the stream can tell
        // (the first batches hold 32, 64 and 128 households)
        assert!(handed < 250, "{handed} of 2000 households handed over");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

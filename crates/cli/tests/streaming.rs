//! Rosters streamed in batches on worker threads, members put in order in memory,
//! or read whole: `score`, `validate`, `explain` and `dispatch` give the same
//! results each way and on any number of threads, and repeated ids are caught.

mod common;

use std::path::{Path, PathBuf};

use common::{hhrisk, model, score, sections, stderr};

/// Batches of households are checked and scored on worker threads:
/// the scores and rejects files must not depend on how many, nor on
/// whether the roster streams as it is, once its members are put in order
/// (members out of order), or is read whole (a member of an unknown
/// household).
#[test]
fn scores_are_the_same_bytes_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let roster = simulated(dir.path(), 5000, 7);
    // two members with a value the model does not allow: their households are refused
    spoil(&roster, &[3000, 9000]);
    let reversed = moved(&roster, dir.path(), "moved", &first_household(&roster));
    let run = |roster: &Path, threads: &str| {
        let (out, rejects) =
            (dir.path().join(format!("s{threads}.csv")), dir.path().join(format!("r{threads}.csv")));
        let run = score(roster, &out)
            .args(["--threads", threads])
            .arg("--rejects")
            .arg(&rejects)
            .assert()
            .success();
        // the summary, whatever the file names of this thread count
        let said = stderr(&run)
            .replace(&format!("s{threads}.csv"), "sN.csv")
            .replace(&format!("r{threads}.csv"), "rN.csv");
        (std::fs::read(out).unwrap(), std::fs::read_to_string(rejects).unwrap(), said)
    };
    let one = run(&roster, "1");
    insta::assert_snapshot!("scored_4998_of_5000", one.2);
    assert_eq!(one.1.lines().count(), 3, "a header and two problems: {}", one.1);
    assert!(one.1.contains("is not an allowed value; use one of: healthy"), "{}", one.1);
    for threads in ["2", "3"] {
        assert!(run(&roster, threads) == one, "{threads} threads");
    }
    // members out of order: put in order in memory and streamed, the same
    // scores (the problems, the same, name the moved rows' own lines), and
    // a note that says so and how to avoid it
    let regrouped = run(&reversed, "2");
    assert!(regrouped.0 == one.0);
    assert_eq!(regrouped.1.lines().count(), 3, "{}", regrouped.1);
    let note =
        score(&reversed, dir.path().join("s.csv")).args(["--rejects"]).arg(dir.path().join("r.csv")).assert();
    insta::assert_snapshot!("put_in_order_in_memory", stderr(&note));
    // and a member of a household that is not in households.csv as well:
    // read whole, which reports it; the other households' scores are the same
    let unknown = with_stranger(&reversed, dir.path(), "unknown");
    let (out, rejects) = (dir.path().join("su.csv"), dir.path().join("ru.csv"));
    let whole = score(&unknown, &out).arg("--rejects").arg(&rejects).assert().success();
    // read whole: no note about putting members in order
    assert!(!stderr(&whole).contains("put in that order"), "{}", stderr(&whole));
    insta::assert_snapshot!("read_whole", stderr(&whole));
    assert!(std::fs::read(out).unwrap() == one.0);
    assert!(std::fs::read_to_string(rejects)
        .unwrap()
        .contains("household H_NOBODY is not in households.csv"));
}

/// A simulated roster of `households`, grouped in household order, in
/// `dir/roster`.
fn simulated(dir: &Path, households: usize, seed: u64) -> PathBuf {
    let roster = dir.join("roster");
    hhrisk()
        .args([
            "simulate",
            "--flat",
            "--households",
            &households.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(&roster)
        .assert()
        .success();
    roster
}

/// Makes the first healthy member at or after each members.csv line index
/// in `from` sick, a value the model does not allow: their households are
/// refused. Returns those households' ids.
fn spoil(roster: &Path, from: &[usize]) -> Vec<String> {
    edit_members(roster, |lines| {
        let mut spoiled = Vec::new();
        for &start in from {
            let at = (start..lines.len()).find(|&k| lines[k].contains(",healthy,")).unwrap();
            lines[at] = lines[at].replacen(",healthy,", ",sick,", 1);
            spoiled.push(lines[at].split(',').next().unwrap().to_string());
        }
        spoiled
    })
}

/// Rewrites `roster`'s members.csv after `edit` has changed its lines
/// (the header is line 0); what `edit` returns.
fn edit_members<T>(roster: &Path, edit: impl FnOnce(&mut Vec<String>) -> T) -> T {
    let members = std::fs::read_to_string(roster.join("members.csv")).unwrap();
    let mut lines: Vec<String> = members.lines().map(str::to_string).collect();
    let result = edit(&mut lines);
    std::fs::write(roster.join("members.csv"), lines.join("\n") + "\n").unwrap();
    result
}

/// A copy of `roster` in `dir/name` with one more member, of a household
/// that is not in households.csv (`H_NOBODY`): the last member again, with
/// another valid ID number. Such a roster is read whole.
fn with_stranger(roster: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::create_dir(&to).unwrap();
    std::fs::copy(roster.join("households.csv"), to.join("households.csv")).unwrap();
    let members = std::fs::read_to_string(roster.join("members.csv")).unwrap();
    let last: Vec<&str> = members.lines().last().unwrap().split(',').collect();
    // sequence 999, and the check character of GB 11643
    let body = format!("{}999", &last[1][..14]);
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    let id = format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char);
    std::fs::write(to.join("members.csv"), format!("{members}H_NOBODY,{id},{}\n", last[2..].join(",")))
        .unwrap();
    to
}

/// The same rows as `roster`, in `dir/name`, with the members of
/// `household` moved to the end of members.csv: no longer grouped in
/// household order, so every command reads it whole (each household's
/// members keep their order).
fn moved(roster: &Path, dir: &Path, name: &str, household: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::create_dir(&to).unwrap();
    std::fs::copy(roster.join("households.csv"), to.join("households.csv")).unwrap();
    let members = std::fs::read_to_string(roster.join("members.csv")).unwrap();
    let mut lines: Vec<&str> = members.lines().collect();
    let (block, rest): (Vec<&str>, Vec<&str>) =
        lines.drain(1..).partition(|l| l.split(',').next() == Some(household));
    assert!(!block.is_empty(), "{household} has members");
    let reordered: Vec<&str> = lines.into_iter().chain(rest).chain(block).collect();
    std::fs::write(to.join("members.csv"), reordered.join("\n") + "\n").unwrap();
    to
}

/// The first household id of a roster.
fn first_household(roster: &Path) -> String {
    let households = std::fs::read_to_string(roster.join("households.csv")).unwrap();
    households.lines().nth(1).unwrap().split(',').next().unwrap().to_string()
}

/// `validate` streams a grouped roster as `score` does: the same report on
/// any number of threads, and the same problems for the same rows in
/// another order (put in order in memory first).
#[test]
fn validate_reports_the_same_problems_streamed_or_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let roster = simulated(dir.path(), 3000, 11);
    spoil(&roster, &[100, 5000]);
    let reversed = moved(&roster, dir.path(), "moved", &first_household(&roster));
    let validate = |roster: &Path, threads: &str| -> serde_json::Value {
        let out = hhrisk()
            .args(["validate", "--json", "--threads", threads, "--model"])
            .arg(model())
            .arg("--roster")
            .arg(roster)
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        let mut report: serde_json::Value = serde_json::from_slice(&out).unwrap();
        report["roster"]["dir"] = serde_json::Value::Null;
        report["roster"].take()
    };
    let one = validate(&roster, "1");
    assert_eq!(one["households"], 3000);
    assert_eq!((one["accepted"].as_u64(), one["rejected"].as_u64()), (Some(2998), Some(2)));
    let errors = one["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| e["message"].as_str().unwrap().contains("is not an allowed value")),
        "{errors:?}"
    );
    assert_eq!(validate(&roster, "2"), one, "two threads");
    assert_eq!(validate(&roster, "3"), one, "three threads");
    // members out of order: the same counts, and the same problems at their own lines
    let whole = validate(&reversed, "2");
    for key in ["households", "members", "accepted", "rejected"] {
        assert_eq!(whole[key], one[key], "{key}");
    }
    let messages = |r: &serde_json::Value| {
        let mut m: Vec<String> = r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect();
        m.sort();
        m
    };
    assert_eq!(messages(&whole), messages(&one));
}

/// `explain` finds its household as the roster streams by (grouped, or
/// its members put in order in memory) or in the whole-file read (a member
/// of an unknown household): the same text, and the same refusal for a
/// household with a bad row.
#[test]
fn explain_is_the_same_streamed_or_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let roster = simulated(dir.path(), 1500, 5);
    // one member of a household in the third batch
    let refused = spoil(&roster, &[2000]).remove(0);
    let moved = moved(&roster, dir.path(), "moved", &first_household(&roster));
    let households = std::fs::read_to_string(roster.join("households.csv")).unwrap();
    let ids: Vec<&str> = households.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    let explain = |roster: &Path, id: &str| {
        let out = hhrisk()
            .args(["explain", "--household", id, "--model"])
            .arg(model())
            .arg("--roster")
            .arg(roster)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let stranger = with_stranger(&moved, dir.path(), "stranger");
    for id in [ids[0], ids[700], ids[1499]] {
        let streamed = explain(&roster, id);
        assert_eq!(streamed.0, Some(0), "{id}");
        assert!(streamed.1.contains(&format!("Household {id} ")), "{}", streamed.1);
        // members out of order (put in order in memory), and read whole
        assert_eq!(explain(&moved, id), streamed, "{id}");
        assert_eq!(explain(&stranger, id), streamed, "{id}");
    }
    let mut refusals = Vec::new();
    for (name, dir) in [("streamed", &roster), ("moved", &moved), ("read whole", &stranger)] {
        let run = hhrisk()
            .args(["explain", "--household", &refused, "--model"])
            .arg(model())
            .arg("--roster")
            .arg(dir)
            .assert()
            .code(1);
        refusals.push((name, stderr(&run)));
    }
    insta::assert_snapshot!("explain_refused", sections(refusals));
}

/// `dispatch` lists the alerted households as a grouped roster streams by,
/// as the same rows in another order do once put in order in memory, and
/// from the whole-file read (a member of an unknown household as well):
/// the same files each way.
#[test]
fn dispatch_lists_are_the_same_streamed_or_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let roster = simulated(dir.path(), 1500, 9);
    let scores = dir.path().join("scores.csv");
    score(&roster, &scores).assert().success();
    // the first alerted household's members moved to the end
    let scored = std::fs::read_to_string(&scores).unwrap();
    let header: Vec<&str> = scored.lines().next().unwrap().split(',').collect();
    let level = header.iter().position(|&h| h == "alert_level").unwrap();
    let first = scored
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| !r[level].is_empty())
        .unwrap()[0];
    let moved = moved(&roster, dir.path(), "moved", first);
    let dispatch = |roster: &Path, out: &str| {
        let out = dir.path().join(out);
        hhrisk()
            .args(["dispatch", "--model"])
            .arg(model())
            .arg("--scores")
            .arg(&scores)
            .arg("--roster")
            .arg(roster)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let mut files: Vec<(String, String)> = std::fs::read_dir(&out)
            .unwrap()
            .map(|f| {
                let f = f.unwrap().path();
                (f.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&f).unwrap())
            })
            .filter(|(name, _)| name != "dispatch.json")
            .collect();
        files.sort();
        files
    };
    let streamed = dispatch(&roster, "streamed");
    let chain = &streamed.iter().find(|(n, _)| n == "chain.csv").unwrap().1;
    assert!(chain.lines().count() > 100, "alerted households listed: {}", chain.lines().count());
    let listed = chain.lines().find(|l| l.starts_with(&format!("{first},"))).unwrap();
    assert!(!listed.contains("not in the roster"), "{listed}");
    assert_eq!(dispatch(&moved, "regrouped"), streamed);
    let stranger = with_stranger(&moved, dir.path(), "stranger");
    assert_eq!(dispatch(&stranger, "whole"), streamed);
}

/// A person id repeated far apart (in different batches) is caught by the
/// fingerprints at the end of the stream; the roster is then read whole,
/// and both rows are refused, on any number of threads.
#[test]
fn a_repeat_far_apart_is_caught_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let roster = simulated(dir.path(), 3000, 5);
    edit_members(&roster, |lines| {
        let person = |line: &str| line.split(',').nth(1).unwrap().to_string();
        let (early, late) = (person(&lines[100]), person(&lines[7000]));
        lines[7000] = lines[7000].replacen(&late, &early, 1);
    });
    repeat_refused(dir.path(), &roster, &[], "repeat_far_apart", "appears on lines 101, 7001");
}

/// Scores `roster` with `--rejects` (and `flags`) on one, two and three
/// threads: each time the same summary, the snapshot `summary`, and the
/// rejects file says `said` twice (both rows of the repeat refused).
fn repeat_refused(dir: &Path, roster: &Path, flags: &[&str], summary: &str, said: &str) {
    let mut first = None;
    for threads in ["1", "2", "3"] {
        let rejects = dir.join(format!("rejects{threads}.csv"));
        let run = score(roster, dir.join("scores.csv"))
            .args(["--threads", threads])
            .args(flags)
            .arg("--rejects")
            .arg(&rejects)
            .assert()
            .success();
        let printed = stderr(&run).replace(&format!("rejects{threads}.csv"), "rejectsN.csv");
        match &first {
            None => {
                insta::assert_snapshot!(summary, printed);
                first = Some(printed);
            }
            Some(first) => assert_eq!(&printed, first, "{flags:?}, {threads} threads"),
        }
        let text = std::fs::read_to_string(&rejects).unwrap();
        assert_eq!(text.matches(said).count(), 2, "{flags:?}, {threads} threads: {text}");
    }
}

/// A person id repeated on the next row (the same household) is caught
/// with the fingerprints (at the end of the stream) and without them (by
/// the reader, which then compares each id with the one before); either
/// way the roster is read whole and both rows are refused.
#[test]
fn a_repeat_on_the_next_row_is_caught_with_or_without_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let roster = simulated(dir.path(), 3000, 6);
    let at = edit_members(&roster, |lines| {
        let field = |line: &str, k: usize| line.split(',').nth(k).unwrap().to_string();
        // two members of one household, past the first batch
        let at = (5000..lines.len() - 1).find(|&i| field(&lines[i], 0) == field(&lines[i + 1], 0)).unwrap();
        let (first, second) = (field(&lines[at], 1), field(&lines[at + 1], 1));
        lines[at + 1] = lines[at + 1].replacen(&second, &first, 1);
        at
    });
    let said = format!("appears on lines {}, {}", at + 1, at + 2);
    repeat_refused(dir.path(), &roster, &[], "repeat_next_row", &said);
    repeat_refused(dir.path(), &roster, &["--skip-duplicate-check"], "repeat_next_row_unchecked", &said);
}

/// A roster whose members.csv is larger than one partition (8 MB) and in
/// reverse order is put in order through temporary files, one thread or
/// two, or in memory when the temporary folder cannot be written: the
/// same scores as the grouped roster, byte for byte.
#[test]
fn members_in_reverse_over_several_partitions_score_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let roster = simulated(dir.path(), 40_000, 11);
    assert!(std::fs::metadata(roster.join("members.csv")).unwrap().len() > 8 << 20, "several partitions");
    let grouped = dir.path().join("grouped.csv");
    score(&roster, &grouped).args(["--threads", "2"]).assert().success();
    edit_members(&roster, |lines| lines[1..].reverse());
    let nowhere = dir.path().join("no such folder");
    for (threads, tmp) in [("1", None), ("2", None), ("2", Some(&nowhere))] {
        let out = dir.path().join(format!("reversed_{threads}.csv"));
        let mut cmd = score(&roster, &out);
        cmd.args(["--threads", threads]);
        if let Some(tmp) = tmp {
            cmd.env("TMPDIR", tmp);
        }
        let run = cmd.assert().success();
        assert!(stderr(&run).contains("put in that order first"), "{}", stderr(&run));
        assert!(
            std::fs::read(&out).unwrap() == std::fs::read(&grouped).unwrap(),
            "{threads} threads, {tmp:?}"
        );
    }
}

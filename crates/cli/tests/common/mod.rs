//! Helpers shared by the end-to-end tests of the `hhrisk` command: paths
//! to the fixtures at the workspace root, the command itself, and readers of
//! what it writes. Each file under `crates/cli/tests/` is its own test crate
//! and uses only some of them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The workspace root, where the fixtures are (`tests/data/`,
/// `tests/bad_inputs/`, `indicators/`, `sample_villages/`, …).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The bundled model, `indicators/xiaochang.toml`.
pub fn model() -> PathBuf {
    repo().join("indicators/xiaochang.toml")
}

/// The fixture roster `tests/data/roster`: six households, the first three
/// worked out by hand in `score.rs`.
pub fn fixture() -> PathBuf {
    repo().join("tests/data/roster")
}

/// The `hhrisk` binary of this build, speaking English (the tests of the
/// Chinese interface ask for it with `--lang zh`).
pub fn hhrisk() -> Command {
    let mut cmd = Command::cargo_bin("hhrisk").unwrap();
    cmd.env("HHRISK_LANG", "en");
    cmd
}

/// `hhrisk score` of `roster` into `out` with the bundled model; more
/// arguments can follow.
pub fn score(roster: impl AsRef<std::ffi::OsStr>, out: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = hhrisk();
    cmd.args(["score", "--model"]).arg(model()).arg("--roster").arg(roster).arg("--out").arg(out);
    cmd
}

/// Reads a CSV file into a header and rows keyed by the first column.
pub fn read_csv(path: &Path) -> (Vec<String>, BTreeMap<String, BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            let row: BTreeMap<String, String> =
                header.iter().cloned().zip(rec.iter().map(String::from)).collect();
            (rec[0].to_string(), row)
        })
        .collect();
    (header, rows)
}

/// A copy of the fixture roster in a temporary folder, with an edit.
pub fn edited_fixture(edit: impl FnOnce(&mut String, &mut String)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut households = std::fs::read_to_string(fixture().join("households.csv")).unwrap();
    let mut members = std::fs::read_to_string(fixture().join("members.csv")).unwrap();
    edit(&mut households, &mut members);
    std::fs::write(dir.path().join("households.csv"), households).unwrap();
    std::fs::write(dir.path().join("members.csv"), members).unwrap();
    dir
}

/// Alerts and true alerts of a scores file against a village's outcomes.
pub fn alerts_against_outcomes(scores: &Path, outcomes: &Path) -> (u64, u64) {
    let (_, scored) = read_csv(scores);
    let (_, verified) = read_csv(outcomes);
    let alerted: Vec<&String> =
        scored.iter().filter(|(_, r)| !r["alert_level"].is_empty()).map(|(k, _)| k).collect();
    let true_alerts = alerted.iter().filter(|id| verified[id.as_str()]["verified_need"] == "1").count();
    (alerted.len() as u64, true_alerts as u64)
}

/// Scores a sample village with the model's default bands into `dir`.
pub fn score_village(village: &str, dir: &Path) -> PathBuf {
    let scores = dir.join(format!("{village}_scores.csv"));
    score(repo().join("sample_villages").join(village), &scores).assert().success();
    scores
}

/// Whether a text holds an unmasked 18-character resident ID number.
pub fn has_full_id(text: &str) -> bool {
    let b = text.as_bytes();
    // 18 characters standing alone: not the decimals of a number
    // (`0.0076806342717333775` in JSON), nor part of a longer run of digits
    let before =
        |i: usize| i.checked_sub(1).and_then(|i| b.get(i)).is_none_or(|c| !c.is_ascii_digit() && *c != b'.');
    let after = |i: usize| b.get(i + 18).is_none_or(|c| !c.is_ascii_digit());
    b.windows(18).enumerate().any(|(i, w)| {
        w[..17].iter().all(u8::is_ascii_digit)
            && (w[17].is_ascii_digit() || w[17] == b'X')
            && before(i)
            && after(i)
    })
}

/// Copies a case folder of the bad-input corpus into a temporary folder.
pub fn case_copy(case: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["households.csv", "members.csv"] {
        std::fs::copy(case.join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// Rendered text of the command (its standard output or error) with what
/// depends on this machine put in words: temporary folders (`tempfile`'s
/// `.tmpXXXXXX` under the system's temporary folder) as `[TMP]`, the
/// workspace root as `[REPO]`, and the memory a regrouping held (which
/// follows the number of cores) as `[N] MB held`. What is left is the same
/// on any machine and can be compared with a committed snapshot.
pub fn normalised(text: &str) -> String {
    let mut text = text.to_string();
    let mut temp = vec![std::env::temp_dir()];
    if let Ok(canonical) = std::env::temp_dir().canonicalize() {
        temp.push(canonical);
    }
    for base in temp {
        let prefix = base.join(".tmp").display().to_string();
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(&prefix) {
            out.push_str(&rest[..at]);
            out.push_str("[TMP]");
            rest = rest[at + prefix.len()..].trim_start_matches(|c: char| c.is_ascii_alphanumeric());
        }
        out.push_str(rest);
        text = out;
    }
    let text = text.replace(&repo().display().to_string(), "[REPO]");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(" MB held)") {
        let digits = rest[..at].trim_end_matches(|c: char| c.is_ascii_digit());
        out.push_str(digits);
        out.push_str(if digits.len() < at { "[N]" } else { "" });
        out.push_str(" MB held)");
        rest = &rest[at + " MB held)".len()..];
    }
    out.push_str(rest);
    out
}

/// [`normalised`] of bytes the command printed.
pub fn rendered(bytes: &[u8]) -> String {
    normalised(&String::from_utf8_lossy(bytes))
}

/// What a finished run printed on standard error, normalised.
pub fn stderr(run: &assert_cmd::assert::Assert) -> String {
    rendered(&run.get_output().stderr)
}

/// What a finished run printed on standard output, normalised.
pub fn stdout(run: &assert_cmd::assert::Assert) -> String {
    rendered(&run.get_output().stdout)
}

/// Several texts in one snapshot, each under a `## name` line.
pub fn sections<N: std::fmt::Display>(texts: impl IntoIterator<Item = (N, String)>) -> String {
    texts
        .into_iter()
        .map(|(name, text)| format!("## {name}\n{}\n", text.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The numbers of a text (`12`, `+5.2`, `-0.3`), sorted: the same for the
/// English and the Chinese rendering of one result, whatever the words and
/// their order around them.
pub fn numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut start = i;
        if i > 0 && (chars[i - 1] == '-' || chars[i - 1] == '+') {
            start = i - 1;
        }
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
        out.push(chars[start..i].iter().collect());
    }
    out.sort();
    out
}

/// English words of the results that a Chinese rendering must not show.
pub const ENGLISH_WORDS: [&str; 10] = [
    "precision",
    "recall",
    "alert",
    "household",
    "in need",
    "village",
    "held out",
    "warning",
    "note:",
    "points",
];

/// The words of [`ENGLISH_WORDS`] that a text shows.
pub fn english_left(text: &str) -> Vec<&'static str> {
    ENGLISH_WORDS.into_iter().filter(|w| text.contains(w)).collect()
}

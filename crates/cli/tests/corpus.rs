//! The bad-input corpus in `tests/bad_inputs/` (see its README): refused rosters,
//! accepted rosters and refused models, each case with its expected result.

mod common;

use std::path::PathBuf;

use common::{case_copy, hhrisk, normalised, read_csv, rendered, repo, score, sections};

fn cases(kind: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/bad_inputs").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn the_refused_corpus_is_refused_with_a_located_message_and_nothing_written() {
    let all = cases("refused");
    assert!(all.len() >= 16);
    let mut messages = Vec::new();
    for case in all {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let dir = case_copy(&case);
        let out = dir.path().join("scores.csv");
        std::fs::write(&out, "previous output\n").unwrap();
        let output = score(dir.path(), &out).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        for expected in
            std::fs::read_to_string(case.join("expect.txt")).unwrap().lines().filter(|l| !l.is_empty())
        {
            assert!(stderr.contains(expected), "{name}: expected {expected:?} in\n{stderr}");
        }
        // the previous output is intact and nothing else was left behind
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous output\n", "{name}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "{name}: stray files");
        messages.push((name, normalised(&stderr)));
    }
    // each message whole, beyond the lines expect.txt asks for
    insta::assert_snapshot!("refused", sections(messages));
}

#[test]
fn the_refused_models_are_refused_where_the_mistake_is() {
    let mut models: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/bad_inputs/models"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    models.sort();
    let mut messages = Vec::new();
    for path in models {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = text.lines().next().unwrap().trim_start_matches("# expect: ");
        let output = hhrisk().args(["validate", "--model"]).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{}", path.display());
        assert!(stderr.contains(expected), "{}: expected {expected:?} in\n{stderr}", path.display());
        assert!(stderr.contains(".toml:"), "{}: a position in the file", path.display());
        messages.push((path.file_name().unwrap().to_string_lossy().into_owned(), normalised(&stderr)));
    }
    insta::assert_snapshot!("refused_models", sections(messages));
}

#[test]
fn the_accepted_corpus_is_handled_as_documented() {
    let mut summaries = Vec::new();
    for case in cases("accepted") {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let dir = case_copy(&case);
        let out = dir.path().join("scores.csv");
        let output = score(dir.path(), &out).output().unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        summaries.push((name.clone(), rendered(&output.stderr)));
        let (_, rows) = read_csv(&out);
        for expected in
            std::fs::read_to_string(case.join("expect.txt")).unwrap().lines().filter(|l| !l.is_empty())
        {
            if let Some(n) = expected.strip_prefix("scored: ") {
                assert_eq!(rows.len().to_string(), n, "{name}");
            } else if let Some(cell) = expected.strip_prefix("cell: ") {
                let mut parts = cell.splitn(3, ',');
                let (id, column, value) =
                    (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
                assert_eq!(rows[id][column], value, "{name}: {id} {column}");
            }
        }
    }
    insta::assert_snapshot!("accepted_summaries", sections(summaries));
}

//! `hhrisk validate` and `hhrisk items`: counts of a roster, mistakes in a model
//! pointed at by item, line and column, and the items table of the indicators README.

mod common;

use std::path::{Path, PathBuf};

use common::{fixture, hhrisk, model, normalised, repo, sections};

#[test]
fn validate_json_reports_counts() {
    let output = hhrisk()
        .args(["validate", "--json", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(fixture())
        .output()
        .unwrap();
    assert!(output.status.success());
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["model"]["categories"], 8);
    assert_eq!(v["model"]["items"], 55);
    assert_eq!(v["roster"]["households"], 6);
    assert_eq!(v["roster"]["members"], 17);
    assert_eq!(v["roster"]["errors"], serde_json::json!([]));
    assert_eq!(v["valid"], true);
}

/// Writes a copy of the bundled model with one replacement and returns the
/// 1-based line and column of the `|` in `marker` (a piece of the edited
/// text with a `|` where the error should point).
fn edited_model(dir: &Path, from: &str, to: &str, marker: &str) -> (PathBuf, usize, usize) {
    let text = std::fs::read_to_string(model()).unwrap();
    assert!(text.contains(from), "{from}");
    let text = text.replacen(from, to, 1);
    let needle = marker.replace('|', "");
    assert_eq!(text.matches(&needle).count(), 1, "marker {marker} must be unique");
    let at = text.find(&needle).unwrap() + marker.find('|').unwrap();
    let line = text[..at].matches('\n').count() + 1;
    let col = text[..at].rsplit('\n').next().unwrap().chars().count() + 1;
    let path = dir.join("model.toml");
    std::fs::write(&path, text).unwrap();
    (path, line, col)
}

#[test]
fn model_mistakes_are_reported_with_item_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // unknown column, pointed at inside the condition
        ("when = \"age >= 80\"", "when = \"agee >= 80\"", "|agee"),
        // type mismatch
        ("when = \"needs_care\"", "when = \"needs_care + 1 > 0\"", "|needs_care + 1"),
        // syntax error
        ("when = \"accident\"", "when = \"accident = 1\"", "accident |= 1"),
        // a category value that does not exist
        ("when = 'house_safety == \"C\"'", "when = 'house_safety == \"E\"'", "== |\"E\"'"),
        // division by a value that is always zero
        (
            "expr = \"annual_net_income / members\"",
            "expr = \"annual_net_income / (dibao_standard_rural - 6960)\"",
            "(|dibao_standard_rural - 6960)",
        ),
        // derived values in a cycle
        ("expr = \"max(annual_net_income, 0)\"", "expr = \"max(income_floor, 0)\"", "max(|income_floor, 0)"),
    ];
    let mut messages = Vec::new();
    for (from, to, marker) in cases {
        let (path, line, col) = edited_model(dir.path(), from, to, marker);
        let output = hhrisk().args(["validate", "--model"]).arg(&path).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{to}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let position = format!("model.toml:{line}:{col}:");
        assert!(stderr.contains(&position), "{to}: expected {position} in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        messages.push((to, normalised(&stderr)));
    }
    // the item or derived value, and what is wrong
    insta::assert_snapshot!("model_mistakes", sections(messages));
}

#[test]
fn model_errors_appear_in_validate_json() {
    let dir = tempfile::tempdir().unwrap();
    let (path, line, col) = edited_model(
        dir.path(),
        "points = 8\ndepartment = \"housing\"",
        "points = 8\ndepartment = \"roads\"",
        "|\"roads\"",
    );
    let output = hhrisk().args(["validate", "--json", "--model"]).arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let err = &v["model"]["errors"][0];
    assert_eq!((err["line"].as_u64(), err["column"].as_u64()), (Some(line as u64), Some(col as u64)));
    assert_eq!(err["context"], "item H01");
    insta::assert_snapshot!("undeclared_department", err["message"].as_str().unwrap());
    assert_eq!(v["valid"], false);
}

#[test]
fn the_items_table_in_the_indicators_readme_is_current() {
    let output = hhrisk().args(["items", "--model"]).arg(model()).output().unwrap();
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    let readme = std::fs::read_to_string(repo().join("indicators/README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "indicators/README.md is out of date: regenerate its table with \
         `cargo run -p hhrisk-cli -- items --model indicators/xiaochang.toml`"
    );
}

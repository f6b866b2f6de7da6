//! `hhrisk simulate`: the bundled sample villages are what the README's command makes.

mod common;

use common::{hhrisk, model, read_csv, repo, stderr};

#[test]
fn the_sample_villages_are_reproduced_by_their_documented_command_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let run = hhrisk()
        .args(["simulate", "--seed", "2024", "--base-rate", "0.3", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    insta::assert_snapshot!("sample_villages", stderr(&run));
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        for file in ["households.csv", "members.csv", "outcomes.csv"] {
            let made = std::fs::read(dir.path().join(village).join(file)).unwrap();
            let shipped = std::fs::read(repo().join("sample_villages").join(village).join(file)).unwrap();
            assert!(
                made == shipped,
                "sample_villages/{village}/{file} differs from what the README's command makes"
            );
        }
        let output = hhrisk()
            .args(["validate", "--json", "--model"])
            .arg(model())
            .arg("--roster")
            .arg(repo().join("sample_villages").join(village))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(v["valid"], true, "{village}: {}", v["roster"]["errors"]);
    }
}

/// A county verifies only its alerts and an audit sample: `simulate
/// --alerts` writes the same households with outcomes for those only
/// (`selected_by`), and `evaluate` estimates recall from the audit. The
/// estimate's interval holds the recall over every household, which the
/// full simulation (every household verified) gives.
#[test]
fn an_audit_sample_estimates_the_recall_over_every_household() {
    let dir = tempfile::tempdir().unwrap();
    let (full, audited) = (dir.path().join("full"), dir.path().join("audited"));
    let simulate = |out: &std::path::Path, more: &[&std::ffi::OsStr]| {
        hhrisk()
            .args(["simulate", "--villages", "1", "--households", "1500", "--seed", "11", "--flat", "--out"])
            .arg(out)
            .args(more)
            .assert()
            .success();
    };
    simulate(&full, &[]);
    let scores = dir.path().join("scores.csv");
    common::score(&full, &scores).assert().success();
    let alerts = std::ffi::OsString::from("--alerts");
    simulate(
        &audited,
        &[&alerts, scores.as_os_str(), std::ffi::OsStr::new("--audit-share"), std::ffi::OsStr::new("0.3")],
    );
    // the same households, verified only when alerted or audited
    for f in ["households.csv", "members.csv"] {
        assert!(std::fs::read(full.join(f)).unwrap() == std::fs::read(audited.join(f)).unwrap(), "{f}");
    }
    let (header, outcomes) = read_csv(&audited.join("outcomes.csv"));
    assert_eq!(header.last().map(String::as_str), Some("selected_by"));
    let (_, rows) = read_csv(&scores);
    let listed = |id: &str| !rows[id]["alert_level"].is_empty() || !rows[id]["alert_kind"].is_empty();
    let audits = outcomes.values().filter(|o| o["selected_by"] == "audit").count();
    let others = rows.keys().filter(|id| !listed(id)).count();
    for (id, o) in &outcomes {
        assert_eq!(o["selected_by"] == "alert", listed(id), "{id}");
    }
    assert_eq!(
        outcomes.values().filter(|o| o["selected_by"] == "alert").count(),
        rows.keys().filter(|id| listed(id)).count()
    );
    let share = audits as f64 / others as f64;
    assert!((0.25..0.35).contains(&share), "{audits} of {others} audited");

    let evaluate = |outcomes: &std::path::Path| -> serde_json::Value {
        let output = hhrisk()
            .args(["evaluate", "--json", "--scores"])
            .arg(&scores)
            .arg("--outcomes")
            .arg(outcomes)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let truth = evaluate(&full.join("outcomes.csv"));
    let estimated = evaluate(&audited.join("outcomes.csv"));
    let true_recall = truth["recall"].as_f64().unwrap();
    let a = &estimated["audit"];
    let (lo, hi) = (a["recall_ci"]["lo"].as_f64().unwrap(), a["recall_ci"]["hi"].as_f64().unwrap());
    assert!(lo <= true_recall && true_recall <= hi, "true recall {true_recall} outside [{lo}, {hi}]");
    assert_eq!(estimated["recall"], a["recall"]);
    let true_base = truth["base_rate"].as_f64().unwrap();
    assert!((a["base_rate"].as_f64().unwrap() - true_base).abs() < 0.05, "{a} against {true_base}");
}

//! `hhrisk diff`: changes between two months of a roster, gradual exit and drift.

mod common;

use common::{hhrisk, model, read_csv, repo, stderr, stdout};

#[test]
fn diff_reports_changes_gradual_exit_and_drift() {
    let dir = tempfile::tempdir().unwrap();
    let old = repo().join("sample_villages/02_hy");
    let edit = |name: &str, f: &dyn Fn(&mut Vec<Vec<String>>)| {
        let new = dir.path().join(name);
        std::fs::create_dir_all(&new).unwrap();
        std::fs::copy(old.join("members.csv"), new.join("members.csv")).unwrap();
        let mut r = csv::Reader::from_path(old.join("households.csv")).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let mut rows: Vec<Vec<String>> = vec![header];
        rows.extend(r.records().map(|rec| rec.unwrap().iter().map(String::from).collect()));
        f(&mut rows);
        let mut w = csv::Writer::from_path(new.join("households.csv")).unwrap();
        for row in rows {
            w.write_record(row).unwrap();
        }
        w.flush().unwrap();
        new
    };
    // HY000001 (no alert, per-capita score 2) is found to live in a house
    // graded D, a trigger item; the first dibao household leaves dibao
    let new = edit("month2", &|rows| {
        let at = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
        let (house, class) = (at("house_safety"), at("class"));
        rows[1][house] = "D".into();
        let dibao = rows.iter().position(|r| r[class] == "dibao").unwrap();
        rows[dibao][class] = "monitored".into();
    });
    let output = hhrisk()
        .args(["diff", "--json", "--model"])
        .arg(model())
        .arg("--old")
        .arg(&old)
        .arg("--new")
        .arg(&new)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // H02 (12 points, a trigger) raises it to the trigger band, orange
    let first = v["changes"].as_array().unwrap().iter().find(|c| c["household_id"] == "HY000001").unwrap();
    assert_eq!(first["kind"], "entered");
    assert_eq!(first["new_level"], "orange");
    assert_eq!(first["items_added"], serde_json::json!(["H02"]));
    assert_eq!(v["gradual_exit"].as_array().unwrap().len(), 1);
    insta::assert_snapshot!("gradual_exit_note", v["gradual_exit"][0]["note"].as_str().unwrap());
    assert_eq!(v["drift"][0]["quantity"], "score");
    assert_eq!(v["drift"][0]["level"], "stable");

    // halve every income: the population no longer looks like the sample
    let poorer = edit("poorer", &|rows| {
        let income = rows[0].iter().position(|h| h == "annual_net_income").unwrap();
        for row in rows.iter_mut().skip(1) {
            row[income] = format!("{}", row[income].parse::<f64>().unwrap() * 0.3);
        }
    });
    let run = hhrisk()
        .args(["diff", "--model"])
        .arg(model())
        .arg("--old")
        .arg(&old)
        .arg("--new")
        .arg(&poorer)
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .arg("--changes")
        .arg(dir.path().join("changes.csv"))
        .assert()
        .success();
    insta::assert_snapshot!("poorer", stdout(&run));
    insta::assert_snapshot!("poorer_warnings", stderr(&run));
    let (_, changes) = read_csv(&dir.path().join("changes.csv"));
    assert!(changes.values().filter(|c| c["change"] == "entered").count() > 20);
}

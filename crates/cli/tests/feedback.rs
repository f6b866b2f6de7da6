//! `hhrisk feedback`: departments' returns merged into outcomes that `evaluate` measures.

mod common;

use std::collections::BTreeSet;

use common::{alerts_against_outcomes, hhrisk, model, read_csv, repo, score_village, stderr};

#[test]
fn feedback_turns_returns_into_outcomes_that_evaluate_measures() {
    let dir = tempfile::tempdir().unwrap();
    let scores = score_village("03_cg", dir.path());
    let village = repo().join("sample_villages/03_cg");
    for format in ["csv", "xlsx"] {
        let out = dir.path().join(format!("dispatch_{format}"));
        hhrisk()
            .args(["dispatch", "--format", format, "--batch", "2024-Q3", "--model"])
            .arg(model())
            .arg("--scores")
            .arg(&scores)
            .arg("--roster")
            .arg(&village)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        assert!(out.join(format!("chain.{format}")).is_file());
    }
    // Each department answers for the households on its list with the
    // village's verified outcome; the education office also names a
    // household it was never sent, and answers in a workbook.
    let (_, truth) = read_csv(&village.join("outcomes.csv"));
    let (_, chain) = read_csv(&dir.path().join("dispatch_csv/chain.csv"));
    let mut returns = Vec::new();
    let departments: BTreeSet<String> = chain
        .values()
        .flat_map(|r| r["departments"].split(';').map(String::from).collect::<Vec<_>>())
        .filter(|d| !d.is_empty())
        .collect();
    for dept in &departments {
        let (_, list) = read_csv(&dir.path().join(format!("dispatch_csv/{dept}.csv")));
        let mut rows: Vec<[String; 3]> =
            list.keys().map(|id| [id.clone(), truth[id]["verified_need"].clone(), dept.clone()]).collect();
        if dept == "education" {
            rows.push(["CG999999".into(), "1".into(), dept.clone()]);
            let path = dir.path().join("education.xlsx");
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet().set_name("returns").unwrap();
            for (c, h) in ["household_id", "verified_need", "department"].iter().enumerate() {
                sheet.write_string(0, c as u16, *h).unwrap();
            }
            for (r, row) in rows.iter().enumerate() {
                sheet.write_string(r as u32 + 1, 0, &row[0]).unwrap();
                sheet.write_number(r as u32 + 1, 1, row[1].parse::<f64>().unwrap()).unwrap();
                sheet.write_string(r as u32 + 1, 2, &row[2]).unwrap();
            }
            book.save(&path).unwrap();
            returns.push(path);
        } else {
            let path = dir.path().join(format!("{dept}.csv"));
            let text: String = std::iter::once("household_id,verified_need,department\n".to_string())
                .chain(rows.iter().map(|r| format!("{},{},{}\n", r[0], r[1], r[2])))
                .collect();
            std::fs::write(&path, text).unwrap();
            returns.push(path);
        }
    }
    let outcomes = dir.path().join("outcomes.csv");
    let run = hhrisk()
        .args(["feedback", "--dispatch"])
        .arg(dir.path().join("dispatch_xlsx"))
        .arg("--returns")
        .args(&returns)
        .arg("--out")
        .arg(&outcomes)
        .assert()
        .success();
    // CG999999 named as never sent, at its line of the workbook's sheet
    insta::assert_snapshot!("merged", stderr(&run));
    let (header, merged) = read_csv(&outcomes);
    assert_eq!(header, ["household_id", "department", "verified_need", "assistance", "amount", "batch"]);
    // one row per household and department that answered: as many rows as
    // the departments' lists hold (every department answered for all)
    let answers = std::fs::read_to_string(&outcomes).unwrap().lines().count() - 1;
    let listed: usize =
        chain.values().map(|r| r["departments"].split(';').filter(|d| !d.is_empty()).count()).sum();
    assert_eq!(answers, listed);
    assert_eq!(
        merged.keys().cloned().collect::<BTreeSet<_>>(),
        chain.keys().cloned().collect::<BTreeSet<_>>()
    );
    assert!(merged.values().all(|r| r["batch"] == "2024-Q3"));

    // the loop closes: evaluate measures the batch from the merged outcomes
    let output = hhrisk()
        .args(["evaluate", "--json", "--scores"])
        .arg(&scores)
        .arg("--outcomes")
        .arg(&outcomes)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let (alerts, true_alerts) = alerts_against_outcomes(&scores, &village.join("outcomes.csv"));
    assert_eq!((v["alerts"].as_u64(), v["verified"].as_u64()), (Some(alerts), Some(true_alerts)));
    assert_eq!(v["recall"], serde_json::Value::Null, "only alerts were verified");
    assert_eq!(v["by_batch"][0]["name"], "2024-Q3");
}

/// A department's own list, returned with its return columns filled in
/// for some households only (in the workbook `dispatch` wrote): the rows
/// answered are recorded, the others reported as unanswered.
#[test]
fn a_dispatch_list_returned_part_filled_is_read_as_returns() {
    let dir = tempfile::tempdir().unwrap();
    let scores = score_village("03_cg", dir.path());
    let village = repo().join("sample_villages/03_cg");
    let out = dir.path().join("lists");
    hhrisk()
        .args(["dispatch", "--format", "xlsx", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(&village)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    // the jobs office fills in the first two rows of its list
    let list = hhrisk_tables::TextTable::read(&out.join("jobs.xlsx"), "jobs", hhrisk_tables::Encoding::Utf8)
        .unwrap();
    let at = |name: &str| list.header.iter().position(|h| h == name).unwrap();
    let (id_at, need_at, help_at) = (at("household_id"), at("verified_need"), at("assistance"));
    let returned = dir.path().join("jobs.csv");
    let mut text = list.header.join(",") + "\n";
    let mut answered = Vec::new();
    for (k, (_, row)) in list.rows.iter().enumerate() {
        let mut row = row.clone();
        if k < 2 {
            row[need_at] = "1".into();
            row[help_at] = "employment".into();
            answered.push(row[id_at].clone());
        }
        let quoted: Vec<String> = row.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
        text += &(quoted.join(",") + "\n");
    }
    std::fs::write(&returned, text).unwrap();
    let outcomes = dir.path().join("outcomes.csv");
    let output = hhrisk()
        .args(["feedback", "--json", "--dispatch"])
        .arg(&out)
        .arg("--returns")
        .arg(&returned)
        .arg("--out")
        .arg(&outcomes)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(!said.contains("must be 1 or 0"), "{said}");
    let (_, recorded) = read_csv(&outcomes);
    for id in &answered {
        assert_eq!(recorded[id]["verified_need"], "1", "{id}");
        assert_eq!(recorded[id]["assistance"], "employment", "{id}");
    }
    assert!(list.rows.len() > 2 && said.contains("unanswered"), "{said}");
}

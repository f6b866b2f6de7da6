//! `hhrisk dispatch`: each department gets only its columns, masked unless asked.

mod common;

use std::collections::BTreeSet;

use common::{has_full_id, hhrisk, model, read_csv, repo, score_village, stderr};

#[test]
fn dispatch_sends_each_department_only_its_columns_masked() {
    let dir = tempfile::tempdir().unwrap();
    let scores = score_village("02_hy", dir.path());
    let out = dir.path().join("dispatch");
    let run = hhrisk()
        .args(["dispatch", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(repo().join("sample_villages/02_hy"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    insta::assert_snapshot!("masked", stderr(&run));
    let (_, scored) = read_csv(&scores);
    let alerted: BTreeSet<String> =
        scored.iter().filter(|(_, r)| !r["alert_level"].is_empty()).map(|(k, _)| k.clone()).collect();
    // the chain has every alerted household once
    let (_, chain) = read_csv(&out.join("chain.csv"));
    assert_eq!(chain.keys().cloned().collect::<BTreeSet<_>>(), alerted);
    // the education office sees schooling, not health
    let (header, education) = read_csv(&out.join("education.csv"));
    for private in ["health", "oop_medical", "disability_grade", "medical_insurance"] {
        assert!(!header.contains(&private.to_string()), "education sees {private}");
    }
    assert!(header.contains(&"school".to_string()));
    // each department's list = the chain's households sent to it
    for (id, row) in &chain {
        let sent = row["departments"].split(';').any(|d| d == "education");
        assert_eq!(sent, education.contains_key(id), "{id}");
    }
    // no file holds a full ID number; names are masked
    for entry in std::fs::read_dir(&out).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!has_full_id(&text));
    }
    assert!(education.values().all(|r| r["masking"] == "masked"));
    let members = &education.values().find(|r| !r["members"].is_empty()).unwrap()["members"];
    assert!(members.contains("420921********") && members.contains('*'), "{members}");

    // --unmasked must be asked for, and says so in every row
    let open = dir.path().join("open");
    let run = hhrisk()
        .args(["dispatch", "--unmasked", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(repo().join("sample_villages/02_hy"))
        .arg("--out")
        .arg(&open)
        .assert()
        .success();
    insta::assert_snapshot!("unmasked", stderr(&run));
    let text = std::fs::read_to_string(open.join("education.csv")).unwrap();
    assert!(has_full_id(&text));
    let (_, rows) = read_csv(&open.join("education.csv"));
    assert!(rows.values().all(|r| r["masking"].starts_with("UNMASKED")));
}

/// A household id that a spreadsheet would run as a formula is written
/// neutralised (`'@SUM(A1)`) for display only: dispatch, feedback and
/// evaluate still find the household.
#[test]
fn a_formula_like_household_id_is_found_by_every_later_step() {
    let roster = common::edited_fixture(|h, m| {
        *h = h.replace("H002,", "@SUM(A1),");
        *m = m.replace("H002,", "@SUM(A1),");
    });
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("scores.csv");
    common::score(roster.path(), &scores).assert().success();
    let written = std::fs::read_to_string(&scores).unwrap();
    assert!(written.contains("\n'@SUM(A1),"), "neutralised in the file: {written}");
    let out = dir.path().join("lists");
    let run = hhrisk()
        .args(["dispatch", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(roster.path())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(!stderr(&run).contains("not in the roster"), "{}", stderr(&run));
    let (_, chain) = read_csv(&out.join("chain.csv"));
    let row = &chain["'@SUM(A1)"];
    assert_eq!(row["alert_level"], "red");
    assert!(!row["departments"].is_empty(), "{row:?}");
    // a department's return names it as its list did; the outcomes find it
    let returns = dir.path().join("civil_affairs.csv");
    std::fs::write(&returns, "household_id,verified_need\n'@SUM(A1),1\n").unwrap();
    let outcomes = dir.path().join("outcomes.csv");
    let run = hhrisk()
        .args(["feedback", "--dispatch"])
        .arg(&out)
        .arg("--returns")
        .arg(&returns)
        .arg("--out")
        .arg(&outcomes)
        .assert()
        .success();
    assert!(!stderr(&run).contains("not dispatched"), "{}", stderr(&run));
    // a return from a department the household was not sent to is
    // reported, and not recorded
    let stranger = dir.path().join("tourism_bureau.csv");
    std::fs::write(&stranger, "household_id,verified_need\n'@SUM(A1),0\n").unwrap();
    let other = dir.path().join("other_outcomes.csv");
    let answered = hhrisk()
        .args(["feedback", "--json", "--dispatch"])
        .arg(&out)
        .arg("--returns")
        .arg(&stranger)
        .arg("--out")
        .arg(&other)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&answered.stdout);
    assert!(said.contains("unknown_department") && said.contains("tourism_bureau"), "{said}");
    assert!(!std::fs::read_to_string(&other).unwrap_or_default().contains("@SUM"), "not recorded");
    let evaluated = hhrisk()
        .args(["evaluate", "--json", "--scores"])
        .arg(&scores)
        .arg("--outcomes")
        .arg(&outcomes)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&evaluated.stdout).unwrap();
    assert_eq!(
        (report["verified"].as_u64(), report["overall"]["true_alerts"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
}

/// Only main indicators that fired with positive points (and triggers)
/// send a household to a department; the department of the largest such
/// contribution leads (`role` = `lead`), the others assist. Counted again
/// here from the scores file's item columns and the model's points.
#[test]
fn dispatch_pushes_main_indicators_and_names_a_lead_department() {
    let dir = tempfile::tempdir().unwrap();
    let village = repo().join("sample_villages/02_hy");
    let scores = dir.path().join("scores.csv");
    common::score(&village, &scores).arg("--item-columns").assert().success();
    let out = dir.path().join("lists");
    hhrisk()
        .args(["dispatch", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(&village)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let m = hhrisk_model::Model::from_path(&model()).unwrap();
    let (_, scored) = read_csv(&scores);
    let (_, chain) = read_csv(&out.join("chain.csv"));
    let mut checked = 0;
    for (id, row) in scored.iter().filter(|(_, r)| !r["alert_level"].is_empty()) {
        // department → sum of weight × points × count of its pushed items
        let mut pushed: Vec<f64> = vec![0.0; m.departments.len()];
        let mut any = vec![false; m.departments.len()];
        let mut largest: Option<(f64, usize)> = None;
        for item in &m.items {
            let count: f64 = row[&format!("item_{}", item.id)].parse().unwrap();
            let points = m.categories[item.category].weight * item.points * count;
            if count == 0.0 {
                continue;
            }
            if (points > 0.0 && item.main) || item.trigger {
                pushed[item.department] += points.max(0.0);
                any[item.department] = true;
            }
            if points > 0.0 && largest.is_none_or(|(p, _)| points > p) {
                largest = Some((points, item.department));
            }
        }
        let sent: Vec<usize> = if any.iter().any(|&a| a) {
            (0..any.len()).filter(|&d| any[d]).collect()
        } else {
            largest.map(|(_, d)| d).into_iter().collect()
        };
        let lead = sent.iter().copied().fold(None, |best: Option<usize>, d| match best {
            Some(b) if pushed[b] >= pushed[d] => Some(b),
            _ => Some(d),
        });
        let ids =
            |ds: &[usize]| ds.iter().map(|&d| m.departments[d].id.clone()).collect::<Vec<_>>().join(";");
        assert_eq!(chain[id]["departments"], ids(&sent), "{id}");
        assert_eq!(chain[id]["lead_department"], ids(&lead.into_iter().collect::<Vec<_>>()), "{id}");
        for &d in &sent {
            let (_, list) = read_csv(&out.join(format!("{}.csv", m.departments[d].id)));
            let role = if Some(d) == lead { "lead" } else { "co" };
            assert_eq!(list[id]["role"], role, "{id} in {}", m.departments[d].id);
            // the items shown are the pushed ones only
            for shown in list[id]["items"].split("; ") {
                let item = m.items.iter().find(|i| shown.starts_with(&format!("{} ", i.id))).unwrap();
                assert!(item.main || item.trigger || !any.iter().any(|&a| a), "{id}: {shown} is not main");
            }
            assert!(["verified_need", "assistance", "amount", "note"]
                .iter()
                .all(|c| list[id][*c].is_empty()));
        }
        checked += 1;
    }
    assert!(checked > 100, "{checked} alerts checked");
}

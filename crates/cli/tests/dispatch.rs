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
        scored.iter().filter(|(_, r)| !r["alert_kind"].is_empty()).map(|(k, _)| k.clone()).collect();
    // the chain has every household on a list (of any alert kind) once
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
    // masked is the rule: no column repeats it on every row
    assert!(!header.contains(&"masking".to_string()), "{header:?}");
    // one row per member listed, the id and the name masked
    let row = education.values().find(|r| !r["person_id"].is_empty()).unwrap();
    assert!(row["person_id"].starts_with("420921********"), "{row:?}");
    assert!(row["name"].contains('*'), "{row:?}");
    let several = ["civil_affairs", "health", "education", "jobs", "medical_security"].iter().any(|dept| {
        let Ok(text) = std::fs::read_to_string(out.join(format!("{dept}.csv"))) else { return false };
        let rows: Vec<&str> = text.lines().skip(1).collect();
        let households: BTreeSet<&str> = rows.iter().map(|l| l.split(',').next().unwrap()).collect();
        rows.len() > households.len()
    });
    assert!(several, "some household has several members listed, one row each");

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
        let pushed_any = any.iter().any(|&a| a);
        if let (false, Some((points, d))) = (pushed_any, largest) {
            // no main item: the largest one leads, with its points
            (any[d], pushed[d]) = (true, points);
        }
        // enrolled in no class but meeting a rule: civil affairs (the
        // department of every class of the bundled model) too
        if row["alert_kind"].contains("not_enrolled") {
            any[m.departments.iter().position(|d| d.id == "civil_affairs").unwrap()] = true;
        }
        let sent: Vec<usize> = (0..any.len()).filter(|&d| any[d]).collect();
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
            for shown in list[id]["items"].split("; ").filter(|s| !s.starts_with("not_enrolled: ")) {
                let item = m.items.iter().find(|i| shown.starts_with(&format!("{} ", i.id))).unwrap();
                assert!(item.main || item.trigger || !pushed_any, "{id}: {shown} is not main");
            }
            assert!(["verified_need", "assistance", "amount", "note"]
                .iter()
                .all(|c| list[id][*c].is_empty()));
        }
        checked += 1;
    }
    assert!(checked > 100, "{checked} alerts checked");
}

/// Alert kinds reach the lists: a household enrolled in no class that
/// meets a class rule goes to civil affairs as `not_enrolled`, whatever
/// its score; an enrolled household where a gate (a sign of means) fires
/// is listed in check_means for civil affairs to verify. Counted again
/// here from the scores file, the roster and the model.
#[test]
fn not_enrolled_and_check_means_households_reach_civil_affairs() {
    let dir = tempfile::tempdir().unwrap();
    // the bundled model with its public-payroll item made a gate
    let text = std::fs::read_to_string(model()).unwrap();
    let gated = text.replacen(
        "when = \"any(public_payroll)\"\npoints = -20\n",
        "when = \"any(public_payroll)\"\nkind = \"gate\"\n",
        1,
    );
    assert_ne!(gated, text);
    let m = dir.path().join("gated.toml");
    std::fs::write(&m, &gated).unwrap();
    let village = repo().join("sample_villages/02_hy");
    let scores = dir.path().join("scores.csv");
    let scored = hhrisk()
        .args(["score", "--model"])
        .arg(&m)
        .arg("--roster")
        .arg(&village)
        .arg("--out")
        .arg(&scores)
        .output()
        .unwrap();
    assert!(scored.status.success(), "{}", String::from_utf8_lossy(&scored.stderr));
    let out = dir.path().join("lists");
    hhrisk()
        .args(["dispatch", "--model"])
        .arg(&m)
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(&village)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let (_, rows) = read_csv(&scores);
    let (_, households) = read_csv(&village.join("households.csv"));
    let (_, chain) = read_csv(&out.join("chain.csv"));
    let (_, civil) = read_csv(&out.join("civil_affairs.csv"));
    let (_, check) = read_csv(&out.join("check_means.csv"));
    // members on a public payroll, by household
    let mut payroll = BTreeSet::new();
    let mut r = csv::Reader::from_path(village.join("members.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let at = headers.iter().position(|h| h == "public_payroll").unwrap();
    for rec in r.records().map(Result::unwrap) {
        if &rec[at] == "1" {
            payroll.insert(rec[0].to_string());
        }
    }
    let enrolled = |id: &str| {
        ["tekun", "dibao", "dibao_edge", "rigid_expense"].contains(&households[id]["class"].as_str())
    };
    let (mut not_enrolled, mut checks) = (0, 0);
    for (id, row) in &rows {
        let kinds: Vec<&str> = row["alert_kind"].split(';').filter(|k| !k.is_empty()).collect();
        assert_eq!(kinds.contains(&"risk"), !row["alert_level"].is_empty(), "{id}");
        // check_means: enrolled, and a member on the public payroll
        let should_check = enrolled(id) && payroll.contains(id);
        assert_eq!(kinds.contains(&"check_means"), should_check, "{id}");
        assert_eq!(check.contains_key(id), should_check, "{id}");
        if kinds.contains(&"not_enrolled") {
            // enrolled in no class, no gate: on the civil affairs list, named
            assert!(!enrolled(id) && !payroll.contains(id), "{id}");
            assert!(civil[id]["items"].contains("not_enrolled: "), "{id}: {:?}", civil[id]);
            assert!(chain[id]["alert_kind"].contains("not_enrolled"), "{id}");
            not_enrolled += 1;
        }
        if should_check {
            assert!(check[id]["signs_of_means"].starts_with("I10 "), "{:?}", check[id]);
            checks += 1;
        }
        // every household with a kind is in the chain, no other
        assert_eq!(chain.contains_key(id), !kinds.is_empty(), "{id}");
    }
    assert!(not_enrolled > 10 && checks > 0, "{not_enrolled} not enrolled, {checks} to check");
}

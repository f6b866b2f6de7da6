//! `hhrisk evaluate`: precision from published counts or from a scores file, broken
//! down by band, village, department, household type and household size.

mod common;

use std::collections::BTreeMap;

use common::{
    alerts_against_outcomes, english_left, hhrisk, model, numbers, read_csv, repo, score, score_village,
    sections, stderr, stdout,
};

#[test]
fn evaluate_reproduces_xiaochang_from_published_counts() {
    let run = hhrisk().args(["evaluate", "--alerts", "687", "--verified", "404"]).assert().success();
    insta::assert_snapshot!("xiaochang", stdout(&run));
    let output =
        hhrisk().args(["evaluate", "--json", "--alerts", "687", "--verified", "404"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((v["alerts"].as_u64(), v["verified"].as_u64()), (Some(687), Some(404)));
    assert!((v["precision"].as_f64().unwrap() - 0.5881).abs() < 1e-4);
    // statsmodels proportion_confint(404, 687, method="wilson" | "beta")
    assert!((v["wilson"]["lo"].as_f64().unwrap() - 0.5508694057827112).abs() < 1e-9);
    assert!((v["clopper_pearson"]["hi"].as_f64().unwrap() - 0.625149450245067).abs() < 1e-9);
    let run = hhrisk().args(["evaluate", "--alerts", "4", "--verified", "5"]).assert().code(1);
    insta::assert_snapshot!("more_verified_than_alerts", stderr(&run));
}

#[test]
fn evaluate_breaks_alerts_down_from_a_scores_file() {
    let dir = tempfile::tempdir().unwrap();
    let village = repo().join("sample_villages/02_hy");
    let scores = dir.path().join("scores.csv");
    score(&village, &scores).assert().success();
    let output = hhrisk()
        .args(["evaluate", "--json", "--scores"])
        .arg(&scores)
        .arg("--outcomes")
        .arg(&village)
        .arg("--model")
        .arg(model())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let (alerts, true_alerts) = alerts_against_outcomes(&scores, &village.join("outcomes.csv"));
    assert_eq!((v["alerts"].as_u64(), v["verified"].as_u64()), (Some(alerts), Some(true_alerts)));
    for method in ["wilson", "clopper_pearson"] {
        let p = v["precision"].as_f64().unwrap();
        assert!(v[method]["lo"].as_f64().unwrap() < p && p < v[method]["hi"].as_f64().unwrap(), "{method}");
    }
    // every household verified: the base rate is the share in need, and
    // the lift the precision over it, counted here from outcomes.csv
    let (_, outcomes) = read_csv(&village.join("outcomes.csv"));
    let in_need = outcomes.values().filter(|r| r["verified_need"] == "1").count() as f64;
    let base = in_need / outcomes.len() as f64;
    assert!((v["base_rate"].as_f64().unwrap() - base).abs() < 1e-12, "{}", v["base_rate"]);
    let precision = true_alerts as f64 / alerts as f64;
    assert!((v["lift"].as_f64().unwrap() - precision / base).abs() < 1e-12);
    let against = &v["against_xiaochang"];
    assert!((against["difference"].as_f64().unwrap() - (precision - 404.0 / 687.0)).abs() < 1e-12);
    let sentence = against["sentence"].as_str().unwrap();
    assert!(sentence.contains("against Xiaochang's 58.8 % [55.1, 62.4]"), "{sentence}");
    // each alert kind's list, counted from the scores file
    let (_, rows) = read_csv(&scores);
    for kind in ["risk", "not_enrolled"] {
        let listed: Vec<&String> = rows
            .iter()
            .filter(|(_, r)| r["alert_kind"].split(';').any(|k| k == kind))
            .map(|(id, _)| id)
            .collect();
        let right = listed.iter().filter(|id| outcomes[id.as_str()]["verified_need"] == "1").count() as u64;
        let g = v["by_alert_kind"].as_array().unwrap().iter().find(|g| g["name"] == kind).unwrap();
        assert_eq!(
            (g["alerts"].as_u64(), g["true_alerts"].as_u64()),
            (Some(listed.len() as u64), Some(right))
        );
        assert!(!listed.is_empty(), "{kind}");
    }
    let bands: u64 = v["by_band"].as_array().unwrap().iter().map(|g| g["alerts"].as_u64().unwrap()).sum();
    assert_eq!(bands, alerts, "every alert in one band");
    assert_eq!(
        v["by_band"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["red", "orange", "yellow"]
    );
    let names = |key: &str| -> Vec<String> {
        v[key].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names("by_village"), ["花园村"]);
    assert!(names("by_department").contains(&"education".to_string()));
    assert_eq!(names("by_household_type"), ["disability", "elderly_only", "single_parent", "students"]);
    // household types counted independently: elderly-only households from members.csv
    let mut ages: BTreeMap<String, bool> = BTreeMap::new();
    let mut r = csv::Reader::from_path(village.join("members.csv")).unwrap();
    for rec in r.records().map(Result::unwrap) {
        let all_old = ages.entry(rec[0].to_string()).or_insert(true);
        *all_old &= rec[5].parse::<u32>().unwrap() >= 60;
    }
    let (_, scored) = read_csv(&scores);
    let elderly_alerts =
        ages.iter().filter(|(id, old)| **old && !scored[id.as_str()]["alert_level"].is_empty()).count();
    let elderly =
        v["by_household_type"].as_array().unwrap().iter().find(|g| g["name"] == "elderly_only").unwrap();
    assert_eq!(elderly["alerts"].as_u64(), Some(elderly_alerts as u64));
}

/// `evaluate --json` and `calibrate` break alerts down by household size;
/// the figures are counted again here from the scores file and the
/// outcomes, by hand.
#[test]
fn alerts_by_household_size_are_counted_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let scores = score_village("01_bys", dir.path());
    let village = repo().join("sample_villages/01_bys");
    let output = hhrisk()
        .args(["evaluate", "--json", "--scores"])
        .arg(&scores)
        .arg("--outcomes")
        .arg(&village)
        .output()
        .unwrap();
    assert!(output.status.success());
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let (_, rows) = read_csv(&scores);
    let (_, outcomes) = read_csv(&village.join("outcomes.csv"));
    let group = |m: usize| match m {
        1 => "1",
        2 => "2",
        3 => "3",
        4 | 5 => "4–5",
        _ => "6+",
    };
    let table = v["by_household_size"].as_array().unwrap();
    assert_eq!(
        table.iter().map(|g| g["group"].as_str().unwrap()).collect::<Vec<_>>(),
        ["1", "2", "3", "4–5", "6+"]
    );
    for g in table {
        let name = g["group"].as_str().unwrap();
        let mine: Vec<_> = rows.values().filter(|r| group(r["members"].parse().unwrap()) == name).collect();
        let alerted = |r: &BTreeMap<String, String>| !r["alert_level"].is_empty();
        let needy = |r: &BTreeMap<String, String>| outcomes[&r["household_id"]]["verified_need"] == "1";
        let (n, alerts) = (mine.len() as u64, mine.iter().filter(|r| alerted(r)).count() as u64);
        let in_need = mine.iter().filter(|r| needy(r)).count() as u64;
        let hits = mine.iter().filter(|r| alerted(r) && needy(r)).count() as u64;
        assert_eq!(g["households"], n, "{g}");
        assert_eq!(g["alerts"], alerts, "{g}");
        assert_eq!(g["in_need"], in_need, "{g}");
        let close =
            |key: &str, want: f64| assert!((g[key].as_f64().unwrap() - want).abs() < 1e-6, "{key}: {g}");
        close("alert_rate", alerts as f64 / n as f64);
        close("need_rate", in_need as f64 / n as f64);
        close("precision", hits as f64 / alerts as f64);
        close("recall", hits as f64 / in_need as f64);
    }

    // calibrate: in calibration.json, with a warning past the factor
    let out = dir.path().join("calibration");
    let run = hhrisk()
        .args(["calibrate", "--replicates", "50", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let printed = stdout(&run);
    let table = &printed[printed.find("by household size:").expect(&printed)..];
    insta::assert_snapshot!("calibrate_by_household_size", table);
    insta::assert_snapshot!("calibrate_size_warnings", stderr(&run));
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("calibration.json")).unwrap()).unwrap();
    let sizes = c["by_household_size"].as_array().unwrap();
    assert_eq!(sizes.iter().map(|g| g["households"].as_u64().unwrap()).sum::<u64>(), 1225);
    // one-member households alerted by the fitted bands, counted again by
    // scoring each village with them
    let mut alone = 0;
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        let scored = dir.path().join(format!("{village}_fitted.csv"));
        score(repo().join("sample_villages").join(village), &scored)
            .arg("--thresholds")
            .arg(out.join("thresholds.toml"))
            .assert()
            .success();
        let (_, rows) = read_csv(&scored);
        alone += rows.values().filter(|r| r["members"] == "1" && !r["alert_level"].is_empty()).count();
    }
    assert_eq!(sizes[0]["alerts"], alone);
    // a larger factor silences it; a factor of 1 or less is refused
    let run = hhrisk()
        .args(["calibrate", "--replicates", "20", "--size-warning-factor", "8", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(!stderr(&run).contains("alerted but"), "{}", stderr(&run));
    let run = hhrisk()
        .args(["calibrate", "--size-warning-factor", "1", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .arg("--out")
        .arg(&out)
        .assert()
        .failure();
    insta::assert_snapshot!("size_warning_factor_of_1", stderr(&run));
}

/// Household types are the model's own `[[groups]]`: another model, with
/// other columns, declares its own and gets its breakdown (counted again
/// here from the scores file); a model without groups gets a note.
#[test]
fn household_types_are_the_groups_the_model_declares() {
    let dir = tempfile::tempdir().unwrap();
    let village = repo().join("sample_villages/02_hy");
    let scores = dir.path().join("scores.csv");
    score(&village, &scores).assert().success();
    let text = std::fs::read_to_string(model()).unwrap();
    let start = text.find("[[groups]]").unwrap();
    let end = text[start..].find("# ----").unwrap() + start;
    let own = format!(
        "{}[[groups]]\nid = \"large\"\nname = \"大户\"\nwhen = \"members >= 5\"\n\n\
         [[groups]]\nid = \"one_person\"\nname = \"独居\"\nwhen = \"members == 1\"\n\n{}",
        &text[..start],
        &text[end..]
    );
    let none = format!("{}{}", &text[..start], &text[end..]);
    let evaluate = |model_text: &str, name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, model_text).unwrap();
        let output = hhrisk()
            .args(["evaluate", "--json", "--scores"])
            .arg(&scores)
            .arg("--outcomes")
            .arg(&village)
            .arg("--model")
            .arg(&path)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let v = evaluate(&own, "own.toml");
    let groups = v["by_household_type"].as_array().unwrap();
    assert_eq!(
        groups.iter().map(|g| g["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["large", "one_person"]
    );
    let (_, rows) = read_csv(&scores);
    let (_, outcomes) = read_csv(&village.join("outcomes.csv"));
    for (name, holds) in [("large", 5..usize::MAX), ("one_person", 1..2)] {
        let mine: Vec<_> = rows.values().filter(|r| holds.contains(&r["members"].parse().unwrap())).collect();
        let alerts = mine.iter().filter(|r| !r["alert_level"].is_empty()).count() as u64;
        let right = mine
            .iter()
            .filter(|r| !r["alert_level"].is_empty() && outcomes[&r["household_id"]]["verified_need"] == "1")
            .count() as u64;
        let g = groups.iter().find(|g| g["name"] == name).unwrap();
        assert_eq!((g["alerts"].as_u64(), g["true_alerts"].as_u64()), (Some(alerts), Some(right)), "{g}");
    }
    let v = evaluate(&none, "none.toml");
    assert!(v["by_household_type"].as_array().unwrap().is_empty());
    let notes = v["notes"].to_string();
    assert!(notes.contains("declares no household types ([[groups]])"), "{notes}");
}

/// Outcomes with one row per household and department: each department's
/// precision is that of its own answers, a household is in need when any
/// department found it so, and assistance is counted in households per
/// kind (人次). By hand on three alerted households.
#[test]
fn outcomes_per_department_give_precision_by_department_and_assistance() {
    let dir = tempfile::tempdir().unwrap();
    let village = repo().join("sample_villages/02_hy");
    let scores = dir.path().join("scores.csv");
    score(&village, &scores).assert().success();
    let (_, rows) = read_csv(&scores);
    let alerted: Vec<&String> =
        rows.iter().filter(|(_, r)| !r["alert_level"].is_empty()).map(|(id, _)| id).take(3).collect();
    let (a, b, c) = (alerted[0], alerted[1], alerted[2]);
    let outcomes = dir.path().join("outcomes.csv");
    std::fs::write(
        &outcomes,
        format!(
            "household_id,department,verified_need,assistance,batch\n\
             {a},education,1,education,Q3\n{a},medical_security,0,,Q3\n\
             {b},education,0,,Q3\n\
             {c},jobs,1,employment;temporary,Q3\n"
        ),
    )
    .unwrap();
    let output = hhrisk()
        .args(["evaluate", "--json", "--scores"])
        .arg(&scores)
        .arg("--outcomes")
        .arg(&outcomes)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // households: a in need (education said so), b not, c in need: 2 of 3
    assert_eq!((v["alerts"].as_u64(), v["verified"].as_u64()), (Some(3), Some(2)));
    let by = |name: &str| {
        let g = v["by_department"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap().clone();
        (g["alerts"].as_u64().unwrap(), g["true_alerts"].as_u64().unwrap())
    };
    assert_eq!(by("education"), (2, 1));
    assert_eq!(by("medical_security"), (1, 0));
    assert_eq!(by("jobs"), (1, 1));
    let given: Vec<(String, u64)> = v["assistance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap().to_string(), a["households"].as_u64().unwrap()))
        .collect();
    assert_eq!(given, [("education".to_string(), 1), ("employment".into(), 1), ("temporary".into(), 1)]);
    // a department answering twice for a household is refused, with its line
    std::fs::write(&outcomes, format!("household_id,department,verified_need\n{a},jobs,1\n{a},jobs,0\n"))
        .unwrap();
    let output = hhrisk()
        .args(["evaluate", "--scores"])
        .arg(&scores)
        .arg("--outcomes")
        .arg(&outcomes)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && said.contains("line 3") && said.contains("a second outcome from jobs"),
        "{said}"
    );
}

/// `--lang zh`: what evaluate prints is Chinese (the comparison with
/// Xiaochang, the tables, the notes), with the English run's numbers;
/// `--json` stays English.
#[test]
fn evaluate_speaks_chinese_with_the_same_figures() {
    let both = |args: &[&str]| {
        let run = |lang: &str| hhrisk().args(["--lang", lang, "evaluate"]).args(args).assert().success();
        let (en, zh) = (stdout(&run("en")), stdout(&run("zh")));
        assert_eq!(numbers(&zh), numbers(&en), "{zh}\n{en}");
        assert_eq!(english_left(&zh), Vec::<&str>::new(), "{zh}");
        zh
    };
    // published counts: as Xiaochang, better, worse, and not shown to differ
    let counts: Vec<(String, String)> = [("687", "404"), ("300", "220"), ("300", "150"), ("100", "60")]
        .into_iter()
        .map(|(alerts, verified)| {
            (format!("{verified} of {alerts}"), both(&["--alerts", alerts, "--verified", verified]))
        })
        .collect();
    insta::assert_snapshot!("counts_zh", sections(counts));

    // a scores file: every household verified, with the model's breakdowns
    let dir = tempfile::tempdir().unwrap();
    let village = repo().join("sample_villages/02_hy");
    let scores = dir.path().join("scores.csv");
    score(&village, &scores).assert().success();
    let path = |p: &std::path::Path| p.display().to_string();
    let (scores_arg, village_arg, model_arg) = (path(&scores), path(&village), path(&model()));
    let full = both(&["--scores", &scores_arg, "--outcomes", &village_arg, "--model", &model_arg]);
    // only alerts verified, some of them not; then with an audit sample of
    // households not alerted
    let (_, rows) = read_csv(&scores);
    let (_, outcomes) = read_csv(&village.join("outcomes.csv"));
    let (alerted, quiet): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, r)| !r["alert_level"].is_empty());
    let need = |id: &str| outcomes[id]["verified_need"].clone();
    let mut only_alerts = String::from("household_id,verified_need\n");
    for (id, _) in &alerted[3..] {
        only_alerts.push_str(&format!("{id},{}\n", need(id)));
    }
    let mut audited = String::from("household_id,verified_need,selected_by\n");
    for (id, _) in &alerted {
        audited.push_str(&format!("{id},{},alert\n", need(id)));
    }
    for (id, _) in quiet.iter().take(30) {
        audited.push_str(&format!("{id},{},audit\n", need(id)));
    }
    let mut texts = vec![("all verified, with --model".to_string(), full)];
    for (name, body) in [("only alerts verified", only_alerts), ("an audit sample", audited)] {
        let file = dir.path().join(format!("{}.csv", name.replace(' ', "_")));
        std::fs::write(&file, body).unwrap();
        texts.push((name.to_string(), both(&["--scores", &scores_arg, "--outcomes", &path(&file)])));
    }
    let text = sections(texts);
    assert!(
        text.contains("提示：只有预警过的户经过核查")
            && text.contains("提示：召回率和需要帮扶比例按抽查估计"),
        "{text}"
    );
    insta::assert_snapshot!("scores_zh", text);

    // --json is English whatever the language
    let json = |lang: &str| {
        hhrisk()
            .args(["--lang", lang, "evaluate", "--json", "--scores", &scores_arg, "--outcomes", &village_arg])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(String::from_utf8(json("zh")).unwrap(), String::from_utf8(json("en")).unwrap());
}

//! `hhrisk calibrate`: fitted bands that `score` accepts, figures that add up when
//! counted again, `--tune`'s reviewable model, and the README's calibration session.

mod common;

use common::{
    alerts_against_outcomes, english_left, fixture, hhrisk, model, numbers, read_csv, repo, score, stderr,
    stdout,
};

#[test]
fn calibrate_writes_thresholds_that_score_accepts_and_figures_that_add_up() {
    let out = tempfile::tempdir().unwrap();
    let villages = repo().join("sample_villages");
    let run = hhrisk()
        .args(["calibrate", "--replicates", "200", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(&villages)
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    insta::assert_snapshot!("calibration", stdout(&run));
    insta::assert_snapshot!("calibration_warnings", stderr(&run));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("calibration.json")).unwrap()).unwrap();
    let bands = json["bands"].as_array().unwrap();
    assert_eq!(
        bands.iter().map(|b| b["level"].as_str().unwrap()).collect::<Vec<_>>(),
        ["red", "orange", "yellow"]
    );
    let mins: Vec<f64> = bands.iter().map(|b| b["min_score"].as_f64().unwrap()).collect();
    assert!(mins[0] > mins[1] && mins[1] > mins[2], "{mins:?}");
    for key in ["in_sample", "leave_one_village_out"] {
        for field in ["precision", "recall", "alerts"] {
            assert!(json[key][field].is_number(), "{key}.{field}");
        }
        let ci = &json[key]["precision_ci"];
        for method in ["wilson", "clopper_pearson", "bootstrap"] {
            assert!(
                ci[method]["lo"].as_f64().unwrap() <= json[key]["precision"].as_f64().unwrap(),
                "{key} {method}"
            );
        }
    }
    // the objective (default: the lower 95 % bound of precision at least
    // 59 %) holds in sample
    assert!(json["in_sample"]["precision_ci"]["wilson"]["lo"].as_f64().unwrap() >= 0.59);

    // Score every village with the fitted thresholds and with the model's
    // default bands, and count alerts against outcomes independently of the
    // calibration crate.
    let (mut fitted, mut default) = ((0, 0), (0, 0));
    // the charity federation's only item is R04: its alerts are the alerted
    // households where R04 fired
    let mut charity = (0u64, 0u64);
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        let roster = villages.join(village);
        let scores = out.path().join(format!("{village}_items.csv"));
        score(&roster, &scores)
            .arg("--item-columns")
            .arg("--thresholds")
            .arg(out.path().join("thresholds.toml"))
            .assert()
            .success();
        let (_, outcomes) = read_csv(&roster.join("outcomes.csv"));
        for (id, r) in read_csv(&scores).1 {
            if !r["alert_level"].is_empty() && r["item_R04"] != "0" {
                charity.0 += 1;
                charity.1 += u64::from(outcomes[&id]["verified_need"] == "1");
            }
        }
    }
    let by_department = json["by_department"].as_array().unwrap();
    let g = by_department.iter().find(|g| g["name"] == "charity").unwrap();
    assert_eq!((g["alerts"].as_u64(), g["true_alerts"].as_u64()), (Some(charity.0), Some(charity.1)));
    assert!(g["precision_ci"]["wilson"]["lo"].is_number());
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        let roster = villages.join(village);
        for (thresholds, total) in
            [(Some(out.path().join("thresholds.toml")), &mut fitted), (None, &mut default)]
        {
            let scores = out.path().join(format!("{village}.csv"));
            let mut cmd = score(&roster, &scores);
            if let Some(t) = thresholds {
                cmd.arg("--thresholds").arg(t);
            }
            cmd.assert().success();
            let (a, t) = alerts_against_outcomes(&scores, &roster.join("outcomes.csv"));
            total.0 += a;
            total.1 += t;
        }
    }
    assert_eq!(json["in_sample"]["alerts"], fitted.0);
    assert_eq!(json["in_sample"]["true_alerts"], fitted.1);
    assert_eq!(json["baseline"]["in_sample"]["alerts"], default.0);
    assert_eq!(json["baseline"]["in_sample"]["true_alerts"], default.1);
    // the default bands do better than alerting at random: their precision
    // is well above the share of households in need
    let base = default.1 as f64 / default.0 as f64;
    let (mut households, mut in_need) = (0, 0);
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        let (_, outcomes) = read_csv(&repo().join("sample_villages").join(village).join("outcomes.csv"));
        households += outcomes.len();
        in_need += outcomes.values().filter(|o| o["verified_need"] == "1").count();
    }
    let share = in_need as f64 / households as f64;
    assert!(base > 1.2 * share, "default bands {base} against {share} in need");

    // leave-one-village-out pools the folds
    let folds = json["leave_one_village_out"]["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 4);
    let pooled: u64 = folds.iter().map(|f| f["alerts"].as_u64().unwrap()).sum();
    assert_eq!(json["leave_one_village_out"]["alerts"], pooled);
    let households: u64 = folds.iter().map(|f| f["households"].as_u64().unwrap()).sum();
    assert_eq!(households, 1225);

    // same inputs, same bytes
    let again = tempfile::tempdir().unwrap();
    hhrisk()
        .args(["calibrate", "--replicates", "200", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(&villages)
        .arg("--out")
        .arg(again.path())
        .assert()
        .success();
    for file in ["calibration.json", "thresholds.toml"] {
        assert!(
            std::fs::read(out.path().join(file)).unwrap() == std::fs::read(again.path().join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn calibrate_tune_writes_a_reviewable_model_and_a_paired_comparison() {
    let out = tempfile::tempdir().unwrap();
    let run = hhrisk()
        .args(["calibrate", "--tune", "--replicates", "100", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .arg("--out")
        .arg(out.path())
        .assert()
        .success();
    insta::assert_snapshot!("tuned", stdout(&run));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("calibration.json")).unwrap()).unwrap();
    let tuned = &json["tuned"];
    for key in ["in_sample", "leave_one_village_out"] {
        // compared at the same alert volume
        assert_eq!(tuned[key]["current"]["alerts"], tuned[key]["tuned"]["alerts"], "{key}");
        assert!(tuned[key]["tuned"]["precision"].is_number(), "{key}");
    }
    assert_eq!(tuned["leave_one_village_out"]["current"]["alerts"], json["leave_one_village_out"]["alerts"]);
    let p = tuned["paired_test"]["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));

    // every suggestion keeps its sign and stays within half of its value
    let points = tuned["points"].as_array().unwrap();
    assert_eq!(points.len(), 55);
    for s in points {
        let (now, new) = (s["current"].as_f64().unwrap(), s["suggested"].as_f64().unwrap());
        assert!(
            now * new > 0.0 && new.abs() >= now.abs() * 0.5 - 1e-9 && new.abs() <= now.abs() * 1.5 + 1e-9,
            "{s}"
        );
        assert_eq!(new.fract(), 0.0, "{s}");
    }

    // tuned.toml is a valid model with those points, and scores the roster
    let tuned_model = out.path().join("tuned.toml");
    let text = std::fs::read_to_string(&tuned_model).unwrap();
    assert!(text.starts_with("# Tuned by hhrisk calibrate --tune"));
    let listed = hhrisk().args(["items", "--format", "csv", "--model"]).arg(&tuned_model).output().unwrap();
    assert!(listed.status.success());
    let mut r = csv::Reader::from_reader(&listed.stdout[..]);
    let suggested: Vec<(String, String)> =
        r.records().map(|r| r.unwrap()).map(|r| (r[0].to_string(), r[5].to_string())).collect();
    for (s, (id, pts)) in points.iter().zip(&suggested) {
        assert_eq!(s["item"].as_str().unwrap(), id);
        assert_eq!(s["suggested"].as_f64().unwrap(), pts.parse::<f64>().unwrap(), "{id}");
    }
    hhrisk()
        .args(["score", "--model"])
        .arg(&tuned_model)
        .arg("--roster")
        .arg(fixture())
        .arg("--out")
        .arg(out.path().join("s.csv"))
        .assert()
        .success();

    // the item report covers every item
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 55);
    assert!(items.iter().all(|i| i["fires"].as_f64().unwrap() >= 0.0));
}

#[test]
fn the_readme_shows_what_calibrate_prints() {
    let out = tempfile::tempdir().unwrap();
    let output = hhrisk()
        .args(["calibrate", "--tune", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(repo().join("sample_villages"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("1225 households with outcomes").expect("the README shows a calibration");
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    for line in block.lines().filter(|l| !l.contains('…')) {
        assert!(
            printed.contains(line),
            "README line not in the output (regenerate the README's session):\n{line}"
        );
    }
}

/// `--lang zh`: what calibrate prints is Chinese, with the English run's
/// numbers; its files and --json stay English.
#[test]
fn calibrate_speaks_chinese_with_the_same_figures() {
    let out = tempfile::tempdir().unwrap();
    let run = |lang: &str| {
        hhrisk()
            .args(["--lang", lang, "calibrate", "--tune", "--replicates", "50", "--model"])
            .arg(model())
            .arg("--samples")
            .arg(repo().join("sample_villages"))
            .arg("--out")
            .arg(out.path())
            .assert()
            .success()
    };
    let en = run("en");
    let en_json = std::fs::read_to_string(out.path().join("calibration.json")).unwrap();
    let zh = run("zh");
    let (text, warnings) = (stdout(&zh), stderr(&zh));
    insta::assert_snapshot!("calibration_zh", text);
    insta::assert_snapshot!("calibration_warnings_zh", warnings);
    assert_eq!(numbers(&text), numbers(&stdout(&en)), "{text}");
    assert_eq!(numbers(&warnings), numbers(&stderr(&en)), "{warnings}");
    assert_eq!(english_left(&text), Vec::<&str>::new(), "{text}");
    assert_eq!(english_left(&warnings), Vec::<&str>::new(), "{warnings}");
    assert!(text.contains("按家庭人口：") && !text.contains(":\n"), "{text}");
    // the files are the same whatever the language
    assert_eq!(std::fs::read_to_string(out.path().join("calibration.json")).unwrap(), en_json);
}

//! `hhrisk report`: a self-contained page whose numbers other commands confirm, and
//! the bundled report in `reports/`.

mod common;

use std::collections::BTreeMap;

use common::{alerts_against_outcomes, hhrisk, model, read_csv, repo, score, stderr};

/// Every `src="…"` and `href="…"` in an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            let end = rest.find('"').unwrap();
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// The outline of an HTML page, one line per element in page order: the
/// opening `<html …>` tag (its language), then the text of the title, the
/// headings and the figure captions, tags stripped.
fn outline(html: &str) -> String {
    let mut found: Vec<(usize, String)> = Vec::new();
    if let Some(at) = html.find("<html") {
        found.push((at, html[at..at + html[at..].find('>').unwrap() + 1].to_string()));
    }
    for tag in ["title", "h1", "h2", "h3", "figcaption"] {
        let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
        let mut from = 0;
        while let Some(at) = html[from..].find(&open).map(|a| a + from) {
            let body = at + html[at..].find('>').unwrap() + 1;
            let end = body + html[body..].find(&close).unwrap();
            let mut text = String::new();
            let mut in_tag = false;
            for c in html[body..end].chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            found.push((at, format!("{tag}: {}", text.trim())));
            from = end;
        }
    }
    found.sort();
    found.into_iter().map(|(_, line)| line + "\n").collect()
}

#[test]
fn the_report_draws_numbers_that_other_commands_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let (report, calibration) = (dir.path().join("report"), dir.path().join("calibration"));
    let villages = repo().join("sample_villages");
    let run = hhrisk()
        .args(["report", "--lang", "zh", "--replicates", "100", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(&villages)
        .arg("--out")
        .arg(&report)
        .assert()
        .success();
    insta::assert_snapshot!("report_summary", stderr(&run));
    hhrisk()
        .args(["calibrate", "--tune", "--replicates", "100", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(&villages)
        .arg("--out")
        .arg(&calibration)
        .assert()
        .success();

    // The page is self-contained: it references only files beside it.
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    let refs = references(&html);
    assert_eq!(refs.len(), 14, "7 charts, as SVG and PNG: {refs:?}");
    for r in &refs {
        assert!(!r.contains("://") && !r.starts_with('/'), "{r}");
        assert!(report.join(r).is_file(), "{r} is referenced but missing");
    }
    assert!(!html.contains("<script"));
    // in Chinese: the page's language, title, headings and figure captions
    insta::assert_snapshot!("outline_zh", outline(&html));
    for file in ["summary.md", "report.json"] {
        assert!(report.join(file).is_file(), "{file}");
    }

    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap()).unwrap();
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(calibration.join("calibration.json")).unwrap())
            .unwrap();
    let charts = &r["charts"];

    // village chart = the leave-one-village-out folds
    let bars = charts["villages"].as_array().unwrap();
    let folds = c["leave_one_village_out"]["folds"].as_array().unwrap();
    assert_eq!(bars.len(), 4);
    for (bar, fold) in bars.iter().zip(folds) {
        assert_eq!(bar["village"], fold["village"]);
        assert_eq!(bar["held_out"], fold["precision"]);
    }
    assert!((charts["xiaochang_precision"].as_f64().unwrap() - 404.0 / 687.0).abs() < 1e-12);

    // histogram: every household once
    let bins = charts["distribution"].as_array().unwrap();
    let need: u64 = bins.iter().map(|b| b["in_need"].as_u64().unwrap()).sum();
    let other: u64 = bins.iter().map(|b| b["not_in_need"].as_u64().unwrap()).sum();
    assert_eq!((need + other, need), (1225, c["in_sample"]["in_need"].as_u64().unwrap()));

    // two precision–recall curves: current and tuned
    let curves = charts["pr_curves"].as_array().unwrap();
    assert_eq!(curves.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(), ["current", "tuned"]);

    // Score every village with the fitted thresholds, and a threshold of the
    // threshold chart as a one-band thresholds file; count independently.
    let point = charts["threshold"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["threshold"].as_f64().unwrap() >= 20.0)
        .unwrap();
    let t = point["threshold"].as_f64().unwrap();
    let one_band = dir.path().join("one.toml");
    // trigger households are alerted at every threshold, as in the chart
    std::fs::write(
        &one_band,
        format!("[bands]\ntrigger = \"at\"\n[[bands.levels]]\nname = \"at\"\nmin = {t:?}\n"),
    )
    .unwrap();
    let (mut not_enrolled, mut not_enrolled_in_need) = (0u64, 0u64);
    let (mut at_t, mut departments, mut category_sum, mut alerted_n) =
        ((0u64, 0u64), BTreeMap::<String, u64>::new(), 0.0, 0u64);
    // the item chart's top item: I01, 15 points, counted once per household
    let top_item = &charts["items"][0];
    assert_eq!(top_item["id"], "I01");
    let mut item_sum = 0.0;
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        let roster = villages.join(village);
        let scores = dir.path().join(format!("{village}_t.csv"));
        score(&roster, &scores).arg("--thresholds").arg(&one_band).assert().success();
        let (a, k) = alerts_against_outcomes(&scores, &roster.join("outcomes.csv"));
        at_t = (at_t.0 + a, at_t.1 + k);

        let scores = dir.path().join(format!("{village}.csv"));
        score(&roster, &scores)
            .args(["--item-columns"])
            .arg("--thresholds")
            .arg(calibration.join("thresholds.toml"))
            .assert()
            .success();
        let output = hhrisk()
            .args(["evaluate", "--json", "--scores"])
            .arg(&scores)
            .arg("--outcomes")
            .arg(&roster)
            .arg("--model")
            .arg(model())
            .output()
            .unwrap();
        let e: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        for g in e["by_department"].as_array().unwrap() {
            *departments.entry(g["name"].as_str().unwrap().to_string()).or_default() +=
                g["alerts"].as_u64().unwrap();
        }
        let (_, rows) = read_csv(&scores);
        let (_, outcomes) = read_csv(&roster.join("outcomes.csv"));
        for (id, _) in rows.iter().filter(|(_, r)| r["alert_kind"].contains("not_enrolled")) {
            not_enrolled += 1;
            not_enrolled_in_need += u64::from(outcomes[id]["verified_need"] == "1");
        }
        for row in rows.values().filter(|r| !r["alert_level"].is_empty()) {
            category_sum += row["cat_medical"].parse::<f64>().unwrap();
            item_sum +=
                15.0 * row["item_I01"].parse::<f64>().unwrap() / row["members"].parse::<f64>().unwrap();
            alerted_n += 1;
        }
    }
    let precision = point["precision"].as_f64().unwrap();
    assert!(
        (precision - at_t.1 as f64 / at_t.0 as f64).abs() < 1e-12,
        "threshold {t}: {precision} vs {at_t:?}"
    );
    for d in charts["departments"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        assert_eq!(d["alerted"].as_f64().unwrap() as u64, departments.get(id).copied().unwrap_or(0), "{id}");
    }
    // mean per-capita medical points among alerted households (the scores
    // file rounds to 4 places)
    let medical = charts["categories"].as_array().unwrap().iter().find(|c| c["id"] == "medical").unwrap();
    assert!((medical["alerted"].as_f64().unwrap() - category_sum / alerted_n as f64).abs() < 1e-4);
    assert!((top_item["alerted"].as_f64().unwrap() - item_sum / alerted_n as f64).abs() < 1e-9);
    // the current precision–recall curve ends with everyone alerted:
    // recall 1 at the share in need
    let last = curves[0]["points"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last[0].as_f64(), Some(1.0));
    assert!((last[1].as_f64().unwrap() - need as f64 / 1225.0).abs() < 1e-12);
    // the lists: risk = the fitted bands in sample; not enrolled, counted
    // from the scores files
    let kinds = r["by_alert_kind"].as_array().unwrap();
    assert_eq!(kinds[0]["name"], "risk");
    assert_eq!(
        (&kinds[0]["alerts"], &kinds[0]["true_alerts"]),
        (&c["in_sample"]["alerts"], &c["in_sample"]["true_alerts"])
    );
    assert_eq!(kinds[1]["name"], "not_enrolled");
    assert_eq!(
        (kinds[1]["alerts"].as_u64(), kinds[1]["true_alerts"].as_u64()),
        (Some(not_enrolled), Some(not_enrolled_in_need))
    );
    let types: Vec<&str> =
        r["by_household_type"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(types, ["有残疾人家庭", "纯老户", "单亲家庭", "有在校生家庭"]);
    // the headline: the held-out precision against Xiaochang's and
    // against the share in need, from calibration.json's figures
    let held = &c["leave_one_village_out"];
    let (alerts, right) = (held["alerts"].as_f64().unwrap(), held["true_alerts"].as_f64().unwrap());
    let h = &r["headline"];
    assert!((h["base_rate"].as_f64().unwrap() - need as f64 / 1225.0).abs() < 1e-12);
    assert!((h["lift"].as_f64().unwrap() - right / alerts / (need as f64 / 1225.0)).abs() < 1e-12);
    let x = &h["against_xiaochang"];
    assert!((x["difference"].as_f64().unwrap() - (right / alerts - 404.0 / 687.0)).abs() < 1e-12);
    let text = h["text"].as_str().unwrap();
    assert!(
        text.contains("孝昌县实际为 58.8%") && text.contains(&format!("{} 户预警", alerts as u64)),
        "{text}"
    );

    // English on request
    let en = dir.path().join("en");
    hhrisk()
        .args(["report", "--lang", "en", "--replicates", "50", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(&villages)
        .arg("--out")
        .arg(&en)
        .assert()
        .success();
    let html = std::fs::read_to_string(en.join("index.html")).unwrap();
    insta::assert_snapshot!("outline_en", outline(&html));
}

#[test]
fn the_bundled_report_is_what_its_documented_command_makes() {
    let out = tempfile::tempdir().unwrap();
    hhrisk()
        .current_dir(repo())
        .args([
            "report",
            "--lang",
            "zh",
            "--model",
            "indicators/xiaochang.toml",
            "--samples",
            "sample_villages",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .success();
    for file in ["index.html", "summary.md", "report.json"] {
        let made = std::fs::read_to_string(out.path().join(file)).unwrap();
        let shipped = std::fs::read_to_string(repo().join("reports").join(file)).unwrap();
        assert!(
            made == shipped,
            "reports/{file} is out of date: regenerate it with the command in reports/README.md"
        );
    }
    for chart in ["threshold", "pr_curve", "distribution", "villages", "categories", "items", "departments"] {
        for ext in ["svg", "png"] {
            assert!(repo().join("reports").join(format!("{chart}.{ext}")).is_file(), "{chart}.{ext}");
        }
    }
}

/// The Chinese report names bands by their Chinese labels, heads the
/// verification plan, sets each plan beside the households its band holds
/// (and says when it asks for more), and heads the likelihood table with
/// score ranges (issue 22).
#[test]
fn the_chinese_report_speaks_chinese_in_its_tables() {
    let html = std::fs::read_to_string(repo().join("reports/index.html")).unwrap();
    for english in ["<td>red</td>", "<td>orange</td>", "<td>yellow</td>", "<td>all alerts</td>"] {
        assert!(!html.contains(english), "{english}");
    }
    let plan = &html[html.find("核实计划").unwrap()..];
    let plan = &plan[..plan.find("</table>").unwrap()];
    assert!(plan.contains("<th>样本中本等级户数</th><th>需核实户数</th>"), "{plan}");
    // each row: band, precision, margin, households held, households needed
    for row in plan.split("<tr><td>").skip(1) {
        let cells: Vec<&str> = row.split("</td><td>").collect();
        let held: u64 = cells[3].parse().unwrap();
        let needed: u64 = cells[4].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
        assert_eq!(needed > held, cells[4].contains("多批次"), "{row}");
    }
    let table = &html[html.find("似然表").unwrap()..];
    assert!(table.contains("<th>分值区间</th>"), "{}", &table[..200]);
}

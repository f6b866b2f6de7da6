//! `dispatch --ledger`, `feedback --ledger` and `hhrisk cases`: two
//! monthly turns on a sample village, checked against the lists written.

mod common;

use common::{hhrisk, model, read_csv, repo, score, stderr};

#[test]
fn two_monthly_turns_leave_cases_an_overdue_list_and_chains() {
    let dir = tempfile::tempdir().unwrap();
    let village = repo().join("sample_villages/03_cg");
    let scores = dir.path().join("scores.csv");
    score(&village, &scores).assert().success();
    let ledger = dir.path().join("hhrisk.db");
    let dispatch = |out: &str, batch: &str, date: &str| {
        hhrisk()
            .args(["dispatch", "--model"])
            .arg(model())
            .arg("--scores")
            .arg(&scores)
            .arg("--roster")
            .arg(&village)
            .arg("--out")
            .arg(dir.path().join(out))
            .args(["--batch", batch, "--date", date, "--due-days", "10", "--ledger"])
            .arg(&ledger)
            .assert()
            .success()
    };
    let run = dispatch("july", "2024-07", "2024-07-05");
    let (_, chain) = read_csv(&dir.path().join("july/chain.csv"));
    let n = chain.len();
    assert!(
        stderr(&run).contains(&format!("batch 2024-07 recorded; {n} cases opened, 0 open already")),
        "{}",
        stderr(&run)
    );

    // one household's lead department answers late (due 15 July), its
    // other departments not at all; an answer for a household never sent
    let (id, row) = chain.iter().find(|(_, r)| r["departments"].contains(';')).unwrap();
    let lead = row["lead_department"].clone();
    let others: Vec<&str> = row["departments"].split(';').filter(|d| *d != lead).collect();
    let returns = dir.path().join(format!("{lead}.csv"));
    std::fs::write(&returns, format!("household_id,verified_need,assistance\n{id},1,dibao\nNOBODY,1,\n"))
        .unwrap();
    let run = hhrisk()
        .args(["feedback", "--dispatch"])
        .arg(dir.path().join("july"))
        .arg("--returns")
        .arg(&returns)
        .arg("--out")
        .arg(dir.path().join("outcomes.csv"))
        .args(["--date", "2024-07-20", "--ledger"])
        .arg(&ledger)
        .assert()
        .success();
    let said = stderr(&run);
    assert!(said.contains("1 answer recorded (1 late), 0 cases closed"), "{said}");
    assert!(said.contains("household NOBODY has no open case"), "{said}");

    // evaluate from the ledger: July's n alerts, one verified, in need,
    // one household given dibao (人次), answered 15 days after referral
    let output = hhrisk()
        .args(["evaluate", "--ledger"])
        .arg(&ledger)
        .args(["--by", "batch", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let figures: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let july = &figures[0];
    assert_eq!(july["group"], "2024-07");
    assert_eq!(
        (july["alerts"].as_u64(), july["verified"].as_u64(), july["in_need"].as_u64()),
        (Some(n as u64), Some(1), Some(1))
    );
    assert_eq!(july["assistance"]["dibao"], 1);
    assert_eq!((july["late"].as_u64(), july["median_days_to_answer"].as_f64()), (Some(1), Some(15.0)));
    assert!(july["precision_wilson"]["lo"].as_f64().unwrap() < 1.0);

    // August, the same alerts: every case is open, nothing is sent again
    let run = dispatch("august", "2024-08", "2024-08-05");
    assert!(stderr(&run).contains(&format!("0 cases opened, {n} open already")), "{}", stderr(&run));
    for entry in std::fs::read_dir(dir.path().join("august")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".csv") && name != "chain.csv" && name != "check_means.csv" {
            assert_eq!(read_csv(&path).1.len(), 0, "{name}: sent again");
        }
    }

    // as of 10 August: every case overdue by 26 days (due 15 July), the
    // answered lead department not
    let output = hhrisk()
        .args(["cases", "--overdue", "--json", "--as-of", "2024-08-10", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let cases: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), n);
    let mine = cases.iter().find(|c| c["household_id"] == id.as_str()).unwrap();
    assert_eq!(mine["status"], "open");
    assert_eq!(mine["days_overdue"], 26);
    assert_eq!(mine["batch"], "2024-07");
    for d in mine["departments"].as_array().unwrap() {
        let answered = d["department"] == lead.as_str();
        assert_eq!(d["answered"].is_string(), answered, "{d}");
        assert_eq!(
            d["verified_need"],
            if answered { serde_json::json!(true) } else { serde_json::Value::Null }
        );
        assert_eq!(d["due"], "2024-07-15");
        assert_eq!(d["days_overdue"], if answered { 0 } else { 26 });
    }
    assert_eq!(mine["departments"].as_array().unwrap().len(), others.len() + 1);

    // the chain: two alerts, its referrals, the late answer
    let output = hhrisk().args(["cases", "show", id, "--json", "--ledger"]).arg(&ledger).output().unwrap();
    let steps: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let what: Vec<&str> = steps.as_array().unwrap().iter().map(|s| s["what"].as_str().unwrap()).collect();
    let referrals = others.len() + 1;
    let mut want = vec!["alert"];
    want.extend(std::iter::repeat_n("referral", referrals));
    want.extend(["answer", "alert"]);
    assert_eq!(what, want);

    // the office workbook: open referrals by department, the overdue ones
    let book = dir.path().join("cases.xlsx");
    hhrisk()
        .args(["cases", "--as-of", "2024-08-10", "--xlsx"])
        .arg(&book)
        .arg("--ledger")
        .arg(&ledger)
        .assert()
        .success();
    let sheet =
        |name: &str| hhrisk_tables::TextTable::read(&book, name, hhrisk_tables::Encoding::Utf8).unwrap();
    let referrals: usize =
        chain.values().map(|r| r["departments"].split(';').filter(|d| !d.is_empty()).count()).sum();
    assert_eq!(sheet("在办案件").rows.len(), referrals);
    assert_eq!(sheet("超期").rows.len(), referrals - 1, "all but the answered one");
    assert_eq!(sheet("超期").header[7], "超期天数");
    assert_eq!(sheet("本月办结").rows.len(), 0);
    // the workbook is never written over the ledger
    let run = hhrisk().args(["cases", "--xlsx"]).arg(&ledger).arg("--ledger").arg(&ledger).assert().code(2);
    assert!(stderr(&run).contains("--xlsx"), "{}", stderr(&run));

    // closed by hand: it leaves the open list, the overdue list shrinks
    hhrisk()
        .args(["cases", "close", id, "--reason", "moved away", "--as-of", "2024-08-11", "--ledger"])
        .arg(&ledger)
        .assert()
        .success();
    let output = hhrisk()
        .args(["cases", "--json", "--as-of", "2024-08-11", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    let open: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(open.as_array().unwrap().len(), n - 1);
    // no ledger: a clear error
    let run = hhrisk().args(["cases", "--ledger"]).arg(dir.path().join("none.db")).assert().failure();
    assert!(stderr(&run).contains("no ledger here"), "{}", stderr(&run));
}

/// A `feedback --ledger` killed while it writes leaves the ledger as it
/// was or wholly written (one transaction), and the next run lands; two
/// runs at once both land (the second waits for the first).
#[test]
fn a_killed_feedback_leaves_the_ledger_whole_and_two_at_once_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("roster");
    hhrisk()
        .args(["simulate", "--villages", "1", "--households", "6000", "--seed", "5", "--flat", "--out"])
        .arg(&roster)
        .assert()
        .success();
    let scores = dir.path().join("scores.csv");
    score(&roster, &scores).assert().success();
    let ledger = dir.path().join("hhrisk.db");
    hhrisk()
        .args(["dispatch", "--model"])
        .arg(model())
        .args(["--scores"])
        .arg(&scores)
        .arg("--roster")
        .arg(&roster)
        .arg("--out")
        .arg(dir.path().join("lists"))
        .args(["--batch", "b1", "--date", "2024-07-05", "--ledger"])
        .arg(&ledger)
        .assert()
        .success();
    let (_, chain) = read_csv(&dir.path().join("lists/chain.csv"));
    // every department answers every household it got, split in two files
    let (mut first, mut second) = (
        String::from("household_id,department,verified_need\n"),
        String::from("household_id,department,verified_need\n"),
    );
    let mut all = 0;
    for (k, (id, row)) in chain.iter().enumerate() {
        for d in row["departments"].split(';').filter(|d| !d.is_empty()) {
            let line = format!("{id},{d},1\n");
            if k % 2 == 0 {
                first.push_str(&line)
            } else {
                second.push_str(&line)
            }
            all += 1;
        }
    }
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&a, &first).unwrap();
    std::fs::write(&b, &second).unwrap();
    let answers = |ledger: &std::path::Path| -> u64 {
        let output = hhrisk().args(["evaluate", "--ledger"]).arg(ledger).args(["--json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        v.as_array().unwrap().iter().map(|g| g["answers"].as_u64().unwrap()).sum()
    };
    let feedback = |returns: &std::path::Path, out: &str| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("hhrisk"));
        cmd.env("HHRISK_LANG", "en")
            .args(["feedback", "--dispatch"])
            .arg(dir.path().join("lists"))
            .arg("--returns")
            .arg(returns)
            .arg("--out")
            .arg(dir.path().join(out))
            .args(["--date", "2024-07-10", "--ledger"])
            .arg(&ledger)
            .stderr(std::process::Stdio::null());
        cmd
    };
    // killed at once, or a little later, or not at all: never half written
    let mut landed = 0;
    for wait in [0u64, 20, 60, 150] {
        let mut child = feedback(&a, "killed.csv").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait));
        let _ = child.kill();
        let _ = child.wait();
        let now = answers(&ledger);
        assert!(
            now == landed || now == landed + first.lines().count() as u64 - 1,
            "{wait} ms: {now} answers after {landed}"
        );
        landed = now;
    }
    // the ledger still opens and takes the next run: both files at once
    let (mut one, mut two) =
        (feedback(&a, "one.csv").spawn().unwrap(), feedback(&b, "two.csv").spawn().unwrap());
    assert!(one.wait().unwrap().success() && two.wait().unwrap().success());
    assert_eq!(answers(&ledger), landed + all as u64, "both runs landed");
}

/// `calibrate --ledger`: the households the ledger has answers for are
/// the samples, with the departments' verdicts as outcomes, and the output
/// says that only alerted households were verified.
#[test]
fn calibrate_takes_its_outcomes_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let source = repo().join("sample_villages/03_cg");
    let villages = dir.path().join("villages");
    let roster = villages.join("03_cg");
    std::fs::create_dir_all(&roster).unwrap();
    for f in ["households.csv", "members.csv"] {
        std::fs::copy(source.join(f), roster.join(f)).unwrap();
    }
    let scores = dir.path().join("scores.csv");
    score(&roster, &scores).assert().success();
    let ledger = dir.path().join("hhrisk.db");
    hhrisk()
        .args(["dispatch", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(&roster)
        .arg("--out")
        .arg(dir.path().join("lists"))
        .args(["--batch", "b1", "--date", "2024-07-05", "--ledger"])
        .arg(&ledger)
        .assert()
        .success();
    // every department answers with the village's true outcome
    let (_, truth) = read_csv(&source.join("outcomes.csv"));
    let (_, chain) = read_csv(&dir.path().join("lists/chain.csv"));
    let mut text = String::from("household_id,department,verified_need\n");
    for (id, row) in &chain {
        for d in row["departments"].split(';').filter(|d| !d.is_empty()) {
            text += &format!("{id},{d},{}\n", truth[id]["verified_need"]);
        }
    }
    let returns = dir.path().join("returns.csv");
    std::fs::write(&returns, text).unwrap();
    hhrisk()
        .args(["feedback", "--dispatch"])
        .arg(dir.path().join("lists"))
        .arg("--returns")
        .arg(&returns)
        .arg("--out")
        .arg(dir.path().join("outcomes.csv"))
        .args(["--date", "2024-07-10", "--ledger"])
        .arg(&ledger)
        .assert()
        .success();
    let out = dir.path().join("calibration");
    let run = hhrisk()
        .args(["calibrate", "--replicates", "20", "--model"])
        .arg(model())
        .arg("--samples")
        .arg(&villages)
        .arg("--out")
        .arg(&out)
        .arg("--ledger")
        .arg(&ledger)
        .assert()
        .success();
    let answered = chain.values().filter(|r| !r["departments"].is_empty()).count();
    let printed = common::stdout(&run);
    assert!(printed.starts_with(&format!("{answered} households with outcomes in 1 villages")), "{printed}");
    assert!(printed.contains("verified because they were alerted or audited"), "{printed}");
    assert!(stderr(&run).contains("only households that were alerted were verified"), "{}", stderr(&run));
    // the in-sample need rate is the alerted households' true one
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("calibration.json")).unwrap()).unwrap();
    let in_need = chain.keys().filter(|id| truth[id.as_str()]["verified_need"] == "1").count();
    assert_eq!(c["in_sample"]["in_need"].as_u64(), Some(in_need as u64));
}

/// Three monthly batches from a roster that changes (H001's income falls
/// in August), answers on time and late, a household alerted again after
/// its case closed, an answer for a household never sent: the cases, the
/// overdue list, a chain and the evaluation, checked by hand.
#[test]
fn three_months_from_a_changing_roster() {
    let dir = tempfile::tempdir().unwrap();
    let july = common::fixture();
    let august = common::edited_fixture(|h, _| {
        *h = h.replace("H001,东山村,张某某,dibao,15000", "H001,东山村,张某某,dibao,2000")
    });
    let ledger = dir.path().join("hhrisk.db");
    let turn = |roster: &std::path::Path, batch: &str, date: &str| {
        let scores = dir.path().join(format!("{batch}.csv"));
        score(roster, &scores).assert().success();
        let run = hhrisk()
            .args(["dispatch", "--model"])
            .arg(model())
            .arg("--scores")
            .arg(&scores)
            .arg("--roster")
            .arg(roster)
            .arg("--out")
            .arg(dir.path().join(batch))
            .args(["--batch", batch, "--date", date, "--ledger"])
            .arg(&ledger)
            .assert()
            .success();
        stderr(&run)
    };
    let answer = |lines: &str, date: &str| {
        let returns = dir.path().join(format!("returns-{date}.csv"));
        std::fs::write(&returns, format!("household_id,department,verified_need\n{lines}")).unwrap();
        let run = hhrisk()
            .args(["feedback", "--dispatch"])
            .arg(dir.path().join("2024-07"))
            .arg("--returns")
            .arg(&returns)
            .arg("--out")
            .arg(dir.path().join(format!("outcomes-{date}.csv")))
            .args(["--date", date, "--ledger"])
            .arg(&ledger)
            .assert()
            .success();
        stderr(&run)
    };
    // July: H002 and H004 red, H005 and H006 orange (the fixture's alerts)
    assert!(turn(&july, "2024-07", "2024-07-05").contains("4 cases opened, 0 open already"));
    let departments = |batch: &str, id: &str| -> Vec<String> {
        let (_, chain) = read_csv(&dir.path().join(batch).join("chain.csv"));
        chain[id]["departments"].split(';').map(String::from).collect()
    };
    // every department of H002 answers on 18 July (due 20 July), civil
    // affairs finding it in need; and an answer for H999, never sent
    let h002 = departments("2024-07", "H002");
    let lines: String = h002
        .iter()
        .map(|d| format!("H002,{d},{}\n", u8::from(d == "civil_affairs")))
        .chain(["H999,jobs,1\n".to_string()])
        .collect();
    let said = answer(&lines, "2024-07-18");
    assert!(said.contains(&format!("{} answers recorded (0 late), 1 case closed", h002.len())), "{said}");
    assert!(said.contains("household H999 has no open case"), "{said}");

    // August, from the changed roster: H001 alerted (new case), H002
    // alerted again after its case closed (a new case), the others open
    assert!(turn(august.path(), "2024-08", "2024-08-05").contains("2 cases opened, 3 open already"));
    // H004 answered late (due 20 July), not in need: its case closes
    let h004 = departments("2024-07", "H004");
    let lines: String = h004.iter().map(|d| format!("H004,{d},0\n")).collect();
    let said = answer(&lines, "2024-08-30");
    assert!(
        said.contains(&format!("{} answers recorded ({} late), 1 case closed", h004.len(), h004.len())),
        "{said}"
    );
    // September, the same roster: H004 again (new case), four open
    assert!(turn(august.path(), "2024-09", "2024-09-05").contains("1 case opened, 4 open already"));

    // as of 10 September: H005 and H006 overdue since 20 July (52 days),
    // H001 and H002's second case since 20 August (21); H004's new case
    // is due 20 September
    let output = hhrisk()
        .args(["cases", "--overdue", "--json", "--as-of", "2024-09-10", "--ledger"])
        .arg(&ledger)
        .output()
        .unwrap();
    let overdue: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let got: Vec<(String, i64)> = overdue
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["household_id"].as_str().unwrap().to_string(), c["days_overdue"].as_i64().unwrap()))
        .collect();
    let want: Vec<(String, i64)> = [("H005", 52), ("H006", 52), ("H001", 21), ("H002", 21)]
        .iter()
        .map(|(h, d)| (h.to_string(), *d))
        .collect();
    assert_eq!(got, want);

    // H002's chain: the first case (alert, referrals, answers, closed),
    // then the second (alert, referrals) and September's alert
    let output =
        hhrisk().args(["cases", "show", "H002", "--json", "--ledger"]).arg(&ledger).output().unwrap();
    let chain: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let steps: Vec<(String, String)> = chain
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["date"].as_str().unwrap().to_string(), s["what"].as_str().unwrap().to_string()))
        .collect();
    let n = h002.len();
    let mut want = vec![("2024-07-05", "alert")];
    want.extend(std::iter::repeat_n(("2024-07-05", "referral"), n));
    want.extend(std::iter::repeat_n(("2024-07-18", "answer"), n));
    want.push(("2024-07-18", "closed"));
    want.push(("2024-08-05", "alert"));
    want.extend(std::iter::repeat_n(("2024-08-05", "referral"), departments("2024-08", "H002").len()));
    want.push(("2024-09-05", "alert"));
    let want: Vec<(String, String)> = want.into_iter().map(|(d, w)| (d.to_string(), w.to_string())).collect();
    assert_eq!(steps, want);

    // the evaluation by batch: July's 4 alerts, 2 verified (H002 and
    // H004), 1 in need (H002); August's 5 (H001, H002 anew, H004, H005,
    // H006), 1 verified (H004's case), none in need; September's 5, none
    let output =
        hhrisk().args(["evaluate", "--json", "--by", "batch", "--ledger"]).arg(&ledger).output().unwrap();
    let figures: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let got: Vec<(String, u64, u64, u64)> = figures
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let n = |k: &str| g[k].as_u64().unwrap();
            (g["group"].as_str().unwrap().to_string(), n("alerts"), n("verified"), n("in_need"))
        })
        .collect();
    let want: Vec<(String, u64, u64, u64)> =
        [("2024-07", 4, 2, 1), ("2024-08", 5, 1, 0), ("2024-09", 5, 0, 0)]
            .iter()
            .map(|(b, a, v, n)| (b.to_string(), *a, *v, *n))
            .collect();
    assert_eq!(got, want);
}

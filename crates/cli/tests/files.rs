//! Files around a run: outputs that would overwrite an input or each other, a
//! closed pipe or a full disk, and hostile inputs (no table at all, a huge field
//! or header, NUL bytes, an open quote, merged cells, ids differing by case).

mod common;

use std::path::Path;

use common::{case_copy, edited_fixture, fixture, hhrisk, model, rendered, repo, score, sections, stderr};

/// No output may be an input of the same run, nor two outputs one file,
/// nor an output a folder or a device: each is refused before anything is
/// read, naming the flags, and the inputs are left byte for byte.
#[test]
fn outputs_never_overwrite_inputs_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("r");
    std::fs::create_dir(&roster).unwrap();
    for f in ["households.csv", "members.csv"] {
        std::fs::copy(fixture().join(f), roster.join(f)).unwrap();
    }
    let model_copy = dir.path().join("model.toml");
    std::fs::copy(model(), &model_copy).unwrap();
    let before: Vec<Vec<u8>> = ["households.csv", "members.csv"]
        .iter()
        .map(|f| std::fs::read(roster.join(f)).unwrap())
        .chain([std::fs::read(&model_copy).unwrap()])
        .collect();
    let score_to = |out: &Path, rejects: Option<&Path>| {
        let mut c = hhrisk();
        c.args(["score", "--model"]).arg(&model_copy).arg("--roster").arg(&roster).arg("--out").arg(out);
        if let Some(r) = rejects {
            c.arg("--rejects").arg(r);
        }
        c.assert().failure()
    };
    // each refusal names the flags and files: one snapshot of them all
    let mut refusals = Vec::new();
    refusals.push(("score --out households.csv", stderr(&score_to(&roster.join("households.csv"), None))));
    // by another name
    refusals
        .push(("score --out r/../r/members.csv", stderr(&score_to(&roster.join("../r/members.csv"), None))));
    refusals.push(("score --out model.toml", stderr(&score_to(&model_copy, None))));
    let rejects_into_roster = score_to(&dir.path().join("s.csv"), Some(&roster.join("members.csv")));
    refusals.push(("score --rejects members.csv", stderr(&rejects_into_roster)));
    let x = dir.path().join("x.csv");
    refusals.push(("score --out x.csv --rejects x.csv", stderr(&score_to(&x, Some(&x)).code(2))));
    assert!(!x.exists(), "nothing written");
    refusals.push(("score --out a folder", stderr(&score_to(dir.path(), None))));
    refusals.push(("score --out /dev/null", stderr(&score_to(Path::new("/dev/null"), None))));
    let after: Vec<Vec<u8>> = ["households.csv", "members.csv"]
        .iter()
        .map(|f| std::fs::read(roster.join(f)).unwrap())
        .chain([std::fs::read(&model_copy).unwrap()])
        .collect();
    assert!(before == after, "the inputs are untouched");

    // feedback: a return file is not the outcomes written
    let returns = dir.path().join("returns.csv");
    std::fs::write(&returns, "household_id,verified_need\n").unwrap();
    std::fs::create_dir(dir.path().join("dispatch")).unwrap();
    let run = hhrisk()
        .args(["feedback", "--dispatch"])
        .arg(dir.path().join("dispatch"))
        .arg("--returns")
        .arg(&returns)
        .arg("--out")
        .arg(&returns)
        .assert()
        .failure();
    refusals.push(("feedback --out the returns", stderr(&run)));
    assert_eq!(std::fs::read_to_string(&returns).unwrap(), "household_id,verified_need\n");

    // dispatch never writes its lists into the roster's folder
    let scores = dir.path().join("scores.csv");
    score(roster.clone(), &scores).assert().success();
    let run = hhrisk()
        .args(["dispatch", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(&roster)
        .arg("--out")
        .arg(&roster)
        .assert()
        .failure();
    refusals.push(("dispatch --out the roster's folder", stderr(&run)));

    // an input named without a folder, the output folder the current one
    let run = hhrisk()
        .current_dir(dir.path())
        .args(["dispatch", "--model"])
        .arg(model())
        .args(["--scores", "scores.csv", "--roster"])
        .arg(&roster)
        .args(["--out", "."])
        .assert()
        .failure();
    refusals.push(("dispatch --out . holding --scores scores.csv", stderr(&run)));

    // simulate does not replace a roster unless asked
    let run = hhrisk()
        .args(["simulate", "--villages", "1", "--households", "20", "--flat", "--out"])
        .arg(&roster)
        .assert()
        .failure();
    refusals.push(("simulate --out a roster without --force", stderr(&run)));
    assert!(before[0] == std::fs::read(roster.join("households.csv")).unwrap());
    hhrisk()
        .args(["simulate", "--villages", "1", "--households", "20", "--flat", "--force", "--out"])
        .arg(&roster)
        .assert()
        .success();
    insta::assert_snapshot!("refused_outputs", sections(refusals));
}

/// A closed pipe (`hhrisk … | head -1`) or a failing standard output or
/// error ends the program quietly with a non-zero status, never a panic.
#[cfg(unix)]
#[test]
fn a_closed_pipe_or_a_full_disk_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let calibrate = |out: &str| {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("hhrisk"));
        c.env("HHRISK_LANG", "en")
            .args(["calibrate", "--json", "--replicates", "10", "--model"])
            .arg(model())
            .arg("--samples")
            .arg(repo().join("sample_villages"))
            .arg("--out")
            .arg(dir.path().join(out));
        c
    };
    // the JSON is far larger than a pipe's buffer: read a little, close
    let mut child = calibrate("a").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(141), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    // a full disk behind standard output, then behind standard error
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let output = calibrate("b").stdout(full()).output().unwrap();
    assert_eq!(output.status.code(), Some(74));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("hhrisk"))
        .env("HHRISK_LANG", "en")
        .args(["validate", "--model", "/nonexistent.toml"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(74));
}

/// Limits hold while reading: a households.csv that is `/dev/zero` fails
/// fast in bounded memory, and a small workbook claiming a cell at
/// XFD1048576 is refused before its grid is allocated.
#[cfg(unix)]
#[test]
fn files_that_are_no_tables_fail_fast_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("zero");
    std::fs::create_dir(&roster).unwrap();
    std::fs::copy(fixture().join("members.csv"), roster.join("members.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", roster.join("households.csv")).unwrap();
    let mut messages = Vec::new();
    for command in ["score", "validate"] {
        let mut c = hhrisk();
        c.args([command, "--model"]).arg(model()).arg("--roster").arg(&roster);
        if command == "score" {
            c.arg("--out").arg(dir.path().join("s.csv"));
        }
        messages.push((command, stderr(&c.timeout(std::time::Duration::from_secs(60)).assert().failure())));
    }

    let book_path = dir.path().join("stray.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let households = book.add_worksheet().set_name("households").unwrap();
    households.write_string(0, 0, "household_id").unwrap();
    households.write_string(1_048_575, 16_383, "x").unwrap();
    book.add_worksheet().set_name("members").unwrap().write_string(0, 0, "household_id").unwrap();
    book.save(&book_path).unwrap();
    assert!(std::fs::metadata(&book_path).unwrap().len() < 10_000);
    let run = hhrisk()
        .args(["validate", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(&book_path)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .failure();
    messages.push(("validate a workbook with a cell at XFD1048576", stderr(&run)));
    insta::assert_snapshot!("no_tables", sections(messages));
}

#[test]
fn a_ten_megabyte_field_is_refused_without_holding_more() {
    let dir = case_copy(&fixture());
    let households = std::fs::read_to_string(dir.path().join("households.csv")).unwrap();
    let huge = "x".repeat(10 << 20);
    std::fs::write(dir.path().join("households.csv"), households.replacen("张某某", &huge, 1)).unwrap();
    let run = score(dir.path(), dir.path().join("s.csv")).assert().code(1);
    insta::assert_snapshot!("ten_megabyte_field", stderr(&run));
}

#[test]
fn a_million_columns_are_refused_at_the_header() {
    let dir = case_copy(&fixture());
    let mut header: String = (0..1_000_000).map(|i| format!("c{i},")).collect();
    header.push_str("household_id,village\nH1,x\n");
    std::fs::write(dir.path().join("households.csv"), header).unwrap();
    let run = score(dir.path(), dir.path().join("s.csv")).assert().code(1);
    insta::assert_snapshot!("million_columns", stderr(&run));
    assert!(!dir.path().join("s.csv").exists());
}

/// A NUL byte in a cell is refused where it is; a number too large for any
/// roster is "out of range", not "not a number".
#[test]
fn nul_bytes_and_huge_numbers_are_named_for_what_they_are() {
    let roster = edited_fixture(|h, _| {
        let mut lines: Vec<String> = h.lines().map(String::from).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let (cars, income) = (
            header.iter().position(|c| *c == "cars").unwrap(),
            header.iter().position(|c| *c == "annual_net_income").unwrap(),
        );
        let edit = |line: &str, at: usize, value: &str| {
            let mut cells: Vec<String> = line.split(',').map(String::from).collect();
            cells[at] = value.to_string();
            cells.join(",")
        };
        lines[1] = edit(&lines[1], cars, "99999999999999999999");
        lines[2] = edit(&lines[2], income, "1e400");
        lines[3] = lines[3].replacen(",", ",\0", 2);
        *h = lines.join("\n") + "\n";
    });
    let run = hhrisk()
        .args(["validate", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(roster.path())
        .assert()
        .failure();
    insta::assert_snapshot!("nul_bytes_and_huge_numbers", stderr(&run));
}

/// A quote left open at the end of a file is named once, at its line,
/// instead of as a cascade of short rows and households without members.
#[test]
fn a_quote_left_open_is_one_message() {
    let roster = edited_fixture(|_, m| {
        let mut lines: Vec<String> = m.lines().map(String::from).collect();
        let mut cells: Vec<String> = lines[10].split(',').map(String::from).collect();
        cells[2] = format!("\"{}", cells[2]);
        lines[10] = cells.join(",");
        *m = lines.join("\n") + "\n";
    });
    let output = hhrisk()
        .args(["validate", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(roster.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let all = format!("{}{}", rendered(&output.stdout), rendered(&output.stderr));
    // one message at line 11, not a cascade of short rows
    assert!(!all.contains("has no members") && !all.contains("ends before this column"), "{all}");
    insta::assert_snapshot!("quote_left_open", all);
}

/// A workbook whose members' household_id is merged over the household's
/// rows (a common layout): the rows under the merged cell have no id, so
/// the household is refused, naming them, instead of being scored with
/// fewer members.
#[test]
fn merged_household_ids_refuse_the_household_instead_of_losing_members() {
    let dir = tempfile::tempdir().unwrap();
    let book_path = dir.path().join("merged.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    for sheet_name in ["households", "members"] {
        let mut r = csv::Reader::from_path(fixture().join(format!("{sheet_name}.csv"))).unwrap();
        let sheet = book.add_worksheet().set_name(sheet_name).unwrap();
        for (c, h) in r.headers().unwrap().iter().enumerate() {
            sheet.write_string(0, c as u16, h).unwrap();
        }
        let records: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        for (i, rec) in records.iter().enumerate() {
            for (c, cell) in rec.iter().enumerate() {
                let row = i as u32 + 1;
                // members' rows 2-4 (H001's three) under one merged cell
                if sheet_name == "members" && c == 0 && (1..=3).contains(&row) {
                    continue;
                }
                match cell.parse::<f64>() {
                    Ok(v) if cell.len() < 15 => sheet.write_number(row, c as u16, v).unwrap(),
                    _ => sheet.write_string(row, c as u16, cell).unwrap(),
                };
            }
        }
        if sheet_name == "members" {
            sheet.merge_range(1, 0, 3, 0, "H001", &rust_xlsxwriter::Format::new()).unwrap();
        }
    }
    book.save(&book_path).unwrap();
    let rejects = dir.path().join("rejects.csv");
    score(&book_path, dir.path().join("s.csv")).arg("--rejects").arg(&rejects).assert().success();
    let text = std::fs::read_to_string(&rejects).unwrap();
    for line in [3, 4] {
        assert!(
            text.contains(&format!("H001,2,members,{line},,420921********"))
                || text.contains(&format!("H001,2,merged.xlsx (members),{line}"))
                || text.contains(&format!(",{line},")),
            "{text}"
        );
    }
    assert!(text.contains("has no household_id and follows household H001 (line 2)"), "{text}");
    let scores = std::fs::read_to_string(dir.path().join("s.csv")).unwrap();
    assert!(!scores.lines().any(|l| l.starts_with("H001,")), "H001 is not scored with one member");
}

/// Ids are joined as written, but one that differs from a household's
/// only by letter case or full-width letters (`h001`, `Ｈ００１`), and a
/// header name that differs only by case, are named as likely mistakes.
#[test]
fn ids_and_headers_that_differ_only_by_case_or_width_are_named() {
    let roster = edited_fixture(|_, m| {
        let mut lines: Vec<String> = m.lines().map(String::from).collect();
        lines[1] = lines[1].replacen("H001", "h001", 1);
        lines[5] = lines[5].replacen("H003", "Ｈ００３", 1);
        *m = lines.join("\n") + "\n";
    });
    let run = score(roster.path(), roster.path().join("s.csv")).assert().failure();
    insta::assert_snapshot!("ids_differing_by_case_or_width", stderr(&run));
    // two households written two ways: both refused, each naming the other
    let roster = edited_fixture(|h, m| {
        *h = h.replacen("H002,", "h001,", 1);
        *m = m.replace("H002,", "h001,");
    });
    let rejects = roster.path().join("r.csv");
    score(roster.path(), roster.path().join("s.csv")).arg("--rejects").arg(&rejects).assert().success();
    let text = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(
        text.matches("household_ids H001 (line 2) and h001 (line 3) differ only by letter case").count(),
        2,
        "{text}"
    );
    let scored = std::fs::read_to_string(roster.path().join("s.csv")).unwrap();
    assert!(!scored.contains("\nH001,") && !scored.contains("\nh001,"), "{scored}");
    let roster = edited_fixture(|_, m| *m = m.replacen("age", "Age", 1));
    let run = score(roster.path(), roster.path().join("s.csv")).assert().failure();
    insta::assert_snapshot!("header_differing_by_case", stderr(&run));
}

/// A table file given as the roster, and a workbook's name for the CSV
/// scores file, are refused before anything is read, each saying what to
/// give instead (issue 22: the roster path was named twice, and `--out
/// s.xlsx` held CSV text).
#[test]
fn a_table_as_the_roster_and_a_workbook_name_for_scores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run =
        common::score(common::fixture().join("households.csv"), dir.path().join("s.csv")).assert().code(2);
    let said = common::stderr(&run);
    assert!(said.contains("is a file, not a roster; give the roster's folder"), "{said}");
    assert!(!said.contains("households.csv/households.csv"), "{said}");
    let run = common::score(common::fixture(), dir.path().join("s.xlsx")).assert().code(2);
    let said = common::stderr(&run);
    assert!(said.contains("score writes CSV, not a workbook; name it .csv"), "{said}");
    assert!(!dir.path().join("s.xlsx").exists());
}

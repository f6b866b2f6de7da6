//! Encodings, workbooks and line endings: GBK, a byte-order mark, UTF-16 with or
//! without a mark, `.xlsx`, and LF, CRLF or CR alone all read like the UTF-8 CSV.

mod common;

use std::path::Path;

use common::{edited_fixture, fixture, hhrisk, repo, score, score_village, stderr};

#[test]
fn gbk_bom_and_workbook_rosters_score_like_the_utf8_csv() {
    let dir = tempfile::tempdir().unwrap();
    let village = repo().join("sample_villages/01_bys");
    let reference = std::fs::read(score_village("01_bys", dir.path())).unwrap();
    let scored = |roster: &Path, name: &str| {
        let out = dir.path().join(name);
        score(roster, &out).assert().success();
        std::fs::read(out).unwrap()
    };
    for (kind, encode) in [
        ("gbk", (|t: &str| encoding_rs::GBK.encode(t).0.into_owned()) as fn(&str) -> Vec<u8>),
        ("bom", |t: &str| [&[0xEF, 0xBB, 0xBF][..], t.as_bytes()].concat()),
    ] {
        let roster = dir.path().join(kind);
        std::fs::create_dir_all(&roster).unwrap();
        for file in ["households.csv", "members.csv"] {
            let text = std::fs::read_to_string(village.join(file)).unwrap();
            std::fs::write(roster.join(file), encode(&text)).unwrap();
        }
        assert!(scored(&roster, &format!("{kind}.csv")) == reference, "{kind}");
    }

    // the same roster as a workbook, numbers as numbers
    let book_path = dir.path().join("roster.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    for sheet_name in ["households", "members"] {
        let mut r = csv::Reader::from_path(village.join(format!("{sheet_name}.csv"))).unwrap();
        let sheet = book.add_worksheet().set_name(sheet_name).unwrap();
        for (c, h) in r.headers().unwrap().iter().enumerate() {
            sheet.write_string(0, c as u16, h).unwrap();
        }
        for (i, rec) in r.records().enumerate() {
            for (c, cell) in rec.unwrap().iter().enumerate() {
                let row = i as u32 + 1;
                match cell.parse::<f64>() {
                    Ok(v) if cell.len() < 15 => sheet.write_number(row, c as u16, v).unwrap(),
                    _ => sheet.write_string(row, c as u16, cell).unwrap(),
                };
            }
        }
    }
    book.save(&book_path).unwrap();
    assert!(scored(&book_path, "xlsx.csv") == reference);

    // a byte-order mark for Excel by default (the reference had one), and
    // with --bom as before; --no-bom leaves it out
    assert!(reference.starts_with(&[0xEF, 0xBB, 0xBF]));
    let out = dir.path().join("bom_out.csv");
    score(&village, &out).args(["--bom"]).assert().success();
    assert!(std::fs::read(&out).unwrap() == reference);
    let out = dir.path().join("no_bom_out.csv");
    score(&village, &out).args(["--no-bom"]).assert().success();
    assert!(std::fs::read(&out).unwrap()[..] == reference[3..]);
}

/// UTF-16 without a byte-order mark is read as UTF-16 (what some exports
/// write); a byte-order mark in the middle of a file (two files joined) is
/// named at its line.
#[test]
fn utf16_without_a_mark_reads_and_a_mark_inside_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.csv");
    score(fixture(), &plain).assert().success();
    for (name, big_endian) in [("le", false), ("be", true)] {
        let roster = dir.path().join(name);
        std::fs::create_dir(&roster).unwrap();
        for f in ["households.csv", "members.csv"] {
            let text = std::fs::read_to_string(fixture().join(f)).unwrap();
            let bytes: Vec<u8> = text
                .encode_utf16()
                .flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() })
                .collect();
            std::fs::write(roster.join(f), bytes).unwrap();
        }
        let out = dir.path().join(format!("{name}.csv"));
        score(roster, &out).assert().success();
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&plain).unwrap(), "{name}");
    }
    let joined = edited_fixture(|_, m| {
        let rows: Vec<&str> = m.lines().collect();
        *m = format!("{}\n\u{feff}{}\n", rows[..8].join("\n"), rows[8..].join("\n"));
    });
    let run = score(joined.path(), joined.path().join("s.csv")).assert().failure();
    insta::assert_snapshot!("byte_order_mark_inside", stderr(&run));
}

/// LF, CRLF (as Excel on Windows saves) and CR alone (old Mac software):
/// every reader reads the same tables: rosters, outcomes, scores files,
/// the members `evaluate` reads for household types.
#[test]
fn every_reader_takes_any_line_ending() {
    let dir = tempfile::tempdir().unwrap();
    let source = repo().join("sample_villages/02_hy");
    let mut results = Vec::new();
    for (name, ending) in [("lf", "\n"), ("crlf", "\r\n"), ("cr", "\r")] {
        let roster = dir.path().join(name);
        std::fs::create_dir(&roster).unwrap();
        for f in ["households.csv", "members.csv", "outcomes.csv"] {
            let text = std::fs::read_to_string(source.join(f)).unwrap().replace("\r\n", "\n");
            std::fs::write(roster.join(f), text.replace('\n', ending)).unwrap();
        }
        let scores = dir.path().join(format!("{name}.csv"));
        score(roster.clone(), &scores).assert().success();
        // the scores file itself, given back with the same line ending
        let written = std::fs::read_to_string(&scores).unwrap().replace("\r\n", "\n");
        std::fs::write(&scores, written.replace('\n', ending)).unwrap();
        let output = hhrisk()
            .args(["evaluate", "--json", "--scores"])
            .arg(&scores)
            .arg("--outcomes")
            .arg(&roster)
            .arg("--model")
            .arg(common::model())
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        results.push((name, written, String::from_utf8(output.stdout).unwrap()));
    }
    for (name, scores, evaluation) in &results[1..] {
        assert!(scores == &results[0].1, "{name}: the scores differ from LF's");
        assert!(evaluation == &results[0].2, "{name}: the evaluation differs from LF's");
    }
    // household types need the members' ages: they are all there
    let v: serde_json::Value = serde_json::from_str(&results[1].2).unwrap();
    assert!(v["by_household_type"].as_array().unwrap().iter().any(|g| g["name"] == "elderly_only"), "{v}");
}

/// Lines that end in CR alone read the same in GBK and UTF-16 files.
#[test]
fn bare_cr_lines_read_in_every_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.csv");
    score(fixture(), &plain).assert().success();
    type Encode = fn(&str) -> Vec<u8>;
    let encodings: [(&str, Encode); 2] = [
        ("gbk", |t| encoding_rs::GBK.encode(t).0.into_owned()),
        ("utf16", |t| [0xFF, 0xFE].into_iter().chain(t.encode_utf16().flat_map(u16::to_le_bytes)).collect()),
    ];
    for (name, encode) in encodings {
        let roster = dir.path().join(name);
        std::fs::create_dir(&roster).unwrap();
        for f in ["households.csv", "members.csv"] {
            let text =
                std::fs::read_to_string(fixture().join(f)).unwrap().replace("\r\n", "\n").replace('\n', "\r");
            std::fs::write(roster.join(f), encode(&text)).unwrap();
        }
        let out = dir.path().join(format!("{name}.csv"));
        score(roster, &out).assert().success();
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&plain).unwrap(), "{name}");
    }
}

//! Every workbook the product writes for people, opened as Excel would
//! open it (calamine for the cells, the sheet XML for the layout): headers,
//! column widths, a frozen and filtered header; in Chinese, Chinese headers,
//! values and sheet names; and a list returned in Chinese read back.

mod common;

use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};
use common::{hhrisk, model, repo, score_village, stderr};

/// One sheet's cells as text, by calamine.
fn cells(book: &Path, sheet: &str) -> Vec<Vec<String>> {
    let mut wb = open_workbook_auto(book).unwrap();
    let range = wb.worksheet_range(sheet).unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// The layout of the workbook's `n`th sheet: its XML.
fn sheet_xml(book: &Path, n: usize) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(book).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name(&format!("xl/worksheets/sheet{n}.xml")).unwrap(),
        &mut xml,
    )
    .unwrap();
    xml
}

/// Every sheet of `book`: a header in bold frozen above the rows, a filter
/// on it, and every column given a width (at least its header's).
fn office_ready(book: &Path) {
    let wb = open_workbook_auto(book).unwrap();
    for (n, name) in wb.sheet_names().iter().enumerate() {
        let xml = sheet_xml(book, n + 1);
        let header = &cells(book, name)[0];
        assert!(
            xml.contains(r#"state="frozen""#) && xml.contains(r#"ySplit="1""#),
            "{book:?} {name}: not frozen"
        );
        assert!(xml.contains("<autoFilter "), "{book:?} {name}: no filter");
        // columns given a width: `<col min="a" max="b" width=..>` covers a..b
        let attr = |el: &str, key: &str| -> usize {
            let at = el.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
            el[at..].split('"').next().unwrap().parse().unwrap()
        };
        let widths: usize = xml.split("<col ").skip(1).map(|el| attr(el, "max") - attr(el, "min") + 1).sum();
        assert!(widths >= header.len(), "{book:?} {name}: {widths} widths for {} columns", header.len());
        assert!(!xml.contains(r#"width="0""#), "{book:?} {name}");
    }
}

#[test]
fn dispatch_workbooks_in_chinese_are_office_ready_and_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let scores = score_village("02_hy", dir.path());
    let out = dir.path().join("lists");
    let run = hhrisk()
        .args(["--lang", "zh", "dispatch", "--format", "xlsx", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(repo().join("sample_villages/02_hy"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(
        stderr(&run).contains("主责部门：") && stderr(&run).contains("civil_affairs"),
        "{}",
        stderr(&run)
    );
    // the civil-affairs list: sheet named in Chinese, headers in Chinese,
    // the model's labels, values as people read them, the masking said once
    let book = out.join("civil_affairs.xlsx");
    office_ready(&book);
    let wb = open_workbook_auto(&book).unwrap();
    assert_eq!(wb.sheet_names(), ["民政局"]);
    let rows = cells(&book, "民政局");
    let header = &rows[0];
    for want in [
        "户编号",
        "村（社区）",
        "预警级别",
        "牵头或协办",
        "身份证号",
        "姓名",
        "核实需要帮扶（1是0否）",
        "帮扶措施",
    ] {
        assert!(header.contains(&want.to_string()), "{want} not in {header:?}");
    }
    assert!(!header.iter().any(|h| h == "masking" || h == "脱敏说明"), "said once, in the note: {header:?}");
    assert!(header.contains(&"健康状况".to_string()), "the model's label of `health`: {header:?}");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let levels: std::collections::BTreeSet<&str> =
        rows[1..].iter().map(|r| r[col("预警级别")].as_str()).collect();
    assert!(levels.iter().all(|l| l.is_empty() || l.ends_with("预警")), "{levels:?}");
    let roles: std::collections::BTreeSet<&str> =
        rows[1..].iter().map(|r| r[col("牵头或协办")].as_str()).collect();
    assert!(roles.iter().all(|r| ["牵头", "协办"].contains(r)), "{roles:?}");
    // category and yes/no values as the model labels them
    let shown: std::collections::BTreeSet<&str> =
        ["健康状况", "劳动能力", "就业状况", "在学阶段", "财政供养人员", "单亲家庭"]
            .iter()
            .filter(|h| header.contains(&h.to_string()))
            .flat_map(|h| rows[1..].iter().map(move |r| r[col(h)].as_str()))
            .filter(|c| !c.is_empty())
            .collect();
    assert!(!shown.is_empty(), "no labelled value shown");
    assert!(shown.iter().all(|v| !v.chars().any(|c| c.is_ascii_alphabetic())), "{shown:?}");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&book).unwrap()).unwrap();
    let mut note = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/comments1.xml").unwrap(), &mut note).unwrap();
    assert!(note.contains("身份证号和姓名已脱敏"), "{note}");
    // the chain and the check list too
    for (file, sheet) in [("chain.xlsx", "救助链"), ("check_means.xlsx", "疑似错保核查")] {
        let book = out.join(file);
        office_ready(&book);
        assert_eq!(open_workbook_auto(&book).unwrap().sheet_names(), [sheet]);
    }

    // returned with the first household answered on each of its rows, in
    // Chinese words, feedback reads it: one answer, its kinds as keys
    let first = &rows[1];
    let id = first[col("户编号")].clone();
    let mut returned = rust_xlsxwriter::Workbook::new();
    let ws = returned.add_worksheet().set_name("民政局").unwrap();
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    for (r, row) in (1..).zip(rows[1..].iter().filter(|row| row[col("户编号")] == id)) {
        for (c, cell) in row.iter().enumerate() {
            ws.write_string(r, c as u16, cell).unwrap();
        }
        ws.write_string(r, col("核实需要帮扶（1是0否）") as u16, "1").unwrap();
        ws.write_string(r, col("帮扶措施") as u16, "临时救助").unwrap();
    }
    let back = dir.path().join("civil_affairs.xlsx");
    returned.save(&back).unwrap();
    let outcomes = dir.path().join("outcomes.csv");
    let run = hhrisk()
        .args(["feedback", "--dispatch"])
        .arg(&out)
        .arg("--returns")
        .arg(&back)
        .arg("--out")
        .arg(&outcomes)
        .assert()
        .success();
    assert!(!stderr(&run).contains("answered twice"), "{}", stderr(&run));
    let (_, got) = common::read_csv(&outcomes);
    assert_eq!(got[&id]["department"], "civil_affairs");
    assert_eq!(got[&id]["verified_need"], "1");
    assert_eq!(got[&id]["assistance"], "temporary");
}

#[test]
fn dispatch_workbooks_in_english_keep_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let scores = score_village("02_hy", dir.path());
    let out = dir.path().join("lists");
    hhrisk()
        .args(["dispatch", "--format", "xlsx", "--unmasked", "--model"])
        .arg(model())
        .arg("--scores")
        .arg(&scores)
        .arg("--roster")
        .arg(repo().join("sample_villages/02_hy"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let book = out.join("civil_affairs.xlsx");
    office_ready(&book);
    assert_eq!(open_workbook_auto(&book).unwrap().sheet_names(), ["civil_affairs"]);
    let header = &cells(&book, "civil_affairs")[0];
    assert_eq!(
        &header[..8],
        ["household_id", "village", "alert_level", "score", "role", "items", "person_id", "name"]
    );
    // unmasked: said once, in the note, not on every row
    assert!(!header.contains(&"masking".to_string()), "{header:?}");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&book).unwrap()).unwrap();
    let mut note = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/comments1.xml").unwrap(), &mut note).unwrap();
    assert!(note.contains("UNMASKED"), "{note}");
}

//! ID numbers masked: no output file or message of a full run shows one in full.

mod common;

use common::{edited_fixture, has_full_id, hhrisk, model, repo, score};

#[test]
fn no_output_of_a_full_run_shows_an_id_number_unmasked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // a village with one bad row, so that messages and rejects name people
    let village = d.join("village");
    std::fs::create_dir_all(&village).unwrap();
    for file in ["households.csv", "members.csv", "outcomes.csv"] {
        std::fs::copy(repo().join("sample_villages/03_cg").join(file), village.join(file)).unwrap();
    }
    let members = std::fs::read_to_string(village.join("members.csv")).unwrap();
    let first_id = members.lines().nth(1).unwrap().split(',').nth(1).unwrap().to_string();
    let bad_id = format!("{}{}", &first_id[..17], if first_id.ends_with('1') { '2' } else { '1' });
    std::fs::write(village.join("members.csv"), members.replacen(&first_id, &bad_id, 1)).unwrap();

    let mut printed = String::new();
    let mut run = |args: &[&std::ffi::OsStr]| {
        let output = hhrisk().args(args).output().unwrap();
        printed.push_str(&String::from_utf8_lossy(&output.stdout));
        printed.push_str(&String::from_utf8_lossy(&output.stderr));
    };
    let m = model().into_os_string();
    let v = village.clone().into_os_string();
    let os = |s: &str| std::ffi::OsString::from(s);
    let p = |name: &str| d.join(name).into_os_string();
    run(&[&os("validate"), &os("--json"), &os("--model"), &m, &os("--roster"), &v]);
    run(&[&os("score"), &os("--model"), &m, &os("--roster"), &v, &os("--out"), &p("scores.csv")]);
    run(&[
        &os("score"),
        &os("--model"),
        &m,
        &os("--roster"),
        &v,
        &os("--out"),
        &p("scores.csv"),
        &os("--rejects"),
        &p("rejects.csv"),
    ]);
    run(&[&os("explain"), &os("--model"), &m, &os("--roster"), &v, &os("--household"), &os("CG000002")]);
    run(&[
        &os("explain"),
        &os("--json"),
        &os("--model"),
        &m,
        &os("--roster"),
        &v,
        &os("--household"),
        &os("CG000001"),
    ]);
    run(&[
        &os("dispatch"),
        &os("--model"),
        &m,
        &os("--scores"),
        &p("scores.csv"),
        &os("--roster"),
        &v,
        &os("--out"),
        &p("dispatch"),
    ]);
    run(&[
        &os("evaluate"),
        &os("--json"),
        &os("--scores"),
        &p("scores.csv"),
        &os("--outcomes"),
        &v,
        &os("--model"),
        &m,
    ]);
    run(&[
        &os("diff"),
        &os("--model"),
        &m,
        &os("--old"),
        &v,
        &os("--new"),
        &v,
        &os("--changes"),
        &p("changes.csv"),
    ]);
    assert!(printed.contains("420921********"), "messages name people, masked");
    assert!(!has_full_id(&printed), "stdout/stderr show a full ID number");
    let mut files = vec![d.join("scores.csv"), d.join("rejects.csv"), d.join("changes.csv")];
    files.extend(std::fs::read_dir(d.join("dispatch")).unwrap().map(|e| e.unwrap().path()));
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!has_full_id(&text), "{} holds a full ID number", f.display());
    }
}

/// ID numbers written as people write them (a leading `'`, non-breaking
/// and zero-width spaces, dashes, full-width digits, a lowercase `x`), in
/// a person id, a household id and a number column: masked in every
/// message, rejects file and JSON.
#[test]
fn an_id_number_written_any_way_is_masked_everywhere() {
    let dir = edited_fixture(|h, m| {
        // H001's head: a leading apostrophe and a non-breaking space
        *m = m.replacen("H001,420921195703150112,", "H001,'420921\u{A0}195703150112,", 1);
        // H002: its household id is an ID number, with dashes
        *h = h.replace("H002,", "420921-19700101-0012,");
        *m = m.replace("H002,", "420921-19700101-0012,");
        // H006's child: full-width digits and a zero-width space in the age
        *m = m.replacen(",陈四,child,30,", ",陈四,child,４２０９２１\u{200B}１９９４０３１５１７１ｘ,", 1);
    });
    let birth_dates = ["19570315", "19700101", "19940315"];
    let leaks = |text: &str| -> Vec<&str> {
        // digits as a reader would read them, whatever their width
        let digits: String = text
            .chars()
            .filter_map(|c| match c {
                '0'..='9' => Some(c),
                '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + 48),
                _ => None,
            })
            .collect();
        birth_dates.into_iter().filter(|b| digits.contains(b)).collect()
    };
    let run = |args: &[&str]| {
        let out =
            hhrisk().args(args).arg("--model").arg(model()).arg("--roster").arg(dir.path()).output().unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let validate = run(&["validate"]);
    assert!(validate.contains("problem"), "{validate}");
    for text in [validate, run(&["validate", "--json"])] {
        assert_eq!(leaks(&text), Vec::<&str>::new(), "{text}");
    }
    let rejects = dir.path().join("r.csv");
    let scored = score(dir.path(), dir.path().join("s.csv")).arg("--rejects").arg(&rejects).output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&scored.stderr), std::fs::read_to_string(&rejects).unwrap());
    assert!(text.contains("H006") || text.contains("420921"), "{text}");
    assert_eq!(leaks(&text), Vec::<&str>::new(), "{text}");
}

/// A cell holding a terminal's escape sequence, a bell or a carriage
/// return is quoted in messages and the rejects file with those characters
/// written as codes, never as themselves.
#[test]
fn control_characters_in_a_cell_reach_no_message_as_themselves() {
    let dir = edited_fixture(|h, m| {
        *m = m.replacen(",chronic,", ",\u{1b}[2J\u{7}chronic\r,", 1);
        // a village name with an escape sequence, in an accepted household
        *h = h.replacen("H002,东山村", "H002,东山\u{1b}[31m村", 1);
    });
    let validate =
        hhrisk().args(["validate", "--model"]).arg(model()).arg("--roster").arg(dir.path()).output().unwrap();
    let rejects = dir.path().join("r.csv");
    let scored = score(dir.path(), dir.path().join("s.csv")).arg("--rejects").arg(&rejects).output().unwrap();
    let scores = std::fs::read_to_string(dir.path().join("s.csv")).unwrap();
    assert!(scores.contains("东山\\u{1b}[31m村"), "{scores}");
    for text in [
        String::from_utf8_lossy(&validate.stderr).into_owned(),
        String::from_utf8_lossy(&validate.stdout).into_owned(),
        String::from_utf8_lossy(&scored.stderr).into_owned(),
        std::fs::read_to_string(&rejects).unwrap(),
        scores,
    ] {
        assert!(!text.contains(['\u{1b}', '\u{7}', '\r']), "{text:?}");
    }
    let stderr = String::from_utf8_lossy(&validate.stderr);
    assert!(stderr.contains(r#""\u{1b}[2J\u{7}chronic" is not an allowed value"#), "{stderr}");
}

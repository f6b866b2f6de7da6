//! `--help` of `hhrisk` and of each of its commands, and the messages of
//! common mistakes, in English and in Chinese, as snapshots: a changed flag
//! or wording shows in review, and a new command needs its snapshots.

mod common;

use common::{fixture, hhrisk, model, stdout};

/// The commands `hhrisk --help` lists in English.
fn commands() -> Vec<String> {
    let main = stdout(&hhrisk().arg("--help").assert().success());
    main.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

#[test]
fn help_of_every_command_is_as_snapshotted() {
    let main = stdout(&hhrisk().arg("--help").assert().success());
    insta::assert_snapshot!("hhrisk", main);
    let commands = commands();
    assert!(commands.len() >= 13, "{commands:?}");
    for command in commands {
        let help = stdout(&hhrisk().args([command.as_str(), "--help"]).assert().success());
        assert!(help.contains("Examples:\n  hhrisk "), "{command}: no examples\n{help}");
        insta::assert_snapshot!(command, help);
    }
}

#[test]
fn chinese_help_of_every_command_is_as_snapshotted() {
    let main = stdout(&hhrisk().args(["--lang", "zh", "--help"]).assert().success());
    insta::assert_snapshot!("hhrisk_zh", main);
    for heading in ["用法：", "命令：", "选项：", "示例：", "显示帮助", "显示版本"] {
        assert!(main.contains(heading), "{heading}\n{main}");
    }
    for command in commands() {
        let help = stdout(&hhrisk().args([command.as_str(), "--help", "--lang", "zh"]).assert().success());
        // no English left but names, values and examples: no heading, no
        // "Print help", no "[default: …]"
        for english in ["Usage:", "Options:", "Print help", "[default:", "[possible values:", "Examples:"] {
            assert!(!help.contains(english), "{command}: {english}\n{help}");
        }
        assert!(help.contains("示例：\n  hhrisk "), "{command}: no examples\n{help}");
        insta::assert_snapshot!(format!("{command}_zh"), help);
    }
}

#[test]
fn chinese_is_the_default_and_the_locale_or_hhrisk_lang_can_choose_english() {
    let help = |env: &[(&str, &str)]| {
        let mut cmd = assert_cmd::Command::cargo_bin("hhrisk").unwrap();
        cmd.env_remove("HHRISK_LANG").env_remove("LANG").env_remove("LC_ALL").env_remove("LC_MESSAGES");
        for (k, v) in env {
            cmd.env(k, v);
        }
        stdout(&cmd.args(["score", "--help"]).assert().success())
    };
    assert!(help(&[]).starts_with("为名册中的每一户评分"), "{}", help(&[]));
    assert!(help(&[("LANG", "C.UTF-8")]).starts_with("为名册"));
    assert!(help(&[("LANG", "en_US.UTF-8")]).starts_with("Score every household"));
    assert!(help(&[("LANG", "en_US.UTF-8"), ("HHRISK_LANG", "zh")]).starts_with("为名册"));
    assert!(help(&[("HHRISK_LANG", "en")]).starts_with("Score every household"));
}

/// A mistake's message on stderr, with the exit status, in `lang`.
fn mistake(lang: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = hhrisk().arg("--lang").arg(lang).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).replace(&common::repo().display().to_string(), "<repo>");
    format!("exit {}\n{text}", out.status.code().unwrap_or(-1))
}

#[test]
fn messages_of_common_mistakes_in_both_languages_are_as_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let os = |s: &str| std::ffi::OsString::from(s);
    let (model, roster) = (model().into_os_string(), fixture().into_os_string());
    let file_roster = fixture().join("households.csv").into_os_string();
    let out = dir.path().join("s.csv").into_os_string();
    let cases: Vec<(&str, Vec<std::ffi::OsString>)> = vec![
        ("misspelt_flag", vec![os("score"), os("--modle"), model.clone()]),
        ("missing_flags", vec![os("score"), os("--model"), model.clone()]),
        ("unknown_command", vec![os("scor")]),
        ("bad_value", vec![os("dispatch"), os("--format"), os("pdf")]),
        ("bad_number", vec![os("score"), os("--top"), os("many")]),
        (
            "missing_roster",
            vec![
                os("score"),
                os("--model"),
                model.clone(),
                os("--roster"),
                os("/no/such/roster"),
                os("--out"),
                out.clone(),
            ],
        ),
        (
            "file_as_roster",
            vec![
                os("score"),
                os("--model"),
                model.clone(),
                os("--roster"),
                file_roster,
                os("--out"),
                out.clone(),
            ],
        ),
        ("out_is_input", {
            let input = fixture().join("members.csv").into_os_string();
            vec![
                os("score"),
                os("--model"),
                model.clone(),
                os("--roster"),
                roster.clone(),
                os("--out"),
                input,
            ]
        }),
    ];
    for (name, args) in &cases {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let (en, zh) = (mistake("en", &args), mistake("zh", &args));
        assert_eq!(en.lines().next(), zh.lines().next(), "{name}: the exit status differs by language");
        assert!(!en.contains('\u{FFFD}') && !zh.contains("panicked"), "{name}\n{zh}");
        insta::assert_snapshot!(format!("mistake_{name}_en"), en);
        insta::assert_snapshot!(format!("mistake_{name}_zh"), zh);
    }
}

#[test]
fn a_run_reports_in_the_language_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.csv");
    let run = |lang: &str| {
        let assert = hhrisk()
            .args(["--lang", lang, "score", "--model"])
            .arg(model())
            .arg("--roster")
            .arg(fixture())
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        String::from_utf8_lossy(&assert.get_output().stderr).replace(&out.display().to_string(), "<out>")
    };
    insta::assert_snapshot!("score_summary_en", run("en"));
    insta::assert_snapshot!("score_summary_zh", run("zh"));
}

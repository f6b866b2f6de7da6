//! The language of the interface: Chinese by default, English on request
//! (`--lang en`, or `HHRISK_LANG` / `LANG` naming English).
//!
//! Help comes from the derive definitions in English and is replaced, for
//! Chinese, from [`crate::help_zh::HELP_ZH`] (see [`localise`]); the
//! program's own messages are written in both languages where they are
//! made (the `tr!` macro). Machine outputs (`--json`, `calibration.json`)
//! keep their English keys whatever the language.

use std::ffi::OsString;
use std::sync::OnceLock;

use clap::{Arg, ArgAction, Command};

use crate::help_zh::HELP_ZH;

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// 中文 (the default).
    Zh,
    /// English.
    En,
}

static LANG: OnceLock<Lang> = OnceLock::new();

/// The language of this run: set once, at the start of `main`.
pub fn set(lang: Lang) {
    let _ = LANG.set(lang);
}

/// Whether this run speaks Chinese (the default until [`set`]).
pub fn zh() -> bool {
    *LANG.get().unwrap_or(&Lang::Zh) == Lang::Zh
}

/// The language asked for: `--lang` on the command line (before it is
/// parsed, so that help and parse errors speak it too), else the
/// `HHRISK_LANG` variable, else the locale (`LC_ALL`, `LC_MESSAGES`,
/// `LANG`) when it names English or Chinese; Chinese otherwise.
pub fn detect(args: &[OsString], var: impl Fn(&str) -> Option<String>) -> Lang {
    let parse = |v: &str| match v.trim().to_ascii_lowercase() {
        v if v.starts_with("zh") => Some(Lang::Zh),
        v if v.starts_with("en") => Some(Lang::En),
        _ => None,
    };
    let mut given = None;
    let mut args = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = args.next() {
        if a == "--" {
            break;
        }
        if a == "--lang" {
            given = args.next().and_then(|v| parse(&v)).or(given);
        } else if let Some(v) = a.strip_prefix("--lang=") {
            given = parse(v).or(given);
        }
    }
    given
        .or_else(|| var("HHRISK_LANG").and_then(|v| parse(&v)))
        .or_else(|| {
            // the first locale variable set decides, as in POSIX
            ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .find_map(|k| var(k).filter(|v| !v.is_empty()))
                .and_then(|v| parse(&v))
        })
        .unwrap_or(Lang::Zh)
}

/// `en` or `zh` as written.
#[macro_export]
macro_rules! tr {
    ($en:literal, $zh:literal $(, $($arg:tt)*)?) => {
        if $crate::lang::zh() { format!($zh $(, $($arg)*)?) } else { format!($en $(, $($arg)*)?) }
    };
}

/// Words of the libraries' and the system's messages, in Chinese: the
/// phrases every file error starts or ends with. The rest of a message
/// stays as the library wrote it.
const MESSAGE_ZH: &[(&str, &str)] = &[
    ("cannot read ", "无法读取 "),
    ("cannot write ", "无法写入 "),
    ("cannot open ", "无法打开 "),
    (": No such file or directory (os error 2)", "：文件或文件夹不存在"),
    ("No such file or directory (os error 2)", "文件或文件夹不存在"),
    (": Permission denied (os error 13)", "：没有访问权限"),
    (": Is a directory (os error 21)", "：这是一个文件夹，不是文件"),
    (": Not a directory (os error 20)", "：路径中有一段不是文件夹"),
    (": No space left on device (os error 28)", "：磁盘已满"),
    ("invalid digit found in string", "不是整数"),
    ("cannot parse integer from empty string", "不能为空"),
    ("number too large to fit in target type", "数值太大"),
    ("number too small to fit in target type", "数值太小"),
    ("invalid float literal", "不是数字"),
];

/// A message of a library or of the system in the language of the run
/// (see [`MESSAGE_ZH`]).
pub fn message(text: &str) -> String {
    if !zh() {
        return text.to_string();
    }
    MESSAGE_ZH.iter().fold(text.to_string(), |t, (en, zh)| t.replace(en, zh))
}

/// The Chinese text of `key`, if the table has one.
fn zh_text(key: &str) -> Option<&'static str> {
    HELP_ZH.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Each command's examples, shown at the end of its help.
const EXAMPLES: &[(&str, &str)] = &[
    ("validate", "hhrisk validate --model indicators/xiaochang.toml --roster sample_villages/02_hy"),
    (
        "score",
        "hhrisk score --model indicators/xiaochang.toml --roster sample_villages/02_hy --out scores.csv\n\
         hhrisk score --model indicators/xiaochang.toml --roster 花名册.xlsx --out scores.csv --rejects rejects.csv",
    ),
    ("explain", "hhrisk explain --model indicators/xiaochang.toml --roster sample_villages/02_hy --household HY0001"),
    (
        "calibrate",
        "hhrisk calibrate --model indicators/xiaochang.toml --samples sample_villages --out calibration\n\
         hhrisk calibrate --model indicators/xiaochang.toml --samples sample_villages --out calibration --tune",
    ),
    ("fit", "hhrisk fit --model indicators/xiaochang.toml --samples sample_villages --out fitted/xiaochang_fit.toml"),
    (
        "evaluate",
        "hhrisk evaluate --scores scores.csv --outcomes sample_villages/02_hy --model indicators/xiaochang.toml\n\
         hhrisk evaluate --alerts 687 --verified 404\n\
         hhrisk evaluate --ledger hhrisk.db --by quarter",
    ),
    ("report", "hhrisk report --model indicators/xiaochang.toml --samples sample_villages --out report"),
    (
        "dispatch",
        "hhrisk dispatch --model indicators/xiaochang.toml --scores scores.csv --roster sample_villages/02_hy \\\n    \
         --out lists --format xlsx --batch 2024-07 --ledger hhrisk.db",
    ),
    ("feedback", "hhrisk feedback --dispatch lists --returns lists/civil_affairs.xlsx --out outcomes.csv --ledger hhrisk.db"),
    (
        "cases",
        "hhrisk cases --ledger hhrisk.db --overdue\n\
         hhrisk cases --ledger hhrisk.db --department civil_affairs --xlsx 台账.xlsx\n\
         hhrisk cases show HY0001 --ledger hhrisk.db",
    ),
    ("cases show", "hhrisk cases show HY0001 --ledger hhrisk.db"),
    ("cases close", "hhrisk cases close HY0001 --reason \"已纳入低保\" --ledger hhrisk.db"),
    (
        "diff",
        "hhrisk diff --model indicators/xiaochang.toml --old roster_2024_06 --new roster_2024_07 --changes changes.csv",
    ),
    ("workbench", "hhrisk workbench --model indicators/xiaochang.toml --samples sample_villages"),
    (
        "simulate",
        "hhrisk simulate --out villages --seed 7\n\
         hhrisk simulate --out big --households 1000000 --flat",
    ),
    ("items", "hhrisk items --model indicators/xiaochang.toml --format csv"),
];

/// The command tree in the language of the run: for Chinese, every about
/// line and argument help from the table (an entry missing from it keeps
/// its English), defaults and choices appended in Chinese, the headings
/// and the help and version flags in Chinese; for both, each command's
/// examples.
pub fn localise(cmd: Command) -> Command {
    let zh = zh();
    localise_at(cmd, "", zh)
}

fn localise_at(mut cmd: Command, path: &str, zh: bool) -> Command {
    let key = if path.is_empty() { "hhrisk".to_string() } else { path.to_string() };
    let examples = EXAMPLES.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    if let Some(examples) = examples {
        let heading = if zh { "示例：" } else { "Examples:" };
        let body: String = examples.lines().map(|l| format!("  {l}\n")).collect();
        cmd = cmd.after_help(format!("{heading}\n{}", body.trim_end()));
    } else if zh && path.is_empty() {
        // the program's own examples, written in its definition
        if let Some(after) = cmd.get_after_help().map(|a| a.to_string()) {
            cmd = cmd.after_help(after.replacen("Examples:", "示例：", 1));
        }
    }
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        let sub_path = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        cmd = cmd.mut_subcommand(&name, |s| localise_at(s, &sub_path, zh));
    }
    if !zh {
        return cmd;
    }
    if let Some(about) = zh_text(&key) {
        cmd = cmd.about(about).long_about(None::<&str>);
    }
    let ids: Vec<String> = cmd.get_arguments().map(|a| a.get_id().to_string()).collect();
    for id in ids {
        cmd = cmd.mut_arg(&id, |arg| localise_arg(arg, &key));
    }
    let has_subcommands = cmd.has_subcommands();
    let has_positionals = cmd.get_positionals().next().is_some();
    let mut template = String::from("{about-with-newline}\n用法：{usage}\n");
    if has_subcommands {
        template.push_str("\n命令：\n{subcommands}\n");
    }
    if has_positionals {
        template.push_str("\n参数：\n{positionals}\n");
    }
    template.push_str("\n选项：\n{options}{after-help}");
    cmd =
        cmd.help_template(template).disable_help_flag(true).disable_help_subcommand(true).arg(
            Arg::new("help").short('h').long("help").action(ArgAction::Help).help("显示帮助").global(false),
        );
    if path.is_empty() {
        cmd = cmd
            .disable_version_flag(true)
            .arg(Arg::new("version").short('V').long("version").action(ArgAction::Version).help("显示版本"));
    }
    cmd
}

fn localise_arg(arg: Arg, command: &str) -> Arg {
    let name = match arg.get_long() {
        Some(long) => format!("--{long}"),
        None => arg.get_id().to_string(),
    };
    let text = zh_text(&format!("{command} {name}")).or_else(|| zh_text(&format!("* {name}")));
    let Some(text) = text else { return arg };
    let mut text = text.to_string();
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    let takes_value = arg.get_action().takes_values();
    if takes_value && !possible.is_empty() && !arg.is_hide_possible_values_set() {
        text.push_str(&format!("（可选：{}）", possible.join("、")));
    }
    let defaults: Vec<String> =
        arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
    if takes_value && !defaults.is_empty() && !arg.is_hide_default_value_set() {
        text.push_str(&format!("（默认：{}）", defaults.join(",")));
    }
    let arg = arg.help(text.clone()).long_help(text);
    if takes_value {
        arg.hide_default_value(true).hide_possible_values(true)
    } else {
        arg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        std::iter::once("hhrisk").chain(a.iter().copied()).map(OsString::from).collect()
    }

    #[test]
    fn the_command_line_wins_then_hhrisk_lang_then_the_locale() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(detect(&args(&["score"]), env(&[])), Lang::Zh);
        assert_eq!(detect(&args(&["score"]), env(&[("LANG", "C.UTF-8")])), Lang::Zh);
        assert_eq!(detect(&args(&["score"]), env(&[("LANG", "en_US.UTF-8")])), Lang::En);
        assert_eq!(
            detect(&args(&["score"]), env(&[("LANG", "en_US.UTF-8"), ("LC_ALL", "zh_CN.UTF-8")])),
            Lang::Zh
        );
        assert_eq!(
            detect(&args(&["score"]), env(&[("LANG", "zh_CN.UTF-8"), ("HHRISK_LANG", "en")])),
            Lang::En
        );
        assert_eq!(detect(&args(&["score", "--lang", "zh"]), env(&[("HHRISK_LANG", "en")])), Lang::Zh);
        assert_eq!(detect(&args(&["--lang=en", "score"]), env(&[])), Lang::En);
        // after `--` it is an argument, not the flag
        assert_eq!(detect(&args(&["cases", "show", "--", "--lang=en"]), env(&[])), Lang::Zh);
    }

    /// Whether `c` has the argument `name` (`--long` or a positional's id).
    fn has_arg(c: &Command, name: &str) -> bool {
        c.get_arguments()
            .any(|a| a.get_long().map(|l| format!("--{l}")).as_deref() == Some(name) || a.get_id() == name)
    }

    #[test]
    fn every_key_names_a_command_or_an_argument_that_exists() {
        use clap::CommandFactory;
        let cmd = crate::Cli::command();
        let all: Vec<&Command> = std::iter::once(&cmd)
            .chain(cmd.get_subcommands())
            .chain(cmd.get_subcommands().flat_map(|s| s.get_subcommands()))
            .collect();
        for (key, _) in HELP_ZH {
            if let Some(arg) = key.strip_prefix("* ") {
                assert!(all.iter().any(|c| has_arg(c, arg)), "{key}: no command has this argument");
                continue;
            }
            if *key == "hhrisk" {
                continue;
            }
            let mut at = &cmd;
            let mut words = key.split(' ').peekable();
            while let Some(sub) = words.peek().and_then(|w| at.find_subcommand(w)) {
                at = sub;
                words.next();
            }
            let rest: Vec<&str> = words.collect();
            match rest.as_slice() {
                [] => {}
                [arg] => assert!(has_arg(at, arg), "{key}: no such argument"),
                _ => panic!("{key}: no such command"),
            }
        }
    }

    #[test]
    fn every_command_and_argument_has_chinese_help() {
        use clap::CommandFactory;
        fn walk(cmd: &Command, path: &str, missing: &mut Vec<String>) {
            let key = if path.is_empty() { "hhrisk".to_string() } else { path.to_string() };
            if cmd.is_hide_set() {
                return;
            }
            if zh_text(&key).is_none() {
                missing.push(key.clone());
            }
            for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let name = a.get_long().map(|l| format!("--{l}")).unwrap_or_else(|| a.get_id().to_string());
                if matches!(name.as_str(), "--help" | "--version") {
                    continue;
                }
                if zh_text(&format!("{key} {name}")).is_none() && zh_text(&format!("* {name}")).is_none() {
                    missing.push(format!("{key} {name}"));
                }
            }
            for s in cmd.get_subcommands() {
                let p = if path.is_empty() {
                    s.get_name().to_string()
                } else {
                    format!("{path} {}", s.get_name())
                };
                walk(s, &p, missing);
            }
        }
        let mut missing = vec![];
        walk(&crate::Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no Chinese help for: {missing:?}");
    }
}

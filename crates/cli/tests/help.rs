//! `--help` of `hhrisk` and of each of its commands, as snapshots: a changed
//! flag or wording shows in review, and a new command needs its snapshot.

mod common;

use common::{hhrisk, stdout};

#[test]
fn help_of_every_command_is_as_snapshotted() {
    let main = stdout(&hhrisk().arg("--help").assert().success());
    insta::assert_snapshot!("hhrisk", main);
    // the commands listed under "Commands:", each with its own help
    let commands: Vec<&str> = main
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 13, "{commands:?}");
    for command in commands {
        let help = stdout(&hhrisk().args([command, "--help"]).assert().success());
        insta::assert_snapshot!(command, help);
    }
}

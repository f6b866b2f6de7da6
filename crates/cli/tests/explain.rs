//! `hhrisk explain`: one household's items, worked out, with ids masked.

mod common;

use common::{fixture, hhrisk, model, stderr, stdout};

#[test]
fn explain_shows_each_item_and_masks_ids() {
    // H001, worked out by hand in score.rs: 29 points / 3 members
    let run = hhrisk()
        .args(["explain", "--household", "H001", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(fixture())
        .assert()
        .success();
    let shown = stdout(&run);
    insta::assert_snapshot!("h001", shown);
    assert!(shown.contains("420921********0112") && !shown.contains("420921195703150112"), "masked");
    // in Chinese: the same numbers (29 points / 3 members), in Chinese words
    let run = hhrisk()
        .args(["--lang", "zh", "explain", "--household", "H001", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(fixture())
        .assert()
        .success();
    let zh = stdout(&run);
    assert!(zh.contains("分值：29 分 ÷ 3 人 = 人均 9.6667"), "{zh}");
    insta::assert_snapshot!("h001_zh", zh);

    let output = hhrisk()
        .args(["explain", "--json", "--household", "H002", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(fixture())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["per_capita_score"], 115.0);
    // I01 I03 D02 D03 D07 D09 M01 M03 M06 M07 M08 H02 H03 B03 B04 (see
    // scores_match_the_hand_calculation)
    assert_eq!(v["items"].as_array().unwrap().len(), 15);
    assert_eq!(v["items_not_fired"], 40);

    let run = hhrisk()
        .args(["explain", "--household", "H404", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(fixture())
        .assert()
        .code(1);
    insta::assert_snapshot!("unknown_household", stderr(&run));
}

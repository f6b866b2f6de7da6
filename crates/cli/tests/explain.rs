//! `hhrisk explain`: one household's items, worked out, with ids masked.

mod common;

use common::{fixture, hhrisk, model};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

#[test]
fn explain_shows_each_item_and_masks_ids() {
    hhrisk()
        .args(["explain", "--household", "H001", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(fixture())
        .assert()
        .success()
        .stdout(contains("29 points / 3 members = 9.6667 per capita; alert: none"))
        .stdout(contains("I01         15  = 1 × 15 points × weight 1"))
        .stdout(contains("read: annual_net_income = 15000"))
        .stdout(contains("J06         -3  = 1 × -3 points"))
        .stdout(contains("420921********0112"))
        .stdout(contains("420921195703150112").not());

    let output = hhrisk()
        .args(["explain", "--json", "--household", "H002", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(fixture())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["per_capita_score"], 121.0);
    // I01 I03 D02 D03 D07 D09 M01 M03 M06 M07 M08 H02 H03 R01 R02 (see above)
    assert_eq!(v["items"].as_array().unwrap().len(), 15);
    assert_eq!(v["items_not_fired"], 40);

    hhrisk()
        .args(["explain", "--household", "H404", "--model"])
        .arg(model())
        .arg("--roster")
        .arg(fixture())
        .assert()
        .code(1)
        .stderr(contains("household H404 is not in"));
}

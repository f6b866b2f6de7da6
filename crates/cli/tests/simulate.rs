//! `hhrisk simulate`: the bundled sample villages are what the README's command makes.

mod common;

use common::{hhrisk, model, repo, stderr};

#[test]
fn the_sample_villages_are_reproduced_by_their_documented_command_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let run = hhrisk().args(["simulate", "--seed", "2024", "--out"]).arg(dir.path()).assert().success();
    insta::assert_snapshot!("sample_villages", stderr(&run));
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        for file in ["households.csv", "members.csv", "outcomes.csv"] {
            let made = std::fs::read(dir.path().join(village).join(file)).unwrap();
            let shipped = std::fs::read(repo().join("sample_villages").join(village).join(file)).unwrap();
            assert!(
                made == shipped,
                "sample_villages/{village}/{file} differs from what the README's command makes"
            );
        }
        let output = hhrisk()
            .args(["validate", "--json", "--model"])
            .arg(model())
            .arg("--roster")
            .arg(repo().join("sample_villages").join(village))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(v["valid"], true, "{village}: {}", v["roster"]["errors"]);
    }
}

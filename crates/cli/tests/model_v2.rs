//! The bundled model, version 2: what a county office found in version 1,
//! fixed (issue 20), checked on the model and on the sample villages.

mod common;

use common::{model, read_csv, repo, score};

#[test]
fn no_item_gives_points_for_being_enrolled_already() {
    let m = hhrisk_model::Model::from_path(&model()).unwrap();
    let class = m.columns.iter().position(|c| c.name == "class").unwrap();
    let circular: Vec<&str> =
        m.items.iter().filter(|i| i.reads.contains(&class)).map(|i| i.id.as_str()).collect();
    assert!(circular.is_empty(), "items reading the enrolment: {circular:?}");
    // version 1 had two (B03, B04)
    let v1 = hhrisk_model::Model::from_path(&repo().join("indicators/xiaochang_v1.toml")).unwrap();
    assert_eq!(v1.items.iter().filter(|i| i.reads.contains(&class)).count(), 2);
}

#[test]
fn departments_and_items_follow_the_seed_and_the_rules() {
    let m = hhrisk_model::Model::from_path(&model()).unwrap();
    let dept = |id: &str| m.departments[m.items.iter().find(|i| i.id == id).unwrap().department].id.as_str();
    for d in ["trade_union", "health"] {
        assert!(m.departments.iter().any(|x| x.id == d), "{d}");
    }
    assert_eq!(dept("E04"), "agriculture", "雨露计划");
    assert_eq!((m.categories.len(), m.items.len()), (8, 55));
    // control of dropping out: compulsory schooling ages only
    let e06 = m.items.iter().find(|i| i.id == "E06").unwrap();
    assert!(e06.when.contains("age >= 6") && e06.when.contains("age <= 15"), "{}", e06.when);
}

/// Rigid spending is counted once: where the medical (M07) or education
/// (E07) item counts a household's spending, the rigid-spending items
/// (R01, R02) do not count it again; and at most one of R01, R02.
#[test]
fn rigid_spending_is_counted_once_on_the_sample_villages() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        let out = dir.path().join(format!("{village}.csv"));
        score(repo().join("sample_villages").join(village), &out).arg("--item-columns").assert().success();
        for (id, r) in read_csv(&out).1 {
            let on = |item: &str| r[&format!("item_{item}")] != "0";
            let specific = on("M07") || on("E07");
            assert!(!(specific && (on("R01") || on("R02"))), "{id}: the same spending counted twice");
            assert!(!(on("R01") && on("R02")), "{id}");
            checked += usize::from(specific || on("R01") || on("R02"));
        }
    }
    assert!(checked > 50, "{checked} households with heavy spending");
}

/// An urban household (城关社区) is judged against the urban dibao standard,
/// a rural one against the rural: H001 with 8,000 yuan a person is above
/// the rural standard (6,960: I02, just above it) and below the urban
/// (9,360: I01, below the standard; dibao eligible).
#[test]
fn urban_households_are_judged_against_the_urban_standard() {
    let run = |urban: &str| {
        let roster = common::edited_fixture(|h, _| {
            *h = h.replace("H001,东山村,张某某,dibao,15000,", "H001,东山村,张某某,dibao,24000,");
            let first = h.lines().nth(1).unwrap().to_string();
            *h = h.replacen(&first, &format!("{},{urban}", first.strip_suffix(",0").unwrap()), 1);
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s.csv");
        score(roster.path(), &out).args(["--item-columns"]).assert().success();
        let (_, rows) = read_csv(&out);
        (rows["H001"]["item_I01"].clone(), rows["H001"]["item_I02"].clone())
    };
    assert_eq!(run("0"), ("0".to_string(), "1".to_string()), "rural: above the standard");
    assert_eq!(run("1"), ("1".to_string(), "0".to_string()), "urban: below the standard");
    // the sample villages say which households are urban: 城关社区's
    let (_, cg) = read_csv(&repo().join("sample_villages/03_cg/households.csv"));
    assert!(cg.values().all(|h| h["urban"] == "1"));
    let (_, hy) = read_csv(&repo().join("sample_villages/02_hy/households.csv"));
    assert!(hy.values().all(|h| h["urban"] == "0"));
}

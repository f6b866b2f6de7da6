use std::collections::HashSet;
use std::path::Path;

use hhrisk_simulate::people::id_is_valid;
use hhrisk_simulate::{simulate, Options};

fn read(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path).unwrap().records().map(Result::unwrap).collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let options = Options { households: Some(300), ..Options::default() };
    simulate(a.path(), &options).unwrap();
    simulate(b.path(), &options).unwrap();
    simulate(c.path(), &Options { seed: 7, ..options }).unwrap();
    for village in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        for file in ["households.csv", "members.csv", "outcomes.csv"] {
            let read = |d: &Path| std::fs::read(d.join(village).join(file)).unwrap();
            assert_eq!(read(a.path()), read(b.path()), "{village}/{file}");
            assert_ne!(read(a.path()), read(c.path()), "{village}/{file}");
        }
    }
}

#[test]
fn people_have_valid_unique_ids_matching_their_age_and_sex() {
    let dir = tempfile::tempdir().unwrap();
    let summary =
        simulate(dir.path(), &Options { households: Some(4000), flat: true, ..Options::default() }).unwrap();
    assert_eq!(summary.rosters.len(), 1);
    let members = read(&dir.path().join("members.csv"));
    let households = read(&dir.path().join("households.csv"));
    let outcomes = read(&dir.path().join("outcomes.csv"));
    assert_eq!((households.len(), outcomes.len()), (4000, 4000));
    let mut seen = HashSet::new();
    for m in &members {
        let (id, sex, age) = (&m[1], &m[4], m[5].parse::<i32>().unwrap());
        assert!(id_is_valid(id), "{id}");
        assert!(seen.insert(id.to_string()), "duplicate {id}");
        assert_eq!(&id[..6], "420921");
        let (year, month_day) = (id[6..10].parse::<i32>().unwrap(), &id[10..14]);
        // full years on 30 June 2024
        let expected = 2024 - year - i32::from(month_day > "0630");
        assert_eq!(age, expected, "{id}");
        assert_eq!(id.as_bytes()[16] % 2 == 1, sex == "M", "{id}");
    }
    // every member belongs to a household, every household has members
    let ids: HashSet<&str> = households.iter().map(|h| &h[0]).collect();
    let with_members: HashSet<&str> = members.iter().map(|m| &m[0]).collect();
    assert_eq!(ids, with_members);
}

#[test]
fn villages_differ_as_their_profiles_say() {
    let dir = tempfile::tempdir().unwrap();
    simulate(dir.path(), &Options { households: Some(8000), ..Options::default() }).unwrap();
    let share = |village: &str, f: &dyn Fn(&csv::StringRecord) -> bool, file: &str| {
        let rows = read(&dir.path().join(village).join(file));
        rows.iter().filter(|r| f(r)).count() as f64 / rows.len() as f64
    };
    let elderly = |v: &str| share(v, &|m| m[5].parse::<u32>().unwrap() >= 60, "members.csv");
    let unsafe_house = |v: &str| share(v, &|h| &h[11] == "C" || &h[11] == "D", "households.csv");
    let cars = |v: &str| share(v, &|h| &h[6] != "0", "households.csv");
    // the hill village is older and has more unsafe houses than the relocation site
    assert!(elderly("01_bys") > elderly("04_xf") + 0.05, "{} {}", elderly("01_bys"), elderly("04_xf"));
    assert!(unsafe_house("01_bys") > 0.1 && unsafe_house("04_xf") == 0.0);
    // the town-edge community has the most cars
    assert!(cars("03_cg") > cars("01_bys") && cars("03_cg") > cars("04_xf"));
    // a monitored population: between a quarter and two thirds in need
    for v in ["01_bys", "02_hy", "03_cg", "04_xf"] {
        let need = share(v, &|o| &o[1] == "1", "outcomes.csv");
        assert!((0.2..0.67).contains(&need), "{v}: {need}");
    }
}

/// Progress is told every thousand households and at the end, against the
/// total; the files are the same bytes as without it.
#[test]
fn progress_is_told_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let options = hhrisk_simulate::Options { households: Some(2500), villages: 2, ..Default::default() };
    let told = std::cell::RefCell::new(Vec::new());
    hhrisk_simulate::simulate_with_progress(&dir.path().join("a"), &options, &|done, total| {
        told.borrow_mut().push((done, total))
    })
    .unwrap();
    assert_eq!(*told.borrow(), [(1000, 2500), (2000, 2500), (2500, 2500)]);
    hhrisk_simulate::simulate(&dir.path().join("b"), &options).unwrap();
    for file in ["01_bys/households.csv", "02_hy/members.csv", "02_hy/outcomes.csv"] {
        assert!(
            std::fs::read(dir.path().join("a").join(file)).unwrap()
                == std::fs::read(dir.path().join("b").join(file)).unwrap(),
            "{file}"
        );
    }
}

//! The roster reader (CSV bytes in any encoding, both paths): any bytes
//! must be scored, refused row by row, or refused as a file, never a panic.
#![no_main]

use std::sync::OnceLock;

use hhrisk_model::{Model, ReadOptions, Roster};
use libfuzzer_sys::fuzz_target;

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../indicators/xiaochang.toml");
        Model::from_path(&path).expect("bundled model")
    })
}

fuzz_target!(|data: &[u8]| {
    // households and members, split at the first 0xFF byte
    let (households, members) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let dir = std::env::temp_dir().join(format!("hhrisk-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("households.csv"), households).unwrap();
    std::fs::write(dir.join("members.csv"), members).unwrap();
    if let Ok(r) = Roster::read(model(), &dir, &ReadOptions::default()) {
        assert_eq!(r.households.len() + r.rejected_households(), r.household_rows);
    }
    let _ = hhrisk_model::stream::stream(model(), &dir, &ReadOptions::default(), |_| Ok(()));
});

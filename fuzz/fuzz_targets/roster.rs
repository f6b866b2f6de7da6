//! The roster reader (CSV bytes in any encoding, both paths): any bytes
//! must be scored, refused row by row, or refused as a file, never a panic.
#![no_main]

use std::sync::OnceLock;

use hhrisk_model::stream::{stream_as, MemberOrder, Streamed, Work};
use hhrisk_model::{Model, ReadOptions, Roster};
use libfuzzer_sys::fuzz_target;

/// Counts households accepted and refused.
struct Count;

impl Work for Count {
    type State = (usize, usize);
    type Output = (usize, usize);
    fn state(&self) -> (usize, usize) {
        (0, 0)
    }
    fn household(&self, state: &mut (usize, usize), h: Streamed<'_>) -> Result<(), String> {
        match h {
            Streamed::Household { .. } => state.0 += 1,
            Streamed::Refused(_) => state.1 += 1,
        }
        Ok(())
    }
    fn output(&self, state: &mut (usize, usize)) -> (usize, usize) {
        std::mem::take(state)
    }
}

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
    let whole = Roster::read(model(), &dir, &ReadOptions::default());
    if let Ok(r) = &whole {
        assert_eq!(r.households.len() + r.rejected_households(), r.household_rows);
    }
    // streaming, on one thread and on two, and with the members put in
    // order first: the same households as the whole-file read when it
    // streams at all
    for (threads, order) in [(1, MemberOrder::AsItIs), (2, MemberOrder::AsItIs), (2, MemberOrder::Regrouped)] {
        let mut counts = (0, 0);
        let count = |(a, r): (usize, usize)| {
            counts.0 += a;
            counts.1 += r;
            Ok(())
        };
        let streamed = stream_as(model(), &dir, &ReadOptions::default(), threads, &Count, count, order);
        if let (Ok(summary), Ok(r)) = (&streamed, &whole) {
            assert_eq!(counts, (summary.accepted, summary.refused));
            assert_eq!(summary.accepted, r.households.len());
            assert_eq!(summary.household_rows, r.household_rows);
        }
    }
});

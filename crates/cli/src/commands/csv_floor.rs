//! `hhrisk csv-floor`: the csv crate alone reading a roster, for benchmarks.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

pub fn csv_floor(roster: &Path) -> anyhow::Result<ExitCode> {
    let start = std::time::Instant::now();
    let mut counts = Vec::new();
    for file in ["households.csv", "members.csv"] {
        let path = roster.join(file);
        let mut reader =
            csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut record = csv::ByteRecord::new();
        let mut n = 0u64;
        while reader.read_byte_record(&mut record)? {
            n += 1;
        }
        counts.push(n);
    }
    println!("{} {} {:.3}", counts[0], counts[1], start.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

//! Five years of monthly batches for a county of 150,000 monitored people
//! (60,000 households): 3,000 alerts a month, two departments each, 90 %
//! answered within the month (a tenth of them late), the rest left open;
//! then the two listings a county uses most, each timed (best of 5):
//! `cases --overdue` and `evaluate --ledger --by quarter`.
//!
//!     cargo bench -p hhrisk-ledger --bench five_years
//!
//! With `HHRISK_BENCH_LEDGER=FILE` the ledger is written there and kept,
//! to time the commands themselves (`hhrisk cases --ledger FILE --overdue`).

use hhrisk_ledger::{Answer, Batch, By, CaseAlert, CaseFilter, Event, Ledger};

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = std::env::var_os("HHRISK_BENCH_LEDGER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("five_years.db"));
    let _ = std::fs::remove_file(&path);
    let mut ledger = Ledger::open(&path).expect("a new ledger");
    let departments = ["civil_affairs", "medical_security", "education", "jobs", "housing", "agriculture"];
    let mut state: u64 = 2024;
    let mut next = move || {
        // xorshift: the same ledger every run
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let start = std::time::Instant::now();
    for month in 0..60 {
        let (year, m) = (2020 + month / 12, month % 12 + 1);
        let date = format!("{year}-{m:02}-05");
        let alerts: Vec<CaseAlert> = (0..3000)
            .map(|_| {
                let h = next() % 60_000;
                let lead = departments[(next() % 6) as usize];
                let co = departments[(next() % 6) as usize];
                let mut d = vec![(lead.to_string(), 15)];
                if co != lead {
                    d.push((co.to_string(), 15));
                }
                CaseAlert {
                    household_id: format!("H{h:06}"),
                    village: format!("V{:03}", h % 300),
                    kinds: vec!["risk".into()],
                    level: "orange".into(),
                    score: "20".into(),
                    items: vec!["I01".into()],
                    departments: d,
                }
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let alerts: Vec<CaseAlert> =
            alerts.into_iter().filter(|a| seen.insert(a.household_id.clone())).collect();
        let batch = Batch {
            name: format!("{year}-{m:02}"),
            model: ("m".into(), "2".into(), "h".into()),
            thresholds: None,
            alerts: alerts.clone(),
        };
        let event = Event { command: "bench".into(), inputs: vec![], date: date.clone() };
        ledger.record_batch(&batch, &event).expect("a batch");
        let referrals: Vec<(String, String)> = alerts
            .iter()
            .flat_map(|a| a.departments.iter().map(move |(d, _)| (a.household_id.clone(), d.clone())))
            .collect();
        let answers: Vec<Answer> = referrals
            .into_iter()
            .filter_map(|r| (next() % 10 != 0).then_some(r))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(household_id, department)| {
                let late = next() % 10 == 0;
                Answer {
                    household_id,
                    department,
                    date: format!("{year}-{m:02}-{}", if late { 25 } else { 15 }),
                    verified_need: next() % 10 < 6,
                    assistance: vec!["temporary".into()],
                    amount: Some(500.0),
                    note: String::new(),
                    origin: "bench".into(),
                }
            })
            .collect();
        ledger
            .record_answers(&answers, &Event { date: format!("{year}-{m:02}-25"), ..event })
            .expect("answers");
    }
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "built 60 monthly batches in {:.1} s; ledger {:.0} MB",
        start.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );
    let time = |what: &str, f: &mut dyn FnMut() -> usize| {
        let mut best = f64::INFINITY;
        let mut n = 0;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            n = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{what}: {n} rows, best of 5 {best:.3} s");
    };
    let overdue = CaseFilter { overdue: true, ..CaseFilter::default() };
    time("cases --overdue", &mut || ledger.cases(&overdue, "2025-01-10").expect("cases").len());
    time("evaluate --ledger --by quarter", &mut || ledger.figures(By::Quarter).expect("figures").len());
    time("cases (every open case)", &mut || {
        ledger.cases(&CaseFilter::default(), "2025-01-10").expect("cases").len()
    });
}

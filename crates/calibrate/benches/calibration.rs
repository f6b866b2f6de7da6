//! Hot paths of calibration: the threshold sweep and the village bootstrap,
//! on 100,000 synthetic households.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hhrisk_calibrate::bootstrap::resample;
use hhrisk_calibrate::curve::sweep;
use hhrisk_calibrate::metrics::Counts;

/// Deterministic synthetic scores and outcomes (a linear congruential
/// generator: the bench needs data, not realism).
fn data(n: usize) -> (Vec<f64>, Vec<bool>, Vec<bool>, Vec<Vec<usize>>) {
    let mut x: u64 = 2024;
    let mut next = || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let scores: Vec<f64> = (0..n).map(|_| (next() * 600.0).round() / 10.0 - 10.0).collect();
    let need: Vec<bool> = scores.iter().map(|s| next() < (s + 10.0) / 70.0).collect();
    let triggered = (0..n).map(|_| next() < 0.02).collect();
    let mut villages = vec![Vec::new(); 4];
    for i in 0..n {
        villages[i % 4].push(i);
    }
    (scores, need, triggered, villages)
}

fn benches(c: &mut Criterion) {
    let (scores, need, triggered, villages) = data(100_000);
    let rows: Vec<usize> = (0..scores.len()).collect();
    c.bench_function("sweep 100k households", |b| {
        b.iter(|| black_box(sweep(&scores, &need, &triggered, &rows)))
    });
    let alerted: Vec<bool> = scores.iter().map(|&s| s >= 20.0).collect();
    let mut group = c.benchmark_group("bootstrap");
    group.sample_size(10);
    group.bench_function("1000 village-household resamples of 100k", |b| {
        b.iter(|| black_box(resample(&villages, 1000, 7, |r| Counts::of(&alerted, &need, r.iter().copied()))))
    });
    group.finish();
}

criterion_group!(calibration, benches);
criterion_main!(calibration);

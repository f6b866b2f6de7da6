//! Hot paths of scoring: evaluating compiled conditions, scoring one
//! household of the bundled model, and scoring a village household by
//! household and as one batch.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use hhrisk_model::expr::OwnedColumns;
use hhrisk_model::Model;
use hhrisk_roster::{ReadOptions, Roster};
use hhrisk_score::{BatchScores, Scorer};

fn bundled() -> (Model, Roster) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = Model::from_path(&root.join("indicators/xiaochang.toml")).expect("bundled model");
    let roster = Roster::read(&model, &root.join("sample_villages/01_bys"), &ReadOptions::default())
        .expect("sample village");
    (model, roster)
}

fn benches(c: &mut Criterion) {
    let (model, roster) = bundled();
    let scorer = Scorer::new(&model, &model.bands);
    // one household item with aggregates (D08: dependency ratio) and one
    // per-member item (D01), on the first household
    let h = &roster.households[0];
    let x = roster.inputs(h);
    let d08 = &model.item("D08").expect("D08").condition;
    c.bench_function("condition D08 (aggregates over members)", |b| {
        b.iter(|| black_box(d08.eval(black_box(&x), 0)))
    });
    let r02 = &model.item("R02").expect("R02").condition;
    c.bench_function("condition R02 (derived values, arithmetic)", |b| {
        b.iter(|| black_box(r02.eval(black_box(&x), 0)))
    });
    // the same conditions as the closures the scorer runs
    let (d08_fn, r02_fn) = (d08.to_fn(), r02.to_fn());
    c.bench_function("condition D08 as a closure", |b| b.iter(|| black_box(d08_fn(black_box(&x), 0))));
    c.bench_function("condition R02 as a closure", |b| b.iter(|| black_box(r02_fn(black_box(&x), 0))));
    let mut out = Default::default();
    c.bench_function("score one household (55 items)", |b| {
        b.iter(|| scorer.score_into(black_box(&x), &mut out))
    });
    c.bench_function("score the hill village (412 households)", |b| {
        b.iter(|| {
            for h in &roster.households {
                scorer.score_into(&roster.inputs(h), &mut out);
            }
        })
    });
    // the same village as one batch, conditions run over it at once (what
    // `score` does with each batch of a streamed roster)
    let owned: OwnedColumns = roster.households.iter().map(|h| roster.inputs(h)).collect();
    let columns = owned.columns();
    let mut state = BatchScores::default();
    c.bench_function("score the hill village as one batch", |b| {
        b.iter(|| black_box(scorer.score_batch(black_box(&columns), &mut state).len()))
    });
}

criterion_group!(scoring, benches);
criterion_main!(scoring);

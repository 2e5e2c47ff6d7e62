//! Batch generation speed: index slices per second for 10 million ids.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use batchline::index::{BatchSpec, DatasetIndex};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const IDS: usize = 10_000_000;
const BATCH: usize = 64;
/// Batches per measured iteration: a bit more than one epoch, so every iteration pays for one
/// full shuffle of the 10 million positions.
const BATCHES: u64 = (IDS / BATCH) as u64 + 1;

fn gen_batch(c: &mut Criterion) {
    let index = DatasetIndex::from_count(IDS);
    let mut group = c.benchmark_group("gen_batch_10M_ids_bs64");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCHES));
    for (name, spec) in [
        ("ordered", BatchSpec::new(BATCH).n_iters(BATCHES)),
        (
            "shuffled",
            BatchSpec::new(BATCH).n_iters(BATCHES).shuffle(7),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || index.gen_batch(&spec).unwrap(),
                |iter| {
                    for batch in iter {
                        black_box(batch);
                    }
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, gen_batch);
criterion_main!(benches);

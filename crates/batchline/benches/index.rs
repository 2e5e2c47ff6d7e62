//! Batch generation speed: index slices per second for 10 million ids, batch size 64, next to
//! the obvious hand-written loop (materialise the epoch's order, then copy out 64 at a time).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use batchline::{BatchSpec, DatasetIndex};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::seq::SliceRandom;
use rand::SeedableRng;

const IDS: usize = 10_000_000;
const BATCH: usize = 64;
/// One epoch per measured iteration (10 000 000 is a multiple of 64), so every iteration pays
/// for one full shuffle of the 10 million positions.
const BATCHES: u64 = (IDS / BATCH) as u64;

/// The baseline: one epoch by hand. Ids and positions are copied out per batch, as
/// `gen_batch` does (a `BatchIndex` owns both).
fn by_hand(ids: &[usize], shuffle: bool) {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    if shuffle {
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(7));
    }
    for positions in order.chunks(BATCH) {
        let batch: Vec<usize> = positions.iter().map(|&p| ids[p]).collect();
        black_box((batch, positions.to_vec()));
    }
}

fn gen_batch(c: &mut Criterion) {
    let index = DatasetIndex::from_count(IDS);
    let ids = index.ids().to_vec();
    let mut group = c.benchmark_group("gen_batch_10M_ids_bs64");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCHES));
    for (name, shuffle) in [("ordered", false), ("shuffled", true)] {
        let mut spec = BatchSpec::new(BATCH).n_epochs(1);
        if shuffle {
            spec = spec.shuffle(7);
        }
        group.bench_function(format!("{name}/by_hand"), |b| {
            b.iter(|| by_hand(&ids, shuffle))
        });
        group.bench_function(format!("{name}/gen_batch"), |b| {
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

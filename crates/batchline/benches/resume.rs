//! Resuming a run: the time to the first batch after `resume`, next to the time to the first
//! batch of a fresh run, on a 1-million-item shuffled index, far into the run (epoch 4); and
//! the checkpoint's size (printed).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use batchline::IdsBatch;
use batchline::{Context, Dataset, DatasetIndex, RunSpec};
use criterion::{criterion_group, criterion_main, Criterion};

fn resume(c: &mut Criterion) {
    const ITEMS: usize = 1_000_000;
    const CUT: u64 = 120_000; // batch 120 000 of 32 items: in the 4th epoch
    let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(ITEMS), ());
    let p = ds
        .p()
        .init_state_variable("step", 0_u64)
        .apply("noop", |_: &mut IdsBatch, _: &mut Context| {});
    let spec = RunSpec::new(32).shuffle(42).n_epochs(10).prefetch(3);

    // A checkpoint far into the run (taken by skipping there with a resume from batch 0).
    let mut state = p.gen_batch(&spec).unwrap().checkpoint().unwrap();
    state.next_batch = CUT;
    let json = state.to_json().unwrap();
    let bytes = state.to_bytes().unwrap();
    eprintln!(
        "checkpoint at batch {CUT}: {} bytes as CBOR, {} bytes as JSON",
        bytes.len(),
        json.len()
    );

    let mut group = c.benchmark_group("time_to_first_batch_1M_items_shuffled");
    group.sample_size(20);
    group.bench_function("fresh_run", |b| {
        b.iter(|| {
            let mut iter = p.gen_batch(&spec).unwrap();
            black_box(iter.next().unwrap().unwrap())
        })
    });
    group.bench_function("resume_at_batch_120000", |b| {
        b.iter(|| {
            let state = batchline::Checkpoint::from_bytes(&bytes).unwrap();
            let mut iter = p.resume(&spec, &state).unwrap();
            black_box(iter.next().unwrap().unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, resume);
criterion_main!(benches);

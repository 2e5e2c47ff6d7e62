//! The epoch boundary (defect 2): on a shuffled index of 10 million ids, the time to draw the
//! first batch of epoch 2 against a batch in the middle of an epoch, with a consumer that
//! spends 100 µs on each of the epoch's 10 000 batches (1 s an epoch) — and, as the baseline,
//! what drawing that first batch cost when the permutation was computed inline when the epoch
//! started (one shuffle of 10 million positions, as before).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::time::{Duration, Instant};

use batchline::{BatchSpec, DatasetIndex};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use rand::seq::SliceRandom;
use rand::SeedableRng;

const IDS: usize = 10_000_000;
const BATCH: usize = 1_000;
const PER_EPOCH: usize = IDS / BATCH;
/// The consumer's time per batch.
const WORK: Duration = Duration::from_micros(100);

fn spec() -> BatchSpec {
    BatchSpec::new(BATCH).shuffle(7).n_epochs(3)
}

/// Keeps the thread busy for `d` (a consumer that works, rather than one that sleeps).
fn work(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn boundary(c: &mut Criterion) {
    let index = DatasetIndex::from_count(IDS);
    let mut g = c.benchmark_group("epoch boundary, 10M shuffled ids, batches of 1000");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    g.bench_function("mid-epoch batch", |b| {
        b.iter_custom(|iters| {
            let mut batches = index.gen_batch(&spec()).unwrap();
            let mut spent = Duration::ZERO;
            for i in 0..iters {
                // Stay inside epoch 1, away from its first and last batches.
                if (i as usize).is_multiple_of(PER_EPOCH - 2) {
                    batches = index.gen_batch(&spec()).unwrap();
                    black_box(batches.next());
                }
                work(WORK);
                let t = Instant::now();
                black_box(batches.next());
                spent += t.elapsed();
            }
            spent
        })
    });
    g.bench_function("first batch of epoch 2", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let mut batches = index.gen_batch(&spec()).unwrap();
                for _ in 0..PER_EPOCH {
                    black_box(batches.next());
                    work(WORK);
                }
                let t = Instant::now();
                black_box(batches.next());
                spent += t.elapsed();
            }
            spent
        })
    });
    g.bench_function("baseline: the inline shuffle of before", |b| {
        b.iter(|| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            rng.set_stream(1);
            let mut order: Vec<usize> = (0..IDS).collect();
            order.shuffle(&mut rng);
            black_box(order[..BATCH].to_vec())
        })
    });
    g.finish();
}

criterion_group!(benches, boundary);
criterion_main!(benches);

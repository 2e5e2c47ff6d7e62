//! The executor's figures, each next to its baseline in the same group:
//! overhead per batch, latency hiding, CPU-bound speed-up, early drop.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::BatchSpec;
use batchline::IdsBatch;
use batchline::{Batch, Context, Dataset, DatasetIndex, Event, EventKind, Pipeline, RunSpec};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pariter::IteratorExt;

fn noop(_: &mut IdsBatch, _: &mut Context) {}

fn pipeline(items: usize, f: fn(&mut IdsBatch, &mut Context)) -> Pipeline<IdsBatch> {
    Dataset::<IdsBatch>::new(DatasetIndex::from_count(items), ())
        .p()
        .apply("a1", f)
        .apply("a2", f)
        .apply("a3", f)
}

/// 10 000 batches of 10 ids through 3 no-op actions.
fn overhead(c: &mut Criterion) {
    const BATCHES: usize = 10_000;
    const BS: usize = 10;
    let p = pipeline(BATCHES * BS, noop);
    let index = DatasetIndex::from_count(BATCHES * BS);
    let mut group = c.benchmark_group("overhead_3_noop_actions");
    group.throughput(Throughput::Elements(BATCHES as u64));
    group.sample_size(20);
    group.bench_function("hand_loop", |b| {
        b.iter(|| {
            for i in 0..BATCHES {
                let ids: Vec<usize> = (i * BS..(i + 1) * BS).collect();
                let mut batch = black_box(ids);
                for _ in 0..3 {
                    black_box(&mut batch);
                }
                black_box(batch);
            }
        })
    });
    for k in [0usize, 1, 3, 7] {
        group.bench_function(format!("batchline_k{k}"), |b| {
            b.iter(|| {
                for batch in p.gen_batch(&RunSpec::new(BS).prefetch(k)).unwrap() {
                    black_box(batch.unwrap());
                }
            })
        });
    }
    for k in [1usize, 3, 7] {
        group.bench_function(format!("pariter_k{k}"), |b| {
            b.iter(|| {
                let spec = BatchSpec::new(BS);
                let out = index.gen_batch(&spec).unwrap().parallel_map_custom(
                    // A buffer of k: k batches sent and not returned, beside the one the consumer
                    // holds, is batchline's k + 1 bound (a buffer of k + 1 would allow k + 2).
                    |o| o.threads(k + 1).buffer_size(k),
                    |mut batch| {
                        for _ in 0..3 {
                            black_box(&mut batch);
                        }
                        batch
                    },
                );
                for batch in out {
                    black_box(batch);
                }
            })
        });
    }
    group.finish();
}

fn sleep_10ms(_: &mut IdsBatch, _: &mut Context) {
    sleep(Duration::from_millis(10));
}

/// 64 batches, 3 actions of 10 ms sleep: k = 0 is the baseline.
fn latency_hiding(c: &mut Criterion) {
    let p = pipeline(64, sleep_10ms);
    let mut group = c.benchmark_group("latency_64_batches_3x10ms");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(5));
    for k in [0usize, 1, 3, 7, 15] {
        group.bench_function(format!("k{k}"), |b| {
            b.iter(|| p.run(&RunSpec::new(1).prefetch(k)).unwrap())
        });
    }
    group.finish();
}

/// About 5 ms of arithmetic.
fn compute(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..4_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

fn cpu_action(b: &mut IdsBatch, _: &mut Context) {
    black_box(compute(b.index().ids()[0] as u64));
}

/// One ~5 ms computation per batch, 64 batches; the machine's own 2-thread capacity alongside.
fn cpu_bound(c: &mut Criterion) {
    let p = Dataset::<IdsBatch>::new(DatasetIndex::from_count(64), ())
        .p()
        .apply("compute", cpu_action);
    let mut group = c.benchmark_group("cpu_64_batches_5ms");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(200));
    group.bench_function("sequential_loop", |b| {
        b.iter(|| (0..64u64).map(compute).fold(0, |a, x| a ^ x))
    });
    group.bench_function("two_threads_capacity", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                let h = s.spawn(|| (0..32u64).map(compute).fold(0, |a, x| a ^ x));
                let mine = (32..64u64).map(compute).fold(0, |a, x| a ^ x);
                mine ^ h.join().unwrap()
            })
        })
    });
    for k in [0usize, 1, 3] {
        group.bench_function(format!("batchline_k{k}"), |b| {
            b.iter(|| p.run(&RunSpec::new(1).prefetch(k)).unwrap())
        });
    }
    group.finish();
}

/// k = 3, 20 ms actions, drop after 2 batches: time spent in drop; actions started after drop.
fn early_drop(c: &mut Criterion) {
    fn sleep_20ms(_: &mut IdsBatch, _: &mut Context) {
        sleep(Duration::from_millis(20));
    }
    let p = pipeline(1000, sleep_20ms);
    let late_starts = Arc::new(AtomicUsize::new(0));
    let mut group = c.benchmark_group("early_drop_k3_20ms");
    group.sample_size(10);
    group.bench_function("drop_after_2", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dropped = Arc::new(AtomicBool::new(false));
                let (d, late) = (Arc::clone(&dropped), Arc::clone(&late_starts));
                let observer = move |e: &Event| {
                    if matches!(e.kind, EventKind::ActionStarted { .. }) && d.load(Ordering::SeqCst)
                    {
                        late.fetch_add(1, Ordering::SeqCst);
                    }
                };
                let mut iter = p
                    .gen_batch(&RunSpec::new(1).prefetch(3).observer(observer))
                    .unwrap();
                iter.next();
                iter.next();
                let t = Instant::now();
                drop(iter);
                total += t.elapsed();
                dropped.store(true, Ordering::SeqCst);
            }
            total
        })
    });
    group.finish();
    eprintln!(
        "early_drop: actions started after drop returned: {}",
        late_starts.load(Ordering::SeqCst)
    );
}

/// The cost of `profile(true)`: the overhead pipeline (10 000 batches, 3 no-op actions), with
/// and without the profile, side by side — the worst case, where nothing else takes time.
/// Also a pipeline whose actions take 100 µs, closer to real work.
fn profile_overhead(c: &mut Criterion) {
    const BATCHES: usize = 10_000;
    const BS: usize = 10;
    let p = pipeline(BATCHES * BS, noop);
    let mut group = c.benchmark_group("profile_overhead_3_noop_actions");
    group.throughput(Throughput::Elements(BATCHES as u64));
    group.sample_size(20);
    for k in [0usize, 3] {
        for on in [false, true] {
            let name = format!("k{k}_profile_{}", if on { "on" } else { "off" });
            group.bench_function(name, |b| {
                b.iter(|| {
                    let spec = RunSpec::new(BS).prefetch(k).profile(on);
                    let mut iter = p.gen_batch(&spec).unwrap();
                    for batch in iter.by_ref() {
                        black_box(batch.unwrap());
                    }
                    black_box(iter.report())
                })
            });
        }
    }
    group.finish();

    fn spin_100us(_: &mut IdsBatch, _: &mut Context) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_micros(100) {
            std::hint::spin_loop();
        }
    }
    const SLOW_BATCHES: usize = 500;
    let p = pipeline(SLOW_BATCHES * BS, spin_100us);
    let mut group = c.benchmark_group("profile_overhead_3x100us_actions");
    group.throughput(Throughput::Elements(SLOW_BATCHES as u64));
    group.sample_size(10);
    for on in [false, true] {
        let name = format!("k0_profile_{}", if on { "on" } else { "off" });
        group.bench_function(name, |b| {
            b.iter(|| {
                let spec = RunSpec::new(BS).profile(on);
                black_box(p.run(&spec).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    overhead,
    latency_hiding,
    cpu_bound,
    early_drop,
    profile_overhead
);
criterion_main!(benches);

//! The executor's suites: overhead, latency hiding, CPU-bound.

use std::hint::black_box;
use std::thread::sleep;
use std::time::Duration;

use batchline::BatchSpec;
use batchline::IdsBatch;
use batchline::{BatchIndex, Context, Dataset, DatasetIndex, RunSpec};

use super::args::Settings;
use super::harness::Row;
use super::harness::{
    ids_pipeline, measure, pariter_in_flight, pipeline_and_pariter, IdsAction, InFlight, Kind,
    Variant,
};
use super::suite::Suite;

/// 10 000 batches of 10 ids (1 000 with `--quick`) through 3 no-op actions.
pub(crate) fn overhead(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    const BATCH_SIZE: usize = 10;
    let batches = if settings.quick { 1_000 } else { 10_000 };
    let items = batches * BATCH_SIZE;
    let pipeline = Dataset::<IdsBatch>::new(DatasetIndex::from_count(items), ())
        .p()
        .apply("a1", |_: &mut IdsBatch, _: &mut Context| {})
        .apply("a2", |_: &mut IdsBatch, _: &mut Context| {})
        .apply("a3", |_: &mut IdsBatch, _: &mut Context| {});
    let index = DatasetIndex::from_count(items);
    let a1 = |b: &mut BatchIndex| {
        black_box(b);
    };
    let (a2, a3) = (a1, a1);
    let mut variants = vec![Variant::new(Kind::Baseline, "plain loop", None, || {
        for batch in index.gen_batch(&BatchSpec::new(BATCH_SIZE))? {
            let mut batch = black_box(batch);
            a1(&mut batch);
            a2(&mut batch);
            a3(&mut batch);
            black_box(batch);
        }
        Ok(())
    })];
    variants.extend(pipeline_and_pariter(
        settings,
        &pipeline,
        &index,
        BATCH_SIZE,
        move |mut batch| {
            a1(&mut batch);
            a2(&mut batch);
            a3(&mut batch);
            batch
        },
    ));
    let mut rows = measure(
        Suite::Overhead,
        "batches",
        batches,
        settings.rounds,
        variants,
    )?;
    // The exact k+1 bound, checked on a run of the same pipeline with an observer (outside
    // the timed rounds: the observer costs more than a no-op action).
    for row in rows.iter_mut().filter(|r| r.kind == Kind::Batchline) {
        let Some(k) = row.k else { continue };
        let count = InFlight::default();
        let spec = RunSpec::new(BATCH_SIZE)
            .prefetch(k)
            .observer(count.observer());
        let mut delivered = 0;
        for batch in pipeline.gen_batch(&spec)? {
            black_box(batch?);
            delivered += 1;
        }
        anyhow::ensure!(
            delivered == batches,
            "k = {k}: {delivered} of {batches} batches"
        );
        let most = count.most();
        anyhow::ensure!(
            most <= k as i64 + 1,
            "k = {k}: {most} batches were created and not released at once, more than k + 1"
        );
        row.notes.push(format!(
            "k+1 bound checked: at most {} in flight, {most} reached",
            k + 1
        ));
    }
    // pariter's bound, counted the same way: the comparison is at equal memory.
    for row in rows
        .iter_mut()
        .filter(|r| matches!(r.kind, Kind::Pariter | Kind::PariterBound))
    {
        let Some(k) = row.k else { continue };
        let buffer = if row.kind == Kind::Pariter { k + 1 } else { k };
        let most = pariter_in_flight(&index, BATCH_SIZE, k, buffer, move |mut batch| {
            a1(&mut batch);
            a2(&mut batch);
            a3(&mut batch);
            batch
        })?;
        row.notes.push(format!(
            "created and not released at once: {most} (batchline's bound: {})",
            k + 1
        ));
    }
    Ok(rows)
}

/// 64 batches through 3 actions of a 10 ms sleep (16 batches and 5 ms with `--quick`).
pub(crate) fn latency(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    fn sleep_10ms(_: &mut IdsBatch, _: &mut Context) {
        sleep(Duration::from_millis(10));
    }
    fn sleep_5ms(_: &mut IdsBatch, _: &mut Context) {
        sleep(Duration::from_millis(5));
    }
    let (batches, ms, action): (usize, u64, IdsAction) = if settings.quick {
        (16, 5, sleep_5ms)
    } else {
        (64, 10, sleep_10ms)
    };
    let pipeline = ids_pipeline(batches, &[("a1", action), ("a2", action), ("a3", action)]);
    let index = DatasetIndex::from_count(batches);
    let three_sleeps = move |batch: BatchIndex| {
        for _ in 0..3 {
            sleep(Duration::from_millis(ms));
        }
        batch
    };
    let mut variants = vec![Variant::new(Kind::Baseline, "plain loop", None, || {
        for batch in index.gen_batch(&BatchSpec::new(1))? {
            black_box(three_sleeps(batch));
        }
        Ok(())
    })];
    variants.extend(pipeline_and_pariter(
        settings,
        &pipeline,
        &index,
        1,
        three_sleeps,
    ));
    measure(
        Suite::Latency,
        "batches",
        batches,
        settings.rounds,
        variants,
    )
}

/// Steps of [`burn`]: about 5 ms in a release build (a step is a dependent multiply, add, shift
/// and xor: about 2.5 ns on the 2-thread Xeon of BENCHMARKS.md).
const BURN_STEPS: u64 = 2_000_000;

/// About 5 ms of serial arithmetic (a release build), the same result for the same seed: a
/// chain of multiply-xorshift steps the compiler cannot shorten.
pub(crate) fn burn(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..BURN_STEPS {
        x = x.wrapping_mul(0xD129_0B2C_7A4F_3E65).wrapping_add(i);
        x ^= x >> 31;
    }
    x
}

/// The CPU-bound action: [`burn`] seeded by the batch's first id.
fn burn_action(batch: &mut IdsBatch, _: &mut Context) {
    use batchline::Batch;
    black_box(burn(batch.index().ids()[0] as u64));
}

/// 64 batches (16 with `--quick`) through one action of about 5 ms of arithmetic.
pub(crate) fn cpu(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let batches = if settings.quick { 16 } else { 64 };
    let pipeline = ids_pipeline(batches, &[("burn", burn_action)]);
    let index = DatasetIndex::from_count(batches);
    let burn_batch = |batch: BatchIndex| {
        black_box(burn(batch.ids()[0] as u64));
        batch
    };
    let mut variants = vec![Variant::new(Kind::Baseline, "plain loop", None, || {
        for batch in index.gen_batch(&BatchSpec::new(1))? {
            black_box(burn_batch(batch));
        }
        Ok(())
    })];
    variants.extend(pipeline_and_pariter(
        settings, &pipeline, &index, 1, burn_batch,
    ));
    measure(Suite::Cpu, "batches", batches, settings.rounds, variants)
}

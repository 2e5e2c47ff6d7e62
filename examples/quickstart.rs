//! Quickstart: make a small dataset, batch it with shuffle over 2 epochs through a lazy pipeline,
//! then replay the documentation's example with prefetch 0 and 1 and measure the speed-up.
//!
//! Run with `cargo run --release --example quickstart`.

use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::IdsBatch;
use batchline::{
    ActionError, ActionResult, Arg, Batch, BatchIndex, Context, Dataset, DatasetIndex,
    EventRecorder, RunSpec,
};
use rand::Rng;

/// A batch of sensor readings: the batch's ids, the shared source, and the loaded values.
struct Readings {
    index: BatchIndex,
    source: Arc<Vec<f64>>,
    values: Vec<f64>,
    mean: f64,
}

impl Batch for Readings {
    type Id = usize;
    type Source = Vec<f64>;

    fn create(index: BatchIndex, source: &Arc<Vec<f64>>) -> Self {
        Readings {
            index,
            source: Arc::clone(source),
            values: Vec::new(),
            mean: 0.0,
        }
    }

    fn index(&self) -> &BatchIndex {
        &self.index
    }
}

#[batchline::actions]
impl Readings {
    /// Copies the batch's readings out of the shared source.
    #[action]
    fn load(&mut self) {
        self.values = self.index.ids().iter().map(|&i| self.source[i]).collect();
    }

    /// Multiplies every reading by `factor`.
    #[action]
    fn scale(&mut self, factor: f64) {
        self.values.iter_mut().for_each(|v| *v *= factor);
    }

    /// Computes the batch mean; an empty batch is an error.
    #[action]
    fn summarize(&mut self) -> ActionResult {
        if self.values.is_empty() {
            return Err(ActionError::msg("no values"));
        }
        self.mean = self.values.iter().sum::<f64>() / self.values.len() as f64;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Data made here: 1 000 readings of a noisy sine wave.
    let mut rng = rand::rng();
    let readings: Vec<f64> = (0..1000)
        .map(|i| (i as f64 / 50.0).sin() + rng.random_range(-0.1..0.1))
        .collect();
    let dataset: Dataset<Readings> = Dataset::new(DatasetIndex::from_count(1000), readings);
    let split = dataset.split(&[0.8], 42)?;
    println!(
        "dataset: {} items, split into train {} / test {}",
        dataset.len(),
        split.train.len(),
        split.test.len()
    );

    // 2. A lazy pipeline: nothing runs until gen_batch. The scale factor is drawn per batch from
    //    the batch's own RNG, so the run is reproducible whatever the prefetch.
    let pipeline = split
        .train
        .p()
        .load()
        .scale(Arg::from_fn(|ctx: &mut Context| {
            ctx.rng().random_range(0.5..2.0)
        }))
        .summarize();
    let spec = RunSpec::new(160).shuffle(7).n_epochs(2).prefetch(2);
    println!("\nbatches of 160, shuffled (seed 7), 2 epochs, prefetch 2:");
    let mut iter = pipeline.gen_batch(&spec)?;
    for batch in iter.by_ref() {
        let batch = batch?;
        println!(
            "  batch of {:3} items, first ids {:?}, mean {:+.4}",
            batch.len(),
            &batch.ids()[..4],
            batch.mean
        );
    }
    let report = iter.report();
    println!(
        "  -> {} batches, {} items (each item once per epoch), {:?}",
        report.batches, report.items, report.elapsed
    );

    // 3. The documentation's example: three actions, with prefetch 0 and then 1.
    let seed_pipeline = Dataset::<IdsBatch>::new(DatasetIndex::from_count(12), ())
        .p()
        .apply("action 1", |_: &mut IdsBatch, _: &mut Context| {
            sleep(Duration::from_millis(20))
        })
        .apply("action 2", |_: &mut IdsBatch, _: &mut Context| {
            sleep(Duration::from_millis(20))
        })
        .apply("action 3", |_: &mut IdsBatch, _: &mut Context| {
            sleep(Duration::from_millis(20))
        });
    let mut times = Vec::new();
    for k in [0, 1] {
        let recorder = EventRecorder::new();
        let start = Instant::now();
        seed_pipeline.run(&RunSpec::new(4).prefetch(k).observer(recorder.clone()))?;
        times.push(start.elapsed());
        println!(
            "\nprefetch = {k} ({:?}):\n{}",
            start.elapsed(),
            recorder.listing()
        );
    }
    println!(
        "speed-up of prefetch 1 over prefetch 0: {:.2}x",
        times[0].as_secs_f64() / times[1].as_secs_f64()
    );
    Ok(())
}

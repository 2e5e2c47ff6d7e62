//! The per-batch context handed to actions.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Config, Variables};
use crate::outcome::{ItemFailure, RunEnd, RunReport};

/// What an action knows about the run besides its batch: the batch's number, its own random
/// generator, the pipeline's variables and its config.
///
/// # Examples
///
/// ```
/// use batchline::{Action, Context};
/// use batchline::ArrayBatch;
/// use rand::Rng;
///
/// let noisy = Action::new("noise", |b: &mut ArrayBatch, ctx: &mut Context| {
///     let scale: f32 = ctx.rng().random_range(0.5..2.0); // same value for any prefetch
///     if let Ok(x) = b.get_mut("x") {
///         x.mapv_inplace(|v| v * scale);
///     }
/// });
/// # let _ = noisy;
/// ```
pub struct Context<'r> {
    batch: u64,
    epoch: u64,
    rng: Option<BatchRng>,
    run: &'r RunContext,
}

type Local = Arc<dyn Any + Send + Sync>;

/// The part of a run that every batch's context shares.
pub(crate) struct RunContext {
    pub(crate) seed: u64,
    pub(crate) variables: Arc<Variables>,
    pub(crate) config: Arc<Config>,
    /// The number of the run's first batch (not 0 for a resumed run).
    pub(crate) first_batch: u64,
    /// The pool of per-item work, when the spec asks for one of its own.
    pub(crate) pool: Option<Arc<rayon::ThreadPool>>,
    /// State that lives as long as the run, keyed by the step that made it (a merge's run of
    /// the other pipeline, say).
    locals: Mutex<HashMap<u64, Local>>,
    /// The items actions dropped ([`Context::drop_item`]), by batch number, until the
    /// consumer takes them with the batch.
    item_failures: Mutex<HashMap<u64, Vec<ItemFailure>>>,
    /// Whether `item_failures` ever got an entry: the consumer looks at the map (a lock) only
    /// then, not for every batch.
    any_item_failure: AtomicBool,
}

impl RunContext {
    pub(crate) fn new(seed: u64, variables: Arc<Variables>, config: Arc<Config>) -> Self {
        Self {
            seed,
            variables,
            config,
            first_batch: 0,
            pool: None,
            locals: Mutex::default(),
            item_failures: Mutex::default(),
            any_item_failure: AtomicBool::new(false),
        }
    }

    /// The items dropped from batch `batch` (taken: a second call gives none).
    pub(crate) fn take_item_failures(&self, batch: u64) -> Vec<ItemFailure> {
        if !self.any_item_failure.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut map = self.item_failures.lock();
        if map.is_empty() {
            return Vec::new();
        }
        map.remove(&batch).unwrap_or_default()
    }

    /// The run-local value of step `key`, made by `init` the first time it is asked for.
    pub(crate) fn local<T: Send + Sync + 'static, E>(
        &self,
        key: u64,
        init: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let mut locals = self.locals.lock();
        if let Some(v) = locals.get(&key) {
            if let Ok(v) = Arc::clone(v).downcast::<T>() {
                return Ok(v);
            }
        }
        let v = Arc::new(init()?);
        locals.insert(key, Arc::clone(&v) as Local);
        Ok(v)
    }

    /// Drops the run-local state (the other runs of merge steps end here).
    pub(crate) fn clear_locals(&self) {
        let locals = std::mem::take(&mut *self.locals.lock());
        drop(locals);
    }
}

impl<'r> Context<'r> {
    pub(crate) fn new(batch: u64, epoch: u64, run: &'r RunContext) -> Self {
        Self {
            batch,
            epoch,
            rng: None,
            run,
        }
    }

    /// The batch's number in the run: 0 for the first batch created, then 1, 2, …
    ///
    /// It equals BatchFlow's iteration counter and does not depend on prefetch or timing.
    pub fn batch(&self) -> u64 {
        self.batch
    }

    /// The epoch the batch belongs to, from 0 (or from the spec's `start_epoch`): the epoch of
    /// its first item. Under BatchFlow's rule a batch may straddle two epochs, and it then
    /// belongs to the first; under PyTorch's rule (`within_epochs`) it never straddles.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Batch, Context, Dataset, DatasetIndex, IdsBatch, RunSpec};
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
    /// let p = ds.p().init_variable("epochs", Vec::<u64>::new()).apply(
    ///     "note",
    ///     |_: &mut IdsBatch, ctx: &mut Context| {
    ///         let epoch = ctx.epoch();
    ///         ctx.variables().update("epochs", |e: &mut Vec<u64>| e.push(epoch))
    ///     },
    /// );
    /// // 3 batches an epoch under PyTorch's rule (of 4, 4 and 2 items), 2 epochs.
    /// p.run(&RunSpec::new(4).n_epochs(2).within_epochs(true).prefetch(2))?;
    /// let mut epochs = p.variables().get::<Vec<u64>>("epochs")?;
    /// epochs.sort();
    /// assert_eq!(epochs, [0, 0, 0, 1, 1, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The run's seed (given in the spec, or drawn once at the start of the run).
    pub fn seed(&self) -> u64 {
        self.run.seed
    }

    /// The batch's own random generator, seeded from the run's seed and the batch's number.
    ///
    /// Its stream is the same for any prefetch and any timing, so a seeded run is reproducible
    /// to the bit. Draws made by successive actions of one batch continue the same stream.
    pub fn rng(&mut self) -> &mut BatchRng {
        let (seed, batch) = (self.run.seed, self.batch);
        self.rng.get_or_insert_with(|| BatchRng::new(seed, batch))
    }

    /// The pipeline's variables (see [`Pipeline::init_variable`](crate::Pipeline::init_variable)).
    pub fn variables(&self) -> &Variables {
        &self.run.variables
    }

    /// The pipeline's config (see [`Pipeline::with_config`](crate::Pipeline::with_config)).
    pub fn config(&self) -> &Config {
        &self.run.config
    }

    /// Records that an action dropped an item from this batch (a file that would not load,
    /// say): the run's report lists it in
    /// [`RunReport::item_failures`](crate::RunReport::item_failures), and it counts against
    /// [`RunSpec::max_failures`](crate::RunSpec::max_failures) (a run without that budget
    /// drops any number of items). The action itself removes the item from its batch.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Context, Dataset, DatasetIndex, RunSpec};
    /// use batchline::IdsBatch;
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(6), ());
    /// let p = ds.p().apply("drop odd", |b: &mut IdsBatch, ctx: &mut Context| {
    ///     for id in b.index().ids().iter().filter(|&&i| i % 2 == 1) {
    ///         ctx.drop_item(id, None, "odd");
    ///     }
    /// });
    /// # use batchline::Batch;
    /// assert_eq!(p.run(&RunSpec::new(3))?.item_failures.len(), 3);
    /// assert!(p.run(&RunSpec::new(3).max_failures(2)).is_err());
    /// # Ok::<(), batchline::PipelineError>(())
    /// ```
    pub fn drop_item(
        &mut self,
        id: impl std::fmt::Display,
        path: Option<&std::path::Path>,
        error: impl std::fmt::Display,
    ) {
        let failure = ItemFailure::new(
            self.batch,
            id.to_string(),
            path.map(std::path::Path::to_path_buf),
            error.to_string(),
        );
        self.run
            .item_failures
            .lock()
            .entry(self.batch)
            .or_default()
            .push(failure);
        // Set after the entry is in the map (and the batch is delivered only after its worker
        // is done), so the consumer that sees no flag has no entry to miss.
        self.run.any_item_failure.store(true, Ordering::Release);
    }

    pub(crate) fn run(&self) -> &'r RunContext {
        self.run
    }
}

/// What a [`before`](crate::Pipeline::before) or [`after`](crate::Pipeline::after) step of a
/// pipeline sees: the run's seed, the variables, the config, and (after the run) its report.
pub struct RunState<'a> {
    pub(crate) run: &'a RunContext,
    pub(crate) report: Option<&'a RunReport>,
}

impl std::fmt::Debug for RunState<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunState")
            .field("seed", &self.run.seed)
            .field("variables", &self.run.variables)
            .field("config", &self.run.config)
            .field("report", &self.report)
            .finish()
    }
}

impl RunState<'_> {
    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.run.seed
    }

    /// The pipeline's variables.
    pub fn variables(&self) -> &Variables {
        &self.run.variables
    }

    /// The pipeline's config.
    pub fn config(&self) -> &Config {
        &self.run.config
    }

    /// What the run did: `None` before the first batch, the final report after the last.
    pub fn report(&self) -> Option<&RunReport> {
        self.report
    }

    /// How the run ended ([`RunEnd::Running`] before the first batch).
    pub fn end(&self) -> RunEnd {
        self.report.map_or(RunEnd::Running, |r| r.end)
    }
}

/// The random generator of one batch (ChaCha8, keyed by the run seed, stream = batch number).
///
/// It implements [`rand::RngCore`], so every method of [`rand::Rng`] works on it.
#[derive(Debug, Clone)]
pub struct BatchRng(ChaCha8Rng);

impl BatchRng {
    /// The generator of batch `batch` in a run seeded with `seed`.
    pub fn new(seed: u64, batch: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(batch);
        Self(rng)
    }
}

/// The random generator of one item in per-item work (ChaCha8 keyed by a draw of the batch's
/// generator, stream = the item's position): see [`Context::items`].
pub type ItemRng = BatchRng;

impl RngCore for BatchRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_depend_on_seed_and_batch_only() {
        let run = RunContext::new(9, Arc::new(Variables::from_decls(vec![])), Arc::default());
        let a: u64 = Context::new(3, 0, &run).rng().random();
        let b: u64 = Context::new(3, 0, &run).rng().random();
        let c: u64 = Context::new(4, 0, &run).rng().random();
        let other = RunContext::new(10, Arc::new(Variables::from_decls(vec![])), Arc::default());
        let d: u64 = Context::new(3, 0, &other).rng().random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}

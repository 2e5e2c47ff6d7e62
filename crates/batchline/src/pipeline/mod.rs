//! Pipelines: lazy lists of actions over a dataset's batches.

mod action;
mod arg;
mod context;

pub use action::{Action, ActionError, ActionResult, IntoActionResult};
pub use arg::Arg;
pub use context::{BatchRng, Context};

pub(crate) use action::ActionOutcome;
pub(crate) use context::RunContext;

use std::fmt;
use std::sync::Arc;

use crate::batch::Batch;
use crate::dataset::Dataset;
use crate::exec::{BatchIter, LockRegistry, PipelineError, Run, RunReport, RunSpec};

/// One recorded step of a pipeline.
pub(crate) enum Step<B> {
    Action(Action<B>),
    AcquireLock(Arc<str>),
    ReleaseLock(Arc<str>),
}

impl<B> Clone for Step<B> {
    fn clone(&self) -> Self {
        match self {
            Step::Action(a) => Step::Action(a.clone()),
            Step::AcquireLock(n) => Step::AcquireLock(Arc::clone(n)),
            Step::ReleaseLock(n) => Step::ReleaseLock(Arc::clone(n)),
        }
    }
}

/// A dataset plus a lazy list of actions; nothing runs until [`gen_batch`](Self::gen_batch),
/// [`next_batch`](Self::next_batch) or [`run`](Self::run).
///
/// Building is by value: each step returns the extended pipeline. Cloning is cheap and gives
/// an independent pipeline (without the position of `next_batch`) that shares the named locks.
///
/// # Examples
///
/// ```
/// use batchline::{Context, Dataset, DatasetIndex, RunSpec};
/// use batchline::batch::{ArrayBatch, ArraySource};
/// use ndarray::Array2;
///
/// let source = ArraySource::new().with("x", Array2::<f32>::ones((10, 2)))?;
/// let ds: Dataset<ArrayBatch> = Dataset::new(DatasetIndex::from_count(10), source);
/// let p = ds
///     .p()
///     .apply("load", |b: &mut ArrayBatch, _: &mut Context| b.load_rows())
///     .apply("double", |b: &mut ArrayBatch, _: &mut Context| {
///         b.get_mut("x")?.mapv_inplace(|v| v * 2.0);
///         Ok::<_, batchline::ActionError>(())
///     });
/// let mut total = 0.0;
/// for batch in p.gen_batch(&RunSpec::new(4).prefetch(2))? {
///     total += batch?.get("x")?.sum();
/// }
/// assert_eq!(total, 40.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a pipeline is lazy: it does nothing until gen_batch, next_batch or run"]
pub struct Pipeline<B: Batch> {
    dataset: Dataset<B>,
    steps: Vec<Step<B>>,
    locks: Arc<LockRegistry>,
    iter: Option<BatchIter<B>>,
}

impl<B: Batch> Clone for Pipeline<B> {
    fn clone(&self) -> Self {
        Self {
            dataset: self.dataset.clone(),
            steps: self.steps.clone(),
            locks: Arc::clone(&self.locks),
            iter: None,
        }
    }
}

impl<B: Batch> fmt::Debug for Pipeline<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("dataset", &self.dataset)
            .field("steps", &self.step_names())
            .finish()
    }
}

impl<B: Batch> Pipeline<B> {
    /// An empty pipeline over `dataset` (the same as [`Dataset::p`]).
    pub fn new(dataset: Dataset<B>) -> Self {
        Self {
            dataset,
            steps: Vec::new(),
            locks: Arc::default(),
            iter: None,
        }
    }

    /// The dataset the pipeline draws batches from.
    pub fn dataset(&self) -> &Dataset<B> {
        &self.dataset
    }

    /// The names of the steps, in order (`acquire_lock(name)` / `release_lock(name)` for lock
    /// steps).
    pub fn step_names(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Action(a) => a.name.to_string(),
                Step::AcquireLock(n) => format!("acquire_lock({n})"),
                Step::ReleaseLock(n) => format!("release_lock({n})"),
            })
            .collect()
    }

    /// Appends an action.
    pub fn push(mut self, action: Action<B>) -> Self {
        self.steps.push(Step::Action(action));
        self
    }

    /// Appends a closure as an action named `name`.
    ///
    /// The closure gets the batch and its [`Context`] and returns `()` or a `Result`.
    pub fn apply<F, R>(self, name: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn(&mut B, &mut Context<'_>) -> R + Send + Sync + 'static,
        R: IntoActionResult,
    {
        self.push(Action::new(name, f))
    }

    /// Takes the named lock (the one `#[action(lock = "name")]` uses): the steps up to the
    /// matching [`release_lock`](Self::release_lock) run for one batch at a time.
    ///
    /// The lock is released by `release_lock`, or when the batch ends in any way (error,
    /// panic, skip, cancellation). Taking a lock the batch already holds is an error.
    pub fn acquire_lock(mut self, name: impl Into<Arc<str>>) -> Self {
        self.steps.push(Step::AcquireLock(name.into()));
        self
    }

    /// Releases a lock taken by [`acquire_lock`](Self::acquire_lock); releasing a lock the
    /// batch does not hold is an error.
    pub fn release_lock(mut self, name: impl Into<Arc<str>>) -> Self {
        self.steps.push(Step::ReleaseLock(name.into()));
        self
    }

    /// Runs the pipeline over the batches `spec` draws from the dataset, yielding them in order.
    ///
    /// When neither `n_epochs` nor `n_iters` is set, the run covers one epoch. With
    /// `prefetch(k)`, `k` batches are processed in the background: see the
    /// [contract](crate::exec).
    ///
    /// # Errors
    ///
    /// [`PipelineError::Spec`] when the spec does not fit the dataset,
    /// [`PipelineError::Spawn`] when a worker thread cannot be started.
    pub fn gen_batch(&self, spec: &RunSpec) -> Result<BatchIter<B>, PipelineError> {
        self.start(spec, false)
    }

    fn start(&self, spec: &RunSpec, endless_default: bool) -> Result<BatchIter<B>, PipelineError> {
        let len = self.dataset.len();
        let (seed, shuffle_seed) = spec.seeds();
        let sampler = spec
            .batches
            .sampler_with_seed(len, endless_default, shuffle_seed)?;
        let total = spec.batches.total_batches(len, endless_default);
        let run = Run::new(
            self.dataset.clone(),
            &self.steps,
            &self.locks,
            seed,
            spec.observer.clone(),
            spec.ignore_errors,
            0,
        );
        BatchIter::start(run, sampler, spec.prefetch, total)
    }

    /// The next processed batch of a run that continues where the previous call stopped.
    ///
    /// The first call (or the first after [`reset_iter`](Self::reset_iter)) starts a run with
    /// `spec`, which is endless when neither `n_epochs` nor `n_iters` is set; later calls
    /// ignore `spec`. Returns `Ok(None)` once the run is over. With prefetch, the next batches
    /// are processed in the background between calls.
    ///
    /// # Errors
    ///
    /// As [`gen_batch`](Self::gen_batch), and the error of a failed batch.
    pub fn next_batch(&mut self, spec: &RunSpec) -> Result<Option<B>, PipelineError> {
        if self.iter.is_none() {
            self.iter = Some(self.start(spec, true)?);
        }
        self.iter
            .as_mut()
            .expect("the iterator was just started")
            .next()
            .transpose()
    }

    /// Ends the run of [`next_batch`](Self::next_batch) (joining its workers): the next call
    /// starts anew.
    pub fn reset_iter(&mut self) {
        self.iter = None;
    }

    /// Runs the pipeline to the end, dropping every batch, and reports what it did.
    ///
    /// # Errors
    ///
    /// As [`gen_batch`](Self::gen_batch), and the first failed batch's error unless
    /// `ignore_errors` is set.
    pub fn run(&self, spec: &RunSpec) -> Result<RunReport, PipelineError> {
        let mut iter = self.gen_batch(spec)?;
        for batch in iter.by_ref() {
            batch?;
        }
        Ok(iter.report())
    }
}

//! The pipeline builder: a dataset plus a lazy list of steps, composed by value, and the
//! entry points of a run (`gen_batch`, `next_batch`, `run`, `resume`).

mod compose;
mod parallel;

pub use compose::{Joined, Reset};

use std::fmt;
use std::sync::Arc;

use crate::action_error::{ActionError, IntoActionResult};
use crate::batch::Batch;
use crate::dataset::Dataset;
use crate::exec::{self, BatchIter, Checkpoint, RunSpec};
use crate::outcome::{PipelineError, RunError, RunReport};
use crate::plan::{
    Action, Config, ConfigError, Context, Hook, Plan, RunState, Step, Update, VarDecl, Variables,
};

impl<B: Batch> Dataset<B> {
    /// An empty pipeline over this dataset: add actions, then run it.
    ///
    /// The name follows BatchFlow's `dataset.p`.
    pub fn p(&self) -> Pipeline<B> {
        Pipeline::new(self.clone())
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
/// use batchline::{ArrayBatch, ArraySource};
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
    pub(crate) plan: Plan<B>,
    iter: Option<BatchIter<B>>,
}

/// A clone has the same steps, config and locks, and fresh variables at their initial values.
impl<B: Batch> Clone for Pipeline<B> {
    fn clone(&self) -> Self {
        Self {
            plan: self.plan.clone(),
            iter: None,
        }
    }
}

impl<B: Batch> fmt::Debug for Pipeline<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("dataset", &self.plan.dataset)
            .field("steps", &self.step_names())
            .field("variables", &self.plan.variables)
            .field("config", &self.plan.config)
            .finish()
    }
}

impl<B: Batch> Default for Pipeline<B> {
    fn default() -> Self {
        Self::template()
    }
}

impl<B: Batch> Pipeline<B> {
    /// An empty pipeline over `dataset` (the same as [`Dataset::p`]).
    pub fn new(dataset: Dataset<B>) -> Self {
        Self::template().with_dataset(dataset)
    }

    /// A pipeline without a dataset: a template of steps, variables and config, to be given a
    /// dataset with [`with_dataset`](Self::with_dataset) or `dataset >> template`, or to be
    /// appended to another pipeline with `+`.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Context, Dataset, DatasetIndex, Pipeline, RunSpec};
    /// use batchline::IdsBatch;
    ///
    /// let template = Pipeline::<IdsBatch>::template()
    ///     .init_variable("batches", 0_u32)
    ///     .apply("count", |_: &mut IdsBatch, ctx: &mut Context| {
    ///         ctx.variables().update("batches", |n: &mut u32| *n += 1)
    ///     });
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
    /// let p = &ds >> template;
    /// p.run(&RunSpec::new(4))?;
    /// assert_eq!(p.variables().get::<u32>("batches")?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn template() -> Self {
        Self {
            plan: Plan::new(),
            iter: None,
        }
    }

    /// The pipeline with `dataset` as the source of its batches (replacing any other).
    pub fn with_dataset(mut self, dataset: Dataset<B>) -> Self {
        self.plan.dataset = Some(dataset);
        self.iter = None;
        self
    }

    /// The dataset the pipeline draws batches from (`None` for a [template](Self::template)).
    pub fn dataset(&self) -> Option<&Dataset<B>> {
        self.plan.dataset.as_ref()
    }

    /// Declares variable `name` with its initial value (BatchFlow's `init_variable`).
    ///
    /// Actions read and change it through [`Context::variables`], the consumer through
    /// [`variables`](Self::variables), the pipeline with
    /// [`update_variable`](Self::update_variable). Its value is kept from one run to the next
    /// until [`reset`](Self::reset) with [`Reset::Variables`]. Declaring a name again replaces
    /// the variable. Declaring resets every variable to its initial value.
    pub fn init_variable<T: Clone + Send + Sync + 'static>(
        self,
        name: impl Into<String>,
        default: T,
    ) -> Self {
        self.declare(VarDecl::new(name.into(), default))
    }

    /// Adds (or replaces) a variable declaration; every variable starts again at its initial
    /// value.
    fn declare(mut self, decl: VarDecl) -> Self {
        let mut decls = self.plan.variables.decls().to_vec();
        decls.retain(|d| d.name != decl.name);
        decls.push(decl);
        self.plan.variables = Arc::new(Variables::from_decls(decls));
        self
    }

    /// Declares variable `name` like [`init_variable`](Self::init_variable), as part of the
    /// run's state: [`BatchIter::checkpoint`] saves its value and
    /// [`resume`](Self::resume) restores it.
    ///
    /// The value is saved as it is when the checkpoint is taken; with prefetch, batches
    /// processed ahead of the consumer may already have changed it. Variables that the
    /// consumer itself keeps (a training step counter, say), or runs at prefetch 0, resume
    /// exactly.
    pub fn init_state_variable<T>(self, name: impl Into<String>, default: T) -> Self
    where
        T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    {
        self.declare(VarDecl::state(name.into(), default))
    }

    /// The pipeline's variables: read or set them between batches, or after a run.
    pub fn variables(&self) -> &Arc<Variables> {
        &self.plan.variables
    }

    /// A step that changes variable `name` for each batch, in batch order (so the result is
    /// the same for any prefetch): write a value, append, extend, or merge with a function.
    ///
    /// A variable that does not exist or holds another type fails the batch with an error
    /// naming it.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Arg, Dataset, DatasetIndex, RunSpec, Update};
    /// use batchline::IdsBatch;
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
    /// let p = ds
    ///     .p()
    ///     .init_variable("numbers", Vec::<u64>::new())
    ///     .update_variable("numbers", Update::append(Arg::batch_number()));
    /// p.run(&RunSpec::new(3).prefetch(3))?;
    /// assert_eq!(p.variables().get::<Vec<u64>>("numbers")?, [0, 1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update_variable<T: Send + Sync + 'static>(
        self,
        name: impl Into<String>,
        update: Update<T>,
    ) -> Self {
        let name = name.into();
        let step = format!("update_variable({name}, {})", update.mode);
        let prepare = update.prepare;
        self.push(
            Action::new(step, move |b: &mut B, ctx: &mut Context<'_>| {
                let change = prepare(&*b, ctx)?;
                ctx.variables().update(&name, change)?;
                Ok::<_, ActionError>(())
            })
            .ordered(),
        )
    }

    /// Adds the values of `config` to the pipeline's config (replacing values of the same key).
    pub fn with_config(mut self, config: Config) -> Self {
        self.plan.config.merge(&config);
        self
    }

    /// Sets one config value before a run.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Type`] when the value cannot be represented as JSON.
    pub fn set_config(
        &mut self,
        key: impl Into<String>,
        value: impl serde::Serialize,
    ) -> Result<(), ConfigError> {
        self.plan.config.insert(key, value)
    }

    /// The pipeline's config.
    pub fn config(&self) -> &Config {
        &self.plan.config
    }

    /// A step that runs once before the first batch of every run (on the thread that calls
    /// [`gen_batch`](Self::gen_batch)): open a file, initialise a variable, ….
    ///
    /// Its error ends the run before it starts, as [`PipelineError::Hook`].
    pub fn before<F, R>(mut self, name: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn(&RunState<'_>) -> R + Send + Sync + 'static,
        R: IntoActionResult,
    {
        self.plan.before.push(Hook::new(name, f));
        self
    }

    /// A step that runs once after the last batch of every run, also when the run ends early
    /// (the consumer drops the iterator, an action fails or stops the run): flush a file,
    /// print a summary. [`RunState::report`] tells how the run ended.
    ///
    /// It runs after every worker has stopped. Its error is yielded by the iterator when the
    /// run otherwise ended well, and is recorded in [`RunReport::hook_errors`] in every case.
    pub fn after<F, R>(mut self, name: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn(&RunState<'_>) -> R + Send + Sync + 'static,
        R: IntoActionResult,
    {
        self.plan.after.push(Hook::new(name, f));
        self
    }

    /// The names of the steps, in order (`acquire_lock(name)` / `release_lock(name)` for lock
    /// steps, `sometimes(p)[step, …]` for steps run with a probability).
    pub fn step_names(&self) -> Vec<String> {
        self.plan.step_names()
    }

    /// Appends an action.
    pub fn push(mut self, action: Action<B>) -> Self {
        self.plan.steps.push(Step::Action(action));
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

    /// Appends a closure as a commit step named `name`: it runs on the consumer's thread as
    /// the consumer receives each batch, in batch order, after every other step, so its side
    /// effects happen exactly once per batch received, also across a
    /// [`resume`](Self::resume). See [`Action::commit`].
    pub fn commit<F, R>(self, name: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn(&mut B, &mut Context<'_>) -> R + Send + Sync + 'static,
        R: IntoActionResult,
    {
        self.push(Action::new(name, f).commit())
    }

    /// Takes the named lock (the one `#[action(lock = "name")]` uses): the steps up to the
    /// matching [`release_lock`](Self::release_lock) run for one batch at a time.
    ///
    /// The lock is released by `release_lock`, or when the batch ends in any way (error,
    /// panic, skip, cancellation). Taking a lock the batch already holds is an error.
    pub fn acquire_lock(mut self, name: impl Into<Arc<str>>) -> Self {
        self.plan.steps.push(Step::AcquireLock(name.into()));
        self
    }

    /// Releases a lock taken by [`acquire_lock`](Self::acquire_lock); releasing a lock the
    /// batch does not hold is an error.
    pub fn release_lock(mut self, name: impl Into<Arc<str>>) -> Self {
        self.plan.steps.push(Step::ReleaseLock(name.into()));
        self
    }

    /// Runs the pipeline over the batches `spec` draws from the dataset, yielding them in order.
    ///
    /// When neither `n_epochs` nor `n_iters` is set, the run covers one epoch. With
    /// `prefetch(k)`, `k` batches are processed in the background: see the
    /// [contract](crate#the-prefetch-contract).
    ///
    /// # Errors
    ///
    /// [`PipelineError::Spec`] when the spec does not fit the dataset,
    /// [`PipelineError::Spawn`] when a worker thread cannot be started,
    /// [`PipelineError::Build`] when the pipeline has no dataset or was built wrongly,
    /// [`PipelineError::Hook`] when a `before` step fails.
    pub fn gen_batch(&self, spec: &RunSpec) -> Result<BatchIter<B>, PipelineError> {
        self.start(spec, false)
    }

    fn start(&self, spec: &RunSpec, endless_default: bool) -> Result<BatchIter<B>, PipelineError> {
        exec::launch(&self.plan, spec, endless_default, None, 0)
    }

    /// Continues the run that `checkpoint` was taken from, at the first batch its consumer had
    /// not received: the batches are the same, to the bit, as those of the uninterrupted run,
    /// whatever the prefetch of either. `spec` gives the prefetch, observer, error handling and
    /// so on; its batch spec must be the checkpoint's. The state variables get their saved
    /// values.
    ///
    /// The batches prefetched but not received when the checkpoint was taken pass their steps
    /// again, side effects included; effects that must happen once per batch received belong
    /// in [`commit`](Self::commit) steps (see [`Checkpoint`]).
    ///
    /// # Errors
    ///
    /// [`PipelineError::Checkpoint`] when the checkpoint is from another index, pipeline or
    /// batch spec, or a state variable cannot be restored; otherwise as
    /// [`gen_batch`](Self::gen_batch).
    pub fn resume(
        &self,
        spec: &RunSpec,
        checkpoint: &Checkpoint,
    ) -> Result<BatchIter<B>, PipelineError> {
        exec::launch(&self.plan, spec, checkpoint.endless, Some(checkpoint), 0)
    }

    /// The state of the run of [`next_batch`](Self::next_batch), if one is going on.
    ///
    /// # Errors
    ///
    /// As [`BatchIter::checkpoint`].
    pub fn checkpoint(&self) -> Option<Result<Checkpoint, PipelineError>> {
        self.iter.as_ref().map(BatchIter::checkpoint)
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

    /// Ends the run of [`next_batch`](Self::next_batch) (joining its workers and running the
    /// `after` steps): the next call starts anew.
    pub fn reset_iter(&mut self) {
        self.iter = None;
    }

    /// Resets the iteration of [`next_batch`](Self::next_batch), the variables (back to their
    /// initial values), or both.
    pub fn reset(&mut self, what: Reset) {
        if matches!(what, Reset::Iter | Reset::All) {
            self.reset_iter();
        }
        if matches!(what, Reset::Variables | Reset::All) {
            self.plan.variables.reset();
        }
    }

    /// Runs the pipeline to the end, dropping every batch, and reports what it did.
    ///
    /// # Errors
    ///
    /// As [`gen_batch`](Self::gen_batch), and the first failed batch's error unless
    /// `ignore_errors` is set; the [`RunError`] keeps the report of what the run did until
    /// then, and converts into [`PipelineError`] with `?`.
    pub fn run(&self, spec: &RunSpec) -> Result<RunReport, RunError> {
        let mut iter = self.gen_batch(spec).map_err(|error| RunError {
            error,
            report: Box::default(),
        })?;
        while let Some(batch) = iter.next() {
            if let Err(error) = batch {
                // Let the run end (joining its workers, running `after`) before reporting.
                iter.by_ref().for_each(drop);
                return Err(RunError {
                    error,
                    report: Box::new(iter.report()),
                });
            }
        }
        Ok(iter.report())
    }
}

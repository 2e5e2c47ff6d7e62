//! Running pipelines: the ordered prefetch executor, locks, cancellation and events.
//!
//! # The prefetch contract
//!
//! * `prefetch = k` means `k` batches beyond the one the consumer holds are processed in the
//!   background, all at once, without priorities, each on its own worker thread. A batch is
//!   created only while fewer than `k + 1` batches are created and not released; the consumer
//!   releases a batch when it asks for the next one.
//! * With `k = 0` nothing runs in the background: each batch is created and processed on the
//!   consumer's thread when it asks for it.
//! * Batches reach the consumer in creation order, also when shuffled, whatever order they
//!   finish in.
//! * Results do not depend on `k` or on timing: each batch's random generator derives from the
//!   run's seed and the batch's number.
//! * An action's error or panic reaches the consumer at that batch's place in the order, as a
//!   [`PipelineError`] naming the batch number, its first ids and the action; the run then
//!   ends (unless `ignore_errors`).
//! * Dropping the iterator stops batch creation, lets in-flight batches stop at their next
//!   action boundary, and joins every worker before `drop` returns: no action starts after.
//!
//! # `prefetch = auto`
//!
//! [`RunSpec::prefetch_auto`] starts with one batch in flight and measures, per window (8
//! batches, or two rounds of the batches in flight, and at least 5 ms, after the batches in
//! flight at the last change have gone by), the throughput and the share of time the consumer
//! waited. The largest
//! finished batch ([`Batch::size_bytes`]) bounds the depth: `k + 1 ≤ budget / largest`, at
//! once. While the consumer waits more than 5% of a window and the window's throughput beat
//! the best so far by 10%, `k + 1` doubles; when a doubling does not pay, the depth goes back to
//! the best one and stays, until the consumer waits clearly more than when it settled (15
//! points and over 20%) for 4 windows in a row. `k = 7` is reached within about 40 batches,
//! `k = 32` (the most) within about 200.
//!
//! See `README.md` in this folder for how the executor is built.

mod auto;
mod checkpoint;
mod events;
mod lock;
mod prefetch;
mod profile;
mod progress;
mod rebatch;
mod run;
mod spec;
mod timeline;

pub(crate) use checkpoint::fingerprint;
pub use checkpoint::{Checkpoint, CheckpointError};
pub use events::{chrome_trace, listing, Event, EventKind, EventRecorder, Observer};
pub use profile::{ActionStats, LockStats, Profile};
pub use rebatch::Rebatch;
pub use spec::{FailureBudget, RunSpec};
pub use timeline::{Bar, BarKind, Lane, Timeline};

pub(crate) use lock::LockRegistry;
pub(crate) use run::{Outcome, Run};

use std::error::Error as StdError;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::batch::Batch;
use crate::index::{IndexError, Sampler};
use crate::pipeline::{Hook, RunState};
use prefetch::Prefetch;
use progress::Progress;
use run::panic_message;

/// Why a run could not deliver a batch.
///
/// The `batch` fields count from 0 like [`Context::batch`](crate::Context::batch); messages
/// number batches from 1 (`batch #1`), like the listing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// An action returned an error.
    #[error("batch #{} {ids}: action {action:?} failed: {message}", .batch + 1)]
    Action {
        /// The batch's number in the run (0 for the first).
        batch: u64,
        /// The batch's first ids.
        ids: String,
        /// The action's name.
        action: Arc<str>,
        /// The error's message.
        message: String,
        /// The underlying error, when the action gave one.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    },
    /// An action (or the batch type) panicked; the panic was caught.
    #[error("batch #{} {ids}: action {action:?} panicked: {message}", .batch + 1)]
    Panic {
        /// The batch's number in the run.
        batch: u64,
        /// The batch's first ids (empty if the batch could not be built).
        ids: String,
        /// The action's name, or `(executor)` for a panic outside any action.
        action: Arc<str>,
        /// The panic's message.
        message: String,
    },
    /// A pipeline lock step was misused (released without being held, or taken twice).
    #[error("batch #{} {ids}: lock {lock:?}: {message}", .batch + 1)]
    Lock {
        /// The batch's number in the run.
        batch: u64,
        /// The batch's first ids.
        ids: String,
        /// The lock's name.
        lock: Arc<str>,
        /// What went wrong.
        message: String,
    },
    /// The spec does not fit the dataset's index.
    #[error("invalid run spec: {0}")]
    Spec(#[from] IndexError),
    /// A prefetch worker thread could not be started.
    #[error("cannot start a prefetch worker: {0}")]
    Spawn(#[source] std::io::Error),
    /// The pipeline was built wrongly (no dataset, a probability outside `[0, 1]`, …).
    #[error("invalid pipeline: {0}")]
    Build(String),
    /// A `before` or `after` step failed.
    #[error("{stage} step {hook:?} failed: {message}")]
    Hook {
        /// `"before"` or `"after"`.
        stage: &'static str,
        /// The step's name.
        hook: Arc<str>,
        /// The error's message.
        message: String,
    },
    /// A checkpoint could not be taken or applied.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// More batches failed than [`RunSpec::max_failures`] allows.
    #[error("{failed} batches failed, more than the {allowed} allowed; the first: {summary}")]
    TooManyFailures {
        /// Batches that failed, this one included.
        failed: u64,
        /// The budget.
        allowed: u64,
        /// The first failures, one per line.
        summary: String,
    },
    /// More failures than [`RunSpec::max_failures`] allows, counting the items that actions
    /// dropped ([`Context::drop_item`](crate::Context::drop_item)) as well as failed batches.
    #[error(
        "{batches} failed batches and {items} dropped items, more than the {allowed} failures \
         allowed; the first: {summary}"
    )]
    TooManyDroppedItems {
        /// Batches that failed.
        batches: u64,
        /// Items dropped, this batch's included.
        items: u64,
        /// The budget.
        allowed: u64,
        /// The first failures, one per line.
        summary: String,
    },
    /// Batches could not be split or merged to the new batch size of
    /// [`BatchIter::rebatch`].
    #[error("rebatch: {0}")]
    Rebatch(String),
}

impl PipelineError {
    /// The number of the batch the error happened on, if it happened on one.
    pub fn batch(&self) -> Option<u64> {
        match self {
            Self::Action { batch, .. } | Self::Panic { batch, .. } | Self::Lock { batch, .. } => {
                Some(*batch)
            }
            _ => None,
        }
    }

    /// The first ids of the batch the error happened on (empty when it has none).
    pub fn ids(&self) -> &str {
        match self {
            Self::Action { ids, .. } | Self::Panic { ids, .. } | Self::Lock { ids, .. } => ids,
            _ => "",
        }
    }

    /// The name of the action that failed, if an action did.
    pub fn action(&self) -> Option<&str> {
        match self {
            Self::Action { action, .. } | Self::Panic { action, .. } => Some(action),
            _ => None,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RunEnd {
    /// It has not ended yet.
    #[default]
    Running,
    /// Every batch was drawn.
    Completed,
    /// A batch failed (without `ignore_errors`) or an `after` step failed.
    Failed,
    /// An action asked to stop the run.
    Stopped,
    /// The consumer dropped the iterator before the end.
    Dropped,
}

/// What a run did: see [`Pipeline::run`](crate::Pipeline::run) and [`BatchIter::report`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunReport {
    /// Batches delivered to the consumer.
    pub batches: u64,
    /// Items in the delivered batches.
    pub items: u64,
    /// Batches an action asked to skip.
    pub skipped: u64,
    /// Batches that failed (skipped under `ignore_errors`, or the one that ended the run).
    pub failed: u64,
    /// Whether an action asked to stop the run.
    pub stopped: bool,
    /// Time from the start of the run to its end (or to now, while it runs).
    pub elapsed: Duration,
    /// How the run ended.
    pub end: RunEnd,
    /// The errors of `after` steps (`step: message`).
    pub hook_errors: Vec<String>,
    /// The profile of the run, when the spec asked for it ([`RunSpec::profile`]).
    pub profile: Option<Profile>,
    /// Every failed batch that was skipped (`ignore_errors` or `max_failures`), in order.
    pub failures: Vec<Failure>,
    /// The deepest prefetch `k` the run used under [`RunSpec::prefetch_auto`] (0 otherwise).
    pub prefetch: u64,
    /// Every item an action dropped from its batch ([`Context::drop_item`]), in batch order;
    /// they count against [`RunSpec::max_failures`] like failed batches.
    ///
    /// [`Context::drop_item`]: crate::Context::drop_item
    #[serde(default)]
    pub item_failures: Vec<ItemFailure>,
}

/// An item an action dropped from its batch (a file that would not load, say): see
/// [`RunReport::item_failures`] and [`Context::drop_item`](crate::Context::drop_item).
///
/// # Examples
///
/// ```
/// use batchline::{Context, Dataset, DatasetIndex, RunSpec};
/// use batchline::batch::IdsBatch;
///
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(4), ());
/// let p = ds.p().apply("drop 2", |b: &mut IdsBatch, ctx: &mut Context| {
///     if b.index().ids().contains(&2) {
///         ctx.drop_item("2", None, "unreadable");
///     }
/// });
/// # use batchline::Batch;
/// let report = p.run(&RunSpec::new(2))?;
/// assert_eq!(report.item_failures[0].id, "2");
/// assert_eq!(report.item_failures[0].batch, 1);
/// # Ok::<(), batchline::PipelineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ItemFailure {
    /// The number of the batch the item was dropped from.
    pub batch: u64,
    /// The item's id.
    pub id: String,
    /// The item's file, when it has one.
    pub path: Option<std::path::PathBuf>,
    /// The error's text.
    pub error: String,
}

impl ItemFailure {
    pub(crate) fn new(
        batch: u64,
        id: String,
        path: Option<std::path::PathBuf>,
        error: String,
    ) -> Self {
        Self {
            batch,
            id,
            path,
            error,
        }
    }
}

/// A failed batch that a run skipped: see [`RunReport::failures`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Failure {
    /// The batch's number in the run.
    pub batch: u64,
    /// The batch's first ids.
    pub ids: String,
    /// The action that failed (`(executor)` outside any action, a lock's name for a lock
    /// step).
    pub action: String,
    /// The error's text.
    pub error: String,
}

impl Failure {
    fn of(err: &PipelineError) -> Self {
        let action = match err {
            PipelineError::Lock { lock, .. } => format!("lock {lock}"),
            other => other.action().unwrap_or_default().to_string(),
        };
        Self {
            batch: err.batch().unwrap_or_default(),
            ids: err.ids().to_string(),
            action,
            error: err.to_string(),
        }
    }
}

enum Mode<B: Batch> {
    Inline { sampler: Sampler, next_seq: u64 },
    Prefetch(Prefetch<B>),
}

/// The ordered iterator of processed batches that [`Pipeline::gen_batch`] returns.
///
/// Each item is a batch that went through every action, or the [`PipelineError`] that stopped
/// it, at the batch's place in the order. After an error (without `ignore_errors`) or a stop
/// request the iterator ends.
///
/// # Drop
///
/// Dropping the iterator early stops batch creation at once, lets in-flight batches stop at
/// their next action boundary, and joins every worker thread before `drop` returns.
///
/// [`Pipeline::gen_batch`]: crate::Pipeline::gen_batch
#[must_use = "iterators are lazy: the pipeline runs as you iterate"]
pub struct BatchIter<B: Batch> {
    run: Arc<Run<B>>,
    mode: Mode<B>,
    /// The number of the batch the consumer holds, not yet released.
    held: Option<u64>,
    finished: bool,
    report: RunReport,
    after: Vec<Hook>,
    /// An `after` step's error, to yield once before the iteration ends.
    pending: Option<PipelineError>,
    progress: Option<Progress>,
    /// Failures allowed before the run stops (`None`: no budget).
    budget: Option<u64>,
    /// Where the run comes from, for its checkpoints.
    origin: Origin,
    /// The number of the first batch the consumer has not received.
    position: u64,
    /// The controller of `prefetch = auto`.
    auto: Option<auto::AutoPrefetch>,
    /// When `next` last returned a batch (for the consumer's working time).
    returned_at: Option<std::time::Instant>,
}

/// What a checkpoint needs to know of the start of a run.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) seed: u64,
    pub(crate) shuffle_seed: Option<u64>,
    pub(crate) spec: crate::index::BatchSpec,
    pub(crate) endless: bool,
    pub(crate) index_len: u64,
    pub(crate) index_fingerprint: u64,
    pub(crate) pipeline_fingerprint: u64,
    /// The number of the run's first batch (0, or where a resumed run starts).
    pub(crate) first: u64,
}

impl<B: Batch> fmt::Debug for BatchIter<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchIter")
            .field("finished", &self.finished)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl<B: Batch> BatchIter<B> {
    /// Runs the `before` steps, then starts the run.
    pub(crate) fn start(
        run: Run<B>,
        sampler: Sampler,
        spec: &RunSpec,
        total: Option<u64>,
        before: &[Hook],
        after: &[Hook],
        origin: Origin,
    ) -> Result<Self, PipelineError> {
        let first = origin.first;
        let budget = spec
            .max_failures
            .map(|b| b.allowed(total))
            .transpose()
            .map_err(PipelineError::Build)?;
        for hook in before {
            let state = RunState {
                run: &run.ctx,
                report: None,
            };
            run_hook(hook, &state).map_err(|message| PipelineError::Hook {
                stage: "before",
                hook: Arc::clone(&hook.name),
                message,
            })?;
        }
        let prefetch = spec.prefetch;
        let run = Arc::new(run);
        let auto = spec
            .auto
            .map(|(budget, k_max)| auto::AutoPrefetch::new(budget, k_max as u64));
        let mode = if prefetch == 0 && auto.is_none() {
            Mode::Inline {
                sampler,
                next_seq: first,
            }
        } else {
            // Auto starts with one batch in flight, on a worker, and may grow to k_max + 1.
            let (capacity, most) = match spec.auto {
                Some((_, k_max)) => (1, k_max as u64 + 1),
                None => (prefetch as u64 + 1, prefetch as u64 + 1),
            };
            let fit = |n: u64| total.map_or(n, |t| t.min(n)).max(1) as usize;
            Mode::Prefetch(
                Prefetch::start(
                    Arc::clone(&run),
                    sampler,
                    first,
                    capacity,
                    fit(capacity),
                    fit(most),
                )
                .map_err(PipelineError::Spawn)?,
            )
        };
        Ok(Self {
            run,
            mode,
            held: None,
            finished: false,
            report: RunReport::default(),
            after: after.to_vec(),
            pending: None,
            progress: spec.progress.then(|| Progress::new(total)).flatten(),
            budget,
            origin,
            position: first,
            auto,
            returned_at: None,
        })
    }

    /// What the run has done so far (with its profile, if the spec asked for one).
    pub fn report(&self) -> RunReport {
        let mut report = self.report.clone();
        if !self.finished {
            report.elapsed = self.run.start.elapsed();
            report.profile = self.profile();
        }
        report
    }

    /// The prefetch depth `k` in use now (it changes under [`RunSpec::prefetch_auto`]).
    pub fn prefetch_depth(&self) -> usize {
        match &self.mode {
            Mode::Inline { .. } => 0,
            Mode::Prefetch(p) => p.capacity() as usize - 1,
        }
    }

    /// The profile of the run so far, if the spec asked for one ([`RunSpec::profile`]).
    pub fn profile(&self) -> Option<Profile> {
        if self.finished {
            // Computed once when the run ended.
            return self.report.profile.clone();
        }
        self.recorded_profile()
    }

    /// The profile of the events recorded so far.
    fn recorded_profile(&self) -> Option<Profile> {
        self.run
            .recorder
            .as_ref()
            .map(|r| Profile::from_events(&r.events()))
    }

    /// The state of the run now, between two batches: resume it with
    /// [`Pipeline::resume`](crate::Pipeline::resume) to get the batches after the last one
    /// this iterator returned (prefetched ones are computed again).
    ///
    /// # Errors
    ///
    /// [`PipelineError::Checkpoint`] when a state variable cannot be saved.
    pub fn checkpoint(&self) -> Result<Checkpoint, PipelineError> {
        let o = &self.origin;
        let variables = self.run.ctx.variables.save().map_err(|(name, message)| {
            PipelineError::Checkpoint(CheckpointError::Variable { name, message })
        })?;
        Ok(Checkpoint {
            format: 1,
            seed: o.seed,
            shuffle_seed: o.shuffle_seed,
            next_batch: self.position,
            spec: o.spec.clone(),
            endless: o.endless,
            index_len: o.index_len,
            index_fingerprint: o.index_fingerprint,
            pipeline_fingerprint: o.pipeline_fingerprint,
            variables,
        })
    }

    /// The variables of the pipeline the run belongs to.
    pub fn variables(&self) -> &crate::pipeline::Variables {
        &self.run.ctx.variables
    }

    /// Regroups the batches into batches of exactly `n` items (the last may be shorter; see
    /// [`Rebatch::drop_last`]), splitting and merging them with [`Batch::split_off`] and
    /// [`Batch::merge`], in order. Prefetch applies to the batches of the run.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Batch, Dataset, DatasetIndex, RunSpec};
    /// use batchline::batch::IdsBatch;
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
    /// let sizes: Vec<usize> = ds
    ///     .p()
    ///     .gen_batch(&RunSpec::new(3).prefetch(2))?
    ///     .rebatch(4)
    ///     .map(|b| b.map(|b| b.len()))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(sizes, [4, 4, 2]);
    /// # Ok::<(), batchline::PipelineError>(())
    /// ```
    pub fn rebatch(self, n: usize) -> Rebatch<B> {
        Rebatch::new(self, n)
    }

    fn next_outcome(&mut self) -> Option<(u64, Outcome<B>)> {
        match &mut self.mode {
            Mode::Inline { sampler, next_seq } => {
                let positions = match catch_unwind(AssertUnwindSafe(|| sampler.next_positions())) {
                    Ok(p) => p?,
                    Err(payload) => {
                        let message = panic_message(payload.as_ref());
                        return Some((
                            *next_seq,
                            Outcome::Failed(PipelineError::Panic {
                                batch: *next_seq,
                                ids: String::new(),
                                action: "(executor)".into(),
                                message,
                            }),
                        ));
                    }
                };
                let seq = *next_seq;
                *next_seq += 1;
                Some((seq, self.run.process(seq, positions, 0)))
            }
            Mode::Prefetch(p) => p.next_outcome(),
        }
    }

    fn release(&mut self, batch: u64) {
        self.run.emit(batch, 0, || EventKind::BatchReleased);
        if let Mode::Prefetch(p) = &self.mode {
            p.release();
        }
    }

    /// Feeds `prefetch = auto` with the consumer's waiting and working time for this batch,
    /// and applies the depth it chooses.
    fn tune(&mut self, asked: std::time::Instant, size: u64) {
        let now = std::time::Instant::now();
        let worked = self.returned_at.map_or(Duration::ZERO, |t| asked - t);
        self.returned_at = Some(now);
        let (Some(auto), Mode::Prefetch(p)) = (&mut self.auto, &mut self.mode) else {
            return;
        };
        if let Some(capacity) = auto.observe(now - asked, worked, size) {
            if let Err(err) = p.set_capacity(capacity) {
                tracing::warn!(error = %err, "prefetch auto: cannot start another worker");
            }
        }
        self.report.prefetch = self.report.prefetch.max(p.capacity() - 1);
    }

    /// Ends the run: stops and joins the workers, ends the run-local state (other runs of
    /// `merge` steps), then runs the `after` steps. Their first error is kept in `pending`
    /// (to be yielded) when the run otherwise ended well.
    fn finish(&mut self, end: RunEnd) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Mode::Prefetch(p) = &mut self.mode {
            p.close();
        }
        self.run.ctx.clear_locals();
        self.report.elapsed = self.run.start.elapsed();
        self.report.end = end;
        self.report.profile = self.recorded_profile();
        if let Some(progress) = self.progress.take() {
            progress.finish();
        }
        for hook in &self.after {
            let state = RunState {
                run: &self.run.ctx,
                report: Some(&self.report),
            };
            if let Err(message) = run_hook(hook, &state) {
                tracing::warn!(hook = &*hook.name, error = %message, "after step failed");
                self.report
                    .hook_errors
                    .push(format!("{}: {message}", hook.name));
                if self.pending.is_none() && matches!(end, RunEnd::Completed | RunEnd::Stopped) {
                    self.pending = Some(PipelineError::Hook {
                        stage: "after",
                        hook: Arc::clone(&hook.name),
                        message,
                    });
                }
            }
        }
        if self.pending.is_some() {
            self.report.end = RunEnd::Failed;
        }
    }
}

/// Runs a `before` or `after` step, catching its panic; the error's text on failure.
fn run_hook(hook: &Hook, state: &RunState<'_>) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| (hook.f)(state))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(payload) => Err(format!("panicked: {}", panic_message(payload.as_ref()))),
    }
}

impl<B: Batch> Iterator for BatchIter<B> {
    type Item = Result<B, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return self.pending.take().map(Err);
        }
        if let Some(held) = self.held.take() {
            self.release(held);
        }
        // Timed only for `prefetch = auto` (a clock read costs as much as a cheap batch).
        let asked = self.auto.is_some().then(std::time::Instant::now);
        loop {
            let Some((seq, outcome)) = self.next_outcome() else {
                self.finish(RunEnd::Completed);
                return self.pending.take().map(Err);
            };
            // A batch that failed the run or stopped it is not passed: a checkpoint taken now
            // resumes at it (it is computed again, and fails or stops again).
            self.position = match outcome {
                Outcome::Failed(_) if !self.run.ignore_errors => seq,
                Outcome::Stopped => seq,
                _ => seq + 1,
            };
            // Items dropped by the batch's actions: reported with the batch (or its skip).
            let dropped = self.run.ctx.take_item_failures(seq);
            if !dropped.is_empty() && matches!(outcome, Outcome::Ready(_) | Outcome::Skipped) {
                self.report.item_failures.extend(dropped);
                let total = self.report.failed + self.report.item_failures.len() as u64;
                if let Some(allowed) = self.budget.filter(|&a| total > a) {
                    let summary = self
                        .report
                        .failures
                        .iter()
                        .map(|f| f.error.clone())
                        .chain(
                            self.report
                                .item_failures
                                .iter()
                                .map(|f| format!("item {}: {}", f.id, f.error)),
                        )
                        .take(5)
                        .collect::<Vec<_>>()
                        .join("\n  ");
                    self.release(seq);
                    self.finish(RunEnd::Failed);
                    return Some(Err(PipelineError::TooManyDroppedItems {
                        batches: self.report.failed,
                        items: self.report.item_failures.len() as u64,
                        allowed,
                        summary,
                    }));
                }
            }
            match outcome {
                Outcome::Ready(batch) => {
                    self.run.emit(seq, 0, || EventKind::BatchYielded);
                    self.held = Some(seq);
                    self.report.batches += 1;
                    self.report.items += batch.len() as u64;
                    if let Some(progress) = &self.progress {
                        progress.advance(batch.len() as u64);
                    }
                    if let Some(asked) = asked {
                        self.tune(asked, batch.size_bytes() as u64);
                    }
                    return Some(Ok(batch));
                }
                Outcome::Skipped => {
                    self.report.skipped += 1;
                    self.release(seq);
                }
                Outcome::Failed(err) if self.run.ignore_errors => {
                    tracing::warn!(batch = seq, error = %err, "batch failed and is skipped");
                    self.report.failed += 1;
                    self.report.failures.push(Failure::of(&err));
                    self.release(seq);
                    let total = self.report.failed + self.report.item_failures.len() as u64;
                    if let Some(allowed) = self.budget.filter(|&a| total > a) {
                        let summary = self
                            .report
                            .failures
                            .iter()
                            .take(5)
                            .map(|f| f.error.as_str())
                            .collect::<Vec<_>>()
                            .join("\n  ");
                        self.finish(RunEnd::Failed);
                        return Some(Err(PipelineError::TooManyFailures {
                            failed: self.report.failed,
                            allowed,
                            summary,
                        }));
                    }
                }
                Outcome::Failed(err) => {
                    self.report.failed += 1;
                    self.release(seq);
                    self.finish(RunEnd::Failed);
                    return Some(Err(err));
                }
                Outcome::Stopped => {
                    self.report.stopped = true;
                    self.release(seq);
                    self.finish(RunEnd::Stopped);
                    return self.pending.take().map(Err);
                }
                Outcome::Cancelled => {
                    self.release(seq);
                    self.finish(RunEnd::Dropped);
                    return self.pending.take().map(Err);
                }
            }
        }
    }
}

impl<B: Batch> std::iter::FusedIterator for BatchIter<B> {}

impl<B: Batch> Drop for BatchIter<B> {
    fn drop(&mut self) {
        self.finish(RunEnd::Dropped);
    }
}

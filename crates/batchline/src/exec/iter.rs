//! [`BatchIter`]: the consumer's half of a run, common to every `k`: releases, commit steps,
//! the report, failure budgets, checkpoints, `after` steps and `prefetch = auto`.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::inline::Inline;
use super::prefetch::{Polled, Prefetch};
use super::progress::Progress;
use super::run::{panic_message, Outcome, Run};
use super::{auto, Checkpoint, CheckpointError, EventKind, PipelineError, Profile};
use super::{Rebatch, RunEnd, RunReport, RunSpec};
use crate::batch::Batch;
use crate::index::Sampler;
use crate::plan::{Context, Hook, RunState};

pub(super) enum Mode<B: Batch> {
    Inline(Inline),
    Prefetch(Prefetch<B>),
    /// The run could not start.
    Done,
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
    pub(super) run: Arc<Run<B>>,
    pub(super) mode: Mode<B>,
    /// The number of the batch the consumer holds, not yet released.
    pub(super) held: Option<u64>,
    pub(super) finished: bool,
    pub(super) report: RunReport,
    pub(super) after: Vec<Hook>,
    /// An `after` step's error, to yield once before the iteration ends.
    pub(super) pending: Option<PipelineError>,
    pub(super) progress: Option<Progress>,
    /// Failures allowed before the run stops (`None`: no budget).
    pub(super) budget: Option<u64>,
    /// Where the run comes from, for its checkpoints.
    pub(super) origin: Origin,
    /// The number of the first batch the consumer has not received.
    pub(super) position: u64,
    /// The controller of `prefetch = auto`.
    pub(super) auto: Option<auto::AutoPrefetch>,
    /// When `next` last returned a batch (for the consumer's working time).
    pub(super) returned_at: Option<std::time::Instant>,
}

/// What a checkpoint needs to know of the start of a run.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) seed: u64,
    pub(crate) shuffle_seed: Option<u64>,
    pub(crate) spec: crate::index::BatchSpec,
    pub(crate) endless: bool,
    pub(crate) index_len: u64,
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
        let in_flight = match spec.auto {
            Some((_, k_max)) => k_max as u64,
            None => spec.prefetch as u64,
        }
        .saturating_add(1)
        .min(total.unwrap_or(u64::MAX));
        if in_flight > super::prefetch::MAX_IN_FLIGHT {
            return Err(PipelineError::Build(format!(
                "prefetch: {in_flight} batches in flight need as many worker threads; at most {} \
                 are allowed",
                super::prefetch::MAX_IN_FLIGHT
            )));
        }
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
        let run = Arc::new(run);
        let auto = spec
            .auto
            .map(|(budget, k_max)| auto::AutoPrefetch::new(budget, k_max as u64));
        let mode = if spec.prefetch == 0 && auto.is_none() {
            Mode::Inline(Inline::new(sampler, first))
        } else {
            // Auto starts with one batch in flight, on a worker, and may grow to k_max + 1.
            let capacity = match spec.auto {
                Some(_) => 1,
                None => (spec.prefetch as u64).saturating_add(1),
            };
            match Prefetch::start(Arc::clone(&run), sampler, first, capacity, in_flight) {
                Ok(p) => Mode::Prefetch(p),
                Err(err) => {
                    // The `before` steps ran: the `after` steps run too.
                    let mut iter =
                        Self::new(run, Mode::Done, spec, total, after, origin, budget, None);
                    iter.finish(RunEnd::Failed);
                    return Err(PipelineError::Spawn(err));
                }
            }
        };
        Ok(Self::new(
            run, mode, spec, total, after, origin, budget, auto,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        run: Arc<Run<B>>,
        mode: Mode<B>,
        spec: &RunSpec,
        total: Option<u64>,
        after: &[Hook],
        origin: Origin,
        budget: Option<u64>,
        auto: Option<auto::AutoPrefetch>,
    ) -> Self {
        let first = origin.first;
        Self {
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
        }
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
            Mode::Inline(_) | Mode::Done => 0,
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
            format: Checkpoint::FORMAT,
            seed: o.seed,
            shuffle_seed: o.shuffle_seed,
            next_batch: self.position,
            spec: o.spec.clone(),
            endless: o.endless,
            index_len: o.index_len,
            // Hashed here, not at the start (an O(n) pass over the ids that a run never
            // checkpointed does not pay); a resumed run's index was checked to hash the same.
            index_fingerprint: self.run.index_fingerprint(),
            pipeline_fingerprint: o.pipeline_fingerprint,
            variables,
            checksum: 0,
        }
        .sealed())
    }

    /// The variables of the pipeline the run belongs to.
    pub fn variables(&self) -> &crate::plan::Variables {
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
    /// use batchline::IdsBatch;
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

    /// The next batch's outcome, waiting at most until `deadline` (prefetch only).
    pub(super) fn next_outcome(&mut self, deadline: Option<Instant>) -> Polled<B> {
        match &mut self.mode {
            Mode::Inline(inline) => Polled::Ready(inline.next_outcome(&self.run)),
            Mode::Prefetch(p) => p.next_outcome(deadline),
            Mode::Done => Polled::Ready(None),
        }
    }

    pub(super) fn release(&mut self, batch: u64) {
        self.run.emit(batch, 0, || EventKind::BatchReleased);
        if let Mode::Prefetch(p) = &mut self.mode {
            p.release();
        }
    }

    /// Runs the commit steps on a batch the consumer receives, on this thread.
    pub(super) fn commit(&self, seq: u64, epoch: u64, batch: B) -> Outcome<B> {
        let mut batch = batch;
        let steps = &self.run.steps.commit;
        if steps.is_empty() {
            return Outcome::Ready(batch);
        }
        let mut ctx = Context::new(seq, epoch, &self.run.ctx);
        for action in steps {
            if let Err(end) = self.run.call(action, &mut batch, &mut ctx, seq, 0) {
                return self.run.end_early(end, action, seq, 0, &batch);
            }
        }
        Outcome::Ready(batch)
    }

    /// Feeds `prefetch = auto` with the consumer's waiting and working time for this batch,
    /// and applies the depth it chooses.
    pub(super) fn tune(&mut self, asked: std::time::Instant, size: u64) {
        let now = std::time::Instant::now();
        let worked = self.returned_at.map_or(Duration::ZERO, |t| asked - t);
        self.returned_at = Some(now);
        let (Some(auto), Mode::Prefetch(p)) = (&mut self.auto, &mut self.mode) else {
            return;
        };
        if let Some(capacity) = auto.observe(now - asked, worked, size) {
            p.set_capacity(capacity);
        }
        self.report.prefetch = self.report.prefetch.max(p.capacity() - 1);
    }

    /// Ends the run: stops and joins the workers, ends the run-local state (other runs of
    /// `merge` steps), then runs the `after` steps. Their first error is kept in `pending`
    /// (to be yielded) when the run otherwise ended well.
    pub(super) fn finish(&mut self, end: RunEnd) {
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

impl<B: Batch> Drop for BatchIter<B> {
    fn drop(&mut self) {
        self.finish(RunEnd::Dropped);
    }
}

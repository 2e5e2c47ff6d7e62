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
//! See `README.md` in this folder for how the executor is built.

mod events;
mod lock;
mod prefetch;
mod run;
mod spec;

pub use events::{chrome_trace, listing, Event, EventKind, EventRecorder, Observer};
pub use spec::RunSpec;

pub(crate) use lock::LockRegistry;
pub(crate) use run::Run;

use std::error::Error as StdError;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::batch::Batch;
use crate::index::{IndexError, Sampler};
use prefetch::Prefetch;
use run::{panic_message, Outcome};

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

    /// The name of the action that failed, if an action did.
    pub fn action(&self) -> Option<&str> {
        match self {
            Self::Action { action, .. } | Self::Panic { action, .. } => Some(action),
            _ => None,
        }
    }
}

/// What a run did: see [`Pipeline::run`](crate::Pipeline::run) and [`BatchIter::report`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    pub(crate) fn start(
        run: Run<B>,
        sampler: Sampler,
        prefetch: usize,
        total: Option<u64>,
    ) -> Result<Self, PipelineError> {
        let run = Arc::new(run);
        let mode = if prefetch == 0 {
            Mode::Inline {
                sampler,
                next_seq: 0,
            }
        } else {
            let capacity = prefetch as u64 + 1;
            let workers = total.map_or(capacity, |t| t.min(capacity)).max(1) as usize;
            Mode::Prefetch(
                Prefetch::start(Arc::clone(&run), sampler, 0, capacity, workers)
                    .map_err(PipelineError::Spawn)?,
            )
        };
        Ok(Self {
            run,
            mode,
            held: None,
            finished: false,
            report: RunReport::default(),
        })
    }

    /// What the run has done so far.
    pub fn report(&self) -> RunReport {
        let mut report = self.report.clone();
        if !self.finished {
            report.elapsed = self.run.start.elapsed();
        }
        report
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

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Mode::Prefetch(p) = &mut self.mode {
            p.close();
        }
        self.report.elapsed = self.run.start.elapsed();
    }
}

impl<B: Batch> Iterator for BatchIter<B> {
    type Item = Result<B, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        if let Some(held) = self.held.take() {
            self.release(held);
        }
        loop {
            let Some((seq, outcome)) = self.next_outcome() else {
                self.finish();
                return None;
            };
            match outcome {
                Outcome::Ready(batch) => {
                    self.run.emit(seq, 0, || EventKind::BatchYielded);
                    self.held = Some(seq);
                    self.report.batches += 1;
                    self.report.items += batch.len() as u64;
                    return Some(Ok(batch));
                }
                Outcome::Skipped => {
                    self.report.skipped += 1;
                    self.release(seq);
                }
                Outcome::Failed(err) if self.run.ignore_errors => {
                    tracing::warn!(batch = seq, error = %err, "batch failed and is skipped (ignore_errors)");
                    self.report.failed += 1;
                    self.release(seq);
                }
                Outcome::Failed(err) => {
                    self.report.failed += 1;
                    self.release(seq);
                    self.finish();
                    return Some(Err(err));
                }
                Outcome::Stopped => {
                    self.report.stopped = true;
                    self.release(seq);
                    self.finish();
                    return None;
                }
                Outcome::Cancelled => {
                    self.release(seq);
                    self.finish();
                    return None;
                }
            }
        }
    }
}

impl<B: Batch> std::iter::FusedIterator for BatchIter<B> {}

impl<B: Batch> Drop for BatchIter<B> {
    fn drop(&mut self) {
        self.finish();
    }
}

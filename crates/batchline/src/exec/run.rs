//! One run of a pipeline: what its threads share, and the processing of one batch.
//!
//! [`Run::process`] is the only place where worker steps are called, for every `k`. It never
//! unwinds: a panic of user code (an action, the batch type's `create` or `Drop`, the
//! observer) becomes the batch's [`Outcome::Failed`].

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::steps::RunSteps;
use super::{Event, EventKind, EventRecorder, Observer, PipelineError, RunSpec};
use crate::batch::Batch;
use crate::dataset::Dataset;
use crate::index::BatchIndex;
use crate::plan::RunContext;

/// What became of one batch.
pub(crate) enum Outcome<B> {
    Ready(B),
    Skipped,
    Failed(PipelineError),
    Stopped,
    Cancelled,
}

/// Everything the threads of one run share.
pub(crate) struct Run<B: Batch> {
    dataset: Dataset<B>,
    pub(crate) steps: RunSteps<B>,
    pub(crate) ctx: RunContext,
    observer: Option<Arc<dyn Observer>>,
    /// Records the events for the profile, when the spec asks for one.
    pub(crate) recorder: Option<EventRecorder>,
    pub(crate) start: Instant,
    pub(crate) ignore_errors: bool,
    cancelled: AtomicBool,
    /// Batches with a larger number are abandoned (an earlier one failed or stopped the run).
    stop_after: AtomicU64,
    /// The first panic of the observer: the batch it reported on and the message. The
    /// observer is not called again after it panicked.
    observer_panic: Mutex<Option<(u64, String)>>,
    observer_broken: AtomicBool,
}

impl<B: Batch> Run<B> {
    /// A run of `steps` over `dataset`.
    pub(crate) fn new(
        dataset: Dataset<B>,
        steps: RunSteps<B>,
        ctx: RunContext,
        spec: &RunSpec,
    ) -> Self {
        let recorder = spec.profile.then(EventRecorder::new);
        let observer: Option<Arc<dyn Observer>> = match (&recorder, &spec.observer) {
            (None, user) => user.clone(),
            (Some(rec), None) => Some(Arc::new(rec.clone())),
            (Some(rec), Some(user)) => {
                let (rec, user) = (rec.clone(), Arc::clone(user));
                Some(Arc::new(move |e: &Event| {
                    rec.on_event(e);
                    user.on_event(e);
                }))
            }
        };
        Self {
            dataset,
            steps,
            ctx,
            observer,
            recorder,
            start: Instant::now(),
            ignore_errors: spec.ignore_errors || spec.max_failures.is_some(),
            cancelled: AtomicBool::new(false),
            stop_after: AtomicU64::new(u64::MAX),
            observer_panic: Mutex::new(None),
            observer_broken: AtomicBool::new(false),
        }
    }

    /// The fingerprint of the run's index (computed once per index, then cached).
    pub(crate) fn index_fingerprint(&self) -> u64 {
        self.dataset.index().fingerprint()
    }

    /// Reports an event to the observer, if there is one. A panic of the observer is caught:
    /// the run ends at that batch ([`observer_panic`](Self::observer_panic)).
    #[inline]
    pub(crate) fn emit(&self, batch: u64, worker: usize, kind: impl FnOnce() -> EventKind) {
        if let Some(observer) = &self.observer {
            if self.observer_broken.load(Ordering::Relaxed) {
                return;
            }
            let event = Event {
                time: self.start.elapsed(),
                batch,
                worker,
                kind: kind(),
            };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| observer.on_event(&event))) {
                self.observer_broken.store(true, Ordering::SeqCst);
                let message = panic_message(payload.as_ref());
                let mut first = self.observer_panic.lock();
                if first.as_ref().is_none_or(|(b, _)| batch < *b) {
                    *first = Some((batch, message));
                }
                drop(first);
                self.stop_after(batch);
            }
        }
    }

    /// The error of an observer that panicked on an event of batch `upto` or before.
    pub(crate) fn observer_panic(&self, upto: u64) -> Option<PipelineError> {
        if !self.observer_broken.load(Ordering::Relaxed) {
            return None;
        }
        let first = self.observer_panic.lock();
        let (batch, message) = first.as_ref().filter(|(b, _)| *b <= upto)?;
        Some(PipelineError::Panic {
            batch: *batch,
            ids: String::new(),
            action: "(observer)".into(),
            message: message.clone(),
        })
    }

    /// Stops every batch at its next action boundary, and every wait for a lock or a turn.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.wake_waiters();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Abandons every batch numbered after `batch`.
    pub(crate) fn stop_after(&self, batch: u64) {
        self.stop_after.fetch_min(batch, Ordering::SeqCst);
        self.wake_waiters();
    }

    /// Whether batch `batch` may still be created (no earlier batch ended the run).
    pub(crate) fn may_create(&self, batch: u64) -> bool {
        !self.abandoned(batch)
    }

    fn wake_waiters(&self) {
        for gate in &self.steps.gates {
            gate.wake_all();
        }
        for lock in &self.steps.locks {
            lock.wake_all();
        }
    }

    pub(super) fn abandoned(&self, batch: u64) -> bool {
        self.cancelled.load(Ordering::Relaxed) || batch > self.stop_after.load(Ordering::Relaxed)
    }

    /// Whether a batch with this outcome ends the run.
    pub(crate) fn ends_run(&self, outcome: &Outcome<B>) -> bool {
        match outcome {
            Outcome::Failed(_) => !self.ignore_errors,
            Outcome::Stopped => true,
            _ => false,
        }
    }

    /// Builds batch `batch` from what was drawn for it and runs every worker step on it.
    /// Never unwinds; an outcome that ends the run also stops the batches after it.
    pub(crate) fn process(&self, batch: u64, drawn: Drawn<B::Id>, worker: usize) -> Outcome<B> {
        if self.abandoned(batch) {
            return Outcome::Cancelled;
        }
        let epoch = drawn.epoch;
        let outcome = self.guarded(batch, || {
            let mut slot = None;
            self.process_in(&mut slot, batch, epoch, worker, || {
                let index = match drawn.items {
                    Items::Index(index) => index,
                    Items::Positions(positions) => self.dataset.index().batch_at(positions),
                };
                self.dataset.batch_of(index)
            })
        });
        let outcome = self.observer_failure(batch, outcome);
        if self.ends_run(&outcome) {
            self.stop_after(batch);
        }
        outcome
    }

    /// The batch's failure when the observer panicked on one of its events, with its ids.
    fn observer_failure(&self, batch: u64, outcome: Outcome<B>) -> Outcome<B> {
        let Some(PipelineError::Panic { message, .. }) = self
            .observer_panic(batch)
            .filter(|e| e.batch() == Some(batch))
        else {
            return outcome;
        };
        let ids = match &outcome {
            Outcome::Ready(b) => {
                catch_unwind(AssertUnwindSafe(|| b.index().describe_ids())).unwrap_or_default()
            }
            Outcome::Failed(e) => e.ids().to_string(),
            _ => String::new(),
        };
        if catch_unwind(AssertUnwindSafe(|| drop(outcome))).is_err() {
            tracing::warn!("a batch panicked while it was dropped");
        }
        Outcome::Failed(PipelineError::Panic {
            batch,
            ids,
            action: "(observer)".into(),
            message,
        })
    }

    /// Runs every worker step on a batch built elsewhere (the batch of a joined pipeline).
    pub(crate) fn process_built(
        &self,
        batch: u64,
        epoch: u64,
        data: B,
        worker: usize,
    ) -> Outcome<B> {
        self.guarded(batch, || {
            let mut slot = Some(data);
            self.process_in(&mut slot, batch, epoch, worker, || {
                unreachable!("the batch is given")
            })
        })
    }

    /// Runs `f`, turning a panic that escapes it (from a batch's `Drop`, say) into a failure.
    fn guarded(&self, batch: u64, f: impl FnOnce() -> Outcome<B>) -> Outcome<B> {
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
            Outcome::Failed(PipelineError::Panic {
                batch,
                ids: String::new(),
                action: "(drop)".into(),
                message: panic_message(payload.as_ref()),
            })
        })
    }

    fn process_in(
        &self,
        slot: &mut Option<B>,
        batch: u64,
        epoch: u64,
        worker: usize,
        create: impl FnOnce() -> B,
    ) -> Outcome<B> {
        // The batch lives in `slot`, outside the unwind boundary, so that a panic outside an
        // action can still name its ids. A panic in the batch type's `create` leaves no batch,
        // and the error has no ids.
        let result = catch_unwind(AssertUnwindSafe(|| {
            let data = slot.get_or_insert_with(create);
            self.steps(batch, epoch, data, worker)
        }));
        match result {
            Ok(Ok(())) => Outcome::Ready(slot.take().expect("steps ran on the batch")),
            Ok(Err(outcome)) => outcome,
            Err(payload) => self.fail(batch, worker, slot.as_ref(), |ids| PipelineError::Panic {
                batch,
                ids,
                action: "(executor)".into(),
                message: panic_message(payload.as_ref()),
            }),
        }
        // `slot` (a batch that did not finish) is dropped by the caller, inside `guarded`.
    }

    /// Reports the failure of a batch: its event, and the error built from its ids (empty if
    /// the batch could not be built).
    pub(super) fn fail(
        &self,
        batch: u64,
        worker: usize,
        data: Option<&B>,
        error: impl FnOnce(String) -> PipelineError,
    ) -> Outcome<B> {
        self.emit(batch, worker, || EventKind::BatchFailed);
        let ids = data
            .and_then(|d| catch_unwind(AssertUnwindSafe(|| d.index().describe_ids())).ok())
            .unwrap_or_default();
        Outcome::Failed(error(ids))
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Batches of at most this many items get their index (the gather of their ids) on the
/// consumer's thread, larger ones on the worker.
const SMALL_BATCH: usize = 256;

/// What the consumer draws for a batch: the epoch it belongs to, and its items.
pub(crate) struct Drawn<I: crate::index::Id> {
    pub(crate) epoch: u64,
    items: Items<I>,
}

/// The items of a drawn batch.
enum Items<I: crate::index::Id> {
    /// The batch's index, made on the consumer's thread. For a small batch the gather costs
    /// less than handing its allocation to another thread: allocator caches are per thread,
    /// and memory freed on the thread that allocated it (the consumer, which drops the batch)
    /// is the cheap case.
    Index(BatchIndex<I>),
    /// The positions of a larger batch: the worker gathers the ids, off the consumer's path.
    Positions(Vec<usize>),
}

/// What batch `batch` is made of: `None` when the index has no batch left, an error when the
/// sampler (or an id's `Clone`) panicked (the run then ends at this batch).
pub(crate) fn draw<B: Batch>(
    run: &Run<B>,
    sampler: &mut crate::index::Sampler,
    batch: u64,
) -> Option<Result<Drawn<B::Id>, PipelineError>> {
    let drawn = catch_unwind(AssertUnwindSafe(|| {
        sampler.next_batch().map(|(epoch, positions)| {
            let items = if positions.len() <= SMALL_BATCH {
                Items::Index(run.dataset.index().batch_at(positions))
            } else {
                Items::Positions(positions)
            };
            Drawn { epoch, items }
        })
    }));
    match drawn {
        Ok(drawn) => drawn.map(Ok),
        Err(payload) => Some(Err(PipelineError::Panic {
            batch,
            ids: String::new(),
            action: "(sampler)".into(),
            message: panic_message(payload.as_ref()),
        })),
    }
}

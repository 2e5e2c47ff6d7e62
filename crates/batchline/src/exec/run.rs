//! One run of a pipeline: its plan, and the processing of one batch through it.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;

use super::lock::{Gate, LockGuard, LockRegistry, RawLock};
use super::{Event, EventKind, EventRecorder, Observer, PipelineError, RunSpec};
use crate::batch::Batch;
use crate::dataset::Dataset;
use crate::pipeline::{ActionOutcome, Context, RunContext, Step};
use crate::Action;

/// A step with its locks and gate resolved for one run.
pub(crate) enum PlanStep<B> {
    Action {
        action: Action<B>,
        lock: Option<(Arc<str>, Arc<RawLock>)>,
        gate: Option<usize>,
    },
    Acquire {
        name: Arc<str>,
        lock: Arc<RawLock>,
    },
    Release {
        name: Arc<str>,
    },
    Branch {
        p: f64,
        len: usize,
    },
}

/// Appends the plan of `steps` to `plan`: a branch becomes a `Branch` step followed by the
/// plan of its steps, `len` counting them all (nested branches included).
fn plan_steps<B>(
    steps: &[Step<B>],
    locks: &LockRegistry,
    ordered: bool,
    first_batch: u64,
    gates: &mut Vec<Gate>,
    plan: &mut Vec<PlanStep<B>>,
) {
    for step in steps {
        match step {
            Step::Action(action) => {
                let lock_name = match (&action.lock, action.ordered) {
                    (Some(name), _) => Some(Arc::clone(name)),
                    (None, true) => Some(Arc::clone(&action.name)),
                    (None, false) => None,
                };
                let gate = (action.ordered && ordered).then(|| {
                    gates.push(Gate::new(first_batch));
                    gates.len() - 1
                });
                plan.push(PlanStep::Action {
                    action: action.clone(),
                    lock: lock_name.map(|n| {
                        let lock = locks.get(&n);
                        (n, lock)
                    }),
                    gate,
                });
            }
            Step::AcquireLock(name) => plan.push(PlanStep::Acquire {
                name: Arc::clone(name),
                lock: locks.get(name),
            }),
            Step::ReleaseLock(name) => plan.push(PlanStep::Release {
                name: Arc::clone(name),
            }),
            Step::Branch { p, steps } => {
                let at = plan.len();
                plan.push(PlanStep::Branch { p: *p, len: 0 });
                plan_steps(steps, locks, ordered, first_batch, gates, plan);
                let len = plan.len() - at - 1;
                plan[at] = PlanStep::Branch { p: *p, len };
            }
        }
    }
}

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
    plan: Vec<PlanStep<B>>,
    gates: Vec<Gate>,
    pub(crate) ctx: RunContext,
    observer: Option<Arc<dyn Observer>>,
    /// Records the events for the profile, when the spec asks for one.
    pub(crate) recorder: Option<EventRecorder>,
    pub(crate) start: Instant,
    pub(crate) ignore_errors: bool,
    cancelled: AtomicBool,
    /// Batches with a larger number are abandoned (an earlier one failed or stopped the run).
    stop_after: AtomicU64,
}

impl<B: Batch> Run<B> {
    /// The plan of `steps` for one run. Without `ordered`, ordered actions keep their lock
    /// but not their turns (for the batches of a joined pipeline, which come one by one).
    pub(crate) fn new(
        dataset: Dataset<B>,
        steps: &[Step<B>],
        locks: &LockRegistry,
        ctx: RunContext,
        spec: &RunSpec,
        ordered: bool,
        first_batch: u64,
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
        let mut gates = Vec::new();
        let mut plan = Vec::new();
        plan_steps(steps, locks, ordered, first_batch, &mut gates, &mut plan);
        Self {
            dataset,
            plan,
            gates,
            ctx,
            observer,
            recorder,
            start: Instant::now(),
            ignore_errors: spec.ignore_errors || spec.max_failures.is_some(),
            cancelled: AtomicBool::new(false),
            stop_after: AtomicU64::new(u64::MAX),
        }
    }

    /// Reports an event to the observer, if there is one.
    #[inline]
    pub(crate) fn emit(&self, batch: u64, worker: usize, kind: impl FnOnce() -> EventKind) {
        if let Some(observer) = &self.observer {
            observer.on_event(&Event {
                time: self.start.elapsed(),
                batch,
                worker,
                kind: kind(),
            });
        }
    }

    /// Stops every batch at its next action boundary.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.wake_gates();
    }

    /// Abandons every batch numbered after `batch`.
    pub(crate) fn stop_after(&self, batch: u64) {
        self.stop_after.fetch_min(batch, Ordering::SeqCst);
        self.wake_gates();
    }

    fn wake_gates(&self) {
        for gate in &self.gates {
            gate.wake_all();
        }
    }

    fn abandoned(&self, batch: u64) -> bool {
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

    /// Builds batch `batch` from the index positions and runs every step on it, catching any
    /// panic (of an action, of the batch type or of the observer).
    pub(crate) fn process(&self, batch: u64, positions: Vec<usize>, worker: usize) -> Outcome<B> {
        let mut slot = None;
        self.process_in(&mut slot, batch, worker, || {
            self.dataset
                .batch_of(self.dataset.index().batch_at(positions))
        })
    }

    /// Runs every step on a batch built elsewhere (the batch of a joined pipeline).
    pub(crate) fn process_built(&self, batch: u64, data: B, worker: usize) -> Outcome<B> {
        let mut slot = Some(data);
        self.process_in(&mut slot, batch, worker, || {
            unreachable!("the batch is given")
        })
    }

    fn process_in(
        &self,
        slot: &mut Option<B>,
        batch: u64,
        worker: usize,
        create: impl FnOnce() -> B,
    ) -> Outcome<B> {
        // The batch lives in `slot`, outside the unwind boundary, so that a panic outside an
        // action (in the observer, say) can still name its ids. A panic in the batch type's
        // `create` leaves no batch, and the error has no ids.
        match catch_unwind(AssertUnwindSafe(|| {
            let data = slot.get_or_insert_with(create);
            self.steps(batch, data, worker)
        })) {
            Ok(Ok(())) => Outcome::Ready(slot.take().expect("steps ran on the batch")),
            Ok(Err(outcome)) => outcome,
            Err(payload) => self.fail(batch, worker, slot.as_ref(), |ids| PipelineError::Panic {
                batch,
                ids,
                action: "(executor)".into(),
                message: panic_message(payload.as_ref()),
            }),
        }
    }

    /// Reports the failure of a batch: its event, and the error built from its ids (empty if
    /// the batch could not be built).
    fn fail(
        &self,
        batch: u64,
        worker: usize,
        data: Option<&B>,
        error: impl FnOnce(String) -> PipelineError,
    ) -> Outcome<B> {
        self.emit(batch, worker, || EventKind::BatchFailed);
        Outcome::Failed(error(
            data.map(|d| d.index().describe_ids()).unwrap_or_default(),
        ))
    }

    /// Runs every step on a built batch; `Err` holds the outcome of a batch that ended early.
    fn steps(&self, batch: u64, data: &mut B, worker: usize) -> Result<(), Outcome<B>> {
        self.emit(batch, worker, || EventKind::BatchCreated);
        let _span = tracing::debug_span!("batch", number = batch).entered();
        let mut ctx = Context::new(batch, &self.ctx);
        let mut turns = Turns {
            gates: &self.gates,
            batch,
            passed: vec![false; self.gates.len()],
        };
        let mut held: Vec<(Arc<str>, LockGuard)> = Vec::new();
        let cancelled = || {
            self.emit(batch, worker, || EventKind::BatchCancelled);
            Err(Outcome::Cancelled)
        };
        let mut next = 0;
        while let Some(step) = self.plan.get(next) {
            next += 1;
            if self.abandoned(batch) {
                return cancelled();
            }
            match step {
                PlanStep::Branch { p, len } => {
                    if !ctx.rng().random_bool(*p) {
                        // Skipped steps pass their turns at once: later batches need not wait.
                        for skipped in &self.plan[next..next + len] {
                            if let PlanStep::Action { gate: Some(g), .. } = skipped {
                                turns.pass(*g);
                            }
                        }
                        next += len;
                    }
                }
                PlanStep::Action { action, lock, gate } => {
                    if let Some(g) = *gate {
                        if !turns.passed[g] {
                            let name = lock.as_ref().map(|l| &l.0).unwrap_or(&action.name);
                            self.emit(batch, worker, || EventKind::LockWaiting {
                                lock: Arc::clone(name),
                            });
                            if !self.gates[g].wait_turn(batch, || self.abandoned(batch)) {
                                return cancelled();
                            }
                        }
                    }
                    if let Some((name, _)) = lock
                        .as_ref()
                        .filter(|(n, _)| held.iter().any(|(h, _)| h == n))
                    {
                        // Taking it again would wait for ourselves for ever.
                        return Err(self.fail(batch, worker, Some(data), |ids| {
                            PipelineError::Lock {
                                batch,
                                ids,
                                lock: Arc::clone(name),
                                message: format!(
                                "action {:?} takes a lock the batch already holds (acquire_lock)",
                                action.name
                            ),
                            }
                        }));
                    }
                    let guard = lock
                        .as_ref()
                        .map(|(name, l)| self.acquire(name, l, batch, worker));
                    self.emit(batch, worker, || EventKind::ActionStarted {
                        action: Arc::clone(&action.name),
                    });
                    let result = {
                        let _span = tracing::trace_span!("action", name = &*action.name).entered();
                        catch_unwind(AssertUnwindSafe(|| (action.f)(data, &mut ctx)))
                    };
                    self.emit(batch, worker, || EventKind::ActionFinished {
                        action: Arc::clone(&action.name),
                    });
                    if let Some(guard) = guard {
                        drop(guard);
                        let name = &lock.as_ref().expect("a guard has a lock").0;
                        self.emit(batch, worker, || EventKind::LockReleased {
                            lock: Arc::clone(name),
                        });
                    }
                    if let Some(g) = *gate {
                        turns.pass(g);
                    }
                    let error = match result {
                        Ok(Ok(())) => continue,
                        Ok(Err(err)) => err,
                        Err(payload) => {
                            return Err(self.fail(batch, worker, Some(data), |ids| {
                                PipelineError::Panic {
                                    batch,
                                    ids,
                                    action: Arc::clone(&action.name),
                                    message: panic_message(payload.as_ref()),
                                }
                            }));
                        }
                    };
                    return Err(match error.into_outcome() {
                        ActionOutcome::Skip => {
                            self.emit(batch, worker, || EventKind::BatchSkipped);
                            Outcome::Skipped
                        }
                        ActionOutcome::Stop => {
                            self.emit(batch, worker, || EventKind::BatchStopped);
                            Outcome::Stopped
                        }
                        ActionOutcome::Failed { message, source } => {
                            self.fail(batch, worker, Some(data), |ids| PipelineError::Action {
                                batch,
                                ids,
                                action: Arc::clone(&action.name),
                                message,
                                source,
                            })
                        }
                    });
                }
                PlanStep::Acquire { name, lock } => {
                    if held.iter().any(|(n, _)| n == name) {
                        return Err(self.fail(batch, worker, Some(data), |ids| {
                            PipelineError::Lock {
                                batch,
                                ids,
                                lock: Arc::clone(name),
                                message: "acquire_lock on a lock the batch already holds".into(),
                            }
                        }));
                    }
                    let guard = self.acquire(name, lock, batch, worker);
                    held.push((Arc::clone(name), guard));
                }
                PlanStep::Release { name } => {
                    let Some(pos) = held.iter().position(|(n, _)| n == name) else {
                        return Err(self.fail(batch, worker, Some(data), |ids| {
                            PipelineError::Lock {
                                batch,
                                ids,
                                lock: Arc::clone(name),
                                message: "release_lock on a lock the batch does not hold".into(),
                            }
                        }));
                    };
                    drop(held.remove(pos));
                    self.emit(batch, worker, || EventKind::LockReleased {
                        lock: Arc::clone(name),
                    });
                }
            }
        }
        drop(held);
        self.emit(batch, worker, || EventKind::BatchReady);
        Ok(())
    }

    fn acquire(
        &self,
        name: &Arc<str>,
        lock: &Arc<RawLock>,
        batch: u64,
        worker: usize,
    ) -> LockGuard {
        let guard = match lock.try_lock_arc() {
            Some(guard) => guard,
            None => {
                self.emit(batch, worker, || EventKind::LockWaiting {
                    lock: Arc::clone(name),
                });
                lock.lock_arc()
            }
        };
        self.emit(batch, worker, || EventKind::LockAcquired {
            lock: Arc::clone(name),
        });
        guard
    }
}

/// The ordered gates a batch has yet to pass; passes them all when dropped, so that a batch
/// that ends early (or unwinds) never blocks the batches after it.
struct Turns<'a> {
    gates: &'a [Gate],
    batch: u64,
    passed: Vec<bool>,
}

impl Turns<'_> {
    fn pass(&mut self, gate: usize) {
        if !self.passed[gate] {
            self.passed[gate] = true;
            self.gates[gate].pass(self.batch);
        }
    }
}

impl Drop for Turns<'_> {
    fn drop(&mut self) {
        for g in 0..self.gates.len() {
            self.pass(g);
        }
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

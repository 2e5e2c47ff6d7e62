//! The walk of one batch through the steps: actions called with their events, locks taken and
//! released, ordered turns waited for and passed, and what an action's error or panic makes of
//! the batch. Every wait is abandoned when the run is cancelled or stops before this batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rand::Rng;

use super::run::{panic_message, Outcome, Run};
use super::steps::{RunStep, RunSteps, Turn};
use super::{EventKind, PipelineError};
use crate::action_error::{ActionError, ActionOutcome};
use crate::batch::Batch;
use crate::lock::LockGuard;
use crate::plan::{Action, Context};

impl<B: Batch> Run<B> {
    /// Runs every worker step on a built batch; `Err` holds the outcome of a batch that ended
    /// early.
    pub(super) fn steps(
        &self,
        batch: u64,
        epoch: u64,
        data: &mut B,
        worker: usize,
    ) -> Result<(), Outcome<B>> {
        self.emit(batch, worker, || EventKind::BatchCreated);
        let _span = tracing::debug_span!("batch", number = batch).entered();
        let plan = &self.steps.steps;
        let mut ctx = Context::new(batch, epoch, &self.ctx);
        let mut turns = Turns {
            run: &self.steps,
            batch,
            passed: vec![false; self.steps.gates.len()],
        };
        let mut held: Vec<(Arc<str>, LockGuard)> = Vec::new();
        let cancelled = || {
            self.emit(batch, worker, || EventKind::BatchCancelled);
            Err(Outcome::Cancelled)
        };
        let mut next = 0;
        while let Some(step) = plan.get(next) {
            next += 1;
            if self.abandoned(batch) {
                return cancelled();
            }
            match step {
                RunStep::Branch { p, len } => {
                    if !ctx.rng().random_bool(*p) {
                        // Skipped steps pass their turns at once: later batches need not wait.
                        for skipped in &plan[next..next + len] {
                            if let Some(g) = skipped.gate() {
                                turns.pass(g);
                            }
                        }
                        next += len;
                    }
                }
                RunStep::Action { action, lock, gate } => {
                    if let Some(turn) = gate {
                        if !self.wait_turn(&turns, turn, batch, worker) {
                            return cancelled();
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
                    let guard = match lock {
                        Some((name, l)) => match self.acquire(name, l, batch, worker) {
                            Some(guard) => Some((name, guard)),
                            None => return cancelled(),
                        },
                        None => None,
                    };
                    if self.abandoned(batch) {
                        // A stop request came while the batch waited: start nothing new.
                        return cancelled();
                    }
                    let result = self.call(action, data, &mut ctx, batch, worker);
                    if let Err(end) = &result {
                        let ends = match end {
                            EndedBy::Panic(_) => !self.ignore_errors,
                            EndedBy::Error(e) => {
                                e.is_stop() || (e.is_failure() && !self.ignore_errors)
                            }
                        };
                        if ends {
                            // Before the lock is released: a batch waiting for it must see
                            // that the run ends here, and start nothing.
                            self.stop_after(batch);
                        }
                    }
                    if let Some((name, guard)) = guard {
                        drop(guard);
                        self.emit(batch, worker, || EventKind::LockReleased {
                            lock: Arc::clone(name),
                        });
                    }
                    if let Some(turn) = gate {
                        turns.pass(turn.gate);
                        self.emit(batch, worker, || EventKind::LockReleased {
                            lock: Arc::clone(&turn.name),
                        });
                    }
                    result.map_err(|end| self.end_early(end, action, batch, worker, data))?;
                }
                RunStep::Acquire { name, lock, gate } => {
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
                    if let Some(turn) = gate {
                        if !self.wait_turn(&turns, turn, batch, worker) {
                            return cancelled();
                        }
                    }
                    let Some(guard) = self.acquire(name, lock, batch, worker) else {
                        return cancelled();
                    };
                    held.push((Arc::clone(name), guard));
                    if let Some(turn) = gate {
                        turns.pass(turn.gate);
                        self.emit(batch, worker, || EventKind::LockReleased {
                            lock: Arc::clone(&turn.name),
                        });
                    }
                }
                RunStep::Release { name } => {
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

    /// Calls one action on the batch, with its events; `Err` holds what ended the batch.
    pub(crate) fn call(
        &self,
        action: &Action<B>,
        data: &mut B,
        ctx: &mut Context<'_>,
        batch: u64,
        worker: usize,
    ) -> Result<(), EndedBy> {
        self.emit(batch, worker, || EventKind::ActionStarted {
            action: Arc::clone(&action.name),
        });
        let result = {
            let _span = tracing::trace_span!("action", name = &*action.name).entered();
            catch_unwind(AssertUnwindSafe(|| (action.f)(data, ctx)))
        };
        self.emit(batch, worker, || EventKind::ActionFinished {
            action: Arc::clone(&action.name),
        });
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(EndedBy::Error(err)),
            Err(payload) => Err(EndedBy::Panic(panic_message(payload.as_ref()))),
        }
    }

    /// The outcome of a batch whose action returned an error or panicked.
    pub(crate) fn end_early(
        &self,
        end: EndedBy,
        action: &Action<B>,
        batch: u64,
        worker: usize,
        data: &B,
    ) -> Outcome<B> {
        let error = match end {
            EndedBy::Panic(message) => {
                return self.fail(batch, worker, Some(data), |ids| PipelineError::Panic {
                    batch,
                    ids,
                    action: Arc::clone(&action.name),
                    message,
                })
            }
            EndedBy::Error(error) => error,
        };
        match error.into_outcome() {
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
        }
    }

    /// Waits for the batch's turn at an ordered gate; `false` when the batch is abandoned.
    fn wait_turn(&self, turns: &Turns<'_, B>, turn: &Turn, batch: u64, worker: usize) -> bool {
        if turns.passed[turn.gate] {
            return true;
        }
        self.emit(batch, worker, || EventKind::LockWaiting {
            lock: Arc::clone(&turn.name),
        });
        if !self.steps.gates[turn.gate].wait_turn(batch, || self.abandoned(batch)) {
            return false;
        }
        self.emit(batch, worker, || EventKind::LockAcquired {
            lock: Arc::clone(&turn.name),
        });
        true
    }

    /// Takes a lock, with its events; `None` when the batch is abandoned while it waits.
    fn acquire(
        &self,
        name: &Arc<str>,
        lock: &Arc<crate::lock::NamedLock>,
        batch: u64,
        worker: usize,
    ) -> Option<LockGuard> {
        let guard = match lock.try_acquire() {
            Some(guard) => guard,
            None => {
                self.emit(batch, worker, || EventKind::LockWaiting {
                    lock: Arc::clone(name),
                });
                lock.acquire(|| self.abandoned(batch))?
            }
        };
        self.emit(batch, worker, || EventKind::LockAcquired {
            lock: Arc::clone(name),
        });
        Some(guard)
    }
}

/// Why an action did not complete.
pub(crate) enum EndedBy {
    Error(ActionError),
    Panic(String),
}

/// The ordered gates a batch has yet to pass; passes them all when dropped, so that a batch
/// that ends early (or unwinds) never blocks the batches after it.
struct Turns<'a, B> {
    run: &'a RunSteps<B>,
    batch: u64,
    passed: Vec<bool>,
}

impl<B> Turns<'_, B> {
    fn pass(&mut self, gate: usize) {
        if !self.passed[gate] {
            self.passed[gate] = true;
            self.run.gates[gate].pass(self.batch);
        }
    }
}

impl<B> Drop for Turns<'_, B> {
    fn drop(&mut self) {
        for g in 0..self.passed.len() {
            self.pass(g);
        }
    }
}

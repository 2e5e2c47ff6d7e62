//! `prefetch = k ≥ 1`: the consumer drives, workers only process.
//!
//! The consumer's side owns the sampler. It sends job `(batch number, positions)` to the
//! workers' queue only while fewer than `k + 1` batches are created and not released, so the
//! bound is kept in one place ([`Prefetch::submit`]); any idle worker takes the next job, runs
//! it, and delivers its outcome in the batch's slot ([`Outcomes`]), in any order; the
//! consumer takes them in number order.
//!
//! Invariants (checked with `debug_assert!` where they change):
//! * `released ≤ base ≤ next`, and a batch is created only while `next - released <
//!   capacity` (lowering the capacity holds back creation until enough batches are released);
//! * every job posted yields exactly one outcome: a worker that unwinds still delivers a
//!   failure for its batch ([`Delivery`]), so the consumer's wait always ends;
//! * there are at least as many workers as jobs out, so a batch never waits for a worker
//!   (batches may wait for one another at locks and turns: every one of them must be
//!   running);
//! * at most `slots` batches are created and not handed out (`next - base`), so `slots`
//!   outcome slots never hold two batches at once.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::handover::Outcomes;
use super::run::{draw, Drawn, Outcome, Run};
use super::PipelineError;
use crate::batch::Batch;
use crate::index::Sampler;

/// The most batches that may be in flight at once (each needs a worker thread).
pub(crate) const MAX_IN_FLIGHT: u64 = 4096;

type Job<B> = (u64, Drawn<<B as Batch>::Id>);

/// What the consumer gets: a batch's number, its epoch, and its outcome.
pub(crate) type Handed<B> = (u64, u64, Outcome<B>);

/// The background half of a run with prefetch.
pub(crate) struct Prefetch<B: Batch> {
    run: Arc<Run<B>>,
    sampler: Sampler,
    jobs: Sender<Job<B>>,
    /// The workers' end of `jobs`, kept to start workers and to drain the queue on close.
    queue: Receiver<Job<B>>,
    /// Where workers deliver the outcomes of batches `base..next`.
    outcomes: Arc<Outcomes<Outcome<B>>>,
    /// The epochs of batches `base..next`, known when they are drawn.
    epochs: VecDeque<u64>,
    base: u64,
    next: u64,
    /// Batches numbered below this are released by the consumer.
    released: u64,
    /// `k + 1`: the most batches created and not released at once.
    capacity: u64,
    /// The largest capacity the run may have.
    slots: u64,
    /// No batch is left to create (the index is exhausted or the run ends).
    exhausted: bool,
    /// The epoch of the last batch handed out.
    last_epoch: u64,
    workers: Vec<JoinHandle<()>>,
    /// Set while an idle worker spins for the next job ([`next_job`]).
    spinner: Arc<AtomicBool>,
}

/// What [`Prefetch::next_outcome`] found before its deadline.
pub(crate) enum Polled<B> {
    /// The next batch's outcome, or `None` when no batch is left.
    Ready(Option<Handed<B>>),
    /// The next batch is not done yet.
    Pending,
}

impl<B: Batch> Prefetch<B> {
    /// Starts the prefetch half with `capacity` (`k + 1`) batches allowed in flight and its
    /// first worker; more workers start as jobs need them.
    pub(crate) fn start(
        run: Arc<Run<B>>,
        sampler: Sampler,
        first_batch: u64,
        capacity: u64,
        slots: u64,
    ) -> std::io::Result<Self> {
        let slots = slots.clamp(1, MAX_IN_FLIGHT);
        // At most `slots` batches are ever in flight, so a channel of that size never blocks
        // the consumer; a bounded channel is a ring buffer, cheaper than an unbounded one.
        let (jobs, queue) = crossbeam_channel::bounded(slots as usize);
        let mut me = Self {
            run,
            sampler,
            jobs,
            queue,
            outcomes: Arc::new(Outcomes::new(slots as usize)),
            epochs: VecDeque::new(),
            base: first_batch,
            next: first_batch,
            released: first_batch,
            capacity: capacity.clamp(1, slots),
            slots,
            exhausted: false,
            last_epoch: 0,
            workers: Vec::new(),
            spinner: Arc::new(AtomicBool::new(false)),
        };
        me.spawn()?;
        Ok(me)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let w = self.workers.len() + 1;
        let (run, jobs, out, spinner) = (
            Arc::clone(&self.run),
            self.queue.clone(),
            Arc::clone(&self.outcomes),
            Arc::clone(&self.spinner),
        );
        let handle = std::thread::Builder::new()
            .name(format!("batchline-worker-{w}"))
            .spawn(move || worker(&run, &jobs, &out, &spinner, w))?;
        self.workers.push(handle);
        Ok(())
    }

    /// Changes `k + 1`. Lowering it only holds back creation until enough batches are
    /// released.
    pub(crate) fn set_capacity(&mut self, capacity: u64) {
        self.capacity = capacity.clamp(1, self.slots);
    }

    /// The current `k + 1`.
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Creates batches while fewer than `k + 1` are created and not released.
    fn submit(&mut self) {
        while !self.exhausted && self.next - self.released < self.capacity {
            if !self.run.may_create(self.next) {
                self.exhausted = true;
                break;
            }
            let out = (self.next - self.base) as usize;
            if out >= self.workers.len() {
                if let Err(err) = self.spawn() {
                    // Fewer batches in flight than asked, never a batch without a worker.
                    tracing::warn!(error = %err, workers = self.workers.len(),
                        "cannot start another prefetch worker; prefetching less");
                    self.capacity = self.workers.len() as u64;
                    break;
                }
            }
            let batch = self.next;
            match draw(&self.run, &mut self.sampler, batch) {
                None => self.exhausted = true,
                Some(Err(err)) => {
                    // The sampler failed: the epoch of the batch before it; no worker runs it.
                    let epoch = self.epochs.back().copied().unwrap_or(self.last_epoch);
                    self.epochs.push_back(epoch);
                    self.outcomes.deliver(batch, Outcome::Failed(err));
                    self.next += 1;
                    self.exhausted = true;
                }
                Some(Ok(drawn)) => {
                    self.epochs.push_back(drawn.epoch);
                    // The workers hold `queue` as long as `self` does: sending cannot fail.
                    let sent = self.jobs.send((batch, drawn));
                    debug_assert!(sent.is_ok(), "the job queue is open");
                    self.next += 1;
                }
            }
        }
        debug_assert!(self.released <= self.base && self.base <= self.next);
        // `next - released` may exceed a capacity that `prefetch = auto` just lowered: the loop
        // above creates nothing until releases bring it back under the bound.
    }

    /// The next batch's outcome, in creation order, waiting at most until `deadline`.
    pub(crate) fn next_outcome(&mut self, deadline: Option<Instant>) -> Polled<B> {
        self.submit();
        if self.base == self.next {
            return Polled::Ready(None);
        }
        let Some(outcome) = self.outcomes.take(self.base, deadline) else {
            return Polled::Pending;
        };
        let batch = self.base;
        self.base += 1;
        let epoch = self
            .epochs
            .pop_front()
            .expect("one epoch per batch in flight");
        self.last_epoch = epoch;
        Polled::Ready(Some((batch, epoch, outcome)))
    }

    /// Releases the oldest batch not released yet: the next call may create one more.
    pub(crate) fn release(&mut self) {
        self.released += 1;
        debug_assert!(self.released <= self.base);
    }

    /// Stops creating batches, stops every in-flight batch at its next action boundary (and
    /// every wait for a lock or a turn), and joins every worker.
    pub(crate) fn close(&mut self) {
        self.exhausted = true;
        self.run.cancel();
        // Jobs not started yet are dropped; closing the queue ends the workers' loops.
        while self.queue.try_recv().is_ok() {}
        let (dead, _) = crossbeam_channel::bounded(0);
        drop(std::mem::replace(&mut self.jobs, dead));
        let workers = std::mem::take(&mut self.workers);
        for handle in workers {
            // Workers catch the panics of user code; a panic here is a bug of ours, and
            // re-raising it from a drop would abort, so it is only logged.
            if handle.join().is_err() {
                tracing::error!("a batchline worker panicked");
            }
        }
        // Batches computed and never handed out; their `Drop` is user code.
        let outcomes = Arc::get_mut(&mut self.outcomes).expect("the workers are joined");
        for outcome in outcomes.drain() {
            if catch_unwind(AssertUnwindSafe(|| drop(outcome))).is_err() {
                tracing::warn!("a batch panicked while it was dropped");
            }
        }
    }
}

impl<B: Batch> Drop for Prefetch<B> {
    fn drop(&mut self) {
        if !self.workers.is_empty() {
            self.close();
        }
    }
}

/// Delivers a worker's outcome for its batch; if the worker unwinds first, a failure instead.
struct Delivery<'a, B: Batch> {
    out: &'a Outcomes<Outcome<B>>,
    batch: u64,
    sent: bool,
}

impl<B: Batch> Delivery<'_, B> {
    fn send(mut self, outcome: Outcome<B>) {
        self.sent = true;
        self.out.deliver(self.batch, outcome);
    }
}

impl<B: Batch> Drop for Delivery<'_, B> {
    fn drop(&mut self) {
        if !self.sent {
            self.out.deliver(
                self.batch,
                Outcome::Failed(PipelineError::Panic {
                    batch: self.batch,
                    ids: String::new(),
                    action: "(executor)".into(),
                    message: "a prefetch worker unwound".into(),
                }),
            );
        }
    }
}

/// A worker's loop: processes jobs until the queue closes.
fn worker<B: Batch>(
    run: &Run<B>,
    jobs: &Receiver<Job<B>>,
    out: &Outcomes<Outcome<B>>,
    spinner: &AtomicBool,
    w: usize,
) {
    while let Some((batch, drawn)) = next_job::<B>(jobs, spinner) {
        let delivery = Delivery {
            out,
            batch,
            sent: false,
        };
        let outcome = if run.is_cancelled() {
            Outcome::Cancelled
        } else {
            run.process(batch, drawn, w)
        };
        delivery.send(outcome);
    }
}

/// How long an idle worker looks for the next job, yielding its core between looks, before it
/// sleeps until one is sent. A consumer with a few microseconds of work per batch (a Python
/// loop) sends a job every few microseconds: a worker that slept would need a wake-up per
/// job, which costs more than that on a busy machine. One idle worker at a time spins (the
/// others sleep at once), so that spinning never takes more than one core from the workers
/// with jobs and the consumer.
const IDLE_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// The next job, `None` once the queue is closed. `spinner` is set while a worker spins.
fn next_job<B: Batch>(jobs: &Receiver<Job<B>>, spinner: &AtomicBool) -> Option<Job<B>> {
    // `Some(found)` once the queue has a job or is closed.
    let look = || match jobs.try_recv() {
        Ok(job) => Some(Some(job)),
        Err(crossbeam_channel::TryRecvError::Disconnected) => Some(None),
        Err(crossbeam_channel::TryRecvError::Empty) => None,
    };
    if let Some(found) = look() {
        return found;
    }
    if spinner.swap(true, Ordering::Acquire) {
        return jobs.recv().ok();
    }
    let start = Instant::now();
    let found = loop {
        std::thread::yield_now();
        if let Some(found) = look() {
            break Some(found);
        }
        if start.elapsed() >= IDLE_SPIN {
            break None;
        }
    };
    spinner.store(false, Ordering::Release);
    found.unwrap_or_else(|| jobs.recv().ok())
}

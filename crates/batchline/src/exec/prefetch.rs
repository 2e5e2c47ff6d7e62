//! `prefetch = k ≥ 1`: the consumer drives, workers only process.
//!
//! The consumer's side owns the sampler and a reorder buffer of the batches created and not
//! yet handed out. It submits job `(batch number, positions)` to the workers only while fewer
//! than `k + 1` batches are created and not released, so the bound is kept in one place
//! ([`Prefetch::submit`]); outcomes come back on a channel, in any order, and are handed out
//! in number order.
//!
//! Invariants (checked with `debug_assert!` where they change):
//! * `released ≤ base ≤ next`, and a batch is created only while `next - released <
//!   capacity` (lowering the capacity holds back creation until enough batches are released);
//! * `buffer` holds one slot per batch `base..next`: `None` while its job is out;
//! * every job sent yields exactly one outcome: a worker that unwinds still delivers a
//!   failure for its batch ([`Delivery`]), so the consumer's wait always ends;
//! * there are at least as many workers as jobs out, so a batch never waits for a worker
//!   (batches may wait for one another at locks and turns: every one of them must be running).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::run::{draw, Drawn, Outcome, Run};
use super::PipelineError;
use crate::batch::Batch;
use crate::index::Sampler;

/// The most batches that may be in flight at once (each needs a worker thread).
pub(crate) const MAX_IN_FLIGHT: u64 = 4096;

struct Job<B: Batch> {
    batch: u64,
    drawn: Drawn<B::Id>,
}

type Delivered<B> = (u64, Outcome<B>);

/// What the consumer gets: a batch's number, its epoch, and its outcome.
pub(crate) type Handed<B> = (u64, u64, Outcome<B>);

/// The background half of a run with prefetch.
pub(crate) struct Prefetch<B: Batch> {
    run: Arc<Run<B>>,
    sampler: Sampler,
    jobs: Sender<Job<B>>,
    /// The workers' end of `jobs`, kept to start workers and to drain the queue on close.
    queue: Receiver<Job<B>>,
    outcomes: Receiver<Delivered<B>>,
    /// The workers' end of `outcomes`, kept to start workers.
    deliver: Sender<Delivered<B>>,
    /// Outcomes of batches `base..next`; `None` while in flight. Only the consumer touches
    /// it, through `&mut self` (`get_mut` takes no lock): the mutex only makes the iterator
    /// `Sync` for batch types that are not.
    buffer: Mutex<VecDeque<Option<Outcome<B>>>>,
    /// The epochs of batches `base..next`, known when they are drawn.
    epochs: VecDeque<u64>,
    base: u64,
    next: u64,
    /// Batches numbered below this are released by the consumer.
    released: u64,
    /// `k + 1`: the most batches created and not released at once.
    capacity: u64,
    /// The size of the channels: the largest capacity the run may have.
    slots: u64,
    /// No batch is left to create (the index is exhausted or the run ends).
    exhausted: bool,
    /// The epoch of the last batch handed out.
    last_epoch: u64,
    workers: Vec<JoinHandle<()>>,
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
        // At most `slots` batches are ever in flight (the largest capacity of the run), so
        // channels of that size never block a sender; a bounded channel is a ring buffer,
        // cheaper per message than an unbounded one.
        let slots = slots.clamp(1, MAX_IN_FLIGHT) as usize;
        let (jobs, queue) = crossbeam_channel::bounded(slots);
        let (deliver, outcomes) = crossbeam_channel::bounded(slots);
        let mut me = Self {
            run,
            sampler,
            jobs,
            queue,
            outcomes,
            deliver,
            buffer: Mutex::new(VecDeque::new()),
            epochs: VecDeque::new(),
            base: first_batch,
            next: first_batch,
            released: first_batch,
            capacity: capacity.clamp(1, slots as u64),
            slots: slots as u64,
            exhausted: false,
            last_epoch: 0,
            workers: Vec::new(),
        };
        me.spawn()?;
        Ok(me)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let w = self.workers.len() + 1;
        let (run, jobs, out) = (
            Arc::clone(&self.run),
            self.queue.clone(),
            self.deliver.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("batchline-worker-{w}"))
            .spawn(move || worker(&run, &jobs, &out, w))?;
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
            self.next += 1;
            match draw(&self.run, &mut self.sampler, batch) {
                None => {
                    self.next -= 1;
                    self.exhausted = true;
                }
                Some(Err(err)) => {
                    // The sampler failed: the epoch of the batch before it.
                    let epoch = self.epochs.back().copied().unwrap_or(self.last_epoch);
                    self.epochs.push_back(epoch);
                    self.buffer.get_mut().push_back(Some(Outcome::Failed(err)));
                    self.exhausted = true;
                }
                Some(Ok(drawn)) => {
                    self.epochs.push_back(drawn.epoch);
                    self.buffer.get_mut().push_back(None);
                    // The workers hold `queue` as long as `self` does: sending cannot fail.
                    let sent = self.jobs.send(Job { batch, drawn });
                    debug_assert!(sent.is_ok(), "the job queue is open");
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
        loop {
            if let Some(Some(_)) = self.buffer.get_mut().front() {
                let outcome = self
                    .buffer
                    .get_mut()
                    .pop_front()
                    .flatten()
                    .expect("checked just above");
                let batch = self.base;
                self.base += 1;
                let epoch = self.epochs.pop_front().expect("one epoch per slot");
                self.last_epoch = epoch;
                return Polled::Ready(Some((batch, epoch, outcome)));
            }
            if self.buffer.get_mut().is_empty() {
                return Polled::Ready(None);
            }
            let received = match deadline {
                None => self
                    .outcomes
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(d) => self.outcomes.recv_deadline(d),
            };
            match received {
                Ok((batch, outcome)) => {
                    let slot = (batch - self.base) as usize;
                    debug_assert!(self.buffer.get_mut()[slot].is_none(), "one outcome per job");
                    self.buffer.get_mut()[slot] = Some(outcome);
                }
                Err(RecvTimeoutError::Timeout) => return Polled::Pending,
                Err(RecvTimeoutError::Disconnected) => {
                    unreachable!("the consumer holds a sender of the outcomes")
                }
            }
        }
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
        // The queue is closed: each worker leaves its loop once it has delivered its batch.
        let workers = std::mem::take(&mut self.workers);
        for handle in workers {
            // Workers catch the panics of user code; a panic here is a bug of ours, and
            // re-raising it from a drop would abort, so it is only logged.
            if handle.join().is_err() {
                tracing::error!("a batchline worker panicked");
            }
        }
        // Batches computed and never handed out; their `Drop` is user code.
        for outcome in self
            .buffer
            .get_mut()
            .drain(..)
            .chain(self.outcomes.try_iter().map(|(_, o)| Some(o)))
        {
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

/// Sends a worker's outcome for its batch; if the worker unwinds first, a failure instead.
struct Delivery<'a, B> {
    out: &'a Sender<Delivered<B>>,
    batch: u64,
    sent: bool,
}

impl<B> Delivery<'_, B> {
    fn send(mut self, outcome: Outcome<B>) -> bool {
        self.sent = true;
        self.out.send((self.batch, outcome)).is_ok()
    }
}

impl<B> Drop for Delivery<'_, B> {
    fn drop(&mut self) {
        if !self.sent {
            let _ = self.out.send((
                self.batch,
                Outcome::Failed(PipelineError::Panic {
                    batch: self.batch,
                    ids: String::new(),
                    action: "(executor)".into(),
                    message: "a prefetch worker unwound".into(),
                }),
            ));
        }
    }
}

/// A worker's loop: processes jobs until the queue closes.
fn worker<B: Batch>(run: &Run<B>, jobs: &Receiver<Job<B>>, out: &Sender<Delivered<B>>, w: usize) {
    for job in jobs {
        let delivery = Delivery {
            out,
            batch: job.batch,
            sent: false,
        };
        let outcome = if run.is_cancelled() {
            Outcome::Cancelled
        } else {
            run.process(job.batch, job.drawn, w)
        };
        if !delivery.send(outcome) {
            return;
        }
    }
}

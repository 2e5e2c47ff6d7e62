//! The consumer's step of a [`BatchIter`]: wait for the next batch (with or without a
//! deadline), release the one held, run the commit steps, count failures against the budget,
//! and end the run when it is over.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::iter::BatchIter;
use super::prefetch::Polled;
use super::run::{panic_message, Outcome};
use super::{EventKind, Failure, PipelineError, RunEnd};
use crate::batch::Batch;

impl<B: Batch> BatchIter<B> {
    /// Like [`next`](Iterator::next), but waits at most `timeout` for the next batch to be
    /// done: `None` when it is not done by then (call again to go on waiting), `Some` with
    /// what `next` would have returned otherwise.
    ///
    /// With `prefetch = 0` the batch is processed on this thread, so the call takes as long as
    /// it takes. This is how a caller that must stay responsive (the Python package, which
    /// checks for Ctrl-C between waits) consumes a run.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use batchline::{Batch, Dataset, DatasetIndex, RunSpec};
    /// use batchline::IdsBatch;
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(6), ());
    /// let mut iter = ds.p().gen_batch(&RunSpec::new(2).prefetch(2))?;
    /// let mut got = 0;
    /// loop {
    ///     match iter.next_timeout(Duration::from_millis(10)) {
    ///         None => continue, // not ready yet: do something else, then wait again
    ///         Some(None) => break,
    ///         Some(Some(batch)) => got += batch?.len(),
    ///     }
    /// }
    /// assert_eq!(got, 6);
    /// # Ok::<(), batchline::PipelineError>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Option<Result<B, PipelineError>>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    /// The consumer's step: `None` while the next batch is not done by `deadline`.
    fn next_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Option<Option<Result<B, PipelineError>>> {
        if self.finished {
            return Some(self.pending.take().map(Err));
        }
        if let Some(held) = self.held.take() {
            self.release(held);
        }
        // Timed only for `prefetch = auto` (a clock read costs as much as a cheap batch).
        let asked = self.auto.is_some().then(Instant::now);
        loop {
            let (seq, epoch, outcome) = match self.next_outcome(deadline) {
                Polled::Pending => return None,
                Polled::Ready(None) => {
                    if let Some(err) = self.run.observer_panic(u64::MAX) {
                        self.finish(RunEnd::Failed);
                        return Some(Some(Err(err)));
                    }
                    self.finish(RunEnd::Completed);
                    return Some(self.pending.take().map(Err));
                }
                Polled::Ready(Some(delivered)) => delivered,
            };
            let outcome = match outcome {
                Outcome::Ready(batch) => self.commit(seq, epoch, batch),
                other => other,
            };
            let failed = matches!(outcome, Outcome::Failed(_));
            if let Some(err) = self.run.observer_panic(seq).filter(|_| !failed) {
                // User code of ours to call, not of the batch: the run ends at that batch.
                quiet_drop(outcome);
                self.position = err.batch().unwrap_or(seq).min(seq);
                self.report.failed += 1;
                self.release(seq);
                self.finish(RunEnd::Failed);
                return Some(Some(Err(err)));
            }
            if let Some(item) = self.deliver(seq, outcome, asked) {
                return Some(item);
            }
        }
    }

    /// Hands out one outcome: `Some` with the item to return, `None` to go on with the next
    /// batch (a skipped or ignored one).
    fn deliver(
        &mut self,
        seq: u64,
        outcome: Outcome<B>,
        asked: Option<Instant>,
    ) -> Option<Option<Result<B, PipelineError>>> {
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
                quiet_drop(outcome);
                self.position = seq;
                self.release(seq);
                self.finish(RunEnd::Failed);
                return Some(Some(Err(PipelineError::TooManyDroppedItems {
                    batches: self.report.failed,
                    items: self.report.item_failures.len() as u64,
                    allowed,
                    summary,
                })));
            }
        }
        // A batch that failed the run or stopped it is not passed: a checkpoint taken now
        // resumes at it (it is computed again, and fails or stops again).
        self.position = match outcome {
            Outcome::Failed(_) if !self.run.ignore_errors => seq,
            Outcome::Stopped => seq,
            _ => seq + 1,
        };
        match outcome {
            Outcome::Ready(batch) => {
                self.run.emit(seq, 0, || EventKind::BatchYielded);
                self.held = Some(seq);
                let measured = catch_unwind(AssertUnwindSafe(|| {
                    let size = asked.map(|_| batch.size_bytes() as u64);
                    (batch.len() as u64, size)
                }));
                let (len, size) = match measured {
                    Ok(m) => m,
                    Err(payload) => {
                        quiet_drop(batch);
                        self.report.failed += 1;
                        self.finish(RunEnd::Failed);
                        return Some(Some(Err(PipelineError::Panic {
                            batch: seq,
                            ids: String::new(),
                            action: "(executor)".into(),
                            message: format!(
                                "Batch::len or Batch::size_bytes panicked: {}",
                                panic_message(payload.as_ref())
                            ),
                        })));
                    }
                };
                self.report.batches += 1;
                self.report.items += len;
                if let Some(progress) = &self.progress {
                    progress.advance(len);
                }
                if let (Some(asked), Some(size)) = (asked, size) {
                    self.tune(asked, size);
                }
                Some(Some(Ok(batch)))
            }
            Outcome::Skipped => {
                self.report.skipped += 1;
                self.release(seq);
                None
            }
            Outcome::Failed(err) if self.run.ignore_errors => {
                tracing::warn!(batch = seq, error = %err, "batch failed and is skipped");
                self.report.failed += 1;
                self.report.failures.push(Failure::of(&err));
                self.release(seq);
                let total = self.report.failed + self.report.item_failures.len() as u64;
                let allowed = self.budget.filter(|&a| total > a)?;
                let summary = self
                    .report
                    .failures
                    .iter()
                    .take(5)
                    .map(|f| f.error.as_str())
                    .collect::<Vec<_>>()
                    .join("\n  ");
                self.finish(RunEnd::Failed);
                Some(Some(Err(PipelineError::TooManyFailures {
                    failed: self.report.failed,
                    allowed,
                    summary,
                })))
            }
            Outcome::Failed(err) => {
                self.report.failed += 1;
                self.release(seq);
                self.finish(RunEnd::Failed);
                Some(Some(Err(err)))
            }
            Outcome::Stopped => {
                self.report.stopped = true;
                self.release(seq);
                self.finish(RunEnd::Stopped);
                Some(self.pending.take().map(Err))
            }
            Outcome::Cancelled => {
                self.release(seq);
                self.finish(RunEnd::Dropped);
                Some(self.pending.take().map(Err))
            }
        }
    }
}

/// Drops what user code owns (a batch's `Drop` may panic) without unwinding.
fn quiet_drop<T>(value: T) {
    if catch_unwind(AssertUnwindSafe(|| drop(value))).is_err() {
        tracing::warn!("a batch panicked while it was dropped");
    }
}

impl<B: Batch> Iterator for BatchIter<B> {
    type Item = Result<B, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_until(None)
            .expect("a wait without a deadline is never pending")
    }
}

impl<B: Batch> std::iter::FusedIterator for BatchIter<B> {}

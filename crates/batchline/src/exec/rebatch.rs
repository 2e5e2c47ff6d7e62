//! [`Rebatch`]: the batches of a run regrouped to a new batch size.

use std::fmt;

use super::{BatchIter, PipelineError};
use crate::batch::Batch;

/// The iterator of [`BatchIter::rebatch`]: batches of exactly `n` items, in order (the last
/// may be shorter unless [`drop_last`](Self::drop_last)).
///
/// An error of the run is yielded at its place (the items gathered before it are yielded
/// first, as a short batch, unless `drop_last`); a batch type that cannot be split or merged gives
/// [`PipelineError::Rebatch`].
#[must_use = "iterators are lazy: the pipeline runs as you iterate"]
pub struct Rebatch<B: Batch> {
    inner: BatchIter<B>,
    size: usize,
    drop_last: bool,
    /// Items gathered for the next batch.
    pending: Option<B>,
    /// An error to yield after the pending items.
    error: Option<PipelineError>,
    done: bool,
}

impl<B: Batch> fmt::Debug for Rebatch<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rebatch")
            .field("size", &self.size)
            .field("drop_last", &self.drop_last)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<B: Batch> Rebatch<B> {
    pub(crate) fn new(inner: BatchIter<B>, size: usize) -> Self {
        let error =
            (size == 0).then(|| PipelineError::Rebatch("the batch size must be at least 1".into()));
        Self {
            inner,
            size,
            drop_last: false,
            pending: None,
            done: error.is_some(),
            error,
        }
    }

    /// Drops the last batch when it is shorter than `n`.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The run's iterator (for its report, profile and variables). Its
    /// [`checkpoint`](BatchIter::checkpoint) counts the run's batches gathered into the items
    /// not yet yielded: use [`Rebatch::checkpoint`] instead.
    pub fn get_ref(&self) -> &BatchIter<B> {
        &self.inner
    }

    /// The state of the run, to resume it (then rebatch the resumed run again).
    ///
    /// # Errors
    ///
    /// [`PipelineError::Rebatch`] while items of the run are gathered but not yet yielded
    /// (a checkpoint then would lose them): take it where the run's batches and the new
    /// batches end together, or after the last batch; otherwise as
    /// [`BatchIter::checkpoint`].
    pub fn checkpoint(&self) -> Result<super::Checkpoint, PipelineError> {
        if let Some(pending) = self.pending.as_ref().filter(|p| !p.is_empty()) {
            return Err(PipelineError::Rebatch(format!(
                "cannot take a checkpoint while {} items are gathered but not yielded",
                pending.len()
            )));
        }
        self.inner.checkpoint()
    }

    /// Takes the first `size` pending items (all of them when fewer).
    fn take(&mut self) -> Result<Option<B>, PipelineError> {
        let Some(mut batch) = self.pending.take() else {
            return Ok(None);
        };
        if batch.len() > self.size {
            let rest = batch
                .split_off(self.size)
                .map_err(|e| PipelineError::Rebatch(e.to_string()))?;
            self.pending = Some(rest);
        }
        Ok(Some(batch))
    }

    fn fail(&mut self, err: PipelineError) -> Option<Result<B, PipelineError>> {
        self.done = true;
        self.pending = None;
        Some(Err(err))
    }
}

impl<B: Batch> Iterator for Rebatch<B> {
    type Item = Result<B, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let have = self.pending.as_ref().map_or(0, Batch::len);
            if have > 0 && have >= self.size {
                return match self.take() {
                    Ok(batch) => batch.map(Ok),
                    Err(e) => self.fail(e),
                };
            }
            if self.done || self.error.is_some() {
                break;
            }
            match self.inner.next() {
                None => break,
                Some(Err(e)) => self.error = Some(e),
                Some(Ok(batch)) => match &mut self.pending {
                    None => self.pending = Some(batch),
                    Some(pending) => {
                        if let Err(e) = pending.merge(batch) {
                            return self.fail(PipelineError::Rebatch(e.to_string()));
                        }
                    }
                },
            }
        }
        // The run is over (or failed): the short remainder, then the error.
        if let Some(batch) = self.pending.take() {
            if !batch.is_empty() && !self.drop_last {
                return Some(Ok(batch));
            }
        }
        self.done = true;
        self.error.take().map(Err)
    }
}

impl<B: Batch> std::iter::FusedIterator for Rebatch<B> {}

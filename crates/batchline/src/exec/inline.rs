//! `prefetch = 0`: each batch is drawn, built and processed on the consumer's thread when it
//! asks for it. No thread, no lock, no channel.

use super::prefetch::Handed;
use super::run::{draw, Outcome, Run};
use crate::batch::Batch;
use crate::index::Sampler;

/// The inline mode: the sampler and the number of the next batch.
pub(crate) struct Inline {
    sampler: Sampler,
    next: u64,
    done: bool,
    /// The epoch of the last batch drawn.
    epoch: u64,
}

impl Inline {
    pub(crate) fn new(sampler: Sampler, first: u64) -> Self {
        Self {
            sampler,
            next: first,
            done: false,
            epoch: 0,
        }
    }

    /// The next batch, processed now; `None` when no batch is left.
    pub(crate) fn next_outcome<B: Batch>(&mut self, run: &Run<B>) -> Option<Handed<B>> {
        if self.done || !run.may_create(self.next) {
            self.done = true;
            return None;
        }
        let seq = self.next;
        self.next += 1;
        match draw(run, &mut self.sampler, seq) {
            None => {
                self.done = true;
                None
            }
            Some(Err(err)) => {
                self.done = true;
                Some((seq, self.epoch, Outcome::Failed(err)))
            }
            Some(Ok(drawn)) => {
                self.epoch = drawn.epoch;
                Some((seq, self.epoch, run.process(seq, drawn, 0)))
            }
        }
    }
}

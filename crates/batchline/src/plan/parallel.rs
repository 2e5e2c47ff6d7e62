//! Parallelism inside a batch: per-item work on a rayon thread pool, results in item order,
//! per-item randomness that does not depend on the number of threads.
//!
//! # How the two pools share the cores
//!
//! Prefetch runs whole batches on `k + 1` worker threads; the item work of this module runs
//! on a rayon pool (rayon's global pool, sized to the machine's cores, or the pool of
//! [`RunSpec::item_threads`](crate::RunSpec::item_threads)). A worker that calls
//! [`Context::par_map`] hands the items to the pool and waits, so the pool's threads — not
//! `k + 1` times as many — do the CPU work of every batch in flight: items of several batches
//! interleave on the same cores instead of oversubscribing them. Sequential code of actions
//! still runs on the prefetch workers, so on a machine with `n` cores at most `n + k + 1`
//! threads are ever runnable. The defaults suit 2 cores and 64 alike: the pool follows the
//! core count, and `k` only needs to cover the latency of I/O.

use rand::RngCore;
use rayon::prelude::*;

use super::{Context, ItemRng};
use crate::action_error::{ActionError, ActionResult, IntoActionResult};

/// One item of a batch in per-item work: its position in the batch and its own random
/// generator.
///
/// The generator derives from one draw of the batch's generator and the item's position, so
/// the values are the same for any number of threads and any prefetch; successive parallel
/// calls in one batch get independent streams.
#[derive(Debug)]
pub struct Item {
    index: usize,
    rng: ItemRng,
}

impl Item {
    /// The item's position in the batch.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The item's random generator.
    pub fn rng(&mut self) -> &mut ItemRng {
        &mut self.rng
    }
}

impl Context<'_> {
    /// `n` items with their generators, all derived from one draw of the batch's generator.
    pub fn items(&mut self, n: usize) -> Vec<Item> {
        let key = self.rng().next_u64();
        (0..n)
            .map(|index| Item {
                index,
                rng: ItemRng::new(key, index as u64),
            })
            .collect()
    }

    /// Runs `f` inside the run's item pool (rayon's global pool unless the spec set one).
    pub fn in_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.run().pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Maps every item to `f(item, ...)` on the item pool; the results come back in item
    /// order.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Batch, Context, Dataset, DatasetIndex, RunSpec};
    /// use batchline::IdsBatch;
    /// use rand::Rng;
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(100), ());
    /// let p = ds.p().apply("noisy squares", |b: &mut IdsBatch, ctx: &mut Context| {
    ///     let out = ctx.par_map(b.ids(), |&id, item| id * id + item.rng().random_range(0..2));
    ///     assert_eq!(out.len(), b.len());
    /// });
    /// p.run(&RunSpec::new(10).prefetch(2))?;
    /// # Ok::<(), batchline::PipelineError>(())
    /// ```
    pub fn par_map<T, R, F>(&mut self, items: &[T], f: F) -> Vec<R>
    where
        T: Sync,
        R: Send,
        F: Fn(&T, &mut Item) -> R + Send + Sync,
    {
        let states = self.items(items.len());
        self.in_pool(|| {
            items
                .par_iter()
                .zip(states)
                .map(|(x, mut item)| f(x, &mut item))
                .collect()
        })
    }

    /// Like [`par_map`](Self::par_map) for work that can fail: the first error in item order
    /// is returned, naming the item's position.
    ///
    /// # Errors
    ///
    /// The error of the first failed item, as `item <i>: <message>`.
    pub fn par_try_map<T, R, E, F>(&mut self, items: &[T], f: F) -> Result<Vec<R>, ActionError>
    where
        T: Sync,
        R: Send,
        E: Into<ActionError> + Send,
        F: Fn(&T, &mut Item) -> Result<R, E> + Send + Sync,
    {
        let results: Vec<Result<R, E>> = self.par_map(items, f);
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.map_err(|e| item_error(i, e.into())))
            .collect()
    }

    /// Changes every item in place with `f` on the item pool.
    ///
    /// # Errors
    ///
    /// The error of the first failed item, as `item <i>: <message>`.
    pub fn par_apply<T, R, F>(&mut self, items: &mut [T], f: F) -> ActionResult
    where
        T: Send,
        R: IntoActionResult + Send,
        F: Fn(&mut T, &mut Item) -> R + Send + Sync,
    {
        let states = self.items(items.len());
        let results: Vec<ActionResult> = self.in_pool(|| {
            items
                .par_iter_mut()
                .zip(states)
                .map(|(x, mut item)| f(x, &mut item).into_action_result())
                .collect()
        });
        for (i, r) in results.into_iter().enumerate() {
            r.map_err(|e| item_error(i, e))?;
        }
        Ok(())
    }
}

fn item_error(i: usize, e: ActionError) -> ActionError {
    if e.is_failure() {
        ActionError::msg(format!("item {i}: {e}"))
    } else {
        e
    }
}

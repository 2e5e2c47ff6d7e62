//! Batch generation over epochs.

use std::fmt;

use super::order::{permutation, Order, Shuffler, BACKGROUND_SHUFFLE_MIN};
use super::{DatasetIndex, Id};

/// The ids of one batch, with their positions in the index they were drawn from.
///
/// # Examples
///
/// ```
/// use batchline::{BatchSpec, DatasetIndex};
///
/// let index = DatasetIndex::from_ids(["a", "b", "c"])?;
/// let first = index.gen_batch(&BatchSpec::new(2))?.next().unwrap();
/// assert_eq!(first.ids(), &["a", "b"]);
/// assert_eq!(first.positions(), &[0, 1]);
/// assert_eq!(first.len(), 2);
/// # Ok::<(), batchline::IndexError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BatchIndex<I: Id = usize> {
    ids: Vec<I>,
    positions: Vec<usize>,
}

impl<I: Id> BatchIndex<I> {
    /// A batch index of the given ids at the given positions.
    ///
    /// # Panics
    ///
    /// If `ids` and `positions` differ in length.
    pub fn new(ids: Vec<I>, positions: Vec<usize>) -> Self {
        assert_eq!(ids.len(), positions.len(), "one position per id");
        Self { ids, positions }
    }

    /// The ids of the batch's items, in batch order.
    pub fn ids(&self) -> &[I] {
        &self.ids
    }

    /// The positions of the batch's items in the index they were drawn from.
    pub fn positions(&self) -> &[usize] {
        &self.positions
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the batch has no item.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Appends the ids and positions of `other`.
    pub fn append(&mut self, other: BatchIndex<I>) {
        self.ids.extend(other.ids);
        self.positions.extend(other.positions);
    }

    /// Keeps the first `at` items and returns the rest.
    ///
    /// # Panics
    ///
    /// When `at > len`.
    pub fn split_off(&mut self, at: usize) -> BatchIndex<I> {
        BatchIndex {
            ids: self.ids.split_off(at),
            positions: self.positions.split_off(at),
        }
    }

    /// The first few ids as text, for error messages.
    pub(crate) fn describe_ids(&self) -> String {
        const SHOWN: usize = 5;
        let mut s = String::from("[");
        for (i, id) in self.ids.iter().take(SHOWN).enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!("{id:?}"));
        }
        if self.ids.len() > SHOWN {
            s.push_str(&format!(", … {} more", self.ids.len() - SHOWN));
        }
        s.push(']');
        s
    }
}

impl<I: Id> fmt::Debug for BatchIndex<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchIndex")
            .field("ids", &self.describe_ids())
            .finish()
    }
}

/// The position of a batch generation: which epoch, where in it, how many batches so far.
///
/// When shuffling a large index, the next epoch's permutation is computed on a background
/// thread (the sampler's [`Shuffler`]) as soon as an epoch's permutation is in use, and taken
/// when the next epoch starts: the O(N) shuffle is off the path of the batches.
#[derive(Debug)]
pub(crate) struct Sampler {
    /// The items of the whole index (the permutation's length).
    full_len: usize,
    /// The items drawn per epoch (this shard's part).
    len: usize,
    /// Where this shard's part starts in the epoch's order.
    offset: usize,
    batch_size: usize,
    drop_last: bool,
    shuffle_seed: Option<u64>,
    n_epochs: Option<u64>,
    n_iters: Option<u64>,
    /// Completed epochs.
    epoch: u64,
    /// Position in the current epoch's order.
    start: usize,
    /// Batches drawn so far.
    iters: u64,
    stopped: bool,
    /// The permutation of the epoch `order_epoch`, when shuffling.
    order: Order,
    order_epoch: Option<u64>,
    /// The epoch of the first item of the last batch drawn.
    batch_epoch: u64,
    /// PyTorch's rule: an epoch's last batch is short, never filled from the next epoch.
    within_epochs: bool,
    /// The thread computing later epochs' permutations (started with the first).
    shuffler: Option<Shuffler>,
}

impl Clone for Sampler {
    fn clone(&self) -> Self {
        Self {
            full_len: self.full_len,
            len: self.len,
            offset: self.offset,
            batch_size: self.batch_size,
            drop_last: self.drop_last,
            shuffle_seed: self.shuffle_seed,
            n_epochs: self.n_epochs,
            n_iters: self.n_iters,
            epoch: self.epoch,
            start: self.start,
            iters: self.iters,
            stopped: self.stopped,
            order: self.order.clone(),
            order_epoch: self.order_epoch,
            batch_epoch: self.batch_epoch,
            within_epochs: self.within_epochs,
            // The clone computes its own later permutations.
            shuffler: None,
        }
    }
}

/// A large permutation is freed on the shuffling thread, not on the consumer's.
impl Drop for Sampler {
    fn drop(&mut self) {
        if let Some(shuffler) = &self.shuffler {
            shuffler.free(std::mem::replace(
                &mut self.order,
                Order::Narrow(Vec::new()),
            ));
        }
    }
}

impl Sampler {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        full_len: usize,
        len: usize,
        offset: usize,
        batch_size: usize,
        drop_last: bool,
        shuffle_seed: Option<u64>,
        n_epochs: Option<u64>,
        n_iters: Option<u64>,
    ) -> Self {
        Self {
            full_len,
            len,
            offset,
            batch_size,
            drop_last,
            shuffle_seed,
            n_epochs,
            n_iters,
            epoch: 0,
            start: 0,
            iters: 0,
            stopped: false,
            order: Order::Narrow(Vec::new()),
            order_epoch: None,
            batch_epoch: 0,
            within_epochs: false,
            shuffler: None,
        }
    }

    /// Starts at epoch `start` (`n_epochs` counts from 0, not from `start`).
    pub(crate) fn starting_at(mut self, start: u64) -> Self {
        self.epoch = start;
        self.batch_epoch = start;
        self
    }

    /// Sets PyTorch's rule: see [`BatchSpec::within_epochs`](super::BatchSpec::within_epochs).
    pub(crate) fn within_epochs(mut self, on: bool) -> Self {
        self.within_epochs = on;
        self
    }

    fn epochs_done(&self) -> bool {
        self.n_epochs.is_some_and(|e| self.epoch >= e)
    }

    /// Appends the positions `range` of the current epoch's order to `out`.
    fn take(&mut self, from: usize, to: usize, out: &mut Vec<usize>) {
        let (from, to) = (from + self.offset, to + self.offset);
        match self.shuffle_seed {
            None => out.extend(from..to),
            Some(seed) => {
                if self.order_epoch != Some(self.epoch) {
                    let order = self.order_of(seed, self.epoch);
                    let old = std::mem::replace(&mut self.order, order);
                    self.order_epoch = Some(self.epoch);
                    self.prepare(seed, self.epoch.saturating_add(1), old);
                }
                self.order.extend_into(from, to, out);
            }
        }
    }

    /// The permutation of `epoch`: the one prepared in the background when it is that epoch's,
    /// else computed now.
    fn order_of(&mut self, seed: u64, epoch: u64) -> Order {
        self.shuffler
            .as_mut()
            .and_then(|s| s.take(epoch))
            .unwrap_or_else(|| permutation(self.full_len, seed, epoch))
    }

    /// Starts computing the permutation of `epoch` in the background, when the index is large
    /// and the run reaches that epoch, in the allocation of the permutation no longer used
    /// (`recycled`): a large one is neither allocated nor freed on the consumer's path (freeing
    /// 80 MB, the order of 10 M items, took 2 ms there).
    fn prepare(&mut self, seed: u64, epoch: u64, recycled: Order) {
        if self.full_len < BACKGROUND_SHUFFLE_MIN {
            return;
        }
        if self.shuffler.is_none() {
            self.shuffler = Shuffler::start();
        }
        // Without a thread, the permutation is computed when the epoch starts, as before.
        let Some(shuffler) = self.shuffler.as_mut() else {
            return;
        };
        if self.n_epochs.is_some_and(|e| epoch >= e) {
            // No next epoch: the old permutation is only freed, in the background too.
            shuffler.free(recycled);
        } else {
            shuffler.permute(recycled, self.full_len, seed, epoch);
        }
    }

    /// The next batch: the epoch of its first item (counting from 0) and its positions, or
    /// `None` when the run is over. Under the straddling rule a batch may end in the next
    /// epoch; its epoch is the one it starts in. (For the executor's `Context::epoch`.)
    pub(crate) fn next_batch(&mut self) -> Option<(u64, Vec<usize>)> {
        let positions = self.next_positions()?;
        Some((self.batch_epoch, positions))
    }

    /// The positions of the next batch, or `None` when the run is over.
    pub(crate) fn next_positions(&mut self) -> Option<Vec<usize>> {
        let mut out = Vec::with_capacity(self.batch_size);
        self.step(Some(&mut out)).then_some(out)
    }

    /// Passes over the next `n` batches without drawing their items (to resume a run);
    /// returns how many there were. Constant time, whatever `n` (batch numbers are positions
    /// in a stream of epochs, computed by arithmetic; no permutation is drawn).
    pub(crate) fn skip(&mut self, n: u64) -> u64 {
        if self.stopped || self.epochs_done() {
            self.stopped = true;
            return 0;
        }
        let n = self
            .n_iters
            .map_or(n, |limit| n.min(limit.saturating_sub(self.iters)));
        let (b, len) = (self.batch_size as u128, self.len as u128);
        let moved = if self.drop_last || self.within_epochs {
            // No batch straddles: `per_epoch` of them in every epoch (the last one short
            // under PyTorch's rule without drop_last).
            let per_epoch = if self.drop_last {
                len / b
            } else {
                len.div_ceil(b)
            };
            let now = self.epoch as u128 * per_epoch + self.start as u128 / b;
            let end = self.n_epochs.map(|e| e as u128 * per_epoch);
            let target = end.map_or(now + n as u128, |end| end.min(now + n as u128));
            self.epoch = u64::try_from(target / per_epoch).unwrap_or(u64::MAX);
            self.start = ((target % per_epoch) * b) as usize;
            target - now
        } else {
            // Batches straddle epochs: batch `i` holds items `i·b ..` of the stream of epochs.
            let now = self.epoch as u128 * len + self.start as u128;
            let end = self.n_epochs.map(|e| e as u128 * len);
            let left = end.map_or(u128::MAX, |end| (end - now).div_ceil(b));
            let moved = left.min(n as u128);
            let target = end.map_or(now + moved * b, |end| end.min(now + moved * b));
            self.epoch = u64::try_from(target / len).unwrap_or(u64::MAX);
            self.start = (target % len) as usize;
            moved
        };
        // `moved <= n`, a u64.
        let moved = moved as u64;
        self.iters = self.iters.saturating_add(moved);
        if self.epochs_done() {
            self.stopped = true;
        }
        moved
    }

    /// Moves to the next batch, appending its positions to `out` when given; `false` when
    /// the run is over.
    fn step(&mut self, mut out: Option<&mut Vec<usize>>) -> bool {
        loop {
            if self.stopped || self.n_iters.is_some_and(|n| self.iters >= n) || self.epochs_done() {
                self.stopped = true;
                return false;
            }
            let remaining = self.len - self.start;
            self.batch_epoch = self.epoch;
            if remaining > self.batch_size {
                let from = self.start;
                self.start += self.batch_size;
                if let Some(out) = out.as_deref_mut() {
                    self.take(from, self.start, out);
                }
                self.iters = self.iters.saturating_add(1);
                return true;
            }
            // This batch ends the epoch.
            let need = if self.within_epochs {
                0
            } else {
                self.batch_size - remaining
            };
            if remaining < self.batch_size && self.drop_last {
                self.epoch = self.epoch.saturating_add(1);
                self.start = 0;
                continue;
            }
            if let Some(out) = out.as_deref_mut() {
                self.take(self.start, self.len, out);
            }
            self.epoch = self.epoch.saturating_add(1);
            self.start = 0;
            self.iters = self.iters.saturating_add(1);
            if need > 0 {
                if self.epochs_done() {
                    self.stopped = true;
                } else {
                    if let Some(out) = out.as_deref_mut() {
                        self.take(0, need, out);
                    }
                    self.start = need;
                }
            }
            return true;
        }
    }
}

/// An iterator over the batches of an index: see [`DatasetIndex::gen_batch`].
#[derive(Debug)]
pub struct Batches<I: Id = usize> {
    index: DatasetIndex<I>,
    sampler: Sampler,
}

impl<I: Id> Batches<I> {
    pub(crate) fn new(index: DatasetIndex<I>, sampler: Sampler) -> Self {
        Self { index, sampler }
    }
}

impl<I: Id> Iterator for Batches<I> {
    type Item = BatchIndex<I>;

    fn next(&mut self) -> Option<BatchIndex<I>> {
        let positions = self.sampler.next_positions()?;
        Some(self.index.batch_at(positions))
    }
}

impl<I: Id> std::iter::FusedIterator for Batches<I> {}

#[cfg(test)]
mod tests {
    use super::super::{BatchSpec, IndexError, Shuffle};
    use super::*;

    fn ids(len: usize, spec: &BatchSpec) -> Vec<Vec<usize>> {
        DatasetIndex::from_count(len)
            .gen_batch(spec)
            .unwrap()
            .map(|b| b.ids().to_vec())
            .collect()
    }

    #[test]
    fn batchflow_examples() {
        let spec = BatchSpec::new(3).n_epochs(2);
        assert_eq!(
            ids(4, &spec),
            vec![vec![0, 1, 2], vec![3, 0, 1], vec![2, 3]]
        );
        let spec = spec.drop_last(true);
        assert_eq!(ids(4, &spec), vec![vec![0, 1, 2], vec![0, 1, 2]]);
    }

    #[test]
    fn one_epoch_by_default_and_exact_fit() {
        assert_eq!(ids(4, &BatchSpec::new(2)), vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(
            ids(5, &BatchSpec::new(5).n_epochs(2)),
            vec![(0..5).collect::<Vec<_>>(); 2]
        );
        assert_eq!(ids(3, &BatchSpec::new(2)), vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn n_iters_runs_over_epochs() {
        let got = ids(3, &BatchSpec::new(2).n_iters(4));
        assert_eq!(got, vec![vec![0, 1], vec![2, 0], vec![1, 2], vec![0, 1]]);
        let got = ids(3, &BatchSpec::new(2).n_iters(3).drop_last(true));
        assert_eq!(got, vec![vec![0, 1], vec![0, 1], vec![0, 1]]);
        assert!(ids(3, &BatchSpec::new(2).n_iters(0)).is_empty());
        assert!(ids(3, &BatchSpec::new(2).n_epochs(0)).is_empty());
    }

    #[test]
    fn spec_errors() {
        let index = DatasetIndex::from_count(4);
        assert!(matches!(
            index.gen_batch(&BatchSpec::new(0)),
            Err(IndexError::ZeroBatchSize)
        ));
        let err = index.gen_batch(&BatchSpec::new(5)).unwrap_err();
        assert!(matches!(
            err,
            IndexError::BatchTooLarge {
                batch_size: 5,
                len: 4
            }
        ));
        assert_eq!(
            err.to_string(),
            "batch_size 5 is larger than the index (4 items)"
        );
        assert!(matches!(
            index.gen_batch(&BatchSpec::new(2).n_epochs(1).n_iters(1)),
            Err(IndexError::EpochsAndIters)
        ));
        let mut index = index;
        assert!(index.next_batch(&BatchSpec::new(0)).is_err());
    }

    #[test]
    fn every_epoch_is_reshuffled() {
        let spec = BatchSpec::new(10).n_epochs(3).shuffle(Shuffle::Seeded(7));
        let got = ids(10, &spec);
        assert_eq!(got.len(), 3);
        assert_ne!(got[0], got[1]);
        assert_ne!(got[1], got[2]);
        for epoch in &got {
            let mut e = epoch.clone();
            e.sort_unstable();
            assert_eq!(e, (0..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn next_batch_is_endless_by_default_and_stops_with_epochs() {
        let mut index = DatasetIndex::from_count(3);
        let spec = BatchSpec::new(2);
        for _ in 0..10 {
            assert_eq!(index.next_batch(&spec).unwrap().unwrap().len(), 2);
        }
        index.reset_iter();
        let spec = BatchSpec::new(2).n_epochs(1);
        assert_eq!(index.next_batch(&spec).unwrap().unwrap().ids(), &[0, 1]);
        assert_eq!(index.next_batch(&spec).unwrap().unwrap().ids(), &[2]);
        assert!(index.next_batch(&spec).unwrap().is_none());
        assert!(index.next_batch(&spec).unwrap().is_none());
    }

    /// The old linear skip: one step per batch.
    fn skip_by_steps(s: &mut Sampler, n: u64) -> u64 {
        let mut skipped = 0;
        while skipped < n && s.step(None) {
            skipped += 1;
        }
        skipped
    }

    #[test]
    fn skip_is_arithmetic_and_lands_where_stepping_does() {
        for len in [1usize, 3, 7, 10] {
            for b in 1..=len {
                for (drop_last, within) in [(false, false), (true, false), (false, true)] {
                    for (epochs, iters) in [(Some(3), None), (None, Some(11)), (None, None)] {
                        for n in [0u64, 1, 2, 5, 9, 30, 200] {
                            let mk =
                                || Sampler::new(len, len, 0, b, drop_last, Some(5), epochs, iters);
                            let (mut fast, mut slow) = (mk(), mk());
                            let limit = if epochs.is_none() && iters.is_none() {
                                50
                            } else {
                                u64::MAX
                            };
                            let n = n.min(limit);
                            assert_eq!(
                                fast.skip(n),
                                skip_by_steps(&mut slow, n),
                                "len {len} b {b} drop_last {drop_last} within {within} {epochs:?} {iters:?} n {n}"
                            );
                            for _ in 0..40 {
                                assert_eq!(fast.next_positions(), slow.next_positions());
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn skipping_u64_max_batches_of_an_endless_run_returns_at_once() {
        let mut s = Sampler::new(10, 10, 0, 3, false, Some(1), None, None);
        assert_eq!(s.skip(u64::MAX), u64::MAX);
        // u64::MAX · 3 items: epoch (2^64 - 1) · 3 / 10, position 5 of it.
        let items = u64::MAX as u128 * 3;
        assert_eq!((s.epoch as u128, s.start as u128), (items / 10, items % 10));
        assert_eq!(s.next_positions().map(|p| p.len()), Some(3));
        let mut s = Sampler::new(10, 10, 0, 3, true, None, None, None);
        assert_eq!(s.skip(u64::MAX), u64::MAX);
        assert_eq!(s.next_positions().map(|p| p.len()), Some(3));
    }

    #[test]
    fn each_batch_reports_the_epoch_of_its_first_item() {
        // 4 items, batches of 3, 3 epochs, straddling: [0 1 2] [3 | 0 1] [2 3 | 0] [1 2 3].
        let mut s = Sampler::new(4, 4, 0, 3, false, None, Some(3), None);
        let got: Vec<(u64, Vec<usize>)> = std::iter::from_fn(|| s.next_batch()).collect();
        assert_eq!(
            got,
            vec![
                (0, vec![0, 1, 2]),
                (0, vec![3, 0, 1]),
                (1, vec![2, 3, 0]),
                (2, vec![1, 2, 3])
            ]
        );
        // drop_last: the items left over are skipped, the next batch is in the next epoch.
        let mut s = Sampler::new(4, 4, 0, 3, true, None, Some(3), None);
        let epochs: Vec<u64> = std::iter::from_fn(|| s.next_batch().map(|b| b.0)).collect();
        assert_eq!(epochs, vec![0, 1, 2]);
        // After a skip, the epoch is where the skip landed.
        let mut s = Sampler::new(4, 4, 0, 3, false, None, None, None);
        s.skip(1_000);
        assert_eq!(s.next_batch().unwrap().0, 3_000 / 4);
    }

    #[test]
    fn describe_ids_is_short() {
        let b = BatchIndex::new((0..8).collect(), (0..8).collect());
        assert_eq!(b.describe_ids(), "[0, 1, 2, 3, 4, … 3 more]");
    }
}

//! The batch spec: how batches are drawn from an index.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{IndexError, Sampler};

/// Whether and how items are shuffled before each epoch.
///
/// `u64` converts to [`Shuffle::Seeded`] and `bool` to [`Shuffle::Random`] / [`Shuffle::Off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Shuffle {
    /// Index order in every epoch.
    #[default]
    Off,
    /// A permutation per epoch derived from this seed and the epoch number: reproducible to the
    /// bit.
    Seeded(u64),
    /// Like [`Shuffle::Seeded`] with a seed drawn from the operating system's entropy at the
    /// start of each run.
    Random,
}

impl Shuffle {
    /// The seed of the permutation, or `None` when items keep index order.
    pub(crate) fn resolve(self) -> Option<u64> {
        match self {
            Shuffle::Off => None,
            Shuffle::Seeded(seed) => Some(seed),
            Shuffle::Random => Some(rand::random()),
        }
    }
}

impl From<u64> for Shuffle {
    fn from(seed: u64) -> Self {
        Shuffle::Seeded(seed)
    }
}

impl From<bool> for Shuffle {
    fn from(on: bool) -> Self {
        if on {
            Shuffle::Random
        } else {
            Shuffle::Off
        }
    }
}

/// The random generator that permutes epoch `epoch` of a run seeded with `seed`.
///
/// Kept apart from the per-batch generators (which use the run seed itself) by a salt.
pub(crate) fn shuffle_rng(seed: u64, epoch: u64) -> ChaCha8Rng {
    const SALT: u64 = 0x5348_5546_464c_4521; // "SHUFFLE!"
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SALT);
    rng.set_stream(epoch);
    rng
}

/// How batches are drawn from an index: BatchFlow's semantics, exactly.
///
/// * Items are taken in index order (or the epoch's permutation when shuffled), `batch_size`
///   at a time. Every epoch is reshuffled.
/// * With `drop_last` off, a batch may straddle an epoch boundary (it takes the rest of one
///   epoch and the start of the next) and the last batch of the run may be short. With
///   `drop_last` on, the items left at the end of an epoch that do not fill a batch are dropped
///   and every batch is full.
/// * `n_epochs` ends the run after that many epochs, `n_iters` after that many batches; they
///   cannot both be set. When neither is set, a finite run ([`gen_batch`]) covers one epoch and
///   a stateful one ([`next_batch`]) is endless.
///
/// **Number of batches** for `n` items, batch size `b` and `e` epochs: `ceil(e·n / b)` with
/// `drop_last` off, `e · floor(n / b)` with it on; exactly `n_iters` when that is set.
///
/// [`gen_batch`]: super::DatasetIndex::gen_batch
/// [`next_batch`]: super::DatasetIndex::next_batch
///
/// # Examples
///
/// ```
/// use batchline::index::{BatchSpec, DatasetIndex};
///
/// let index = DatasetIndex::from_count(4);
/// let ids = |spec: BatchSpec| -> Vec<Vec<usize>> {
///     index.gen_batch(&spec).unwrap().map(|b| b.ids().to_vec()).collect()
/// };
/// assert_eq!(ids(BatchSpec::new(3).n_epochs(2)), [vec![0, 1, 2], vec![3, 0, 1], vec![2, 3]]);
/// assert_eq!(ids(BatchSpec::new(3).n_epochs(2).drop_last(true)), [vec![0, 1, 2], vec![0, 1, 2]]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSpec {
    pub(crate) batch_size: usize,
    pub(crate) shuffle: Shuffle,
    pub(crate) n_epochs: Option<u64>,
    pub(crate) n_iters: Option<u64>,
    pub(crate) drop_last: bool,
}

impl BatchSpec {
    /// A spec for batches of `batch_size` items, in index order, one epoch, last batch kept.
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size,
            shuffle: Shuffle::Off,
            n_epochs: None,
            n_iters: None,
            drop_last: false,
        }
    }

    /// Sets the shuffle: a [`Shuffle`], a `u64` seed, or a `bool` (random / off).
    #[must_use]
    pub fn shuffle(mut self, shuffle: impl Into<Shuffle>) -> Self {
        self.shuffle = shuffle.into();
        self
    }

    /// Ends the run after `n` epochs.
    #[must_use]
    pub fn n_epochs(mut self, n: u64) -> Self {
        self.n_epochs = Some(n);
        self
    }

    /// Ends the run after `n` batches.
    #[must_use]
    pub fn n_iters(mut self, n: u64) -> Self {
        self.n_iters = Some(n);
        self
    }

    /// Drops the items at the end of an epoch that do not fill a whole batch.
    #[must_use]
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The shuffle setting.
    pub fn shuffle_mode(&self) -> Shuffle {
        self.shuffle
    }

    /// Checks the spec against an index of `len` items.
    ///
    /// # Errors
    ///
    /// [`IndexError::ZeroBatchSize`], [`IndexError::BatchTooLarge`] or
    /// [`IndexError::EpochsAndIters`].
    pub fn validate(&self, len: usize) -> Result<(), IndexError> {
        if self.batch_size == 0 {
            return Err(IndexError::ZeroBatchSize);
        }
        if self.batch_size > len {
            return Err(IndexError::BatchTooLarge {
                batch_size: self.batch_size,
                len,
            });
        }
        if self.n_epochs.is_some() && self.n_iters.is_some() {
            return Err(IndexError::EpochsAndIters);
        }
        Ok(())
    }

    /// The number of batches a run over `len` items yields, or `None` for an endless run.
    ///
    /// `endless_default` tells what a spec with neither `n_epochs` nor `n_iters` means: an
    /// endless run (`true`) or one epoch (`false`).
    pub fn total_batches(&self, len: usize, endless_default: bool) -> Option<u64> {
        if self.batch_size == 0 {
            return Some(0);
        }
        let (n, b) = (len as u64, self.batch_size as u64);
        match (self.n_epochs, self.n_iters) {
            (_, Some(iters)) => Some(iters),
            (None, None) if endless_default => None,
            (epochs, None) => {
                let e = epochs.unwrap_or(1);
                Some(if self.drop_last {
                    e * (n / b)
                } else {
                    (e * n).div_ceil(b)
                })
            }
        }
    }

    /// A sampler for an index of `len` items.
    pub(crate) fn sampler(&self, len: usize, endless_default: bool) -> Result<Sampler, IndexError> {
        self.sampler_with_seed(len, endless_default, self.shuffle.resolve())
    }

    /// A sampler whose permutation seed is already resolved.
    pub(crate) fn sampler_with_seed(
        &self,
        len: usize,
        endless_default: bool,
        shuffle_seed: Option<u64>,
    ) -> Result<Sampler, IndexError> {
        self.validate(len)?;
        let n_epochs = match (self.n_epochs, self.n_iters) {
            (None, None) if !endless_default => Some(1),
            (epochs, _) => epochs,
        };
        Ok(Sampler::new(
            len,
            self.batch_size,
            self.drop_last,
            shuffle_seed,
            n_epochs,
            self.n_iters,
        ))
    }
}

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
///   On indexes of 65 536 ids or more, the next epoch's permutation is computed on a
///   background thread while an epoch is drawn, so that a new epoch does not wait for an O(N)
///   shuffle; it is the same permutation, to the bit, as one computed when the epoch starts.
/// * BatchFlow's rule (the default; PyTorch's is [`BatchSpec::within_epochs`]):
///   with `drop_last` off, a batch may straddle an epoch boundary (it takes the rest of one
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
/// use batchline::{BatchSpec, DatasetIndex};
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
    #[serde(default)]
    pub(crate) shard: Option<Shard>,
    #[serde(default)]
    pub(crate) start_epoch: u64,
    #[serde(default)]
    pub(crate) within_epochs: bool,
}

/// One process's part of every epoch, for a run split across `world_size` processes (ranks),
/// as in data-parallel training.
///
/// Every rank computes the same permutation of the epoch (the shuffle seed must be the same on
/// every rank: use [`Shuffle::Seeded`]) and takes the `rank`-th of `world_size` equal slices
/// of it. **The remainder is dropped**: each epoch, `len % world_size` items (other ones each
/// epoch when shuffled) go to no rank, so that every rank has exactly the same number of items
/// and batches and collective steps never wait for a rank that ran out. Slices are disjoint;
/// together they cover every item exactly once per epoch when `world_size` divides `len`.
///
/// # Examples
///
/// ```
/// use batchline::{BatchSpec, DatasetIndex, Shard};
///
/// let index = DatasetIndex::from_count(10);
/// let ranks: Vec<Vec<usize>> = (0..3)
///     .map(|rank| {
///         let spec = BatchSpec::new(3).shuffle(7).shard(Shard::new(rank, 3));
///         index.gen_batch(&spec).unwrap().flat_map(|b| b.ids().to_vec()).collect()
///     })
///     .collect();
/// assert!(ranks.iter().all(|r| r.len() == 3)); // 10 / 3 items each; one item dropped
/// # Ok::<(), batchline::IndexError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This process's rank, from 0.
    pub rank: usize,
    /// The number of processes.
    pub world_size: usize,
    /// The rank among the processes of this machine, when the launcher says (to pick a GPU,
    /// say); it does not change the items.
    pub local_rank: Option<usize>,
}

impl Shard {
    /// Rank `rank` of `world_size`.
    pub fn new(rank: usize, world_size: usize) -> Self {
        Self {
            rank,
            world_size,
            local_rank: None,
        }
    }

    /// The shard the launcher describes in the environment, or `None` when it describes none:
    /// `RANK` / `WORLD_SIZE` / `LOCAL_RANK` (torchrun and most launchers), then Open MPI's
    /// `OMPI_COMM_WORLD_RANK` / `OMPI_COMM_WORLD_SIZE` / `OMPI_COMM_WORLD_LOCAL_RANK`, MPICH's
    /// `PMI_RANK` / `PMI_SIZE`, and Slurm's `SLURM_PROCID` / `SLURM_NTASKS` /
    /// `SLURM_LOCALID`.
    ///
    /// # Errors
    ///
    /// [`IndexError::InvalidShard`] when a variable is not a number, or only one of the pair
    /// is set.
    pub fn from_env() -> Result<Option<Self>, IndexError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, IndexError> {
        const SCHEMES: [(&str, &str, &str); 4] = [
            ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
            (
                "OMPI_COMM_WORLD_RANK",
                "OMPI_COMM_WORLD_SIZE",
                "OMPI_COMM_WORLD_LOCAL_RANK",
            ),
            ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
            ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
        ];
        let number = |name: &str| -> Result<Option<usize>, IndexError> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| IndexError::InvalidShard {
                            message: format!("{name}={v:?} is not a number"),
                        })
                })
                .transpose()
        };
        for (rank, size, local) in SCHEMES {
            match (number(rank)?, number(size)?) {
                (None, None) => continue,
                (Some(r), Some(w)) => {
                    let shard = Shard {
                        rank: r,
                        world_size: w,
                        local_rank: number(local)?,
                    };
                    shard.check()?;
                    return Ok(Some(shard));
                }
                _ => {
                    return Err(IndexError::InvalidShard {
                        message: format!("{rank} and {size} must be set together"),
                    })
                }
            }
        }
        Ok(None)
    }

    fn check(&self) -> Result<(), IndexError> {
        if self.world_size == 0 || self.rank >= self.world_size {
            return Err(IndexError::InvalidShard {
                message: format!(
                    "rank {} of world size {}: the rank must be below the world size",
                    self.rank, self.world_size
                ),
            });
        }
        Ok(())
    }

    /// The items of each rank per epoch, and the first of this rank's slice.
    pub(crate) fn slice(&self, len: usize) -> (usize, usize) {
        let per_rank = len / self.world_size;
        (per_rank, self.rank * per_rank)
    }
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
            shard: None,
            start_epoch: 0,
            within_epochs: false,
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

    /// Starts at epoch `e` (counting from 0): the run draws epoch `e`'s permutation first,
    /// then `e + 1`'s and so on, and `n_epochs(n)` ends it after `n` epochs from there. Runs
    /// of one epoch each, `start_epoch(e).n_epochs(1)` for `e = 0, 1, 2, …`, give together the
    /// same epochs as one run of `n_epochs`: each reshuffled, reproducibly for a seed. (Under
    /// the straddling rule such a run's last batch is short instead of taking items of the
    /// next epoch.)
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{BatchSpec, DatasetIndex};
    ///
    /// let index = DatasetIndex::from_count(6);
    /// let ids = |spec: BatchSpec| -> Vec<usize> {
    ///     index.gen_batch(&spec).unwrap().flat_map(|b| b.ids().to_vec()).collect()
    /// };
    /// let whole = ids(BatchSpec::new(3).shuffle(5).n_epochs(3));
    /// let third = ids(BatchSpec::new(3).shuffle(5).start_epoch(2).n_epochs(1));
    /// assert_eq!(third, whole[12..]);
    /// ```
    #[must_use]
    pub fn start_epoch(mut self, e: u64) -> Self {
        self.start_epoch = e;
        self
    }

    /// PyTorch's rule (`true`) instead of BatchFlow's (`false`, the default): no batch
    /// straddles two epochs. An epoch's last batch is short (or dropped with `drop_last`),
    /// never filled with items of the next epoch, so no batch holds an item twice; an index
    /// smaller than the batch size gives one short batch per epoch instead of
    /// [`IndexError::BatchTooLarge`]. Batches per run: `e · ceil(n / b)` (`e · floor(n / b)`
    /// with `drop_last`).
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{BatchSpec, DatasetIndex};
    ///
    /// let index = DatasetIndex::from_count(4);
    /// let ids = |spec: BatchSpec| -> Vec<Vec<usize>> {
    ///     index.gen_batch(&spec).unwrap().map(|b| b.ids().to_vec()).collect()
    /// };
    /// let spec = BatchSpec::new(3).n_epochs(2);
    /// assert_eq!(ids(spec.clone()), [vec![0, 1, 2], vec![3, 0, 1], vec![2, 3]]); // BatchFlow
    /// assert_eq!(ids(spec.within_epochs(true)), [vec![0, 1, 2], vec![3], vec![0, 1, 2], vec![3]]);
    /// // A validation set smaller than the batch: one short batch.
    /// assert_eq!(ids(BatchSpec::new(8).within_epochs(true)), [vec![0, 1, 2, 3]]);
    /// ```
    #[must_use]
    pub fn within_epochs(mut self, on: bool) -> Self {
        self.within_epochs = on;
        self
    }

    /// Takes only this process's part of every epoch: see [`Shard`].
    #[must_use]
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }

    /// The items a run draws from per epoch: all of them, or this shard's part.
    pub(crate) fn items_per_epoch(&self, len: usize) -> usize {
        self.shard.map_or(len, |s| s.slice(len).0)
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
        if let Some(shard) = &self.shard {
            shard.check()?;
            if self.shuffle == Shuffle::Random {
                return Err(IndexError::InvalidShard {
                    message: "Shuffle::Random draws another permutation on every rank, so ranks \
                              would overlap: use shuffle(seed) with the same seed on every rank"
                        .into(),
                });
            }
            let per_rank = shard.slice(len).0;
            if per_rank == 0
                || (self.batch_size > per_rank && (self.drop_last || !self.within_epochs))
            {
                return Err(IndexError::InvalidShard {
                    message: format!(
                        "batch_size {} is larger than a shard ({len} items / world size {} = \
                         {per_rank} items per rank)",
                        self.batch_size, shard.world_size
                    ),
                });
            }
        }
        if len == 0 && self.within_epochs {
            return Err(IndexError::BatchTooLarge {
                batch_size: self.batch_size,
                len,
            });
        }
        if self.batch_size > len && (self.drop_last || !self.within_epochs) {
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

    /// The number of batches a run over `len` items yields, or `None` for an endless run (or
    /// one too long to count in a `u64`).
    ///
    /// `endless_default` tells what a spec with neither `n_epochs` nor `n_iters` means: an
    /// endless run (`true`) or one epoch (`false`).
    pub fn total_batches(&self, len: usize, endless_default: bool) -> Option<u64> {
        if self.batch_size == 0 {
            return Some(0);
        }
        let (n, b) = (self.items_per_epoch(len) as u64, self.batch_size as u64);
        match (self.n_epochs, self.n_iters) {
            (_, Some(iters)) => Some(iters),
            (None, None) if endless_default => None,
            (epochs, None) => {
                let e = epochs.unwrap_or(1);
                // A total beyond u64 (absurd epoch counts) is as good as endless.
                if self.drop_last {
                    e.checked_mul(n / b)
                } else if self.within_epochs {
                    e.checked_mul(n.div_ceil(b))
                } else {
                    e.checked_mul(n).map(|items| items.div_ceil(b))
                }
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
        // The sampler counts epochs from 0: the run ends at epoch `start + n`.
        let n_epochs = match (self.n_epochs, self.n_iters) {
            (None, None) if !endless_default => Some(1),
            (epochs, _) => epochs,
        }
        .map(|n| n.saturating_add(self.start_epoch));
        let (per_epoch, offset) = self.shard.map_or((len, 0), |s| s.slice(len));
        Ok(Sampler::new(
            len,
            per_epoch,
            offset,
            self.batch_size,
            self.drop_last,
            shuffle_seed,
            n_epochs,
            self.n_iters,
        )
        .starting_at(self.start_epoch)
        .within_epochs(self.within_epochs))
    }
}

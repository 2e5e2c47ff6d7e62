//! [`RunSpec`]: what a run draws and how it executes.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Observer;
use crate::index::{BatchSpec, IndexError, Shuffle};

/// How to run a pipeline: the [`BatchSpec`] of the index (batch size, shuffle, epochs or
/// iterations, drop_last) plus prefetch, error handling, the run's seed and an event observer.
///
/// # Examples
///
/// ```
/// use batchline::{EventRecorder, RunSpec};
///
/// let recorder = EventRecorder::new();
/// let spec = RunSpec::new(64)
///     .shuffle(42)          // seeded: every epoch reshuffled, reproducible to the bit
///     .n_epochs(2)
///     .drop_last(true)
///     .prefetch(3)          // 3 batches processed in the background
///     .ignore_errors(true)  // failed batches are skipped and counted
///     .observer(recorder.clone());
/// assert_eq!(spec.prefetch_depth(), 3);
/// ```
#[derive(Clone)]
pub struct RunSpec {
    pub(crate) batches: BatchSpec,
    pub(crate) prefetch: usize,
    pub(crate) ignore_errors: bool,
    pub(crate) seed: Option<u64>,
    pub(crate) observer: Option<Arc<dyn Observer>>,
    pub(crate) profile: bool,
    pub(crate) progress: bool,
    pub(crate) item_threads: Option<usize>,
    pub(crate) max_failures: Option<FailureBudget>,
    /// `prefetch = auto`: the memory budget in bytes and the deepest `k`.
    pub(crate) auto: Option<(u64, usize)>,
}

/// How many failed batches a run may skip before it stops: see [`RunSpec::max_failures`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum FailureBudget {
    /// At most this many failed batches.
    Count(u64),
    /// At most this fraction (0 to 1) of the run's batches (which must be known: `n_epochs`
    /// or `n_iters`, or one epoch by default for `gen_batch`).
    Fraction(f64),
}

impl From<u64> for FailureBudget {
    fn from(n: u64) -> Self {
        FailureBudget::Count(n)
    }
}

impl From<f64> for FailureBudget {
    fn from(f: f64) -> Self {
        FailureBudget::Fraction(f)
    }
}

impl FailureBudget {
    /// The number of failures allowed in a run of `total` batches.
    pub(crate) fn allowed(self, total: Option<u64>) -> Result<u64, String> {
        match self {
            FailureBudget::Count(n) => Ok(n),
            FailureBudget::Fraction(f) if !(0.0..=1.0).contains(&f) => {
                Err(format!("max_failures: the fraction {f} is not in [0, 1]"))
            }
            FailureBudget::Fraction(f) => match total {
                Some(t) => Ok((f * t as f64).floor() as u64),
                None => Err(
                    "max_failures as a fraction needs a run of known length (n_epochs or n_iters)"
                        .into(),
                ),
            },
        }
    }
}

impl fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunSpec")
            .field("batches", &self.batches)
            .field("prefetch", &self.prefetch)
            .field("ignore_errors", &self.ignore_errors)
            .field("seed", &self.seed)
            .field("observer", &self.observer.is_some())
            .field("profile", &self.profile)
            .field("progress", &self.progress)
            .field("item_threads", &self.item_threads)
            .field("max_failures", &self.max_failures)
            .field("auto", &self.auto)
            .finish()
    }
}

impl From<BatchSpec> for RunSpec {
    fn from(batches: BatchSpec) -> Self {
        Self {
            batches,
            prefetch: 0,
            ignore_errors: false,
            seed: None,
            observer: None,
            profile: false,
            progress: false,
            item_threads: None,
            max_failures: None,
            auto: None,
        }
    }
}

impl RunSpec {
    /// A spec for batches of `batch_size` items, in index order, no prefetch.
    pub fn new(batch_size: usize) -> Self {
        BatchSpec::new(batch_size).into()
    }

    /// Sets the shuffle: a [`Shuffle`], a `u64` seed, or a `bool`.
    #[must_use]
    pub fn shuffle(mut self, shuffle: impl Into<Shuffle>) -> Self {
        self.batches = self.batches.shuffle(shuffle);
        self
    }

    /// Ends the run after `n` epochs.
    #[must_use]
    pub fn n_epochs(mut self, n: u64) -> Self {
        self.batches = self.batches.n_epochs(n);
        self
    }

    /// Starts the run at epoch `e` (its permutation and the epochs after it): see
    /// [`BatchSpec::start_epoch`](crate::BatchSpec::start_epoch).
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::RunSpec;
    ///
    /// let epoch_3 = RunSpec::new(32).shuffle(7).start_epoch(3).n_epochs(1);
    /// # let _ = epoch_3;
    /// ```
    #[must_use]
    pub fn start_epoch(mut self, e: u64) -> Self {
        self.batches = self.batches.start_epoch(e);
        self
    }

    /// PyTorch's rule: no batch straddles two epochs; see
    /// [`BatchSpec::within_epochs`](crate::BatchSpec::within_epochs).
    ///
    /// # Examples
    ///
    /// ```
    /// let val = batchline::RunSpec::new(64).within_epochs(true); // one short batch per epoch
    /// # let _ = val;
    /// ```
    #[must_use]
    pub fn within_epochs(mut self, on: bool) -> Self {
        self.batches = self.batches.within_epochs(on);
        self
    }

    /// Ends the run after `n` batches.
    #[must_use]
    pub fn n_iters(mut self, n: u64) -> Self {
        self.batches = self.batches.n_iters(n);
        self
    }

    /// Takes only this process's part of every epoch (data-parallel training): see
    /// [`Shard`](crate::index::Shard); `Shard::from_env()` reads it from the launcher's
    /// environment.
    #[must_use]
    pub fn shard(mut self, shard: crate::index::Shard) -> Self {
        self.batches = self.batches.shard(shard);
        self
    }

    /// Drops the items at the end of an epoch that do not fill a batch.
    #[must_use]
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.batches = self.batches.drop_last(drop_last);
        self
    }

    /// Processes `k` batches in the background beyond the one the consumer holds.
    ///
    /// `0` (the default) runs every action on the consumer's thread when it asks for a batch.
    #[must_use]
    pub fn prefetch(mut self, k: usize) -> Self {
        self.prefetch = k;
        self.auto = None;
        self
    }

    /// Lets the run choose and adapt the prefetch depth while it runs, keeping the batches in
    /// flight within `budget_bytes`, up to `k = 32`. Batches are the same, to the bit, as with
    /// any fixed depth; [`RunReport::prefetch`](crate::RunReport::prefetch) tells the depth
    /// reached.
    ///
    /// # The rule
    ///
    /// The run starts with one batch in flight (on a worker), and the consumer's side
    /// measures, per window, the throughput and the share of the window the consumer spent
    /// waiting. A window is 8 batches or two rounds of the batches in flight (`2 (k + 1)`),
    /// whichever is more, and at least 5 ms; it starts only after the batches that were in
    /// flight when the depth last changed have gone by, so that each depth is measured in its
    /// steady state.
    ///
    /// * **Memory first.** The largest batch seen so far (by
    ///   [`Batch::size_bytes`](crate::Batch::size_bytes), measured when the consumer receives
    ///   it) bounds the depth: `k + 1 ≤ budget / largest`, at once whenever a larger batch is
    ///   seen.
    /// * **Grow while it pays.** While the consumer waits more than 5% of a window, `k + 1`
    ///   doubles (within the bound), as long as the window's throughput beat the best one seen
    ///   by 10%; when a doubling brings no such gain, the depth goes back to the best one and
    ///   stays (the pipeline is bound by its CPU, a lock, or the consumer: more batches in
    ///   flight would only use memory). Doubling reaches `k = 7` within about 40 batches and
    ///   `k = 32` within about 200.
    /// * **Look again.** Once settled, if the consumer waits clearly more than when the depth
    ///   settled (15 points more, and over 20%) for 4 windows in a row, growing starts again
    ///   from the current depth.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::IdsBatch;
    /// use batchline::{Context, Dataset, DatasetIndex, RunSpec};
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(200), ());
    /// let p = ds.p().apply("io", |_: &mut IdsBatch, _: &mut Context| {
    ///     std::thread::sleep(std::time::Duration::from_millis(2)) // waits, like I/O
    /// });
    /// let report = p.run(&RunSpec::new(2).prefetch_auto(64 << 20))?;
    /// assert!(report.prefetch >= 1, "k = {}", report.prefetch); // deeper on an idle machine
    /// # Ok::<(), batchline::PipelineError>(())
    /// ```
    #[must_use]
    pub fn prefetch_auto(mut self, budget_bytes: u64) -> Self {
        self.auto = Some((budget_bytes, 32));
        self
    }

    /// Skips failed batches (counting them in the report and logging them through `tracing`)
    /// instead of ending the run with the error.
    #[must_use]
    pub fn ignore_errors(mut self, ignore: bool) -> Self {
        self.ignore_errors = ignore;
        self
    }

    /// Skips failed batches like [`ignore_errors`](Self::ignore_errors), up to a budget: a
    /// count (`5_u64`) or a fraction of the run's batches (`0.01`). Every skipped batch is
    /// listed in [`RunReport::failures`](crate::RunReport::failures); the failure that exceeds
    /// the budget ends the run with [`PipelineError::TooManyFailures`](crate::PipelineError),
    /// which summarises them. A resumed run (see
    /// [`Pipeline::resume`](crate::Pipeline::resume)) counts its failures afresh, and a
    /// fraction applies to the batches it has left.
    #[must_use]
    pub fn max_failures(mut self, budget: impl Into<FailureBudget>) -> Self {
        self.max_failures = Some(budget.into());
        self
    }

    /// Sets the run's seed, from which every batch's random generator derives.
    ///
    /// Without it, the seed of [`Shuffle::Seeded`] is used, or else one drawn from entropy.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sends every event of the run to `observer`.
    #[must_use]
    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Records the run's events and computes its [`Profile`](crate::Profile): per-action
    /// times, lock waits, the consumer's waiting and working time, and the share of time each
    /// action held the consumer up. Read it from [`BatchIter::profile`](crate::BatchIter::profile)
    /// or [`RunReport::profile`](crate::RunReport::profile).
    #[must_use]
    pub fn profile(mut self, on: bool) -> Self {
        self.profile = on;
        self
    }

    /// Shows a progress bar on standard error (batches, batches/s and items/s; the total comes
    /// from `n_iters`, or from `n_epochs` with the batch size and `drop_last`). It stays
    /// silent when standard error is not a terminal, and without the `progress` cargo
    /// feature (on by default).
    #[must_use]
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Runs the per-item work of [`Context::par_map`](crate::Context::par_map) and its kin on a
    /// pool of `n` threads of the run's own, instead of rayon's global pool (sized to the
    /// machine's cores, or to `RAYON_NUM_THREADS`). Results do not depend on `n`.
    #[must_use]
    pub fn item_threads(mut self, n: usize) -> Self {
        self.item_threads = Some(n.max(1));
        self
    }

    /// The index part of the spec.
    pub fn batch_spec(&self) -> &BatchSpec {
        &self.batches
    }

    /// The fixed prefetch depth `k` (0 under [`prefetch_auto`](Self::prefetch_auto), whose
    /// depth changes while it runs: see [`BatchIter::prefetch_depth`](crate::BatchIter::prefetch_depth)).
    pub fn prefetch_depth(&self) -> usize {
        if self.auto.is_some() {
            0
        } else {
            self.prefetch
        }
    }

    /// The memory budget of [`prefetch_auto`](Self::prefetch_auto), when it is on.
    pub fn prefetch_auto_budget(&self) -> Option<u64> {
        self.auto.map(|(budget, _)| budget)
    }

    /// Resolves the run seed and the shuffle seed.
    pub(crate) fn seeds(&self) -> (u64, Option<u64>) {
        let run_seed = self.seed.unwrap_or(match self.batches.shuffle {
            Shuffle::Seeded(s) => s,
            _ => rand::random(),
        });
        let shuffle_seed = match self.batches.shuffle {
            Shuffle::Off => None,
            Shuffle::Seeded(s) => Some(s),
            Shuffle::Random => Some(run_seed),
        };
        (run_seed, shuffle_seed)
    }

    /// Checks the spec against an index of `len` items.
    ///
    /// # Errors
    ///
    /// As [`BatchSpec::validate`].
    pub fn validate(&self, len: usize) -> Result<(), IndexError> {
        self.batches.validate(len)
    }
}

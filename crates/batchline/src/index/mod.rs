//! Dataset indices: the ids of all items, splits, subsets and batch generation.
//!
//! A [`DatasetIndex`] holds the ids of every item of a dataset in a fixed order. Batches are
//! drawn from it with a [`BatchSpec`] (`batch_size`, `shuffle`, `n_epochs` or `n_iters`,
//! `drop_last`) following BatchFlow's semantics exactly; see [`BatchSpec`] for the rules and the
//! closed formula for the number of batches.
//!
//! # Examples
//!
//! ```
//! use batchline::{BatchSpec, DatasetIndex};
//!
//! let index = DatasetIndex::from_count(4);
//! let spec = BatchSpec::new(3).n_epochs(2);
//! let batches: Vec<Vec<usize>> = index
//!     .gen_batch(&spec)?
//!     .map(|b| b.ids().to_vec())
//!     .collect();
//! assert_eq!(batches, vec![vec![0, 1, 2], vec![3, 0, 1], vec![2, 3]]);
//! # Ok::<(), batchline::IndexError>(())
//! ```

mod files;
mod order;
mod sampler;
mod spec;

pub use files::{FileIds, FilesIndex, Skipped};
pub use sampler::{BatchIndex, Batches};
pub use spec::{BatchSpec, Shard, Shuffle};

pub(crate) use sampler::Sampler;

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rand::seq::SliceRandom;

/// The bound every item id satisfies: integers, strings, paths and any other cloneable,
/// hashable, thread-safe type.
pub trait Id: Clone + Eq + Hash + Debug + Send + Sync + 'static {}

impl<T: Clone + Eq + Hash + Debug + Send + Sync + 'static> Id for T {}

/// Errors from building an index, splitting it, or generating batches from it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The same id was given twice.
    #[error("duplicate id {id} at positions {first} and {second}")]
    DuplicateId {
        /// The id, as `Debug` prints it.
        id: String,
        /// Position of its first occurrence.
        first: usize,
        /// Position of its second occurrence.
        second: usize,
    },
    /// An id that the index does not hold.
    #[error("id {id} is not in the index")]
    UnknownId {
        /// The id, as `Debug` prints it.
        id: String,
    },
    /// The shares given to [`DatasetIndex::split`] are not usable.
    #[error("invalid split shares {shares:?}: {reason}")]
    InvalidShares {
        /// The shares as given.
        shares: Vec<f64>,
        /// What is wrong with them.
        reason: String,
    },
    /// `batch_size` is zero.
    #[error("batch_size must be at least 1")]
    ZeroBatchSize,
    /// `batch_size` is larger than the index.
    #[error("batch_size {batch_size} is larger than the index ({len} items)")]
    BatchTooLarge {
        /// The requested batch size.
        batch_size: usize,
        /// The number of items in the index.
        len: usize,
    },
    /// A shard that does not fit (rank beyond the world size, too few items per rank) or
    /// that the environment describes wrongly.
    #[error("invalid shard: {message}")]
    InvalidShard {
        /// What is wrong.
        message: String,
    },
    /// Both `n_epochs` and `n_iters` were set.
    #[error("n_epochs and n_iters cannot both be set")]
    EpochsAndIters,
    /// A glob pattern is malformed.
    #[error("invalid glob pattern {pattern:?}: {source}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// The parser's complaint.
        #[source]
        source: glob::PatternError,
    },
    /// A glob pattern matched no file.
    #[error("pattern {pattern:?} matched no file")]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
    /// Two files give the same id.
    #[error("files {first:?} and {second:?} both give the id {id:?}")]
    IdClash {
        /// The clashing id.
        id: String,
        /// The first file with that id.
        first: PathBuf,
        /// The second file with that id.
        second: PathBuf,
    },
    /// A file could not be read while expanding a pattern.
    #[error("cannot read {path:?}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The ids of all items of a dataset, in a fixed order.
///
/// Cloning is cheap (the ids are shared); a clone also carries the position of
/// [`next_batch`](Self::next_batch).
///
/// # Examples
///
/// ```
/// use batchline::DatasetIndex;
///
/// let index = DatasetIndex::from_ids(["a", "b", "c"])?;
/// assert_eq!(index.len(), 3);
/// assert_eq!(index.position(&"b"), Some(1));
/// assert!(DatasetIndex::from_ids(["a", "a"]).is_err());
/// # Ok::<(), batchline::IndexError>(())
/// ```
pub struct DatasetIndex<I: Id = usize> {
    inner: Arc<Inner<I>>,
    cursor: Option<Sampler>,
}

/// The state an index shares between its clones.
///
/// Invariant: `len` is the number of items; without `counted`, `ids` is set and holds `len`
/// ids; with it, the id at position `p` is `(counted.id)(p)` and `ids` is made only when
/// [`DatasetIndex::ids`] asks for the slice.
struct Inner<I> {
    len: usize,
    ids: OnceLock<Vec<I>>,
    counted: Option<Counted<I>>,
    positions: OnceLock<HashMap<I, usize>>,
    fingerprint: OnceLock<u64>,
}

/// How an index of `0..len` ([`DatasetIndex::from_count`]) maps positions to ids and back
/// without holding a `Vec` of them (8 B per item: 235 MB for 29.4 M rows).
struct Counted<I> {
    id: fn(usize) -> I,
    position: fn(&I) -> usize,
}

impl<I: Id> Clone for DatasetIndex<I> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            cursor: self.cursor.clone(),
        }
    }
}

impl<I: Id> Debug for DatasetIndex<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<I> = (0..self.len().min(8)).map(|p| self.id_at(p)).collect();
        f.debug_struct("DatasetIndex")
            .field("len", &self.len())
            .field("first_ids", &shown)
            .finish()
    }
}

impl DatasetIndex<usize> {
    /// An index of the ids `0..n`.
    ///
    /// It holds no list of ids: the id at position `p` is `p`, so an index of 30 M rows costs
    /// nothing up front ([`ids`](Self::ids) makes the list, once, when called).
    ///
    /// # Examples
    ///
    /// ```
    /// let index = batchline::DatasetIndex::from_count(5);
    /// assert_eq!(index.ids(), &[0, 1, 2, 3, 4]);
    /// ```
    pub fn from_count(n: usize) -> Self {
        Self::with_inner(Inner {
            len: n,
            ids: OnceLock::new(),
            counted: Some(Counted {
                id: |p| p,
                position: |&id| id,
            }),
            positions: OnceLock::new(),
            fingerprint: OnceLock::new(),
        })
    }
}

impl<I: Id> DatasetIndex<I> {
    fn with_inner(inner: Inner<I>) -> Self {
        Self {
            inner: Arc::new(inner),
            cursor: None,
        }
    }

    fn new_unchecked(ids: Vec<I>, positions: Option<HashMap<I, usize>>) -> Self {
        let cell = OnceLock::new();
        if let Some(p) = positions {
            // A fresh cell cannot be full.
            let _ = cell.set(p);
        }
        Self::with_inner(Inner {
            len: ids.len(),
            ids: OnceLock::from(ids),
            counted: None,
            positions: cell,
            fingerprint: OnceLock::new(),
        })
    }

    /// The id at position `p` (which must be below `len`).
    fn id_at(&self, p: usize) -> I {
        match &self.inner.counted {
            Some(counted) => (counted.id)(p),
            None => self.ids()[p].clone(),
        }
    }

    /// An index of the given ids, in the given order.
    ///
    /// # Errors
    ///
    /// [`IndexError::DuplicateId`] if an id occurs twice.
    pub fn from_ids(ids: impl IntoIterator<Item = I>) -> Result<Self, IndexError> {
        let ids: Vec<I> = ids.into_iter().collect();
        let mut positions = HashMap::with_capacity(ids.len());
        for (pos, id) in ids.iter().enumerate() {
            if let Some(first) = positions.insert(id.clone(), pos) {
                return Err(IndexError::DuplicateId {
                    id: format!("{id:?}"),
                    first,
                    second: pos,
                });
            }
        }
        Ok(Self::new_unchecked(ids, Some(positions)))
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Whether the index holds no item.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// All ids, in index order. (An index from [`from_count`](DatasetIndex::from_count)
    /// makes the list on the first call, 8 B per item, and keeps it.)
    pub fn ids(&self) -> &[I] {
        self.inner.ids.get_or_init(|| match &self.inner.counted {
            Some(counted) => (0..self.inner.len).map(counted.id).collect(),
            None => Vec::new(), // unreachable by the invariant: `ids` is set without `counted`
        })
    }

    /// A hash of the ids in order (computed once), the same on machines of the same word size
    /// and byte order: [`Checkpoint`](crate::Checkpoint)s carry it so that
    /// a run is never resumed on another index.
    pub fn fingerprint(&self) -> u64 {
        *self
            .inner
            .fingerprint
            .get_or_init(|| crate::fingerprint::fingerprint((0..self.len()).map(|p| self.id_at(p))))
    }

    /// The position of `id` in the index, if it is there.
    pub fn position(&self, id: &I) -> Option<usize> {
        if let Some(counted) = &self.inner.counted {
            let p = (counted.position)(id);
            return (p < self.len()).then_some(p);
        }
        self.inner
            .positions
            .get_or_init(|| {
                self.ids()
                    .iter()
                    .enumerate()
                    .map(|(p, id)| (id.clone(), p))
                    .collect()
            })
            .get(id)
            .copied()
    }

    /// The positions of several ids.
    ///
    /// # Errors
    ///
    /// [`IndexError::UnknownId`] for the first id that is not in the index.
    pub fn positions(&self, ids: &[I]) -> Result<Vec<usize>, IndexError> {
        ids.iter()
            .map(|id| {
                self.position(id).ok_or_else(|| IndexError::UnknownId {
                    id: format!("{id:?}"),
                })
            })
            .collect()
    }

    /// A new index with the given ids, in the given order.
    ///
    /// # Errors
    ///
    /// [`IndexError::UnknownId`] if an id is not in this index, [`IndexError::DuplicateId`] if one
    /// is given twice.
    pub fn subset(&self, ids: &[I]) -> Result<Self, IndexError> {
        self.positions(ids)?;
        Self::from_ids(ids.iter().cloned())
    }

    /// A new index with the items at the given positions (which must be distinct and in range).
    pub(crate) fn at_positions(&self, positions: &[usize]) -> Self {
        Self::new_unchecked(positions.iter().map(|&p| self.id_at(p)).collect(), None)
    }

    /// Splits the index into train / test (/ validation) parts by shares.
    ///
    /// `shares` holds one to three shares, each in `(0, 1]`, adding up to at most 1. If they
    /// add up to less than 1, one more part takes the rest: `[0.8]` gives train 0.8 and test
    /// 0.2; `[0.7, 0.2]` gives train 0.7, test 0.2 and validation 0.1. At most three parts
    /// result.
    ///
    /// **Rounding rule**: every part but the last has `round(share × len)` items (rounding half
    /// away from zero); the last part takes all remaining items, so no item is lost or doubled.
    ///
    /// With [`Shuffle::Off`] the parts are contiguous runs of the index order; otherwise the
    /// items are permuted first (reproducibly for [`Shuffle::Seeded`]).
    ///
    /// # Errors
    ///
    /// [`IndexError::InvalidShares`] if there are no shares or more than three parts would
    /// result, a share is not in `(0, 1]`, the shares add up to more than 1, or a part would be
    /// empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{DatasetIndex, Shuffle};
    ///
    /// let split = DatasetIndex::from_count(10).split(&[0.8], Shuffle::Off)?;
    /// assert_eq!(split.train.ids(), &[0, 1, 2, 3, 4, 5, 6, 7]);
    /// assert_eq!(split.test.ids(), &[8, 9]);
    /// assert!(split.validation.is_none());
    /// # Ok::<(), batchline::IndexError>(())
    /// ```
    pub fn split(
        &self,
        shares: &[f64],
        shuffle: impl Into<Shuffle>,
    ) -> Result<Split<Self>, IndexError> {
        let sizes = split_sizes(shares, self.len())?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        if let Some(seed) = shuffle.into().resolve() {
            order.shuffle(&mut spec::shuffle_rng(seed, u64::MAX));
        }
        let mut parts = Vec::with_capacity(3);
        let mut start = 0;
        for size in sizes {
            parts.push(self.at_positions(&order[start..start + size]));
            start += size;
        }
        Ok(Split::from_parts(parts))
    }

    /// Draws batches from the index as an iterator of [`BatchIndex`].
    ///
    /// When neither `n_epochs` nor `n_iters` is set, the iterator covers one epoch.
    ///
    /// # Errors
    ///
    /// The spec is checked against the index first: see [`BatchSpec::validate`].
    pub fn gen_batch(&self, spec: &BatchSpec) -> Result<Batches<I>, IndexError> {
        Ok(Batches::new(
            self.clone_ids(),
            spec.sampler(self.len(), false)?,
        ))
    }

    /// The next batch of a stateful iteration that continues where the previous call stopped.
    ///
    /// The first call (or the first after [`reset_iter`](Self::reset_iter)) starts an iteration
    /// with `spec`; later calls ignore `spec` and continue it. When neither `n_epochs` nor
    /// `n_iters` is set, the iteration is endless. Returns `Ok(None)` once the iteration is over.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{BatchSpec, DatasetIndex};
    ///
    /// let mut index = DatasetIndex::from_count(5);
    /// let spec = BatchSpec::new(2);
    /// assert_eq!(index.next_batch(&spec)?.unwrap().ids(), &[0, 1]);
    /// assert_eq!(index.next_batch(&spec)?.unwrap().ids(), &[2, 3]);
    /// assert_eq!(index.next_batch(&spec)?.unwrap().ids(), &[4, 0]); // endless
    /// index.reset_iter();
    /// assert_eq!(index.next_batch(&spec)?.unwrap().ids(), &[0, 1]);
    /// # Ok::<(), batchline::IndexError>(())
    /// ```
    pub fn next_batch(&mut self, spec: &BatchSpec) -> Result<Option<BatchIndex<I>>, IndexError> {
        if self.cursor.is_none() {
            self.cursor = Some(spec.sampler(self.len(), true)?);
        }
        let sampler = self.cursor.as_mut().expect("cursor was just set");
        Ok(sampler.next_positions().map(|p| self.batch_at(p)))
    }

    /// Forgets the position of [`next_batch`](Self::next_batch): the next call starts anew.
    pub fn reset_iter(&mut self) {
        self.cursor = None;
    }

    /// A copy of this index sharing its ids but without a `next_batch` position.
    pub(crate) fn clone_ids(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            cursor: None,
        }
    }

    /// The batch index of the items at `positions`.
    pub(crate) fn batch_at(&self, positions: Vec<usize>) -> BatchIndex<I> {
        BatchIndex::new(
            positions.iter().map(|&p| self.id_at(p)).collect(),
            positions,
        )
    }
}

/// Sizes of the parts of a split of `len` items by `shares` (see [`DatasetIndex::split`]).
fn split_sizes(shares: &[f64], len: usize) -> Result<Vec<usize>, IndexError> {
    let invalid = |reason: String| IndexError::InvalidShares {
        shares: shares.to_vec(),
        reason,
    };
    if shares.is_empty() {
        return Err(invalid("no share given".into()));
    }
    if let Some(s) = shares.iter().find(|s| !(**s > 0.0 && **s <= 1.0)) {
        return Err(invalid(format!("share {s} is not in (0, 1]")));
    }
    let total: f64 = shares.iter().sum();
    const EPS: f64 = 1e-9;
    if total > 1.0 + EPS {
        return Err(invalid(format!("shares add up to {total}, more than 1")));
    }
    let n_parts = if total < 1.0 - EPS {
        shares.len() + 1
    } else {
        shares.len()
    };
    if n_parts > 3 {
        return Err(invalid(format!(
            "{n_parts} parts would result; at most 3 (train, test, validation)"
        )));
    }
    if n_parts < 2 {
        return Err(invalid("a split needs at least two parts".into()));
    }
    let mut sizes: Vec<usize> = shares[..n_parts - 1]
        .iter()
        .map(|s| (s * len as f64).round() as usize)
        .collect();
    let used: usize = sizes.iter().sum();
    if used > len {
        return Err(invalid(format!(
            "the parts need {used} items, the index has {len}"
        )));
    }
    sizes.push(len - used);
    if let Some(i) = sizes.iter().position(|&s| s == 0) {
        return Err(invalid(format!(
            "part {} would be empty with {len} items",
            ["train", "test", "validation"][i]
        )));
    }
    Ok(sizes)
}

/// The parts of a split: train, test and, with three parts, validation.
#[derive(Debug, Clone)]
pub struct Split<T> {
    /// The first part.
    pub train: T,
    /// The second part.
    pub test: T,
    /// The third part, when there is one.
    pub validation: Option<T>,
}

impl<T> Split<T> {
    fn from_parts(parts: Vec<T>) -> Self {
        let mut parts = parts.into_iter();
        let train = parts.next().expect("a split has at least two parts");
        let test = parts.next().expect("a split has at least two parts");
        Split {
            train,
            test,
            validation: parts.next(),
        }
    }

    /// Applies `f` to every part.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Split<U> {
        Split {
            train: f(self.train),
            test: f(self.test),
            validation: self.validation.map(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes_follow_the_rounding_rule() {
        assert_eq!(split_sizes(&[0.8], 10).unwrap(), vec![8, 2]);
        assert_eq!(split_sizes(&[0.7, 0.2], 10).unwrap(), vec![7, 2, 1]);
        assert_eq!(split_sizes(&[0.5, 0.5], 3).unwrap(), vec![2, 1]);
        assert_eq!(split_sizes(&[0.34, 0.33, 0.33], 3).unwrap(), vec![1, 1, 1]);
        // 0.25 * 6 = 1.5 rounds half away from zero to 2.
        assert_eq!(split_sizes(&[0.25], 6).unwrap(), vec![2, 4]);
    }

    #[test]
    fn split_rejects_bad_shares() {
        for shares in [
            &[][..],
            &[0.0],
            &[1.2],
            &[-0.1],
            &[f64::NAN],
            &[0.6, 0.6],
            &[0.2, 0.2, 0.2],
            &[1.0],
        ] {
            let err = split_sizes(shares, 100).unwrap_err();
            assert!(
                matches!(err, IndexError::InvalidShares { .. }),
                "{shares:?}: {err}"
            );
        }
        let err = split_sizes(&[0.99], 10).unwrap_err();
        assert!(err.to_string().contains("test would be empty"), "{err}");
        let err = split_sizes(&[0.01], 10).unwrap_err();
        assert!(err.to_string().contains("train would be empty"), "{err}");
    }

    #[test]
    fn split_parts_partition_the_index() {
        let index = DatasetIndex::from_count(101);
        let split = index.split(&[0.6, 0.3], Shuffle::Seeded(3)).unwrap();
        let v = split.validation.as_ref().unwrap();
        assert_eq!((split.train.len(), split.test.len(), v.len()), (61, 30, 10));
        let mut all: Vec<usize> = [&split.train, &split.test, v]
            .iter()
            .flat_map(|p| p.ids().to_vec())
            .collect();
        assert_ne!(&all[..61], &(0..61).collect::<Vec<_>>()[..], "shuffled");
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>());
        let again = index.split(&[0.6, 0.3], Shuffle::Seeded(3)).unwrap();
        assert_eq!(again.train.ids(), split.train.ids());
    }

    #[test]
    fn positions_and_subsets() {
        let index = DatasetIndex::from_ids(["x".to_string(), "y".into(), "z".into()]).unwrap();
        assert_eq!(
            index.positions(&["z".into(), "x".into()]).unwrap(),
            vec![2, 0]
        );
        let err = index.positions(&["w".into()]).unwrap_err();
        assert_eq!(err.to_string(), "id \"w\" is not in the index");
        let sub = index.subset(&["z".into(), "y".into()]).unwrap();
        assert_eq!(sub.ids(), &["z".to_string(), "y".into()]);
        assert!(matches!(
            index.subset(&["y".into(), "y".into()]),
            Err(IndexError::DuplicateId { .. })
        ));
        let counted = DatasetIndex::from_count(4);
        assert_eq!(counted.position(&3), Some(3));
        assert_eq!(counted.position(&4), None);
    }

    #[test]
    fn a_counted_index_draws_what_a_list_of_ids_draws() {
        for n in [1usize, 7, 100, 70_000] {
            let counted = DatasetIndex::from_count(n);
            let listed = DatasetIndex::from_ids(0..n).unwrap();
            assert!(counted.inner.ids.get().is_none(), "no list of ids up front");
            assert_eq!(counted.fingerprint(), listed.fingerprint());
            assert_eq!(counted.position(&(n - 1)), Some(n - 1));
            assert_eq!(counted.position(&n), None);
            for seed in [None, Some(0), Some(7), Some(12345)] {
                let mut spec = BatchSpec::new(n.min(64)).n_epochs(3);
                if let Some(seed) = seed {
                    spec = spec.shuffle(Shuffle::Seeded(seed));
                }
                let a: Vec<_> = counted.gen_batch(&spec).unwrap().collect();
                let b: Vec<_> = listed.gen_batch(&spec).unwrap().collect();
                assert_eq!(a, b, "n {n} seed {seed:?}");
            }
            let split = |i: &DatasetIndex| {
                let s = i.split(&[0.5], Shuffle::Seeded(3)).unwrap();
                (s.train.ids().to_vec(), s.test.ids().to_vec())
            };
            if n > 1 {
                assert_eq!(split(&counted), split(&listed));
            }
            assert!(counted.inner.ids.get().is_none(), "still none");
            assert_eq!(counted.ids(), listed.ids());
        }
    }

    #[test]
    fn duplicate_ids_are_named() {
        let err = DatasetIndex::from_ids([1, 2, 1]).unwrap_err();
        assert_eq!(err.to_string(), "duplicate id 1 at positions 0 and 2");
    }
}

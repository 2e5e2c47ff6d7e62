//! The [`Batch`] trait for user batch types, and [`IdsBatch`], a batch of ids alone.

use std::sync::Arc;

use crate::action_error::ActionError;
use crate::index::{BatchIndex, Id};

/// A batch: the ids of some items plus the data the pipeline's actions load and transform.
///
/// A batch is built from the [`BatchIndex`] the index yields and the dataset's shared source
/// (anything the actions need to load the items: an array, a directory, a database handle).
/// Building one should be cheap; loading belongs in actions, so that it runs in the background
/// under prefetch.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use batchline::{Batch, BatchIndex};
///
/// /// Squares of the ids, computed by an action.
/// struct Squares {
///     index: BatchIndex,
///     values: Vec<u64>,
/// }
///
/// impl Batch for Squares {
///     type Id = usize;
///     type Source = ();
///     fn create(index: BatchIndex, _source: &Arc<()>) -> Self {
///         Squares { index, values: Vec::new() }
///     }
///     fn index(&self) -> &BatchIndex {
///         &self.index
///     }
/// }
///
/// let b = Squares::create(BatchIndex::new(vec![2, 3], vec![0, 1]), &Arc::new(()));
/// assert_eq!((b.len(), b.ids()), (2, &[2, 3][..]));
/// ```
pub trait Batch: Sized + Send + 'static {
    /// The type of the item ids.
    type Id: Id;
    /// The dataset's shared source data (use `()` when there is none).
    type Source: ?Sized + Send + Sync + 'static;

    /// Builds a batch of the items in `index`.
    fn create(index: BatchIndex<Self::Id>, source: &Arc<Self::Source>) -> Self;

    /// The ids (and positions) of the batch's items.
    fn index(&self) -> &BatchIndex<Self::Id>;

    /// The number of items.
    fn len(&self) -> usize {
        self.index().len()
    }

    /// Whether the batch has no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of the batch's items, in batch order.
    fn ids(&self) -> &[Self::Id] {
        self.index().ids()
    }

    /// The memory the batch holds, in bytes: what [`RunSpec::prefetch_auto`](crate::RunSpec::prefetch_auto)
    /// keeps within its budget. The default counts the batch value itself and its ids; a batch
    /// type that holds data on the heap should add it.
    fn size_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.len() * (std::mem::size_of::<Self::Id>() + std::mem::size_of::<usize>())
    }

    /// Appends the items of `other` (ids and data) after this batch's items: used by
    /// [`Pipeline::merge`](crate::Pipeline::merge) and by
    /// [`BatchIter::rebatch`](crate::BatchIter::rebatch).
    ///
    /// # Errors
    ///
    /// The default implementation says the type does not support merging; an implementation
    /// fails when the two batches' data do not fit together.
    fn merge(&mut self, other: Self) -> Result<(), ActionError> {
        let _ = other;
        Err(unsupported::<Self>("merge"))
    }

    /// Splits the batch in two: this batch keeps the first `at` items, the returned batch
    /// holds the rest (ids and data). Used by [`BatchIter::rebatch`](crate::BatchIter::rebatch).
    ///
    /// # Errors
    ///
    /// The default implementation says the type does not support splitting; an
    /// implementation fails when `at > len`.
    fn split_off(&mut self, at: usize) -> Result<Self, ActionError> {
        let _ = at;
        Err(unsupported::<Self>("split_off"))
    }
}

fn unsupported<B>(what: &str) -> ActionError {
    ActionError::msg(format!(
        "{} does not implement Batch::{what}",
        std::any::type_name::<B>()
    ))
}

/// The error of a split beyond the end of a batch.
pub(crate) fn check_split(at: usize, len: usize) -> Result<(), ActionError> {
    if at > len {
        return Err(ActionError::msg(format!(
            "cannot split a batch of {len} items at {at}"
        )));
    }
    Ok(())
}

/// The simplest batch: its ids and nothing else, for pipelines whose actions fetch or compute
/// everything themselves (and for demos and benchmarks).
///
/// # Examples
///
/// ```
/// use batchline::{Batch, Dataset, DatasetIndex, RunSpec};
/// use batchline::IdsBatch;
///
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(5), ());
/// let sizes: Vec<usize> = ds.p().gen_batch(&RunSpec::new(2))?.map(|b| b.unwrap().len()).collect();
/// assert_eq!(sizes, [2, 2, 1]);
/// # Ok::<(), batchline::PipelineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdsBatch<I: Id = usize> {
    index: BatchIndex<I>,
}

impl<I: Id> Batch for IdsBatch<I> {
    type Id = I;
    type Source = ();

    fn create(index: BatchIndex<I>, _source: &Arc<()>) -> Self {
        Self { index }
    }

    fn index(&self) -> &BatchIndex<I> {
        &self.index
    }

    fn merge(&mut self, other: Self) -> Result<(), ActionError> {
        self.index.append(other.index);
        Ok(())
    }

    fn split_off(&mut self, at: usize) -> Result<Self, ActionError> {
        check_split(at, self.len())?;
        Ok(Self {
            index: self.index.split_off(at),
        })
    }
}

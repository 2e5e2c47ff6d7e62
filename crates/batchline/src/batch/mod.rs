//! The [`Batch`] trait for user batch types, and [`ArrayBatch`] for rows of numeric arrays.

mod array;

pub use array::{ArrayBatch, ArrayError, ArraySource};

use std::sync::Arc;

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
}

/// The simplest batch: its ids and nothing else, for pipelines whose actions fetch or compute
/// everything themselves (and for demos and benchmarks).
///
/// # Examples
///
/// ```
/// use batchline::{Batch, Dataset, DatasetIndex, RunSpec};
/// use batchline::batch::IdsBatch;
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
}

//! [`Dataset`]: an index plus the shared source data its batches are built from.

use std::fmt;
use std::sync::Arc;

use crate::batch::Batch;
use crate::index::{BatchIndex, DatasetIndex, IndexError, Shuffle, Split};

/// An index of items plus the shared source their batches are built from.
///
/// Cloning, splitting and subsetting share the source: no data is copied.
///
/// # Examples
///
/// ```
/// use batchline::{Batch, Dataset, DatasetIndex};
/// use batchline::{ArrayBatch, ArraySource};
/// use ndarray::Array2;
///
/// let source = ArraySource::new().with("x", Array2::<f32>::zeros((100, 3)))?;
/// let dataset: Dataset<ArrayBatch> = Dataset::new(DatasetIndex::from_count(100), source);
/// let split = dataset.split(&[0.8], 42)?;
/// assert_eq!((split.train.len(), split.test.len()), (80, 20));
/// let batch = dataset.create_batch(&[3, 5])?;
/// assert_eq!(batch.ids(), &[3, 5]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Dataset<B: Batch> {
    index: DatasetIndex<B::Id>,
    source: Arc<B::Source>,
}

impl<B: Batch> Clone for Dataset<B> {
    fn clone(&self) -> Self {
        Self {
            index: self.index.clone(),
            source: Arc::clone(&self.source),
        }
    }
}

impl<B: Batch> fmt::Debug for Dataset<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("batch", &std::any::type_name::<B>())
            .field("index", &self.index)
            .finish()
    }
}

impl<B: Batch> Dataset<B> {
    /// A dataset of the items in `index`, whose batches are built from `source`.
    pub fn new(index: impl Into<DatasetIndex<B::Id>>, source: impl Into<Arc<B::Source>>) -> Self {
        Self {
            index: index.into(),
            source: source.into(),
        }
    }

    /// The index.
    pub fn index(&self) -> &DatasetIndex<B::Id> {
        &self.index
    }

    /// The shared source.
    pub fn source(&self) -> &Arc<B::Source> {
        &self.source
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the dataset has no item.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// A batch of the items with these ids, in the given order.
    ///
    /// # Errors
    ///
    /// [`IndexError::UnknownId`] when an id is not in the index.
    pub fn create_batch(&self, ids: &[B::Id]) -> Result<B, IndexError> {
        let positions = self.index.positions(ids)?;
        Ok(self.batch_of(BatchIndex::new(ids.to_vec(), positions)))
    }

    /// A batch of the items of a batch index drawn from this dataset's index.
    pub fn batch_of(&self, index: BatchIndex<B::Id>) -> B {
        B::create(index, &self.source)
    }

    /// Splits the index as [`DatasetIndex::split`] does; every part shares the source.
    ///
    /// # Errors
    ///
    /// As [`DatasetIndex::split`].
    pub fn split(
        &self,
        shares: &[f64],
        shuffle: impl Into<Shuffle>,
    ) -> Result<Split<Self>, IndexError> {
        Ok(self
            .index
            .split(shares, shuffle)?
            .map(|index| self.with_index(index)))
    }

    /// The dataset of a subset of the items, sharing the source.
    ///
    /// # Errors
    ///
    /// As [`DatasetIndex::subset`].
    pub fn subset(&self, ids: &[B::Id]) -> Result<Self, IndexError> {
        Ok(self.with_index(self.index.subset(ids)?))
    }

    fn with_index(&self, index: DatasetIndex<B::Id>) -> Self {
        Self {
            index,
            source: Arc::clone(&self.source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch over a shared source of numbers.
    struct Rows(BatchIndex);

    impl Batch for Rows {
        type Id = usize;
        type Source = Vec<f32>;
        fn create(index: BatchIndex, _: &Arc<Vec<f32>>) -> Self {
            Rows(index)
        }
        fn index(&self) -> &BatchIndex {
            &self.0
        }
    }

    #[test]
    fn split_shares_the_source() {
        let ds: Dataset<Rows> = Dataset::new(DatasetIndex::from_count(10), vec![0.0_f32; 10]);
        let split = ds.split(&[0.5], Shuffle::Off).unwrap();
        assert!(Arc::ptr_eq(split.train.source(), ds.source()));
        assert!(Arc::ptr_eq(split.test.source(), ds.source()));
        assert_eq!(split.test.index().ids(), &[5, 6, 7, 8, 9]);
        let sub = ds.subset(&[7, 2]).unwrap();
        assert!(Arc::ptr_eq(sub.source(), ds.source()));
        assert!(matches!(
            ds.create_batch(&[11]),
            Err(IndexError::UnknownId { .. })
        ));
    }
}

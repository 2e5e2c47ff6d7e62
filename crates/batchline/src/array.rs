//! A ready batch type for rows of numeric arrays.

use std::collections::BTreeMap;
use std::sync::Arc;

use ndarray::{ArrayD, Axis};

use crate::action_error::ActionError;
use crate::batch::Batch;
use crate::index::BatchIndex;

/// Errors of [`ArraySource`] and [`ArrayBatch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArrayError {
    /// No component has this name.
    #[error("no component named {name:?}")]
    UnknownComponent {
        /// The name asked for.
        name: String,
    },
    /// An array's first axis does not have the expected number of rows.
    #[error("component {name:?} has {got} rows, expected {expected}")]
    RowsMismatch {
        /// The component.
        name: String,
        /// The rows expected.
        expected: usize,
        /// The rows given.
        got: usize,
    },
    /// A 0-dimensional array cannot hold rows.
    #[error("component {name:?} is a scalar; it needs at least one axis of rows")]
    Scalar {
        /// The component.
        name: String,
    },
    /// Two batches to merge hold different components.
    #[error("cannot merge batches with components {left:?} and {right:?}")]
    ComponentsMismatch {
        /// The first batch's components.
        left: Vec<String>,
        /// The second batch's components.
        right: Vec<String>,
    },
    /// Arrays of a component do not fit together.
    #[error("component {name:?}: {message}")]
    Shape {
        /// The component.
        name: String,
        /// What does not fit.
        message: String,
    },
    /// An id (a row number) beyond the source's rows.
    #[error("row {row} is out of range: the source has {rows} rows")]
    RowOutOfRange {
        /// The id asked for.
        row: usize,
        /// The rows of the source.
        rows: usize,
    },
}

/// Named arrays whose first axis holds one row per item: the source of an [`ArrayBatch`].
///
/// # Examples
///
/// ```
/// use batchline::ArraySource;
/// use ndarray::{array, Array1};
///
/// let source = ArraySource::new()
///     .with("features", array![[1.0_f32, 2.0], [3.0, 4.0], [5.0, 6.0]])?
///     .with("labels", Array1::from(vec![0.0_f32, 1.0, 0.0]))?;
/// assert_eq!(source.rows(), 3);
/// assert!(ArraySource::new().with("x", array![1.0_f32]).unwrap().with("y", array![1.0_f32, 2.0]).is_err());
/// # Ok::<(), batchline::ArrayError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ArraySource<T = f32> {
    components: BTreeMap<String, ArrayD<T>>,
    rows: Option<usize>,
}

impl<T> Default for ArraySource<T> {
    fn default() -> Self {
        Self {
            components: BTreeMap::new(),
            rows: None,
        }
    }
}

impl<T: Clone> ArraySource<T> {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a component; every component must have the same number of rows.
    ///
    /// # Errors
    ///
    /// [`ArrayError::Scalar`] for a 0-dimensional array, [`ArrayError::RowsMismatch`] when the
    /// rows differ from the components added before.
    pub fn with<D: ndarray::Dimension>(
        mut self,
        name: impl Into<String>,
        array: ndarray::Array<T, D>,
    ) -> Result<Self, ArrayError> {
        let name = name.into();
        let array = array.into_dyn();
        if array.ndim() == 0 {
            return Err(ArrayError::Scalar { name });
        }
        let got = array.len_of(Axis(0));
        match self.rows {
            Some(expected) if expected != got => {
                return Err(ArrayError::RowsMismatch {
                    name,
                    expected,
                    got,
                })
            }
            _ => self.rows = Some(got),
        }
        self.components.insert(name, array);
        Ok(self)
    }

    /// The number of rows (items); 0 for an empty source.
    pub fn rows(&self) -> usize {
        self.rows.unwrap_or(0)
    }

    /// The component with this name.
    pub fn get(&self, name: &str) -> Option<&ArrayD<T>> {
        self.components.get(name)
    }
}

/// A batch of rows of the named arrays of an [`ArraySource`]; the ids are row numbers.
///
/// A fresh batch holds no data: the `load` action (a pipeline step of [`ArrayBatchActions`],
/// or [`load_rows`](Self::load_rows) called directly) copies its rows of every component.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use batchline::{Batch, BatchIndex, Dataset, DatasetIndex, RunSpec};
/// use batchline::{ArrayBatch, ArrayBatchActions, ArraySource};
/// use ndarray::array;
///
/// let source = Arc::new(ArraySource::new().with("x", array![[1.0_f32], [2.0], [3.0]])?);
/// let mut batch = ArrayBatch::create(BatchIndex::new(vec![2, 0], vec![0, 1]), &source);
/// batch.load_rows()?;
/// assert_eq!(batch.get("x")?, &array![[3.0_f32], [1.0]].into_dyn());
///
/// let dataset: Dataset<ArrayBatch> = Dataset::new(DatasetIndex::from_count(3), source);
/// let batch = dataset.p().load().gen_batch(&RunSpec::new(2))?.next().unwrap()?;
/// assert_eq!(batch.get("x")?, &array![[1.0_f32], [2.0]].into_dyn());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ArrayBatch<T = f32> {
    index: BatchIndex<usize>,
    source: Arc<ArraySource<T>>,
    data: BTreeMap<String, ArrayD<T>>,
}

impl<T: Clone + Send + Sync + 'static> ArrayBatch<T> {
    /// Copies the batch's rows of every component of the source.
    ///
    /// # Errors
    ///
    /// [`ArrayError::RowOutOfRange`] when an id is not a row of the source.
    pub fn load_rows(&mut self) -> Result<(), ArrayError> {
        let rows = self.source.rows();
        if let Some(&row) = self.index.ids().iter().find(|&&r| r >= rows) {
            return Err(ArrayError::RowOutOfRange { row, rows });
        }
        for (name, array) in &self.source.components {
            self.data
                .insert(name.clone(), array.select(Axis(0), self.index.ids()));
        }
        Ok(())
    }

    /// The batch's data of a component.
    ///
    /// # Errors
    ///
    /// [`ArrayError::UnknownComponent`] when the component is not loaded or set.
    pub fn get(&self, name: &str) -> Result<&ArrayD<T>, ArrayError> {
        self.data
            .get(name)
            .ok_or_else(|| ArrayError::UnknownComponent {
                name: name.to_string(),
            })
    }

    /// The batch's data of a component, to change in place.
    ///
    /// # Errors
    ///
    /// [`ArrayError::UnknownComponent`] when the component is not loaded or set.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut ArrayD<T>, ArrayError> {
        self.data
            .get_mut(name)
            .ok_or_else(|| ArrayError::UnknownComponent {
                name: name.to_string(),
            })
    }

    /// Sets a component to an array with one row per item.
    ///
    /// # Errors
    ///
    /// [`ArrayError::Scalar`] or [`ArrayError::RowsMismatch`] when the array does not have one
    /// row per item.
    pub fn set<D: ndarray::Dimension>(
        &mut self,
        name: impl Into<String>,
        array: ndarray::Array<T, D>,
    ) -> Result<(), ArrayError> {
        let name = name.into();
        let array = array.into_dyn();
        if array.ndim() == 0 {
            return Err(ArrayError::Scalar { name });
        }
        let got = array.len_of(Axis(0));
        if got != self.len() {
            return Err(ArrayError::RowsMismatch {
                name,
                expected: self.len(),
                got,
            });
        }
        self.data.insert(name, array);
        Ok(())
    }

    /// The names of the components the batch holds.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.data.keys().map(String::as_str)
    }
}

/// Actions of [`ArrayBatch`]: pipeline steps of `Pipeline<ArrayBatch<T>>`.
#[batchline_macros::actions]
impl<T: Clone + Send + Sync + 'static> ArrayBatch<T> {
    /// Copies the batch's rows of every component of the source (see
    /// [`load_rows`](Self::load_rows)).
    #[action]
    pub fn load(&mut self) -> Result<(), ArrayError> {
        self.load_rows()
    }
}

impl<T: Clone + Send + Sync + 'static> Batch for ArrayBatch<T> {
    type Id = usize;
    type Source = ArraySource<T>;

    fn create(index: BatchIndex<usize>, source: &Arc<ArraySource<T>>) -> Self {
        Self {
            index,
            source: Arc::clone(source),
            data: BTreeMap::new(),
        }
    }

    fn index(&self) -> &BatchIndex<usize> {
        &self.index
    }

    fn size_bytes(&self) -> usize {
        let data: usize = self
            .data
            .values()
            .map(|a| a.len() * std::mem::size_of::<T>())
            .sum();
        std::mem::size_of::<Self>() + self.index.len() * 2 * std::mem::size_of::<usize>() + data
    }

    /// Appends `other`'s rows to every component; both batches must hold the same components
    /// with the same row shapes.
    fn merge(&mut self, other: Self) -> Result<(), ActionError> {
        let mine: Vec<&String> = self.data.keys().collect();
        let theirs: Vec<&String> = other.data.keys().collect();
        if mine != theirs {
            return Err(ArrayError::ComponentsMismatch {
                left: mine.into_iter().cloned().collect(),
                right: theirs.into_iter().cloned().collect(),
            }
            .into());
        }
        let mut merged = BTreeMap::new();
        for (name, array) in &self.data {
            let joined = ndarray::concatenate(Axis(0), &[array.view(), other.data[name].view()])
                .map_err(|e| ArrayError::Shape {
                    name: name.clone(),
                    message: e.to_string(),
                })?;
            merged.insert(name.clone(), joined);
        }
        self.data = merged;
        self.index.append(other.index);
        Ok(())
    }

    fn split_off(&mut self, at: usize) -> Result<Self, ActionError> {
        crate::batch::check_split(at, self.len())?;
        let mut rest = BTreeMap::new();
        for (name, array) in &mut self.data {
            let tail = array.slice_axis(Axis(0), (at..).into()).to_owned();
            let head = array.slice_axis(Axis(0), (..at).into()).to_owned();
            *array = head;
            rest.insert(name.clone(), tail);
        }
        Ok(Self {
            index: self.index.split_off(at),
            source: Arc::clone(&self.source),
            data: rest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn source() -> Arc<ArraySource<f64>> {
        let x = Array2::from_shape_fn((5, 2), |(i, j)| (i * 10 + j) as f64);
        Arc::new(
            ArraySource::new()
                .with("x", x)
                .unwrap()
                .with("y", array![0.0, 1.0, 2.0, 3.0, 4.0])
                .unwrap(),
        )
    }

    #[test]
    fn loads_rows_by_id() {
        let mut b = ArrayBatch::create(BatchIndex::new(vec![4, 1], vec![0, 1]), &source());
        assert!(matches!(
            b.get("x"),
            Err(ArrayError::UnknownComponent { .. })
        ));
        b.load_rows().unwrap();
        assert_eq!(
            b.get("x").unwrap(),
            &array![[40.0, 41.0], [10.0, 11.0]].into_dyn()
        );
        assert_eq!(b.get("y").unwrap(), &array![4.0, 1.0].into_dyn());
        assert_eq!(b.components().collect::<Vec<_>>(), vec!["x", "y"]);
        b.get_mut("y").unwrap().mapv_inplace(|v| v * 2.0);
        assert_eq!(b.get("y").unwrap(), &array![8.0, 2.0].into_dyn());
    }

    #[test]
    fn errors() {
        let mut b = ArrayBatch::create(BatchIndex::new(vec![9], vec![0]), &source());
        assert_eq!(
            b.load_rows(),
            Err(ArrayError::RowOutOfRange { row: 9, rows: 5 })
        );
        assert!(matches!(
            b.set("z", array![1.0, 2.0]),
            Err(ArrayError::RowsMismatch {
                expected: 1,
                got: 2,
                ..
            })
        ));
        assert!(matches!(
            b.set("z", ndarray::arr0(1.0)),
            Err(ArrayError::Scalar { .. })
        ));
        b.set("z", array![[1.0, 2.0]]).unwrap();
        assert_eq!(b.get("z").unwrap().shape(), &[1, 2]);
    }
}

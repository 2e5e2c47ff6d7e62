//! [`TableBatch`]: the rows of a batch as an Arrow `RecordBatch`, its typed access and its
//! `Batch` implementation; the actions are in [`actions`], the column conversions they share in
//! [`columns`].

mod actions;
mod columns;

pub use self::actions::{DumpFormat, TableBatchActions};
pub(super) use self::columns::flat_f64;

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Schema};
use ndarray::{Array1, Array2, ArrayView2};

use self::columns::{column_of, f32_values, type_error};
use crate::action_error::ActionError;
use crate::batch::Batch;
use crate::index::BatchIndex;
use crate::table::{TableError, TableSource, TableStats};

/// A batch of rows of a [`TableSource`]; the ids are row numbers.
///
/// A fresh batch holds no data: the `load` action reads its rows (with Arrow's `take` kernel
/// for a table in memory, by row group for Parquet, copied out of a memory map for `.npy`). The
/// actions (`load`, `select`, `standardize`, `normalize`, `fill_null`, `one_hot`,
/// `to_tensor`, `dump`) are pipeline steps of [`TableBatchActions`]; typed access
/// ([`matrix`](Self::matrix), [`matrix_view`](Self::matrix_view), [`labels`](Self::labels),
/// [`tensor`](Self::tensor)) gives `ndarray` arrays. [`Batch::merge`] and
/// [`Batch::split_off`] work, so `rebatch` does.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float32Array, Int64Array, RecordBatch};
/// use batchline::table::{TableBatch, TableBatchActions, TableSource};
/// use batchline::{Dataset, DatasetIndex, RunSpec};
///
/// let t = RecordBatch::try_from_iter([
///     ("a", Arc::new(Float32Array::from(vec![1.0, 2.0, 3.0])) as _),
///     ("b", Arc::new(Float32Array::from(vec![10.0, 20.0, 30.0])) as _),
///     ("y", Arc::new(Int64Array::from(vec![5, 6, 7])) as _),
/// ])?;
/// let dataset: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(3), TableSource::from_batch(t));
/// let pipeline = dataset.p().load().select(vec!["a".into(), "y".into()]);
/// let batch = pipeline.gen_batch(&RunSpec::new(2))?.next().unwrap()?;
/// assert_eq!(batch.matrix(&["a"])?, ndarray::array![[1.0], [2.0]]);
/// assert_eq!(batch.labels("y")?.to_vec(), [5, 6]);
/// assert!(batch.column("b").is_err()); // not selected
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TableBatch {
    index: BatchIndex<usize>,
    source: Arc<TableSource>,
    table: Option<RecordBatch>,
    tensor: Option<Array2<f32>>,
}

impl TableBatch {
    /// The batch's rows, once loaded.
    ///
    /// # Errors
    ///
    /// [`TableError::NotLoaded`] before the `load` action (or [`set_table`](Self::set_table)).
    pub fn table(&self) -> Result<&RecordBatch, TableError> {
        self.table.as_ref().ok_or(TableError::NotLoaded)
    }

    /// Sets the batch's rows (one per item, in batch order).
    ///
    /// # Errors
    ///
    /// [`TableError::Shape`] when the table does not have one row per item.
    pub fn set_table(&mut self, table: RecordBatch) -> Result<(), TableError> {
        if table.num_rows() != self.len() {
            return Err(TableError::Shape {
                message: format!(
                    "a table of {} rows for a batch of {} items",
                    table.num_rows(),
                    self.len()
                ),
            });
        }
        self.table = Some(table);
        Ok(())
    }

    /// A column of the batch's rows.
    ///
    /// # Errors
    ///
    /// [`TableError::NotLoaded`], [`TableError::UnknownColumn`].
    pub fn column(&self, name: &str) -> Result<&ArrayRef, TableError> {
        let table = self.table()?;
        table
            .column_by_name(name)
            .ok_or_else(|| unknown(name, table.schema().as_ref()))
    }

    /// Numeric columns as one `f32` matrix, one row per item: a scalar column gives one
    /// matrix column, a fixed-size list column of `d` values gives `d`. Always a copy (see
    /// [`matrix_view`](Self::matrix_view) for a view).
    ///
    /// # Errors
    ///
    /// [`TableError::UnknownColumn`], [`TableError::ColumnType`] for a column that is not
    /// numeric or holds nulls (fill them first).
    pub fn matrix(&self, columns: &[&str]) -> Result<Array2<f32>, TableError> {
        let n = self.len();
        let mut parts = Vec::with_capacity(columns.len());
        let mut width = 0;
        for name in columns {
            let array = self.column(name)?;
            let (values, w) = f32_values(name, array)?;
            width += w;
            parts.push((values, w));
        }
        let mut out = Array2::<f32>::zeros((n, width));
        let mut at = 0;
        for (values, w) in parts {
            for (r, mut row) in out.rows_mut().into_iter().enumerate() {
                row.as_slice_mut().expect("a standard-layout row")[at..at + w]
                    .copy_from_slice(&values[r * w..(r + 1) * w]);
            }
            at += w;
        }
        Ok(out)
    }

    /// A view of an `f32` column without nulls as a matrix (no copy): a fixed-size list column
    /// of `d` values gives `(rows, d)`, a scalar column `(rows, 1)`.
    ///
    /// # Errors
    ///
    /// [`TableError::UnknownColumn`], [`TableError::ColumnType`] when the column is not `f32`
    /// (use [`matrix`](Self::matrix), which converts) or holds nulls.
    pub fn matrix_view(&self, column: &str) -> Result<ArrayView2<'_, f32>, TableError> {
        let array = self.column(column)?;
        let (values, width) = match array.data_type() {
            DataType::FixedSizeList(_, w) => {
                let list = array.as_fixed_size_list();
                if list.null_count() > 0 {
                    return Err(type_error(column, "holds nulls"));
                }
                (list.values(), *w as usize)
            }
            _ => (array, 1),
        };
        if values.data_type() != &DataType::Float32 {
            return Err(type_error(
                column,
                format!("a view needs f32 values, not {}", values.data_type()),
            ));
        }
        if values.null_count() > 0 {
            return Err(type_error(column, "holds nulls"));
        }
        let values = values.as_primitive::<Float32Type>().values();
        ArrayView2::from_shape((self.len(), width), &values[..self.len() * width])
            .map_err(|e| type_error(column, e.to_string()))
    }

    /// An integer column as `i64` labels.
    ///
    /// # Errors
    ///
    /// [`TableError::UnknownColumn`], [`TableError::ColumnType`] for a column that is not of
    /// an integer type or holds nulls.
    pub fn labels(&self, column: &str) -> Result<Array1<i64>, TableError> {
        let array = self.column(column)?;
        if !array.data_type().is_integer() {
            return Err(type_error(
                column,
                format!("labels need an integer column, not {}", array.data_type()),
            ));
        }
        if array.null_count() > 0 {
            return Err(type_error(column, "labels hold nulls"));
        }
        let cast = arrow_cast::cast(array, &DataType::Int64)
            .map_err(TableError::arrow(format!("column {column:?} as i64")))?;
        Ok(Array1::from(
            cast.as_primitive::<Int64Type>().values().to_vec(),
        ))
    }

    /// The matrix the `to_tensor` action made.
    ///
    /// # Errors
    ///
    /// [`TableError::NoTensor`] before `to_tensor`.
    pub fn tensor(&self) -> Result<&Array2<f32>, TableError> {
        self.tensor.as_ref().ok_or(TableError::NoTensor)
    }

    /// The batch's table and tensor, taken out of it (to hand them on without a copy).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Float32Array, RecordBatch};
    /// use batchline::table::{TableBatch, TableBatchActions, TableSource};
    /// use batchline::{Dataset, DatasetIndex, RunSpec};
    ///
    /// let t = RecordBatch::try_from_iter([("a", Arc::new(Float32Array::from(vec![1.0, 2.0])) as _)])?;
    /// let dataset: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(2), TableSource::from_batch(t));
    /// let batch = dataset.p().load().to_tensor(vec!["a".into()]).gen_batch(&RunSpec::new(2))?.next().unwrap()?;
    /// let (table, tensor) = batch.into_parts();
    /// assert_eq!((table.unwrap().num_rows(), tensor.unwrap().dim()), (2, (2, 1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_parts(self) -> (Option<RecordBatch>, Option<Array2<f32>>) {
        (self.table, self.tensor)
    }

    /// Replaces columns by new ones of the same name.
    fn replace(&mut self, new: Vec<(usize, ArrayRef)>) -> Result<(), TableError> {
        let table = self.table()?;
        let mut fields: Vec<Field> = table
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut columns: Vec<ArrayRef> = table.columns().to_vec();
        for (i, array) in new {
            fields[i] = Field::new(fields[i].name(), array.data_type().clone(), true);
            columns[i] = array;
        }
        let table = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(TableError::arrow("replacing columns"))?;
        self.table = Some(table);
        Ok(())
    }

    fn index_of(&self, name: &str) -> Result<usize, TableError> {
        let table = self.table()?;
        table
            .schema()
            .index_of(name)
            .map_err(|_| unknown(name, table.schema().as_ref()))
    }

    /// Applies `f(value, element)` to every valid value of the columns of `stats`.
    fn map_stats(
        &mut self,
        stats: &TableStats,
        f: impl Fn(f64, &super::ColumnStats, usize) -> f64,
    ) -> Result<(), TableError> {
        let mut new = Vec::new();
        for s in stats.columns() {
            let i = self.index_of(&s.name)?;
            let array = Arc::clone(self.table()?.column(i));
            let flat = flat_f64(&s.name, &array)?;
            if flat.width != s.mean.len() {
                return Err(type_error(
                    &s.name,
                    format!(
                        "rows of {} values, the statistics were fitted on {}",
                        flat.width,
                        s.mean.len()
                    ),
                ));
            }
            let values: Vec<f32> = flat
                .values
                .iter()
                .enumerate()
                .map(|(k, &v)| f(v, s, k % flat.width) as f32)
                .collect();
            let list = matches!(array.data_type(), DataType::FixedSizeList(..));
            let nulls = if flat.has_nulls() {
                Some(NullBuffer::from(
                    (0..values.len()).map(|k| flat.valid(k)).collect::<Vec<_>>(),
                ))
            } else {
                None
            };
            new.push((i, column_of(values, nulls, flat.width, list)));
        }
        self.replace(new)
    }
}

fn unknown(name: &str, schema: &Schema) -> TableError {
    TableError::UnknownColumn {
        column: name.to_string(),
        available: schema.fields().iter().map(|f| f.name().clone()).collect(),
    }
}

impl Batch for TableBatch {
    type Id = usize;
    type Source = TableSource;

    fn create(index: BatchIndex<usize>, source: &Arc<TableSource>) -> Self {
        Self {
            index,
            source: Arc::clone(source),
            table: None,
            tensor: None,
        }
    }

    fn index(&self) -> &BatchIndex<usize> {
        &self.index
    }

    fn size_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.index.len() * 2 * std::mem::size_of::<usize>()
            + self
                .table
                .as_ref()
                .map_or(0, RecordBatch::get_array_memory_size)
            + self.tensor.as_ref().map_or(0, |t| t.len() * 4)
    }

    /// Appends `other`'s rows (and tensor rows); both must hold the same columns (and both a
    /// tensor of the same width, or neither).
    fn merge(&mut self, other: Self) -> Result<(), ActionError> {
        let table = match (self.table.take(), other.table) {
            (None, None) => None,
            (Some(a), Some(b)) => {
                if a.schema().fields() != b.schema().fields() {
                    let err = TableError::Shape {
                        message: format!(
                            "cannot merge batches with columns {:?} and {:?}",
                            a.schema().fields(),
                            b.schema().fields()
                        ),
                    };
                    self.table = Some(a);
                    return Err(err.into());
                }
                Some(
                    arrow_select::concat::concat_batches(&a.schema(), [&a, &b])
                        .map_err(TableError::arrow("merging batches"))?,
                )
            }
            (a, _) => {
                self.table = a;
                return Err(TableError::Shape {
                    message: "cannot merge a loaded batch with one that is not".into(),
                }
                .into());
            }
        };
        let tensor = match (self.tensor.take(), other.tensor) {
            (None, None) => None,
            (Some(a), Some(b)) if a.ncols() == b.ncols() => Some(
                ndarray::concatenate(ndarray::Axis(0), &[a.view(), b.view()]).map_err(|e| {
                    TableError::Shape {
                        message: e.to_string(),
                    }
                })?,
            ),
            (a, _) => {
                self.table = table;
                self.tensor = a;
                return Err(TableError::Shape {
                    message: "cannot merge batches whose tensors differ".into(),
                }
                .into());
            }
        };
        self.table = table;
        self.tensor = tensor;
        self.index.append(other.index);
        Ok(())
    }

    fn split_off(&mut self, at: usize) -> Result<Self, ActionError> {
        crate::batch::check_split(at, self.len())?;
        let n = self.len();
        let rest_table = self.table.as_mut().map(|t| {
            let rest = t.slice(at, n - at);
            *t = t.slice(0, at);
            rest
        });
        let rest_tensor = self.tensor.as_mut().map(|t| {
            let rest = t.slice_axis(ndarray::Axis(0), (at..).into()).to_owned();
            *t = t.slice_axis(ndarray::Axis(0), (..at).into()).to_owned();
            rest
        });
        Ok(Self {
            index: self.index.split_off(at),
            source: Arc::clone(&self.source),
            table: rest_table,
            tensor: rest_tensor,
        })
    }
}

//! [`TableBatch`]: the rows of a batch as an Arrow `RecordBatch`, its actions and typed access.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, RecordBatch,
    Scalar,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Schema};
use ndarray::{Array1, Array2, ArrayView2};

use super::{TableError, TableSource, TableStats};
use crate::action_error::ActionError;
use crate::batch::Batch;
use crate::index::BatchIndex;
use crate::plan::Context;

/// The file format of the `dump` action.
///
/// # Examples
///
/// ```
/// use batchline::table::DumpFormat;
/// assert_ne!(DumpFormat::Parquet, DumpFormat::Npy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DumpFormat {
    /// One Parquet file per batch, `part-<batch>.parquet` (snappy), every column.
    Parquet,
    /// One `.npy` file per column and batch, `<column>-<batch>.npy`: numeric or boolean
    /// columns, or fixed-size lists of them, without nulls.
    Npy,
}

/// A batch of rows of a [`TableSource`]; the ids are row numbers.
///
/// A fresh batch holds no data: the `load` action reads its rows (with Arrow's `take` kernel
/// for a table in memory, by row group for Parquet, by positional reads for `.npy`). The
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

/// A numeric column's values as one flat `f64` array, `width` values per row.
pub(super) struct Flat {
    pub(super) values: Vec<f64>,
    pub(super) width: usize,
    nulls: Option<NullBuffer>,
    row_nulls: Option<NullBuffer>,
}

impl Flat {
    /// Whether the `i`-th flat value is valid (its row and itself are not null).
    pub(super) fn valid(&self, i: usize) -> bool {
        self.nulls.as_ref().is_none_or(|n| n.is_valid(i))
            && self
                .row_nulls
                .as_ref()
                .is_none_or(|n| n.is_valid(i / self.width.max(1)))
    }

    fn has_nulls(&self) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.null_count() > 0)
            || self.row_nulls.as_ref().is_some_and(|n| n.null_count() > 0)
    }
}

fn type_error(column: &str, message: impl Into<String>) -> TableError {
    TableError::ColumnType {
        column: column.to_string(),
        message: message.into(),
    }
}

fn numeric(dt: &DataType) -> bool {
    dt.is_numeric() || *dt == DataType::Boolean
}

/// A numeric (or boolean) column, or a fixed-size list column of them, as `f64` values.
pub(super) fn flat_f64(column: &str, array: &ArrayRef) -> Result<Flat, TableError> {
    let (values, width, row_nulls) = match array.data_type() {
        DataType::FixedSizeList(_, w) => {
            let list = array.as_fixed_size_list();
            (Arc::clone(list.values()), *w as usize, list.logical_nulls())
        }
        _ => (Arc::clone(array), 1, None),
    };
    if !numeric(values.data_type()) {
        return Err(type_error(
            column,
            format!("type {} is not numeric", array.data_type()),
        ));
    }
    let cast = arrow_cast::cast(&values, &DataType::Float64)
        .map_err(TableError::arrow(format!("column {column:?} as f64")))?;
    let cast = cast.as_primitive::<Float64Type>();
    Ok(Flat {
        values: cast.values().to_vec(),
        width,
        nulls: cast.logical_nulls(),
        row_nulls,
    })
}

/// A flat `f32` array, as a column of scalars (`width == 1`, not from a list) or of
/// fixed-size lists.
fn column_of(values: Vec<f32>, nulls: Option<NullBuffer>, width: usize, list: bool) -> ArrayRef {
    let flat = Float32Array::new(values.into(), nulls);
    if !list {
        return Arc::new(flat);
    }
    let item = Arc::new(Field::new_list_field(DataType::Float32, true));
    Arc::new(FixedSizeListArray::new(
        item,
        width as i32,
        Arc::new(flat),
        None,
    ))
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

/// A column's values as `f32`, `width` per row, without nulls.
fn f32_values(name: &str, array: &ArrayRef) -> Result<(Vec<f32>, usize), TableError> {
    let (values, width) = match array.data_type() {
        DataType::FixedSizeList(_, w) => {
            if array.null_count() > 0 {
                return Err(type_error(name, "holds nulls (fill them first)"));
            }
            (Arc::clone(array.as_fixed_size_list().values()), *w as usize)
        }
        _ => (Arc::clone(array), 1),
    };
    if !numeric(values.data_type()) {
        return Err(type_error(
            name,
            format!("type {} is not numeric", array.data_type()),
        ));
    }
    if values.null_count() > 0 {
        return Err(type_error(name, "holds nulls (fill them first)"));
    }
    let cast = arrow_cast::cast(&values, &DataType::Float32)
        .map_err(TableError::arrow(format!("column {name:?} as f32")))?;
    Ok((cast.as_primitive::<Float32Type>().values().to_vec(), width))
}

/// Replaces the nulls of a numeric array by `value` (cast to the array's type).
fn fill(name: &str, array: &ArrayRef, value: f64) -> Result<ArrayRef, TableError> {
    if let DataType::FixedSizeList(field, w) = array.data_type() {
        let list = array.as_fixed_size_list();
        let values = fill(name, list.values(), value)?;
        let field = Arc::new(Field::new_list_field(field.data_type().clone(), false));
        // A null row becomes a row of `value`s.
        let values = match list.logical_nulls() {
            Some(rows) if rows.null_count() > 0 => {
                let w = *w as usize;
                let mask = BooleanArray::from(
                    (0..values.len())
                        .map(|k| rows.is_valid(k / w))
                        .collect::<Vec<_>>(),
                );
                let filler = scalar(name, value, values.data_type())?;
                arrow_select::zip::zip(&mask, &values, &filler)
                    .map_err(TableError::arrow(format!("filling column {name:?}")))?
            }
            _ => values,
        };
        return Ok(Arc::new(
            FixedSizeListArray::try_new(field, *w, values, None)
                .map_err(TableError::arrow(format!("filling column {name:?}")))?,
        ));
    }
    if !numeric(array.data_type()) {
        return Err(type_error(
            name,
            format!("fill_null fills numbers; the type is {}", array.data_type()),
        ));
    }
    // Checked even without nulls: the same value fails the same way on every batch.
    let filler = scalar(name, value, array.data_type())?;
    match array.logical_nulls() {
        Some(nulls) if nulls.null_count() > 0 => {
            let mask = BooleanArray::new(nulls.inner().clone(), None);
            arrow_select::zip::zip(&mask, array, &filler)
                .map_err(TableError::arrow(format!("filling column {name:?}")))
        }
        _ => Ok(Arc::clone(array)),
    }
}

fn scalar(name: &str, value: f64, dt: &DataType) -> Result<Scalar<ArrayRef>, TableError> {
    let one: ArrayRef = Arc::new(Float64Array::from(vec![value]));
    let cast = arrow_cast::cast_with_options(
        &one,
        dt,
        &arrow_cast::CastOptions {
            safe: false,
            ..Default::default()
        },
    )
    .map_err(|e| type_error(name, format!("{value} does not fit type {dt}: {e}")))?;
    // Arrow truncates 0.5 to 0 in an integer type: a value must come back unchanged.
    let back = arrow_cast::cast(&cast, &DataType::Float64)
        .map_err(|e| type_error(name, format!("{value} does not fit type {dt}: {e}")))?;
    let back = back.as_primitive::<Float64Type>().value(0);
    if back != value && !(value.is_nan() && back.is_nan()) && dt != &DataType::Float32 {
        return Err(type_error(name, format!("{value} does not fit type {dt}")));
    }
    Ok(Scalar::new(cast))
}

/// Actions of [`TableBatch`]: pipeline steps of `Pipeline<TableBatch>`.
#[batchline_macros::actions]
impl TableBatch {
    /// Reads the batch's rows (every column of the source) into its table.
    #[action]
    pub fn load(&mut self) -> Result<(), TableError> {
        self.table = Some(self.source.take(self.index.ids())?);
        Ok(())
    }

    /// Keeps only these columns, in this order.
    #[action]
    pub fn select(&mut self, columns: Vec<String>) -> Result<(), TableError> {
        let indices = columns
            .iter()
            .map(|c| self.index_of(c))
            .collect::<Result<Vec<_>, _>>()?;
        let table = self
            .table()?
            .project(&indices)
            .map_err(TableError::arrow("selecting columns"))?;
        self.table = Some(table);
        Ok(())
    }

    /// Standardises the columns of `stats` (fitted, say, on the training split):
    /// `(x - mean) / std` per element, as `f32` (a constant element, `std == 0`, becomes
    /// `x - mean`). Nulls stay null.
    #[action]
    pub fn standardize(&mut self, stats: TableStats) -> Result<(), TableError> {
        self.map_stats(&stats, |v, s, j| {
            let std = if s.std[j] > 0.0 { s.std[j] } else { 1.0 };
            (v - s.mean[j]) / std
        })
    }

    /// Rescales the columns of `stats` to `[0, 1]` over the fitted range:
    /// `(x - min) / (max - min)` per element, as `f32` (a constant element becomes 0). Values
    /// outside the fitted range fall outside `[0, 1]`. Nulls stay null.
    #[action]
    pub fn normalize(&mut self, stats: TableStats) -> Result<(), TableError> {
        self.map_stats(&stats, |v, s, j| {
            let range = s.max[j] - s.min[j];
            if range > 0.0 {
                (v - s.min[j]) / range
            } else {
                0.0
            }
        })
    }

    /// Replaces the nulls of these numeric columns by `value` (converted to each column's
    /// type; an error if it does not fit, e.g. `0.5` in an integer column).
    #[action]
    pub fn fill_null(&mut self, columns: Vec<String>, value: f64) -> Result<(), TableError> {
        let mut new = Vec::new();
        for c in &columns {
            let i = self.index_of(c)?;
            new.push((i, fill(c, self.table()?.column(i), value)?));
        }
        self.replace(new)
    }

    /// Replaces an integer column by its one-hot encoding: a fixed-size list column of
    /// `classes` `f32` values (a null becomes all zeros).
    #[action]
    pub fn one_hot(&mut self, column: String, classes: usize) -> Result<(), TableError> {
        let i = self.index_of(&column)?;
        let array = self.table()?.column(i);
        if !array.data_type().is_integer() {
            return Err(type_error(
                &column,
                format!("one_hot needs an integer column, not {}", array.data_type()),
            ));
        }
        let cast = arrow_cast::cast(array, &DataType::Int64)
            .map_err(TableError::arrow(format!("column {column:?} as i64")))?;
        let cast = cast.as_primitive::<Int64Type>();
        let mut values = vec![0.0_f32; cast.len() * classes];
        for (r, v) in cast.iter().enumerate() {
            if let Some(v) = v {
                if v < 0 || v as u64 >= classes as u64 {
                    return Err(type_error(
                        &column,
                        format!("value {v} (row {r} of the batch) is not a class of 0..{classes}"),
                    ));
                }
                values[r * classes + v as usize] = 1.0;
            }
        }
        let encoded = column_of(values, None, classes, true);
        self.replace(vec![(i, encoded)])
    }

    /// Makes one `f32` matrix of these columns (see [`matrix`](Self::matrix)), read with
    /// [`tensor`](Self::tensor).
    #[action]
    pub fn to_tensor(&mut self, columns: Vec<String>) -> Result<(), TableError> {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        self.tensor = Some(self.matrix(&names)?);
        Ok(())
    }

    /// Writes the batch's table into the folder `dir` (created if missing), in files named by
    /// the batch number: `part-000042.parquet` ([`DumpFormat::Parquet`]) or
    /// `<column>-000042.npy` ([`DumpFormat::Npy`]), so that the files read back in name order
    /// (`TableSource::parquet(dir)`, `TableSource::npy([(column, "dir/<column>-*.npy")])`)
    /// give the batches in batch order. Ordered: batches are written one at a time, in batch
    /// order.
    #[action(ordered)]
    pub fn dump(&self, dir: PathBuf, format: DumpFormat, ctx: &Context) -> Result<(), TableError> {
        std::fs::create_dir_all(&dir).map_err(TableError::io(&dir))?;
        let table = self.table()?;
        let batch = ctx.batch();
        match format {
            DumpFormat::Parquet => {
                super::parquet::write_parquet(&dir.join(format!("part-{batch:06}.parquet")), table)
            }
            DumpFormat::Npy => {
                for (field, column) in table.schema().fields().iter().zip(table.columns()) {
                    let path = dir.join(format!("{}-{batch:06}.npy", field.name()));
                    super::npy::write_npy(&path, field.name(), column.as_ref())?;
                }
                Ok(())
            }
        }
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

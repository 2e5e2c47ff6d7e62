//! Native tables: `TableBatch` actions run in Rust without the GIL on Arrow batches read from
//! CSV, Parquet or memory-mapped `.npy`; the columns reach Python as NumPy arrays that view
//! the Arrow buffers (no copy) and the tensor as an array that owns the Rust allocation.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};
use batchline::table::{
    CsvOptions, NpyOptions, ParquetOptions, TableBatch, TableSource, TableStats,
};
use batchline::{ActionError, Batch, BatchIndex};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::batch::{Native, PyBatch};

mod actions;
mod numpy_view;

pub(crate) use actions::table_action;

/// The rows of a table dataset: the source, and the row of every position (`None`: position
/// `i` is row `i`, the whole table, with no list of its rows).
pub(crate) struct TableSourceRef {
    source: Arc<TableSource>,
    rows: Option<Arc<Vec<usize>>>,
}

impl TableSourceRef {
    /// The row of position `p`.
    fn row(&self, p: usize) -> usize {
        self.rows.as_ref().map_or(p, |rows| rows[p])
    }
}

/// A batch's native table while Rust actions own it.
pub(crate) struct NativeTable(pub(crate) TableBatch);

impl Native for NativeTable {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    /// Hands the table to the Python batch object: `obj._set_table(columns, tensor)`, every
    /// column a NumPy array (a read-only view of the Arrow buffer where the type allows) and
    /// the tensor (after `to_tensor`) a `float32` array that owns the Rust allocation.
    fn export(self: Box<Self>, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let (table, tensor) = self.0.into_parts();
        let columns = PyDict::new(py);
        if let Some(table) = table {
            let schema = table.schema();
            for (field, column) in schema.fields().iter().zip(table.columns()) {
                let array = numpy_view::column(py, field.name(), column)?;
                columns.set_item(field.name(), array)?;
            }
        }
        let tensor = tensor.map(|t| numpy::PyArray2::from_owned_array(py, t));
        obj.call_method1("_set_table", (columns, tensor))?;
        Ok(())
    }
}

/// The rows of a table (CSV, Parquet, `.npy` / `.npz`), by position of a dataset.
#[pyclass(module = "batchline._batchline", frozen)]
pub(crate) struct TableData {
    source: Arc<TableSource>,
    /// The row of every position; `None` for the whole table in order.
    rows: Option<Arc<Vec<usize>>>,
}

impl TableData {
    pub(crate) fn source(&self) -> TableSourceRef {
        TableSourceRef {
            source: Arc::clone(&self.source),
            rows: self.rows.clone(),
        }
    }

    fn of(source: TableSource) -> Self {
        Self {
            source: Arc::new(source),
            rows: None,
        }
    }
}

/// A table error as a Python `ValueError` prefixed by the reader's name.
fn open_error(what: &str, e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{what}: {e}"))
}

/// The Arrow type of a dtype name of a CSV schema.
fn data_type(column: &str, name: &str) -> PyResult<DataType> {
    Ok(match name {
        "bool" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" | "int" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float32" => DataType::Float32,
        "float64" | "float" => DataType::Float64,
        "str" | "string" | "utf8" => DataType::Utf8,
        other => {
            return Err(PyValueError::new_err(format!(
                "from_csv: column {column:?} has the unknown dtype {other:?} (bool, int8..int64, \
                 uint8..uint64, float32, float64, str)"
            )))
        }
    })
}

#[pymethods]
impl TableData {
    /// The rows of a CSV file, parsed into memory.
    #[staticmethod]
    #[pyo3(signature = (path, header=true, delimiter=",", dtypes=None, infer_rows=None))]
    fn csv(
        path: std::path::PathBuf,
        header: bool,
        delimiter: &str,
        dtypes: Option<Vec<(String, String)>>,
        infer_rows: Option<usize>,
    ) -> PyResult<Self> {
        let &[delimiter] = delimiter.as_bytes() else {
            return Err(PyValueError::new_err(format!(
                "from_csv: the delimiter must be one ASCII character, not {delimiter:?}"
            )));
        };
        let mut options = CsvOptions::new().header(header).delimiter(delimiter);
        if let Some(dtypes) = dtypes {
            let fields = dtypes
                .iter()
                .map(|(c, t)| Ok(Field::new(c, data_type(c, t)?, true)))
                .collect::<PyResult<Vec<_>>>()?;
            options = options.schema(Arc::new(Schema::new(fields)));
        }
        if let Some(rows) = infer_rows {
            options = options.infer_rows(rows);
        }
        let source = TableSource::csv(&path, &options).map_err(|e| open_error("from_csv", e))?;
        Ok(Self::of(source))
    }

    /// The rows of a Parquet file, or of the shards of a folder or glob, read by row group.
    #[staticmethod]
    #[pyo3(signature = (pattern, columns=None, cache_row_groups=None))]
    fn parquet(
        pattern: &str,
        columns: Option<Vec<String>>,
        cache_row_groups: Option<usize>,
    ) -> PyResult<Self> {
        let mut options = ParquetOptions::new();
        if let Some(columns) = &columns {
            let names: Vec<&str> = columns.iter().map(String::as_str).collect();
            options = options.columns(&names);
        }
        if let Some(n) = cache_row_groups {
            if n == 0 {
                return Err(PyValueError::new_err(
                    "from_parquet: cache_row_groups must be at least 1",
                ));
            }
            options = options.cache_row_groups(n);
        }
        let source =
            TableSource::parquet(pattern, &options).map_err(|e| open_error("from_parquet", e))?;
        Ok(Self::of(source))
    }

    /// One column per `(name, pattern)` of memory-mapped `.npy` files (a file, a folder or a
    /// glob of shards), with at most about `max_resident` bytes of their pages mapped.
    #[staticmethod]
    #[pyo3(signature = (columns, max_resident=None))]
    fn npy(columns: Vec<(String, String)>, max_resident: Option<usize>) -> PyResult<Self> {
        if columns.is_empty() {
            return Err(PyValueError::new_err("from_npy: no columns given"));
        }
        let pairs = columns.iter().map(|(c, p)| (c.as_str(), p.as_str()));
        let source = TableSource::npy_with(pairs, &npy_options(max_resident))
            .map_err(|e| open_error("from_npy", e))?;
        Ok(Self::of(source))
    }

    /// The arrays of an uncompressed `.npz` archive (or shards), memory-mapped.
    #[staticmethod]
    #[pyo3(signature = (pattern, max_resident=None))]
    fn npz(pattern: &str, max_resident: Option<usize>) -> PyResult<Self> {
        let source = TableSource::npz_with(pattern, &npy_options(max_resident))
            .map_err(|e| open_error("from_npz", e))?;
        Ok(Self::of(source))
    }

    /// The same source in blocks shuffled by `seed` within windows of `window` row groups
    /// (see `TableSource::block_shuffled`); only for a whole table (its rows in order).
    fn block_shuffled(&self, seed: u64, window: usize) -> PyResult<Self> {
        if window == 0 {
            return Err(PyValueError::new_err(
                "block_shuffled: window must be at least 1",
            ));
        }
        if self.rows.is_some() {
            return Err(PyValueError::new_err(
                "block_shuffled: only a whole table dataset (not a subset or a split) can be \
                 block-shuffled: shuffle the table, then split it",
            ));
        }
        Ok(Self::of(self.source.block_shuffled(seed, window)))
    }

    /// The number of rows of the source.
    fn n_rows(&self) -> usize {
        self.source.rows()
    }

    /// The names of the columns.
    fn column_names(&self) -> Vec<String> {
        self.source.column_names()
    }

    /// The same table for a dataset of the rows `rows` (an `int64` array), one per position.
    fn select(&self, rows: numpy::PyReadonlyArray1<'_, i64>) -> PyResult<Self> {
        let n = self.source.rows();
        let rows = rows
            .as_array()
            .iter()
            .map(|&r| {
                usize::try_from(r).ok().filter(|&r| r < n).ok_or_else(|| {
                    PyIndexError::new_err(format!("row {r} is not in the table ({n} rows)"))
                })
            })
            .collect::<PyResult<Vec<usize>>>()?;
        Ok(Self {
            source: Arc::clone(&self.source),
            rows: Some(Arc::new(rows)),
        })
    }

    /// Whether the dataset is the whole table, its rows in order.
    fn is_whole(&self) -> bool {
        self.rows.is_none()
    }
}

/// Statistics of numeric columns fitted on the rows of a dataset (for `standardize` and
/// `normalize`).
#[pyclass(module = "batchline._batchline", name = "TableStatsData", frozen)]
pub(crate) struct TableStatsData(pub(crate) TableStats);

#[pymethods]
impl TableStatsData {
    /// Fits the statistics of `columns` over the rows of `data` (without the GIL).
    #[staticmethod]
    fn fit(py: Python<'_>, data: &TableData, columns: Vec<String>) -> PyResult<Self> {
        if columns.is_empty() {
            return Err(PyValueError::new_err("fit: no columns given"));
        }
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        let stats = py
            .detach(|| match &data.rows {
                Some(rows) => TableStats::fit_rows(&data.source, rows, &names),
                None => {
                    let all: Vec<usize> = (0..data.source.rows()).collect();
                    TableStats::fit_rows(&data.source, &all, &names)
                }
            })
            .map_err(|e| match e {
                batchline::table::TableError::ColumnType { .. } => {
                    PyTypeError::new_err(format!("fit: {e}"))
                }
                e => PyValueError::new_err(format!("fit: {e}")),
            })?;
        Ok(Self(stats))
    }

    /// The fitted columns, in order.
    fn columns(&self) -> Vec<String> {
        self.0.columns().iter().map(|c| c.name.clone()).collect()
    }

    /// `(count, mean, std, min, max)` of a column, one value per element (`KeyError` for a
    /// column that was not fitted).
    #[allow(clippy::type_complexity)]
    fn get(&self, column: &str) -> PyResult<(Vec<u64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>)> {
        let c = self.0.get(column).ok_or_else(|| {
            pyo3::exceptions::PyKeyError::new_err(format!("no statistics for column {column:?}"))
        })?;
        Ok((
            c.count.clone(),
            c.mean.clone(),
            c.std.clone(),
            c.min.clone(),
            c.max.clone(),
        ))
    }
}

impl PyBatch {
    /// The batch's native table, made from its positions on first use.
    pub(crate) fn table(&mut self) -> Result<&mut TableBatch, ActionError> {
        let native = self.native_mut(
            "table",
            "a table dataset (TableBatch.from_csv, from_parquet, from_npy, from_npz)",
            |src: &TableSourceRef, index: &BatchIndex<usize>| {
                let rows: Vec<usize> = index.ids().iter().map(|&p| src.row(p)).collect();
                NativeTable(TableBatch::create(
                    BatchIndex::new(rows, index.ids().to_vec()),
                    &src.source,
                ))
            },
        )?;
        Ok(&mut native.0)
    }
}

/// The options of a `.npy` / `.npz` source.
fn npy_options(max_resident: Option<usize>) -> NpyOptions {
    match max_resident {
        Some(bytes) => NpyOptions::new().max_resident(bytes),
        None => NpyOptions::new(),
    }
}

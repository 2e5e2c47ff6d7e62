//! Tables on Apache Arrow: [`TableSource`] (rows from memory, CSV, Parquet or `.npy` / `.npz`
//! files) and [`TableBatch`] (the rows of a batch as an Arrow `RecordBatch`, with actions).
//!
//! A source never loads more than it must: CSV is parsed into memory at open (a CSV file cannot
//! be read by row), Parquet is read by row group through a bounded cache, and `.npy` / `.npz`
//! arrays are memory-mapped and their rows copied out of the map when a batch asks (the
//! operating system's page cache serves them on demand), so a source over a 50 GB array costs
//! no memory up front. The map has the caveat of `numpy.memmap`: a file truncated or rewritten
//! by another process while a source maps it can raise `SIGBUS` or change the rows read.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Float32Array, Int64Array, RecordBatch};
//! use batchline::table::{TableBatch, TableBatchActions, TableSource, TableStats};
//! use batchline::{Dataset, DatasetIndex, RunSpec};
//!
//! let table = RecordBatch::try_from_iter([
//!     ("x", Arc::new(Float32Array::from(vec![1.0, 2.0, 3.0, 4.0])) as _),
//!     ("label", Arc::new(Int64Array::from(vec![0, 1, 0, 1])) as _),
//! ])?;
//! let source = TableSource::from_batch(table);
//! let dataset: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(source.rows()), source);
//! let stats = TableStats::fit(&dataset, &["x"])?; // mean 2.5
//! let pipeline = dataset.p().load().standardize(stats).to_tensor(vec!["x".into()]);
//! let batch = pipeline.gen_batch(&RunSpec::new(4))?.next().unwrap()?;
//! assert_eq!(batch.labels("label")?.to_vec(), [0, 1, 0, 1]);
//! assert!(batch.tensor()?[[0, 0]] < 0.0 && batch.tensor()?[[3, 0]] > 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod csv;
mod npy;
mod parquet;
mod reader;
mod source;
mod stats;

pub use self::batch::{DumpFormat, TableBatch, TableBatchActions};
pub use self::csv::CsvOptions;
pub use self::npy::{NpyOptions, NpyWriter};
pub use self::parquet::{ParquetOptions, ParquetWriter};
pub use self::source::TableSource;
pub use self::stats::{ColumnStats, TableStats};

use std::path::PathBuf;

/// Errors of [`TableSource`], [`TableBatch`] and the readers: each names the file (or the
/// column) and what is wrong.
///
/// # Examples
///
/// ```
/// use batchline::table::{TableError, TableSource};
///
/// let err = TableSource::npy([("x", "no/such/file.npy")]).unwrap_err();
/// assert!(matches!(err, TableError::NoFiles { .. }));
/// assert!(err.to_string().contains("no/such/file.npy"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error of the operating system.
        source: std::io::Error,
    },
    /// A path, folder or glob pattern that matches no file.
    #[error("{pattern}: no such file (nor a folder or glob pattern matching one)")]
    NoFiles {
        /// The pattern or path given.
        pattern: String,
    },
    /// A CSV file that cannot be read: the message names the line and column.
    #[error("{}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line (1 = the first line of the file) and the column.
        message: String,
    },
    /// A Parquet file that cannot be read (truncated, corrupt, or a codec not built in).
    #[error("{}: {message}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A `.npy` / `.npz` file that cannot be read (a wrong header, an unsupported dtype).
    #[error("{}: {message}", path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The shards (or the columns) of a source do not fit together.
    #[error("{}: {message}", path.display())]
    Mismatch {
        /// The file that does not fit the first one.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// No column has this name.
    #[error("no column named {column:?} (the columns are {available:?})")]
    UnknownColumn {
        /// The name asked for.
        column: String,
        /// The columns there are.
        available: Vec<String>,
    },
    /// A column whose type does not suit the operation.
    #[error("column {column:?}: {message}")]
    ColumnType {
        /// The column.
        column: String,
        /// What does not suit.
        message: String,
    },
    /// A row number beyond the source's rows.
    #[error("row {row} is out of range: the source has {rows} rows")]
    RowOutOfRange {
        /// The row asked for.
        row: usize,
        /// The rows of the source.
        rows: usize,
    },
    /// The batch's table is asked for before the `load` action ran.
    #[error("the batch holds no table: run the `load` action first")]
    NotLoaded,
    /// The batch's tensor is asked for before the `to_tensor` action ran.
    #[error("the batch holds no tensor: run the `to_tensor` action first")]
    NoTensor,
    /// Two batches, or a batch and a table, that do not fit together.
    #[error("{message}")]
    Shape {
        /// What does not fit.
        message: String,
    },
    /// An Arrow kernel failed.
    #[error("{context}: {source}")]
    Arrow {
        /// What was being done.
        context: String,
        /// Arrow's error.
        source: arrow_schema::ArrowError,
    },
}

impl TableError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TableError {
        let path = path.into();
        move |source| TableError::Io { path, source }
    }

    fn arrow(context: impl Into<String>) -> impl FnOnce(arrow_schema::ArrowError) -> TableError {
        let context = context.into();
        move |source| TableError::Arrow { context, source }
    }
}

/// The files a path, a folder (its files with extension `ext`, sorted) or a glob pattern
/// (sorted) names.
fn expand(pattern: &str, ext: &str) -> Result<Vec<PathBuf>, TableError> {
    let none = || TableError::NoFiles {
        pattern: pattern.to_string(),
    };
    let path = std::path::Path::new(pattern);
    let mut files: Vec<PathBuf> = if path.is_file() {
        vec![path.to_path_buf()]
    } else if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(TableError::io(path))?;
        let mut files = Vec::new();
        for entry in entries {
            let p = entry.map_err(TableError::io(path))?.path();
            if p.is_file() && p.extension().is_some_and(|e| e == ext) {
                files.push(p);
            }
        }
        files
    } else {
        match glob::glob(pattern) {
            Ok(paths) => paths
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect(),
            Err(_) => return Err(none()),
        }
    };
    files.sort();
    if files.is_empty() {
        return Err(none());
    }
    Ok(files)
}

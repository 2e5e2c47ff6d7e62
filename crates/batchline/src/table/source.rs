//! [`TableSource`]: the rows of a table, from memory or from files.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{RecordBatch, UInt64Array};
use arrow_schema::SchemaRef;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::reader::Reader;
use super::{CsvOptions, NpyOptions, ParquetOptions, TableError};

/// The rows of a table: the source of a [`TableBatch`](super::TableBatch), whose ids are row
/// numbers (0-based).
///
/// * [`from_batch`](Self::from_batch): an Arrow `RecordBatch` in memory.
/// * [`csv`](Self::csv): a CSV file, parsed into memory at open.
/// * [`parquet`](Self::parquet): a Parquet file, a folder or a glob of shards, read by row
///   group through a bounded cache.
/// * [`npy`](Self::npy) / [`npz`](Self::npz): `.npy` arrays (or the arrays of `.npz` archives),
///   one file or a folder / glob of shards, whose rows are read from the file on demand.
///
/// Every reader checks its files at open: a file that does not exist, a truncated Parquet
/// file, a `.npy` header that cannot be parsed or an unsupported dtype is an error naming the
/// file.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use batchline::table::TableSource;
///
/// let table = RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(vec![7, 8, 9])) as _)])?;
/// let source = TableSource::from_batch(table);
/// assert_eq!((source.rows(), source.column_names()), (3, vec!["id".to_string()]));
/// let rows = source.take(&[2, 0])?;
/// assert_eq!(rows.num_rows(), 2);
/// assert!(source.take(&[3]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TableSource {
    reader: Arc<dyn Reader>,
}

impl TableSource {
    pub(super) fn new(reader: impl Reader + 'static) -> Self {
        Self {
            reader: Arc::new(reader),
        }
    }

    /// A source of the rows of a `RecordBatch` in memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Float64Array, RecordBatch};
    /// use batchline::table::TableSource;
    ///
    /// let t = RecordBatch::try_from_iter([("v", Arc::new(Float64Array::from(vec![0.5; 10])) as _)])?;
    /// assert_eq!(TableSource::from_batch(t).rows(), 10);
    /// # Ok::<(), arrow_schema::ArrowError>(())
    /// ```
    pub fn from_batch(table: RecordBatch) -> Self {
        Self::new(Memory { table })
    }

    /// A source of the rows of a CSV file, parsed into memory (see [`CsvOptions`]).
    ///
    /// # Errors
    ///
    /// [`TableError::Io`] when the file cannot be read, [`TableError::Csv`] naming the line and
    /// column of a value that does not parse or a row with a wrong number of fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::table::{CsvOptions, TableSource};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("t.csv");
    /// std::fs::write(&path, "a;b\n1;x\n2;y\n")?;
    /// let source = TableSource::csv(&path, &CsvOptions::new().delimiter(b';'))?;
    /// assert_eq!((source.rows(), source.column_names()), (2, vec!["a".into(), "b".into()]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Self, TableError> {
        let table = super::csv::read(path.as_ref(), options)?;
        Ok(Self::from_batch(table))
    }

    /// A source of the rows of a Parquet file, or of the files of a folder or glob pattern as
    /// one table (shards in sorted order; they must have the same schema).
    ///
    /// The footers are read at open; the rows are read by row group, through a cache of at
    /// most [`ParquetOptions::cache_row_groups`] decoded row groups.
    ///
    /// # Errors
    ///
    /// [`TableError::NoFiles`], [`TableError::Parquet`] for a file that is not valid Parquet
    /// (for instance truncated), [`TableError::Mismatch`] for shards with different schemas,
    /// [`TableError::UnknownColumn`] for a projected column that does not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::table::{ParquetOptions, TableError, TableSource};
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("bad.parquet"), b"PAR1 not really")?;
    /// let err = TableSource::parquet(dir.path().to_str().unwrap(), &ParquetOptions::new()).unwrap_err();
    /// assert!(matches!(err, TableError::Parquet { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parquet(pattern: &str, options: &ParquetOptions) -> Result<Self, TableError> {
        Ok(Self::new(super::parquet::ParquetReader::open(
            pattern, options,
        )?))
    }

    /// A source of one column per `(name, pattern)`: each pattern is a `.npy` file, a folder of
    /// `.npy` shards or a glob of them (concatenated along the first axis, in sorted order).
    ///
    /// An array of shape `(n,)` becomes a column of `n` scalars; an array of shape `(n, d1, ..)`
    /// a column of `n` fixed-size lists of `d1 × ..` values (row-major). Supported dtypes:
    /// little-endian `f4`, `f8`, `i1`–`i8`, `u1`–`u8` and `b1`, in C order. The files are
    /// memory-mapped and their headers checked at open; rows are copied out of the maps when a
    /// batch loads them, so the page cache serves them and nothing is read up front.
    ///
    /// # The caveat of a memory map
    ///
    /// As with `numpy.memmap`: a file truncated by another process while the source maps it
    /// raises `SIGBUS` when a missing page is read (the process dies), and a file rewritten in
    /// place changes the rows read afterwards. Do not modify the files while a source reads
    /// them.
    ///
    /// # Errors
    ///
    /// [`TableError::NoFiles`], [`TableError::Npy`] for a wrong header or an unsupported
    /// dtype, [`TableError::Mismatch`] when shards differ in dtype or row shape, or columns in
    /// rows.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::table::TableSource;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("bad.npy");
    /// std::fs::write(&path, b"\x93NUMPY\x01\x00\x10\x00{'descr': '<c8'}")?;
    /// let err = TableSource::npy([("x", path.to_str().unwrap())]).unwrap_err();
    /// assert!(err.to_string().contains("bad.npy"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn npy<'a>(
        columns: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, TableError> {
        Self::npy_with(columns, &NpyOptions::new())
    }

    /// [`npy`](Self::npy) with options: a bound on the files' pages resident in the process
    /// ([`NpyOptions::max_resident`]).
    ///
    /// # Errors
    ///
    /// As [`npy`](Self::npy).
    ///
    /// # Examples
    ///
    /// ```
    /// use arrow_array::Int64Array;
    /// use arrow_schema::DataType;
    /// use batchline::table::{NpyOptions, NpyWriter, TableSource};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("x.npy");
    /// let mut writer = NpyWriter::create(&path, &DataType::Int64, None, 1024)?;
    /// writer.append(&Int64Array::from_iter_values(0..1024))?;
    /// writer.finish()?;
    /// let source = TableSource::npy_with([("x", path.to_str().unwrap())], &NpyOptions::new().max_resident(64 << 20))?;
    /// // A block-shuffled view keeps the reads of a batch within a few blocks of the file.
    /// let view = source.block_shuffled(1, 4);
    /// assert_eq!(view.take(&[0, 1, 2])?.num_rows(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn npy_with<'a>(
        columns: impl IntoIterator<Item = (&'a str, &'a str)>,
        options: &NpyOptions,
    ) -> Result<Self, TableError> {
        Ok(Self::new(super::npy::NpyReader::open_npy(
            columns, options,
        )?))
    }

    /// A source of the arrays of a `.npz` archive (one column per array, named like the array),
    /// or of a folder or glob of `.npz` shards. Members must be stored uncompressed
    /// (`numpy.savez`, not `savez_compressed`): each member is mapped where it lies in the
    /// archive, with the caveat of [`npy`](Self::npy).
    ///
    /// # Errors
    ///
    /// As [`npy`](Self::npy), and [`TableError::Npy`] for a compressed member.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::table::{TableError, TableSource};
    ///
    /// let err = TableSource::npz("missing.npz").unwrap_err();
    /// assert!(matches!(err, TableError::NoFiles { .. }));
    /// ```
    pub fn npz(pattern: &str) -> Result<Self, TableError> {
        Self::npz_with(pattern, &NpyOptions::new())
    }

    /// [`npz`](Self::npz) with options ([`NpyOptions::max_resident`]).
    ///
    /// # Errors
    ///
    /// As [`npz`](Self::npz).
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::table::{NpyOptions, TableSource};
    ///
    /// let err = TableSource::npz_with("missing.npz", &NpyOptions::new().max_resident(1 << 30)).unwrap_err();
    /// assert!(err.to_string().contains("missing.npz"));
    /// ```
    pub fn npz_with(pattern: &str, options: &NpyOptions) -> Result<Self, TableError> {
        Ok(Self::new(super::npy::NpyReader::open_npz(
            pattern, options,
        )?))
    }

    /// The schema of the rows.
    pub fn schema(&self) -> SchemaRef {
        self.reader.schema()
    }

    /// The names of the columns.
    pub fn column_names(&self) -> Vec<String> {
        self.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.reader.rows()
    }

    /// For a Parquet source, the row groups decoded since it was opened and the number held
    /// in its cache now (at most [`ParquetOptions::cache_row_groups`]); `(0, 0)` for other
    /// sources. A diagnostic: how well the order of the rows suits the file.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch};
    /// use batchline::table::TableSource;
    ///
    /// let t = RecordBatch::try_from_iter([("v", Arc::new(Int64Array::from(vec![1])) as _)])?;
    /// assert_eq!(TableSource::from_batch(t).row_groups(), (0, 0));
    /// # Ok::<(), arrow_schema::ArrowError>(())
    /// ```
    pub fn row_groups(&self) -> (u64, usize) {
        self.reader.row_groups()
    }

    /// The rows with these numbers, in this order.
    ///
    /// # Errors
    ///
    /// [`TableError::RowOutOfRange`] for a row beyond the source's rows; a reader's error
    /// (naming the file) when the rows cannot be read.
    pub fn take(&self, rows: &[usize]) -> Result<RecordBatch, TableError> {
        let n = self.rows();
        if let Some(&row) = rows.iter().find(|&&r| r >= n) {
            return Err(TableError::RowOutOfRange { row, rows: n });
        }
        self.reader.take(rows)
    }

    /// The same rows in a **block-shuffled** order, for the best throughput over data larger
    /// than memory: row `i` of the new source is row `order(i)` of this one, where the
    /// source's blocks (row groups for Parquet, runs of 65 536 rows otherwise) are shuffled,
    /// then rows are permuted within each window of `window` consecutive blocks.
    ///
    /// A fully shuffled epoch over a Parquet file touches a different row group for nearly
    /// every row, so each batch decodes many row groups; in block-shuffled order the rows of a
    /// batch come from at most `window` row groups (two windows at a boundary), and a cache of
    /// `window` row groups per worker ([`ParquetOptions::cache_row_groups`]) decodes each row
    /// group about once per epoch. The price is a weaker shuffle: rows whose blocks fall in
    /// different windows never meet in a batch, and within a window the permutation is an
    /// affine one (`j → (a·j + b) mod n`, `a` and `b` drawn from `seed`), which costs no
    /// memory for any number of rows. Use the new source with the run's shuffle off, and draw
    /// a new one (a new `seed`) for each epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{cast::AsArray, types::Int64Type, Int64Array, RecordBatch};
    /// use batchline::table::TableSource;
    ///
    /// let t = RecordBatch::try_from_iter([("v", Arc::new(Int64Array::from_iter_values(0..200_000)) as _)])?;
    /// let shuffled = TableSource::from_batch(t).block_shuffled(7, 2);
    /// let all: Vec<usize> = (0..200_000).collect();
    /// let rows = shuffled.take(&all)?;
    /// let mut values: Vec<i64> = rows.column(0).as_primitive::<Int64Type>().values().to_vec();
    /// assert_ne!(values[..5], [0, 1, 2, 3, 4]);
    /// values.sort();
    /// assert!(values.iter().enumerate().all(|(i, &v)| v == i as i64)); // a permutation
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn block_shuffled(&self, seed: u64, window: usize) -> TableSource {
        TableSource::new(BlockShuffled::new(Arc::clone(&self.reader), seed, window))
    }
}

/// A window of blocks of a [`BlockShuffled`] source and its affine permutation.
#[derive(Debug)]
struct Window {
    blocks: Vec<Range<usize>>,
    len: usize,
    a: u128,
    b: u128,
}

/// A view of a source's rows in block-shuffled order.
#[derive(Debug)]
struct BlockShuffled {
    inner: Arc<dyn Reader>,
    windows: Vec<Window>,
    starts: Vec<usize>,
}

impl BlockShuffled {
    fn new(inner: Arc<dyn Reader>, seed: u64, window: usize) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut blocks = inner.blocks();
        blocks.retain(|b| !b.is_empty());
        blocks.shuffle(&mut rng);
        let mut windows = Vec::new();
        let mut starts = Vec::new();
        let mut start = 0;
        for group in blocks.chunks(window.max(1)) {
            let len: usize = group.iter().map(ExactSizeIterator::len).sum();
            let mut a = rng.random_range(1..len.max(2)) as u128;
            while gcd(a, len as u128) != 1 {
                a = rng.random_range(1..len.max(2)) as u128;
            }
            let b = rng.random_range(0..len) as u128;
            starts.push(start);
            start += len;
            windows.push(Window {
                blocks: group.to_vec(),
                len,
                a,
                b,
            });
        }
        Self {
            inner,
            windows,
            starts,
        }
    }

    fn row(&self, i: usize) -> usize {
        let w = self.starts.partition_point(|&s| s <= i) - 1;
        let window = &self.windows[w];
        let j = (i - self.starts[w]) as u128;
        let mut k = ((window.a * j + window.b) % window.len as u128) as usize;
        for block in &window.blocks {
            if k < block.len() {
                return block.start + k;
            }
            k -= block.len();
        }
        unreachable!("k < the window's rows")
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Reader for BlockShuffled {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn rows(&self) -> usize {
        self.inner.rows()
    }

    fn row_groups(&self) -> (u64, usize) {
        self.inner.row_groups()
    }

    fn take(&self, rows: &[usize]) -> Result<RecordBatch, TableError> {
        let mapped: Vec<usize> = rows.iter().map(|&i| self.row(i)).collect();
        self.inner.take(&mapped)
    }
}

/// A table in memory.
#[derive(Debug)]
struct Memory {
    table: RecordBatch,
}

impl Reader for Memory {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn rows(&self) -> usize {
        self.table.num_rows()
    }

    fn take(&self, rows: &[usize]) -> Result<RecordBatch, TableError> {
        let indices = UInt64Array::from_iter_values(rows.iter().map(|&r| r as u64));
        arrow_select::take::take_record_batch(&self.table, &indices)
            .map_err(TableError::arrow("taking rows"))
    }
}

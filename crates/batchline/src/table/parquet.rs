//! The Parquet reader of [`TableSource::parquet`](super::TableSource::parquet) (rows read by
//! row group, through a bounded cache) and the Parquet writer of the `dump` action.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::{RecordBatch, UInt32Array};
use arrow_schema::SchemaRef;
use parking_lot::Mutex;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

use super::reader::Reader;
use super::TableError;

/// How to read Parquet files: the columns to read, and the row-group cache.
///
/// # Examples
///
/// ```
/// use batchline::table::ParquetOptions;
///
/// let options = ParquetOptions::new().columns(&["x", "label"]).cache_row_groups(16);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct ParquetOptions {
    columns: Option<Vec<String>>,
    cache: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            columns: None,
            cache: 8,
        }
    }
}

impl ParquetOptions {
    /// Every column, a cache of 8 row groups.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads only these columns (projection: the others are never decoded); they keep the
    /// file's order.
    pub fn columns(mut self, columns: &[&str]) -> Self {
        self.columns = Some(columns.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Keeps at most `n` decoded row groups in memory (default 8; at least 1), least recently
    /// used first out. The memory a source holds is about `n` times the decoded size of a row
    /// group, plus one row group being decoded per worker. With a full shuffle a batch needs
    /// rows of many row groups and each is decoded for a few rows; with
    /// [`TableSource::block_shuffled`](super::TableSource::block_shuffled) and `n` at least its
    /// window, each row group is decoded about once per epoch.
    pub fn cache_row_groups(mut self, n: usize) -> Self {
        self.cache = n.max(1);
        self
    }
}

/// One file of a Parquet source.
#[derive(Debug)]
struct Shard {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    mask: ProjectionMask,
}

/// A row group of a source: its shard, its number in the shard and its global rows.
#[derive(Debug)]
struct Group {
    shard: usize,
    group: usize,
    rows: Range<usize>,
}

#[derive(Debug)]
pub(super) struct ParquetReader {
    shards: Vec<Shard>,
    groups: Vec<Group>,
    starts: Vec<usize>,
    schema: SchemaRef,
    rows: usize,
    capacity: usize,
    /// Decoded row groups, least recently used first.
    cache: Mutex<Vec<(usize, Arc<OnceLock<Decoded>>)>>,
    decoded: AtomicU64,
}

fn parquet_error(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> TableError + '_ {
    move |e| TableError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl ParquetReader {
    pub(super) fn open(pattern: &str, options: &ParquetOptions) -> Result<Self, TableError> {
        let mut shards: Vec<Shard> = Vec::new();
        let mut schema: Option<SchemaRef> = None;
        for path in super::expand(pattern, "parquet")? {
            let file = File::open(&path).map_err(TableError::io(&path))?;
            let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                .map_err(parquet_error(&path))?;
            let file_schema = Arc::clone(metadata.schema());
            let (mask, projected) = match &options.columns {
                None => (ProjectionMask::all(), file_schema),
                Some(columns) => {
                    let mut indices = Vec::with_capacity(columns.len());
                    for c in columns {
                        let i = file_schema
                            .index_of(c)
                            .map_err(|_| TableError::UnknownColumn {
                                column: c.clone(),
                                available: file_schema
                                    .fields()
                                    .iter()
                                    .map(|f| f.name().clone())
                                    .collect(),
                            })?;
                        indices.push(i);
                    }
                    // The reader returns the projected columns in file order.
                    indices.sort_unstable();
                    let in_file_order = file_schema
                        .project(&indices)
                        .map_err(TableError::arrow("projecting the schema"))?;
                    (
                        ProjectionMask::roots(metadata.parquet_schema(), indices),
                        Arc::new(in_file_order),
                    )
                }
            };
            match &schema {
                None => schema = Some(projected),
                Some(first) if first.fields() != projected.fields() => {
                    return Err(TableError::Mismatch {
                        path,
                        message: format!(
                            "schema {:?}, the first shard ({}) has {:?}",
                            projected.fields(),
                            shards[0].path.display(),
                            first.fields()
                        ),
                    })
                }
                Some(_) => {}
            }
            shards.push(Shard {
                path,
                metadata,
                mask,
            });
        }
        let schema = schema.ok_or_else(|| TableError::NoFiles {
            pattern: pattern.to_string(),
        })?;
        let mut groups = Vec::new();
        let mut starts = Vec::new();
        let mut rows = 0;
        for (s, shard) in shards.iter().enumerate() {
            for (g, group) in shard.metadata.metadata().row_groups().iter().enumerate() {
                let n = group.num_rows().max(0) as usize;
                if n == 0 {
                    continue;
                }
                starts.push(rows);
                groups.push(Group {
                    shard: s,
                    group: g,
                    rows: rows..rows + n,
                });
                rows += n;
            }
        }
        Ok(Self {
            shards,
            groups,
            starts,
            schema,
            rows,
            capacity: options.cache,
            cache: Mutex::new(Vec::new()),
            decoded: AtomicU64::new(0),
        })
    }

    /// A decoded row group, from the cache or from the file (then cached). Workers that
    /// want the same row group at once wait for one decoding instead of each decoding it.
    fn group(&self, g: usize) -> Result<Arc<RecordBatch>, TableError> {
        let slot = {
            let mut cache = self.cache.lock();
            match cache.iter().position(|(k, _)| *k == g) {
                Some(at) => {
                    let entry = cache.remove(at);
                    let slot = Arc::clone(&entry.1);
                    cache.push(entry);
                    slot
                }
                None => {
                    if cache.len() >= self.capacity {
                        cache.remove(0);
                    }
                    let slot = Arc::new(OnceLock::new());
                    cache.push((g, Arc::clone(&slot)));
                    slot
                }
            }
        };
        match slot.get_or_init(|| self.decode(g)) {
            Ok(batch) => Ok(Arc::clone(batch)),
            Err((path, message)) => {
                self.cache
                    .lock()
                    .retain(|(k, s)| *k != g || !Arc::ptr_eq(s, &slot));
                Err(TableError::Parquet {
                    path: path.clone(),
                    message: message.clone(),
                })
            }
        }
    }

    fn decode(&self, g: usize) -> Decoded {
        let group = &self.groups[g];
        let shard = &self.shards[group.shard];
        let fail = |message: String| (shard.path.clone(), message);
        // A file of its own for each read: a cloned handle would share the file position
        // with the other workers' reads.
        let file = File::open(&shard.path).map_err(|e| fail(e.to_string()))?;
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, shard.metadata.clone())
                .with_projection(shard.mask.clone())
                .with_row_groups(vec![group.group])
                .with_batch_size(group.rows.len())
                .build()
                .map_err(|e| fail(e.to_string()))?;
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(format!("row group {}: {e}", group.group)))?;
        self.decoded.fetch_add(1, Ordering::Relaxed);
        let batch = arrow_select::concat::concat_batches(&self.schema, &batches)
            .map_err(|e| fail(format!("row group {}: {e}", group.group)))?;
        Ok(Arc::new(batch))
    }
}

/// A decoded row group, or the file and the message of the failure.
type Decoded = Result<Arc<RecordBatch>, (PathBuf, String)>;

impl Reader for ParquetReader {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn rows(&self) -> usize {
        self.rows
    }

    fn take(&self, rows: &[usize]) -> Result<RecordBatch, TableError> {
        if rows.is_empty() {
            return Ok(RecordBatch::new_empty(Arc::clone(&self.schema)));
        }
        // The rows by row group: (group, local row, position in the batch).
        let mut wanted: Vec<(usize, u32, usize)> = rows
            .iter()
            .enumerate()
            .map(|(pos, &r)| {
                let g = self.starts.partition_point(|&s| s <= r) - 1;
                (g, (r - self.groups[g].rows.start) as u32, pos)
            })
            .collect();
        wanted.sort_unstable();
        // One row group at a time: only its rows are kept, so a batch never holds more than
        // one decoded row group beyond the cache.
        let mut pieces = Vec::new();
        let mut order = vec![(0, 0); rows.len()];
        for run in wanted.chunk_by(|a, b| a.0 == b.0) {
            let group = self.group(run[0].0)?;
            let local = UInt32Array::from_iter_values(run.iter().map(|w| w.1));
            let piece = arrow_select::take::take_record_batch(&group, &local)
                .map_err(TableError::arrow("taking rows of a row group"))?;
            for (i, w) in run.iter().enumerate() {
                order[w.2] = (pieces.len(), i);
            }
            pieces.push(piece);
        }
        let refs: Vec<&RecordBatch> = pieces.iter().collect();
        arrow_select::interleave::interleave_record_batch(&refs, &order)
            .map_err(TableError::arrow("ordering the rows"))
    }

    fn row_groups(&self) -> (u64, usize) {
        (
            self.decoded.load(Ordering::Relaxed),
            self.cache.lock().len(),
        )
    }

    fn blocks(&self) -> Vec<Range<usize>> {
        self.groups.iter().map(|g| g.rows.clone()).collect()
    }
}

/// A Parquet file written a chunk of rows at a time (snappy-compressed), so that tables larger
/// than memory can be written; it reads back with
/// [`TableSource::parquet`](super::TableSource::parquet), pandas, polars or pyarrow.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Int64Array, RecordBatch};
/// use batchline::table::{ParquetOptions, ParquetWriter, TableSource};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("t.parquet");
/// let rows = RecordBatch::try_from_iter([("y", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)])?;
/// let mut writer = ParquetWriter::create(&path, rows.schema(), 2)?; // row groups of 2 rows
/// writer.append(&rows)?;
/// writer.append(&rows)?;
/// writer.finish()?;
/// assert_eq!(TableSource::parquet(path.to_str().unwrap(), &ParquetOptions::new())?.rows(), 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ParquetWriter {
    path: PathBuf,
    writer: parquet::arrow::ArrowWriter<File>,
}

impl std::fmt::Debug for ParquetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl ParquetWriter {
    /// Creates the file for rows of `schema`, in row groups of at most `row_group_rows` rows.
    ///
    /// # Errors
    ///
    /// [`TableError::Io`], [`TableError::Parquet`] for a schema Parquet cannot hold.
    pub fn create(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        row_group_rows: usize,
    ) -> Result<Self, TableError> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(TableError::io(&path))?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .set_max_row_group_row_count(Some(row_group_rows.max(1)))
            .build();
        let writer = parquet::arrow::ArrowWriter::try_new(file, schema, Some(props))
            .map_err(parquet_error(&path))?;
        Ok(Self { path, writer })
    }

    /// Appends rows of the file's schema.
    ///
    /// # Errors
    ///
    /// [`TableError::Parquet`] for rows of another schema or a failed write.
    pub fn append(&mut self, rows: &RecordBatch) -> Result<(), TableError> {
        self.writer.write(rows).map_err(parquet_error(&self.path))
    }

    /// Writes the last row group and the footer.
    ///
    /// # Errors
    ///
    /// [`TableError::Parquet`] when the writes fail.
    pub fn finish(self) -> Result<(), TableError> {
        self.writer.close().map_err(parquet_error(&self.path))?;
        Ok(())
    }
}

/// Writes a table as one Parquet file (snappy-compressed, row groups of 65 536 rows).
pub(super) fn write_parquet(path: &Path, table: &RecordBatch) -> Result<(), TableError> {
    let mut writer = ParquetWriter::create(path, table.schema(), 65_536)?;
    writer.append(table)?;
    writer.finish()
}

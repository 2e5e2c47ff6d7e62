//! The Parquet reader of [`TableSource::parquet`](super::TableSource::parquet) (rows read by
//! row group, through a bounded cache) and the Parquet writer of the `dump` action.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::{RecordBatch, UInt32Array};
use arrow_schema::SchemaRef;
use parking_lot::Mutex;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

use super::source::Reader;
use super::TableError;

/// How to read Parquet files: the columns to read, and the row-group cache.
///
/// # Examples
///
/// ```
/// use batchline::batch::ParquetOptions;
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
    cache: Mutex<Vec<(usize, Arc<RecordBatch>)>>,
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

    /// A decoded row group, from the cache or from the file (then cached).
    fn group(&self, g: usize) -> Result<Arc<RecordBatch>, TableError> {
        {
            let mut cache = self.cache.lock();
            if let Some(at) = cache.iter().position(|(k, _)| *k == g) {
                let entry = cache.remove(at);
                let batch = Arc::clone(&entry.1);
                cache.push(entry);
                return Ok(batch);
            }
        }
        let group = &self.groups[g];
        let shard = &self.shards[group.shard];
        // A file of its own for each read: a cloned handle would share the file position
        // with the other workers' reads.
        let file = File::open(&shard.path).map_err(TableError::io(&shard.path))?;
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, shard.metadata.clone())
                .with_projection(shard.mask.clone())
                .with_row_groups(vec![group.group])
                .with_batch_size(group.rows.len())
                .build()
                .map_err(parquet_error(&shard.path))?;
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TableError::Parquet {
                path: shard.path.clone(),
                message: format!("row group {}: {e}", group.group),
            })?;
        self.decoded.fetch_add(1, Ordering::Relaxed);
        let batch = Arc::new(
            arrow_select::concat::concat_batches(&self.schema, &batches)
                .map_err(TableError::arrow("joining a row group"))?,
        );
        let mut cache = self.cache.lock();
        if !cache.iter().any(|(k, _)| *k == g) {
            if cache.len() >= self.capacity {
                cache.remove(0);
            }
            cache.push((g, Arc::clone(&batch)));
        }
        Ok(batch)
    }
}

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

/// Writes a table as a Parquet file (snappy-compressed, one row group per 65 536 rows).
pub(super) fn write_parquet(path: &Path, table: &RecordBatch) -> Result<(), TableError> {
    let file = File::create(path).map_err(TableError::io(path))?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, table.schema(), Some(props))
        .map_err(parquet_error(path))?;
    writer.write(table).map_err(parquet_error(path))?;
    writer.close().map_err(parquet_error(path))?;
    Ok(())
}

//! `.npy` / `.npz` arrays as table columns, mapped into memory; and the `.npy` writer of the
//! `dump` action.
//!
//! The format: <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>. A file
//! is a magic string, a version, a header (a Python dict literal with `descr`,
//! `fortran_order` and `shape`) and the raw values. Every file is mapped into memory at open
//! ([`map`](self::map), with the library's `unsafe` calls and their caveat) and its header
//! parsed and checked there ([`header`]); rows are copied out of the map when a batch asks for
//! them, so the operating system's page cache serves them on demand and nothing is read
//! before. With [`NpyOptions::max_resident`], [`resident`] unmaps the pages of the least
//! recently read blocks once more than the limit is mapped. The members of an `.npz` archive
//! are mapped where they lie in the archive, which only works for members stored
//! uncompressed (`numpy.savez`): a compressed member (`numpy.savez_compressed`) is refused at
//! open, naming the archive and the member.

mod header;
mod map;
mod options;
mod resident;
mod writer;

pub use self::options::NpyOptions;

pub(super) use self::writer::write_npy;
pub use self::writer::NpyWriter;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{ArrayRef, BooleanArray, FixedSizeListArray, PrimitiveArray, RecordBatch};
use arrow_buffer::{Buffer, MutableBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use memmap2::Mmap;

use self::header::{npy_error, parse_header, Header};
use self::resident::Resident;
use super::reader::Reader;
use super::TableError;

/// One file (or `.npz` member) of a column.
#[derive(Debug)]
struct Shard {
    path: PathBuf,
    /// The map of the whole file (of the whole archive, shared by its members).
    map: Arc<Mmap>,
    /// The number of the map among the reader's maps.
    map_id: usize,
    header: Header,
}

/// A column made of the rows of one or more shards.
#[derive(Debug)]
struct Column {
    name: String,
    shards: Vec<Shard>,
    /// The first global row of each shard.
    starts: Vec<usize>,
    rows: usize,
}

impl Column {
    fn new(name: String, shards: Vec<Shard>) -> Result<Self, TableError> {
        let first = &shards[0].header;
        for shard in &shards[1..] {
            let h = &shard.header;
            if h.dtype != first.dtype || h.shape[1..] != first.shape[1..] {
                return Err(TableError::Mismatch {
                    path: shard.path.clone(),
                    message: format!(
                        "column {name:?}: rows of {} {:?}, the first shard ({}) has {} {:?}",
                        h.dtype,
                        &h.shape[1..],
                        shards[0].path.display(),
                        first.dtype,
                        &first.shape[1..]
                    ),
                });
            }
        }
        let mut starts = Vec::with_capacity(shards.len());
        let mut rows = 0;
        for shard in &shards {
            starts.push(rows);
            rows += shard.header.shape[0];
        }
        Ok(Self {
            name,
            shards,
            starts,
            rows,
        })
    }

    fn header(&self) -> &Header {
        &self.shards[0].header
    }

    fn field(&self) -> Field {
        let h = self.header();
        if h.shape.len() == 1 {
            Field::new(&self.name, h.dtype.clone(), false)
        } else {
            let item = Arc::new(Field::new_list_field(h.dtype.clone(), false));
            Field::new(
                &self.name,
                DataType::FixedSizeList(item, h.width() as i32),
                false,
            )
        }
    }

    /// Copies the rows out of the maps into one buffer, a run of consecutive rows of a shard
    /// per copy, each recorded in `resident` (if there is a limit) at `tick`.
    fn take(
        &self,
        rows: &[usize],
        resident: Option<(&Resident, u64)>,
    ) -> Result<ArrayRef, TableError> {
        let h = self.header();
        let row_bytes = h.row_bytes();
        let mut buffer = MutableBuffer::new(rows.len() * row_bytes);
        let mut i = 0;
        while i < rows.len() {
            if rows[i] >= self.rows {
                return Err(TableError::Shape {
                    message: format!(
                        "column {:?}: row {} of {} rows",
                        self.name, rows[i], self.rows
                    ),
                });
            }
            let s = self.starts.partition_point(|&start| start <= rows[i]) - 1;
            let shard = &self.shards[s];
            let end = self.starts[s] + shard.header.shape[0];
            let mut run = 1;
            while i + run < rows.len() && rows[i + run] == rows[i] + run && rows[i + run] < end {
                run += 1;
            }
            let from = shard.header.data_start + (rows[i] - self.starts[s]) * row_bytes;
            // In bounds: `parse_header` checked that the map holds every row of the shape.
            buffer.extend_from_slice(&shard.map[from..from + run * row_bytes]);
            if let Some((resident, tick)) = resident.filter(|_| row_bytes > 0) {
                resident.touch(shard.map_id, from, run * row_bytes, tick);
            }
            i += run;
        }
        let count = rows.len() * h.width();
        let buffer: Buffer = buffer.into();
        macro_rules! primitive {
            ($t:ty) => {
                Arc::new(PrimitiveArray::<$t>::new(
                    ScalarBuffer::new(buffer, 0, count),
                    None,
                )) as ArrayRef
            };
        }
        let values = match h.dtype {
            DataType::Float32 => primitive!(Float32Type),
            DataType::Float64 => primitive!(Float64Type),
            DataType::Int8 => primitive!(Int8Type),
            DataType::Int16 => primitive!(Int16Type),
            DataType::Int32 => primitive!(Int32Type),
            DataType::Int64 => primitive!(Int64Type),
            DataType::UInt8 => primitive!(UInt8Type),
            DataType::UInt16 => primitive!(UInt16Type),
            DataType::UInt32 => primitive!(UInt32Type),
            DataType::UInt64 => primitive!(UInt64Type),
            _ => Arc::new(BooleanArray::from(
                buffer
                    .as_slice()
                    .iter()
                    .map(|&b| b != 0)
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
        };
        if h.shape.len() == 1 {
            return Ok(values);
        }
        let item = Arc::new(Field::new_list_field(h.dtype.clone(), false));
        FixedSizeListArray::try_new(item, h.width() as i32, values, None)
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(TableError::arrow(format!("column {:?}", self.name)))
    }
}

/// The columns of `.npy` files or `.npz` archives.
#[derive(Debug)]
pub(super) struct NpyReader {
    columns: Vec<Column>,
    schema: SchemaRef,
    rows: usize,
    /// The bound on resident pages, if the options set one.
    resident: Option<Resident>,
}

/// The maps of a reader being opened.
#[derive(Default)]
struct Maps(Vec<Arc<Mmap>>);

impl Maps {
    /// Opens and maps a file: the map and its number.
    fn open(&mut self, path: &Path) -> Result<(Arc<Mmap>, usize), TableError> {
        let file = File::open(path).map_err(TableError::io(path))?;
        let map = Arc::new(map::map(&file, path)?);
        self.0.push(Arc::clone(&map));
        Ok((map, self.0.len() - 1))
    }
}

impl NpyReader {
    pub(super) fn open_npy<'a>(
        columns: impl IntoIterator<Item = (&'a str, &'a str)>,
        options: &NpyOptions,
    ) -> Result<Self, TableError> {
        let mut maps = Maps::default();
        let mut out = Vec::new();
        for (name, pattern) in columns {
            let mut shards = Vec::new();
            for path in super::expand(pattern, "npy")? {
                let (map, map_id) = maps.open(&path)?;
                let header = parse_header(&map, &path, 0, map.len())?;
                shards.push(Shard {
                    path,
                    map,
                    map_id,
                    header,
                });
            }
            out.push(Column::new(name.to_string(), shards)?);
        }
        Self::new(out, maps, options)
    }

    pub(super) fn open_npz(pattern: &str, options: &NpyOptions) -> Result<Self, TableError> {
        let mut maps = Maps::default();
        let mut names: Vec<String> = Vec::new();
        let mut per_column: Vec<Vec<Shard>> = Vec::new();
        let mut first_path = PathBuf::new();
        for (n, path) in super::expand(pattern, "npz")?.into_iter().enumerate() {
            let members = npz_members(&path)?;
            let (map, map_id) = maps.open(&path)?;
            let these: Vec<String> = members.iter().map(|(name, _, _)| name.clone()).collect();
            if n == 0 {
                names = these;
                per_column = names.iter().map(|_| Vec::new()).collect();
                first_path = path.clone();
            } else if these != names {
                return Err(TableError::Mismatch {
                    path,
                    message: format!(
                        "arrays {these:?}, the first shard ({}) has {names:?}",
                        first_path.display()
                    ),
                });
            }
            for (i, (_, offset, end)) in members.into_iter().enumerate() {
                let header = parse_header(&map, &path, offset, end)?;
                per_column[i].push(Shard {
                    path: path.clone(),
                    map: Arc::clone(&map),
                    map_id,
                    header,
                });
            }
        }
        let columns = names
            .into_iter()
            .zip(per_column)
            .map(|(name, shards)| Column::new(name, shards))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(columns, maps, options)
    }

    fn new(columns: Vec<Column>, maps: Maps, options: &NpyOptions) -> Result<Self, TableError> {
        let rows = columns.first().map_or(0, |c| c.rows);
        for c in &columns[1..] {
            if c.rows != rows {
                return Err(TableError::Mismatch {
                    path: c.shards[0].path.clone(),
                    message: format!(
                        "column {:?} has {} rows, column {:?} has {rows}",
                        c.name, c.rows, columns[0].name
                    ),
                });
            }
        }
        let schema = Arc::new(Schema::new(
            columns.iter().map(Column::field).collect::<Vec<_>>(),
        ));
        Ok(Self {
            columns,
            schema,
            rows,
            resident: options
                .max_resident
                .map(|bytes| Resident::new(maps.0, bytes)),
        })
    }
}

/// The arrays of an `.npz` archive: name (without `.npy`), data offset and end offset.
fn npz_members(path: &Path) -> Result<Vec<(String, usize, usize)>, TableError> {
    let file = File::open(path).map_err(TableError::io(path))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| npy_error(path, format!("not a .npz (zip) archive: {e}")))?;
    let mut members = Vec::new();
    for i in 0..archive.len() {
        let member = archive
            .by_index_raw(i)
            .map_err(|e| npy_error(path, format!("member {i}: {e}")))?;
        let name = member.name().map(|n| n.to_string()).unwrap_or_default();
        if member.compression() != zip::CompressionMethod::Stored {
            return Err(npy_error(
                path,
                format!(
                    "member {name:?} is compressed ({}): rows are mapped in place only from \
                     uncompressed archives (numpy.savez, not savez_compressed)",
                    member.compression()
                ),
            ));
        }
        let start = member
            .data_start()
            .ok_or_else(|| npy_error(path, format!("member {name:?}: no data offset")))?;
        let start = usize::try_from(start)
            .map_err(|_| npy_error(path, format!("member {name:?}: past the address space")))?;
        let end = start.saturating_add(usize::try_from(member.size()).unwrap_or(usize::MAX));
        let column = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        members.push((column, start, end));
    }
    if members.is_empty() {
        return Err(npy_error(path, "the archive holds no array"));
    }
    Ok(members)
}

impl Reader for NpyReader {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn rows(&self) -> usize {
        self.rows
    }

    fn take(&self, rows: &[usize]) -> Result<RecordBatch, TableError> {
        let resident = self.resident.as_ref().map(|r| (r, r.tick()));
        let columns = self
            .columns
            .iter()
            .map(|c| c.take(rows, resident))
            .collect::<Result<Vec<_>, _>>()?;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)
            .map_err(TableError::arrow("assembling .npy rows"))
    }
}

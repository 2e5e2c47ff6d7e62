//! `.npy` / `.npz` arrays as table columns, read row by row from the files; and the `.npy`
//! writer of the `dump` action.
//!
//! The format: <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>. A file
//! is a magic string, a version, a header (a Python dict literal with `descr`,
//! `fortran_order` and `shape`) and the raw values. The header is parsed here (it is small);
//! rows are read with positional reads, so the operating system's page cache serves them and
//! nothing is read before a batch asks for it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, BooleanArray, FixedSizeListArray, PrimitiveArray, RecordBatch};
use arrow_buffer::{Buffer, MutableBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::reader::Reader;
use super::TableError;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The parsed header of an array.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    dtype: DataType,
    itemsize: usize,
    shape: Vec<usize>,
    /// The offset of the first value in the file.
    data_start: u64,
}

impl Header {
    /// The values of one row (the product of the shape after the first axis).
    fn width(&self) -> usize {
        self.shape[1..].iter().product()
    }

    fn row_bytes(&self) -> usize {
        self.width() * self.itemsize
    }
}

fn npy_error(path: &Path, message: impl Into<String>) -> TableError {
    TableError::Npy {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Reads and checks the header of the array that starts at `offset` in `file` and whose
/// values may extend to `end`.
fn read_header(file: &File, path: &Path, offset: u64, end: u64) -> Result<Header, TableError> {
    let mut prefix = [0_u8; 12];
    let available = end.saturating_sub(offset);
    if available < 10 {
        return Err(npy_error(path, "not a .npy array: the file is too short"));
    }
    let take = (available.min(12)) as usize;
    read_at(file, &mut prefix[..take], offset).map_err(TableError::io(path))?;
    if &prefix[..6] != MAGIC {
        return Err(npy_error(
            path,
            "not a .npy array: the magic string is missing",
        ));
    }
    let (header_len, header_at) = match prefix[6] {
        1 => (u16::from_le_bytes([prefix[8], prefix[9]]) as u64, 10),
        2 | 3 if take == 12 => (
            u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as u64,
            12,
        ),
        v => {
            return Err(npy_error(
                path,
                format!("unsupported .npy format version {v}.{}", prefix[7]),
            ))
        }
    };
    if offset + header_at + header_len > end {
        return Err(npy_error(
            path,
            format!("the header says it is {header_len} bytes long, past the end of the file"),
        ));
    }
    let mut text = vec![0_u8; header_len as usize];
    read_at(file, &mut text, offset + header_at).map_err(TableError::io(path))?;
    let text = String::from_utf8_lossy(&text);
    let (dtype, itemsize, shape) = parse_dict(&text).map_err(|m| npy_error(path, m))?;
    let header = Header {
        dtype,
        itemsize,
        shape,
        data_start: offset + header_at + header_len,
    };
    let needed = header.shape.iter().product::<usize>() as u64 * itemsize as u64;
    if header.data_start + needed > end {
        return Err(npy_error(
            path,
            format!(
                "truncated: shape {:?} needs {needed} bytes of values, the file holds {}",
                header.shape,
                end.saturating_sub(header.data_start)
            ),
        ));
    }
    Ok(header)
}

/// The value of `key` in the header dict: the text after `'key':`.
fn value_of<'a>(dict: &'a str, key: &str) -> Result<&'a str, String> {
    let pattern = format!("'{key}':");
    let at = dict
        .find(&pattern)
        .ok_or_else(|| format!("wrong header: no {key:?} in {:?}", dict.trim()))?;
    Ok(dict[at + pattern.len()..].trim_start())
}

fn parse_dict(dict: &str) -> Result<(DataType, usize, Vec<usize>), String> {
    let descr = value_of(dict, "descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split_once('\''))
        .map(|(d, _)| d)
        .ok_or_else(|| {
            format!("unsupported dtype: only simple dtypes are read, not {descr:.40}")
        })?;
    let (dtype, itemsize) = dtype_of(descr)?;
    let fortran = value_of(dict, "fortran_order")?;
    let fortran = if fortran.starts_with("False") {
        false
    } else if fortran.starts_with("True") {
        true
    } else {
        return Err(format!("wrong header: fortran_order is {fortran:.10}"));
    };
    let shape = value_of(dict, "shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .map(|(s, _)| s)
        .ok_or_else(|| format!("wrong header: shape is {shape:.20}"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("wrong header: shape ({inner})"))
        })
        .collect::<Result<Vec<usize>, String>>()?;
    if shape.is_empty() {
        return Err("a 0-dimensional array holds no rows".to_string());
    }
    if fortran && shape.len() > 1 {
        return Err(
            "Fortran-ordered arrays are not supported (write it with numpy.ascontiguousarray)"
                .to_string(),
        );
    }
    Ok((dtype, itemsize, shape))
}

fn dtype_of(descr: &str) -> Result<(DataType, usize), String> {
    let unsupported = || {
        format!(
            "unsupported dtype {descr:?}: supported are little-endian f4, f8, i1-i8, u1-u8 and b1"
        )
    };
    let mut chars = descr.chars();
    let order = chars.next().ok_or_else(unsupported)?;
    let little = cfg!(target_endian = "little");
    match order {
        '<' if little => {}
        '|' => {}
        '=' => {}
        '>' if !little => {}
        _ => return Err(unsupported()),
    }
    let t = &descr[1..];
    Ok(match t {
        "f4" => (DataType::Float32, 4),
        "f8" => (DataType::Float64, 8),
        "i1" => (DataType::Int8, 1),
        "i2" => (DataType::Int16, 2),
        "i4" => (DataType::Int32, 4),
        "i8" => (DataType::Int64, 8),
        "u1" => (DataType::UInt8, 1),
        "u2" => (DataType::UInt16, 2),
        "u4" => (DataType::UInt32, 4),
        "u8" => (DataType::UInt64, 8),
        "b1" => (DataType::Boolean, 1),
        _ => return Err(unsupported()),
    })
}

fn descr_of(dtype: &DataType) -> Option<&'static str> {
    Some(match dtype {
        DataType::Float32 => "<f4",
        DataType::Float64 => "<f8",
        DataType::Int8 => "|i1",
        DataType::Int16 => "<i2",
        DataType::Int32 => "<i4",
        DataType::Int64 => "<i8",
        DataType::UInt8 => "|u1",
        DataType::UInt16 => "<u2",
        DataType::UInt32 => "<u4",
        DataType::UInt64 => "<u8",
        DataType::Boolean => "|b1",
        _ => return None,
    })
}

/// One file (or `.npz` member) of a column.
#[derive(Debug)]
struct Shard {
    path: PathBuf,
    file: File,
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

    /// Reads the rows into one buffer, a run of consecutive rows of a shard per read.
    fn take(&self, rows: &[usize]) -> Result<ArrayRef, TableError> {
        let h = self.header();
        let row_bytes = h.row_bytes();
        let mut buffer = MutableBuffer::from_len_zeroed(rows.len() * row_bytes);
        let bytes = buffer.as_slice_mut();
        let mut i = 0;
        while i < rows.len() {
            let s = self.starts.partition_point(|&start| start <= rows[i]) - 1;
            let shard = &self.shards[s];
            let end = self.starts[s] + shard.header.shape[0];
            let mut run = 1;
            while i + run < rows.len() && rows[i + run] == rows[i] + run && rows[i + run] < end {
                run += 1;
            }
            let local = (rows[i] - self.starts[s]) as u64;
            read_at(
                &shard.file,
                &mut bytes[i * row_bytes..(i + run) * row_bytes],
                shard.header.data_start + local * row_bytes as u64,
            )
            .map_err(TableError::io(&shard.path))?;
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
}

fn open_file(path: &Path) -> Result<(File, u64), TableError> {
    let file = File::open(path).map_err(TableError::io(path))?;
    let len = file.metadata().map_err(TableError::io(path))?.len();
    Ok((file, len))
}

impl NpyReader {
    pub(super) fn open_npy<'a>(
        columns: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, TableError> {
        let mut out = Vec::new();
        for (name, pattern) in columns {
            let mut shards = Vec::new();
            for path in super::expand(pattern, "npy")? {
                let (file, len) = open_file(&path)?;
                let header = read_header(&file, &path, 0, len)?;
                shards.push(Shard { path, file, header });
            }
            out.push(Column::new(name.to_string(), shards)?);
        }
        Self::new(out)
    }

    pub(super) fn open_npz(pattern: &str) -> Result<Self, TableError> {
        let mut names: Vec<String> = Vec::new();
        let mut per_column: Vec<Vec<Shard>> = Vec::new();
        let mut first_path = PathBuf::new();
        for (n, path) in super::expand(pattern, "npz")?.into_iter().enumerate() {
            let members = npz_members(&path)?;
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
                let (file, _) = open_file(&path)?;
                let header = read_header(&file, &path, offset, end)?;
                per_column[i].push(Shard {
                    path: path.clone(),
                    file,
                    header,
                });
            }
        }
        let columns = names
            .into_iter()
            .zip(per_column)
            .map(|(name, shards)| Column::new(name, shards))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(columns)
    }

    fn new(columns: Vec<Column>) -> Result<Self, TableError> {
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
        })
    }
}

/// The arrays of an `.npz` archive: name (without `.npy`), data offset and end offset.
fn npz_members(path: &Path) -> Result<Vec<(String, u64, u64)>, TableError> {
    let (file, _) = open_file(path)?;
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
                    "member {name:?} is compressed ({}): rows are read in place only from \
                     uncompressed archives (numpy.savez, not savez_compressed)",
                    member.compression()
                ),
            ));
        }
        let start = member
            .data_start()
            .ok_or_else(|| npy_error(path, format!("member {name:?}: no data offset")))?;
        let end = start + member.size();
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
        let columns = self
            .columns
            .iter()
            .map(|c| c.take(rows))
            .collect::<Result<Vec<_>, _>>()?;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)
            .map_err(TableError::arrow("assembling .npy rows"))
    }
}

/// The flat values of a column and the width of its rows, checked for `.npy`.
fn npy_values(name: &str, column: &dyn Array) -> Result<(ArrayRef, usize), TableError> {
    let type_error = |message: String| TableError::ColumnType {
        column: name.to_string(),
        message,
    };
    let (values, width) = match column.data_type() {
        DataType::FixedSizeList(_, width) => {
            let list = column
                .as_any()
                .downcast_ref::<FixedSizeListArray>()
                .ok_or_else(|| type_error("not a fixed-size list".into()))?;
            if list.null_count() > 0 {
                return Err(type_error("has nulls: .npy cannot hold them".into()));
            }
            (Arc::clone(list.values()), *width as usize)
        }
        _ => (arrow_array::make_array(column.to_data()), 1),
    };
    if descr_of(values.data_type()).is_none() {
        return Err(type_error(format!(
            "type {} cannot be written as .npy",
            values.data_type()
        )));
    }
    if values.null_count() > 0 {
        return Err(type_error(
            "has nulls: .npy cannot hold them (fill_null first)".into(),
        ));
    }
    Ok((values, width))
}

/// A `.npy` file written a chunk of rows at a time: the header (with the number of rows
/// declared up front) first, then the values, so that arrays larger than memory can be
/// written. Rows are numbers or booleans (a column of scalars, shape `(rows,)`) or fixed-size
/// lists of `width` of them (shape `(rows, width)`); the file reads back with
/// [`TableSource::npy`](super::TableSource::npy) and with `numpy.load`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::Int64Array;
/// use arrow_schema::DataType;
/// use batchline::table::{NpyWriter, TableSource};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("y.npy");
/// let mut writer = NpyWriter::create(&path, &DataType::Int64, None, 5)?;
/// writer.append(&Int64Array::from(vec![1, 2, 3]))?;
/// writer.append(&Int64Array::from(vec![4, 5]))?;
/// writer.finish()?;
/// assert_eq!(TableSource::npy([("y", path.to_str().unwrap())])?.rows(), 5);
/// let mut short = NpyWriter::create(&path, &DataType::Int64, None, 5)?;
/// short.append(&Int64Array::from(vec![1]))?;
/// assert!(short.finish().is_err()); // 1 row of the 5 declared
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NpyWriter {
    path: PathBuf,
    out: std::io::BufWriter<File>,
    dtype: DataType,
    width: Option<usize>,
    rows: usize,
    written: usize,
}

impl NpyWriter {
    /// Creates the file for `rows` rows of `dtype` values: scalars (`width: None`) or rows of
    /// `width` values.
    ///
    /// # Errors
    ///
    /// [`TableError::ColumnType`] for a type `.npy` cannot hold, [`TableError::Io`].
    pub fn create(
        path: impl AsRef<Path>,
        dtype: &DataType,
        width: Option<usize>,
        rows: usize,
    ) -> Result<Self, TableError> {
        let path = path.as_ref().to_path_buf();
        let descr = descr_of(dtype).ok_or_else(|| TableError::ColumnType {
            column: path.display().to_string(),
            message: format!("type {dtype} cannot be written as .npy"),
        })?;
        let shape = match width {
            None => format!("({rows},)"),
            Some(w) => format!("({rows}, {w})"),
        };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let file = File::create(&path).map_err(TableError::io(&path))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut prefix = MAGIC.to_vec();
        prefix.extend([1, 0]);
        prefix.extend((header.len() as u16).to_le_bytes());
        prefix.extend(header.as_bytes());
        out.write_all(&prefix).map_err(TableError::io(&path))?;
        Ok(Self {
            path,
            out,
            dtype: dtype.clone(),
            width,
            rows,
            written: 0,
        })
    }

    /// Appends rows: a column of the declared type (a fixed-size list column of the declared
    /// width when there is one), without nulls.
    ///
    /// # Errors
    ///
    /// [`TableError::ColumnType`] for a column of another type or width, or with nulls;
    /// [`TableError::Shape`] beyond the declared rows; [`TableError::Io`].
    pub fn append(&mut self, column: &dyn Array) -> Result<(), TableError> {
        let name = self.path.display().to_string();
        let (values, width) = npy_values(&name, column)?;
        let is_list = matches!(column.data_type(), DataType::FixedSizeList(..));
        if values.data_type() != &self.dtype
            || (is_list && Some(width) != self.width)
            || (!is_list && self.width.is_some())
        {
            return Err(TableError::ColumnType {
                column: name,
                message: format!(
                    "rows of {} (width {width}), the file holds {} (width {:?})",
                    values.data_type(),
                    self.dtype,
                    self.width
                ),
            });
        }
        if self.written + column.len() > self.rows {
            return Err(TableError::Shape {
                message: format!(
                    "{}: {} rows declared, {} appended",
                    self.path.display(),
                    self.rows,
                    self.written + column.len()
                ),
            });
        }
        let io = TableError::io(&self.path);
        if let DataType::Boolean = values.data_type() {
            let bools = values
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| TableError::ColumnType {
                    column: name.clone(),
                    message: "not a boolean array".into(),
                })?;
            let bytes: Vec<u8> = bools.values().iter().map(u8::from).collect();
            self.out.write_all(&bytes).map_err(io)?;
        } else {
            let data = values.to_data();
            let size = values.data_type().primitive_width().unwrap_or(1);
            let start = data.offset() * size;
            let bytes = &data.buffers()[0].as_slice()[start..start + data.len() * size];
            self.out.write_all(bytes).map_err(io)?;
        }
        self.written += column.len();
        Ok(())
    }

    /// Flushes the file.
    ///
    /// # Errors
    ///
    /// [`TableError::Shape`] when fewer rows were appended than declared, [`TableError::Io`].
    pub fn finish(mut self) -> Result<(), TableError> {
        if self.written != self.rows {
            return Err(TableError::Shape {
                message: format!(
                    "{}: {} rows declared, {} appended",
                    self.path.display(),
                    self.rows,
                    self.written
                ),
            });
        }
        self.out.flush().map_err(TableError::io(&self.path))
    }
}

/// Writes a column (numbers or booleans, or fixed-size lists of them, without nulls) as a
/// `.npy` file of shape `(rows,)` or `(rows, width)`.
pub(super) fn write_npy(path: &Path, name: &str, column: &dyn Array) -> Result<(), TableError> {
    let (values, width) = npy_values(name, column)?;
    let width = matches!(column.data_type(), DataType::FixedSizeList(..)).then_some(width);
    let mut writer = NpyWriter::create(path, values.data_type(), width, column.len())?;
    writer.append(column)?;
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers() {
        let (dtype, size, shape) =
            parse_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }").unwrap();
        assert_eq!((dtype, size, shape), (DataType::Float32, 4, vec![3, 4]));
        let (_, _, shape) =
            parse_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (7,), }").unwrap();
        assert_eq!(shape, vec![7]);
        for (bad, says) in [
            (
                "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }",
                "unsupported dtype",
            ),
            (
                "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }",
                "unsupported dtype",
            ),
            (
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
                "unsupported dtype",
            ),
            (
                "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }",
                "Fortran",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                "0-dimensional",
            ),
            ("{'descr': '<f4', 'shape': (3,), }", "fortran_order"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }",
                "shape",
            ),
        ] {
            let err = parse_dict(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}

//! The `.npy` writer: [`NpyWriter`] (a chunk of rows at a time) and the `dump` action's
//! [`write_npy`].

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, FixedSizeListArray};
use arrow_schema::DataType;

use super::super::TableError;
use super::header::{descr_of, MAGIC};

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
/// [`TableSource::npy`](crate::table::TableSource::npy) and with `numpy.load`.
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
pub(in crate::table) fn write_npy(
    path: &Path,
    name: &str,
    column: &dyn Array,
) -> Result<(), TableError> {
    let (values, width) = npy_values(name, column)?;
    let width = matches!(column.data_type(), DataType::FixedSizeList(..)).then_some(width);
    let mut writer = NpyWriter::create(path, values.data_type(), width, column.len())?;
    writer.append(column)?;
    writer.finish()
}

//! The CSV reader of [`TableSource::csv`](super::TableSource::csv).

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_csv::reader::Format;
use arrow_schema::{ArrowError, Schema, SchemaRef};

use super::TableError;

/// How to read a CSV file: header, delimiter, and the schema (declared, or inferred from the
/// values).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_schema::{DataType, Field, Schema};
/// use batchline::table::{CsvOptions, TableError, TableSource};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("t.csv");
/// std::fs::write(&path, "x,label\n0.5,1\n1.5,0\nbad,1\n")?;
/// let schema = Schema::new(vec![
///     Field::new("x", DataType::Float32, false),
///     Field::new("label", DataType::Int64, false),
/// ]);
/// let err = TableSource::csv(&path, &CsvOptions::new().schema(Arc::new(schema))).unwrap_err();
/// assert!(matches!(err, TableError::Csv { .. }));
/// assert!(err.to_string().contains("line 4"), "{err}"); // the line of `bad`, header included
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CsvOptions {
    header: bool,
    delimiter: u8,
    schema: Option<SchemaRef>,
    infer_rows: Option<usize>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            header: true,
            delimiter: b',',
            schema: None,
            infer_rows: None,
        }
    }
}

impl CsvOptions {
    /// A header line, `,` as the delimiter, and a schema inferred from every row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the first line names the columns (default: yes; without a header the columns
    /// are named `column_1`, `column_2`, ...).
    pub fn header(mut self, header: bool) -> Self {
        self.header = header;
        self
    }

    /// The field delimiter (default `b','`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The declared schema: the columns' names and types, in file order (default: inferred).
    pub fn schema(mut self, schema: SchemaRef) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Infers the schema from the first `rows` rows only (default: from every row; reading
    /// the file twice).
    pub fn infer_rows(mut self, rows: usize) -> Self {
        self.infer_rows = Some(rows);
        self
    }
}

pub(super) fn read(path: &Path, options: &CsvOptions) -> Result<RecordBatch, TableError> {
    let mut file = File::open(path).map_err(TableError::io(path))?;
    let format = Format::default()
        .with_header(options.header)
        .with_delimiter(options.delimiter);
    let csv_error = |e: ArrowError| TableError::Csv {
        path: path.to_path_buf(),
        message: message(e, None),
    };
    let schema = match &options.schema {
        Some(schema) => Arc::clone(schema),
        None => {
            let (schema, _) = format
                .infer_schema(BufReader::new(&mut file), options.infer_rows)
                .map_err(csv_error)?;
            file.rewind().map_err(TableError::io(path))?;
            Arc::new(schema)
        }
    };
    let reader = arrow_csv::ReaderBuilder::new(Arc::clone(&schema))
        .with_format(format)
        .with_batch_size(65_536)
        .build(BufReader::new(file))
        .map_err(csv_error)?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TableError::Csv {
            path: path.to_path_buf(),
            message: message(e, Some(&schema)),
        })?;
    arrow_select::concat::concat_batches(&schema, &batches).map_err(csv_error)
}

/// Arrow's message, without its `Parser error: ` / `Csv error: ` prefix and the row dump, with
/// the line counted from 1 at the file's first line (Arrow counts a value's line from 0) and
/// the column's name.
fn message(e: ArrowError, schema: Option<&Schema>) -> String {
    let (text, parse) = match e {
        ArrowError::ParseError(m) => (m, true),
        ArrowError::CsvError(m) => (m, false),
        other => (other.to_string(), false),
    };
    let text = match text.find(". Row data:") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    if !parse {
        return text;
    }
    let number_after = |key: &str| -> Option<(usize, usize, usize)> {
        let at = text.find(key)? + key.len();
        let len = text[at..].bytes().take_while(u8::is_ascii_digit).count();
        Some((at, at + len, text[at..at + len].parse().ok()?))
    };
    let (Some((c0, c1, column)), Some((l0, l1, line))) =
        (number_after(" for column "), number_after(" at line "))
    else {
        return text;
    };
    let name = schema
        .and_then(|s| s.fields().get(column))
        .map(|f| format!(" ({:?})", f.name()))
        .unwrap_or_default();
    format!(
        "{}{column}{name}{}{}{}",
        &text[..c0],
        &text[c1..l0],
        line + 1,
        &text[l1..]
    )
}

//! Column conversions shared by the accessors and the actions of [`TableBatch`](super::TableBatch):
//! numbers as `f64` or `f32`, filling nulls.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Scalar,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field};

use crate::table::TableError;

/// A numeric column's values as one flat `f64` array, `width` values per row.
pub(in crate::table) struct Flat {
    pub(in crate::table) values: Vec<f64>,
    pub(in crate::table) width: usize,
    nulls: Option<NullBuffer>,
    row_nulls: Option<NullBuffer>,
}

impl Flat {
    /// Whether the `i`-th flat value is valid (its row and itself are not null).
    pub(in crate::table) fn valid(&self, i: usize) -> bool {
        self.nulls.as_ref().is_none_or(|n| n.is_valid(i))
            && self
                .row_nulls
                .as_ref()
                .is_none_or(|n| n.is_valid(i / self.width.max(1)))
    }

    pub(super) fn has_nulls(&self) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.null_count() > 0)
            || self.row_nulls.as_ref().is_some_and(|n| n.null_count() > 0)
    }
}

pub(super) fn type_error(column: &str, message: impl Into<String>) -> TableError {
    TableError::ColumnType {
        column: column.to_string(),
        message: message.into(),
    }
}

pub(super) fn numeric(dt: &DataType) -> bool {
    dt.is_numeric() || *dt == DataType::Boolean
}

/// A numeric (or boolean) column, or a fixed-size list column of them, as `f64` values.
pub(in crate::table) fn flat_f64(column: &str, array: &ArrayRef) -> Result<Flat, TableError> {
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
pub(super) fn column_of(
    values: Vec<f32>,
    nulls: Option<NullBuffer>,
    width: usize,
    list: bool,
) -> ArrayRef {
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

/// A column's values as `f32`, `width` per row, without nulls.
pub(super) fn f32_values(name: &str, array: &ArrayRef) -> Result<(Vec<f32>, usize), TableError> {
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
pub(super) fn fill(name: &str, array: &ArrayRef, value: f64) -> Result<ArrayRef, TableError> {
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

//! Arrow columns as NumPy arrays: numeric columns without nulls (and fixed-size lists of
//! them) become read-only views of the Arrow buffers, kept alive by the array's base object;
//! the other types are converted (a copy).
//!
//! * integers, unsigned integers, floats without nulls: a view (`int64`, `float32`, …);
//! * a fixed-size list of such values without nulls: a 2-D view, one row per item;
//! * a numeric column with nulls: `float64` with NaN for the nulls (as pandas reads it);
//! * booleans: `bool` (`object` with `None` for nulls);
//! * strings: an `object` array of `str` (`None` for nulls).

#![allow(unsafe_code)]

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use numpy::{Element, PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyList;

/// Keeps the Arrow buffers of a column alive while NumPy arrays view them.
#[pyclass(module = "batchline._batchline", frozen)]
struct ArrowBuffers {
    _array: ArrayRef,
}

/// The column `name` as a NumPy array (see the module's documentation).
pub(super) fn column<'py>(
    py: Python<'py>,
    name: &str,
    array: &ArrayRef,
) -> PyResult<Bound<'py, PyAny>> {
    match array.data_type() {
        DataType::FixedSizeList(_, width) => {
            let list = array.as_fixed_size_list();
            let values = list.values();
            if list.null_count() == 0 && values.null_count() == 0 {
                if let Some(view) = primitive_view(py, array, values, *width as usize)? {
                    return Ok(view);
                }
            }
            Err(unsupported(name, array.data_type()))
        }
        DataType::Boolean => {
            let bools = array.as_boolean();
            if bools.null_count() == 0 {
                let values: Vec<bool> = bools.values().iter().collect();
                return Ok(PyArray1::from_vec(py, values).into_any());
            }
            object_array(py, bools.iter())
        }
        DataType::Utf8 => object_array(py, array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => object_array(py, array.as_string::<i64>().iter()),
        DataType::Utf8View => object_array(py, array.as_string_view().iter()),
        t if t.is_numeric() && array.null_count() > 0 => {
            let floats = arrow_cast::cast(array, &DataType::Float64)
                .map_err(|e| PyTypeError::new_err(format!("column {name:?}: {e}")))?;
            let floats = floats.as_primitive::<Float64Type>();
            let values: Vec<f64> = floats.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            Ok(PyArray1::from_vec(py, values).into_any())
        }
        t => match primitive_view(py, array, array, 1)? {
            Some(view) => Ok(view),
            None => Err(unsupported(name, t)),
        },
    }
}

fn unsupported(name: &str, t: &DataType) -> PyErr {
    PyTypeError::new_err(format!(
        "column {name:?} of type {t} has no NumPy form here (numbers, bools, strings and \
         fixed-size lists of numbers without nulls do): leave it out with select([...])"
    ))
}

/// A read-only view of the primitive `values` (the values of `owner`, or of its child), of
/// shape `(n,)` for `width == 1` (a scalar column) else `(n / width, width)`; `None` for a
/// type that is not a NumPy number.
fn primitive_view<'py>(
    py: Python<'py>,
    owner: &ArrayRef,
    values: &ArrayRef,
    width: usize,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    macro_rules! view {
        ($t:ty) => {
            view_of::<$t>(
                py,
                owner,
                values,
                width,
                matches!(owner.data_type(), DataType::FixedSizeList(..)),
            )
            .map(Some)
        };
    }
    match values.data_type() {
        DataType::Int8 => view!(Int8Type),
        DataType::Int16 => view!(Int16Type),
        DataType::Int32 => view!(Int32Type),
        DataType::Int64 => view!(Int64Type),
        DataType::UInt8 => view!(UInt8Type),
        DataType::UInt16 => view!(UInt16Type),
        DataType::UInt32 => view!(UInt32Type),
        DataType::UInt64 => view!(UInt64Type),
        DataType::Float32 => view!(Float32Type),
        DataType::Float64 => view!(Float64Type),
        _ => Ok(None),
    }
}

fn view_of<'py, T>(
    py: Python<'py>,
    owner: &ArrayRef,
    values: &ArrayRef,
    width: usize,
    list: bool,
) -> PyResult<Bound<'py, PyAny>>
where
    T: ArrowPrimitiveType,
    T::Native: Element,
{
    let slice: &[T::Native] = values.as_primitive::<T>().values();
    let base = Bound::new(
        py,
        ArrowBuffers {
            _array: std::sync::Arc::clone(owner),
        },
    )?
    .into_any();
    let view = ndarray::ArrayView1::from(slice);
    // SAFETY: `slice` is in an Arrow buffer of `owner` (`values` is `owner` or its child), and
    // `base` holds a reference to `owner`: the buffer lives, unmoved, as long as `base`, which
    // NumPy keeps as the array's base object. Arrow buffers are immutable, so the array is made
    // read-only before Python sees it.
    let array = unsafe { PyArray1::borrow_from_array(&view, base) };
    array.readwrite().make_nonwriteable();
    if list {
        return Ok(array.reshape([owner.len(), width])?.into_any());
    }
    debug_assert_eq!(array.len(), owner.len());
    Ok(array.into_any())
}

/// An `object` array of the values of `items` (`None` for a null).
fn object_array<'py, T, I>(py: Python<'py>, items: I) -> PyResult<Bound<'py, PyAny>>
where
    I: Iterator<Item = Option<T>>,
    T: IntoPyObject<'py>,
{
    let list = PyList::empty(py);
    for item in items {
        match item {
            Some(v) => list.append(v)?,
            None => list.append(py.None())?,
        }
    }
    let np = py.import("numpy")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("dtype", "O")?;
    np.call_method("array", (list,), Some(&kwargs))
}

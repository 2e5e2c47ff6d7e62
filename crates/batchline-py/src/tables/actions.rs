//! The native table actions: each Python `TableBatch` action, its arguments checked when the
//! pipeline is built, becomes an engine action that calls the action of the Rust crate on the
//! batch's table, without the GIL.

use batchline::table::{DumpFormat, TableBatch, TableError};
use batchline::{Action, ActionResult, Context};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::TableStatsData;
use crate::batch::PyBatch;

/// An engine action named `name` that runs `f` on the batch's native table.
fn native<F>(name: &str, f: F) -> Action<PyBatch>
where
    F: Fn(&mut TableBatch, &mut Context<'_>) -> Result<(), TableError> + Send + Sync + 'static,
{
    Action::new(
        name,
        move |b: &mut PyBatch, ctx: &mut Context<'_>| -> ActionResult {
            f(b.table()?, ctx)?;
            Ok(())
        },
    )
}

/// The argument `key` of the action `op`, converted (`KeyError` when missing, `TypeError`
/// when of the wrong type).
fn arg<'py, T: FromPyObjectOwned<'py>>(
    op: &str,
    kwargs: &Bound<'py, PyDict>,
    key: &str,
    what: &str,
) -> PyResult<T> {
    let value = kwargs
        .get_item(key)?
        .filter(|v| !v.is_none())
        .ok_or_else(|| PyKeyError::new_err(format!("{op}: missing argument {key:?}")))?;
    value.extract::<T>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{op}: {key} must be {what}, not {}",
            value
                .get_type()
                .name()
                .map_or_else(|_| "?".to_string(), |n| n.to_string())
        ))
    })
}

/// Column names: a non-empty list of strings (a single string is refused: it is a common
/// slip for a list of one).
fn columns(op: &str, kwargs: &Bound<'_, PyDict>, key: &str) -> PyResult<Vec<String>> {
    if let Some(v) = kwargs.get_item(key)? {
        if v.is_instance_of::<pyo3::types::PyString>() {
            return Err(PyTypeError::new_err(format!(
                "{op}: {key} must be a list of column names, not a string (write [{:?}])",
                v.to_string()
            )));
        }
    }
    let names: Vec<String> = arg(op, kwargs, key, "a list of column names")?;
    if names.is_empty() {
        return Err(PyValueError::new_err(format!("{op}: {key} is empty")));
    }
    Ok(names)
}

/// A native table action of the Python `TableBatch` (see `tables.py` for the signatures),
/// which runs without the GIL.
pub(crate) fn table_action(op: &str, kwargs: &Bound<'_, PyDict>) -> PyResult<Action<PyBatch>> {
    let action = match op {
        "load" => native(op, |b, _| b.load()),
        "select" => {
            let names = columns(op, kwargs, "columns")?;
            native(op, move |b, _| b.select(names.clone()))
        }
        "standardize" | "normalize" => {
            let stats: PyRef<'_, TableStatsData> = arg(
                op,
                kwargs,
                "stats",
                "TableStats (TableStats.fit(dataset, columns))",
            )?;
            let stats = stats.0.clone();
            if op == "standardize" {
                native(op, move |b, _| b.standardize(stats.clone()))
            } else {
                native(op, move |b, _| b.normalize(stats.clone()))
            }
        }
        "fill_null" => {
            let names = columns(op, kwargs, "columns")?;
            let value: f64 = arg(op, kwargs, "value", "a number")?;
            native(op, move |b, _| b.fill_null(names.clone(), value))
        }
        "one_hot" => {
            let column: String = arg(op, kwargs, "column", "a column name")?;
            let classes: usize = arg(op, kwargs, "classes", "a positive integer")?;
            if classes == 0 {
                return Err(PyValueError::new_err(format!(
                    "{op}: classes must be at least 1"
                )));
            }
            native(op, move |b, _| b.one_hot(column.clone(), classes))
        }
        "to_tensor" => {
            let names = columns(op, kwargs, "columns")?;
            native(op, move |b, _| b.to_tensor(names.clone()))
        }
        "dump" => {
            let dir: std::path::PathBuf = arg(op, kwargs, "dst", "a folder path")?;
            let fmt: String = arg(op, kwargs, "fmt", "'parquet' or 'npy'")?;
            let format = match fmt.as_str() {
                "parquet" => DumpFormat::Parquet,
                "npy" => DumpFormat::Npy,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "{op}: fmt must be 'parquet' or 'npy', not {other:?}"
                    )))
                }
            };
            native(op, move |b, ctx| b.dump(dir.clone(), format, ctx)).ordered()
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "{other:?} is not a native table action"
            )))
        }
    };
    Ok(action)
}

//! Errors both ways: Python exceptions raised by actions become `ActionError`s that keep the
//! `PyErr`, and `PipelineError`s become Python exceptions of the `batchline` hierarchy (or
//! the original exception, with the batchline error as its cause).

use std::sync::OnceLock;

use batchline::{ActionError, PipelineError};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The Python classes the conversions need, registered once by `batchline/__init__.py`.
pub(crate) struct Classes {
    skip: Py<PyAny>,
    stop: Py<PyAny>,
    /// `make_error(kind, message, batch, ids, action) -> exception instance`.
    make_error: Py<PyAny>,
}

static CLASSES: OnceLock<Classes> = OnceLock::new();

/// Registers `SkipBatchException`, `StopPipeline` and the factory of batchline exceptions.
#[pyfunction]
pub(crate) fn _register(skip: Py<PyAny>, stop: Py<PyAny>, make_error: Py<PyAny>) {
    let _ = CLASSES.set(Classes {
        skip,
        stop,
        make_error,
    });
}

fn classes() -> PyResult<&'static Classes> {
    CLASSES
        .get()
        .ok_or_else(|| PyRuntimeError::new_err("batchline._batchline is not initialised"))
}

/// A Python exception raised by an action, as the engine's error: a skip or stop request for
/// `SkipBatchException` / `StopPipeline`, otherwise a failure that keeps the `PyErr`.
pub(crate) fn action_error(py: Python<'_>, err: PyErr) -> ActionError {
    if let Ok(c) = classes() {
        if err.is_instance(py, c.skip.bind(py)) {
            return ActionError::skip_batch();
        }
        if err.is_instance(py, c.stop.bind(py)) {
            return ActionError::stop_run();
        }
    }
    let type_name = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let message = format!("{type_name}: {}", err.value(py));
    ActionError::with_source(message, err)
}

/// The kind of a pipeline error, for the Python class that represents it.
fn kind(err: &PipelineError) -> &'static str {
    match err {
        PipelineError::Action { .. } => "action",
        PipelineError::Panic { .. } => "panic",
        PipelineError::Lock { .. } => "lock",
        PipelineError::Spec(_) => "spec",
        PipelineError::Build(_) => "build",
        PipelineError::Hook { .. } => "hook",
        PipelineError::TooManyFailures { .. } | PipelineError::TooManyDroppedItems { .. } => {
            "failures"
        }
        _ => "other",
    }
}

/// A pipeline error as a Python exception.
///
/// An action's own Python exception is raised again, with its type and traceback, with the
/// batchline error (which names the batch, its ids and the action) as its `__cause__` (unless
/// it has one), as its attribute `batchline_error` and as a note; any other error becomes a `batchline` exception.
pub(crate) fn to_py_err(py: Python<'_>, err: PipelineError) -> PyErr {
    let c = match classes() {
        Ok(c) => c,
        Err(e) => return e,
    };
    let message = err.to_string();
    let made = c.make_error.bind(py).call1((
        kind(&err),
        message.as_str(),
        err.batch(),
        err.ids(),
        err.action(),
    ));
    let wrapper = match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => return e,
    };
    let original = match &err {
        PipelineError::Action {
            source: Some(source),
            ..
        } => source.downcast_ref::<PyErr>().map(|e| e.clone_ref(py)),
        _ => None,
    };
    match original {
        Some(original) => {
            let value = original.value(py);
            // Always reachable as `exc.batchline_error`; also the `__cause__` unless the
            // exception has its own.
            let _ = value.setattr("batchline_error", wrapper.value(py));
            if original.cause(py).is_none() {
                original.set_cause(py, Some(wrapper));
            }
            if value.hasattr("add_note").unwrap_or(false) {
                let _ = value.call_method1("add_note", (message,));
            }
            original
        }
        None => wrapper,
    }
}

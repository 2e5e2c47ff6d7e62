//! The Rust part of the `batchline` Python package (`batchline._batchline`): a thin layer of
//! conversions over the `batchline` crate. The Python API itself (BatchFlow's names,
//! decorators and named expressions) is in `python/batchline/`.
//!
//! * `batch`: the Rust batch that carries a Python batch object through the engine;
//! * `plan`: the steps of a pipeline (Python actions take the GIL only while Python runs)
//!   and the run's iterator (which releases the GIL while it waits);
//! * `images`: native image actions, which never take the GIL, and zero-copy NumPy arrays;
//! * `tables`: native table actions on Arrow batches (CSV, Parquet, `.npy`), their columns
//!   as NumPy views of the Arrow buffers;
//! * `errors`: Python exceptions to engine errors and back;
//! * `index`: batches of positions drawn by the Rust index (BatchFlow's batching rules);
//! * `thread_state`: one Python thread state per worker thread, kept for the thread's life.

use pyo3::prelude::*;

mod batch;
mod errors;
mod gil;
mod images;
mod index;
mod plan;
mod tables;
mod thread_state;

/// Called by `atexit`: worker threads that exit from now on leave their Python thread state
/// alone.
#[pyfunction]
fn _shutting_down() {
    thread_state::shutting_down();
}

/// The extension module.
#[pymodule]
fn _batchline(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<plan::Plan>()?;
    m.add_class::<plan::RunIter>()?;
    m.add_class::<images::ImagesData>()?;
    m.add_class::<tables::TableData>()?;
    m.add_class::<tables::TableStatsData>()?;
    m.add_class::<index::IndexBatches>()?;
    m.add_function(wrap_pyfunction!(errors::_register, m)?)?;
    m.add_function(wrap_pyfunction!(index::batch_positions, m)?)?;
    let at_exit = wrap_pyfunction!(_shutting_down, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (at_exit,))?;
    Ok(())
}

//! The Rust batch that carries a Python batch object (and native data) through the engine.

use std::sync::Arc;

use batchline::{Batch, BatchIndex};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::images::NativeImages;
use crate::tables::NativeTable;

/// What every batch of a run shares: the Python factory of batch objects, and the native
/// sources, if any.
pub(crate) struct Source {
    /// `factory(positions, batch_number, seed) -> batch object`.
    pub(crate) factory: Py<PyAny>,
    /// The images of an `ImagesBatch` dataset made of files.
    pub(crate) images: Option<crate::images::ImagesSourceRef>,
    /// The rows of a `TableBatch` dataset.
    pub(crate) table: Option<crate::tables::TableSourceRef>,
}

/// The native data of a batch (images or a table) while Rust actions own it.
pub(crate) enum Native {
    Images(NativeImages),
    Table(NativeTable),
}

impl Native {
    /// Hands the native data to the Python batch object (without a copy where the data
    /// allows).
    fn export(self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        match self {
            Native::Images(images) => images.export(py, obj),
            Native::Table(table) => table.export(py, obj),
        }
    }
}

/// A batch of the Python API: the positions of its items, the Python batch object (built the
/// first time Python needs it, with the GIL) and the native parts (images, a table) that Rust
/// actions work on without the GIL.
pub(crate) struct PyBatch {
    index: BatchIndex<usize>,
    pub(crate) source: Arc<Source>,
    /// The Python batch object; `None` until a Python action or the consumer needs it.
    pub(crate) obj: Option<Py<PyAny>>,
    /// Set when an action returned `None` (or `discard_batch` ran): the consumer gets `None`.
    pub(crate) discarded: bool,
    /// The batch's number and the run's seed, recorded by the run's first step.
    pub(crate) number: u64,
    pub(crate) seed: u64,
    /// Native images or table, while Rust actions own them.
    pub(crate) native: Option<Native>,
}

impl Batch for PyBatch {
    type Id = usize;
    type Source = Source;

    fn create(index: BatchIndex<usize>, source: &Arc<Source>) -> Self {
        Self {
            index,
            source: Arc::clone(source),
            obj: None,
            discarded: false,
            number: 0,
            seed: 0,
            native: None,
        }
    }

    fn index(&self) -> &BatchIndex<usize> {
        &self.index
    }
}

impl PyBatch {
    /// Replaces the batch's items by those at `positions` (the ids of a `PyBatch` are its
    /// positions).
    pub(crate) fn set_positions(&mut self, positions: Vec<usize>) {
        self.index = BatchIndex::new(positions.clone(), positions);
    }

    /// The Python batch object, built by the factory on first use; native data is handed to
    /// it first (without a copy) so that Python code sees it.
    pub(crate) fn object<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let obj = match &self.obj {
            Some(obj) => obj.bind(py).clone(),
            None => {
                let positions = PyList::new(py, self.index.ids())?;
                let obj =
                    self.source
                        .factory
                        .bind(py)
                        .call1((positions, self.number, self.seed))?;
                self.obj = Some(obj.clone().unbind());
                obj
            }
        };
        if let Some(native) = self.native.take() {
            native.export(py, &obj)?;
        }
        Ok(obj)
    }

    /// What the consumer receives: the batch object, or `None` for a discarded batch.
    pub(crate) fn into_output(mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.discarded {
            return Ok(py.None());
        }
        Ok(self.object(py)?.unbind())
    }
}

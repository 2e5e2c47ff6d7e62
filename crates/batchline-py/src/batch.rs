//! The Rust batch that carries a Python batch object (and native data) through the engine.

use std::any::Any;
use std::sync::Arc;

use batchline::{ActionError, Batch, BatchIndex};
use pyo3::prelude::*;
use pyo3::types::PyList;

/// What every batch of a run shares: the Python factory of batch objects, and the dataset's
/// native source, if any.
pub(crate) struct Source {
    /// `factory(positions, batch_number, seed) -> batch object`.
    pub(crate) factory: Py<PyAny>,
    /// The native source of the dataset: the images of an `ImagesBatch` dataset of files
    /// (`images::ImagesSourceRef`) or the rows of a `TableBatch` dataset
    /// (`tables::TableSourceRef`).
    pub(crate) native: Option<Box<dyn Any + Send + Sync>>,
}

/// The native data of a batch (images, a table) while Rust actions own it; the native
/// modules (`images`, `tables`) implement it.
pub(crate) trait Native: Any + Send {
    /// Hands the data to the Python batch object (without a copy where the data allows).
    fn export(self: Box<Self>, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<()>;
    /// The data, to be downcast to its type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
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
    pub(crate) native: Option<Box<dyn Native>>,
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

    /// The batch's native data of type `T` (for the native actions of `what`: "image",
    /// "table"), made by `make` from the run's native source `S` and the batch's index on first
    /// use. An error when the run has no such source (`needs` says what it takes), or when a
    /// Python action already has the batch.
    pub(crate) fn native_mut<S: Any, T: Native>(
        &mut self,
        what: &str,
        needs: &str,
        make: impl FnOnce(&S, &BatchIndex<usize>) -> T,
    ) -> Result<&mut T, ActionError> {
        if self.native.is_none() {
            if self.obj.is_some() {
                return Err(ActionError::msg(format!(
                    "native {what} actions must come before the Python actions of a pipeline"
                )));
            }
            let source = Arc::clone(&self.source);
            let src = source
                .native
                .as_ref()
                .and_then(|s| s.downcast_ref::<S>())
                .ok_or_else(|| ActionError::msg(format!("native {what} actions need {needs}")))?;
            self.native = Some(Box::new(make(src, &self.index)));
        }
        self.native
            .as_mut()
            .and_then(|n| n.as_any_mut().downcast_mut::<T>())
            .ok_or_else(|| {
                ActionError::msg(format!(
                    "native {what} actions cannot run on this batch's native data"
                ))
            })
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

//! The pipeline of the Python API on the Rust engine: `Plan` records the steps (Python
//! actions, lock steps, branches, native actions), `RunIter` runs them.

use std::sync::Mutex;
use std::time::Duration;

use batchline::{
    Action, ActionError, BatchIter, Context, Dataset, DatasetIndex, Pipeline, RunSpec, Shuffle,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::batch::{PyBatch, Source};
use crate::errors::{action_error, to_py_err};

/// The steps of a pipeline, as the engine runs them (built by `batchline.Pipeline` at the
/// start of each run).
#[pyclass(module = "batchline._batchline")]
pub(crate) struct Plan {
    pipeline: Option<Pipeline<PyBatch>>,
    /// Native image steps not in the pipeline yet: a `load` and the steps fused into it.
    images: crate::images::Pending,
}

impl Plan {
    /// The pipeline as it is so far, without the open chain of image steps.
    fn take_raw(&mut self) -> PyResult<Pipeline<PyBatch>> {
        self.pipeline
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this plan has been used by a run"))
    }

    /// The pipeline with every step recorded so far (the open chain of image steps closed).
    fn take(&mut self) -> PyResult<Pipeline<PyBatch>> {
        let p = self.take_raw()?;
        Ok(match self.images.flush() {
            Some(chain) => p.push(chain),
            None => p,
        })
    }

    fn step(&mut self, f: impl FnOnce(Pipeline<PyBatch>) -> Pipeline<PyBatch>) -> PyResult<()> {
        let p = self.take()?;
        self.pipeline = Some(f(p));
        Ok(())
    }

    /// Pushes an action built in Rust.
    pub(crate) fn push(&mut self, action: Action<PyBatch>) -> PyResult<()> {
        self.step(|p| p.push(action))
    }
}

/// Calls a Python action with the GIL (taken only for the call).
fn call_python(
    batch: &mut PyBatch,
    func: &Py<PyAny>,
    args: &Py<PyTuple>,
    kwargs: Option<&Py<PyDict>>,
    name: &str,
) -> Result<(), ActionError> {
    // A worker keeps one thread state for its life instead of one per call.
    crate::thread_state::keep();
    crate::gil::wait_until_free();
    Python::attach(|py| {
        let _holding = crate::gil::Holding::new();
        if batch.discarded {
            return Err(ActionError::msg(format!(
                "action {name:?}: the batch is None (an earlier action returned None or \
                 discarded it)"
            )));
        }
        let obj = batch.object(py).map_err(|e| action_error(py, e))?;
        let args = args.bind(py);
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(obj);
        all.extend(args.iter());
        let all = PyTuple::new(py, all).map_err(|e| action_error(py, e))?;
        match func.bind(py).call(all, kwargs.map(|k| k.bind(py))) {
            Ok(result) => {
                if result.is_none() {
                    batch.discarded = true;
                    batch.obj = None;
                } else {
                    batch.obj = Some(result.unbind());
                }
                Ok(())
            }
            Err(e) => Err(action_error(py, e)),
        }
    })
}

#[pymethods]
impl Plan {
    #[new]
    fn new() -> Self {
        // The first step records the batch's number and the run's seed (no GIL).
        let first = Action::new("(batch)", |b: &mut PyBatch, ctx: &mut Context| {
            b.number = ctx.batch();
            b.seed = ctx.seed();
        });
        Self {
            pipeline: Some(Pipeline::template().push(first)),
            images: Default::default(),
        }
    }

    /// An empty plan for the steps of a branch (`sometimes_with`, `repeat_with`).
    #[staticmethod]
    fn sub() -> Self {
        Self {
            pipeline: Some(Pipeline::template()),
            images: Default::default(),
        }
    }

    /// A Python action: `func(batch, *args, **kwargs)` returns the batch (or a new one).
    #[pyo3(signature = (name, func, args, kwargs=None, lock=None, ordered=false))]
    fn action(
        &mut self,
        name: String,
        func: Py<PyAny>,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
        lock: Option<String>,
        ordered: bool,
    ) -> PyResult<()> {
        let label = name.clone();
        let mut action = Action::new(name, move |b: &mut PyBatch, _ctx: &mut Context| {
            call_python(b, &func, &args, kwargs.as_ref(), &label)
        });
        if let Some(lock) = lock {
            action = action.lock(lock);
        }
        if ordered {
            action = action.ordered();
        }
        self.push(action)
    }

    /// A native image action (`load`, `resize`, `flip`, `to_tensor`, … : see
    /// `images::images_action`): it runs without the GIL.
    fn images_op(&mut self, op: &str, kwargs: &Bound<'_, PyDict>) -> PyResult<()> {
        let step = crate::images::images_action(op, kwargs)?;
        let mut p = self.take_raw()?;
        for action in self.images.add(op, step) {
            p = p.push(action);
        }
        self.pipeline = Some(p);
        Ok(())
    }

    /// A native table action (`load`, `select`, `standardize`, `to_tensor`, … : see
    /// `tables::table_action`): it runs without the GIL.
    fn table_op(&mut self, op: &str, kwargs: &Bound<'_, PyDict>) -> PyResult<()> {
        let action = crate::tables::table_action(op, kwargs)?;
        self.push(action)
    }

    /// Takes the named lock until `release_lock` (or the end of the batch).
    fn acquire_lock(&mut self, name: String) -> PyResult<()> {
        self.step(|p| p.acquire_lock(name))
    }

    /// Releases a lock taken by `acquire_lock`.
    fn release_lock(&mut self, name: String) -> PyResult<()> {
        self.step(|p| p.release_lock(name))
    }

    /// Runs the steps of `sub` with probability `p` (one draw from the batch's generator).
    fn sometimes_with(&mut self, p: f64, sub: &mut Plan) -> PyResult<()> {
        let sub = sub.take()?;
        self.step(|pl| pl.sometimes_with(p, sub))
    }

    /// Appends the steps of `sub`, `n` times.
    fn repeat_with(&mut self, n: usize, sub: &mut Plan) -> PyResult<()> {
        let sub = sub.take()?;
        self.step(|pl| pl.repeat_with(n, sub))
    }

    /// The names of the steps.
    fn step_names(&mut self) -> PyResult<Vec<String>> {
        let p = self.take()?;
        let names = p.step_names();
        self.pipeline = Some(p);
        Ok(names)
    }

    /// Starts a run over `n_items` items; `factory(positions, batch_number, seed)` builds
    /// each batch's Python object. `shuffle` is `None` (off), `-1` (random) or a seed.
    #[pyo3(signature = (
        n_items, factory, batch_size, *, shuffle=None, seed=None, n_epochs=None, n_iters=None,
        drop_last=false, prefetch=0, ignore_errors=false, profile=false, progress=false,
        images=None, table=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        py: Python<'_>,
        n_items: usize,
        factory: Py<PyAny>,
        batch_size: usize,
        shuffle: Option<i64>,
        seed: Option<u64>,
        n_epochs: Option<u64>,
        n_iters: Option<u64>,
        drop_last: bool,
        prefetch: usize,
        ignore_errors: bool,
        profile: bool,
        progress: bool,
        images: Option<PyRef<'_, crate::images::ImagesData>>,
        table: Option<PyRef<'_, crate::tables::TableData>>,
    ) -> PyResult<RunIter> {
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be at least 1"));
        }
        let native: Option<Box<dyn std::any::Any + Send + Sync>> = match (images, table) {
            (Some(images), _) => Some(Box::new(images.source())),
            (None, Some(table)) => Some(Box::new(table.source())),
            (None, None) => None,
        };
        let source = Source { factory, native };
        let dataset: Dataset<PyBatch> = Dataset::new(DatasetIndex::from_count(n_items), source);
        let pipeline = self.take()?.with_dataset(dataset);
        let mut spec = RunSpec::new(batch_size)
            .drop_last(drop_last)
            .prefetch(prefetch)
            .ignore_errors(ignore_errors)
            .profile(profile)
            .progress(progress);
        spec = match shuffle {
            None => spec.shuffle(Shuffle::Off),
            Some(s) if s < 0 => spec.shuffle(Shuffle::Random),
            Some(s) => spec.shuffle(s as u64),
        };
        if let Some(seed) = seed {
            spec = spec.seed(seed);
        }
        if let Some(n) = n_epochs {
            spec = spec.n_epochs(n);
        }
        if let Some(n) = n_iters {
            spec = spec.n_iters(n);
        }
        let iter = py
            .detach(|| pipeline.gen_batch(&spec))
            .map_err(|e| to_py_err(py, e))?;
        Ok(RunIter {
            inner: Mutex::new(Some(iter)),
            summary: Mutex::new(None),
            consumer: Default::default(),
        })
    }
}

/// The ordered iterator of a run: `__next__` releases the GIL while it waits.
#[pyclass(module = "batchline._batchline", weakref)]
pub(crate) struct RunIter {
    inner: Mutex<Option<BatchIter<PyBatch>>>,
    /// What the run did, kept when it ends.
    summary: Mutex<Option<Summary>>,
    /// Set while the consumer runs the user's loop with a batch (see `gil`).
    consumer: crate::gil::ConsumerMark,
}

/// A run's report, as the Python API shows it.
#[derive(Clone, Default)]
struct Summary {
    batches: u64,
    items: u64,
    skipped: u64,
    failed: u64,
    /// The items actions dropped from their batches (`load(on_error='drop')`): id and error.
    dropped: Vec<(String, String)>,
    profile: Option<String>,
}

impl Summary {
    fn of(iter: &BatchIter<PyBatch>) -> Self {
        let r = iter.report();
        Self {
            batches: r.batches,
            items: r.items,
            skipped: r.skipped,
            failed: r.failed,
            dropped: r
                .item_failures
                .iter()
                .map(|f| (f.id.clone(), f.error.clone()))
                .collect(),
            profile: iter.profile().map(|p| p.to_string()),
        }
    }
}

/// How long the consumer waits for a batch, without the GIL, before it checks for signals
/// (Ctrl-C) and waits again.
const SIGNAL_CHECK: Duration = Duration::from_millis(20);

impl RunIter {
    fn shut(&self, py: Python<'_>) {
        let mut guard = match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.end(py, &mut guard);
    }

    /// Ends the run held in `slot`: keeps its summary, then stops it and joins every worker
    /// with the GIL released (a worker may need it to finish a Python action).
    fn end(&self, py: Python<'_>, slot: &mut Option<BatchIter<PyBatch>>) {
        self.consumer.leave();
        if let Some(iter) = slot.take() {
            if let Ok(mut s) = self.summary.lock() {
                *s = Some(Summary::of(&iter));
            }
            py.detach(move || drop(iter));
        }
    }
}

#[pymethods]
impl RunIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let mut guard = self
            .inner
            .try_lock()
            .map_err(|_| PyRuntimeError::new_err("this run is being iterated by another thread"))?;
        self.consumer.leave();
        let Some(iter) = guard.as_mut() else {
            return Ok(None);
        };
        // Wait in slices without the GIL, and run Python's signal handlers between them:
        // Ctrl-C raises KeyboardInterrupt here within a slice, however slow the batch is.
        // (With `prefetch=0` the batch is made on this thread; a Python action then gets the
        // KeyboardInterrupt itself, which reaches the consumer as that action's error.)
        let item = loop {
            let item = py.detach(|| {
                let item = iter.next_timeout(SIGNAL_CHECK);
                if item.is_some() {
                    // Let a worker in a Python action finish it before taking the GIL back.
                    crate::gil::wait_until_free();
                }
                item
            });
            if let Some(item) = item {
                break item;
            }
            if let Err(interrupted) = py.check_signals() {
                // The run stops: no more batches are made, every worker is joined.
                self.end(py, &mut guard);
                return Err(interrupted);
            }
        };
        match item {
            Some(Ok(batch)) => {
                let out = batch.into_output(py)?;
                self.consumer.enter();
                Ok(Some(out))
            }
            Some(Err(err)) => Err(to_py_err(py, err)),
            None => {
                self.end(py, &mut guard);
                Ok(None)
            }
        }
    }

    /// Stops the run: no more batches are created, every worker is joined.
    fn close(&self, py: Python<'_>) {
        self.shut(py);
    }

    /// What the run did so far: batches, items, skipped, failed, dropped (the number of items
    /// dropped from their batches) with `dropped_items` (their `(id, error)`), and the profile
    /// table (with `profile=True`), as a dict.
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let summary = {
            let guard = self.inner.try_lock().map_err(|_| {
                PyRuntimeError::new_err("this run is being iterated by another thread")
            })?;
            match guard.as_ref() {
                Some(iter) => Summary::of(iter),
                None => self
                    .summary
                    .lock()
                    .ok()
                    .and_then(|s| s.clone())
                    .unwrap_or_default(),
            }
        };
        let d = PyDict::new(py);
        d.set_item("batches", summary.batches)?;
        d.set_item("items", summary.items)?;
        d.set_item("skipped", summary.skipped)?;
        d.set_item("failed", summary.failed)?;
        d.set_item("dropped", summary.dropped.len())?;
        d.set_item("dropped_items", summary.dropped)?;
        d.set_item("profile", summary.profile)?;
        Ok(d)
    }
}

impl Drop for RunIter {
    fn drop(&mut self) {
        self.consumer.leave();
        let taken = match self.inner.get_mut() {
            Ok(slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(iter) = taken {
            Python::attach(|py| py.detach(move || drop(iter)));
        }
    }
}

//! Batches of positions drawn by the Rust index (BatchFlow's batching rules: epochs
//! straddle, `drop_last`, `n_iters`, a permutation per epoch).

use batchline::{BatchSpec, Batches, DatasetIndex, Shuffle};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// An iterator of batches of positions (lists of ints) over `n` items.
#[pyclass(module = "batchline._batchline")]
pub(crate) struct IndexBatches {
    inner: Batches<usize>,
}

fn spec(
    batch_size: usize,
    shuffle: Option<u64>,
    n_epochs: Option<u64>,
    n_iters: Option<u64>,
    drop_last: bool,
) -> BatchSpec {
    let mut spec = BatchSpec::new(batch_size).drop_last(drop_last);
    spec = spec.shuffle(shuffle.map_or(Shuffle::Off, Shuffle::Seeded));
    if let Some(n) = n_epochs {
        spec = spec.n_epochs(n);
    }
    if let Some(n) = n_iters {
        spec = spec.n_iters(n);
    }
    spec
}

/// Starts an iteration over `n` items; with neither `n_epochs` nor `n_iters` it is endless.
#[pyfunction]
#[pyo3(signature = (n, batch_size, shuffle=None, n_epochs=None, n_iters=None, drop_last=false))]
pub(crate) fn batch_positions(
    n: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    n_epochs: Option<u64>,
    n_iters: Option<u64>,
    drop_last: bool,
) -> PyResult<IndexBatches> {
    let endless = n_epochs.is_none() && n_iters.is_none();
    let n_iters = if endless { Some(u64::MAX) } else { n_iters };
    let spec = spec(batch_size, shuffle, n_epochs, n_iters, drop_last);
    let inner = DatasetIndex::from_count(n)
        .gen_batch(&spec)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(IndexBatches { inner })
}

#[pymethods]
impl IndexBatches {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self) -> Option<Vec<usize>> {
        self.inner.next().map(|b| b.ids().to_vec())
    }
}

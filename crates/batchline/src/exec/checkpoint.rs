//! [`Checkpoint`]: where a run is, in a few hundred bytes, to continue it exactly.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::index::BatchSpec;

/// The state of a run between two batches: enough to continue it exactly, later or in another
/// process, with [`Pipeline::resume`](crate::Pipeline::resume).
///
/// A run's batches are pure functions of its seed and their numbers, so the state is small:
/// the seeds, the number of the next batch the consumer has not received, the batch spec, the
/// values of the variables declared with
/// [`init_state_variable`](crate::Pipeline::init_state_variable), and fingerprints of the
/// index and of the pipeline's steps, so that a state is never applied to another dataset or
/// pipeline. Batches that were prefetched but not received when the state was taken are
/// computed again after the resume: none is lost or doubled.
///
/// It serialises with serde; [`to_json`](Self::to_json) and [`to_bytes`](Self::to_bytes)
/// (CBOR) are ready made.
///
/// # Examples
///
/// ```
/// use batchline::batch::IdsBatch;
/// use batchline::exec::Checkpoint;
/// use batchline::{Batch, Dataset, DatasetIndex, RunSpec};
///
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(100), ());
/// let p = ds.p();
/// let spec = RunSpec::new(8).shuffle(42).n_epochs(3).prefetch(2);
///
/// let mut first = p.gen_batch(&spec)?;
/// let seen: Vec<Vec<usize>> = first.by_ref().take(10).map(|b| b.unwrap().ids().to_vec()).collect();
/// let saved = first.checkpoint()?.to_json()?;
/// drop(first);
///
/// // Later, maybe in another process, with another prefetch:
/// let state = Checkpoint::from_json(&saved)?;
/// let rest: Vec<Vec<usize>> =
///     p.resume(&spec.clone().prefetch(0), &state)?.map(|b| b.unwrap().ids().to_vec()).collect();
/// let whole: Vec<Vec<usize>> = p.gen_batch(&spec)?.map(|b| b.unwrap().ids().to_vec()).collect();
/// assert_eq!([seen, rest].concat(), whole);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Checkpoint {
    /// The layout of this value (1).
    pub format: u32,
    /// The run's seed (every batch's generator derives from it).
    pub seed: u64,
    /// The seed of the epochs' permutations, when shuffled.
    pub shuffle_seed: Option<u64>,
    /// The number of the first batch the consumer had not received.
    pub next_batch: u64,
    /// The batch spec of the run.
    pub spec: BatchSpec,
    /// Whether the run was endless (a `next_batch` run without `n_epochs` or `n_iters`).
    pub endless: bool,
    /// The number of items in the index.
    pub index_len: u64,
    /// A hash of the index's ids, in order.
    pub index_fingerprint: u64,
    /// A hash of the pipeline's step names and state variables.
    pub pipeline_fingerprint: u64,
    /// The values of the state variables (JSON values).
    pub variables: BTreeMap<String, serde_json::Value>,
}

/// Why a checkpoint could not be written, read, or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The JSON form could not be written or read.
    #[error("checkpoint JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The binary form could not be written or read.
    #[error("checkpoint bytes: {0}")]
    Binary(String),
    /// The checkpoint belongs to another run: another index, pipeline or spec.
    #[error("this checkpoint is from another {what}: {detail}")]
    Mismatch {
        /// `index`, `pipeline`, `batch spec` or `format`.
        what: &'static str,
        /// What differs.
        detail: String,
    },
    /// A state variable could not be saved or restored.
    #[error("state variable {name:?}: {message}")]
    Variable {
        /// The variable.
        name: String,
        /// Why.
        message: String,
    },
}

impl Checkpoint {
    /// The JSON text of the checkpoint.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Json`] (only for variables whose values JSON cannot hold).
    pub fn to_json(&self) -> Result<String, CheckpointError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Reads a checkpoint from its JSON text.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Json`] when the text is not a checkpoint.
    pub fn from_json(text: &str) -> Result<Self, CheckpointError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The compact binary form (CBOR).
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Binary`] when it cannot be encoded.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out)
            .map_err(|e| CheckpointError::Binary(e.to_string()))?;
        Ok(out)
    }

    /// Reads a checkpoint from its binary form.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Binary`] when the bytes are not a checkpoint.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        ciborium::from_reader(bytes).map_err(|e| CheckpointError::Binary(e.to_string()))
    }
}

/// FNV-1a: a small hash with fixed constants (unlike std's `DefaultHasher`), for fingerprints
/// that are stored and compared later. Ids are fed through their `Hash` implementations, so a
/// fingerprint is the same on machines of the same word size and byte order with the same
/// toolchain family; std does not promise that `Hash` for strings never changes.
#[derive(Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The fingerprint of a sequence of hashable values.
pub(crate) fn fingerprint<T: Hash>(items: impl IntoIterator<Item = T>) -> u64 {
    let mut h = Fnv::default();
    for item in items {
        item.hash(&mut h);
    }
    h.finish()
}

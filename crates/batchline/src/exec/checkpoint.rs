//! [`Checkpoint`]: where a run is, in a few hundred bytes, to continue it exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::index::BatchSpec;
use crate::outcome::CheckpointError;

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
/// The side effects of their steps happen again too (an [`ordered`](crate::Action::ordered)
/// action that appends to a log, say). Effects that must happen exactly once per batch
/// received belong in commit steps ([`Pipeline::commit`](crate::Pipeline::commit),
/// [`Action::commit`](crate::Action::commit)): they run on the consumer's thread when it
/// receives the batch, so a state taken between two batches holds exactly the effects of the
/// batches received, and its state variables are those values.
///
/// It serialises with serde; [`to_json`](Self::to_json) and [`to_bytes`](Self::to_bytes)
/// (CBOR) are ready made.
///
/// # Examples
///
/// ```
/// use batchline::IdsBatch;
/// use batchline::Checkpoint;
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
    /// The layout of this value ([`Checkpoint::FORMAT`]).
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
    /// The CRC-32 (IEEE) of the checkpoint's canonical encoding (see
    /// [`Checkpoint::canonical_bytes`]): any change to a field after the checkpoint was taken
    /// (a flipped bit, an edited value) is refused when it is read or resumed.
    pub checksum: u32,
}

impl Checkpoint {
    /// The layout written by this version: 2 (1 had no checksum and is refused).
    pub const FORMAT: u32 = 2;

    /// The bytes the checksum covers: every field but the checksum, in declaration order —
    /// the tag `batchline-checkpoint\0`; `format` as 4 bytes little-endian; `seed`; the
    /// `shuffle_seed` as a byte 0 (none) or 1 followed by the seed; `next_batch`; the batch
    /// spec's JSON text; `endless` as a byte 0 or 1; `index_len`; `index_fingerprint`;
    /// `pipeline_fingerprint`; the number of variables, then each variable's name and its
    /// value's JSON text. Integers are 8 bytes little-endian unless said; texts are their
    /// length (8 bytes) then their UTF-8 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use batchline::IdsBatch;
    /// # use batchline::{Dataset, DatasetIndex, RunSpec};
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(8), ());
    /// let p = ds.p();
    /// let mut run = p.gen_batch(&RunSpec::new(2).shuffle(1))?;
    /// run.next();
    /// let state = run.checkpoint()?;
    /// assert_eq!(crc32fast::hash(&state.canonical_bytes()), state.checksum);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn canonical_bytes(&self) -> Vec<u8> {
        fn text(out: &mut Vec<u8>, t: &str) {
            out.extend_from_slice(&(t.len() as u64).to_le_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        let mut out = b"batchline-checkpoint\0".to_vec();
        out.extend_from_slice(&self.format.to_le_bytes());
        out.extend_from_slice(&self.seed.to_le_bytes());
        match self.shuffle_seed {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        out.extend_from_slice(&self.next_batch.to_le_bytes());
        // A batch spec's JSON holds only integers, booleans and names: it cannot fail.
        text(
            &mut out,
            &serde_json::to_string(&self.spec).unwrap_or_default(),
        );
        out.push(u8::from(self.endless));
        out.extend_from_slice(&self.index_len.to_le_bytes());
        out.extend_from_slice(&self.index_fingerprint.to_le_bytes());
        out.extend_from_slice(&self.pipeline_fingerprint.to_le_bytes());
        out.extend_from_slice(&(self.variables.len() as u64).to_le_bytes());
        for (name, value) in &self.variables {
            text(&mut out, name);
            text(&mut out, &value.to_string());
        }
        out
    }

    /// The checkpoint with its checksum set to that of its fields: what a run hands out, and
    /// what to call after changing a field on purpose (a checkpoint changed without it is
    /// refused).
    ///
    /// # Examples
    ///
    /// ```
    /// # use batchline::IdsBatch;
    /// # use batchline::{Dataset, DatasetIndex, RunSpec};
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(8), ());
    /// let state = ds.p().gen_batch(&RunSpec::new(2))?.checkpoint()?;
    /// let mut edited = state.clone();
    /// edited.next_batch = 1;
    /// assert!(edited.verify().is_err());
    /// assert!(edited.sealed().verify().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn sealed(mut self) -> Self {
        self.checksum = crc32fast::hash(&self.canonical_bytes());
        self
    }

    /// Checks the format and the checksum.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Mismatch`] (`format`) for another layout,
    /// [`CheckpointError::Corrupt`] when the checksum does not match the fields.
    pub fn verify(&self) -> Result<(), CheckpointError> {
        if self.format != Self::FORMAT {
            return Err(CheckpointError::Mismatch {
                what: "format",
                detail: format!("format {} is not {}", self.format, Self::FORMAT),
            });
        }
        let actual = crc32fast::hash(&self.canonical_bytes());
        if actual != self.checksum {
            return Err(CheckpointError::Corrupt {
                stored: self.checksum,
                actual,
            });
        }
        Ok(())
    }

    /// Checks that this checkpoint can continue a run of `spec` over an index of `len` items
    /// with fingerprint `index_fingerprint`, by a pipeline with fingerprint
    /// `pipeline_fingerprint`: the checksum, then every field against the spec and the data.
    pub(crate) fn check_resume(
        &self,
        spec: &super::RunSpec,
        len: usize,
        index_fingerprint: u64,
        pipeline_fingerprint: u64,
        step_names: impl FnOnce() -> Vec<String>,
    ) -> Result<(), CheckpointError> {
        let mismatch = |what, detail| Err(CheckpointError::Mismatch { what, detail });
        self.verify()?;
        if self.index_len != len as u64 || self.index_fingerprint != index_fingerprint {
            return mismatch(
                "index",
                format!(
                    "it was taken on an index of {} items (fingerprint {:016x}), this one has \
                     {len} (fingerprint {index_fingerprint:016x})",
                    self.index_len, self.index_fingerprint
                ),
            );
        }
        if self.pipeline_fingerprint != pipeline_fingerprint {
            return mismatch(
                "pipeline",
                format!(
                    "its steps and state variables differ from these: {:?}",
                    step_names()
                ),
            );
        }
        let batches = &spec.batches;
        if self.spec != *batches {
            return mismatch(
                "batch spec",
                format!("it was taken with {:?}, not {:?}", self.spec, batches),
            );
        }
        let expected_shuffle = match batches.shuffle {
            crate::index::Shuffle::Off => Some(None),
            crate::index::Shuffle::Seeded(s) => Some(Some(s)),
            crate::index::Shuffle::Random => None,
        };
        let shuffle_ok = match expected_shuffle {
            Some(expected) => self.shuffle_seed == expected,
            None => self.shuffle_seed.is_some(),
        };
        if !shuffle_ok {
            return mismatch(
                "batch spec",
                format!(
                    "its shuffle seed {:?} does not fit the spec's shuffle {:?}",
                    self.shuffle_seed, batches.shuffle
                ),
            );
        }
        let expected_seed = spec.seed.or(match batches.shuffle {
            crate::index::Shuffle::Seeded(s) => Some(s),
            _ => None,
        });
        if let Some(seed) = expected_seed.filter(|s| *s != self.seed) {
            return mismatch(
                "run seed",
                format!("its seed {} is not the spec's {seed}", self.seed),
            );
        }
        if self.endless && (batches.n_epochs.is_some() || batches.n_iters.is_some()) {
            return mismatch(
                "batch spec",
                "it says the run is endless, but its spec sets n_epochs or n_iters".into(),
            );
        }
        if let Some(total) = batches.total_batches(len, self.endless) {
            if self.next_batch > total {
                return mismatch(
                    "position",
                    format!(
                        "its next batch #{} is past the run's {total} batches",
                        self.next_batch + 1
                    ),
                );
            }
        }
        Ok(())
    }

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
    /// [`CheckpointError::Json`] when the text is not a checkpoint (or has anything after
    /// it), and as [`verify`](Self::verify).
    pub fn from_json(text: &str) -> Result<Self, CheckpointError> {
        let checkpoint: Self = serde_json::from_str(text)?;
        checkpoint.verify()?;
        Ok(checkpoint)
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
    /// [`CheckpointError::Binary`] when the bytes are not a checkpoint or anything follows
    /// its value, and as [`verify`](Self::verify).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let mut rest = bytes;
        let checkpoint: Self =
            ciborium::from_reader(&mut rest).map_err(|e| CheckpointError::Binary(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CheckpointError::Binary(format!(
                "{} bytes after the checkpoint's value",
                rest.len()
            )));
        }
        checkpoint.verify()?;
        Ok(checkpoint)
    }
}

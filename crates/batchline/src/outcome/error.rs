//! [`PipelineError`]: why a run could not deliver a batch.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::index::IndexError;

/// Why a run could not deliver a batch.
///
/// Batches are numbered from 0 everywhere: in the `batch` fields, in [`batch`](Self::batch),
/// in [`Context::batch`](crate::Context::batch), in events and in these messages
/// (`batch 3 [6, 7]: action "parse" failed: …`). Only the seed's listing
/// ([`listing`](crate::listing)) counts from 1, as BatchFlow's documentation does.
///
/// `Debug` shows the message and its chain of causes, so that `fn main() -> Result<(),
/// PipelineError>` prints something a user can read.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// An action returned an error.
    #[error("batch {batch}{}: action {action:?} failed: {message}", spaced(ids))]
    Action {
        /// The batch's number in the run (0 for the first).
        batch: u64,
        /// The batch's first ids.
        ids: String,
        /// The action's name.
        action: Arc<str>,
        /// The error's message.
        message: String,
        /// The underlying error, when the action gave one.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    },
    /// User code panicked and the panic was caught: an action, or (named in parentheses) the
    /// batch type (`(executor)`, `(drop)`), the sampler (`(sampler)`) or the observer
    /// (`(observer)`).
    #[error("batch {batch}{}: action {action:?} panicked: {message}", spaced(ids))]
    Panic {
        /// The batch's number in the run.
        batch: u64,
        /// The batch's first ids (empty if the batch could not be built).
        ids: String,
        /// The action's name, or what panicked outside any action, in parentheses.
        action: Arc<str>,
        /// The panic's message.
        message: String,
    },
    /// A pipeline lock step was misused (released without being held, or taken twice).
    #[error("batch {batch}{}: lock {lock:?}: {message}", spaced(ids))]
    Lock {
        /// The batch's number in the run.
        batch: u64,
        /// The batch's first ids.
        ids: String,
        /// The lock's name.
        lock: Arc<str>,
        /// What went wrong.
        message: String,
    },
    /// The spec does not fit the dataset's index, or asks for the impossible.
    #[error("invalid run spec: {0}")]
    Spec(#[from] IndexError),
    /// A prefetch worker thread could not be started.
    #[error("cannot start a prefetch worker: {0}")]
    Spawn(#[source] std::io::Error),
    /// The pipeline was built wrongly (no dataset, a probability outside `[0, 1]`, …).
    #[error("invalid pipeline: {0}")]
    Build(String),
    /// A `before` or `after` step failed.
    #[error("{stage} step {hook:?} failed: {message}")]
    Hook {
        /// `"before"` or `"after"`.
        stage: &'static str,
        /// The step's name.
        hook: Arc<str>,
        /// The error's message.
        message: String,
    },
    /// A checkpoint could not be taken or applied.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// More batches (or items) failed than [`RunSpec::max_failures`](crate::RunSpec::max_failures)
    /// allows.
    #[error("{failed} batches failed, more than the {allowed} allowed; the first: {summary}")]
    TooManyFailures {
        /// Failures so far, this one included.
        failed: u64,
        /// The budget.
        allowed: u64,
        /// The first failures, one per line.
        summary: String,
    },
    /// More failures than [`RunSpec::max_failures`](crate::RunSpec::max_failures) allows,
    /// counting the items that actions dropped
    /// ([`Context::drop_item`](crate::Context::drop_item)) as well as failed batches.
    #[error(
        "{batches} failed batches and {items} dropped items, more than the {allowed} failures \
         allowed; the first: {summary}"
    )]
    TooManyDroppedItems {
        /// Batches that failed.
        batches: u64,
        /// Items dropped, this batch's included.
        items: u64,
        /// The budget.
        allowed: u64,
        /// The first failures, one per line.
        summary: String,
    },
    /// Batches could not be split or merged to the new batch size of
    /// [`BatchIter::rebatch`](crate::BatchIter::rebatch).
    #[error("rebatch: {0}")]
    Rebatch(String),
}

/// The ids after a space, or nothing when there are none.
fn spaced(ids: &str) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!(" {ids}")
    }
}

impl fmt::Debug for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = self.source();
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl PipelineError {
    /// The number of the batch the error happened on (from 0), if it happened on one.
    pub fn batch(&self) -> Option<u64> {
        match self {
            Self::Action { batch, .. } | Self::Panic { batch, .. } | Self::Lock { batch, .. } => {
                Some(*batch)
            }
            _ => None,
        }
    }

    /// The first ids of the batch the error happened on (empty when it has none).
    pub fn ids(&self) -> &str {
        match self {
            Self::Action { ids, .. } | Self::Panic { ids, .. } | Self::Lock { ids, .. } => ids,
            _ => "",
        }
    }

    /// The name of the action that failed, if an action did.
    pub fn action(&self) -> Option<&str> {
        match self {
            Self::Action { action, .. } | Self::Panic { action, .. } => Some(action),
            _ => None,
        }
    }
}

/// A run that failed, with what it did until then: the error of
/// [`Pipeline::run`](crate::Pipeline::run).
///
/// It converts into [`PipelineError`] with `?`, and shows as its error.
#[non_exhaustive]
pub struct RunError {
    /// Why the run failed.
    pub error: PipelineError,
    /// What the run did until it failed (batches, failures, profile, …).
    pub report: Box<super::RunReport>,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl fmt::Debug for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)?;
        write!(
            f,
            "\n  after {} batches ({} skipped, {} failed)",
            self.report.batches, self.report.skipped, self.report.failed
        )
    }
}

impl StdError for RunError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

impl From<RunError> for PipelineError {
    fn from(err: RunError) -> Self {
        err.error
    }
}

impl std::ops::Deref for RunError {
    type Target = PipelineError;

    fn deref(&self) -> &PipelineError {
        &self.error
    }
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
        /// `index`, `pipeline`, `batch spec`, `run seed`, `position` or `format`.
        what: &'static str,
        /// What differs.
        detail: String,
    },
    /// The checksum does not match the fields: the checkpoint was changed after it was taken.
    #[error(
        "the checkpoint is corrupt: its checksum is {stored:08x}, its fields give {actual:08x}"
    )]
    Corrupt {
        /// The checksum stored in the checkpoint.
        stored: u32,
        /// The checksum of its fields.
        actual: u32,
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

//! [`RunReport`]: what a run did, and how it ended.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{PipelineError, Profile};

/// How a run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RunEnd {
    /// It has not ended yet.
    #[default]
    Running,
    /// Every batch was drawn.
    Completed,
    /// A batch failed (without `ignore_errors`) or an `after` step failed.
    Failed,
    /// An action asked to stop the run.
    Stopped,
    /// The consumer dropped the iterator before the end.
    Dropped,
}

/// What a run did: see [`Pipeline::run`](crate::Pipeline::run) and [`BatchIter::report`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunReport {
    /// Batches delivered to the consumer.
    pub batches: u64,
    /// Items in the delivered batches.
    pub items: u64,
    /// Batches an action asked to skip.
    pub skipped: u64,
    /// Batches that failed (skipped under `ignore_errors`, or the one that ended the run).
    pub failed: u64,
    /// Whether an action asked to stop the run.
    pub stopped: bool,
    /// Time from the start of the run to its end (or to now, while it runs).
    pub elapsed: Duration,
    /// How the run ended.
    pub end: RunEnd,
    /// The errors of `after` steps (`step: message`).
    pub hook_errors: Vec<String>,
    /// The profile of the run, when the spec asked for it ([`RunSpec::profile`]).
    pub profile: Option<Profile>,
    /// Every failed batch that was skipped (`ignore_errors` or `max_failures`), in order.
    pub failures: Vec<Failure>,
    /// The deepest prefetch `k` the run used under [`RunSpec::prefetch_auto`] (0 otherwise).
    pub prefetch: u64,
}

/// A failed batch that a run skipped: see [`RunReport::failures`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Failure {
    /// The batch's number in the run.
    pub batch: u64,
    /// The batch's first ids.
    pub ids: String,
    /// The action that failed (`(executor)` outside any action, a lock's name for a lock
    /// step).
    pub action: String,
    /// The error's text.
    pub error: String,
}

impl Failure {
    pub(crate) fn of(err: &PipelineError) -> Self {
        let action = match err {
            PipelineError::Lock { lock, .. } => format!("lock {lock}"),
            other => other.action().unwrap_or_default().to_string(),
        };
        Self {
            batch: err.batch().unwrap_or_default(),
            ids: err.ids().to_string(),
            action,
            error: err.to_string(),
        }
    }
}

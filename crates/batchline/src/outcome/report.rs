//! [`RunReport`]: what a run did, and how it ended.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::PipelineError;
use crate::observe::Profile;

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

/// What a run did: see [`Pipeline::run`](crate::Pipeline::run) and [`BatchIter::report`](crate::BatchIter::report).
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
    /// The profile of the run, when the spec asked for it ([`RunSpec::profile`](crate::RunSpec::profile)).
    pub profile: Option<Profile>,
    /// Every failed batch that was skipped (`ignore_errors` or `max_failures`), in order.
    pub failures: Vec<Failure>,
    /// The deepest prefetch `k` the run used under [`RunSpec::prefetch_auto`](crate::RunSpec::prefetch_auto) (0 otherwise).
    pub prefetch: u64,
    /// Every item an action dropped from its batch ([`Context::drop_item`]), in batch order;
    /// they count against [`RunSpec::max_failures`](crate::RunSpec::max_failures) like failed batches.
    ///
    /// [`Context::drop_item`]: crate::Context::drop_item
    #[serde(default)]
    pub item_failures: Vec<ItemFailure>,
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

/// An item an action dropped from its batch (a file that would not load, say): see
/// [`RunReport::item_failures`] and [`Context::drop_item`](crate::Context::drop_item).
///
/// # Examples
///
/// ```
/// use batchline::{Context, Dataset, DatasetIndex, RunSpec};
/// use batchline::IdsBatch;
///
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(4), ());
/// let p = ds.p().apply("drop 2", |b: &mut IdsBatch, ctx: &mut Context| {
///     if b.index().ids().contains(&2) {
///         ctx.drop_item("2", None, "unreadable");
///     }
/// });
/// # use batchline::Batch;
/// let report = p.run(&RunSpec::new(2))?;
/// assert_eq!(report.item_failures[0].id, "2");
/// assert_eq!(report.item_failures[0].batch, 1);
/// # Ok::<(), batchline::PipelineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ItemFailure {
    /// The number of the batch the item was dropped from.
    pub batch: u64,
    /// The item's id.
    pub id: String,
    /// The item's file, when it has one.
    pub path: Option<std::path::PathBuf>,
    /// The error's text.
    pub error: String,
}

impl ItemFailure {
    pub(crate) fn new(
        batch: u64,
        id: String,
        path: Option<std::path::PathBuf>,
        error: String,
    ) -> Self {
        Self {
            batch,
            id,
            path,
            error,
        }
    }
}

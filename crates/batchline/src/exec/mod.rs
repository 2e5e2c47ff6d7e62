//! Running pipelines: the ordered prefetch executor, locks, cancellation and events.
//!
//! # The prefetch contract
//!
//! * `prefetch = k` means `k` batches beyond the one the consumer holds are processed in the
//!   background, all at once, without priorities, each on its own worker thread. A batch is
//!   created only while fewer than `k + 1` batches are created and not released; the consumer
//!   releases a batch when it asks for the next one.
//! * With `k = 0` nothing runs in the background: each batch is created and processed on the
//!   consumer's thread when it asks for it.
//! * Batches reach the consumer in creation order, also when shuffled, whatever order they
//!   finish in.
//! * Results do not depend on `k` or on timing: each batch's random generator derives from the
//!   run's seed and the batch's number.
//! * An action's error or panic reaches the consumer at that batch's place in the order, as a
//!   [`PipelineError`] naming the batch number, its first ids and the action; the run then
//!   ends (unless `ignore_errors`).
//! * Dropping the iterator stops batch creation, lets in-flight batches stop at their next
//!   action boundary, and joins every worker before `drop` returns: no action starts after.
//!
//! # `prefetch = auto`
//!
//! [`RunSpec::prefetch_auto`] starts with one batch in flight and measures, per window (8
//! batches, or two rounds of the batches in flight, and at least 5 ms, after the batches in
//! flight at the last change have gone by), the throughput and the share of time the consumer
//! waited. The largest
//! finished batch ([`Batch::size_bytes`]) bounds the depth: `k + 1 ≤ budget / largest`, at
//! once. While the consumer waits more than 5% of a window and the window's throughput beat
//! the best so far by 10%, `k + 1` doubles; when a doubling does not pay, the depth goes back to
//! the best one and stays, until the consumer waits clearly more than when it settled (15
//! points and over 20%) for 4 windows in a row. `k = 7` is reached within about 40 batches,
//! `k = 32` (the most) within about 200.
//!
//! See `README.md` in this folder for how the executor is built.

mod auto;
mod checkpoint;
mod error;
mod inline;
mod iter;
mod lock;
mod prefetch;
pub(crate) mod progress;
mod rebatch;
mod report;
mod run;
mod spec;
mod steps;

pub use crate::observe::{
    chrome_trace, listing, ActionStats, Bar, BarKind, Event, EventKind, EventRecorder, Lane,
    LockStats, Observer, Profile, Timeline,
};
pub(crate) use checkpoint::fingerprint;
pub use checkpoint::{Checkpoint, CheckpointError};
pub use error::{PipelineError, RunError};
pub use iter::BatchIter;
pub(crate) use iter::Origin;
pub use rebatch::Rebatch;
pub use report::{Failure, ItemFailure, RunEnd, RunReport};
pub use spec::{FailureBudget, RunSpec};

pub(crate) use lock::LockRegistry;
pub(crate) use run::{Outcome, Run};
pub(crate) use steps::RunSteps;

//! Running plans: starting a run (seeds, sampler, pool, checkpoint checks), the consumer's
//! [`BatchIter`], the inline (`k = 0`) and prefetch (`k ≥ 1`) modes, the steps with their locks
//! and gates resolved, checkpoints, and the runtime of `join` and `merge`.
//!
//! The contract this module keeps is the crate documentation's ("The prefetch contract");
//! `README.md` in this folder says how it keeps it. This module never names the pipeline
//! builder: it runs a [`Plan`](crate::plan::Plan).

mod auto;
mod checkpoint;
mod compose;
mod consume;
mod handover;
mod inline;
mod iter;
mod launch;
mod prefetch;
mod progress;
mod rebatch;
mod run;
mod spec;
mod steps;
mod walk;

pub use checkpoint::Checkpoint;
pub use iter::BatchIter;
#[doc(hidden)]
pub use progress::ProgressCapture;
pub use rebatch::Rebatch;
pub use spec::{FailureBudget, RunSpec};

pub(crate) use compose::{join_action, merge_action};
pub(crate) use launch::launch;

use crate::observe::{Event, EventKind, EventRecorder, Observer, Profile};
use crate::outcome::{CheckpointError, Failure, PipelineError, RunEnd, RunReport};
use iter::Origin;
use run::{Outcome, Run};
use steps::RunSteps;

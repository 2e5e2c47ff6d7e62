//! What a run comes to: its errors ([`PipelineError`], [`RunError`], [`CheckpointError`]) and
//! its [`RunReport`] (how it ended, what failed, the profile).
//!
//! Below the plan, so that the context of an action can report item failures and a hook can
//! read the report of the run so far.

mod error;
mod report;

pub use error::{CheckpointError, PipelineError, RunError};
pub use report::{Failure, ItemFailure, RunEnd, RunReport};

//! What a pipeline records before it runs, and what its actions see while it runs: actions,
//! lazy arguments, variables, config, the steps and hooks, and the [`Context`] of a batch.
//!
//! This layer only describes work; `exec` runs it and `pipeline` builds it.

mod action;
mod arg;
mod config;
mod context;
mod parallel;
mod step;
mod update;
mod variables;

pub use action::Action;
pub use arg::Arg;
pub use config::{Config, ConfigError};
pub use context::{BatchRng, Context, ItemRng, RunState};
pub use parallel::Item;
pub use update::Update;
pub use variables::{VariableError, Variables};

pub(crate) use context::RunContext;
pub(crate) use step::{Hook, Step};
pub(crate) use variables::VarDecl;

use std::sync::Arc;

use crate::batch::Batch;
use crate::dataset::Dataset;
use crate::lock::LockRegistry;

/// Everything a pipeline records: its dataset (if set), its steps, the registry of its named
/// locks (shared by clones), its variables and config, its hooks, and the misuse found while
/// it was built (reported by the first run).
pub(crate) struct Plan<B: Batch> {
    pub(crate) dataset: Option<Dataset<B>>,
    pub(crate) steps: Vec<Step<B>>,
    pub(crate) locks: Arc<LockRegistry>,
    pub(crate) variables: Arc<Variables>,
    pub(crate) config: Config,
    pub(crate) before: Vec<Hook>,
    pub(crate) after: Vec<Hook>,
    pub(crate) build_errors: Vec<String>,
}

impl<B: Batch> Plan<B> {
    /// An empty plan without a dataset.
    pub(crate) fn new() -> Self {
        Self {
            dataset: None,
            steps: Vec::new(),
            locks: Arc::new(LockRegistry::default()),
            variables: Arc::new(Variables::from_decls(Vec::new())),
            config: Config::new(),
            before: Vec::new(),
            after: Vec::new(),
            build_errors: Vec::new(),
        }
    }

    /// The names of the steps, in order (a branch lists its steps inside `sometimes(...)`).
    pub(crate) fn step_names(&self) -> Vec<String> {
        step::names(&self.steps)
    }
}

/// A clone has the same steps, config and locks, and fresh variables at their initial values.
impl<B: Batch> Clone for Plan<B> {
    fn clone(&self) -> Self {
        Self {
            dataset: self.dataset.clone(),
            steps: self.steps.clone(),
            locks: Arc::clone(&self.locks),
            variables: Arc::new(Variables::from_decls(self.variables.decls().to_vec())),
            config: self.config.clone(),
            before: self.before.clone(),
            after: self.after.clone(),
            build_errors: self.build_errors.clone(),
        }
    }
}

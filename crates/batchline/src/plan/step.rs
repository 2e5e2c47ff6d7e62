//! The recorded steps of a pipeline, and its `before` / `after` hooks.

use std::sync::Arc;

use super::{Action, RunState};
use crate::action_error::{ActionResult, IntoActionResult};

/// One recorded step of a pipeline.
pub(crate) enum Step<B> {
    Action(Action<B>),
    AcquireLock(Arc<str>),
    ReleaseLock(Arc<str>),
    /// Runs `steps` with probability `p` (one draw from the batch's generator), skips them
    /// otherwise. Branches nest.
    Branch {
        p: f64,
        steps: Vec<Step<B>>,
    },
}

impl<B> Clone for Step<B> {
    fn clone(&self) -> Self {
        match self {
            Step::Action(a) => Step::Action(a.clone()),
            Step::AcquireLock(n) => Step::AcquireLock(Arc::clone(n)),
            Step::ReleaseLock(n) => Step::ReleaseLock(Arc::clone(n)),
            Step::Branch { p, steps } => Step::Branch {
                p: *p,
                steps: steps.clone(),
            },
        }
    }
}

pub(crate) type HookFn = dyn Fn(&RunState<'_>) -> ActionResult + Send + Sync;

/// A step that runs once per run, before the first batch or after the last.
#[derive(Clone)]
pub(crate) struct Hook {
    pub(crate) name: Arc<str>,
    pub(crate) f: Arc<HookFn>,
}

impl Hook {
    pub(crate) fn new<F, R>(name: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn(&RunState<'_>) -> R + Send + Sync + 'static,
        R: IntoActionResult,
    {
        Self {
            name: name.into(),
            f: Arc::new(move |s| f(s).into_action_result()),
        }
    }
}

/// The names of `steps`, in order (a branch lists its steps inside `sometimes(...)`).
pub(crate) fn names<B>(steps: &[Step<B>]) -> Vec<String> {
    fn name<B>(s: &Step<B>) -> String {
        match s {
            Step::Action(a) => a.name.to_string(),
            Step::AcquireLock(n) => format!("acquire_lock({n})"),
            Step::ReleaseLock(n) => format!("release_lock({n})"),
            Step::Branch { p, steps } => format!("sometimes({p})[{}]", names(steps).join(", ")),
        }
    }
    steps.iter().map(name).collect()
}

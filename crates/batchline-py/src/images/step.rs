//! A native image action as the plan receives it: the engine action, and how it takes part
//! in fusion (see `fuse`).

use batchline::images::{ImagesBatch, LoadOptions, PerImage};
use batchline::{Action, ActionResult, Context};

use crate::batch::PyBatch;

/// An engine action named `name` that runs `f` on the batch's native images; the batch's
/// positions follow the items `f` dropped.
pub(crate) fn native<F>(name: &str, f: F) -> Action<PyBatch>
where
    F: Fn(&mut ImagesBatch<String>, &mut Context<'_>) -> ActionResult + Send + Sync + 'static,
{
    Action::new(name, move |b: &mut PyBatch, ctx: &mut Context<'_>| {
        let result = f(b.images()?, ctx);
        b.sync_positions();
        result
    })
}

/// How a native image action takes part in fusion.
pub(crate) enum Fuse {
    /// `load`: starts a chain.
    Load(LoadOptions),
    /// A per-image step that can follow in a chain.
    Step(Box<dyn FnOnce(PerImage) -> PerImage + Send>),
    /// `to_tensor`: the last step of a chain.
    Last(Box<dyn FnOnce(PerImage) -> PerImage + Send>),
    /// Runs as an action of its own.
    No,
}

/// A native image action, and how it fuses.
pub(crate) struct ImageStep {
    pub(crate) action: Action<PyBatch>,
    pub(crate) fuse: Fuse,
}

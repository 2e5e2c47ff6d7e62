//! Fusion of native image steps: `load` and the per-image steps right after it (resizes,
//! crops, flips, `convert`, then `to_tensor`) become one `load_fused` action of the Rust
//! crate, which runs them on each image right after decoding it: one pass per image instead
//! of one pass over the batch per action, and no full-size image kept past its first step.
//!
//! The result is that of the chain of actions (same pixels: DCT-scaled decoding is off unless
//! `load(dct_scaling=True)`; same random parameters for a seeded run), with one difference:
//! after a `load(on_error='drop')` that drops items, the random parameters of the items after
//! a dropped one are those of their positions before the drop.

use batchline::images::{LoadOptions, PerImage};
use batchline::Action;

use super::step::{native, Fuse, ImageStep};
use crate::batch::PyBatch;

/// A `load` and the steps fused into it so far.
struct Chain {
    name: String,
    options: LoadOptions,
    load: Action<PyBatch>,
    steps: PerImage,
    /// Whether a step (or the tensor) was fused into the load.
    fused: bool,
    closed: bool,
}

impl Chain {
    /// The chain as one action: the plain `load` when nothing was fused into it, else
    /// `load_fused`, named after its steps (`load+resize+to_tensor`).
    fn into_action(self) -> Action<PyBatch> {
        if !self.fused {
            return self.load;
        }
        let (options, steps) = (self.options, self.steps);
        native(&self.name, move |b, ctx| {
            b.load_fused(options.clone(), steps.clone(), ctx)
        })
    }
}

/// The native image steps of a plan that are not in its pipeline yet (the open chain).
#[derive(Default)]
pub(crate) struct Pending(Option<Chain>);

impl Pending {
    /// Takes the action `op`: the actions to append to the pipeline now, in order.
    pub(crate) fn add(&mut self, op: &str, step: ImageStep) -> Vec<Action<PyBatch>> {
        let mut out = Vec::new();
        let last = matches!(step.fuse, Fuse::Last(_));
        match step.fuse {
            Fuse::Load(options) => {
                out.extend(self.flush());
                self.0 = Some(Chain {
                    name: op.to_string(),
                    options,
                    load: step.action,
                    steps: PerImage::new(),
                    fused: false,
                    closed: false,
                });
            }
            Fuse::Step(f) | Fuse::Last(f) if self.0.as_ref().is_some_and(|c| !c.closed) => {
                let chain = self.0.as_mut().expect("an open chain");
                chain.steps = f(std::mem::take(&mut chain.steps));
                chain.name = format!("{}+{op}", chain.name);
                chain.fused = true;
                chain.closed = last;
            }
            _ => {
                out.extend(self.flush());
                out.push(step.action);
            }
        }
        out
    }

    /// The open chain as an action, if there is one (the plan is about to use its pipeline).
    pub(crate) fn flush(&mut self) -> Option<Action<PyBatch>> {
        self.0.take().map(Chain::into_action)
    }
}

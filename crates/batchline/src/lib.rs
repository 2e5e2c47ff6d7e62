//! batchline: lazy batch pipelines with ordered prefetch, action locks and full observability.
//!
//! The model, from the bottom up:
//!
//! * [`DatasetIndex`] — the ids of all items; batches are drawn from it by a [`BatchSpec`]
//!   (module [`index`]).
//! * [`Batch`] — your batch type, built from a [`BatchIndex`] and the dataset's shared source
//!   (module [`batch`]; [`batch::ArrayBatch`] is ready for rows of arrays).
//! * [`Dataset`] — an index plus the shared source (module [`dataset`]).
//! * [`Pipeline`] — a dataset plus a lazy list of [`Action`]s (module [`pipeline`]).
//! * [`Pipeline::gen_batch`] — the ordered iterator of processed batches, with `prefetch`
//!   batches processed in the background (module [`exec`]).
//!
//! Around them: pipeline variables, config, lazy arguments, before/after steps and
//! composition (`+`, `sometimes`, `repeat`, `join`, `merge`; module [`pipeline`]); work inside
//! a batch on a thread pool ([`Context::par_map`]); images ([`batch::images`], feature
//! `image`); rebatching, profiles with a verdict, timelines, `prefetch_auto`, checkpoints to
//! resume a run exactly ([`Checkpoint`]), shards and failure budgets (module [`exec`]).
//!
//! # Examples
//!
//! ```
//! use batchline::{Context, Dataset, DatasetIndex, RunSpec};
//! use batchline::batch::{ArrayBatch, ArraySource};
//! use ndarray::Array2;
//!
//! let source = ArraySource::new().with("x", Array2::from_shape_fn((8, 1), |(i, _)| i as f32))?;
//! let dataset: Dataset<ArrayBatch> = Dataset::new(DatasetIndex::from_count(8), source);
//! let pipeline = dataset.p().apply("load", |b: &mut ArrayBatch, _: &mut Context| b.load_rows());
//! let spec = RunSpec::new(3).shuffle(7).n_epochs(2).prefetch(1);
//! let firsts: Vec<usize> = pipeline
//!     .gen_batch(&spec)?
//!     .map(|b| b.map(|b| b.index().ids()[0]))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(firsts.len(), 6); // ceil(2 * 8 / 3)
//! # use batchline::Batch;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

extern crate self as batchline;

pub mod batch;
pub mod dataset;
pub mod exec;
pub mod index;
mod observe;
pub mod pipeline;

pub use batch::Batch;
pub use dataset::Dataset;
/// Test support: captures what the progress bar draws. Not part of the API.
#[doc(hidden)]
pub use exec::progress::ProgressCapture;
pub use exec::ItemFailure;
pub use exec::{
    BatchIter, Checkpoint, Failure, FailureBudget, PipelineError, Rebatch, RunEnd, RunError,
    RunReport, RunSpec,
};
pub use index::{BatchIndex, BatchSpec, DatasetIndex, FilesIndex, Shuffle};
pub use observe::{
    chrome_trace, listing, ActionStats, Bar, BarKind, Event, EventKind, EventRecorder, Lane,
    LockStats, Observer, Profile, Timeline,
};
pub use pipeline::Item;
pub use pipeline::{
    Action, ActionError, ActionResult, Arg, BatchRng, Config, Context, Pipeline, Reset, RunState,
    Update, Variables,
};

/// `#[batchline::actions]` on an `impl` block of a batch type turns its `#[action]` methods
/// into pipeline steps: see the `batchline-macros` crate documentation.
///
/// Misuse stops the build with a message (every case, with its message and the line it points
/// at, is tested in `batchline-macros/ui/`). For instance an action that takes `self` by value,
/// a lock name that is not a string, or an action named like a `Pipeline` method:
///
/// ```compile_fail
/// # struct B;
/// #[batchline::actions]
/// impl B {
///     #[action]
///     fn consume(self) {} // error: an action takes `&mut self` or `&self`
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # struct B;
/// #[batchline::actions]
/// impl B {
///     #[action(lock = 5)] // error: the lock name must be a string literal
///     fn load(&mut self) {}
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # struct B;
/// #[batchline::actions]
/// impl B {
///     #[action]
///     fn run(&mut self) {} // error: `Pipeline::run` would hide it
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # struct B;
/// impl B {
///     #[batchline::action] // error: only inside an `impl` block marked `#[batchline::actions]`
///     fn load(&mut self) {}
/// }
/// # fn main() {}
/// ```
pub use batchline_macros::{action, actions};

/// Paths used by the code `#[batchline::actions]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::pipeline::IntoActionResult;
    pub use crate::{Action, ActionResult, Arg, Context, Pipeline};
    pub use core::any::Any;
    pub use core::convert::Into;
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

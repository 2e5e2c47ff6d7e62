//! batchline: lazy batch pipelines with ordered prefetch, action locks and full observability.
//!
//! The model, from the bottom up (every item is at the crate root; the optional batch kinds
//! are in the modules [`images`] and [`table`]):
//!
//! * [`DatasetIndex`] — the ids of all items; batches are drawn from it by a [`BatchSpec`]
//!   (batch size, shuffle, epochs, shards). [`FilesIndex`] lists files.
//! * [`Batch`] — your batch type, built from a [`BatchIndex`] and the dataset's shared source.
//!   Ready-made: [`IdsBatch`], [`ArrayBatch`] (rows of arrays), [`images::ImagesBatch`] (feature
//!   `image`), [`table::TableBatch`] (feature `table`: CSV, Parquet, `.npy`).
//! * [`Dataset`] — an index plus the shared source.
//! * [`Pipeline`] — a dataset plus a lazy list of [`Action`]s, with variables, config, lazy
//!   arguments ([`Arg`]), `before`/`after` steps and composition (`+`, `sometimes`, `repeat`,
//!   `join`, `merge`); work inside a batch on a thread pool ([`Context::par_map`]).
//! * [`Pipeline::gen_batch`] — the ordered iterator of processed batches ([`BatchIter`]), with
//!   `prefetch` batches processed in the background, under the contract below; rebatching,
//!   profiles with a verdict, timelines, `prefetch_auto`, checkpoints to resume a run exactly
//!   ([`Checkpoint`]), shards and failure budgets.
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
//!   [`PipelineError`] naming the batch number (from 0), its first ids and the action; the run
//!   then ends (unless `ignore_errors`). User code the executor calls (observers, hooks,
//!   [`Batch::size_bytes`], a batch's `Drop`) is caught the same way.
//! * A step that takes a lock (`#[action(lock = "L")]`, `acquire_lock`) runs for one batch at a
//!   time; an [`ordered`](Action::ordered) step runs in batch order; a lock section that holds
//!   an ordered step is entered in batch order; a [`commit`](Pipeline::commit) step runs on the
//!   consumer's thread when it receives the batch.
//! * Dropping the iterator stops batch creation; a batch in flight finishes at most the action
//!   it is in (waits for locks and turns are abandoned), and every worker is joined before
//!   `drop` returns: no action starts after.
//!
//! `prefetch = auto` ([`RunSpec::prefetch_auto`]) chooses `k` while the run goes, within a
//! memory budget, by the rule given there.
//!
//! # Examples
//!
//! ```
//! use batchline::{Context, Dataset, DatasetIndex, RunSpec};
//! use batchline::{ArrayBatch, ArraySource};
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

// The layers, from the bottom up; each module imports only from the ones above it in this
// list. Every public item has one path: the crate root, or (for the optional batch kinds)
// the modules `images` and `table`.
mod action_error;
mod fingerprint;
mod lock;
mod observe;

mod index;

mod batch;

mod dataset;

mod outcome;

mod plan;

mod exec;

mod pipeline;

mod array;
#[cfg(feature = "image")]
pub mod images;
#[cfg(feature = "table")]
pub mod table;

pub use action_error::{ActionError, ActionResult, IntoActionResult};
pub use array::{ArrayBatch, ArrayBatchActions, ArrayError, ArraySource};
pub use batch::{Batch, IdsBatch};
pub use dataset::Dataset;
pub use exec::{BatchIter, Checkpoint, FailureBudget, Rebatch, RunSpec};
pub use index::{
    BatchIndex, BatchSpec, Batches, DatasetIndex, FileIds, FilesIndex, Id, IndexError, Shard,
    Shuffle, Skipped, Split,
};
pub use observe::{
    chrome_trace, listing, ActionStats, Bar, BarKind, Event, EventKind, EventRecorder, Lane,
    LockStats, Observer, Profile, Timeline,
};
pub use outcome::{
    CheckpointError, Failure, ItemFailure, PipelineError, RunEnd, RunError, RunReport,
};
pub use pipeline::{Joined, Pipeline, Reset};
pub use plan::{
    Action, Arg, BatchRng, Config, ConfigError, Context, Item, ItemRng, RunState, Update,
    VariableError, Variables,
};

/// Test support: captures what the progress bar draws. Not part of the API.
#[doc(hidden)]
pub use exec::ProgressCapture;

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
    pub use crate::{Action, ActionResult, Arg, Context, IntoActionResult, Pipeline};
    pub use core::any::Any;
    pub use core::convert::Into;
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

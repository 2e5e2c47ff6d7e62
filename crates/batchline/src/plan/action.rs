//! Actions: named steps that transform a batch.

use std::fmt;
use std::sync::Arc;

use super::Context;
use crate::action_error::{ActionResult, IntoActionResult};

pub(crate) type ActionFn<B> = dyn Fn(&mut B, &mut Context<'_>) -> ActionResult + Send + Sync;

/// A named step of a pipeline that transforms a batch, optionally under a lock.
///
/// `#[batchline::actions]` builds these for the methods it marks; closures become actions with
/// [`Pipeline::apply`](crate::Pipeline::apply) or [`Action::new`] and
/// [`Pipeline::push`](crate::Pipeline::push).
///
/// # Examples
///
/// ```
/// use batchline::{Action, Batch, Context};
/// use batchline::ArrayBatch;
///
/// let act: Action<ArrayBatch> = Action::new("count", |b: &mut ArrayBatch, _ctx: &mut Context| {
///     assert!(b.len() > 0);
/// })
/// .lock("counter")
/// .ordered();
/// assert_eq!(act.name(), "count");
/// assert_eq!(act.lock_name(), Some("counter"));
/// ```
pub struct Action<B> {
    pub(crate) name: Arc<str>,
    pub(crate) lock: Option<Arc<str>>,
    pub(crate) ordered: bool,
    pub(crate) commit: bool,
    pub(crate) f: Arc<ActionFn<B>>,
}

impl<B> Clone for Action<B> {
    fn clone(&self) -> Self {
        Self {
            name: Arc::clone(&self.name),
            lock: self.lock.clone(),
            ordered: self.ordered,
            commit: self.commit,
            f: Arc::clone(&self.f),
        }
    }
}

impl<B> fmt::Debug for Action<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Action")
            .field("name", &self.name)
            .field("lock", &self.lock)
            .field("ordered", &self.ordered)
            .field("commit", &self.commit)
            .finish()
    }
}

impl<B> Action<B> {
    /// An action named `name` that runs `f` on each batch.
    pub fn new<F, R>(name: impl Into<Arc<str>>, f: F) -> Self
    where
        F: Fn(&mut B, &mut Context<'_>) -> R + Send + Sync + 'static,
        R: IntoActionResult,
    {
        Self {
            name: name.into(),
            lock: None,
            ordered: false,
            commit: false,
            f: Arc::new(move |b: &mut B, ctx: &mut Context<'_>| f(b, ctx).into_action_result()),
        }
    }

    /// Runs the action under the lock `name`: at most one batch at a time runs any action that
    /// names this lock (BatchFlow's `use_lock="name"`).
    #[must_use]
    pub fn lock(mut self, name: impl Into<Arc<str>>) -> Self {
        self.lock = Some(name.into());
        self
    }

    /// Makes batches enter this action one at a time and in batch order, whatever order they
    /// reach it in, so that a stateful action sees the same sequence for any prefetch.
    ///
    /// A batch that ends before reaching the action (skipped, failed, cancelled) passes its turn
    /// on. Each occurrence of the action in the pipeline (a repeated step, say) has its own
    /// turns: batch `n` enters every occurrence after batch `n - 1` has left it. An
    /// `acquire_lock` section that holds an ordered step is entered in batch order too, so
    /// the section cannot deadlock. The turns are the executor's own: they never share a
    /// mutex with a user lock of the same name.
    ///
    /// An ordered action runs on a worker, ahead of the consumer: after a
    /// [`resume`](crate::Pipeline::resume), the batches that were prefetched but not received
    /// pass it again. For side effects that must happen exactly once per received batch, use
    /// [`commit`](Self::commit).
    #[must_use]
    pub fn ordered(mut self) -> Self {
        self.ordered = true;
        self
    }

    /// Makes this a commit step: it runs on the consumer's thread when the consumer receives
    /// the batch, in batch order, after every other step; its side effects happen once per
    /// batch received, so a run resumed from a [`Checkpoint`](crate::Checkpoint) repeats none
    /// of them and state variables it changes are saved as of the last batch received.
    ///
    /// Commit steps come last in a pipeline (a step after one, or one inside `sometimes`, is a
    /// [`PipelineError::Build`](crate::PipelineError::Build) error when the run starts). Their
    /// errors, skips and stop requests count like those of other steps.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Action, Context, Dataset, DatasetIndex, RunSpec};
    /// use batchline::IdsBatch;
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
    /// let p = ds.p().init_state_variable("seen", 0_u64).push(
    ///     Action::new("count", |b: &mut IdsBatch, ctx: &mut Context| {
    ///         ctx.variables().update("seen", |n: &mut u64| *n += b.len() as u64)
    ///     })
    ///     .commit(),
    /// );
    /// p.run(&RunSpec::new(3).prefetch(2))?;
    /// assert_eq!(p.variables().get::<u64>("seen")?, 10);
    /// # use batchline::Batch;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn commit(mut self) -> Self {
        self.commit = true;
        self
    }

    /// The action's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the lock the action runs under, if any.
    pub fn lock_name(&self) -> Option<&str> {
        self.lock.as_deref()
    }
}

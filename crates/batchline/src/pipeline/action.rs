//! Actions: named steps that transform a batch.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use super::Context;

/// What an action returns: `Ok(())`, or an [`ActionError`].
pub type ActionResult = Result<(), ActionError>;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why an action did not complete: a failure, or a request to skip the batch or stop the run.
///
/// Any error type converts into it with `?`, so an action can use the errors of the libraries
/// it calls directly. (Like `anyhow::Error`, it does not itself implement
/// [`std::error::Error`], which is what makes that blanket conversion possible.)
///
/// # Examples
///
/// ```
/// use batchline::ActionError;
///
/// fn parse(text: &str) -> Result<i64, ActionError> {
///     let n: i64 = text.trim().parse()?; // ParseIntError converts
///     if n < 0 {
///         return Err(ActionError::msg(format!("negative: {n}")));
///     }
///     if n == 0 {
///         return Err(ActionError::skip_batch());
///     }
///     Ok(n)
/// }
/// assert_eq!(parse(" 7").unwrap(), 7);
/// assert!(parse("x").unwrap_err().is_failure());
/// assert!(parse("0").unwrap_err().is_skip());
/// ```
pub struct ActionError {
    kind: Kind,
}

enum Kind {
    Failed {
        message: String,
        source: Option<BoxError>,
    },
    Skip,
    Stop,
}

impl ActionError {
    /// A failure with a message.
    pub fn msg(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Failed {
                message: message.into(),
                source: None,
            },
        }
    }

    /// A failure caused by `source`, with a message of its own.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            kind: Kind::Failed {
                message: message.into(),
                source: Some(source.into()),
            },
        }
    }

    /// A request to drop this batch and go on with the next one (BatchFlow's `SkipBatch`).
    ///
    /// The batch is not yielded and is counted as skipped; this is not an error, whatever
    /// `ignore_errors` says.
    pub fn skip_batch() -> Self {
        Self { kind: Kind::Skip }
    }

    /// A request to end the run (BatchFlow's `StopPipeline`).
    ///
    /// This batch is not yielded; the batches before it are, and then the iteration ends
    /// without an error.
    pub fn stop_run() -> Self {
        Self { kind: Kind::Stop }
    }

    /// Whether this is a failure (not a skip or stop request).
    pub fn is_failure(&self) -> bool {
        matches!(self.kind, Kind::Failed { .. })
    }

    /// Whether this is a request to skip the batch.
    pub fn is_skip(&self) -> bool {
        matches!(self.kind, Kind::Skip)
    }

    /// Whether this is a request to stop the run.
    pub fn is_stop(&self) -> bool {
        matches!(self.kind, Kind::Stop)
    }

    /// Splits the error for the executor.
    pub(crate) fn into_outcome(self) -> ActionOutcome {
        match self.kind {
            Kind::Failed { message, source } => ActionOutcome::Failed { message, source },
            Kind::Skip => ActionOutcome::Skip,
            Kind::Stop => ActionOutcome::Stop,
        }
    }
}

/// An [`ActionError`] taken apart.
pub(crate) enum ActionOutcome {
    Failed {
        message: String,
        source: Option<BoxError>,
    },
    Skip,
    Stop,
}

impl<E: StdError + Send + Sync + 'static> From<E> for ActionError {
    fn from(err: E) -> Self {
        Self {
            kind: Kind::Failed {
                message: err.to_string(),
                source: Some(Box::new(err)),
            },
        }
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Failed { message, .. } => f.write_str(message),
            Kind::Skip => f.write_str("skip this batch"),
            Kind::Stop => f.write_str("stop the run"),
        }
    }
}

impl fmt::Debug for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Failed { message, source } => f
                .debug_struct("ActionError::Failed")
                .field("message", message)
                .field("source", source)
                .finish(),
            Kind::Skip => f.write_str("ActionError::Skip"),
            Kind::Stop => f.write_str("ActionError::Stop"),
        }
    }
}

/// What an action function may return: `()` or `Result<(), E>` with `E: Into<ActionError>`.
pub trait IntoActionResult {
    /// Converts into an [`ActionResult`].
    fn into_action_result(self) -> ActionResult;
}

impl IntoActionResult for () {
    fn into_action_result(self) -> ActionResult {
        Ok(())
    }
}

impl<E: Into<ActionError>> IntoActionResult for Result<(), E> {
    fn into_action_result(self) -> ActionResult {
        self.map_err(Into::into)
    }
}

pub(crate) type ActionFn<B> = dyn Fn(&mut B, &mut Context<'_>) -> ActionResult + Send + Sync;

/// A named step of a pipeline that transforms a batch, optionally under a lock.
///
/// `#[batchline::actions]` builds these for the methods it marks; closures become actions with
/// [`Pipeline::apply`](super::Pipeline::apply) or [`Action::new`] and
/// [`Pipeline::push`](super::Pipeline::push).
///
/// # Examples
///
/// ```
/// use batchline::{Action, Batch, Context};
/// use batchline::batch::ArrayBatch;
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
    /// use batchline::batch::IdsBatch;
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

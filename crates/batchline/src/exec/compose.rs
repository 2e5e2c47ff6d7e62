//! The runtime of the steps that use the batches of another plan: `join` (the other plan's
//! steps run on the batch of the same ids, on the same worker) and `merge` (the next batch of
//! a run of the other plan, in batch order).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{launch, BatchIter, Outcome, PipelineError, Run, RunSpec, RunSteps};
use crate::action_error::{ActionError, IntoActionResult};
use crate::batch::Batch;
use crate::plan::{Action, Context, Plan, RunContext};

/// A key for the run-local state of one step, unique in the process.
pub(crate) fn step_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The step of `Pipeline::join(other).apply(name, f)`: `f` gets the batch, the batch of
/// `other`'s dataset with the same ids after `other`'s steps ran on it, and the context.
///
/// # Errors
///
/// Why `other` cannot run (no dataset, a build error).
pub(crate) fn join_action<B, C, F, R>(
    other: Plan<C>,
    name: impl Into<Arc<str>>,
    f: F,
) -> Result<Action<B>, PipelineError>
where
    B: Batch,
    C: Batch<Id = B::Id>,
    F: Fn(&mut B, &mut C, &mut Context<'_>) -> R + Send + Sync + 'static,
    R: IntoActionResult,
{
    let other_ds = launch::runnable(&other)?.clone();
    let key = step_key();
    Ok(Action::new(
        name,
        move |b: &mut B, ctx: &mut Context<'_>| {
            let mut joined = other_ds.create_batch(b.ids()).map_err(|e| {
                ActionError::with_source(format!("join: the other dataset: {e}"), e)
            })?;
            let parent = ctx.run();
            let run = parent.local(key, || {
                let sub_ctx = RunContext::new(
                    parent.seed,
                    Arc::clone(&other.variables),
                    Arc::new(other.config.clone()),
                );
                let steps = RunSteps::new(&other.steps, &other.locks, false, 0)
                    .map_err(|e| ActionError::with_source(format!("join: {e}"), e))?;
                Ok::<_, ActionError>(Run::new(other_ds.clone(), steps, sub_ctx, &RunSpec::new(1)))
            })?;
            match run.process_built(ctx.batch(), ctx.epoch(), joined, 0) {
                Outcome::Ready(c) => joined = c,
                Outcome::Failed(e) => {
                    return Err(ActionError::with_source(
                        format!("join: the other pipeline failed: {e}"),
                        e,
                    ))
                }
                Outcome::Stopped => return Err(ActionError::stop_run()),
                Outcome::Skipped | Outcome::Cancelled => return Err(ActionError::skip_batch()),
            }
            f(b, &mut joined, ctx).into_action_result()
        },
    ))
}

/// The step of `Pipeline::merge(other, spec)`: merges into each batch the next batch of a run
/// of `other` over `spec`, in batch order; the run stops when `other`'s ends.
pub(crate) fn merge_action<B: Batch>(other: Plan<B>, spec: RunSpec) -> Action<B> {
    /// The other plan's run, and its failure once it failed.
    struct Other<B: Batch> {
        iter: BatchIter<B>,
        failed: Option<String>,
    }
    let key = step_key();
    Action::new("merge", move |b: &mut B, ctx: &mut Context<'_>| {
        let run = ctx.run();
        let other = run
            .local(key, || {
                // A resumed run merges the other run's batches from the same number.
                let iter = launch::launch(&other, &spec, false, None, run.first_batch)?;
                Ok::<_, PipelineError>(Mutex::new(Other { iter, failed: None }))
            })
            .map_err(|e| {
                ActionError::with_source(format!("merge: cannot start the other pipeline: {e}"), e)
            })?;
        let mut other = other.lock();
        if let Some(failed) = &other.failed {
            return Err(ActionError::msg(format!(
                "merge: the other pipeline failed before: {failed}"
            )));
        }
        match other.iter.next() {
            Some(Ok(o)) => b.merge(o),
            Some(Err(e)) => {
                other.failed = Some(e.to_string());
                Err(ActionError::with_source(
                    format!("merge: the other pipeline failed: {e}"),
                    e,
                ))
            }
            None => Err(ActionError::stop_run()),
        }
    })
    .ordered()
}

//! Starting a run of a plan: its seeds, sampler, item pool and steps, afresh or from a
//! checkpoint (whose every field is checked against the spec first).

use std::sync::Arc;

use super::{
    BatchIter, Checkpoint, CheckpointError, Origin, PipelineError, Run, RunSpec, RunSteps,
};
use crate::batch::Batch;
use crate::dataset::Dataset;
use crate::plan::{Plan, RunContext};

/// The plan's dataset, or the build error that keeps it from running.
pub(crate) fn runnable<B: Batch>(plan: &Plan<B>) -> Result<&Dataset<B>, PipelineError> {
    if let Some(first) = plan.build_errors.first() {
        return Err(PipelineError::Build(first.clone()));
    }
    plan.dataset.as_ref().ok_or_else(|| {
        PipelineError::Build(
            "the pipeline has no dataset: give it one with with_dataset or `dataset >> \
             pipeline`"
                .into(),
        )
    })
}

/// A hash of the steps and the state variables, stored in checkpoints.
fn fingerprint<B: Batch>(plan: &Plan<B>) -> u64 {
    let names = plan.step_names();
    let state: Vec<&str> = plan.variables.state_names().collect();
    crate::fingerprint::fingerprint(names.iter().map(String::as_str).chain(["|"]).chain(state))
}

/// Starts a run: afresh at batch `first` (0, or where a resumed run that merges this
/// pipeline is), or from a checkpoint.
pub(crate) fn launch<B: Batch>(
    plan: &Plan<B>,
    spec: &RunSpec,
    endless: bool,
    from: Option<&Checkpoint>,
    first: u64,
) -> Result<BatchIter<B>, PipelineError> {
    let dataset = runnable(plan)?;
    let len = dataset.len();
    let index = dataset.index();
    let origin = match from {
        None => {
            let (seed, shuffle_seed) = spec.seeds();
            Origin {
                seed,
                shuffle_seed,
                spec: spec.batches.clone(),
                endless: endless
                    && spec.batches.n_epochs.is_none()
                    && spec.batches.n_iters.is_none(),
                index_len: len as u64,
                pipeline_fingerprint: fingerprint(plan),
                first,
            }
        }
        Some(c) => {
            c.check_resume(spec, len, index.fingerprint(), fingerprint(plan), || {
                plan.step_names()
            })?;
            Origin {
                seed: c.seed,
                shuffle_seed: c.shuffle_seed,
                spec: c.spec.clone(),
                endless: c.endless,
                index_len: c.index_len,
                pipeline_fingerprint: c.pipeline_fingerprint,
                first: c.next_batch,
            }
        }
    };
    let mut sampler = origin
        .spec
        .sampler_with_seed(len, origin.endless, origin.shuffle_seed)?;
    sampler.skip(origin.first);
    let total = origin
        .spec
        .total_batches(len, origin.endless)
        .map(|t| t.saturating_sub(origin.first));
    if let Some(c) = from {
        plan.variables
            .restore(&c.variables)
            .map_err(|(name, message)| {
                PipelineError::Checkpoint(CheckpointError::Variable { name, message })
            })?;
    }
    let mut ctx = RunContext::new(
        origin.seed,
        Arc::clone(&plan.variables),
        Arc::new(plan.config.clone()),
    );
    ctx.first_batch = origin.first;
    if let Some(n) = spec.item_threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("batchline-item-{i}"))
            .build()
            .map_err(|e| PipelineError::Spawn(std::io::Error::other(e)))?;
        ctx.pool = Some(Arc::new(pool));
    }
    let steps = RunSteps::new(&plan.steps, &plan.locks, true, origin.first)?;
    let run = Run::new(dataset.clone(), steps, ctx, spec);
    BatchIter::start(run, sampler, spec, total, &plan.before, &plan.after, origin)
}

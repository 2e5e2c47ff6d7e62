//! Composition: concatenation, conditional and repeated steps, `call`/`print`/`discard`, and
//! steps that use the batches of another pipeline (`join`, `merge`).

use std::fmt::Display;
use std::io::Write;
use std::ops::{Add, Shl, Shr};
use std::sync::Arc;

use parking_lot::Mutex;

use super::Pipeline;
use crate::action_error::{ActionError, IntoActionResult};
use crate::batch::Batch;
use crate::dataset::Dataset;
use crate::exec::RunSpec;
use crate::plan::{Action, Arg, Config, Context, Step};

/// What [`Pipeline::reset`] starts afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// The iteration of [`Pipeline::next_batch`]: the next call starts a new run.
    Iter,
    /// The variables, back to their initial values.
    Variables,
    /// Both.
    All,
}

impl<B: Batch> Pipeline<B> {
    fn build_error(mut self, message: String) -> Self {
        self.plan.build_errors.push(message);
        self
    }

    /// The pipeline followed by the steps of `other` (BatchFlow's `p1 + p2`; also written
    /// `p1 + p2`): its variables, config (values of `other` win), `before` and `after` steps
    /// are added too. The dataset is this pipeline's, or else `other`'s.
    pub fn chain(mut self, other: Pipeline<B>) -> Self {
        for d in other.plan.variables.decls() {
            self = self.declare(d.clone());
        }
        self.plan.steps.extend(other.plan.steps);
        self.plan.config.merge(&other.plan.config);
        self.plan.before.extend(other.plan.before);
        self.plan.after.extend(other.plan.after);
        self.plan.build_errors.extend(other.plan.build_errors);
        if self.plan.dataset.is_none() {
            self.plan.dataset = other.plan.dataset;
        }
        self
    }

    /// Runs the last step (a step made by `sometimes` or `sometimes_with` counts as one) with
    /// probability `p` for each batch, skipping it otherwise; the
    /// draw comes from the batch's own generator, so a seeded run is the same for any
    /// prefetch (BatchFlow's `sometimes`).
    ///
    /// A `p` outside `[0, 1]`, or no step before it, is an error of the first run.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Context, Dataset, DatasetIndex, RunSpec};
    /// use batchline::IdsBatch;
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(1000), ());
    /// let p = ds
    ///     .p()
    ///     .init_variable("flips", 0_u32)
    ///     .apply("flip", |_: &mut IdsBatch, ctx: &mut Context| {
    ///         ctx.variables().update("flips", |n: &mut u32| *n += 1)
    ///     })
    ///     .sometimes(0.5);
    /// p.run(&RunSpec::new(1).seed(7))?;
    /// let flips = p.variables().get::<u32>("flips")?;
    /// assert!((400..600).contains(&flips), "{flips}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sometimes(mut self, p: f64) -> Self {
        if let Err(e) = check_probability(p) {
            return self.build_error(e);
        }
        match self.plan.steps.pop() {
            Some(last) => {
                self.plan.steps.push(Step::Branch {
                    p,
                    steps: vec![last],
                });
                self
            }
            None => self.build_error("sometimes() needs a step before it".into()),
        }
    }

    /// Runs the steps of `sub` with probability `p` for each batch (one draw for all of them
    /// from the batch's generator). Only `sub`'s steps are used, not its dataset, variables
    /// or config.
    pub fn sometimes_with(mut self, p: f64, sub: Pipeline<B>) -> Self {
        if let Err(e) = check_probability(p) {
            return self.build_error(e);
        }
        self.plan.steps.push(Step::Branch {
            p,
            steps: sub.plan.steps,
        });
        self.plan.build_errors.extend(sub.plan.build_errors);
        self
    }

    /// Runs the last step `n` times in all (`repeat(1)` changes nothing; `repeat(0)` removes
    /// the step). A step made by `sometimes` is repeated whole, each time with its own draw.
    pub fn repeat(mut self, n: usize) -> Self {
        match self.plan.steps.pop() {
            Some(last) => {
                if let Err(e) = check_repeat(n, 1, self.plan.steps.len()) {
                    return self.build_error(e);
                }
                self.plan.steps.extend(std::iter::repeat_n(last, n));
                self
            }
            None => self.build_error("repeat() needs a step before it".into()),
        }
    }

    /// Appends the steps of `sub`, `n` times over.
    pub fn repeat_with(mut self, n: usize, sub: Pipeline<B>) -> Self {
        if let Err(e) = check_repeat(n, sub.plan.steps.len(), self.plan.steps.len()) {
            return self.build_error(e);
        }
        for _ in 0..n {
            self.plan.steps.extend(sub.plan.steps.iter().cloned());
        }
        self.plan.build_errors.extend(sub.plan.build_errors);
        self
    }

    /// Appends a plain function of the batch and its context as a step named after the
    /// function (BatchFlow's `call`).
    pub fn call<F, R>(self, f: F) -> Self
    where
        F: Fn(&mut B, &mut Context<'_>) -> R + Send + Sync + 'static,
        R: IntoActionResult,
    {
        let full = std::any::type_name::<F>();
        let short = full.rsplit("::").next().unwrap_or(full);
        let name = if short == "{{closure}}" {
            "call".to_string()
        } else {
            format!("call({short})")
        };
        self.apply(name, f)
    }

    /// Prints the value of `expr` for each batch on standard output, one line per batch, in
    /// batch order whatever the prefetch.
    pub fn print<T: Display + Clone + Send + Sync + 'static>(self, expr: Arg<T>) -> Self {
        self.print_to(std::io::stdout(), expr)
    }

    /// Writes the value of `expr` for each batch to `out`, one line per batch, in batch order
    /// (a write error fails the batch).
    pub fn print_to<W, T>(self, out: W, expr: Arg<T>) -> Self
    where
        W: Write + Send + 'static,
        T: Display + Clone + Send + Sync + 'static,
    {
        let out = Mutex::new(out);
        self.push(
            Action::new("print", move |b: &mut B, ctx: &mut Context<'_>| {
                let value = expr.eval(&*b, ctx)?;
                writeln!(out.lock(), "{value}")?;
                Ok::<_, ActionError>(())
            })
            .ordered(),
        )
    }

    /// Drops every batch at this step: nothing is yielded for it (it counts as skipped).
    /// Useful after steps run for their effect only (`print`, `update_variable`).
    pub fn discard(self) -> Self {
        self.apply("discard", |_: &mut B, _: &mut Context<'_>| {
            Err::<(), _>(ActionError::skip_batch())
        })
    }

    /// Gives the next step the batch of `other`'s dataset with the same ids, after `other`'s
    /// steps have run on it (BatchFlow's `join`): images and their masks kept in two
    /// datasets, say. Finish with [`Joined::apply`].
    ///
    /// `other`'s steps run on the worker of the batch, with the batch's number and the run's
    /// seed; their locks hold, their `ordered` turns do not (each batch is joined
    /// on its own). An id missing from `other`'s dataset fails the batch with an error naming
    /// it.
    pub fn join<C: Batch<Id = B::Id>>(self, other: Pipeline<C>) -> Joined<B, C> {
        Joined {
            pipeline: self,
            other,
        }
    }

    /// Merges into each batch the next batch of a run of `other` over `spec`, with
    /// [`Batch::merge`] (BatchFlow's `merge`). Batches meet in order: batch `n` that reaches
    /// this step gets the `n`-th batch of `other`'s run, whatever the prefetch; when `other`'s
    /// run ends, this run stops.
    ///
    /// `other`'s run starts at the first batch that reaches the step and ends with this run; a
    /// resumed run (see [`resume`](Self::resume)) starts it at the same batch number as
    /// itself. Once `other`'s run has failed, every later merge fails too (with
    /// `ignore_errors`, the batches are skipped rather than the run stopping silently).
    pub fn merge(self, other: Pipeline<B>, spec: RunSpec) -> Self {
        self.push(crate::exec::merge_action(other.plan, spec))
    }
}

/// The most steps a pipeline may hold once repetitions are written out.
const MAX_STEPS: usize = 1 << 16;

/// Refuses a repetition that would make the pipeline longer than [`MAX_STEPS`].
fn check_repeat(n: usize, each: usize, before: usize) -> Result<(), String> {
    match n.checked_mul(each).and_then(|s| s.checked_add(before)) {
        Some(total) if total <= MAX_STEPS => Ok(()),
        _ => Err(format!(
            "repeat({n}) of {each} step(s) would make the pipeline longer than the {MAX_STEPS} \
             steps it may have"
        )),
    }
}

fn check_probability(p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("sometimes: probability {p} is not in [0, 1]"))
    }
}

/// A pipeline whose next step also gets the batch of another pipeline for the same ids: see
/// [`Pipeline::join`].
#[must_use = "finish a join with .apply(name, f)"]
pub struct Joined<B: Batch, C: Batch<Id = B::Id>> {
    pipeline: Pipeline<B>,
    other: Pipeline<C>,
}

impl<B: Batch, C: Batch<Id = B::Id>> std::fmt::Debug for Joined<B, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("pipeline", &self.pipeline)
            .field("other", &self.other)
            .finish()
    }
}

impl<B: Batch, C: Batch<Id = B::Id>> Joined<B, C> {
    /// The step: `f` gets this pipeline's batch, the other pipeline's batch for the same ids,
    /// and the context.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Batch, Context, Dataset, DatasetIndex, RunSpec};
    /// use batchline::IdsBatch;
    ///
    /// let images: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(6), ());
    /// // The masks' dataset lists the same ids in another order.
    /// let masks: Dataset<IdsBatch> =
    ///     Dataset::new(DatasetIndex::from_ids([5, 4, 3, 2, 1, 0])?, ());
    /// let p = images.p().join(masks.p()).apply(
    ///     "check",
    ///     |img: &mut IdsBatch, mask: &mut IdsBatch, _: &mut Context| {
    ///         assert_eq!(img.ids(), mask.ids());
    ///     },
    /// );
    /// assert_eq!(p.run(&RunSpec::new(4).shuffle(3).prefetch(2))?.batches, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply<F, R>(self, name: impl Into<Arc<str>>, f: F) -> Pipeline<B>
    where
        F: Fn(&mut B, &mut C, &mut Context<'_>) -> R + Send + Sync + 'static,
        R: IntoActionResult,
    {
        match crate::exec::join_action(self.other.plan, name, f) {
            Ok(action) => self.pipeline.push(action),
            Err(e) => self.pipeline.build_error(format!("join: {e}")),
        }
    }
}

/// `p1 + p2` is [`p1.chain(p2)`](Pipeline::chain).
impl<B: Batch> Add for Pipeline<B> {
    type Output = Pipeline<B>;

    fn add(self, other: Pipeline<B>) -> Pipeline<B> {
        self.chain(other)
    }
}

/// `pipeline << config` adds the values of `config` (overriding those of the same key).
impl<B: Batch> Shl<Config> for Pipeline<B> {
    type Output = Pipeline<B>;

    fn shl(self, config: Config) -> Pipeline<B> {
        self.with_config(config)
    }
}

/// `dataset >> template` gives the pipeline (a [template](Pipeline::template)) the dataset.
impl<B: Batch> Shr<Pipeline<B>> for Dataset<B> {
    type Output = Pipeline<B>;

    fn shr(self, pipeline: Pipeline<B>) -> Pipeline<B> {
        pipeline.with_dataset(self)
    }
}

/// `&dataset >> template` gives the pipeline a clone of the dataset (a cheap handle).
impl<B: Batch> Shr<Pipeline<B>> for &Dataset<B> {
    type Output = Pipeline<B>;

    fn shr(self, pipeline: Pipeline<B>) -> Pipeline<B> {
        pipeline.with_dataset(self.clone())
    }
}

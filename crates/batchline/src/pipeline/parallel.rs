//! Steps of per-item work: `inbatch_parallel` and `apply_parallel` (the work itself runs in
//! [`Context::par_map`](crate::Context::par_map) and its kin).

use std::sync::Arc;

use super::Pipeline;
use crate::action_error::{ActionError, ActionResult, IntoActionResult};
use crate::batch::Batch;
use crate::plan::{Context, Item};

type InitFn<B, A> = dyn Fn(&B, &mut Context<'_>) -> Result<Vec<A>, ActionError> + Send + Sync;
type PostFn<B, R> = dyn Fn(&mut B, Vec<R>, &mut Context<'_>) -> ActionResult + Send + Sync;

impl<B: Batch> Pipeline<B> {
    /// A step in three parts, as BatchFlow's `inbatch_parallel`: `init` lists the work items of
    /// the batch, `work` runs on each of them on the item pool (with the item's generator),
    /// and `post` gets the results in item order to store them in the batch.
    ///
    /// An error of `work` names the item's position.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::{Batch, Context, Dataset, DatasetIndex, RunSpec};
    /// use batchline::Item;
    /// use batchline::IdsBatch;
    ///
    /// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(8), ());
    /// let p = ds.p().inbatch_parallel(
    ///     "square",
    ///     |b: &IdsBatch, _: &mut Context| Ok(b.ids().to_vec()),
    ///     |id: usize, _: &mut Item| Ok::<_, batchline::ActionError>(id * id),
    ///     |b: &mut IdsBatch, squares: Vec<usize>, _: &mut Context| {
    ///         assert_eq!(squares, b.ids().iter().map(|i| i * i).collect::<Vec<_>>());
    ///         Ok(())
    ///     },
    /// );
    /// p.run(&RunSpec::new(4).prefetch(1))?;
    /// # Ok::<(), batchline::PipelineError>(())
    /// ```
    pub fn inbatch_parallel<A, R, E, I, W, P>(
        self,
        name: impl Into<Arc<str>>,
        init: I,
        work: W,
        post: P,
    ) -> Self
    where
        A: Send + Sync + Clone + 'static,
        R: Send + 'static,
        E: Into<ActionError> + Send + 'static,
        I: Fn(&B, &mut Context<'_>) -> Result<Vec<A>, ActionError> + Send + Sync + 'static,
        W: Fn(A, &mut Item) -> Result<R, E> + Send + Sync + 'static,
        P: Fn(&mut B, Vec<R>, &mut Context<'_>) -> ActionResult + Send + Sync + 'static,
    {
        let init: Arc<InitFn<B, A>> = Arc::new(init);
        let post: Arc<PostFn<B, R>> = Arc::new(post);
        self.apply(name, move |b: &mut B, ctx: &mut Context<'_>| {
            let args = init(b, ctx)?;
            let results = ctx.par_try_map(&args, |a, item| work(a.clone(), item))?;
            post(b, results, ctx)
        })
    }

    /// A step that applies `f` to every element of a component of the batch (the slice
    /// `component` returns) on the item pool, as BatchFlow's `apply_parallel`.
    pub fn apply_parallel<T, R, C, F>(self, name: impl Into<Arc<str>>, component: C, f: F) -> Self
    where
        T: Send,
        R: IntoActionResult + Send,
        C: Fn(&mut B) -> &mut [T] + Send + Sync + 'static,
        F: Fn(&mut T, &mut Item) -> R + Send + Sync + 'static,
    {
        self.apply(name, move |b: &mut B, ctx: &mut Context<'_>| {
            ctx.par_apply(component(b), &f)
        })
    }
}

//! The per-batch context handed to actions.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What an action knows about the run besides its batch: the batch's number and its own
/// random generator.
///
/// # Examples
///
/// ```
/// use batchline::{Action, Context};
/// use batchline::batch::ArrayBatch;
/// use rand::Rng;
///
/// let noisy = Action::new("noise", |b: &mut ArrayBatch, ctx: &mut Context| {
///     let scale: f32 = ctx.rng().random_range(0.5..2.0); // same value for any prefetch
///     if let Ok(x) = b.get_mut("x") {
///         x.mapv_inplace(|v| v * scale);
///     }
/// });
/// # let _ = noisy;
/// ```
pub struct Context<'r> {
    batch: u64,
    rng: Option<BatchRng>,
    run: &'r RunContext,
}

/// The part of a run that every batch's context shares.
#[derive(Debug)]
pub(crate) struct RunContext {
    pub(crate) seed: u64,
}

impl<'r> Context<'r> {
    pub(crate) fn new(batch: u64, run: &'r RunContext) -> Self {
        Self {
            batch,
            rng: None,
            run,
        }
    }

    /// The batch's number in the run: 0 for the first batch created, then 1, 2, …
    ///
    /// It equals BatchFlow's iteration counter and does not depend on prefetch or timing.
    pub fn batch(&self) -> u64 {
        self.batch
    }

    /// The run's seed (given in the spec, or drawn once at the start of the run).
    pub fn seed(&self) -> u64 {
        self.run.seed
    }

    /// The batch's own random generator, seeded from the run's seed and the batch's number.
    ///
    /// Its stream is the same for any prefetch and any timing, so a seeded run is reproducible
    /// to the bit. Draws made by successive actions of one batch continue the same stream.
    pub fn rng(&mut self) -> &mut BatchRng {
        let (seed, batch) = (self.run.seed, self.batch);
        self.rng.get_or_insert_with(|| BatchRng::new(seed, batch))
    }
}

/// The random generator of one batch (ChaCha8, keyed by the run seed, stream = batch number).
///
/// It implements [`rand::RngCore`], so every method of [`rand::Rng`] works on it.
#[derive(Debug, Clone)]
pub struct BatchRng(ChaCha8Rng);

impl BatchRng {
    /// The generator of batch `batch` in a run seeded with `seed`.
    pub fn new(seed: u64, batch: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(batch);
        Self(rng)
    }
}

impl RngCore for BatchRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_depend_on_seed_and_batch_only() {
        let run = RunContext { seed: 9 };
        let a: u64 = Context::new(3, &run).rng().random();
        let b: u64 = Context::new(3, &run).rng().random();
        let c: u64 = Context::new(4, &run).rng().random();
        let d: u64 = Context::new(3, &RunContext { seed: 10 }).rng().random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}

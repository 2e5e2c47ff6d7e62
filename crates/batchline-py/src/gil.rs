//! Fewer sleeps on the GIL: a thread of ours about to take the GIL while another thread of
//! ours holds it waits a little, yielding its core, for the holder to let go, instead of
//! sleeping on the GIL at once.
//!
//! CPython's GIL hands over through a condition variable: a thread that asks for it while it
//! is held sleeps until the holder releases it and the kernel wakes the sleeper, several
//! microseconds on a busy machine. With prefetch a batch's Python actions run on a worker
//! while the consumer runs the user's loop, so every batch hands the GIL over at least twice:
//! with 3 no-op actions that was most of the per-batch cost (about 15 µs). The consumer and
//! the workers mark the time they hold the GIL ([`ConsumerMark`] between two `__next__`,
//! [`Holding`] in an action); [`wait_until_free`] yields for up to [`WAIT`] while any of them
//! does. Other Python threads are not counted: at worst a wait runs out and the thread sleeps
//! on the GIL as before.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Threads of ours that hold the GIL now (as far as they said).
static HOLDERS: AtomicUsize = AtomicUsize::new(0);

/// How long [`wait_until_free`] waits at most.
pub(crate) const WAIT: Duration = Duration::from_micros(20);

/// Waits, yielding, up to [`WAIT`] while a thread of ours holds the GIL. Call it without the
/// GIL, right before taking it.
pub(crate) fn wait_until_free() {
    if HOLDERS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let start = Instant::now();
    while HOLDERS.load(Ordering::Relaxed) > 0 && start.elapsed() < WAIT {
        std::thread::yield_now();
    }
}

/// Marks this thread as holding the GIL while it lives.
pub(crate) struct Holding(());

impl Holding {
    pub(crate) fn new() -> Self {
        HOLDERS.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        HOLDERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The mark of a consumer, set while it runs the user's loop (between two `__next__`).
#[derive(Default)]
pub(crate) struct ConsumerMark(AtomicBool);

impl ConsumerMark {
    /// The consumer goes back to Python with a batch.
    pub(crate) fn enter(&self) {
        if !self.0.swap(true, Ordering::Relaxed) {
            HOLDERS.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The consumer is in the engine (or done).
    pub(crate) fn leave(&self) {
        if self.0.swap(false, Ordering::Relaxed) {
            HOLDERS.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

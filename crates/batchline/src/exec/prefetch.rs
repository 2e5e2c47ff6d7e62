//! The prefetch executor: `k + 1` workers, at most `k + 1` batches created and not released,
//! delivery in creation order. See `exec/README.md` for the design.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::run::{Outcome, Run};
use crate::batch::Batch;
use crate::index::Sampler;

struct State<B> {
    sampler: Sampler,
    /// The number of the next batch to create.
    next_seq: u64,
    /// Batches numbered below this are released by the consumer.
    released: u64,
    /// The number of the batch in `results[0]`.
    base: u64,
    /// Outcomes of batches `base..next_seq`; `None` while in flight.
    results: VecDeque<Option<Outcome<B>>>,
    /// The index has no batch left.
    exhausted: bool,
    /// No batch is created any more (a batch ended the run, or the consumer is gone).
    closed: bool,
    /// Workers still running.
    live: usize,
    consumer_waiting: bool,
    /// The most batches created and not released at once: `k + 1`.
    capacity: u64,
}

struct Shared<B: Batch> {
    run: Arc<Run<B>>,
    state: Mutex<State<B>>,
    /// Wakes workers: a batch was released, or the run is over.
    work: Condvar,
    /// Wakes the consumer: the batch it waits for is done, or every worker is gone.
    ready: Condvar,
}

/// The background half of a run with prefetch.
pub(crate) struct Prefetch<B: Batch> {
    shared: Arc<Shared<B>>,
    workers: Vec<JoinHandle<()>>,
    /// The most workers worth starting (the run's batches, when known).
    max_workers: usize,
}

impl<B: Batch> Prefetch<B> {
    /// Starts `workers` threads that keep `capacity` batches created and not released; at
    /// most `max_workers` threads will ever run (see [`set_capacity`](Self::set_capacity)).
    pub(crate) fn start(
        run: Arc<Run<B>>,
        sampler: Sampler,
        first_batch: u64,
        capacity: u64,
        workers: usize,
        max_workers: usize,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            run,
            state: Mutex::new(State {
                sampler,
                next_seq: first_batch,
                released: first_batch,
                base: first_batch,
                results: VecDeque::with_capacity(capacity as usize),
                exhausted: false,
                closed: false,
                live: 0,
                consumer_waiting: false,
                capacity,
            }),
            work: Condvar::new(),
            ready: Condvar::new(),
        });
        let mut me = Self {
            shared,
            workers: Vec::with_capacity(workers),
            max_workers: max_workers.max(1),
        };
        if let Err(err) = me.spawn_up_to(workers) {
            me.close();
            return Err(err);
        }
        Ok(me)
    }

    /// Starts workers until there are `n` (within `max_workers`).
    fn spawn_up_to(&mut self, n: usize) -> std::io::Result<()> {
        while self.workers.len() < n.min(self.max_workers) {
            let w = self.workers.len() + 1;
            let shared = Arc::clone(&self.shared);
            self.shared.state.lock().live += 1;
            let spawned = std::thread::Builder::new()
                .name(format!("batchline-worker-{w}"))
                .spawn(move || worker(&shared, w));
            match spawned {
                Ok(handle) => self.workers.push(handle),
                Err(err) => {
                    self.shared.state.lock().live -= 1;
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// Changes `k + 1`, the most batches created and not released at once, starting workers
    /// when there are fewer than that (every batch in flight keeps its own worker). Lowering it
    /// only holds back creation until enough batches are released.
    pub(crate) fn set_capacity(&mut self, capacity: u64) -> std::io::Result<()> {
        let capacity = capacity.max(1);
        self.spawn_up_to(capacity as usize)?;
        self.shared.state.lock().capacity = capacity;
        self.shared.work.notify_all();
        Ok(())
    }

    /// The current `k + 1`.
    pub(crate) fn capacity(&self) -> u64 {
        self.shared.state.lock().capacity
    }

    /// The next batch's outcome, in creation order; `None` when no batch is left.
    pub(crate) fn next_outcome(&mut self) -> Option<(u64, Outcome<B>)> {
        let shared = &*self.shared;
        let mut st = shared.state.lock();
        let mut spun = 0;
        loop {
            if matches!(st.results.front(), Some(Some(_))) {
                let outcome = st
                    .results
                    .pop_front()
                    .flatten()
                    .expect("checked just above");
                let seq = st.base;
                st.base += 1;
                return Some((seq, outcome));
            }
            if st.results.is_empty() && (st.exhausted || st.closed) {
                return None;
            }
            if st.live == 0 {
                // Unreachable while workers catch every panic; never wait forever regardless.
                return None;
            }
            if spun < SPINS {
                // The batch is often a moment away: yielding a few times costs less than
                // sleeping and being woken (two context switches per batch).
                spun += 1;
                MutexGuard::unlocked(&mut st, || pause(spun));
                continue;
            }
            st.consumer_waiting = true;
            shared.ready.wait(&mut st);
            st.consumer_waiting = false;
        }
    }

    /// Releases the oldest batch not released yet, letting one more batch be created.
    pub(crate) fn release(&self) {
        let mut st = self.shared.state.lock();
        st.released += 1;
        drop(st);
        self.shared.work.notify_one();
    }

    /// Stops creating batches, lets in-flight batches stop at their next action boundary, and
    /// joins every worker.
    pub(crate) fn close(&mut self) {
        self.shared.state.lock().closed = true;
        self.shared.run.cancel();
        self.shared.work.notify_all();
        for handle in self.workers.drain(..) {
            // Workers catch the panics of user code; a panic here is a bug of ours, and
            // re-raising it from a drop would abort, so it is only logged.
            if handle.join().is_err() {
                tracing::error!("a batchline worker panicked");
            }
        }
    }
}

impl<B: Batch> Drop for Prefetch<B> {
    fn drop(&mut self) {
        self.close();
    }
}

/// Marks a worker as gone when it returns or unwinds.
struct Live<'a, B: Batch>(&'a Shared<B>);

impl<B: Batch> Drop for Live<'_, B> {
    fn drop(&mut self) {
        self.0.state.lock().live -= 1;
        self.0.ready.notify_all();
    }
}

/// How many times a thread pauses before it sleeps on a condition variable.
const SPINS: u32 = 64;

/// The `n`-th pause of a waiting thread: a short busy wait for the first few (the other
/// thread is usually running on another core and about to finish), then yielding the core.
fn pause(n: u32) {
    if n <= 8 {
        for _ in 0..64 {
            std::hint::spin_loop();
        }
    } else {
        std::thread::yield_now();
    }
}

fn worker<B: Batch>(shared: &Shared<B>, w: usize) {
    let _live = Live(shared);
    let mut st = shared.state.lock();
    let mut spun = 0;
    loop {
        if st.closed || st.exhausted {
            return;
        }
        if st.next_seq - st.released >= st.capacity {
            if spun < SPINS {
                spun += 1;
                MutexGuard::unlocked(&mut st, || pause(spun));
            } else {
                shared.work.wait(&mut st);
            }
            continue;
        }
        spun = 0;
        let Some(positions) = st.sampler.next_positions() else {
            st.exhausted = true;
            shared.work.notify_all();
            shared.ready.notify_all();
            return;
        };
        let seq = st.next_seq;
        st.next_seq += 1;
        st.results.push_back(None);
        let outcome = MutexGuard::unlocked(&mut st, || shared.run.process(seq, positions, w));
        if shared.run.ends_run(&outcome) {
            st.closed = true;
            shared.run.stop_after(seq);
            shared.work.notify_all();
        }
        let slot = (seq - st.base) as usize;
        st.results[slot] = Some(outcome);
        if slot == 0 && st.consumer_waiting {
            shared.ready.notify_one();
        }
    }
}

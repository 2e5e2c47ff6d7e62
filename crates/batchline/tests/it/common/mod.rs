//! Shared helpers of the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use batchline::{Batch, BatchIndex, Dataset, DatasetIndex, Event, EventKind};

/// A batch that records what the actions did to it.
#[derive(Debug)]
pub struct Probe {
    pub index: BatchIndex,
    pub log: Vec<String>,
    pub values: Vec<u64>,
    live: Option<Arc<AtomicUsize>>,
}

/// Source of a [`Probe`]: an optional counter of live batches.
#[derive(Debug, Default)]
pub struct ProbeSource {
    pub live: Option<Arc<AtomicUsize>>,
}

impl Batch for Probe {
    type Id = usize;
    type Source = ProbeSource;

    fn create(index: BatchIndex, source: &Arc<ProbeSource>) -> Self {
        if let Some(live) = &source.live {
            live.fetch_add(1, Ordering::SeqCst);
        }
        Probe {
            index,
            log: Vec::new(),
            values: Vec::new(),
            live: source.live.clone(),
        }
    }

    fn index(&self) -> &BatchIndex {
        &self.index
    }

    fn merge(&mut self, other: Self) -> Result<(), batchline::ActionError> {
        let mut other = other;
        self.index.append(other.index.split_off(0));
        self.log.append(&mut other.log);
        self.values.append(&mut other.values);
        Ok(())
    }

    fn split_off(&mut self, at: usize) -> Result<Self, batchline::ActionError> {
        if at > self.len() {
            return Err(batchline::ActionError::msg("split beyond the end"));
        }
        if let Some(live) = &self.live {
            live.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Probe {
            index: self.index.split_off(at),
            log: self.log.clone(),
            values: self.values.split_off(at.min(self.values.len())),
            live: self.live.clone(),
        })
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(live) = &self.live {
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

pub fn dataset(n: usize) -> Dataset<Probe> {
    Dataset::new(DatasetIndex::from_count(n), ProbeSource::default())
}

pub fn counted_dataset(n: usize, live: Arc<AtomicUsize>) -> Dataset<Probe> {
    Dataset::new(
        DatasetIndex::from_count(n),
        ProbeSource { live: Some(live) },
    )
}

/// Runs `f` on another thread and fails the test if it takes longer than `limit` (a deadlock
/// fails instead of hanging the suite).
pub fn with_watchdog<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            handle.join().expect("the watched thread finished");
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: re-raise its panic here.
            match handle.join() {
                Err(payload) => std::panic::resume_unwind(payload),
                Ok(()) => unreachable!("sender dropped without sending"),
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: no result within {limit:?} (deadlock?)")
        }
    }
}

/// Events of one kind, as (batch, index in the event list).
pub fn positions(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> Vec<(u64, usize)> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| pred(&e.kind))
        .map(|(i, e)| (e.batch, i))
        .collect()
}

/// A tiny deterministic generator for test timings (xorshift).
pub struct Jitter(pub u64);

impl Jitter {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

//! The hand-back of finished batches: one slot per batch number, which is the reorder buffer.
//!
//! A worker delivers batch `n`'s outcome in slot `n mod len`; the consumer takes batch `n`'s
//! outcome from that slot when `n` is the next batch to hand out. Outcomes that finish out of
//! order simply wait in their slots. No queue is shared: a delivery touches its batch's slot
//! only, so a worker and the consumer exchange one cache line per batch, and workers that
//! finish at the same time never contend (an MPSC channel's tail is one contended line, and
//! the reorder buffer behind it was a second hand-over).
//!
//! The consumer waits with a short spin, then yields its core, then parks; the worker that
//! fills the slot unparks it (the consumer leaves its handle in the slot before it parks).
//!
//! The user of the slots keeps one invariant (see `prefetch.rs`): a slot is reused only once
//! the batch before it in that slot is taken, so at most `len` batches are delivered and not
//! taken at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::Thread;
use std::time::Instant;

use crossbeam_utils::{Backoff, CachePadded};
use parking_lot::Mutex;

/// One batch number's place.
struct Slot<O> {
    /// `n + 1` once batch `n`'s outcome is delivered here (0: none yet). Polled unlocked.
    done: AtomicU64,
    inner: Mutex<Inner<O>>,
}

struct Inner<O> {
    outcome: Option<O>,
    /// The consumer, parked until an outcome is delivered here.
    consumer: Option<Thread>,
}

/// The slots of one run's batches in flight.
pub(super) struct Outcomes<O> {
    slots: Box<[CachePadded<Slot<O>>]>,
}

impl<O> Outcomes<O> {
    /// `len` slots: room for `len` batches delivered and not taken.
    pub(super) fn new(len: usize) -> Self {
        let slots = (0..len.max(1))
            .map(|_| {
                CachePadded::new(Slot {
                    done: AtomicU64::new(0),
                    inner: Mutex::new(Inner {
                        outcome: None,
                        consumer: None,
                    }),
                })
            })
            .collect();
        Self { slots }
    }

    fn slot(&self, batch: u64) -> &Slot<O> {
        &self.slots[(batch % self.slots.len() as u64) as usize]
    }

    /// Delivers batch `batch`'s outcome and wakes the consumer if it waits for it.
    pub(super) fn deliver(&self, batch: u64, outcome: O) {
        let slot = self.slot(batch);
        let parked = {
            let mut inner = slot.inner.lock();
            debug_assert!(inner.outcome.is_none(), "one outcome per slot at a time");
            inner.outcome = Some(outcome);
            slot.done.store(batch + 1, Ordering::Release);
            inner.consumer.take()
        };
        if let Some(consumer) = parked {
            consumer.unpark();
        }
    }

    /// Takes batch `batch`'s outcome, waiting for it until `deadline` (`None`: as long as it
    /// takes); `None` when the deadline passed first.
    pub(super) fn take(&self, batch: u64, deadline: Option<Instant>) -> Option<O> {
        let slot = self.slot(batch);
        let backoff = Backoff::new();
        let patient = deadline.is_none_or(|d| d > Instant::now());
        loop {
            if slot.done.load(Ordering::Acquire) == batch + 1 {
                let outcome = slot.inner.lock().outcome.take();
                debug_assert!(outcome.is_some(), "a delivered outcome is taken once");
                return outcome;
            }
            if !patient {
                // A deadline already passed: one look, no spinning.
                return None;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            {
                let mut inner = slot.inner.lock();
                // Checked again under the lock: `deliver` fills the slot under it, so an
                // outcome delivered after this check finds the handle and unparks.
                if slot.done.load(Ordering::Acquire) == batch + 1 {
                    continue;
                }
                inner.consumer = Some(std::thread::current());
            }
            match deadline {
                None => std::thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        slot.inner.lock().consumer = None;
                        return None;
                    }
                    std::thread::park_timeout(d - now);
                }
            }
        }
    }

    /// The outcomes delivered and never taken (once no worker is left).
    pub(super) fn drain(&mut self) -> impl Iterator<Item = O> + '_ {
        self.slots
            .iter_mut()
            .filter_map(|slot| slot.inner.get_mut().outcome.take())
    }
}

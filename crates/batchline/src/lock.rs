//! Named locks and ordered gates: the two ways batches wait for one another.
//!
//! Invariants:
//! * a [`NamedLock`] has at most one holder; the holder releases it by dropping its
//!   [`LockGuard`] (on success, error, panic or cancellation alike);
//! * a [`Gate`] lets batch `n` through only after every batch before it has passed (or ended):
//!   `next` is the lowest batch that has not passed, `passed` holds the batches after it that
//!   did;
//! * every wait re-checks its `abandon` condition whenever [`wake_all`](NamedLock::wake_all) is
//!   called, so a cancelled or stopped run never leaves a thread waiting.
//!
//! User locks (`#[action(lock = "L")]`, `acquire_lock("L")`) come from the pipeline's
//! [`LockRegistry`], by name. Gates and the private locks of ordered steps are created per run
//! and never enter the registry: a user lock can never share its mutex with them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// A lock that one batch at a time holds; waits for it can be abandoned.
#[derive(Debug, Default)]
pub(crate) struct NamedLock {
    held: Mutex<bool>,
    freed: Condvar,
}

/// A held [`NamedLock`]; dropping it releases the lock, also during unwinding.
#[derive(Debug)]
pub(crate) struct LockGuard(Arc<NamedLock>);

impl NamedLock {
    /// Takes the lock if it is free.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<LockGuard> {
        let mut held = self.held.lock();
        if *held {
            return None;
        }
        *held = true;
        Some(LockGuard(Arc::clone(self)))
    }

    /// Waits for the lock; `None` (without the lock) once `abandon()` is true. `abandon` is
    /// checked before waiting and at every [`wake_all`](Self::wake_all).
    pub(crate) fn acquire(self: &Arc<Self>, abandon: impl Fn() -> bool) -> Option<LockGuard> {
        let mut held = self.held.lock();
        loop {
            if abandon() {
                return None;
            }
            if !*held {
                *held = true;
                return Some(LockGuard(Arc::clone(self)));
            }
            self.freed.wait(&mut held);
        }
    }

    /// Wakes every waiter so that it checks its `abandon` condition.
    pub(crate) fn wake_all(&self) {
        let _held = self.held.lock();
        self.freed.notify_all();
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let mut held = self.0.held.lock();
        debug_assert!(*held, "a guard's lock is held");
        *held = false;
        // Every waiter re-checks: one takes the lock, the abandoned ones leave.
        self.0.freed.notify_all();
    }
}

/// The named locks of a pipeline, shared by all its runs and clones.
#[derive(Debug, Default)]
pub(crate) struct LockRegistry {
    locks: Mutex<HashMap<Arc<str>, Arc<NamedLock>>>,
}

impl LockRegistry {
    /// The lock with this name, created on first use.
    pub(crate) fn get(&self, name: &Arc<str>) -> Arc<NamedLock> {
        Arc::clone(self.locks.lock().entry(Arc::clone(name)).or_default())
    }
}

/// Lets batches pass one at a time in batch order; see [`Action::ordered`](crate::Action::ordered).
#[derive(Debug)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    turn_changed: Condvar,
}

#[derive(Debug)]
struct GateState {
    /// The batch whose turn it is.
    next: u64,
    /// Batches after `next` that already passed (ended early).
    passed: BTreeSet<u64>,
}

impl Gate {
    pub(crate) fn new(first: u64) -> Self {
        Self {
            state: Mutex::new(GateState {
                next: first,
                passed: BTreeSet::new(),
            }),
            turn_changed: Condvar::new(),
        }
    }

    /// Blocks until it is `batch`'s turn. Returns `false` (without the turn) if `abandon()`
    /// becomes true first; it is checked before waiting and at every
    /// [`wake_all`](Self::wake_all).
    pub(crate) fn wait_turn(&self, batch: u64, abandon: impl Fn() -> bool) -> bool {
        let mut st = self.state.lock();
        loop {
            if st.next >= batch {
                return true;
            }
            if abandon() {
                return false;
            }
            self.turn_changed.wait(&mut st);
        }
    }

    /// Marks `batch` as through the gate (after its step, or when it ends without reaching it).
    pub(crate) fn pass(&self, batch: u64) {
        let mut st = self.state.lock();
        if batch == st.next {
            st.next += 1;
            loop {
                let next = st.next;
                if !st.passed.remove(&next) {
                    break;
                }
                st.next += 1;
            }
            self.turn_changed.notify_all();
        } else if batch > st.next {
            st.passed.insert(batch);
        }
    }

    /// Wakes every waiter so that it checks its `abandon` condition.
    pub(crate) fn wake_all(&self) {
        let _st = self.state.lock();
        self.turn_changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn gate_lets_batches_through_in_order() {
        let gate = Arc::new(Gate::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..6u64)
            .rev()
            .map(|b| {
                let (gate, order) = (Arc::clone(&gate), Arc::clone(&order));
                std::thread::spawn(move || {
                    if b == 3 {
                        gate.pass(b); // ended early
                        return;
                    }
                    assert!(gate.wait_turn(b, || false));
                    order.lock().push(b);
                    gate.pass(b);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*order.lock(), vec![0, 1, 2, 4, 5]);
    }

    #[test]
    fn waiters_can_abandon() {
        let gate = Arc::new(Gate::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (gate, stop) = (Arc::clone(&gate), Arc::clone(&stop));
            std::thread::spawn(move || gate.wait_turn(5, || stop.load(Ordering::SeqCst)))
        };
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::SeqCst);
        gate.wake_all();
        assert!(!waiter.join().unwrap());
    }

    #[test]
    fn lock_waiters_can_abandon_and_the_lock_is_exclusive() {
        let lock = Arc::new(NamedLock::default());
        let guard = lock.try_acquire().expect("free");
        assert!(lock.try_acquire().is_none());
        let stop = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (lock, stop) = (Arc::clone(&lock), Arc::clone(&stop));
            std::thread::spawn(move || lock.acquire(|| stop.load(Ordering::SeqCst)).is_some())
        };
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::SeqCst);
        lock.wake_all();
        assert!(!waiter.join().unwrap(), "an abandoned wait gets no lock");
        drop(guard);
        assert!(lock.acquire(|| false).is_some(), "a released lock is free");
    }
}

//! Action locks and ordered gates.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// A lock that actions (or pipeline sections) run under.
pub(crate) type RawLock = Mutex<()>;
/// A held lock; dropping it releases the lock, also during unwinding.
pub(crate) type LockGuard = parking_lot::ArcMutexGuard<parking_lot::RawMutex, ()>;

/// The named locks of a pipeline, shared by all its runs and clones.
#[derive(Debug, Default)]
pub(crate) struct LockRegistry {
    locks: Mutex<HashMap<Arc<str>, Arc<RawLock>>>,
}

impl LockRegistry {
    /// The lock with this name, created on first use.
    pub(crate) fn get(&self, name: &Arc<str>) -> Arc<RawLock> {
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
    /// becomes true first; it is checked whenever [`wake_all`](Self::wake_all) is called.
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

    /// Marks `batch` as through the gate (after its action, or when it ends without reaching it).
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
}

//! Epochs' orders: the permutation of an epoch ([`Order`], the same to the bit wherever it is
//! computed) and the thread that computes the next ones off the consumer's path
//! ([`Shuffler`]).

use crossbeam_channel::{Receiver, Sender};
use rand::seq::SliceRandom;

use super::spec::shuffle_rng;

/// Indexes at least this long get the next epoch's permutation prepared on a background
/// thread (below it, the permutation costs less than starting a thread).
pub(super) const BACKGROUND_SHUFFLE_MIN: usize = 1 << 16;

/// An epoch's permutation of the positions `0..len`: held as `u32` when `len` fits (4 B per
/// item instead of 8: 118 MB instead of 235 MB for 29.4 M rows), as `usize` beyond.
///
/// The order does not depend on the width: `shuffle` swaps by position, drawing the same
/// random indices whatever the element type, so a seed gives the same order, to the bit, as a
/// `Vec<usize>` shuffled with the same generator (tested below).
#[derive(Debug, Clone)]
pub(super) enum Order {
    Narrow(Vec<u32>),
    Wide(Vec<usize>),
}

impl Order {
    /// Appends the positions at `from..to` of the order to `out`.
    pub(super) fn extend_into(&self, from: usize, to: usize, out: &mut Vec<usize>) {
        match self {
            Order::Narrow(order) => out.extend(order[from..to].iter().map(|&p| p as usize)),
            Order::Wide(order) => out.extend_from_slice(&order[from..to]),
        }
    }
}

/// The permutation of epoch `epoch` of a run shuffled with `seed`, over `len` items: the
/// epoch's order. The same, to the bit, wherever it is computed.
pub(super) fn permutation(len: usize, seed: u64, epoch: u64) -> Order {
    permutation_into(Order::Narrow(Vec::new()), len, seed, epoch)
}

/// [`permutation`], written into `buf` (whose allocation is reused when its width fits).
fn permutation_into(buf: Order, len: usize, seed: u64, epoch: u64) -> Order {
    let mut rng = shuffle_rng(seed, epoch);
    match (u32::try_from(len), buf) {
        (Ok(narrow), Order::Narrow(order)) => Order::Narrow(shuffled(order, 0..narrow, &mut rng)),
        (Ok(narrow), Order::Wide(_)) => Order::Narrow(shuffled(Vec::new(), 0..narrow, &mut rng)),
        (Err(_), Order::Wide(order)) => Order::Wide(shuffled(order, 0..len, &mut rng)),
        (Err(_), Order::Narrow(_)) => Order::Wide(shuffled(Vec::new(), 0..len, &mut rng)),
    }
}

/// `items` shuffled, in the allocation of `order`.
fn shuffled<T, R: rand::Rng + ?Sized>(
    mut order: Vec<T>,
    items: impl Iterator<Item = T>,
    rng: &mut R,
) -> Vec<T> {
    order.clear();
    order.extend(items);
    order.shuffle(rng);
    order
}

/// What the shuffling thread is asked to do.
enum Job {
    /// Compute the permutation of an epoch into a recycled allocation.
    Permute {
        buf: Order,
        len: usize,
        seed: u64,
        epoch: u64,
    },
    /// Free a permutation no longer used.
    Free(Order),
}

/// A thread of its own that computes the permutations of later epochs and frees the old ones,
/// so that neither the O(N) shuffle nor the freeing of a large allocation (2 ms for the 80 MB
/// of 10 M items) is on the consumer's path. One thread per sampler, started with the sampler's
/// first background job and kept for its later epochs (a thread started per epoch cost the
/// boundary's batch a thread's start and join); it ends when its sampler is dropped.
#[derive(Debug)]
pub(super) struct Shuffler {
    jobs: Sender<Job>,
    done: Receiver<(u64, Order)>,
    /// The epochs asked for and not yet taken, oldest first.
    pending: std::collections::VecDeque<u64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Permute { epoch, .. } => write!(f, "Permute(epoch {epoch})"),
            Job::Free(_) => f.write_str("Free"),
        }
    }
}

impl Shuffler {
    /// Starts the thread; `None` when the system refuses one (the caller then computes its
    /// permutations itself, on its own path).
    pub(super) fn start() -> Option<Self> {
        let (jobs, inbox) = crossbeam_channel::unbounded::<Job>();
        let (outbox, done) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("batchline-shuffle".into())
            .spawn(move || {
                for job in inbox {
                    match job {
                        Job::Permute {
                            buf,
                            len,
                            seed,
                            epoch,
                        } => {
                            let order = permutation_into(buf, len, seed, epoch);
                            if outbox.send((epoch, order)).is_err() {
                                return;
                            }
                        }
                        Job::Free(order) => drop(order),
                    }
                }
            })
            .ok()?;
        Some(Self {
            jobs,
            done,
            pending: std::collections::VecDeque::new(),
        })
    }

    /// Asks for the permutation of `epoch` (`len` items, `seed`), written into `buf`.
    pub(super) fn permute(&mut self, buf: Order, len: usize, seed: u64, epoch: u64) {
        let job = Job::Permute {
            buf,
            len,
            seed,
            epoch,
        };
        if self.jobs.send(job).is_ok() {
            self.pending.push_back(epoch);
        }
    }

    /// Frees `order` on the thread.
    pub(super) fn free(&self, order: Order) {
        let _ = self.jobs.send(Job::Free(order));
    }

    /// The permutation of `epoch` when it was asked for (waiting for it if it is not done yet),
    /// else `None` without waiting. Permutations asked for earlier epochs are freed on the way.
    pub(super) fn take(&mut self, epoch: u64) -> Option<Order> {
        if !self.pending.contains(&epoch) {
            return None;
        }
        while let Some(asked) = self.pending.pop_front() {
            // A thread that died (it cannot, short of memory) gives `None`: computed here.
            let (got, order) = self.done.recv().ok()?;
            debug_assert_eq!(got, asked);
            if got == epoch {
                return Some(order);
            }
            self.free(order);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order of 10 items shuffled with seed 7 in epoch 0, as `Vec<usize>` gave it.
    const PINNED_SEED_7: [usize; 10] = [2, 3, 0, 7, 4, 9, 6, 5, 8, 1];

    /// The permutation as it was computed before it could be held as `u32`.
    fn wide_permutation(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..len).collect();
        order.shuffle(&mut shuffle_rng(seed, epoch));
        order
    }

    #[test]
    fn narrow_permutations_are_the_wide_ones_to_the_bit() {
        for len in [0usize, 1, 2, 3, 10, 257, 100_003] {
            for seed in [0u64, 1, 7, 42, u64::MAX] {
                for epoch in [0u64, 1, 5] {
                    let order = permutation(len, seed, epoch);
                    assert!(matches!(order, Order::Narrow(_)));
                    let mut got = Vec::new();
                    order.extend_into(0, len, &mut got);
                    assert_eq!(
                        got,
                        wide_permutation(len, seed, epoch),
                        "{len} {seed} {epoch}"
                    );
                }
            }
        }
        // Pinned: seed 7, epoch 0, 10 items (checkpoints written before depend on it).
        let mut got = Vec::new();
        permutation(10, 7, 0).extend_into(0, 10, &mut got);
        assert_eq!(got, PINNED_SEED_7);
    }

    #[test]
    fn the_shuffler_gives_the_permutation_asked_for_and_skips_stale_ones() {
        let mut s = Shuffler::start().expect("a thread");
        assert!(s.take(0).is_none(), "nothing asked");
        s.permute(Order::Narrow(Vec::new()), 1000, 3, 1);
        s.permute(Order::Narrow(Vec::new()), 1000, 3, 2);
        let mut got = Vec::new();
        s.take(2).expect("asked").extend_into(0, 1000, &mut got);
        assert_eq!(got, wide_permutation(1000, 3, 2));
        assert!(s.take(1).is_none(), "epoch 1's was freed on the way");
        s.permute(Order::Wide(vec![9; 5]), 1000, 3, 4);
        let mut got = Vec::new();
        s.take(4).expect("asked").extend_into(0, 1000, &mut got);
        assert_eq!(got, wide_permutation(1000, 3, 4));
    }
}

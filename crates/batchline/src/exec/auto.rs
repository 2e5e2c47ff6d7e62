//! `prefetch = auto`: the depth chosen while running, within a memory budget.
//!
//! The rule it follows is specified, once, in the documentation of
//! [`RunSpec::prefetch_auto`](crate::RunSpec::prefetch_auto); the constants below are its
//! numbers. Batches do not depend on `k`, so the results are the same, to the bit, as with any
//! fixed depth.

use std::time::Duration;

/// Batches per measurement window (at least).
pub(crate) const WINDOW: u64 = 8;

/// The shortest measurement window: shorter ones measure the clock more than the pipeline.
const MIN_WINDOW: Duration = Duration::from_millis(5);

/// The gain in throughput a deeper prefetch must bring to be kept.
const GAIN: f64 = 1.10;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Growing,
    /// `base`: the consumer's waiting share when the depth settled.
    Settled {
        slow_windows: u32,
        base: f64,
    },
}

/// The controller of `prefetch = auto`.
#[derive(Debug)]
pub(crate) struct AutoPrefetch {
    budget: u64,
    k_max: u64,
    /// The `k + 1` in use.
    capacity: u64,
    largest: u64,
    best: Option<(f64, u64)>,
    phase: Phase,
    window_batches: u64,
    window_time: Duration,
    window_wait: Duration,
    /// Batches still to pass over after a change of depth, before measuring again.
    warm_up: u64,
}

impl AutoPrefetch {
    pub(crate) fn new(budget: u64, k_max: u64) -> Self {
        Self {
            budget,
            k_max,
            capacity: 1,
            largest: 0,
            best: None,
            phase: Phase::Growing,
            window_batches: 0,
            window_time: Duration::ZERO,
            window_wait: Duration::ZERO,
            warm_up: 0,
        }
    }

    /// The most `k + 1` the budget and `k_max` allow.
    fn limit(&self) -> u64 {
        let by_memory = self
            .budget
            .checked_div(self.largest)
            .map_or(1, |n| n.max(1));
        by_memory.min(self.k_max + 1)
    }

    /// Takes one batch's figures: how long the consumer waited for it, how long the consumer
    /// worked since the previous one, and its size. Returns the new `k + 1` when it changes.
    pub(crate) fn observe(&mut self, waited: Duration, worked: Duration, size: u64) -> Option<u64> {
        let before = self.capacity;
        if size > self.largest {
            self.largest = size;
        }
        if self.capacity > self.limit() {
            self.capacity = self.limit();
        }
        if self.warm_up > 0 {
            self.warm_up -= 1;
        } else {
            self.window_batches += 1;
            self.window_time += waited + worked;
            self.window_wait += waited;
            if self.window_batches >= WINDOW.max(2 * self.capacity)
                && self.window_time >= MIN_WINDOW
            {
                self.end_window();
            }
        }
        if self.capacity != before {
            // The batches in flight at the old depth are not the new depth's measure.
            self.warm_up = self.capacity.max(before);
            self.window_batches = 0;
            self.window_time = Duration::ZERO;
            self.window_wait = Duration::ZERO;
            return Some(self.capacity);
        }
        None
    }

    fn end_window(&mut self) {
        let secs = self.window_time.as_secs_f64().max(1e-9);
        let rate = self.window_batches as f64 / secs;
        let waits = self.window_wait.as_secs_f64() / secs;
        self.window_batches = 0;
        self.window_time = Duration::ZERO;
        self.window_wait = Duration::ZERO;
        let limit = self.limit();
        match self.phase {
            Phase::Growing => {
                let gained = self.best.is_none_or(|(best, _)| rate > best * GAIN);
                if gained {
                    self.best = Some((rate, self.capacity));
                }
                let settle = Phase::Settled {
                    slow_windows: 0,
                    base: waits,
                };
                if !gained {
                    // The last step did not pay: back to the best depth.
                    self.capacity = self.best.map_or(1, |(_, c)| c).min(limit);
                    self.phase = settle;
                } else if waits > 0.05 && self.capacity < limit {
                    self.capacity = (self.capacity * 2).min(limit);
                } else {
                    self.phase = settle;
                }
            }
            Phase::Settled { slow_windows, base } => {
                // Only a consumer that waits clearly more than when the depth settled (the load
                // changed) makes it look again; a CPU-bound run always waits, and stays put.
                let slow = if waits > (base + 0.15).max(0.2) {
                    slow_windows + 1
                } else {
                    0
                };
                if slow >= 4 && self.capacity < limit {
                    self.best = Some((rate, self.capacity));
                    self.capacity = (self.capacity * 2).min(limit);
                    self.phase = Phase::Growing;
                } else {
                    self.phase = Phase::Settled {
                        slow_windows: slow,
                        base,
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A pipeline whose batches take `latency` each, with `cores` of them at once at most, and
    /// a consumer that works `work` per batch: the consumer's wait per batch at depth `c`.
    fn wait_at(c: u64, latency: Duration, cores: u64, work: Duration) -> Duration {
        let per_batch = latency / c.min(cores) as u32;
        per_batch.saturating_sub(work)
    }

    fn converge(latency: Duration, cores: u64, work: Duration, budget: u64, size: u64) -> Vec<u64> {
        let mut auto = AutoPrefetch::new(budget, 32);
        let mut seen = vec![auto.capacity];
        for _ in 0..200 {
            let waited = wait_at(auto.capacity, latency, cores, work);
            if let Some(c) = auto.observe(waited, work, size) {
                seen.push(c);
            }
        }
        seen
    }

    #[test]
    fn latency_bound_grows_to_the_limit_by_doubling() {
        let steps = converge(10 * MS, 1000, MS / 10, u64::MAX, 100);
        assert_eq!(steps, [1, 2, 4, 8, 16, 32, 33]);
    }

    #[test]
    fn cpu_bound_stops_where_more_does_not_pay() {
        let steps = converge(10 * MS, 2, MS / 10, u64::MAX, 100);
        assert_eq!(steps, [1, 2, 4, 2]);
    }

    #[test]
    fn consumer_bound_stays_small() {
        let steps = converge(MS, 1000, 5 * MS, u64::MAX, 100);
        assert_eq!(steps, [1]);
    }

    #[test]
    fn a_slower_load_makes_it_look_again() {
        let mut auto = AutoPrefetch::new(u64::MAX, 32);
        // Settles at 2 on a fast load (latency 1 ms, 2 at a time, consumer 0.4 ms).
        for _ in 0..100 {
            let waited = wait_at(auto.capacity, MS, 2, MS * 4 / 10);
            auto.observe(waited, MS * 4 / 10, 100);
        }
        let settled = auto.capacity;
        assert!(settled <= 4, "{settled}");
        // The actions start waiting on I/O (latency 20 ms, no core limit): it grows again.
        for _ in 0..200 {
            let waited = wait_at(auto.capacity, 20 * MS, 1000, MS * 4 / 10);
            auto.observe(waited, MS * 4 / 10, 100);
        }
        assert!(auto.capacity >= 32, "{}", auto.capacity);
    }

    #[test]
    fn the_budget_bounds_the_depth() {
        // Batches of 1 MB, 5.5 MB of budget: at most 5 in flight.
        let steps = converge(10 * MS, 1000, MS / 10, 5_500_000, 1_000_000);
        assert_eq!(*steps.iter().max().unwrap(), 5);
        // A batch larger than before lowers the depth at once.
        let mut auto = AutoPrefetch::new(4_000_000, 32);
        for _ in 0..60 {
            let waited = wait_at(auto.capacity, 10 * MS, 1000, MS / 10);
            auto.observe(waited, MS / 10, 500_000);
        }
        assert_eq!(auto.capacity, 8);
        assert_eq!(auto.observe(MS, MS / 10, 2_000_000), Some(2));
    }
}

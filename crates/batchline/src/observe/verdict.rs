//! The analysis of a [`Profile`]: what holds the run up, and whether more prefetch would help.

use std::time::Duration;

use super::profile::share;
use super::{ActionStats, Profile};

impl Profile {
    /// An estimate of how much faster the run would go with enough prefetch on `cores` cores:
    /// `0.25` means about 25% more batches per second.
    ///
    /// With unlimited prefetch a batch still cannot come faster than the slowest of: the
    /// consumer's own work per batch, the time per batch that a lock is held (locked steps run
    /// one batch at a time), and the actions' total time per batch spread over the cores (left
    /// out when the actions already overlap more than the cores allow: then they mostly wait
    /// for I/O or sleep, and more of them can overlap). The estimate is the ratio of the time
    /// per batch measured to that bound, minus one.
    pub fn prefetch_gain(&self, cores: usize) -> f64 {
        if self.batches == 0 {
            return 0.0;
        }
        let per_batch = |d: Duration| d.as_secs_f64() / self.batches as f64;
        let work = per_batch(self.consumer_work);
        let serial = self
            .locks
            .iter()
            .map(|l| per_batch(l.held))
            .fold(0.0, f64::max);
        // The actions' time spread over the cores — unless they already overlap more than the
        // cores allow, in which case they mostly wait (I/O, sleep) and cores do not bound them.
        let busy: Duration = self.actions.iter().map(|a| a.total).sum();
        let overlap = share(busy, self.elapsed);
        let parallel = if overlap > cores as f64 + 0.25 {
            0.0
        } else {
            per_batch(busy) / cores.max(1) as f64
        };
        let bound = work.max(serial).max(parallel);
        if bound <= 0.0 {
            return 0.0;
        }
        (per_batch(self.elapsed) / bound - 1.0).max(0.0)
    }

    /// A one-line answer to "what holds this run up?": the consumer (when it works at least
    /// 75% of the time), a lock (when one is held at least half the time: the steps under it
    /// run one batch at a time and set the pace), or the action the consumer waited for most,
    /// and whether more prefetch would help (see [`prefetch_gain`](Self::prefetch_gain), with
    /// the machine's cores).
    pub fn verdict(&self) -> String {
        if self.batches == 0 {
            return "no batch reached the consumer".into();
        }
        let pct = |x: f64| (100.0 * x).round();
        let work = share(self.consumer_work, self.elapsed);
        let wait = share(self.consumer_wait, self.elapsed);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let gain = self.prefetch_gain(cores);
        let busiest_lock = self
            .locks
            .iter()
            .max_by(|a, b| a.held.cmp(&b.held))
            .filter(|l| share(l.held, self.elapsed) >= 0.5);
        let head = if work >= 0.75 {
            format!(
                "the pipeline is consumer-bound: the consumer works {}% of the time and waits {}%",
                pct(work),
                pct(wait)
            )
        } else if let Some(l) = busiest_lock {
            format!(
                "lock {:?} is the bottleneck: it is held {}% of the time, so the steps under it \
                 run one batch at a time",
                l.name,
                pct(share(l.held, self.elapsed))
            )
        } else {
            let action = self.bottleneck();
            let lock = self
                .locks
                .iter()
                .max_by(|a, b| a.bottleneck_share.total_cmp(&b.bottleneck_share));
            match (action, lock) {
                (_, Some(l)) if action.is_none_or(|a| l.bottleneck_share > a.bottleneck_share) => {
                    format!(
                        "lock {:?} is the bottleneck: the consumer waited {}% of the time for \
                         batches waiting for it",
                        l.name,
                        pct(l.bottleneck_share)
                    )
                }
                (Some(a), _) => format!(
                    "action {:?} is the bottleneck: the consumer waited {}% of the time for \
                     batches in it",
                    a.name,
                    pct(a.bottleneck_share)
                ),
                (None, _) => format!(
                    "the consumer waits {}% of the time, for no action (creating batches)",
                    pct(wait)
                ),
            }
        };
        if gain >= 0.1 {
            format!("{head}; more prefetch would help by about {}%", pct(gain))
        } else {
            format!("{head}; more prefetch would not help much")
        }
    }

    /// The action with the largest bottleneck share, if any action ran.
    pub fn bottleneck(&self) -> Option<&ActionStats> {
        self.actions
            .iter()
            .max_by(|a, b| a.bottleneck_share.total_cmp(&b.bottleneck_share))
    }
}

//! The analysis of a [`Profile`]: what holds the run up, and whether more prefetch would help.

use std::time::Duration;

use super::profile::share;
use super::{ActionStats, LockStats, Profile};

/// A row of the profile's table.
enum Row<'a> {
    Action(&'a ActionStats),
    Lock(&'a LockStats),
}

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

    /// A one-line answer to "what holds this run up?", in the terms of the table
    /// ([`Display`](std::fmt::Display)), so that the two always agree:
    ///
    /// * the consumer, when it works at least 75% of the time (the table's first line);
    /// * otherwise the row of the table (action or lock) with the largest `bottleneck` share:
    ///   the share of the run during which the consumer waited for a batch that was in that
    ///   action, or waiting for that lock. The share is quoted as the table prints it;
    /// * then, when a lock is held at least half of the time (the table's `held %`), that it
    ///   sets the pace: the steps under it run one batch at a time, so no prefetch makes the
    ///   run faster than one batch per hold;
    /// * and whether more prefetch would help (see [`prefetch_gain`](Self::prefetch_gain),
    ///   with the machine's cores).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use batchline::{Event, EventKind, Profile};
    ///
    /// // Two batches; the consumer waits 10 ms for each, while it is in action "slow".
    /// let slow: std::sync::Arc<str> = "slow".into();
    /// let at = |ms, batch, kind| Event::new(Duration::from_millis(ms), batch, 0, kind);
    /// let events = vec![
    ///     at(0, 0, EventKind::ActionStarted { action: slow.clone() }),
    ///     at(10, 0, EventKind::ActionFinished { action: slow.clone() }),
    ///     at(10, 0, EventKind::BatchYielded),
    ///     at(10, 0, EventKind::BatchReleased),
    ///     at(10, 1, EventKind::ActionStarted { action: slow.clone() }),
    ///     at(20, 1, EventKind::ActionFinished { action: slow.clone() }),
    ///     at(20, 1, EventKind::BatchYielded),
    ///     at(20, 1, EventKind::BatchReleased),
    /// ];
    /// let profile = Profile::from_events(&events);
    /// assert!(profile.verdict().starts_with(
    ///     "action \"slow\" is the bottleneck: the consumer waited 100.0% of the time"
    /// ));
    /// assert!(profile.to_string().lines().any(|l| l.starts_with("slow") && l.ends_with("100.0%")));
    /// ```
    pub fn verdict(&self) -> String {
        if self.batches == 0 {
            return "no batch reached the consumer".into();
        }
        // Percentages exactly as the table prints them.
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        let work = share(self.consumer_work, self.elapsed);
        let wait = share(self.consumer_wait, self.elapsed);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let gain = self.prefetch_gain(cores);
        let mut parts = Vec::new();
        if work >= 0.75 {
            parts.push(format!(
                "the pipeline is consumer-bound: the consumer works {} of the time and waits {}",
                pct(work),
                pct(wait)
            ));
        } else {
            parts.push(match self.top_row() {
                Some(Row::Action(a)) => format!(
                    "action {:?} is the bottleneck: the consumer waited {} of the time for \
                     batches in it",
                    a.name,
                    pct(a.bottleneck_share)
                ),
                Some(Row::Lock(l)) => format!(
                    "lock {:?} is the bottleneck: the consumer waited {} of the time for \
                     batches waiting for it",
                    l.name,
                    pct(l.bottleneck_share)
                ),
                None => format!(
                    "the consumer waits {} of the time, for no action (creating batches)",
                    pct(wait)
                ),
            });
        }
        if let Some(l) = self.pacing_lock() {
            parts.push(format!(
                "lock {:?} is held {} of the time, so the steps under it run one batch at a \
                 time and set the pace",
                l.name,
                pct(l.held_share)
            ));
        }
        if gain >= 0.1 {
            parts.push(format!(
                "more prefetch would help by about {}%",
                (100.0 * gain).round()
            ));
        } else {
            parts.push("more prefetch would not help much".into());
        }
        parts.join("; ")
    }

    /// The row of the table with the largest bottleneck share, when it is above zero (the
    /// first such row on a tie: actions before locks, in table order).
    fn top_row(&self) -> Option<Row<'_>> {
        let rows = self
            .actions
            .iter()
            .map(|a| (a.bottleneck_share, Row::Action(a)))
            .chain(
                self.locks
                    .iter()
                    .map(|l| (l.bottleneck_share, Row::Lock(l))),
            );
        let mut best: Option<(f64, Row<'_>)> = None;
        for (share, row) in rows {
            if share > 0.0 && best.as_ref().is_none_or(|(b, _)| share > *b) {
                best = Some((share, row));
            }
        }
        best.map(|(_, row)| row)
    }

    /// The lock held longest, when it is held at least half of the run.
    fn pacing_lock(&self) -> Option<&LockStats> {
        self.locks
            .iter()
            .filter(|l| l.held_share >= 0.5)
            .max_by(|a, b| a.held_share.total_cmp(&b.held_share))
    }

    /// The action with the largest bottleneck share, if any action ran.
    pub fn bottleneck(&self) -> Option<&ActionStats> {
        self.actions
            .iter()
            .max_by(|a, b| a.bottleneck_share.total_cmp(&b.bottleneck_share))
    }
}

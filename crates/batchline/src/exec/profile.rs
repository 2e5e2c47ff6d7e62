//! [`Profile`]: per-action times, lock waits, the consumer's time, and bottleneck shares,
//! computed from the events of a run.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::events::consumer_spans;
use super::{Event, EventKind};

/// The times of one action over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionStats {
    /// The action's name.
    pub name: String,
    /// How many times it ran.
    pub count: u64,
    /// The sum of its run times.
    pub total: Duration,
    /// The mean run time.
    pub mean: Duration,
    /// The median run time.
    pub p50: Duration,
    /// The 95th percentile of its run times.
    pub p95: Duration,
    /// The longest run time.
    pub max: Duration,
    /// The time batches waited for a lock (or an ordered turn) just before this action.
    pub lock_wait: Duration,
    /// The share of the run's time during which the consumer waited for a batch that was in
    /// this action: this action's share of the critical path, how much it held the run up
    /// (0 to 1).
    pub bottleneck_share: f64,
}

/// The waits for one lock (or ordered turn) over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LockStats {
    /// The lock's name.
    pub name: String,
    /// How many times a batch took it.
    pub acquisitions: u64,
    /// How many of those had to wait.
    pub waits: u64,
    /// The sum of the waits.
    pub total_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
    /// The time the lock was held, in all.
    pub held: Duration,
    /// The share of the run's time during which the consumer waited for a batch that waited
    /// for this lock (0 to 1).
    pub bottleneck_share: f64,
}

/// Where the time of a run went: turn it on with
/// [`RunSpec::profile`](super::RunSpec::profile), read it from
/// [`BatchIter::profile`](super::BatchIter::profile) or
/// [`RunReport::profile`](super::RunReport::profile), print it as a table (`Display`) or
/// serialise it (serde).
///
/// The consumer *waits* from the moment it asks for a batch until it gets it, and *works*
/// from then until it asks for the next one. While it waits, the batch it waits for is in an
/// action, waiting for a lock, or not yet created; the first two are charged to that action or
/// lock as its bottleneck share.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use batchline::{Context, Dataset, DatasetIndex, RunSpec};
/// use batchline::batch::IdsBatch;
///
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(8), ());
/// let p = ds
///     .p()
///     .apply("fast", |_: &mut IdsBatch, _: &mut Context| {})
///     .apply("slow", |_: &mut IdsBatch, _: &mut Context| {
///         std::thread::sleep(Duration::from_millis(5))
///     });
/// let report = p.run(&RunSpec::new(2).profile(true))?;
/// let profile = report.profile.expect("profile(true)");
/// let slow = profile.action("slow").unwrap();
/// assert_eq!(slow.count, 4);
/// assert!(slow.bottleneck_share > profile.action("fast").unwrap().bottleneck_share);
/// println!("{profile}");
/// # Ok::<(), batchline::PipelineError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Profile {
    /// From the run's start to its last event.
    pub elapsed: Duration,
    /// Batches the consumer received.
    pub batches: u64,
    /// Every action, in the order they first ran.
    pub actions: Vec<ActionStats>,
    /// Every lock (and ordered turn) that was taken, in the order first taken.
    pub locks: Vec<LockStats>,
    /// The time the consumer waited for batches.
    pub consumer_wait: Duration,
    /// The time the consumer spent with a batch (between receiving it and asking for the
    /// next).
    pub consumer_work: Duration,
}

/// Durations keyed by name, in first-seen order.
#[derive(Default)]
struct Named {
    order: Vec<Arc<str>>,
    times: HashMap<Arc<str>, Vec<Duration>>,
    blame: HashMap<Arc<str>, Duration>,
}

impl Named {
    fn entry(&mut self, name: &Arc<str>) -> &mut Vec<Duration> {
        if !self.times.contains_key(name) {
            self.order.push(Arc::clone(name));
        }
        self.times.entry(Arc::clone(name)).or_default()
    }
}

/// An interval of a batch's life spent in an action or waiting for a lock.
struct Span {
    name: Arc<str>,
    start: Duration,
    end: Duration,
    is_lock: bool,
}

fn share(part: Duration, whole: Duration) -> f64 {
    if whole.is_zero() {
        0.0
    } else {
        part.as_secs_f64() / whole.as_secs_f64()
    }
}

fn overlap(a: (Duration, Duration), b: (Duration, Duration)) -> Duration {
    let start = a.0.max(b.0);
    let end = a.1.min(b.1);
    end.saturating_sub(start)
}

impl Profile {
    /// Computes the profile of a run from its events (in any order).
    pub fn from_events(events: &[Event]) -> Self {
        let mut events: Vec<&Event> = events.iter().collect();
        events.sort_by_key(|e| e.time);
        let elapsed = events.last().map_or(Duration::ZERO, |e| e.time);

        let mut actions = Named::default();
        let mut locks = Named::default();
        let mut lock_acquisitions: HashMap<Arc<str>, u64> = HashMap::new();
        let mut spans: HashMap<u64, Vec<Span>> = HashMap::new();
        let mut open_actions: HashMap<(u64, Arc<str>), Duration> = HashMap::new();
        let mut open_waits: HashMap<(u64, Arc<str>), Duration> = HashMap::new();
        let mut open_holds: HashMap<(u64, Arc<str>), Duration> = HashMap::new();
        let mut held_total: HashMap<Arc<str>, Duration> = HashMap::new();
        // Lock waits of a batch not yet charged to the action that follows them.
        let mut waits_before: HashMap<u64, Duration> = HashMap::new();
        let mut action_lock_wait: HashMap<Arc<str>, Duration> = HashMap::new();

        for e in &events {
            match &e.kind {
                EventKind::ActionStarted { action } => {
                    open_actions.insert((e.batch, Arc::clone(action)), e.time);
                    if let Some(w) = waits_before.remove(&e.batch) {
                        *action_lock_wait.entry(Arc::clone(action)).or_default() += w;
                    }
                }
                EventKind::ActionFinished { action } => {
                    if let Some(start) = open_actions.remove(&(e.batch, Arc::clone(action))) {
                        actions.entry(action).push(e.time - start);
                        spans.entry(e.batch).or_default().push(Span {
                            name: Arc::clone(action),
                            start,
                            end: e.time,
                            is_lock: false,
                        });
                    }
                }
                EventKind::LockWaiting { lock } => {
                    open_waits
                        .entry((e.batch, Arc::clone(lock)))
                        .or_insert(e.time);
                }
                EventKind::LockAcquired { lock } => {
                    *lock_acquisitions.entry(Arc::clone(lock)).or_default() += 1;
                    let waited = open_waits.remove(&(e.batch, Arc::clone(lock)));
                    open_holds.insert((e.batch, Arc::clone(lock)), e.time);
                    let entry = locks.entry(lock);
                    if let Some(start) = waited {
                        entry.push(e.time - start);
                        *waits_before.entry(e.batch).or_default() += e.time - start;
                        spans.entry(e.batch).or_default().push(Span {
                            name: Arc::clone(lock),
                            start,
                            end: e.time,
                            is_lock: true,
                        });
                    }
                }
                EventKind::LockReleased { lock } => {
                    if let Some(start) = open_holds.remove(&(e.batch, Arc::clone(lock))) {
                        *held_total.entry(Arc::clone(lock)).or_default() += e.time - start;
                    }
                }
                _ => {}
            }
        }

        let consumer = consumer_spans(&events, elapsed);
        let total = |waiting: bool| -> Duration {
            consumer
                .iter()
                .filter(|c| c.waiting == waiting)
                .map(|c| c.end - c.start)
                .sum()
        };
        let (consumer_wait, consumer_work) = (total(true), total(false));
        let batches = consumer.iter().filter(|c| !c.waiting).count() as u64;

        // Charge each wait of the consumer to what its batch was doing meanwhile.
        for wait in consumer.iter().filter(|c| c.waiting) {
            for span in spans.get(&wait.batch).into_iter().flatten() {
                let blamed = overlap((wait.start, wait.end), (span.start, span.end));
                let named = if span.is_lock {
                    &mut locks
                } else {
                    &mut actions
                };
                *named.blame.entry(Arc::clone(&span.name)).or_default() += blamed;
            }
        }

        let action_stats = actions
            .order
            .iter()
            .map(|name| {
                let mut times = actions.times[name].clone();
                times.sort();
                let count = times.len() as u64;
                let total: Duration = times.iter().sum();
                let rank = |q: f64| {
                    // The nearest-rank percentile.
                    let i = ((q * count as f64).ceil() as usize).clamp(1, times.len()) - 1;
                    times[i]
                };
                ActionStats {
                    name: name.to_string(),
                    count,
                    total,
                    mean: total.div_f64(count.max(1) as f64),
                    p50: rank(0.5),
                    p95: rank(0.95),
                    max: *times.last().expect("an action in the list ran"),
                    lock_wait: action_lock_wait.get(name).copied().unwrap_or_default(),
                    bottleneck_share: share(
                        actions.blame.get(name).copied().unwrap_or_default(),
                        elapsed,
                    ),
                }
            })
            .collect();
        let lock_stats = locks
            .order
            .iter()
            .map(|name| {
                let times = &locks.times[name];
                LockStats {
                    name: name.to_string(),
                    acquisitions: lock_acquisitions.get(name).copied().unwrap_or_default(),
                    waits: times.len() as u64,
                    total_wait: times.iter().sum(),
                    max_wait: times.iter().max().copied().unwrap_or_default(),
                    held: held_total.get(name).copied().unwrap_or_default(),
                    bottleneck_share: share(
                        locks.blame.get(name).copied().unwrap_or_default(),
                        elapsed,
                    ),
                }
            })
            .collect();
        Self {
            elapsed,
            batches,
            actions: action_stats,
            locks: lock_stats,
            consumer_wait,
            consumer_work,
        }
    }

    /// The statistics of the action named `name`.
    pub fn action(&self, name: &str) -> Option<&ActionStats> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The statistics of the lock named `name`.
    pub fn lock(&self, name: &str) -> Option<&LockStats> {
        self.locks.iter().find(|l| l.name == name)
    }

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

struct Ms(Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1e3;
        let text = format!("{ms:.3}");
        f.pad(&text)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} batches in {} ms; consumer waited {} ms ({:.1}%), worked {} ms ({:.1}%)",
            self.batches,
            Ms(self.elapsed),
            Ms(self.consumer_wait),
            100.0 * share(self.consumer_wait, self.elapsed),
            Ms(self.consumer_work),
            100.0 * share(self.consumer_work, self.elapsed),
        )?;
        let width = self
            .actions
            .iter()
            .map(|a| a.name.chars().count())
            .chain(self.locks.iter().map(|l| l.name.chars().count()))
            .chain([6])
            .max()
            .unwrap_or(6);
        writeln!(f, "verdict: {}", self.verdict())?;
        writeln!(
            f,
            "{:<width$}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
            "action",
            "count",
            "total ms",
            "mean ms",
            "p50 ms",
            "p95 ms",
            "max ms",
            "lock ms",
            "bottleneck"
        )?;
        for a in &self.actions {
            writeln!(
                f,
                "{:<width$}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>9.1}%",
                a.name,
                a.count,
                Ms(a.total),
                Ms(a.mean),
                Ms(a.p50),
                Ms(a.p95),
                Ms(a.max),
                Ms(a.lock_wait),
                100.0 * a.bottleneck_share,
            )?;
        }
        if !self.locks.is_empty() {
            writeln!(
                f,
                "{:<width$}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}",
                "lock", "taken", "waits", "wait ms", "max ms", "held ms", "bottleneck"
            )?;
            for l in &self.locks {
                writeln!(
                    f,
                    "{:<width$}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>9.1}%",
                    l.name,
                    l.acquisitions,
                    l.waits,
                    Ms(l.total_wait),
                    Ms(l.max_wait),
                    Ms(l.held),
                    100.0 * l.bottleneck_share,
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ms: u64, batch: u64, kind: EventKind) -> Event {
        Event {
            time: Duration::from_millis(ms),
            batch,
            worker: 0,
            kind,
        }
    }

    fn act(name: &str) -> Arc<str> {
        name.into()
    }

    #[test]
    fn computes_times_waits_and_blame_from_known_events() {
        use EventKind::*;
        let (a, b, l) = (act("a"), act("b"), act("lock"));
        // Batch 0: a 0..10, waits for the lock 10..15, b 15..35; the consumer asked at 0.
        // Batch 1: a 40..60, consumer works on batch 0 from 35 to 40, then waits 40..70.
        let events = vec![
            ev(0, 0, ActionStarted { action: a.clone() }),
            ev(10, 0, ActionFinished { action: a.clone() }),
            ev(10, 0, LockWaiting { lock: l.clone() }),
            ev(15, 0, LockAcquired { lock: l.clone() }),
            ev(15, 0, ActionStarted { action: b.clone() }),
            ev(35, 0, ActionFinished { action: b.clone() }),
            ev(35, 0, BatchYielded),
            ev(40, 0, BatchReleased),
            ev(40, 1, ActionStarted { action: a.clone() }),
            ev(60, 1, ActionFinished { action: a.clone() }),
            ev(70, 1, BatchYielded),
            ev(80, 1, BatchReleased),
        ];
        let p = Profile::from_events(&events);
        assert_eq!(p.elapsed, Duration::from_millis(80));
        assert_eq!(p.batches, 2);
        assert_eq!(p.consumer_wait, Duration::from_millis(35 + 30));
        assert_eq!(p.consumer_work, Duration::from_millis(5 + 10));
        let sa = p.action("a").unwrap();
        assert_eq!((sa.count, sa.total), (2, Duration::from_millis(30)));
        assert_eq!(
            (sa.p50, sa.p95, sa.max),
            (
                Duration::from_millis(10),
                Duration::from_millis(20),
                Duration::from_millis(20)
            )
        );
        assert_eq!(sa.mean, Duration::from_millis(15));
        // a held the consumer up 10 ms (batch 0) + 20 ms (batch 1) of 80.
        assert!((sa.bottleneck_share - 30.0 / 80.0).abs() < 1e-9);
        let sb = p.action("b").unwrap();
        assert!((sb.bottleneck_share - 20.0 / 80.0).abs() < 1e-9);
        let sl = p.lock("lock").unwrap();
        assert_eq!(
            (sl.acquisitions, sl.waits, sl.total_wait),
            (1, 1, Duration::from_millis(5))
        );
        assert!((sl.bottleneck_share - 5.0 / 80.0).abs() < 1e-9);
        assert_eq!(p.bottleneck().unwrap().name, "a");
        // The 5 ms wait for the lock comes just before b.
        assert_eq!(sl.held, Duration::ZERO, "never released in these events");
        assert_eq!(p.action("b").unwrap().lock_wait, Duration::from_millis(5));
        assert_eq!(sa.lock_wait, Duration::ZERO);
        // Per batch: 40 ms measured; bounds: work 7.5 ms, actions 50/2/2 = 12.5 ms on 2 cores.
        assert!((p.prefetch_gain(2) - (40.0 / 12.5 - 1.0)).abs() < 1e-9);
        assert!((p.prefetch_gain(1) - (40.0 / 25.0 - 1.0)).abs() < 1e-9);
        assert!(
            p.verdict().starts_with("action \"a\" is the bottleneck"),
            "{}",
            p.verdict()
        );
        let table = p.to_string();
        assert!(table.contains("2 batches in 80.000 ms"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("a ") && l.contains("37.5%")),
            "{table}"
        );
        let json = serde_json::to_string(&p).unwrap();
        let back: Profile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn a_hot_lock_is_named_in_the_verdict() {
        use EventKind::*;
        let (work, l) = (act("work"), act("hot"));
        // Each batch waits 20 ms for the lock, then works 2 ms under it; the consumer waits.
        let mut events = Vec::new();
        let mut t = 0;
        for batch in 0..4 {
            events.push(ev(t, batch, LockWaiting { lock: l.clone() }));
            events.push(ev(t + 20, batch, LockAcquired { lock: l.clone() }));
            events.push(ev(
                t + 20,
                batch,
                ActionStarted {
                    action: work.clone(),
                },
            ));
            events.push(ev(
                t + 22,
                batch,
                ActionFinished {
                    action: work.clone(),
                },
            ));
            events.push(ev(t + 22, batch, LockReleased { lock: l.clone() }));
            events.push(ev(t + 22, batch, BatchYielded));
            events.push(ev(t + 23, batch, BatchReleased));
            t += 23;
        }
        let p = Profile::from_events(&events);
        let hot = p.lock("hot").unwrap();
        assert_eq!((hot.waits, hot.held), (4, Duration::from_millis(8)));
        assert_eq!(
            p.action("work").unwrap().lock_wait,
            Duration::from_millis(80)
        );
        let verdict = p.verdict();
        assert!(
            verdict.starts_with("lock \"hot\" is the bottleneck"),
            "{verdict}"
        );
        assert!(p.to_string().contains(&verdict));
    }

    #[test]
    fn empty_run() {
        let p = Profile::from_events(&[]);
        assert_eq!(p, Profile::default());
        assert!(p.bottleneck().is_none());
        assert!(p.to_string().starts_with("0 batches"));
    }
}

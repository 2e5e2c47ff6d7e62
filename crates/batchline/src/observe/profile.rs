//! [`Profile`]: per-action times, lock waits, the consumer's time, and bottleneck shares,
//! computed from the events of a run.

use std::collections::HashMap;
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
    /// The share of the run's time during which the lock was held (0 to 1): at 50% or more,
    /// the steps under it set the pace (see [`Profile::verdict`]).
    #[serde(default)]
    pub held_share: f64,
    /// The share of the run's time during which the consumer waited for a batch that waited
    /// for this lock (0 to 1).
    pub bottleneck_share: f64,
}

/// Where the time of a run went: turn it on with
/// [`RunSpec::profile`](crate::RunSpec::profile), read it from
/// [`BatchIter::profile`](crate::BatchIter::profile) or
/// [`RunReport::profile`](crate::RunReport::profile), print it as a table (`Display`) or
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
/// use batchline::IdsBatch;
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

pub(super) fn share(part: Duration, whole: Duration) -> f64 {
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
                    held_share: share(held_total.get(name).copied().unwrap_or_default(), elapsed),
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
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;

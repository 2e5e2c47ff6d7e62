//! Events of a run, observers, and the renderings built from them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

/// One step of a run, as an [`Observer`] sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// Time since the start of the run (monotonic).
    pub time: Duration,
    /// The batch's number in the run (0 for the first batch).
    pub batch: u64,
    /// The thread it happened on: 0 for the consumer's thread, `i` for the `i`-th prefetch
    /// worker.
    pub worker: usize,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// An event of `kind` at `time` for batch `batch` on thread `worker`: to build events by
    /// hand (from a saved trace, or in a test) and compute a [`Profile`](crate::Profile) or a
    /// [`Timeline`](crate::Timeline) from them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use batchline::{Event, EventKind};
    ///
    /// let e = Event::new(Duration::from_millis(3), 0, 1, EventKind::BatchCreated);
    /// assert_eq!((e.batch, e.worker), (0, 1));
    /// ```
    pub fn new(time: Duration, batch: u64, worker: usize, kind: EventKind) -> Self {
        Self {
            time,
            batch,
            worker,
            kind,
        }
    }
}

/// What an [`Event`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The batch was drawn from the index and built.
    BatchCreated,
    /// An action started on the batch.
    ActionStarted {
        /// The action's name.
        action: Arc<str>,
    },
    /// An action finished on the batch (successfully or not).
    ActionFinished {
        /// The action's name.
        action: Arc<str>,
    },
    /// The batch has to wait for a lock (or for its turn at an ordered action).
    LockWaiting {
        /// The lock's name.
        lock: Arc<str>,
    },
    /// The batch holds the lock.
    LockAcquired {
        /// The lock's name.
        lock: Arc<str>,
    },
    /// The batch released the lock.
    LockReleased {
        /// The lock's name.
        lock: Arc<str>,
    },
    /// Every action ran: the batch waits for the consumer.
    BatchReady,
    /// An action asked to skip the batch.
    BatchSkipped,
    /// An action asked to stop the run at this batch.
    BatchStopped,
    /// An action failed or panicked.
    BatchFailed,
    /// The batch was abandoned because the run stopped.
    BatchCancelled,
    /// The consumer received the batch.
    BatchYielded,
    /// The consumer asked for the next batch, releasing this one (or passed over it).
    BatchReleased,
}

/// Receives every [`Event`] of a run, from whichever thread it happens on.
///
/// Closures `Fn(&Event) + Send + Sync` are observers, and so is the sending half of a
/// `std::sync::mpsc` channel (a sink that never blocks the executor: events sent after the
/// receiver is gone are dropped). Keep observers quick: they run inside the executor.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use batchline::IdsBatch;
/// use batchline::{Context, Dataset, DatasetIndex, EventKind, RunSpec};
///
/// let (tx, rx) = mpsc::channel();
/// Dataset::<IdsBatch>::new(DatasetIndex::from_count(6), ())
///     .p()
///     .apply("noop", |_b: &mut IdsBatch, _ctx: &mut Context| {})
///     .run(&RunSpec::new(2).prefetch(1).observer(tx))?;
/// let yielded = rx.try_iter().filter(|e| e.kind == EventKind::BatchYielded).count();
/// assert_eq!(yielded, 3);
/// # Ok::<(), batchline::PipelineError>(())
/// ```
pub trait Observer: Send + Sync {
    /// Called once per event.
    fn on_event(&self, event: &Event);
}

impl<F: Fn(&Event) + Send + Sync> Observer for F {
    fn on_event(&self, event: &Event) {
        self(event)
    }
}

impl Observer for std::sync::mpsc::Sender<Event> {
    fn on_event(&self, event: &Event) {
        // A receiver that hung up no longer wants events; that is not the run's failure.
        let _ = self.send(event.clone());
    }
}

/// An observer that keeps every event, then renders them as the seed's listing or a Chrome
/// trace.
///
/// # Examples
///
/// ```
/// use batchline::{Batch, Dataset, DatasetIndex, EventRecorder, RunSpec};
/// use batchline::IdsBatch;
///
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(4), ());
/// let recorder = EventRecorder::new();
/// ds.p()
///     .apply("action 1", |_b: &mut IdsBatch, _ctx: &mut batchline::Context| {})
///     .run(&RunSpec::new(2).observer(recorder.clone()))?;
/// assert_eq!(
///     recorder.listing(),
///     "batch #1 is created\n    action 1 started\n    action 1 finished\n\
///      batch #2 is created\n    action 1 started\n    action 1 finished\n"
/// );
/// # Ok::<(), batchline::PipelineError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct EventRecorder {
    events: Arc<Mutex<Vec<Event>>>,
}

impl EventRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events recorded so far, in time order.
    pub fn events(&self) -> Vec<Event> {
        let mut events = self.events.lock().clone();
        events.sort_by_key(|e| e.time);
        events
    }

    /// Forgets every recorded event.
    pub fn clear(&self) {
        self.events.lock().clear();
    }

    /// The seed's listing of the recorded events: see [`listing`].
    pub fn listing(&self) -> String {
        listing(&self.events())
    }

    /// The recorded events as Chrome trace-event JSON: see [`chrome_trace`].
    pub fn chrome_trace(&self) -> String {
        chrome_trace(&self.events())
    }
}

impl Observer for EventRecorder {
    fn on_event(&self, event: &Event) {
        self.events.lock().push(event.clone());
    }
}

/// One stretch of the consumer's time: waiting for batch `batch`, or holding it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConsumerSpan {
    pub(crate) batch: u64,
    pub(crate) start: Duration,
    pub(crate) end: Duration,
    pub(crate) waiting: bool,
}

/// The consumer's side of a run, from events in time order ending at `end`: it waits from
/// the start (or from releasing the batch it held) until it receives the next batch, then
/// holds that batch until it releases it (or the run ends).
pub(crate) fn consumer_spans(events: &[&Event], end: Duration) -> Vec<ConsumerSpan> {
    let mut spans = Vec::new();
    let mut asked = Some(Duration::ZERO);
    let mut held: Option<(u64, Duration)> = None;
    for e in events {
        match e.kind {
            EventKind::BatchYielded => {
                if let Some(start) = asked.take() {
                    spans.push(ConsumerSpan {
                        batch: e.batch,
                        start,
                        end: e.time,
                        waiting: true,
                    });
                }
                held = Some((e.batch, e.time));
            }
            EventKind::BatchReleased => {
                if let Some((batch, got)) = held.filter(|(b, _)| *b == e.batch) {
                    spans.push(ConsumerSpan {
                        batch,
                        start: got,
                        end: e.time,
                        waiting: false,
                    });
                    held = None;
                    asked = Some(e.time);
                }
            }
            _ => {}
        }
    }
    if let Some((batch, got)) = held {
        spans.push(ConsumerSpan {
            batch,
            start: got,
            end: end.max(got),
            waiting: false,
        });
    }
    spans
}

/// Renders events in the format of BatchFlow's documentation: `batch #1 is created`,
/// `    action 1 started`, `    action 1 finished`, … Batches are numbered from 1 as there.
///
/// When the batches' events interleave (prefetch), action lines name their batch:
/// `    action 1 started for batch #2`. Events are taken in the order given (sort them by time
/// first); other kinds of events are left out.
pub fn listing(events: &[Event]) -> String {
    let interleaved = events.windows(2).any(|w| w[1].batch < w[0].batch) || batches_overlap(events);
    let mut out = String::new();
    for e in events {
        let n = e.batch + 1;
        let suffix = if interleaved {
            format!(" for batch #{n}")
        } else {
            String::new()
        };
        match &e.kind {
            EventKind::BatchCreated => {
                let _ = writeln!(out, "batch #{n} is created");
            }
            EventKind::ActionStarted { action } => {
                let _ = writeln!(out, "    {action} started{suffix}");
            }
            EventKind::ActionFinished { action } => {
                let _ = writeln!(out, "    {action} finished{suffix}");
            }
            _ => {}
        }
    }
    out
}

/// Whether a batch's creation comes before the previous batch's last action event.
fn batches_overlap(events: &[Event]) -> bool {
    let mut last_action: HashMap<u64, usize> = HashMap::new();
    let mut created: HashMap<u64, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        match e.kind {
            EventKind::BatchCreated => {
                created.insert(e.batch, i);
            }
            EventKind::ActionStarted { .. } | EventKind::ActionFinished { .. } => {
                last_action.insert(e.batch, i);
            }
            _ => {}
        }
    }
    created.iter().any(|(&b, &at)| {
        b > 0
            && last_action
                .get(&(b - 1))
                .is_some_and(|&prev_last| prev_last > at)
    })
}

/// Renders events as Chrome trace-event JSON (open it in Perfetto or `chrome://tracing`).
///
/// Each action execution is a complete (`"X"`) event on the lane of the thread that ran it,
/// named after the action, with the batch number in its arguments; lock waits are `"X"` events
/// in the `lock` category; batch creation, readiness, delivery and release are instant
/// events. Lane 0 is the consumer's thread.
pub fn chrome_trace(events: &[Event]) -> String {
    use serde_json::{json, Value};
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut out: Vec<Value> = Vec::new();
    let mut open: HashMap<(usize, u64, Arc<str>), Duration> = HashMap::new();
    let mut waiting: HashMap<(usize, u64, Arc<str>), Duration> = HashMap::new();
    let mut lanes = std::collections::BTreeSet::new();
    for e in events {
        lanes.insert(e.worker);
        let instant = |name: &str| {
            json!({"name": name, "cat": "batch", "ph": "i", "s": "t", "ts": us(e.time),
                   "pid": 1, "tid": e.worker, "args": {"batch": e.batch}})
        };
        match &e.kind {
            EventKind::ActionStarted { action } => {
                open.insert((e.worker, e.batch, Arc::clone(action)), e.time);
            }
            EventKind::ActionFinished { action } => {
                if let Some(start) = open.remove(&(e.worker, e.batch, Arc::clone(action))) {
                    out.push(json!({"name": &**action, "cat": "action", "ph": "X",
                        "ts": us(start), "dur": us(e.time - start), "pid": 1, "tid": e.worker,
                        "args": {"batch": e.batch}}));
                }
            }
            EventKind::LockWaiting { lock } => {
                waiting.insert((e.worker, e.batch, Arc::clone(lock)), e.time);
            }
            EventKind::LockAcquired { lock } => {
                if let Some(start) = waiting.remove(&(e.worker, e.batch, Arc::clone(lock))) {
                    out.push(
                        json!({"name": format!("wait {lock}"), "cat": "lock", "ph": "X",
                        "ts": us(start), "dur": us(e.time - start), "pid": 1, "tid": e.worker,
                        "args": {"batch": e.batch}}),
                    );
                }
            }
            EventKind::LockReleased { .. } => {}
            EventKind::BatchCreated => out.push(instant("created")),
            EventKind::BatchReady => out.push(instant("ready")),
            EventKind::BatchSkipped => out.push(instant("skipped")),
            EventKind::BatchStopped => out.push(instant("stopped")),
            EventKind::BatchFailed => out.push(instant("failed")),
            EventKind::BatchCancelled => out.push(instant("cancelled")),
            EventKind::BatchYielded => out.push(instant("yielded")),
            EventKind::BatchReleased => out.push(instant("released")),
        }
    }
    for lane in lanes {
        let name = if lane == 0 {
            "consumer".to_string()
        } else {
            format!("worker {lane}")
        };
        out.push(
            json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": lane,
                        "args": {"name": name}}),
        );
    }
    json!({"traceEvents": out, "displayTimeUnit": "ms"}).to_string()
}

//! [`Timeline`]: the events of a run as a picture — one lane per worker and one for the
//! consumer, a bar per action execution coloured by action, lock waits hatched, batch numbers
//! on the bars. Rendered as SVG, or as PNG with the `image` feature.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::events::consumer_spans;
use super::{Event, EventKind};

/// What a bar shows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BarKind {
    /// An action ran on the batch (the index of the action in [`Timeline::actions`]).
    Action(usize),
    /// The batch waited for a lock or an ordered turn.
    LockWait(Arc<str>),
    /// The consumer waited for the batch.
    ConsumerWait,
    /// The consumer held the batch (between receiving it and asking for the next).
    ConsumerHold,
}

/// One bar of a lane.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bar {
    /// When it starts, from the start of the run.
    pub start: Duration,
    /// When it ends.
    pub end: Duration,
    /// The batch it is about (numbered from 0; drawn as `#n+1`, like the listing).
    pub batch: u64,
    /// What it shows.
    pub kind: BarKind,
}

/// A lane: a worker thread, or the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lane {
    /// Its label.
    pub label: String,
    /// Its bars, in time order.
    pub bars: Vec<Bar>,
}

/// The timeline of a run, built from its events.
///
/// # Examples
///
/// ```
/// use batchline::IdsBatch;
/// use batchline::Timeline;
/// use batchline::{Context, Dataset, DatasetIndex, EventRecorder, RunSpec};
///
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(8), ());
/// let recorder = EventRecorder::new();
/// ds.p()
///     .apply("load", |_: &mut IdsBatch, _: &mut Context| {})
///     .run(&RunSpec::new(2).prefetch(1).observer(recorder.clone()))?;
/// let timeline = Timeline::from_events(&recorder.events());
/// let svg = timeline.to_svg();
/// assert!(svg.starts_with("<svg") && svg.matches("class=\"action\"").count() == 4);
/// # Ok::<(), batchline::PipelineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The action names, in the order they first ran (their colours follow this order).
    pub actions: Vec<Arc<str>>,
    /// The consumer's lane first, then one per worker thread.
    pub lanes: Vec<Lane>,
    /// The time of the last event.
    pub end: Duration,
}

/// Colours of actions, in order (a qualitative palette that reads on white).
const PALETTE: [[u8; 3]; 10] = [
    [0x4e, 0x79, 0xa7],
    [0xf2, 0x8e, 0x2b],
    [0x59, 0xa1, 0x4f],
    [0xe1, 0x57, 0x59],
    [0x76, 0xb7, 0xb2],
    [0xed, 0xc9, 0x48],
    [0xb0, 0x7a, 0xa1],
    [0xff, 0x9d, 0xa7],
    [0x9c, 0x75, 0x5f],
    [0xba, 0xb0, 0xac],
];
pub(super) const WAIT: [u8; 3] = [0xdd, 0xdd, 0xdd];
pub(super) const HOLD: [u8; 3] = [0x88, 0x88, 0x88];
pub(super) const LOCK: [u8; 3] = [0xc0, 0x39, 0x2b];

pub(super) fn colour(kind: &BarKind) -> [u8; 3] {
    match kind {
        BarKind::Action(i) => PALETTE[i % PALETTE.len()],
        BarKind::LockWait(_) => LOCK,
        BarKind::ConsumerWait => WAIT,
        BarKind::ConsumerHold => HOLD,
    }
}

impl Timeline {
    /// Builds the timeline of a run from its events (in any order).
    pub fn from_events(events: &[Event]) -> Self {
        let mut events: Vec<&Event> = events.iter().collect();
        events.sort_by_key(|e| e.time);
        let end = events.last().map_or(Duration::ZERO, |e| e.time);
        let mut actions: Vec<Arc<str>> = Vec::new();
        let mut workers: BTreeMap<usize, Vec<Bar>> = BTreeMap::new();
        let mut open: HashMap<(u64, usize, Arc<str>), Duration> = HashMap::new();
        let mut waits: HashMap<(u64, usize, Arc<str>), Duration> = HashMap::new();
        for e in &events {
            match &e.kind {
                EventKind::ActionStarted { action } => {
                    open.insert((e.batch, e.worker, Arc::clone(action)), e.time);
                }
                EventKind::ActionFinished { action } => {
                    if let Some(start) = open.remove(&(e.batch, e.worker, Arc::clone(action))) {
                        let i = match actions.iter().position(|a| a == action) {
                            Some(i) => i,
                            None => {
                                actions.push(Arc::clone(action));
                                actions.len() - 1
                            }
                        };
                        workers.entry(e.worker).or_default().push(Bar {
                            start,
                            end: e.time,
                            batch: e.batch,
                            kind: BarKind::Action(i),
                        });
                    }
                }
                EventKind::LockWaiting { lock } => {
                    waits
                        .entry((e.batch, e.worker, Arc::clone(lock)))
                        .or_insert(e.time);
                }
                EventKind::LockAcquired { lock } => {
                    if let Some(start) = waits.remove(&(e.batch, e.worker, Arc::clone(lock))) {
                        workers.entry(e.worker).or_default().push(Bar {
                            start,
                            end: e.time,
                            batch: e.batch,
                            kind: BarKind::LockWait(Arc::clone(lock)),
                        });
                    }
                }
                _ => {}
            }
        }
        let consumer = consumer_spans(&events, end)
            .into_iter()
            .map(|c| Bar {
                start: c.start,
                end: c.end,
                batch: c.batch,
                kind: if c.waiting {
                    BarKind::ConsumerWait
                } else {
                    BarKind::ConsumerHold
                },
            })
            .collect();
        let mut lanes = vec![Lane {
            label: "consumer".into(),
            bars: consumer,
        }];
        for (w, mut bars) in workers {
            bars.sort_by_key(|b| b.start);
            lanes.push(Lane {
                label: if w == 0 {
                    "consumer thread".into()
                } else {
                    format!("worker {w}")
                },
                bars,
            });
        }
        Self {
            actions,
            lanes,
            end,
        }
    }

    /// The number of bars that show an action execution.
    pub fn action_bars(&self) -> usize {
        self.lanes
            .iter()
            .flat_map(|l| &l.bars)
            .filter(|b| matches!(b.kind, BarKind::Action(_)))
            .count()
    }

    pub(super) fn layout(&self, width: u32) -> Layout {
        Layout {
            left: 130,
            top: 24,
            lane: 26,
            plot: width.saturating_sub(150).max(1),
            end: self.end.as_secs_f64().max(1e-9),
        }
    }
}

pub(super) struct Layout {
    pub(super) left: u32,
    pub(super) top: u32,
    pub(super) lane: u32,
    pub(super) plot: u32,
    pub(super) end: f64,
}

impl Layout {
    pub(super) fn x(&self, secs: f64) -> f64 {
        self.left as f64 + secs / self.end * self.plot as f64
    }
}

/// A round step (1, 2 or 5 × a power of ten) near `rough`.
pub(super) fn nice_step(rough: f64) -> f64 {
    if rough <= 0.0 || !rough.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * p)
}

pub(super) fn fmt_ms(t: f64) -> String {
    if (t - t.round()).abs() < 1e-6 {
        format!("{}", t.round())
    } else {
        format!("{t:.2}")
    }
}

pub(super) fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

//! [`Timeline`]: the events of a run as a picture — one lane per worker and one for the
//! consumer, a bar per action execution coloured by action, lock waits hatched, batch numbers
//! on the bars. Rendered as SVG, or as PNG with the `image` feature.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt::Write as _;
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
/// use batchline::batch::IdsBatch;
/// use batchline::exec::Timeline;
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
const WAIT: [u8; 3] = [0xdd, 0xdd, 0xdd];
const HOLD: [u8; 3] = [0x88, 0x88, 0x88];
const LOCK: [u8; 3] = [0xc0, 0x39, 0x2b];

fn colour(kind: &BarKind) -> [u8; 3] {
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

    fn layout(&self, width: u32) -> Layout {
        Layout {
            left: 130,
            top: 24,
            lane: 26,
            plot: width.saturating_sub(150).max(1),
            end: self.end.as_secs_f64().max(1e-9),
        }
    }

    /// The timeline as an SVG document (`width` pixels wide; the height follows the lanes).
    ///
    /// Each action execution is a `<rect class="action">` with a `<title>` (action, batch,
    /// times) and, when wide enough, the batch number; lock waits are hatched
    /// (`class="lock-wait"`); the consumer's lane shows when it waited (light) and when it held
    /// a batch (dark). A legend of the actions' colours closes the picture.
    pub fn to_svg_width(&self, width: u32) -> String {
        let lay = self.layout(width);
        let legend_top = lay.top + lay.lane * self.lanes.len() as u32 + 28;
        let height = legend_top + 22 * (self.actions.len() as u32 + 2).div_ceil(3) + 10;
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fbe3e0"/><line x1="0" y1="0" x2="0" y2="6" stroke="{lock}" stroke-width="3"/></pattern></defs>
<rect width="100%" height="100%" fill="white"/>
"##,
            lock = hex(LOCK)
        );
        // Time axis.
        let step = nice_step(self.end.as_secs_f64() * 1e3 / 8.0);
        let mut t = 0.0;
        while t <= self.end.as_secs_f64() * 1e3 + 1e-9 {
            let x = lay.x(t / 1e3);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#666">{} ms</text>"##,
                lay.top - 4,
                lay.top + lay.lane * self.lanes.len() as u32,
                lay.top - 8,
                fmt_ms(t)
            );
            t += step;
        }
        for (i, lane) in self.lanes.iter().enumerate() {
            let y = lay.top + lay.lane * i as u32;
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##,
                lay.left - 8,
                y + lay.lane / 2 + 4,
                escape(&lane.label)
            );
            for bar in &lane.bars {
                let (x0, x1) = (lay.x(bar.start.as_secs_f64()), lay.x(bar.end.as_secs_f64()));
                let w = (x1 - x0).max(0.5);
                let (class, fill, what) = match &bar.kind {
                    BarKind::Action(a) => (
                        "action",
                        hex(colour(&bar.kind)),
                        self.actions[*a].to_string(),
                    ),
                    BarKind::LockWait(l) => (
                        "lock-wait",
                        "url(#hatch)".to_string(),
                        format!("waits for lock {l}"),
                    ),
                    BarKind::ConsumerWait => {
                        ("consumer-wait", hex(WAIT), "consumer waits".to_string())
                    }
                    BarKind::ConsumerHold => {
                        ("consumer-hold", hex(HOLD), "consumer holds".to_string())
                    }
                };
                let _ = write!(
                    s,
                    r##"<rect class="{class}" x="{x0:.2}" y="{}" width="{w:.2}" height="{}" fill="{fill}"><title>{} #{}: {:.3}–{:.3} ms</title></rect>"##,
                    y + 3,
                    lay.lane - 6,
                    escape(&what),
                    bar.batch + 1,
                    bar.start.as_secs_f64() * 1e3,
                    bar.end.as_secs_f64() * 1e3,
                );
                let label = format!("#{}", bar.batch + 1);
                if w >= 7.0 * label.len() as f64
                    && !matches!(bar.kind, BarKind::ConsumerWait | BarKind::LockWait(_))
                {
                    let _ = write!(
                        s,
                        r##"<text x="{:.2}" y="{}" text-anchor="middle" fill="white">{label}</text>"##,
                        x0 + w / 2.0,
                        y + lay.lane / 2 + 4
                    );
                }
                s.push('\n');
            }
        }
        // Legend.
        let mut entries: Vec<(String, String)> = self
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| (a.to_string(), hex(colour(&BarKind::Action(i)))))
            .collect();
        entries.push(("lock wait".into(), "url(#hatch)".into()));
        entries.push(("consumer waits / holds".into(), hex(WAIT)));
        for (i, (name, fill)) in entries.iter().enumerate() {
            let x = lay.left + (i as u32 % 3) * 240;
            let y = legend_top + 22 * (i as u32 / 3);
            let _ = writeln!(
                s,
                r##"<rect x="{x}" y="{}" width="14" height="14" fill="{fill}" stroke="#999"/><text x="{}" y="{}">{}</text>"##,
                y - 11,
                x + 20,
                y,
                escape(name)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// The timeline as an SVG document 1200 pixels wide: see [`to_svg_width`](Self::to_svg_width).
    pub fn to_svg(&self) -> String {
        self.to_svg_width(1200)
    }

    /// The timeline as a picture `width` pixels wide (bars, hatching, lane labels and batch
    /// numbers in a small built-in font), to save as PNG with [`image::RgbImage::save`].
    #[cfg(feature = "image")]
    pub fn to_image(&self, width: u32) -> image::RgbImage {
        let lay = self.layout(width);
        let legend_top = lay.top + lay.lane * self.lanes.len() as u32 + 14;
        let height = legend_top + 20 * (self.actions.len() as u32 + 2).div_ceil(3) + 8;
        let mut img = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
        let step = nice_step(self.end.as_secs_f64() * 1e3 / 8.0);
        let mut t = 0.0;
        while t <= self.end.as_secs_f64() * 1e3 + 1e-9 {
            let x = lay.x(t / 1e3) as u32;
            fill(
                &mut img,
                x,
                lay.top - 2,
                1,
                lay.lane * self.lanes.len() as u32,
                [0xee; 3],
            );
            let label = format!("{}MS", fmt_ms(t));
            font::draw(
                &mut img,
                x.saturating_sub(font::width(&label) / 2),
                4,
                &label,
                [0x66; 3],
            );
            t += step;
        }
        for (i, lane) in self.lanes.iter().enumerate() {
            let y = lay.top + lay.lane * i as u32;
            let label = lane.label.to_uppercase();
            font::draw(
                &mut img,
                (lay.left - 8).saturating_sub(font::width(&label)),
                y + lay.lane / 2 - 5,
                &label,
                [0; 3],
            );
            for bar in &lane.bars {
                let x0 = lay.x(bar.start.as_secs_f64()) as u32;
                let x1 = (lay.x(bar.end.as_secs_f64()) as u32).max(x0 + 1);
                let (y0, h) = (y + 3, lay.lane - 6);
                if let BarKind::LockWait(_) = bar.kind {
                    fill(&mut img, x0, y0, x1 - x0, h, [0xfb, 0xe3, 0xe0]);
                    for yy in y0..(y0 + h).min(img.height()) {
                        for xx in x0..x1.min(img.width()) {
                            if (xx + yy) % 6 < 2 {
                                img.put_pixel(xx, yy, image::Rgb(LOCK));
                            }
                        }
                    }
                } else {
                    fill(&mut img, x0, y0, x1 - x0, h, colour(&bar.kind));
                }
                let label = format!("#{}", bar.batch + 1);
                let lw = font::width(&label);
                if x1 - x0 >= lw + 4
                    && !matches!(bar.kind, BarKind::ConsumerWait | BarKind::LockWait(_))
                {
                    font::draw(
                        &mut img,
                        x0 + (x1 - x0 - lw) / 2,
                        y0 + h / 2 - 5,
                        &label,
                        [255; 3],
                    );
                }
            }
        }
        let mut entries: Vec<(String, [u8; 3])> = self
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| (a.to_uppercase(), colour(&BarKind::Action(i))))
            .collect();
        entries.push(("LOCK WAIT".into(), LOCK));
        entries.push(("CONSUMER WAITS / HOLDS".into(), WAIT));
        for (i, (name, c)) in entries.iter().enumerate() {
            let x = lay.left + (i as u32 % 3) * 240;
            let y = legend_top + 20 * (i as u32 / 3);
            fill(&mut img, x, y, 14, 14, *c);
            font::draw(&mut img, x + 20, y + 2, name, [0; 3]);
        }
        img
    }
}

#[cfg(feature = "image")]
fn fill(img: &mut image::RgbImage, x: u32, y: u32, w: u32, h: u32, c: [u8; 3]) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, image::Rgb(c));
        }
    }
}

struct Layout {
    left: u32,
    top: u32,
    lane: u32,
    plot: u32,
    end: f64,
}

impl Layout {
    fn x(&self, secs: f64) -> f64 {
        self.left as f64 + secs / self.end * self.plot as f64
    }
}

/// A round step (1, 2 or 5 × a power of ten) near `rough`.
fn nice_step(rough: f64) -> f64 {
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

fn fmt_ms(t: f64) -> String {
    if (t - t.round()).abs() < 1e-6 {
        format!("{}", t.round())
    } else {
        format!("{t:.2}")
    }
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Characters XML 1.0 forbids (control characters but tab and newlines) are dropped.
    for ch in text
        .chars()
        .filter(|&c| c >= ' ' || matches!(c, '\t' | '\n' | '\r'))
    {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A 3×5 pixel font (drawn at 2×) for the PNG: digits, capitals and a few signs.
#[cfg(feature = "image")]
mod font {
    const SCALE: u32 = 2;

    /// Rows of a glyph, top first, 3 bits each (the high bit is the left column).
    fn glyph(c: char) -> [u8; 5] {
        match c {
            '0' => [7, 5, 5, 5, 7],
            '1' => [2, 6, 2, 2, 7],
            '2' => [7, 1, 7, 4, 7],
            '3' => [7, 1, 7, 1, 7],
            '4' => [5, 5, 7, 1, 1],
            '5' => [7, 4, 7, 1, 7],
            '6' => [7, 4, 7, 5, 7],
            '7' => [7, 1, 1, 2, 2],
            '8' => [7, 5, 7, 5, 7],
            '9' => [7, 5, 7, 1, 7],
            'A' => [2, 5, 7, 5, 5],
            'B' => [6, 5, 6, 5, 6],
            'C' => [3, 4, 4, 4, 3],
            'D' => [6, 5, 5, 5, 6],
            'E' => [7, 4, 6, 4, 7],
            'F' => [7, 4, 6, 4, 4],
            'G' => [3, 4, 5, 5, 3],
            'H' => [5, 5, 7, 5, 5],
            'I' => [7, 2, 2, 2, 7],
            'J' => [1, 1, 1, 5, 2],
            'K' => [5, 5, 6, 5, 5],
            'L' => [4, 4, 4, 4, 7],
            'M' => [5, 7, 7, 5, 5],
            'N' => [6, 5, 5, 5, 5],
            'O' => [2, 5, 5, 5, 2],
            'P' => [6, 5, 6, 4, 4],
            'Q' => [2, 5, 5, 6, 3],
            'R' => [6, 5, 6, 5, 5],
            'S' => [3, 4, 2, 1, 6],
            'T' => [7, 2, 2, 2, 2],
            'U' => [5, 5, 5, 5, 7],
            'V' => [5, 5, 5, 5, 2],
            'W' => [5, 5, 7, 7, 5],
            'X' => [5, 5, 2, 5, 5],
            'Y' => [5, 5, 2, 2, 2],
            'Z' => [7, 1, 2, 4, 7],
            '#' => [5, 7, 5, 7, 5],
            '-' => [0, 0, 7, 0, 0],
            '_' => [0, 0, 0, 0, 7],
            '.' => [0, 0, 0, 0, 2],
            ':' => [0, 2, 0, 2, 0],
            '/' => [1, 1, 2, 4, 4],
            '(' => [1, 2, 2, 2, 1],
            ')' => [4, 2, 2, 2, 4],
            ' ' => [0; 5],
            _ => [7, 5, 5, 5, 7],
        }
    }

    /// The width of `text` in pixels.
    pub(super) fn width(text: &str) -> u32 {
        (text.chars().count() as u32 * 4).saturating_sub(1) * SCALE
    }

    /// Draws `text` with its top-left corner at (`x`, `y`).
    pub(super) fn draw(img: &mut image::RgbImage, x: u32, y: u32, text: &str, c: [u8; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let rows = glyph(ch.to_ascii_uppercase());
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..3 {
                    if bits & (4 >> col) == 0 {
                        continue;
                    }
                    for dy in 0..SCALE {
                        for dx in 0..SCALE {
                            let px = x + (i as u32 * 4 + col) * SCALE + dx;
                            let py = y + r as u32 * SCALE + dy;
                            if px < img.width() && py < img.height() {
                                img.put_pixel(px, py, image::Rgb(c));
                            }
                        }
                    }
                }
            }
        }
    }
}

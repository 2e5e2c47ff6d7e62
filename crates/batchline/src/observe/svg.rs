//! The [`Timeline`] as SVG.

use std::fmt::Write as _;

use super::timeline::{colour, fmt_ms, hex, nice_step, HOLD, LOCK, WAIT};
use super::{BarKind, Timeline};

impl Timeline {
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
}

pub(super) fn escape(text: &str) -> String {
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

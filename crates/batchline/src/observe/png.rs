//! The [`Timeline`] as a raster picture (PNG), drawn with a small built-in font.

use super::font;
use super::timeline::{colour, fmt_ms, nice_step, LOCK, WAIT};
use super::{BarKind, Timeline};

impl Timeline {
    /// The timeline as a picture `width` pixels wide (bars, hatching, lane labels and batch
    /// numbers in a small built-in font), to save as PNG with [`image::RgbImage::save`].
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
            let label = format!("{} ms", fmt_ms(t));
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
            let label = lane.label.clone();
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
            .map(|(i, a)| (a.to_string(), colour(&BarKind::Action(i))))
            .collect();
        entries.push(("lock wait".into(), LOCK));
        entries.push(("consumer waits / holds".into(), WAIT));
        for (i, (name, c)) in entries.iter().enumerate() {
            let x = lay.left + (i as u32 % 3) * 240;
            let y = legend_top + 20 * (i as u32 / 3);
            fill(&mut img, x, y, 14, 14, *c);
            font::draw(&mut img, x + 20, y + 2, name, [0; 3]);
        }
        img
    }
}

fn fill(img: &mut image::RgbImage, x: u32, y: u32, w: u32, h: u32, c: [u8; 3]) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, image::Rgb(c));
        }
    }
}

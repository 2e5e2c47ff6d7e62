//! torchvision's transforms on one 8-bit image, with torchvision's arithmetic (its tensor
//! functions: blends truncate to `u8`, blurs round) and its parameter sampling; the actions
//! of [`ImagesTransforms`](super::ImagesTransforms) call them.

use image::DynamicImage;
use rand::seq::SliceRandom;
use rand::Rng;

use super::ops::{self, channels, raw_mut};

/// Python's `int(round(x))`: halves to even.
fn py_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// The size after `Resize(side)`: the shorter side becomes `side`, the longer
/// `int(side * long / short)` (truncated, as torchvision).
pub(super) fn shorter_side_size(width: u32, height: u32, side: u32) -> (u32, u32) {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long = ((side as f64 * long as f64 / short.max(1) as f64) as u32).max(1);
    if width <= height {
        (side, new_long)
    } else {
        (new_long, side)
    }
}

/// `RandomResizedCrop.get_params`: the window `(x, y, w, h)` — 10 tries of an area drawn from
/// `scale` and a log-uniform aspect ratio from `ratio`, then the central crop.
pub(super) fn rrc_params(
    rng: &mut impl Rng,
    width: u32,
    height: u32,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> (u32, u32, u32, u32) {
    let (w0, h0) = (width as f64, height as f64);
    let area = w0 * h0;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * uniform(rng, scale.0, scale.1);
        let aspect = uniform(rng, lr0, lr1).exp();
        let w = py_round((target * aspect).sqrt());
        let h = py_round((target / aspect).sqrt());
        if 0 < w && w <= width as i64 && 0 < h && h <= height as i64 {
            let y = rng.random_range(0..=height - h as u32);
            let x = rng.random_range(0..=width - w as u32);
            return (x, y, w as u32, h as u32);
        }
    }
    let in_ratio = w0 / h0;
    let (w, h) = if in_ratio < ratio.0.min(ratio.1) {
        (width, py_round(w0 / ratio.0.min(ratio.1)) as u32)
    } else if in_ratio > ratio.0.max(ratio.1) {
        (py_round(h0 * ratio.0.max(ratio.1)) as u32, height)
    } else {
        (width, height)
    };
    ((width - w) / 2, (height - h) / 2, w, h)
}

/// A uniform draw from `[a, b)` (`a` when the range is empty, as `torch.empty(1).uniform_`).
pub(super) fn uniform(rng: &mut impl Rng, a: f64, b: f64) -> f64 {
    if b > a {
        rng.random_range(a..b)
    } else {
        a
    }
}

/// The colour jitter of one image: the order of the four adjustments (0 brightness,
/// 1 contrast, 2 saturation, 3 hue) and their factors (`None`: not asked for).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Jitter {
    pub(super) order: [usize; 4],
    pub(super) factors: [Option<f64>; 4],
}

/// `ColorJitter.get_params`: a random order, factors uniform in `[max(0, 1 − x), 1 + x]` for
/// brightness, contrast and saturation, `[−hue, hue]` for hue; 0 means "not asked for".
pub(super) fn jitter_params(rng: &mut impl Rng, amounts: [f64; 4]) -> Jitter {
    let mut order = [0, 1, 2, 3];
    order.shuffle(rng);
    let factors = std::array::from_fn(|k| {
        let x = amounts[k];
        (x > 0.0).then(|| {
            if k == 3 {
                uniform(rng, -x, x)
            } else {
                uniform(rng, (1.0 - x).max(0.0), 1.0 + x)
            }
        })
    });
    Jitter { order, factors }
}

pub(super) fn apply_jitter(img: &mut DynamicImage, j: &Jitter) {
    for &k in &j.order {
        if let Some(f) = j.factors[k] {
            match k {
                0 => brightness(img, f),
                1 => contrast(img, f),
                2 => saturation(img, f),
                _ => hue(img, f),
            }
        }
    }
}

/// torchvision's `_blend` on `u8`: `clamp(f·a + (1 − f)·b, 0, 255)`, truncated.
fn blend(a: u8, b: f64, f: f64) -> u8 {
    // In f32, as torch.
    let (b, f) = (b as f32, f as f32);
    (f * a as f32 + (1.0 - f) * b).clamp(0.0, 255.0) as u8
}

/// The colour channels and the channel count of an image.
fn colour_channels(img: &DynamicImage) -> (usize, usize) {
    let (c, alpha) = channels(img);
    (if alpha { c - 1 } else { c }, c)
}

/// torchvision's `rgb_to_grayscale` of one pixel, truncated to `u8` (grey stays grey).
fn grey_of(px: &[u8], colour: usize) -> u8 {
    if colour < 3 {
        return px[0];
    }
    (0.2989_f32 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32) as u8
}

pub(super) fn brightness(img: &mut DynamicImage, f: f64) {
    let (colour, c) = colour_channels(img);
    for px in raw_mut(img).chunks_exact_mut(c) {
        for v in &mut px[..colour] {
            *v = blend(*v, 0.0, f);
        }
    }
}

pub(super) fn contrast(img: &mut DynamicImage, f: f64) {
    let (colour, c) = colour_channels(img);
    let bytes = raw_mut(img);
    let n = (bytes.len() / c).max(1);
    let mean = bytes
        .chunks_exact(c)
        .map(|px| grey_of(px, colour) as f64)
        .sum::<f64>()
        / n as f64;
    for px in bytes.chunks_exact_mut(c) {
        for v in &mut px[..colour] {
            *v = blend(*v, mean, f);
        }
    }
}

pub(super) fn saturation(img: &mut DynamicImage, f: f64) {
    let (colour, c) = colour_channels(img);
    if colour < 3 {
        return;
    }
    for px in raw_mut(img).chunks_exact_mut(c) {
        let g = grey_of(px, colour) as f64;
        for v in &mut px[..3] {
            *v = blend(*v, g, f);
        }
    }
}

/// torchvision's `adjust_hue`: through HSV (in `f32`, as torch), the hue turned by `f` (a
/// fraction of the circle), back to RGB, `× 255` truncated.
pub(super) fn hue(img: &mut DynamicImage, f: f64) {
    let (colour, c) = colour_channels(img);
    if colour < 3 {
        return;
    }
    let f = f as f32;
    for px in raw_mut(img).chunks_exact_mut(c) {
        let (r, g, b) = (
            px[0] as f32 / 255.0,
            px[1] as f32 / 255.0,
            px[2] as f32 / 255.0,
        );
        let max = r.max(g).max(b);
        let min = r.min(g).min(b);
        let cr = max - min;
        let s = cr / if max == 0.0 { 1.0 } else { max };
        let crd = if cr == 0.0 { 1.0 } else { cr };
        let (rc, gc, bc) = ((max - r) / crd, (max - g) / crd, (max - b) / crd);
        let hr = if max == r { bc - gc } else { 0.0 };
        let hg = if max == g && max != r {
            2.0 + rc - bc
        } else {
            0.0
        };
        let hb = if max != g && max != r {
            4.0 + gc - rc
        } else {
            0.0
        };
        let h = ((hr + hg + hb) / 6.0 + 1.0).rem_euclid(1.0);
        let h = (h + f).rem_euclid(1.0);
        let v = max;
        let i = (h * 6.0).floor();
        let fr = h * 6.0 - i;
        let i = (i as i32).rem_euclid(6);
        let p = (v * (1.0 - s)).clamp(0.0, 1.0);
        let q = (v * (1.0 - s * fr)).clamp(0.0, 1.0);
        let t = (v * (1.0 - s * (1.0 - fr))).clamp(0.0, 1.0);
        let (r, g, b) = match i {
            0 => (v, t, p),
            1 => (q, v, p),
            2 => (p, v, t),
            3 => (p, q, v),
            4 => (t, p, v),
            _ => (v, p, q),
        };
        px[0] = (r * 255.0) as u8;
        px[1] = (g * 255.0) as u8;
        px[2] = (b * 255.0) as u8;
    }
}

/// Grey in every colour channel (torchvision's `Grayscale(num_output_channels = c)`).
pub(super) fn grey_keep_channels(img: &mut DynamicImage) {
    let (colour, c) = colour_channels(img);
    for px in raw_mut(img).chunks_exact_mut(c) {
        let g = grey_of(px, colour);
        px[..colour].fill(g);
    }
}

/// torchvision's Gaussian kernel: `exp(−x²/2σ²)` at `x = −(k−1)/2 … (k−1)/2`, normalised.
pub(super) fn gaussian_kernel(size: usize, sigma: f64) -> Vec<f32> {
    let half = (size as f64 - 1.0) / 2.0;
    let k: Vec<f64> = (0..size)
        .map(|i| (-0.5 * ((i as f64 - half) / sigma).powi(2)).exp())
        .collect();
    let sum: f64 = k.iter().sum();
    k.iter().map(|v| (v / sum) as f32).collect()
}

/// Reflect padding (without repeating the edge, as `torch.nn.functional.pad(mode="reflect")`).
fn reflect(i: i64, n: i64) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - m }) as usize
}

/// A separable Gaussian blur of every channel with reflect padding, rounded (torchvision's
/// `gaussian_blur` on `u8`).
pub(super) fn gaussian_blur(img: &mut DynamicImage, size: usize, sigma: f64) {
    let kernel = gaussian_kernel(size, sigma);
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (_, c) = colour_channels(img);
    let half = (size / 2) as i64;
    let bytes = raw_mut(img);
    let mut rows = vec![0.0_f32; bytes.len()];
    for y in 0..h {
        for x in 0..w {
            for k in 0..c {
                let mut acc = 0.0;
                for (t, &kv) in kernel.iter().enumerate() {
                    let sx = reflect(x as i64 + t as i64 - half, w as i64);
                    acc += kv * bytes[(y * w + sx) * c + k] as f32;
                }
                rows[(y * w + x) * c + k] = acc;
            }
        }
    }
    for y in 0..h {
        for x in 0..w {
            for k in 0..c {
                let mut acc = 0.0;
                for (t, &kv) in kernel.iter().enumerate() {
                    let sy = reflect(y as i64 + t as i64 - half, h as i64);
                    acc += kv * rows[(sy * w + x) * c + k];
                }
                bytes[(y * w + x) * c + k] = acc.round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// `RandomErasing.get_params`: the window `(x, y, w, h)` to erase, or `None` when 10 tries
/// found none that fits strictly inside.
pub(super) fn erasing_params(
    rng: &mut impl Rng,
    width: u32,
    height: u32,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> Option<(u32, u32, u32, u32)> {
    let area = width as f64 * height as f64;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * uniform(rng, scale.0, scale.1);
        let aspect = uniform(rng, lr0, lr1).exp();
        let h = py_round((target * aspect).sqrt());
        let w = py_round((target / aspect).sqrt());
        if !(h < height as i64 && w < width as i64) || h <= 0 || w <= 0 {
            continue;
        }
        let y = rng.random_range(0..=height - h as u32);
        let x = rng.random_range(0..=width - w as u32);
        return Some((x, y, w as u32, h as u32));
    }
    None
}

/// An operation of TrivialAugmentWide with its signed magnitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Op {
    Identity,
    ShearX(f64),
    ShearY(f64),
    TranslateX(f64),
    TranslateY(f64),
    Rotate(f64),
    Brightness(f64),
    Colour(f64),
    Contrast(f64),
    Sharpness(f64),
    Posterize(u32),
    Solarize(f64),
    AutoContrast,
    Equalize,
}

impl Op {
    /// Whether the operation moves pixels (and so applies to masks as well).
    pub(super) fn is_geometric(&self) -> bool {
        matches!(
            self,
            Op::ShearX(_) | Op::ShearY(_) | Op::TranslateX(_) | Op::TranslateY(_) | Op::Rotate(_)
        )
    }
}

/// `TrivialAugmentWide`'s draw (31 bins): an operation uniformly, a bin uniformly, and a
/// random sign for the signed ones.
pub(super) fn trivial_augment_op(rng: &mut impl Rng) -> Op {
    const BINS: usize = 31;
    let op = rng.random_range(0..14);
    let bin = rng.random_range(0..BINS) as f64;
    let lin = |a: f64, b: f64| a + (b - a) * bin / (BINS as f64 - 1.0);
    let mut signed = |m: f64| if rng.random_bool(0.5) { -m } else { m };
    match op {
        0 => Op::Identity,
        1 => Op::ShearX(signed(lin(0.0, 0.99))),
        2 => Op::ShearY(signed(lin(0.0, 0.99))),
        3 => Op::TranslateX(signed(lin(0.0, 32.0))),
        4 => Op::TranslateY(signed(lin(0.0, 32.0))),
        5 => Op::Rotate(signed(lin(0.0, 135.0))),
        6 => Op::Brightness(signed(lin(0.0, 0.99))),
        7 => Op::Colour(signed(lin(0.0, 0.99))),
        8 => Op::Contrast(signed(lin(0.0, 0.99))),
        9 => Op::Sharpness(signed(lin(0.0, 0.99))),
        10 => Op::Posterize((8.0 - (bin / ((BINS as f64 - 1.0) / 6.0)).round_ties_even()) as u32),
        11 => Op::Solarize(lin(255.0, 0.0)),
        12 => Op::AutoContrast,
        _ => Op::Equalize,
    }
}

/// An affine map by nearest neighbour, filled with 0: pixel `(x, y)` takes the source pixel
/// `src(x, y)` (rounded halves to even, as `grid_sample`).
fn remap(img: &DynamicImage, src: impl Fn(f64, f64) -> (f64, f64)) -> DynamicImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (_, c) = colour_channels(img);
    let from = img.as_bytes();
    let mut out = vec![0u8; from.len()];
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = src(x as f64, y as f64);
            let (sx, sy) = (sx.round_ties_even(), sy.round_ties_even());
            if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                let (i, o) = ((sy as usize * w + sx as usize) * c, (y * w + x) * c);
                out[o..o + c].copy_from_slice(&from[i..i + c]);
            }
        }
    }
    ops::rebuild(img, img.width(), img.height(), out)
}

/// Applies a TrivialAugmentWide operation (masks: only the geometric ones, by nearest).
pub(super) fn apply_op(img: &mut DynamicImage, op: Op) {
    match op {
        Op::Identity => {}
        // torchvision's affine with centre (0, 0): shear by atan(m) maps x to x + m·(y + ½).
        Op::ShearX(m) => *img = remap(img, |x, y| (x + m * (y + 0.5), y)),
        Op::ShearY(m) => *img = remap(img, |x, y| (x, y + m * (x + 0.5))),
        Op::TranslateX(t) => {
            let t = t.trunc();
            *img = remap(img, |x, y| (x - t, y))
        }
        Op::TranslateY(t) => {
            let t = t.trunc();
            *img = remap(img, |x, y| (x, y - t))
        }
        Op::Rotate(deg) => *img = ops::rotate(img, deg as f32, 0, ops::Filter::Nearest),
        Op::Brightness(m) => brightness(img, 1.0 + m),
        Op::Colour(m) => saturation(img, 1.0 + m),
        Op::Contrast(m) => contrast(img, 1.0 + m),
        Op::Sharpness(m) => sharpness(img, 1.0 + m),
        Op::Posterize(bits) => {
            let mask = !((1u16 << (8 - bits.min(8))) - 1) as u8;
            map_colour(img, |v| v & mask);
        }
        Op::Solarize(t) => map_colour(img, |v| if v as f64 >= t { 255 - v } else { v }),
        Op::AutoContrast => auto_contrast(img),
        Op::Equalize => equalize(img),
    }
}

fn map_colour(img: &mut DynamicImage, f: impl Fn(u8) -> u8) {
    let (colour, c) = colour_channels(img);
    for px in raw_mut(img).chunks_exact_mut(c) {
        for v in &mut px[..colour] {
            *v = f(*v);
        }
    }
}

/// torchvision's `adjust_sharpness`: a blend with the image smoothed by
/// `[[1,1,1],[1,5,1],[1,1,1]] / 13` (rounded; the border pixels kept).
pub(super) fn sharpness(img: &mut DynamicImage, f: f64) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w <= 2 || h <= 2 {
        return;
    }
    let (colour, c) = colour_channels(img);
    let src = img.as_bytes().to_vec();
    let bytes = raw_mut(img);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            for k in 0..colour {
                let mut acc = 0.0_f32;
                for dy in 0..3 {
                    for dx in 0..3 {
                        let wgt = if dx == 1 && dy == 1 { 5.0 } else { 1.0 };
                        acc += wgt * src[((y + dy - 1) * w + x + dx - 1) * c + k] as f32;
                    }
                }
                let degenerate = (acc / 13.0).round_ties_even() as f64;
                let i = (y * w + x) * c + k;
                bytes[i] = blend(src[i], degenerate, f);
            }
        }
    }
}

/// torchvision's `autocontrast`: every colour channel stretched to 0–255 (truncated).
pub(super) fn auto_contrast(img: &mut DynamicImage) {
    let (colour, c) = colour_channels(img);
    let bytes = raw_mut(img);
    for k in 0..colour {
        let (lo, hi) = bytes
            .chunks_exact(c)
            .fold((255u8, 0u8), |(lo, hi), px| (lo.min(px[k]), hi.max(px[k])));
        let (lo, scale) = if hi == lo {
            (0.0, 1.0)
        } else {
            (lo as f32, 255.0 / (hi - lo) as f32)
        };
        for px in bytes.chunks_exact_mut(c) {
            px[k] = ((px[k] as f32 - lo) * scale).clamp(0.0, 255.0) as u8;
        }
    }
}

/// torchvision's `equalize`: per colour channel, the histogram equalised with its lookup
/// table (`step = ⌊(non-zero bins but the last) / 255⌋`).
pub(super) fn equalize(img: &mut DynamicImage) {
    let (colour, c) = colour_channels(img);
    let bytes = raw_mut(img);
    for k in 0..colour {
        let mut hist = [0u64; 256];
        for px in bytes.chunks_exact(c) {
            hist[px[k] as usize] += 1;
        }
        let nonzero: Vec<u64> = hist.iter().copied().filter(|&n| n != 0).collect();
        let step = nonzero[..nonzero.len().saturating_sub(1)]
            .iter()
            .sum::<u64>()
            / 255;
        if step == 0 {
            continue;
        }
        let mut lut = [0u8; 256];
        let mut cum = 0u64;
        for (v, slot) in lut.iter_mut().enumerate() {
            // lut = pad(⌊(cumsum + ⌊step/2⌋) / step⌋, [1, 0])[:-1]: entry v uses the sum
            // before v.
            *slot = ((cum + step / 2) / step).min(255) as u8;
            cum += hist[v];
        }
        for px in bytes.chunks_exact_mut(c) {
            px[k] = lut[px[k] as usize];
        }
    }
}

#[cfg(test)]
#[path = "tv_tests.rs"]
mod tests;

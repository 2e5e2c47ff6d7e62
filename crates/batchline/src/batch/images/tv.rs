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
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(seed)
    }

    fn rgb(pixels: &[[u8; 3]]) -> DynamicImage {
        let raw = pixels.iter().flatten().copied().collect();
        DynamicImage::ImageRgb8(RgbImage::from_raw(pixels.len() as u32, 1, raw).unwrap())
    }

    fn mean_sd(v: &[f64]) -> (f64, f64) {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
        (m, var.sqrt())
    }

    #[test]
    fn shorter_side_follows_torchvision() {
        assert_eq!(shorter_side_size(500, 375, 256), (341, 256));
        assert_eq!(shorter_side_size(375, 500, 256), (256, 341));
        assert_eq!(shorter_side_size(300, 300, 224), (224, 224));
        assert_eq!(py_round(2.5), 2);
        assert_eq!(py_round(3.5), 4);
    }

    #[test]
    fn random_resized_crop_draws_area_ratio_and_place_as_asked() {
        // On 1000×1000 with scale ≤ 0.5 every first try fits: the draws are the raw ones.
        let mut r = rng(1);
        let (mut areas, mut ratios, mut places) = (vec![], vec![], vec![]);
        for _ in 0..4000 {
            let (x, y, w, h) = rrc_params(&mut r, 1000, 1000, (0.08, 0.5), (0.75, 4.0 / 3.0));
            assert!(x + w <= 1000 && y + h <= 1000 && w > 0 && h > 0);
            areas.push((w * h) as f64 / 1e6);
            ratios.push((w as f64 / h as f64).ln());
            places.push(x as f64 / (1000 - w) as f64);
        }
        let (m, sd) = mean_sd(&areas);
        // U(0.08, 0.5): mean 0.29, sd 0.42 / √12 = 0.121.
        assert!(
            (m - 0.29).abs() < 0.01 && (sd - 0.121).abs() < 0.01,
            "{m} {sd}"
        );
        let (m, sd) = mean_sd(&ratios);
        // log-uniform on (ln 3/4, ln 4/3): mean 0, sd ln(16/9) / √12 = 0.166.
        assert!(m.abs() < 0.01 && (sd - 0.166).abs() < 0.01, "{m} {sd}");
        let (m, sd) = mean_sd(&places);
        assert!(
            (m - 0.5).abs() < 0.02 && (sd - 0.289).abs() < 0.02,
            "{m} {sd}"
        );
        assert!(areas.iter().all(|a| (0.078..=0.502).contains(a)));
    }

    #[test]
    fn random_resized_crop_falls_back_to_the_central_crop() {
        // An area of 2–3 times the image never fits: the central crop at the nearest ratio.
        let mut r = rng(2);
        assert_eq!(
            rrc_params(&mut r, 500, 100, (2.0, 3.0), (0.75, 4.0 / 3.0)),
            (183, 0, 133, 100)
        );
        assert_eq!(
            rrc_params(&mut r, 100, 500, (2.0, 3.0), (0.75, 4.0 / 3.0)),
            (0, 183, 100, 133)
        );
        assert_eq!(
            rrc_params(&mut r, 120, 100, (2.0, 3.0), (0.75, 4.0 / 3.0)),
            (0, 0, 120, 100)
        );
        // 101 · 4/3 = 134.67 rounds to 135.
        assert_eq!(
            rrc_params(&mut r, 500, 101, (2.0, 3.0), (0.75, 4.0 / 3.0)),
            (182, 0, 135, 101)
        );
    }

    #[test]
    fn jitter_order_is_a_uniform_permutation_and_factors_uniform() {
        let mut r = rng(3);
        let mut counts = std::collections::HashMap::new();
        let mut b = vec![];
        let mut h = vec![];
        for _ in 0..4800 {
            let j = jitter_params(&mut r, [0.4, 0.4, 0.4, 0.1]);
            *counts.entry(j.order).or_insert(0) += 1;
            b.push(j.factors[0].unwrap());
            h.push(j.factors[3].unwrap());
        }
        assert_eq!(counts.len(), 24);
        assert!(
            counts.values().all(|&n| (140..=260).contains(&n)),
            "{counts:?}"
        );
        let (m, sd) = mean_sd(&b);
        assert!((m - 1.0).abs() < 0.01 && (sd - 0.8 / 12f64.sqrt()).abs() < 0.01);
        assert!(b.iter().all(|f| (0.6..1.4).contains(f)));
        let (m, sd) = mean_sd(&h);
        assert!(m.abs() < 0.005 && (sd - 0.2 / 12f64.sqrt()).abs() < 0.005);
        let j = jitter_params(&mut r, [0.0, 2.0, 0.0, 0.0]);
        assert!(j.factors[0].is_none() && j.factors[2].is_none());
        assert!((0.0..3.0).contains(&j.factors[1].unwrap()));
    }

    #[test]
    fn colour_adjustments_are_torchvisions_arithmetic() {
        let mut img = rgb(&[[100, 50, 200]]);
        brightness(&mut img, 1.5);
        assert_eq!(img.as_bytes(), [150, 75, 255]);
        // Grey of black and white: 0 and 254 (0.9999 · 255 truncated); mean 127.
        let mut img = rgb(&[[0, 0, 0], [255, 255, 255]]);
        contrast(&mut img, 0.5);
        assert_eq!(img.as_bytes(), [63, 63, 63, 191, 191, 191]);
        let mut img = rgb(&[[100, 50, 200]]);
        // grey = 0.2989·100 + 0.587·50 + 0.114·200 = 82.04 → 82
        saturation(&mut img, 0.0);
        assert_eq!(img.as_bytes(), [82, 82, 82]);
        let mut img = rgb(&[[100, 50, 200]]);
        saturation(&mut img, 2.0);
        // 2·v − 82, clamped.
        assert_eq!(img.as_bytes(), [118, 18, 255]);
        let mut img = rgb(&[[255, 0, 0], [255, 0, 0], [0, 0, 255]]);
        hue(&mut img, 0.5);
        assert_eq!(&img.as_bytes()[..3], [0, 255, 255]);
        let mut img2 = rgb(&[[255, 0, 0]]);
        hue(&mut img2, 1.0 / 3.0);
        assert_eq!(img2.as_bytes(), [0, 255, 0]);
        // Blue (hue 2/3) turned by 1/2 is yellow (hue 1/6), within the truncation to u8.
        for (a, b) in img.as_bytes()[6..].iter().zip([255u8, 255, 0]) {
            assert!(a.abs_diff(b) <= 1, "{:?}", img.as_bytes());
        }
        let mut img = rgb(&[[100, 50, 200], [7, 7, 7]]);
        hue(&mut img, 0.0);
        for (a, b) in img.as_bytes().iter().zip([100u8, 50, 200, 7, 7, 7]) {
            assert!(a.abs_diff(b) <= 1, "{:?}", img.as_bytes());
        }
        // Grey images have no saturation or hue.
        let mut g = DynamicImage::ImageLuma8(GrayImage::from_pixel(2, 2, Luma([90])));
        saturation(&mut g, 0.0);
        hue(&mut g, 0.3);
        assert_eq!(g.as_bytes(), [90; 4]);
        let mut img = rgb(&[[100, 50, 200]]);
        grey_keep_channels(&mut img);
        assert_eq!(img.as_bytes(), [82, 82, 82]);
    }

    #[test]
    fn gaussian_blur_spreads_a_point_by_the_kernel() {
        let k = gaussian_kernel(3, 1.0);
        assert!((k[0] - 0.274_068).abs() < 1e-5 && (k[1] - 0.451_863).abs() < 1e-5);
        let mut img = DynamicImage::ImageLuma8(GrayImage::from_fn(5, 5, |x, y| {
            Luma([if (x, y) == (2, 2) { 255 } else { 0 }])
        }));
        gaussian_blur(&mut img, 3, 1.0);
        let g = img.to_luma8();
        // 255·k1² = 52.07, 255·k0·k1 = 31.58, 255·k0² = 19.15.
        assert_eq!(g.get_pixel(2, 2)[0], 52);
        assert_eq!(g.get_pixel(1, 2)[0], 32);
        assert_eq!(g.get_pixel(3, 3)[0], 19);
        assert_eq!(g.get_pixel(0, 0)[0], 0);
        // Reflect padding: a flat image stays flat, even at the border.
        let mut flat = DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 3, Rgb([9, 99, 199])));
        gaussian_blur(&mut flat, 5, 2.0);
        assert!(flat.as_bytes().chunks(3).all(|p| p == [9, 99, 199]));
        assert_eq!(reflect(-1, 4), 1);
        assert_eq!(reflect(4, 4), 2);
    }

    #[test]
    fn erasing_windows_fit_strictly_and_follow_the_scale() {
        let mut r = rng(4);
        let mut areas = vec![];
        for _ in 0..3000 {
            let (x, y, w, h) = erasing_params(&mut r, 224, 224, (0.02, 0.33), (0.3, 3.3)).unwrap();
            assert!(w < 224 && h < 224 && x + w <= 224 && y + h <= 224);
            areas.push((w * h) as f64 / (224.0 * 224.0));
        }
        assert!(areas.iter().all(|a| (0.015..0.35).contains(a)));
        let (m, _) = mean_sd(&areas);
        // Uniform on (0.02, 0.33) but for the draws too tall or too wide to fit.
        assert!((0.15..0.18).contains(&m), "{m}");
        // Nothing fits in a 1-pixel image.
        assert_eq!(erasing_params(&mut r, 1, 1, (0.02, 0.33), (0.3, 3.3)), None);
    }

    #[test]
    fn trivial_augment_draws_every_operation_and_magnitude_evenly() {
        let mut r = rng(5);
        let mut counts = [0usize; 14];
        let mut negative = 0;
        let mut shears = std::collections::BTreeSet::new();
        let mut bits = std::collections::BTreeSet::new();
        for _ in 0..14_000 {
            let op = trivial_augment_op(&mut r);
            let k = match op {
                Op::Identity => 0,
                Op::ShearX(m) => {
                    negative += (m < 0.0) as usize;
                    shears.insert((m.abs() * 1000.0).round() as i64);
                    1
                }
                Op::ShearY(_) => 2,
                Op::TranslateX(t) => {
                    assert!(t.abs() <= 32.0);
                    3
                }
                Op::TranslateY(_) => 4,
                Op::Rotate(d) => {
                    assert!(d.abs() <= 135.0);
                    5
                }
                Op::Brightness(_) => 6,
                Op::Colour(_) => 7,
                Op::Contrast(_) => 8,
                Op::Sharpness(_) => 9,
                Op::Posterize(b) => {
                    bits.insert(b);
                    10
                }
                Op::Solarize(t) => {
                    assert!((0.0..=255.0).contains(&t));
                    11
                }
                Op::AutoContrast => 12,
                Op::Equalize => 13,
            };
            counts[k] += 1;
        }
        assert!(
            counts.iter().all(|&n| (850..1150).contains(&n)),
            "{counts:?}"
        );
        assert!((negative as f64 / counts[1] as f64 - 0.5).abs() < 0.06);
        assert_eq!(shears.len(), 31, "31 magnitudes from 0 to 0.99");
        assert_eq!(shears.last(), Some(&990));
        assert_eq!(bits.into_iter().collect::<Vec<_>>(), [2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn trivial_augment_operations_are_exact() {
        let ramp = |w: u32, h: u32| {
            DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
                Luma([(10 * y + x + 1) as u8])
            }))
        };
        let mut t = ramp(6, 2);
        apply_op(&mut t, Op::TranslateX(2.9));
        assert_eq!(t.as_bytes(), [0, 0, 1, 2, 3, 4, 0, 0, 11, 12, 13, 14]);
        let mut t = ramp(6, 2);
        apply_op(&mut t, Op::TranslateX(-1.5));
        assert_eq!(&t.as_bytes()[..6], [2, 3, 4, 5, 6, 0]);
        // Shear x by 1: row y takes x + (y + ½), halves to even: row 0 from x + 0.5 → x
        // (x even) or x + 1 (x odd); row 1 from x + 1.5.
        let mut s = ramp(4, 2);
        apply_op(&mut s, Op::ShearX(1.0));
        assert_eq!(s.as_bytes(), [1, 3, 3, 0, 13, 13, 0, 0]);
        let mut p =
            DynamicImage::ImageLuma8(GrayImage::from_raw(3, 1, vec![255, 0x9c, 17]).unwrap());
        apply_op(&mut p, Op::Posterize(4));
        assert_eq!(p.as_bytes(), [0xf0, 0x90, 0x10]);
        let mut p =
            DynamicImage::ImageLuma8(GrayImage::from_raw(3, 1, vec![200, 128, 100]).unwrap());
        apply_op(&mut p, Op::Solarize(128.0));
        assert_eq!(p.as_bytes(), [55, 127, 100]);
        let mut a =
            DynamicImage::ImageLuma8(GrayImage::from_raw(3, 1, vec![50, 100, 150]).unwrap());
        apply_op(&mut a, Op::AutoContrast);
        assert_eq!(a.as_bytes(), [0, 127, 255]);
        // 255 pixels of 10, 255 of 20 and one of 30: step = 510 / 255 = 2.
        let mut raw = vec![10u8; 255];
        raw.extend([20u8; 255]);
        raw.push(30);
        let mut e = DynamicImage::ImageLuma8(GrayImage::from_raw(511, 1, raw).unwrap());
        apply_op(&mut e, Op::Equalize);
        assert_eq!(
            (e.as_bytes()[0], e.as_bytes()[300], e.as_bytes()[510]),
            (0, 128, 255)
        );
        // Sharpness 1 is the identity; a flat image stays flat at any factor.
        let mut f = ramp(5, 5);
        apply_op(&mut f, Op::Sharpness(0.0));
        assert_eq!(f, ramp(5, 5));
        let mut f = DynamicImage::ImageLuma8(GrayImage::from_pixel(4, 4, Luma([77])));
        apply_op(&mut f, Op::Sharpness(0.9));
        assert_eq!(f.as_bytes(), [77; 16]);
        // Sharpness 0 is the smoothed image inside, the original at the border.
        let mut d = DynamicImage::ImageLuma8(GrayImage::from_fn(3, 3, |x, y| {
            Luma([if (x, y) == (1, 1) { 130 } else { 0 }])
        }));
        apply_op(&mut d, Op::Sharpness(-1.0));
        assert_eq!(d.as_bytes()[4], 50); // 5 · 130 / 13
    }
}

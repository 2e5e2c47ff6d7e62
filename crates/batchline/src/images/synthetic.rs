//! Test and benchmark material, not part of the API (re-exported `#[doc(hidden)]`): images of
//! our own and files made of them, and the decoder alone as the benchmarks' baseline.

use std::path::{Path, PathBuf};

use image::DynamicImage;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use super::actions::save;
use super::decode::{load_entry, LoadOptions};
use super::source::Entry;
use super::ImageError;

/// A smooth sinusoidal colour pattern with Gaussian noise of standard deviation `sigma` (none
/// when it is not a finite positive number), the same for the same `seed`: material for
/// demos, tests and benchmarks (a 256×256 one with σ = 4 compresses to about 115 KB of PNG).
///
/// # Examples
///
/// ```
/// let img = batchline::images::synthetic_image(64, 48, 7, 4.0);
/// assert_eq!((img.width(), img.height()), (64, 48));
/// assert_eq!(img, batchline::images::synthetic_image(64, 48, 7, 4.0));
/// ```
pub fn synthetic_image(width: u32, height: u32, seed: u64, sigma: f32) -> DynamicImage {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let f: [f32; 6] = std::array::from_fn(|_| rng.random_range(0.5..4.0));
    let phase: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0..std::f32::consts::TAU));
    // A negative, NaN or infinite sigma means no noise.
    let sigma = if sigma.is_finite() {
        sigma.max(0.0)
    } else {
        0.0
    };
    let noise = Normal::new(0.0, sigma).expect("a finite, non-negative sigma");
    let (w, h) = (width as f32, height as f32);
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (
            x as f32 / w * std::f32::consts::TAU,
            y as f32 / h * std::f32::consts::TAU,
        );
        let mut ch = |k: usize| {
            let base = 127.5 + 100.0 * (f[2 * k] * u + phase[k]).sin() * (f[2 * k + 1] * v).cos();
            (base + noise.sample(&mut rng)).round().clamp(0.0, 255.0) as u8
        };
        image::Rgb([ch(0), ch(1), ch(2)])
    });
    DynamicImage::ImageRgb8(img)
}

/// A photo-like image: fractal (1/f) value noise over six octaves, a few sharp-edged
/// ellipses of random colours, and fine grain (σ = 3). Its JPEG at quality 90 and 500 × 375
/// takes about as many bytes as an ImageNet photo (100–150 KB), so it costs the decoder about
/// as much.
///
/// # Examples
///
/// ```
/// let img = batchline::images::natural_image(50, 40, 3);
/// assert_eq!((img.width(), img.height()), (50, 40));
/// ```
pub fn natural_image(width: u32, height: u32, seed: u64) -> DynamicImage {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (w, h) = (width as usize, height as usize);
    let mut px = vec![[0.0_f32; 3]; w * h];
    let tint: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.6..1.4));
    let mut amp = 90.0_f32;
    for octave in 0..6 {
        let cells = 2usize << octave;
        let (gw, gh) = (cells + 2, cells * h / w.max(1) + 3);
        let grid: Vec<[f32; 3]> = (0..gw * gh)
            .map(|_| {
                let l = rng.random_range(-1.0_f32..1.0);
                std::array::from_fn(|k| {
                    amp * (l + 0.35 * rng.random_range(-1.0_f32..1.0)) * tint[k]
                })
            })
            .collect();
        let step = w.max(1) as f32 / cells as f32;
        for y in 0..h {
            let gy = y as f32 / step;
            let (y0, fy) = (gy.floor() as usize, gy.fract());
            let sy = fy * fy * (3.0 - 2.0 * fy);
            for x in 0..w {
                let gx = x as f32 / step;
                let (x0, fx) = (gx.floor() as usize, gx.fract());
                let sx = fx * fx * (3.0 - 2.0 * fx);
                let at = |i: usize, j: usize| grid[(j.min(gh - 1)) * gw + i.min(gw - 1)];
                let (a, b, c, d) = (
                    at(x0, y0),
                    at(x0 + 1, y0),
                    at(x0, y0 + 1),
                    at(x0 + 1, y0 + 1),
                );
                for k in 0..3 {
                    let top = a[k] + (b[k] - a[k]) * sx;
                    let bottom = c[k] + (d[k] - c[k]) * sx;
                    px[y * w + x][k] += top + (bottom - top) * sy;
                }
            }
        }
        amp *= 0.55;
    }
    for _ in 0..8 {
        let (cx, cy) = (
            rng.random_range(0.0..w as f32),
            rng.random_range(0.0..h as f32),
        );
        let (rx, ry) = (
            rng.random_range(5.0..w as f32 / 4.0 + 6.0),
            rng.random_range(5.0..h as f32 / 4.0 + 6.0),
        );
        let colour: [f32; 3] = std::array::from_fn(|_| rng.random_range(-80.0..80.0));
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = ((x as f32 - cx) / rx, (y as f32 - cy) / ry);
                if dx * dx + dy * dy < 1.0 {
                    for k in 0..3 {
                        px[y * w + x][k] = 0.3 * px[y * w + x][k] + colour[k];
                    }
                }
            }
        }
    }
    let grain = Normal::new(0.0_f32, 3.0).expect("a valid sigma");
    let raw: Vec<u8> = px
        .iter()
        .flat_map(|p| *p)
        .map(|v| {
            (127.5 + v + grain.sample(&mut rng))
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect();
    DynamicImage::ImageRgb8(image::RgbImage::from_raw(width, height, raw).expect("the size"))
}

/// Writes `n` PNG files `img0000.png`, `img0001.png`, … of [`synthetic_image`]s of
/// `size` × `size` (seeds 0 to `n - 1`, noise σ = 4) into `dir`, on the item pool; returns
/// their paths in order.
///
/// # Errors
///
/// [`ImageError::Write`] when a file cannot be written.
pub fn write_synthetic_pngs(dir: &Path, n: usize, size: u32) -> Result<Vec<PathBuf>, ImageError> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let path = dir.join(format!("img{i:04}.png"));
            save(&synthetic_image(size, size, i as u64, 4.0), &path)?;
            Ok(path)
        })
        .collect()
}

/// Writes `n` JPEG files `img0000.jpg`, … of [`natural_image`]s of `width` × `height` at
/// `quality` (seeds 0 to `n - 1`) into `dir`, on the item pool; returns their paths in order.
///
/// # Errors
///
/// [`ImageError::Write`] when a file cannot be written.
pub fn write_synthetic_jpegs(
    dir: &Path,
    n: usize,
    width: u32,
    height: u32,
    quality: u8,
) -> Result<Vec<PathBuf>, ImageError> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let path = dir.join(format!("img{i:04}.jpg"));
            let write = |e: &dyn std::fmt::Display| ImageError::Write {
                path: path.clone(),
                message: e.to_string(),
            };
            let file = std::fs::File::create(&path).map_err(|e| write(&e))?;
            let mut out = std::io::BufWriter::new(file);
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
                .encode_image(&natural_image(width, height, i as u64))
                .map_err(|e| write(&e))?;
            Ok(path)
        })
        .collect()
}

/// Decodes the image files of `paths` on the item pool, as `load` does (strict, with the
/// default pixel limit): the figure the image benchmarks compare the pipeline against.
///
/// # Errors
///
/// The first file that does not decode.
pub fn decode_files(paths: &[PathBuf]) -> Result<Vec<DynamicImage>, ImageError> {
    let options = LoadOptions::default();
    paths
        .par_iter()
        .map(|p| load_entry(&Entry::File(p.clone()), false, &options))
        .collect()
}

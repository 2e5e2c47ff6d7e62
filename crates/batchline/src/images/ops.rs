//! Operations on one image: the pure functions behind the actions of
//! [`ImagesBatch`](super::ImagesBatch). Every image is 8 bits per channel: grey, grey + alpha,
//! RGB or RGBA (other inputs are converted when loaded).

use fast_image_resize as fir;
use image::{DynamicImage, ImageBuffer};
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::ImageError;

/// A resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Filter {
    /// The nearest pixel (exact for masks and labels).
    Nearest,
    /// The mean of the pixels covered (box).
    Box,
    /// Bilinear.
    #[default]
    Bilinear,
    /// Catmull–Rom bicubic.
    CatmullRom,
    /// Lanczos with 3 lobes.
    Lanczos3,
}

/// A flip's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flip {
    /// Left and right swap.
    Horizontal,
    /// Top and bottom swap.
    Vertical,
}

/// Normalises any decoded image to 8 bits per channel, keeping grey, grey + alpha, RGB or
/// RGBA.
pub(crate) fn to_8bit(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => image,
        DynamicImage::ImageLuma16(_) => DynamicImage::ImageLuma8(image.to_luma8()),
        DynamicImage::ImageLumaA16(_) => DynamicImage::ImageLumaA8(image.to_luma_alpha8()),
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    }
}

/// The number of channels of an 8-bit image, and whether the last is alpha.
pub(crate) fn channels(image: &DynamicImage) -> (usize, bool) {
    let c = image.color();
    (c.channel_count() as usize, c.has_alpha())
}

/// Rebuilds an image of the same kind as `like` from raw bytes.
pub(super) fn rebuild(like: &DynamicImage, width: u32, height: u32, raw: Vec<u8>) -> DynamicImage {
    let bad = "the buffer has the image's size";
    match like {
        DynamicImage::ImageLuma8(_) => {
            DynamicImage::ImageLuma8(ImageBuffer::from_raw(width, height, raw).expect(bad))
        }
        DynamicImage::ImageLumaA8(_) => {
            DynamicImage::ImageLumaA8(ImageBuffer::from_raw(width, height, raw).expect(bad))
        }
        DynamicImage::ImageRgb8(_) => {
            DynamicImage::ImageRgb8(ImageBuffer::from_raw(width, height, raw).expect(bad))
        }
        _ => DynamicImage::ImageRgba8(ImageBuffer::from_raw(width, height, raw).expect(bad)),
    }
}

fn pixel_type(image: &DynamicImage) -> fir::PixelType {
    match channels(image).0 {
        1 => fir::PixelType::U8,
        2 => fir::PixelType::U8x2,
        3 => fir::PixelType::U8x3,
        _ => fir::PixelType::U8x4,
    }
}

/// Resizes to `width` × `height` with `filter` (fast_image_resize, SIMD where the CPU has it).
pub(crate) fn resize(
    image: &DynamicImage,
    width: u32,
    height: u32,
    filter: Filter,
) -> Result<DynamicImage, ImageError> {
    resize_region(image, None, width, height, filter)
}

/// Resizes the window `(x, y, w, h)` of the image (all of it for `None`) to `width` ×
/// `height` in one pass, without copying the window first.
pub(crate) fn resize_region(
    image: &DynamicImage,
    region: Option<(u32, u32, u32, u32)>,
    width: u32,
    height: u32,
    filter: Filter,
) -> Result<DynamicImage, ImageError> {
    if let Some((x, y, w, h)) = region {
        if (w, h) == (width, height) {
            return crop(image, x, y, w, h);
        }
        if (x, y, w, h) != (0, 0, image.width(), image.height()) {
            // Checks the window.
            crop_fits(image, x, y, w, h)?;
        }
    }
    if width == 0 || height == 0 {
        return Err(ImageError::Invalid(format!(
            "cannot resize to {width}×{height}: sizes must be positive"
        )));
    }
    check_size(width as usize, height as usize, channels(image).0)?;
    if region.is_none() && (width, height) == (image.width(), image.height()) {
        return Ok(image.clone());
    }
    let window = region.map(|(x, y, w, h)| (x as f64, y as f64, w as f64, h as f64));
    resize_window(image, window, width, height, filter)
}

/// Resizes the window `(x, y, w, h)` of the image, in pixels that may be fractions (all of it
/// for `None`), to `width` × `height`. The caller checks the sizes.
pub(crate) fn resize_window(
    image: &DynamicImage,
    window: Option<(f64, f64, f64, f64)>,
    width: u32,
    height: u32,
    filter: Filter,
) -> Result<DynamicImage, ImageError> {
    let pt = pixel_type(image);
    let src = fir::images::ImageRef::new(image.width(), image.height(), image.as_bytes(), pt)
        .map_err(|e| ImageError::Invalid(format!("resize: {e}")))?;
    let mut dst = fir::images::Image::new(width, height, pt);
    let alg = match filter {
        Filter::Nearest => fir::ResizeAlg::Nearest,
        Filter::Box => fir::ResizeAlg::Convolution(fir::FilterType::Box),
        Filter::Bilinear => fir::ResizeAlg::Convolution(fir::FilterType::Bilinear),
        Filter::CatmullRom => fir::ResizeAlg::Convolution(fir::FilterType::CatmullRom),
        Filter::Lanczos3 => fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3),
    };
    thread_local! {
        // A resizer keeps its scratch buffers between calls: one per thread.
        static RESIZER: std::cell::RefCell<fir::Resizer> = std::cell::RefCell::new(fir::Resizer::new());
    }
    let mut options = fir::ResizeOptions::new().resize_alg(alg);
    if let Some((x, y, w, h)) = window {
        options = options.crop(x, y, w, h);
    }
    RESIZER
        .with(|r| r.borrow_mut().resize(&src, &mut dst, &options))
        .map_err(|e| ImageError::Invalid(format!("resize: {e}")))?;
    Ok(rebuild(image, width, height, dst.into_vec()))
}

/// The `width` × `height` window at (`x`, `y`).
pub(crate) fn crop(
    image: &DynamicImage,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
) -> Result<DynamicImage, ImageError> {
    crop_fits(image, x, y, width, height)?;
    Ok(image.crop_imm(x, y, width, height))
}

fn crop_fits(
    image: &DynamicImage,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
) -> Result<(), ImageError> {
    let fits = x.checked_add(width).is_some_and(|r| r <= image.width())
        && y.checked_add(height).is_some_and(|b| b <= image.height());
    if !fits || width == 0 || height == 0 {
        return Err(ImageError::Invalid(format!(
            "cannot crop {width}×{height} at ({x}, {y}) from a {}×{} image",
            image.width(),
            image.height()
        )));
    }
    Ok(())
}

/// Flips the image in place.
pub(crate) fn flip(image: &mut DynamicImage, how: Flip) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    let (c, _) = channels(image);
    let bytes = raw_mut(image);
    match how {
        Flip::Horizontal => {
            for row in bytes.chunks_exact_mut(w * c) {
                for x in 0..w / 2 {
                    let (left, right) = row.split_at_mut((w - 1 - x) * c);
                    left[x * c..(x + 1) * c].swap_with_slice(&mut right[..c]);
                }
            }
        }
        Flip::Vertical => {
            for y in 0..h / 2 {
                let (top, bottom) = bytes.split_at_mut((h - 1 - y) * w * c);
                top[y * w * c..(y + 1) * w * c].swap_with_slice(&mut bottom[..w * c]);
            }
        }
    }
}

/// Rotates by `degrees` (counter-clockwise) about the centre, keeping the size; pixels from
/// outside the source are `fill`. Bilinear, or nearest with [`Filter::Nearest`] (for masks).
pub(crate) fn rotate(image: &DynamicImage, degrees: f32, fill: u8, filter: Filter) -> DynamicImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (c, _) = channels(image);
    let src = image.as_bytes();
    let mut out = vec![fill; src.len()];
    let (sin, cos) = (degrees.to_radians() as f64).sin_cos();
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let at = |x: usize, y: usize, k: usize| src[(y * w + x) * c + k] as f64;
    for y in 0..h {
        for x in 0..w {
            // The source point that lands on (x, y): the inverse rotation. Image rows grow
            // downwards, so a counter-clockwise turn on screen is clockwise in (x, y).
            let (dx, dy) = (x as f64 - cx, y as f64 - cy);
            let sx = cos * dx - sin * dy + cx;
            let sy = sin * dx + cos * dy + cy;
            let o = (y * w + x) * c;
            if filter == Filter::Nearest {
                let (rx, ry) = (sx.round(), sy.round());
                if rx >= 0.0 && ry >= 0.0 && (rx as usize) < w && (ry as usize) < h {
                    let i = (ry as usize * w + rx as usize) * c;
                    out[o..o + c].copy_from_slice(&src[i..i + c]);
                }
                continue;
            }
            if sx < -0.5 || sy < -0.5 || sx > w as f64 - 0.5 || sy > h as f64 - 0.5 {
                continue;
            }
            let (sx, sy) = (sx.clamp(0.0, w as f64 - 1.0), sy.clamp(0.0, h as f64 - 1.0));
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
            for k in 0..c {
                let top = at(x0, y0, k) * (1.0 - fx) + at(x1, y0, k) * fx;
                let bottom = at(x0, y1, k) * (1.0 - fx) + at(x1, y1, k) * fx;
                out[o + k] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    rebuild(image, image.width(), image.height(), out)
}

/// Applies `f` to every colour sample (not to alpha).
fn map_colour(image: &mut DynamicImage, mut f: impl FnMut(u8) -> u8) {
    let (c, alpha) = channels(image);
    let colour = if alpha { c - 1 } else { c };
    for px in raw_mut(image).chunks_exact_mut(c) {
        for v in &mut px[..colour] {
            *v = f(*v);
        }
    }
}

/// Rounds and clamps to a sample.
fn sample(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Adds `delta` to every colour sample (clamped).
pub(crate) fn brightness(image: &mut DynamicImage, delta: f32) {
    map_colour(image, |v| sample(v as f32 + delta));
}

/// Scales the distance of every colour sample from mid-grey (128) by `factor` (clamped).
pub(crate) fn contrast(image: &mut DynamicImage, factor: f32) {
    map_colour(image, |v| sample((v as f32 - 128.0) * factor + 128.0));
}

/// Adds Gaussian noise of standard deviation `sigma` to every colour sample.
pub(crate) fn additive_noise(
    image: &mut DynamicImage,
    sigma: f32,
    rng: &mut impl Rng,
) -> Result<(), ImageError> {
    noise(image, sigma, rng, |v, n| v + n)
}

/// Multiplies every colour sample by `1 + n`, with `n` Gaussian of standard deviation `sigma`.
pub(crate) fn multiplicative_noise(
    image: &mut DynamicImage,
    sigma: f32,
    rng: &mut impl Rng,
) -> Result<(), ImageError> {
    noise(image, sigma, rng, |v, n| v * (1.0 + n))
}

/// Sets every colour sample `v` to `apply(v, n)`, `n` drawn from N(0, sigma²) per sample.
fn noise(
    image: &mut DynamicImage,
    sigma: f32,
    rng: &mut impl Rng,
    apply: impl Fn(f32, f32) -> f32,
) -> Result<(), ImageError> {
    let normal = normal(sigma)?;
    map_colour(image, |v| sample(apply(v as f32, normal.sample(rng))));
    Ok(())
}

fn normal(sigma: f32) -> Result<Normal<f32>, ImageError> {
    if !(sigma >= 0.0 && sigma.is_finite()) {
        return Err(ImageError::Invalid(format!(
            "noise sigma must be finite and at least 0, not {sigma}"
        )));
    }
    Normal::new(0.0, sigma)
        .map_err(|e| ImageError::Invalid(format!("noise with sigma {sigma}: {e}")))
}

pub(super) fn raw_mut(image: &mut DynamicImage) -> &mut [u8] {
    match image {
        DynamicImage::ImageLuma8(b) => b,
        DynamicImage::ImageLumaA8(b) => b,
        DynamicImage::ImageRgb8(b) => b,
        DynamicImage::ImageRgba8(b) => b,
        _ => unreachable!("images are 8-bit"),
    }
}

/// Sets the `width` × `height` window at (`x`, `y`) (clipped to the image) to `fill`, alpha
/// included.
pub(crate) fn fill_rect(
    image: &mut DynamicImage,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    fill: u8,
) {
    let (w, h) = (image.width(), image.height());
    let (c, _) = channels(image);
    let bytes = raw_mut(image);
    for row in y.min(h)..y.saturating_add(height).min(h) {
        let start = (row as usize * w as usize + x.min(w) as usize) * c;
        let end = (row as usize * w as usize + x.saturating_add(width).min(w) as usize) * c;
        bytes[start..end].fill(fill);
    }
}

/// Grows the image by the given margins, filled with `fill`.
pub(crate) fn pad(
    image: &DynamicImage,
    top: u32,
    bottom: u32,
    left: u32,
    right: u32,
    fill: u8,
) -> Result<DynamicImage, ImageError> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (c, _) = channels(image);
    let nw = w + left as usize + right as usize;
    let nh = h + top as usize + bottom as usize;
    check_size(nw, nh, c)?;
    let mut out = vec![fill; nw * nh * c];
    let src = image.as_bytes();
    for y in 0..h {
        let from = &src[y * w * c..(y + 1) * w * c];
        let at = ((y + top as usize) * nw + left as usize) * c;
        out[at..at + w * c].copy_from_slice(from);
    }
    Ok(rebuild(image, nw as u32, nh as u32, out))
}

/// The most bytes an image made by an operation may take (4 GiB).
const MAX_IMAGE_BYTES: usize = 1 << 32;

/// Refuses sizes beyond `u32` or [`MAX_IMAGE_BYTES`] (an error, rather than an abort on a
/// failed allocation).
pub(crate) fn check_size(width: usize, height: usize, channels: usize) -> Result<(), ImageError> {
    let bytes = width
        .checked_mul(height)
        .and_then(|p| p.checked_mul(channels));
    if width > u32::MAX as usize
        || height > u32::MAX as usize
        || bytes.is_none_or(|b| b > MAX_IMAGE_BYTES)
    {
        return Err(ImageError::Invalid(format!(
            "an image of {width}×{height} with {channels} channels is too large (at most 4 GiB)"
        )));
    }
    Ok(())
}

/// Converts to grey (keeping alpha when there is one).
pub(crate) fn greyscale(image: &DynamicImage) -> DynamicImage {
    if channels(image).1 {
        DynamicImage::ImageLumaA8(image.to_luma_alpha8())
    } else {
        DynamicImage::ImageLuma8(image.to_luma8())
    }
}

/// The filter for a mask: nearest (labels are not blended), else `filter`.
pub(super) fn mask_filter(filter: Filter, mask: bool) -> Filter {
    if mask {
        Filter::Nearest
    } else {
        filter
    }
}

/// The colour type [`convert`](super::ImagesTransforms::convert) gives every image, 8 bits per
/// sample.
///
/// # Examples
///
/// ```
/// use batchline::images::Colour;
/// assert_ne!(Colour::Rgb, Colour::Grey);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Colour {
    /// Red, green, blue (grey is repeated; alpha is dropped).
    Rgb,
    /// Red, green, blue, alpha (opaque when the image has none).
    Rgba,
    /// Grey (ITU-R 601 luma of colour images, as Pillow's `convert("L")`; alpha dropped).
    Grey,
}

/// Converts one image to `to`.
pub(super) fn convert(img: &DynamicImage, to: Colour) -> DynamicImage {
    match to {
        Colour::Rgb => DynamicImage::ImageRgb8(img.to_rgb8()),
        Colour::Rgba => DynamicImage::ImageRgba8(img.to_rgba8()),
        Colour::Grey => DynamicImage::ImageLuma8(img.to_luma8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};

    fn ramp(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            Rgb([(10 * x) as u8, (10 * y) as u8, (x + y) as u8])
        }))
    }

    #[test]
    fn crop_flip_pad_are_exact() {
        let img = ramp(5, 4);
        let c = crop(&img, 1, 2, 3, 2).unwrap();
        assert_eq!((c.width(), c.height()), (3, 2));
        assert_eq!(c.to_rgb8().get_pixel(0, 0), &Rgb([10, 20, 3]));
        assert!(crop(&img, 3, 0, 3, 1).is_err());
        for (how, reference) in [
            (Flip::Horizontal, img.fliph()),
            (Flip::Vertical, img.flipv()),
        ] {
            let mut f = img.clone();
            flip(&mut f, how);
            assert_eq!(f, reference);
            flip(&mut f, how);
            assert_eq!(f, img);
        }
        let mut odd = ramp(5, 3);
        flip(&mut odd, Flip::Vertical);
        assert_eq!(odd, ramp(5, 3).flipv());
        let p = pad(&img, 1, 2, 3, 0, 7).unwrap();
        assert!(pad(&img, u32::MAX, 0, 0, 0, 0).is_err());
        assert_eq!((p.width(), p.height()), (8, 7));
        assert_eq!(p.to_rgb8().get_pixel(0, 0), &Rgb([7, 7, 7]));
        assert_eq!(p.to_rgb8().get_pixel(3, 1), img.to_rgb8().get_pixel(0, 0));
        assert_eq!(p.to_rgb8().get_pixel(7, 4), img.to_rgb8().get_pixel(4, 3));
    }

    #[test]
    fn rotate_by_quarter_turns_matches_rotate90() {
        let img = ramp(7, 7);
        assert_eq!(rotate(&img, 0.0, 0, Filter::Bilinear), img);
        // Counter-clockwise by 90° is image's rotate270 (which turns clockwise).
        let ccw = rotate(&img, 90.0, 0, Filter::Bilinear);
        assert_eq!(ccw, img.rotate270());
        assert_eq!(rotate(&img, 90.0, 0, Filter::Nearest), img.rotate270());
        assert_eq!(rotate(&img, 180.0, 0, Filter::Bilinear), img.rotate180());
        // A 45° turn leaves the corners empty (filled) and keeps the centre.
        let t = rotate(&img, 45.0, 9, Filter::Bilinear).to_rgb8();
        assert_eq!(t.get_pixel(0, 0), &Rgb([9, 9, 9]));
        assert_eq!(t.get_pixel(3, 3), img.to_rgb8().get_pixel(3, 3));
    }

    #[test]
    fn colour_operations_leave_alpha_alone() {
        let mut img =
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(2, 2, Rgba([100, 200, 250, 77])));
        brightness(&mut img, 10.0);
        assert_eq!(img.to_rgba8().get_pixel(0, 0), &Rgba([110, 210, 255, 77]));
        contrast(&mut img, 2.0);
        assert_eq!(img.to_rgba8().get_pixel(1, 1), &Rgba([92, 255, 255, 77]));
        fill_rect(&mut img, 1, 1, 5, 5, 0);
        assert_eq!(img.to_rgba8().get_pixel(1, 1), &Rgba([0, 0, 0, 0]));
        assert_eq!(img.to_rgba8().get_pixel(0, 1), &Rgba([92, 255, 255, 77]));
    }

    #[test]
    fn noise_has_the_asked_spread() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut img = DynamicImage::ImageLuma8(GrayImage::from_pixel(100, 100, Luma([128])));
        additive_noise(&mut img, 4.0, &mut rng).unwrap();
        let v: Vec<f64> = img.as_bytes().iter().map(|&b| b as f64).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!(
            (mean - 128.0).abs() < 0.2 && (sd - 4.0).abs() < 0.2,
            "{mean} {sd}"
        );
        let mut img = DynamicImage::ImageLuma8(GrayImage::from_pixel(100, 100, Luma([100])));
        multiplicative_noise(&mut img, 0.1, &mut rng).unwrap();
        let v: Vec<f64> = img.as_bytes().iter().map(|&b| b as f64).collect();
        let sd = (v.iter().map(|x| (x - 100.0).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!((sd - 10.0).abs() < 0.5, "{sd}");
        assert!(additive_noise(&mut img, -1.0, &mut rng).is_err());
    }

    #[test]
    fn resize_keeps_a_flat_image_flat_and_checks_sizes() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 6, Rgb([40, 80, 120])));
        for filter in [
            Filter::Nearest,
            Filter::Box,
            Filter::Bilinear,
            Filter::CatmullRom,
            Filter::Lanczos3,
        ] {
            let r = resize(&img, 4, 3, filter).unwrap();
            assert_eq!(
                r,
                DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 3, Rgb([40, 80, 120])))
            );
        }
        // Nearest on a 2× downscale picks one pixel of each 2×2 block.
        let g =
            DynamicImage::ImageLuma8(GrayImage::from_fn(4, 4, |x, y| Luma([(x + 4 * y) as u8])));
        let n = resize(&g, 2, 2, Filter::Nearest).unwrap();
        for (x, y, p) in n.to_luma8().enumerate_pixels() {
            let block: Vec<u8> = (0..2)
                .flat_map(|dy| (0..2).map(move |dx| (2 * x + dx + 4 * (2 * y + dy)) as u8))
                .collect();
            assert!(block.contains(&p.0[0]), "{p:?} not in {block:?}");
        }
        assert!(resize(&img, 0, 3, Filter::Bilinear).is_err());
        let g = greyscale(&img);
        assert_eq!(g.color(), image::ColorType::L8);
    }

    use rand::SeedableRng;
}

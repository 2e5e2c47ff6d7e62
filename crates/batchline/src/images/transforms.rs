//! The transforms of torchvision as actions of [`ImagesBatch`] ([`ImagesTransforms`]):
//! colour conversion, `resize_shorter`, `random_resized_crop`, colour jitter, random greyscale,
//! Gaussian blur, random erasing, TrivialAugmentWide.

use std::fmt::Display;

use rand::Rng;

use super::checks::{check_p, check_range};
use super::fused::Step;
use super::ops::{self, convert, Colour, Filter};
use super::tensor::Tensor;
use super::{tv, ImageError, ImagesBatch};
use crate::action_error::ActionResult;
use crate::index::Id;
use crate::plan::Context;

#[batchline_macros::actions(trait_name = ImagesTransforms)]
impl<I: Id + Display> ImagesBatch<I> {
    /// Converts every image to `to` (8 bits per sample, from any colour type and bit depth).
    #[action]
    pub fn convert(&mut self, to: Colour, ctx: &mut Context) -> ActionResult {
        self.check_loaded()?;
        let want = match to {
            Colour::Rgb => image::ColorType::Rgb8,
            Colour::Rgba => image::ColorType::Rgba8,
            Colour::Grey => image::ColorType::L8,
        };
        // Images of the asked type are left as they are (no copy).
        ctx.par_apply(&mut self.images, |img, _| {
            if img.color() != want {
                *img = convert(img, to);
            }
        })
    }

    /// Resizes every image (and mask, by nearest) so that its shorter side is `side`, keeping
    /// the aspect ratio (torchvision's `Resize(side)`: the longer side becomes
    /// `int(side · long / short)`).
    #[action]
    pub fn resize_shorter(&mut self, side: u32, filter: Filter, ctx: &mut Context) -> ActionResult {
        self.run_step(&Step::ResizeShorter { side, filter }, ctx)
    }

    /// torchvision's `RandomResizedCrop(size, scale, ratio)`: per image, a window of a
    /// random area (`scale`, fractions of the image's) and aspect ratio (`ratio`, drawn
    /// log-uniformly) — 10 tries, then the central crop — resized to `size` × `size` in one
    /// pass (masks by nearest). The usual values: `scale = (0.08, 1.0)`,
    /// `ratio = (3/4, 4/3)`, bilinear.
    #[action]
    pub fn random_resized_crop(
        &mut self,
        size: u32,
        scale: (f64, f64),
        ratio: (f64, f64),
        filter: Filter,
        ctx: &mut Context,
    ) -> ActionResult {
        self.run_step(
            &Step::RandomResizedCrop {
                size,
                scale,
                ratio,
                filter,
            },
            ctx,
        )
    }

    /// torchvision's `ColorJitter(brightness, contrast, saturation, hue)`: per image, the four
    /// adjustments in a random order, with factors drawn uniformly from
    /// `[max(0, 1 − x), 1 + x]` (hue: a turn in `[−hue, hue]`, `hue ≤ 0.5`); 0 leaves one out.
    /// Grey images have no saturation or hue; alpha is left alone.
    #[action]
    pub fn colour_jitter(
        &mut self,
        brightness: f64,
        contrast: f64,
        saturation: f64,
        hue: f64,
        ctx: &mut Context,
    ) -> ActionResult {
        let amounts = [brightness, contrast, saturation, hue];
        if amounts.iter().any(|a| !(a.is_finite() && *a >= 0.0)) || hue > 0.5 {
            return Err(ImageError::Invalid(format!(
                "colour_jitter: {amounts:?} must be finite and at least 0, hue at most 0.5"
            ))
            .into());
        }
        self.colour(ctx, |img, item| {
            let j = tv::jitter_params(item.rng(), amounts);
            tv::apply_jitter(img, &j);
            Ok(())
        })
    }

    /// torchvision's `RandomGrayscale(p)`: with probability `p` per image, its colour
    /// channels become its grey (`0.2989 R + 0.587 G + 0.114 B`, truncated), keeping the
    /// number of channels.
    #[action]
    pub fn random_grayscale(&mut self, p: f64, ctx: &mut Context) -> ActionResult {
        check_p(p)?;
        self.colour(ctx, |img, item| {
            if item.rng().random_bool(p) {
                tv::grey_keep_channels(img);
            }
            Ok(())
        })
    }

    /// torchvision's `GaussianBlur(kernel_size, sigma)`: per image, σ drawn uniformly from
    /// `sigma`, a `kernel_size`-tap Gaussian (odd) with reflect padding, rounded.
    #[action]
    pub fn gaussian_blur(
        &mut self,
        kernel_size: u32,
        sigma: (f64, f64),
        ctx: &mut Context,
    ) -> ActionResult {
        if kernel_size.is_multiple_of(2) {
            return Err(ImageError::Invalid(format!(
                "gaussian_blur: the kernel size {kernel_size} must be odd and positive"
            ))
            .into());
        }
        check_range("gaussian_blur sigma", sigma, true)?;
        self.colour(ctx, |img, item| {
            let s = tv::uniform(item.rng(), sigma.0, sigma.1);
            tv::gaussian_blur(img, kernel_size as usize, s);
            Ok(())
        })
    }

    /// torchvision's `RandomErasing(p, scale, ratio, value)`: with probability `p` per image,
    /// a window of a random area (`scale`) and aspect ratio (`ratio`) is set to `value`. It
    /// works on the tensor when there is one (after `to_tensor`, as in torchvision, where
    /// `value = 0` is the mean colour), on the images otherwise (`value` clamped to 0–255).
    /// The usual values: `p = 0.5`, `scale = (0.02, 0.33)`, `ratio = (0.3, 3.3)`.
    #[action]
    pub fn random_erasing(
        &mut self,
        p: f64,
        scale: (f64, f64),
        ratio: (f64, f64),
        value: f32,
        ctx: &mut Context,
    ) -> ActionResult {
        check_p(p)?;
        check_range("random_erasing scale", scale, true)?;
        check_range("random_erasing ratio", ratio, true)?;
        let draw = |item: &mut crate::plan::Item, w: u32, h: u32| {
            if item.rng().random_bool(p) {
                tv::erasing_params(item.rng(), w, h, scale, ratio)
            } else {
                None
            }
        };
        match &mut self.tensor {
            Some(tensor) => {
                let shape = tensor.shape().to_vec();
                let nchw = self.layout == super::Layout::Nchw;
                let (h, w) = if nchw {
                    (shape[2], shape[3])
                } else {
                    (shape[1], shape[2])
                };
                let rows: Vec<usize> = (0..shape[0]).collect();
                let windows = ctx.par_map(&rows, |_, item| draw(item, w as u32, h as u32));
                erase_tensor(tensor, &windows, nchw, value);
                Ok(())
            }
            None => self.colour(ctx, |img, item| {
                if let Some((x, y, w, h)) = draw(item, img.width(), img.height()) {
                    ops::fill_rect(img, x, y, w, h, value.round().clamp(0.0, 255.0) as u8);
                }
                Ok(())
            }),
        }
    }

    /// torchvision's `TrivialAugmentWide()`: per image, one of 14 operations (identity,
    /// shear x/y, translate x/y, rotate, brightness, colour, contrast, sharpness, posterize,
    /// solarize, autocontrast, equalize) drawn uniformly, at one of 31 magnitudes (signed at
    /// random where it has a sign); geometric ones move the masks too (nearest, filled with 0).
    #[action]
    pub fn trivial_augment_wide(&mut self, ctx: &mut Context) -> ActionResult {
        self.geometric(
            ctx,
            |_, item| tv::trivial_augment_op(item.rng()),
            |mut img, &op, mask| {
                if !mask || op.is_geometric() {
                    tv::apply_op(&mut img, op);
                }
                Ok(img)
            },
        )
    }
}

/// Sets the windows of a tensor's images to `value` (every channel).
fn erase_tensor(
    tensor: &mut Tensor,
    windows: &[Option<(u32, u32, u32, u32)>],
    nchw: bool,
    value: f32,
) {
    use ndarray::{Axis, Slice};
    fn fill<T: Copy>(
        a: &mut ndarray::Array4<T>,
        windows: &[Option<(u32, u32, u32, u32)>],
        nchw: bool,
        v: T,
    ) {
        for (n, window) in windows.iter().enumerate() {
            let Some((x, y, w, h)) = *window else {
                continue;
            };
            let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
            // The image's axes: (c, h, w) or (h, w, c).
            let (ya, xa) = if nchw { (1, 2) } else { (0, 1) };
            let mut img = a.index_axis_mut(Axis(0), n);
            let mut rows = img.slice_axis_mut(Axis(ya), Slice::from(y..y + h));
            rows.slice_axis_mut(Axis(xa), Slice::from(x..x + w)).fill(v);
        }
    }
    match tensor {
        Tensor::F32(a) => fill(a, windows, nchw, value),
        Tensor::U8(a) => fill(a, windows, nchw, value.round().clamp(0.0, 255.0) as u8),
    }
}

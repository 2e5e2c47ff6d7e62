//! The transforms of torchvision as actions of [`ImagesBatch`] ([`ImagesTransforms`]):
//! colour conversion, `resize_shorter`, `random_resized_crop`, colour jitter, random greyscale,
//! Gaussian blur, random erasing, TrivialAugmentWide.

use std::fmt::Display;

use image::DynamicImage;

use super::ImagesBatch;
use crate::index::Id;
use crate::{ActionResult, Context};

/// The colour type [`convert`](ImagesTransforms::convert) gives every image, 8 bits per
/// sample.
///
/// # Examples
///
/// ```
/// use batchline::batch::images::Colour;
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

#[crate::actions(trait_name = ImagesTransforms)]
impl<I: Id + Display> ImagesBatch<I> {
    /// Converts every image to `to` (8 bits per sample, from any colour type and bit depth).
    #[action]
    pub fn convert(&mut self, to: Colour, ctx: &mut Context) -> ActionResult {
        self.check_loaded()?;
        self.images = ctx.par_map(&self.images, |img, _| convert(img, to));
        Ok(())
    }
}

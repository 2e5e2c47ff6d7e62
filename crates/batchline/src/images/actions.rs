//! The actions of [`ImagesBatch`] ([`ImagesBatchActions`]): loading, geometry, simple colour
//! operations, tensors, dumping.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use image::DynamicImage;
use rand::Rng;

use super::decode::LoadOptions;
use super::ops::{self, Filter, Flip};
use super::tensor::Layout;
use super::{ImageError, ImagesBatch};
use crate::action_error::{ActionError, ActionResult};
use crate::index::Id;
use crate::plan::Context;

pub(super) fn mask_filter(filter: Filter, mask: bool) -> Filter {
    if mask {
        Filter::Nearest
    } else {
        filter
    }
}

#[batchline_macros::actions]
impl<I: Id + Display> ImagesBatch<I> {
    /// Loads (decodes) the batch's images, and its labels and masks when the source has them,
    /// on the item pool, with the default [`LoadOptions`]: strict decoding, at most
    /// [`DEFAULT_MAX_PIXELS`](super::DEFAULT_MAX_PIXELS) pixels per image, and a bad file (missing, empty, not an
    /// image, truncated, corrupt, too large) fails the batch with an error naming its path
    /// (and skips the batch under `ignore_errors`).
    #[action]
    pub fn load(&mut self, ctx: &mut Context) -> ActionResult {
        self.load_items(&LoadOptions::default(), ctx)
    }

    /// [`load`](Self::load) with other options: drop bad items instead of failing the batch,
    /// lenient decoding, another pixel limit.
    ///
    /// ```
    /// use batchline::images::{ImagesBatchActions, ImagesSource, LoadOptions};
    /// use batchline::{FilesIndex, RunSpec};
    ///
    /// let dir = tempfile::tempdir()?;
    /// image::RgbImage::new(8, 8).save(dir.path().join("good.png"))?;
    /// std::fs::write(dir.path().join("bad.png"), b"")?; // empty
    /// let files = FilesIndex::find(dir.path(), &["png"])?;
    /// let p = ImagesSource::files_dataset(files).p().load_with(LoadOptions::new().drop_bad_items());
    /// let report = p.run(&RunSpec::new(2))?;
    /// assert_eq!(report.items, 1);
    /// assert!(report.item_failures[0].error.contains("empty file"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[action]
    pub fn load_with(&mut self, options: LoadOptions, ctx: &mut Context) -> ActionResult {
        self.load_items(&options, ctx)
    }

    /// Resizes every image (and mask, with the nearest filter) to `width` × `height`.
    #[action]
    pub fn resize(
        &mut self,
        width: u32,
        height: u32,
        filter: Filter,
        ctx: &mut Context,
    ) -> ActionResult {
        self.geometric(
            ctx,
            |_, _| (),
            |img, _, mask| ops::resize(&img, width, height, mask_filter(filter, mask)),
        )
    }

    /// Scales every image (and mask) by `factor`, keeping the aspect ratio.
    #[action]
    pub fn scale(&mut self, factor: f32, filter: Filter, ctx: &mut Context) -> ActionResult {
        if !(factor > 0.0 && factor.is_finite()) {
            return Err(ImageError::Invalid(format!("cannot scale by {factor}")).into());
        }
        self.geometric(
            ctx,
            |_, _| (),
            |img, _, mask| {
                let w = ((img.width() as f32 * factor).round() as u32).max(1);
                let h = ((img.height() as f32 * factor).round() as u32).max(1);
                ops::resize(&img, w, h, mask_filter(filter, mask))
            },
        )
    }

    /// Crops the `width` × `height` window at (`x`, `y`) of every image (an error when it
    /// does not fit).
    #[action]
    pub fn crop(
        &mut self,
        x: u32,
        y: u32,
        width: u32,
        height: u32,
        ctx: &mut Context,
    ) -> ActionResult {
        self.geometric(
            ctx,
            |_, _| (),
            |img, _, _| ops::crop(&img, x, y, width, height),
        )
    }

    /// Crops the central `width` × `height` window of every image (and mask), placed as
    /// torchvision's `CenterCrop` places it.
    #[action]
    pub fn center_crop(&mut self, width: u32, height: u32, ctx: &mut Context) -> ActionResult {
        self.geometric(
            ctx,
            |_, _| (),
            |img, _, _| {
                // torchvision's `int(round((size - crop) / 2))`, halves to even.
                let half = |d: u32| (d as f64 / 2.0).round_ties_even() as u32;
                let x = half(img.width().saturating_sub(width));
                let y = half(img.height().saturating_sub(height));
                ops::crop(&img, x, y, width, height)
            },
        )
    }

    /// Crops a `width` × `height` window at a random place of every image (drawn per image).
    #[action]
    pub fn random_crop(&mut self, width: u32, height: u32, ctx: &mut Context) -> ActionResult {
        self.geometric(
            ctx,
            |img, item| {
                let x = item
                    .rng()
                    .random_range(0..=img.width().saturating_sub(width));
                let y = item
                    .rng()
                    .random_range(0..=img.height().saturating_sub(height));
                (x, y)
            },
            |img, &(x, y), _| ops::crop(&img, x, y, width, height),
        )
    }

    /// Flips every image (and mask).
    #[action]
    pub fn flip(&mut self, how: Flip, ctx: &mut Context) -> ActionResult {
        self.geometric(
            ctx,
            |_, _| (),
            |mut img, _, _| {
                ops::flip(&mut img, how);
                Ok(img)
            },
        )
    }

    /// Flips each image (and its mask) with probability `p`, drawn per image.
    #[action]
    pub fn random_flip(&mut self, how: Flip, p: f64, ctx: &mut Context) -> ActionResult {
        check_p(p)?;
        self.geometric(
            ctx,
            |_, item| item.rng().random_bool(p),
            |mut img, &flip, _| {
                if flip {
                    ops::flip(&mut img, how);
                }
                Ok(img)
            },
        )
    }

    /// Rotates every image (and mask) by `degrees` counter-clockwise about its centre,
    /// keeping its size; the corners are black (bilinear; nearest for masks).
    #[action]
    pub fn rotate(&mut self, degrees: f32, ctx: &mut Context) -> ActionResult {
        self.geometric(
            ctx,
            |_, _| (),
            |img, _, mask| {
                Ok(ops::rotate(
                    &img,
                    degrees,
                    0,
                    mask_filter(Filter::Bilinear, mask),
                ))
            },
        )
    }

    /// Rotates each image (and its mask) by an angle drawn per image from `[low, high)`
    /// degrees.
    #[action]
    pub fn random_rotate(&mut self, low: f32, high: f32, ctx: &mut Context) -> ActionResult {
        if low.partial_cmp(&high) != Some(std::cmp::Ordering::Less) {
            return Err(
                ImageError::Invalid(format!("random_rotate: empty range {low}..{high}")).into(),
            );
        }
        self.geometric(
            ctx,
            |_, item| item.rng().random_range(low..high),
            |img, &deg, mask| {
                Ok(ops::rotate(
                    &img,
                    deg,
                    0,
                    mask_filter(Filter::Bilinear, mask),
                ))
            },
        )
    }

    /// Grows every image (and mask) by the margins, filled with `fill` (0 for masks).
    #[action]
    pub fn pad(
        &mut self,
        top: u32,
        bottom: u32,
        left: u32,
        right: u32,
        fill: u8,
        ctx: &mut Context,
    ) -> ActionResult {
        self.geometric(
            ctx,
            |_, _| (),
            |img, _, mask| ops::pad(&img, top, bottom, left, right, if mask { 0 } else { fill }),
        )
    }

    /// Adds `delta` to every colour sample (clamped to 0–255; alpha untouched).
    #[action]
    pub fn brightness(&mut self, delta: f32, ctx: &mut Context) -> ActionResult {
        self.colour(ctx, |img, _| {
            ops::brightness(img, delta);
            Ok(())
        })
    }

    /// Scales every colour sample's distance from mid-grey by `factor`.
    #[action]
    pub fn contrast(&mut self, factor: f32, ctx: &mut Context) -> ActionResult {
        self.colour(ctx, |img, _| {
            ops::contrast(img, factor);
            Ok(())
        })
    }

    /// Adds Gaussian noise of standard deviation `sigma` (in sample units) to every colour
    /// sample, drawn per image.
    #[action]
    pub fn additive_noise(&mut self, sigma: f32, ctx: &mut Context) -> ActionResult {
        self.colour(ctx, |img, item| ops::additive_noise(img, sigma, item.rng()))
    }

    /// Multiplies every colour sample by `1 + n`, `n` Gaussian of standard deviation `sigma`.
    #[action]
    pub fn multiplicative_noise(&mut self, sigma: f32, ctx: &mut Context) -> ActionResult {
        self.colour(ctx, |img, item| {
            ops::multiplicative_noise(img, sigma, item.rng())
        })
    }

    /// Blanks a `width` × `height` rectangle at a random place of each image (clipped at the
    /// borders), filled with `fill`.
    #[action]
    pub fn cutout(&mut self, width: u32, height: u32, fill: u8, ctx: &mut Context) -> ActionResult {
        self.colour(ctx, |img, item| {
            let x = item.rng().random_range(0..img.width().max(1));
            let y = item.rng().random_range(0..img.height().max(1));
            ops::fill_rect(img, x, y, width, height, fill);
            Ok(())
        })
    }

    /// Converts every image to grey (keeping alpha).
    #[action]
    pub fn to_greyscale(&mut self, ctx: &mut Context) -> ActionResult {
        self.colour(ctx, |img, _| {
            *img = ops::greyscale(img);
            Ok(())
        })
    }

    /// Stacks the images into an `f32` [`Tensor`](super::Tensor): samples scaled to 0–1, then
    /// `(x - mean[c]) / std[c]` per channel (give empty vectors for no normalisation).
    /// Every image must have the same size and channels.
    #[action]
    pub fn to_tensor(
        &mut self,
        layout: Layout,
        mean: Vec<f32>,
        std: Vec<f32>,
        ctx: &mut Context,
    ) -> ActionResult {
        self.stack_f32(layout, &mean, &std, ctx)
    }

    /// Stacks the images into a `u8` [`Tensor`](super::Tensor) (samples as they are).
    #[action]
    pub fn to_tensor_u8(&mut self, layout: Layout) -> ActionResult {
        self.stack_u8(layout)
    }

    /// Writes every image as `<dir>/<id>.png` (and masks as `<id>_mask.png`), creating `dir`.
    #[action]
    pub fn dump(&mut self, dir: PathBuf, ctx: &mut Context) -> ActionResult {
        std::fs::create_dir_all(&dir).map_err(|e| ImageError::Write {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let ids = self.index.ids().to_vec();
        let named: Vec<(String, &DynamicImage)> = ids
            .iter()
            .zip(&self.images)
            .map(|(id, img)| (format!("{id}.png"), img))
            .chain(
                self.masks
                    .iter()
                    .flatten()
                    .zip(&ids)
                    .map(|(m, id)| (format!("{id}_mask.png"), m)),
            )
            .collect();
        ctx.par_try_map(&named, |(name, img), _| save(img, &dir.join(name)))?;
        Ok(())
    }
}

pub(super) fn save(img: &DynamicImage, path: &Path) -> Result<(), ImageError> {
    img.save(path).map_err(|e| ImageError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub(super) fn check_p(p: f64) -> Result<(), ActionError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(ImageError::Invalid(format!("probability {p} is not in [0, 1]")).into())
    }
}

//! The actions of [`ImagesBatch`] ([`ImagesBatchActions`]): loading, geometry, simple colour
//! operations, tensors, dumping.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use image::DynamicImage;
use rand::Rng;

use super::decode::LoadOptions;
use super::fused::{PerImage, Step};
use super::ops::{self, mask_filter, Filter, Flip};
use super::tensor::Layout;
use super::{ImageError, ImagesBatch};
use crate::action_error::ActionResult;
use crate::index::Id;
use crate::plan::Context;

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

    /// [`load_with`](Self::load_with), then the steps of `per_image` on each image right after
    /// it is decoded, in the same task on the item pool: one pass per image instead of one
    /// pass over the batch per action, and no full-size image kept past its first step. The
    /// result is that of `load_with(options)` followed by the same actions (same pixels, same
    /// random parameters for a seeded run, masks moved with their images, the tensor last),
    /// with two exceptions:
    ///
    /// * DCT scaling ([`LoadOptions::dct_scaling`], on by default): when the first step
    ///   resizes a JPEG's window (resize, scale, resize_shorter, random_resized_crop; not with
    ///   [`Filter::Nearest`]) to at most a half of its size in both directions, the file is
    ///   decoded at 1/2, 1/4 or 1/8 (the smallest scale that keeps the window at least as
    ///   large as the output) and the window resized from there. The pixels differ from
    ///   decoding in full and resizing by a mean absolute difference of at most 1.5 (of 255)
    ///   and a 99th percentile of at most 8 on photo-like images (the tests check these
    ///   bounds); `dct_scaling(false)` gives the exact result.
    /// * When an item is dropped ([`LoadPolicy::DropItem`](super::LoadPolicy::DropItem)),
    ///   the random parameters of the items after it are those of their positions before the
    ///   drop (the chain of actions numbers the items after it).
    ///
    /// Errors are those of `load_with` (naming the file; the pixel limit is checked from the
    /// header, before any decoding) and those of the steps' actions.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::images::{
    ///     Filter, Flip, ImagesBatchActions, ImagesSource, Layout, LoadOptions, PerImage,
    /// };
    /// use batchline::{FilesIndex, RunSpec};
    ///
    /// let dir = tempfile::tempdir()?;
    /// for i in 0..4 {
    ///     batchline::images::natural_image(64, 48, i).save(dir.path().join(format!("{i}.jpg")))?;
    /// }
    /// let files = FilesIndex::find(dir.path(), &["jpg"])?;
    /// let steps = PerImage::new()
    ///     .random_resized_crop(24, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0), Filter::Bilinear)
    ///     .random_flip(Flip::Horizontal, 0.5)
    ///     .to_tensor(Layout::Nchw, vec![0.485, 0.456, 0.406], vec![0.229, 0.224, 0.225]);
    /// let mut p = ImagesSource::files_dataset(files).p().load_fused(LoadOptions::new(), steps);
    /// let batch = p.next_batch(&RunSpec::new(4).seed(1))?.unwrap();
    /// assert_eq!(batch.tensor.unwrap().shape(), [4, 3, 24, 24]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[action]
    pub fn load_fused(
        &mut self,
        options: LoadOptions,
        per_image: PerImage,
        ctx: &mut Context,
    ) -> ActionResult {
        self.load_fused_items(&options, &per_image, ctx)
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
        self.run_step(
            &Step::Resize {
                width,
                height,
                filter,
            },
            ctx,
        )
    }

    /// Scales every image (and mask) by `factor`, keeping the aspect ratio.
    #[action]
    pub fn scale(&mut self, factor: f32, filter: Filter, ctx: &mut Context) -> ActionResult {
        self.run_step(&Step::Scale { factor, filter }, ctx)
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
        self.run_step(
            &Step::Crop {
                x,
                y,
                width,
                height,
            },
            ctx,
        )
    }

    /// Crops the central `width` × `height` window of every image (and mask), placed as
    /// torchvision's `CenterCrop` places it.
    #[action]
    pub fn center_crop(&mut self, width: u32, height: u32, ctx: &mut Context) -> ActionResult {
        self.run_step(&Step::CenterCrop { width, height }, ctx)
    }

    /// Crops a `width` × `height` window at a random place of every image (drawn per image).
    #[action]
    pub fn random_crop(&mut self, width: u32, height: u32, ctx: &mut Context) -> ActionResult {
        self.run_step(&Step::RandomCrop { width, height }, ctx)
    }

    /// Flips every image (and mask).
    #[action]
    pub fn flip(&mut self, how: Flip, ctx: &mut Context) -> ActionResult {
        self.run_step(&Step::Flip(how), ctx)
    }

    /// Flips each image (and its mask) with probability `p`, drawn per image.
    #[action]
    pub fn random_flip(&mut self, how: Flip, p: f64, ctx: &mut Context) -> ActionResult {
        self.run_step(&Step::RandomFlip { how, p }, ctx)
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

    /// Writes every image as `<dir>/<id>.png` (and masks as `<id>_mask.png`), creating `dir`
    /// (and the folders of ids with a `/`, such as an image folder's `cat/0001.jpg`).
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
        ctx.par_try_map(&named, |(name, img), _| {
            let path = dir.join(name);
            if let Some(parent) = path.parent().filter(|p| *p != dir) {
                std::fs::create_dir_all(parent).map_err(|e| ImageError::Write {
                    path: parent.to_path_buf(),
                    message: e.to_string(),
                })?;
            }
            save(img, &path)
        })?;
        Ok(())
    }
}

pub(super) fn save(img: &DynamicImage, path: &Path) -> Result<(), ImageError> {
    img.save(path).map_err(|e| ImageError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

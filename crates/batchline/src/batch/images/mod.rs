//! [`ImagesBatch`]: images (and optional labels and masks) loaded from files or memory,
//! resized, augmented with seeded randomness and stacked into an `ndarray` tensor, with the
//! per-item work spread over the item pool (see [`Context::par_map`]).

mod ops;

pub use ops::{Filter, Flip};

use std::collections::HashMap;
use std::fmt::{self, Display};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::DynamicImage;
use ndarray::Array4;
use rand::Rng;
use rayon::prelude::*;

use crate::batch::Batch;
use crate::dataset::Dataset;
use crate::index::{BatchIndex, FilesIndex, Id};
use crate::pipeline::{ActionError, ActionResult, Context};

/// Errors of [`ImagesBatch`] actions: each names the file or the image it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// A file could not be read.
    #[error("cannot read image {path:?}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be decoded (corrupt, or a format without a decoder).
    #[error("cannot decode image {path:?}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: image::ImageError,
    },
    /// An id has no image in the source.
    #[error("no image for id {0}")]
    UnknownId(String),
    /// An operation that does not fit the images (sizes, parameters, an empty batch, …).
    #[error("{0}")]
    Invalid(String),
    /// An image could not be written.
    #[error("cannot write image {path:?}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Where the images of a dataset come from: files (a path per id) or images in memory; plus
/// optional labels and masks per id.
///
/// # Examples
///
/// ```
/// use batchline::batch::images::ImagesSource;
/// use image::{DynamicImage, RgbImage};
///
/// let images = vec![DynamicImage::ImageRgb8(RgbImage::new(4, 4)); 3];
/// let source = ImagesSource::from_images(images).with_labels([(0, 1), (1, 0), (2, 1)]);
/// assert_eq!(source.len(), 3);
/// ```
pub struct ImagesSource<I: Id = String> {
    items: HashMap<I, Entry>,
    labels: Option<HashMap<I, i64>>,
    masks: Option<HashMap<I, Entry>>,
}

#[derive(Clone)]
enum Entry {
    File(PathBuf),
    Image(Arc<DynamicImage>),
}

impl<I: Id> fmt::Debug for ImagesSource<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImagesSource")
            .field("images", &self.items.len())
            .field("labels", &self.labels.as_ref().map(HashMap::len))
            .field("masks", &self.masks.as_ref().map(HashMap::len))
            .finish()
    }
}

impl ImagesSource<String> {
    /// The images are the files of `files`, by id.
    pub fn from_files(files: &FilesIndex) -> Self {
        Self {
            items: file_entries(files),
            labels: None,
            masks: None,
        }
    }

    /// The dataset of the image files of `files` (the usual start of an image pipeline).
    pub fn files_dataset(files: FilesIndex) -> Dataset<ImagesBatch> {
        let source = Self::from_files(&files);
        Dataset::new(files, source)
    }

    /// Masks from the files of `files`, matched to the images by id (a mask is loaded as
    /// grey).
    pub fn with_mask_files(mut self, files: &FilesIndex) -> Self {
        self.masks = Some(file_entries(files));
        self
    }
}

fn file_entries(files: &FilesIndex) -> HashMap<String, Entry> {
    files
        .index()
        .ids()
        .iter()
        .filter_map(|id| Some((id.clone(), Entry::File(files.path(id)?.to_path_buf()))))
        .collect()
}

impl ImagesSource<usize> {
    /// Images in memory; the id of each is its position in `images`.
    pub fn from_images(images: Vec<DynamicImage>) -> Self {
        Self {
            items: images
                .into_iter()
                .enumerate()
                .map(|(i, img)| (i, Entry::Image(Arc::new(ops::to_8bit(img)))))
                .collect(),
            labels: None,
            masks: None,
        }
    }

    /// Masks in memory, by position like the images.
    pub fn with_masks(mut self, masks: Vec<DynamicImage>) -> Self {
        self.masks = Some(
            masks
                .into_iter()
                .enumerate()
                .map(|(i, m)| {
                    (
                        i,
                        Entry::Image(Arc::new(DynamicImage::ImageLuma8(m.to_luma8()))),
                    )
                })
                .collect(),
        );
        self
    }
}

impl<I: Id> ImagesSource<I> {
    /// A label per id (a class number, say).
    pub fn with_labels(mut self, labels: impl IntoIterator<Item = (I, i64)>) -> Self {
        self.labels = Some(labels.into_iter().collect());
        self
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// How a tensor's axes are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// (batch, channels, height, width): PyTorch's order.
    Nchw,
    /// (batch, height, width, channels): TensorFlow's order.
    Nhwc,
}

/// The images of a batch stacked into one array.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Tensor {
    /// Samples as they are, 0–255.
    U8(Array4<u8>),
    /// Samples scaled to 0–1, then normalised with the mean and standard deviation asked for.
    F32(Array4<f32>),
}

impl Tensor {
    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::U8(a) => a.shape(),
            Tensor::F32(a) => a.shape(),
        }
    }
}

/// A batch of images, with their labels and masks when the source has them.
///
/// Its actions come from `#[batchline::actions]`: import [`ImagesBatchActions`] and chain
/// them on `dataset.p()`. Random parameters are drawn per image from the item's generator
/// (see [`Context::items`]), so a seeded run gives the same images for any prefetch and any
/// number of threads; fixed parameters are [`Arg`](crate::Arg)s, so they too can be drawn per
/// batch or read from the config.
///
/// # Examples
///
/// ```
/// use batchline::batch::images::{Filter, Flip, ImagesBatch, ImagesBatchActions, ImagesSource, Layout};
/// use batchline::{Dataset, DatasetIndex, RunSpec};
/// use image::{DynamicImage, RgbImage};
///
/// let images = (0..8).map(|i| DynamicImage::ImageRgb8(RgbImage::from_pixel(32, 24, [i * 30, 0, 0].into())));
/// let source = ImagesSource::from_images(images.collect());
/// let ds: Dataset<ImagesBatch<usize>> = Dataset::new(DatasetIndex::from_count(8), source);
/// let p = ds
///     .p()
///     .load()
///     .resize(16, 16, Filter::Bilinear)
///     .random_flip(Flip::Horizontal, 0.5)
///     .random_rotate(-10.0, 10.0)
///     .to_tensor(Layout::Nchw, vec![0.5, 0.5, 0.5], vec![0.25, 0.25, 0.25]);
/// for batch in p.gen_batch(&RunSpec::new(4).seed(1).prefetch(1))? {
///     let batch = batch?;
///     assert_eq!(batch.tensor.as_ref().unwrap().shape(), [4, 3, 16, 16]);
/// }
/// # Ok::<(), batchline::PipelineError>(())
/// ```
pub struct ImagesBatch<I: Id = String> {
    index: BatchIndex<I>,
    source: Arc<ImagesSource<I>>,
    /// The images, in batch order (empty until `load`).
    pub images: Vec<DynamicImage>,
    /// The labels, when the source has them (after `load`).
    pub labels: Option<Vec<i64>>,
    /// The masks (grey), when the source has them (after `load`); geometric actions move them
    /// with their images.
    pub masks: Option<Vec<DynamicImage>>,
    /// The stacked images, after `to_tensor` or `to_tensor_u8`.
    pub tensor: Option<Tensor>,
}

impl<I: Id> fmt::Debug for ImagesBatch<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImagesBatch")
            .field("ids", &self.index.ids())
            .field("images", &self.images.len())
            .field("labels", &self.labels)
            .field("masks", &self.masks.as_ref().map(Vec::len))
            .field("tensor", &self.tensor.as_ref().map(Tensor::shape))
            .finish()
    }
}

impl<I: Id> Batch for ImagesBatch<I> {
    type Id = I;
    type Source = ImagesSource<I>;

    fn create(index: BatchIndex<I>, source: &Arc<ImagesSource<I>>) -> Self {
        Self {
            index,
            source: Arc::clone(source),
            images: Vec::new(),
            labels: None,
            masks: None,
            tensor: None,
        }
    }

    fn index(&self) -> &BatchIndex<I> {
        &self.index
    }

    fn size_bytes(&self) -> usize {
        let images = |v: &[DynamicImage]| v.iter().map(|i| i.as_bytes().len()).sum::<usize>();
        let tensor = match &self.tensor {
            Some(Tensor::U8(a)) => a.len(),
            Some(Tensor::F32(a)) => 4 * a.len(),
            None => 0,
        };
        std::mem::size_of::<Self>()
            + self.index.len() * (std::mem::size_of::<I>() + std::mem::size_of::<usize>())
            + images(&self.images)
            + self.masks.as_deref().map_or(0, images)
            + tensor
    }
}

/// Loads one entry (decoding files), as an 8-bit image, or grey for masks.
fn load_entry(entry: &Entry, mask: bool) -> Result<DynamicImage, ImageError> {
    let image = match entry {
        Entry::Image(img) => return Ok(DynamicImage::clone(img)),
        Entry::File(path) => {
            let bytes = std::fs::read(path).map_err(|source| ImageError::Read {
                path: path.clone(),
                source,
            })?;
            image::load_from_memory(&bytes).map_err(|source| ImageError::Decode {
                path: path.clone(),
                source,
            })?
        }
    };
    Ok(if mask {
        DynamicImage::ImageLuma8(image.to_luma8())
    } else {
        ops::to_8bit(image)
    })
}

/// A smooth sinusoidal colour pattern with Gaussian noise of standard deviation `sigma` (none
/// when it is not a finite positive number), the same for the same `seed`: material for demos, tests and benchmarks that need realistic
/// images (a 256×256 one with σ = 4 compresses to about 115 KB of PNG).
///
/// # Examples
///
/// ```
/// let img = batchline::batch::images::synthetic_image(64, 48, 7, 4.0);
/// assert_eq!((img.width(), img.height()), (64, 48));
/// assert_eq!(img, batchline::batch::images::synthetic_image(64, 48, 7, 4.0));
/// ```
pub fn synthetic_image(width: u32, height: u32, seed: u64, sigma: f32) -> DynamicImage {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
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

/// Writes `n` PNG files `img0000.png`, `img0001.png`, … of [`synthetic_image`]s of
/// `size` × `size` (seeds 0 to `n - 1`, noise σ = 4) into `dir`, on the item pool; returns
/// their paths in order. The material of the image example and benchmarks.
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

/// Decodes the image files of `paths` on the item pool; the figure the image benchmark
/// compares the pipeline against (the decoder alone).
pub fn decode_files(paths: &[PathBuf]) -> Result<Vec<DynamicImage>, ImageError> {
    paths
        .par_iter()
        .map(|p| load_entry(&Entry::File(p.clone()), false))
        .collect()
}

impl<I: Id> ImagesBatch<I> {
    /// Runs a geometric operation on every image (and on every mask, with `true` as its last
    /// argument), with per-item parameters drawn first from the items' generators.
    fn geometric<P: Send + Sync>(
        &mut self,
        ctx: &mut Context,
        draw: impl Fn(&DynamicImage, &mut crate::pipeline::Item) -> P + Send + Sync,
        apply: impl Fn(DynamicImage, &P, bool) -> Result<DynamicImage, ImageError> + Send + Sync,
    ) -> ActionResult {
        self.make_8bit();
        let params = ctx.par_map(&self.images, |img, item| draw(img, item));
        let images = std::mem::take(&mut self.images);
        self.images = ctx.in_pool(|| {
            images
                .into_par_iter()
                .zip(&params)
                .map(|(img, p)| apply(img, p, false))
                .collect::<Result<Vec<_>, _>>()
        })?;
        if let Some(masks) = self.masks.take() {
            self.masks = Some(ctx.in_pool(|| {
                masks
                    .into_par_iter()
                    .zip(&params)
                    .map(|(m, p)| apply(m, p, true))
                    .collect::<Result<Vec<_>, _>>()
            })?);
        }
        Ok(())
    }

    /// Runs a colour operation on every image (masks are left alone).
    fn colour(
        &mut self,
        ctx: &mut Context,
        f: impl Fn(&mut DynamicImage, &mut crate::pipeline::Item) -> Result<(), ImageError>
            + Send
            + Sync,
    ) -> ActionResult {
        self.make_8bit();
        ctx.par_apply(&mut self.images, f)
    }

    /// Converts images (and masks) put in the public fields with 16 bits or floats per
    /// channel to the 8 bits every operation works on.
    fn make_8bit(&mut self) {
        let is_8bit =
            |img: &DynamicImage| img.color().bytes_per_pixel() == img.color().channel_count();
        for img in self.images.iter_mut().filter(|i| !is_8bit(i)) {
            *img = ops::to_8bit(std::mem::take(img));
        }
        for m in self.masks.iter_mut().flatten().filter(|m| !is_8bit(m)) {
            *m = DynamicImage::ImageLuma8(m.to_luma8());
        }
    }

    fn check_loaded(&self) -> Result<(), ImageError> {
        if self.images.len() != self.index.len() {
            return Err(ImageError::Invalid(format!(
                "the batch holds {} images for {} ids: run `load` first",
                self.images.len(),
                self.index.len()
            )));
        }
        Ok(())
    }
}

fn mask_filter(filter: Filter, mask: bool) -> Filter {
    if mask {
        Filter::Nearest
    } else {
        filter
    }
}

#[crate::actions]
impl<I: Id + Display> ImagesBatch<I> {
    /// Loads (decodes) the batch's images, and its labels and masks when the source has them,
    /// on the item pool. A missing or corrupt file is an error naming the path (and skips the
    /// batch under `ignore_errors`).
    #[action]
    pub fn load(&mut self, ctx: &mut Context) -> ActionResult {
        let source = Arc::clone(&self.source);
        let ids = self.index.ids().to_vec();
        let find = |map: &HashMap<I, Entry>, id: &I| -> Result<Entry, ImageError> {
            map.get(id)
                .cloned()
                .ok_or_else(|| ImageError::UnknownId(id.to_string()))
        };
        self.images =
            ctx.par_try_map(&ids, |id, _| load_entry(&find(&source.items, id)?, false))?;
        if let Some(masks) = &source.masks {
            self.masks = Some(ctx.par_try_map(&ids, |id, _| load_entry(&find(masks, id)?, true))?);
        }
        if let Some(labels) = &source.labels {
            let labels: Result<Vec<i64>, ImageError> = ids
                .iter()
                .map(|id| {
                    labels
                        .get(id)
                        .copied()
                        .ok_or_else(|| ImageError::Invalid(format!("no label for id {id}")))
                })
                .collect();
            self.labels = Some(labels?);
        }
        Ok(())
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

    /// Crops the central `width` × `height` window of every image.
    #[action]
    pub fn center_crop(&mut self, width: u32, height: u32, ctx: &mut Context) -> ActionResult {
        self.geometric(
            ctx,
            |_, _| (),
            |img, _, _| {
                let x = img.width().saturating_sub(width) / 2;
                let y = img.height().saturating_sub(height) / 2;
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

    /// Stacks the images into an `f32` [`Tensor`]: samples scaled to 0–1, then
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
        let (n, c, h, w) = self.stack_shape()?;
        let norm = |k: usize| -> (f32, f32) {
            (
                mean.get(k).copied().unwrap_or(0.0),
                std.get(k).copied().unwrap_or(1.0),
            )
        };
        if let Some(k) = (0..std.len()).find(|&k| !(std[k] > 0.0 && std[k].is_finite())) {
            return Err(ImageError::Invalid(format!(
                "to_tensor: the standard deviation of channel {k} is {}, not a finite positive \
                 number",
                std[k]
            ))
            .into());
        }
        if let Some(k) = (0..mean.len()).find(|&k| !mean[k].is_finite()) {
            return Err(ImageError::Invalid(format!(
                "to_tensor: the mean of channel {k} is {}",
                mean[k]
            ))
            .into());
        }
        if (!mean.is_empty() && mean.len() != c) || (!std.is_empty() && std.len() != c) {
            return Err(ImageError::Invalid(format!(
                "to_tensor: {c} channels, but {} means and {} standard deviations",
                mean.len(),
                std.len()
            ))
            .into());
        }
        let scale: Vec<(f32, f32)> = (0..c)
            .map(|k| {
                let (m, s) = norm(k);
                (1.0 / (255.0 * s), -m / s)
            })
            .collect();
        let per_image = c * h * w;
        let mut data = vec![0.0_f32; n * per_image];
        let images = &self.images;
        ctx.in_pool(|| {
            data.par_chunks_mut(per_image)
                .zip(images.par_iter())
                .for_each(|(out, img)| {
                    let bytes = img.as_bytes();
                    match layout {
                        Layout::Nhwc => {
                            for (px, o) in bytes.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
                                for k in 0..c {
                                    let (a, z) = scale[k];
                                    o[k] = px[k] as f32 * a + z;
                                }
                            }
                        }
                        Layout::Nchw => {
                            for (k, plane) in out.chunks_exact_mut(h * w).enumerate() {
                                let (a, z) = scale[k];
                                for (o, &b) in plane.iter_mut().zip(bytes.iter().skip(k).step_by(c))
                                {
                                    *o = b as f32 * a + z;
                                }
                            }
                        }
                    }
                })
        });
        let shape = match layout {
            Layout::Nchw => (n, c, h, w),
            Layout::Nhwc => (n, h, w, c),
        };
        self.tensor = Some(Tensor::F32(
            Array4::from_shape_vec(shape, data).map_err(|e| ImageError::Invalid(e.to_string()))?,
        ));
        Ok(())
    }

    /// Stacks the images into a `u8` [`Tensor`] (samples as they are).
    #[action]
    pub fn to_tensor_u8(&mut self, layout: Layout) -> ActionResult {
        let (n, c, h, w) = self.stack_shape()?;
        let mut data = Vec::with_capacity(n * c * h * w);
        for img in &self.images {
            let bytes = img.as_bytes();
            match layout {
                Layout::Nhwc => data.extend_from_slice(bytes),
                Layout::Nchw => {
                    for k in 0..c {
                        data.extend(bytes.iter().skip(k).step_by(c));
                    }
                }
            }
        }
        let shape = match layout {
            Layout::Nchw => (n, c, h, w),
            Layout::Nhwc => (n, h, w, c),
        };
        self.tensor = Some(Tensor::U8(
            Array4::from_shape_vec(shape, data).map_err(|e| ImageError::Invalid(e.to_string()))?,
        ));
        Ok(())
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

fn save(img: &DynamicImage, path: &Path) -> Result<(), ImageError> {
    img.save(path).map_err(|e| ImageError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn check_p(p: f64) -> Result<(), ActionError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(ImageError::Invalid(format!("probability {p} is not in [0, 1]")).into())
    }
}

impl<I: Id> ImagesBatch<I> {
    /// (images, channels, height, width) of a batch whose images all agree.
    fn stack_shape(&self) -> Result<(usize, usize, usize, usize), ImageError> {
        self.check_loaded()?;
        let first = self
            .images
            .first()
            .ok_or_else(|| ImageError::Invalid("cannot stack an empty batch".into()))?;
        if let Some(i) = self
            .images
            .iter()
            .position(|img| img.color().bytes_per_pixel() != img.color().channel_count())
        {
            return Err(ImageError::Invalid(format!(
                "cannot stack: image {i} has more than 8 bits per sample (convert it with \
                 an image action first, e.g. resize or to_greyscale)"
            )));
        }
        let key = |img: &DynamicImage| (ops::channels(img).0, img.height(), img.width());
        let want = key(first);
        if let Some((i, img)) = self
            .images
            .iter()
            .enumerate()
            .find(|(_, img)| key(img) != want)
        {
            let (c, h, w) = key(img);
            return Err(ImageError::Invalid(format!(
                "cannot stack: image {i} is {w}×{h} with {c} channels, image 0 is {}×{} with {} \
                 (resize and convert them first)",
                want.2, want.1, want.0
            )));
        }
        Ok((self.images.len(), want.0, want.1 as usize, want.2 as usize))
    }
}

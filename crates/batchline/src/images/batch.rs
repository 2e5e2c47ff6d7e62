//! [`ImagesBatch`]: the batch type, its [`Batch`] implementation (with `merge` and
//! `split_off`), loading, and the helpers its actions share.

use std::fmt::{self, Display};
use std::path::Path;
use std::sync::Arc;

use image::DynamicImage;
use rayon::prelude::*;

use super::decode::{load_entry, recycle, LoadOptions, LoadPolicy};
use super::fused::{find, Step};
use super::source::ImagesSource;
use super::tensor::{Layout, Tensor};
use super::{ops, ImageError};
use crate::action_error::{ActionError, ActionResult};
use crate::batch::check_split;
use crate::batch::Batch;
use crate::index::BatchIndex;
use crate::index::Id;
use crate::plan::{Context, Item};

/// A batch of images, with their labels and masks when the source has them.
///
/// Its actions come from `#[batchline::actions]`: import [`ImagesBatchActions`] (loading,
/// geometry, tensors) and [`ImagesTransforms`] (torchvision's transforms) and chain them on
/// `dataset.p()`. Random parameters are drawn per image from the item's generator (see
/// [`Context::items`]), so a seeded run gives the same images for any prefetch and any
/// number of threads; fixed parameters are [`Arg`](crate::Arg)s, so they too can be drawn per
/// batch or read from the config.
///
/// [`ImagesBatchActions`]: super::ImagesBatchActions
/// [`ImagesTransforms`]: super::ImagesTransforms
///
/// # Examples
///
/// ```
/// use batchline::images::{Filter, Flip, ImagesBatch, ImagesBatchActions, ImagesSource, Layout};
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
    pub(super) index: BatchIndex<I>,
    pub(super) source: Arc<ImagesSource<I>>,
    /// The images, in batch order (empty until `load`).
    pub images: Vec<DynamicImage>,
    /// The labels, when the source has them (after `load`).
    pub labels: Option<Vec<i64>>,
    /// The masks (grey), when the source has them (after `load`); geometric actions move them
    /// with their images.
    pub masks: Option<Vec<DynamicImage>>,
    /// The stacked images, after `to_tensor` or `to_tensor_u8`.
    pub tensor: Option<Tensor>,
    /// The layout of `tensor`.
    pub(super) layout: Layout,
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
            layout: Layout::Nchw,
        }
    }

    fn index(&self) -> &BatchIndex<I> {
        &self.index
    }

    fn size_bytes(&self) -> usize {
        let images = |v: &[DynamicImage]| v.iter().map(|i| i.as_bytes().len()).sum::<usize>();
        let tensor = self.tensor.as_ref().map_or(0, Tensor::size_bytes);
        std::mem::size_of::<Self>()
            + self.index.len() * (std::mem::size_of::<I>() + std::mem::size_of::<usize>())
            + images(&self.images)
            + self.masks.as_deref().map_or(0, images)
            + tensor
    }

    /// Appends `other`'s items: ids, images, labels, masks, and the tensor (stacked along the
    /// batch axis). An empty batch takes the other's state whole.
    fn merge(&mut self, other: Self) -> Result<(), ActionError> {
        if other.index.is_empty() {
            return Ok(());
        }
        if self.index.is_empty() {
            let source = Arc::clone(&self.source);
            *self = other;
            self.source = source;
            return Ok(());
        }
        let mismatch = |what: &str| {
            ActionError::msg(format!(
                "cannot merge image batches: one has {what}, the other not"
            ))
        };
        let loaded = |b: &Self| !b.images.is_empty();
        if loaded(self) != loaded(&other) {
            return Err(mismatch("loaded images"));
        }
        if self.labels.is_some() != other.labels.is_some() {
            return Err(mismatch("labels"));
        }
        if self.masks.is_some() != other.masks.is_some() {
            return Err(mismatch("masks"));
        }
        let tensor = match (self.tensor.take(), other.tensor) {
            (None, None) => None,
            (Some(a), Some(b)) => Some(a.concat(b).map_err(ActionError::from)?),
            _ => return Err(mismatch("a tensor")),
        };
        self.tensor = tensor;
        self.index.append(other.index);
        self.images.extend(other.images);
        if let (Some(a), Some(b)) = (&mut self.labels, other.labels) {
            a.extend(b);
        }
        if let (Some(a), Some(b)) = (&mut self.masks, other.masks) {
            a.extend(b);
        }
        Ok(())
    }

    /// This batch keeps its first `at` items; the returned batch holds the rest, with their
    /// images, labels, masks and rows of the tensor.
    fn split_off(&mut self, at: usize) -> Result<Self, ActionError> {
        check_split(at, self.len())?;
        let tail = |v: &mut Vec<DynamicImage>| {
            if v.len() >= at {
                v.split_off(at)
            } else {
                Vec::new()
            }
        };
        Ok(Self {
            index: self.index.split_off(at),
            source: Arc::clone(&self.source),
            images: tail(&mut self.images),
            labels: self.labels.as_mut().map(|l| l.split_off(at.min(l.len()))),
            masks: self.masks.as_mut().map(tail),
            tensor: match &mut self.tensor {
                Some(t) => Some(t.split_off(at).map_err(ActionError::from)?),
                None => None,
            },
            layout: self.layout,
        })
    }
}

impl<I: Id> ImagesBatch<I> {
    /// The file of the batch's `i`-th item, when its image comes from a file.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::images::{ImagesBatch, ImagesSource};
    /// use batchline::{Batch, BatchIndex};
    /// use std::sync::Arc;
    ///
    /// let source = Arc::new(ImagesSource::from_images(vec![image::DynamicImage::new_rgb8(2, 2)]));
    /// let batch = ImagesBatch::create(BatchIndex::new(vec![0], vec![0]), &source);
    /// assert_eq!(batch.path(0), None); // in memory
    /// ```
    pub fn path(&self, i: usize) -> Option<&Path> {
        self.source.path(self.index.ids().get(i)?)
    }

    /// The source the batch was built from (its labels and paths, by id).
    pub fn source(&self) -> &ImagesSource<I> {
        &self.source
    }

    /// Runs a geometric operation on every image (and on every mask, with `true` as its last
    /// argument), with per-item parameters drawn first from the items' generators.
    pub(super) fn geometric<P: Send + Sync>(
        &mut self,
        ctx: &mut Context,
        draw: impl Fn(&DynamicImage, &mut Item) -> P + Send + Sync,
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

    /// Runs one step of an image pipeline on every image (and mask), as an action: its
    /// parameters checked, drawn per image, then applied.
    pub(super) fn run_step(&mut self, step: &Step, ctx: &mut Context) -> ActionResult {
        step.check()?;
        self.geometric(
            ctx,
            |img, item| step.draw(img.width(), img.height(), item),
            |mut img, drawn, mask| match step.apply(&mut img, drawn, mask)? {
                // The replaced image's buffer goes to this thread's next decoded image.
                Some(new) => {
                    recycle(img);
                    Ok(new)
                }
                None => Ok(img),
            },
        )
    }

    /// Runs a colour operation on every image (masks are left alone).
    pub(super) fn colour(
        &mut self,
        ctx: &mut Context,
        f: impl Fn(&mut DynamicImage, &mut Item) -> Result<(), ImageError> + Send + Sync,
    ) -> ActionResult {
        self.make_8bit();
        ctx.par_apply(&mut self.images, f)
    }

    /// Converts images (and masks) put in the public fields with 16 bits or floats per
    /// channel to the 8 bits every operation works on.
    pub(super) fn make_8bit(&mut self) {
        let is_8bit =
            |img: &DynamicImage| img.color().bytes_per_pixel() == img.color().channel_count();
        for img in self.images.iter_mut().filter(|i| !is_8bit(i)) {
            *img = ops::to_8bit(std::mem::take(img));
        }
        for m in self.masks.iter_mut().flatten().filter(|m| !is_8bit(m)) {
            *m = DynamicImage::ImageLuma8(m.to_luma8());
        }
    }

    pub(super) fn check_loaded(&self) -> Result<(), ImageError> {
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

impl<I: Id + Display> ImagesBatch<I> {
    /// The work of `load` and `load_with`: decodes every item on the item pool; a bad item
    /// fails the batch or leaves it, as `options.policy` says.
    pub(super) fn load_items(&mut self, options: &LoadOptions, ctx: &mut Context) -> ActionResult {
        let source = Arc::clone(&self.source);
        let ids = self.index.ids().to_vec();
        let loaded: Vec<Result<(DynamicImage, Option<DynamicImage>), ImageError>> =
            ctx.par_map(&ids, |id, _| {
                let image = load_entry(&find(&source.items, id)?, false, options)?;
                let mask = match &source.masks {
                    Some(masks) => Some(load_entry(&find(masks, id)?, true, options)?),
                    None => None,
                };
                Ok((image, mask))
            });
        self.keep_loaded(&ids, loaded, options, ctx)?;
        Ok(())
    }

    /// Takes the loaded items (image and mask, or the error, of every id in batch order): a
    /// bad item fails the batch or leaves it, as `options.policy` says; the labels follow.
    /// Returns the positions kept.
    pub(super) fn keep_loaded(
        &mut self,
        ids: &[I],
        loaded: Vec<Result<(DynamicImage, Option<DynamicImage>), ImageError>>,
        options: &LoadOptions,
        ctx: &mut Context,
    ) -> Result<Vec<usize>, ActionError> {
        let source = Arc::clone(&self.source);
        let mut keep = Vec::with_capacity(ids.len());
        let (mut images, mut masks) = (Vec::with_capacity(ids.len()), Vec::new());
        for (i, result) in loaded.into_iter().enumerate() {
            match result {
                Ok((image, mask)) => {
                    keep.push(i);
                    images.push(image);
                    masks.extend(mask);
                }
                Err(err) if options.policy == LoadPolicy::DropItem => {
                    let id = &ids[i];
                    ctx.drop_item(id.to_string(), source.path(id), err.to_string());
                }
                Err(err) => {
                    let message = format!("item {i} ({}): {err}", ids[i]);
                    return Err(ActionError::with_source(message, err));
                }
            }
        }
        let labels = match &source.labels {
            Some(labels) => Some(
                keep.iter()
                    .map(|&i| {
                        labels.get(&ids[i]).copied().ok_or_else(|| {
                            ImageError::Invalid(format!("no label for id {}", ids[i]))
                        })
                    })
                    .collect::<Result<Vec<i64>, ImageError>>()?,
            ),
            None => None,
        };
        if keep.len() < ids.len() {
            if keep.is_empty() {
                return Err(ActionError::skip_batch());
            }
            let positions = self.index.positions();
            self.index = BatchIndex::new(
                keep.iter().map(|&i| ids[i].clone()).collect(),
                keep.iter().map(|&i| positions[i]).collect(),
            );
        }
        self.images = images;
        self.masks = source.masks.is_some().then_some(masks);
        self.labels = labels;
        Ok(keep)
    }
}

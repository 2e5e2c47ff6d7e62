//! [`PerImage`]: the steps of an image pipeline that work on one image at a time (resize,
//! crops, flips, colour conversion, then the tensor), run by
//! [`load_fused`](super::ImagesBatchActions::load_fused) right after each image is decoded, in
//! the same task: one pass per image instead of one pass over the batch per action, no
//! full-size decoded image kept past its first step, and DCT-scaled JPEG decoding when that
//! step shrinks the image.
//!
//! [`Step`] is also what the geometric actions of [`ImagesBatch`] run, so an action and the
//! same step of a `PerImage` are the same code and draw the same random parameters.

use std::fmt::Display;
use std::sync::Arc;

use image::DynamicImage;
use rand::{Rng, RngCore};
use rayon::prelude::*;

use super::checks::{check_p, check_range};
use super::decode::{decode_file_with, load_entry, recycle, take_buffer, LoadOptions};
use super::ops::{self, convert, mask_filter, Colour, Filter, Flip};
use super::source::Entry;
use super::tensor::{f32_tensor, normalisation, write_f32, zeros, Layout};
use super::{tv, ImageError, ImagesBatch};
use crate::action_error::{ActionError, ActionResult};
use crate::index::Id;
use crate::plan::{Context, Item};

/// The smallest DCT scale `load_fused` decodes at (2: a half of each side). Measured on this
/// project's machine (one thread, 500 × 375 JPEGs of quality 90): jpeg-decoder at 1/2 decodes
/// about as fast as zune-jpeg at full size (1 065 against 1 110 images/s), at 1/4 and 1/8 about
/// 1.4 times as fast; at 1/2 the resize after it reads a quarter of the pixels.
const MIN_DCT_SCALE: u32 = 2;

/// One step of an image pipeline on one image: what the geometric actions of
/// [`ImagesBatchActions`](super::ImagesBatchActions) and `convert` do to each image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Step {
    Resize {
        width: u32,
        height: u32,
        filter: Filter,
    },
    Scale {
        factor: f32,
        filter: Filter,
    },
    ResizeShorter {
        side: u32,
        filter: Filter,
    },
    Crop {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
    },
    CenterCrop {
        width: u32,
        height: u32,
    },
    RandomCrop {
        width: u32,
        height: u32,
    },
    RandomResizedCrop {
        size: u32,
        scale: (f64, f64),
        ratio: (f64, f64),
        filter: Filter,
    },
    Flip(Flip),
    RandomFlip {
        how: Flip,
        p: f64,
    },
    Convert(Colour),
}

/// A window of an image `(x, y, w, h)`, the size it is resized to, and the filter.
type ResizedWindow = ((u32, u32, u32, u32), (u32, u32), Filter);

/// What a step drew for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Drawn {
    Nothing,
    At(u32, u32),
    Window(u32, u32, u32, u32),
    Flip(bool),
}

impl Step {
    /// The checks of the step's parameters (those its action makes before anything else).
    pub(super) fn check(&self) -> Result<(), ActionError> {
        match *self {
            Step::Scale { factor, .. } if !(factor > 0.0 && factor.is_finite()) => {
                Err(ImageError::Invalid(format!("cannot scale by {factor}")).into())
            }
            Step::RandomResizedCrop { scale, ratio, .. } => {
                check_range("random_resized_crop scale", scale, true)?;
                check_range("random_resized_crop ratio", ratio, true)
            }
            Step::RandomFlip { p, .. } => check_p(p),
            _ => Ok(()),
        }
    }

    /// Whether the step moves pixels (and so applies to masks as well).
    fn is_geometric(&self) -> bool {
        !matches!(self, Step::Convert(_))
    }

    /// The step's random parameters for an image of `width` × `height`.
    pub(super) fn draw(&self, width: u32, height: u32, item: &mut Item) -> Drawn {
        match *self {
            Step::RandomCrop {
                width: cw,
                height: ch,
            } => {
                let x = item.rng().random_range(0..=width.saturating_sub(cw));
                let y = item.rng().random_range(0..=height.saturating_sub(ch));
                Drawn::At(x, y)
            }
            Step::RandomResizedCrop { scale, ratio, .. } => {
                let (x, y, w, h) = tv::rrc_params(item.rng(), width, height, scale, ratio);
                Drawn::Window(x, y, w, h)
            }
            Step::RandomFlip { p, .. } => Drawn::Flip(item.rng().random_bool(p)),
            _ => Drawn::Nothing,
        }
    }

    /// The window of the source and the size it is resized to, for the steps that resize
    /// (with a filter that averages: not [`Filter::Nearest`]).
    fn resized_window(&self, width: u32, height: u32, drawn: &Drawn) -> Option<ResizedWindow> {
        let whole = (0, 0, width, height);
        let (window, out, filter) = match (self, drawn) {
            (
                &Step::Resize {
                    width: w,
                    height: h,
                    filter,
                },
                _,
            ) => (whole, (w, h), filter),
            (&Step::Scale { factor, filter }, _) => {
                (whole, scaled_size(width, height, factor), filter)
            }
            (&Step::ResizeShorter { side, filter }, _) => {
                (whole, tv::shorter_side_size(width, height, side), filter)
            }
            (&Step::RandomResizedCrop { size, filter, .. }, &Drawn::Window(x, y, w, h)) => {
                ((x, y, w, h), (size, size), filter)
            }
            _ => return None,
        };
        (filter != Filter::Nearest).then_some((window, out, filter))
    }

    /// The DCT scale to decode an image of `width` × `height` at for this step (1: full
    /// size): the largest of 8, 4 and 2 (at least [`MIN_DCT_SCALE`]) that leaves the window at
    /// least as large as the output in both directions, so that the step still only shrinks.
    fn dct_scale(&self, width: u32, height: u32, drawn: &Drawn) -> u32 {
        let Some(((_, _, w, h), (ow, oh), _)) = self.resized_window(width, height, drawn) else {
            return 1;
        };
        [8, 4, 2]
            .into_iter()
            .filter(|&s| s >= MIN_DCT_SCALE)
            .find(|&s| w as u64 >= s as u64 * ow as u64 && h as u64 >= s as u64 * oh as u64)
            .unwrap_or(1)
    }

    /// Applies the step to `img` (a mask when `mask`): `Some` new image, or `None` when `img`
    /// was changed in place (or left alone).
    pub(super) fn apply(
        &self,
        img: &mut DynamicImage,
        drawn: &Drawn,
        mask: bool,
    ) -> Result<Option<DynamicImage>, ImageError> {
        let new = match (*self, *drawn) {
            (
                Step::Resize {
                    width,
                    height,
                    filter,
                },
                _,
            ) => ops::resize(img, width, height, mask_filter(filter, mask))?,
            (Step::Scale { factor, filter }, _) => {
                let (w, h) = scaled_size(img.width(), img.height(), factor);
                ops::resize(img, w, h, mask_filter(filter, mask))?
            }
            (Step::ResizeShorter { side, filter }, _) => {
                let (w, h) = tv::shorter_side_size(img.width(), img.height(), side);
                ops::resize(img, w, h, mask_filter(filter, mask))?
            }
            (
                Step::Crop {
                    x,
                    y,
                    width,
                    height,
                },
                _,
            ) => ops::crop(img, x, y, width, height)?,
            (Step::CenterCrop { width, height }, _) => {
                // torchvision's `int(round((size - crop) / 2))`, halves to even.
                let half = |d: u32| (d as f64 / 2.0).round_ties_even() as u32;
                let x = half(img.width().saturating_sub(width));
                let y = half(img.height().saturating_sub(height));
                ops::crop(img, x, y, width, height)?
            }
            (Step::RandomCrop { width, height }, Drawn::At(x, y)) => {
                ops::crop(img, x, y, width, height)?
            }
            (Step::RandomResizedCrop { size, filter, .. }, Drawn::Window(x, y, w, h)) => {
                ops::resize_region(
                    img,
                    Some((x, y, w, h)),
                    size,
                    size,
                    mask_filter(filter, mask),
                )?
            }
            (Step::Flip(how), _) | (Step::RandomFlip { how, .. }, Drawn::Flip(true)) => {
                ops::flip(img, how);
                return Ok(None);
            }
            (Step::Convert(to), _) if !mask && img.color() != colour_type(to) => convert(img, to),
            _ => return Ok(None),
        };
        Ok(Some(new))
    }

    /// Applies the first step to an image decoded at `1 / scale` of its `full` size: the
    /// window, in full-size pixels, becomes one in the smaller image's (fractional) pixels.
    fn apply_scaled(
        &self,
        img: &DynamicImage,
        drawn: &Drawn,
        scale: u32,
        full: (u32, u32),
    ) -> Result<DynamicImage, ImageError> {
        let ((x, y, w, h), (ow, oh), filter) =
            self.resized_window(full.0, full.1, drawn).ok_or_else(|| {
                ImageError::Invalid("a DCT scale for a step that does not resize".into())
            })?;
        let s = scale as f64;
        let window = (x as f64 / s, y as f64 / s, w as f64 / s, h as f64 / s);
        ops::check_size(ow as usize, oh as usize, ops::channels(img).0)?;
        ops::resize_window(img, Some(window), ow, oh, filter)
    }
}

fn scaled_size(width: u32, height: u32, factor: f32) -> (u32, u32) {
    let w = ((width as f32 * factor).round() as u32).max(1);
    let h = ((height as f32 * factor).round() as u32).max(1);
    (w, h)
}

fn colour_type(to: Colour) -> image::ColorType {
    match to {
        Colour::Rgb => image::ColorType::Rgb8,
        Colour::Rgba => image::ColorType::Rgba8,
        Colour::Grey => image::ColorType::L8,
    }
}

/// The steps [`load_fused`](super::ImagesBatchActions::load_fused) runs on each image right
/// after decoding it, in order, in the same task: the per-image actions of
/// [`ImagesBatchActions`](super::ImagesBatchActions) and
/// [`ImagesTransforms`](super::ImagesTransforms) (resizes, crops, flips, `convert`), then
/// optionally the tensor.
///
/// A step gives what its action gives: the same pixels and, for a seeded run, the same random
/// parameters (see `load_fused` for the two exceptions: DCT scaling, dropped items).
///
/// # Examples
///
/// ```
/// use batchline::images::{Filter, Flip, Layout, PerImage};
///
/// let train = PerImage::new()
///     .random_resized_crop(224, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0), Filter::Bilinear)
///     .random_flip(Flip::Horizontal, 0.5)
///     .to_tensor(Layout::Nchw, vec![0.485, 0.456, 0.406], vec![0.229, 0.224, 0.225]);
/// assert_eq!(train.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PerImage {
    pub(super) steps: Vec<Step>,
    pub(super) tensor: Option<(Layout, Vec<f32>, Vec<f32>)>,
}

impl PerImage {
    /// No step.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of steps (the tensor is not counted).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether there is no step (the tensor is not counted).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn then(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// [`resize`](super::ImagesBatchActions::resize): to `width` × `height`.
    pub fn resize(self, width: u32, height: u32, filter: Filter) -> Self {
        self.then(Step::Resize {
            width,
            height,
            filter,
        })
    }

    /// [`scale`](super::ImagesBatchActions::scale): by `factor`, keeping the aspect ratio.
    pub fn scale(self, factor: f32, filter: Filter) -> Self {
        self.then(Step::Scale { factor, filter })
    }

    /// [`resize_shorter`](super::ImagesTransforms::resize_shorter): the shorter side to `side`.
    pub fn resize_shorter(self, side: u32, filter: Filter) -> Self {
        self.then(Step::ResizeShorter { side, filter })
    }

    /// [`crop`](super::ImagesBatchActions::crop): the `width` × `height` window at (`x`, `y`).
    pub fn crop(self, x: u32, y: u32, width: u32, height: u32) -> Self {
        self.then(Step::Crop {
            x,
            y,
            width,
            height,
        })
    }

    /// [`center_crop`](super::ImagesBatchActions::center_crop): the central window.
    pub fn center_crop(self, width: u32, height: u32) -> Self {
        self.then(Step::CenterCrop { width, height })
    }

    /// [`random_crop`](super::ImagesBatchActions::random_crop): a window at a random place.
    pub fn random_crop(self, width: u32, height: u32) -> Self {
        self.then(Step::RandomCrop { width, height })
    }

    /// [`random_resized_crop`](super::ImagesTransforms::random_resized_crop): torchvision's
    /// `RandomResizedCrop`.
    pub fn random_resized_crop(
        self,
        size: u32,
        scale: (f64, f64),
        ratio: (f64, f64),
        filter: Filter,
    ) -> Self {
        self.then(Step::RandomResizedCrop {
            size,
            scale,
            ratio,
            filter,
        })
    }

    /// [`flip`](super::ImagesBatchActions::flip).
    pub fn flip(self, how: Flip) -> Self {
        self.then(Step::Flip(how))
    }

    /// [`random_flip`](super::ImagesBatchActions::random_flip): with probability `p`.
    pub fn random_flip(self, how: Flip, p: f64) -> Self {
        self.then(Step::RandomFlip { how, p })
    }

    /// [`convert`](super::ImagesTransforms::convert): to `to` (images only, not masks).
    pub fn convert(self, to: Colour) -> Self {
        self.then(Step::Convert(to))
    }

    /// The `(channels, height, width)` the steps give every image, as far as they say: the
    /// size of the last step that sets one, the channels of the last `convert` (3 without
    /// one: what JPEGs decode to). Images that turn out otherwise are stacked afterwards.
    fn expected_shape(&self) -> Option<(usize, usize, usize)> {
        let mut size = None;
        let mut channels = 3;
        for step in &self.steps {
            match *step {
                Step::Resize { width, height, .. }
                | Step::Crop { width, height, .. }
                | Step::CenterCrop { width, height }
                | Step::RandomCrop { width, height } => size = Some((width, height)),
                Step::RandomResizedCrop { size: s, .. } => size = Some((s, s)),
                Step::Scale { .. } | Step::ResizeShorter { .. } => size = None,
                Step::Convert(to) => {
                    channels = match to {
                        Colour::Rgb => 3,
                        Colour::Rgba => 4,
                        Colour::Grey => 1,
                    }
                }
                Step::Flip(_) | Step::RandomFlip { .. } => {}
            }
        }
        let (w, h) = size?;
        Some((channels, h as usize, w as usize))
    }

    /// After the steps, [`to_tensor`](super::ImagesBatchActions::to_tensor): the images
    /// stacked into a normalised `f32` tensor.
    pub fn to_tensor(mut self, layout: Layout, mean: Vec<f32>, std: Vec<f32>) -> Self {
        self.tensor = Some((layout, mean, std));
        self
    }
}

/// Whether an image has 8 bits per sample (what the geometric actions convert to first).
fn is_8bit(img: &DynamicImage) -> bool {
    img.color().bytes_per_pixel() == img.color().channel_count()
}

/// Loads one item and runs the steps on it (and on its mask), with one generator per step.
fn load_item(
    entry: &Entry,
    mask: Option<&Entry>,
    options: &LoadOptions,
    steps: &[Step],
    items: &mut [Item],
) -> Result<(DynamicImage, Option<DynamicImage>), ImageError> {
    let mut first: Option<Drawn> = None;
    let (mut img, scale, full) = match (entry, steps.first()) {
        (Entry::File(path), Some(step)) => {
            let mut full = (0, 0);
            let mut plan = |w: u32, h: u32| {
                full = (w, h);
                let drawn = step.draw(w, h, &mut items[0]);
                first = Some(drawn);
                step.dct_scale(w, h, &drawn)
            };
            let decoded = decode_file_with(path, options, &mut plan, take_buffer())?;
            (ops::to_8bit(decoded.image), decoded.scale, full)
        }
        _ => {
            let img = load_entry(entry, false, options)?;
            let size = (img.width(), img.height());
            (img, 1, size)
        }
    };
    let mut mask = match mask {
        Some(m) => Some(load_entry(m, true, options)?),
        None => None,
    };
    for (k, step) in steps.iter().enumerate() {
        if step.is_geometric() {
            // What `geometric` does first.
            if !is_8bit(&img) {
                img = ops::to_8bit(img);
            }
            if let Some(m) = mask.as_mut().filter(|m| !is_8bit(m)) {
                *m = DynamicImage::ImageLuma8(m.to_luma8());
            }
        }
        let drawn = match first.take() {
            Some(d) if k == 0 => d,
            _ => step.draw(img.width(), img.height(), &mut items[k]),
        };
        let new = if k == 0 && scale > 1 {
            Some(step.apply_scaled(&img, &drawn, scale, full)?)
        } else {
            step.apply(&mut img, &drawn, false)?
        };
        if let Some(new) = new {
            recycle(std::mem::replace(&mut img, new));
        }
        if let Some(m) = mask.as_mut() {
            if step.is_geometric() {
                if let Some(new) = step.apply(m, &drawn, true)? {
                    *m = new;
                }
            }
        }
    }
    Ok((img, mask))
}

impl<I: Id + Display> ImagesBatch<I> {
    /// The work of `load_fused`.
    pub(super) fn load_fused_items(
        &mut self,
        options: &LoadOptions,
        per_image: &PerImage,
        ctx: &mut Context,
    ) -> ActionResult {
        for step in &per_image.steps {
            step.check()?;
        }
        let source = Arc::clone(&self.source);
        let ids = self.index.ids().to_vec();
        let n = ids.len();
        // The generators of the action-by-action chain: one draw of the batch's generator for
        // `load`, then one per step.
        ctx.rng().next_u64();
        let mut per_step: Vec<std::vec::IntoIter<Item>> = per_image
            .steps
            .iter()
            .map(|_| ctx.items(n).into_iter())
            .collect();
        let states: Vec<Vec<Item>> = (0..n)
            .map(|_| per_step.iter_mut().filter_map(Iterator::next).collect())
            .collect();
        let steps = &per_image.steps;
        let load = |id: &I, items: &mut Vec<Item>| {
            let entry = find(&source.items, id)?;
            let mask = match &source.masks {
                Some(masks) => Some(find(masks, id)?),
                None => None,
            };
            load_item(&entry, mask.as_ref(), options, steps, items)
        };
        // With a tensor of a shape known in advance, each task writes its image's part of it
        // too, while the image is in its cache.
        let direct = per_image.tensor.as_ref().and_then(|(layout, mean, std)| {
            let (c, h, w) = per_image.expected_shape().filter(|_| n > 0)?;
            let scale = normalisation(mean, std, c).ok()?;
            Some((*layout, (c, h, w), scale))
        });
        let Some((layout, (c, h, w), scale)) = direct else {
            let loaded = ctx.in_pool(|| {
                ids.par_iter()
                    .zip(states)
                    .map(|(id, mut items)| load(id, &mut items))
                    .collect::<Vec<_>>()
            });
            self.keep_loaded(&ids, loaded, options, ctx)?;
            if let Some((layout, mean, std)) = &per_image.tensor {
                self.stack_f32(*layout, mean, std, ctx)?;
            }
            return Ok(());
        };
        let per = c * h * w;
        let fits = |img: &DynamicImage| {
            is_8bit(img)
                && (
                    ops::channels(img).0,
                    img.height() as usize,
                    img.width() as usize,
                ) == (c, h, w)
        };
        let (loaded, mut data) = ctx.in_pool(|| {
            let mut data = zeros(n * per);
            let loaded = data
                .par_chunks_mut(per.max(1))
                .zip(ids.par_iter().zip(states))
                .map(|(out, (id, mut items))| {
                    let loaded = load(id, &mut items)?;
                    let written = fits(&loaded.0);
                    if written {
                        write_f32(loaded.0.as_bytes(), c, h * w, layout, &scale, out);
                    }
                    Ok((loaded, written))
                })
                .collect::<Vec<Result<_, ImageError>>>();
            (loaded, data)
        });
        let mut all_written = true;
        let loaded = loaded
            .into_iter()
            .map(|r| {
                r.map(|(loaded, written)| {
                    all_written &= written;
                    loaded
                })
            })
            .collect();
        let kept = self.keep_loaded(&ids, loaded, options, ctx)?;
        if !all_written {
            // An image of other channels (a grey JPEG, an RGBA PNG): stacked as `to_tensor`
            // stacks (an error when the images differ).
            let (layout, mean, std) = per_image.tensor.as_ref().expect("a tensor step");
            return self.stack_f32(*layout, mean, std, ctx);
        }
        if kept.len() < n {
            // Dropped items: the kept images' parts move down in place (`kept` is ascending),
            // without a second buffer of the batch's size.
            for (to, &from) in kept.iter().enumerate() {
                if to != from {
                    data.copy_within(from * per..(from + 1) * per, to * per);
                }
            }
            data.truncate(kept.len() * per);
        }
        self.layout = layout;
        self.tensor = Some(f32_tensor(layout, (kept.len(), c, h, w), data)?);
        Ok(())
    }
}

pub(super) fn find<I: Id + Display>(
    map: &std::collections::HashMap<I, Entry>,
    id: &I,
) -> Result<Entry, ImageError> {
    map.get(id)
        .cloned()
        .ok_or_else(|| ImageError::UnknownId(id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize(width: u32, height: u32, filter: Filter) -> Step {
        Step::Resize {
            width,
            height,
            filter,
        }
    }

    #[test]
    fn the_dct_scale_keeps_the_window_at_least_as_large_as_the_output() {
        let none = Drawn::Nothing;
        assert_eq!(
            resize(400, 300, Filter::Bilinear).dct_scale(800, 600, &none),
            2
        );
        assert_eq!(
            resize(401, 300, Filter::Bilinear).dct_scale(800, 600, &none),
            1
        );
        assert_eq!(
            resize(150, 112, Filter::Bilinear).dct_scale(800, 600, &none),
            4
        );
        assert_eq!(
            resize(100, 75, Filter::Bilinear).dct_scale(800, 600, &none),
            8
        );
        assert_eq!(
            resize(10, 10, Filter::Bilinear).dct_scale(800, 600, &none),
            8
        );
        // Nearest picks pixels: never scaled.
        assert_eq!(
            resize(100, 75, Filter::Nearest).dct_scale(800, 600, &none),
            1
        );
        let scale = Step::Scale {
            factor: 0.25,
            filter: Filter::Lanczos3,
        };
        assert_eq!(scale.dct_scale(800, 600, &none), 4);
        let shorter = Step::ResizeShorter {
            side: 256,
            filter: Filter::Bilinear,
        };
        // ImageNet's typical 500 × 375 to 256: less than a half, decoded in full.
        assert_eq!(shorter.dct_scale(500, 375, &none), 1);
        assert_eq!(shorter.dct_scale(1024, 768, &none), 2);
        let rrc = Step::RandomResizedCrop {
            size: 224,
            scale: (0.08, 1.0),
            ratio: (0.75, 4.0 / 3.0),
            filter: Filter::Bilinear,
        };
        assert_eq!(rrc.dct_scale(500, 375, &Drawn::Window(0, 0, 375, 375)), 1);
        assert_eq!(
            rrc.dct_scale(2000, 1500, &Drawn::Window(9, 9, 900, 1000)),
            4
        );
        // Steps that do not resize decode in full.
        let crop = Step::CenterCrop {
            width: 10,
            height: 10,
        };
        assert_eq!(crop.dct_scale(800, 600, &none), 1);
        assert_eq!(Step::Flip(Flip::Horizontal).dct_scale(800, 600, &none), 1);
    }

    #[test]
    fn the_expected_shape_is_that_of_the_last_steps_that_set_it() {
        let rrc = PerImage::new().random_resized_crop(224, (0.08, 1.0), (0.75, 1.3), Filter::Box);
        assert_eq!(rrc.expected_shape(), Some((3, 224, 224)));
        let grey = rrc.clone().convert(Colour::Grey).flip(Flip::Vertical);
        assert_eq!(grey.expected_shape(), Some((1, 224, 224)));
        assert_eq!(
            PerImage::new()
                .resize_shorter(256, Filter::Bilinear)
                .center_crop(224, 200)
                .convert(Colour::Rgba)
                .expected_shape(),
            Some((4, 200, 224))
        );
        assert_eq!(rrc.scale(0.5, Filter::Box).expected_shape(), None);
        assert_eq!(PerImage::new().expected_shape(), None);
    }
}

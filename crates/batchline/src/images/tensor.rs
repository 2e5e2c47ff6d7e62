//! [`Tensor`]: the images of a batch stacked into one `ndarray`, and the stacking itself.

use ndarray::{concatenate, Array4, Axis};
use rayon::prelude::*;

use super::{ops, ImageError, ImagesBatch};
use crate::action_error::ActionResult;
use crate::index::Id;
use crate::plan::Context;

/// How a tensor's axes are ordered.
///
/// # Examples
///
/// ```
/// use batchline::images::Layout;
/// assert_ne!(Layout::Nchw, Layout::Nhwc);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// (batch, channels, height, width): PyTorch's order.
    Nchw,
    /// (batch, height, width, channels): TensorFlow's order.
    Nhwc,
}

/// The images of a batch stacked into one array.
///
/// # Examples
///
/// ```
/// use batchline::images::Tensor;
/// let t = Tensor::U8(ndarray::Array4::zeros((2, 3, 4, 5)));
/// assert_eq!(t.shape(), [2, 3, 4, 5]);
/// ```
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

    pub(super) fn size_bytes(&self) -> usize {
        match self {
            Tensor::U8(a) => a.len(),
            Tensor::F32(a) => 4 * a.len(),
        }
    }

    /// `self` then `other` along the batch axis.
    pub(super) fn concat(self, other: Tensor) -> Result<Tensor, ImageError> {
        let err = |e: ndarray::ShapeError| {
            ImageError::Invalid(format!("cannot merge the tensors of two batches: {e}"))
        };
        match (self, other) {
            (Tensor::U8(a), Tensor::U8(b)) => Ok(Tensor::U8(
                concatenate(Axis(0), &[a.view(), b.view()]).map_err(err)?,
            )),
            (Tensor::F32(a), Tensor::F32(b)) => Ok(Tensor::F32(
                concatenate(Axis(0), &[a.view(), b.view()]).map_err(err)?,
            )),
            _ => Err(ImageError::Invalid(
                "cannot merge a u8 tensor with an f32 one".into(),
            )),
        }
    }

    /// Keeps the first `at` rows of the batch axis; returns the rest.
    pub(super) fn split_off(&mut self, at: usize) -> Result<Tensor, ImageError> {
        fn split<T: Clone>(a: &mut Array4<T>, at: usize) -> Result<Array4<T>, ImageError> {
            let &[n, x, y, z] = a.shape() else {
                unreachable!("a tensor has 4 axes")
            };
            let at = at.min(n);
            // In logical order (the views of an empty split do not own well in ndarray 0.16).
            let mut head: Vec<T> = a.iter().cloned().collect();
            let tail = head.split_off(at * x * y * z);
            let err = |e: ndarray::ShapeError| ImageError::Invalid(format!("split: {e}"));
            *a = Array4::from_shape_vec((at, x, y, z), head).map_err(err)?;
            Array4::from_shape_vec((n - at, x, y, z), tail).map_err(err)
        }
        Ok(match self {
            Tensor::U8(a) => Tensor::U8(split(a, at)?),
            Tensor::F32(a) => Tensor::F32(split(a, at)?),
        })
    }
}

fn shape_of(
    layout: Layout,
    (n, c, h, w): (usize, usize, usize, usize),
) -> (usize, usize, usize, usize) {
    match layout {
        Layout::Nchw => (n, c, h, w),
        Layout::Nhwc => (n, h, w, c),
    }
}

/// Checks normalisation parameters for `c` channels; `(scale, offset)` per channel, so that
/// `x * scale + offset` is `(x / 255 - mean) / std`.
pub(super) fn normalisation(
    mean: &[f32],
    std: &[f32],
    c: usize,
) -> Result<Vec<(f32, f32)>, ImageError> {
    if let Some(k) = (0..std.len()).find(|&k| !(std[k] > 0.0 && std[k].is_finite())) {
        return Err(ImageError::Invalid(format!(
            "to_tensor: the standard deviation of channel {k} is {}, not a finite positive \
             number",
            std[k]
        )));
    }
    if let Some(k) = (0..mean.len()).find(|&k| !mean[k].is_finite()) {
        return Err(ImageError::Invalid(format!(
            "to_tensor: the mean of channel {k} is {}",
            mean[k]
        )));
    }
    if (!mean.is_empty() && mean.len() != c) || (!std.is_empty() && std.len() != c) {
        return Err(ImageError::Invalid(format!(
            "to_tensor: {c} channels, but {} means and {} standard deviations",
            mean.len(),
            std.len()
        )));
    }
    Ok((0..c)
        .map(|k| {
            let m = mean.get(k).copied().unwrap_or(0.0);
            let s = std.get(k).copied().unwrap_or(1.0);
            (1.0 / (255.0 * s), -m / s)
        })
        .collect())
}

/// Writes one interleaved 8-bit image into its part of an f32 tensor.
pub(super) fn write_f32(
    bytes: &[u8],
    c: usize,
    hw: usize,
    layout: Layout,
    scale: &[(f32, f32)],
    out: &mut [f32],
) {
    match (layout, c) {
        (Layout::Nhwc, _) => {
            for (px, o) in bytes.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
                for k in 0..c {
                    let (a, z) = scale[k];
                    o[k] = px[k] as f32 * a + z;
                }
            }
        }
        // One pass over the pixels, writing the three planes together (twice as fast as a
        // strided pass per plane).
        (Layout::Nchw, 3) => {
            let (r, rest) = out.split_at_mut(hw);
            let (g, b) = rest.split_at_mut(hw);
            let [(a0, z0), (a1, z1), (a2, z2)] = [scale[0], scale[1], scale[2]];
            for (px, ((r, g), b)) in bytes
                .chunks_exact(3)
                .zip(r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()))
            {
                *r = px[0] as f32 * a0 + z0;
                *g = px[1] as f32 * a1 + z1;
                *b = px[2] as f32 * a2 + z2;
            }
        }
        (Layout::Nchw, _) => {
            for (k, plane) in out.chunks_exact_mut(hw).enumerate() {
                let (a, z) = scale[k];
                for (o, &b) in plane.iter_mut().zip(bytes.iter().skip(k).step_by(c)) {
                    *o = b as f32 * a + z;
                }
            }
        }
    }
}

/// `len` zeros, written on the item pool's threads (the stacking then overwrites them).
pub(super) fn zeros(len: usize) -> Vec<f32> {
    rayon::iter::repeat_n(0.0_f32, len).collect()
}

/// The tensor of `data`, images of `(n, c, h, w)` in `layout`.
pub(super) fn f32_tensor(
    layout: Layout,
    nchw: (usize, usize, usize, usize),
    data: Vec<f32>,
) -> Result<Tensor, ImageError> {
    Ok(Tensor::F32(
        Array4::from_shape_vec(shape_of(layout, nchw), data)
            .map_err(|e| ImageError::Invalid(e.to_string()))?,
    ))
}

impl<I: Id> ImagesBatch<I> {
    /// The work of `to_tensor`.
    pub(super) fn stack_f32(
        &mut self,
        layout: Layout,
        mean: &[f32],
        std: &[f32],
        ctx: &mut Context,
    ) -> ActionResult {
        let (n, c, h, w) = self.stack_shape()?;
        let scale = normalisation(mean, std, c)?;
        let per_image = c * h * w;
        let images = &self.images;
        let data = ctx.in_pool(|| {
            let mut data = zeros(n * per_image);
            data.par_chunks_mut(per_image.max(1))
                .zip(images.par_iter())
                .for_each(|(out, img)| write_f32(img.as_bytes(), c, h * w, layout, &scale, out));
            data
        });
        self.layout = layout;
        self.tensor = Some(f32_tensor(layout, (n, c, h, w), data)?);
        Ok(())
    }

    /// The work of `to_tensor_u8`.
    pub(super) fn stack_u8(&mut self, layout: Layout) -> ActionResult {
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
        self.layout = layout;
        self.tensor = Some(Tensor::U8(
            Array4::from_shape_vec(shape_of(layout, (n, c, h, w)), data)
                .map_err(|e| ImageError::Invalid(e.to_string()))?,
        ));
        Ok(())
    }

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

use image::DynamicImage;

//! [`ImagesBatch`]: images (and optional labels and masks) loaded from files or memory,
//! resized, augmented with seeded randomness and stacked into an `ndarray` tensor, with the
//! per-item work spread over the item pool (see [`Context::par_map`](crate::Context::par_map)).
//!
//! The module's parts: [`ImagesSource`] (where the images come from, and
//! [`ImagesSource::image_folder`] for `root/<class>/*.jpg` datasets), [`LoadOptions`] (how a
//! file is decoded and what a bad file costs), [`ImagesBatch`] (the batch, with
//! [`merge`](crate::Batch::merge) and [`split_off`](crate::Batch::split_off)), its actions
//! ([`ImagesBatchActions`]: loading, geometry, simple colour operations, tensors) and the
//! torchvision-style transforms ([`ImagesTransforms`]: `random_resized_crop`, colour jitter,
//! TrivialAugmentWide, random erasing, …).

mod actions;
mod batch;
mod checks;
mod decode;
mod fused;
mod ops;
mod source;
mod synthetic;
mod tensor;
mod transforms;
mod tv;

pub use actions::ImagesBatchActions;
pub use batch::ImagesBatch;
pub use decode::{LoadOptions, LoadPolicy, DEFAULT_MAX_PIXELS};
pub use fused::PerImage;
pub use ops::{Colour, Filter, Flip};
pub use source::{ImageFolder, ImagesSource, IMAGE_EXTENSIONS};
pub use tensor::{Layout, Tensor};
pub use transforms::ImagesTransforms;

// Material for the example, the benchmarks and the tests; not part of the API.
#[doc(hidden)]
pub use synthetic::{
    decode_files, natural_image, synthetic_image, write_synthetic_jpegs, write_synthetic_pngs,
};

use std::path::PathBuf;

/// Errors of [`ImagesBatch`] actions and of [`ImagesSource`]: each names the file or the image
/// it is about.
///
/// # Examples
///
/// ```
/// use batchline::images::{ImageError, ImagesSource};
///
/// let err = ImagesSource::image_folder("/no/such/folder").unwrap_err();
/// assert!(err.to_string().contains("/no/such/folder"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// A file could not be read.
    #[error("cannot read {path:?}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is empty.
    #[error("cannot decode image {path:?}: empty file")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A file's first bytes are not those of an image format with a decoder (PNG, JPEG).
    #[error(
        "cannot decode image {path:?}: not a PNG or JPEG file (the format could not be \
         determined from its first bytes)"
    )]
    Format {
        /// The file.
        path: PathBuf,
    },
    /// An image has more pixels than [`LoadOptions::max_pixels`] allows: refused from its
    /// header, before anything is allocated for it.
    #[error(
        "image {path:?} is {width}×{height}, {} pixels: more than the limit of {limit} \
         (LoadOptions::max_pixels)", *.width as u64 * *.height as u64
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The limit in pixels.
        limit: u64,
    },
    /// A file could not be decoded (corrupt or truncated; under strict decoding, also what
    /// the decoder would only warn about).
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
    /// An image folder's files could not be listed (the root does not exist, no image in
    /// it, two files with one id).
    #[error("image folder: {0}")]
    Index(#[from] crate::index::IndexError),
    /// An image folder has no class folder.
    #[error("image folder {root:?} has no class folder (expected {root:?}/<class>/<image>)")]
    NoClasses {
        /// The folder.
        root: PathBuf,
    },
    /// A class folder of an image folder holds no image.
    #[error("class folder {path:?} holds no image file (extensions: {extensions})")]
    EmptyClass {
        /// The class folder.
        path: PathBuf,
        /// The extensions looked for.
        extensions: String,
    },
}

//! Decoding one file: the format from its first bytes, the pixel limit from its header
//! (before anything is allocated for the pixels), strict decoding; and [`LoadOptions`].

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::error::{DecodingError, ImageFormatHint};
use image::{DynamicImage, ImageDecoder, ImageFormat};

use super::source::Entry;
use super::{ops, ImageError};

/// The default [`LoadOptions::max_pixels`]: Pillow's `MAX_IMAGE_PIXELS` (2³⁰ / 4 / 3,
/// about 89 million: an RGBA image of 1 GiB / 3).
pub const DEFAULT_MAX_PIXELS: u64 = 89_478_485;

/// What a file that cannot be loaded costs: see [`LoadOptions::policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoadPolicy {
    /// The batch fails, with the error of its first bad item (naming the path).
    #[default]
    FailBatch,
    /// The item leaves the batch: the batch shrinks (its ids, labels and masks stay aligned)
    /// and the item is recorded with its path and error in
    /// [`RunReport::item_failures`](crate::RunReport::item_failures), counted against
    /// [`RunSpec::max_failures`](crate::RunSpec::max_failures). A batch whose items all fail
    /// is skipped.
    DropItem,
}

/// How `load_with` decodes: what a bad file costs, how strict the decoders are, and the most
/// pixels an image may have.
///
/// # Examples
///
/// ```
/// use batchline::images::{LoadOptions, LoadPolicy};
///
/// let options = LoadOptions::new().drop_bad_items().max_pixels(4096 * 4096);
/// assert_eq!(options.policy, LoadPolicy::DropItem);
/// assert!(options.strict);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// What a file that cannot be loaded costs (default: the batch fails).
    pub policy: LoadPolicy,
    /// Strict decoding (the default): what a decoder would only warn about — a truncated
    /// JPEG, scan data that does not decode, a bad marker — is an error. Lenient decoding
    /// (`false`) lets the JPEG decoder fill what it cannot decode (grey) and go on. A
    /// truncated or corrupt PNG is an error either way.
    pub strict: bool,
    /// The most pixels an image may have (width × height), checked from the file's header
    /// before its pixels are allocated (default [`DEFAULT_MAX_PIXELS`]).
    pub max_pixels: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            policy: LoadPolicy::FailBatch,
            strict: true,
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

impl LoadOptions {
    /// The defaults: fail the batch, strict, at most [`DEFAULT_MAX_PIXELS`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops bad items instead of failing their batch ([`LoadPolicy::DropItem`]).
    pub fn drop_bad_items(mut self) -> Self {
        self.policy = LoadPolicy::DropItem;
        self
    }

    /// Lenient decoding (see [`strict`](Self::strict)).
    pub fn lenient(mut self) -> Self {
        self.strict = false;
        self
    }

    /// The most pixels an image may have.
    pub fn max_pixels(mut self, pixels: u64) -> Self {
        self.max_pixels = pixels;
        self
    }
}

/// Loads one entry (decoding files), as an 8-bit image, or grey for masks.
pub(super) fn load_entry(
    entry: &Entry,
    mask: bool,
    options: &LoadOptions,
) -> Result<DynamicImage, ImageError> {
    let image = match entry {
        Entry::Image(img) => return Ok(DynamicImage::clone(img)),
        Entry::File(path) => decode_file(path, options)?,
    };
    Ok(if mask {
        DynamicImage::ImageLuma8(image.to_luma8())
    } else {
        ops::to_8bit(image)
    })
}

/// Decodes a file: its format from its first bytes (a file that is no image is never read
/// whole), its size from its header, then its pixels.
pub(super) fn decode_file(path: &Path, options: &LoadOptions) -> Result<DynamicImage, ImageError> {
    let read = |source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read)?;
    let len = file.metadata().map_err(read)?.len();
    // Only the first bytes are read before the format is known (a pipe or a device has no
    // length: its first bytes say too).
    let mut head = Vec::with_capacity(32);
    (&mut file).take(32).read_to_end(&mut head).map_err(read)?;
    if head.is_empty() {
        return Err(ImageError::Empty {
            path: path.to_path_buf(),
        });
    }
    let format = image::guess_format(&head).map_err(|_| ImageError::Format {
        path: path.to_path_buf(),
    })?;
    let decode = |source| ImageError::Decode {
        path: path.to_path_buf(),
        source,
    };
    match format {
        ImageFormat::Jpeg => {
            file.seek(SeekFrom::Start(0)).map_err(read)?;
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes).map_err(read)?;
            decode_jpeg(&bytes, path, options)
        }
        ImageFormat::Png => {
            file.seek(SeekFrom::Start(0)).map_err(read)?;
            let mut limits = image::Limits::no_limits();
            // Room for the pixels at 16 bits × 4 channels, and for the decoder's own buffers.
            limits.max_alloc = Some(options.max_pixels.saturating_mul(8).max(64 << 20));
            let decoder = image::codecs::png::PngDecoder::with_limits(BufReader::new(file), limits)
                .map_err(decode)?;
            check_pixels(path, decoder.dimensions(), options)?;
            DynamicImage::from_decoder(decoder).map_err(decode)
        }
        _ => Err(ImageError::Format {
            path: path.to_path_buf(),
        }),
    }
}

fn check_pixels(
    path: &Path,
    (width, height): (u32, u32),
    o: &LoadOptions,
) -> Result<(), ImageError> {
    if width as u64 * height as u64 > o.max_pixels {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
            limit: o.max_pixels,
        });
    }
    Ok(())
}

/// Decodes a JPEG with zune-jpeg directly (the `image` crate always decodes leniently).
fn decode_jpeg(
    bytes: &[u8],
    path: &Path,
    options: &LoadOptions,
) -> Result<DynamicImage, ImageError> {
    use zune_core::colorspace::ColorSpace;
    let decode = |e: zune_jpeg::errors::DecodeErrors| ImageError::Decode {
        path: path.to_path_buf(),
        source: image::ImageError::Decoding(DecodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            e,
        )),
    };
    let zopts = zune_core::options::DecoderOptions::default()
        .set_strict_mode(options.strict)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut decoder =
        zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), zopts);
    decoder.decode_headers().map_err(decode)?;
    let (w, h) = decoder.dimensions().unwrap_or_default();
    let (w, h) = (w as u32, h as u32);
    check_pixels(path, (w, h), options)?;
    let grey = matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::Luma | ColorSpace::LumaA)
    );
    let out = if grey {
        ColorSpace::Luma
    } else {
        ColorSpace::RGB
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let pixels = decoder.decode().map_err(decode)?;
    let bad = |what: &str| ImageError::Decode {
        path: path.to_path_buf(),
        source: image::ImageError::Decoding(DecodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            what.to_string(),
        )),
    };
    let image = if grey {
        image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
    } else {
        image::RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or_else(|| bad("the decoder gave fewer samples than the image's size"))
}

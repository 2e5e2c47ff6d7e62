//! Decoding one file: the format from its first bytes, the pixel limit from its header
//! (before anything is allocated for the pixels), strict decoding; and [`LoadOptions`].

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::error::{DecodingError, ImageFormatHint};
use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat};

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
    /// DCT-scaled JPEG decoding in [`load_fused`](super::ImagesBatchActions::load_fused) (on
    /// by default; Pillow's `draft`): when the first step resizes a JPEG's window to at most
    /// a half, a quarter or an eighth of its size in both directions, the file is decoded
    /// at that scale (by `jpeg-decoder`'s reduced inverse DCT) and the window is resized
    /// from there. The result is within a small tolerance of decoding the whole image and
    /// resizing it (see `load_fused`); `false` gives exactly that. Plain `load` and
    /// `load_with` never scale.
    pub dct_scaling: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            policy: LoadPolicy::FailBatch,
            strict: true,
            max_pixels: DEFAULT_MAX_PIXELS,
            dct_scaling: true,
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

    /// DCT-scaled JPEG decoding in `load_fused` on or off (see
    /// [`dct_scaling`](Self::dct_scaling)).
    pub fn dct_scaling(mut self, on: bool) -> Self {
        self.dct_scaling = on;
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
    Ok(decode_file_with(path, options, &mut |_, _| 1, take_buffer())?.image)
}

/// A decoded file, and the DCT scale it was decoded at (1: full size; `s`: each side is
/// `ceil(side / s)`).
pub(super) struct Decoded {
    pub(super) image: DynamicImage,
    pub(super) scale: u32,
}

/// [`decode_file`], with a say in the decoding: `plan` is called once, with the image's full
/// size from its header (after the pixel limit is checked, before anything is decoded), and
/// returns the DCT scale it wants (1, 2, 4 or 8; honoured for 8-bit JPEGs in RGB or grey, which
/// are the ones `jpeg-decoder` scales, and only when [`LoadOptions::dct_scaling`]). 8-bit
/// images are decoded into `buf` (grown as needed) when it has room, so a caller can recycle
/// buffers.
pub(super) fn decode_file_with(
    path: &Path,
    options: &LoadOptions,
    plan: &mut dyn FnMut(u32, u32) -> u32,
    buf: Vec<u8>,
) -> Result<Decoded, ImageError> {
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
            decode_jpeg(&bytes, path, options, plan, buf)
        }
        ImageFormat::Png => {
            file.seek(SeekFrom::Start(0)).map_err(read)?;
            let mut limits = image::Limits::no_limits();
            // Room for the pixels at 16 bits × 4 channels, and for the decoder's own buffers.
            limits.max_alloc = Some(options.max_pixels.saturating_mul(8).max(64 << 20));
            let decoder = image::codecs::png::PngDecoder::with_limits(BufReader::new(file), limits)
                .map_err(decode)?;
            let (w, h) = decoder.dimensions();
            check_pixels(path, (w, h), options)?;
            plan(w, h);
            let image = match decoder.color_type() {
                ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8
                    if buf.capacity() > 0 =>
                {
                    let colour = decoder.color_type();
                    let mut buf = buf;
                    buf.resize(decoder.total_bytes() as usize, 0);
                    decoder.read_image(&mut buf).map_err(decode)?;
                    from_raw(colour, w, h, buf).ok_or_else(|| {
                        bad(
                            path,
                            ImageFormat::Png,
                            "the decoder gave fewer samples than its size",
                        )
                    })?
                }
                _ => DynamicImage::from_decoder(decoder).map_err(decode)?,
            };
            Ok(Decoded { image, scale: 1 })
        }
        _ => Err(ImageError::Format {
            path: path.to_path_buf(),
        }),
    }
}

/// An 8-bit image of `colour` from its samples (`None` when they do not fill it).
fn from_raw(colour: ColorType, w: u32, h: u32, raw: Vec<u8>) -> Option<DynamicImage> {
    Some(match colour {
        ColorType::L8 => DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, raw)?),
        ColorType::La8 => DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, raw)?),
        ColorType::Rgb8 => DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, raw)?),
        _ => DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, raw)?),
    })
}

fn bad(path: &Path, format: ImageFormat, what: &str) -> ImageError {
    ImageError::Decode {
        path: path.to_path_buf(),
        source: image::ImageError::Decoding(DecodingError::new(
            ImageFormatHint::Exact(format),
            what.to_string(),
        )),
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

/// Decodes a JPEG with zune-jpeg directly (the `image` crate always decodes leniently), or at
/// the scale `plan` asks for with `jpeg-decoder`.
fn decode_jpeg(
    bytes: &[u8],
    path: &Path,
    options: &LoadOptions,
    plan: &mut dyn FnMut(u32, u32) -> u32,
    buf: Vec<u8>,
) -> Result<Decoded, ImageError> {
    use zune_core::colorspace::ColorSpace;
    let decode = |e: zune_jpeg::errors::DecodeErrors| jpeg_error(path, e);
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
    let scale = plan(w, h);
    if options.dct_scaling && matches!(scale, 2 | 4 | 8) {
        match decode_jpeg_scaled(bytes, (w, h), scale) {
            Ok(Some(image)) => return Ok(Decoded { image, scale }),
            // A pixel format jpeg-decoder gives as is (CMYK, 16 bits): decoded in full below.
            Ok(None) => {}
            Err(e) if options.strict => return Err(jpeg_error(path, e)),
            // Lenient: zune-jpeg fills what it cannot decode, at full size.
            Err(_) => {}
        }
    }
    let grey = matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::Luma | ColorSpace::LumaA)
    );
    // libjpeg-turbo for the common colour spaces; a file it fails on is an error when strict,
    // and decoded by zune-jpeg when lenient (which fills what it cannot decode).
    #[cfg(feature = "turbojpeg")]
    let buf = if matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::YCbCr | ColorSpace::RGB | ColorSpace::Luma)
    ) {
        match turbo::decode(bytes, path, (w, h), grey, buf) {
            Ok(decoded) => return Ok(decoded),
            Err(e) if options.strict => return Err(e),
            Err(_) => Vec::new(),
        }
    } else {
        buf
    };
    let (out, colour) = if grey {
        (ColorSpace::Luma, ColorType::L8)
    } else {
        (ColorSpace::RGB, ColorType::Rgb8)
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let pixels = if buf.capacity() > 0 {
        let size = decoder
            .output_buffer_size()
            .ok_or_else(|| bad(path, ImageFormat::Jpeg, "no output size after the headers"))?;
        let mut buf = buf;
        buf.resize(size, 0);
        decoder.decode_into(&mut buf).map_err(decode)?;
        buf
    } else {
        decoder.decode().map_err(decode)?
    };
    jpeg_decoded(path, colour, (w, h), pixels)
}

/// A decoder's error on the JPEG `path`.
fn jpeg_error(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ImageError {
    ImageError::Decode {
        path: path.to_path_buf(),
        source: image::ImageError::Decoding(DecodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            e,
        )),
    }
}

/// The full-size image of the samples a JPEG decoder gave for `path`.
fn jpeg_decoded(
    path: &Path,
    colour: ColorType,
    (w, h): (u32, u32),
    pixels: Vec<u8>,
) -> Result<Decoded, ImageError> {
    let image = from_raw(colour, w, h, pixels).ok_or_else(|| {
        bad(
            path,
            ImageFormat::Jpeg,
            "the decoder gave fewer samples than the image's size",
        )
    })?;
    Ok(Decoded { image, scale: 1 })
}

/// Full-size JPEG decoding with libjpeg-turbo (feature `turbojpeg`).
#[cfg(feature = "turbojpeg")]
mod turbo {
    use std::cell::RefCell;
    use std::path::Path;

    use image::ColorType;

    use super::{jpeg_decoded, jpeg_error, Decoded, ImageError};

    thread_local! {
        /// This thread's decompressor (making one per image costs an allocation of its state).
        static DECOMPRESSOR: RefCell<Option<turbojpeg::Decompressor>> = const { RefCell::new(None) };
    }

    /// Decodes the JPEG `bytes` of `size` into `buf` (grown as needed), as RGB or grey. Its
    /// warnings (a truncated file, corrupt scan data) are errors: libjpeg-turbo reports them
    /// as a failure of the call.
    pub(super) fn decode(
        bytes: &[u8],
        path: &Path,
        (w, h): (u32, u32),
        grey: bool,
        mut buf: Vec<u8>,
    ) -> Result<Decoded, ImageError> {
        let fail = |e: turbojpeg::Error| jpeg_error(path, e);
        let (format, colour, channels) = if grey {
            (turbojpeg::PixelFormat::GRAY, ColorType::L8, 1)
        } else {
            (turbojpeg::PixelFormat::RGB, ColorType::Rgb8, 3)
        };
        let (width, height) = (w as usize, h as usize);
        buf.clear();
        buf.resize(width * height * channels, 0);
        DECOMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            let decompressor = match cell.as_mut() {
                Some(d) => d,
                None => cell.insert(turbojpeg::Decompressor::new().map_err(fail)?),
            };
            let image = turbojpeg::Image {
                pixels: buf.as_mut_slice(),
                width,
                pitch: width * channels,
                height,
                format,
            };
            decompressor.decompress(bytes, image).map_err(fail)
        })?;
        jpeg_decoded(path, colour, (w, h), buf)
    }
}

/// Decodes a JPEG of `size` at `1 / scale` with jpeg-decoder's reduced inverse DCT: each side
/// becomes `ceil(side / scale)`. `None` for what it does not give as RGB or grey.
fn decode_jpeg_scaled(
    bytes: &[u8],
    (w, h): (u32, u32),
    scale: u32,
) -> Result<Option<DynamicImage>, jpeg_decoder::Error> {
    let (sw, sh) = (w.div_ceil(scale), h.div_ceil(scale));
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    // jpeg-decoder picks the smallest scale that gives at least the size asked for: asking
    // for exactly the scaled size gives that scale.
    let got = decoder.scale(sw as u16, sh as u16)?;
    if (got.0 as u32, got.1 as u32) != (sw, sh) {
        return Ok(None);
    }
    let pixels = decoder.decode()?;
    let colour = match decoder.info().map(|i| i.pixel_format) {
        Some(jpeg_decoder::PixelFormat::RGB24) => ColorType::Rgb8,
        Some(jpeg_decoder::PixelFormat::L8) => ColorType::L8,
        _ => return Ok(None),
    };
    Ok(from_raw(colour, sw, sh, pixels))
}

thread_local! {
    /// The buffers of replaced images, kept for the next images this thread decodes.
    static PIXELS: RefCell<Kept> = const { RefCell::new(Kept { buffers: Vec::new(), bytes: 0 }) };
}

/// A thread's kept buffers and their total capacity.
struct Kept {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

/// The most bytes a thread keeps for its next decoded images.
///
/// Why keep them: a decoded image of 500 × 375 is 560 KB. A chain of actions decodes a
/// thread's share of a batch before its next action replaces them; freed together, the
/// allocator gives their pages back to the system, and the next batch's decoding faults every
/// page in again (150 faults per image: a quarter of the decoding's time on this machine).
const MAX_KEPT: usize = 32 << 20;

/// A kept buffer of this thread (an empty one when there is none), with room for one byte at
/// least (so that the decoders decode into it).
pub(super) fn take_buffer() -> Vec<u8> {
    let mut buf = PIXELS
        .with(|p| {
            let mut kept = p.borrow_mut();
            let buf = kept.buffers.pop()?;
            kept.bytes -= buf.capacity();
            Some(buf)
        })
        .unwrap_or_default();
    if buf.capacity() == 0 {
        buf.reserve(1);
    }
    buf
}

/// Keeps an 8-bit image's buffer for a next image this thread decodes (while the thread keeps
/// less than [`MAX_KEPT`] bytes).
pub(super) fn recycle(img: DynamicImage) {
    if !matches!(
        img,
        DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_)
    ) {
        return;
    }
    let bytes = img.into_bytes();
    PIXELS.with(|p| {
        let mut kept = p.borrow_mut();
        if kept.bytes + bytes.capacity() <= MAX_KEPT {
            kept.bytes += bytes.capacity();
            kept.buffers.push(bytes);
        }
    });
}

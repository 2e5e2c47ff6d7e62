//! `ImagesBatch` through pipelines: every action on tiny synthetic images (exact pixels where
//! the operation is exact), masks that move with their images, seeded determinism for any
//! prefetch and item pool, files (PNG, JPEG, corrupt and missing ones), dump and labels.

use crate::common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use batchline::images::{
    Filter, Flip, ImagesBatch, ImagesBatchActions, ImagesSource, Layout, Tensor,
};
use batchline::{Batch, Dataset, DatasetIndex, Pipeline, PipelineError, RunSpec};
use batchline::{FileIds, FilesIndex};
use common::{with_watchdog, Jitter};
use image::{
    ColorType, DynamicImage, GenericImageView, GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage,
};

const LIMIT: Duration = Duration::from_secs(30);

type B = ImagesBatch<usize>;

/// A `w` × `h` RGB image whose pixels all differ, with no sample 0.
fn distinct(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (1 + 12 * x) as u8,
            (1 + 12 * y) as u8,
            (255 - (x + w * y) % 250) as u8,
        ])
    })
}

fn rgb(img: RgbImage) -> DynamicImage {
    DynamicImage::ImageRgb8(img)
}

/// Runs `build(dataset.p())` over the images of `source` (ids 0..n) with `spec`, in a
/// watchdog.
fn run_source(
    source: ImagesSource<usize>,
    n: usize,
    spec: RunSpec,
    build: impl FnOnce(Pipeline<B>) -> Pipeline<B> + Send + 'static,
) -> Vec<Result<B, PipelineError>> {
    with_watchdog(LIMIT, move || {
        let ds: Dataset<B> = Dataset::new(DatasetIndex::from_count(n), source);
        let p = build(ds.p());
        p.gen_batch(&spec).unwrap().collect()
    })
}

/// All the images in one batch, with a fixed seed and a pool of 2 item threads.
fn one_batch(
    images: Vec<DynamicImage>,
    build: impl FnOnce(Pipeline<B>) -> Pipeline<B> + Send + 'static,
) -> Result<B, PipelineError> {
    let n = images.len();
    let mut out = run_source(
        ImagesSource::from_images(images),
        n,
        RunSpec::new(n).seed(1).item_threads(2),
        build,
    );
    assert_eq!(out.len(), 1);
    out.pop().unwrap()
}

/// Like [`one_batch`], with masks.
fn one_batch_with_masks(
    images: Vec<DynamicImage>,
    masks: Vec<DynamicImage>,
    seed: u64,
    build: impl FnOnce(Pipeline<B>) -> Pipeline<B> + Send + 'static,
) -> B {
    let n = images.len();
    let mut out = run_source(
        ImagesSource::from_images(images).with_masks(masks),
        n,
        RunSpec::new(n).seed(seed).item_threads(2),
        build,
    );
    assert_eq!(out.len(), 1);
    out.pop().unwrap().unwrap()
}

/// The error text of a one-batch run that must fail.
fn failure(
    images: Vec<DynamicImage>,
    build: impl FnOnce(Pipeline<B>) -> Pipeline<B> + Send + 'static,
) -> (String, Option<String>) {
    let err = one_batch(images, build).expect_err("the batch must fail");
    assert!(
        matches!(err, PipelineError::Action { .. }),
        "not an action error: {err:?}"
    );
    (err.to_string(), err.action().map(str::to_string))
}

// ---------------------------------------------------------------------------------------------
// Exact geometric actions.

#[test]
fn crop_and_center_crop_take_the_exact_windows() {
    let small = distinct(6, 4);
    let large = distinct(8, 6);
    let b = one_batch(vec![rgb(small.clone()), rgb(large.clone())], |p| {
        p.load().crop(1, 2, 3, 2)
    })
    .unwrap();
    for (out, src) in b.images.iter().zip([&small, &large]) {
        assert_eq!((out.width(), out.height()), (3, 2));
        assert_eq!(out.color(), ColorType::Rgb8);
        let out = out.to_rgb8();
        for y in 0..2 {
            for x in 0..3 {
                assert_eq!(
                    out.get_pixel(x, y),
                    src.get_pixel(x + 1, y + 2),
                    "({x}, {y})"
                );
            }
        }
    }

    // The centre depends on each image's own size: (1, 1) in 6×4, (2, 2) in 8×6.
    let b = one_batch(vec![rgb(small.clone()), rgb(large.clone())], |p| {
        p.load().center_crop(4, 2)
    })
    .unwrap();
    for (out, (src, (ox, oy))) in b.images.iter().zip([(&small, (1, 1)), (&large, (2, 2))]) {
        assert_eq!((out.width(), out.height()), (4, 2));
        let out = out.to_rgb8();
        for y in 0..2 {
            for x in 0..4 {
                assert_eq!(out.get_pixel(x, y), src.get_pixel(x + ox, y + oy));
            }
        }
    }

    // Odd margins are halved to even, as torchvision's CenterCrop (1.5 → 2, 0.5 → 0); the
    // full size is the identity.
    let b = one_batch(vec![rgb(small.clone())], |p| p.load().center_crop(3, 3)).unwrap();
    assert_eq!(b.images[0], rgb(small.clone()).crop_imm(2, 0, 3, 3));
    let b = one_batch(vec![rgb(small.clone())], |p| p.load().center_crop(6, 4)).unwrap();
    assert_eq!(b.images[0], rgb(small));
}

#[test]
fn flips_are_exact() {
    let src = distinct(6, 4);
    let b = one_batch(vec![rgb(src.clone())], |p| p.load().flip(Flip::Horizontal)).unwrap();
    let h = b.images[0].to_rgb8();
    let b = one_batch(vec![rgb(src.clone())], |p| p.load().flip(Flip::Vertical)).unwrap();
    let v = b.images[0].to_rgb8();
    for y in 0..4 {
        for x in 0..6 {
            assert_eq!(h.get_pixel(x, y), src.get_pixel(5 - x, y));
            assert_eq!(v.get_pixel(x, y), src.get_pixel(x, 3 - y));
        }
    }
    // Flipping twice gives the image back.
    let b = one_batch(vec![rgb(src.clone())], |p| {
        p.load().flip(Flip::Vertical).flip(Flip::Vertical)
    })
    .unwrap();
    assert_eq!(b.images[0], rgb(src));
    // Odd sizes keep their middle row and column; grey and RGBA images flip too.
    let odd = vec![
        rgb(distinct(5, 3)),
        DynamicImage::ImageLuma8(GrayImage::from_fn(3, 5, |x, y| Luma([(x + 3 * y) as u8]))),
        DynamicImage::ImageRgba8(RgbaImage::from_fn(3, 3, |x, y| {
            Rgba([x as u8, y as u8, 9, (x * 3 + y) as u8])
        })),
    ];
    for how in [Flip::Horizontal, Flip::Vertical] {
        let b = one_batch(odd.clone(), move |p| p.load().flip(how)).unwrap();
        for (out, src) in b.images.iter().zip(&odd) {
            let want = match how {
                Flip::Horizontal => src.fliph(),
                Flip::Vertical => src.flipv(),
            };
            assert_eq!(*out, want, "{how:?} of a {:?}", src.color());
        }
    }
}

#[test]
fn pad_is_exact() {
    let src = distinct(6, 4);
    let b = one_batch(vec![rgb(src.clone())], |p| p.load().pad(1, 2, 3, 0, 7)).unwrap();
    let out = b.images[0].to_rgb8();
    assert_eq!(out.dimensions(), (9, 7));
    for y in 0..7 {
        for x in 0..9 {
            let want = if x >= 3 && (1..5).contains(&y) {
                *src.get_pixel(x - 3, y - 1)
            } else {
                Rgb([7, 7, 7])
            };
            assert_eq!(*out.get_pixel(x, y), want, "({x}, {y})");
        }
    }
}

#[test]
fn rotate_turns_counter_clockwise_and_keeps_the_size() {
    for side in [4, 5] {
        let src = rgb(distinct(side, side));
        let turned = |deg: f32| -> DynamicImage {
            let src = src.clone();
            one_batch(vec![src], move |p| p.load().rotate(deg))
                .unwrap()
                .images
                .remove(0)
        };
        assert_eq!(turned(0.0), src, "{side}: rotate(0) is the identity");
        // image's rotate270 turns clockwise by 270°, that is counter-clockwise by 90°.
        assert_eq!(turned(90.0), src.rotate270(), "{side}: rotate(90)");
        assert_eq!(turned(-90.0), src.rotate90(), "{side}: rotate(-90)");
        assert_eq!(turned(180.0), src.rotate180(), "{side}: rotate(180)");
        // Counter-clockwise: the top-right corner comes to the top left.
        let ccw = turned(90.0).to_rgb8();
        assert_eq!(
            ccw.get_pixel(0, 0),
            src.to_rgb8().get_pixel(side - 1, 0),
            "{side}"
        );
    }

    // A 6×4 image keeps its size: each output pixel (x, y) comes from (4 - y, x - 1) about
    // the centre (2.5, 1.5); the two columns that come from outside are black.
    let src = distinct(6, 4);
    let b = one_batch(vec![rgb(src.clone())], |p| p.load().rotate(90.0)).unwrap();
    let out = b.images[0].to_rgb8();
    assert_eq!(out.dimensions(), (6, 4));
    for y in 0..4 {
        for x in 0..6 {
            let want = if (1..=4).contains(&x) {
                *src.get_pixel(4 - y, x - 1)
            } else {
                Rgb([0, 0, 0])
            };
            assert_eq!(*out.get_pixel(x, y), want, "({x}, {y})");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Colour actions.

#[test]
fn brightness_and_contrast_are_exact_clamped_and_leave_alpha() {
    let images = || {
        vec![
            rgb(RgbImage::from_raw(2, 1, vec![0, 100, 250, 128, 200, 5]).unwrap()),
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(1, 1, Rgba([100, 200, 250, 77]))),
            DynamicImage::ImageLuma8(GrayImage::from_raw(2, 1, vec![3, 254]).unwrap()),
            DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(1, 1, vec![250, 9]).unwrap()),
        ]
    };
    let bytes =
        |b: &B| -> Vec<Vec<u8>> { b.images.iter().map(|i| i.as_bytes().to_vec()).collect() };

    let b = one_batch(images(), |p| p.load().brightness(10.0)).unwrap();
    assert_eq!(
        bytes(&b),
        [
            vec![10, 110, 255, 138, 210, 15],
            vec![110, 210, 255, 77],
            vec![13, 255],
            vec![255, 9],
        ]
    );
    let b = one_batch(images(), |p| p.load().brightness(-20.0)).unwrap();
    assert_eq!(
        bytes(&b),
        [
            vec![0, 80, 230, 108, 180, 0],
            vec![80, 180, 230, 77],
            vec![0, 234],
            vec![230, 9],
        ]
    );
    // (v - 128) * 2 + 128, clamped.
    let b = one_batch(images(), |p| p.load().contrast(2.0)).unwrap();
    assert_eq!(
        bytes(&b),
        [
            vec![0, 72, 255, 128, 255, 0],
            vec![72, 255, 255, 77],
            vec![0, 255],
            vec![255, 9],
        ]
    );
    let b = one_batch(images(), |p| p.load().contrast(0.5)).unwrap();
    assert_eq!(
        &bytes(&b)[..2],
        [vec![64, 114, 189, 128, 164, 67], vec![114, 164, 189, 77]]
    );
    // The kinds of image are kept.
    let kinds: Vec<ColorType> = b.images.iter().map(DynamicImage::color).collect();
    assert_eq!(
        kinds,
        [
            ColorType::Rgb8,
            ColorType::Rgba8,
            ColorType::L8,
            ColorType::La8
        ]
    );
}

#[test]
fn to_greyscale_gives_l8_or_la8() {
    let src = distinct(6, 4);
    let rgba = RgbaImage::from_fn(3, 2, |x, y| {
        Rgba([(40 * x) as u8, 90, (70 * y) as u8, (x + 10 * y) as u8])
    });
    let grey = GrayImage::from_fn(2, 2, |x, y| Luma([(x * 50 + y * 7) as u8]));
    let b = one_batch(
        vec![
            rgb(src.clone()),
            DynamicImage::ImageRgba8(rgba.clone()),
            DynamicImage::ImageLuma8(grey.clone()),
        ],
        |p| p.load().to_greyscale(),
    )
    .unwrap();
    assert_eq!(b.images[0].color(), ColorType::L8);
    assert_eq!(b.images[0], DynamicImage::ImageLuma8(rgb(src).to_luma8()));
    assert_eq!(b.images[1].color(), ColorType::La8);
    let la = b.images[1].to_luma_alpha8();
    assert_eq!(la, DynamicImage::ImageRgba8(rgba.clone()).to_luma_alpha8());
    for (x, y, p) in la.enumerate_pixels() {
        assert_eq!(p.0[1], rgba.get_pixel(x, y).0[3], "alpha at ({x}, {y})");
    }
    assert_eq!(b.images[2], DynamicImage::ImageLuma8(grey));
}

// ---------------------------------------------------------------------------------------------
// Resampling actions.

#[test]
fn resize_keeps_a_flat_image_flat_with_every_filter() {
    let colour = Rgb([40, 80, 120]);
    for filter in [
        Filter::Nearest,
        Filter::Box,
        Filter::Bilinear,
        Filter::CatmullRom,
        Filter::Lanczos3,
    ] {
        for (w, h) in [(3, 2), (12, 9), (6, 4)] {
            let src = rgb(RgbImage::from_pixel(6, 4, colour));
            let b = one_batch(vec![src], move |p| p.load().resize(w, h, filter)).unwrap();
            let out = &b.images[0];
            assert_eq!((out.width(), out.height()), (w, h), "{filter:?}");
            assert_eq!(out.color(), ColorType::Rgb8);
            for p in out.to_rgb8().pixels() {
                for k in 0..3 {
                    let d = (p.0[k] as i32 - colour.0[k] as i32).abs();
                    assert!(d <= 1, "{filter:?} to {w}×{h}: {p:?} is not {colour:?}");
                }
            }
        }
    }
}

#[test]
fn scale_multiplies_the_size_and_moves_masks_along() {
    let images = vec![rgb(distinct(6, 4)), rgb(distinct(5, 3))];
    let masks = vec![
        DynamicImage::ImageLuma8(GrayImage::from_pixel(6, 4, Luma([255]))),
        DynamicImage::ImageLuma8(GrayImage::from_pixel(5, 3, Luma([255]))),
    ];
    let b = one_batch_with_masks(images.clone(), masks.clone(), 1, |p| {
        p.load().scale(0.5, Filter::Bilinear)
    });
    let sizes: Vec<(u32, u32)> = b.images.iter().map(|i| i.dimensions()).collect();
    // 2.5 and 1.5 round up.
    assert_eq!(sizes, [(3, 2), (3, 2)]);
    let mask_sizes: Vec<(u32, u32)> = b
        .masks
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.dimensions())
        .collect();
    assert_eq!(mask_sizes, sizes);

    let b = one_batch_with_masks(images, masks, 1, |p| p.load().scale(2.0, Filter::Nearest));
    let sizes: Vec<(u32, u32)> = b.images.iter().map(|i| i.dimensions()).collect();
    assert_eq!(sizes, [(12, 8), (10, 6)]);
    // Nearest doubling repeats every pixel in a 2×2 block.
    let src = distinct(6, 4);
    let out = b.images[0].to_rgb8();
    for (x, y, p) in out.enumerate_pixels() {
        assert_eq!(p, src.get_pixel(x / 2, y / 2));
    }
    for m in b.masks.unwrap() {
        assert!(m.as_bytes().iter().all(|&v| v == 255));
    }

    let (text, action) = failure(vec![rgb(distinct(6, 4))], |p| {
        p.load().scale(0.0, Filter::Bilinear)
    });
    assert_eq!(action.as_deref(), Some("scale"));
    assert!(text.contains("cannot scale by 0"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Random actions.

#[test]
fn random_crop_takes_real_sub_windows_at_varied_places() {
    let src = distinct(10, 8);
    let n = 24;
    let b = one_batch(vec![rgb(src.clone()); n], |p| p.load().random_crop(4, 3)).unwrap();
    let full = rgb(src.clone());
    let mut places = HashSet::new();
    for (i, out) in b.images.iter().enumerate() {
        assert_eq!(out.dimensions(), (4, 3));
        let found: Vec<(u32, u32)> = (0..=6)
            .flat_map(|x| (0..=5).map(move |y| (x, y)))
            .filter(|&(x, y)| full.crop_imm(x, y, 4, 3) == *out)
            .collect();
        assert_eq!(found.len(), 1, "image {i} is not a window of the source");
        places.insert(found[0]);
    }
    assert!(
        places.len() >= 5,
        "only {} places in {n} crops",
        places.len()
    );

    // The full size leaves nothing to choose.
    let b = one_batch(vec![full.clone(); 3], |p| p.load().random_crop(10, 8)).unwrap();
    assert!(b.images.iter().all(|i| *i == full));
}

#[test]
fn cutout_fills_one_rectangle_clipped_to_the_image() {
    let (w, h) = (10, 8);
    let src = distinct(w, h);
    let n = 32;
    let b = one_batch(vec![rgb(src.clone()); n], |p| p.load().cutout(4, 3, 0)).unwrap();
    let (mut clipped, mut whole) = (0, 0);
    for (i, out) in b.images.iter().enumerate() {
        let out = out.to_rgb8();
        assert_eq!(out.dimensions(), (w, h));
        let changed: Vec<(u32, u32)> = out
            .enumerate_pixels()
            .filter(|(x, y, p)| *p != src.get_pixel(*x, *y))
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(!changed.is_empty(), "image {i}: nothing was cut out");
        for &(x, y) in &changed {
            assert_eq!(
                *out.get_pixel(x, y),
                Rgb([0, 0, 0]),
                "image {i} at ({x}, {y})"
            );
        }
        let x0 = changed.iter().map(|p| p.0).min().unwrap();
        let y0 = changed.iter().map(|p| p.1).min().unwrap();
        let x1 = changed.iter().map(|p| p.0).max().unwrap() + 1;
        let y1 = changed.iter().map(|p| p.1).max().unwrap() + 1;
        // One full rectangle: every pixel of the bounding box changed.
        assert_eq!(
            changed.len() as u32,
            (x1 - x0) * (y1 - y0),
            "image {i}: not a rectangle"
        );
        // 4×3, or cut by the right or bottom border.
        assert_eq!(x1 - x0, 4.min(w - x0), "image {i}: width at x = {x0}");
        assert_eq!(y1 - y0, 3.min(h - y0), "image {i}: height at y = {y0}");
        if x1 - x0 < 4 || y1 - y0 < 3 {
            clipped += 1;
        } else {
            whole += 1;
        }
    }
    assert!(clipped > 0 && whole > 0, "clipped {clipped}, whole {whole}");

    // Larger than the image: everything from the drawn corner on is filled.
    let b = one_batch(vec![rgb(src.clone()); 4], |p| p.load().cutout(50, 50, 9)).unwrap();
    for out in &b.images {
        let out = out.to_rgb8();
        assert_eq!(*out.get_pixel(w - 1, h - 1), Rgb([9, 9, 9]));
    }
}

fn mean_sd(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = v.collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean, sd)
}

#[test]
fn additive_noise_has_the_asked_spread_and_leaves_alpha() {
    let grey = DynamicImage::ImageLuma8(GrayImage::from_pixel(64, 64, Luma([128])));
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(32, 32, Rgba([128, 128, 128, 200])));
    let b = one_batch(vec![grey.clone(), grey, rgba], |p| {
        p.load().additive_noise(8.0)
    })
    .unwrap();
    for img in &b.images[..2] {
        let (mean, sd) = mean_sd(img.as_bytes().iter().map(|&v| v as f64));
        assert!((mean - 128.0).abs() < 0.6, "mean {mean}");
        assert!((sd - 8.0).abs() < 0.4, "sd {sd}");
    }
    assert_ne!(b.images[0], b.images[1], "each image gets its own noise");
    let bytes = b.images[2].as_bytes();
    assert!(bytes.chunks(4).all(|px| px[3] == 200), "alpha changed");
    let (_, sd) = mean_sd(
        bytes
            .chunks(4)
            .flat_map(|px| px[..3].iter().map(|&v| v as f64)),
    );
    assert!((sd - 8.0).abs() < 0.5, "colour sd {sd}");

    let flat = DynamicImage::ImageLuma8(GrayImage::from_pixel(64, 64, Luma([100])));
    let b = one_batch(vec![flat], |p| p.load().multiplicative_noise(0.1)).unwrap();
    let (mean, sd) = mean_sd(b.images[0].as_bytes().iter().map(|&v| v as f64));
    assert!(
        (mean - 100.0).abs() < 0.6 && (sd - 10.0).abs() < 0.5,
        "{mean} {sd}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tensors.

fn f32_tensor(b: &B) -> &ndarray::Array4<f32> {
    match b.tensor.as_ref().expect("a tensor") {
        Tensor::F32(a) => a,
        other => panic!("not an f32 tensor: {other:?}"),
    }
}

fn u8_tensor(b: &B) -> &ndarray::Array4<u8> {
    match b.tensor.as_ref().expect("a tensor") {
        Tensor::U8(a) => a,
        other => panic!("not a u8 tensor: {other:?}"),
    }
}

#[test]
fn to_tensor_normalises_every_element_in_both_layouts() {
    let a = distinct(3, 2);
    let second = rgb(a.clone()).fliph().to_rgb8();
    let images = vec![rgb(a), rgb(second)];
    let srcs: Vec<RgbImage> = images.iter().map(DynamicImage::to_rgb8).collect();
    let mean = [0.1_f32, 0.2, 0.3];
    let std = [0.5_f32, 0.25, 2.0];
    let close = |got: f32, want: f32| (got - want).abs() <= 1e-5 * want.abs().max(1.0);

    for layout in [Layout::Nchw, Layout::Nhwc] {
        let b = one_batch(images.clone(), move |p| {
            p.load().to_tensor(layout, mean.to_vec(), std.to_vec())
        })
        .unwrap();
        let t = f32_tensor(&b);
        let want_shape = match layout {
            Layout::Nchw => [2, 3, 2, 3],
            Layout::Nhwc => [2, 2, 3, 3],
        };
        assert_eq!(t.shape(), want_shape);
        assert_eq!(b.tensor.as_ref().unwrap().shape(), want_shape);
        for (n, src) in srcs.iter().enumerate() {
            for (x, y, p) in src.enumerate_pixels() {
                for c in 0..3 {
                    let want = (p.0[c] as f32 / 255.0 - mean[c]) / std[c];
                    let (x, y) = (x as usize, y as usize);
                    let got = match layout {
                        Layout::Nchw => t[[n, c, y, x]],
                        Layout::Nhwc => t[[n, y, x, c]],
                    };
                    assert!(
                        close(got, want),
                        "{layout:?} [{n}, {c}, {y}, {x}]: {got} != {want}"
                    );
                }
            }
        }
    }

    // Without normalisation: samples / 255.
    let b = one_batch(images.clone(), |p| {
        p.load().to_tensor(Layout::Nhwc, Vec::new(), Vec::new())
    })
    .unwrap();
    let t = f32_tensor(&b);
    for (n, src) in srcs.iter().enumerate() {
        for (x, y, p) in src.enumerate_pixels() {
            for c in 0..3 {
                let got = t[[n, y as usize, x as usize, c]];
                assert!(close(got, p.0[c] as f32 / 255.0));
            }
        }
    }

    // Grey images have one channel.
    let grey =
        DynamicImage::ImageLuma8(GrayImage::from_fn(3, 2, |x, y| Luma([(x * 60 + y) as u8])));
    let b = one_batch(vec![grey.clone()], |p| {
        p.load().to_tensor(Layout::Nchw, vec![0.5], vec![0.5])
    })
    .unwrap();
    let t = f32_tensor(&b);
    assert_eq!(t.shape(), [1, 1, 2, 3]);
    for (x, y, p) in grey.to_luma8().enumerate_pixels() {
        assert!(close(
            t[[0, 0, y as usize, x as usize]],
            (p.0[0] as f32 / 255.0 - 0.5) / 0.5
        ));
    }

    // A normalisation that does not fit the channels.
    let (text, action) = failure(images, |p| {
        p.load()
            .to_tensor(Layout::Nchw, vec![0.5, 0.5], vec![0.2, 0.2, 0.2])
    });
    assert_eq!(action.as_deref(), Some("to_tensor"));
    assert!(text.contains("3 channels, but 2 means"), "{text}");
}

#[test]
fn to_tensor_u8_keeps_the_samples_in_both_layouts() {
    let a = RgbaImage::from_fn(3, 2, |x, y| {
        Rgba([x as u8, 10 + y as u8, 20 + (x + y) as u8, 200 + x as u8])
    });
    let c = RgbaImage::from_fn(3, 2, |x, y| Rgba([100 + x as u8, 110 + y as u8, 120, 7]));
    let images = vec![
        DynamicImage::ImageRgba8(a.clone()),
        DynamicImage::ImageRgba8(c.clone()),
    ];
    let srcs = [a, c];
    for layout in [Layout::Nchw, Layout::Nhwc] {
        let b = one_batch(images.clone(), move |p| p.load().to_tensor_u8(layout)).unwrap();
        let t = u8_tensor(&b);
        match layout {
            Layout::Nchw => assert_eq!(t.shape(), [2, 4, 2, 3]),
            Layout::Nhwc => assert_eq!(t.shape(), [2, 2, 3, 4]),
        }
        for (n, src) in srcs.iter().enumerate() {
            for (x, y, p) in src.enumerate_pixels() {
                let (x, y) = (x as usize, y as usize);
                for k in 0..4 {
                    let got = match layout {
                        Layout::Nchw => t[[n, k, y, x]],
                        Layout::Nhwc => t[[n, y, x, k]],
                    };
                    assert_eq!(got, p.0[k], "{layout:?} [{n}, {k}, {y}, {x}]");
                }
            }
        }
    }
}

#[test]
fn stacking_images_that_differ_names_the_image() {
    let (text, action) = failure(
        vec![
            rgb(distinct(6, 4)),
            rgb(distinct(6, 4)),
            rgb(distinct(5, 4)),
        ],
        |p| p.load().to_tensor_u8(Layout::Nchw),
    );
    assert_eq!(action.as_deref(), Some("to_tensor_u8"));
    assert!(text.contains("image 2 is 5×4 with 3 channels"), "{text}");
    assert!(text.contains("image 0 is 6×4 with 3"), "{text}");

    let (text, action) = failure(
        vec![
            rgb(distinct(6, 4)),
            DynamicImage::ImageLuma8(GrayImage::new(6, 4)),
        ],
        |p| p.load().to_tensor(Layout::Nhwc, Vec::new(), Vec::new()),
    );
    assert_eq!(action.as_deref(), Some("to_tensor"));
    assert!(text.contains("image 1 is 6×4 with 1 channels"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Masks.

/// An irregular binary pattern: white image pixels and 255 mask pixels where it is set.
fn pattern(w: u32, h: u32) -> (DynamicImage, DynamicImage) {
    let on = |x: u32, y: u32| (x * 7 + y * 13 + x * y) % 5 < 2 || (x < 3 && y < 5);
    let img = rgb(RgbImage::from_fn(w, h, |x, y| {
        if on(x, y) {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    }));
    let mask = DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
        Luma([if on(x, y) { 255 } else { 0 }])
    }));
    (img, mask)
}

#[test]
fn masks_follow_flips_crops_and_pads_exactly() {
    let (img, mask) = pattern(12, 10);
    let n = 16;
    let b = one_batch_with_masks(vec![img; n], vec![mask.clone(); n], 3, |p| {
        p.load()
            .random_flip(Flip::Horizontal, 0.5)
            .random_flip(Flip::Vertical, 0.5)
            .random_crop(8, 7)
            .pad(1, 0, 2, 1, 0)
    });
    let masks = b.masks.as_ref().unwrap();
    assert_eq!(masks.len(), n);
    let mut distinct_masks = HashSet::new();
    for (i, (img, m)) in b.images.iter().zip(masks).enumerate() {
        assert_eq!(img.dimensions(), (11, 8), "image {i}");
        assert_eq!(m.dimensions(), (11, 8), "mask {i}");
        assert_eq!(m.color(), ColorType::L8);
        let red: Vec<u8> = img.to_rgb8().pixels().map(|p| p.0[0]).collect();
        assert_eq!(
            red,
            m.as_bytes(),
            "item {i}: the mask does not match its image"
        );
        distinct_masks.insert(m.as_bytes().to_vec());
    }
    assert!(
        distinct_masks.len() > 4,
        "the random steps changed little: {} different masks",
        distinct_masks.len()
    );
}

#[test]
fn masks_follow_random_rotations() {
    let (img, mask) = pattern(12, 10);
    let n = 16;
    let b = one_batch_with_masks(vec![img; n], vec![mask; n], 4, |p| {
        p.load()
            .random_flip(Flip::Horizontal, 0.5)
            .random_rotate(-40.0, 40.0)
            .random_crop(10, 9)
    });
    let masks = b.masks.as_ref().unwrap();
    let mut distinct_masks = HashSet::new();
    for (i, (img, m)) in b.images.iter().zip(masks).enumerate() {
        assert_eq!(img.dimensions(), (10, 9));
        assert_eq!(m.dimensions(), (10, 9));
        // The mask is turned with the nearest pixel: still binary.
        assert!(m.as_bytes().iter().all(|&v| v == 0 || v == 255), "mask {i}");
        let img = img.to_rgb8();
        for (x, y, p) in img.enumerate_pixels() {
            let v = p.0[0];
            let mv = m.as_bytes()[(y * 10 + x) as usize];
            // Bilinear image against nearest mask: a mostly-white image pixel has a white
            // nearest source pixel, and a white nearest source pixel weighs at least 1/4.
            if v > 200 {
                assert_eq!(mv, 255, "item {i} at ({x}, {y}): image {v}, mask {mv}");
            }
            if mv == 255 {
                assert!(v >= 60, "item {i} at ({x}, {y}): image {v}, mask {mv}");
            }
        }
        distinct_masks.insert(m.as_bytes().to_vec());
    }
    assert!(distinct_masks.len() > 4);
}

// ---------------------------------------------------------------------------------------------
// Determinism.

fn augmented(seed: u64, k: usize, threads: Option<usize>) -> Vec<Vec<u32>> {
    let images: Vec<DynamicImage> = (0..40)
        .map(|i| {
            rgb(RgbImage::from_fn(16, 12, move |x, y| {
                Rgb([(x * 15) as u8, (y * 20) as u8, (i * 6) as u8])
            }))
        })
        .collect();
    let mut spec = RunSpec::new(8).seed(seed).prefetch(k);
    if let Some(t) = threads {
        spec = spec.item_threads(t);
    }
    run_source(ImagesSource::from_images(images), 40, spec, |p| {
        p.load()
            .random_flip(Flip::Horizontal, 0.5)
            .random_rotate(-20.0, 20.0)
            .random_crop(12, 10)
            .additive_noise(5.0)
            .to_tensor(Layout::Nchw, vec![0.5; 3], vec![0.25; 3])
    })
    .into_iter()
    .map(|b| {
        let b = b.unwrap();
        let t = f32_tensor(&b);
        assert_eq!(t.shape(), [8, 3, 10, 12]);
        t.iter().map(|v| v.to_bits()).collect()
    })
    .collect()
}

#[test]
fn augmentation_is_the_same_for_any_prefetch_and_pool() {
    let reference = augmented(21, 0, Some(1));
    assert_eq!(reference.len(), 5);
    assert_eq!(
        augmented(21, 3, Some(2)),
        reference,
        "k = 3, 2 item threads"
    );
    assert_eq!(augmented(21, 1, None), reference, "k = 1, default pool");
    let other = augmented(22, 0, Some(1));
    for (i, (a, b)) in reference.iter().zip(&other).enumerate() {
        assert_ne!(a, b, "batch {i} is the same with another seed");
    }
}

// ---------------------------------------------------------------------------------------------
// Files.

fn pattern_of(dir: &Path, glob: &str) -> String {
    dir.join(glob).to_str().unwrap().to_string()
}

fn file_batches(
    files: FilesIndex,
    source: ImagesSource<String>,
    spec: RunSpec,
    build: impl FnOnce(Pipeline<ImagesBatch>) -> Pipeline<ImagesBatch> + Send + 'static,
) -> (
    Vec<Result<ImagesBatch, PipelineError>>,
    batchline::RunReport,
) {
    with_watchdog(LIMIT, move || {
        let ds: Dataset<ImagesBatch> = Dataset::new(files, source);
        let mut iter = build(ds.p()).gen_batch(&spec).unwrap();
        let out: Vec<_> = iter.by_ref().collect();
        (out, iter.report())
    })
}

#[test]
fn png_and_jpeg_files_load_with_their_colour_types() {
    let dir = tempfile::tempdir().unwrap();
    let grey = GrayImage::from_fn(5, 4, |x, y| Luma([(x * 40 + y * 3) as u8]));
    let colour = distinct(6, 4);
    let rgba = RgbaImage::from_fn(3, 3, |x, y| {
        Rgba([(x * 80) as u8, (y * 80) as u8, 33, (x * 50 + y) as u8])
    });
    let photo = RgbImage::from_pixel(16, 16, Rgb([200, 100, 50]));
    grey.save(dir.path().join("grey.png")).unwrap();
    colour.save(dir.path().join("rgb.png")).unwrap();
    rgba.save(dir.path().join("rgba.png")).unwrap();
    photo.save(dir.path().join("photo.jpg")).unwrap();

    let files = FilesIndex::new([pattern_of(dir.path(), "*")], FileIds::Stem).unwrap();
    assert_eq!(files.index().ids(), ["grey", "photo", "rgb", "rgba"]);
    let source = ImagesSource::from_files(&files).with_labels(
        [("grey", 1), ("photo", 2), ("rgb", 3), ("rgba", 4)].map(|(k, v)| (k.to_string(), v)),
    );
    let (out, report) = file_batches(files, source, RunSpec::new(4).item_threads(2), |p| p.load());
    assert_eq!(report.batches, 1);
    let b = out.into_iter().next().unwrap().unwrap();
    assert_eq!(b.ids(), ["grey", "photo", "rgb", "rgba"]);
    assert_eq!(b.labels, Some(vec![1, 2, 3, 4]));
    let kinds: Vec<ColorType> = b.images.iter().map(DynamicImage::color).collect();
    assert_eq!(
        kinds,
        [
            ColorType::L8,
            ColorType::Rgb8,
            ColorType::Rgb8,
            ColorType::Rgba8
        ]
    );
    assert_eq!(b.images[0], DynamicImage::ImageLuma8(grey));
    assert_eq!(b.images[2], DynamicImage::ImageRgb8(colour));
    assert_eq!(b.images[3], DynamicImage::ImageRgba8(rgba));
    // JPEG is lossy: a flat colour comes back close.
    assert_eq!(b.images[1].dimensions(), (16, 16));
    for p in b.images[1].to_rgb8().pixels() {
        for k in 0..3 {
            let d = (p.0[k] as i32 - [200, 100, 50][k]).abs();
            assert!(d <= 6, "{p:?}");
        }
    }
}

#[test]
fn mask_files_load_as_grey_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let (img_dir, mask_dir) = (dir.path().join("img"), dir.path().join("mask"));
    std::fs::create_dir_all(&img_dir).unwrap();
    std::fs::create_dir_all(&mask_dir).unwrap();
    for (name, v) in [("a", 30u8), ("b", 200)] {
        distinct(4, 3)
            .save(img_dir.join(format!("{name}.png")))
            .unwrap();
        // An RGB mask file still loads as grey.
        RgbImage::from_pixel(4, 3, Rgb([v, v, v]))
            .save(mask_dir.join(format!("{name}.png")))
            .unwrap();
    }
    let files = FilesIndex::new([pattern_of(&img_dir, "*.png")], FileIds::Stem).unwrap();
    let masks = FilesIndex::new([pattern_of(&mask_dir, "*.png")], FileIds::Stem).unwrap();
    let source = ImagesSource::from_files(&files).with_mask_files(&masks);
    let (out, _) = file_batches(files, source, RunSpec::new(2), |p| {
        p.load().flip(Flip::Horizontal)
    });
    let b = out.into_iter().next().unwrap().unwrap();
    let masks = b.masks.unwrap();
    assert_eq!(masks.len(), 2);
    for (m, v) in masks.iter().zip([30u8, 200]) {
        assert_eq!(m.color(), ColorType::L8);
        assert_eq!(m.dimensions(), (4, 3));
        assert!(m.as_bytes().iter().all(|&s| s == v));
    }
}

#[test]
fn corrupt_and_missing_files_fail_naming_their_path() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "c", "d"] {
        distinct(4, 3)
            .save(dir.path().join(format!("{name}.png")))
            .unwrap();
    }
    let mut jitter = Jitter(0x9e37_79b9_7f4a_7c15);
    let junk: Vec<u8> = (0..300).map(|_| jitter.next() as u8).collect();
    std::fs::write(dir.path().join("b.png"), junk).unwrap();
    let files = FilesIndex::new([pattern_of(dir.path(), "*.png")], FileIds::Stem).unwrap();
    std::fs::remove_file(dir.path().join("d.png")).unwrap();

    // Without ignore_errors the run ends at the corrupt file.
    let (out, report) = file_batches(
        files.clone(),
        ImagesSource::from_files(&files),
        RunSpec::new(1).item_threads(2),
        |p| p.load(),
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].as_ref().unwrap().ids(), ["a"]);
    let err = out[1].as_ref().unwrap_err();
    assert_eq!(err.batch(), Some(1));
    assert_eq!(err.action(), Some("load"));
    let text = err.to_string();
    assert!(
        text.contains("b.png") && text.contains("cannot decode"),
        "{text}"
    );
    assert!(text.contains("item 0 (b): "), "{text}");
    assert_eq!(report.failed, 1);

    // The missing file on its own.
    let only_d = files.subset(&["d".to_string()]).unwrap();
    let (out, _) = file_batches(
        only_d,
        ImagesSource::from_files(&files),
        RunSpec::new(1),
        |p| p.load(),
    );
    let text = out[0].as_ref().unwrap_err().to_string();
    assert!(
        text.contains("d.png") && text.contains("cannot read"),
        "{text}"
    );

    // With ignore_errors both bad batches are skipped and counted, the others delivered.
    let (out, report) = file_batches(
        files.clone(),
        ImagesSource::from_files(&files),
        RunSpec::new(1).ignore_errors(true).prefetch(2),
        |p| p.load(),
    );
    let ids: Vec<String> = out
        .into_iter()
        .map(|b| b.unwrap().ids()[0].clone())
        .collect();
    assert_eq!(ids, ["a", "c"]);
    assert_eq!(report.failed, 2);
    assert_eq!(report.batches, 2);
}

#[test]
fn dump_makes_the_folders_of_an_image_folders_ids() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for class in ["cat", "dog"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        distinct(3, 2).save(root.join(class).join("a.png")).unwrap();
    }
    let out = dir.path().join("out");
    let folder = ImagesSource::image_folder(&root).unwrap();
    let report = folder
        .dataset
        .p()
        .load()
        .dump(out.clone())
        .run(&RunSpec::new(2))
        .unwrap();
    assert_eq!(report.items, 2);
    for class in ["cat", "dog"] {
        let back = image::open(out.join(class).join("a.png.png")).unwrap();
        assert_eq!(back.to_rgb8(), distinct(3, 2), "{class}");
    }
}

#[test]
fn dump_writes_pngs_that_decode_to_the_same_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir: PathBuf = dir.path().join("out");
    let images = vec![
        rgb(distinct(6, 4)),
        DynamicImage::ImageRgba8(RgbaImage::from_fn(3, 3, |x, y| {
            Rgba([x as u8, y as u8, 5, (40 * x + y) as u8])
        })),
        DynamicImage::ImageLuma8(GrayImage::from_fn(5, 2, |x, y| Luma([(x * 50 + y) as u8]))),
    ];
    let masks: Vec<DynamicImage> = images
        .iter()
        .map(|i| {
            DynamicImage::ImageLuma8(GrayImage::from_fn(i.width(), i.height(), |x, _| {
                Luma([(x * 20) as u8])
            }))
        })
        .collect();
    let source = ImagesSource::from_images(images.clone()).with_masks(masks.clone());
    let target = out_dir.clone();
    let out = run_source(
        source,
        3,
        RunSpec::new(2).item_threads(2).prefetch(1),
        move |p| p.load().flip(Flip::Horizontal).dump(target),
    );
    assert_eq!(out.len(), 2);
    for b in out {
        b.unwrap();
    }
    for (id, (img, mask)) in images.iter().zip(&masks).enumerate() {
        let back = image::open(out_dir.join(format!("{id}.png"))).unwrap();
        assert_eq!(back, img.fliph(), "{id}.png");
        let back = image::open(out_dir.join(format!("{id}_mask.png"))).unwrap();
        assert_eq!(back, mask.fliph(), "{id}_mask.png");
    }
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "0.png",
            "0_mask.png",
            "1.png",
            "1_mask.png",
            "2.png",
            "2_mask.png"
        ]
    );
}

#[test]
fn labels_come_back_in_batch_order() {
    let images = vec![rgb(distinct(2, 2)); 10];
    let source =
        ImagesSource::from_images(images).with_labels((0..10).map(|i| (i, 100 + 7 * i as i64)));
    let out = run_source(source, 10, RunSpec::new(3).shuffle(9).prefetch(2), |p| {
        p.load()
    });
    let mut seen = Vec::new();
    for b in out {
        let b = b.unwrap();
        let want: Vec<i64> = b.ids().iter().map(|&i| 100 + 7 * i as i64).collect();
        assert_eq!(b.labels.as_ref(), Some(&want));
        seen.extend_from_slice(b.ids());
    }
    assert_ne!(seen, (0..10).collect::<Vec<_>>(), "the run is shuffled");
    seen.sort();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());

    // A missing label fails the batch naming the id.
    let source =
        ImagesSource::from_images(vec![rgb(distinct(2, 2)); 3]).with_labels([(0, 1), (2, 1)]);
    let out = run_source(source, 3, RunSpec::new(3), |p| p.load());
    let text = out[0].as_ref().unwrap_err().to_string();
    assert!(text.contains("no label for id 1"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Invalid parameters.

#[test]
fn invalid_parameters_fail_the_batch_and_say_why() {
    let img = || vec![rgb(distinct(6, 4))];

    let (text, action) = failure(img(), |p| p.load().random_flip(Flip::Horizontal, 1.5));
    assert_eq!(action.as_deref(), Some("random_flip"));
    assert!(text.contains("probability 1.5 is not in [0, 1]"), "{text}");

    let (text, action) = failure(img(), |p| p.load().random_rotate(10.0, 10.0));
    assert_eq!(action.as_deref(), Some("random_rotate"));
    assert!(text.contains("empty range 10..10"), "{text}");
    let (text, _) = failure(img(), |p| p.load().random_rotate(5.0, -5.0));
    assert!(text.contains("empty range 5..-5"), "{text}");

    let (text, action) = failure(img(), |p| p.load().crop(4, 3, 4, 4));
    assert_eq!(action.as_deref(), Some("crop"));
    assert!(
        text.contains("cannot crop 4×4 at (4, 3) from a 6×4 image"),
        "{text}"
    );
    let (text, _) = failure(img(), |p| p.load().random_crop(7, 2));
    assert!(text.contains("cannot crop 7×2"), "{text}");

    let (text, action) = failure(img(), |p| p.load().resize(0, 3, Filter::Bilinear));
    assert_eq!(action.as_deref(), Some("resize"));
    assert!(text.contains("sizes must be positive"), "{text}");

    let (text, _) = failure(img(), |p| p.load().additive_noise(-1.0));
    assert!(
        text.contains("noise sigma must be finite and at least 0"),
        "{text}"
    );

    let (text, action) = failure(img(), |p| p.to_tensor_u8(Layout::Nchw));
    assert_eq!(action.as_deref(), Some("to_tensor_u8"));
    assert!(text.contains("run `load` first"), "{text}");
}

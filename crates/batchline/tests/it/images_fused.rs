//! `load_fused`: the per-image steps run right after decoding give what `load_with` and the same
//! actions give (exact pixels, masks, labels, tensors, the same seeded draws), for any prefetch
//! and any number of item threads; DCT-scaled JPEG decoding stays within its stated tolerance
//! of decoding in full and resizing; strict decoding and the pixel limit hold on the fused
//! path, and dropped items keep the batch aligned.

use std::path::Path;
use std::time::Duration;

use batchline::images::{
    natural_image, Colour, Filter, Flip, ImagesBatch, ImagesBatchActions, ImagesSource,
    ImagesTransforms, Layout, LoadOptions, PerImage, Tensor,
};
use batchline::{Batch, FileIds, FilesIndex, Pipeline, PipelineError, RunSpec};
use image::DynamicImage;

use crate::common::{with_watchdog, Jitter};

const LIMIT: Duration = Duration::from_secs(120);
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

fn jpeg_bytes(img: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

/// `n` photo-like JPEGs `img<i>.jpg` of `w` × `h` (quality 90), and grey PNG masks of the same
/// size in `masks/`.
fn jpeg_dataset(dir: &Path, n: usize, w: u32, h: u32) -> FilesIndex {
    let masks = dir.join("masks");
    std::fs::create_dir_all(&masks).unwrap();
    for i in 0..n {
        let img = natural_image(w, h, i as u64);
        std::fs::write(dir.join(format!("img{i}.jpg")), jpeg_bytes(&img, 90)).unwrap();
        img.to_luma8()
            .save(masks.join(format!("img{i}.png")))
            .unwrap();
    }
    FilesIndex::new([dir.join("*.jpg").to_string_lossy()], FileIds::Stem).unwrap()
}

fn mask_files(dir: &Path) -> FilesIndex {
    FilesIndex::new(
        [dir.join("masks").join("*.png").to_string_lossy()],
        FileIds::Stem,
    )
    .unwrap()
}

/// The files of [`jpeg_dataset`] with their masks and labels `i % 3`.
fn full_source(dir: &Path, files: &FilesIndex) -> ImagesSource {
    ImagesSource::from_files(files)
        .with_labels((0..files.len()).map(|i| (format!("img{i}"), (i % 3) as i64)))
        .with_mask_files(&mask_files(dir))
}

fn run_all(
    files: &FilesIndex,
    source: ImagesSource,
    spec: RunSpec,
    build: impl FnOnce(Pipeline<ImagesBatch>) -> Pipeline<ImagesBatch> + Send + 'static,
) -> Result<Vec<ImagesBatch>, PipelineError> {
    let files = files.clone();
    with_watchdog(LIMIT, move || {
        let ds = batchline::Dataset::new(files, source);
        build(ds.p()).gen_batch(&spec)?.collect()
    })
}

/// The parts of batches that the two paths must agree on.
type Seen = Vec<(
    Vec<String>,
    Vec<DynamicImage>,
    Option<Vec<i64>>,
    Option<Vec<DynamicImage>>,
    Option<Tensor>,
)>;

fn seen(batches: Vec<ImagesBatch>) -> Seen {
    batches
        .into_iter()
        .map(|b| {
            (
                b.ids().to_vec(),
                b.images.clone(),
                b.labels.clone(),
                b.masks.clone(),
                b.tensor.clone(),
            )
        })
        .collect()
}

/// A chain of actions after `load`.
type Chain = fn(Pipeline<ImagesBatch>) -> Pipeline<ImagesBatch>;

/// The step lists compared, each as a `PerImage` and as the same chain of actions.
fn recipes() -> Vec<(&'static str, PerImage, Chain)> {
    vec![
        (
            "train",
            PerImage::new()
                .random_resized_crop(40, (0.08, 1.0), (0.75, 4.0 / 3.0), Filter::Bilinear)
                .random_flip(Flip::Horizontal, 0.5)
                .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec()),
            |p| {
                p.random_resized_crop(40, (0.08, 1.0), (0.75, 4.0 / 3.0), Filter::Bilinear)
                    .random_flip(Flip::Horizontal, 0.5)
                    .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec())
            },
        ),
        (
            "val",
            PerImage::new()
                .convert(Colour::Rgb)
                .resize_shorter(48, Filter::Bilinear)
                .center_crop(40, 40)
                .to_tensor(Layout::Nhwc, MEAN.to_vec(), STD.to_vec()),
            |p| {
                p.convert(Colour::Rgb)
                    .resize_shorter(48, Filter::Bilinear)
                    .center_crop(40, 40)
                    .to_tensor(Layout::Nhwc, MEAN.to_vec(), STD.to_vec())
            },
        ),
        (
            "mixed, no tensor",
            PerImage::new()
                .random_crop(60, 50)
                .flip(Flip::Vertical)
                .scale(0.5, Filter::CatmullRom)
                .resize(17, 13, Filter::Lanczos3)
                .random_flip(Flip::Horizontal, 0.7)
                .convert(Colour::Grey),
            |p| {
                p.random_crop(60, 50)
                    .flip(Flip::Vertical)
                    .scale(0.5, Filter::CatmullRom)
                    .resize(17, 13, Filter::Lanczos3)
                    .random_flip(Flip::Horizontal, 0.7)
                    .convert(Colour::Grey)
            },
        ),
        (
            "a tensor of a size not known in advance",
            PerImage::new()
                .resize_shorter(40, Filter::Box)
                .to_tensor(Layout::Nchw, vec![], vec![]),
            |p| {
                p.resize_shorter(40, Filter::Box)
                    .to_tensor(Layout::Nchw, vec![], vec![])
            },
        ),
    ]
}

#[test]
fn fused_steps_give_what_the_actions_give_exactly_at_every_prefetch() {
    let dir = tempfile::tempdir().unwrap();
    let files = jpeg_dataset(dir.path(), 12, 96, 72);
    for (name, per_image, chain) in recipes() {
        let reference = seen(
            run_all(
                &files,
                full_source(dir.path(), &files),
                RunSpec::new(5).seed(3),
                move |p| chain(p.load_with(LoadOptions::new())),
            )
            .unwrap(),
        );
        assert_eq!(reference.len(), 3);
        for (k, threads) in [(0, 1), (0, 2), (1, 2), (3, 2), (3, 1)] {
            let per_image = per_image.clone();
            let got = seen(
                run_all(
                    &files,
                    full_source(dir.path(), &files),
                    RunSpec::new(5).seed(3).prefetch(k).item_threads(threads),
                    move |p| p.load_fused(LoadOptions::new(), per_image),
                )
                .unwrap(),
            );
            assert!(
                got == reference,
                "{name}: load_fused at k = {k}, {threads} threads differs from the actions"
            );
        }
    }
}

#[test]
fn fused_steps_on_images_in_memory_and_pngs_match_the_actions() {
    // In memory: RGBA, grey and 16-bit images (converted to 8 bits as the actions do).
    let images = vec![
        DynamicImage::ImageRgba8(natural_image(50, 40, 1).to_rgba8()),
        DynamicImage::ImageLuma8(natural_image(50, 40, 2).to_luma8()),
        DynamicImage::ImageRgb16(natural_image(50, 40, 3).to_rgb16()),
        natural_image(50, 40, 4),
    ];
    let source = || {
        ImagesSource::from_images(images.clone()).with_masks(
            images
                .iter()
                .map(|i| DynamicImage::ImageLuma8(i.to_luma8()))
                .collect(),
        )
    };
    type Build =
        Box<dyn FnOnce(Pipeline<ImagesBatch<usize>>) -> Pipeline<ImagesBatch<usize>> + Send>;
    let run = |build: Build| {
        let source = source();
        with_watchdog(LIMIT, move || {
            let ds: batchline::Dataset<ImagesBatch<usize>> =
                batchline::Dataset::new(batchline::DatasetIndex::from_count(4), source);
            build(ds.p())
                .gen_batch(&RunSpec::new(4).seed(9).prefetch(2))
                .unwrap()
                .map(|b| {
                    let b = b.unwrap();
                    (b.images.clone(), b.masks.clone(), b.tensor.clone())
                })
                .collect::<Vec<_>>()
        })
    };
    let fused = run(Box::new(|p| {
        p.load_fused(
            LoadOptions::new(),
            PerImage::new()
                .random_resized_crop(20, (0.3, 1.0), (0.75, 4.0 / 3.0), Filter::Bilinear)
                .random_flip(Flip::Horizontal, 0.5)
                .convert(Colour::Rgb)
                .to_tensor(Layout::Nchw, vec![], vec![]),
        )
    }));
    let chain = run(Box::new(|p| {
        p.load()
            .random_resized_crop(20, (0.3, 1.0), (0.75, 4.0 / 3.0), Filter::Bilinear)
            .random_flip(Flip::Horizontal, 0.5)
            .convert(Colour::Rgb)
            .to_tensor(Layout::Nchw, vec![], vec![])
    }));
    assert!(fused == chain, "in memory");

    // PNG files of every 8-bit colour type, in one batch: the tensor is stacked afterwards
    // when an image does not have the channels expected (3 without a `convert`).
    let dir = tempfile::tempdir().unwrap();
    let img = natural_image(40, 30, 5);
    img.save(dir.path().join("a.png")).unwrap();
    img.to_rgba8().save(dir.path().join("b.png")).unwrap();
    img.to_luma8().save(dir.path().join("c.png")).unwrap();
    img.to_luma_alpha8().save(dir.path().join("d.png")).unwrap();
    let files = FilesIndex::find(dir.path(), &["png"]).unwrap();
    for per_image in [
        PerImage::new()
            .resize(20, 15, Filter::Bilinear)
            .convert(Colour::Rgba)
            .to_tensor(Layout::Nchw, vec![], vec![]),
        PerImage::new().resize(20, 15, Filter::Bilinear),
    ] {
        let steps = per_image.clone();
        let fused = run_all(
            &files,
            ImagesSource::from_files(&files),
            RunSpec::new(4),
            move |p| p.load_fused(LoadOptions::new(), steps),
        )
        .unwrap();
        let has_tensor = per_image != PerImage::new().resize(20, 15, Filter::Bilinear);
        let chain = run_all(
            &files,
            ImagesSource::from_files(&files),
            RunSpec::new(4),
            move |p| {
                let p = p.load().resize(20, 15, Filter::Bilinear);
                if has_tensor {
                    p.convert(Colour::Rgba)
                        .to_tensor(Layout::Nchw, vec![], vec![])
                } else {
                    p
                }
            },
        )
        .unwrap();
        assert!(seen(fused) == seen(chain), "{per_image:?}");
    }
    // Without a `convert`, the mixed channels cannot be stacked: the error `to_tensor` gives.
    let err = run_all(
        &files,
        ImagesSource::from_files(&files),
        RunSpec::new(4),
        |p| {
            p.load_fused(
                LoadOptions::new(),
                PerImage::new().resize(20, 15, Filter::Bilinear).to_tensor(
                    Layout::Nchw,
                    vec![],
                    vec![],
                ),
            )
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot stack"), "{err}");
}

/// Per-sample differences between two lists of images: (mean, 99th percentile, max).
fn differences(a: &[DynamicImage], b: &[DynamicImage]) -> (f64, u8, u8) {
    let mut d: Vec<u8> = a
        .iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!((x.width(), x.height()), (y.width(), y.height()));
            x.as_bytes()
                .iter()
                .zip(y.as_bytes())
                .map(|(&p, &q)| p.abs_diff(q))
                .collect::<Vec<_>>()
        })
        .collect();
    d.sort_unstable();
    let mean = d.iter().map(|&v| v as f64).sum::<f64>() / d.len() as f64;
    (mean, d[d.len() * 99 / 100], d[d.len() - 1])
}

/// The tolerance `load_fused` states for DCT-scaled decoding.
const MEAN_TOLERANCE: f64 = 1.5;
const P99_TOLERANCE: u8 = 8;

#[test]
fn dct_scaled_decoding_is_within_the_stated_tolerance_of_decoding_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let files = jpeg_dataset(dir.path(), 6, 800, 600);
    // (what, steps): the scales these reach on 800 × 600 are 1/2 (resize_shorter 256),
    // 1/4 (resize 150 × 112), 1/8 (scale 0.1) and 1/2 to 1/8 (random_resized_crop 64).
    let cases = [
        (
            "resize_shorter 256, 1/2",
            PerImage::new().resize_shorter(256, Filter::Bilinear),
        ),
        (
            "resize 150 × 112, 1/4",
            PerImage::new().resize(150, 112, Filter::Bilinear),
        ),
        (
            "scale 0.1, 1/8",
            PerImage::new().scale(0.1, Filter::Lanczos3),
        ),
        (
            "random_resized_crop 64",
            PerImage::new()
                .random_resized_crop(64, (0.2, 1.0), (0.75, 4.0 / 3.0), Filter::Bilinear)
                .random_flip(Flip::Horizontal, 0.5),
        ),
    ];
    for (what, steps) in cases {
        let load = |scaling: bool| {
            let steps = steps.clone();
            run_all(
                &files,
                ImagesSource::from_files(&files),
                RunSpec::new(6).seed(5),
                move |p| p.load_fused(LoadOptions::new().dct_scaling(scaling), steps),
            )
            .unwrap()
            .remove(0)
            .images
        };
        let (scaled, exact) = (load(true), load(false));
        let (mean, p99, max) = differences(&scaled, &exact);
        assert!(
            mean > 0.0,
            "{what}: the scaled decoding was used (the pixels differ a little)"
        );
        assert!(
            mean <= MEAN_TOLERANCE && p99 <= P99_TOLERANCE,
            "{what}: mean {mean:.3}, p99 {p99}, max {max}"
        );
    }
    // A resize to more than half the size in either direction decodes in full: exact.
    let load = |scaling: bool| {
        run_all(
            &files,
            ImagesSource::from_files(&files),
            RunSpec::new(6),
            move |p| {
                p.load_fused(
                    LoadOptions::new().dct_scaling(scaling),
                    PerImage::new().resize(401, 200, Filter::Bilinear),
                )
            },
        )
        .unwrap()
        .remove(0)
        .images
    };
    assert!(load(true) == load(false));
}

#[test]
fn dct_scaled_decoding_does_not_depend_on_prefetch_or_threads() {
    let dir = tempfile::tempdir().unwrap();
    let files = jpeg_dataset(dir.path(), 8, 640, 480);
    let steps = PerImage::new()
        .random_resized_crop(56, (0.08, 1.0), (0.75, 4.0 / 3.0), Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec());
    let run = |k: usize, threads: usize| {
        let steps = steps.clone();
        seen(
            run_all(
                &files,
                full_source(dir.path(), &files),
                RunSpec::new(3).seed(11).prefetch(k).item_threads(threads),
                move |p| p.load_fused(LoadOptions::new(), steps),
            )
            .unwrap(),
        )
    };
    let reference = run(0, 1);
    assert!(run(3, 2) == reference);
    assert!(run(1, 2) == reference);
    assert!(run(0, 2) == reference);
}

/// The error of `load_fused` on `path` alone: its text (which must name the file) and its
/// typed source.
fn fused_error(path: &Path, options: LoadOptions, steps: PerImage) -> (String, String) {
    let files = FilesIndex::new([path.to_string_lossy()], FileIds::Name).unwrap();
    let source = ImagesSource::from_files(&files);
    let err = run_all(&files, source, RunSpec::new(1), move |p| {
        p.load_fused(options, steps)
    })
    .unwrap_err();
    crate::common::image_error_of(&err, path)
}

fn fused_ok(path: &Path, options: LoadOptions, steps: PerImage) -> ImagesBatch {
    let files = FilesIndex::new([path.to_string_lossy()], FileIds::Name).unwrap();
    let source = ImagesSource::from_files(&files);
    run_all(&files, source, RunSpec::new(1), move |p| {
        p.load_fused(options, steps)
    })
    .unwrap()
    .remove(0)
}

/// Where the scan data of a baseline JPEG starts (after the SOS segment).
fn scan_start(jpeg: &[u8]) -> usize {
    let sos = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    sos + 2 + u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]) as usize
}

#[test]
fn strict_decoding_and_the_pixel_limit_hold_on_the_fused_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = jpeg_bytes(&natural_image(400, 320, 1), 90);
    // Full-size decoding (zune-jpeg) and scaled decoding (jpeg-decoder, 1/4 here).
    let full = PerImage::new().resize(300, 240, Filter::Bilinear);
    let scaled = PerImage::new().resize(100, 80, Filter::Bilinear);
    let truncated = dir.path().join("truncated.jpg");
    std::fs::write(&truncated, &good[..good.len() * 6 / 10]).unwrap();
    let mut garbage = good.clone();
    let start = scan_start(&garbage);
    let mut jitter = Jitter(7);
    for b in &mut garbage[start + 20..start + 400] {
        *b = (jitter.next() % 255) as u8;
    }
    let garbled = dir.path().join("garbage.jpg");
    std::fs::write(&garbled, &garbage).unwrap();
    for steps in [full.clone(), scaled.clone()] {
        for path in [&truncated, &garbled] {
            let (text, source) = fused_error(path, LoadOptions::new(), steps.clone());
            assert!(text.contains("cannot decode"), "{text}");
            assert!(source.starts_with("Decode"), "{source}");
            // Lenient: what can be decoded is, at full size, then resized.
            let b = fused_ok(path, LoadOptions::new().lenient(), steps.clone());
            assert_eq!(b.images[0].width(), if steps == full { 300 } else { 100 });
        }
    }
    // Empty files and non-images say so, as with `load`.
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let (text, _) = fused_error(&empty, LoadOptions::new(), scaled.clone());
    assert!(text.contains("empty file"), "{text}");

    // The pixel limit, from the header, before any decoding: a JPEG whose frame header claims
    // 60 000 × 60 000 (21 GB of pixels) is refused on both paths.
    let mut bomb = jpeg_bytes(&natural_image(16, 16, 3), 90);
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 7].copy_from_slice(&60_000_u16.to_be_bytes());
    bomb[sof + 7..sof + 9].copy_from_slice(&60_000_u16.to_be_bytes());
    let path = dir.path().join("bomb.jpg");
    std::fs::write(&path, bomb).unwrap();
    for steps in [
        full.clone(),
        PerImage::new().resize(100, 100, Filter::Bilinear),
    ] {
        let (text, source) = fused_error(&path, LoadOptions::new(), steps);
        assert!(source.starts_with("TooLarge"), "{source}");
        assert!(text.contains("60000×60000"), "{text}");
    }
    // The limit is the option's, on the scaled path too (the full size counts).
    let path = dir.path().join("good.jpg");
    std::fs::write(&path, &good).unwrap();
    let (_, source) = fused_error(&path, LoadOptions::new().max_pixels(400 * 320 - 1), scaled);
    assert!(source.starts_with("TooLarge"), "{source}");
    let ok = fused_ok(&path, LoadOptions::new().max_pixels(400 * 320), full);
    assert_eq!(ok.images.len(), 1);
}

#[test]
fn dropped_items_on_the_fused_path_keep_ids_labels_masks_and_tensor_rows_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let files = jpeg_dataset(dir.path(), 10, 64, 48);
    let (ids, data_before) = {
        let steps = PerImage::new()
            .center_crop(32, 32)
            .to_tensor(Layout::Nchw, vec![], vec![]);
        let b = run_all(
            &files,
            ImagesSource::from_files(&files).with_mask_files(&mask_files(dir.path())),
            RunSpec::new(10),
            move |p| p.load_fused(LoadOptions::new(), steps),
        )
        .unwrap()
        .remove(0);
        (b.ids().to_vec(), b)
    };
    // Items 2 and 7 go bad: truncated, then not an image.
    let bad = [2usize, 7];
    let path = |i: usize| dir.path().join(format!("{}.jpg", ids[i]));
    let bytes = std::fs::read(path(2)).unwrap();
    std::fs::write(path(2), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(path(7), b"not an image").unwrap();
    let steps = PerImage::new()
        .center_crop(32, 32)
        .to_tensor(Layout::Nchw, vec![], vec![]);
    let source = full_source(dir.path(), &files);
    let files2 = files.clone();
    let (batch, report) = with_watchdog(LIMIT, move || {
        let ds = batchline::Dataset::new(files2, source);
        let mut p = ds
            .p()
            .load_fused(LoadOptions::new().drop_bad_items(), steps);
        let report = p.run(&RunSpec::new(10)).unwrap();
        let batch = p.next_batch(&RunSpec::new(10)).unwrap().unwrap();
        (batch, report)
    });
    assert_eq!(report.item_failures.len(), 2);
    assert_eq!(batch.len(), 8);
    let kept: Vec<usize> = (0..10).filter(|i| !bad.contains(i)).collect();
    let Some(Tensor::F32(before)) = &data_before.tensor else {
        panic!("an f32 tensor")
    };
    let Some(Tensor::F32(after)) = &batch.tensor else {
        panic!("an f32 tensor")
    };
    assert_eq!(after.shape(), [8, 3, 32, 32]);
    let labels = batch.labels.as_ref().unwrap();
    for (row, &i) in kept.iter().enumerate() {
        assert_eq!(batch.ids()[row], ids[i]);
        assert_eq!(labels[row], ids[i][3..].parse::<i64>().unwrap() % 3);
        assert_eq!(batch.images[row], data_before.images[i]);
        assert_eq!(
            batch.masks.as_ref().unwrap()[row],
            data_before.masks.as_ref().unwrap()[i]
        );
        assert_eq!(
            after.index_axis(ndarray::Axis(0), row),
            before.index_axis(ndarray::Axis(0), i)
        );
    }
}

#[test]
fn fused_step_parameters_are_checked_as_their_actions_check_them() {
    let dir = tempfile::tempdir().unwrap();
    let files = jpeg_dataset(dir.path(), 2, 32, 32);
    for (steps, expect) in [
        (
            PerImage::new().scale(0.0, Filter::Bilinear),
            "cannot scale by 0",
        ),
        (
            PerImage::new().random_flip(Flip::Horizontal, 1.5),
            "probability 1.5",
        ),
        (
            PerImage::new().random_resized_crop(8, (0.5, 0.1), (0.75, 1.3), Filter::Bilinear),
            "random_resized_crop scale",
        ),
        (PerImage::new().center_crop(64, 64), "cannot crop 64×64"),
    ] {
        let err = run_all(
            &files,
            ImagesSource::from_files(&files),
            RunSpec::new(2),
            move |p| p.load_fused(LoadOptions::new(), steps),
        )
        .unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
    }
}

#[test]
fn the_val_recipe_fused_matches_the_transforms_on_an_image_folder() {
    // The image folder's labels come along; `convert` leaves RGB images alone.
    let root = tempfile::tempdir().unwrap();
    for (class, n) in [("cat", 3), ("dog", 2)] {
        std::fs::create_dir_all(root.path().join(class)).unwrap();
        for i in 0..n {
            let img = natural_image(90, 70, i + 10 * n);
            std::fs::write(
                root.path().join(class).join(format!("{i}.jpg")),
                jpeg_bytes(&img, 85),
            )
            .unwrap();
        }
    }
    let run = |fused: bool| {
        let folder = ImagesSource::image_folder(root.path()).unwrap();
        with_watchdog(LIMIT, move || {
            let mut p = if fused {
                folder.dataset.p().load_fused(
                    LoadOptions::new(),
                    PerImage::new()
                        .convert(Colour::Rgb)
                        .resize_shorter(64, Filter::Bilinear)
                        .center_crop(56, 56)
                        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec()),
                )
            } else {
                folder
                    .dataset
                    .p()
                    .load()
                    .convert(Colour::Rgb)
                    .resize_shorter(64, Filter::Bilinear)
                    .center_crop(56, 56)
                    .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec())
            };
            let b = p.next_batch(&RunSpec::new(5)).unwrap().unwrap();
            (b.labels.clone(), b.tensor.clone())
        })
    };
    let (fused, chain) = (run(true), run(false));
    assert_eq!(fused.0, Some(vec![0, 0, 0, 1, 1]));
    assert!(fused == chain);
}

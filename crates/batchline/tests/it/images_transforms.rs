//! The torchvision transforms as pipeline actions: colour conversion from any colour type and
//! bit depth (16-bit PNG files included), `resize_shorter`, `random_resized_crop`,
//! `center_crop`, colour jitter, random greyscale, Gaussian blur, random erasing on images
//! and on tensors, TrivialAugmentWide; masks move with their images; seeded draws do not
//! depend on prefetch. (The exact arithmetic and the parameter distributions of every
//! transform are tested on the pure functions, in `src/batch/images/tv.rs`.)

use std::time::Duration;

use batchline::images::{
    Colour, Filter, ImagesBatch, ImagesBatchActions, ImagesSource, ImagesTransforms, Layout, Tensor,
};
use batchline::{Batch, Dataset, DatasetIndex, Pipeline, RunSpec};
use image::{DynamicImage, GrayImage, ImageBuffer, Luma, LumaA, Rgb, RgbImage};

use crate::common::with_watchdog;

type B = ImagesBatch<usize>;

fn run(
    source: ImagesSource<usize>,
    n: usize,
    spec: RunSpec,
    build: impl FnOnce(Pipeline<B>) -> Pipeline<B> + Send + 'static,
) -> Vec<B> {
    with_watchdog(Duration::from_secs(60), move || {
        let ds: Dataset<B> = Dataset::new(DatasetIndex::from_count(n), source);
        build(ds.p())
            .gen_batch(&spec)
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
    })
}

/// A grey image whose pixels tell where they come from (the same as its mask).
fn coords(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
        Luma([((x * 7 + y * 13) % 251 + 1) as u8])
    }))
}

#[test]
fn sixteen_bit_pngs_convert_to_rgb_rgba_and_grey_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // 0x1234 / 257 = 18.1 → 18; 0x8080 / 257 = 128; 0xFFFF → 255.
    let rgb16: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_pixel(3, 2, Rgb([0x1234, 0x8080, 0xFFFF]));
    DynamicImage::ImageRgb16(rgb16)
        .save(dir.path().join("a.png"))
        .unwrap();
    let la16: ImageBuffer<LumaA<u16>, Vec<u16>> =
        ImageBuffer::from_pixel(3, 2, LumaA([0x8080, 0xFFFF]));
    DynamicImage::ImageLumaA16(la16)
        .save(dir.path().join("b.png"))
        .unwrap();
    let files = batchline::FilesIndex::find(dir.path(), &["png"]).unwrap();
    let convert_all = |to: Colour| {
        let files = files.clone();
        with_watchdog(Duration::from_secs(60), move || {
            ImagesSource::files_dataset(files)
                .p()
                .load()
                .convert(to)
                .next_batch(&RunSpec::new(2))
                .unwrap()
                .unwrap()
        })
    };
    let b = convert_all(Colour::Rgb);
    assert_eq!(b.images[0].to_rgb8().get_pixel(2, 1), &Rgb([18, 128, 255]));
    assert_eq!(b.images[1].to_rgb8().get_pixel(0, 0), &Rgb([128, 128, 128]));
    assert!(b.images.iter().all(|i| i.color() == image::ColorType::Rgb8));
    let b = convert_all(Colour::Rgba);
    assert_eq!(b.images[0].as_bytes()[..4], [18, 128, 255, 255]);
    assert_eq!(b.images[1].as_bytes()[..4], [128, 128, 128, 255]);
    let b = convert_all(Colour::Grey);
    assert!(b.images.iter().all(|i| i.color() == image::ColorType::L8));
    assert_eq!(b.images[1].as_bytes()[0], 128);
}

#[test]
fn resize_shorter_and_center_crop_make_the_val_geometry() {
    let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(500, 375, Rgb([1, 2, 3])));
    let tall = DynamicImage::ImageRgb8(RgbImage::from_pixel(375, 500, Rgb([1, 2, 3])));
    let out = run(
        ImagesSource::from_images(vec![img, tall]),
        2,
        RunSpec::new(1),
        |p| p.load().resize_shorter(256, Filter::Bilinear),
    );
    assert_eq!(
        (out[0].images[0].width(), out[0].images[0].height()),
        (341, 256)
    );
    assert_eq!(
        (out[1].images[0].width(), out[1].images[0].height()),
        (256, 341)
    );
    // CenterCrop's placement: (341 − 224) / 2 = 58.5 → 58; (9 − 2) / 2 = 3.5 → 4.
    let out = run(
        ImagesSource::from_images(vec![coords(9, 9)]),
        1,
        RunSpec::new(1),
        |p| p.load().center_crop(2, 2),
    );
    let expected = coords(9, 9).crop_imm(4, 4, 2, 2);
    assert_eq!(out[0].images[0], expected);
}

#[test]
fn random_resized_crop_moves_masks_and_covers_the_image_at_scale_one() {
    // Nearest for the image too: image and mask must stay equal, window by window.
    let images: Vec<DynamicImage> = (0..16).map(|_| coords(40, 30)).collect();
    let masks = images.clone();
    let out = run(
        ImagesSource::from_images(images).with_masks(masks),
        16,
        RunSpec::new(4).seed(3).prefetch(1),
        |p| {
            p.load()
                .random_resized_crop(12, (0.08, 1.0), (0.75, 4.0 / 3.0), Filter::Nearest)
        },
    );
    let mut distinct = std::collections::HashSet::new();
    for b in &out {
        for (img, mask) in b.images.iter().zip(b.masks.as_ref().unwrap()) {
            assert_eq!((img.width(), img.height()), (12, 12));
            assert_eq!(img.as_bytes(), mask.as_bytes());
            distinct.insert(img.as_bytes().to_vec());
        }
    }
    assert!(
        distinct.len() >= 14,
        "windows vary per image: {}",
        distinct.len()
    );
    // Scale 1 and the image's own ratio: the window is the whole image (1st try fits).
    let out = run(
        ImagesSource::from_images(vec![coords(40, 30)]),
        1,
        RunSpec::new(1).seed(9),
        |p| {
            p.load()
                .random_resized_crop(20, (1.0, 1.0), (4.0 / 3.0, 4.0 / 3.0), Filter::Bilinear)
        },
    );
    let direct = run(
        ImagesSource::from_images(vec![coords(40, 30)]),
        1,
        RunSpec::new(1),
        |p| p.load().resize(20, 20, Filter::Bilinear),
    );
    assert_eq!(out[0].images[0], direct[0].images[0]);
}

#[test]
fn trivial_augment_moves_masks_only_for_geometric_operations() {
    let n = 300;
    let images: Vec<DynamicImage> = (0..n).map(|_| coords(16, 16)).collect();
    let original = coords(16, 16);
    let out = run(
        ImagesSource::from_images(images.clone()).with_masks(images),
        n,
        RunSpec::new(50).seed(4).prefetch(2),
        |p| p.load().trivial_augment_wide(),
    );
    let (mut geometric, mut colour, mut identity) = (0, 0, 0);
    for b in &out {
        for (img, mask) in b.images.iter().zip(b.masks.as_ref().unwrap()) {
            if img == &original && mask == &original {
                identity += 1;
            } else if img == mask {
                geometric += 1; // moved together
            } else {
                assert_eq!(mask, &original, "a colour operation leaves the mask alone");
                colour += 1;
            }
        }
    }
    // 5 of 14 operations move pixels, 8 change colours (some at a magnitude that changes
    // nothing here), 1 is the identity.
    assert!(
        (70..150).contains(&geometric),
        "{geometric} {colour} {identity}"
    );
    assert!(colour >= 100, "{geometric} {colour} {identity}");
    assert_eq!(geometric + colour + identity, n);
}

#[test]
fn random_grayscale_greys_the_asked_share_and_jitter_is_seeded() {
    let n = 2000;
    let pixel = |i: usize| Rgb([(i % 200) as u8 + 20, 90, 160]);
    let images: Vec<DynamicImage> = (0..n)
        .map(|i| DynamicImage::ImageRgb8(RgbImage::from_pixel(2, 2, pixel(i))))
        .collect();
    let out = run(
        ImagesSource::from_images(images.clone()),
        n,
        RunSpec::new(100).seed(5),
        |p| p.load().random_grayscale(0.3),
    );
    let mut greys = 0;
    for b in &out {
        for (img, &id) in b.images.iter().zip(b.ids()) {
            let px = img.to_rgb8().get_pixel(0, 0).0;
            if px[0] == px[1] && px[1] == px[2] {
                let p = pixel(id).0;
                let g =
                    (0.2989_f32 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) as u8;
                assert_eq!(px[0], g);
                greys += 1;
            } else {
                assert_eq!(px, pixel(id).0);
            }
        }
    }
    // Binomial(2000, 0.3): mean 600, sd 20.5.
    assert!((540..660).contains(&greys), "{greys}");

    let jitter = |k: usize| {
        let images = images[..64].to_vec();
        run(
            ImagesSource::from_images(images),
            64,
            RunSpec::new(16).seed(6).prefetch(k),
            |p| {
                p.load()
                    .colour_jitter(0.4, 0.4, 0.4, 0.1)
                    .gaussian_blur(3, (0.1, 2.0))
            },
        )
        .into_iter()
        .flat_map(|b| b.images)
        .collect::<Vec<_>>()
    };
    let a = jitter(0);
    assert_eq!(a, jitter(3));
    assert!(a.iter().zip(&images).filter(|(x, y)| x != y).count() > 60);
}

#[test]
fn random_erasing_works_on_the_normalised_tensor_as_torchvision() {
    let n = 400;
    let images: Vec<DynamicImage> = (0..n)
        .map(|_| DynamicImage::ImageRgb8(RgbImage::from_pixel(32, 32, Rgb([255, 255, 255]))))
        .collect();
    for layout in [Layout::Nchw, Layout::Nhwc] {
        let out = run(
            ImagesSource::from_images(images.clone()),
            n,
            RunSpec::new(100).seed(7),
            move |p| {
                p.load()
                    .to_tensor(layout, vec![0.5; 3], vec![0.25; 3])
                    .random_erasing(0.5, (0.02, 0.33), (0.3, 3.3), 0.0)
            },
        );
        let mut erased = 0;
        for b in &out {
            let Some(Tensor::F32(t)) = &b.tensor else {
                panic!()
            };
            for row in t.outer_iter() {
                // (1 − 0.5) / 0.25 = 2 where not erased, 0 where erased, in every channel.
                let zeros = row.iter().filter(|&&v| v == 0.0).count();
                assert!(row.iter().all(|&v| v == 0.0 || v == 2.0));
                assert_eq!(zeros % 3, 0);
                let share = zeros as f64 / row.len() as f64;
                if zeros > 0 {
                    erased += 1;
                    assert!((0.015..0.35).contains(&share), "{share}");
                }
            }
        }
        // Binomial(400, 0.5): 200 ± 10.
        assert!((165..235).contains(&erased), "{erased}");
    }
    // Without a tensor it erases the images.
    let out = run(
        ImagesSource::from_images(images[..20].to_vec()),
        20,
        RunSpec::new(20).seed(8),
        |p| p.load().random_erasing(1.0, (0.1, 0.1), (1.0, 1.0), 7.0),
    );
    for img in &out[0].images {
        let sevens = img.as_bytes().iter().filter(|&&v| v == 7).count();
        // 0.1 · 1024 = 102.4 → a 10 × 10 window, 3 channels.
        assert_eq!(sevens, 300);
    }
}

#[test]
fn transform_parameters_are_checked() {
    let fail = |build: fn(Pipeline<B>) -> Pipeline<B>| {
        let ds: Dataset<B> = Dataset::new(
            DatasetIndex::from_count(1),
            ImagesSource::from_images(vec![coords(8, 8)]),
        );
        let err = build(ds.p()).run(&RunSpec::new(1)).unwrap_err();
        err.to_string()
    };
    assert!(fail(|p| p.load().gaussian_blur(4, (0.1, 2.0))).contains("odd"));
    assert!(fail(|p| p.load().colour_jitter(0.1, 0.1, 0.1, 0.7)).contains("hue"));
    assert!(fail(|p| p
        .load()
        .random_resized_crop(4, (0.5, 0.1), (0.75, 1.33), Filter::Bilinear))
    .contains("scale"));
    assert!(fail(|p| p.load().random_grayscale(1.5)).contains("probability"));
}

//! The exact arithmetic and the parameter distributions of `tv`.
use super::*;
use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::SeedableRng;

fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

fn rgb(pixels: &[[u8; 3]]) -> DynamicImage {
    let raw = pixels.iter().flatten().copied().collect();
    DynamicImage::ImageRgb8(RgbImage::from_raw(pixels.len() as u32, 1, raw).unwrap())
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

#[test]
fn shorter_side_follows_torchvision() {
    assert_eq!(shorter_side_size(500, 375, 256), (341, 256));
    assert_eq!(shorter_side_size(375, 500, 256), (256, 341));
    assert_eq!(shorter_side_size(300, 300, 224), (224, 224));
    assert_eq!(py_round(2.5), 2);
    assert_eq!(py_round(3.5), 4);
}

#[test]
fn random_resized_crop_draws_area_ratio_and_place_as_asked() {
    // On 1000×1000 with scale ≤ 0.5 every first try fits: the draws are the raw ones.
    let mut r = rng(1);
    let (mut areas, mut ratios, mut places) = (vec![], vec![], vec![]);
    for _ in 0..4000 {
        let (x, y, w, h) = rrc_params(&mut r, 1000, 1000, (0.08, 0.5), (0.75, 4.0 / 3.0));
        assert!(x + w <= 1000 && y + h <= 1000 && w > 0 && h > 0);
        areas.push((w * h) as f64 / 1e6);
        ratios.push((w as f64 / h as f64).ln());
        places.push(x as f64 / (1000 - w) as f64);
    }
    let (m, sd) = mean_sd(&areas);
    // U(0.08, 0.5): mean 0.29, sd 0.42 / √12 = 0.121.
    assert!(
        (m - 0.29).abs() < 0.01 && (sd - 0.121).abs() < 0.01,
        "{m} {sd}"
    );
    let (m, sd) = mean_sd(&ratios);
    // log-uniform on (ln 3/4, ln 4/3): mean 0, sd ln(16/9) / √12 = 0.166.
    assert!(m.abs() < 0.01 && (sd - 0.166).abs() < 0.01, "{m} {sd}");
    let (m, sd) = mean_sd(&places);
    assert!(
        (m - 0.5).abs() < 0.02 && (sd - 0.289).abs() < 0.02,
        "{m} {sd}"
    );
    assert!(areas.iter().all(|a| (0.078..=0.502).contains(a)));
}

#[test]
fn random_resized_crop_falls_back_to_the_central_crop() {
    // An area of 2–3 times the image never fits: the central crop at the nearest ratio.
    let mut r = rng(2);
    assert_eq!(
        rrc_params(&mut r, 500, 100, (2.0, 3.0), (0.75, 4.0 / 3.0)),
        (183, 0, 133, 100)
    );
    assert_eq!(
        rrc_params(&mut r, 100, 500, (2.0, 3.0), (0.75, 4.0 / 3.0)),
        (0, 183, 100, 133)
    );
    assert_eq!(
        rrc_params(&mut r, 120, 100, (2.0, 3.0), (0.75, 4.0 / 3.0)),
        (0, 0, 120, 100)
    );
    // 101 · 4/3 = 134.67 rounds to 135.
    assert_eq!(
        rrc_params(&mut r, 500, 101, (2.0, 3.0), (0.75, 4.0 / 3.0)),
        (182, 0, 135, 101)
    );
}

#[test]
fn jitter_order_is_a_uniform_permutation_and_factors_uniform() {
    let mut r = rng(3);
    let mut counts = std::collections::HashMap::new();
    let mut b = vec![];
    let mut h = vec![];
    for _ in 0..4800 {
        let j = jitter_params(&mut r, [0.4, 0.4, 0.4, 0.1]);
        *counts.entry(j.order).or_insert(0) += 1;
        b.push(j.factors[0].unwrap());
        h.push(j.factors[3].unwrap());
    }
    assert_eq!(counts.len(), 24);
    assert!(
        counts.values().all(|&n| (140..=260).contains(&n)),
        "{counts:?}"
    );
    let (m, sd) = mean_sd(&b);
    assert!((m - 1.0).abs() < 0.01 && (sd - 0.8 / 12f64.sqrt()).abs() < 0.01);
    assert!(b.iter().all(|f| (0.6..1.4).contains(f)));
    let (m, sd) = mean_sd(&h);
    assert!(m.abs() < 0.005 && (sd - 0.2 / 12f64.sqrt()).abs() < 0.005);
    let j = jitter_params(&mut r, [0.0, 2.0, 0.0, 0.0]);
    assert!(j.factors[0].is_none() && j.factors[2].is_none());
    assert!((0.0..3.0).contains(&j.factors[1].unwrap()));
}

#[test]
fn colour_adjustments_are_torchvisions_arithmetic() {
    let mut img = rgb(&[[100, 50, 200]]);
    brightness(&mut img, 1.5);
    assert_eq!(img.as_bytes(), [150, 75, 255]);
    // Grey of black and white: 0 and 254 (0.9999 · 255 truncated); mean 127.
    let mut img = rgb(&[[0, 0, 0], [255, 255, 255]]);
    contrast(&mut img, 0.5);
    assert_eq!(img.as_bytes(), [63, 63, 63, 191, 191, 191]);
    let mut img = rgb(&[[100, 50, 200]]);
    // grey = 0.2989·100 + 0.587·50 + 0.114·200 = 82.04 → 82
    saturation(&mut img, 0.0);
    assert_eq!(img.as_bytes(), [82, 82, 82]);
    let mut img = rgb(&[[100, 50, 200]]);
    saturation(&mut img, 2.0);
    // 2·v − 82, clamped.
    assert_eq!(img.as_bytes(), [118, 18, 255]);
    let mut img = rgb(&[[255, 0, 0], [255, 0, 0], [0, 0, 255]]);
    hue(&mut img, 0.5);
    assert_eq!(&img.as_bytes()[..3], [0, 255, 255]);
    let mut img2 = rgb(&[[255, 0, 0]]);
    hue(&mut img2, 1.0 / 3.0);
    assert_eq!(img2.as_bytes(), [0, 255, 0]);
    // Blue (hue 2/3) turned by 1/2 is yellow (hue 1/6), within the truncation to u8.
    for (a, b) in img.as_bytes()[6..].iter().zip([255u8, 255, 0]) {
        assert!(a.abs_diff(b) <= 1, "{:?}", img.as_bytes());
    }
    let mut img = rgb(&[[100, 50, 200], [7, 7, 7]]);
    hue(&mut img, 0.0);
    for (a, b) in img.as_bytes().iter().zip([100u8, 50, 200, 7, 7, 7]) {
        assert!(a.abs_diff(b) <= 1, "{:?}", img.as_bytes());
    }
    // Grey images have no saturation or hue.
    let mut g = DynamicImage::ImageLuma8(GrayImage::from_pixel(2, 2, Luma([90])));
    saturation(&mut g, 0.0);
    hue(&mut g, 0.3);
    assert_eq!(g.as_bytes(), [90; 4]);
    let mut img = rgb(&[[100, 50, 200]]);
    grey_keep_channels(&mut img);
    assert_eq!(img.as_bytes(), [82, 82, 82]);
}

#[test]
fn gaussian_blur_spreads_a_point_by_the_kernel() {
    let k = gaussian_kernel(3, 1.0);
    assert!((k[0] - 0.274_068).abs() < 1e-5 && (k[1] - 0.451_863).abs() < 1e-5);
    let mut img = DynamicImage::ImageLuma8(GrayImage::from_fn(5, 5, |x, y| {
        Luma([if (x, y) == (2, 2) { 255 } else { 0 }])
    }));
    gaussian_blur(&mut img, 3, 1.0);
    let g = img.to_luma8();
    // 255·k1² = 52.07, 255·k0·k1 = 31.58, 255·k0² = 19.15.
    assert_eq!(g.get_pixel(2, 2)[0], 52);
    assert_eq!(g.get_pixel(1, 2)[0], 32);
    assert_eq!(g.get_pixel(3, 3)[0], 19);
    assert_eq!(g.get_pixel(0, 0)[0], 0);
    // Reflect padding: a flat image stays flat, even at the border.
    let mut flat = DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 3, Rgb([9, 99, 199])));
    gaussian_blur(&mut flat, 5, 2.0);
    assert!(flat.as_bytes().chunks(3).all(|p| p == [9, 99, 199]));
    assert_eq!(reflect(-1, 4), 1);
    assert_eq!(reflect(4, 4), 2);
}

#[test]
fn erasing_windows_fit_strictly_and_follow_the_scale() {
    let mut r = rng(4);
    let mut areas = vec![];
    for _ in 0..3000 {
        let (x, y, w, h) = erasing_params(&mut r, 224, 224, (0.02, 0.33), (0.3, 3.3)).unwrap();
        assert!(w < 224 && h < 224 && x + w <= 224 && y + h <= 224);
        areas.push((w * h) as f64 / (224.0 * 224.0));
    }
    assert!(areas.iter().all(|a| (0.015..0.35).contains(a)));
    let (m, _) = mean_sd(&areas);
    // Uniform on (0.02, 0.33) but for the draws too tall or too wide to fit.
    assert!((0.15..0.18).contains(&m), "{m}");
    // Nothing fits in a 1-pixel image.
    assert_eq!(erasing_params(&mut r, 1, 1, (0.02, 0.33), (0.3, 3.3)), None);
}

#[test]
fn trivial_augment_draws_every_operation_and_magnitude_evenly() {
    let mut r = rng(5);
    let mut counts = [0usize; 14];
    let mut negative = 0;
    let mut shears = std::collections::BTreeSet::new();
    let mut bits = std::collections::BTreeSet::new();
    for _ in 0..14_000 {
        let op = trivial_augment_op(&mut r);
        let k = match op {
            Op::Identity => 0,
            Op::ShearX(m) => {
                negative += (m < 0.0) as usize;
                shears.insert((m.abs() * 1000.0).round() as i64);
                1
            }
            Op::ShearY(_) => 2,
            Op::TranslateX(t) => {
                assert!(t.abs() <= 32.0);
                3
            }
            Op::TranslateY(_) => 4,
            Op::Rotate(d) => {
                assert!(d.abs() <= 135.0);
                5
            }
            Op::Brightness(_) => 6,
            Op::Colour(_) => 7,
            Op::Contrast(_) => 8,
            Op::Sharpness(_) => 9,
            Op::Posterize(b) => {
                bits.insert(b);
                10
            }
            Op::Solarize(t) => {
                assert!((0.0..=255.0).contains(&t));
                11
            }
            Op::AutoContrast => 12,
            Op::Equalize => 13,
        };
        counts[k] += 1;
    }
    assert!(
        counts.iter().all(|&n| (850..1150).contains(&n)),
        "{counts:?}"
    );
    assert!((negative as f64 / counts[1] as f64 - 0.5).abs() < 0.06);
    assert_eq!(shears.len(), 31, "31 magnitudes from 0 to 0.99");
    assert_eq!(shears.last(), Some(&990));
    assert_eq!(bits.into_iter().collect::<Vec<_>>(), [2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn trivial_augment_operations_are_exact() {
    let ramp = |w: u32, h: u32| {
        DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
            Luma([(10 * y + x + 1) as u8])
        }))
    };
    let mut t = ramp(6, 2);
    apply_op(&mut t, Op::TranslateX(2.9));
    assert_eq!(t.as_bytes(), [0, 0, 1, 2, 3, 4, 0, 0, 11, 12, 13, 14]);
    let mut t = ramp(6, 2);
    apply_op(&mut t, Op::TranslateX(-1.5));
    assert_eq!(&t.as_bytes()[..6], [2, 3, 4, 5, 6, 0]);
    // Shear x by 1: row y takes x + (y + ½), halves to even: row 0 from x + 0.5 → x
    // (x even) or x + 1 (x odd); row 1 from x + 1.5.
    let mut s = ramp(4, 2);
    apply_op(&mut s, Op::ShearX(1.0));
    assert_eq!(s.as_bytes(), [1, 3, 3, 0, 13, 13, 0, 0]);
    let mut p = DynamicImage::ImageLuma8(GrayImage::from_raw(3, 1, vec![255, 0x9c, 17]).unwrap());
    apply_op(&mut p, Op::Posterize(4));
    assert_eq!(p.as_bytes(), [0xf0, 0x90, 0x10]);
    let mut p = DynamicImage::ImageLuma8(GrayImage::from_raw(3, 1, vec![200, 128, 100]).unwrap());
    apply_op(&mut p, Op::Solarize(128.0));
    assert_eq!(p.as_bytes(), [55, 127, 100]);
    let mut a = DynamicImage::ImageLuma8(GrayImage::from_raw(3, 1, vec![50, 100, 150]).unwrap());
    apply_op(&mut a, Op::AutoContrast);
    assert_eq!(a.as_bytes(), [0, 127, 255]);
    // 255 pixels of 10, 255 of 20 and one of 30: step = 510 / 255 = 2.
    let mut raw = vec![10u8; 255];
    raw.extend([20u8; 255]);
    raw.push(30);
    let mut e = DynamicImage::ImageLuma8(GrayImage::from_raw(511, 1, raw).unwrap());
    apply_op(&mut e, Op::Equalize);
    assert_eq!(
        (e.as_bytes()[0], e.as_bytes()[300], e.as_bytes()[510]),
        (0, 128, 255)
    );
    // Sharpness 1 is the identity; a flat image stays flat at any factor.
    let mut f = ramp(5, 5);
    apply_op(&mut f, Op::Sharpness(0.0));
    assert_eq!(f, ramp(5, 5));
    let mut f = DynamicImage::ImageLuma8(GrayImage::from_pixel(4, 4, Luma([77])));
    apply_op(&mut f, Op::Sharpness(0.9));
    assert_eq!(f.as_bytes(), [77; 16]);
    // Sharpness 0 is the smoothed image inside, the original at the border.
    let mut d = DynamicImage::ImageLuma8(GrayImage::from_fn(3, 3, |x, y| {
        Luma([if (x, y) == (1, 1) { 130 } else { 0 }])
    }));
    apply_op(&mut d, Op::Sharpness(-1.0));
    assert_eq!(d.as_bytes()[4], 50); // 5 · 130 / 13
}

//! Loading images for real: strict decoding (truncated and corrupt JPEGs and PNGs fail,
//! naming the path, with the typed `ImageError` as the source), empty files, the pixel limit
//! refused from the header, the format known from the first bytes; item-level failures
//! (`LoadPolicy::DropItem`): aligned ids, labels, masks and tensors, the report's
//! `item_failures`, `max_failures` counting items, and `rebatch` filling batches again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use batchline::images::{
    decode_files, natural_image, ImageError, ImagesBatch, ImagesBatchActions, ImagesSource, Layout,
    LoadOptions, Tensor,
};
use batchline::{Batch, FilesIndex, PipelineError, RunSpec};

use crate::common::{with_watchdog, Jitter};

const LIMIT: Duration = Duration::from_secs(60);

fn jpeg_bytes(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&natural_image(w, h, seed))
        .unwrap();
    out
}

fn png_bytes(img: &image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A flat RGB image whose samples are all `v`.
fn flat(v: u8) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(6, 4, image::Rgb([v, v, v])))
}

/// Loads the one file at `path` with `options`; the error of its batch, if any.
fn load_one(path: &Path, options: LoadOptions) -> Result<ImagesBatch, PipelineError> {
    let dir = path.parent().unwrap().to_path_buf();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    with_watchdog(LIMIT, move || {
        let files = FilesIndex::new(
            [dir.join(&name).to_string_lossy()],
            batchline::FileIds::Name,
        )
        .unwrap();
        let mut p = ImagesSource::files_dataset(files).p().load_with(options);
        p.next_batch(&RunSpec::new(1)).map(|b| b.unwrap())
    })
}

/// The error of `load` on `path`: its text (which must name the file) and its typed source.
fn load_error(path: &Path, options: LoadOptions) -> (String, String) {
    let err = load_one(path, options).unwrap_err();
    crate::common::image_error_of(&err, path)
}

/// Where the scan data of a baseline JPEG starts (after the SOS segment).
fn scan_start(jpeg: &[u8]) -> usize {
    let sos = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    sos + 2 + u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]) as usize
}

#[test]
fn truncated_and_garbage_jpegs_fail_when_strict_and_decode_when_lenient() {
    let dir = tempfile::tempdir().unwrap();
    let good = jpeg_bytes(96, 64, 1);
    let truncated = dir.path().join("truncated.jpg");
    std::fs::write(&truncated, &good[..good.len() * 6 / 10]).unwrap();
    let (text, source) = load_error(&truncated, LoadOptions::new());
    assert!(text.contains("cannot decode"), "{text}");
    assert!(source.starts_with("Decode"), "{source}");
    let lenient = load_one(&truncated, LoadOptions::new().lenient()).unwrap();
    assert_eq!(
        (lenient.images[0].width(), lenient.images[0].height()),
        (96, 64)
    );

    // Scan data replaced by garbage (no 0xFF, so no marker appears): the file's structure is
    // intact and a lenient decoder only warns.
    let mut garbage = good.clone();
    let start = scan_start(&garbage);
    let mut jitter = Jitter(7);
    for b in &mut garbage[start + 20..start + 400] {
        *b = (jitter.next() % 255) as u8;
    }
    let path = dir.path().join("garbage.jpg");
    std::fs::write(&path, &garbage).unwrap();
    let (text, source) = load_error(&path, LoadOptions::new());
    assert!(text.contains("cannot decode"), "{text} / {source}");
    assert!(load_one(&path, LoadOptions::new().lenient()).is_ok());

    // The good file decodes, in both modes, to the same pixels.
    let path = dir.path().join("good.jpg");
    std::fs::write(&path, &good).unwrap();
    let strict = load_one(&path, LoadOptions::new()).unwrap();
    let lenient = load_one(&path, LoadOptions::new().lenient()).unwrap();
    assert_eq!(strict.images, lenient.images);
}

#[test]
fn truncated_and_corrupt_pngs_fail_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = png_bytes(&natural_image(64, 48, 2));
    let path = dir.path().join("truncated.png");
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let (text, source) = load_error(&path, LoadOptions::new());
    assert!(text.contains("cannot decode"), "{text}");
    assert!(source.starts_with("Decode"), "{source}");
    // A flipped byte inside the image data: the chunk's CRC no longer matches.
    let mut corrupt = good.clone();
    let idat = corrupt.windows(4).position(|w| w == b"IDAT").unwrap();
    corrupt[idat + 100] ^= 0x55;
    let path = dir.path().join("corrupt.png");
    std::fs::write(&path, &corrupt).unwrap();
    let (text, _) = load_error(&path, LoadOptions::new());
    assert!(text.contains("cannot decode"), "{text}");
}

#[test]
fn empty_files_and_non_images_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.png");
    std::fs::write(&path, b"").unwrap();
    let (text, source) = load_error(&path, LoadOptions::new());
    assert!(text.contains("empty file"), "{text}");
    assert!(source.starts_with("Empty"), "{source}");
    let path = dir.path().join("text.png");
    std::fs::write(&path, b"hello, I am not a PNG at all").unwrap();
    let (text, source) = load_error(&path, LoadOptions::new());
    assert!(text.contains("not a PNG or JPEG"), "{text}");
    assert!(source.starts_with("Format"), "{source}");
}

/// The format comes from the first bytes: a pipe that gives 64 bytes of junk and then never
/// ends (nor closes) is refused at once, where reading the whole file would hang (and the
/// watchdog would fail the test).
#[cfg(unix)]
#[test]
fn a_non_image_is_refused_from_its_first_bytes_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("endless.png");
    let made = std::process::Command::new("mkfifo").arg(&path).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("no mkfifo here: test skipped");
        return;
    }
    let writer_path = path.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut pipe = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .unwrap();
        let _ = pipe.write_all(&[b'x'; 64]);
        let _ = pipe.flush();
        // Keep the pipe open until the reader is done: EOF never comes.
        let _ = done_rx.recv_timeout(LIMIT);
    });
    // A pipe is no file for a FilesIndex: decode it directly, as `load` does.
    let decode_path = path.clone();
    let err = with_watchdog(LIMIT, move || decode_files(&[decode_path]).unwrap_err());
    assert!(
        matches!(&err, ImageError::Format { path: p } if p == &path),
        "{err:?}"
    );
    done_tx.send(()).unwrap();
    writer.join().unwrap();
}

/// The CRC-32 of PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid PNG whose header says `w` × `h` (its data is that of a 1×1 image): a bomb as far
/// as the header goes.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = png_bytes(&image::DynamicImage::ImageLuma8(image::GrayImage::new(
        1, 1,
    )));
    let ihdr = png.windows(4).position(|x| x == b"IHDR").unwrap();
    png[ihdr + 4..ihdr + 8].copy_from_slice(&w.to_be_bytes());
    png[ihdr + 8..ihdr + 12].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[ihdr..ihdr + 17]);
    png[ihdr + 17..ihdr + 21].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn the_pixel_limit_is_refused_from_the_header_and_configurable() {
    let dir = tempfile::tempdir().unwrap();
    // 50 000 × 50 000 grey: 2.3 GiB if it were decoded; refused from the header.
    let path = dir.path().join("bomb.png");
    std::fs::write(&path, png_claiming(50_000, 50_000)).unwrap();
    let (text, source) = load_error(&path, LoadOptions::new());
    assert!(
        text.contains("50000×50000") && text.contains("89478485"),
        "{text}"
    );
    assert!(source.starts_with("TooLarge"), "{source}");

    // A JPEG whose frame header claims 60 000 × 60 000.
    let mut jpeg = jpeg_bytes(16, 16, 3);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&60_000_u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&60_000_u16.to_be_bytes());
    let path = dir.path().join("bomb.jpg");
    std::fs::write(&path, jpeg).unwrap();
    let (_, source) = load_error(&path, LoadOptions::new());
    assert!(source.starts_with("TooLarge"), "{source}");

    // The limit is the option's: a 20 × 20 image passes at 400 pixels, not at 399.
    let path = dir.path().join("small.png");
    std::fs::write(&path, png_bytes(&natural_image(20, 20, 4))).unwrap();
    assert!(load_one(&path, LoadOptions::new().max_pixels(400)).is_ok());
    let (text, _) = load_error(&path, LoadOptions::new().max_pixels(399));
    assert!(text.contains("limit of 399"), "{text}");
    let path = dir.path().join("small.jpg");
    std::fs::write(&path, jpeg_bytes(20, 20, 4)).unwrap();
    assert!(load_one(&path, LoadOptions::new().max_pixels(400)).is_ok());
    assert!(load_one(&path, LoadOptions::new().max_pixels(399)).is_err());
}

/// Ten PNGs `f0.png`…`f9.png` of flat value 10·i, with label i and a mask of value i; the
/// files in `bad` are replaced by junk (or removed, for an odd number).
fn dataset_with_bad(dir: &Path, bad: &[usize]) -> (FilesIndex, ImagesSource) {
    let masks = dir.join("masks");
    std::fs::create_dir_all(&masks).unwrap();
    for i in 0..10 {
        let path = dir.join(format!("f{i}.png"));
        std::fs::write(&path, png_bytes(&flat(10 * i as u8))).unwrap();
        std::fs::write(masks.join(format!("f{i}.png")), png_bytes(&flat(i as u8))).unwrap();
    }
    let files = FilesIndex::new(
        [dir.join("f*.png").to_string_lossy()],
        batchline::FileIds::Stem,
    )
    .unwrap();
    let mask_files = FilesIndex::new(
        [masks.join("*.png").to_string_lossy()],
        batchline::FileIds::Stem,
    )
    .unwrap();
    for &i in bad {
        let path = dir.join(format!("f{i}.png"));
        if i % 2 == 1 {
            std::fs::remove_file(path).unwrap();
        } else {
            std::fs::write(path, b"\x89PNG\r\n\x1a\n garbage").unwrap();
        }
    }
    let source = ImagesSource::from_files(&files)
        .with_labels((0..10).map(|i| (format!("f{i}"), i as i64)))
        .with_mask_files(&mask_files);
    (files, source)
}

fn value_of(id: &str) -> usize {
    id[1..].parse().unwrap()
}

/// Every item of `b` agrees with its id: image, label, mask, tensor row.
fn assert_aligned(b: &ImagesBatch) {
    let labels = b.labels.as_ref().unwrap();
    let masks = b.masks.as_ref().unwrap();
    assert_eq!(b.images.len(), b.len());
    assert_eq!(labels.len(), b.len());
    assert_eq!(masks.len(), b.len());
    let Some(Tensor::U8(t)) = &b.tensor else {
        panic!("a u8 tensor")
    };
    assert_eq!(t.shape()[0], b.len());
    for (i, id) in b.ids().iter().enumerate() {
        let v = value_of(id);
        assert_eq!(labels[i], v as i64, "{id}");
        assert_eq!(b.images[i].as_bytes()[0] as usize, 10 * v, "{id}");
        assert_eq!(masks[i].as_bytes()[0] as usize, v, "{id}");
        assert!(
            t.index_axis(ndarray::Axis(0), i)
                .iter()
                .all(|&s| s as usize == 10 * v),
            "{id}"
        );
    }
}

#[test]
fn dropping_items_keeps_ids_labels_masks_and_tensors_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let (files, source) = dataset_with_bad(dir.path(), &[2, 5]);
    let bad_paths: Vec<PathBuf> = [2, 5]
        .iter()
        .map(|i| dir.path().join(format!("f{i}.png")))
        .collect();
    let (batches, report) = with_watchdog(LIMIT, move || {
        let p = batchline::Dataset::new(files, source)
            .p()
            .load_with(LoadOptions::new().drop_bad_items())
            .to_tensor_u8(Layout::Nhwc);
        let mut iter = p.gen_batch(&RunSpec::new(4).prefetch(2)).unwrap();
        let batches: Vec<ImagesBatch> = iter.by_ref().map(|b| b.unwrap()).collect();
        (batches, iter.report())
    });
    let ids: Vec<Vec<String>> = batches.iter().map(|b| b.ids().to_vec()).collect();
    assert_eq!(
        ids,
        [
            vec!["f0", "f1", "f3"],
            vec!["f4", "f6", "f7"],
            vec!["f8", "f9"]
        ]
    );
    for b in &batches {
        assert_aligned(b);
    }
    assert_eq!(report.items, 8);
    assert_eq!(report.failed, 0);
    let dropped: Vec<(u64, &str, Option<&Path>)> = report
        .item_failures
        .iter()
        .map(|f| (f.batch, f.id.as_str(), f.path.as_deref()))
        .collect();
    assert_eq!(
        dropped,
        [
            (0, "f2", Some(bad_paths[0].as_path())),
            (1, "f5", Some(bad_paths[1].as_path()))
        ]
    );
    assert!(
        report.item_failures[0].error.contains("cannot decode"),
        "{:?}",
        report.item_failures
    );
    assert!(
        report.item_failures[1].error.contains("cannot read"),
        "{:?}",
        report.item_failures
    );
}

#[test]
fn rebatch_after_a_dropping_load_gives_full_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (files, source) = dataset_with_bad(dir.path(), &[1, 2, 6]);
    let batches = with_watchdog(LIMIT, move || {
        let p = batchline::Dataset::new(files, source)
            .p()
            .load_with(LoadOptions::new().drop_bad_items())
            .to_tensor_u8(Layout::Nchw);
        p.gen_batch(&RunSpec::new(3).prefetch(1))
            .unwrap()
            .rebatch(3)
            .map(|b| b.unwrap())
            .collect::<Vec<_>>()
    });
    let ids: Vec<Vec<String>> = batches.iter().map(|b| b.ids().to_vec()).collect();
    assert_eq!(
        ids,
        [vec!["f0", "f3", "f4"], vec!["f5", "f7", "f8"], vec!["f9"]]
    );
    for b in &batches {
        assert_aligned(b);
    }
}

#[test]
fn max_failures_counts_dropped_items_and_a_batch_of_bad_items_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (files, source) = dataset_with_bad(dir.path(), &[0, 1, 7]);
    let (ok, too_many) = with_watchdog(LIMIT, move || {
        let p = batchline::Dataset::new(files, source)
            .p()
            .load_with(LoadOptions::new().drop_bad_items())
            .to_tensor_u8(Layout::Nchw);
        // Batches of 2: the first loses both items and is skipped; the fourth loses one.
        let ok = p.run(&RunSpec::new(2).max_failures(3u64));
        let too_many = p.run(&RunSpec::new(2).max_failures(2u64));
        (ok, too_many)
    });
    let ok = ok.unwrap();
    assert_eq!((ok.items, ok.batches, ok.skipped), (7, 4, 1));
    assert_eq!(ok.item_failures.len(), 3);
    let err = too_many.unwrap_err().error;
    assert!(
        matches!(
            err,
            PipelineError::TooManyDroppedItems {
                items: 3,
                allowed: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn fail_batch_is_the_default_and_names_the_item() {
    let dir = tempfile::tempdir().unwrap();
    let (files, source) = dataset_with_bad(dir.path(), &[2]);
    let (report, err) = with_watchdog(LIMIT, move || {
        let p = batchline::Dataset::new(files, source).p().load();
        let mut iter = p.gen_batch(&RunSpec::new(4)).unwrap();
        let first = iter.next().unwrap();
        (iter.report(), first.unwrap_err())
    });
    let text = err.to_string();
    assert!(
        text.contains("item 2 (f2)") && text.contains("f2.png"),
        "{text}"
    );
    assert!(report.item_failures.is_empty());
    assert_eq!(report.failed, 1);
}

#[test]
fn split_off_and_merge_are_inverse() {
    let dir = tempfile::tempdir().unwrap();
    let (files, source) = dataset_with_bad(dir.path(), &[]);
    let batch = with_watchdog(LIMIT, move || {
        let mut p = batchline::Dataset::new(files, source).p().load().to_tensor(
            Layout::Nchw,
            vec![],
            vec![],
        );
        p.next_batch(&RunSpec::new(5)).unwrap().unwrap()
    });
    let whole_tensor = batch.tensor.clone();
    let whole_ids = batch.ids().to_vec();
    let mut head = batch;
    let tail = head.split_off(2).unwrap();
    assert_eq!(head.ids(), &whole_ids[..2]);
    assert_eq!(tail.ids(), &whole_ids[2..]);
    assert_eq!(tail.labels, Some(vec![2, 3, 4]));
    assert_eq!(tail.masks.as_ref().unwrap().len(), 3);
    assert_eq!(tail.images[0].as_bytes()[0], 20);
    let Some(Tensor::F32(t)) = &tail.tensor else {
        panic!()
    };
    assert_eq!(t.shape(), [3, 3, 4, 6]);
    assert!((t[[0, 0, 0, 0]] - 20.0 / 255.0).abs() < 1e-6);
    assert!(head.split_off(3).is_err());
    head.merge(tail).unwrap();
    assert_eq!(head.ids(), whole_ids);
    assert_eq!(head.tensor, whole_tensor);
    assert_eq!(head.labels, Some(vec![0, 1, 2, 3, 4]));
    // Batches that do not fit together say why.
    let mut a = head.split_off(0).unwrap();
    let mut b = a.split_off(1).unwrap();
    b.tensor = None;
    let err = a.merge(b).unwrap_err();
    assert!(err.to_string().contains("tensor"), "{err}");
}

/// With the `turbojpeg` feature, libjpeg-turbo decodes: its pixels are those of zune-jpeg (the
/// `image` crate's decoder) up to the rounding of their inverse DCTs and upsampling.
#[cfg(feature = "turbojpeg")]
#[test]
fn libjpeg_turbo_decodes_to_the_pixels_of_zune_jpeg_within_rounding() {
    let dir = tempfile::tempdir().unwrap();
    let good = jpeg_bytes(120, 80, 3);
    let path = dir.path().join("good.jpg");
    std::fs::write(&path, &good).unwrap();
    let turbo = load_one(&path, LoadOptions::new()).unwrap().images[0].to_rgb8();
    let zune = image::load_from_memory(&good).unwrap().to_rgb8();
    assert_eq!(turbo.dimensions(), zune.dimensions());
    let diffs: Vec<i32> = turbo
        .as_raw()
        .iter()
        .zip(zune.as_raw())
        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
        .collect();
    let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
    assert!(mean < 1.5, "mean difference {mean}");
    assert!(
        diffs.iter().all(|&d| d <= 12),
        "max {:?}",
        diffs.iter().max()
    );
    assert_ne!(turbo.as_raw(), zune.as_raw(), "the same decoder ran twice");
}

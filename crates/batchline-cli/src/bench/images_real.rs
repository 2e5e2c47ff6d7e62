//! The image suites of issue 14, on ImageNet-sized JPEGs (500 × 375, quality 90, photo-like
//! content made here): `jpeg` (load → random_resized_crop 224 → flip → normalise → f32 NCHW,
//! batches of 32, at every k), `recipe` (the ImageNet val recipe: resize 256 → center crop
//! 224 → normalise) and `dropping` (a batch of 32 with one bad file, dropped, against the 31
//! good images alone). The baseline of `jpeg` and `recipe` is the decoder alone (parallel, on
//! the same files); that of `dropping` is the pipeline on the 31 good files.

use std::hint::black_box;
use std::path::PathBuf;

use anyhow::Context as _;
use batchline::images::{
    decode_files, write_synthetic_jpegs, Colour, Filter, Flip, ImagesBatch, ImagesBatchActions,
    ImagesSource, ImagesTransforms, Layout, LoadOptions,
};
use batchline::{FilesIndex, Pipeline, RunSpec};

use super::args::Settings;
use super::harness::Row;
use super::harness::{measure, Kind, Variant};
use super::suite::Suite;

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// `n` JPEGs in a temporary folder, with their index.
fn jpegs(n: usize) -> anyhow::Result<(tempfile::TempDir, Vec<PathBuf>, FilesIndex)> {
    let dir = tempfile::tempdir().context("cannot make a temporary folder for the images")?;
    let paths = write_synthetic_jpegs(dir.path(), n, 500, 375, 90)?;
    let files = FilesIndex::find(dir.path(), &["jpg"])?;
    anyhow::ensure!(files.len() == n, "found {} of the {n} images", files.len());
    Ok((dir, paths, files))
}

/// The decoder alone, then the pipeline at every k of the settings.
fn with_decoder<'a>(
    settings: &Settings,
    paths: &'a [PathBuf],
    pipeline: &'a Pipeline<ImagesBatch>,
) -> Vec<Variant<'a>> {
    let mut variants = vec![Variant::new(
        Kind::Baseline,
        "decoder alone",
        None,
        move || {
            black_box(decode_files(paths)?);
            Ok(())
        },
    )];
    for &k in &settings.k {
        variants.push(Variant::new(
            Kind::Batchline,
            format!("batchline k={k}"),
            Some(k),
            move || {
                pipeline.run(&RunSpec::new(32).seed(1).prefetch(k))?;
                Ok(())
            },
        ));
    }
    variants
}

/// `jpeg`: the training pipeline of the issue on 512 JPEGs (64 with `--quick`).
pub(super) fn jpeg(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let n = if settings.quick { 64 } else { 512 };
    let (dir, paths, files) = jpegs(n)?;
    let pipeline = ImagesSource::files_dataset(files)
        .p()
        .load()
        .random_resized_crop(224, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0), Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec());
    let rows = measure(
        Suite::Jpeg,
        "images",
        n,
        settings.rounds,
        with_decoder(settings, &paths, &pipeline),
    )?;
    dir.close().context("cannot remove the temporary images")?;
    Ok(rows)
}

/// `recipe`: the ImageNet val recipe on the same kind of JPEGs.
pub(super) fn recipe(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let n = if settings.quick { 64 } else { 512 };
    let (dir, paths, files) = jpegs(n)?;
    let pipeline = ImagesSource::files_dataset(files)
        .p()
        .load()
        .convert(Colour::Rgb)
        .resize_shorter(256, Filter::Bilinear)
        .center_crop(224, 224)
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec());
    let rows = measure(
        Suite::Recipe,
        "images",
        n,
        settings.rounds,
        with_decoder(settings, &paths, &pipeline),
    )?;
    dir.close().context("cannot remove the temporary images")?;
    Ok(rows)
}

/// `dropping`: 8 batches of 32 JPEGs with one truncated file each, loaded with
/// `drop_bad_items`, against the same pipeline on the 31 good files of each batch.
pub(super) fn dropping(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let batches = if settings.quick { 2 } else { 8 };
    let n = 32 * batches;
    let (dir, paths, _) = jpegs(n)?;
    // The good ones: every file but the last of each batch of 32, in a folder of their own.
    let good_dir = dir.path().join("good");
    std::fs::create_dir(&good_dir)?;
    for (i, p) in paths.iter().enumerate() {
        if i % 32 != 31 {
            std::fs::hard_link(p, good_dir.join(p.file_name().unwrap_or_default()))?;
        }
    }
    for p in paths.iter().skip(31).step_by(32) {
        let bytes = std::fs::read(p)?;
        std::fs::write(p, &bytes[..bytes.len() / 2])?;
    }
    let all = FilesIndex::new(
        [dir.path().join("*.jpg").to_string_lossy()],
        batchline::FileIds::Name,
    )?;
    let good = FilesIndex::find(&good_dir, &["jpg"])?;
    let build = |files: FilesIndex| {
        ImagesSource::files_dataset(files)
            .p()
            .load_with(LoadOptions::new().drop_bad_items())
            .resize_shorter(256, Filter::Bilinear)
            .center_crop(224, 224)
            .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec())
    };
    let (all_p, good_p) = (build(all), build(good));
    let variants = vec![
        Variant::new(Kind::Baseline, "31 good files per batch", None, || {
            let r = good_p.run(&RunSpec::new(31))?;
            anyhow::ensure!(r.items as usize == 31 * batches && r.item_failures.is_empty());
            Ok(())
        }),
        Variant::new(Kind::Batchline, "32 with 1 bad, dropped", Some(0), || {
            let r = all_p.run(&RunSpec::new(32))?;
            anyhow::ensure!(
                r.items as usize == 31 * batches && r.item_failures.len() == batches,
                "{} items, {} dropped",
                r.items,
                r.item_failures.len()
            );
            Ok(())
        }),
    ];
    let rows = measure(
        Suite::Dropping,
        "images",
        31 * batches,
        settings.rounds,
        variants,
    )?;
    dir.close().context("cannot remove the temporary images")?;
    Ok(rows)
}

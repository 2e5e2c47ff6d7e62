//! The image suites of issue 14, on JPEGs of photo-like content made here (quality 90):
//! `jpeg` (ImageNet-sized 500 × 375: load → random_resized_crop 224 → flip → normalise → f32
//! NCHW, batches of 32, at every k; `png-train`: the same on the PNGs of `images`), `recipe` (the ImageNet val recipe: resize 256 → center
//! crop 224 → normalise), `jpeg-large` (the val recipe on 1024 × 768, where `load_fused`
//! decodes at 1/2) and `dropping` (a batch of 32 with one bad file, dropped, against the 31
//! good images alone). Each pipeline runs as a chain of actions and fused (`load_fused`). The
//! baseline of `jpeg`, `recipe` and `jpeg-large` is the decoder alone (parallel, on the same
//! files), with PyTorch's DataLoader next to it when torch is installed (`torch.rs`); that of
//! `dropping` is the pipeline on the 31 good files.

use std::cell::RefCell;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use batchline::images::{
    decode_files, write_synthetic_jpegs, write_synthetic_pngs, Colour, Filter, Flip, ImagesBatch,
    ImagesBatchActions, ImagesSource, ImagesTransforms, Layout, LoadOptions, PerImage,
};
use batchline::{FilesIndex, Pipeline, RunSpec};

use super::args::Settings;
use super::harness::Row;
use super::harness::{measure, Kind, Variant};
use super::suite::Suite;
use super::torch::Torch;

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// `n` JPEGs of `w` × `h` in a temporary folder, with their index.
fn jpegs(
    n: usize,
    w: u32,
    h: u32,
) -> anyhow::Result<(tempfile::TempDir, Vec<PathBuf>, FilesIndex)> {
    let dir = tempfile::tempdir().context("cannot make a temporary folder for the images")?;
    let paths = write_synthetic_jpegs(dir.path(), n, w, h, 90)?;
    let files = FilesIndex::find(dir.path(), &["jpg"])?;
    anyhow::ensure!(files.len() == n, "found {} of the {n} images", files.len());
    Ok((dir, paths, files))
}

/// The decoder alone (the baseline, parallel, on the same files).
pub(super) fn decoder<'a>(paths: &'a [PathBuf]) -> Variant<'a> {
    Variant::new(Kind::Baseline, "decoder alone", None, move || {
        black_box(decode_files(paths)?);
        Ok(())
    })
}

/// `pipeline` at every k of the settings, as `<name> k=<k>`.
pub(super) fn at_every_k<'a>(
    settings: &Settings,
    name: &str,
    pipeline: &'a Pipeline<ImagesBatch>,
) -> Vec<Variant<'a>> {
    settings
        .k
        .iter()
        .map(|&k| {
            Variant::new(
                Kind::Batchline,
                format!("{name} k={k}"),
                Some(k),
                move || {
                    pipeline.run(&RunSpec::new(32).seed(1).prefetch(k))?;
                    Ok(())
                },
            )
        })
        .collect()
}

/// PyTorch's loaders on the images of `dir` with `pipeline`, when the settings ask for them and
/// torch is there: the process serving them, or the note saying why there is none.
pub(super) fn start_torch(
    settings: &Settings,
    dir: &Path,
    pipeline: &str,
) -> Result<RefCell<Torch>, String> {
    if settings.torch_workers.is_empty() {
        return Err("PyTorch not measured (--no-torch)".into());
    }
    Torch::start(dir, pipeline, &settings.torch_workers)
        .map(RefCell::new)
        .map_err(|why| format!("PyTorch not measured: {why}"))
}

/// Measures `variants` (the decoder alone first) and PyTorch's loaders when there are, with a
/// note on the baseline row saying which torch ran (or why none did).
pub(super) fn measure_with_torch<'a>(
    suite: Suite,
    count: usize,
    settings: &'a Settings,
    mut variants: Vec<Variant<'a>>,
    torch: &'a Result<RefCell<Torch>, String>,
) -> anyhow::Result<Vec<Row>> {
    let note = match torch {
        Ok(t) => {
            variants.extend(super::torch::variants(t, &settings.torch_workers));
            format!(
                "PyTorch DataLoader: batches of 32, persistent workers, warm (one epoch before \
                 the first round); {}",
                t.borrow().versions
            )
        }
        Err(why) => why.clone(),
    };
    let mut rows = measure(suite, "images", count, settings.rounds, variants)?;
    rows[0].notes.push(note);
    Ok(rows)
}

fn train(p: PerImage) -> PerImage {
    p.random_resized_crop(224, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0), Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec())
}

fn val(p: PerImage) -> PerImage {
    p.convert(Colour::Rgb)
        .resize_shorter(256, Filter::Bilinear)
        .center_crop(224, 224)
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec())
}

/// `jpeg`: the training pipeline of the issue on 512 JPEGs of 500 × 375 (64 with `--quick`).
pub(super) fn jpeg(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let n = if settings.quick { 64 } else { 512 };
    let dir = tempfile::tempdir().context("cannot make a temporary folder for the images")?;
    let paths = write_synthetic_jpegs(dir.path(), n, 500, 375, 90)?;
    training(Suite::Jpeg, settings, dir, &paths, "jpg")
}

/// `png-train`: the same training pipeline on the PNGs of the `images` suite (512 of
/// 256 × 256, 64 with `--quick`).
pub(super) fn png_train(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let n = if settings.quick { 64 } else { 512 };
    let dir = tempfile::tempdir().context("cannot make a temporary folder for the images")?;
    let paths = write_synthetic_pngs(dir.path(), n, 256)?;
    training(Suite::PngTrain, settings, dir, &paths, "png")
}

/// The training pipeline (load → random_resized_crop 224 → flip → normalised f32 NCHW) on the
/// images `paths` of `dir` (all with the extension `ext`), as a chain of actions and fused
/// (`load_fused`), next to the decoder alone and PyTorch's loaders.
fn training(
    suite: Suite,
    settings: &Settings,
    dir: tempfile::TempDir,
    paths: &[PathBuf],
    ext: &str,
) -> anyhow::Result<Vec<Row>> {
    let n = paths.len();
    let files = FilesIndex::find(dir.path(), &[ext])?;
    anyhow::ensure!(files.len() == n, "found {} of the {n} images", files.len());
    let ds = ImagesSource::files_dataset(files);
    let chain = ds
        .p()
        .load()
        .random_resized_crop(224, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0), Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec());
    let fused = ds
        .p()
        .load_fused(LoadOptions::new(), train(PerImage::new()));
    let torch = start_torch(settings, dir.path(), "train");
    let mut variants = vec![decoder(paths)];
    variants.extend(at_every_k(settings, "batchline", &chain));
    variants.extend(at_every_k(settings, "batchline fused", &fused));
    let rows = measure_with_torch(suite, n, settings, variants, &torch)?;
    drop(torch);
    dir.close().context("cannot remove the temporary images")?;
    Ok(rows)
}

/// `recipe`: the ImageNet val recipe on the same kind of JPEGs, as a chain of actions and
/// fused.
pub(super) fn recipe(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let n = if settings.quick { 64 } else { 512 };
    let (dir, paths, files) = jpegs(n, 500, 375)?;
    let ds = ImagesSource::files_dataset(files);
    let chain = ds
        .p()
        .load()
        .convert(Colour::Rgb)
        .resize_shorter(256, Filter::Bilinear)
        .center_crop(224, 224)
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec());
    let fused = ds.p().load_fused(LoadOptions::new(), val(PerImage::new()));
    let torch = start_torch(settings, dir.path(), "val");
    let mut variants = vec![decoder(&paths)];
    variants.extend(at_every_k(settings, "batchline", &chain));
    variants.extend(at_every_k(settings, "batchline fused", &fused));
    let rows = measure_with_torch(Suite::Recipe, n, settings, variants, &torch)?;
    drop(torch);
    dir.close().context("cannot remove the temporary images")?;
    Ok(rows)
}

/// `jpeg-large`: the val recipe on 256 JPEGs of 1024 × 768 (32 with `--quick`), where the
/// resize to a shorter side of 256 lets `load_fused` decode at 1/2: fused with DCT scaling
/// (the default) and without (decoded in full), next to the decoder alone (in full).
pub(super) fn jpeg_large(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let n = if settings.quick { 32 } else { 256 };
    let (dir, paths, files) = jpegs(n, 1024, 768)?;
    let ds = ImagesSource::files_dataset(files);
    let full = ds
        .p()
        .load_fused(LoadOptions::new().dct_scaling(false), val(PerImage::new()));
    let scaled = ds.p().load_fused(LoadOptions::new(), val(PerImage::new()));
    let torch = start_torch(settings, dir.path(), "val");
    let mut variants = vec![decoder(&paths)];
    variants.extend(at_every_k(
        settings,
        "batchline fused, decoded in full",
        &full,
    ));
    variants.extend(at_every_k(settings, "batchline fused, DCT-scaled", &scaled));
    let rows = measure_with_torch(Suite::JpegLarge, n, settings, variants, &torch)?;
    drop(torch);
    dir.close().context("cannot remove the temporary images")?;
    Ok(rows)
}

/// `dropping`: 8 batches of 32 JPEGs with one truncated file each, loaded with
/// `drop_bad_items`, against the same pipeline on the 31 good files of each batch.
pub(super) fn dropping(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let batches = if settings.quick { 2 } else { 8 };
    let n = 32 * batches;
    let (dir, paths, _) = jpegs(n, 500, 375)?;
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
    let build_fused = |files: FilesIndex| {
        let steps = PerImage::new()
            .resize_shorter(256, Filter::Bilinear)
            .center_crop(224, 224)
            .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec());
        ImagesSource::files_dataset(files)
            .p()
            .load_fused(LoadOptions::new().drop_bad_items(), steps)
    };
    let (all_p, good_p) = (build(all.clone()), build(good.clone()));
    let (all_f, good_f) = (build_fused(all), build_fused(good));
    let good_round = |p: &Pipeline<ImagesBatch>| {
        let r = p.run(&RunSpec::new(31))?;
        anyhow::ensure!(r.items as usize == 31 * batches && r.item_failures.is_empty());
        Ok(())
    };
    let bad_round = |p: &Pipeline<ImagesBatch>| {
        let r = p.run(&RunSpec::new(32))?;
        anyhow::ensure!(
            r.items as usize == 31 * batches && r.item_failures.len() == batches,
            "{} items, {} dropped",
            r.items,
            r.item_failures.len()
        );
        Ok(())
    };
    let variants = vec![
        Variant::new(Kind::Baseline, "31 good files per batch", None, || {
            good_round(&good_p)
        }),
        Variant::new(Kind::Batchline, "32 with 1 bad, dropped", Some(0), || {
            bad_round(&all_p)
        }),
        Variant::new(Kind::Batchline, "fused, 31 good files", Some(0), || {
            good_round(&good_f)
        }),
        Variant::new(Kind::Batchline, "fused, 32 with 1 bad", Some(0), || {
            bad_round(&all_f)
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

//! The images suite (the library's image pipeline; needs the `image` feature).

use super::{Row, Settings};

/// 512 PNG images of 256×256 (64 with `--quick`), made in a temporary folder: load, resize to
/// 128×128, random horizontal flip, f32 tensor, batches of 32; the decoder alone (parallel, on
/// the same files) is the baseline.
#[cfg(feature = "image")]
pub(crate) fn images(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    use std::path::PathBuf;

    use anyhow::Context as _;
    use batchline::images::{
        write_synthetic_pngs, Filter, Flip, ImagesBatchActions, ImagesSource, Layout, LoadOptions,
        PerImage,
    };
    use batchline::RunSpec;
    use batchline::{FileIds, FilesIndex};

    use super::harness::{Kind, Variant};
    use super::images_real::{at_every_k, decoder, measure_with_torch, start_torch};
    use super::suite::Suite;

    let n = if settings.quick { 64 } else { 512 };
    let dir = tempfile::tempdir().context("cannot make a temporary folder for the images")?;
    let paths: Vec<PathBuf> = write_synthetic_pngs(dir.path(), n, 256)?;
    let files = FilesIndex::new([dir.path().join("*.png").to_string_lossy()], FileIds::Stem)?;
    anyhow::ensure!(files.len() == n, "found {} of the {n} images", files.len());
    let ds = ImagesSource::files_dataset(files);
    let pipeline = ds
        .p()
        .load()
        .resize(128, 128, Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .to_tensor(Layout::Nchw, vec![], vec![]);
    let fused = ds.p().load_fused(
        LoadOptions::new(),
        PerImage::new()
            .resize(128, 128, Filter::Bilinear)
            .random_flip(Flip::Horizontal, 0.5)
            .to_tensor(Layout::Nchw, vec![], vec![]),
    );
    let torch = start_torch(settings, dir.path(), "png");
    let mut variants = vec![decoder(&paths)];
    variants.extend(at_every_k(settings, "batchline", &pipeline));
    if let Some(budget) = settings.auto {
        let pipeline = &pipeline;
        variants.push(Variant::new(
            Kind::Batchline,
            "batchline auto",
            None,
            move || {
                pipeline.run(&RunSpec::new(32).seed(1).prefetch_auto(budget))?;
                Ok(())
            },
        ));
    }
    variants.extend(at_every_k(settings, "batchline fused", &fused));
    let rows = measure_with_torch(Suite::Images, n, settings, variants, &torch)?;
    drop(torch);
    dir.close().context("cannot remove the temporary images")?;
    Ok(rows)
}

#[cfg(not(feature = "image"))]
pub(crate) fn images(_: &Settings) -> anyhow::Result<Vec<Row>> {
    anyhow::bail!("the images suite needs the `image` feature of batchline-cli")
}

//! The images suite (the library's image pipeline; needs the `image` feature).

use super::{Row, Settings};

/// 512 PNG images of 256×256 (64 with `--quick`), made in a temporary folder: load, resize to
/// 128×128, random horizontal flip, f32 tensor, batches of 32; the decoder alone (parallel, on
/// the same files) is the baseline.
#[cfg(feature = "image")]
pub(crate) fn images(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    use std::hint::black_box;
    use std::path::PathBuf;

    use anyhow::Context as _;
    use batchline::images::{
        decode_files, write_synthetic_pngs, Filter, Flip, ImagesBatchActions, ImagesSource, Layout,
    };
    use batchline::RunSpec;
    use batchline::{FileIds, FilesIndex};

    use super::harness::{measure, Kind, Variant};
    use super::suite::Suite;

    let n = if settings.quick { 64 } else { 512 };
    let dir = tempfile::tempdir().context("cannot make a temporary folder for the images")?;
    let paths: Vec<PathBuf> = write_synthetic_pngs(dir.path(), n, 256)?;
    let files = FilesIndex::new([dir.path().join("*.png").to_string_lossy()], FileIds::Stem)?;
    anyhow::ensure!(files.len() == n, "found {} of the {n} images", files.len());
    let pipeline = ImagesSource::files_dataset(files)
        .p()
        .load()
        .resize(128, 128, Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .to_tensor(Layout::Nchw, vec![], vec![]);
    let mut variants = vec![Variant::new(Kind::Baseline, "decoder alone", None, || {
        black_box(decode_files(&paths)?);
        Ok(())
    })];
    for &k in &settings.k {
        let pipeline = &pipeline;
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
    let rows = measure(Suite::Images, "images", n, settings.rounds, variants)?;
    dir.close().context("cannot remove the temporary images")?;
    Ok(rows)
}

#[cfg(not(feature = "image"))]
pub(crate) fn images(_: &Settings) -> anyhow::Result<Vec<Row>> {
    anyhow::bail!("the images suite needs the `image` feature of batchline-cli")
}

//! Images: make a few hundred PNG files of our own, then FilesIndex → load → resize → random
//! flip and rotation → an f32 tensor, with prefetch; print images/s and the first tensor's
//! shape.
//!
//! ```sh
//! cargo run --release --example images             # the demo
//! cargo run --release --example images -- --keep   # also writes contact_sheet.png here
//! cargo run --release --example images -- --bench  # the benchmark of issue 5 (512 images)
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use batchline::images::{
    decode_files, write_synthetic_pngs, Filter, Flip, ImagesBatch, ImagesBatchActions,
    ImagesSource, Layout, Tensor,
};
use batchline::{Batch, Dataset, RunSpec};
use batchline::{FileIds, FilesIndex};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn dataset(dir: &Path) -> Result<Dataset<ImagesBatch>, Error> {
    let files = FilesIndex::new([dir.join("*.png").to_string_lossy()], FileIds::Stem)?;
    Ok(ImagesSource::files_dataset(files))
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--bench") {
        return bench();
    }
    let keep = args.iter().any(|a| a == "--keep");

    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    write_synthetic_pngs(dir.path(), 300, 160)?;
    println!("made 300 images of 160×160 in {:.2?}", t.elapsed());

    let pipeline = dataset(dir.path())?
        .p()
        .load()
        .resize(128, 128, Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .random_rotate(-20.0, 20.0)
        .to_tensor(
            Layout::Nchw,
            vec![0.485, 0.456, 0.406],
            vec![0.229, 0.224, 0.225],
        );
    let spec = RunSpec::new(32).shuffle(7).prefetch(3).profile(true);
    let start = Instant::now();
    let mut images = 0;
    let mut sheet = Vec::new();
    let mut iter = pipeline.gen_batch(&spec)?;
    for (n, batch) in iter.by_ref().enumerate() {
        let batch = batch?;
        if n == 0 {
            let shape = batch.tensor.as_ref().map(Tensor::shape).unwrap_or_default();
            println!(
                "first batch: {} images, tensor shape {shape:?}",
                batch.len()
            );
            sheet = batch.images.clone();
        }
        images += batch.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{images} images in {secs:.2} s: {:.0} images/s (prefetch 3)",
        images as f64 / secs
    );
    if let Some(profile) = iter.profile() {
        println!("\n{profile}");
    }
    if keep {
        let path = Path::new("contact_sheet.png");
        contact_sheet(&sheet, 8).save(path)?;
        println!("wrote {} (the first batch, augmented)", path.display());
    }
    Ok(())
}

/// The images side by side, `per_row` to a row.
fn contact_sheet(images: &[image::DynamicImage], per_row: usize) -> image::RgbImage {
    let (w, h) = images.first().map_or((1, 1), |i| (i.width(), i.height()));
    let rows = images.len().div_ceil(per_row).max(1) as u32;
    let mut sheet = image::RgbImage::new(w * per_row as u32, h * rows);
    for (i, img) in images.iter().enumerate() {
        let (x, y) = ((i % per_row) as u32 * w, (i / per_row) as u32 * h);
        image::imageops::replace(&mut sheet, &img.to_rgb8(), x.into(), y.into());
    }
    sheet
}

/// The figures of issue 5: 512 PNG images of 256×256 → load, resize to 128×128, random
/// horizontal flip (p = 0.5), f32 tensor; batch size 32; prefetch 0 and 3. Next to them, in
/// the same run, the decoder alone on the same files (the limit).
fn bench() -> Result<(), Error> {
    const N: usize = 512;
    const ROUNDS: usize = 5;
    let dir = tempfile::tempdir()?;
    let paths = write_synthetic_pngs(dir.path(), N, 256)?;
    let bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()))
        .sum::<Result<_, _>>()?;
    println!(
        "{N} PNG images of 256×256, {:.0} KB each on average; {} threads in the item pool",
        bytes as f64 / N as f64 / 1024.0,
        rayon::current_num_threads()
    );
    let best = |f: &mut dyn FnMut() -> Result<(), Error>| -> Result<Duration, Error> {
        let mut best = Duration::MAX;
        for _ in 0..ROUNDS {
            let t = Instant::now();
            f()?;
            best = best.min(t.elapsed());
        }
        Ok(best)
    };
    let rate = |d: Duration| N as f64 / d.as_secs_f64();

    let decode = best(&mut || {
        decode_files(&paths)?;
        Ok(())
    })?;
    println!("decoder alone (parallel): {:>6.0} images/s", rate(decode));

    let pipeline = dataset(dir.path())?
        .p()
        .load()
        .resize(128, 128, Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .to_tensor(Layout::Nchw, vec![], vec![]);
    for k in [0, 3] {
        let spec = RunSpec::new(32).seed(1).prefetch(k);
        let took = best(&mut || {
            pipeline.run(&spec)?;
            Ok(())
        })?;
        let profile = pipeline
            .run(&spec.clone().profile(true))?
            .profile
            .expect("profile(true)");
        let work: f64 = profile.actions.iter().map(|a| a.total.as_secs_f64()).sum();
        let shares: Vec<String> = profile
            .actions
            .iter()
            .map(|a| format!("{} {:.0}%", a.name, 100.0 * a.total.as_secs_f64() / work))
            .collect();
        println!(
            "pipeline, prefetch {k}:      {:>6.0} images/s ({:.2}× the decoder alone); time per action: {}",
            rate(took),
            decode.as_secs_f64() / took.as_secs_f64(),
            shares.join(", ")
        );
    }
    Ok(())
}

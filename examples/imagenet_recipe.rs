//! torchvision's ImageNet reference recipe (`references/classification/presets.py`) with
//! batchline, on class folders of JPEGs made here (or on your own `root/{train,val}/<class>/`):
//!
//! * train: RandomResizedCrop 224 → RandomHorizontalFlip → TrivialAugmentWide → Normalize →
//!   RandomErasing (p = 0.5)
//! * val: Resize 256 (shorter side) → CenterCrop 224 → Normalize
//!
//! ```sh
//! cargo run --release --example imagenet_recipe                 # on 2 × 60 JPEGs of its own
//! cargo run --release --example imagenet_recipe -- /data/imagenet  # root/train, root/val
//! ```

use std::path::Path;
use std::time::Instant;

use batchline::images::{
    write_synthetic_jpegs, Colour, Filter, Flip, ImagesBatchActions, ImagesSource,
    ImagesTransforms, Layout, LoadOptions,
};
use batchline::{Batch, RunSpec};

type Error = Box<dyn std::error::Error + Send + Sync>;

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

fn main() -> Result<(), Error> {
    let made = tempfile::tempdir()?;
    let root = match std::env::args().nth(1) {
        Some(root) => root.into(),
        None => {
            make_folders(made.path())?;
            made.path().to_path_buf()
        }
    };

    // The recipe: 8 lines for train, 5 for val.
    let train = ImagesSource::image_folder(root.join("train"))?;
    let val = ImagesSource::image_folder(root.join("val"))?;
    let train_pipeline = train
        .dataset
        .p()
        .load_with(LoadOptions::new().drop_bad_items()) // a bad file costs one image
        .convert(Colour::Rgb)
        .random_resized_crop(224, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0), Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .trivial_augment_wide()
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec())
        .random_erasing(0.5, (0.02, 0.33), (0.3, 3.3), 0.0);
    let val_pipeline = val
        .dataset
        .p()
        .load()
        .convert(Colour::Rgb)
        .resize_shorter(256, Filter::Bilinear)
        .center_crop(224, 224)
        .to_tensor(Layout::Nchw, MEAN.to_vec(), STD.to_vec());

    println!(
        "{} classes {:?}; {} train images, {} val images",
        train.classes.len(),
        train.classes,
        train.files.len(),
        val.files.len()
    );
    for epoch in 0..2u64 {
        let start = Instant::now();
        let spec = RunSpec::new(32).shuffle(epoch).prefetch(1);
        let mut iter = train_pipeline.gen_batch(&spec)?.rebatch(32);
        let mut n = 0;
        for batch in iter.by_ref() {
            let batch = batch?;
            let shape = batch.tensor.as_ref().map(|t| t.shape().to_vec());
            if n == 0 {
                println!(
                    "epoch {epoch}: first batch {shape:?}, labels {:?}",
                    batch.labels
                );
            }
            n += batch.len();
        }
        println!(
            "epoch {epoch}: {n} train images in {:.2?} ({:.0} images/s), {} bad files dropped",
            start.elapsed(),
            n as f64 / start.elapsed().as_secs_f64(),
            iter.get_ref().report().item_failures.len()
        );
    }
    let start = Instant::now();
    let report = val_pipeline.run(&RunSpec::new(32).prefetch(1))?;
    println!("val: {} images in {:.2?}", report.items, start.elapsed());
    Ok(())
}

/// `root/{train,val}/{cat,dog}/` with 30 ImageNet-sized photo-like JPEGs each.
fn make_folders(root: &Path) -> Result<(), Error> {
    for split in ["train", "val"] {
        for class in ["cat", "dog"] {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir)?;
            write_synthetic_jpegs(&dir, 30, 500, 375, 90)?;
        }
    }
    Ok(())
}

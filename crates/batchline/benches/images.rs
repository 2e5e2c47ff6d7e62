//! The images pipeline of issue 5 next to its limit, the decoder alone on the same files:
//! 512 PNG images of 256×256 (made here) → load, resize to 128×128, random horizontal flip
//! (p = 0.5), f32 tensor; batch size 32; prefetch 0 and 3.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use batchline::images::{
    decode_files, write_synthetic_pngs, Filter, Flip, ImagesBatchActions, ImagesSource, Layout,
};
use batchline::RunSpec;
use batchline::{FileIds, FilesIndex};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const N: usize = 512;

fn images(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let paths = write_synthetic_pngs(dir.path(), N, 256).expect("the images are written");
    let files = FilesIndex::new([dir.path().join("*.png").to_string_lossy()], FileIds::Stem)
        .expect("the files are found");
    let pipeline = ImagesSource::files_dataset(files)
        .p()
        .load()
        .resize(128, 128, Filter::Bilinear)
        .random_flip(Flip::Horizontal, 0.5)
        .to_tensor(Layout::Nchw, vec![], vec![]);

    let mut group = c.benchmark_group("images_512_png_256_to_128");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    group.bench_function("decoder_alone", |b| {
        b.iter(|| decode_files(&paths).expect("the files decode"))
    });
    for k in [0usize, 3] {
        group.bench_function(format!("pipeline_k{k}"), |b| {
            b.iter(|| {
                pipeline
                    .run(&RunSpec::new(32).seed(1).prefetch(k))
                    .expect("the run succeeds")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, images);
criterion_main!(benches);

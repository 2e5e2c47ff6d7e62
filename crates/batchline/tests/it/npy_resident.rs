//! `NpyOptions::max_resident`: the pages of a mapped `.npy` file resident in the process stay
//! near the limit through a whole epoch, the rows read are the file's, and without a limit
//! the whole file ends up resident (what the limit is for).

#![cfg(target_os = "linux")]

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{FixedSizeListArray, Float32Array, Int64Array};
use arrow_schema::{DataType, Field};
use batchline::table::{NpyOptions, NpyWriter, TableBatch, TableBatchActions, TableSource};
use batchline::{Batch, Dataset, DatasetIndex, RunSpec};

const ROWS: usize = 262_144;
const WIDTH: usize = 32; // 128 bytes a row: 32 MiB of x

/// The resident size (kB) of this process's map of `path`, from `/proc/self/smaps`.
fn mapped_rss_kb(path: &Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let name = path.to_str().unwrap();
    let mut total = 0;
    let mut inside = false;
    for line in smaps.lines() {
        if let Some(first) = line.split_whitespace().next() {
            if first.contains('-') && !first.ends_with(':') {
                inside = line.ends_with(name);
                continue;
            }
        }
        if inside {
            if let Some(kb) = line.strip_prefix("Rss:") {
                total += kb
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap();
            }
        }
    }
    total
}

fn write_files(dir: &Path) {
    let values = Float32Array::from_iter_values((0..ROWS * WIDTH).map(|v| v as f32));
    let item = std::sync::Arc::new(Field::new_list_field(DataType::Float32, false));
    let x =
        FixedSizeListArray::try_new(item, WIDTH as i32, std::sync::Arc::new(values), None).unwrap();
    let mut w =
        NpyWriter::create(dir.join("x.npy"), &DataType::Float32, Some(WIDTH), ROWS).unwrap();
    w.append(&x).unwrap();
    w.finish().unwrap();
    let mut w = NpyWriter::create(dir.join("y.npy"), &DataType::Int64, None, ROWS).unwrap();
    w.append(&Int64Array::from_iter_values(0..ROWS as i64))
        .unwrap();
    w.finish().unwrap();
}

/// One block-shuffled epoch at k = 3: the peak resident size of x's map (kB), checking every
/// row's values on the way.
fn epoch(dir: &Path, options: &NpyOptions) -> u64 {
    let (x, y) = (dir.join("x.npy"), dir.join("y.npy"));
    let source = TableSource::npy_with(
        [("x", x.to_str().unwrap()), ("y", y.to_str().unwrap())],
        options,
    )
    .unwrap();
    let ds: Dataset<TableBatch> =
        Dataset::new(DatasetIndex::from_count(ROWS), source.block_shuffled(5, 2));
    let mut peak = 0;
    let mut seen = vec![false; ROWS];
    for b in ds
        .p()
        .load()
        .gen_batch(&RunSpec::new(4096).prefetch(3))
        .unwrap()
    {
        let b = b.unwrap();
        let rows = b.table().unwrap();
        let labels = rows.column(1).as_primitive::<Int64Type>();
        let xs = rows.column(0).as_fixed_size_list();
        let values = xs.values().as_primitive::<Float32Type>().values();
        for (i, &row) in labels.values().iter().enumerate() {
            let row = row as usize;
            assert!(!seen[row], "row {row} twice");
            seen[row] = true;
            assert_eq!(values[i * WIDTH], (row * WIDTH) as f32, "x of row {row}");
            assert_eq!(
                values[i * WIDTH + WIDTH - 1],
                (row * WIDTH + WIDTH - 1) as f32
            );
        }
        assert_eq!(b.len(), labels.len());
        peak = peak.max(mapped_rss_kb(&x));
    }
    assert!(seen.iter().all(|&s| s), "every row once");
    peak
}

#[test]
fn a_resident_limit_bounds_the_mapped_pages_through_an_epoch() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    // The window of the view is 2 blocks of 65 536 rows (8 MiB each of x): 16 MiB of x, and
    // the limit (shared with y's map) is 24 MiB.
    let limited = epoch(dir.path(), &NpyOptions::new().max_resident(24 << 20));
    assert!(
        limited <= 28 << 10,
        "x's map had {limited} kB resident, limit 24 MiB"
    );
    // Without a limit the epoch leaves the whole file (32 MiB) resident.
    let unlimited = epoch(dir.path(), &NpyOptions::new());
    assert!(
        unlimited >= 30 << 10,
        "x's map had only {unlimited} kB resident"
    );
}

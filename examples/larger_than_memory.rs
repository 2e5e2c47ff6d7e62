//! A shuffled epoch over tables that need not fit in memory: the program writes a `.npy` pair
//! (32 f32 features, an i64 label) and a Parquet file of the same rows, chunk by chunk, in a
//! temporary folder, then reads them in shuffled batches of 256 and prints the rows per second
//! and each epoch's peak memory above that epoch's start (VmHWM, reset before each epoch through
//! `/proc/self/clear_refs`; Linux).
//!
//! ```sh
//! cargo run --release --example larger_than_memory            # 1 GB of each format
//! cargo run --release --example larger_than_memory -- --gb 40 # more than this machine's RAM
//! ```
//!
//! The `.npy` rows are copied on demand out of a memory map of the files: first in a full
//! shuffle (the mapped pages touched count in VmHWM, as page cache the kernel can drop: the
//! whole file by the end), then in block-shuffled order with `NpyOptions::max_resident`
//! (256 MB of mapped pages at most). The Parquet rows are read by row group through a cache of
//! 8 row groups, in block-shuffled order (a new order each epoch) so that each row group is
//! decoded about once.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field};
use batchline::table::{
    NpyOptions, NpyWriter, ParquetOptions, ParquetWriter, TableBatch, TableBatchActions,
    TableSource,
};
use batchline::{Batch, Dataset, DatasetIndex, RunSpec};

const CHUNK: usize = 65_536;

/// Peak resident memory of this process, in MB (0 where /proc is missing).
fn vm_hwm_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets this process's peak resident memory to its current resident memory (Linux; nothing
/// elsewhere), and returns that, in MB.
fn reset_peak_mb() -> f64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    vm_hwm_mb()
}

/// Rows `start..start + n`: x[i][j] = (i * 31 + j) % 1000 / 1000, label = i % 10.
fn chunk(start: usize, n: usize) -> (Vec<f32>, Vec<i64>) {
    let x = (start..start + n)
        .flat_map(|i| (0..32).map(move |j| ((i * 31 + j) % 1000) as f32 / 1000.0))
        .collect();
    (x, (start..start + n).map(|i| (i % 10) as i64).collect())
}

fn epoch(
    name: &str,
    ids_are_rows: bool,
    dataset: &Dataset<TableBatch>,
    spec: &RunSpec,
) -> Result<(), Box<dyn std::error::Error>> {
    let base = reset_peak_mb();
    let start = Instant::now();
    let (mut rows, mut checksum) = (0_usize, 0.0_f64);
    for batch in dataset.p().load().gen_batch(spec)? {
        let batch = batch?;
        let labels = batch.labels("label")?;
        let x = batch.matrix(&["x"])?;
        for (r, &id) in batch.ids().iter().enumerate() {
            if ids_are_rows && labels[r] != (id % 10) as i64 {
                return Err(format!("row {id} has label {}", labels[r]).into());
            }
        }
        rows += labels.len();
        checksum += f64::from(x[[0, 0]]);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: {rows} rows in {secs:.1} s = {:.0} rows/s; peak memory {:.0} MB above the epoch's start (checksum {checksum:.1})",
        rows as f64 / secs,
        vm_hwm_mb() - base
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gb: f64 = match std::env::args().skip_while(|a| a != "--gb").nth(1) {
        Some(v) => v.parse()?,
        None => 1.0,
    };
    let rows = (gb * 1e9 / (32.0 * 4.0 + 8.0)) as usize;
    let dir = tempfile::tempdir()?;
    let base = vm_hwm_mb();
    println!(
        "writing {rows} rows ({gb} GB) as .npy and as Parquet in {}",
        dir.path().display()
    );
    let (x_path, y_path, pq_path) = (
        dir.path().join("x.npy"),
        dir.path().join("y.npy"),
        dir.path().join("t.parquet"),
    );
    let mut x_out = NpyWriter::create(&x_path, &DataType::Float32, Some(32), rows)?;
    let mut y_out = NpyWriter::create(&y_path, &DataType::Int64, None, rows)?;
    let mut pq_out: Option<ParquetWriter> = None;
    for start in (0..rows).step_by(CHUNK) {
        let n = CHUNK.min(rows - start);
        let (x, y) = chunk(start, n);
        let item = Arc::new(Field::new_list_field(DataType::Float32, false));
        let x = FixedSizeListArray::new(item, 32, Arc::new(Float32Array::from(x)), None);
        let y = Int64Array::from(y);
        x_out.append(&x)?;
        y_out.append(&y)?;
        let table = RecordBatch::try_from_iter([
            ("x", Arc::new(x) as ArrayRef),
            ("label", Arc::new(y) as ArrayRef),
        ])?;
        let writer = match &mut pq_out {
            Some(w) => w,
            None => pq_out.insert(ParquetWriter::create(&pq_path, table.schema(), CHUNK)?),
        };
        writer.append(&table)?;
    }
    x_out.finish()?;
    y_out.finish()?;
    pq_out.map(ParquetWriter::finish).transpose()?;
    println!(
        "written; peak memory {:.0} MB above the start",
        vm_hwm_mb() - base
    );

    let spec = RunSpec::new(256).prefetch(3);
    let npy = TableSource::npy([
        ("x", x_path.to_str().unwrap()),
        ("label", y_path.to_str().unwrap()),
    ])?;
    let dataset: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(rows), npy);
    epoch(
        ".npy, full shuffle",
        true,
        &dataset,
        &spec.clone().shuffle(1),
    )?;
    drop(dataset); // unmaps the .npy files

    // At most 256 MB of the files mapped; a window of 4 blocks of 65 536 rows (34 MB) fits.
    let npy = TableSource::npy_with(
        [
            ("x", x_path.to_str().unwrap()),
            ("label", y_path.to_str().unwrap()),
        ],
        &NpyOptions::new().max_resident(256 << 20),
    )?;
    let dataset: Dataset<TableBatch> =
        Dataset::new(DatasetIndex::from_count(rows), npy.block_shuffled(3, 4));
    epoch(
        ".npy, block shuffle, max_resident 256 MB",
        false,
        &dataset,
        &spec,
    )?;
    drop(dataset);

    let parquet = TableSource::parquet(
        pq_path.to_str().unwrap(),
        &ParquetOptions::new().cache_row_groups(8),
    )?;
    // Block-shuffled: a window of 4 row groups per batch, a new order for each epoch (seed);
    // batch ids are positions in that order, no longer row numbers of the file.
    let dataset: Dataset<TableBatch> =
        Dataset::new(DatasetIndex::from_count(rows), parquet.block_shuffled(2, 4));
    epoch("Parquet, block shuffle", false, &dataset, &spec)?;
    let (decoded, _) = parquet.row_groups();
    println!(
        "Parquet row groups decoded: {decoded} of {}",
        rows.div_ceil(CHUNK)
    );
    Ok(())
}

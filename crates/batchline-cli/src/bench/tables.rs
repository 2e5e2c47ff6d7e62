//! The table suites of `batchline bench` (cargo feature `table`):
//!
//! * `tables`: shuffled batches of 256 rows × 32 f32 columns + an i64 label, as an `ndarray`
//!   matrix and labels, from CSV, Parquet and `.npy` through `TableBatch` pipelines; next to a
//!   plain loop over the same data already in memory as `ndarray` (the floor, the baseline)
//!   and to the same job with the arrow and parquet crates alone (read the file, then Arrow's
//!   `take` kernel and a copy into a matrix per batch). Every round includes opening the file
//!   (for CSV, parsing it).
//! * `larger-than-memory`: one shuffled epoch over a 4 GB `.npy` pair and a 4 GB Parquet file
//!   (0.1 GB with `--quick`) written by the suite in a temporary folder (deleted after), with
//!   the peak memory above the process's resident memory before each epoch (VmHWM, reset
//!   through `/proc/self/clear_refs`; it counts the touched pages of memory-mapped `.npy`
//!   files) and the peak of its anonymous memory (`RssAnon`, sampled every 5 ms), at the
//!   largest k asked for.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field};
use batchline::table::{
    CsvOptions, NpyOptions, NpyWriter, ParquetOptions, ParquetWriter, TableBatch,
    TableBatchActions, TableSource,
};
use batchline::BatchSpec;
use batchline::{Dataset, DatasetIndex, RunSpec};
use ndarray::{Array1, Array2};

use super::args::Settings;
use super::harness::{Kind, Row};
use super::suite::Suite;

const FEATURES: usize = 32;
const BATCH: usize = 256;
const SEED: u64 = 7;

/// The value of feature `j` of row `i`, and the label of row `i`.
fn value(i: usize, j: usize) -> f32 {
    ((i * 31 + j * 17) % 1000) as f32 / 1000.0
}

fn label(i: usize) -> i64 {
    (i % 10) as i64
}

/// The rows `start..start + n` as a table: columns `f0`..`f31` (`wide`) or one fixed-size list
/// column `x`, and `label`.
fn table(start: usize, n: usize, wide: bool) -> anyhow::Result<RecordBatch> {
    let mut columns: Vec<(String, ArrayRef)> = Vec::new();
    if wide {
        for j in 0..FEATURES {
            let c = Float32Array::from_iter_values((start..start + n).map(|i| value(i, j)));
            columns.push((format!("f{j}"), Arc::new(c)));
        }
    } else {
        let values = Float32Array::from_iter_values(
            (start..start + n).flat_map(|i| (0..FEATURES).map(move |j| value(i, j))),
        );
        let item = Arc::new(Field::new_list_field(DataType::Float32, false));
        let x = FixedSizeListArray::new(item, FEATURES as i32, Arc::new(values), None);
        columns.push(("x".into(), Arc::new(x)));
    }
    let y = Int64Array::from_iter_values((start..start + n).map(label));
    columns.push(("label".into(), Arc::new(y)));
    Ok(RecordBatch::try_from_iter(columns)?)
}

/// Writes `rows` rows as `x.npy` + `y.npy` and as `t.parquet` (row groups of 65 536 rows), a
/// chunk at a time.
fn write_files(dir: &Path, rows: usize) -> anyhow::Result<()> {
    const CHUNK: usize = 65_536;
    let mut x = NpyWriter::create(dir.join("x.npy"), &DataType::Float32, Some(FEATURES), rows)?;
    let mut y = NpyWriter::create(dir.join("y.npy"), &DataType::Int64, None, rows)?;
    let mut pq: Option<ParquetWriter> = None;
    for start in (0..rows).step_by(CHUNK) {
        let n = CHUNK.min(rows - start);
        let narrow = table(start, n, false)?;
        x.append(narrow.column(0).as_ref())?;
        y.append(narrow.column(1).as_ref())?;
        drop(narrow);
        let wide = table(start, n, true)?;
        let writer = match &mut pq {
            Some(w) => w,
            None => pq.insert(ParquetWriter::create(
                dir.join("t.parquet"),
                wide.schema(),
                CHUNK,
            )?),
        };
        writer.append(&wide)?;
    }
    x.finish()?;
    y.finish()?;
    if let Some(pq) = pq {
        pq.finish()?;
    }
    Ok(())
}

fn names() -> Vec<String> {
    (0..FEATURES).map(|j| format!("f{j}")).collect()
}

/// One shuffled epoch of a table pipeline; checks the labels and returns the rows.
fn epoch(dataset: &Dataset<TableBatch>, columns: &[String], k: usize) -> anyhow::Result<usize> {
    epoch_with(
        dataset,
        columns,
        RunSpec::new(BATCH).shuffle(SEED).prefetch(k),
    )
}

/// One epoch of a table pipeline run with `spec`; checks the labels and returns the rows.
fn epoch_with(
    dataset: &Dataset<TableBatch>,
    columns: &[String],
    spec: RunSpec,
) -> anyhow::Result<usize> {
    let mut rows = 0;
    let pipeline = dataset.p().load().to_tensor(columns.to_vec());
    for batch in pipeline.gen_batch(&spec)? {
        let batch = batch?;
        let y = batch.labels("label")?;
        black_box((batch.tensor()?.view(), &y));
        rows += y.len();
    }
    Ok(rows)
}

/// The floor: the same batches gathered from arrays already in memory.
fn floor_epoch(x: &Array2<f32>, y: &Array1<i64>) -> anyhow::Result<usize> {
    let index = DatasetIndex::from_count(y.len());
    let mut rows = 0;
    for b in index.gen_batch(&BatchSpec::new(BATCH).shuffle(SEED))? {
        let ids = b.ids();
        let xb = x.select(ndarray::Axis(0), ids);
        let yb = y.select(ndarray::Axis(0), ids);
        black_box((&xb, &yb));
        rows += ids.len();
    }
    Ok(rows)
}

/// The same job with the arrow and parquet crates alone: read the file into memory, then per
/// batch Arrow's `take` and a copy of the 32 columns into a matrix.
fn arrow_alone(path: &Path) -> anyhow::Result<usize> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Int64Type};
    let file = std::fs::File::open(path)?;
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    let all = arrow_select::concat::concat_batches(&batches[0].schema(), &batches)?;
    let index = DatasetIndex::from_count(all.num_rows());
    let mut rows = 0;
    for b in index.gen_batch(&BatchSpec::new(BATCH).shuffle(SEED))? {
        let ids = arrow_array::UInt64Array::from_iter_values(b.ids().iter().map(|&i| i as u64));
        let t = arrow_select::take::take_record_batch(&all, &ids)?;
        let n = t.num_rows();
        let mut x = Array2::<f32>::zeros((n, FEATURES));
        for j in 0..FEATURES {
            let c = t.column(j).as_primitive::<Float32Type>().values();
            for (r, &v) in c.iter().enumerate() {
                x[[r, j]] = v;
            }
        }
        let y = t
            .column(FEATURES)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        black_box((&x, &y));
        rows += n;
    }
    Ok(rows)
}

/// A measured variant: its name, kind, k and one round.
type Round<'a> = Box<dyn FnMut() -> anyhow::Result<usize> + 'a>;

/// Runs the rounds (interleaved) and makes the rows; the first variant is the baseline. Each
/// round must process `count` rows.
fn measure(
    suite: Suite,
    count: usize,
    rounds: usize,
    mut variants: Vec<(String, Kind, Option<usize>, Round<'_>)>,
) -> anyhow::Result<Vec<Row>> {
    let mut times = vec![Vec::new(); variants.len()];
    for _ in 0..rounds {
        for (v, t) in variants.iter_mut().zip(&mut times) {
            let start = Instant::now();
            let rows = (v.3)()?;
            t.push(start.elapsed().as_secs_f64());
            anyhow::ensure!(rows == count, "{}: {rows} rows, expected {count}", v.0);
        }
    }
    let best: Vec<f64> = times
        .iter()
        .map(|t| t.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    Ok(variants
        .iter()
        .zip(times.iter().zip(&best))
        .map(|(v, (t, &b))| Row {
            notes: Vec::new(),
            suite,
            variant: v.0.clone(),
            kind: v.1,
            k: v.2,
            unit: "rows".to_owned(),
            count,
            rounds_s: t.clone(),
            best_s: b,
            per_s: count as f64 / b,
            vs_baseline: best[0] / b,
            vs_pariter: None,
            vs_pariter_bound: None,
        })
        .collect())
}

/// The `tables` suite: 200 000 rows (20 000 with `--quick`).
pub(crate) fn tables(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let n = if settings.quick { 20_000 } else { 200_000 };
    let dir = tempfile::tempdir().context("cannot make a temporary folder")?;
    let d = dir.path();
    write_files(d, n)?;
    // The CSV: the same rows, the values written as Rust prints them.
    let mut csv = names().join(",") + ",label\n";
    for i in 0..n {
        for j in 0..FEATURES {
            csv += &format!("{},", value(i, j));
        }
        csv += &format!("{}\n", label(i));
    }
    std::fs::write(d.join("t.csv"), csv)?;
    let x = Array2::from_shape_fn((n, FEATURES), |(i, j)| value(i, j));
    let y = Array1::from_shape_fn(n, label);
    let wide = names();
    let narrow = vec!["x".to_string()];
    let (csv_path, pq_path) = (d.join("t.csv"), d.join("t.parquet"));
    let (x_path, y_path) = (d.join("x.npy"), d.join("y.npy"));
    let pq = pq_path
        .to_str()
        .context("a non-UTF-8 temporary path")?
        .to_owned();
    let xs = x_path
        .to_str()
        .context("a non-UTF-8 temporary path")?
        .to_owned();
    let ys = y_path
        .to_str()
        .context("a non-UTF-8 temporary path")?
        .to_owned();

    let mut variants: Vec<(String, Kind, Option<usize>, Round<'_>)> = vec![
        (
            "ndarray in memory (floor)".into(),
            Kind::Baseline,
            None,
            Box::new(|| floor_epoch(&x, &y)),
        ),
        (
            "arrow + parquet alone".into(),
            Kind::Baseline,
            None,
            Box::new(|| arrow_alone(&pq_path)),
        ),
    ];
    for &k in &settings.k {
        let (wide, narrow, csv_path, pq, xs, ys) = (&wide, &narrow, &csv_path, &pq, &xs, &ys);
        variants.push((
            format!("batchline csv k={k}"),
            Kind::Batchline,
            Some(k),
            Box::new(move || {
                let source = TableSource::csv(csv_path, &CsvOptions::new())?;
                epoch(&Dataset::new(DatasetIndex::from_count(n), source), wide, k)
            }),
        ));
        variants.push((
            format!("batchline parquet k={k}"),
            Kind::Batchline,
            Some(k),
            Box::new(move || {
                let source = TableSource::parquet(pq, &ParquetOptions::new())?;
                epoch(&Dataset::new(DatasetIndex::from_count(n), source), wide, k)
            }),
        ));
        variants.push((
            format!("batchline npy k={k}"),
            Kind::Batchline,
            Some(k),
            Box::new(move || {
                let source = TableSource::npy([("x", xs.as_str()), ("label", ys.as_str())])?;
                epoch(
                    &Dataset::new(DatasetIndex::from_count(n), source),
                    narrow,
                    k,
                )
            }),
        ));
    }
    let rows = measure(Suite::Tables, n, settings.rounds, variants)?;
    dir.close().context("cannot remove the temporary files")?;
    Ok(rows)
}

/// A line of /proc/self/status in MB (0 where there is none).
fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak (VmHWM) to the current resident memory and returns that, in MB.
fn reset_peak() -> f64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_mb("VmRSS:")
}

/// Samples `RssAnon` (the process's own memory, without the pages of mapped files) every
/// 5 ms until dropped, keeping the largest value: Linux keeps no peak of it.
struct AnonPeak {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<f64>>,
}

impl AnonPeak {
    fn start() -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = status_mb("RssAnon:");
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_mb("RssAnon:"));
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            peak.max(status_mb("RssAnon:"))
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// The largest `RssAnon` seen, in MB.
    fn finish(mut self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or(0.0)
    }
}

/// Runs `f` once and returns the row, with the peak memory above the start in its name: the
/// peak resident memory (VmHWM, which counts the pages of memory-mapped files that were
/// touched: page cache the kernel can drop) and the peak of the process's own memory
/// (`RssAnon`, sampled).
fn once(
    name: &str,
    kind: Kind,
    k: Option<usize>,
    count: usize,
    f: impl FnOnce() -> anyhow::Result<usize>,
) -> anyhow::Result<(String, Kind, Option<usize>, f64, usize)> {
    let base = reset_peak();
    let anon_base = status_mb("RssAnon:");
    let anon = AnonPeak::start();
    let start = Instant::now();
    let rows = f()?;
    let secs = start.elapsed().as_secs_f64();
    let anon = anon.finish() - anon_base;
    anyhow::ensure!(rows == count, "{name}: {rows} rows, expected {count}");
    let peak = status_mb("VmHWM:") - base;
    eprintln!(
        "batchline bench:   {name}: {secs:.1} s, peak memory +{peak:.0} MB resident \
         (mapped file pages included), +{anon:.0} MB anonymous"
    );
    Ok((
        format!("{name} [peak +{peak:.0} MB resident, +{anon:.0} MB anonymous]"),
        kind,
        k,
        secs,
        rows,
    ))
}

/// The `larger-than-memory` suite: 4 GB per format (0.1 GB with `--quick`), one round.
pub(crate) fn larger_than_memory(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let gb = if settings.quick { 0.1 } else { 4.0 };
    let rows = (gb * 1e9 / (FEATURES * 4 + 8) as f64) as usize;
    let k = settings.k.iter().copied().max().unwrap_or(3);
    let dir = tempfile::tempdir().context("cannot make a temporary folder")?;
    let d = dir.path();
    let mut out = Vec::new();
    {
        eprintln!("batchline bench:   {rows} rows ({gb} GB) in memory for the floor …");
        let x = Array2::from_shape_fn((rows, FEATURES), |(i, j)| value(i, j));
        let y = Array1::from_shape_fn(rows, label);
        out.push(once(
            "ndarray in memory (floor)",
            Kind::Baseline,
            None,
            rows,
            || floor_epoch(&x, &y),
        )?);
    }
    eprintln!("batchline bench:   writing {gb} GB of .npy and {gb} GB of Parquet …");
    write_files(d, rows)?;
    let s = |p: &str| d.join(p).to_string_lossy().into_owned();
    let (xs, ys, pq) = (s("x.npy"), s("y.npy"), s("t.parquet"));
    let narrow = vec!["x".to_string()];
    for e in 1..=2 {
        out.push(once(
            &format!("batchline npy k={k}, full shuffle, epoch {e}"),
            Kind::Batchline,
            Some(k),
            rows,
            || {
                let source = TableSource::npy([("x", xs.as_str()), ("label", ys.as_str())])?;
                epoch(
                    &Dataset::new(DatasetIndex::from_count(rows), source),
                    &narrow,
                    k,
                )
            },
        )?);
    }
    for e in 1..=2 {
        out.push(once(
            &format!(
                "batchline npy k={k}, block shuffle (window 4), max_resident 256 MB, epoch {e}"
            ),
            Kind::Batchline,
            Some(k),
            rows,
            || {
                let options = NpyOptions::new().max_resident(256 << 20);
                let source =
                    TableSource::npy_with([("x", xs.as_str()), ("label", ys.as_str())], &options)?;
                // A new view (seed) per epoch; the run itself does not shuffle.
                let view = source.block_shuffled(SEED + e, 4);
                epoch_with(
                    &Dataset::new(DatasetIndex::from_count(rows), view),
                    &narrow,
                    RunSpec::new(BATCH).prefetch(k),
                )
            },
        )?);
    }
    out.push(once(
        &format!("batchline parquet k={k}, block shuffle (window 4, cache 8)"),
        Kind::Batchline,
        Some(k),
        rows,
        || {
            let source = TableSource::parquet(&pq, &ParquetOptions::new().cache_row_groups(8))?;
            // The view gives the shuffled order: the run itself does not shuffle (a full
            // shuffle on top would make every batch touch ~256 row groups).
            let view = source.block_shuffled(SEED, 4);
            let n = epoch_with(
                &Dataset::new(DatasetIndex::from_count(rows), view),
                &names(),
                RunSpec::new(BATCH).prefetch(k),
            )?;
            let (decoded, _) = source.row_groups();
            eprintln!(
                "batchline bench:   parquet row groups decoded: {decoded} of {}",
                rows.div_ceil(65_536)
            );
            Ok(n)
        },
    )?);
    dir.close().context("cannot remove the temporary files")?;
    let floor = out[0].3;
    Ok(out
        .into_iter()
        .map(|(variant, kind, k, secs, count)| Row {
            notes: Vec::new(),
            suite: Suite::LargerThanMemory,
            variant,
            kind,
            k,
            unit: "rows".to_owned(),
            count,
            rounds_s: vec![secs],
            best_s: secs,
            per_s: count as f64 / secs,
            vs_baseline: floor / secs,
            vs_pariter: None,
            vs_pariter_bound: None,
        })
        .collect())
}

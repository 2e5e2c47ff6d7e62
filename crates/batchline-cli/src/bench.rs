//! `batchline bench`: the executor's standard figures, each next to its baselines measured in
//! the same run — a plain loop, and `pariter`'s ordered `parallel_map` as the Rust reference.
//!
//! Every figure is the best (minimum) time of `--rounds` rounds; the rounds of a suite are
//! interleaved (round 1 of every variant, then round 2, …) so that a slow moment of the machine
//! does not fall on one variant only.

use std::hint::black_box;
use std::io::{self, Write};
use std::process::ExitCode;
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::batch::IdsBatch;
use batchline::index::BatchSpec;
use batchline::{BatchIndex, Context, Dataset, DatasetIndex, Pipeline, RunSpec};
use clap::{Args, ValueEnum};
use pariter::IteratorExt;
use serde::{Deserialize, Serialize};

/// The suites of `bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Suite {
    /// 10 000 batches of 10 ids through 3 no-op actions: the executor's cost per batch.
    Overhead,
    /// 64 batches through 3 actions that each sleep 10 ms: latency hiding.
    Latency,
    /// 64 batches through one action that computes for about 5 ms: CPU-bound speed-up.
    Cpu,
    /// 512 PNG images of 256×256: load, resize to 128×128, random flip, tensor (needs the
    /// `image` feature).
    Images,
    /// Shuffled batches of 256 rows × 32 f32 + an i64 label from CSV, Parquet and .npy, next to
    /// the same rows in memory (not run by default; needs the `table` feature).
    Tables,
    /// A shuffled epoch over a 4 GB .npy and a 4 GB Parquet file, with peak memory (not run by
    /// default; writes 8 GB in a temporary folder; needs the `table` feature).
    LargerThanMemory,
}

impl Suite {
    const ALL: [Suite; 4] = [Suite::Overhead, Suite::Latency, Suite::Cpu, Suite::Images];

    /// Whether this build can run the suite.
    fn available(self) -> bool {
        match self {
            Suite::Images => cfg!(feature = "image"),
            Suite::Tables | Suite::LargerThanMemory => cfg!(feature = "table"),
            _ => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Suite::Overhead => "overhead",
            Suite::Latency => "latency",
            Suite::Cpu => "cpu",
            Suite::Images => "images",
            Suite::Tables => "tables",
            Suite::LargerThanMemory => "larger-than-memory",
        }
    }
}

/// Arguments of `batchline bench`.
#[derive(Debug, Clone, Args)]
pub(crate) struct BenchArgs {
    /// Prefetch depths to measure, comma-separated (pariter runs with k + 1 threads for k ≥ 1).
    #[arg(
        long = "k",
        value_name = "K,...",
        value_delimiter = ',',
        default_value = "0,1,3"
    )]
    k: Vec<usize>,
    /// Suites to run, comma-separated [default: every suite this build has].
    #[arg(
        long = "suite",
        value_name = "SUITE,...",
        value_enum,
        value_delimiter = ','
    )]
    suite: Vec<Suite>,
    /// Rounds per figure: the best (minimum) time of the rounds is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Print one JSON document (machine, settings, every row) instead of the table.
    #[arg(long)]
    json: bool,
    /// Smaller sizes (for tests and CI smoke runs); the figures are noisier.
    #[arg(long)]
    quick: bool,
    /// Also measure `prefetch = auto` (`RunSpec::prefetch_auto`) with this memory budget in
    /// MiB: a row `batchline auto` per suite.
    #[arg(long, value_name = "MIB")]
    auto: Option<u64>,
}

/// What a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// The suite's baseline: a plain loop, or the decoder alone for `images`.
    Baseline,
    /// `pariter`'s ordered `parallel_map` with `k + 1` threads and a buffer of `k + 1`.
    Pariter,
    /// A batchline pipeline with `prefetch(k)`.
    Batchline,
}

/// One figure of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) suite: Suite,
    /// `plain loop`, `decoder alone`, `pariter k=3`, `batchline k=3`.
    pub(crate) variant: String,
    pub(crate) kind: Kind,
    /// The prefetch depth (none for the baseline).
    pub(crate) k: Option<usize>,
    /// What one round processes: `batches` or `images`.
    pub(crate) unit: String,
    /// How many of `unit` one round processes.
    pub(crate) count: usize,
    /// Every round's time, in seconds, in the order they ran.
    pub(crate) rounds_s: Vec<f64>,
    /// The best (minimum) of `rounds_s`: the figure.
    pub(crate) best_s: f64,
    /// `count / best_s`.
    pub(crate) per_s: f64,
    /// The baseline's `best_s` / this row's `best_s`: above 1, faster than the baseline.
    pub(crate) vs_baseline: f64,
    /// For a batchline row: pariter's `best_s` at the same k / this row's `best_s` (above 1,
    /// faster than pariter); none where there is no pariter figure at that k.
    pub(crate) vs_pariter: Option<f64>,
}

/// The machine the figures come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Machine {
    /// `model name` of /proc/cpuinfo, when there is one.
    pub(crate) cpu: String,
    /// `std::thread::available_parallelism()`.
    pub(crate) threads: usize,
    /// `std::env::consts::OS` and `ARCH`.
    pub(crate) os: String,
    pub(crate) arch: String,
    /// `PRETTY_NAME` of /etc/os-release, when there is one.
    pub(crate) distribution: Option<String>,
    /// /proc/sys/kernel/osrelease, when there is one.
    pub(crate) kernel: Option<String>,
    /// The batchline (workspace) version.
    pub(crate) batchline: String,
    /// `release` or `debug`: the figures of a debug build say little.
    pub(crate) build: String,
}

impl Machine {
    pub(crate) fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(key, _)| key.trim() == "model name")
                    .map(|(_, value)| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let distribution = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim().trim_matches('"').to_owned())
            });
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned());
        Self {
            cpu,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            distribution,
            kernel,
            batchline: env!("CARGO_PKG_VERSION").to_owned(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
        }
    }
}

/// The settings a report was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Settings {
    pub(crate) k: Vec<usize>,
    pub(crate) suites: Vec<Suite>,
    pub(crate) rounds: usize,
    pub(crate) quick: bool,
    /// The memory budget of `prefetch = auto` in bytes, when measured.
    #[serde(default)]
    pub(crate) auto: Option<u64>,
    /// How a row's figure is drawn from its rounds.
    pub(crate) statistic: String,
}

/// The whole `--json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) settings: Settings,
    pub(crate) rows: Vec<Row>,
}

impl BenchArgs {
    /// The settings these arguments ask for, checked.
    fn settings(&self) -> anyhow::Result<Settings> {
        anyhow::ensure!(self.rounds > 0, "--rounds must be at least 1");
        anyhow::ensure!(!self.k.is_empty(), "--k needs at least one value");
        let mut k = Vec::new();
        for &x in &self.k {
            if !k.contains(&x) {
                k.push(x);
            }
        }
        let mut suites = Vec::new();
        if self.suite.is_empty() {
            suites.extend(Suite::ALL.into_iter().filter(|s| s.available()));
        }
        for &s in &self.suite {
            anyhow::ensure!(
                s.available(),
                "the {} suite needs a feature of batchline-cli (`image` or `table`)",
                s.name()
            );
            if !suites.contains(&s) {
                suites.push(s);
            }
        }
        Ok(Settings {
            k,
            suites,
            rounds: self.rounds,
            quick: self.quick,
            auto: self
                .auto
                .map(|mib| {
                    mib.checked_mul(1 << 20).filter(|&b| b > 0).ok_or_else(|| {
                        anyhow::anyhow!("--auto takes a budget in MiB, from 1 to 2^44")
                    })
                })
                .transpose()?,
            statistic: format!("best (minimum) of {} round(s)", self.rounds),
        })
    }
}

/// Runs `batchline bench`.
pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let report = run_report(args)?;
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        render(&report)
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Detects the machine and runs the suites.
pub(crate) fn run_report(args: &BenchArgs) -> anyhow::Result<Report> {
    let settings = args.settings()?;
    let machine = Machine::detect();
    let rows = run_suites(&settings)?;
    Ok(Report {
        machine,
        settings,
        rows,
    })
}

/// Runs every suite of `settings`, in order; the rows of each suite start with its baseline.
pub(crate) fn run_suites(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &suite in &settings.suites {
        eprintln!("batchline bench: {} …", suite.name());
        rows.extend(match suite {
            Suite::Overhead => overhead(settings)?,
            Suite::Latency => latency(settings)?,
            Suite::Cpu => cpu(settings)?,
            Suite::Images => images(settings)?,
            #[cfg(feature = "table")]
            Suite::Tables => crate::bench_tables::tables(settings)?,
            #[cfg(feature = "table")]
            Suite::LargerThanMemory => crate::bench_tables::larger_than_memory(settings)?,
            #[cfg(not(feature = "table"))]
            Suite::Tables | Suite::LargerThanMemory => anyhow::bail!("needs the `table` feature"),
        });
    }
    Ok(rows)
}

/// A variant of a suite: what it is and one round of it.
struct Variant<'a> {
    name: String,
    kind: Kind,
    k: Option<usize>,
    round: Box<dyn FnMut() -> anyhow::Result<()> + 'a>,
}

impl<'a> Variant<'a> {
    fn new(
        kind: Kind,
        name: impl Into<String>,
        k: Option<usize>,
        round: impl FnMut() -> anyhow::Result<()> + 'a,
    ) -> Self {
        Self {
            name: name.into(),
            kind,
            k,
            round: Box::new(round),
        }
    }
}

/// Runs the rounds of `variants` (interleaved) and makes their rows; the first variant is the
/// baseline.
fn measure(
    suite: Suite,
    unit: &str,
    count: usize,
    rounds: usize,
    mut variants: Vec<Variant<'_>>,
) -> anyhow::Result<Vec<Row>> {
    debug_assert_eq!(variants.first().map(|v| v.kind), Some(Kind::Baseline));
    let mut times = vec![Vec::with_capacity(rounds); variants.len()];
    for _ in 0..rounds {
        for (v, t) in variants.iter_mut().zip(&mut times) {
            let start = Instant::now();
            (v.round)()?;
            t.push(start.elapsed().as_secs_f64());
        }
    }
    let best: Vec<f64> = times
        .iter()
        .map(|t| t.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    let pariter_best = |k: Option<usize>| {
        variants
            .iter()
            .zip(&best)
            .find(|(v, _)| v.kind == Kind::Pariter && v.k == k)
            .map(|(_, &b)| b)
    };
    let rows = variants
        .iter()
        .zip(times.iter().zip(&best))
        .map(|(v, (t, &b))| Row {
            suite,
            variant: v.name.clone(),
            kind: v.kind,
            k: v.k,
            unit: unit.to_owned(),
            count,
            rounds_s: t.clone(),
            best_s: b,
            per_s: count as f64 / b,
            vs_baseline: best[0] / b,
            vs_pariter: match v.kind {
                Kind::Batchline => pariter_best(v.k).map(|p| p / b),
                Kind::Baseline | Kind::Pariter => None,
            },
        })
        .collect();
    Ok(rows)
}

/// The batchline variants (one per k), then pariter's (one per k ≥ 1; pariter always runs its
/// map on other threads, so k = 0 — no background work — has the plain loop as reference).
fn pipeline_and_pariter<'a, F>(
    settings: &Settings,
    pipeline: &'a Pipeline<IdsBatch>,
    index: &'a DatasetIndex,
    batch_size: usize,
    f: F,
) -> Vec<Variant<'a>>
where
    F: FnMut(BatchIndex) -> BatchIndex + Clone + Send + 'static,
{
    let mut variants = Vec::new();
    for &k in &settings.k {
        variants.push(Variant::new(
            Kind::Batchline,
            format!("batchline k={k}"),
            Some(k),
            move || {
                for batch in pipeline.gen_batch(&RunSpec::new(batch_size).prefetch(k))? {
                    black_box(batch?);
                }
                Ok(())
            },
        ));
    }
    if let Some(budget) = settings.auto {
        variants.push(Variant::new(
            Kind::Batchline,
            "batchline auto",
            None,
            move || {
                let spec = RunSpec::new(batch_size).prefetch_auto(budget);
                for batch in pipeline.gen_batch(&spec)? {
                    black_box(batch?);
                }
                Ok(())
            },
        ));
    }
    for &k in settings.k.iter().filter(|&&k| k > 0) {
        let f = f.clone();
        variants.push(Variant::new(
            Kind::Pariter,
            format!("pariter k={k}"),
            Some(k),
            move || {
                let out = index
                    .gen_batch(&BatchSpec::new(batch_size))?
                    .parallel_map_custom(|o| o.threads(k + 1).buffer_size(k + 1), f.clone());
                for batch in out {
                    black_box(batch);
                }
                Ok(())
            },
        ));
    }
    variants
}

/// An action of the ids pipelines.
type IdsAction = fn(&mut IdsBatch, &mut Context);

/// A pipeline over `items` ids with the actions `actions` (name, function).
fn ids_pipeline(items: usize, actions: &[(&str, IdsAction)]) -> Pipeline<IdsBatch> {
    let mut p = Dataset::<IdsBatch>::new(DatasetIndex::from_count(items), ()).p();
    for &(name, f) in actions {
        p = p.apply(name, f);
    }
    p
}

/// 10 000 batches of 10 ids (1 000 with `--quick`) through 3 no-op actions.
fn overhead(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    const BATCH_SIZE: usize = 10;
    let batches = if settings.quick { 1_000 } else { 10_000 };
    let items = batches * BATCH_SIZE;
    let pipeline = Dataset::<IdsBatch>::new(DatasetIndex::from_count(items), ())
        .p()
        .apply("a1", |_: &mut IdsBatch, _: &mut Context| {})
        .apply("a2", |_: &mut IdsBatch, _: &mut Context| {})
        .apply("a3", |_: &mut IdsBatch, _: &mut Context| {});
    let index = DatasetIndex::from_count(items);
    let a1 = |b: &mut BatchIndex| {
        black_box(b);
    };
    let (a2, a3) = (a1, a1);
    let mut variants = vec![Variant::new(Kind::Baseline, "plain loop", None, || {
        for batch in index.gen_batch(&BatchSpec::new(BATCH_SIZE))? {
            let mut batch = black_box(batch);
            a1(&mut batch);
            a2(&mut batch);
            a3(&mut batch);
            black_box(batch);
        }
        Ok(())
    })];
    variants.extend(pipeline_and_pariter(
        settings,
        &pipeline,
        &index,
        BATCH_SIZE,
        move |mut batch| {
            a1(&mut batch);
            a2(&mut batch);
            a3(&mut batch);
            batch
        },
    ));
    measure(
        Suite::Overhead,
        "batches",
        batches,
        settings.rounds,
        variants,
    )
}

/// 64 batches through 3 actions of a 10 ms sleep (16 batches and 5 ms with `--quick`).
fn latency(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    fn sleep_10ms(_: &mut IdsBatch, _: &mut Context) {
        sleep(Duration::from_millis(10));
    }
    fn sleep_5ms(_: &mut IdsBatch, _: &mut Context) {
        sleep(Duration::from_millis(5));
    }
    let (batches, ms, action): (usize, u64, IdsAction) = if settings.quick {
        (16, 5, sleep_5ms)
    } else {
        (64, 10, sleep_10ms)
    };
    let pipeline = ids_pipeline(batches, &[("a1", action), ("a2", action), ("a3", action)]);
    let index = DatasetIndex::from_count(batches);
    let three_sleeps = move |batch: BatchIndex| {
        for _ in 0..3 {
            sleep(Duration::from_millis(ms));
        }
        batch
    };
    let mut variants = vec![Variant::new(Kind::Baseline, "plain loop", None, || {
        for batch in index.gen_batch(&BatchSpec::new(1))? {
            black_box(three_sleeps(batch));
        }
        Ok(())
    })];
    variants.extend(pipeline_and_pariter(
        settings,
        &pipeline,
        &index,
        1,
        three_sleeps,
    ));
    measure(
        Suite::Latency,
        "batches",
        batches,
        settings.rounds,
        variants,
    )
}

/// Steps of [`burn`]: about 5 ms in a release build (a step is a dependent multiply, add, shift
/// and xor: about 2.5 ns on the 2-thread Xeon of BENCHMARKS.md).
const BURN_STEPS: u64 = 2_000_000;

/// About 5 ms of serial arithmetic (a release build), the same result for the same seed: a
/// chain of multiply-xorshift steps the compiler cannot shorten.
fn burn(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..BURN_STEPS {
        x = x.wrapping_mul(0xD129_0B2C_7A4F_3E65).wrapping_add(i);
        x ^= x >> 31;
    }
    x
}

/// The CPU-bound action: [`burn`] seeded by the batch's first id.
fn burn_action(batch: &mut IdsBatch, _: &mut Context) {
    use batchline::Batch;
    black_box(burn(batch.index().ids()[0] as u64));
}

/// 64 batches (16 with `--quick`) through one action of about 5 ms of arithmetic.
fn cpu(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let batches = if settings.quick { 16 } else { 64 };
    let pipeline = ids_pipeline(batches, &[("burn", burn_action)]);
    let index = DatasetIndex::from_count(batches);
    let burn_batch = |batch: BatchIndex| {
        black_box(burn(batch.ids()[0] as u64));
        batch
    };
    let mut variants = vec![Variant::new(Kind::Baseline, "plain loop", None, || {
        for batch in index.gen_batch(&BatchSpec::new(1))? {
            black_box(burn_batch(batch));
        }
        Ok(())
    })];
    variants.extend(pipeline_and_pariter(
        settings, &pipeline, &index, 1, burn_batch,
    ));
    measure(Suite::Cpu, "batches", batches, settings.rounds, variants)
}

/// 512 PNG images of 256×256 (64 with `--quick`), made in a temporary folder: load, resize to
/// 128×128, random horizontal flip, f32 tensor, batches of 32; the decoder alone (parallel, on
/// the same files) is the baseline.
#[cfg(feature = "image")]
fn images(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    use std::path::PathBuf;

    use anyhow::Context as _;
    use batchline::batch::images::{
        decode_files, write_synthetic_pngs, Filter, Flip, ImagesBatchActions, ImagesSource, Layout,
    };
    use batchline::index::{FileIds, FilesIndex};

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
fn images(_: &Settings) -> anyhow::Result<Vec<Row>> {
    anyhow::bail!("the images suite needs the `image` feature of batchline-cli")
}

/// A duration in seconds, in a readable unit.
fn human_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// A ratio with two decimals, or two significant digits below 0.1 (0.0031×, not 0.00×).
fn human_ratio(r: f64) -> String {
    if r >= 0.1 || r <= 0.0 || !r.is_finite() {
        format!("{r:.2}×")
    } else {
        let decimals = (-r.log10()).floor() as usize + 2;
        format!("{r:.decimals$}×")
    }
}

/// A rate, with thousands grouped.
fn human_rate(per_s: f64) -> String {
    if per_s >= 100.0 {
        let digits = format!("{:.0}", per_s);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    } else {
        format!("{per_s:.1}")
    }
}

/// The header and the table (a Markdown table, readable as text too).
pub(crate) fn render(report: &Report) -> String {
    let m = &report.machine;
    let s = &report.settings;
    let mut out = format!(
        "batchline bench — batchline {} ({} build)\n",
        m.batchline, m.build
    );
    out += &format!(
        "machine: {}; {} threads (available_parallelism); {} {}",
        m.cpu, m.threads, m.os, m.arch
    );
    if let Some(d) = &m.distribution {
        out += &format!("; {d}");
    }
    if let Some(k) = &m.kernel {
        out += &format!("; kernel {k}");
    }
    out += "\n";
    let ks: Vec<String> = s.k.iter().map(ToString::to_string).collect();
    let suites: Vec<&str> = s.suites.iter().map(|x| x.name()).collect();
    out += &format!(
        "settings: k = {}; suites = {}; {}; {} sizes\n\n",
        ks.join(","),
        suites.join(","),
        s.statistic,
        if s.quick { "quick" } else { "full" }
    );

    let header = [
        "suite",
        "variant",
        "throughput",
        "time",
        "vs baseline",
        "vs pariter",
    ];
    let cells: Vec<[String; 6]> = report
        .rows
        .iter()
        .map(|r| {
            [
                r.suite.name().to_owned(),
                r.variant.clone(),
                format!("{} {}/s", human_rate(r.per_s), r.unit),
                human_time(r.best_s),
                human_ratio(r.vs_baseline),
                r.vs_pariter.map_or_else(String::new, human_ratio),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // Text columns to the left, figures to the right.
    let line = |cells: &[String]| {
        let mut l = String::from("|");
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - c.chars().count());
            if i < 2 {
                l += &format!(" {c}{pad} |");
            } else {
                l += &format!(" {pad}{c} |");
            }
        }
        l + "\n"
    };
    out += &line(&header.map(String::from));
    let mut rule = String::from("|");
    for (i, w) in widths.iter().enumerate() {
        let dashes = "-".repeat(*w);
        rule += &if i < 2 {
            format!(" {dashes} |")
        } else {
            format!(" {}: |", &dashes[1..])
        };
    }
    out += &rule;
    out += "\n";
    for row in &cells {
        out += &line(row);
    }
    out += &format!(
        "\ntime: {} of the same work.\n\
         vs baseline: the suite's baseline time / this time (above 1: faster than the baseline).\n\
         The baseline is a plain loop on one thread; for images, the decoder alone (parallel, on\n\
         the same files).\n\
         vs pariter: the time of pariter's ordered parallel_map at the same k (k + 1 threads, a\n\
         buffer of k + 1) / this time; pariter has no k = 0 (it always maps on other threads).\n",
        s.statistic
    );
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn args(line: &[&str]) -> BenchArgs {
        Cli::try_parse_from(std::iter::once("bench").chain(line.iter().copied()))
            .expect("the arguments parse")
            .args
    }

    #[test]
    fn defaults() {
        let s = args(&[]).settings().unwrap();
        assert_eq!(s.k, [0, 1, 3]);
        assert_eq!(s.rounds, 3);
        assert!(!s.quick);
        let mut all = vec![Suite::Overhead, Suite::Latency, Suite::Cpu];
        if cfg!(feature = "image") {
            all.push(Suite::Images);
        }
        assert_eq!(s.suites, all);
        assert!(args(&["--rounds", "0"]).settings().is_err());
        let s = args(&["--k", "3,1,3", "--suite", "cpu,overhead,cpu"])
            .settings()
            .unwrap();
        assert_eq!(
            (s.k, s.suites),
            (vec![3, 1], vec![Suite::Cpu, Suite::Overhead])
        );
    }

    /// `--quick --suite overhead,latency --k 0,1 --rounds 2 --json`: every row is there, the
    /// times are positive, the ratios agree with the times, and the JSON reads back.
    #[test]
    fn quick_overhead_and_latency() {
        let args = args(&[
            "--quick",
            "--suite",
            "overhead,latency",
            "--k",
            "0,1",
            "--rounds",
            "2",
            "--json",
        ]);
        let report = run_report(&args).unwrap();
        let names: Vec<(Suite, &str)> = report
            .rows
            .iter()
            .map(|r| (r.suite, r.variant.as_str()))
            .collect();
        let mut expected = Vec::new();
        for suite in [Suite::Overhead, Suite::Latency] {
            for v in [
                "plain loop",
                "batchline k=0",
                "batchline k=1",
                "pariter k=1",
            ] {
                expected.push((suite, v));
            }
        }
        assert_eq!(names, expected);

        for suite in [Suite::Overhead, Suite::Latency] {
            let rows: Vec<&Row> = report.rows.iter().filter(|r| r.suite == suite).collect();
            let base = rows[0];
            assert_eq!((base.kind, base.k), (Kind::Baseline, None));
            assert_eq!(base.vs_baseline, 1.0);
            let pariter = rows.iter().find(|r| r.kind == Kind::Pariter).unwrap();
            for r in &rows {
                assert_eq!(r.rounds_s.len(), 2);
                assert!(r.rounds_s.iter().all(|&t| t > 0.0), "{r:?}");
                let min = r.rounds_s.iter().copied().fold(f64::INFINITY, f64::min);
                assert_eq!(r.best_s, min);
                assert!(r.best_s > 0.0 && r.best_s.is_finite());
                assert_eq!(r.per_s, r.count as f64 / r.best_s);
                assert_eq!(r.vs_baseline, base.best_s / r.best_s);
                match (r.kind, r.k) {
                    (Kind::Batchline, Some(1)) => {
                        assert_eq!(r.vs_pariter, Some(pariter.best_s / r.best_s));
                    }
                    _ => assert_eq!(r.vs_pariter, None, "{r:?}"),
                }
            }
            let count = if suite == Suite::Overhead { 1_000 } else { 16 };
            assert!(rows.iter().all(|r| r.count == count && r.unit == "batches"));
        }

        let json = serde_json::to_string_pretty(&report).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["rows"].as_array().unwrap().len(), 8);
        assert_eq!(value["rows"][0]["suite"], "overhead");
        assert_eq!(value["settings"]["k"], serde_json::json!([0, 1]));
        assert!(value["machine"]["threads"].as_u64().unwrap() >= 1);
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);

        let table = render(&report);
        assert!(table.contains("| latency  | pariter k=1"), "{table}");
        // The header, the rule and the 8 rows.
        assert_eq!(table.lines().filter(|l| l.starts_with("| ")).count(), 10);
    }

    #[test]
    fn ratios_read() {
        assert_eq!(human_ratio(1.0), "1.00×");
        assert_eq!(human_ratio(0.123), "0.12×");
        assert_eq!(human_ratio(0.0312), "0.031×");
        assert_eq!(human_ratio(0.00307), "0.0031×");
        assert_eq!(human_rate(22_065_654.4), "22 065 654");
        assert_eq!(human_rate(65.74), "65.7");
    }

    #[test]
    fn burn_is_deterministic() {
        assert_eq!(burn(7), burn(7));
        assert_ne!(burn(7), burn(8));
    }
}

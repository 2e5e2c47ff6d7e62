//! `batchline bench`: the executor's standard figures, each next to its baselines measured in
//! the same run — a plain loop, and `pariter`'s ordered `parallel_map` as the Rust reference.
//!
//! Every figure is the best (minimum) time of `--rounds` rounds; the rounds of a suite are
//! interleaved (round 1 of every variant, then round 2, …) so that a slow moment of the machine
//! does not fall on one variant only.
//!
//! The files: `args` (the command line and its settings), `harness` (variants, rounds, rows),
//! `report` (the machine, the JSON document, the table), `suites` (overhead, latency, cpu),
//! `images`, `executor` (drop, epoch). A new suite is a variant of [`Suite`], a file of its own next to these with the
//! function that makes its rows (usually with `harness::measure`), and a line in
//! [`run_suites`].

mod args;
mod executor;
mod harness;
mod images;
#[cfg(feature = "image")]
mod images_real;
mod report;
mod suites;
#[cfg(test)]
mod tests;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

pub(crate) use args::{BenchArgs, Settings};
pub(crate) use harness::{Kind, Row};
pub(crate) use report::{render, Machine, Report};

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
    /// 512 JPEGs of 500×375: load, random_resized_crop 224, flip, normalised tensor.
    Jpeg,
    /// The ImageNet val recipe on 512 JPEGs of 500×375.
    Recipe,
    /// Batches of 32 JPEGs with one bad file dropped, against the 31 good ones.
    Dropping,
    /// Shuffled batches of 256 rows × 32 f32 + an i64 label from CSV, Parquet and .npy, next to
    /// the same rows in memory (not run by default; needs the `table` feature).
    Tables,
    /// A shuffled epoch over a 4 GB .npy and a 4 GB Parquet file, with peak memory (not run by
    /// default; writes 8 GB in a temporary folder; needs the `table` feature).
    LargerThanMemory,
    /// Early drop: k = 7, 100 ms locked actions: the time `drop` takes and the actions started
    /// after it began.
    Drop,
    /// The epoch boundary: 10 M shuffled items, k = 3: the consumer's wait for the first batch
    /// of epoch 2 next to a mid-epoch one.
    Epoch,
}

impl Suite {
    const ALL: [Suite; 9] = [
        Suite::Overhead,
        Suite::Latency,
        Suite::Cpu,
        Suite::Images,
        Suite::Jpeg,
        Suite::Recipe,
        Suite::Dropping,
        Suite::Drop,
        Suite::Epoch,
    ];

    /// Whether this build can run the suite.
    pub(crate) fn available(self) -> bool {
        match self {
            Suite::Images | Suite::Jpeg | Suite::Recipe | Suite::Dropping => {
                cfg!(feature = "image")
            }
            Suite::Tables | Suite::LargerThanMemory => cfg!(feature = "table"),
            _ => true,
        }
    }

    /// The suite's name on the command line and in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Suite::Overhead => "overhead",
            Suite::Latency => "latency",
            Suite::Cpu => "cpu",
            Suite::Images => "images",
            Suite::Jpeg => "jpeg",
            Suite::Recipe => "recipe",
            Suite::Dropping => "dropping",
            Suite::Tables => "tables",
            Suite::LargerThanMemory => "larger-than-memory",
            Suite::Drop => "drop",
            Suite::Epoch => "epoch",
        }
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
            Suite::Overhead => suites::overhead(settings)?,
            Suite::Latency => suites::latency(settings)?,
            Suite::Cpu => suites::cpu(settings)?,
            Suite::Images => images::images(settings)?,
            #[cfg(feature = "image")]
            Suite::Jpeg => images_real::jpeg(settings)?,
            #[cfg(feature = "image")]
            Suite::Recipe => images_real::recipe(settings)?,
            #[cfg(feature = "image")]
            Suite::Dropping => images_real::dropping(settings)?,
            #[cfg(not(feature = "image"))]
            Suite::Jpeg | Suite::Recipe | Suite::Dropping => images::images(settings)?,
            #[cfg(feature = "table")]
            Suite::Tables => crate::bench_tables::tables(settings)?,
            #[cfg(feature = "table")]
            Suite::LargerThanMemory => crate::bench_tables::larger_than_memory(settings)?,
            #[cfg(not(feature = "table"))]
            Suite::Tables | Suite::LargerThanMemory => anyhow::bail!("needs the `table` feature"),
            Suite::Drop => executor::early_drop(settings)?,
            Suite::Epoch => executor::epoch_boundary(settings)?,
        });
    }
    Ok(rows)
}

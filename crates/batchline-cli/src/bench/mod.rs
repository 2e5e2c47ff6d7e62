//! `batchline bench`: the executor's standard figures, each next to its baselines measured in
//! the same run — a plain loop, and `pariter`'s ordered `parallel_map` as the Rust reference.
//!
//! Every figure is the best (minimum) time of `--rounds` rounds; the rounds of a suite are
//! interleaved (round 1 of every variant, then round 2, …) so that a slow moment of the machine
//! does not fall on one variant only.
//!
//! The files: `args` (the command line and its settings), `harness` (variants, rounds, rows),
//! `report` (the machine, the JSON document, the table), `suites` (overhead, latency, cpu),
//! `images`, `images_real`, `torch` (PyTorch's DataLoader, when installed), `tables`, `executor` (drop, epoch), `suite` (the list). A new suite is a variant of [`Suite`], a file of its own next to these with the
//! function that makes its rows (usually with `harness::measure`), and a line in
//! [`run_suites`].

mod args;
mod executor;
mod harness;
mod images;
#[cfg(feature = "image")]
mod images_real;
mod report;
mod suite;
mod suites;
#[cfg(feature = "table")]
mod tables;
#[cfg(test)]
mod tests;
#[cfg(feature = "image")]
mod torch;

use std::io::{self, Write};
use std::process::ExitCode;

pub(crate) use args::{BenchArgs, Settings};
pub(crate) use harness::Row;
pub(crate) use report::{render, Machine, Report};
pub(crate) use suite::Suite;

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
            Suite::PngTrain => images_real::png_train(settings)?,
            #[cfg(feature = "image")]
            Suite::Recipe => images_real::recipe(settings)?,
            #[cfg(feature = "image")]
            Suite::JpegLarge => images_real::jpeg_large(settings)?,
            #[cfg(feature = "image")]
            Suite::Dropping => images_real::dropping(settings)?,
            #[cfg(not(feature = "image"))]
            Suite::Jpeg | Suite::PngTrain | Suite::Recipe | Suite::JpegLarge | Suite::Dropping => {
                images::images(settings)?
            }
            #[cfg(feature = "table")]
            Suite::Tables => tables::tables(settings)?,
            #[cfg(feature = "table")]
            Suite::LargerThanMemory => tables::larger_than_memory(settings)?,
            #[cfg(not(feature = "table"))]
            Suite::Tables | Suite::LargerThanMemory => anyhow::bail!("needs the `table` feature"),
            Suite::Drop => executor::early_drop(settings)?,
            Suite::Epoch => executor::epoch_boundary(settings)?,
        });
    }
    Ok(rows)
}

//! The `batchline` command: a playground for the executor (`trace`) and its benchmarks
//! (`bench`).

mod bench;
mod trace;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// batchline: lazy batch pipelines with ordered prefetch.
#[derive(Debug, Parser)]
#[command(name = "batchline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the documentation's example pipeline (three actions that each sleep) and print what
    /// the executor did, as the documentation's listing or as a Chrome trace.
    Trace(trace::TraceArgs),
    /// Run the standard suites (overhead, latency hiding, CPU-bound, images) for a list of
    /// prefetch depths, next to their baselines measured in the same run (a plain loop, and
    /// pariter's ordered parallel_map), and print a table (or JSON).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Trace(args) => trace::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(io::stderr(), "batchline: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A closed stdout (`batchline trace | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

//! `batchline trace`: the seed's pipeline with its listing or a Chrome trace.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread::sleep;
use std::time::Duration;

use anyhow::Context as _;
use batchline::IdsBatch;
use batchline::{
    Action, ActionError, Context, Dataset, DatasetIndex, EventRecorder, Pipeline, RunSpec, Shuffle,
};
use clap::{Args, ValueEnum};

/// Output formats of `trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The documentation's listing: `batch #1 is created`, `    action 1 started`, …
    Listing,
    /// Chrome trace-event JSON (open in Perfetto or chrome://tracing).
    Chrome,
    /// A timeline picture (SVG): a lane per worker and one for the consumer, a bar per action
    /// coloured by action, lock waits hatched, batch numbers on the bars.
    Svg,
    /// The same timeline as a PNG image (needs --out).
    Png,
    /// The profile: per-action times, lock waits, consumer time and a one-line verdict.
    Profile,
}

/// Arguments of `batchline trace`.
#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// Batches processed in the background beyond the one the consumer holds.
    #[arg(long, default_value_t = 0)]
    prefetch: usize,
    /// Number of batches to run.
    #[arg(long, default_value_t = 3)]
    batches: usize,
    /// Items per batch.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// How long each action sleeps, in milliseconds.
    #[arg(long, default_value_t = 10)]
    action_ms: u64,
    /// Shuffle the items with this seed.
    #[arg(long)]
    shuffle: Option<u64>,
    /// Run action 2 under a lock (one batch at a time).
    #[arg(long)]
    lock: bool,
    /// Make action 2 fail on batch #N (numbered from 1, as in the listing).
    #[arg(long, value_name = "N")]
    fail_at: Option<u64>,
    /// Skip failed batches instead of stopping.
    #[arg(long)]
    ignore_errors: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Listing)]
    format: Format,
    /// Write the output to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn pipeline(args: &TraceArgs) -> anyhow::Result<Pipeline<IdsBatch>> {
    anyhow::ensure!(args.batches > 0, "--batches must be at least 1");
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let items = args.batches * args.batch_size;
    let dataset: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(items), ());
    let ms = Duration::from_millis(args.action_ms);
    let fail_at = args.fail_at;
    let mut p = dataset
        .p()
        .apply("action 1", move |_: &mut IdsBatch, _: &mut Context| {
            sleep(ms)
        });
    let mut second = Action::new("action 2", move |_: &mut IdsBatch, ctx: &mut Context| {
        sleep(ms);
        if fail_at == Some(ctx.batch() + 1) {
            return Err(ActionError::msg("failed on purpose (--fail-at)"));
        }
        Ok(())
    });
    if args.lock {
        second = second.lock("action 2");
    }
    p = p.push(second);
    Ok(
        p.apply("action 3", move |_: &mut IdsBatch, _: &mut Context| {
            sleep(ms)
        }),
    )
}

/// Runs `batchline trace`.
pub(crate) fn run(args: &TraceArgs) -> anyhow::Result<ExitCode> {
    let p = pipeline(args)?;
    let recorder = EventRecorder::new();
    let spec = RunSpec::new(args.batch_size)
        .shuffle(args.shuffle.map_or(Shuffle::Off, Shuffle::Seeded))
        .prefetch(args.prefetch)
        .ignore_errors(args.ignore_errors)
        .observer(recorder.clone());
    let result = p.run(&spec);
    let events = recorder.events();
    let text = match args.format {
        Format::Listing => recorder.listing(),
        Format::Chrome => recorder.chrome_trace() + "\n",
        Format::Svg => batchline::Timeline::from_events(&events).to_svg(),
        Format::Profile => batchline::Profile::from_events(&events).to_string(),
        Format::Png => {
            let path = args
                .out
                .as_ref()
                .context("--format png writes a file: give it with --out timeline.png")?;
            batchline::Timeline::from_events(&events)
                .to_image(1200)
                .save(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            return finish(result);
        }
    };
    match &args.out {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => io::stdout().lock().write_all(text.as_bytes())?,
    }
    finish(result)
}

/// Reports how the run ended.
fn finish(result: Result<batchline::RunReport, batchline::RunError>) -> anyhow::Result<ExitCode> {
    let report = result?;
    if report.failed > 0 {
        eprintln!(
            "batchline: {} batch(es) failed and were skipped",
            report.failed
        );
    }
    Ok(ExitCode::SUCCESS)
}

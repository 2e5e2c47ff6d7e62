//! The command line of `batchline bench` and the settings it asks for.

use clap::Args;
use serde::{Deserialize, Serialize};

use super::suite::Suite;

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
    pub(crate) k: Vec<usize>,
    /// Suites to run, comma-separated [default: every suite this build has].
    #[arg(
        long = "suite",
        value_name = "SUITE,...",
        value_enum,
        value_delimiter = ','
    )]
    pub(crate) suite: Vec<Suite>,
    /// Rounds per figure: the best (minimum) time of the rounds is reported.
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: usize,
    /// Print one JSON document (machine, settings, every row) instead of the table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Smaller sizes (for tests and CI smoke runs); the figures are noisier.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Also measure `prefetch = auto` (`RunSpec::prefetch_auto`) with this memory budget in
    /// MiB: a row `batchline auto` per suite.
    #[arg(long, value_name = "MIB")]
    pub(crate) auto: Option<u64>,
    /// PyTorch's DataLoader (with torchvision) next to the image suites, at these worker counts,
    /// when `python3` can import torch and torchvision (skipped with a note otherwise)
    #[arg(
        long = "torch-workers",
        value_name = "W,...",
        value_delimiter = ',',
        default_value = "0,1,2"
    )]
    pub(crate) torch_workers: Vec<usize>,
    /// No PyTorch rows
    #[arg(long)]
    pub(crate) no_torch: bool,
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
    /// The worker counts of the PyTorch rows of the image suites (none with `--no-torch`).
    #[serde(default)]
    pub(crate) torch_workers: Vec<usize>,
    /// How a row's figure is drawn from its rounds.
    pub(crate) statistic: String,
}

impl BenchArgs {
    /// The settings these arguments ask for, checked.
    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
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
            torch_workers: if self.no_torch {
                Vec::new()
            } else {
                let mut w = self.torch_workers.clone();
                w.dedup();
                w
            },
            statistic: format!("best (minimum) of {} round(s)", self.rounds),
        })
    }
}

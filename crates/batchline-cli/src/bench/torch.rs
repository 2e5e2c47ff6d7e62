//! The PyTorch reference of the image suites: `torch_dataloader.py` (next to this file, built
//! into the binary) served in a Python process of its own, one DataLoader per worker count,
//! warm before the first round; each round of a `PyTorch` variant is one epoch, asked for on
//! the process's stdin, so its rounds interleave with batchline's like every other variant's.
//! Skipped, with a note saying why, when `python3` cannot import torch and torchvision.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::Context as _;

use super::harness::{Kind, Variant};

const SCRIPT: &str = include_str!("torch_dataloader.py");

/// A served `torch_dataloader.py`.
pub(super) struct Torch {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// torch's and torchvision's versions, and torch's thread count, as the script says.
    pub(super) versions: String,
}

impl Torch {
    /// Starts the script on the images of `dir` with `pipeline` (train, val or png) and a
    /// loader per worker count; `Err` says why there is no PyTorch row (torch missing, the
    /// script failing).
    pub(super) fn start(dir: &Path, pipeline: &str, workers: &[usize]) -> Result<Torch, String> {
        let script = dir.join(".torch_dataloader.py");
        std::fs::write(&script, SCRIPT).map_err(|e| format!("cannot write the script: {e}"))?;
        let list: Vec<String> = workers.iter().map(|w| w.to_string()).collect();
        let mut child = Command::new("python3")
            .arg(&script)
            .args([
                "--serve",
                "--pipeline",
                pipeline,
                "--workers",
                &list.join(","),
            ])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start python3: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("python3 has no pipes".into());
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let line = line.trim().to_owned();
        match read {
            Ok(n) if n > 0 && line.starts_with("ready") => Ok(Torch {
                child,
                stdin,
                stdout,
                versions: line.trim_start_matches("ready").trim().to_owned(),
            }),
            _ => {
                let _ = child.wait();
                Err(if line.is_empty() {
                    "the PyTorch script ended before its loaders were ready".into()
                } else {
                    line
                })
            }
        }
    }

    /// One epoch of the loader with `workers` workers.
    fn epoch(&mut self, workers: usize) -> anyhow::Result<()> {
        writeln!(self.stdin, "{workers}").context("the PyTorch script is gone")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        line.trim()
            .parse::<f64>()
            .with_context(|| format!("the PyTorch script answered {line:?}"))?;
        Ok(())
    }
}

impl Drop for Torch {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// A `PyTorch DataLoader w=<n>` variant per worker count, all served by `torch`.
pub(super) fn variants<'a>(torch: &'a RefCell<Torch>, workers: &[usize]) -> Vec<Variant<'a>> {
    workers
        .iter()
        .map(|&w| {
            Variant::new(
                Kind::Torch,
                format!("PyTorch DataLoader w={w}"),
                None,
                move || torch.borrow_mut().epoch(w),
            )
        })
        .collect()
}

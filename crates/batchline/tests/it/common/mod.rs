//! Shared helpers of the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use batchline::{Batch, BatchIndex, Dataset, DatasetIndex, Event, EventKind};

/// A batch that records what the actions did to it.
#[derive(Debug)]
pub struct Probe {
    pub index: BatchIndex,
    pub log: Vec<String>,
    pub values: Vec<u64>,
    live: Option<Arc<AtomicUsize>>,
}

/// Source of a [`Probe`]: an optional counter of live batches.
#[derive(Debug, Default)]
pub struct ProbeSource {
    pub live: Option<Arc<AtomicUsize>>,
}

impl Batch for Probe {
    type Id = usize;
    type Source = ProbeSource;

    fn create(index: BatchIndex, source: &Arc<ProbeSource>) -> Self {
        if let Some(live) = &source.live {
            live.fetch_add(1, Ordering::SeqCst);
        }
        Probe {
            index,
            log: Vec::new(),
            values: Vec::new(),
            live: source.live.clone(),
        }
    }

    fn index(&self) -> &BatchIndex {
        &self.index
    }

    fn merge(&mut self, other: Self) -> Result<(), batchline::ActionError> {
        let mut other = other;
        self.index.append(other.index.split_off(0));
        self.log.append(&mut other.log);
        self.values.append(&mut other.values);
        Ok(())
    }

    fn split_off(&mut self, at: usize) -> Result<Self, batchline::ActionError> {
        if at > self.len() {
            return Err(batchline::ActionError::msg("split beyond the end"));
        }
        if let Some(live) = &self.live {
            live.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Probe {
            index: self.index.split_off(at),
            log: self.log.clone(),
            values: self.values.split_off(at.min(self.values.len())),
            live: self.live.clone(),
        })
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(live) = &self.live {
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

pub fn dataset(n: usize) -> Dataset<Probe> {
    Dataset::new(DatasetIndex::from_count(n), ProbeSource::default())
}

pub fn counted_dataset(n: usize, live: Arc<AtomicUsize>) -> Dataset<Probe> {
    Dataset::new(
        DatasetIndex::from_count(n),
        ProbeSource { live: Some(live) },
    )
}

/// Runs `f` on another thread and fails the test if it takes longer than `limit` (a deadlock
/// fails instead of hanging the suite).
pub fn with_watchdog<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            handle.join().expect("the watched thread finished");
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: re-raise its panic here.
            match handle.join() {
                Err(payload) => std::panic::resume_unwind(payload),
                Ok(()) => unreachable!("sender dropped without sending"),
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: no result within {limit:?} (deadlock?)")
        }
    }
}

/// Events of one kind, as (batch, index in the event list).
pub fn positions(events: &[Event], pred: impl Fn(&EventKind) -> bool) -> Vec<(u64, usize)> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| pred(&e.kind))
        .map(|(i, e)| (e.batch, i))
        .collect()
}

/// A tiny deterministic generator for test timings (xorshift).
pub struct Jitter(pub u64);

impl Jitter {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The environment variable that tells a re-executed test binary which case to run.
pub const CHILD_VAR: &str = "BATCHLINE_IT_CHILD";

/// The case this process was started to run by [`run_child`], if it was.
pub fn child_case() -> Option<String> {
    std::env::var(CHILD_VAR).ok()
}

/// How a child process of [`run_child`] ended.
#[derive(Debug)]
pub struct ChildEnd {
    /// `None` when it was killed after the time limit.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl ChildEnd {
    /// Whether the child's test passed (it exited with status 0).
    pub fn passed(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// What went wrong, for a failure message: hung, aborted (a signal), or the test's
    /// failure, with the end of its output.
    pub fn describe(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        let how = match self.status {
            None => "hung (killed after the time limit)".to_string(),
            Some(s) if s.signal().is_some() => {
                format!("died of signal {} (abort?)", s.signal().unwrap_or(0))
            }
            Some(s) => format!("exited with {s}"),
        };
        let tail = |s: &str| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(25)..].join("\n")
        };
        format!(
            "{how}\n--- stdout\n{}\n--- stderr\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

/// Runs the test `test` (its full path, `defects::name`) of this binary in a child process
/// with [`CHILD_VAR`] set to `case` and the extra environment `envs`, on one test thread;
/// kills it after `limit`. For what may abort the process or hang for ever.
pub fn run_child(test: &str, case: &str, envs: &[(&str, &str)], limit: Duration) -> ChildEnd {
    spawn_child(test, case, envs, None, limit)
}

/// [`run_child`] with the child's address space limited to `kib` KiB (`ulimit -v`): an
/// allocation beyond it fails at once instead of eating the machine's memory.
pub fn run_child_limited(test: &str, case: &str, kib: u64, limit: Duration) -> ChildEnd {
    spawn_child(test, case, &[], Some(kib), limit)
}

fn spawn_child(
    test: &str,
    case: &str,
    envs: &[(&str, &str)],
    kib: Option<u64>,
    limit: Duration,
) -> ChildEnd {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = match kib {
        None => Command::new(exe),
        Some(kib) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
                .arg(exe);
            sh
        }
    };
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, case)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the test binary starts again");
    // Read the pipes on threads so that a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait().expect("the child can be waited for") {
            Some(status) => break Some(status),
            None if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    ChildEnd {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Runs `f`, turning a panic that escapes it into `Err(message)` (for "the panic must not
/// reach the caller" checks).
pub fn no_escape<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".into())
    })
}

/// The text (which must name `path`) and the `Debug` of the typed `ImageError` source of an
/// image action's error.
#[cfg(feature = "image")]
pub fn image_error_of(err: &batchline::PipelineError, path: &std::path::Path) -> (String, String) {
    use std::error::Error as _;
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "the error names the file: {text}"
    );
    let source = err
        .source()
        .and_then(|s| s.downcast_ref::<batchline::images::ImageError>())
        .unwrap_or_else(|| panic!("the source is the typed ImageError: {err:?}"));
    (text, format!("{source:?}"))
}

//! The randomised stress test of issue 13: each case draws k (0..=8), the batches, per-action
//! sleeps (0..2 ms), errors, panics, skips, stops, early drops, locks (an action's lock, a
//! lock section with an ordered step inside) and a resume from a checkpoint at another k, and
//! checks the exact sequence of batches and errors against a model computed without threads,
//! the k+1 bound (an observer), that no batch leaks and that the process's thread count
//! returns to where it was.
//!
//! `BATCHLINE_STRESS_CASES` sets the number of cases (default 300, a few seconds in a debug
//! build), `BATCHLINE_STRESS_SEED` the first seed; a failure prints the case's seed, and
//! `BATCHLINE_STRESS_CASES=1 BATCHLINE_STRESS_SEED=<seed>` replays it.

use crate::common;

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::{Action, ActionError, Context, Event, EventKind, Pipeline, PipelineError, RunSpec};
use common::{counted_dataset, no_escape, with_watchdog, Jitter, Probe};

/// What the fate step does to batch `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fate {
    Fine,
    Fail,
    Panic,
    Skip,
    Stop,
}

/// How the case's steps use locks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Locks {
    None,
    /// The fate step under `lock("L")`.
    ActionLock,
    /// `acquire_lock("L")`, the fate step, an ordered step, `release_lock("L")`.
    OrderedInSection,
    /// The fate step, then an ordered step.
    Ordered,
}

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    k: usize,
    n: usize,
    bs: usize,
    ignore: bool,
    /// Batches taken before an early drop (`usize::MAX`: none).
    take: usize,
    max_us: u64,
    locks: Locks,
    /// Resume after this many items at prefetch `.1` (only without an early drop).
    resume: Option<(usize, usize)>,
}

impl Case {
    fn draw(seed: u64) -> Self {
        let mut j = Jitter(seed | 1);
        let k = j.below(9) as usize;
        let n = 4 + j.below(48) as usize;
        let bs = 1 + j.below(3) as usize;
        let ignore = j.below(2) == 0;
        let take = if j.below(4) == 0 {
            j.below(8) as usize
        } else {
            usize::MAX
        };
        let max_us = j.below(2000);
        let locks = match j.below(4) {
            0 => Locks::None,
            1 => Locks::ActionLock,
            2 => Locks::OrderedInSection,
            _ => Locks::Ordered,
        };
        let resume = (take == usize::MAX && j.below(3) == 0)
            .then(|| (j.below(n.div_ceil(bs) as u64) as usize, j.below(9) as usize));
        let mut case = Case {
            seed,
            k,
            n,
            bs,
            ignore,
            take,
            max_us,
            locks,
            resume,
        };
        // A checkpoint is taken between two delivered batches, before any error.
        let delivered = case.model().iter().take_while(|r| r.is_ok()).count();
        case.resume = case.resume.filter(|&(at, _)| at <= delivered);
        case
    }

    fn fate(&self, b: u64) -> Fate {
        match Jitter(self.seed ^ (b.wrapping_mul(0x9e37_79b9) + 1)).below(40) {
            0 | 1 => Fate::Fail,
            2 => Fate::Panic,
            3 | 4 => Fate::Skip,
            5 => Fate::Stop,
            _ => Fate::Fine,
        }
    }

    /// The expected items, computed without threads: batch numbers, or the failing batch.
    fn model(&self) -> Vec<Result<u64, u64>> {
        let total = self.n.div_ceil(self.bs) as u64;
        let mut out = Vec::new();
        for b in 0..total {
            match self.fate(b) {
                Fate::Fine => out.push(Ok(b)),
                Fate::Skip => {}
                Fate::Fail | Fate::Panic if self.ignore => {}
                Fate::Fail | Fate::Panic => {
                    out.push(Err(b));
                    break;
                }
                Fate::Stop => break,
            }
        }
        out.truncate(self.take);
        out
    }

    fn pipeline(
        &self,
        live: Arc<AtomicUsize>,
        ordered_seen: Arc<Mutex<Vec<u64>>>,
    ) -> Pipeline<Probe> {
        let me = self.clone();
        let (seed, max_us) = (self.seed, self.max_us);
        let nap = move |ctx: &Context, salt: u64| {
            let us = Jitter(seed ^ salt ^ (ctx.batch() + 1).wrapping_mul(31)).below(max_us + 1);
            sleep(Duration::from_micros(us));
        };
        let fate = Action::new("fate", move |b: &mut Probe, ctx: &mut Context| {
            b.values.push(ctx.batch());
            nap(ctx, 2);
            match me.fate(ctx.batch()) {
                Fate::Fine => Ok(()),
                Fate::Fail => Err(ActionError::msg("failed")),
                Fate::Panic => panic!("panicked"),
                Fate::Skip => Err(ActionError::skip_batch()),
                Fate::Stop => Err(ActionError::stop_run()),
            }
        });
        let log = Action::new("log", move |_: &mut Probe, ctx: &mut Context| {
            ordered_seen.lock().unwrap().push(ctx.batch());
        })
        .ordered();
        let p = counted_dataset(self.n, live)
            .p()
            .apply("sleep", move |_: &mut Probe, ctx: &mut Context| nap(ctx, 1));
        match self.locks {
            Locks::None => p.push(fate),
            Locks::ActionLock => p.push(fate.lock("L")),
            Locks::OrderedInSection => p.acquire_lock("L").push(fate).push(log).release_lock("L"),
            Locks::Ordered => p.push(fate).push(log),
        }
    }
}

/// The most batches created and not released at once, from the events.
#[derive(Clone, Default)]
struct BoundCheck {
    now: Arc<AtomicI64>,
    most: Arc<AtomicI64>,
}

impl BoundCheck {
    fn on(&self, e: &Event) {
        match e.kind {
            EventKind::BatchCreated => {
                let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
                self.most.fetch_max(n, Ordering::SeqCst);
            }
            EventKind::BatchReleased => {
                self.now.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}

fn item(r: Result<Probe, PipelineError>) -> Result<u64, u64> {
    r.map(|b| b.values[0])
        .map_err(|e| e.batch().expect("a batch's error names it"))
}

/// The process's thread count (`Threads:` of /proc/self/status).
fn threads() -> Option<usize> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs one case; what went wrong, if anything.
fn run_case(case: &Case) -> Result<(), String> {
    let live = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let p = case.pipeline(Arc::clone(&live), Arc::clone(&seen));
    let (bound1, bound2) = (BoundCheck::default(), BoundCheck::default());
    let (bs, ignore) = (case.bs, case.ignore);
    let spec = move |k: usize, bound: &BoundCheck| {
        let bound = bound.clone();
        RunSpec::new(bs)
            .prefetch(k)
            .ignore_errors(ignore)
            .observer(move |e: &Event| bound.on(e))
    };
    let c = case.clone();
    let (b1, b2) = (bound1.clone(), bound2.clone());
    let got = no_escape(|| {
        with_watchdog(Duration::from_secs(10), move || {
            let mut iter = p.gen_batch(&spec(c.k, &b1)).map_err(|e| e.to_string())?;
            let mut got = Vec::new();
            match c.resume {
                None => got.extend(iter.by_ref().take(c.take).map(item)),
                Some((at, k2)) => {
                    got.extend(iter.by_ref().take(at).map(item));
                    let cp = iter.checkpoint().map_err(|e| e.to_string())?;
                    drop(iter);
                    let rest = p.resume(&spec(k2, &b2), &cp).map_err(|e| e.to_string())?;
                    got.extend(rest.map(item));
                }
            }
            Ok::<_, String>(got)
        })
    })
    .map_err(|panic| format!("panicked or hung: {panic}"))??;
    let expected = case.model();
    if got != expected {
        return Err(format!("items {got:?}, expected {expected:?}"));
    }
    if live.load(Ordering::SeqCst) != 0 {
        return Err(format!("{} batches leaked", live.load(Ordering::SeqCst)));
    }
    let k2 = case.resume.map_or(0, |r| r.1);
    for (bound, k) in [(&bound1, case.k), (&bound2, k2)] {
        let most = bound.most.load(Ordering::SeqCst);
        if most > k as i64 + 1 {
            return Err(format!(
                "{most} batches created and not released with k = {k}"
            ));
        }
    }
    if case.resume.is_none() && matches!(case.locks, Locks::Ordered | Locks::OrderedInSection) {
        let seen = seen.lock().unwrap();
        if seen.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("the ordered step saw {seen:?}"));
        }
    }
    Ok(())
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn random_cases_match_the_model_keep_the_bound_and_leave_no_thread() {
    let cases = env_u64("BATCHLINE_STRESS_CASES").unwrap_or(300);
    let first = env_u64("BATCHLINE_STRESS_SEED").unwrap_or(0x5eed_0013);
    with_watchdog(Duration::from_secs(30 + cases / 2), move || {
        let mut seeds = Jitter(first);
        for i in 0..cases {
            let seed = if i == 0 { first } else { seeds.next() };
            let case = Case::draw(seed);
            let before = threads();
            if let Err(what) = run_case(&case) {
                panic!(
                    "case {i} failed: {what}\n  {case:?}\n  replay: BATCHLINE_STRESS_CASES=1 \
                     BATCHLINE_STRESS_SEED={seed}"
                );
            }
            // Other tests of the binary may start and end threads meanwhile: wait a little
            // for the count to come back to at most where it was.
            if let Some(before) = before {
                let start = Instant::now();
                while threads().is_some_and(|t| t > before) {
                    if start.elapsed() > Duration::from_secs(2) {
                        panic!(
                            "case {i}: {} threads after the case, {before} before\n  {case:?}\n  \
                             replay: BATCHLINE_STRESS_CASES=1 BATCHLINE_STRESS_SEED={seed}",
                            threads().unwrap_or(0)
                        );
                    }
                    sleep(Duration::from_millis(5));
                }
            }
        }
    });
}

//! Randomised stress: random prefetch, timings, errors, panics, skips, locks and early drops,
//! each case under a watchdog so that a deadlock fails instead of hanging; each case checks
//! the sequence of batches and errors, the k+1 bound (an observer counts the batches created
//! and not released) and that no batch leaks.

use crate::common;

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use batchline::{Action, ActionError, Context, Event, EventKind, RunSpec};
use common::{counted_dataset, with_watchdog, Jitter, Probe};

/// What a case's action does to batch `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fate {
    Fine,
    Fail,
    Panic,
    Skip,
}

fn fate(seed: u64, b: u64) -> Fate {
    match Jitter(seed ^ (b.wrapping_mul(0x9e37_79b9) + 1)).below(20) {
        0 => Fate::Fail,
        1 => Fate::Panic,
        2 => Fate::Skip,
        _ => Fate::Fine,
    }
}

/// Counts the batches created and not released (`BatchCreated` minus `BatchReleased`) and
/// keeps the most at once. The consumer reports a release before it lets the next batch be
/// created, so the count never runs ahead of the executor's own.
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

#[test]
fn random_cases_keep_order_bounds_and_never_hang() {
    let cases = if cfg!(debug_assertions) { 60 } else { 200 };
    let mut j = Jitter(0xdead_beef_cafe);
    for case in 0..cases {
        let k = j.below(9) as usize;
        let n = 4 + j.below(60) as usize;
        let bs = 1 + j.below(3) as usize;
        let ignore = j.below(2) == 0;
        let take = if j.below(3) == 0 {
            j.below(10) as usize
        } else {
            usize::MAX
        };
        let seed = j.next();
        let max_us = j.below(1500);
        let live = Arc::new(AtomicUsize::new(0));
        let l = Arc::clone(&live);
        let bound = BoundCheck::default();
        let observer = bound.clone();
        let (got, report) = with_watchdog(Duration::from_secs(30), move || {
            let p = counted_dataset(n, l)
                .p()
                .apply("sleep", move |_: &mut Probe, ctx: &mut Context| {
                    sleep(Duration::from_micros(
                        Jitter(seed ^ ctx.batch()).below(max_us + 1),
                    ));
                })
                .push(
                    Action::new("fate", move |b: &mut Probe, ctx: &mut Context| {
                        b.values.push(ctx.batch());
                        match fate(seed, ctx.batch()) {
                            Fate::Fine => Ok(()),
                            Fate::Fail => Err(ActionError::msg("failed")),
                            Fate::Panic => panic!("panicked"),
                            Fate::Skip => Err(ActionError::skip_batch()),
                        }
                    })
                    .lock("fate")
                    .ordered(),
                );
            let mut iter = p
                .gen_batch(
                    &RunSpec::new(bs)
                        .prefetch(k)
                        .ignore_errors(ignore)
                        .observer(move |e: &Event| observer.on(e)),
                )
                .unwrap();
            let got: Vec<Result<u64, u64>> = iter
                .by_ref()
                .take(take)
                .map(|r| r.map(|b| b.values[0]).map_err(|e| e.batch().unwrap()))
                .collect();
            (got, iter.report())
        });
        // The expected sequence, computed sequentially.
        let total = n.div_ceil(bs) as u64;
        let mut expected = Vec::new();
        for b in 0..total {
            match fate(seed, b) {
                Fate::Fine => expected.push(Ok(b)),
                Fate::Skip => {}
                Fate::Fail | Fate::Panic if ignore => {}
                Fate::Fail | Fate::Panic => {
                    expected.push(Err(b));
                    break;
                }
            }
        }
        expected.truncate(take);
        assert_eq!(
            got, expected,
            "case {case}: k={k} n={n} bs={bs} ignore={ignore} take={take}"
        );
        if take == usize::MAX {
            assert_eq!(
                report.batches,
                got.iter().filter(|r| r.is_ok()).count() as u64
            );
        }
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "case {case}: a batch leaked"
        );
        let most = bound.most.load(Ordering::SeqCst);
        assert!(
            most <= k as i64 + 1,
            "case {case}: {most} batches created and not released at once with k = {k}"
        );
        if !got.is_empty() {
            assert!(most >= 1, "case {case}: the observer saw the batches");
        }
    }
}

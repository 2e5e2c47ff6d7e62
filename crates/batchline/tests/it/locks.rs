//! Action locks: exclusion, named locks, ordered locks, release on error and panic.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::Duration;

use batchline::{Action, ActionError, Context, EventKind, EventRecorder, RunSpec};
use common::{dataset, with_watchdog, Jitter, Probe};

const LIMIT: Duration = Duration::from_secs(60);

/// Counts how many threads are inside a section at once and keeps the maximum.
#[derive(Default, Clone)]
struct Concurrency {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

impl Concurrency {
    fn section(&self, d: Duration) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        sleep(d);
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

#[test]
fn a_locked_action_runs_one_batch_at_a_time_while_others_overlap() {
    let (free, locked) = (Concurrency::default(), Concurrency::default());
    let (f, l) = (free.clone(), locked.clone());
    let recorder = EventRecorder::new();
    let rec = recorder.clone();
    with_watchdog(LIMIT, move || {
        dataset(24)
            .p()
            .apply("free", move |_: &mut Probe, _: &mut Context| {
                f.section(Duration::from_millis(10))
            })
            .push(
                Action::new("only_one", move |_: &mut Probe, _: &mut Context| {
                    l.section(Duration::from_millis(3))
                })
                .lock("only_one"),
            )
            .run(&RunSpec::new(2).prefetch(5).observer(rec))
            .unwrap()
    });
    assert_eq!(locked.max(), 1, "the locked action never overlaps itself");
    assert!(
        free.max() > 1,
        "unlocked actions do overlap ({})",
        free.max()
    );
    let waits = recorder
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::LockWaiting { .. }))
        .count();
    assert!(waits > 0, "some batch waited for the lock");
}

#[test]
fn a_named_lock_is_shared_by_every_action_that_names_it() {
    let shared = Concurrency::default();
    let (a, b) = (shared.clone(), shared.clone());
    with_watchdog(LIMIT, move || {
        dataset(20)
            .p()
            .push(
                Action::new("first", move |_: &mut Probe, _: &mut Context| {
                    a.section(Duration::from_millis(2))
                })
                .lock("db"),
            )
            .apply("between", |_: &mut Probe, _: &mut Context| {
                sleep(Duration::from_millis(2))
            })
            .push(
                Action::new("second", move |_: &mut Probe, _: &mut Context| {
                    b.section(Duration::from_millis(2))
                })
                .lock("db"),
            )
            .run(&RunSpec::new(1).prefetch(7))
            .unwrap()
    });
    assert_eq!(shared.max(), 1);
}

#[test]
fn pipeline_lock_sections_are_exclusive_and_released() {
    let section = Concurrency::default();
    let (a, b) = (section.clone(), section.clone());
    with_watchdog(LIMIT, move || {
        dataset(16)
            .p()
            .acquire_lock("section")
            .apply("one", move |_: &mut Probe, _: &mut Context| {
                a.section(Duration::from_millis(1))
            })
            .apply("two", move |_: &mut Probe, _: &mut Context| {
                b.section(Duration::from_millis(1))
            })
            .release_lock("section")
            .apply("after", |_: &mut Probe, _: &mut Context| {
                sleep(Duration::from_millis(3))
            })
            .run(&RunSpec::new(1).prefetch(4))
            .unwrap()
    });
    assert_eq!(section.max(), 1);
}

#[test]
fn misused_lock_steps_are_errors() {
    let err = dataset(4)
        .p()
        .release_lock("x")
        .run(&RunSpec::new(2))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "batch 0 [0, 1]: lock \"x\": release_lock on a lock the batch does not hold"
    );
    let err = dataset(4)
        .p()
        .acquire_lock("x")
        .acquire_lock("x")
        .run(&RunSpec::new(2).prefetch(2))
        .unwrap_err();
    assert!(err.to_string().contains("already holds"), "{err}");
    // A lock left held at the end of the pipeline is released with the batch.
    let report = with_watchdog(LIMIT, || {
        dataset(8)
            .p()
            .acquire_lock("y")
            .run(&RunSpec::new(1).prefetch(3))
            .unwrap()
    });
    assert_eq!(report.batches, 8);
}

#[test]
fn an_ordered_action_sees_batches_in_order_for_any_prefetch() {
    for k in [0usize, 1, 3, 7] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        with_watchdog(LIMIT, move || {
            dataset(30)
                .p()
                .apply("jitter", move |_: &mut Probe, ctx: &mut Context| {
                    let mut j = Jitter(ctx.batch() * 0x2545_f491 + 7 + k as u64);
                    sleep(Duration::from_micros(j.below(4000)));
                })
                .push(
                    Action::new("append", move |b: &mut Probe, ctx: &mut Context| {
                        s.lock()
                            .unwrap()
                            .push((ctx.batch(), b.index.ids().to_vec()));
                    })
                    .lock("file")
                    .ordered(),
                )
                .run(&RunSpec::new(2).shuffle(3).prefetch(k))
                .unwrap()
        });
        let seen = seen.lock().unwrap();
        let numbers: Vec<u64> = seen.iter().map(|s| s.0).collect();
        assert_eq!(numbers, (0..15).collect::<Vec<_>>(), "k = {k}");
    }
}

#[test]
fn ordered_turns_pass_over_skipped_and_failed_batches() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let report = with_watchdog(LIMIT, move || {
        dataset(20)
            .p()
            .apply("maybe", |_: &mut Probe, ctx: &mut Context| {
                match ctx.batch() % 5 {
                    1 => Err(ActionError::skip_batch()),
                    3 => Err(ActionError::msg("bad batch")),
                    _ => {
                        sleep(Duration::from_millis(20 - ctx.batch()));
                        Ok(())
                    }
                }
            })
            .push(
                Action::new("record", move |_: &mut Probe, ctx: &mut Context| {
                    s.lock().unwrap().push(ctx.batch())
                })
                .ordered(),
            )
            .run(&RunSpec::new(1).prefetch(6).ignore_errors(true))
            .unwrap()
    });
    assert_eq!(report.skipped, 4);
    assert_eq!(report.failed, 4);
    let expected: Vec<u64> = (0..20).filter(|b| b % 5 != 1 && b % 5 != 3).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
}

#[test]
fn errors_and_panics_inside_a_lock_release_it() {
    for k in [0usize, 3] {
        let report = with_watchdog(LIMIT, move || {
            dataset(12)
                .p()
                .push(
                    Action::new("fragile", |_: &mut Probe, ctx: &mut Context| {
                        sleep(Duration::from_millis(1));
                        match ctx.batch() % 4 {
                            1 => Err(ActionError::msg("failed while locked")),
                            2 => panic!("panicked while locked"),
                            _ => Ok(()),
                        }
                    })
                    .lock("l")
                    .ordered(),
                )
                .acquire_lock("section")
                .apply("inside section", |_: &mut Probe, ctx: &mut Context| {
                    if ctx.batch() == 4 {
                        panic!("panic inside a pipeline lock section");
                    }
                })
                .release_lock("section")
                .run(&RunSpec::new(1).prefetch(k).ignore_errors(true))
                .unwrap()
        });
        assert_eq!(report.failed, 7, "k = {k}"); // batches 1, 2, 4, 5, 6, 9, 10
        assert_eq!(report.batches, 5, "k = {k}");
    }
}

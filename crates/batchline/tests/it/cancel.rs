//! Dropping the iterator early: prompt, no action after the drop, every worker joined.

use crate::common;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::{Context, Event, EventKind, RunSpec};
use common::{dataset, with_watchdog, Jitter, Probe};

/// Decrements a counter when the thread that holds it exits.
struct ThreadExit(Arc<AtomicUsize>);

impl Drop for ThreadExit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    static EXIT: RefCell<Option<ThreadExit>> = const { RefCell::new(None) };
}

/// Counts the threads that ran an action and have not exited yet.
fn register_thread(live: &Arc<AtomicUsize>) {
    EXIT.with(|e| {
        let mut e = e.borrow_mut();
        if e.is_none() {
            live.fetch_add(1, Ordering::SeqCst);
            *e = Some(ThreadExit(Arc::clone(live)));
        }
    });
}

#[test]
fn breaking_out_stops_promptly_and_joins_every_worker() {
    let live_threads = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let started_after_drop = Arc::new(AtomicUsize::new(0));
    let (lt, d, s) = (
        Arc::clone(&live_threads),
        Arc::clone(&dropped),
        Arc::clone(&started_after_drop),
    );
    let flag = Arc::clone(&dropped);
    let (drop_time, full_time_estimate) = with_watchdog(Duration::from_secs(60), move || {
        let observer = move |e: &Event| {
            if matches!(e.kind, EventKind::ActionStarted { .. }) && d.load(Ordering::SeqCst) {
                s.fetch_add(1, Ordering::SeqCst);
            }
        };
        let action_ms = 50;
        let mut p = dataset(400).p();
        for name in ["a1", "a2", "a3"] {
            let lt = Arc::clone(&lt);
            p = p.apply(name, move |_: &mut Probe, _: &mut Context| {
                register_thread(&lt);
                sleep(Duration::from_millis(action_ms));
            });
        }
        let mut iter = p
            .gen_batch(&RunSpec::new(4).prefetch(7).observer(observer))
            .unwrap();
        for _ in 0..2 {
            iter.next().unwrap().unwrap();
        }
        let t = Instant::now();
        drop(iter);
        let drop_time = t.elapsed();
        flag.store(true, Ordering::SeqCst);
        (drop_time, Duration::from_millis(100 * 3 * action_ms / 8))
    });
    // Each in-flight batch finishes at most its current action (50 ms) before stopping.
    assert!(
        drop_time < Duration::from_millis(1000),
        "drop took {drop_time:?}"
    );
    assert!(drop_time < full_time_estimate);
    assert_eq!(
        live_threads.load(Ordering::SeqCst),
        0,
        "every worker thread has exited"
    );
    assert_eq!(started_after_drop.load(Ordering::SeqCst), 0);
}

#[test]
fn early_drops_at_random_points_never_hang_or_leak() {
    let mut j = Jitter(42);
    for _ in 0..20 {
        let k = j.below(8) as usize;
        let take = j.below(6) as usize;
        let seed = j.next();
        let live = Arc::new(AtomicUsize::new(0));
        let l = Arc::clone(&live);
        with_watchdog(Duration::from_secs(30), move || {
            let p = common::counted_dataset(64, l).p().apply(
                "work",
                move |_: &mut Probe, ctx: &mut Context| {
                    let mut j = Jitter(seed ^ (ctx.batch() + 1));
                    sleep(Duration::from_micros(j.below(3000)));
                },
            );
            let iter = p.gen_batch(&RunSpec::new(2).prefetch(k)).unwrap();
            for b in iter.take(take) {
                b.unwrap();
            }
        });
        assert_eq!(live.load(Ordering::SeqCst), 0, "every batch was dropped");
    }
}

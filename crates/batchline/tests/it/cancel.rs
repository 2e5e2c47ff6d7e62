//! Dropping the iterator early: prompt, no action after the drop, every worker joined.

use crate::common;

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::{Action, Context, Event, EventKind, RunSpec};
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

/// k = 7, three 100 ms actions per batch (plain, or the middle one under a lock): dropping
/// the iterator after two batches returns within about one action's time, no action starts
/// after the drop began, and every worker thread has exited when `drop` returns.
///
/// "Started after the drop began" means an `ActionStarted` event more than [`GRACE`] after
/// the moment `drop` is called. A worker checks for cancellation just before it emits that
/// event, so an action whose check passed an instant before the drop may report its start
/// an instant after it: that is an action started before the drop, and the grace (far below
/// the 100 ms between action starts) keeps it from being counted on a loaded machine.
///
/// Without cancellation the in-flight batches run their remaining actions after the drop
/// (actions start after it), and with the lock the six queued batches run their 100 ms
/// locked action one after the other (600 ms and more): the 400 ms allowed for the drop
/// (one 100 ms action, with a generous margin for a loaded machine) fails then.
/// How long after `drop` is called an action's start still counts as before the drop.
const GRACE: Duration = Duration::from_millis(10);

#[test]
fn breaking_out_stops_within_one_action_and_joins_every_worker() {
    for locked in [false, true] {
        let live_threads = Arc::new(AtomicUsize::new(0));
        let drop_began: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
        let started_after_drop = Arc::new(Mutex::new(Vec::new()));
        let (lt, d, s) = (
            Arc::clone(&live_threads),
            Arc::clone(&drop_began),
            Arc::clone(&started_after_drop),
        );
        let began = Arc::clone(&drop_began);
        let (drop_time, threads_at_drop_end) = with_watchdog(Duration::from_secs(60), move || {
            let observer = move |e: &Event| {
                if let EventKind::ActionStarted { action } = &e.kind {
                    let late = d.get().map(|t| t.elapsed()).filter(|late| *late > GRACE);
                    if let Some(late) = late {
                        s.lock()
                            .unwrap()
                            .push(format!("{action} of batch {} {late:?} after", e.batch));
                    }
                }
            };
            let action_ms = 100;
            let mut p = dataset(400).p();
            for name in ["a1", "a2", "a3"] {
                let lt = Arc::clone(&lt);
                let action = Action::new(name, move |_: &mut Probe, _: &mut Context| {
                    register_thread(&lt);
                    sleep(Duration::from_millis(action_ms));
                });
                p = p.push(if locked && name == "a2" {
                    action.lock("L")
                } else {
                    action
                });
            }
            let mut iter = p
                .gen_batch(&RunSpec::new(4).prefetch(7).observer(observer))
                .unwrap();
            for _ in 0..2 {
                iter.next().unwrap().unwrap();
            }
            // Batches 0..7 ran side by side and are done; batch 8 (created when batch 0 was
            // released) starts now: halfway through its second action, it is in flight.
            sleep(Duration::from_millis(150));
            let t = Instant::now();
            began.set(t).unwrap();
            drop(iter);
            (t.elapsed(), lt.load(Ordering::SeqCst))
        });
        let what = if locked { "locked" } else { "plain" };
        let late = started_after_drop.lock().unwrap();
        assert!(
            late.is_empty(),
            "{what}: actions started after the drop began (drop took {drop_time:?}): {late:?}"
        );
        assert!(
            drop_time < Duration::from_millis(400),
            "{what}: drop took {drop_time:?}, more than one action's time (100 ms) and the margin"
        );
        assert_eq!(
            threads_at_drop_end, 0,
            "{what}: every worker thread has exited when drop returns"
        );
    }
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

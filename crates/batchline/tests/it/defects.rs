//! The defects of issue 13 (executor v2), one test each, against the public API: each states
//! the behaviour the issue requires and runs under a watchdog (or in a child process where the
//! old behaviour aborts the process), so a hang fails instead of hanging the suite.

use crate::common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::{
    Action, ActionError, Arg, Batch, BatchIndex, Context, Dataset, DatasetIndex, Event, EventKind,
    PipelineError, RunEnd, RunSpec, Update,
};
use common::{dataset, no_escape, with_watchdog, Probe};

const LIMIT: Duration = Duration::from_secs(30);

/// What the consumer got: the batch's number, or the error's batch number (`None` for an
/// error on no batch) and text.
type Got = Result<u64, (Option<u64>, String)>;

fn got(r: Result<Probe, PipelineError>) -> Got {
    r.map(|b| b.index.ids()[0] as u64)
        .map_err(|e| (e.batch(), e.to_string()))
}

/// `[Ok(0), …, Ok(n - 1), Err(batch n)]`, whatever the error's text.
fn assert_error_at(items: &[Got], n: u64, what: &str) {
    let oks: Vec<u64> = (0..n).collect();
    let got_oks: Vec<u64> = items
        .iter()
        .map_while(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(
        got_oks, oks,
        "{what}: the batches before the failing one, in order"
    );
    match items.get(n as usize) {
        Some(Err((batch, _))) => {
            assert_eq!(
                *batch,
                Some(n),
                "{what}: the error is at batch {n}: {items:?}"
            )
        }
        other => panic!("{what}: expected an error at batch {n}, got {other:?} in {items:?}"),
    }
    assert_eq!(
        items.len() as u64,
        n + 1,
        "{what}: the run ends there: {items:?}"
    );
}

/// Waits up to 3 s for `flag`; whether it came (a wait that breaks a would-be deadlock).
fn wait_for(flag: &AtomicBool) -> bool {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        if start.elapsed() > Duration::from_secs(3) {
            return false;
        }
        sleep(Duration::from_millis(1));
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Defect 1: dead workers read as the end of the data.

/// Defect 1: a worker that unwinds outside an action must deliver a failure for its batch;
/// the run must never end as `Completed` with batches missing.
///
/// Today's sampler calls no user code, so its panic cannot be provoked from the public API;
/// this provokes the same death of every worker with the user code that runs outside the
/// action's `catch_unwind` (an observer that panics on `BatchFailed`, every batch failing).
/// Today: every worker dies, the consumer sees no live worker and the run "completes" with
/// no batch and no error.
#[test]
fn d1_workers_that_die_never_end_the_run_as_completed() {
    for k in [1usize, 3] {
        let (items, report) = with_watchdog(LIMIT, move || {
            let observer = |e: &Event| {
                if e.kind == EventKind::BatchFailed {
                    panic!("observer panics on BatchFailed");
                }
            };
            let p = dataset(16)
                .p()
                .apply("fail", |_: &mut Probe, _: &mut Context| {
                    Err::<(), _>(ActionError::msg("bad batch"))
                });
            let mut iter = p
                .gen_batch(&RunSpec::new(2).prefetch(k).observer(observer))
                .unwrap();
            let items = no_escape(|| iter.by_ref().map(got).collect::<Vec<_>>());
            (items, iter.report())
        });
        let items = items.unwrap_or_else(|m| panic!("k = {k}: a panic reached next(): {m}"));
        assert_error_at(&items, 0, &format!("k = {k}"));
        assert_eq!(report.end, RunEnd::Failed, "k = {k}: {report:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 3: an ordered step inside a lock section.

/// Defect 3: `acquire_lock("L")`, an ordered step, `release_lock("L")` at k = 3 over 40
/// batches either works (the ordered step sees every batch in order) or is refused when the
/// run starts with an error naming both the lock and the step; never a hang. Today: a
/// deadlock (the watchdog fires).
#[test]
fn d3_an_ordered_step_inside_a_lock_section_works_or_is_refused() {
    for variant in ["ordered action", "update_variable"] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let (result, variable) = with_watchdog(LIMIT, move || {
            let p = dataset(40)
                .p()
                .init_variable("seen", Vec::<u64>::new())
                .apply("jitter", |_: &mut Probe, ctx: &mut Context| {
                    sleep(Duration::from_micros((ctx.batch() * 7919) % 1500));
                })
                .acquire_lock("L");
            let p = if variant == "ordered action" {
                p.push(
                    Action::new("log", move |_: &mut Probe, ctx: &mut Context| {
                        s.lock().unwrap().push(ctx.batch());
                    })
                    .ordered(),
                )
            } else {
                p.update_variable("seen", Update::append(Arg::batch_number()))
            }
            .release_lock("L");
            let result = p.run(&RunSpec::new(1).prefetch(3));
            let variable: Vec<u64> = p.variables().get("seen").unwrap();
            (result, variable)
        });
        let seen = if variant == "ordered action" {
            seen.lock().unwrap().clone()
        } else {
            variable
        };
        match result {
            Ok(report) => {
                assert_eq!(report.batches, 40, "{variant}");
                assert_eq!(seen, (0..40).collect::<Vec<_>>(), "{variant}: batch order");
            }
            Err(err) => {
                let text = err.to_string();
                let step = if variant == "ordered action" {
                    "log"
                } else {
                    "update_variable"
                };
                assert!(
                    text.contains("\"L\"") || text.contains("`L`") || text.contains(" L "),
                    "{variant}: the refusal names the lock: {text}"
                );
                assert!(
                    text.contains(step),
                    "{variant}: the refusal names the step: {text}"
                );
                assert_eq!(err.batch(), None, "{variant}: refused at start: {text}");
                assert!(seen.is_empty(), "{variant}: refused before any batch ran");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 4: ordered gates and user locks in one namespace.

/// Defect 4: an ordered action named `db` and a user lock `db` (an action's `lock("db")`, or
/// an `acquire_lock("db")` section) do not exclude each other. Batch 0 sits in the ordered
/// `db` until batch 1 is inside the user's `db` lock; batch 1 enters it only once batch 0 is
/// in `db`. Shared, batch 0 waits 3 s in vain. Today: they share one mutex.
#[test]
fn d4_an_ordered_action_does_not_take_a_user_lock_of_its_name() {
    for variant in ["Action::lock", "acquire_lock"] {
        let (in_db, in_user) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let met = Arc::new(AtomicBool::new(false));
        let (d1, d2, u1, u2, m) = (
            Arc::clone(&in_db),
            Arc::clone(&in_db),
            Arc::clone(&in_user),
            Arc::clone(&in_user),
            Arc::clone(&met),
        );
        with_watchdog(LIMIT, move || {
            let user = move |_: &mut Probe, ctx: &mut Context| {
                if ctx.batch() == 1 {
                    u1.store(true, Ordering::SeqCst);
                }
            };
            let p = dataset(2).p().apply(
                "wait for batch 0 in db",
                move |_: &mut Probe, ctx: &mut Context| {
                    if ctx.batch() == 1 {
                        wait_for(&d1);
                    }
                },
            );
            let p = if variant == "Action::lock" {
                p.push(Action::new("user", user).lock("db"))
            } else {
                p.acquire_lock("db").apply("user", user).release_lock("db")
            };
            p.push(
                Action::new("db", move |_: &mut Probe, ctx: &mut Context| {
                    if ctx.batch() == 0 {
                        d2.store(true, Ordering::SeqCst);
                        m.store(wait_for(&u2), Ordering::SeqCst);
                    }
                })
                .ordered(),
            )
            .run(&RunSpec::new(1).prefetch(1))
            .unwrap()
        });
        assert!(
            met.load(Ordering::SeqCst),
            "{variant}: batch 1 could not take the user's lock \"db\" while batch 0 was in the \
             ordered action \"db\": they share a mutex"
        );
    }
}

/// Defect 4 (internal gates): two `print` steps do not share a lock. Batch 0 waits in the
/// second print until batch 1 has written in the first one. Today: every print step takes
/// the lock `"print"`.
#[test]
fn d4_two_print_steps_do_not_share_a_lock() {
    type OnWrite = Box<dyn FnMut(&[u8]) + Send>;
    struct Out {
        line: Vec<u8>,
        on_write: OnWrite,
    }
    impl Write for Out {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.line.extend_from_slice(buf);
            (self.on_write)(&self.line);
            if buf.contains(&b'\n') {
                self.line.clear();
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let first_wrote_1 = Arc::new(AtomicBool::new(false));
    let met = Arc::new(AtomicBool::new(false));
    let (f1, f2, m) = (
        Arc::clone(&first_wrote_1),
        Arc::clone(&first_wrote_1),
        Arc::clone(&met),
    );
    let first = Out {
        line: Vec::new(),
        on_write: Box::new(move |line| {
            if line.starts_with(b"1") {
                f1.store(true, Ordering::SeqCst);
            }
        }),
    };
    let second = Out {
        line: Vec::new(),
        on_write: Box::new(move |line| {
            if line == b"0" {
                m.store(wait_for(&f2), Ordering::SeqCst);
            }
        }),
    };
    with_watchdog(LIMIT, move || {
        dataset(2)
            .p()
            .print_to(first, Arg::batch_number())
            .print_to(second, Arg::batch_number())
            .run(&RunSpec::new(1).prefetch(1))
            .unwrap()
    });
    assert!(
        met.load(Ordering::SeqCst),
        "batch 1 could not print in the first print step while batch 0 was in the second"
    );
}

// ---------------------------------------------------------------------------------------------
// Defect 5: cancellation and lock waits.

/// Defect 5: k = 7, a 100 ms action under lock `L`, the iterator dropped after one batch:
/// no locked action starts after the drop began, and the drop returns within about one
/// action's time (400 ms allowed; without cancellation of lock waits it takes 600 ms and
/// more: six queued batches run their 100 ms action one after the other). Today (the
/// `Action::lock` variant): about 700 ms and 6 actions started after the drop.
#[test]
fn d5_dropping_reaches_batches_that_wait_for_a_lock() {
    for variant in ["Action::lock", "acquire_lock"] {
        let dropping = Arc::new(AtomicBool::new(false));
        let started_after = Arc::new(AtomicUsize::new(0));
        let (d, s, flag) = (
            Arc::clone(&dropping),
            Arc::clone(&started_after),
            Arc::clone(&dropping),
        );
        let drop_time = with_watchdog(LIMIT, move || {
            let observer = move |e: &Event| {
                if matches!(&e.kind, EventKind::ActionStarted { action } if &**action == "locked")
                    && d.load(Ordering::SeqCst)
                {
                    s.fetch_add(1, Ordering::SeqCst);
                }
            };
            let locked = |_: &mut Probe, _: &mut Context| sleep(Duration::from_millis(100));
            let p = dataset(40).p();
            let p = if variant == "Action::lock" {
                p.push(Action::new("locked", locked).lock("L"))
            } else {
                p.acquire_lock("L")
                    .apply("locked", locked)
                    .release_lock("L")
            };
            let mut iter = p
                .gen_batch(&RunSpec::new(1).prefetch(7).observer(observer))
                .unwrap();
            iter.next().unwrap().unwrap();
            // Batch 0 released L as it finished: let the batch that takes it next start its
            // action (well before the drop, on a loaded machine too), so that every start
            // counted below is one the drop should have prevented.
            sleep(Duration::from_millis(30));
            // Armed before the drop begins.
            flag.store(true, Ordering::SeqCst);
            let t = Instant::now();
            drop(iter);
            t.elapsed()
        });
        assert_eq!(
            started_after.load(Ordering::SeqCst),
            0,
            "{variant}: locked actions started after the drop began (drop took {drop_time:?})"
        );
        assert!(
            drop_time < Duration::from_millis(400),
            "{variant}: drop took {drop_time:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 7: hooks when a worker cannot start.

/// The child of [`d7_after_hooks_run_when_a_worker_cannot_start`]: thread creation fails in
/// this process (RUST_MIN_STACK asks for a 64 TiB stack), so a prefetch worker cannot start.
fn d7_child() {
    let (before, after) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (b, a) = (Arc::clone(&before), Arc::clone(&after));
    let p = dataset(8)
        .p()
        .before("count before", move |_: &batchline::RunState<'_>| {
            b.fetch_add(1, Ordering::SeqCst);
        })
        .after("count after", move |_: &batchline::RunState<'_>| {
            a.fetch_add(1, Ordering::SeqCst);
        })
        .apply("noop", |_: &mut Probe, _: &mut Context| {});
    let mut spawn_failed = false;
    match p.gen_batch(&RunSpec::new(2).prefetch(3)) {
        Err(PipelineError::Spawn(_)) => spawn_failed = true,
        Err(other) => panic!("unexpected error: {other}"),
        Ok(iter) => {
            for r in iter {
                if let Err(PipelineError::Spawn(_)) = r {
                    spawn_failed = true;
                }
            }
        }
    }
    assert!(
        spawn_failed,
        "the test's premise: no worker thread could start"
    );
    assert_eq!(
        (before.load(Ordering::SeqCst), after.load(Ordering::SeqCst)),
        (1, 1),
        "(before, after) runs: every `before` that ran is matched by the `after` steps"
    );
    println!("d7 child: ok");
}

/// Defect 7: when a prefetch worker cannot start, the `after` steps run too (or neither
/// runs). Runs in a child process whose thread creation fails. Today: `before` runs, `after`
/// does not.
#[test]
fn d7_after_hooks_run_when_a_worker_cannot_start() {
    if common::child_case().as_deref() == Some("d7") {
        return d7_child();
    }
    let end = common::run_child(
        "defects::d7_after_hooks_run_when_a_worker_cannot_start",
        "d7",
        &[("RUST_MIN_STACK", "70368744177664")],
        Duration::from_secs(60),
    );
    assert!(end.passed(), "{}", end.describe());
    assert!(end.stdout.contains("d7 child: ok"), "{}", end.describe());
}

// ---------------------------------------------------------------------------------------------
// Defect 12: misuse that hangs, aborts or panics.

/// Defect 12: an observer that panics on `BatchFailed` (batch 2's action fails) gives an
/// error at batch 2's place at every k, not a hang or a panic out of `next()`. Today: the
/// panic reaches `next()` at k = 0, the run hangs at k ≥ 1.
#[test]
fn d12_a_panicking_observer_is_an_error_at_its_batch() {
    for k in [0usize, 1, 3] {
        let items = with_watchdog(LIMIT, move || {
            let observer = |e: &Event| {
                if e.kind == EventKind::BatchFailed {
                    panic!("observer panics on BatchFailed");
                }
            };
            let p = dataset(10)
                .p()
                .apply("fail at 2", |_: &mut Probe, ctx: &mut Context| {
                    if ctx.batch() == 2 {
                        return Err(ActionError::msg("bad batch"));
                    }
                    Ok(())
                });
            let iter = p
                .gen_batch(&RunSpec::new(1).prefetch(k).observer(observer))
                .unwrap();
            no_escape(move || iter.map(got).collect::<Vec<_>>())
        });
        let items = items.unwrap_or_else(|m| panic!("k = {k}: a panic reached next(): {m}"));
        assert_error_at(&items, 2, &format!("k = {k}"));
    }
}

/// A batch whose user code panics where the executor calls it: its `Drop` once skipped,
/// its `size_bytes` when told.
#[derive(Debug)]
struct Touchy {
    index: BatchIndex,
    skipped: bool,
    panic_in_size: bool,
}

impl Batch for Touchy {
    type Id = usize;
    type Source = ();

    fn create(index: BatchIndex, _: &Arc<()>) -> Self {
        Touchy {
            index,
            skipped: false,
            panic_in_size: false,
        }
    }

    fn index(&self) -> &BatchIndex {
        &self.index
    }

    fn size_bytes(&self) -> usize {
        if self.panic_in_size {
            panic!("size_bytes panics");
        }
        64
    }
}

impl Drop for Touchy {
    fn drop(&mut self) {
        // Never while unwinding (that would abort the test binary).
        if self.skipped && !std::thread::panicking() {
            panic!("Drop of a skipped batch panics");
        }
    }
}

fn touchy(n: usize) -> Dataset<Touchy> {
    Dataset::new(DatasetIndex::from_count(n), ())
}

fn got_touchy(r: Result<Touchy, PipelineError>) -> Got {
    r.map(|b| b.index.ids()[0] as u64)
        .map_err(|e| (e.batch(), e.to_string()))
}

/// Defect 12: a batch whose `Drop` panics when it is skipped (batch 2) gives an error at
/// batch 2's place at every k. Today: the panic reaches `next()` at k = 0, the run hangs at
/// k ≥ 1.
#[test]
fn d12_a_panicking_drop_of_a_skipped_batch_is_an_error_at_its_batch() {
    for k in [0usize, 1, 3] {
        let items = with_watchdog(LIMIT, move || {
            let p = touchy(10)
                .p()
                .apply("skip 2", |b: &mut Touchy, ctx: &mut Context| {
                    if ctx.batch() == 2 {
                        b.skipped = true;
                        return Err(ActionError::skip_batch());
                    }
                    Ok(())
                });
            let iter = p.gen_batch(&RunSpec::new(1).prefetch(k)).unwrap();
            no_escape(move || iter.map(got_touchy).collect::<Vec<_>>())
        });
        let items = items.unwrap_or_else(|m| panic!("k = {k}: a panic reached next(): {m}"));
        assert_error_at(&items, 2, &format!("k = {k}"));
    }
}

/// Defect 12: a `size_bytes` that panics (batch 2) under `prefetch_auto` gives an error at
/// batch 2's place. Today: the panic reaches `next()`.
#[test]
fn d12_a_panicking_size_bytes_under_prefetch_auto_is_an_error_at_its_batch() {
    let items = with_watchdog(LIMIT, || {
        let p = touchy(10)
            .p()
            .apply("size panics at 2", |b: &mut Touchy, ctx: &mut Context| {
                b.panic_in_size = ctx.batch() == 2;
            });
        let iter = p
            .gen_batch(&RunSpec::new(1).prefetch_auto(1 << 30))
            .unwrap();
        no_escape(move || iter.map(got_touchy).collect::<Vec<_>>())
    });
    let items = items.unwrap_or_else(|m| panic!("a panic reached next(): {m}"));
    assert_error_at(&items, 2, "prefetch_auto");
}

/// The cases of [`d12_huge_sizes_are_errors_or_correct_runs`].
const HUGE: [&str; 5] = [
    "prefetch(usize::MAX)",
    "prefetch(usize::MAX - 1)",
    "prefetch(1 << 40)",
    "repeat(usize::MAX)",
    "repeat(1 << 34)",
];

fn huge_child(case: &str) {
    let is_build_or_spec =
        |e: &PipelineError| matches!(e, PipelineError::Build(_) | PipelineError::Spec(_));
    if let Some(k) = match case {
        "prefetch(usize::MAX)" => Some(usize::MAX),
        "prefetch(usize::MAX - 1)" => Some(usize::MAX - 1),
        "prefetch(1 << 40)" => Some(1 << 40),
        _ => None,
    } {
        // 5 batches.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let p = dataset(10)
            .p()
            .apply("record", move |_: &mut Probe, ctx: &mut Context| {
                s.lock().unwrap().push(ctx.batch());
            });
        match p.gen_batch(&RunSpec::new(2).prefetch(k)) {
            Err(e) => assert!(is_build_or_spec(&e), "{case}: {e:?}"),
            Ok(iter) => {
                let mut items = Vec::new();
                for r in iter {
                    match r {
                        Ok(b) => items.push(b.index.ids()[0] as u64),
                        Err(e) => {
                            assert!(
                                is_build_or_spec(&e) && items.is_empty(),
                                "{case}: only a Build or Spec error before any batch: {e:?}"
                            );
                            println!("huge child: {case}: ok (refused: {e})");
                            return;
                        }
                    }
                }
                assert_eq!(items, [0, 2, 4, 6, 8], "{case}: a correct run");
                let mut seen = seen.lock().unwrap().clone();
                seen.sort_unstable();
                assert_eq!(seen, (0..5).collect::<Vec<_>>(), "{case}");
            }
        }
    } else {
        let n = match case {
            "repeat(usize::MAX)" => usize::MAX,
            "repeat(1 << 34)" => 1 << 34,
            other => panic!("unknown case {other}"),
        };
        // The repeated step fails on its 3rd call: a correct run is an error at batch 0 after
        // exactly 3 calls.
        let calls = Arc::new(AtomicU64::new(0));
        let c = Arc::clone(&calls);
        let p = dataset(4)
            .p()
            .apply("count", move |_: &mut Probe, _: &mut Context| {
                if c.fetch_add(1, Ordering::SeqCst) + 1 >= 3 {
                    return Err(ActionError::msg("third call"));
                }
                Ok(())
            })
            .repeat(n);
        match p.run(&RunSpec::new(2)) {
            Err(e) if is_build_or_spec(&e) => {
                assert_eq!(
                    calls.load(Ordering::SeqCst),
                    0,
                    "{case}: refused before running"
                )
            }
            Err(e) => {
                assert_eq!(e.batch(), Some(0), "{case}: {e}");
                assert_eq!(calls.load(Ordering::SeqCst), 3, "{case}: {e}");
            }
            Ok(report) => panic!("{case}: the third call fails the run, got {report:?}"),
        }
    }
    println!("huge child: {case}: ok");
}

/// Defect 12: `prefetch(usize::MAX)`, `prefetch(usize::MAX - 1)`, `prefetch(1 << 40)` on a
/// 5-batch run, `repeat(usize::MAX)` and `repeat(1 << 34)` give a `Build`/`Spec` error or a
/// correct run; never a hang, a panic or an abort. Each runs in its own child process (with
/// 8 GiB of address space, so that a runaway allocation cannot hurt the machine). Today:
/// a hang, a panic ("capacity overflow"), an abort, a panic, an abort.
#[test]
fn d12_huge_sizes_are_errors_or_correct_runs() {
    if let Some(case) = common::child_case() {
        return huge_child(&case);
    }
    let mut failures = Vec::new();
    for case in HUGE {
        let end = common::run_child_limited(
            "defects::d12_huge_sizes_are_errors_or_correct_runs",
            case,
            8 << 20,
            Duration::from_secs(30),
        );
        if !(end.passed() && end.stdout.contains(&format!("huge child: {case}: ok"))) {
            failures.push(format!("{case}: {}", end.describe()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Defect 12: after batch 0 asks to stop the run from inside the locked action, the batches
/// queued on that lock do not run it. Today: the next batch takes the lock and runs the action
/// before the stop request is seen.
#[test]
fn d12_batches_queued_on_a_lock_do_not_run_it_after_a_stop_request() {
    for k in [1usize, 3, 7] {
        let stopped = Arc::new(AtomicBool::new(false));
        let late = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (Arc::clone(&stopped), Arc::clone(&late));
        let report = with_watchdog(LIMIT, move || {
            dataset(40)
                .p()
                .apply(
                    "later batches come later",
                    |_: &mut Probe, ctx: &mut Context| {
                        if ctx.batch() > 0 {
                            sleep(Duration::from_millis(5));
                        }
                    },
                )
                .push(
                    Action::new("locked", move |_: &mut Probe, ctx: &mut Context| {
                        if s.load(Ordering::SeqCst) {
                            l.lock().unwrap().push(ctx.batch());
                        }
                        sleep(Duration::from_millis(30));
                        if ctx.batch() == 0 {
                            s.store(true, Ordering::SeqCst);
                            return Err(ActionError::stop_run());
                        }
                        Ok(())
                    })
                    .lock("L"),
                )
                .run(&RunSpec::new(1).prefetch(k))
                .unwrap()
        });
        assert!(report.stopped, "k = {k}: {report:?}");
        let late = late.lock().unwrap();
        let after_stop: Vec<u64> = late.iter().copied().filter(|&b| b > 0).collect();
        assert!(
            after_stop.is_empty(),
            "k = {k}: batches {after_stop:?} ran the locked action after batch 0 asked to stop"
        );
    }
}

//! The prefetch contract (stated in the module docs of `batchline::exec`), checked on recorded
//! events and batch contents.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use batchline::{Context, EventKind, EventRecorder, Pipeline, RunSpec};
use common::{dataset, positions, with_watchdog, Jitter, Probe};
use rand::Rng;

const LIMIT: Duration = Duration::from_secs(60);

fn seed_pipeline(n: usize, action_ms: u64) -> Pipeline<Probe> {
    let mut p = dataset(n).p();
    for a in 1..=3 {
        p = p.apply(
            format!("action {a}"),
            move |b: &mut Probe, _: &mut Context| {
                sleep(Duration::from_millis(action_ms));
                b.log.push(format!("action {a}"));
            },
        );
    }
    p
}

#[test]
fn prefetch_zero_prints_the_seeds_first_listing() {
    let recorder = EventRecorder::new();
    let report = seed_pipeline(6, 0)
        .run(&RunSpec::new(2).observer(recorder.clone()))
        .unwrap();
    assert_eq!(report.batches, 3);
    let mut expected = String::new();
    for n in 1..=3 {
        expected.push_str(&format!("batch #{n} is created\n"));
        for a in 1..=3 {
            expected.push_str(&format!(
                "    action {a} started\n    action {a} finished\n"
            ));
        }
    }
    assert_eq!(recorder.listing(), expected);
    // Everything ran on the consumer's thread.
    assert!(recorder.events().iter().all(|e| e.worker == 0));
}

/// Checks the invariants of the contract on the events of a run with prefetch `k`.
fn check_invariants(k: usize, n_batches: u64, events: &[batchline::Event], reach_bound: bool) {
    let cap = k as i64 + 1;
    // Delivery in creation order.
    let yielded: Vec<u64> = positions(events, |e| *e == EventKind::BatchYielded)
        .iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(
        yielded,
        (0..n_batches).collect::<Vec<_>>(),
        "delivery order"
    );
    // The k+1 bound at every instant.
    let mut alive = 0i64;
    let mut max_alive = 0;
    for e in events {
        match e.kind {
            EventKind::BatchCreated => alive += 1,
            EventKind::BatchReleased => alive -= 1,
            _ => {}
        }
        assert!(
            alive <= cap,
            "{alive} batches created and not released with k = {k}"
        );
        max_alive = max_alive.max(alive);
    }
    if reach_bound {
        assert_eq!(
            max_alive, cap,
            "the bound is reached, so prefetch really prefetched"
        );
    }
    // Batch n+k+1 is created only after batch n was released.
    let created = positions(events, |e| *e == EventKind::BatchCreated);
    let released = positions(events, |e| *e == EventKind::BatchReleased);
    for &(b, at) in &created {
        if b > k as u64 {
            let (_, rel) = released
                .iter()
                .find(|r| r.0 == b - k as u64 - 1)
                .expect("released");
            assert!(
                *rel < at,
                "batch {b} created before batch {} was released",
                b - k as u64 - 1
            );
            assert!(events[*rel].time <= events[at].time);
        }
    }
}

#[test]
fn prefetch_one_and_three_keep_the_contract() {
    for k in [1usize, 3] {
        let recorder = EventRecorder::new();
        let n = 8u64;
        let report = with_watchdog(LIMIT, {
            let recorder = recorder.clone();
            move || {
                seed_pipeline(n as usize * 2, 15)
                    .run(&RunSpec::new(2).prefetch(k).observer(recorder))
                    .unwrap()
            }
        });
        assert_eq!(report.batches, n);
        let events = recorder.events();
        check_invariants(k, n, &events, true);
        // Real overlap: an action of batch 2 starts before batch 1 finishes its last action.
        let b1_last_finish = events
            .iter()
            .rposition(|e| e.batch == 0 && matches!(&e.kind, EventKind::ActionFinished { .. }))
            .unwrap();
        let b2_first_start = events
            .iter()
            .position(|e| e.batch == 1 && matches!(&e.kind, EventKind::ActionStarted { .. }))
            .unwrap();
        assert!(
            b2_first_start < b1_last_finish,
            "batches 1 and 2 overlap with k = {k}"
        );
        let listing = recorder.listing();
        assert!(
            listing.contains("    action 1 started for batch #2\n"),
            "{listing}"
        );
    }
}

#[test]
fn delivery_keeps_creation_order_under_shuffle_and_random_timing() {
    let spec = |k: usize| RunSpec::new(3).shuffle(11).n_epochs(3).prefetch(k);
    let reference: Vec<Vec<usize>> = dataset(20)
        .index()
        .gen_batch(spec(0).batch_spec())
        .unwrap()
        .map(|b| b.ids().to_vec())
        .collect();
    assert_eq!(reference.len(), 20);
    for k in [0usize, 1, 3, 7] {
        let got = with_watchdog(LIMIT, move || {
            let p = dataset(20)
                .p()
                .apply("jitter", |b: &mut Probe, ctx: &mut Context| {
                    // Later batches often finish first.
                    let ms = 1 + (ctx.batch() * 7919 + b.index.ids()[0] as u64) % 6;
                    sleep(Duration::from_millis(ms));
                });
            p.gen_batch(&spec(k))
                .unwrap()
                .map(|b| b.unwrap().index.ids().to_vec())
                .collect::<Vec<_>>()
        });
        assert_eq!(got, reference, "k = {k}");
    }
}

#[test]
fn seeded_runs_are_bit_identical_for_any_prefetch() {
    let run = |k: usize| {
        with_watchdog(LIMIT, move || {
            dataset(50)
                .p()
                .apply("draw", |b: &mut Probe, ctx: &mut Context| {
                    let n = ctx.rng().random_range(1..5);
                    for _ in 0..n {
                        let v: u64 = ctx.rng().random();
                        b.values.push(v);
                    }
                })
                .apply("sleep", |b: &mut Probe, _: &mut Context| {
                    sleep(Duration::from_micros(b.values[0] % 3000));
                })
                .apply("draw again", |b: &mut Probe, ctx: &mut Context| {
                    b.values.push(ctx.rng().random());
                })
                .gen_batch(&RunSpec::new(4).shuffle(5).n_epochs(2).prefetch(k))
                .unwrap()
                .map(|b| {
                    let b = b.unwrap();
                    (b.index.ids().to_vec(), b.values.clone())
                })
                .collect::<Vec<_>>()
        })
    };
    let base = run(0);
    assert_eq!(base.len(), 25);
    assert_eq!(run(1), base);
    assert_eq!(run(7), base);
    // Another seed gives other numbers.
    let other: Vec<u64> = dataset(50)
        .p()
        .apply("draw", |b: &mut Probe, ctx: &mut Context| {
            b.values.push(ctx.rng().random())
        })
        .gen_batch(&RunSpec::new(4).shuffle(6).n_epochs(2))
        .unwrap()
        .map(|b| b.unwrap().values[0])
        .collect();
    assert_ne!(other[0], base[0].1[1]);
}

#[test]
fn at_most_k_plus_one_batches_are_alive() {
    for k in [0usize, 1, 4] {
        let live = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let (l, m) = (Arc::clone(&live), Arc::clone(&max_seen));
        with_watchdog(LIMIT, move || {
            let p = common::counted_dataset(40, Arc::clone(&l)).p().apply(
                "watch",
                move |_: &mut Probe, _: &mut Context| {
                    m.fetch_max(l.load(Ordering::SeqCst), Ordering::SeqCst);
                    sleep(Duration::from_millis(2));
                },
            );
            for batch in p.gen_batch(&RunSpec::new(2).prefetch(k)).unwrap() {
                drop(batch.unwrap()); // released before the next is asked for
                sleep(Duration::from_millis(1));
            }
        });
        assert!(
            max_seen.load(Ordering::SeqCst) <= k + 1,
            "k = {k}: {}",
            max_seen.load(Ordering::SeqCst)
        );
        assert_eq!(live.load(Ordering::SeqCst), 0, "no batch leaked");
    }
}

#[test]
fn next_batch_continues_and_resets() {
    let mut p = dataset(5)
        .p()
        .apply("tag", |b: &mut Probe, ctx: &mut Context| {
            b.values.push(ctx.batch())
        });
    for k in [0usize, 2] {
        let spec = RunSpec::new(2).prefetch(k);
        let ids: Vec<Vec<usize>> = (0..4)
            .map(|_| p.next_batch(&spec).unwrap().unwrap().index.ids().to_vec())
            .collect();
        assert_eq!(
            ids,
            vec![vec![0, 1], vec![2, 3], vec![4, 0], vec![1, 2]],
            "endless by default"
        );
        p.reset_iter();
        let spec = RunSpec::new(2).n_iters(1).prefetch(k);
        assert_eq!(p.next_batch(&spec).unwrap().unwrap().values, vec![0]);
        assert!(p.next_batch(&spec).unwrap().is_none());
        p.reset_iter();
    }
}

#[test]
fn spec_errors_surface_before_running() {
    let p = dataset(3).p();
    let err = p.gen_batch(&RunSpec::new(4)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid run spec: batch_size 4 is larger than the index (3 items)"
    );
    assert!(p.run(&RunSpec::new(0)).is_err());
    assert!(p.run(&RunSpec::new(1).n_epochs(1).n_iters(1)).is_err());
}

#[test]
fn random_timings_never_break_order_or_bound() {
    let mut jitter = Jitter(0x9e37_79b9_7f4a_7c15);
    for case in 0..12 {
        let k = jitter.below(6) as usize;
        let n = 5 + jitter.below(30) as usize;
        let bs = 1 + jitter.below(4) as usize;
        let seed = jitter.next();
        let recorder = EventRecorder::new();
        let rec = recorder.clone();
        let batches = with_watchdog(LIMIT, move || {
            dataset(n)
                .p()
                .apply("a", move |b: &mut Probe, ctx: &mut Context| {
                    let mut j = Jitter(seed ^ (ctx.batch() + 1) ^ b.index.ids()[0] as u64);
                    sleep(Duration::from_micros(j.below(2000)));
                })
                .apply("b", move |_: &mut Probe, ctx: &mut Context| {
                    sleep(Duration::from_micros(ctx.rng().random_range(0..1500)));
                })
                .run(&RunSpec::new(bs).seed(seed).prefetch(k).observer(rec))
                .unwrap()
                .batches
        });
        assert_eq!(batches as usize, n.div_ceil(bs), "case {case}");
        check_invariants(k, batches, &recorder.events(), false);
    }
}

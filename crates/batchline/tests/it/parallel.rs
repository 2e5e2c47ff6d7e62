//! Per-item parallelism inside a batch: `par_map` and its kin, `inbatch_parallel`,
//! `apply_parallel`, the run's item pool, and per-item randomness that does not depend on the
//! number of threads or on prefetch.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use batchline::Item;
use batchline::{ActionError, Context, PipelineError, RunSpec};
use common::{dataset, with_watchdog, Probe};
use parking_lot::Mutex;
use rand::Rng;

const LIMIT: Duration = Duration::from_secs(30);

/// What one item of `par_map` saw: its id, its position and two draws of its generator.
type Seen = (usize, usize, u64, u64);

/// Runs `n` items in batches of `bs` through an action that maps every id with `par_map`
/// (some items sleep a little, so that they finish out of order) and returns, per batch, what
/// the items saw, in the order `par_map` returned it.
fn par_map_outputs(
    n: usize,
    bs: usize,
    seed: u64,
    k: usize,
    threads: Option<usize>,
) -> Vec<Vec<Seen>> {
    with_watchdog(LIMIT, move || {
        let seen: Arc<Mutex<Vec<Vec<Seen>>>> = Arc::default();
        let out = Arc::clone(&seen);
        let p = dataset(n)
            .p()
            .apply("par_map", move |b: &mut Probe, ctx: &mut Context| {
                let ids = b.index.ids().to_vec();
                let got = ctx.par_map(&ids, |&id, item: &mut Item| {
                    if id % 7 == 3 {
                        sleep(Duration::from_millis(1));
                    }
                    let a: u64 = item.rng().random();
                    let c: u64 = item.rng().random();
                    (id, item.index(), a, c)
                });
                b.values = got.iter().map(|s| s.2).collect();
                // Batches can finish out of order under prefetch: key them by number.
                let mut all = out.lock();
                let at = ctx.batch() as usize;
                if all.len() <= at {
                    all.resize(at + 1, Vec::new());
                }
                all[at] = got;
            });
        let mut spec = RunSpec::new(bs).seed(seed).prefetch(k);
        if let Some(t) = threads {
            spec = spec.item_threads(t);
        }
        let mut delivered = Vec::new();
        for batch in p.gen_batch(&spec).unwrap() {
            let batch = batch.unwrap();
            delivered.push((batch.index.ids().to_vec(), batch.values.clone()));
        }
        let seen = std::mem::take(&mut *seen.lock());
        assert_eq!(seen.len(), delivered.len());
        for (s, (ids, values)) in seen.iter().zip(&delivered) {
            // The batch got what par_map returned.
            assert_eq!(&s.iter().map(|x| x.0).collect::<Vec<_>>(), ids);
            assert_eq!(&s.iter().map(|x| x.2).collect::<Vec<_>>(), values);
        }
        seen
    })
}

#[test]
fn par_map_keeps_item_order_and_values_for_any_threads_and_prefetch() {
    let n = 200;
    let bs = 16;
    let reference = par_map_outputs(n, bs, 11, 0, Some(1));
    assert_eq!(reference.len(), n.div_ceil(bs));
    // Item order: position i holds the batch's i-th id, and the item knows its position.
    let mut next_id = 0;
    for batch in &reference {
        for (i, &(id, index, _, _)) in batch.iter().enumerate() {
            assert_eq!(id, next_id);
            assert_eq!(index, i);
            next_id += 1;
        }
    }
    assert_eq!(next_id, n);
    // The draws are real: no two of the 400 are equal.
    let draws: HashSet<u64> = reference
        .iter()
        .flatten()
        .flat_map(|s| [s.2, s.3])
        .collect();
    assert_eq!(draws.len(), 2 * n);

    for (k, threads) in [
        (0, Some(3)),
        (0, None),
        (3, Some(1)),
        (3, Some(3)),
        (3, None),
    ] {
        let got = par_map_outputs(n, bs, 11, k, threads);
        assert_eq!(
            got, reference,
            "prefetch {k}, item_threads {threads:?} differs from prefetch 0, item_threads 1"
        );
    }
}

/// Two `par_map` calls in one action: the draws of every item in each call.
fn two_calls(seed: u64, n: usize, bs: usize) -> Vec<(Vec<u64>, Vec<u64>)> {
    with_watchdog(LIMIT, move || {
        let p = dataset(n)
            .p()
            .apply("two calls", |b: &mut Probe, ctx: &mut Context| {
                let ids = b.index.ids().to_vec();
                let first = ctx.par_map(&ids, |_, item| item.rng().random::<u64>());
                let second = ctx.par_map(&ids, |_, item| item.rng().random::<u64>());
                b.values = first;
                b.values.extend(second);
            });
        p.gen_batch(&RunSpec::new(bs).seed(seed).prefetch(2))
            .unwrap()
            .map(|b| {
                let mut b = b.unwrap();
                let second = b.values.split_off(b.index.len());
                (std::mem::take(&mut b.values), second)
            })
            .collect()
    })
}

#[test]
fn random_streams_differ_between_calls_batches_and_seeds() {
    let run = two_calls(5, 24, 8);
    assert_eq!(run.len(), 3);
    for (batch, (first, second)) in run.iter().enumerate() {
        for i in 0..8 {
            assert_ne!(
                first[i], second[i],
                "batch {batch}, item {i}: the second par_map call repeats the first's stream"
            );
        }
    }
    // The same item position in different batches gets different values.
    for i in 0..8 {
        let at_i: HashSet<u64> = run.iter().map(|(f, _)| f[i]).collect();
        assert_eq!(at_i.len(), run.len(), "item {i} repeats across batches");
    }
    // Every draw of the run differs from every other.
    let all: HashSet<u64> = run
        .iter()
        .flat_map(|(f, s)| f.iter().chain(s))
        .copied()
        .collect();
    assert_eq!(all.len(), 2 * 24);
    // The same seed gives the same values, another seed other values.
    assert_eq!(two_calls(5, 24, 8), run);
    let other = two_calls(6, 24, 8);
    for (a, b) in run.iter().zip(&other) {
        for i in 0..8 {
            assert_ne!(a.0[i], b.0[i]);
            assert_ne!(a.1[i], b.1[i]);
        }
    }
}

#[test]
fn items_are_numbered_and_have_distinct_streams() {
    with_watchdog(LIMIT, || {
        dataset(4)
            .p()
            .apply("items", |_: &mut Probe, ctx: &mut Context| {
                let mut items = ctx.items(5);
                assert_eq!(
                    items.iter().map(Item::index).collect::<Vec<_>>(),
                    [0, 1, 2, 3, 4]
                );
                let draws: HashSet<u64> = items.iter_mut().map(|i| i.rng().random()).collect();
                assert_eq!(draws.len(), 5);
                // A second call draws a new key from the batch's generator.
                let mut again = ctx.items(5);
                for (a, b) in items.iter_mut().zip(&mut again) {
                    assert_ne!(a.rng().random::<u64>(), b.rng().random::<u64>());
                }
            })
            .run(&RunSpec::new(2).seed(3).prefetch(1))
            .unwrap();
    });
}

/// The error of a run whose action fails on items 3 and 5 of the first batch (item 3 slowly,
/// so that item 5 fails first in time).
fn failing_run(use_apply: bool) -> (PipelineError, u64) {
    with_watchdog(LIMIT, move || {
        let p = dataset(16)
            .p()
            .apply("work", move |b: &mut Probe, ctx: &mut Context| {
                let fail = |x: usize, index: usize| -> Result<u64, ActionError> {
                    if index == 3 {
                        sleep(Duration::from_millis(30));
                    }
                    if index == 3 || index == 5 {
                        Err(ActionError::msg(format!("bad value {x}")))
                    } else {
                        Ok(x as u64)
                    }
                };
                if use_apply {
                    let mut values: Vec<u64> = b.index.ids().iter().map(|&i| i as u64).collect();
                    ctx.par_apply(&mut values, |v, item| {
                        fail(*v as usize, item.index()).map(|_| ())
                    })?;
                    b.values = values;
                } else {
                    let ids = b.index.ids().to_vec();
                    b.values = ctx.par_try_map(&ids, |&id, item| fail(id, item.index()))?;
                }
                Ok::<_, ActionError>(())
            });
        let mut iter = p
            .gen_batch(&RunSpec::new(8).item_threads(4).prefetch(1))
            .unwrap();
        let err = iter.next().unwrap().unwrap_err();
        assert!(iter.next().is_none(), "the run ends with the error");
        (err, iter.report().failed)
    })
}

#[test]
fn par_try_map_and_par_apply_report_the_first_failing_item() {
    for use_apply in [false, true] {
        let what = if use_apply {
            "par_apply"
        } else {
            "par_try_map"
        };
        let (err, failed) = failing_run(use_apply);
        assert_eq!(failed, 1, "{what}");
        match &err {
            PipelineError::Action {
                batch,
                action,
                message,
                ..
            } => {
                assert_eq!(*batch, 0, "{what}");
                assert_eq!(&**action, "work", "{what}");
                assert_eq!(message, "item 3: bad value 3", "{what}");
            }
            other => panic!("{what}: not an action error: {other:?}"),
        }
        assert_eq!(err.action(), Some("work"));
        assert!(
            err.to_string()
                .ends_with("action \"work\" failed: item 3: bad value 3"),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_skip_request_from_an_item_skips_the_batch() {
    for use_apply in [false, true] {
        let report = with_watchdog(LIMIT, move || {
            let p = dataset(20)
                .p()
                .apply("maybe skip", move |b: &mut Probe, ctx: &mut Context| {
                    let batch = ctx.batch();
                    let ids = b.index.ids().to_vec();
                    let f = |index: usize| -> Result<(), ActionError> {
                        if batch == 1 && index == 2 {
                            Err(ActionError::skip_batch())
                        } else {
                            Ok(())
                        }
                    };
                    if use_apply {
                        let mut ids = ids;
                        ctx.par_apply(&mut ids, |_, item| f(item.index()))?;
                    } else {
                        ctx.par_try_map(&ids, |_, item| f(item.index()))?;
                    }
                    b.log.push("done".into());
                    Ok::<_, ActionError>(())
                });
            let mut iter = p
                .gen_batch(&RunSpec::new(4).item_threads(2).prefetch(2))
                .unwrap();
            let firsts: Vec<usize> = iter.by_ref().map(|b| b.unwrap().index.ids()[0]).collect();
            assert_eq!(firsts, [0, 8, 12, 16], "batch #2 ([4..8]) is skipped");
            iter.report()
        });
        assert_eq!(report.skipped, 1);
        assert_eq!(report.failed, 0);
        assert_eq!(report.batches, 4);
    }
}

#[test]
fn inbatch_parallel_runs_init_then_work_then_post_in_order() {
    let (values, log) = with_watchdog(LIMIT, || {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (l1, l2, l3) = (Arc::clone(&log), Arc::clone(&log), Arc::clone(&log));
        let p = dataset(12).p().inbatch_parallel(
            "squares",
            move |b: &Probe, _: &mut Context| {
                l1.lock().push("init".into());
                Ok(b.index.ids().iter().map(|&id| id * 10).collect())
            },
            move |a: usize, item: &mut Item| {
                // Later items finish first.
                sleep(Duration::from_millis(5 - item.index() as u64));
                l2.lock().push("work".into());
                Ok::<_, ActionError>((a, item.index(), a * a))
            },
            move |b: &mut Probe, results: Vec<(usize, usize, usize)>, _: &mut Context| {
                l3.lock().push("post".into());
                for (i, &(a, index, _)) in results.iter().enumerate() {
                    assert_eq!(index, i);
                    assert_eq!(a, b.index.ids()[i] * 10);
                }
                b.values = results.iter().map(|r| r.2 as u64).collect();
                Ok(())
            },
        );
        let values: Vec<Vec<u64>> = p
            .gen_batch(&RunSpec::new(5).item_threads(3))
            .unwrap()
            .map(|b| b.unwrap().values.clone())
            .collect();
        let log = log.lock().clone();
        (values, log)
    });
    assert_eq!(
        values,
        [
            vec![0, 100, 400, 900, 1600],
            vec![2500, 3600, 4900, 6400, 8100],
            vec![10000, 12100],
        ]
    );
    // Without prefetch the batches run one after the other: init, every work item, post.
    let mut expected = Vec::new();
    for n in [5, 5, 2] {
        expected.push("init".to_string());
        expected.extend(std::iter::repeat_n("work".to_string(), n));
        expected.push("post".to_string());
    }
    assert_eq!(log, expected);
}

#[test]
fn inbatch_parallel_names_the_failing_work_item() {
    let err = with_watchdog(LIMIT, || {
        dataset(8)
            .p()
            .inbatch_parallel(
                "checked",
                |b: &Probe, _: &mut Context| Ok(b.index.ids().to_vec()),
                |id: usize, _: &mut Item| {
                    if id % 4 == 2 {
                        Err(ActionError::msg(format!("id {id} is not allowed")))
                    } else {
                        Ok(id)
                    }
                },
                |_: &mut Probe, _: Vec<usize>, _: &mut Context| Ok(()),
            )
            .run(&RunSpec::new(4).item_threads(2))
            .unwrap_err()
    });
    assert_eq!(err.batch(), Some(0));
    assert_eq!(err.action(), Some("checked"));
    assert!(
        err.to_string().ends_with("item 2: id 2 is not allowed"),
        "{err}"
    );
}

#[test]
fn apply_parallel_changes_a_component_in_place() {
    let values = with_watchdog(LIMIT, || {
        dataset(10)
            .p()
            .apply("fill", |b: &mut Probe, _: &mut Context| {
                b.values = b.index.ids().iter().map(|&id| id as u64).collect();
            })
            .apply_parallel(
                "triple plus position",
                |b: &mut Probe| &mut b.values[..],
                |v: &mut u64, item: &mut Item| *v = *v * 3 + item.index() as u64,
            )
            .gen_batch(&RunSpec::new(4).item_threads(3).prefetch(1))
            .unwrap()
            .map(|b| b.unwrap().values.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(
        values,
        [vec![0, 4, 8, 12], vec![12, 16, 20, 24], vec![24, 28]]
    );
}

/// The threads (name, rayon index, id) the items of every batch ran on.
fn item_threads(
    threads: Option<usize>,
) -> Vec<(Option<String>, Option<usize>, std::thread::ThreadId)> {
    with_watchdog(LIMIT, move || {
        let seen: Arc<Mutex<Vec<_>>> = Arc::default();
        let out = Arc::clone(&seen);
        let p = dataset(8)
            .p()
            .apply("sleepy", move |b: &mut Probe, ctx: &mut Context| {
                let ids = b.index.ids().to_vec();
                ctx.par_map(&ids, |_, _| {
                    sleep(Duration::from_millis(20));
                    let t = std::thread::current();
                    out.lock().push((
                        t.name().map(str::to_string),
                        rayon::current_thread_index(),
                        t.id(),
                    ));
                });
            });
        let mut spec = RunSpec::new(8);
        if let Some(n) = threads {
            spec = spec.item_threads(n);
        }
        let report = p.run(&spec).unwrap();
        assert_eq!(report.batches, 1);
        let seen = seen.lock().clone();
        seen
    })
}

#[test]
fn item_work_runs_on_the_threads_of_the_pool() {
    let two = item_threads(Some(2));
    assert_eq!(two.len(), 8);
    let ids: HashSet<_> = two.iter().map(|t| t.2).collect();
    assert_eq!(
        ids.len(),
        2,
        "8 sleeping items on a pool of 2 threads: {two:?}"
    );
    for (name, index, _) in &two {
        assert!(
            name.as_deref()
                .is_some_and(|n| n.starts_with("batchline-item-")),
            "an item ran outside the run's pool: {name:?}"
        );
        assert!(matches!(index, Some(0 | 1)), "{index:?}");
    }

    let one = item_threads(Some(1));
    let ids: HashSet<_> = one.iter().map(|t| t.2).collect();
    assert_eq!(ids.len(), 1, "{one:?}");
    assert!(one.iter().all(|t| t.1 == Some(0)));
}

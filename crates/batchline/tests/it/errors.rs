//! Errors at their place in the order, caught panics, ignore_errors, skip and stop requests.

use crate::common;

use std::error::Error as _;
use std::thread::sleep;
use std::time::Duration;

use batchline::{ActionError, Context, EventKind, EventRecorder, PipelineError, RunSpec};
use common::{dataset, with_watchdog, Probe};

const LIMIT: Duration = Duration::from_secs(60);

fn failing_at(fail: u64, k: usize) -> Vec<Result<Vec<usize>, String>> {
    with_watchdog(LIMIT, move || {
        dataset(20)
            .p()
            .apply("slow first", |_: &mut Probe, ctx: &mut Context| {
                // Batch 0 finishes last, so the failure happens before it is delivered.
                sleep(Duration::from_millis(if ctx.batch() == 0 { 30 } else { 1 }));
            })
            .apply("parse", move |_: &mut Probe, ctx: &mut Context| {
                if ctx.batch() == fail {
                    let n: Result<u32, _> = "x".parse::<u32>();
                    n?;
                }
                Ok::<_, ActionError>(())
            })
            .gen_batch(&RunSpec::new(2).prefetch(k))
            .unwrap()
            .map(|r| r.map(|b| b.index.ids().to_vec()).map_err(|e| e.to_string()))
            .collect()
    })
}

#[test]
fn an_error_arrives_at_its_place_and_ends_the_run() {
    for k in [0usize, 1, 4] {
        let got = failing_at(3, k);
        assert_eq!(
            got.len(),
            4,
            "k = {k}: three batches, then the error, then the end"
        );
        assert_eq!(got[2], Ok(vec![4, 5]));
        assert_eq!(
            got[3],
            Err(
                "batch 3 [6, 7]: action \"parse\" failed: invalid digit found in string"
                    .to_string()
            )
        );
    }
}

#[test]
fn the_error_names_batch_ids_and_action_and_keeps_its_source() {
    let err = dataset(10)
        .p()
        .apply(
            "open",
            |_: &mut Probe, _: &mut Context| -> Result<(), std::io::Error> {
                std::fs::File::open("/nonexistent/batchline")?;
                Ok(())
            },
        )
        .run(&RunSpec::new(10))
        .unwrap_err()
        .error;
    assert_eq!(err.batch(), Some(0));
    assert_eq!(err.action(), Some("open"));
    match &err {
        PipelineError::Action { ids, .. } => assert_eq!(ids, "[0, 1, 2, 3, 4, … 5 more]"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err
        .source()
        .unwrap()
        .downcast_ref::<std::io::Error>()
        .is_some());
}

#[test]
fn panics_are_caught_and_reported_at_their_place() {
    for k in [0usize, 2] {
        let got: Vec<Result<u64, PipelineError>> = with_watchdog(LIMIT, move || {
            dataset(8)
                .p()
                .apply("boom", |b: &mut Probe, ctx: &mut Context| {
                    if ctx.batch() == 2 {
                        panic!("exploded on {:?}", b.index.ids());
                    }
                    b.values.push(ctx.batch());
                })
                .gen_batch(&RunSpec::new(1).prefetch(k))
                .unwrap()
                .map(|r| r.map(|b| b.values[0]))
                .collect()
        });
        assert_eq!(got.len(), 3);
        let err = got[2].as_ref().unwrap_err();
        assert!(matches!(err, PipelineError::Panic { batch: 2, .. }));
        assert_eq!(
            err.to_string(),
            "batch 2 [2]: action \"boom\" panicked: exploded on [2]"
        );
    }
}

#[test]
fn a_panic_outside_actions_still_names_the_batch_ids() {
    for k in [0usize, 2] {
        let got: Vec<Result<u64, PipelineError>> = with_watchdog(LIMIT, move || {
            let observer = |e: &batchline::Event| {
                if e.batch == 1 && matches!(e.kind, EventKind::ActionStarted { .. }) {
                    panic!("observer gave up");
                }
            };
            dataset(8)
                .p()
                .apply("fine", |b: &mut Probe, ctx: &mut Context| {
                    b.values.push(ctx.batch())
                })
                .gen_batch(&RunSpec::new(2).prefetch(k).observer(observer))
                .unwrap()
                .map(|r| r.map(|b| b.values[0]))
                .collect()
        });
        assert_eq!(got.len(), 2, "k = {k}");
        assert_eq!(*got[0].as_ref().unwrap(), 0);
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "batch 1 [2, 3]: action \"(observer)\" panicked: observer gave up"
        );
    }
}

#[test]
fn ignore_errors_skips_and_counts() {
    for k in [0usize, 3] {
        let recorder = EventRecorder::new();
        let rec = recorder.clone();
        let (delivered, report) = with_watchdog(LIMIT, move || {
            let mut iter = dataset(30)
                .p()
                .apply("flaky", |_: &mut Probe, ctx: &mut Context| {
                    match ctx.batch() % 3 {
                        0 => Err(ActionError::msg("flaky")),
                        1 => panic!("flakier"),
                        _ => Ok(()),
                    }
                })
                .gen_batch(
                    &RunSpec::new(1)
                        .prefetch(k)
                        .ignore_errors(true)
                        .observer(rec),
                )
                .unwrap();
            let delivered: Vec<usize> = iter.by_ref().map(|b| b.unwrap().index.ids()[0]).collect();
            (delivered, iter.report())
        });
        assert_eq!(
            delivered,
            (0..30).filter(|i| i % 3 == 2).collect::<Vec<_>>()
        );
        assert_eq!((report.batches, report.failed, report.skipped), (10, 20, 0));
        let failed = recorder
            .events()
            .iter()
            .filter(|e| e.kind == EventKind::BatchFailed)
            .count();
        assert_eq!(failed, 20);
    }
}

#[test]
fn skip_and_stop_requests() {
    for k in [0usize, 3] {
        let recorder = EventRecorder::new();
        let rec = recorder.clone();
        let (ids, report) = with_watchdog(LIMIT, move || {
            let mut iter = dataset(20)
                .p()
                .apply("filter", |_: &mut Probe, ctx: &mut Context| {
                    match ctx.batch() {
                        1 | 2 => Err(ActionError::skip_batch()),
                        6 => Err(ActionError::stop_run()),
                        _ => Ok(()),
                    }
                })
                .gen_batch(&RunSpec::new(2).prefetch(k).observer(rec))
                .unwrap();
            let ids: Vec<usize> = iter.by_ref().map(|b| b.unwrap().index.ids()[0]).collect();
            (ids, iter.report())
        });
        assert_eq!(ids, vec![0, 6, 8, 10], "k = {k}");
        assert_eq!(report.skipped, 2);
        assert!(report.stopped);
        assert_eq!(report.failed, 0);
        assert_eq!(report.items, 8);
        let kinds = |kind: EventKind| recorder.events().iter().filter(|e| e.kind == kind).count();
        assert_eq!(kinds(EventKind::BatchSkipped), 2, "k = {k}");
        assert_eq!(kinds(EventKind::BatchStopped), 1, "k = {k}");
    }
}

#[test]
fn run_reports_counts() {
    let report = dataset(10)
        .p()
        .apply("nothing", |_: &mut Probe, _: &mut Context| {})
        .run(&RunSpec::new(3).n_epochs(2).prefetch(2))
        .unwrap();
    assert_eq!(
        (report.batches, report.items, report.skipped, report.failed),
        (7, 20, 0, 0)
    );
    assert!(!report.stopped);
}

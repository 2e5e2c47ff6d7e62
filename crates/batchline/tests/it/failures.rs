//! Failure budgets: `max_failures`, `RunReport::failures`, `TooManyFailures`.

use crate::common;

use std::time::Duration;

use batchline::Failure;
use batchline::{ActionError, Context, PipelineError, RunEnd, RunReport, RunSpec};
use common::{dataset, with_watchdog, Probe};

const LIMIT: Duration = Duration::from_secs(30);

/// 40 items, batches of 2: 20 batches. `validate` fails batches 2, 5 and 11; `augment`
/// panics on batch 7.
fn failing() -> batchline::Pipeline<Probe> {
    dataset(40)
        .p()
        .apply("validate", |_: &mut Probe, ctx: &mut Context| {
            match ctx.batch() {
                2 | 11 => return Err(ActionError::msg(format!("bad record {}", ctx.batch()))),
                5 => {
                    "x".parse::<u32>()?;
                }
                _ => {}
            }
            Ok(())
        })
        .apply("augment", |b: &mut Probe, ctx: &mut Context| {
            if ctx.batch() == 7 {
                panic!("exploded on batch 7");
            }
            b.values.push(ctx.batch());
        })
}

/// (batch, ids, action, error) of the four failures.
const EXPECTED: [(u64, &str, &str, &str); 4] = [
    (
        2,
        "[4, 5]",
        "validate",
        "batch 2 [4, 5]: action \"validate\" failed: bad record 2",
    ),
    (
        5,
        "[10, 11]",
        "validate",
        "batch 5 [10, 11]: action \"validate\" failed: invalid digit found in string",
    ),
    (
        7,
        "[14, 15]",
        "augment",
        "batch 7 [14, 15]: action \"augment\" panicked: exploded on batch 7",
    ),
    (
        11,
        "[22, 23]",
        "validate",
        "batch 11 [22, 23]: action \"validate\" failed: bad record 11",
    ),
];

fn expected_failures(n: usize) -> Vec<(u64, String, String, String)> {
    EXPECTED[..n]
        .iter()
        .map(|&(b, ids, action, error)| (b, ids.into(), action.into(), error.into()))
        .collect()
}

fn failures_of(report: &RunReport) -> Vec<(u64, String, String, String)> {
    report
        .failures
        .iter()
        .map(|f: &Failure| (f.batch, f.ids.clone(), f.action.clone(), f.error.clone()))
        .collect()
}

/// What the consumer sees: each item (a batch's number and ids, or the error), and the report.
#[derive(Debug, PartialEq)]
struct Seen {
    items: Vec<Result<(u64, Vec<usize>), String>>,
    /// `(failed, allowed, summary)` of a `TooManyFailures`.
    too_many: Option<(u64, u64, String)>,
    report: RunReport,
}

fn run(spec: RunSpec) -> Seen {
    with_watchdog(LIMIT, move || {
        let mut it = failing().gen_batch(&spec).unwrap();
        let mut items = Vec::new();
        let mut too_many = None;
        for item in it.by_ref() {
            items.push(match item {
                Ok(b) => Ok((b.values[0], b.index.ids().to_vec())),
                Err(e) => {
                    if let PipelineError::TooManyFailures {
                        failed,
                        allowed,
                        summary,
                    } = &e
                    {
                        assert!(too_many.is_none(), "one TooManyFailures at most");
                        too_many = Some((*failed, *allowed, summary.clone()));
                    }
                    Err(e.to_string())
                }
            });
        }
        assert!(it.next().is_none(), "the iterator stays ended");
        let mut report = it.report();
        report.elapsed = Duration::ZERO;
        Seen {
            items,
            too_many,
            report,
        }
    })
}

/// Runs at prefetch 0 and 3 and checks both see the same.
fn run_both(spec: RunSpec) -> Seen {
    let inline = run(spec.clone().prefetch(0));
    let prefetched = run(spec.prefetch(3));
    assert_eq!(inline, prefetched, "prefetch 0 and 3 see the same");
    inline
}

fn delivered(numbers: &[u64]) -> Vec<Result<(u64, Vec<usize>), String>> {
    numbers
        .iter()
        .map(|&n| Ok((n, vec![2 * n as usize, 2 * n as usize + 1])))
        .collect()
}

fn all_but(failed: &[u64], upto: u64) -> Vec<u64> {
    (0..upto).filter(|n| !failed.contains(n)).collect()
}

#[test]
fn a_budget_of_four_completes_and_lists_every_failure() {
    let seen = run_both(RunSpec::new(2).max_failures(4_u64));
    assert_eq!(seen.items, delivered(&all_but(&[2, 5, 7, 11], 20)));
    assert_eq!(seen.too_many, None);
    let r = &seen.report;
    assert_eq!(r.end, RunEnd::Completed);
    assert_eq!((r.batches, r.items, r.failed, r.skipped), (16, 32, 4, 0));
    assert_eq!(failures_of(r), expected_failures(4));

    // `run` gives the same report.
    let report = failing()
        .run(&RunSpec::new(2).max_failures(4_u64).prefetch(3))
        .unwrap();
    assert_eq!(failures_of(&report), expected_failures(4));
    assert_eq!(report.failed, 4);
}

#[test]
fn the_failure_beyond_the_budget_ends_the_run_at_its_place() {
    let seen = run_both(RunSpec::new(2).max_failures(3_u64));
    let mut expected = delivered(&all_but(&[2, 5, 7], 11));
    let (failed, allowed, summary) = seen.too_many.clone().expect("TooManyFailures");
    assert_eq!((failed, allowed), (4, 3));
    for (_, _, _, error) in EXPECTED {
        assert!(
            summary.contains(error),
            "the summary names {error:?}: {summary}"
        );
    }
    let text = format!(
        "4 batches failed, more than the 3 allowed; the first: {}",
        EXPECTED.map(|e| e.3).join("\n  ")
    );
    expected.push(Err(text));
    assert_eq!(seen.items, expected, "batches up to 10, then the error");
    let r = &seen.report;
    assert_eq!(r.end, RunEnd::Failed);
    assert_eq!((r.batches, r.failed), (8, 4));
    assert_eq!(failures_of(r), expected_failures(4));
}

#[test]
fn a_fraction_is_of_the_runs_batches() {
    // 0.1 of 20 batches: 2 allowed, the third failure (batch 7, the panic) stops the run.
    let seen = run_both(RunSpec::new(2).max_failures(0.1));
    let (failed, allowed, summary) = seen.too_many.clone().expect("TooManyFailures");
    assert_eq!((failed, allowed), (3, 2));
    assert!(summary.contains("exploded on batch 7"), "{summary}");
    assert!(!summary.contains("bad record 11"), "{summary}");
    assert_eq!(seen.items.len(), 6);
    assert_eq!(seen.items[..5], delivered(&[0, 1, 3, 4, 6])[..]);
    assert_eq!(seen.report.failed, 3);
    assert_eq!(failures_of(&seen.report), expected_failures(3));

    // 0.2 of 20: 4 allowed, the run completes.
    let seen = run_both(RunSpec::new(2).max_failures(0.2));
    assert_eq!(seen.too_many, None);
    assert_eq!(seen.report.end, RunEnd::Completed);
    assert_eq!(failures_of(&seen.report), expected_failures(4));

    // 0.25 of n_iters(10): 2 allowed.
    let seen = run_both(RunSpec::new(2).n_iters(10).max_failures(0.25));
    assert_eq!(seen.too_many.map(|t| (t.0, t.1)), Some((3, 2)));

    // 0.1 of two epochs (40 batches): 4 allowed; batches 2, 5, 7, 11 are the only failures.
    let seen = run_both(RunSpec::new(2).n_epochs(2).max_failures(0.1));
    assert_eq!(seen.too_many, None);
    assert_eq!(seen.report.batches, 36);

    // 0 and 0.0: the first failure ends the run.
    for spec in [
        RunSpec::new(2).max_failures(0_u64),
        RunSpec::new(2).max_failures(0.0),
    ] {
        let seen = run_both(spec);
        assert_eq!(seen.too_many.map(|t| (t.0, t.1)), Some((1, 0)));
        assert_eq!(seen.items.len(), 3, "batches 0 and 1, then the error");
    }
}

#[test]
fn ignore_errors_also_lists_the_failures() {
    let seen = run_both(RunSpec::new(2).ignore_errors(true));
    assert_eq!(seen.too_many, None);
    assert_eq!(seen.items, delivered(&all_but(&[2, 5, 7, 11], 20)));
    assert_eq!(seen.report.failed, 4);
    assert_eq!(seen.report.end, RunEnd::Completed);
    assert_eq!(failures_of(&seen.report), expected_failures(4));

    // With a budget too, the budget applies.
    let seen = run_both(RunSpec::new(2).ignore_errors(true).max_failures(1_u64));
    assert_eq!(seen.too_many.map(|t| (t.0, t.1)), Some((2, 1)));

    // Without either, the first failure ends the run and nothing was skipped.
    let seen = run_both(RunSpec::new(2));
    assert_eq!(
        seen.items.last(),
        Some(&Err(EXPECTED[0].3.to_string())),
        "the first error itself"
    );
    assert_eq!(seen.report.failed, 1);
    assert!(seen.report.failures.is_empty(), "no failure was skipped");
}

#[test]
fn skips_are_not_failures_and_lock_errors_name_the_lock() {
    let report = with_watchdog(LIMIT, || {
        dataset(20)
            .p()
            .apply("skip odd", |_: &mut Probe, ctx: &mut Context| {
                if ctx.batch() % 2 == 1 {
                    return Err(ActionError::skip_batch());
                }
                Ok(())
            })
            .release_lock("gpu")
            .run(&RunSpec::new(2).max_failures(5_u64).prefetch(2))
    })
    .unwrap();
    assert_eq!((report.skipped, report.failed, report.batches), (5, 5, 0));
    let f = &report.failures[0];
    assert_eq!((f.batch, f.ids.as_str()), (0, "[0, 1]"));
    assert_eq!(f.action, "lock gpu");
    assert!(f.error.contains("does not hold"), "{}", f.error);
    let numbers: Vec<u64> = report.failures.iter().map(|f| f.batch).collect();
    assert_eq!(numbers, [0, 2, 4, 6, 8]);
}

#[test]
fn a_fraction_needs_a_known_total_within_zero_and_one() {
    // A next_batch run without n_epochs or n_iters is endless.
    let mut p = failing();
    match p.next_batch(&RunSpec::new(2).max_failures(0.1)) {
        Err(PipelineError::Build(msg)) => assert!(msg.contains("known length"), "{msg}"),
        other => panic!("expected a build error, got {other:?}"),
    }
    p.reset_iter();
    // A count is fine there, and a fraction of a next_batch run of known length too.
    let spec = RunSpec::new(2).max_failures(3_u64).prefetch(2);
    let mut got = Vec::new();
    let err = loop {
        match p.next_batch(&spec) {
            Ok(Some(b)) => got.push(b.values[0]),
            Ok(None) => panic!("an endless run does not end"),
            Err(e) => break e,
        }
    };
    assert!(matches!(
        err,
        PipelineError::TooManyFailures {
            failed: 4,
            allowed: 3,
            ..
        }
    ));
    assert_eq!(got, all_but(&[2, 5, 7], 11));
    p.reset_iter();
    assert!(p
        .next_batch(&RunSpec::new(2).n_epochs(1).max_failures(0.5))
        .is_ok());
    p.reset_iter();

    // Outside [0, 1].
    for f in [1.5, -0.1, f64::NAN, f64::INFINITY] {
        for k in [0, 3] {
            let spec = RunSpec::new(2).max_failures(f).prefetch(k);
            match failing().gen_batch(&spec).map(drop) {
                Err(PipelineError::Build(msg)) => {
                    assert!(msg.contains("[0, 1]"), "{f}: {msg}")
                }
                other => panic!("{f}: expected a build error, got {other:?}"),
            }
            assert!(matches!(
                failing().run(&spec).map_err(|e| e.error),
                Err(PipelineError::Build(_))
            ));
        }
    }
    // The bounds themselves are fine.
    for f in [0.0, 1.0] {
        assert!(failing()
            .gen_batch(&RunSpec::new(2).max_failures(f))
            .is_ok());
    }
}

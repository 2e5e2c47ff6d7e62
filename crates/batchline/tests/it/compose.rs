//! Pipeline state and composition, each feature run at k = 0 and k = 3 (with random sleeps in
//! the actions) and compared, under a watchdog.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use batchline::{
    Action, ActionError, Arg, Batch, Context, Dataset, DatasetIndex, Pipeline, PipelineError,
    Reset, RunEnd, RunSpec, Update,
};
use batchline::{Config, VariableError};
use common::{dataset, with_watchdog, Jitter, Probe};
use parking_lot::Mutex;

const LIMIT: Duration = Duration::from_secs(30);

/// What the consumer saw of one batch (or the error's text).
type Seen = Result<(Vec<usize>, Vec<u64>, Vec<String>), String>;

/// A random short sleep, different for each batch, so that batches finish out of order.
fn jitter(b: &mut Probe, _: &mut Context) {
    let mut j = Jitter(0x5eed ^ (b.ids()[0] as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    std::thread::sleep(Duration::from_micros(j.below(1500)));
}

/// Runs the pipeline at prefetch `k` under the watchdog; gives the pipeline back with what
/// the consumer saw.
fn run_at(p: Pipeline<Probe>, spec: RunSpec, k: usize) -> (Pipeline<Probe>, Vec<Seen>) {
    with_watchdog(LIMIT, move || {
        let seen = match p.gen_batch(&spec.prefetch(k)) {
            Ok(iter) => iter
                .map(|b| {
                    b.map(|b| (b.ids().to_vec(), b.values.clone(), b.log.clone()))
                        .map_err(|e| e.to_string())
                })
                .collect(),
            Err(e) => vec![Err(e.to_string())],
        };
        (p, seen)
    })
}

/// Runs a fresh clone of `p` at k = 0 and at k = 3, checks that both saw the same, and
/// returns it.
fn same_at_0_and_3(p: &Pipeline<Probe>, spec: RunSpec) -> Vec<Seen> {
    let (_, at0) = run_at(p.clone(), spec.clone(), 0);
    let (_, at3) = run_at(p.clone(), spec, 3);
    assert_eq!(at0, at3, "k = 0 and k = 3 differ");
    at0
}

fn ok(seen: Vec<Seen>) -> Vec<(Vec<usize>, Vec<u64>, Vec<String>)> {
    seen.into_iter().map(|s| s.expect("no error")).collect()
}

/// An action that pushes the value of `arg` onto the batch's values.
fn push(name: &str, arg: Arg<u64>) -> Action<Probe> {
    Action::new(name, move |b: &mut Probe, ctx: &mut Context| {
        let v = arg.eval(&*b, ctx)?;
        b.values.push(v);
        Ok::<_, ActionError>(())
    })
}

#[test]
fn lazy_arguments_are_the_same_for_any_prefetch() {
    let p = dataset(40)
        .p()
        .init_variable("offset", 1000_u64)
        .with_config(Config::new().with("scale", 7).unwrap())
        .apply("jitter", jitter)
        .push(push("number", Arg::batch_number()))
        .push(push("uniform", Arg::uniform(0_u64, 1_000_000)))
        .push(push("choice", Arg::choice(vec![3, 5, 8])))
        .push(push("variable", Arg::variable("offset")))
        .push(push("config", Arg::config("scale")))
        .push(push(
            "field",
            Arg::from_batch(|b: &Probe, _: &mut Context| b.ids()[0] as u64),
        ))
        .push(push("map", Arg::batch_number().map(|n| n * 10)))
        .push(push(
            "closure",
            Arg::from_fn(|ctx: &mut Context| ctx.seed()),
        ));
    let spec = RunSpec::new(3).shuffle(11);
    let seen = ok(same_at_0_and_3(&p, spec.clone()));
    assert_eq!(seen.len(), 14);
    let mut uniforms = Vec::new();
    for (n, (ids, values, _)) in seen.iter().enumerate() {
        let n = n as u64;
        assert_eq!(values[0], n);
        uniforms.push(values[1]);
        assert!([3, 5, 8].contains(&values[2]));
        assert_eq!(&values[3..5], &[1000, 7]);
        assert_eq!(values[5], ids[0] as u64);
        assert_eq!(values[6], 10 * n);
        assert_eq!(values[7], 11, "the run seed is the shuffle seed");
    }
    uniforms.sort();
    uniforms.dedup();
    assert!(uniforms.len() > 10, "draws differ between batches");
    // Another seed draws otherwise.
    let (_, other) = run_at(p.clone(), spec.seed(12), 0);
    assert_ne!(ok(other)[0].1[1], seen[0].1[1]);
}

#[test]
fn argument_errors_name_the_variable_or_key() {
    let p = dataset(4)
        .p()
        .init_variable("n", 1_u32)
        .push(push("v", Arg::variable("n")));
    let (_, seen) = run_at(p, RunSpec::new(2), 0);
    let err = seen[0].clone().unwrap_err();
    assert!(
        err.contains("\"n\"") && err.contains("u32") && err.contains("u64"),
        "{err}"
    );

    let p = dataset(4).p().push(push("v", Arg::variable("missing")));
    let (_, seen) = run_at(p, RunSpec::new(2), 3);
    let err = seen[0].clone().unwrap_err();
    assert!(
        err.contains("\"missing\"") && err.contains("init_variable"),
        "{err}"
    );

    let p = dataset(4).p().push(push("c", Arg::config("lr")));
    let (_, seen) = run_at(p, RunSpec::new(2), 3);
    let err = seen[0].clone().unwrap_err();
    assert!(err.contains("\"lr\""), "{err}");
}

#[test]
fn variables_lose_no_update_whatever_k() {
    for k in [0, 3] {
        let p = dataset(300)
            .p()
            .init_variable("items", 0_usize)
            .init_variable("numbers", Vec::<u64>::new())
            .init_variable("sum", 0_u64)
            .apply("jitter", jitter)
            .apply("count", |b: &mut Probe, ctx: &mut Context| {
                ctx.variables()
                    .update("items", |n: &mut usize| *n += b.len())
            })
            .update_variable("numbers", Update::append(Arg::batch_number()))
            .update_variable(
                "sum",
                Update::merge(Arg::batch_number(), |s: &mut u64, n: u64| *s += n),
            );
        let (p, seen) = run_at(p, RunSpec::new(2), k);
        assert_eq!(seen.len(), 150);
        let vars = p.variables();
        assert_eq!(vars.get::<usize>("items"), Ok(300), "k = {k}");
        assert_eq!(
            vars.get::<Vec<u64>>("numbers").unwrap(),
            (0..150).collect::<Vec<u64>>(),
            "update_variable runs in batch order at k = {k}"
        );
        assert_eq!(vars.get::<u64>("sum"), Ok(149 * 150 / 2));
        // Values survive the run, until reset.
        let mut p = p;
        p.run(&RunSpec::new(2).prefetch(k)).unwrap();
        assert_eq!(p.variables().get::<usize>("items"), Ok(600));
        p.reset(Reset::Variables);
        assert_eq!(p.variables().get::<usize>("items"), Ok(0));
        assert_eq!(p.variables().names(), ["items", "numbers", "sum"]);
    }
}

#[test]
fn update_variable_extend_write_and_errors() {
    let p = dataset(6)
        .p()
        .init_variable("ids", Vec::<u64>::new())
        .init_variable("last", 0_u64)
        .update_variable(
            "ids",
            Update::extend(Arg::from_batch(|b: &Probe, _: &mut Context| {
                b.ids().iter().map(|&i| i as u64).collect()
            })),
        )
        .update_variable("last", Update::write(Arg::batch_number()));
    let (p, _) = run_at(p, RunSpec::new(4).shuffle(5), 3);
    let mut ids = p.variables().get::<Vec<u64>>("ids").unwrap();
    assert_eq!(ids.len(), 6);
    ids.sort();
    assert_eq!(ids, [0, 1, 2, 3, 4, 5]);
    assert_eq!(p.variables().get::<u64>("last"), Ok(1));

    let p = dataset(6)
        .p()
        .update_variable("nope", Update::write(Arg::from(1_u8)));
    let (_, seen) = run_at(p, RunSpec::new(3), 3);
    let err = seen[0].clone().unwrap_err();
    assert!(
        err.contains("update_variable(nope, write)") && err.contains("\"nope\""),
        "{err}"
    );
}

#[test]
fn the_consumer_reads_and_sets_variables_between_batches() {
    let p = dataset(5)
        .p()
        .init_variable("scale", 1_u64)
        .push(push("scaled", Arg::variable("scale")));
    let mut got = Vec::new();
    let mut iter = p.gen_batch(&RunSpec::new(1)).unwrap();
    while let Some(b) = iter.next() {
        got.push(b.unwrap().values[0]);
        let vars = iter.variables();
        let s: u64 = vars.get("scale").unwrap();
        vars.set("scale", s * 2).unwrap();
    }
    assert_eq!(got, [1, 2, 4, 8, 16]);
    assert_eq!(p.variables().get::<u64>("scale"), Ok(32));
    assert_eq!(
        p.variables().set("scale", 1_i32),
        Err(VariableError::WrongType {
            name: "scale".into(),
            expected: "i32",
            actual: "u64"
        })
    );
}

#[test]
fn config_is_set_when_building_or_before_a_run_and_overridden_with_shl() {
    let template = Pipeline::<Probe>::template()
        .with_config(Config::new().with("a", 1).unwrap().with("b", 2).unwrap())
        .push(push("a", Arg::config("a")))
        .push(push("b", Arg::config("b")));
    let p = dataset(4) >> template;
    let seen = ok(same_at_0_and_3(&p, RunSpec::new(2)));
    assert_eq!(seen[1].1, [1, 2]);
    let mut p = p << Config::new().with("b", 20).unwrap();
    assert_eq!(ok(same_at_0_and_3(&p, RunSpec::new(2)))[0].1, [1, 20]);
    p.set_config("a", 10).unwrap();
    assert_eq!(p.config().get::<u64>("a"), Ok(10));
    assert_eq!(ok(same_at_0_and_3(&p, RunSpec::new(2)))[0].1, [10, 20]);
}

/// A pipeline whose before/after steps count their runs and record how the run ended.
fn hooked(p: Pipeline<Probe>) -> (Pipeline<Probe>, Arc<AtomicUsize>, Arc<Mutex<Vec<RunEnd>>>) {
    let before = Arc::new(AtomicUsize::new(0));
    let ends = Arc::new(Mutex::new(Vec::new()));
    let (b2, e2) = (Arc::clone(&before), Arc::clone(&ends));
    let p = p
        .init_variable("opened", false)
        .before("open", move |s: &batchline::RunState| {
            b2.fetch_add(1, Ordering::SeqCst);
            assert_eq!(s.end(), RunEnd::Running);
            s.variables().set("opened", true)
        })
        .after("close", move |s: &batchline::RunState| {
            e2.lock().push(s.end());
            assert!(s.variables().get::<bool>("opened").unwrap());
            assert!(s.report().is_some());
        });
    (p, before, ends)
}

#[test]
fn before_and_after_run_once_however_the_run_ends() {
    for k in [0, 3] {
        // To the end.
        let (p, before, ends) = hooked(dataset(10).p().apply("jitter", jitter));
        let report = with_watchdog(LIMIT, move || p.run(&RunSpec::new(2).prefetch(k))).unwrap();
        assert_eq!(report.end, RunEnd::Completed);
        assert_eq!(before.load(Ordering::SeqCst), 1);
        assert_eq!(*ends.lock(), [RunEnd::Completed]);

        // The consumer breaks early.
        let (p, before, ends) = hooked(dataset(10).p().apply("jitter", jitter));
        with_watchdog(LIMIT, move || {
            let mut iter = p.gen_batch(&RunSpec::new(2).prefetch(k)).unwrap();
            iter.next().unwrap().unwrap();
            drop(iter);
        });
        assert_eq!(before.load(Ordering::SeqCst), 1);
        assert_eq!(*ends.lock(), [RunEnd::Dropped], "k = {k}");

        // An action fails.
        let (p, before, ends) = hooked(dataset(10).p().apply(
            "fail at #3",
            |b: &mut Probe, _: &mut Context| {
                if b.ids()[0] == 4 {
                    return Err(ActionError::msg("boom"));
                }
                Ok(())
            },
        ));
        let err = with_watchdog(LIMIT, move || p.run(&RunSpec::new(2).prefetch(k))).unwrap_err();
        assert_eq!(err.batch(), Some(2));
        assert_eq!(before.load(Ordering::SeqCst), 1);
        assert_eq!(*ends.lock(), [RunEnd::Failed]);

        // An action stops the run.
        let (p, _, ends) = hooked(dataset(10).p().apply(
            "stop",
            |b: &mut Probe, _: &mut Context| {
                if b.ids()[0] == 4 {
                    return Err(ActionError::stop_run());
                }
                Ok(())
            },
        ));
        let report = with_watchdog(LIMIT, move || p.run(&RunSpec::new(2).prefetch(k))).unwrap();
        assert_eq!((report.batches, report.end), (2, RunEnd::Stopped));
        assert_eq!(*ends.lock(), [RunEnd::Stopped]);
    }
}

#[test]
fn hook_errors_are_reported() {
    for k in [0, 3] {
        let ran = Arc::new(AtomicUsize::new(0));
        let r2 = Arc::clone(&ran);
        let p = dataset(4)
            .p()
            .before("check", |_: &batchline::RunState| {
                Err::<(), _>(ActionError::msg("no input file"))
            })
            .apply("count", move |_: &mut Probe, _: &mut Context| {
                r2.fetch_add(1, Ordering::SeqCst);
            });
        match p.gen_batch(&RunSpec::new(2).prefetch(k)) {
            Err(PipelineError::Hook {
                stage,
                hook,
                message,
            }) => {
                assert_eq!(
                    (stage, &*hook, &*message),
                    ("before", "check", "no input file")
                );
            }
            other => panic!("expected a before error, got {other:?}"),
        }
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "no batch runs after a failed before"
        );

        let p = dataset(4).p().after(
            "flush",
            |_: &batchline::RunState| -> Result<(), ActionError> { panic!("disk full") },
        );
        let (_, seen) = run_at(p.clone(), RunSpec::new(2), k);
        assert_eq!(seen.len(), 3, "two batches, then the after error");
        let err = seen[2].clone().unwrap_err();
        assert!(
            err.contains("after step \"flush\"") && err.contains("disk full"),
            "{err}"
        );
        let mut iter = p.gen_batch(&RunSpec::new(2).prefetch(k)).unwrap();
        iter.next();
        drop(iter.next());
        assert!(iter.next().is_some_and(|r| r.is_err()));
        let report = iter.report();
        assert_eq!(report.end, RunEnd::Failed);
        assert_eq!(report.hook_errors.len(), 1);
        assert!(iter.next().is_none());
    }
}

fn log(name: &'static str) -> Action<Probe> {
    Action::new(name, move |b: &mut Probe, _: &mut Context| {
        b.log.push(name.to_string())
    })
}

#[test]
fn chain_concatenates_steps_variables_config_and_hooks() {
    let first = dataset(6)
        .p()
        .init_variable("x", 1_u64)
        .with_config(Config::new().with("c", 1).unwrap())
        .push(log("a"));
    let second = Pipeline::<Probe>::template()
        .init_variable("y", 2_u64)
        .with_config(Config::new().with("c", 3).unwrap())
        .push(log("b"))
        .push(push("x", Arg::variable("x")))
        .push(push("y", Arg::variable("y")))
        .push(push("c", Arg::config("c")));
    let p = first + second;
    assert_eq!(p.step_names(), ["a", "b", "x", "y", "c"]);
    let seen = ok(same_at_0_and_3(&p, RunSpec::new(3)));
    assert_eq!(seen[0].1, [1, 2, 3]);
    assert_eq!(seen[0].2, ["a", "b"]);
}

#[test]
fn sometimes_rate_is_within_bounds_and_independent_of_k() {
    let p = dataset(2000)
        .p()
        .apply("jitter", jitter)
        .push(log("flip"))
        .sometimes(0.3);
    let spec = RunSpec::new(1).seed(2024);
    let (_, at0) = run_at(p.clone(), spec.clone(), 0);
    let (_, at3) = run_at(p.clone(), spec.clone(), 3);
    let flips = |seen: &[Seen]| {
        seen.iter()
            .map(|s| s.as_ref().unwrap().2.len())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        flips(&at0),
        flips(&at3),
        "the same batches are flipped at k = 0 and 3"
    );
    let n: usize = flips(&at0).iter().sum();
    // Binomial(2000, 0.3): mean 600, sd 20.5; allow 5 sd.
    assert!((498..=702).contains(&n), "{n} flips of 2000 at p = 0.3");
    let (_, other_seed) = run_at(p, spec.seed(2025), 0);
    assert_ne!(flips(&other_seed), flips(&at0));
}

#[test]
fn sometimes_with_repeat_repeat_with_call_and_discard() {
    fn tag(b: &mut Probe, _: &mut Context) {
        b.log.push("tag".into());
    }
    let sub = Pipeline::<Probe>::template()
        .push(log("s1"))
        .push(log("s2"));
    let p = dataset(400)
        .p()
        .apply("jitter", jitter)
        .sometimes_with(0.5, sub.clone())
        .push(log("r"))
        .repeat(3)
        .repeat_with(2, sub)
        .call(tag);
    assert!(
        p.step_names().contains(&"call(tag)".to_string()),
        "{:?}",
        p.step_names()
    );
    let seen = ok(same_at_0_and_3(&p, RunSpec::new(1).seed(9)));
    let mut with_sub = 0;
    for (_, _, log) in &seen {
        let tail = ["r", "r", "r", "s1", "s2", "s1", "s2", "tag"];
        if log.len() == 10 {
            with_sub += 1;
            assert_eq!(&log[..2], ["s1", "s2"]);
            assert_eq!(&log[2..], tail);
        } else {
            assert_eq!(log, &tail);
        }
    }
    assert!(
        (120..=280).contains(&with_sub),
        "{with_sub} of 400 at p = 0.5"
    );

    let p = dataset(10).p().push(log("a")).discard();
    for k in [0, 3] {
        let report = p.run(&RunSpec::new(2).prefetch(k)).unwrap();
        assert_eq!((report.batches, report.skipped), (0, 5));
    }
}

/// A writer whose text the test can read.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn print_writes_in_batch_order() {
    for k in [0, 3] {
        let buf = SharedBuf::default();
        let out = Arc::clone(&buf.0);
        let p = dataset(30)
            .p()
            .apply("jitter", jitter)
            .print_to(buf, Arg::batch_number().map(|n| format!("batch {n}")))
            .discard();
        with_watchdog(LIMIT, move || p.run(&RunSpec::new(2).prefetch(k)).unwrap());
        let text = String::from_utf8(out.lock().clone()).unwrap();
        let expected: String = (0..15).map(|n| format!("batch {n}\n")).collect();
        assert_eq!(text, expected, "k = {k}");
    }
}

#[test]
fn build_errors_surface_at_the_first_run() {
    let cases: Vec<(Pipeline<Probe>, &str)> = vec![
        (
            dataset(4).p().push(log("a")).sometimes(1.5),
            "probability 1.5",
        ),
        (dataset(4).p().sometimes(0.5), "sometimes() needs a step"),
        (dataset(4).p().repeat(2), "repeat() needs a step"),
        (Pipeline::template().push(log("a")), "no dataset"),
        (
            dataset(4)
                .p()
                .join(Pipeline::<Probe>::template())
                .apply("j", |_: &mut Probe, _: &mut Probe, _: &mut Context| {}),
            "join: invalid pipeline: the pipeline has no dataset",
        ),
    ];
    for (p, text) in cases {
        match p.gen_batch(&RunSpec::new(2)) {
            Err(e @ PipelineError::Build(_)) => {
                assert!(e.to_string().contains(text), "{e} lacks {text:?}")
            }
            other => panic!("expected a build error with {text:?}, got {other:?}"),
        }
    }
}

#[test]
fn join_keeps_pairs_aligned_under_shuffle() {
    // The masks' index lists the same ids in another order.
    let ids: Vec<usize> = (0..50).rev().collect();
    let masks: Dataset<Probe> = Dataset::new(
        DatasetIndex::from_ids(ids).unwrap(),
        common::ProbeSource::default(),
    );
    let mask_pipeline = masks
        .p()
        .apply("mask values", |m: &mut Probe, _: &mut Context| {
            m.values = m.ids().iter().map(|&i| 1000 + i as u64).collect();
        });
    let p = dataset(50)
        .p()
        .apply("jitter", jitter)
        .join(mask_pipeline)
        .apply("pair", |b: &mut Probe, m: &mut Probe, _: &mut Context| {
            assert_eq!(b.ids(), m.ids());
            b.values = m.values.clone();
        });
    let seen = ok(same_at_0_and_3(&p, RunSpec::new(4).shuffle(17).n_epochs(2)));
    assert_eq!(seen.len(), 25);
    for (ids, values, _) in &seen {
        let expected: Vec<u64> = ids.iter().map(|&i| 1000 + i as u64).collect();
        assert_eq!(values, &expected);
    }

    // An id the other dataset lacks fails the batch and names it.
    let few: Dataset<Probe> =
        Dataset::new(DatasetIndex::from_count(3), common::ProbeSource::default());
    let p = dataset(6)
        .p()
        .join(few.p())
        .apply("pair", |_: &mut Probe, _: &mut Probe, _: &mut Context| {});
    let (_, seen) = run_at(p, RunSpec::new(3), 3);
    assert!(seen[0].is_ok());
    let err = seen[1].clone().unwrap_err();
    assert!(err.contains("join") && err.contains("id 3"), "{err}");
}

#[test]
fn merge_pairs_batch_n_with_the_other_runs_batch_n_and_stops_with_it() {
    let other = dataset(100)
        .p()
        .apply("tag", |b: &mut Probe, ctx: &mut Context| {
            b.values = vec![1000 + ctx.batch(); b.len()];
        });
    let p = dataset(40)
        .p()
        .apply("jitter", jitter)
        .apply("own", |b: &mut Probe, ctx: &mut Context| {
            b.values = vec![ctx.batch(); b.len()];
        })
        .merge(other, RunSpec::new(2).n_iters(7));
    let seen = ok(same_at_0_and_3(&p, RunSpec::new(4)));
    assert_eq!(seen.len(), 7, "the run stops when the other run ends");
    for (n, (ids, values, _)) in seen.iter().enumerate() {
        let n = n as u64;
        assert_eq!(ids.len(), 6);
        assert_eq!(&ids[4..], &[2 * n as usize, 2 * n as usize + 1]);
        assert_eq!(values[..4], [n; 4]);
        assert_eq!(values[4..], [1000 + n; 2]);
    }
}

#[test]
fn merge_errors_name_their_cause() {
    for k in [0, 3] {
        // The other pipeline fails at its second batch.
        let other = dataset(100)
            .p()
            .apply("other fails", |_: &mut Probe, ctx: &mut Context| {
                if ctx.batch() == 1 {
                    return Err(ActionError::msg("bad record"));
                }
                Ok(())
            });
        let p = dataset(40).p().merge(other, RunSpec::new(2));
        let (_, seen) = run_at(p, RunSpec::new(4), k);
        assert_eq!(seen.len(), 2);
        assert!(seen[0].is_ok());
        let err = seen[1].clone().unwrap_err();
        assert!(err.contains("merge") && err.contains("bad record"), "{err}");

        // The other spec does not fit the other dataset.
        let p = dataset(40).p().merge(dataset(3).p(), RunSpec::new(5));
        let (_, seen) = run_at(p, RunSpec::new(4), k);
        let err = seen[0].clone().unwrap_err();
        assert!(err.contains("cannot start the other pipeline"), "{err}");
    }
}

#[test]
fn next_batch_runs_hooks_per_run_and_reset_restarts_it() {
    let (mut p, before, ends) = hooked(dataset(6).p().push(push("n", Arg::batch_number())));
    let spec = RunSpec::new(2).prefetch(2);
    let first: Vec<u64> = (0..2)
        .map(|_| p.next_batch(&spec).unwrap().unwrap().values[0])
        .collect();
    assert_eq!(first, [0, 1]);
    p.reset(Reset::Iter);
    assert_eq!(*ends.lock(), [RunEnd::Dropped], "resetting ends the run");
    assert_eq!(p.next_batch(&spec).unwrap().unwrap().values[0], 0);
    assert_eq!(before.load(Ordering::SeqCst), 2);
    p.set_config("x", 1).unwrap();
    p.reset(Reset::All);
    assert_eq!(p.variables().get::<bool>("opened"), Ok(false));
    assert_eq!(ends.lock().len(), 2);
}

#[test]
fn sometimes_and_repeat_compose_on_whole_steps() {
    let count = |p: Pipeline<Probe>| -> usize {
        let (_, seen) = run_at(p, RunSpec::new(1).seed(3), 3);
        ok(seen).iter().map(|(_, _, log)| log.len()).sum()
    };
    // Two draws of 1/2 in a row: a quarter of 4 000 batches (5 sd ≈ 137).
    let n = count(
        dataset(4000)
            .p()
            .push(log("a"))
            .sometimes(0.5)
            .sometimes(0.5),
    );
    assert!((863..=1137).contains(&n), "{n}");
    assert_eq!(
        count(
            dataset(100)
                .p()
                .sometimes_with(0.0, Pipeline::template().push(log("x")).push(log("y")))
                .sometimes(1.0)
        ),
        0
    );
    let never = dataset(100).p().push(log("a")).sometimes(0.0).repeat(3);
    assert_eq!(never.step_names().len(), 3);
    assert_eq!(count(never), 0);
    let gone = dataset(100).p().push(log("a")).sometimes(0.5).repeat(0);
    assert!(gone.step_names().is_empty());
    assert_eq!(count(gone), 0);
    // Repeated whole, each with its own draw: about 3 × 1/2 of 2 000 batches.
    let n = count(dataset(2000).p().push(log("a")).sometimes(0.5).repeat(3));
    assert!((2800..=3200).contains(&n), "{n}");
    assert_eq!(
        dataset(2).p().push(log("a")).sometimes(0.5).step_names(),
        ["sometimes(0.5)[a]"]
    );
}

#[test]
fn a_resumed_run_merges_the_same_batches() {
    let other = dataset(100)
        .p()
        .apply("tag", |b: &mut Probe, ctx: &mut Context| {
            b.values = vec![1000 + ctx.batch(); b.len()];
        });
    let p = dataset(40)
        .p()
        .apply("own", |b: &mut Probe, ctx: &mut Context| {
            b.values = vec![ctx.batch(); b.len()];
        })
        .merge(other, RunSpec::new(1));
    let spec = RunSpec::new(1).n_iters(10).prefetch(2);
    let values = |iter: batchline::BatchIter<Probe>| -> Vec<Vec<u64>> {
        iter.map(|b| b.unwrap().values.clone()).collect()
    };
    let whole = values(p.gen_batch(&spec).unwrap());
    let mut first = p.gen_batch(&spec).unwrap();
    let head: Vec<Vec<u64>> = first
        .by_ref()
        .take(3)
        .map(|b| b.unwrap().values.clone())
        .collect();
    let state = first.checkpoint().unwrap();
    drop(first);
    let rest = values(p.resume(&spec, &state).unwrap());
    assert_eq!([head, rest].concat(), whole);
    assert_eq!(whole[5], [5, 1005]);
}

#[test]
fn merge_keeps_failing_after_the_other_run_failed() {
    let other = dataset(100)
        .p()
        .apply("flaky", |_: &mut Probe, ctx: &mut Context| {
            if ctx.batch() == 1 {
                return Err(ActionError::msg("bad record"));
            }
            Ok(())
        });
    let p = dataset(20).p().merge(other, RunSpec::new(1));
    let report = p.run(&RunSpec::new(1).ignore_errors(true)).unwrap();
    assert_eq!((report.batches, report.failed), (1, 19), "{report:?}");
    assert!(!report.stopped);
    assert!(
        report.failures[1].error.contains("failed before: "),
        "{:?}",
        report.failures[1]
    );
}

//! Defect 6 of issue 13: resume is exact for the side effects of commit steps.
//!
//! A commit step (`Pipeline::commit(name, f)`, or `Action::new(..).commit()`) runs on the
//! consumer's thread when the consumer receives the batch, in batch order, after every worker
//! step; state variables are checkpointed as of the last batch received. So an action that
//! appends to a file and counts in a state variable, interrupted by a checkpoint at a random
//! batch with a slow consumer and resumed at another k, leaves the file and the variable
//! equal to an uninterrupted run's.
//!
//! This module needs that API: its `mod` line in `main.rs` is commented out until it lands.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use batchline::{Action, Batch, Context, Pipeline, RunSpec};
use common::{dataset, with_watchdog, Jitter, Probe};

const LIMIT: Duration = Duration::from_secs(60);

/// Which way the commit step is declared.
#[derive(Clone, Copy, Debug)]
enum Declared {
    /// `Pipeline::commit(name, f)`.
    Pipeline,
    /// `Action::new(name, f).commit()`.
    Action,
}

/// 30 batches of 2 shuffled ids: a worker step that sleeps a little, then the commit step
/// that appends the batch's number and ids to `log` and counts batches and items in state
/// variables.
fn pipeline(log: &Path, declared: Declared) -> Pipeline<Probe> {
    let log: PathBuf = log.to_path_buf();
    let commit = move |b: &mut Probe, ctx: &mut Context| -> Result<(), batchline::ActionError> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        writeln!(f, "{} {:?}", ctx.batch(), b.ids())?;
        ctx.variables().update("batches", |n: &mut u64| *n += 1)?;
        let items = b.len() as u64;
        ctx.variables().update("items", |n: &mut u64| *n += items)?;
        Ok(())
    };
    let p = dataset(60)
        .p()
        .init_state_variable("batches", 0u64)
        .init_state_variable("items", 0u64)
        .apply("work", |_: &mut Probe, ctx: &mut Context| {
            sleep(Duration::from_micros(Jitter(ctx.batch() + 11).below(1500)));
        });
    match declared {
        Declared::Pipeline => p.commit("log", commit),
        Declared::Action => p.push(Action::new("log", commit).commit()),
    }
}

fn spec(k: usize) -> RunSpec {
    RunSpec::new(2).shuffle(7).prefetch(k)
}

/// The log and the two variables after the run.
fn state(log: &Path, p: &Pipeline<Probe>) -> (String, u64, u64) {
    (
        std::fs::read_to_string(log).unwrap_or_default(),
        p.variables().get::<u64>("batches").unwrap(),
        p.variables().get::<u64>("items").unwrap(),
    )
}

#[test]
fn a_resumed_run_commits_each_batch_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Jitter(0x0006_c0de);
    for case in 0..6 {
        let declared = if case % 2 == 0 {
            Declared::Pipeline
        } else {
            Declared::Action
        };
        let at = 1 + j.below(28) as usize;
        let k1 = 1 + j.below(7) as usize;
        let k2 = (k1 + 1 + j.below(7) as usize) % 9;
        let whole_log = dir.path().join(format!("whole-{case}.log"));
        let cut_log = dir.path().join(format!("cut-{case}.log"));
        let (whole, cut) = with_watchdog(LIMIT, move || {
            let p = pipeline(&whole_log, declared);
            assert_eq!(p.run(&spec(0)).unwrap().batches, 30);
            let whole = state(&whole_log, &p);

            // Interrupted: a slow consumer, so that the workers run ahead of it.
            let p = pipeline(&cut_log, declared);
            let mut iter = p.gen_batch(&spec(k1)).unwrap();
            for _ in 0..at {
                iter.next().unwrap().unwrap();
                sleep(Duration::from_millis(3));
            }
            let cp = iter.checkpoint().unwrap();
            drop(iter);
            // Resumed by a new process, say: a fresh pipeline, the same file.
            let q = pipeline(&cut_log, declared);
            let rest = q.resume(&spec(k2), &cp).unwrap().count();
            assert_eq!(rest, 30 - at);
            (whole, state(&cut_log, &q))
        });
        assert_eq!(
            cut, whole,
            "case {case} ({declared:?}): checkpoint after {at} batches at k = {k1}, resumed at \
             k = {k2}"
        );
        assert_eq!((whole.1, whole.2), (30, 60));
        assert_eq!(whole.0.lines().count(), 30);
    }
}

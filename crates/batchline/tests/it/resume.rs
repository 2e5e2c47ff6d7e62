//! Checkpoints and `Pipeline::resume`: a resumed run continues the interrupted one exactly.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::Shuffle;
use batchline::{
    ActionError, Arg, Context, Dataset, DatasetIndex, Pipeline, PipelineError, RunSpec, Update,
};
use batchline::{Checkpoint, CheckpointError};
use common::{dataset, with_watchdog, Probe, ProbeSource};
use proptest::prelude::*;
use rand::Rng;

const LIMIT: Duration = Duration::from_secs(30);

/// What the consumer saw of one batch: its number (from `ctx.batch()`), its ids, and data
/// made from the ids, the batch number and the batch's random generator.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    batch: u64,
    ids: Vec<usize>,
    values: Vec<u64>,
}

fn rec(mut b: Probe) -> Rec {
    Rec {
        batch: b.values[0],
        ids: b.index.ids().to_vec(),
        values: std::mem::take(&mut b.values),
    }
}

/// Writes `values = [ctx.batch(), mix(id, draw) for each id]`.
fn mix(b: &mut Probe, ctx: &mut Context) {
    b.values.push(ctx.batch());
    let ids = b.index.ids().to_vec();
    for id in ids {
        let draw: u64 = ctx.rng().random();
        b.values
            .push((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ draw);
    }
}

fn mixing(ds: &Dataset<Probe>) -> Pipeline<Probe> {
    ds.p().apply("mix", mix)
}

fn collect(iter: impl Iterator<Item = Result<Probe, PipelineError>>) -> Vec<Rec> {
    iter.map(|b| rec(b.expect("no batch fails"))).collect()
}

fn roundtrips(cp: &Checkpoint) -> Checkpoint {
    let json = cp.to_json().expect("to_json");
    let from_json = Checkpoint::from_json(&json).expect("from_json");
    assert_eq!(&from_json, cp, "JSON round trip");
    let bytes = cp.to_bytes().expect("to_bytes");
    let from_bytes = Checkpoint::from_bytes(&bytes).expect("from_bytes");
    assert_eq!(&from_bytes, cp, "CBOR round trip");
    from_bytes
}

fn mismatch_what(err: PipelineError) -> &'static str {
    match err {
        PipelineError::Checkpoint(CheckpointError::Mismatch { what, .. }) => what,
        other => panic!("expected a checkpoint mismatch, got {other:?}"),
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Index order, run seed given.
    OffSeeded(u64),
    /// Index order, run seed drawn from entropy (the checkpoint must keep it).
    OffEntropy,
    /// Seeded shuffle (the run seed is the shuffle seed).
    Seeded(u64),
    /// Seeded shuffle and another run seed.
    SeededRun(u64, u64),
    /// `Shuffle::Random`: both seeds drawn at the start.
    Random,
}

impl Mode {
    /// Whether two fresh runs give the same batches.
    fn deterministic(self) -> bool {
        matches!(
            self,
            Mode::OffSeeded(_) | Mode::Seeded(_) | Mode::SeededRun(..)
        )
    }

    fn apply(self, spec: RunSpec) -> RunSpec {
        match self {
            Mode::OffSeeded(s) => spec.seed(s),
            Mode::OffEntropy => spec,
            Mode::Seeded(s) => spec.shuffle(s),
            Mode::SeededRun(s, r) => spec.shuffle(s).seed(r),
            Mode::Random => spec.shuffle(Shuffle::Random),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Length {
    /// Neither `n_epochs` nor `n_iters`: one epoch.
    Default,
    Epochs(u64),
    Iters(u64),
}

#[derive(Debug, Clone, Copy)]
enum Cut {
    Start,
    End,
    /// Per mille of the run.
    Frac(u64),
}

#[derive(Debug, Clone)]
struct Case {
    n: usize,
    batch_size: usize,
    mode: Mode,
    length: Length,
    drop_last: bool,
    cut: Cut,
    before: usize,
    after: usize,
    drop_first: bool,
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        any::<u64>().prop_map(Mode::OffSeeded),
        Just(Mode::OffEntropy),
        any::<u64>().prop_map(Mode::Seeded),
        (any::<u64>(), any::<u64>()).prop_map(|(s, r)| Mode::SeededRun(s, r)),
        Just(Mode::Random),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let k = || prop::sample::select(vec![0usize, 1, 4]);
    (
        1usize..80,
        0usize..1000,
        mode(),
        prop_oneof![
            Just(Length::Default),
            (1u64..4).prop_map(Length::Epochs),
            (0u64..40).prop_map(Length::Iters),
        ],
        any::<bool>(),
        prop_oneof![
            1 => Just(Cut::Start),
            1 => Just(Cut::End),
            3 => (0u64..=1000).prop_map(Cut::Frac),
        ],
        k(),
        k(),
        any::<bool>(),
    )
        .prop_map(
            |(n, bs, mode, length, drop_last, cut, before, after, drop_first)| Case {
                n,
                // Mostly small batches, so that runs have several batches and epochs.
                batch_size: 1 + bs % n.min(12),
                mode,
                length,
                drop_last,
                cut,
                before,
                after,
                drop_first,
            },
        )
}

fn check_case(c: Case) {
    let ds = dataset(c.n);
    let p = mixing(&ds);
    let mut spec = c
        .mode
        .apply(RunSpec::new(c.batch_size).drop_last(c.drop_last));
    spec = match c.length {
        Length::Default => spec,
        Length::Epochs(e) => spec.n_epochs(e),
        Length::Iters(i) => spec.n_iters(i),
    };
    let total = spec
        .batch_spec()
        .total_batches(c.n, false)
        .expect("a gen_batch run has a known length");
    let cut = match c.cut {
        Cut::Start => 0,
        Cut::End => total,
        Cut::Frac(f) => total * f / 1000,
    };

    let mut first = p.gen_batch(&spec.clone().prefetch(c.before)).unwrap();
    let head = collect(first.by_ref().take(cut as usize));
    assert_eq!(head.len() as u64, cut);
    let cp = first.checkpoint().unwrap();
    assert_eq!(cp.next_batch, cut);
    assert_eq!(cp.index_len, c.n as u64);
    match c.mode {
        Mode::OffSeeded(s) => {
            assert_eq!((cp.seed, cp.shuffle_seed), (s, None));
        }
        Mode::OffEntropy => assert_eq!(cp.shuffle_seed, None),
        Mode::Seeded(s) => assert_eq!((cp.seed, cp.shuffle_seed), (s, Some(s))),
        Mode::SeededRun(s, r) => assert_eq!((cp.seed, cp.shuffle_seed), (r, Some(s))),
        Mode::Random => assert!(cp.shuffle_seed.is_some(), "the resolved seed is kept"),
    }
    let restored = roundtrips(&cp);

    // The uninterrupted run: the first iterator continued (always possible), or a fresh run
    // (only when the seeds are known in advance).
    let continued = if c.drop_first && c.mode.deterministic() {
        drop(first);
        None
    } else {
        let rest = collect(first.by_ref());
        // Taking the checkpoint did not disturb the run; the state at the end is the end.
        let at_end = first.checkpoint().unwrap();
        assert_eq!(at_end.next_batch, total);
        Some([head.clone(), rest].concat())
    };
    let fresh = c
        .mode
        .deterministic()
        .then(|| collect(p.gen_batch(&spec.clone().prefetch(c.after)).unwrap()));

    let resumed = collect(
        p.resume(&spec.clone().prefetch(c.after), &restored)
            .unwrap(),
    );
    let whole = [head, resumed].concat();
    assert_eq!(whole.len() as u64, total, "{c:?}");
    for (i, r) in whole.iter().enumerate() {
        assert_eq!(r.batch, i as u64, "batch numbers continue: {c:?}");
        assert_eq!(r.values.len(), r.ids.len() + 1);
    }
    if let Some(continued) = continued {
        assert_eq!(whole, continued, "{c:?}");
    }
    if let Some(fresh) = fresh {
        assert_eq!(whole, fresh, "{c:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn resumed_runs_equal_the_uninterrupted_run(c in case()) {
        with_watchdog(LIMIT, move || check_case(c));
    }
}

#[test]
fn prefetched_batches_are_neither_lost_nor_doubled() {
    with_watchdog(LIMIT, || {
        let processed = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&processed);
        let ds = dataset(40);
        let p = ds
            .p()
            .apply("slow", move |_: &mut Probe, _: &mut Context| {
                counter.fetch_add(1, Ordering::SeqCst);
                sleep(Duration::from_millis(2));
            })
            .apply("mix", mix);
        let spec = RunSpec::new(3).shuffle(11).n_epochs(2);
        let reference = collect(p.gen_batch(&spec).unwrap());
        assert_eq!(reference.len(), 27);

        let before = processed.load(Ordering::SeqCst);
        let mut first = p.gen_batch(&spec.clone().prefetch(4)).unwrap();
        let head = collect(first.by_ref().take(4));
        assert_eq!(head.last().map(|r| r.batch), Some(3));
        // Let the workers run ahead: batches 4.. are processed but not received.
        let deadline = Instant::now() + Duration::from_secs(5);
        while processed.load(Ordering::SeqCst) - before < 8 && Instant::now() < deadline {
            sleep(Duration::from_millis(1));
        }
        assert!(
            processed.load(Ordering::SeqCst) - before > 4,
            "batches were prefetched beyond the one held"
        );
        let cp = first.checkpoint().unwrap();
        assert_eq!(cp.next_batch, 4);
        drop(first);

        for after in [0, 4] {
            let rest = collect(p.resume(&spec.clone().prefetch(after), &cp).unwrap());
            assert_eq!(rest[0].batch, 4, "the first resumed batch is number 4");
            let whole = [head.clone(), rest].concat();
            let numbers: Vec<u64> = whole.iter().map(|r| r.batch).collect();
            assert_eq!(
                numbers,
                (0..27).collect::<Vec<u64>>(),
                "no gap, no duplicate"
            );
            assert_eq!(whole, reference);
        }
    });
}

#[test]
fn state_variables_are_restored_and_others_are_not_saved() {
    with_watchdog(LIMIT, || {
        let ds = dataset(20);
        let p = ds
            .p()
            .init_state_variable("step", 0_u64)
            .init_state_variable("numbers", Vec::<u64>::new())
            .init_variable("scratch", 0_u64)
            .apply("read step", |b: &mut Probe, ctx: &mut Context| {
                let step: u64 = ctx.variables().get("step")?;
                b.values.push(step);
                Ok::<_, ActionError>(())
            })
            .update_variable("numbers", Update::append(Arg::batch_number()));
        let spec = RunSpec::new(2).n_epochs(1);

        // The consumer keeps a step counter; prefetch 0, so the state is exact.
        let mut it = p.gen_batch(&spec).unwrap();
        for _ in 0..4 {
            let b = it.next().unwrap().unwrap();
            let step: u64 = it.variables().get("step").unwrap();
            assert_eq!(b.values, [step]);
            it.variables().set("step", step + 1).unwrap();
            it.variables().set("scratch", 100 + step).unwrap();
        }
        let cp = it.checkpoint().unwrap();
        drop(it);
        assert_eq!(cp.next_batch, 4);
        assert_eq!(cp.variables.get("step"), Some(&serde_json::json!(4)));
        assert_eq!(
            cp.variables.get("numbers"),
            Some(&serde_json::json!([0, 1, 2, 3]))
        );
        assert!(
            !cp.variables.contains_key("scratch"),
            "a plain variable is not saved: {:?}",
            cp.variables
        );
        let cp = roundtrips(&cp);

        // A clone has fresh variables: resume sets the state ones, and only them.
        let q = p.clone();
        assert_eq!(q.variables().get::<u64>("step").unwrap(), 0);
        let mut it = q.resume(&spec.clone().prefetch(3), &cp).unwrap();
        assert_eq!(q.variables().get::<u64>("step").unwrap(), 4);
        assert_eq!(q.variables().get::<u64>("scratch").unwrap(), 0);
        let b = it.next().unwrap().unwrap();
        assert_eq!(b.values, [4], "the resumed batch saw the restored step");
        drop(b);
        // Ordered steps (update_variable) take their turns from the resumed batch on.
        assert_eq!(it.by_ref().count(), 5);
        drop(it);
        assert_eq!(
            q.variables().get::<Vec<u64>>("numbers").unwrap(),
            (0..10).collect::<Vec<u64>>()
        );

        // On the same pipeline: the plain variable keeps whatever it holds.
        p.variables().set("step", 77_u64).unwrap();
        p.variables().set("scratch", 999_u64).unwrap();
        let it = p.resume(&spec, &cp).unwrap();
        assert_eq!(p.variables().get::<u64>("step").unwrap(), 4);
        assert_eq!(p.variables().get::<u64>("scratch").unwrap(), 999);
        drop(it);
    });
}

#[test]
fn unusable_state_variables_are_refused() {
    let ds = dataset(10);
    let p = ds.p().init_state_variable("step", 0_u64).apply("mix", mix);
    let spec = RunSpec::new(2);
    let mut it = p.gen_batch(&spec).unwrap();
    it.next().unwrap().unwrap();
    let cp = it.checkpoint().unwrap();
    drop(it);

    let mut wrong = cp.clone();
    wrong
        .variables
        .insert("step".into(), serde_json::json!("not a number"));
    assert!(matches!(
        p.resume(&spec, &wrong).map(|_| ()),
        Err(PipelineError::Checkpoint(CheckpointError::Corrupt { .. }))
    ));
    let wrong = wrong.sealed();
    match p.resume(&spec, &wrong).map(|_| ()) {
        Err(PipelineError::Checkpoint(CheckpointError::Variable { name, .. })) => {
            assert_eq!(name, "step")
        }
        other => panic!("expected a variable error, got {other:?}"),
    }
    let mut missing = cp;
    missing.variables.clear();
    let missing = missing.sealed();
    match p.resume(&spec, &missing).map(|_| ()) {
        Err(PipelineError::Checkpoint(CheckpointError::Variable { name, message })) => {
            assert_eq!(name, "step");
            assert!(message.contains("missing"), "{message}");
        }
        other => panic!("expected a variable error, got {other:?}"),
    }
}

#[test]
fn checkpoints_of_other_runs_are_refused() {
    with_watchdog(LIMIT, || {
        let ds = dataset(20);
        let p = mixing(&ds).init_state_variable("step", 0_u64);
        let spec = RunSpec::new(4).shuffle(3).n_epochs(2);
        let mut it = p.gen_batch(&spec).unwrap();
        it.next().unwrap().unwrap();
        let cp = it.checkpoint().unwrap();
        drop(it);
        assert!(p.resume(&spec.clone().prefetch(2), &cp).is_ok());

        // Another index: another length.
        let longer = mixing(&dataset(21)).init_state_variable("step", 0_u64);
        let err = longer.resume(&spec, &cp).unwrap_err();
        assert_eq!(mismatch_what(err), "index");
        // The same length, other ids or another order.
        let reversed = Dataset::<Probe>::new(
            DatasetIndex::from_ids((0..20).rev()).unwrap(),
            ProbeSource::default(),
        );
        let err = mixing(&reversed)
            .init_state_variable("step", 0_u64)
            .resume(&spec, &cp)
            .unwrap_err();
        assert_eq!(mismatch_what(err), "index");
        let shifted = Dataset::<Probe>::new(
            DatasetIndex::from_ids(1..21).unwrap(),
            ProbeSource::default(),
        );
        let err = mixing(&shifted)
            .init_state_variable("step", 0_u64)
            .resume(&spec, &cp)
            .unwrap_err();
        assert_eq!(mismatch_what(err), "index");
        // The same ids built another way is the same index.
        let same = Dataset::<Probe>::new(
            DatasetIndex::from_ids(0..20).unwrap(),
            ProbeSource::default(),
        );
        assert!(mixing(&same)
            .init_state_variable("step", 0_u64)
            .resume(&spec, &cp)
            .is_ok());

        // Another pipeline: an extra step, another state variable, no state variable.
        let extra = p
            .clone()
            .apply("extra", |_: &mut Probe, _: &mut Context| {});
        assert_eq!(
            mismatch_what(extra.resume(&spec, &cp).unwrap_err()),
            "pipeline"
        );
        let more_state = p.clone().init_state_variable("epoch", 0_u32);
        assert_eq!(
            mismatch_what(more_state.resume(&spec, &cp).unwrap_err()),
            "pipeline"
        );
        let no_state = mixing(&ds);
        assert_eq!(
            mismatch_what(no_state.resume(&spec, &cp).unwrap_err()),
            "pipeline"
        );
        // A plain variable is not part of the state.
        let plain = p.clone().init_variable("scratch", 0_u8);
        assert!(plain.resume(&spec, &cp).is_ok());

        // Another batch spec.
        for other in [
            RunSpec::new(5).shuffle(3).n_epochs(2),
            RunSpec::new(4).shuffle(4).n_epochs(2),
            RunSpec::new(4).n_epochs(2),
            RunSpec::new(4).shuffle(3).n_epochs(3),
            RunSpec::new(4).shuffle(3).n_epochs(2).drop_last(true),
        ] {
            let err = p.resume(&other, &cp).unwrap_err();
            assert_eq!(mismatch_what(err), "batch spec", "{other:?}");
        }

        // Another format.
        let mut future = cp.clone();
        future.format = 3;
        assert_eq!(
            mismatch_what(p.resume(&spec, &future).unwrap_err()),
            "format"
        );

        // The mismatch message says what differs.
        let err = longer.resume(&spec, &cp).unwrap_err().to_string();
        assert!(err.contains("another index"), "{err}");
        assert!(err.contains("20") && err.contains("21"), "{err}");
    });
}

#[test]
fn garbage_is_not_a_checkpoint() {
    for text in ["", "not json", "{}", "[1, 2, 3]", r#"{"format": 1}"#] {
        assert!(
            matches!(Checkpoint::from_json(text), Err(CheckpointError::Json(_))),
            "{text:?}"
        );
    }
    for bytes in [
        &b""[..],
        &b"\xff\xff\xff"[..],
        &b"garbage bytes"[..],
        &[0xa0][..], // an empty CBOR map
    ] {
        assert!(
            matches!(
                Checkpoint::from_bytes(bytes),
                Err(CheckpointError::Binary(_))
            ),
            "{bytes:?}"
        );
    }
    // A truncated valid checkpoint is garbage too.
    let ds = dataset(10);
    let it = mixing(&ds).gen_batch(&RunSpec::new(2).shuffle(1)).unwrap();
    let cp = it.checkpoint().unwrap();
    let bytes = cp.to_bytes().unwrap();
    assert!(matches!(
        Checkpoint::from_bytes(&bytes[..bytes.len() / 2]),
        Err(CheckpointError::Binary(_))
    ));
    let json = cp.to_json().unwrap();
    assert!(matches!(
        Checkpoint::from_json(&json[..json.len() / 2]),
        Err(CheckpointError::Json(_))
    ));
}

fn next_batch_then_resume(spec: RunSpec, cut: usize, more: usize) {
    let ds = dataset(13);
    let mut p = mixing(&ds);
    assert!(p.checkpoint().is_none(), "no next_batch run yet");
    let mut head = Vec::new();
    for _ in 0..cut {
        head.push(rec(p.next_batch(&spec).unwrap().expect("a batch")));
    }
    let cp = p.checkpoint().expect("a next_batch run").unwrap();
    assert_eq!(cp.next_batch, cut as u64);
    let cp = roundtrips(&cp);
    let mut continued = Vec::new();
    while continued.len() < more {
        match p.next_batch(&spec).unwrap() {
            Some(b) => continued.push(rec(b)),
            None => break,
        }
    }
    let resumed: Vec<Rec> = collect(p.resume(&spec, &cp).unwrap().take(more));
    assert_eq!(resumed, continued, "{spec:?}");
    assert!(
        resumed
            .iter()
            .map(|r| r.batch)
            .eq(cut as u64..(cut + resumed.len()) as u64),
        "{spec:?}"
    );
    // And on another pipeline value with the same steps.
    let other = mixing(&ds);
    let again: Vec<Rec> = collect(other.resume(&spec, &cp).unwrap().take(more));
    assert_eq!(again, continued, "{spec:?}");
}

#[test]
fn next_batch_checkpoints_resume_like_continuing() {
    with_watchdog(LIMIT, || {
        // Endless: the checkpoint says so, and the resumed run is endless too.
        for k in [0, 2] {
            next_batch_then_resume(RunSpec::new(3).shuffle(5).prefetch(k), 7, 25);
            next_batch_then_resume(RunSpec::new(4).seed(9).drop_last(true).prefetch(k), 2, 10);
            // A known length: both end at the same batch.
            next_batch_then_resume(RunSpec::new(3).shuffle(5).n_epochs(3).prefetch(k), 6, 100);
            next_batch_then_resume(RunSpec::new(5).seed(1).n_iters(9).prefetch(k), 4, 100);
        }
        let ds = dataset(13);
        let mut p = mixing(&ds);
        p.next_batch(&RunSpec::new(3).shuffle(5)).unwrap();
        assert!(p.checkpoint().unwrap().unwrap().endless);
        p.reset_iter();
        assert!(p.checkpoint().is_none(), "reset_iter ends the run");
    });
}

#[test]
fn a_finite_next_batch_run_is_not_endless() {
    let ds = dataset(13);
    for spec in [
        RunSpec::new(3).shuffle(5).n_epochs(1),
        RunSpec::new(3).shuffle(5).n_iters(4),
    ] {
        let mut p = mixing(&ds);
        p.next_batch(&spec).unwrap();
        let cp = p.checkpoint().unwrap().unwrap();
        assert!(
            !cp.endless,
            "{spec:?}: the doc of Checkpoint::endless says a next_batch run *without* n_epochs \
             or n_iters"
        );
    }
}

#[test]
fn a_checkpoint_is_small() {
    let ds = dataset(100_000);
    let p = mixing(&ds);
    let spec = RunSpec::new(32)
        .shuffle(u64::MAX - 1)
        .seed(u64::MAX)
        .n_epochs(10)
        .drop_last(true);
    let mut it = p.gen_batch(&spec).unwrap();
    it.by_ref().take(3).for_each(|b| drop(b.unwrap()));
    let cp = it.checkpoint().unwrap();
    let bytes = cp.to_bytes().unwrap();
    let json = cp.to_json().unwrap();
    eprintln!(
        "checkpoint: {} bytes CBOR, {} bytes JSON",
        bytes.len(),
        json.len()
    );
    eprintln!("{json}");
    assert!(bytes.len() < 300, "CBOR is {} bytes", bytes.len());
    assert!(json.len() < 600, "JSON is {} bytes", json.len());
}

#[test]
fn float_state_variables_resume_to_the_bit() {
    let values = vec![
        0.1_f64,
        -2.5,
        1e-300,
        f64::MAX,
        f64::MIN_POSITIVE,
        1.0 / 3.0,
    ];
    let ds = dataset(10);
    let p = ds
        .p()
        .init_state_variable("floats", values.clone())
        .apply("mix", mix);
    let spec = RunSpec::new(2);
    let it = p.gen_batch(&spec).unwrap();
    let cp = roundtrips(&it.checkpoint().unwrap());
    drop(it);
    let q = p.clone();
    q.variables().set("floats", Vec::<f64>::new()).unwrap();
    let cp = Checkpoint::from_bytes(&cp.to_bytes().unwrap()).unwrap();
    let cp = Checkpoint::from_json(&cp.to_json().unwrap()).unwrap();
    drop(q.resume(&spec, &cp).unwrap());
    let got: Vec<f64> = q.variables().get("floats").unwrap();
    assert_eq!(
        got.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
        values.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn non_finite_floats_in_state_variables_are_kept_or_refused() {
    let ds = dataset(10);
    let spec = RunSpec::new(2);

    // A NaN loss: the checkpoint is taken, but cannot be resumed.
    let p = ds
        .p()
        .init_state_variable("loss", f64::NAN)
        .apply("mix", mix);
    let it = p.gen_batch(&spec).unwrap();
    if let Ok(cp) = it.checkpoint() {
        drop(it);
        let q = p.clone();
        let resumed = q.resume(&spec, &cp).map(drop);
        assert!(
            resumed.is_ok(),
            "checkpoint() accepted the NaN ({:?}), resume refuses it: {resumed:?}",
            cp.variables
        );
        assert!(q.variables().get::<f64>("loss").unwrap().is_nan());
    }

    // An infinite best score: the checkpoint is taken, and resumes to another value.
    let p = ds
        .p()
        .init_state_variable("best", Some(f64::INFINITY))
        .apply("mix", mix);
    let it = p.gen_batch(&spec).unwrap();
    if let Ok(cp) = it.checkpoint() {
        drop(it);
        let q = p.clone();
        q.variables().set("best", Some(0.0_f64)).unwrap();
        drop(q.resume(&spec, &cp).unwrap());
        assert_eq!(
            q.variables().get::<Option<f64>>("best").unwrap(),
            Some(f64::INFINITY),
            "saved as {:?}",
            cp.variables
        );
    }
}

#[test]
fn a_resumed_run_can_be_interrupted_and_resumed_again() {
    with_watchdog(LIMIT, || {
        let ds = dataset(23);
        let p = mixing(&ds);
        let spec = RunSpec::new(4).shuffle(Shuffle::Random).n_epochs(3);
        // Interrupt after 3, then 5, 2 and 1 more batches, changing the prefetch each time.
        let mut it = p.gen_batch(&spec.clone().prefetch(1)).unwrap();
        let mut seen = collect(it.by_ref().take(3));
        let mut cp = it.checkpoint().unwrap();
        let whole = [seen.clone(), collect(it)].concat();
        for (take, k) in [(5, 4), (2, 0), (1, 1)] {
            let mut it = p.resume(&spec.clone().prefetch(k), &cp).unwrap();
            seen.extend(collect(it.by_ref().take(take)));
            cp = roundtrips(&it.checkpoint().unwrap());
            assert_eq!(cp.next_batch, seen.len() as u64);
        }
        seen.extend(collect(p.resume(&spec.clone().prefetch(2), &cp).unwrap()));
        assert_eq!(seen, whole);
    });
}

#[test]
fn a_checkpoint_written_before_shards_existed_still_reads() {
    let ds = dataset(10);
    let it = mixing(&ds).gen_batch(&RunSpec::new(2).shuffle(8)).unwrap();
    let cp = it.checkpoint().unwrap();
    let json = cp.to_json().unwrap();
    let old = json.replace(",\"shard\":null", "");
    assert_ne!(old, json, "the spec has a shard field");
    assert_eq!(Checkpoint::from_json(&old).unwrap(), cp);
}

//! Defect 13: checkpoints are tamper-evident. Every single-bit flip of a checkpoint's bytes is
//! refused or changes nothing; every field is checked against the spec at resume; trailing
//! bytes, an `endless` flag on a finite run and a position past the run's end are refused; a
//! huge position on an endless run resumes at once.

use crate::common;

use std::time::Duration;

use batchline::{Checkpoint, CheckpointError};
use batchline::{Context, Pipeline, PipelineError, RunSpec};
use common::{dataset, with_watchdog, Probe};

const LIMIT: Duration = Duration::from_secs(120);

fn pipeline() -> Pipeline<Probe> {
    dataset(12).p().init_state_variable("total", 0.5_f64).apply(
        "mix",
        |b: &mut Probe, ctx: &mut Context| {
            b.values = b
                .index
                .ids()
                .iter()
                .map(|&i| i as u64 + ctx.batch())
                .collect();
        },
    )
}

/// The ids and values of the batches of a resumed run, or `None` when the resume is refused.
fn resumed(p: &Pipeline<Probe>, spec: &RunSpec, cp: &Checkpoint) -> Option<Vec<Vec<u64>>> {
    let iter = p.resume(spec, cp).ok()?;
    let batches: Vec<Vec<u64>> = iter
        .map(|b| {
            let b = b.expect("no batch fails");
            [
                b.index.ids().iter().map(|&i| i as u64).collect(),
                b.values.clone(),
            ]
            .concat()
        })
        .collect();
    let state = p.variables().get::<f64>("total");
    Some([batches, vec![vec![state.unwrap_or_default().to_bits()]]].concat())
}

fn taken(spec: &RunSpec, after: usize) -> (Pipeline<Probe>, Checkpoint) {
    let p = pipeline();
    let mut it = p.gen_batch(spec).unwrap();
    for _ in 0..after {
        it.next().unwrap().unwrap();
    }
    p.variables().set("total", 2.25_f64).unwrap();
    let cp = it.checkpoint().unwrap();
    (p, cp)
}

#[test]
fn every_single_bit_flip_of_a_checkpoint_is_refused_or_harmless() {
    with_watchdog(LIMIT, || {
        let spec = RunSpec::new(5).shuffle(9).n_epochs(3);
        let (p, cp) = taken(&spec, 2);
        let expected = resumed(&p, &spec, &cp).expect("the checkpoint resumes");
        let bytes = cp.to_bytes().unwrap();
        let (mut refused, mut same) = (0, 0);
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let outcome = Checkpoint::from_bytes(&flipped)
                .ok()
                .and_then(|c| resumed(&p, &spec, &c));
            match outcome {
                None => refused += 1,
                Some(batches) => {
                    assert_eq!(batches, expected, "bit {bit} changed the run");
                    same += 1;
                }
            }
        }
        assert_eq!(refused + same, bytes.len() * 8);
        // Most flips are refused; the others (a bit of the key of a field whose default is its
        // value, say) are harmless, as checked above.
        assert!(
            refused > bytes.len() * 6,
            "{refused} refused of {}",
            bytes.len() * 8
        );

        // The JSON form: every flip that leaves UTF-8 text.
        let json = cp.to_json().unwrap().into_bytes();
        for bit in 0..json.len() * 8 {
            let mut flipped = json.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let Ok(text) = String::from_utf8(flipped) else {
                continue;
            };
            if let Some(batches) = Checkpoint::from_json(&text)
                .ok()
                .and_then(|c| resumed(&p, &spec, &c))
            {
                assert_eq!(batches, expected, "JSON bit {bit} changed the run: {text}");
            }
        }
    });
}

#[test]
fn a_changed_field_is_refused_even_through_serde() {
    let spec = RunSpec::new(5).shuffle(9).n_epochs(3);
    let (p, cp) = taken(&spec, 1);
    let mut edited = cp.clone();
    edited.next_batch += 1;
    let err = p.resume(&spec, &edited).map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            PipelineError::Checkpoint(CheckpointError::Corrupt { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("corrupt"), "{err}");
    // The same edit, resealed on purpose, resumes one batch later.
    assert!(p.resume(&spec, &edited.sealed()).is_ok());
}

fn mismatch(p: &Pipeline<Probe>, spec: &RunSpec, cp: &Checkpoint) -> (&'static str, String) {
    match p.resume(spec, cp).map(|_| ()) {
        Err(PipelineError::Checkpoint(CheckpointError::Mismatch { what, detail })) => {
            (what, detail)
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn the_shuffle_seed_and_the_run_seed_are_checked_against_the_spec() {
    let spec = RunSpec::new(5).shuffle(9).n_epochs(3);
    let (p, cp) = taken(&spec, 1);
    let mut other = cp.clone();
    other.shuffle_seed = Some(10);
    let (what, detail) = mismatch(&p, &spec, &other.sealed());
    assert_eq!(what, "batch spec");
    assert!(detail.contains("shuffle seed"), "{detail}");
    let mut none = cp.clone();
    none.shuffle_seed = None;
    assert_eq!(mismatch(&p, &spec, &none.sealed()).0, "batch spec");
    let mut seed = cp.clone();
    seed.seed ^= 1;
    assert_eq!(mismatch(&p, &spec, &seed.sealed()).0, "run seed");
    // An unshuffled run's checkpoint with a shuffle seed.
    let plain = RunSpec::new(5).n_epochs(3);
    let (p, cp) = taken(&plain, 1);
    let mut shuffled = cp;
    shuffled.shuffle_seed = Some(9);
    assert_eq!(mismatch(&p, &plain, &shuffled.sealed()).0, "batch spec");
}

#[test]
fn bytes_after_the_cbor_value_are_refused() {
    let spec = RunSpec::new(5).shuffle(9).n_epochs(3);
    let (_, cp) = taken(&spec, 1);
    let mut bytes = cp.to_bytes().unwrap();
    assert_eq!(Checkpoint::from_bytes(&bytes).unwrap(), cp);
    bytes.push(0);
    let err = Checkpoint::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Binary(m) if m.contains("1 bytes after")),
        "{err}"
    );
    let mut json = cp.to_json().unwrap();
    json.push_str("{}");
    assert!(Checkpoint::from_json(&json).is_err());
}

#[test]
fn endless_is_refused_on_a_finite_run_and_a_position_past_the_end_too() {
    let spec = RunSpec::new(5).n_epochs(1);
    let (p, cp) = taken(&spec, 1);
    let mut endless = cp.clone();
    endless.endless = true;
    let (what, detail) = mismatch(&p, &spec, &endless.sealed());
    assert_eq!(what, "batch spec");
    assert!(detail.contains("endless"), "{detail}");
    // One epoch of 12 items in batches of 5: 3 batches; position 3 is the end, 4 is past it.
    let mut at_end = cp.clone();
    at_end.next_batch = 3;
    assert_eq!(resumed(&p, &spec, &at_end.sealed()).unwrap().len(), 1);
    let mut past = cp;
    past.next_batch = 4;
    assert_eq!(mismatch(&p, &spec, &past.sealed()).0, "position");
}

#[test]
fn a_huge_position_on_an_endless_run_resumes_at_once() {
    with_watchdog(Duration::from_secs(20), || {
        let p = pipeline();
        let spec = RunSpec::new(5);
        let mut state = None;
        let mut p2 = p.clone();
        p2.next_batch(&spec).unwrap();
        if let Some(cp) = p2.checkpoint() {
            state = Some(cp.unwrap());
        }
        let cp = state.expect("a next_batch run has a checkpoint");
        assert!(cp.endless);
        // 10^12 batches of 5 over 12 items: batch i starts at item 5i mod 12.
        let mut far = cp.clone();
        far.next_batch = 1_000_000_000_000;
        let mut it = p.resume(&spec, &far.sealed()).unwrap();
        let first = it.next().unwrap().unwrap();
        let start = (5 * 1_000_000_000_000u64 % 12) as usize;
        let expected: Vec<usize> = (0..5).map(|k| (start + k) % 12).collect();
        assert_eq!(first.index.ids(), &expected[..]);
        drop(it);
        // u64::MAX batches: no hang (an error or a run, but an answer).
        let mut farthest = cp;
        farthest.next_batch = u64::MAX;
        let _ = p.resume(&spec, &farthest.sealed()).map(|_| ());
    });
}

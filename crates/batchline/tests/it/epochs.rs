//! `Context::epoch`: the epoch each batch belongs to, the same for every prefetch, for worker
//! steps and commit steps alike, under both epoch rules and with a start epoch.

use std::sync::{Arc, Mutex};

use batchline::{Action, Batch, Context, Dataset, DatasetIndex, IdsBatch, RunSpec};

/// (batch number, epoch seen by a worker step, epoch seen by the commit step, first id) for
/// every batch of a run over 10 items.
fn epochs(spec: &RunSpec) -> Vec<(u64, u64, u64, usize)> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let worker = Arc::new(Mutex::new(std::collections::HashMap::new()));
    let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
    let (w, s) = (Arc::clone(&worker), Arc::clone(&seen));
    let p = ds
        .p()
        .apply("work", move |_: &mut IdsBatch, ctx: &mut Context| {
            // A little jitter, so that batches finish out of order under prefetch.
            std::thread::sleep(std::time::Duration::from_micros(ctx.batch() % 3 * 300));
            w.lock().unwrap().insert(ctx.batch(), ctx.epoch());
        })
        .push(
            Action::new("commit", move |b: &mut IdsBatch, ctx: &mut Context| {
                let on_worker = worker.lock().unwrap()[&ctx.batch()];
                s.lock()
                    .unwrap()
                    .push((ctx.batch(), on_worker, ctx.epoch(), b.ids()[0]));
            })
            .commit(),
        );
    p.run(spec).unwrap();
    let out = seen.lock().unwrap().clone();
    out
}

#[test]
fn a_straddling_batch_belongs_to_its_first_epoch() {
    // BatchFlow's rule: batches of 4 over 10 items, 2 epochs: the third batch takes 8, 9 and
    // the first two items of epoch 1, and belongs to epoch 0.
    let spec = RunSpec::new(4).n_epochs(2);
    let got = epochs(&spec);
    let by_batch: Vec<(u64, u64, u64)> = got.iter().map(|&(n, w, c, _)| (n, w, c)).collect();
    assert_eq!(
        by_batch,
        [(0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 1, 1), (4, 1, 1)]
    );
    for k in [1, 3, 7] {
        assert_eq!(epochs(&spec.clone().prefetch(k)), got, "k = {k}");
    }
}

#[test]
fn within_epochs_and_start_epoch() {
    // PyTorch's rule: 3 batches an epoch (4, 4 and 2 items).
    let spec = RunSpec::new(4).n_epochs(2).within_epochs(true).shuffle(5);
    let got = epochs(&spec);
    let by_batch: Vec<u64> = got.iter().map(|&(_, w, _, _)| w).collect();
    assert_eq!(by_batch, [0, 0, 0, 1, 1, 1]);
    assert!(got.iter().all(|&(_, w, c, _)| w == c));
    assert_eq!(epochs(&spec.clone().prefetch(3)), got);
    // Epoch 3 alone: every batch says 3, at every k.
    let third = RunSpec::new(4).shuffle(5).start_epoch(3).n_epochs(1);
    for k in [0, 2] {
        let got = epochs(&third.clone().prefetch(k));
        assert_eq!(got.len(), 3, "k = {k}");
        assert!(
            got.iter().all(|&(_, w, c, _)| w == 3 && c == 3),
            "k = {k}: {got:?}"
        );
    }
}

//! `BatchIter::rebatch`: every item exactly once and in order, batches of exactly `n` items,
//! the same at k = 0 and k = 3.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use batchline::{ActionError, Batch, Context, Dataset, DatasetIndex, PipelineError, RunSpec};
use batchline::{ArrayBatch, ArraySource, IdsBatch};
use common::{counted_dataset, with_watchdog, Probe};
use ndarray::Array2;
use proptest::prelude::*;

/// The ids and values of every rebatched batch, at prefetch `k`.
fn rebatched(
    n_items: usize,
    batch_size: usize,
    new_size: usize,
    drop_last: bool,
    skip_every: Option<usize>,
    k: usize,
) -> Vec<(Vec<usize>, Vec<u64>)> {
    with_watchdog(Duration::from_secs(30), move || {
        let live = Arc::new(AtomicUsize::new(0));
        let p = counted_dataset(n_items, Arc::clone(&live))
            .p()
            .apply("values", |b: &mut Probe, _: &mut Context| {
                b.values = b.ids().iter().map(|&i| 10 * i as u64).collect();
            })
            .apply(
                "skip some",
                move |_: &mut Probe, ctx: &mut Context| match skip_every {
                    Some(m) if ctx.batch() as usize % m == m - 1 => Err(ActionError::skip_batch()),
                    _ => Ok(()),
                },
            );
        let spec = RunSpec::new(batch_size).shuffle(3).n_epochs(2).prefetch(k);
        let out = p
            .gen_batch(&spec)
            .unwrap()
            .rebatch(new_size)
            .drop_last(drop_last)
            .map(|b| {
                let b = b.unwrap();
                assert_eq!(b.values.len(), b.len(), "values split with their items");
                (b.ids().to_vec(), b.values.clone())
            })
            .collect();
        assert_eq!(live.load(Ordering::SeqCst), 0, "every batch dropped");
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_item_once_in_order(
        n_items in 1usize..60,
        batch_frac in 0.0f64..1.0,
        new_size in 1usize..25,
        drop_last in any::<bool>(),
        skip_every in proptest::option::of(2usize..5),
    ) {
        let batch_size = 1 + (batch_frac * (n_items - 1) as f64) as usize;
        // The items of the plain run, in order, without skipped batches.
        let plain: Vec<usize> = {
            let p = common::dataset(n_items).p().apply("skip some", move |_: &mut Probe, ctx: &mut Context| {
                match skip_every {
                    Some(m) if ctx.batch() as usize % m == m - 1 => Err(ActionError::skip_batch()),
                    _ => Ok(()),
                }
            });
            let spec = RunSpec::new(batch_size).shuffle(3).n_epochs(2);
            p.gen_batch(&spec).unwrap().flat_map(|b| b.unwrap().ids().to_vec()).collect()
        };
        let at0 = rebatched(n_items, batch_size, new_size, drop_last, skip_every, 0);
        let at3 = rebatched(n_items, batch_size, new_size, drop_last, skip_every, 3);
        prop_assert_eq!(&at0, &at3);
        let flat: Vec<usize> = at0.iter().flat_map(|(ids, _)| ids.clone()).collect();
        let kept = if drop_last { plain.len() / new_size * new_size } else { plain.len() };
        prop_assert_eq!(&flat[..], &plain[..kept]);
        for (i, (ids, values)) in at0.iter().enumerate() {
            let last = i + 1 == at0.len();
            prop_assert!(ids.len() == new_size || (last && !drop_last && ids.len() < new_size));
            let expected: Vec<u64> = ids.iter().map(|&i| 10 * i as u64).collect();
            prop_assert_eq!(values, &expected);
        }
    }
}

#[test]
fn array_batches_are_split_and_merged_row_by_row() {
    let x = Array2::from_shape_fn((10, 2), |(i, j)| (10 * i + j) as f32);
    let source = ArraySource::new().with("x", x).unwrap();
    let ds: Dataset<ArrayBatch> = Dataset::new(DatasetIndex::from_count(10), source);
    let p = ds
        .p()
        .apply("load", |b: &mut ArrayBatch, _: &mut Context| b.load_rows());
    let batches: Vec<ArrayBatch> = p
        .gen_batch(&RunSpec::new(3).prefetch(2))
        .unwrap()
        .rebatch(4)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        batches.iter().map(Batch::len).collect::<Vec<_>>(),
        [4, 4, 2]
    );
    for b in &batches {
        let x = b.get("x").unwrap();
        assert_eq!(x.shape(), [b.len(), 2]);
        for (row, &id) in b.ids().iter().enumerate() {
            assert_eq!(x[[row, 1]], (10 * id + 1) as f32);
        }
    }
}

#[test]
fn errors_arrive_in_place_and_unsupported_types_are_named() {
    // A failed run: the items before the error come first, then the error.
    let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
    let p = ds.p().apply("fail", |b: &mut IdsBatch, _: &mut Context| {
        if b.ids()[0] == 6 {
            return Err(ActionError::msg("bad"));
        }
        Ok(())
    });
    let out: Vec<Result<Vec<usize>, String>> = p
        .gen_batch(&RunSpec::new(2).prefetch(3))
        .unwrap()
        .rebatch(4)
        .map(|b| b.map(|b| b.ids().to_vec()).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], Ok(vec![0, 1, 2, 3]));
    assert_eq!(out[1], Ok(vec![4, 5]));
    assert!(out[2].as_ref().unwrap_err().contains("bad"));

    /// A batch type that keeps the default merge.
    struct Whole(batchline::BatchIndex);
    impl Batch for Whole {
        type Id = usize;
        type Source = ();
        fn create(index: batchline::BatchIndex, _: &Arc<()>) -> Self {
            Whole(index)
        }
        fn index(&self) -> &batchline::BatchIndex {
            &self.0
        }
    }
    let ds: Dataset<Whole> = Dataset::new(DatasetIndex::from_count(10), ());
    let mut it = ds.p().gen_batch(&RunSpec::new(3)).unwrap().rebatch(4);
    match it.next() {
        Some(Err(PipelineError::Rebatch(msg))) => {
            assert!(msg.contains("Whole") && msg.contains("merge"), "{msg}")
        }
        other => panic!(
            "expected a rebatch error, got {:?}",
            other.map(|r| r.map(|b| b.len()))
        ),
    }
    assert!(it.next().is_none());

    let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
    let mut it = ds.p().gen_batch(&RunSpec::new(3)).unwrap().rebatch(0);
    assert!(matches!(it.next(), Some(Err(PipelineError::Rebatch(_)))));
    assert!(it.next().is_none());
}

//! Sharding: each rank takes its slice of every epoch's permutation; remainder dropped.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use batchline::{BatchSpec, DatasetIndex, IndexError, Shard, Shuffle};
use batchline::{Checkpoint, CheckpointError};
use batchline::{Context, PipelineError, RunSpec};
use common::{dataset, with_watchdog, Probe};
use proptest::prelude::*;

const LIMIT: Duration = Duration::from_secs(30);

fn batches(len: usize, spec: &BatchSpec) -> Vec<Vec<usize>> {
    DatasetIndex::from_count(len)
        .gen_batch(spec)
        .unwrap()
        .map(|b| b.ids().to_vec())
        .collect()
}

fn shuffle_of(seed: Option<u64>) -> Shuffle {
    seed.map_or(Shuffle::Off, Shuffle::Seeded)
}

/// The order of each epoch of an unsharded run (one batch per epoch).
fn epoch_orders(len: usize, shuffle: Option<u64>, epochs: u64) -> Vec<Vec<usize>> {
    batches(
        len,
        &BatchSpec::new(len)
            .shuffle(shuffle_of(shuffle))
            .n_epochs(epochs),
    )
}

fn invalid_shard_message(err: IndexError) -> String {
    match err {
        IndexError::InvalidShard { message } => message,
        other => panic!("expected InvalidShard, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ranks_take_disjoint_equal_slices_of_the_same_permutation(
        len in 1usize..200,
        world in 1usize..6,
        bs_seed in 0usize..1000,
        shuffle in any::<Option<u64>>(),
        epochs in 1u64..=3,
        drop_last in any::<bool>(),
    ) {
        let per_rank = len / world;
        let spec = |rank: usize, bs: usize| {
            BatchSpec::new(bs)
                .shuffle(shuffle_of(shuffle))
                .n_epochs(epochs)
                .drop_last(drop_last)
                .shard(Shard::new(rank, world))
        };
        if per_rank == 0 {
            // Fewer items than ranks: no batch size fits.
            let err = DatasetIndex::from_count(len).gen_batch(&spec(0, 1)).unwrap_err();
            prop_assert!(matches!(err, IndexError::InvalidShard { .. }), "{:?}", err);
            return Ok(());
        }
        let bs = 1 + bs_seed % per_rank;
        // Items each rank takes per epoch.
        let taken = if drop_last { per_rank / bs * bs } else { per_rank };
        let orders = epoch_orders(len, shuffle, epochs);
        prop_assert_eq!(orders.len() as u64, epochs);

        let total = spec(0, bs).total_batches(len, false).unwrap();
        let mut per_epoch: Vec<Vec<Vec<usize>>> = vec![Vec::new(); epochs as usize];
        for rank in 0..world {
            let got = batches(len, &spec(rank, bs));
            prop_assert_eq!(got.len() as u64, total, "rank {} yields as many batches", rank);
            if let Some((last, rest)) = got.split_last() {
                prop_assert!(rest.iter().all(|b| b.len() == bs));
                prop_assert!(!last.is_empty() && last.len() <= bs);
                prop_assert!(!drop_last || last.len() == bs);
            }
            let flat = got.concat();
            prop_assert_eq!(flat.len(), epochs as usize * taken);
            for (e, chunk) in flat.chunks(taken).enumerate() {
                let start = rank * per_rank;
                // Rank r's epoch e is slice r of epoch e's global order.
                prop_assert_eq!(
                    chunk,
                    &orders[e][start..start + taken],
                    "rank {} epoch {}", rank, e
                );
                per_epoch[e].push(chunk.to_vec());
            }
        }
        for (e, ranks) in per_epoch.iter().enumerate() {
            let all: Vec<usize> = ranks.concat();
            let distinct: HashSet<usize> = all.iter().copied().collect();
            prop_assert_eq!(distinct.len(), all.len(), "epoch {}: the ranks' items are disjoint", e);
            prop_assert_eq!(all.len(), world * taken);
            if !drop_last {
                prop_assert_eq!(all.len(), world * (len / world));
                // Concatenating the ranks gives the head of the unsharded epoch.
                prop_assert_eq!(&all[..], &orders[e][..world * per_rank]);
                if len % world == 0 {
                    let mut sorted = all.clone();
                    sorted.sort_unstable();
                    prop_assert_eq!(sorted, (0..len).collect::<Vec<_>>(), "every item once");
                }
            }
        }
        if world == 1 {
            // One rank is no sharding at all.
            let plain = BatchSpec::new(bs)
                .shuffle(shuffle_of(shuffle))
                .n_epochs(epochs)
                .drop_last(drop_last);
            prop_assert_eq!(batches(len, &spec(0, bs)), batches(len, &plain));
        }
    }
}

#[test]
fn remainder_differs_per_epoch_when_shuffled() {
    // 10 items over 3 ranks: one item goes to nobody each epoch, another one each epoch.
    let dropped: Vec<usize> = epoch_orders(10, Some(7), 6)
        .iter()
        .map(|order| order[9])
        .collect();
    let mut seen = vec![Vec::new(); 6];
    for rank in 0..3 {
        let spec = BatchSpec::new(3)
            .shuffle(7)
            .n_epochs(6)
            .shard(Shard::new(rank, 3));
        for (e, epoch) in batches(10, &spec).chunks(1).enumerate() {
            seen[e].extend_from_slice(&epoch[0]);
        }
    }
    for (e, items) in seen.iter().enumerate() {
        assert_eq!(items.len(), 9);
        assert!(!items.contains(&dropped[e]), "epoch {e}");
    }
    let distinct: HashSet<usize> = dropped.iter().copied().collect();
    assert!(distinct.len() > 1, "the dropped item changes: {dropped:?}");
    // Unshuffled, it is always the last one.
    let spec = BatchSpec::new(3).n_epochs(2).shard(Shard::new(2, 3));
    assert_eq!(batches(10, &spec), [vec![6, 7, 8], vec![6, 7, 8]]);
}

#[test]
fn sharding_through_a_prefetching_pipeline_equals_the_index() {
    with_watchdog(LIMIT, || {
        let configs = [
            (50, 4, 3, Some(9_u64), 2_u64, false),
            (50, 4, 5, Some(9), 3, true),
            (37, 3, 4, None, 2, false),
            (37, 5, 7, Some(1), 1, true),
            (8, 8, 1, Some(2), 3, false),
        ];
        for (len, world, bs, shuffle, epochs, drop_last) in configs {
            let ds = dataset(len);
            let p = ds.p().apply("number", |b: &mut Probe, ctx: &mut Context| {
                b.values.push(ctx.batch())
            });
            let mut union = Vec::new();
            for rank in 0..world {
                let shard = Shard::new(rank, world);
                let index_spec = BatchSpec::new(bs)
                    .shuffle(shuffle_of(shuffle))
                    .n_epochs(epochs)
                    .drop_last(drop_last)
                    .shard(shard);
                let expected = batches(len, &index_spec);
                let run = RunSpec::from(index_spec.clone()).prefetch(3);
                let mut got = Vec::new();
                for (i, b) in p.gen_batch(&run).unwrap().enumerate() {
                    let b = b.unwrap();
                    assert_eq!(b.values, [i as u64]);
                    got.push(b.index.ids().to_vec());
                }
                assert_eq!(got, expected, "len {len} rank {rank}/{world} bs {bs}");
                // The same with RunSpec's own builder.
                let mut built = RunSpec::new(bs)
                    .shuffle(shuffle_of(shuffle))
                    .n_epochs(epochs)
                    .drop_last(drop_last)
                    .shard(shard)
                    .prefetch(3);
                assert_eq!(built.batch_spec(), &index_spec);
                built = built.prefetch(0);
                let inline: Vec<Vec<usize>> = p
                    .gen_batch(&built)
                    .unwrap()
                    .map(|b| b.unwrap().index.ids().to_vec())
                    .collect();
                assert_eq!(inline, expected);
                union.push(got);
            }
            let counts: HashSet<usize> = union.iter().map(Vec::len).collect();
            assert_eq!(counts.len(), 1, "every rank has as many batches");
        }
    });
}

#[test]
fn a_sharded_run_resumes_on_its_own_rank_only() {
    with_watchdog(LIMIT, || {
        let ds = dataset(30);
        let p = ds.p().apply("number", |b: &mut Probe, ctx: &mut Context| {
            b.values.push(ctx.batch())
        });
        let mut shard = Shard::new(1, 3);
        shard.local_rank = Some(1);
        let spec = RunSpec::new(3).shuffle(4).n_epochs(3).shard(shard);
        let whole = ids_of(p.gen_batch(&spec.clone().prefetch(3)).unwrap());
        assert_eq!(whole.len(), 10, "ceil(3 epochs * 10 items / 3)");
        let mut it = p.gen_batch(&spec.clone().prefetch(3)).unwrap();
        let head = ids_of(it.by_ref().take(5));
        let cp = it.checkpoint().unwrap();
        drop(it);
        let cp = Checkpoint::from_json(&cp.to_json().unwrap()).unwrap();
        let cp = Checkpoint::from_bytes(&cp.to_bytes().unwrap()).unwrap();
        assert_eq!(
            &cp.spec,
            spec.batch_spec(),
            "the shard is in the checkpoint"
        );
        let rest = ids_of(p.resume(&spec.clone().prefetch(1), &cp).unwrap());
        assert_eq!([head, rest].concat(), whole);
        // Another rank's spec is another batch spec.
        let other = RunSpec::new(3)
            .shuffle(4)
            .n_epochs(3)
            .shard(Shard::new(2, 3));
        match p.resume(&other, &cp).map(drop) {
            Err(PipelineError::Checkpoint(CheckpointError::Mismatch { what, .. })) => {
                assert_eq!(what, "batch spec")
            }
            got => panic!("expected a mismatch, got {got:?}"),
        }
    });
}

fn ids_of(it: impl Iterator<Item = Result<Probe, PipelineError>>) -> Vec<Vec<usize>> {
    it.map(|b| b.unwrap().index.ids().to_vec()).collect()
}

#[test]
fn invalid_shards_are_errors_that_name_the_problem() {
    let index = DatasetIndex::from_count(10);
    let err = |spec: BatchSpec| invalid_shard_message(index.gen_batch(&spec).unwrap_err());

    let msg = err(BatchSpec::new(1).shard(Shard::new(3, 3)));
    assert!(
        msg.contains("rank 3") && msg.contains("world size 3"),
        "{msg}"
    );
    let msg = err(BatchSpec::new(1).shard(Shard::new(0, 0)));
    assert!(msg.contains("world size 0"), "{msg}");
    // 10 items over 4 ranks: 2 per rank, a batch of 3 does not fit.
    let msg = err(BatchSpec::new(3).shard(Shard::new(0, 4)));
    assert!(
        msg.contains("batch_size 3") && msg.contains("2 items per rank"),
        "{msg}"
    );
    // More ranks than items.
    let msg = err(BatchSpec::new(1).shard(Shard::new(0, 11)));
    assert!(msg.contains("0 items per rank"), "{msg}");
    // The largest batch that fits is fine.
    assert_eq!(
        index
            .gen_batch(&BatchSpec::new(2).shard(Shard::new(3, 4)))
            .unwrap()
            .count(),
        1
    );

    // Through a pipeline: PipelineError::Spec, for gen_batch, run and next_batch.
    let ds = dataset(10);
    let mut p = ds.p();
    for spec in [
        RunSpec::new(1).shard(Shard::new(5, 2)),
        RunSpec::new(1).shard(Shard::new(0, 0)),
        RunSpec::new(3).shard(Shard::new(1, 4)).prefetch(3),
    ] {
        let text = match p.gen_batch(&spec).map(drop) {
            Err(PipelineError::Spec(e @ IndexError::InvalidShard { .. })) => e.to_string(),
            got => panic!("expected an invalid shard, got {got:?}"),
        };
        assert!(text.starts_with("invalid shard: "), "{text}");
        let run = p.run(&spec).unwrap_err();
        assert_eq!(run.to_string(), format!("invalid run spec: {text}"));
        assert!(matches!(
            p.next_batch(&spec),
            Err(PipelineError::Spec(IndexError::InvalidShard { .. }))
        ));
        p.reset_iter();
    }
}

/// Every variable `Shard::from_env` reads.
const VARS: [&str; 12] = [
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "PMI_RANK",
    "PMI_SIZE",
    "MPI_LOCALRANKID",
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_LOCALID",
];

fn with_env(vars: &[(&str, &str)]) -> Result<Option<Shard>, IndexError> {
    for name in VARS {
        std::env::remove_var(name);
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
    Shard::from_env()
}

fn shard(rank: usize, world: usize, local: Option<usize>) -> Shard {
    let mut s = Shard::new(rank, world);
    s.local_rank = local;
    s
}

/// The environment is the process's: every check of `from_env` is in this one test.
#[test]
fn shard_from_env() {
    let saved: Vec<(&str, Option<String>)> =
        VARS.iter().map(|&n| (n, std::env::var(n).ok())).collect();

    assert_eq!(with_env(&[]).unwrap(), None, "no launcher");
    // torchrun.
    assert_eq!(
        with_env(&[("RANK", "1"), ("WORLD_SIZE", "4"), ("LOCAL_RANK", "1")]).unwrap(),
        Some(shard(1, 4, Some(1)))
    );
    assert_eq!(
        with_env(&[("RANK", "0"), ("WORLD_SIZE", "2")]).unwrap(),
        Some(shard(0, 2, None))
    );
    assert_eq!(
        with_env(&[("RANK", " 3 "), ("WORLD_SIZE", "4\n")]).unwrap(),
        Some(shard(3, 4, None)),
        "surrounding blanks are ignored"
    );
    // Open MPI.
    assert_eq!(
        with_env(&[
            ("OMPI_COMM_WORLD_RANK", "2"),
            ("OMPI_COMM_WORLD_SIZE", "3"),
            ("OMPI_COMM_WORLD_LOCAL_RANK", "0"),
        ])
        .unwrap(),
        Some(shard(2, 3, Some(0)))
    );
    // MPICH.
    assert_eq!(
        with_env(&[("PMI_RANK", "1"), ("PMI_SIZE", "2")]).unwrap(),
        Some(shard(1, 2, None))
    );
    // Slurm.
    assert_eq!(
        with_env(&[
            ("SLURM_PROCID", "5"),
            ("SLURM_NTASKS", "8"),
            ("SLURM_LOCALID", "1"),
        ])
        .unwrap(),
        Some(shard(5, 8, Some(1)))
    );
    // The launcher's own variables win over the scheduler's.
    assert_eq!(
        with_env(&[
            ("RANK", "0"),
            ("WORLD_SIZE", "2"),
            ("SLURM_PROCID", "5"),
            ("SLURM_NTASKS", "8"),
        ])
        .unwrap(),
        Some(shard(0, 2, None))
    );
    assert_eq!(
        with_env(&[
            ("OMPI_COMM_WORLD_RANK", "1"),
            ("OMPI_COMM_WORLD_SIZE", "2"),
            ("SLURM_PROCID", "5"),
            ("SLURM_NTASKS", "8"),
        ])
        .unwrap(),
        Some(shard(1, 2, None))
    );
    // A LOCAL_RANK alone describes no shard.
    assert_eq!(with_env(&[("LOCAL_RANK", "3")]).unwrap(), None);

    // Malformed.
    let bad = |vars: &[(&str, &str)]| invalid_shard_message(with_env(vars).unwrap_err());
    let msg = bad(&[("RANK", "abc"), ("WORLD_SIZE", "2")]);
    assert!(msg.contains("RANK") && msg.contains("abc"), "{msg}");
    let msg = bad(&[("RANK", "1"), ("WORLD_SIZE", "two")]);
    assert!(msg.contains("WORLD_SIZE") && msg.contains("two"), "{msg}");
    let msg = bad(&[("RANK", "-1"), ("WORLD_SIZE", "2")]);
    assert!(msg.contains("not a number"), "{msg}");
    let msg = bad(&[("RANK", "1")]);
    assert!(msg.contains("RANK and WORLD_SIZE"), "{msg}");
    let msg = bad(&[("WORLD_SIZE", "4")]);
    assert!(msg.contains("RANK and WORLD_SIZE"), "{msg}");
    let msg = bad(&[("SLURM_PROCID", "1")]);
    assert!(msg.contains("SLURM_PROCID and SLURM_NTASKS"), "{msg}");
    let msg = bad(&[("RANK", "4"), ("WORLD_SIZE", "4")]);
    assert!(msg.contains("rank 4 of world size 4"), "{msg}");
    let msg = bad(&[("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "0")]);
    assert!(msg.contains("world size 0"), "{msg}");
    let msg = bad(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "gpu0")]);
    assert!(msg.contains("LOCAL_RANK"), "{msg}");
    let msg = bad(&[("RANK", ""), ("WORLD_SIZE", "2")]);
    assert!(msg.contains("RANK"), "{msg}");

    // What it reads drives a run.
    let from_env = with_env(&[("RANK", "1"), ("WORLD_SIZE", "2")])
        .unwrap()
        .unwrap();
    let spec = RunSpec::new(2).shuffle(3).shard(from_env);
    let ds = dataset(9);
    let got: Vec<Vec<usize>> = ds
        .p()
        .gen_batch(&spec)
        .unwrap()
        .map(|b| b.unwrap().index.ids().to_vec())
        .collect();
    let expected = batches(9, &BatchSpec::new(2).shuffle(3).shard(Shard::new(1, 2)));
    assert_eq!(got, expected);

    for (name, value) in saved {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

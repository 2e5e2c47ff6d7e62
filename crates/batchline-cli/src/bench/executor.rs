//! The executor's behaviour suites: early drop (cancellation) and the epoch boundary.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use batchline::IdsBatch;
use batchline::{Action, Context, Dataset, DatasetIndex, Event, EventKind, RunSpec};

use super::args::Settings;
use super::harness::Kind;
use super::harness::Row;
use super::suite::Suite;

/// A row from its rounds (seconds); `baseline_best` is the suite's baseline figure.
#[allow(clippy::too_many_arguments)]
fn row(
    suite: Suite,
    variant: &str,
    kind: Kind,
    k: Option<usize>,
    unit: &str,
    rounds_s: Vec<f64>,
    baseline_best: Option<f64>,
    notes: Vec<String>,
) -> Row {
    let best = rounds_s.iter().copied().fold(f64::INFINITY, f64::min);
    Row {
        suite,
        variant: variant.to_owned(),
        kind,
        k,
        unit: unit.to_owned(),
        count: 1,
        rounds_s,
        best_s: best,
        per_s: 1.0 / best,
        vs_baseline: baseline_best.unwrap_or(best) / best,
        vs_pariter: None,
        vs_pariter_bound: None,
        notes,
    }
}

/// Early drop: k = 7, one 100 ms action under a lock (20 ms with `--quick`); the iterator is
/// dropped after the first batch. The figure is the time `drop` takes, next to the baseline of
/// one action's time (a 100 ms sleep): `vs baseline` ≥ 0.67 means the drop returned within
/// 150 ms. The note counts the actions that started after the drop began (the most in a
/// round), which should be 0.
pub(crate) fn early_drop(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let ms = if settings.quick { 20 } else { 100 };
    let action = Duration::from_millis(ms);
    let pipeline = Dataset::<IdsBatch>::new(DatasetIndex::from_count(400), ())
        .p()
        .push(
            Action::new("locked", move |_: &mut IdsBatch, _: &mut Context| {
                sleep(action)
            })
            .lock("L"),
        );
    let (mut base, mut drops) = (Vec::new(), Vec::new());
    let mut started_after = 0;
    for _ in 0..settings.rounds {
        let t = Instant::now();
        sleep(action);
        base.push(t.elapsed().as_secs_f64());

        let dropping = Arc::new(AtomicBool::new(false));
        let late = Arc::new(AtomicU64::new(0));
        let (d, l) = (Arc::clone(&dropping), Arc::clone(&late));
        let spec = RunSpec::new(1).prefetch(7).observer(move |e: &Event| {
            if matches!(e.kind, EventKind::ActionStarted { .. }) && d.load(Ordering::SeqCst) {
                l.fetch_add(1, Ordering::SeqCst);
            }
        });
        let mut iter = pipeline.gen_batch(&spec)?;
        black_box(iter.next().transpose()?);
        dropping.store(true, Ordering::SeqCst);
        let t = Instant::now();
        drop(iter);
        drops.push(t.elapsed().as_secs_f64());
        started_after = started_after.max(late.load(Ordering::SeqCst));
    }
    let base_row = row(
        Suite::Drop,
        &format!("one action ({ms} ms)"),
        Kind::Baseline,
        None,
        "drops",
        base,
        None,
        Vec::new(),
    );
    let best = base_row.best_s;
    Ok(vec![
        base_row,
        row(
            Suite::Drop,
            "batchline k=7 drop",
            Kind::Batchline,
            Some(7),
            "drops",
            drops,
            Some(best),
            vec![format!(
                "actions started after drop began: {started_after} (most in a round)"
            )],
        ),
    ])
}

/// The epoch boundary: a shuffled index of 10 M items (1 M with `--quick`), 100 batches per
/// epoch, 2 epochs, k = 3, no action, a consumer that works 2 ms per batch. The figures are
/// the consumer's wait in `next()`: the median over the middle of epoch 1 (the baseline) and
/// the worst of the waits from the release that lets the first batch of epoch 2 be drawn to
/// that batch (`vs baseline` ≥ 0.5: at most twice the mid-epoch wait).
pub(crate) fn epoch_boundary(settings: &Settings) -> anyhow::Result<Vec<Row>> {
    let n = if settings.quick {
        1_000_000
    } else {
        10_000_000
    };
    let per_epoch = 100;
    let pipeline = Dataset::<IdsBatch>::new(DatasetIndex::from_count(n), ()).p();
    let spec = RunSpec::new(n / per_epoch)
        .shuffle(1)
        .n_epochs(2)
        .prefetch(3);
    let (mut mid, mut first) = (Vec::new(), Vec::new());
    for _ in 0..settings.rounds {
        let mut waits = Vec::with_capacity(2 * per_epoch);
        let mut iter = pipeline.gen_batch(&spec)?;
        loop {
            let t = Instant::now();
            let Some(batch) = iter.next() else { break };
            waits.push(t.elapsed().as_secs_f64());
            black_box(batch?);
            sleep(Duration::from_millis(2));
        }
        anyhow::ensure!(
            waits.len() == 2 * per_epoch,
            "{} batches, not {}",
            waits.len(),
            2 * per_epoch
        );
        let mut middle = waits[10..per_epoch - 10].to_vec();
        middle.sort_by(f64::total_cmp);
        mid.push(middle[middle.len() / 2]);
        // The first batch of epoch 2 is drawn (its positions taken from the new permutation)
        // when the consumer releases batch `per_epoch - k - 1`: the worst wait from there to
        // the first batch of epoch 2 is the boundary's cost.
        let around = &waits[per_epoch - 5..=per_epoch];
        first.push(around.iter().copied().fold(0.0, f64::max));
    }
    let base_row = row(
        Suite::Epoch,
        "mid-epoch batch (median wait)",
        Kind::Baseline,
        None,
        "waits",
        mid,
        None,
        Vec::new(),
    );
    let best = base_row.best_s;
    Ok(vec![
        base_row,
        row(
            Suite::Epoch,
            "epoch 2 begins (worst wait)",
            Kind::Batchline,
            Some(3),
            "waits",
            first,
            Some(best),
            vec![format!(
                "{n} shuffled items, {per_epoch} batches per epoch, k = 3; the worst of the \
                 waits for the last 5 batches of epoch 1 and the first of epoch 2"
            )],
        ),
    ])
}

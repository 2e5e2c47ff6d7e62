//! Measuring: variants of a suite, their interleaved rounds, and the rows they make.

use std::hint::black_box;
use std::time::Instant;

use batchline::BatchSpec;
use batchline::IdsBatch;
use batchline::{BatchIndex, Context, Dataset, DatasetIndex, Pipeline, RunSpec};
use pariter::IteratorExt;
use serde::{Deserialize, Serialize};

use super::args::Settings;
use super::suite::Suite;

/// What a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// The suite's baseline: a plain loop, or the decoder alone for `images`.
    Baseline,
    /// `pariter`'s ordered `parallel_map` with `k + 1` threads and a buffer of `k + 1`: as many
    /// batches in its workers while the consumer waits as batchline has at `prefetch(k)`, but
    /// one more (`k + 2` created and not released) while the consumer holds one (pariter's
    /// buffer counts the batches sent and not yet returned, not the one the consumer holds).
    Pariter,
    /// `pariter` with `k + 1` threads and a buffer of `k`: batchline's peak bound (`k + 1`
    /// created and not released), but one batch fewer in its workers while the consumer
    /// waits.
    #[serde(rename = "pariter-bound")]
    PariterBound,
    /// A batchline pipeline with `prefetch(k)`.
    Batchline,
    /// PyTorch's DataLoader with torchvision on the same files (image suites, when torch is
    /// installed).
    Torch,
}

/// One figure of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) suite: Suite,
    /// `plain loop`, `decoder alone`, `pariter k=3`, `batchline k=3`.
    pub(crate) variant: String,
    pub(crate) kind: Kind,
    /// The prefetch depth (none for the baseline).
    pub(crate) k: Option<usize>,
    /// What one round processes: `batches` or `images`.
    pub(crate) unit: String,
    /// How many of `unit` one round processes.
    pub(crate) count: usize,
    /// Every round's time, in seconds, in the order they ran.
    pub(crate) rounds_s: Vec<f64>,
    /// The best (minimum) of `rounds_s`: the figure.
    pub(crate) best_s: f64,
    /// `count / best_s`.
    pub(crate) per_s: f64,
    /// The baseline's `best_s` / this row's `best_s`: above 1, faster than the baseline.
    pub(crate) vs_baseline: f64,
    /// For a batchline row: pariter's `best_s` at the same k (buffer `k + 1`) / this row's
    /// `best_s` (above 1, faster than pariter); none where there is no pariter figure at that k.
    pub(crate) vs_pariter: Option<f64>,
    /// The same against pariter with batchline's bound (buffer `k`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) vs_pariter_bound: Option<f64>,
    /// What the suite checked or counted besides the time (`k+1 bound: at most 4 in flight,
    /// 4 reached`, `actions started after drop: 0`), printed under the table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) notes: Vec<String>,
}

/// A variant of a suite: what it is and one round of it.
pub(crate) struct Variant<'a> {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) k: Option<usize>,
    pub(crate) round: Box<dyn FnMut() -> anyhow::Result<()> + 'a>,
}

impl<'a> Variant<'a> {
    pub(crate) fn new(
        kind: Kind,
        name: impl Into<String>,
        k: Option<usize>,
        round: impl FnMut() -> anyhow::Result<()> + 'a,
    ) -> Self {
        Self {
            name: name.into(),
            kind,
            k,
            round: Box::new(round),
        }
    }
}

/// Runs the rounds of `variants` (interleaved) and makes their rows; the first variant is the
/// baseline.
pub(crate) fn measure(
    suite: Suite,
    unit: &str,
    count: usize,
    rounds: usize,
    mut variants: Vec<Variant<'_>>,
) -> anyhow::Result<Vec<Row>> {
    debug_assert_eq!(variants.first().map(|v| v.kind), Some(Kind::Baseline));
    let mut times = vec![Vec::with_capacity(rounds); variants.len()];
    for _ in 0..rounds {
        for (v, t) in variants.iter_mut().zip(&mut times) {
            let start = Instant::now();
            (v.round)()?;
            t.push(start.elapsed().as_secs_f64());
        }
    }
    let best: Vec<f64> = times
        .iter()
        .map(|t| t.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    let pariter_best = |kind: Kind, k: Option<usize>| {
        variants
            .iter()
            .zip(&best)
            .find(|(v, _)| v.kind == kind && v.k == k)
            .map(|(_, &b)| b)
    };
    let rows = variants
        .iter()
        .zip(times.iter().zip(&best))
        .map(|(v, (t, &b))| Row {
            suite,
            variant: v.name.clone(),
            kind: v.kind,
            k: v.k,
            unit: unit.to_owned(),
            count,
            rounds_s: t.clone(),
            best_s: b,
            per_s: count as f64 / b,
            vs_baseline: best[0] / b,
            vs_pariter: match v.kind {
                Kind::Batchline => pariter_best(Kind::Pariter, v.k).map(|p| p / b),
                _ => None,
            },
            vs_pariter_bound: match v.kind {
                Kind::Batchline => pariter_best(Kind::PariterBound, v.k).map(|p| p / b),
                _ => None,
            },
            notes: Vec::new(),
        })
        .collect();
    Ok(rows)
}

/// The batchline variants (one per k), then pariter's (one per k ≥ 1; pariter always runs its
/// map on other threads, so k = 0 — no background work — has the plain loop as reference).
pub(crate) fn pipeline_and_pariter<'a, F>(
    settings: &Settings,
    pipeline: &'a Pipeline<IdsBatch>,
    index: &'a DatasetIndex,
    batch_size: usize,
    f: F,
) -> Vec<Variant<'a>>
where
    F: FnMut(BatchIndex) -> BatchIndex + Clone + Send + 'static,
{
    let mut variants = Vec::new();
    for &k in &settings.k {
        variants.push(Variant::new(
            Kind::Batchline,
            format!("batchline k={k}"),
            Some(k),
            move || {
                for batch in pipeline.gen_batch(&RunSpec::new(batch_size).prefetch(k))? {
                    black_box(batch?);
                }
                Ok(())
            },
        ));
    }
    if let Some(budget) = settings.auto {
        variants.push(Variant::new(
            Kind::Batchline,
            "batchline auto",
            None,
            move || {
                let spec = RunSpec::new(batch_size).prefetch_auto(budget);
                for batch in pipeline.gen_batch(&spec)? {
                    black_box(batch?);
                }
                Ok(())
            },
        ));
    }
    for (kind, name, extra) in [
        (Kind::Pariter, "pariter", 1),
        (Kind::PariterBound, "pariter (bound)", 0),
    ] {
        for &k in settings.k.iter().filter(|&&k| k > 0) {
            let f = f.clone();
            variants.push(Variant::new(
                kind,
                format!("{name} k={k}"),
                Some(k),
                move || {
                    let out = index
                        .gen_batch(&BatchSpec::new(batch_size))?
                        .parallel_map_custom(
                            |o| o.threads(k + 1).buffer_size(k + extra),
                            f.clone(),
                        );
                    for batch in out {
                        black_box(batch);
                    }
                    Ok(())
                },
            ));
        }
    }
    variants
}

/// The most batches pariter's `parallel_map` with a buffer of `buffer` (and `k + 1` threads)
/// has created (taken from the index) and not released (dropped by the consumer) at once.
pub(crate) fn pariter_in_flight<F>(
    index: &DatasetIndex,
    batch_size: usize,
    k: usize,
    buffer: usize,
    f: F,
) -> anyhow::Result<i64>
where
    F: FnMut(BatchIndex) -> BatchIndex + Clone + Send + 'static,
{
    let count = InFlight::default();
    let created = count.clone();
    let out = index
        .gen_batch(&BatchSpec::new(batch_size))?
        .inspect(move |_| created.add(1))
        .parallel_map_custom(|o| o.threads(k + 1).buffer_size(buffer), f);
    for batch in out {
        black_box(batch);
        count.add(-1);
    }
    Ok(count.most())
}

/// An action of the ids pipelines.
pub(crate) type IdsAction = fn(&mut IdsBatch, &mut Context);

/// A pipeline over `items` ids with the actions `actions` (name, function).
pub(crate) fn ids_pipeline(items: usize, actions: &[(&str, IdsAction)]) -> Pipeline<IdsBatch> {
    let mut p = Dataset::<IdsBatch>::new(DatasetIndex::from_count(items), ()).p();
    for &(name, f) in actions {
        p = p.apply(name, f);
    }
    p
}

/// Counts the batches created and not released from a run's events (`BatchCreated` minus
/// `BatchReleased`) and keeps the most at once.
#[derive(Clone, Default)]
pub(crate) struct InFlight {
    now: std::sync::Arc<std::sync::atomic::AtomicI64>,
    most: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl InFlight {
    /// The observer that counts.
    pub(crate) fn observer(&self) -> impl Fn(&batchline::Event) + Send + Sync + 'static {
        use std::sync::atomic::Ordering;
        let me = self.clone();
        move |e: &batchline::Event| match e.kind {
            batchline::EventKind::BatchCreated => {
                let n = me.now.fetch_add(1, Ordering::SeqCst) + 1;
                me.most.fetch_max(n, Ordering::SeqCst);
            }
            batchline::EventKind::BatchReleased => {
                me.now.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {}
        }
    }

    /// Counts `n` batches created (or, negative, released).
    pub(crate) fn add(&self, n: i64) {
        use std::sync::atomic::Ordering;
        let now = self.now.fetch_add(n, Ordering::SeqCst) + n;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    /// The most batches created and not released at once.
    pub(crate) fn most(&self) -> i64 {
        self.most.load(std::sync::atomic::Ordering::SeqCst)
    }
}

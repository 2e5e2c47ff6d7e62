//! `#[batchline::actions]` on real batch types: the generated steps are lazy, run the methods
//! in order with the right arguments (plain or lazy), honour `name`, `lock` and `ordered`, and
//! report errors under the action's name.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::Duration;

use batchline::{
    ActionError, ActionResult, Arg, Batch, BatchIndex, Context, Dataset, DatasetIndex, EventKind,
    EventRecorder, Pipeline, PipelineError, RunSpec,
};

/// A batch that records what its actions did.
#[derive(Debug)]
struct Log {
    index: BatchIndex,
    entries: Vec<String>,
    sum: u64,
}

impl Batch for Log {
    type Id = usize;
    type Source = ();

    fn create(index: BatchIndex, _source: &Arc<()>) -> Self {
        Log {
            index,
            entries: Vec::new(),
            sum: 0,
        }
    }

    fn index(&self) -> &BatchIndex {
        &self.index
    }
}

/// A user type passed as an argument.
#[derive(Debug, Clone, PartialEq)]
struct Tag {
    label: String,
    weight: u8,
}

/// Counts how many batches are inside a region at once, and the most ever seen.
#[derive(Debug, Default)]
pub struct Occupancy {
    inside: AtomicUsize,
    max: AtomicUsize,
}

impl Occupancy {
    fn visit(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        sleep(Duration::from_millis(3));
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

#[batchline::actions]
impl Log {
    /// Records `start`.
    #[action]
    fn start(&mut self) {
        self.entries.push("start".into());
    }

    /// Records all its arguments.
    #[action]
    fn note(&mut self, text: String, n: usize, path: PathBuf, x: f32, bytes: Vec<u8>, tag: Tag) {
        self.entries.push(format!(
            "note {text} {n} {} {x} {bytes:?} {}/{}",
            path.display(),
            tag.label,
            tag.weight
        ));
    }

    /// Records the batch number (from the context) and `k`.
    #[action]
    fn number(&mut self, ctx: &mut Context, k: u64) {
        self.entries.push(format!("number {} {k}", ctx.batch()));
    }

    /// Records `n`, typically a lazy argument.
    #[action]
    fn record(&mut self, n: u64) {
        self.entries.push(format!("record {n}"));
    }

    /// Counts the batches it sees, without changing them.
    #[action]
    fn count(&self, counter: Arc<AtomicUsize>, _ctx: &Context<'_>) {
        counter.fetch_add(self.len(), Ordering::SeqCst);
    }

    /// Adds a parsed number to the sum: fails on bad text.
    #[action]
    fn parse(&mut self, text: String) -> Result<(), std::num::ParseIntError> {
        self.sum += text.parse::<u64>()?;
        Ok(())
    }

    /// Takes a tuple pattern and an id of the batch type (`Self` in the argument type).
    #[action]
    fn pair(&mut self, (a, b): (u64, u64), id: <Self as Batch>::Id) {
        self.entries.push(format!("pair {a} {b} {id}"));
    }

    /// Parameters named like the locals of the generated code.
    #[action]
    fn clash(&mut self, batch: u64, ctx: String, arg_0: u8) {
        self.entries.push(format!("clash {batch} {ctx} {arg_0}"));
    }

    /// Under a lock of its own.
    #[action(lock)]
    fn locked(&mut self, occupancy: Arc<Occupancy>) -> ActionResult {
        occupancy.visit();
        self.entries.push("locked".into());
        Ok(())
    }

    /// Under the lock "shared log", like [`Log::also_shared`].
    #[action(lock = "shared log")]
    fn shared(&mut self, occupancy: Arc<Occupancy>, _ctx: &mut batchline::Context<'_>) {
        occupancy.visit();
    }

    /// Under the lock "shared log", like [`Log::shared`].
    #[action(lock = "shared log")]
    fn also_shared(&mut self, occupancy: Arc<Occupancy>) {
        occupancy.visit();
    }

    /// Appends the batch number to `sink`, under a lock and in batch order.
    #[action(lock, ordered)]
    fn append(
        &mut self,
        sink: Arc<Mutex<Vec<u64>>>,
        ctx: &mut Context,
    ) -> Result<(), std::io::Error> {
        sink.lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .push(ctx.batch());
        Ok(())
    }

    /// Appends the batch number to `sink`, in batch order (no lock).
    #[action(ordered)]
    fn in_order(&self, sink: Arc<Mutex<Vec<u64>>>, ctx: &Context) {
        sink.lock().unwrap().push(ctx.batch());
    }

    /// Sleeps longer for early batches, so that later ones overtake them.
    #[action]
    fn jitter(&mut self, ctx: &mut Context) {
        sleep(Duration::from_millis(12u64.saturating_sub(3 * ctx.batch())));
    }

    /// A step whose name is not the method's.
    #[action(name = "custom name")]
    fn renamed(&mut self) -> Result<(), ActionError> {
        self.entries.push("renamed".into());
        Ok(())
    }

    /// Not an action: left alone.
    fn helper(&self) -> usize {
        self.entries.len()
    }
}

fn dataset(n: usize) -> Dataset<Log> {
    Dataset::new(DatasetIndex::from_count(n), ())
}

fn specs() -> [RunSpec; 2] {
    [RunSpec::new(2).prefetch(0), RunSpec::new(2).prefetch(3)]
}

fn collect(p: &Pipeline<Log>, spec: &RunSpec) -> Vec<Log> {
    p.gen_batch(spec)
        .expect("the run starts")
        .collect::<Result<_, _>>()
        .expect("no batch fails")
}

#[test]
fn actions_run_in_order_with_their_arguments() {
    let counter = Arc::new(AtomicUsize::new(0));
    let tag = Tag {
        label: "t".into(),
        weight: 7,
    };
    let p = dataset(6)
        .p()
        .start()
        .note(
            "hi".to_string(),
            3,
            PathBuf::from("data"),
            1.5,
            vec![1, 2],
            tag,
        )
        .number(10)
        .renamed()
        .pair((4, 5), 9)
        .clash(7, "c".to_string(), 1)
        .count(Arc::clone(&counter))
        .parse("12".to_string())
        .parse(String::from("30"));
    for spec in specs() {
        counter.store(0, Ordering::SeqCst);
        let batches = collect(&p, &spec);
        assert_eq!(batches.len(), 3);
        for (i, b) in batches.iter().enumerate() {
            assert_eq!(
                b.entries,
                [
                    "start".to_string(),
                    "note hi 3 data 1.5 [1, 2] t/7".to_string(),
                    format!("number {i} 10"),
                    "renamed".to_string(),
                    "pair 4 5 9".to_string(),
                    "clash 7 c 1".to_string(),
                ]
            );
            assert_eq!(b.sum, 42);
            assert_eq!(b.helper(), 6);
        }
        assert_eq!(counter.load(Ordering::SeqCst), 6);
    }
}

#[test]
fn building_a_pipeline_runs_nothing() {
    let counter = Arc::new(AtomicUsize::new(0));
    let p = dataset(4).p().count(Arc::clone(&counter)).start();
    assert_eq!(counter.load(Ordering::SeqCst), 0);
    p.run(&RunSpec::new(2)).unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 4);
}

#[test]
fn lazy_arguments_are_evaluated_for_each_batch() {
    let p = dataset(10)
        .p()
        .start()
        .record(Arg::from_fn(|ctx: &mut Context| ctx.batch()))
        .record(Arg::from_batch(|b: &Log, _: &mut Context| {
            b.ids()[0] as u64 * 100
        }))
        .record(Arg::from_batch(|b: &Log, _: &mut Context| {
            b.entries.len() as u64
        }));
    for spec in specs() {
        let batches = collect(&p, &spec);
        assert_eq!(batches.len(), 5);
        for (i, b) in batches.iter().enumerate() {
            let expected = [
                "start".to_string(),
                format!("record {i}"),
                format!("record {}", i * 200),
                // Evaluated just before its action: the batch has three entries by then.
                "record 3".to_string(),
            ];
            assert_eq!(b.entries, expected);
        }
    }
}

#[test]
fn step_names_are_the_method_names_or_the_given_name() {
    let p = dataset(2)
        .p()
        .start()
        .renamed()
        .record(1)
        .locked(Arc::default());
    assert_eq!(p.step_names(), ["start", "custom name", "record", "locked"]);
}

#[test]
fn an_error_from_question_mark_names_the_action() {
    let p = dataset(4)
        .p()
        .start()
        .parse("not a number".to_string())
        .record(1);
    for spec in specs() {
        let err = p.run(&spec).unwrap_err().error;
        match &err {
            PipelineError::Action {
                batch,
                action,
                message,
                ..
            } => {
                assert_eq!(*batch, 0);
                assert_eq!(&**action, "parse");
                assert_eq!(message, "invalid digit found in string");
            }
            other => panic!("expected an action error, got {other:?}"),
        }
        let source = std::error::Error::source(&err).expect("the ParseIntError is kept");
        assert!(source.is::<std::num::ParseIntError>());
    }
}

#[test]
fn locks_are_named_as_documented_and_exclude_each_other() {
    let own = Arc::new(Occupancy::default());
    let shared = Arc::new(Occupancy::default());
    let sink = Arc::new(Mutex::new(Vec::new()));
    let p = dataset(16)
        .p()
        .locked(Arc::clone(&own))
        .shared(Arc::clone(&shared))
        .also_shared(Arc::clone(&shared))
        .append(Arc::clone(&sink));
    let recorder = EventRecorder::new();
    p.run(&RunSpec::new(2).prefetch(3).observer(recorder.clone()))
        .unwrap();
    assert_eq!(own.max.load(Ordering::SeqCst), 1);
    assert_eq!(shared.max.load(Ordering::SeqCst), 1);

    let mut locks: Vec<String> = recorder
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LockAcquired { lock } => Some(lock.to_string()),
            _ => None,
        })
        .collect();
    locks.sort();
    locks.dedup();
    let module = module_path!();
    assert_eq!(
        locks,
        [
            format!("{module}::Log::append"),
            format!("{module}::Log::locked"),
            "shared log".to_string(),
            // An ordered action's turns, reported like a lock but never one of the user's.
            "turn of append".to_string(),
        ]
    );
}

#[test]
fn ordered_actions_see_the_batches_in_order() {
    for spec in specs() {
        let locked_sink = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::new(Mutex::new(Vec::new()));
        dataset(16)
            .p()
            .jitter()
            .in_order(Arc::clone(&sink))
            .append(Arc::clone(&locked_sink))
            .run(&spec)
            .unwrap();
        let expected: Vec<u64> = (0..8).collect();
        assert_eq!(*sink.lock().unwrap(), expected);
        assert_eq!(*locked_sink.lock().unwrap(), expected);
    }
}

/// A generic batch: one value per item.
#[derive(Debug)]
pub struct Values<T> {
    index: BatchIndex,
    values: Vec<T>,
}

impl<T: Clone + Send + Sync + 'static> Batch for Values<T> {
    type Id = usize;
    type Source = ();

    fn create(index: BatchIndex, _source: &Arc<()>) -> Self {
        Values {
            index,
            values: Vec::new(),
        }
    }

    fn index(&self) -> &BatchIndex {
        &self.index
    }
}

#[batchline::actions]
impl<T: Clone + Send + Sync + 'static> Values<T> {
    /// Sets every value to `value`.
    #[action]
    fn fill(&mut self, value: T) {
        self.values = vec![value; self.len()];
    }
}

#[batchline::actions(trait_name = ValuesSteps, vis = pub(crate))]
impl<T> Values<T>
where
    T: Clone + Send + Sync + 'static + std::ops::Mul<Output = T>,
{
    /// Multiplies every value by `k`.
    #[action(name = "scale", ordered)]
    fn scale_by(&mut self, k: T, _ctx: &mut Context) {
        for v in &mut self.values {
            *v = v.clone() * k.clone();
        }
    }
}

#[test]
fn generic_batch_types_get_generic_steps() {
    let ds: Dataset<Values<f32>> = Dataset::new(DatasetIndex::from_count(4), ());
    let p = ds
        .p()
        .fill(2.0)
        .scale_by(Arg::from_fn(|ctx: &mut Context| ctx.batch() as f32 + 1.0));
    assert_eq!(p.step_names(), ["fill", "scale"]);
    for spec in specs() {
        let values: Vec<Vec<f32>> = p
            .gen_batch(&spec)
            .unwrap()
            .map(|b| b.map(|b| b.values))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(values, [vec![2.0, 2.0], vec![4.0, 4.0]]);
    }

    let strings: Dataset<Values<String>> = Dataset::new(DatasetIndex::from_count(3), ());
    let mut p = strings.p().fill("x".to_string());
    let first = p.next_batch(&RunSpec::new(3)).unwrap().unwrap();
    assert_eq!(first.values, ["x", "x", "x"]);
}

//! The steps of one run: the pipeline's steps with their locks and turns resolved.

use std::sync::Arc;

use super::PipelineError;
use crate::lock::{Gate, LockRegistry, NamedLock};
use crate::plan::{Action, Step};

/// A step with its locks and gate resolved for one run.
pub(crate) enum RunStep<B> {
    Action {
        action: Action<B>,
        /// The lock the action runs under: the user's named lock, or (for an ordered action
        /// of a run without turns) a private one.
        lock: Option<(Arc<str>, Arc<NamedLock>)>,
        /// The gate of an ordered action: batches enter it in batch order.
        gate: Option<Turn>,
    },
    Acquire {
        name: Arc<str>,
        lock: Arc<NamedLock>,
        /// Set when the section up to the matching release holds an ordered step: batches
        /// then take the lock in batch order, so that batch `n + 1` never holds the lock
        /// while batch `n` waits for it to reach its turn (a deadlock otherwise).
        gate: Option<Turn>,
    },
    Release {
        name: Arc<str>,
    },
    Branch {
        p: f64,
        /// How many steps after this one belong to the branch (nested ones included).
        len: usize,
    },
}

/// An ordered gate of the run, and the name its waits are reported under.
#[derive(Clone)]
pub(crate) struct Turn {
    pub(crate) gate: usize,
    pub(crate) name: Arc<str>,
}

impl<B> RunStep<B> {
    pub(crate) fn gate(&self) -> Option<usize> {
        match self {
            RunStep::Action { gate, .. } | RunStep::Acquire { gate, .. } => {
                gate.as_ref().map(|t| t.gate)
            }
            _ => None,
        }
    }
}

/// The resolved steps of one run.
pub(crate) struct RunSteps<B> {
    pub(crate) steps: Vec<RunStep<B>>,
    pub(crate) gates: Vec<Gate>,
    /// Every lock the steps use (to wake their waiters on cancellation).
    pub(crate) locks: Vec<Arc<NamedLock>>,
    /// Commit steps: run on the consumer's thread as it receives each batch, in order.
    pub(crate) commit: Vec<Action<B>>,
}

impl<B> RunSteps<B> {
    /// Resolves `steps`. With `turns`, ordered steps get gates (batches pass them in batch
    /// order); without (the batches of a joined pipeline, which come one at a time from the
    /// batches of another run), each ordered step runs under a private lock.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Build`] when a commit step is followed by another kind of step or
    /// sits inside `sometimes`.
    pub(crate) fn new(
        steps: &[Step<B>],
        registry: &LockRegistry,
        turns: bool,
        first_batch: u64,
    ) -> Result<Self, PipelineError> {
        let (worker, commit) = split_commit(steps)?;
        let mut me = Self {
            steps: Vec::new(),
            gates: Vec::new(),
            locks: Vec::new(),
            commit,
        };
        me.flatten(worker, registry, turns);
        if turns {
            me.gate_sections();
        }
        me.gates = (0..me.gates.len())
            .map(|_| Gate::new(first_batch))
            .collect();
        Ok(me)
    }

    fn new_gate(&mut self, name: Arc<str>) -> Turn {
        self.gates.push(Gate::new(0));
        Turn {
            gate: self.gates.len() - 1,
            name,
        }
    }

    fn add_lock(&mut self, lock: &Arc<NamedLock>) {
        if !self.locks.iter().any(|l| Arc::ptr_eq(l, lock)) {
            self.locks.push(Arc::clone(lock));
        }
    }

    /// Appends the steps, a branch becoming a `Branch` step followed by its own steps.
    fn flatten(&mut self, steps: &[Step<B>], registry: &LockRegistry, turns: bool) {
        for step in steps {
            match step {
                Step::Action(action) => {
                    let lock = match (&action.lock, action.ordered && !turns) {
                        (Some(name), _) => Some((Arc::clone(name), registry.get(name))),
                        (None, true) => Some((
                            Arc::from(format!("ordered {}", action.name)),
                            Arc::new(NamedLock::default()),
                        )),
                        (None, false) => None,
                    };
                    if let Some((_, l)) = &lock {
                        self.add_lock(l);
                    }
                    let gate = (action.ordered && turns)
                        .then(|| self.new_gate(format!("turn of {}", action.name).into()));
                    self.steps.push(RunStep::Action {
                        action: action.clone(),
                        lock,
                        gate,
                    });
                }
                Step::AcquireLock(name) => {
                    let lock = registry.get(name);
                    self.add_lock(&lock);
                    self.steps.push(RunStep::Acquire {
                        name: Arc::clone(name),
                        lock,
                        gate: None,
                    });
                }
                Step::ReleaseLock(name) => self.steps.push(RunStep::Release {
                    name: Arc::clone(name),
                }),
                Step::Branch { p, steps } => {
                    let at = self.steps.len();
                    self.steps.push(RunStep::Branch { p: *p, len: 0 });
                    self.flatten(steps, registry, turns);
                    let len = self.steps.len() - at - 1;
                    self.steps[at] = RunStep::Branch { p: *p, len };
                }
            }
        }
    }

    /// Gives a gate to every `acquire_lock` whose section (up to the next release of the same
    /// lock, or the end) holds an ordered step.
    fn gate_sections(&mut self) {
        for at in 0..self.steps.len() {
            let RunStep::Acquire { name, .. } = &self.steps[at] else {
                continue;
            };
            let name = Arc::clone(name);
            let holds_ordered = self.steps[at + 1..]
                .iter()
                .take_while(|s| !matches!(s, RunStep::Release { name: n } if *n == name))
                .any(|s| matches!(s, RunStep::Action { gate: Some(_), .. }));
            if holds_ordered {
                let turn = self.new_gate(format!("turn of acquire_lock({name})").into());
                if let RunStep::Acquire { gate, .. } = &mut self.steps[at] {
                    *gate = Some(turn);
                }
            }
        }
    }
}

/// The worker steps, and the commit steps after them.
type Split<'a, B> = (&'a [Step<B>], Vec<Action<B>>);

/// Splits off the trailing commit steps; a commit step anywhere else is a build error.
fn split_commit<B>(steps: &[Step<B>]) -> Result<Split<'_, B>, PipelineError> {
    let is_commit = |s: &Step<B>| matches!(s, Step::Action(a) if a.commit);
    let first = steps
        .iter()
        .rposition(|s| !is_commit(s))
        .map_or(0, |i| i + 1);
    let (worker, tail) = steps.split_at(first);
    if let Some(bad) = find_commit(worker) {
        let why = match worker.iter().position(is_commit) {
            Some(i) => match worker[i + 1..].iter().find(|s| !is_commit(s)) {
                Some(next) => format!("{} follows it", step_name(next)),
                None => "another step follows it".into(),
            },
            None => "it sits inside `sometimes`".into(),
        };
        return Err(PipelineError::Build(format!(
            "commit step {bad:?} must come after every other step, but {why} (commit steps \
             run on the consumer's thread as it receives the batch)"
        )));
    }
    let commit = tail
        .iter()
        .filter_map(|s| match s {
            Step::Action(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    Ok((worker, commit))
}

/// The name of the first commit step among `steps` (branches included).
fn find_commit<B>(steps: &[Step<B>]) -> Option<String> {
    steps.iter().find_map(|s| match s {
        Step::Action(a) if a.commit => Some(a.name.to_string()),
        Step::Branch { steps, .. } => find_commit(steps),
        _ => None,
    })
}

fn step_name<B>(step: &Step<B>) -> String {
    match step {
        Step::Action(a) => format!("{:?}", a.name),
        Step::AcquireLock(n) => format!("acquire_lock({n:?})"),
        Step::ReleaseLock(n) => format!("release_lock({n:?})"),
        Step::Branch { .. } => "a `sometimes` step".into(),
    }
}

"""``Pipeline``: BatchFlow's lazy pipeline, run by batchline's Rust engine.

Chaining records steps (``p.load().resize(size=(64, 64)).my_action(k=2)``); nothing runs
until ``gen_batch`` / ``next_batch`` / ``run``. At the start of a run the steps become a plan
of the engine: Python actions run on the engine's workers and take the GIL only while Python
runs; native actions and lock steps never take it; the consumer waits without the GIL.
"""

from __future__ import annotations

import atexit
import copy as _copy
import os
import secrets
import threading
import warnings
import weakref
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from . import _batchline
from .batch import Batch, _action_info
from .dataset import Dataset
from .exceptions import EmptyBatchSequence, SkipBatchException, StopPipeline
from .named_expr import NamedExpression, _assign, _has_expr, eval_expr

# Runs not yet ended: closed (their workers stopped and joined) when the interpreter exits,
# before it shuts down, since a worker finishing a Python action during the shutdown would
# abort the process.
_LIVE_RUNS: "weakref.WeakSet[Any]" = weakref.WeakSet()


@atexit.register
def _close_live_runs() -> None:
    for it in list(_LIVE_RUNS):
        it.close()


__all__ = ["Pipeline"]

_RUN_KEYS = {"batch_size", "shuffle", "n_iters", "n_epochs", "drop_last", "prefetch",
             "ignore_exceptions", "profile", "notifier", "bar", "reset", "target", "lazy"}


class _Step:
    """One recorded step; never changed once made (chaining copies the list)."""

    __slots__ = ("kind", "name", "args", "kwargs", "proba", "repeat", "sub")

    def __init__(self, kind: str, name: Any = None, args: tuple = (), kwargs: Optional[dict] = None,
                 proba: Optional[float] = None, repeat: Optional[int] = None,
                 sub: Optional[List["_Step"]] = None):
        self.kind = kind
        self.name = name
        self.args = args
        self.kwargs = kwargs or {}
        self.proba = proba
        self.repeat = repeat
        self.sub = sub

    def replace(self, **changes: Any) -> "_Step":
        new = _Step(self.kind, self.name, self.args, self.kwargs, self.proba, self.repeat,
                    self.sub)
        for k, v in changes.items():
            setattr(new, k, v)
        return new

    def label(self) -> str:
        if self.kind == "nested":
            return "[" + ", ".join(s.label() for s in self.sub or []) + "]"
        return str(self.name if self.kind == "action" else self.kind)


class _Variables:
    """Pipeline variables: name -> value, with their defaults, under one lock."""

    def __init__(self) -> None:
        self.values: Dict[str, Any] = {}
        self.defaults: Dict[str, Any] = {}
        self.lock = threading.RLock()

    def copy(self) -> "_Variables":
        new = _Variables()
        with self.lock:
            new.defaults = dict(self.defaults)
            new.values = dict(self.values)
        return new

    @staticmethod
    def fresh(default: Any) -> Any:
        return _copy.copy(default) if isinstance(default, (list, dict, set)) else default

    def reset(self) -> None:
        with self.lock:
            self.values = {k: self.fresh(v) for k, v in self.defaults.items()}


class OncePipeline:
    """The ``before`` / ``after`` steps of a pipeline: run once at the start of every run /
    when its batches are all consumed."""

    def __init__(self, pipeline: "Pipeline"):
        self.pipeline = pipeline
        self.steps: List[Tuple[str, tuple, dict]] = []

    def _copy_to(self, pipeline: "Pipeline") -> "OncePipeline":
        new = OncePipeline(pipeline)
        new.steps = list(self.steps)
        return new

    def init_variable(self, name: str, default: Any = None, lock: bool = True, **kw: Any
                      ) -> "OncePipeline":
        """Declares a variable of the pipeline at once."""
        self.pipeline.init_variable(name, default, lock, **kw)
        return self

    def init_lock(self, name: str = "lock") -> "OncePipeline":
        """Nothing to do: locks are created by the engine when first used."""
        return self

    def update(self, expr: Any, value: Any = None, mode: Optional[str] = None) -> "OncePipeline":
        """Assigns ``value`` to ``expr`` (``V('name')``, ``C('key')``) when it runs."""
        self.steps.append(("update", (expr, value, mode), {}))
        return self

    save_to = update

    def call(self, fn: Any, *args: Any, save_to: Any = None, **kwargs: Any) -> "OncePipeline":
        """Calls ``fn(*args, **kwargs)`` when it runs."""
        self.steps.append(("call", (fn, args, save_to), kwargs))
        return self

    def set_variable(self, name: str, value: Any, mode: str = "w") -> "OncePipeline":
        """Sets a variable when it runs."""
        return self.update(_var(name), value, mode)

    def _run(self) -> None:
        p = self.pipeline
        for kind, args, kwargs in self.steps:
            if kind == "update":
                expr, value, mode = args
                expr.set(value, None, p, mode=mode)
            else:
                fn, fargs, save_to = args
                fn = eval_expr(fn, None, p)
                out = fn(*eval_expr(fargs, None, p), **eval_expr(kwargs, None, p))
                if save_to is not None:
                    _save(out, save_to, None, p)


def _var(name: str) -> Any:
    from .named_expr import V
    return V(name)


def _save(value: Any, dst: Any, batch: Any, pipeline: Any) -> None:
    """BatchFlow's ``save_to``: a named expression, an array (filled in place), or a
    list/tuple of them (filled pairwise)."""
    if isinstance(dst, NamedExpression):
        dst.set(value, batch, pipeline)
    elif isinstance(dst, np.ndarray):
        dst[:] = value
    elif isinstance(dst, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(dst):
            raise ValueError(f"save_to: {len(dst)} destinations for a value that is not a "
                             f"sequence of as many items")
        for v, d in zip(value, dst):
            _save(v, d, batch, pipeline)
    elif isinstance(dst, dict):
        for k, d in dst.items():
            _save(value[k], d, batch, pipeline)
    else:
        raise TypeError(f"save_to: cannot save into {dst!r}")


class Pipeline:
    """A lazy list of steps over a dataset (``dataset.p``, ``Pipeline(dataset, config)``)."""

    def __init__(self, dataset: Any = None, config: Any = None, strict: bool = False,
                 _from: Optional["Pipeline"] = None, _steps: Optional[List[_Step]] = None):
        d = self.__dict__
        if _from is not None:
            d["dataset"] = _from.dataset
            d["config"] = _copy.deepcopy(_from.config)
            d["_variables"] = _from._variables.copy()
            d["_strict"] = _from._strict
            d["_lazy"] = _from._lazy
            d["before"] = _from.before._copy_to(self)
            d["after"] = _from.after._copy_to(self)
        else:
            d["dataset"] = dataset
            d["config"] = dict(config or {})
            d["_variables"] = _Variables()
            d["_strict"] = strict
            d["_lazy"] = None
            d["before"] = OncePipeline(self)
            d["after"] = OncePipeline(self)
        d["_steps"] = list(_steps) if _steps is not None else (
            list(_from._steps) if _from is not None else [])
        d["_iter"] = None
        d["_last_report"] = None

    # ---------------------------------------------------------------- building
    def _with(self, *steps: _Step) -> "Pipeline":
        new = Pipeline(_from=self)
        new._steps.extend(steps)
        return new

    def __getattr__(self, name: str) -> Callable[..., "Pipeline"]:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> "Pipeline":
            return self._with(_Step("action", name, args, kwargs))

        record.__name__ = name
        return record

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def __enter__(self) -> "Pipeline":
        return Pipeline()

    def __exit__(self, *exc: Any) -> None:
        return None

    @property
    def num_actions(self) -> int:
        """The number of recorded steps."""
        return len(self._steps)

    def step_names(self) -> List[str]:
        """The names of the recorded steps."""
        return [s.label() for s in self._steps]

    def __repr__(self) -> str:
        return f"Pipeline({self.step_names()})"

    def __add__(self, other: Any) -> "Pipeline":
        if not isinstance(other, Pipeline):
            raise TypeError(f"pipeline + x needs a Pipeline, not {type(other).__name__}")
        new = Pipeline(_from=self)
        new._steps.extend(other._steps)
        new.config = {**_copy.deepcopy(other.config), **{}}
        merged = _copy.deepcopy(self.config)
        _merge_config(merged, other.config)
        new.config = merged
        with other._variables.lock:
            for k, v in other._variables.defaults.items():
                if k not in new._variables.defaults:
                    new._variables.defaults[k] = v
                    new._variables.values[k] = other._variables.values.get(k, v)
        if new.dataset is None:
            new.dataset = other.dataset
        if new._lazy is None:
            new._lazy = other._lazy
        new.before.steps.extend(other.before.steps)
        new.after.steps.extend(other.after.steps)
        return new

    def __lshift__(self, other: Any) -> "Pipeline":
        new = Pipeline(_from=self)
        if isinstance(other, Dataset):
            new.dataset = other
        elif isinstance(other, dict):
            _merge_config(new.config, other)
        else:
            raise TypeError(f"pipeline << x takes a Dataset or a config dict, not "
                            f"{type(other).__name__}")
        return new

    def __matmul__(self, p: Any) -> "Pipeline":
        """``p @ 0.5``: the last step if the pipeline has one, else all its steps together,
        with probability 0.5 (BatchFlow)."""
        return self._sometimes(p, whole=True)

    def __mul__(self, n: Any) -> "Pipeline":
        """``p * 3``: the step (or all the steps together) three times (BatchFlow)."""
        return self._repeat(n, whole=True)

    def sometimes(self, p: Any, pipeline: Optional["Pipeline"] = None) -> "Pipeline":
        """Runs the last step (or, with ``pipeline``, its steps together) with probability
        ``p``: one draw per batch from the batch's generator, the same for any prefetch."""
        if pipeline is not None:
            return self._with(_Step("nested", sub=list(pipeline._steps), proba=_proba(p)))
        return self._sometimes(p, whole=False)

    def repeat(self, n: Any, pipeline: Optional["Pipeline"] = None) -> "Pipeline":
        """Runs the last step (or, with ``pipeline``, its steps together) ``n`` times."""
        if pipeline is not None:
            return self._with(_Step("nested", sub=list(pipeline._steps), repeat=_count(n)))
        return self._repeat(n, whole=False)

    def _sometimes(self, p: Any, whole: bool) -> "Pipeline":
        p = _proba(p)
        if not self._steps:
            raise ValueError("sometimes / @ needs a step before it")
        new = Pipeline(_from=self)
        if whole and len(self._steps) > 1:
            new._steps = [_Step("nested", sub=list(self._steps), proba=p)]
        else:
            last = new._steps[-1]
            new._steps[-1] = last.replace(proba=p if last.proba is None else last.proba * p)
        return new

    def _repeat(self, n: Any, whole: bool) -> "Pipeline":
        n = _count(n)
        if not self._steps:
            raise ValueError("repeat / * needs a step before it")
        new = Pipeline(_from=self)
        if whole and len(self._steps) > 1:
            new._steps = [_Step("nested", sub=list(self._steps), repeat=n)]
        else:
            last = new._steps[-1]
            new._steps[-1] = last.replace(repeat=n if last.repeat is None else last.repeat * n)
        return new

    # ---------------------------------------------------------------- config, variables
    def set_config(self, config: dict, clear: bool = False) -> "Pipeline":
        """Adds ``config`` to the pipeline's config (in place)."""
        if clear:
            self.config = {}
        _merge_config(self.config, config)
        return self

    update_config = set_config

    def init_variable(self, name: str, default: Any = None, lock: bool = True, **kwargs: Any
                      ) -> "Pipeline":
        """Declares a variable (in place; a variable that exists is kept)."""
        v = self._variables
        with v.lock:
            if name not in v.defaults:
                default = kwargs.get("init_on_each_run", default)
                if isinstance(default, NamedExpression):
                    default = eval_expr(default, None, self)
                v.defaults[name] = default
                v.values[name] = v.fresh(default)
        return self

    def init_variables(self, *names: Any) -> "Pipeline":
        """Declares several variables: names, or a dict of ``{name: {'default': ...}}``."""
        for item in names:
            if isinstance(item, dict):
                for k, opts in item.items():
                    self.init_variable(k, **(opts if isinstance(opts, dict) else
                                             {"default": opts}))
            elif isinstance(item, (list, tuple)):
                self.init_variables(*item)
            else:
                self.init_variable(item)
        return self

    def has_variable(self, name: str) -> bool:
        """Whether the variable exists."""
        return name in self._variables.values

    def get_variable(self, name: str, *args: Any, create: bool = False, **kwargs: Any) -> Any:
        """The value of a variable (``KeyError`` naming it if it does not exist, unless
        ``create=True``)."""
        v = self._variables
        with v.lock:
            if name in v.values:
                return v.values[name]
            if create:
                self.init_variable(name, *args, **kwargs)
                return v.values[name]
        raise KeyError(f"the pipeline has no variable {name!r}")

    v = get_variable

    def set_variable(self, name: str, value: Any, mode: str = "w", batch: Any = None) -> None:
        """Sets a variable now (``mode``: 'w' write, 'a' append, 'e' extend, 'u' update)."""
        v = self._variables
        value = eval_expr(value, batch, self)
        with v.lock:
            if name not in v.values:
                if self._strict:
                    raise KeyError(f"the pipeline has no variable {name!r}")
                v.defaults[name] = None
                v.values[name] = None
            v.values[name] = _assign(v.values[name], value, mode)

    assign_variable = set_variable

    def delete_variable(self, *names: str) -> "Pipeline":
        """Deletes variables."""
        with self._variables.lock:
            for name in names:
                self._variables.values.pop(name, None)
                self._variables.defaults.pop(name, None)
        return self

    del_variable = delete_variable

    def delete_all_variables(self) -> "Pipeline":
        """Deletes every variable."""
        return self.delete_variable(*list(self._variables.values))

    @property
    def variables(self) -> Dict[str, Any]:
        """A snapshot of the variables' values."""
        with self._variables.lock:
            return dict(self._variables.values)

    # ---------------------------------------------------------------- pipeline steps
    def update(self, expr: Any, value: Any = None, mode: Optional[str] = None) -> "Pipeline":
        """A step that assigns ``value`` (evaluated for the batch) to ``expr``: a variable
        ``V(...)``, a batch component ``B(...)`` or config ``C(...)``. Runs for one batch at
        a time, in batch order: a read-modify-write such as ``update(V('n'), V('n') + 1)``
        is atomic and gives the same result for any prefetch."""
        if not isinstance(expr, NamedExpression):
            raise TypeError(f"update: the target must be a named expression, not {expr!r}")
        return self._with(_Step("update", "update", (expr, value, mode)))

    save_to = update

    def update_variable(self, name: str, value: Any = None, mode: str = "w") -> "Pipeline":
        """A step that sets variable ``name`` (see ``update``)."""
        if not isinstance(name, str):
            raise TypeError(f"update_variable: the name must be a string, not {name!r}")
        self.init_variable(name)
        return self.update(_var(name), value, mode)

    def call(self, fn: Any, *args: Any, save_to: Any = None, **kwargs: Any) -> "Pipeline":
        """A step that calls ``fn(*args, **kwargs)`` (evaluated for the batch; ``B()`` is the
        batch) and saves the result to ``save_to``."""
        if not callable(fn) and not isinstance(fn, NamedExpression):
            raise TypeError(f"call: {fn!r} is not callable")
        return self._with(_Step("call", getattr(fn, "__name__", "call"), (fn, args, save_to),
                                kwargs))

    def print(self, *args: Any, **kwargs: Any) -> "Pipeline":
        """A step that prints its (evaluated) arguments, in batch order."""
        return self._with(_Step("print", "print", args, kwargs))

    def discard_batch(self) -> "Pipeline":
        """A step that drops the batch: the consumer gets ``None``."""
        return self._with(_Step("discard", "discard_batch"))

    def acquire_lock(self, name: Any = "lock", **kwargs: Any) -> "Pipeline":
        """Takes the lock ``name``: the steps up to ``release_lock(name)`` run for one batch
        at a time. The lock is released when the batch ends in any way (error included)."""
        if not isinstance(name, str):
            raise TypeError(f"acquire_lock: the lock name must be a string, not {name!r}")
        if kwargs:
            raise TypeError(f"acquire_lock({name!r}): unexpected arguments {sorted(kwargs)}")
        return self._with(_Step("acquire", name))

    def release_lock(self, name: Any = "lock", **kwargs: Any) -> "Pipeline":
        """Releases a lock taken by ``acquire_lock``."""
        if not isinstance(name, str):
            raise TypeError(f"release_lock: the lock name must be a string, not {name!r}")
        if kwargs:
            raise TypeError(f"release_lock({name!r}): unexpected arguments {sorted(kwargs)}")
        return self._with(_Step("release", name))

    def init_lock(self, name: str = "lock", **kwargs: Any) -> "Pipeline":
        """Nothing to do: the engine creates locks when first used (returns the pipeline)."""
        if kwargs:
            raise TypeError(f"init_lock({name!r}): unexpected arguments {sorted(kwargs)}")
        return self

    def join(self, *sources: Any) -> "Pipeline":
        """The next action gets, before its own arguments, a batch of each source (a dataset
        or a pipeline) with the same ids as the current batch."""
        return self._with(_Step("join", "join", sources))

    def merge(self, *pipelines: Any, fn: Any = None, components: Any = None) -> "Pipeline":
        """A step that appends the next batch of each pipeline (``next_batch``) to the current
        batch, with ``Batch.merge`` or ``fn(batches)``; in batch order."""
        return self._with(_Step("merge", "merge", pipelines, {"fn": fn, "components": components}))

    def rebatch(self, batch_size: int, merge: Any = None, components: Any = None,
                batch_class: Any = None) -> "Pipeline":
        """The steps after it see batches of exactly ``batch_size`` items (the last may be
        smaller), merged from the batches of the steps before it."""
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"rebatch: batch_size must be a positive int, not {batch_size!r}")
        return self._with(_Step("rebatch", "rebatch", (int(batch_size),),
                                {"merge": merge, "components": components,
                                 "batch_class": batch_class}))

    # ---------------------------------------------------------------- compiling
    def _compile(self, steps: List[_Step], batch_class: type) -> List[tuple]:
        """The steps as ops: ('py', name, func, args, kwargs, lock, ordered),
        ('acquire', name), ('release', name), ('branch', p, ops), ('repeat', n, ops),
        ('native', name, op, kwargs)."""
        ops: List[tuple] = []
        join: Optional[tuple] = None
        for step in steps:
            if step.kind == "join":
                join = step.args
                continue
            one = self._compile_one(step, batch_class, join)
            if step.kind == "action":
                join = None
            if step.repeat is not None and step.repeat != 1:
                one = [("repeat", max(step.repeat, 1), one)]
            if step.proba is not None and step.proba < 1.0:
                one = [("branch", step.proba, one)]
            ops.extend(one)
        return ops

    def _compile_one(self, step: _Step, batch_class: type, join: Optional[tuple]) -> List[tuple]:
        kind = step.kind
        p = self
        if kind == "nested":
            return self._compile(step.sub or [], batch_class)
        if kind == "acquire":
            return [("acquire", step.name)]
        if kind == "release":
            return [("release", step.name)]
        if kind == "discard":
            return [("py", "discard_batch", _discard, (), None, None, False)]
        if kind == "update":
            expr, value, mode = step.args

            def update(batch: Any) -> Any:
                expr.set(value, batch, p, mode=mode)
                return batch

            return [("py", f"update({expr!r})", update, (), None, None, True)]
        if kind == "call":
            fn, args, save_to = step.args
            kwargs = step.kwargs

            def call(batch: Any) -> Any:
                f = eval_expr(fn, batch, p)
                out = f(*eval_expr(args, batch, p), **eval_expr(kwargs, batch, p))
                if save_to is not None:
                    _save(out, save_to, batch, p)
                return batch

            return [("py", f"call({step.name})", call, (), None, None, False)]
        if kind == "print":
            args, kwargs = step.args, step.kwargs

            def do_print(batch: Any) -> Any:
                vals = [str(v) for v in eval_expr(list(args), batch, p)]
                vals += [f"{k}={v}" for k, v in eval_expr(dict(kwargs), batch, p).items()]
                print(*vals)
                return batch

            return [("py", "print", do_print, (), None, None, True)]
        if kind == "merge":
            others = step.args
            fn, comps = step.kwargs["fn"], step.kwargs["components"]

            def merge(batch: Any) -> Any:
                batches = [batch] + [o.next_batch() for o in others]
                if fn is not None:
                    return fn(batches)
                return type(batch).merge(batches, components=comps)[0]

            return [("py", "merge", merge, (), None, None, True)]
        if kind == "rebatch":
            raise AssertionError("rebatch is split out before compiling")
        # a batch action
        name = step.name
        method = getattr(batch_class, name, None)
        if method is None:
            raise AttributeError(f"action {name!r}: {batch_class.__name__} has no method "
                                 f"{name!r}")
        info = _action_info(method)
        if info is None:
            raise ValueError(f"action {name!r}: method {batch_class.__name__}.{name} is not "
                             f"marked with @action")
        use_lock = info["use_lock"]
        lock = None if not use_lock else ("#_lock_" + name if use_lock is True else use_lock)
        native = getattr(method, "_batchline_native", None)
        args, kwargs = step.args, dict(step.kwargs)
        if native is not None and join is None:
            return [("native", name, native, (args, kwargs))]
        no_eval = info["no_eval"]
        if join is None and not _has_expr(args) and not _has_expr(kwargs):
            return [("py", name, method, tuple(args), kwargs or None, lock, False)]
        sources = join or ()
        lazy = {k: v for k, v in kwargs.items() if k not in no_eval}
        fixed = {k: v for k, v in kwargs.items() if k in no_eval}

        def evaluated(batch: Any) -> Any:
            joined = tuple(_joined_batch(s, batch) for s in sources)
            a = eval_expr(args, batch, p)
            k = eval_expr(lazy, batch, p)
            return method(batch, *joined, *a, **k, **fixed)

        evaluated.__name__ = name
        return [("py", name, evaluated, (), None, lock, False)]

    def _emit(self, plan: Any, ops: List[tuple]) -> None:
        """Writes ops into an engine plan."""
        for op in ops:
            kind = op[0]
            if kind == "py":
                _, name, func, args, kwargs, lock, ordered = op
                plan.action(name, func, args, kwargs, lock, ordered)
            elif kind == "acquire":
                plan.acquire_lock(op[1])
            elif kind == "release":
                plan.release_lock(op[1])
            elif kind == "branch":
                sub = _batchline.Plan.sub()
                self._emit(sub, op[2])
                plan.sometimes_with(op[1], sub)
            elif kind == "repeat":
                sub = _batchline.Plan.sub()
                self._emit(sub, op[2])
                plan.repeat_with(op[1], sub)
            elif kind == "native":
                _, name, native, (args, kwargs) = op
                native(plan, *args, **kwargs)

    def _run_ops(self, ops: List[tuple], batch: Any) -> Any:
        """Runs ops on one batch in this thread (the steps after a ``rebatch``)."""
        for op in ops:
            kind = op[0]
            if batch is None:
                return None
            if kind == "py":
                _, name, func, args, kwargs, _, _ = op
                batch = func(batch, *args, **(kwargs or {}))
            elif kind == "branch":
                if batch.random.random() < op[1]:
                    batch = self._run_ops(op[2], batch)
            elif kind == "repeat":
                for _ in range(op[1]):
                    batch = self._run_ops(op[2], batch)
            elif kind == "native":
                raise ValueError(f"action {op[1]!r}: native actions cannot follow a rebatch")
        return batch

    def execute_for(self, batch: Any) -> Any:
        """Runs the pipeline's steps on one batch, in this thread."""
        ops = self._compile(self._steps, type(batch))
        try:
            return self._run_ops(ops, batch)
        except SkipBatchException:
            return None

    # ---------------------------------------------------------------- running
    def reset(self, *what: Any, profile: Any = None, seed: Any = None) -> None:
        """``'iter'`` (the position of ``next_batch``), ``'vars'`` / ``'variables'`` (back to
        their defaults), ``'all'``."""
        items: List[Any] = []
        for w in what:
            items.extend(w if isinstance(w, (list, tuple)) else [w])
        for w in items:
            if w is True or w in ("iter", "all"):
                self._close_iter()
            if w in ("vars", "variables", "all"):
                self._variables.reset()
            if w not in (None, False, True, "iter", "vars", "variables", "all", "models"):
                raise ValueError(f"reset: unknown {w!r} (use 'iter', 'vars', 'all')")

    def _close_iter(self) -> None:
        it = self.__dict__.get("_iter")
        self.__dict__["_iter"] = None
        if it is not None:
            it.close()

    def _params(self, args: tuple, kwargs: dict) -> dict:
        params: dict = {}
        if self._lazy is not None:
            largs, lkwargs = self._lazy
            params.update(lkwargs)
            if largs:
                params["batch_size"] = largs[0]
        if args:
            params["batch_size"] = args[0]
            if len(args) > 1:
                raise TypeError("gen_batch takes the batch size as its only positional argument")
        params.update(kwargs)
        if "batch_size" not in params:
            raise TypeError("gen_batch / run need a batch_size")
        return params

    def gen_batch(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """The processed batches, in order: ``gen_batch(batch_size, shuffle=False,
        n_epochs=1, n_iters=None, drop_last=False, prefetch=0, ignore_exceptions=False,
        profile=False, notifier=False, bar=False, reset='iter', **batch_attrs)``.

        ``shuffle``: ``False``, ``True`` (random), an int seed (reproducible), or ``-seed``
        (no shuffle, but a fixed seed for the batches' generators). With ``prefetch=k``, ``k``
        batches are processed in the background; the batches come in order, and a seeded
        run gives the same batches for any ``k``. An action's exception is raised here at
        that batch's place (its type and traceback kept); leaving the loop stops the run and
        joins every worker."""
        params = self._params(args, kwargs)
        return self._gen(params, endless=False)

    def _gen(self, params: dict, endless: bool) -> Iterator[Any]:
        # Checked now (not at the first next()) so that bad arguments raise at the call.
        run = self._prepare(params, endless)
        return self._iterate(*run)

    def _prepare(self, params: dict, endless: bool) -> tuple:
        params = dict(params)
        params.pop("lazy", None)
        reset = params.pop("reset", "iter")
        if reset is not None and reset is not False:
            self.reset(*(reset if isinstance(reset, (list, tuple)) else [reset]))
        if self.dataset is None:
            raise ValueError("the pipeline has no dataset: give it one with `pipeline << "
                             "dataset` or `dataset.p`")
        bs = eval_expr(params.pop("batch_size"), None, self)
        if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)):
            raise TypeError(f"gen_batch: batch_size must be an int, not {bs!r}")
        if bs < 1:
            raise ValueError(f"gen_batch: batch_size must be at least 1, not {bs}")
        n = len(self.dataset)
        if bs > n:
            raise ValueError(f"gen_batch: batch_size {bs} is larger than the dataset "
                             f"({n} items)")
        n_iters = params.pop("n_iters", None)
        n_epochs = params.pop("n_epochs", None)
        if n_iters is not None and n_epochs is not None:
            raise ValueError("gen_batch: give n_iters or n_epochs, not both")
        for label, value in (("n_iters", n_iters), ("n_epochs", n_epochs)):
            if value is not None and (isinstance(value, bool) or not
                                      isinstance(value, (int, np.integer)) or value < 0):
                raise ValueError(f"gen_batch: {label} must be a non-negative int, not {value!r}")
        if n_iters is None and n_epochs is None and not endless:
            n_epochs = 1
        drop_last = bool(params.pop("drop_last", False))
        shuffle = params.pop("shuffle", False)
        if isinstance(shuffle, (bool, np.bool_)) or shuffle is None:
            rust_shuffle = -1 if shuffle else None
            seed = secrets.randbits(63)
        elif isinstance(shuffle, (int, np.integer)):
            rust_shuffle = int(shuffle) if shuffle >= 0 else None
            seed = abs(int(shuffle))
        else:
            raise TypeError(f"gen_batch: shuffle must be a bool or an int, not {shuffle!r}")
        prefetch = params.pop("prefetch", 0)
        if prefetch is True:
            prefetch = os.cpu_count() or 1
        if prefetch is None or prefetch is False:
            prefetch = 0
        if isinstance(prefetch, bool) or not isinstance(prefetch, (int, np.integer)) \
                or prefetch < 0:
            raise ValueError(f"gen_batch: prefetch must be a non-negative int, not {prefetch!r}")
        ignore = bool(params.pop("ignore_exceptions", False))
        profile = bool(params.pop("profile", False))
        notifier = params.pop("notifier", None)
        bar = params.pop("bar", None)
        progress = bool(notifier) or bool(bar)
        target = params.pop("target", "threads")
        if target not in ("threads", "t"):
            raise ValueError(f"gen_batch: target={target!r}: batchline runs batches on threads")
        extra = params  # the rest become batch attributes
        if n_iters is not None:
            total: Optional[int] = int(n_iters)
        elif n_epochs is not None:
            total = (n // bs) * int(n_epochs) if drop_last else -(-n * int(n_epochs) // bs)
        else:
            total = None
        # split at a rebatch
        steps = self._steps
        cut = next((i for i, s in enumerate(steps) if s.kind == "rebatch"), None)
        inner_steps = steps if cut is None else steps[:cut]
        outer = None
        if cut is not None:
            rb = steps[cut]
            outer = (rb.args[0], rb.kwargs, steps[cut + 1:])
        ds = self.dataset
        klass = ds.batch_class
        ops = self._compile(inner_steps, klass)
        outer_ops = None
        if outer is not None:
            outer_ops = self._compile(outer[2], outer[1].get("batch_class") or klass)
        plan = _batchline.Plan()
        self._emit(plan, ops)
        factory = _factory(ds, self, total, extra)
        spec = dict(shuffle=rust_shuffle, seed=seed, n_epochs=n_epochs, n_iters=n_iters,
                    drop_last=drop_last, prefetch=int(prefetch), ignore_errors=ignore,
                    profile=profile, progress=progress, **getattr(ds, "_native", {}))
        if n_epochs == 0 or n_iters == 0:
            spec["n_iters"], spec["n_epochs"] = 0, None
        elif n_epochs is None and n_iters is None:
            spec["n_iters"] = 2**64 - 1  # endless (next_batch)
        return plan, n, factory, int(bs), spec, outer, outer_ops

    def _iterate(self, plan: Any, n: int, factory: Any, bs: int, spec: dict, outer: Any,
                 outer_ops: Any) -> Iterator[Any]:
        self.before._run()
        if spec["n_iters"] == 0:
            warnings.warn("the run yields no batch", EmptyBatchSequence)
            self.after._run()
            return
        it = plan.run(n, factory, bs, **spec)
        _LIVE_RUNS.add(it)
        yielded = 0
        try:
            source = iter(it)
            if outer is not None:
                source = self._rebatched(source, outer, outer_ops)
            for batch in source:
                yielded += 1
                yield batch
        finally:
            it.close()
            self.__dict__["_last_report"] = it.report()
        if yielded == 0:
            warnings.warn("the run yields no batch", EmptyBatchSequence)
        self.after._run()

    def _rebatched(self, source: Iterator[Any], outer: tuple, ops: List[tuple]) -> Iterator[Any]:
        size, opts, _ = outer
        merge = opts.get("merge")
        comps = opts.get("components")
        klass = opts.get("batch_class")
        buffer: List[Any] = []
        count = 0
        done = False
        while not done:
            try:
                b = next(source)
            except StopIteration:
                done = True
                b = None
            if b is not None:
                buffer.append(b)
                count += len(b)
            while buffer and (count >= size or (done and count > 0)):
                if merge is not None:
                    batch, rest = merge(buffer, batch_size=size)
                else:
                    cls = klass or type(buffer[0])
                    batch, rest = cls.merge(buffer, batch_size=size, components=comps,
                                            batch_class=klass)
                buffer = [rest] if rest is not None else []
                count = sum(len(x) for x in buffer)
                batch.pipeline = self
                batch.dataset = self.dataset
                try:
                    out = self._run_ops(ops, batch)
                except SkipBatchException:
                    continue
                except StopPipeline:
                    return
                yield out

    def next_batch(self, *args: Any, **kwargs: Any) -> Any:
        """The next batch of a run kept between calls (started by the first call, endless
        unless limited; later calls' arguments are ignored until ``reset('iter')``)."""
        if self._iter is None:
            params = self._params(args, kwargs) if (args or kwargs or self._lazy) else None
            if params is None:
                raise TypeError("next_batch needs a batch_size (or a lazy run)")
            params["reset"] = None
            self.__dict__["_iter"] = _Closable(self._gen(params, endless=True))
        return next(self._iter)

    def run(self, *args: Any, lazy: bool = False, **kwargs: Any) -> "Pipeline":
        """Runs to the end (one epoch unless told otherwise), dropping the batches; with
        ``lazy=True`` only stores the arguments for a later ``run()`` / ``next_batch()``."""
        if lazy:
            self.__dict__["_lazy"] = (args, kwargs)
            return self
        if not args and not kwargs and self._lazy is None:
            raise RuntimeError("run() needs a batch_size, or a lazy run first")
        for _ in self.gen_batch(*args, **kwargs):
            pass
        return self

    run_now = run

    def run_later(self, *args: Any, **kwargs: Any) -> "Pipeline":
        """Stores the run arguments (``run(..., lazy=True)``)."""
        return self.run(*args, lazy=True, **kwargs)

    @property
    def profile_info(self) -> Optional[str]:
        """The profile table of the last run started with ``profile=True``."""
        report = self._last_report
        return None if report is None else report.get("profile")

    def show_profile_info(self) -> None:
        """Prints ``profile_info``."""
        print(self.profile_info)

    @property
    def last_run(self) -> Optional[dict]:
        """What the last finished run did: batches, items, skipped, failed, dropped (items
        dropped from their batches, as by ``load(on_error='drop')``) with ``dropped_items``
        (their ``(id, error)``), profile."""
        return self._last_report

    def __len__(self) -> int:
        return 0 if self.dataset is None else len(self.dataset)

    @property
    def index(self) -> Any:
        """The dataset's index."""
        return None if self.dataset is None else self.dataset.index


class _Closable:
    """The run of ``next_batch``: closed (workers joined) on ``reset('iter')``."""

    def __init__(self, gen: Iterator[Any]):
        self.gen = gen

    def __next__(self) -> Any:
        return next(self.gen)

    def close(self) -> None:
        close = getattr(self.gen, "close", None)
        if close is not None:
            close()


def _proba(p: Any) -> float:
    if isinstance(p, (bool, np.bool_)) or isinstance(p, (int, np.integer)) and p in (0, 1):
        p = float(p)
    if not isinstance(p, (float, np.floating)):
        raise TypeError(f"sometimes / @ takes a probability (a float), not {p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"sometimes / @: the probability {p} is not in [0, 1]")
    return float(p)


def _count(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"repeat / * takes a non-negative int, not {n!r}")
    if n < 0:
        raise ValueError(f"repeat / *: the count {n} is negative")
    return int(n)


def _discard(batch: Any) -> None:
    return None


def _joined_batch(source: Any, batch: Any) -> Any:
    if isinstance(source, Dataset):
        return source.create_batch(batch.indices)
    if isinstance(source, Pipeline):
        if source.dataset is None:
            raise ValueError("join: the joined pipeline has no dataset")
        return source.execute_for(source.dataset.create_batch(batch.indices))
    raise TypeError(f"join: a source must be a Dataset or a Pipeline, not {source!r}")


def _merge_config(into: dict, other: dict) -> None:
    for k, v in other.items():
        if "/" in str(k):
            head, rest = str(k).split("/", 1)
            node = into.setdefault(head, {})
            _merge_config(node, {rest: v})
        elif isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge_config(into[k], v)
        else:
            into[k] = _copy.deepcopy(v)


def _factory(ds: Any, pipeline: Pipeline, total: Optional[int], extra: dict) -> Callable:
    """``factory(positions, batch_number, seed)``: the Python batch object of a batch."""
    klass = ds.batch_class
    index = ds.index
    preloaded = ds.preloaded
    copy = ds._copy
    fast_index = index._batch_subset

    def factory(positions: List[int], number: int, seed: int) -> Batch:
        b = klass(fast_index(positions), ds, pipeline, preloaded, copy, **extra)
        d = b.__dict__
        d["iteration"] = number + 1
        d["_seed"] = (seed, number)
        d["_total"] = total
        return b

    return factory


# `dataset.p` / `dataset.pipeline()` make pipelines of this class.
Dataset._pipeline_class = Pipeline

"""``Batch``: the batch class of the Python API, with components, ``@action`` and in-batch
parallelism (``inbatch_parallel``, ``apply_parallel``)."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .index import DatasetIndex

__all__ = ["Batch", "action", "inbatch_parallel", "apply_parallel", "any_action_failed"]

_ACTION = "_batchline_action"


def action(*args: Any, use_lock: Union[bool, str] = False, no_eval: Any = None) -> Any:
    """Marks a batch method as an action a pipeline can call: ``@action``,
    ``@action(use_lock=True)`` (one batch at a time runs it), ``@action(use_lock='name')``
    (one lock shared by every action naming it), ``@action(no_eval='dst')`` (these keyword
    arguments are passed unevaluated)."""
    if use_lock is not False and use_lock is not True and not isinstance(use_lock, str):
        raise TypeError(f"@action(use_lock=...) takes True or a lock name (a string), "
                        f"not {use_lock!r}")

    def mark(method: Callable) -> Callable:
        if not callable(method):
            raise TypeError(f"@action decorates a method, not {method!r}")
        names = no_eval
        if isinstance(names, str):
            names = (names,)
        setattr(method, _ACTION, {"use_lock": use_lock, "no_eval": tuple(names or ())})
        return method

    if len(args) == 1 and callable(args[0]) and use_lock is False and no_eval is None:
        return mark(args[0])
    if args:
        raise TypeError("@action takes keyword arguments only: use_lock=, no_eval=")
    return mark


def _action_info(method: Any) -> Optional[dict]:
    return getattr(method, _ACTION, None)


def any_action_failed(results: Sequence[Any]) -> bool:
    """Whether a list of in-batch parallel results holds an exception."""
    return any(isinstance(r, Exception) for r in results)


def _workers(kwargs: dict, n_items: int) -> int:
    n = kwargs.pop("n_workers", None)
    if n is None:
        n = 4 * (os.cpu_count() or 1)
    return max(1, min(int(n), max(n_items, 1)))


def _call_items(fn: Callable, calls: List[Tuple[tuple, dict]], target: str, n_workers: int,
                debug: bool = False) -> List[Any]:
    """Runs ``fn(*args, **kwargs)`` for every call; exceptions are collected as results."""
    def one(call: Tuple[tuple, dict]) -> Any:
        a, k = call
        try:
            return fn(*a, **k)
        except Exception as e:  # collected, as BatchFlow does
            if debug:
                raise
            return e

    if target in ("for", "f") or len(calls) <= 1:
        return [one(c) for c in calls]
    if target in ("threads", "t"):
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            return list(pool.map(one, calls))
    raise ValueError(f"target={target!r}: batchline runs in-batch work on 'threads' or 'for'")


def inbatch_parallel(init: Any, post: Any = None, target: str = "threads",
                     **dec_kwargs: Any) -> Callable:
    """Runs the decorated method once per element of a work list (from ``init``: a batch
    attribute or method name such as ``'indices'``, or a callable), on threads
    (``target='threads'``) or in a loop (``'for'``); ``post(results, *args, **kwargs)``
    gives the action's result (without it: the batch, or ``RuntimeError`` if a call
    failed)."""

    def decorator(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self: "Batch", *args: Any, **kwargs: Any) -> Any:
            tgt = kwargs.pop("target", target)
            debug = kwargs.pop("debug", False)
            if callable(init) and not isinstance(init, str):
                work = init(self, *args, **{**kwargs, **dec_kwargs})
            elif isinstance(init, str):
                if init == "run_once":
                    work = [[]]
                else:
                    attr = getattr(self, init)
                    work = attr(*args, **{**kwargs, **dec_kwargs}) if callable(attr) else attr
            else:
                work = init
            work = list(work)
            n_workers = _workers(kwargs, len(work))
            calls = []
            for item in work:
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict):
                    a, k = tuple(item[0]), dict(item[1])
                elif isinstance(item, dict):
                    a, k = (), dict(item)
                elif isinstance(item, (list, tuple)):
                    a, k = tuple(item), {}
                else:
                    a, k = (item,), {}
                calls.append(((self,) + a + args, {**k, **kwargs}))
            results = _call_items(method, calls, tgt, n_workers, debug)
            if post is not None:
                fn = getattr(self, post) if isinstance(post, str) else functools.partial(post, self)
                return fn(results, *args, **{**kwargs, **dec_kwargs})
            if any_action_failed(results):
                failed = next(r for r in results if isinstance(r, Exception))
                raise RuntimeError("Parallel action failed") from failed
            return self

        return wrapper

    return decorator


def apply_parallel(*args: Any, **defaults: Any) -> Any:
    """As a decorator, ``@apply_parallel`` or ``@apply_parallel(src='images', ...)``: the
    method becomes an action applied to every item of ``src`` (see
    ``Batch.apply_parallel``)."""

    def decorator(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self: "Batch", *a: Any, **kw: Any) -> Any:
            options = {**type(self).apply_defaults, **defaults, **kw}
            return self.apply_parallel(functools.partial(method, self), *a, **options)

        setattr(wrapper, _ACTION, {"use_lock": False, "no_eval": ()})
        return wrapper

    if len(args) == 1 and callable(args[0]) and not defaults:
        return decorator(args[0])
    return decorator


class _ItemView:
    """One item of a batch: ``batch[id].component``."""

    __slots__ = ("_batch", "_pos")

    def __init__(self, batch: "Batch", pos: int):
        object.__setattr__(self, "_batch", batch)
        object.__setattr__(self, "_pos", pos)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)[self._pos]

    def __setattr__(self, name: str, value: Any) -> None:
        getattr(self._batch, name)[self._pos] = value


def _component_property(name: str) -> property:
    def get(self: "Batch") -> Any:
        data = self._data
        if name not in data:
            self._load_preloaded()
        return data.get(name)

    def put(self: "Batch", value: Any) -> None:
        self._data[name] = value

    return property(get, put, doc=f"The component {name!r}.")


class Batch:
    """A batch: its index (``index``, ``indices``, ``len``), its components, and actions.

    Subclass it, declare ``components = ('images', 'labels')`` and write actions::

        class MyBatch(Batch):
            components = ("x",)

            @action
            def double(self):
                self.x = self.x * 2
                return self
    """

    components: Optional[Tuple[str, ...]] = None
    apply_defaults: Dict[str, Any] = dict(target="threads", post="_assemble", src=None, dst=None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        comps = cls.__dict__.get("components")
        if comps is not None:
            if isinstance(comps, str):
                comps = (comps,)
            if not isinstance(comps, tuple):
                raise TypeError(f"{cls.__name__}.components must be a tuple of names")
            cls.components = comps
            for name in comps:
                if not isinstance(cls.__dict__.get(name), property):
                    setattr(cls, name, _component_property(name))

    @classmethod
    def _native_data(cls, index: Any, attrs: Dict[str, Any]) -> Dict[str, Any]:
        """The native data of a dataset of this class over ``index`` (with the dataset's
        keyword attributes ``attrs``), as keyword arguments of the engine's run: none for a
        Python batch; ``ImagesBatch`` and ``TableBatch`` give their files or rows."""
        return {}

    def __init__(self, index: Any, dataset: Any = None, pipeline: Any = None,
                 preloaded: Any = None, copy: bool = False, **kwargs: Any):
        d = self.__dict__
        d["index"] = index if isinstance(index, DatasetIndex) else DatasetIndex(index)
        d["dataset"] = dataset
        d["pipeline"] = pipeline
        d["_preloaded"] = preloaded
        d["_copy"] = copy
        d["_data"] = {}
        d["_loaded"] = preloaded is None
        d["_random"] = None
        d["_seed"] = None
        d["iteration"] = None
        for k, v in kwargs.items():
            setattr(self, k, v)

    # index
    @property
    def indices(self) -> np.ndarray:
        """The ids of the items, in batch order."""
        return self.index.indices

    @property
    def size(self) -> int:
        """The number of items."""
        return len(self.index)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: Any) -> _ItemView:
        return _ItemView(self, self.index.get_pos(item))

    def __iter__(self):
        for i in range(len(self)):
            yield _ItemView(self, i)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(indices={self.indices!r})"

    # randomness
    @property
    def random(self) -> np.random.Generator:
        """The batch's own generator, seeded from the run's seed and the batch's number (the
        same for any prefetch); a fresh one outside a run."""
        if self._random is None:
            self._random = np.random.default_rng(self._seed)
        return self._random

    @random.setter
    def random(self, rng: np.random.Generator) -> None:
        self._random = rng

    # data
    @property
    def data(self) -> Any:
        """The batch's data: the components (as a tuple), or the slice of the preloaded data
        of a batch without components."""
        if not self._loaded:
            self._load_preloaded()
        if self.components:
            return tuple(getattr(self, c) for c in self.components)
        return self._data.get("__data__")

    @data.setter
    def data(self, value: Any) -> None:
        self._data["__data__"] = value

    def _load_preloaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        self._load_src(self._preloaded, None)

    def _slice(self, src: Any) -> Any:
        if src is None:
            return None
        if isinstance(src, dict):
            return [src[i] for i in self.indices.tolist()]
        if hasattr(src, "loc") and hasattr(src, "iloc"):
            return src.loc[self.indices]
        out = np.asarray(src)[self.indices] if not isinstance(src, list) else \
            [src[i] for i in self.indices.tolist()]
        if self._copy:
            out = np.array(out, copy=True)
        return out

    def _load_src(self, src: Any, dst: Any) -> None:
        comps = list(self.components or ())
        if dst is not None:
            dst = (dst,) if isinstance(dst, str) else tuple(dst)
            for name in dst:
                if name not in comps:
                    self.add_components(name)
            if len(dst) == 1 and not (isinstance(src, (tuple, list)) and len(src) == 1):
                self._data[dst[0]] = self._slice(src)
                return
            comps = list(dst)
        if not comps:
            self._data["__data__"] = self._slice(src)
            return
        if isinstance(src, dict):
            for name in comps:
                self._data[name] = self._slice(src.get(name))
        elif hasattr(src, "loc") and hasattr(src, "columns"):
            rows = src.loc[self.indices]
            for name in comps:
                self._data[name] = rows[name].values if name in src.columns else None
        elif isinstance(src, (tuple, list)):
            for i, name in enumerate(comps):
                self._data[name] = self._slice(src[i]) if i < len(src) else None
        else:
            self._data[comps[0]] = self._slice(src)

    @action
    def load(self, src: Any = None, fmt: Any = None, dst: Any = None, **kwargs: Any) -> "Batch":
        """Loads the batch's items from an in-memory source (an array, a tuple/list/dict of
        arrays matched to the components, a DataFrame) into the components (or ``dst``)."""
        if fmt is not None:
            raise ValueError(f"load: fmt={fmt!r} is not supported by Batch (in-memory sources "
                             f"only; ImagesBatch loads files)")
        self._loaded = True
        self._load_src(self._preloaded if src is None else src, dst)
        return self

    @action
    def dump(self, dst: Any = None, fmt: Any = None, components: Any = None,
             **kwargs: Any) -> "Batch":
        """Writes one component into an array: ``dst[ids] = component``."""
        if fmt is not None:
            raise ValueError(f"dump: fmt={fmt!r} is not supported")
        comps = (components,) if isinstance(components, str) else tuple(components or
                                                                       self.components or ())
        if len(comps) != 1:
            raise ValueError("dump: give exactly one component")
        dst[self.indices] = getattr(self, comps[0])
        return self

    def add_components(self, components: Any, init: Any = None) -> "Batch":
        """Adds components (names) to this batch, with initial values."""
        names = (components,) if isinstance(components, str) else tuple(components)
        values = (init,) if isinstance(components, str) else tuple(init or (None,) * len(names))
        current = tuple(self.components or ())
        for name in names:
            if name in current or hasattr(type(self), name) or name in self.__dict__:
                raise ValueError(f"add_components: {name!r} is already a component or an "
                                 f"attribute")
        self.__dict__["components"] = current + names
        for name, value in zip(names, values):
            self._data[name] = value
        return self

    def __getattr__(self, name: str) -> Any:
        # Components added to the instance (add_components, load(dst=...)).
        if name.startswith("__") or name == "_data":
            raise AttributeError(name)
        data = self.__dict__.get("_data")
        comps = self.__dict__.get("components")
        if data is not None and comps and name in comps:
            return data.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute or component {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        comps = self.__dict__.get("components")
        if comps and name in comps and not isinstance(getattr(type(self), name, None), property):
            self._data[name] = value
        else:
            object.__setattr__(self, name, value)

    def get(self, item: Any = None, component: Optional[str] = None) -> Any:
        """A component of the batch, or of one item."""
        data = getattr(self, component) if component else self.data
        return data if item is None else data[self.index.get_pos(item)]

    # actions of every batch
    @action
    def do_nothing(self, *args: Any, **kwargs: Any) -> "Batch":
        """Does nothing."""
        return self

    @classmethod
    def merge(cls, batches: Sequence["Batch"], batch_size: Optional[int] = None,
              components: Any = None, batch_class: Any = None) -> Tuple[Any, Any]:
        """Concatenates the components of ``batches``: ``(batch, rest)``, where ``batch`` has
        the first ``batch_size`` items (all with ``None``) and ``rest`` the others. The
        merged batches get a fresh index ``0..len-1``."""
        batches = [b for b in batches if b is not None]
        if not batches:
            return None, None
        klass = batch_class or type(batches[0])
        comps = components or batches[0].components
        if isinstance(comps, str):
            comps = (comps,)
        total = sum(len(b) for b in batches)
        size = total if batch_size is None else min(batch_size, total)
        data: Dict[str, Any] = {}
        for name in comps or ():
            parts = [getattr(b, name) for b in batches]
            if all(p is None for p in parts):
                continue
            if any(p is None for p in parts):
                raise ValueError(f"merge: component {name!r} is None in some batches only")
            if all(isinstance(p, np.ndarray) for p in parts):
                data[name] = np.concatenate(parts)
            else:
                data[name] = [x for p in parts for x in p]
        if not comps:
            parts = [b.data for b in batches]
            if any(p is None for p in parts):
                raise TypeError("merge: batches without components and without data")
            data["__data__"] = np.concatenate([np.asarray(p) for p in parts])

        def make(lo: int, hi: int) -> Any:
            if hi <= lo:
                return None
            b = klass(DatasetIndex(np.arange(hi - lo)))
            b._loaded = True
            if comps and comps != klass.components:
                b.__dict__["components"] = tuple(comps)
            for name, values in data.items():
                b._data[name] = values[lo:hi]
            return b

        return make(0, size), make(size, total)

    # in-batch parallelism
    def apply_parallel(self, func: Callable, init: Any = None, post: Any = None, src: Any = None,
                       dst: Any = None, *args: Any, p: Any = None, target: str = "for",
                       requires_rng: bool = False, **kwargs: Any) -> "Batch":
        """Calls ``func(item, *args, src=..., dst=..., **kwargs)`` for every item of component
        ``src`` (a tuple of names: the tuple of their items; a list: one call per (src, dst)
        pair) and stacks the results into ``dst`` (``src`` when not given). ``p``: each item
        is transformed with probability ``p`` (drawn from ``self.random``), else kept;
        ``requires_rng``: each call gets ``rng=`` a generator of its own, seeded from
        ``self.random``."""
        if isinstance(src, list):
            dsts = dst if dst is not None else src
            if not isinstance(dsts, list) or len(dsts) != len(src):
                raise ValueError("apply_parallel: src and dst lists must have the same length")
            seeds = None
            for s, d in zip(src, dsts):
                seeds = self._apply_one(func, init, post, s, d, args, p, target, requires_rng,
                                        kwargs, seeds)
            return self
        self._apply_one(func, init, post, src, dst, args, p, target, requires_rng, kwargs, None)
        return self

    def _apply_one(self, func, init, post, src, dst, args, p, target, requires_rng, kwargs,
                   seeds):
        if init is not None:
            work = getattr(self, init) if isinstance(init, str) else init(self)
            work = list(work() if callable(work) else work)
        elif isinstance(src, str):
            work = list(getattr(self, src))
        elif isinstance(src, tuple):
            work = list(zip(*[getattr(self, s) for s in src]))
        elif src is None:
            work = list(self.indices)
        else:
            work = list(src)
        if dst is None:
            dst = src
        n = len(work)
        if p is not None:
            chosen = self.random.random(n) < float(p) if p else np.zeros(n, dtype=bool)
        else:
            chosen = np.ones(n, dtype=bool)
        if requires_rng and seeds is None:
            seeds = self.random.integers(0, 2**63, size=n)
        calls = []
        for i, item in enumerate(work):
            kw = dict(kwargs, src=src, dst=dst)
            if requires_rng:
                kw["rng"] = np.random.default_rng(int(seeds[i]))
            calls.append(((item,) + tuple(args), kw))
        n_workers = _workers(kwargs, n)
        kwargs.pop("n_workers", None)
        results = [None] * n
        todo = [i for i in range(n) if chosen[i]]
        done = _call_items(func, [calls[i] for i in todo], target, n_workers)
        for i, r in zip(todo, done):
            results[i] = r
        for i in range(n):
            if not chosen[i]:
                results[i] = work[i]
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise RuntimeError("apply_parallel: an item failed") from failed[0]
        if post is not None and post != "_assemble":
            fn = getattr(self, post) if isinstance(post, str) else functools.partial(post, self)
            fn(results, src=src, dst=dst)
        else:
            self._assemble(results, src=src, dst=dst)
        return seeds

    def _assemble(self, results: List[Any], src: Any = None, dst: Any = None, **kw: Any) -> None:
        """Stacks the results of apply_parallel into ``dst`` (a tuple dst unzips them)."""
        if dst is None:
            return
        if isinstance(dst, tuple):
            for k, name in enumerate(dst):
                self._put(name, [r[k] for r in results])
        else:
            self._put(dst, results)

    def _put(self, name: str, values: List[Any]) -> None:
        try:
            arr = np.stack([np.asarray(v) for v in values]) if values else np.asarray(values)
        except ValueError:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
        if name not in (self.components or ()):
            self.add_components(name)
        setattr(self, name, arr)

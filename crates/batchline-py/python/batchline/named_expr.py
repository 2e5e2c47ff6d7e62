"""Named expressions: values computed for each batch when its step runs (BatchFlow's ``B``,
``V``, ``C``, ``F``, ``L``, ``R``, ``I``, ``D``, ``W``).

An expression is evaluated against a context (the batch and the pipeline) with
:func:`eval_expr`, which also walks lists, tuples and dicts. Expressions combine with the
usual operators (``V('x') + 1``, ``B.images[0]``, ``B('x').sum()``), all evaluated lazily.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Callable, Optional

__all__ = ["NamedExpression", "B", "V", "C", "F", "L", "R", "I", "D", "W", "eval_expr"]

_MISSING = object()


class _Context:
    """What an expression is evaluated against."""

    __slots__ = ("batch", "pipeline")

    def __init__(self, batch: Any = None, pipeline: Any = None):
        self.batch = batch
        self.pipeline = pipeline


def eval_expr(value: Any, batch: Any = None, pipeline: Any = None) -> Any:
    """Evaluates ``value`` for ``batch`` and ``pipeline``: named expressions are computed,
    lists, tuples and dicts (keys and values) are walked; anything else is returned as is."""
    return _eval(value, _Context(batch, pipeline))


def _eval(value: Any, ctx: _Context) -> Any:
    if isinstance(value, NamedExpression):
        try:
            out = value._get(ctx)
        except Exception as e:  # re-raised with the same type, naming the expression
            if getattr(e, "_batchline_expr", False):
                raise
            try:
                new = type(e)(f"Can't evaluate expression {value!r}: {e}")
            except Exception:
                raise e
            new._batchline_expr = True  # type: ignore[attr-defined]
            raise new from e
        if isinstance(value, W):
            return out
        return _eval(out, ctx) if _has_expr(out) else out
    if isinstance(value, list):
        return [_eval(v, ctx) for v in value]
    if isinstance(value, tuple):
        return tuple(_eval(v, ctx) for v in value)
    if isinstance(value, dict):
        return {_eval(k, ctx): _eval(v, ctx) for k, v in value.items()}
    return value


def _has_expr(value: Any) -> bool:
    """Whether ``value`` holds a named expression anywhere (in lists, tuples and dicts)."""
    if isinstance(value, NamedExpression):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_expr(v) for v in value)
    if isinstance(value, dict):
        return any(_has_expr(k) or _has_expr(v) for k, v in value.items())
    return False


def _assign(current: Any, value: Any, mode: str) -> Any:
    """The new value of a target after ``set`` in ``mode`` ('w', 'a', 'e', 'u')."""
    if mode in ("w", "write", None):
        return value
    if current is None:
        return value
    if mode in ("a", "append"):
        if isinstance(current, (set, dict)):
            current.update(value)
        else:
            current.append(value)
        return current
    if mode in ("e", "extend"):
        current.extend(value)
        return current
    if mode in ("u", "update"):
        current.update(value)
        return current
    raise ValueError(f"unknown mode {mode!r}: use 'w', 'a', 'e' or 'u'")


class _ExprMeta(type):
    """``B.images`` is ``B('images')``."""

    def __getattr__(cls, name: str) -> "NamedExpression":
        if name.startswith("__"):
            raise AttributeError(name)
        return cls(name)  # type: ignore[call-arg]


class NamedExpression(metaclass=_ExprMeta):
    """Base class of named expressions, with lazy operators."""

    def __init__(self, name: Any = None, mode: str = "w"):
        self.name = name
        self.mode = mode

    # evaluation and assignment
    def _get(self, ctx: _Context) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set(self, value: Any, ctx: _Context, mode: str) -> None:
        raise TypeError(f"{self!r} cannot be assigned")

    def get(self, batch: Any = None, pipeline: Any = None) -> Any:
        """The expression's value for ``batch`` and ``pipeline``."""
        return eval_expr(self, batch, pipeline)

    def set(self, value: Any, batch: Any = None, pipeline: Any = None,
            mode: Optional[str] = None) -> None:
        """Assigns the (evaluated) ``value`` to what the expression names."""
        ctx = _Context(batch, pipeline)
        self._set(_eval(value, ctx), ctx, mode or self.mode)

    # lazy algebra
    def __getattr__(self, name: str) -> "NamedExpression":
        if name.startswith("__") or name in ("name", "mode"):
            raise AttributeError(name)
        return _Attr(self, name)

    def __getitem__(self, key: Any) -> "NamedExpression":
        return _Item(self, key)

    def __call__(self, *args: Any, **kwargs: Any) -> "NamedExpression":
        return _Call(self, args, kwargs)

    def str(self) -> "NamedExpression":
        """The value as a string (``str(value)``)."""
        return _Op(str, self)

    def format(self, fmt: str) -> "NamedExpression":
        """The value formatted (``fmt.format(value)``)."""
        return _Op(lambda v: fmt.format(v), self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    if TYPE_CHECKING:  # the operators are attached below; declared here for type checkers
        def __add__(self, other: Any) -> "NamedExpression": ...
        def __radd__(self, other: Any) -> "NamedExpression": ...
        def __sub__(self, other: Any) -> "NamedExpression": ...
        def __rsub__(self, other: Any) -> "NamedExpression": ...
        def __mul__(self, other: Any) -> "NamedExpression": ...
        def __rmul__(self, other: Any) -> "NamedExpression": ...
        def __truediv__(self, other: Any) -> "NamedExpression": ...
        def __rtruediv__(self, other: Any) -> "NamedExpression": ...
        def __floordiv__(self, other: Any) -> "NamedExpression": ...
        def __rfloordiv__(self, other: Any) -> "NamedExpression": ...
        def __mod__(self, other: Any) -> "NamedExpression": ...
        def __rmod__(self, other: Any) -> "NamedExpression": ...
        def __pow__(self, other: Any) -> "NamedExpression": ...
        def __rpow__(self, other: Any) -> "NamedExpression": ...
        def __matmul__(self, other: Any) -> "NamedExpression": ...
        def __rmatmul__(self, other: Any) -> "NamedExpression": ...
        def __and__(self, other: Any) -> "NamedExpression": ...
        def __rand__(self, other: Any) -> "NamedExpression": ...
        def __or__(self, other: Any) -> "NamedExpression": ...
        def __ror__(self, other: Any) -> "NamedExpression": ...
        def __xor__(self, other: Any) -> "NamedExpression": ...
        def __rxor__(self, other: Any) -> "NamedExpression": ...
        def __lshift__(self, other: Any) -> "NamedExpression": ...
        def __rlshift__(self, other: Any) -> "NamedExpression": ...
        def __rshift__(self, other: Any) -> "NamedExpression": ...
        def __rrshift__(self, other: Any) -> "NamedExpression": ...
        def __lt__(self, other: Any) -> "NamedExpression": ...
        def __le__(self, other: Any) -> "NamedExpression": ...
        def __gt__(self, other: Any) -> "NamedExpression": ...
        def __ge__(self, other: Any) -> "NamedExpression": ...
        def __eq__(self, other: Any) -> "NamedExpression":  # type: ignore[override]
            ...
        def __ne__(self, other: Any) -> "NamedExpression":  # type: ignore[override]
            ...
        def __neg__(self) -> "NamedExpression": ...
        def __pos__(self) -> "NamedExpression": ...
        def __abs__(self) -> "NamedExpression": ...
        def __invert__(self) -> "NamedExpression": ...


    def __bool__(self) -> bool:
        raise TypeError(f"{self!r} is lazy: it has no truth value before it is evaluated")


def _binary(op: Callable[[Any, Any], Any], symbol: str):
    def forward(self, other):
        return _Op(op, self, other, symbol=symbol)

    def backward(self, other):
        return _Op(op, other, self, symbol=symbol)

    return forward, backward


for _name, _op, _sym in [
    ("add", operator.add, "+"), ("sub", operator.sub, "-"), ("mul", operator.mul, "*"),
    ("truediv", operator.truediv, "/"), ("floordiv", operator.floordiv, "//"),
    ("mod", operator.mod, "%"), ("pow", operator.pow, "**"), ("matmul", operator.matmul, "@"),
    ("and", operator.and_, "&"), ("or", operator.or_, "|"), ("xor", operator.xor, "^"),
    ("lshift", operator.lshift, "<<"), ("rshift", operator.rshift, ">>"),
]:
    _f, _b = _binary(_op, _sym)
    setattr(NamedExpression, f"__{_name}__", _f)
    setattr(NamedExpression, f"__r{_name}__", _b)

for _name, _op in [("lt", operator.lt), ("le", operator.le), ("gt", operator.gt),
                   ("ge", operator.ge), ("eq", operator.eq), ("ne", operator.ne)]:
    setattr(NamedExpression, f"__{_name}__", _binary(_op, _name)[0])
NamedExpression.__hash__ = object.__hash__  # type: ignore[assignment]
NamedExpression.__neg__ = lambda self: _Op(operator.neg, self)  # type: ignore[assignment]
NamedExpression.__pos__ = lambda self: _Op(operator.pos, self)  # type: ignore[assignment]
NamedExpression.__abs__ = lambda self: _Op(abs, self)  # type: ignore[assignment]
NamedExpression.__invert__ = lambda self: _Op(operator.invert, self)  # type: ignore[assignment]


class _Op(NamedExpression):
    def __init__(self, fn: Callable[..., Any], *operands: Any, symbol: str = ""):
        super().__init__(symbol or getattr(fn, "__name__", "op"))
        self._fn = fn
        self._operands = operands

    def _get(self, ctx: _Context) -> Any:
        return self._fn(*[_eval(o, ctx) for o in self._operands])

    def __repr__(self) -> str:
        return f"{self.name}{self._operands!r}"


class _Attr(NamedExpression):
    def __init__(self, base: NamedExpression, attr: str):
        super().__init__(attr)
        self._base = base

    def _get(self, ctx: _Context) -> Any:
        return getattr(_eval(self._base, ctx), self.name)

    def _set(self, value: Any, ctx: _Context, mode: str) -> None:
        obj = _eval(self._base, ctx)
        setattr(obj, self.name, _assign(getattr(obj, self.name, None), value, mode))

    def __repr__(self) -> str:
        return f"{self._base!r}.{self.name}"


class _Item(NamedExpression):
    def __init__(self, base: NamedExpression, key: Any):
        super().__init__(key)
        self._base = base

    def _get(self, ctx: _Context) -> Any:
        return _eval(self._base, ctx)[_eval(self.name, ctx)]

    def _set(self, value: Any, ctx: _Context, mode: str) -> None:
        obj = _eval(self._base, ctx)
        key = _eval(self.name, ctx)
        try:
            current = obj[key]
        except (KeyError, IndexError):
            current = None
        obj[key] = _assign(current, value, mode)

    def __repr__(self) -> str:
        return f"{self._base!r}[{self.name!r}]"


class _Call(NamedExpression):
    def __init__(self, base: NamedExpression, args: tuple, kwargs: dict):
        super().__init__("call")
        self._base = base
        self._args = args
        self._kwargs = kwargs

    def _get(self, ctx: _Context) -> Any:
        fn = _eval(self._base, ctx)
        return fn(*_eval(self._args, ctx), **_eval(self._kwargs, ctx))

    def __repr__(self) -> str:
        return f"{self._base!r}(...)"


class B(NamedExpression):
    """A component or attribute of the batch (``B('images')``, ``B.images``); ``B()`` is the
    batch itself."""

    def __init__(self, name: Optional[str] = None, mode: str = "w", copy: bool = False):
        super().__init__(name, mode)
        self._copy = copy

    def _get(self, ctx: _Context) -> Any:
        if ctx.batch is None:
            raise ValueError(f"{self!r} needs a batch")
        if self.name is None:
            if self._copy:
                import copy as _copy
                return _copy.deepcopy(ctx.batch)
            return ctx.batch
        try:
            return getattr(ctx.batch, self.name)
        except AttributeError:
            raise KeyError(f"the batch has no component or attribute {self.name!r}") from None

    def _set(self, value: Any, ctx: _Context, mode: str) -> None:
        if ctx.batch is None or self.name is None:
            raise ValueError(f"{self!r} cannot be assigned without a batch and a name")
        setattr(ctx.batch, self.name, _assign(getattr(ctx.batch, self.name, None), value, mode))


class V(NamedExpression):
    """A pipeline variable (``V('loss')``; ``V('log', mode='a')`` appends when assigned)."""

    def __init__(self, name: str, mode: str = "w"):
        super().__init__(name, mode)

    def _pipeline(self, ctx: _Context) -> Any:
        if ctx.pipeline is None:
            raise ValueError(f"{self!r} needs a pipeline")
        return ctx.pipeline

    def _get(self, ctx: _Context) -> Any:
        return self._pipeline(ctx).get_variable(_eval(self.name, ctx))

    def _set(self, value: Any, ctx: _Context, mode: str) -> None:
        self._pipeline(ctx).set_variable(_eval(self.name, ctx), value, mode=mode)


class C(NamedExpression):
    """A config value (``C('model/lr')``, ``C('bs', default=16)``); ``C()`` is the config."""

    def __init__(self, name: Optional[str] = None, default: Any = _MISSING, mode: str = "w"):
        super().__init__(name, mode)
        self._default = default

    def _get(self, ctx: _Context) -> Any:
        if ctx.pipeline is None:
            raise ValueError(f"{self!r} needs a pipeline")
        config = ctx.pipeline.config
        if self.name is None:
            return config
        node: Any = config
        for part in str(self.name).split("/"):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif self._default is not _MISSING:
                return self._default
            else:
                raise KeyError(f"config has no key {self.name!r}")
        return node

    def _set(self, value: Any, ctx: _Context, mode: str) -> None:
        if ctx.pipeline is None or self.name is None:
            raise ValueError(f"{self!r} cannot be assigned without a pipeline and a name")
        parts = str(self.name).split("/")
        node = ctx.pipeline.config
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _assign(node.get(parts[-1]), value, mode)


class D(NamedExpression):
    """An attribute of the pipeline's dataset (``D('size')``); ``D()`` is the dataset."""

    def _get(self, ctx: _Context) -> Any:
        ds = getattr(ctx.pipeline, "dataset", None)
        if ds is None:
            raise ValueError(f"{self!r} needs a pipeline with a dataset")
        if self.name is None:
            return ds
        if not hasattr(ds, self.name):
            raise KeyError(f"the dataset has no attribute {self.name!r}")
        return getattr(ds, self.name)


class F(NamedExpression):
    """A function called when the expression is evaluated: ``F(fn)`` gives ``fn()``,
    ``F(fn)(V('x'), 2)`` gives ``fn(value of V('x'), 2)``."""

    def __init__(self, fn: Any, *args: Any, **kwargs: Any):
        super().__init__(getattr(fn, "__name__", "fn"))
        self._fn = fn
        self._args = args
        self._kwargs = kwargs

    def __call__(self, *args: Any, **kwargs: Any) -> "F":
        return F(self._fn, *self._args, *args, **{**self._kwargs, **kwargs})

    def _get(self, ctx: _Context) -> Any:
        fn = _eval(self._fn, ctx)
        return fn(*_eval(self._args, ctx), **_eval(self._kwargs, ctx))


class L(NamedExpression):
    """A list component of the batch, element-wise: ``L('images').shape`` is the list of the
    shapes; ``L('x')[0]`` the first element of each item; ``L('x').mean()`` each item's mean."""

    def __init__(self, name: str, mode: str = "w", _ops: tuple = ()):
        super().__init__(name, mode)
        self._ops = _ops

    def __getattr__(self, name: str) -> "L":
        if name.startswith("__") or name in ("name", "mode"):
            raise AttributeError(name)
        return L(self.name, self.mode, self._ops + (("attr", name),))

    def __getitem__(self, key: Any) -> "L":
        return L(self.name, self.mode, self._ops + (("item", key),))

    def __call__(self, *args: Any, **kwargs: Any) -> "L":
        return L(self.name, self.mode, self._ops + (("call", (args, kwargs)),))

    def _get(self, ctx: _Context) -> Any:
        items = getattr(ctx.batch, self.name)
        out = []
        for item in items:
            for kind, arg in self._ops:
                if kind == "attr":
                    item = getattr(item, arg)
                elif kind == "item":
                    item = item[_eval(arg, ctx)]
                else:
                    a, k = arg
                    item = item(*_eval(a, ctx), **_eval(k, ctx))
            out.append(item)
        return out


class R(NamedExpression):
    """A sample drawn from the batch's own generator (``batch.random``, a NumPy
    ``Generator`` seeded from the run's seed and the batch's number): ``R('normal', 0, 1)``,
    ``R('uniform', size=3)``; a non-string first argument means ``choice`` among it.
    With ``seed=``, the expression has a generator of its own."""

    def __init__(self, name: Any, *args: Any, seed: Any = None, size: Any = None, **kwargs: Any):
        if not isinstance(name, str):
            args = (name,) + args
            name = "choice"
        super().__init__(name)
        self._args = args
        self._kwargs = kwargs
        self._size = size
        self._rng = None
        if seed is not None:
            import numpy as np
            self._rng = np.random.default_rng(seed)

    def _get(self, ctx: _Context) -> Any:
        rng = self._rng
        if rng is None:
            rng = getattr(ctx.batch, "random", None)
            if rng is None:
                import numpy as np
                rng = np.random.default_rng()
        kwargs = _eval(self._kwargs, ctx)
        size = _eval(self._size, ctx)
        if size is not None:
            kwargs["size"] = size
        return getattr(rng, self.name)(*_eval(self._args, ctx), **kwargs)


class I(NamedExpression):  # noqa: E742 - BatchFlow's name
    """The batch's iteration: ``I()`` / ``I('current')`` (1-based), ``I('max')`` (the run's
    number of batches, ``None`` if endless), ``I('ratio')`` (current / max)."""

    def __init__(self, name: str = "current"):
        for full in ("current", "max", "ratio"):
            if full.startswith(name):
                name = full
                break
        else:
            raise ValueError(f"I({name!r}): use 'current', 'max' or 'ratio'")
        super().__init__(name)

    def _get(self, ctx: _Context) -> Any:
        if ctx.batch is None:
            raise ValueError(f"{self!r} needs a batch")
        current = ctx.batch.iteration
        total = getattr(ctx.batch, "_total", None)
        if self.name == "current":
            return current
        if self.name == "max":
            return total
        if total is None:
            raise ValueError("I('ratio') needs a run with n_epochs or n_iters")
        return current / total


class W(NamedExpression):
    """An expression passed as is, unevaluated (``W(V('x'))`` gives the expression
    ``V('x')``)."""

    def __init__(self, expr: Any):
        super().__init__("W")
        self._expr = expr

    def _get(self, ctx: _Context) -> Any:
        return self._expr

    def _set(self, value: Any, ctx: _Context, mode: str) -> None:
        self._expr._set(value, ctx, mode)

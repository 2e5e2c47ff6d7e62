"""Native actions: methods of ``ImagesBatch`` and ``TableBatch`` that a pipeline turns into
Rust steps of the engine (they run without the GIL)."""

from __future__ import annotations

from typing import Any, Callable, Dict

from .batch import _ACTION
from .named_expr import _has_expr

__all__ = ["native_action"]


def native_action(kind: str, op: str, signature: Callable[..., Dict[str, Any]],
                  doc: str) -> Callable:
    """The method ``op`` of a native batch class: a native action whose arguments
    ``signature`` binds (and returns as the keyword dict of the Rust action), emitted with
    ``plan.<kind>_op(op, kwargs)`` (``kind`` is ``'images'`` or ``'table'``)."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{type(self).__name__}.{op} is a native action: use it in a "
                           f"pipeline (dataset.p.{op}(...))")

    def emit(plan: Any, *args: Any, **kwargs: Any) -> None:
        if _has_expr(args) or _has_expr(kwargs):
            hint = (" (its random variants draw per image from the run's seed: random_flip, "
                    "random_rotate, random_crop, ...)" if kind == "images" else "")
            raise TypeError(f"action {op!r}: a native {kind} action takes constant arguments, "
                            f"not named expressions{hint}")
        try:
            options = signature(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"action {op!r}: {e}") from None
        getattr(plan, f"{kind}_op")(op, options)

    method.__name__ = op
    method.__doc__ = doc
    setattr(method, _ACTION, {"use_lock": False, "no_eval": ()})
    setattr(method, "_batchline_native", emit)
    return method

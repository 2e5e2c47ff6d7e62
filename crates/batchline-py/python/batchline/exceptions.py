"""Exceptions of the batchline Python API.

``SkipBatchException`` and ``StopPipeline`` are BatchFlow's control exceptions: raise them in
an action to drop the current batch or to end the run. Errors of a run are instances of
``BatchlineError``; an exception raised by a Python action reaches the consumer as itself
(same type, same traceback) with an ``ActionFailed`` as its ``__cause__``, whose message names
the batch, its ids and the action.
"""

from __future__ import annotations

from typing import Optional


class BatchlineError(Exception):
    """Base class of batchline's errors (BatchFlow's ``BatchFlowException``)."""


# BatchFlow's name for the base class.
BatchFlowException = BatchlineError


class SkipBatchException(BatchlineError):
    """Raised in an action: drop this batch and go on with the next one."""


class StopPipeline(BatchlineError):
    """Raised in an action: end the run here (the batches before this one are yielded)."""


class EmptyBatchSequence(Warning):
    """Warned when a run yields no batch."""


class RunError(BatchlineError):
    """An error of a run, on a batch (``batch`` is 0-based, ``None`` when on no batch)."""

    def __init__(self, message: str, batch: Optional[int] = None, ids: str = "",
                 action: Optional[str] = None):
        super().__init__(message)
        self.batch = batch
        self.ids = ids
        self.action = action


class ActionFailed(RunError):
    """An action failed (a Python exception, then it is the ``__cause__`` of it, or a native error)."""


class ActionPanicked(ActionFailed):
    """A native action panicked (a bug of batchline)."""


class LockError(RunError):
    """A lock step was misused: ``release_lock`` of a lock not held, or one taken twice."""


class SpecError(RunError, ValueError):
    """The run parameters do not fit the dataset (batch size larger than the dataset, ...)."""


class BuildError(RunError, ValueError):
    """The pipeline cannot run as built (no dataset, a probability outside [0, 1], ...)."""


class HookError(RunError):
    """A ``before`` or ``after`` step failed."""


class TooManyFailures(RunError):
    """More batches failed than allowed."""


_KINDS = {
    "action": ActionFailed,
    "panic": ActionPanicked,
    "lock": LockError,
    "spec": SpecError,
    "build": BuildError,
    "hook": HookError,
    "failures": TooManyFailures,
}


def _make_error(kind: str, message: str, batch: Optional[int], ids: str,
                action: Optional[str]) -> RunError:
    """Builds the exception for an engine error (called by the extension)."""
    return _KINDS.get(kind, RunError)(message, batch, ids, action)

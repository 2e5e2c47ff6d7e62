"""batchline: BatchFlow's pipeline API on batchline's Rust engine.

``import batchline as bf`` and use BatchFlow's names: ``DatasetIndex``, ``FilesIndex``,
``Dataset``, ``Batch``, ``action``, ``inbatch_parallel``, ``Pipeline``, the named expressions
``B V C F L R I D W`` and ``SkipBatchException`` / ``StopPipeline``. Runs are executed by the
Rust engine: batches come in order under any ``prefetch``, at most ``prefetch + 1`` are in
flight, a seeded run is the same for any ``prefetch``, an action's exception reaches the
consumer at that batch's place, and leaving the loop stops and joins every worker.
"""

from . import _batchline
from .batch import Batch, action, any_action_failed, apply_parallel, inbatch_parallel
from .dataset import Dataset
from .exceptions import (ActionFailed, ActionPanicked, BatchFlowException, BatchlineError,
                         BuildError, EmptyBatchSequence, HookError, LockError, RunError,
                         SkipBatchException, SpecError, StopPipeline, TooManyFailures,
                         _make_error)
from .images import ImagesBatch, image_folder
from .index import DatasetIndex, FilesIndex, calc_split
from .named_expr import B, C, D, F, I, L, NamedExpression, R, V, W, eval_expr
from .pipeline import Pipeline
from .tables import ColumnStats, TableBatch, TableStats

_batchline._register(SkipBatchException, StopPipeline, _make_error)

__version__ = "0.1.0"

__all__ = [
    "Batch", "action", "any_action_failed", "apply_parallel", "inbatch_parallel", "Dataset",
    "DatasetIndex", "FilesIndex", "calc_split", "Pipeline", "NamedExpression", "B", "C", "D",
    "F", "I", "L", "R", "V", "W", "eval_expr", "ActionFailed", "ActionPanicked",
    "BatchFlowException", "BatchlineError", "BuildError", "EmptyBatchSequence", "HookError",
    "LockError", "RunError", "SkipBatchException", "SpecError", "StopPipeline",
    "TooManyFailures", "ImagesBatch", "image_folder", "TableBatch", "TableStats", "ColumnStats",
]

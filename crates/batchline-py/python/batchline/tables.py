"""``TableBatch``: native table actions on Apache Arrow batches, run in Rust without the GIL.

A table dataset reads its rows from files, lazily, batch by batch::

    ds = TableBatch.from_csv("train.csv")               # parsed into memory (Arrow)
    ds = TableBatch.from_parquet("shards/*.parquet")    # read by row group, larger than memory
    ds = TableBatch.from_npy({"x": "x.npy", "y": "y.npy"})  # memory-mapped, larger than memory
    ds = TableBatch.from_npz("data.npz")                # uncompressed .npz, memory-mapped

Its index is a ``DatasetIndex`` of the row numbers, so ``split``, ``create_subset`` and every
batching rule work as for any dataset. ``TableBatch.block_shuffled(ds, seed)`` gives a whole
table's rows in a block-shuffled order, for shuffled epochs over Parquet files larger than
memory (each batch reads a few row groups, each row group is decoded about once per epoch). The native actions (pipeline steps):

* ``load()``: reads the batch's rows (every column);
* ``select(columns)``: keeps these columns, in this order;
* ``standardize(stats)`` / ``normalize(stats)``: ``(x - mean) / std`` or
  ``(x - min) / (max - min)`` with statistics fitted on one split
  (``TableStats.fit(ds.train, columns)``) and applied to every split;
* ``fill_null(columns, value=0.0)``, ``one_hot(column, classes)``;
* ``to_tensor(columns)``: the columns as one ``float32`` matrix, ``batch.tensor``;
* ``dump(dst, fmt='parquet')``: writes each batch as ``dst/part-<batch>.parquet`` (or
  ``dst/<column>-<batch>.npy`` with ``fmt='npy'``), in batch order.

After them, the batch's components are its columns: ``batch.x`` is a NumPy array that views
the Arrow buffer (no copy; read-only, as Arrow data is immutable: assign a new array to change
it), a fixed-size list column (a ``.npy`` array of rows) a 2-D array, ``batch.tensor`` (after
``to_tensor``) a ``float32`` array that owns the Rust allocation: ``torch.from_numpy`` and
``jax.numpy.asarray`` take it without a copy. Nulls: a numeric column with nulls arrives as
``float64`` with NaN; strings as ``object`` arrays. Native actions come before the Python
actions of a pipeline, which then see the components as arrays.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from . import _batchline
from ._native import native_action
from .batch import Batch

__all__ = ["ColumnStats", "TableBatch", "TableStats"]


def _table(op: str, signature: Any, doc: str) -> Any:
    return native_action("table", op, signature, doc)


def _columns(value: Any, op: str, key: str = "columns") -> List[str]:
    if isinstance(value, str):
        raise TypeError(f"{key} must be a list of column names, not a string "
                        f"(write [{value!r}])")
    try:
        names = list(value)
    except TypeError:
        raise TypeError(f"{key} must be a list of column names, not "
                        f"{type(value).__name__}") from None
    bad = [c for c in names if not isinstance(c, str)]
    if bad:
        raise TypeError(f"{key} must be column names (strings), not {bad[0]!r}")
    return names


def _load(src: Any = None, fmt: Any = None, dst: Any = None) -> Dict[str, Any]:
    if src is not None or fmt is not None or dst is not None:
        raise TypeError("native load reads the dataset's table (from_csv, from_parquet, "
                        "from_npy, from_npz): it takes no src, fmt or dst")
    return {}


def _select(columns: Sequence[str]) -> Dict[str, Any]:
    return {"columns": _columns(columns, "select")}


def _stats(stats: "TableStats") -> Dict[str, Any]:
    if not isinstance(stats, TableStats):
        raise TypeError(f"stats must be TableStats (TableStats.fit(dataset, columns)), not "
                        f"{type(stats).__name__}")
    return {"stats": stats._native}


def _fill_null(columns: Sequence[str], value: float = 0.0) -> Dict[str, Any]:
    return {"columns": _columns(columns, "fill_null"), "value": value}


def _one_hot(column: str, classes: int) -> Dict[str, Any]:
    return {"column": column, "classes": classes}


def _to_tensor(columns: Sequence[str]) -> Dict[str, Any]:
    return {"columns": _columns(columns, "to_tensor")}


def _dump(dst: Any, fmt: str = "parquet") -> Dict[str, Any]:
    return {"dst": os.fspath(dst), "fmt": fmt}


class TableBatch(Batch):
    """A batch of rows of a table dataset (see the module's documentation): native actions
    in Rust, then the columns as NumPy components."""

    load = _table("load", _load, "Reads the batch's rows (every column of the table).")
    select = _table("select", _select, "Keeps only these columns, in this order.")
    standardize = _table("standardize", _stats,
                         "(x - mean) / std per element, with TableStats fitted on one split "
                         "(a constant element, std 0, becomes x - mean); nulls stay null.")
    normalize = _table("normalize", _stats,
                       "(x - min) / (max - min) per element over the fitted range (a constant "
                       "element becomes 0); nulls stay null.")
    fill_null = _table("fill_null", _fill_null,
                       "Replaces the nulls of these numeric columns by value.")
    one_hot = _table("one_hot", _one_hot,
                     "Replaces an integer column by its one-hot encoding (classes float32 "
                     "values per row; a null becomes all zeros).")
    to_tensor = _table("to_tensor", _to_tensor,
                       "These numeric columns as one float32 matrix, batch.tensor (a "
                       "fixed-size list column of d values gives d matrix columns).")
    dump = _table("dump", _dump,
                  "Writes the batch as dst/part-<batch>.parquet (fmt='parquet') or "
                  "dst/<column>-<batch>.npy (fmt='npy'), creating dst; in batch order.")

    @classmethod
    def _native_data(cls, index: Any, attrs: Dict[str, Any]) -> Dict[str, Any]:
        table = _native_table(index)
        return {} if table is None else {"table": table}

    def _set_table(self, columns: Dict[str, np.ndarray], tensor: Optional[np.ndarray]) -> None:
        """Called by the engine: the batch's columns (and tensor) become its components."""
        names = tuple(columns)
        if tensor is not None:
            if "tensor" in columns:
                raise ValueError("the table has a column named 'tensor' and to_tensor made "
                                 "batch.tensor: select the columns to keep first")
            names += ("tensor",)
        declared = type(self).components or ()
        for name in names:
            if name == "tensor" or name in declared:
                continue
            if name in self.__dict__ or hasattr(type(self), name):
                raise ValueError(f"the column {name!r} clashes with the attribute "
                                 f"{type(self).__name__}.{name}: leave it out with "
                                 f"select([...]) (or rename it in the file)")
        self.__dict__["components"] = names
        self._data.update(columns)
        if tensor is not None:
            self._data["tensor"] = tensor

    @classmethod
    def from_csv(cls, path: Any, header: bool = True, delimiter: str = ",",
                 dtypes: Optional[Dict[str, str]] = None,
                 infer_rows: Optional[int] = None) -> Any:
        """The rows of a CSV file, parsed into memory: a ``Dataset`` of this batch class.
        ``dtypes`` declares the schema (``{'x': 'float32', 'y': 'int64', 'name': 'str'}``,
        every column in file order), else it is inferred (from the first ``infer_rows``
        rows, or all). ``ValueError`` naming the line and column of a bad value."""
        schema = None
        if dtypes is not None:
            if not isinstance(dtypes, dict):
                raise TypeError("from_csv: dtypes must be a dict {column: dtype}")
            schema = [(str(c), str(t)) for c, t in dtypes.items()]
        data = _batchline.TableData.csv(os.fspath(path), header, delimiter, schema, infer_rows)
        return _dataset(data, cls)

    @classmethod
    def from_parquet(cls, path: Any, columns: Optional[Sequence[str]] = None,
                     cache_row_groups: Optional[int] = None) -> Any:
        """The rows of a Parquet file, or of the shards of a folder or glob (one table), read
        by row group through a cache of ``cache_row_groups`` decoded row groups per worker;
        ``columns`` projects (reads only these; they keep the file's order)."""
        cols = None if columns is None else _columns(columns, "from_parquet")
        data = _batchline.TableData.parquet(os.fspath(path), cols, cache_row_groups)
        return _dataset(data, cls)

    @classmethod
    def from_npy(cls, columns: Dict[str, Any], max_resident: Optional[int] = None) -> Any:
        """One column per ``{name: path}``: a ``.npy`` file, a folder or glob of shards
        (concatenated in name order), memory-mapped (nothing is read up front). An array of
        shape ``(n, d, ...)`` gives a column of ``n`` rows of ``d x ...`` values.

        ``max_resident`` (bytes) bounds the files' pages mapped into the process: once more
        are mapped, those of the least recently read 1 MiB blocks are unmapped (they stay in
        the page cache). Without it, as with ``numpy.memmap``, the resident memory grows to
        every page read. It pays off with ``block_shuffled`` (a window that fits in the
        limit); under a full shuffle of a larger file nearly every row is a page fault."""
        if not isinstance(columns, dict):
            raise TypeError("from_npy: columns must be a dict {column: path}")
        data = _batchline.TableData.npy([(str(c), os.fspath(p)) for c, p in columns.items()],
                                        _max_resident(max_resident, "from_npy"))
        return _dataset(data, cls)

    @classmethod
    def from_npz(cls, path: Any, max_resident: Optional[int] = None) -> Any:
        """The arrays of an uncompressed ``.npz`` archive (``numpy.savez``), one column each,
        memory-mapped; a folder or glob of shards is one table. ``max_resident`` as in
        ``from_npy``."""
        return _dataset(_batchline.TableData.npz(os.fspath(path),
                                                 _max_resident(max_resident, "from_npz")), cls)


    @classmethod
    def block_shuffled(cls, dataset: Any, seed: int, window: int = 4) -> Any:
        """The rows of a whole table dataset in a block-shuffled order, for a shuffled epoch
        over a Parquet file larger than memory at the best throughput: the row groups are
        shuffled, then rows are permuted within each window of ``window`` row groups, so that
        a batch reads at most ``window`` row groups (use ``cache_row_groups >= window``).
        A weaker shuffle than ``shuffle=``: run it with the shuffle off, and make a new one
        (a new ``seed``) for each epoch::

            ds = TableBatch.from_parquet("big.parquet", cache_row_groups=8)
            for epoch in range(3):
                view = TableBatch.block_shuffled(ds, seed=epoch, window=4)
                for batch in view.p.load().gen_batch(256, n_epochs=1, prefetch=3):
                    ...
        """
        data = getattr(dataset, "_native", {}).get("table")
        if data is None:
            raise TypeError("block_shuffled needs a table dataset (TableBatch.from_csv, "
                            "from_parquet, from_npy, from_npz)")
        return _dataset(data.block_shuffled(seed, window), dataset.batch_class)


def _dataset(data: Any, batch_class: type) -> Any:
    from .dataset import Dataset
    from .index import DatasetIndex

    if not (isinstance(batch_class, type) and issubclass(batch_class, TableBatch)):
        raise TypeError(f"batch_class must be TableBatch or a subclass of it, not "
                        f"{batch_class!r}")
    index = DatasetIndex(data.n_rows())
    index.__dict__["_native_table"] = data
    index.__dict__["_native_whole"] = data.is_whole()
    return Dataset(index, batch_class)


def _native_table(index: Any) -> Any:
    """The native table of a dataset over ``index`` (its ids are the rows), if the index is
    a table dataset's (or a subset or split of one)."""
    table = index.__dict__.get("_native_table")
    if table is None:
        return None
    if index.__dict__.get("_native_whole"):  # the table's own index (not a subset of it)
        return table
    return table.select(np.asarray(index.indices, dtype=np.int64))


class ColumnStats(NamedTuple):
    """The statistics of one column, one value per element (a scalar column has one)."""

    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray


class TableStats:
    """Statistics of numeric columns over the rows of a table dataset: fit them on the
    training split, pass them to ``standardize`` / ``normalize`` on every split::

        stats = TableStats.fit(ds.train, ["a", "b"])
        train = ds.train.p.load().standardize(stats).to_tensor(["a", "b"])
        test = ds.test.p.load().standardize(stats).to_tensor(["a", "b"])

    Fitting reads the rows in chunks (in row order), so it works on tables larger than
    memory; it runs without the GIL."""

    def __init__(self, native: Any):
        self._native = native

    @classmethod
    def fit(cls, dataset: Any, columns: Sequence[str]) -> "TableStats":
        """The statistics of ``columns`` over the rows of ``dataset`` (a table dataset, a
        split or a subset of one)."""
        data = getattr(dataset, "_native", {}).get("table")
        if data is None:
            raise TypeError("TableStats.fit needs a table dataset (TableBatch.from_csv, "
                            "from_parquet, from_npy, from_npz)")
        return cls(_batchline.TableStatsData.fit(data, _columns(columns, "fit")))

    @property
    def columns(self) -> List[str]:
        """The fitted columns, in order."""
        return list(self._native.columns())

    def __getitem__(self, column: str) -> ColumnStats:
        count, mean, std, lo, hi = self._native.get(column)
        return ColumnStats(np.asarray(count, dtype=np.uint64), np.asarray(mean),
                           np.asarray(std), np.asarray(lo), np.asarray(hi))

    def __repr__(self) -> str:
        return f"TableStats({self.columns})"


def _max_resident(value: Any, where: str) -> Optional[int]:
    """``max_resident`` checked: ``None`` or a positive number of bytes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{where}: max_resident must be a positive number of bytes, "
                         f"got {value!r}")
    return value

"""Indices: ``DatasetIndex`` (ids of the items) and ``FilesIndex`` (ids of files).

Batches are drawn by the Rust index with BatchFlow's rules (epochs straddle, ``drop_last``,
``n_iters``, the last batch of the last epoch may be short); a seeded shuffle gives a new
permutation for each epoch, derived from the seed and the epoch's number.
"""

from __future__ import annotations

import glob as _glob
import os
import secrets
import warnings
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _batchline

__all__ = ["DatasetIndex", "FilesIndex", "calc_split"]


def calc_split(n: int, shares: Any = 0.8) -> Tuple[int, int, int]:
    """BatchFlow's split sizes ``(train, test, validation)`` of ``n`` items (round half to
    even; the last share is ``1 - sum(others)``; train gets the remainder)."""
    if isinstance(shares, tuple):
        raise TypeError("shares must be a number or a list, not a tuple")
    if isinstance(shares, np.ndarray):
        shares = [float(x) for x in shares.ravel()]
    elif not isinstance(shares, list):
        shares = [shares]
    else:
        shares = list(shares)
    if len(shares) < 3:
        shares = shares + [0.0]
    if len(shares) > 3:
        raise ValueError(f"at most 3 shares can be given, not {len(shares)}")
    if sum(shares) > 1 + 1e-12:
        raise ValueError(f"the shares {shares} add up to more than 1")
    if n < len(shares):
        raise ValueError(f"an index of {n} items cannot be split into {len(shares)} subsets")
    shares[-1] = 1 - sum(shares[:-1])
    if shares[-1] == 0:
        shares = shares[:-1]
    lens = []
    for share in shares:
        length = int(np.round(share * n))
        lens.append(length if share > 0 and length >= 1 else 1)
    lens += [0] * (3 - len(lens))
    test, valid = lens[1], lens[2]
    train = max(0, n - test - valid)
    return train, test, valid


def _shuffle_seed(shuffle: Any) -> Optional[int]:
    """The permutation seed of a ``shuffle`` argument (``None``: index order)."""
    if shuffle is False or shuffle is None:
        return None
    if shuffle is True:
        return secrets.randbits(63)
    if isinstance(shuffle, (int, np.integer)):
        if shuffle < 0:
            raise ValueError(f"shuffle={shuffle}: a negative seed is only for pipelines")
        return int(shuffle)
    if isinstance(shuffle, np.random.Generator):
        return int(shuffle.integers(0, 2**63))
    warnings.warn(f"Unknown seed type {type(shuffle).__name__}: no shuffle")
    return None


class DatasetIndex:
    """The ids of a dataset's items, in order: ``DatasetIndex(5)``, ``DatasetIndex([..])``,
    ``DatasetIndex(range(..))``, ``DatasetIndex(array)``, ``DatasetIndex(callable)`` or
    another index."""

    def __init__(self, *args: Any, **kwargs: Any):
        index = args[0] if args else kwargs.get("index")
        self._ids = self.build_index(index)
        self._pos: Optional[dict] = None
        self._iter: Optional[Iterator[List[int]]] = None
        self._iter_done = False
        self.train: Optional["DatasetIndex"] = None
        self.test: Optional["DatasetIndex"] = None
        self.validation: Optional["DatasetIndex"] = None

    @staticmethod
    def build_index(index: Any) -> np.ndarray:
        """The id array of ``index`` (BatchFlow's rules)."""
        if isinstance(index, DatasetIndex):
            return index._ids
        if callable(index):
            index = index()
        if isinstance(index, (bool, np.bool_)):
            index = int(index)
        counted = isinstance(index, (int, np.integer))
        if counted:
            ids = np.arange(index)
        else:
            ids = np.asarray(index)
            if ids.ndim == 0:
                ids = ids.reshape(1)
        if ids.ndim > 1:
            raise TypeError("the index should be 1-dimensional")
        if len(ids) == 0:
            raise ValueError("Index cannot be empty")
        # `range(n)` is unique by construction: no sort of its n ids (for a table of millions
        # of rows, np.unique's sort costs several times the ids' memory)
        if not counted and len(np.unique(ids)) != len(ids):
            warnings.warn("Index contains non-unique elements")
        return ids

    # basics
    @property
    def indices(self) -> np.ndarray:
        """The ids."""
        return self._ids

    @property
    def index(self) -> np.ndarray:
        """The ids (same as ``indices``)."""
        return self._ids

    @property
    def size(self) -> int:
        """The number of items."""
        return len(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self):
        return iter(self._ids)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._ids!r})"

    def __add__(self, other: Any) -> "DatasetIndex":
        if not isinstance(other, DatasetIndex):
            other = DatasetIndex(other)
        return self.create_subset(np.concatenate([self._ids, other._ids]))

    @classmethod
    def concat(cls, *indices: "DatasetIndex") -> "DatasetIndex":
        """The ids of all ``indices``, one after the other."""
        first, *rest = indices
        for other in rest:
            first = first + other
        return first

    def _positions(self) -> dict:
        if self._pos is None:
            self._pos = {v: i for i, v in enumerate(self._ids.tolist())}
        return self._pos

    def get_pos(self, index: Any) -> Any:
        """The position of an id, an array of positions of ids, or a slice of positions."""
        pos = self._positions()
        if isinstance(index, slice):
            start = None if index.start is None else pos[index.start]
            stop = None if index.stop is None else pos[index.stop]
            return slice(start, stop, index.step)
        if isinstance(index, (str, bytes)) or np.isscalar(index):
            key = index.item() if isinstance(index, np.generic) else index
            if key not in pos:
                raise KeyError(f"id {index!r} is not in the index")
            return pos[key]
        out = []
        for i in (index.indices if isinstance(index, DatasetIndex) else index):
            key = i.item() if isinstance(i, np.generic) else i
            if key not in pos:
                raise KeyError(f"id {i!r} is not in the index")
            out.append(pos[key])
        return np.asarray(out, dtype=np.int64)

    def subset_by_pos(self, pos: Any) -> np.ndarray:
        """The ids at positions ``pos``."""
        return self._ids[pos]

    def create_subset(self, index: Any) -> "DatasetIndex":
        """A new index of the same class with the ids ``index``."""
        new = type(self).__new__(type(self))
        DatasetIndex.__init__(new, index)
        self._copy_attrs(new)
        return new

    def _batch_subset(self, positions: Any) -> "DatasetIndex":
        """The sub-index of a batch's positions, without the checks of a new index."""
        new = object.__new__(type(self))
        d = new.__dict__
        d["_ids"] = self._ids[positions]
        d["_pos"] = None
        d["_iter"] = None
        d["_iter_done"] = False
        d["train"] = d["test"] = d["validation"] = None
        self._copy_attrs(new)
        return new

    def _copy_attrs(self, new: "DatasetIndex") -> None:
        """Copies what an index keeps besides the ids: the native data of a table dataset
        or an image folder (its subsets and splits keep it), and what a subclass adds
        (FilesIndex: the paths)."""
        for key in ("_native_table", "_native_images"):
            native = self.__dict__.get(key)
            if native is not None:
                new.__dict__[key] = native

    def create_batch(self, index: Any, pos: bool = True, as_array: bool = False) -> Any:
        """The sub-index of the positions (``pos=True``) or ids ``index``."""
        if isinstance(index, DatasetIndex):
            index = index.indices
        ids = self.subset_by_pos(index) if pos else np.asarray(index)
        return ids if as_array else self.create_subset(ids)

    # split
    def calc_split(self, shares: Any = 0.8) -> Tuple[int, int, int]:
        """The sizes (train, test, validation) of ``split(shares)``."""
        return calc_split(len(self), shares)

    def shuffle(self, shuffle: Any) -> np.ndarray:
        """An order of the positions: index order, or a permutation."""
        seed = _shuffle_seed(shuffle)
        if seed is None:
            return np.arange(len(self))
        return np.random.default_rng(seed).permutation(len(self))

    def split(self, shares: Any = 0.8, shuffle: Any = False) -> None:
        """Splits into ``train``, ``test`` and ``validation`` sub-indices (BatchFlow's sizes;
        validation gets the first positions of the order, then test, then train)."""
        train, test, valid = self.calc_split(shares)
        order = self.shuffle(shuffle)
        # The parts of a permutation of unique ids: built without create_subset's checks
        # (its uniqueness check sorts the ids, several times their memory for a large table).
        self.validation = self._batch_subset(order[:valid]) if valid else None
        self.test = self._batch_subset(order[valid:valid + test]) if test else None
        self.train = self._batch_subset(order[valid + test:]) if train else None

    # iteration
    def reset(self, what: Any = "iter") -> None:
        """Forgets the position of ``next_batch``."""
        self._iter = None
        self._iter_done = False

    def reset_iter(self) -> None:
        """Forgets the position of ``next_batch``."""
        self.reset("iter")

    def _check(self, batch_size: int, n_iters: Any, n_epochs: Any) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
            raise TypeError(f"batch_size must be an int, not {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if batch_size > len(self):
            raise ValueError("Batch size cannot be larger than the dataset size")
        if n_iters is not None and n_epochs is not None:
            raise ValueError("Only one of n_iters and n_epochs should be specified")

    def _positions_iter(self, batch_size: int, shuffle: Any, n_iters: Any, n_epochs: Any,
                        drop_last: bool) -> Iterator[List[int]]:
        self._check(batch_size, n_iters, n_epochs)
        if n_epochs == 0 or n_iters == 0:
            return iter(())
        return _batchline.batch_positions(len(self), int(batch_size), _shuffle_seed(shuffle),
                                          n_epochs, n_iters, bool(drop_last))

    def next_batch(self, batch_size: int, shuffle: Any = False, n_iters: Any = None,
                   n_epochs: Any = None, drop_last: bool = False, iter_params: Any = None) -> Any:
        """The next batch of a stateful iteration (endless without a limit); raises
        ``StopIteration`` when it is over."""
        if self._iter is None:
            self._iter = self._positions_iter(batch_size, shuffle, n_iters, n_epochs, drop_last)
        positions = next(self._iter)
        return self.create_batch(positions)

    def gen_batch(self, batch_size: int, shuffle: Any = False, n_iters: Any = None,
                  n_epochs: Any = None, drop_last: bool = False, notifier: Any = False,
                  iter_params: Any = None) -> Iterator[Any]:
        """Batches (sub-indices) of a fresh iteration (endless without a limit)."""
        for positions in self._positions_iter(batch_size, shuffle, n_iters, n_epochs, drop_last):
            yield self.create_batch(positions)


def _file_id(path: str, no_ext: bool) -> str:
    name = os.path.basename(path.rstrip(os.sep))
    if no_ext:
        dot = name.rfind(".")
        if dot > 0:
            name = name[:dot]
    return name


class FilesIndex(DatasetIndex):
    """An index of files (or directories with ``dirs=True``) matched by glob patterns
    (``**`` allowed): the id of a file is its name (without the extension with
    ``no_ext=True``); ``get_fullpath(id)`` gives its path."""

    def __init__(self, *args: Any, path: Union[str, Sequence[str], None] = None,
                 no_ext: bool = False, dirs: bool = False, sort: bool = False,
                 index: Any = None, paths: Any = None, **kwargs: Any):
        if args and path is None and index is None:
            path = args[0]
        if path is None and index is not None:
            ids = DatasetIndex.build_index(index)
            if paths is None:
                raise ValueError("FilesIndex(index=...) needs paths=")
            if isinstance(paths, dict):
                mapping = {k: str(paths[k]) for k in ids.tolist()}
            else:
                mapping = dict(zip(ids.tolist(), [str(p) for p in paths]))
            self._init_files(ids, mapping)
            return
        patterns = [path] if isinstance(path, str) else path
        if patterns is None:
            raise TypeError("FilesIndex needs path= (a glob pattern or a list of them)")
        if not isinstance(patterns, (list, tuple)):
            raise TypeError(f"path must be a string or a list of strings, not {type(path).__name__}")
        if len(patterns) == 0:
            raise ValueError("FilesIndex(path=[]) has no pattern")
        found: List[str] = []
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise TypeError(f"a path pattern must be a string, not {type(pattern).__name__}")
            matches = [p for p in _glob.glob(pattern, recursive=True)
                       if (os.path.isdir(p) if dirs else os.path.isfile(p))]
            if not matches and pattern:
                warnings.warn(f"No items to index in {pattern}")
            found.extend(matches)
        mapping = {}
        for p in found:
            key = _file_id(p, no_ext)
            if key in mapping and mapping[key] != os.path.abspath(p):
                raise ValueError(f"Index contains non-unique elements, which leads to path "
                                 f"collision: {mapping[key]!r} and {p!r} give the id {key!r}")
            mapping[key] = os.path.abspath(p)
        keys = list(mapping)
        if sort:
            keys.sort()
        self._init_files(np.asarray(keys, dtype=object) if keys else np.asarray([], dtype=object),
                         mapping)

    def _init_files(self, ids: np.ndarray, mapping: dict) -> None:
        self._ids = ids
        self._paths = mapping
        self._pos = None
        self._iter = None
        self._iter_done = False
        self.train = self.test = self.validation = None

    def _copy_attrs(self, new: DatasetIndex) -> None:
        super()._copy_attrs(new)
        new._paths = {k: self._paths[k] for k in new._ids.tolist()}  # type: ignore[attr-defined]

    @property
    def paths(self) -> dict:
        """The full path of every id."""
        return self._paths

    def get_fullpath(self, id: Any) -> str:
        """The full path of the file ``id``."""
        return self._paths[id]

"""``Dataset``: an index, a batch class and optional preloaded data; ``dataset.p`` starts a
pipeline."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

import numpy as np

from .batch import Batch
from .index import DatasetIndex

__all__ = ["Dataset"]


class Dataset:
    """``Dataset(index, batch_class=Batch, preloaded=None, copy=False, **attrs)``: ``index``
    is a ``DatasetIndex`` or anything it accepts (``Dataset(100)``). An ``ImagesBatch``
    dataset of a ``FilesIndex`` takes ``masks=`` (a glob, a list of paths or a
    ``FilesIndex``): the mask of each image is the file of the same name without its
    extension (``img/0001.jpg`` and ``masks/0001.png``)."""

    def __init__(self, index: Any, batch_class: type = Batch, *args: Any, preloaded: Any = None,
                 copy: bool = False, **kwargs: Any):
        if not (isinstance(batch_class, type) and issubclass(batch_class, Batch)):
            raise TypeError(f"batch_class must be Batch or a subclass of it, not {batch_class!r}")
        self.index = index if isinstance(index, DatasetIndex) else DatasetIndex(index)
        self.batch_class = batch_class
        self.preloaded = preloaded
        self._copy = copy
        self._attrs = dict(kwargs)
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.train: Optional["Dataset"] = None
        self.test: Optional["Dataset"] = None
        self.validation: Optional["Dataset"] = None
        # The native data of an ImagesBatch of files (with its masks) or of a TableBatch.
        self._native: Dict[str, Any] = batch_class._native_data(self.index, kwargs)

    @property
    def indices(self) -> np.ndarray:
        """The ids."""
        return self.index.indices

    @property
    def size(self) -> int:
        """The number of items."""
        return len(self.index)

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"Dataset({len(self)} items, {self.batch_class.__name__})"

    @property
    def data(self) -> Any:
        """The preloaded data."""
        return self.preloaded

    # pipelines: the pipeline module, a layer above this one, registers its class here
    _pipeline_class: Any = None

    @property
    def p(self) -> Any:
        """A new empty pipeline over this dataset."""
        return self.pipeline()

    def pipeline(self, config: Any = None) -> Any:
        """A new empty pipeline over this dataset, with ``config``."""
        return Dataset._pipeline_class(self, config=config)

    def __rshift__(self, other: Any) -> Any:
        if not isinstance(other, Dataset._pipeline_class):
            raise TypeError(f"dataset >> x needs a Pipeline, not {type(other).__name__}")
        return other << self

    # batches and subsets
    def create_batch(self, index: Any, pos: bool = False, **kwargs: Any) -> Batch:
        """A batch of the ids ``index`` (positions with ``pos=True``)."""
        if not isinstance(index, DatasetIndex):
            index = self.index.create_batch(index, pos=pos)
        return self.batch_class(index, dataset=self, preloaded=self.preloaded, copy=self._copy,
                                **kwargs)

    def _batch_of_positions(self, positions: Any, **kwargs: Any) -> Batch:
        return self.create_batch(self.index.create_batch(positions, pos=True), **kwargs)

    def create_subset(self, index: Any) -> "Dataset":
        """The dataset of the ids ``index`` (``IndexError`` if one is not in this one)."""
        ids = index.indices if isinstance(index, DatasetIndex) else np.asarray(index)
        try:
            self.index.get_pos(ids)
        except KeyError as e:
            raise IndexError(f"create_subset: {e}") from None
        sub = index if isinstance(index, DatasetIndex) else self.index.create_subset(ids)
        return self.from_dataset(sub)

    def from_dataset(self, index: DatasetIndex) -> "Dataset":
        """A dataset sharing the batch class, preloaded data and attributes, over ``index``."""
        return type(self)(index, self.batch_class, preloaded=self.preloaded, copy=self._copy,
                          **self._attrs)

    def copy(self) -> "Dataset":
        """A shallow copy."""
        return self.from_dataset(self.index)

    def split(self, shares: Any = 0.8, shuffle: Any = False) -> None:
        """Splits into ``train``, ``test`` (and ``validation``) datasets, as
        ``DatasetIndex.split``."""
        self.index.split(shares, shuffle)
        for part in ("train", "test", "validation"):
            sub = getattr(self.index, part)
            setattr(self, part, self.from_dataset(sub) if sub is not None else None)

    def calc_split(self, shares: Any = 0.8) -> Any:
        """The sizes (train, test, validation) of ``split(shares)``."""
        return self.index.calc_split(shares)

    # iteration without a pipeline
    def next_batch(self, batch_size: int, shuffle: Any = False, n_iters: Any = None,
                   n_epochs: Any = None, drop_last: bool = False, **kwargs: Any) -> Batch:
        """The next batch of the index's stateful iteration (endless without a limit)."""
        sub = self.index.next_batch(batch_size, shuffle, n_iters, n_epochs, drop_last)
        return self.create_batch(sub, **kwargs)

    def gen_batch(self, batch_size: int, shuffle: Any = False, n_iters: Any = None,
                  n_epochs: Any = None, drop_last: bool = False, **kwargs: Any
                  ) -> Iterator[Batch]:
        """Batches of a fresh iteration (endless without a limit)."""
        for sub in self.index.gen_batch(batch_size, shuffle, n_iters, n_epochs, drop_last):
            yield self.create_batch(sub, **kwargs)

    def reset(self, what: Any = "iter") -> None:
        """Forgets the position of ``next_batch``."""
        self.index.reset(what)

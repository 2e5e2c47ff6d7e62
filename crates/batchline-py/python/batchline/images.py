"""``ImagesBatch``: native image actions, run in Rust on all cores without the GIL.

``load``, ``resize(size=(w, h))``, ``to_tensor(layout='nchw', mean=, std=)`` and
``to_tensor_u8`` are steps of the engine; a Python ``@action`` after them reads
``self.images`` as NumPy: a list of ``H x W x C`` ``uint8`` arrays, or one array after
``to_tensor`` (float32) / ``to_tensor_u8``, which owns the Rust allocation (no copy).
PyTorch: ``torch.from_numpy(batch.images)``; JAX: ``jax.numpy.asarray(batch.images)``.
The dataset is a ``Dataset(FilesIndex(...), ImagesBatch)``. Native actions come before the
Python actions of a pipeline.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from .batch import _ACTION, Batch

__all__ = ["ImagesBatch"]


def _native(op: str, to_kwargs: Callable[..., Dict[str, Any]], doc: str) -> Callable:
    def method(self: "ImagesBatch", *args: Any, **kwargs: Any) -> "ImagesBatch":
        raise RuntimeError(f"ImagesBatch.{op} is a native action: use it in a pipeline "
                           f"(dataset.p.{op}(...))")

    def emit(plan: Any, *args: Any, **kwargs: Any) -> None:
        try:
            options = to_kwargs(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"action {op!r}: {e}") from None
        plan.images_op(op, options)

    method.__name__ = op
    method.__doc__ = doc
    setattr(method, _ACTION, {"use_lock": False, "no_eval": ()})
    setattr(method, "_batchline_native", emit)
    return method


def _load(fmt: str = "image", dst: str = "images", src: Any = None) -> Dict[str, Any]:
    if fmt != "image" or dst != "images" or src is not None:
        raise TypeError("native load reads the dataset's files: fmt='image', dst='images'")
    return {}


def _resize(size: Tuple[int, int], filter: str = "bilinear") -> Dict[str, Any]:
    return {"size": tuple(size), "filter": filter}


def _to_tensor(layout: str = "nchw", mean: Optional[Any] = None,
               std: Optional[Any] = None) -> Dict[str, Any]:
    return {"layout": layout, "mean": list(mean) if mean is not None else None,
            "std": list(std) if std is not None else None}


def _to_tensor_u8(layout: str = "nchw") -> Dict[str, Any]:
    return {"layout": layout}


class ImagesBatch(Batch):
    """A batch of images from files, with native actions (see the module documentation)."""

    components = ("images", "labels", "masks")

    load = _native("load", _load, "Decodes the batch's files (PNG, JPEG) in parallel.")
    resize = _native("resize", _resize, "Resizes every image to size=(width, height).")
    to_tensor = _native("to_tensor", _to_tensor,
                        "Stacks the images into one float32 array scaled to 0-1 (then "
                        "normalised with mean and std per channel).")
    to_tensor_u8 = _native("to_tensor_u8", _to_tensor_u8,
                           "Stacks the images into one uint8 array.")

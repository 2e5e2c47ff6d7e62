"""``ImagesBatch``: native image actions, run in Rust on all cores without the GIL.

Every image action of the Rust crate is a step of the engine, with BatchFlow's argument
names where BatchFlow has the action (sizes are ``(width, height)``, as in BatchFlow and PIL):

* loading: ``load(fmt='image', dst='images', on_error='raise', lenient=False,
  max_pixels=None, dct_scaling=False, fuse=True)`` (``on_error='drop'`` drops the files that do not load:
  the batch shrinks, its labels stay aligned, and the run's report counts them in
  ``dropped``);
* geometry: ``resize(size=(w, h))``, ``scale(factor)``, ``crop(origin, shape)``,
  ``center_crop(size)``, ``random_crop(size)``, ``flip(mode='lr', p=1.0)``,
  ``random_flip(mode='lr', p=0.5)``, ``rotate(angle)``, ``random_rotate(angle=(low, high))``,
  ``pad(border, fill=0)``, ``resize_shorter(size)``,
  ``random_resized_crop(size, scale=(0.08, 1.0), ratio=(3/4, 4/3))``;
* colour: ``brightness(delta)``, ``contrast(factor)``, ``additive_noise(sigma)``,
  ``multiplicative_noise(sigma)``, ``cutout(shape, color=0)``, ``to_greyscale()``,
  ``convert(mode)``, ``colour_jitter(brightness, contrast, saturation, hue)``,
  ``random_grayscale(p=0.1)``, ``gaussian_blur(kernel_size, sigma=(0.1, 2.0))``,
  ``random_erasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)``,
  ``trivial_augment_wide()``;
* output: ``to_tensor(layout='nchw', mean=, std=)``, ``to_tensor_u8(layout='nchw')``,
  ``dump(dst)``.

One pass per image: ``load`` and the steps right after it that work on one image at a time
(``resize``, ``scale``, the crops, ``flip`` / ``random_flip``, ``convert``,
``resize_shorter``, ``random_resized_crop``, then ``to_tensor``) run as one step of the
engine (named ``load+resize+...`` in errors and profiles), each image transformed right after
it is decoded. The images are those of the separate actions (after a ``load(on_error='drop')``
that drops an item, the random parameters of the items after it are those of their positions
before the drop); ``dct_scaling=True`` also decodes a JPEG at 1/2, 1/4 or 1/8 of its size when
the first step shrinks it at least that much (faster, and the pixels differ by a mean of at
most 1.5 of 255). ``load(fuse=False)`` runs every step as an action of its own (to profile
them one by one).

Random actions draw per image from the run's seed: a seeded run gives the same images for any
``prefetch``. A Python ``@action`` after them reads ``self.images`` as NumPy: a list of
``H x W x C`` ``uint8`` arrays, or one array after ``to_tensor`` (float32) / ``to_tensor_u8``,
which owns the Rust allocation (no copy). PyTorch: ``torch.from_numpy(batch.images)``; JAX:
``jax.numpy.asarray(batch.images)``. The dataset is a ``Dataset(FilesIndex(...), ImagesBatch)``,
or ``image_folder(root)`` (``ImagesBatch.image_folder(root)``), whose labels reach
``batch.labels``. ``Dataset(FilesIndex(...), ImagesBatch, masks='masks/*.png')`` gives each
image the mask file of the same name (without extension): ``batch.masks`` is a list of
``H x W`` ``uint8`` arrays, moved (nearest filter) with their images by every geometric
action. Native actions come before the Python actions of a pipeline. Bad arguments raise
``TypeError`` / ``ValueError`` naming the action when the run starts.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ._native import native_action
from .batch import Batch

__all__ = ["ImagesBatch", "image_folder"]

Size = Union[int, Tuple[int, int]]
Range = Tuple[float, float]


def _native(op: str, signature: Callable[..., Dict[str, Any]], doc: str) -> Callable:
    """The method ``op`` of ``ImagesBatch``: a native image action."""
    return native_action("images", op, signature, doc)


def _load(fmt: str = "image", dst: str = "images", src: Any = None, on_error: str = "raise",
          lenient: bool = False, max_pixels: Optional[int] = None,
          dct_scaling: bool = False, fuse: bool = True) -> Dict[str, Any]:
    if fmt != "image" or dst != "images" or src is not None:
        raise TypeError("native load reads the dataset's files: fmt='image', dst='images'")
    return {"on_error": on_error, "lenient": lenient, "max_pixels": max_pixels,
            "dct_scaling": dct_scaling, "fuse": fuse}


def _resize(size: Tuple[int, int], filter: str = "bilinear") -> Dict[str, Any]:
    return {"size": size, "filter": filter}


def _scale(factor: float, filter: str = "bilinear") -> Dict[str, Any]:
    return {"factor": factor, "filter": filter}


def _crop(origin: Union[str, Tuple[int, int]], shape: Tuple[int, int]) -> Dict[str, Any]:
    return {"origin": origin, "shape": shape}


def _size(size: Size) -> Dict[str, Any]:
    return {"size": size}


def _flip(mode: str = "lr", p: float = 1.0) -> Dict[str, Any]:
    return {"mode": mode, "p": p}


def _random_flip(mode: str = "lr", p: float = 0.5) -> Dict[str, Any]:
    return {"mode": mode, "p": p}


def _angle(angle: Any) -> Dict[str, Any]:
    return {"angle": angle}


def _pad(border: Union[int, Sequence[int]], fill: int = 0) -> Dict[str, Any]:
    return {"border": border, "fill": fill}


def _brightness(delta: float) -> Dict[str, Any]:
    return {"delta": delta}


def _contrast(factor: float) -> Dict[str, Any]:
    return {"factor": factor}


def _sigma(sigma: float) -> Dict[str, Any]:
    return {"sigma": sigma}


def _cutout(shape: Size, color: int = 0) -> Dict[str, Any]:
    return {"shape": shape, "color": color}


def _none() -> Dict[str, Any]:
    return {}


def _convert(mode: str) -> Dict[str, Any]:
    return {"mode": mode}


def _resize_shorter(size: int, filter: str = "bilinear") -> Dict[str, Any]:
    return {"size": size, "filter": filter}


def _random_resized_crop(size: Size, scale: Range = (0.08, 1.0),
                         ratio: Range = (3.0 / 4.0, 4.0 / 3.0),
                         filter: str = "bilinear") -> Dict[str, Any]:
    return {"size": size, "scale": scale, "ratio": ratio, "filter": filter}


def _colour_jitter(brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                   hue: float = 0.0) -> Dict[str, Any]:
    return {"brightness": brightness, "contrast": contrast, "saturation": saturation,
            "hue": hue}


def _random_grayscale(p: float = 0.1) -> Dict[str, Any]:
    return {"p": p}


def _gaussian_blur(kernel_size: int, sigma: Union[float, Range] = (0.1, 2.0)) -> Dict[str, Any]:
    return {"kernel_size": kernel_size, "sigma": sigma}


def _random_erasing(p: float = 0.5, scale: Range = (0.02, 0.33), ratio: Range = (0.3, 3.3),
                    value: float = 0.0) -> Dict[str, Any]:
    return {"p": p, "scale": scale, "ratio": ratio, "value": value}


def _to_tensor(layout: str = "nchw", mean: Optional[Any] = None,
               std: Optional[Any] = None) -> Dict[str, Any]:
    return {"layout": layout, "mean": list(mean) if mean is not None else None,
            "std": list(std) if std is not None else None}


def _to_tensor_u8(layout: str = "nchw") -> Dict[str, Any]:
    return {"layout": layout}


def _dump(dst: Any, fmt: Optional[str] = "png") -> Dict[str, Any]:
    if fmt not in (None, "png"):
        raise TypeError(f"native dump writes PNG files (fmt='png'), not fmt={fmt!r}")
    return {"dst": dst}


_GREY = "Converts every image to grey (keeping alpha)."
_JITTER = ("torchvision's ColorJitter: per image, brightness, contrast, saturation and hue "
           "factors drawn from [max(0, 1 - x), 1 + x] (hue: [-hue, hue], hue <= 0.5), applied "
           "in a random order; 0 leaves one out.")
_RANDOM_GREY = ("torchvision's RandomGrayscale(p): with probability p per image its colour "
                "channels become its grey, keeping the number of channels.")


class ImagesBatch(Batch):
    """A batch of images from files, with native actions (see the module documentation)."""

    components = ("images", "labels", "masks")

    load = _native("load", _load,
                   "Decodes the batch's files (PNG, JPEG) in parallel, with their labels. "
                   "on_error='drop' drops a file that does not load instead of failing the "
                   "batch; lenient=True lets the JPEG decoder fill what it cannot decode; "
                   "max_pixels is the most pixels an image may have.")
    resize = _native("resize", _resize, "Resizes every image to size=(width, height).")
    scale = _native("scale", _scale, "Scales every image by factor, keeping its aspect ratio.")
    crop = _native("crop", _crop,
                   "Crops the shape=(width, height) window at origin: (x, y), 'top_left', "
                   "'center' or 'random' (drawn per image).")
    center_crop = _native("center_crop", _size,
                          "Crops the central window of size=(width, height) (or one int).")
    random_crop = _native("random_crop", _size,
                          "Crops a window of size=(width, height) (or one int) at a random "
                          "place of every image.")
    flip = _native("flip", _flip,
                   "Flips left-right (mode='lr') or up-down (mode='ud'); with p < 1, each "
                   "image with probability p.")
    random_flip = _native("random_flip", _random_flip,
                          "Flips each image with probability p (mode='lr' or 'ud').")
    rotate = _native("rotate", _angle,
                     "Rotates every image by angle degrees counter-clockwise, keeping its size "
                     "(black corners).")
    random_rotate = _native("random_rotate", _angle,
                            "Rotates each image by an angle drawn from angle=(low, high) "
                            "degrees.")
    pad = _native("pad", _pad,
                  "Grows every image by border (PIL's ImageOps.expand: one int, (left/right, "
                  "top/bottom) or (left, top, right, bottom)), filled with fill.")
    brightness = _native("brightness", _brightness,
                         "Adds delta to every colour sample (clamped to 0-255).")
    contrast = _native("contrast", _contrast,
                       "Scales every colour sample's distance from mid-grey by factor.")
    additive_noise = _native("additive_noise", _sigma,
                             "Adds Gaussian noise of standard deviation sigma (in sample "
                             "units), drawn per image.")
    multiplicative_noise = _native("multiplicative_noise", _sigma,
                                   "Multiplies every colour sample by 1 + n, n Gaussian of "
                                   "standard deviation sigma.")
    cutout = _native("cutout", _cutout,
                     "Fills a shape=(width, height) rectangle at a random place of each image "
                     "with color.")
    to_greyscale = _native("to_greyscale", _none, _GREY)
    to_grayscale = _native("to_grayscale", _none, _GREY)
    convert = _native("convert", _convert,
                      "Converts every image to mode 'rgb', 'rgba' or grey ('grey', 'gray', "
                      "'L').")
    resize_shorter = _native("resize_shorter", _resize_shorter,
                             "Resizes every image so that its shorter side is size (torchvision's "
                             "Resize(int)).")
    random_resized_crop = _native("random_resized_crop", _random_resized_crop,
                                  "torchvision's RandomResizedCrop: a window of a random area "
                                  "(scale) and aspect ratio (ratio) resized to size x size.")
    colour_jitter = _native("colour_jitter", _colour_jitter, _JITTER)
    color_jitter = _native("color_jitter", _colour_jitter, _JITTER)
    random_grayscale = _native("random_grayscale", _random_grayscale, _RANDOM_GREY)
    random_greyscale = _native("random_greyscale", _random_grayscale, _RANDOM_GREY)
    gaussian_blur = _native("gaussian_blur", _gaussian_blur,
                            "torchvision's GaussianBlur: an odd kernel_size, sigma drawn per "
                            "image from sigma=(low, high) (or one number).")
    random_erasing = _native("random_erasing", _random_erasing,
                             "torchvision's RandomErasing: with probability p, a window of a "
                             "random area (scale) and ratio set to value (on the tensor after "
                             "to_tensor, on the images before).")
    trivial_augment_wide = _native("trivial_augment_wide", _none,
                                   "torchvision's TrivialAugmentWide: one of 14 operations at "
                                   "a random magnitude per image.")
    to_tensor = _native("to_tensor", _to_tensor,
                        "Stacks the images into one float32 array scaled to 0-1 (then "
                        "normalised with mean and std per channel).")
    to_tensor_u8 = _native("to_tensor_u8", _to_tensor_u8,
                           "Stacks the images into one uint8 array.")
    dump = _native("dump", _dump, "Writes every image as dst/<id>.png (creating dst).")

    @classmethod
    def _native_data(cls, index: Any, attrs: Dict[str, Any]) -> Dict[str, Any]:
        images = _native_images(index, attrs.get("masks"))
        return {} if images is None else {"images": images}

    @classmethod
    def image_folder(cls, root: Any) -> Tuple[Any, List[str], Dict[str, int]]:
        """``image_folder(root)`` with this batch class."""
        return image_folder(root, batch_class=cls)


def _native_images(index: Any, masks: Any) -> Any:
    """The native images of a dataset over ``index`` (a non-empty ``FilesIndex``), with the
    mask files of ``masks`` matched by name; ``None`` for another index (see
    ``ImagesBatch._native_data``)."""
    from . import _batchline
    from .index import FilesIndex

    if not isinstance(index, FilesIndex) or not len(index):
        return None
    folder = index.__dict__.get("_native_images")
    if folder is not None:  # an image folder's: its labels by id
        if masks is not None:
            raise ValueError("masks= is not supported with image_folder")
        return folder.select(index.indices.tolist())
    paths = [index.get_fullpath(i) for i in index.indices.tolist()]
    return _batchline.ImagesData(paths, None if masks is None else _mask_paths(paths, masks))


def _stem(path: str) -> str:
    import os
    return os.path.splitext(os.path.basename(path))[0]


def _mask_paths(paths: List[str], masks: Any) -> List[str]:
    """The mask file of every image of ``paths``: the file of ``masks`` (a glob, a list of
    paths or a ``FilesIndex``) with the image's name without its extension."""
    from .index import FilesIndex

    files = masks if isinstance(masks, FilesIndex) else FilesIndex(path=masks)
    by_stem: Dict[str, str] = {}
    for path in (files.get_fullpath(i) for i in files.indices.tolist()):
        other = by_stem.setdefault(_stem(path), path)
        if other != path:
            raise ValueError(f"masks: {other!r} and {path!r} are both the mask of "
                             f"{_stem(path)!r}")
    missing = [p for p in paths if _stem(p) not in by_stem]
    if missing:
        raise ValueError(f"masks: no mask for {len(missing)} image(s), the first "
                         f"{missing[0]!r} (a mask is the file named like its image, "
                         f"{_stem(missing[0])}.<ext>)")
    return [by_stem[_stem(p)] for p in paths]


def image_folder(root: Any, batch_class: type = ImagesBatch
                 ) -> Tuple[Any, List[str], Dict[str, int]]:
    """The image-classification folder ``root/<class>/.../<image>`` as torchvision's
    ``ImageFolder`` reads it: ``(dataset, classes, class_to_idx)``. The classes are the
    sub-folders of ``root`` sorted by name, labelled 0 to C - 1; the dataset's ids are the
    paths relative to ``root`` (``'cat/0001.jpg'``), and ``load`` gives each batch its
    ``labels`` (an ``int64`` array, aligned with the images after drops too). Its subsets and
    splits keep the labels. ``ValueError`` when ``root`` is not such a folder."""
    import numpy as np

    from . import _batchline
    from .dataset import Dataset
    from .index import FilesIndex

    if not (isinstance(batch_class, type) and issubclass(batch_class, ImagesBatch)):
        raise TypeError(f"image_folder: batch_class must be ImagesBatch or a subclass of it, "
                        f"not {batch_class!r}")
    data, ids, paths, classes, class_to_idx = _batchline.ImagesData.image_folder(str(root))
    index = FilesIndex(index=np.asarray(ids, dtype=object), paths=paths)
    index.__dict__["_native_images"] = data
    return Dataset(index, batch_class), list(classes), dict(class_to_idx)

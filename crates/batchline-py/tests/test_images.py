"""Native ImagesBatch actions from Python: exact pixel values, zero-copy NumPy arrays, a
Python action after native ones, errors naming the action."""

import struct
import zlib

import numpy as np
import pytest

import batchline as bf
from batchline import Dataset, FilesIndex, ImagesBatch, action


def write_png(path, rgb):
    """A plain 8-bit RGB PNG, or grey for a 2-D array (no library needed)."""
    h, w = rgb.shape[:2]
    colour = 2 if rgb.ndim == 3 else 0
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    path.write_bytes(png)


@pytest.fixture
def images_dir(tmp_path):
    pictures = []
    for i in range(5):
        img = np.zeros((4, 6, 3), dtype=np.uint8)
        img[..., 0] = i * 10
        img[..., 1] = np.arange(6)[None, :] * 20
        img[..., 2] = np.arange(4)[:, None] * 30
        write_png(tmp_path / f"img{i}.png", img)
        pictures.append(img)
    return tmp_path, pictures


class Check(ImagesBatch):
    @action
    def mean(self):
        self.means = [float(np.asarray(im).mean()) for im in self.images]
        return self


def test_load_gives_the_exact_pixels(images_dir):
    d, pictures = images_dir
    ds = Dataset(FilesIndex(path=str(d / "*.png"), sort=True), Check)
    got = {}
    for b in ds.p.load().mean().gen_batch(2, prefetch=2):
        for name, im in zip(b.indices, b.images):
            got[name] = im
    assert sorted(got) == [f"img{i}.png" for i in range(5)]
    for i in range(5):
        assert got[f"img{i}.png"].dtype == np.uint8
        assert np.array_equal(got[f"img{i}.png"], pictures[i])


def test_tensor_is_a_numpy_array_without_copy(images_dir):
    d, pictures = images_dir
    ds = Dataset(FilesIndex(path=str(d / "*.png"), sort=True), Check)
    b = ds.p.load().to_tensor_u8(layout="nhwc").next_batch(5)
    t = b.images
    assert isinstance(t, np.ndarray) and t.shape == (5, 4, 6, 3)
    assert np.array_equal(t, np.stack(pictures))
    assert t.base is not None and not t.flags.owndata  # backed by the Rust allocation
    f = ds.p.load().to_tensor().next_batch(5).images
    assert f.dtype == np.float32 and f.shape == (5, 3, 4, 6)
    assert np.allclose(f[2, 0], 20 / 255) and np.allclose(f[0, 1, 0], np.arange(6) * 20 / 255)


def test_resize_then_python(images_dir):
    d, _ = images_dir
    ds = Dataset(FilesIndex(path=str(d / "*.png"), sort=True), Check)
    b = ds.p.load().resize(size=(3, 2)).mean().next_batch(5)
    assert all(im.shape == (2, 3, 3) for im in b.images)
    assert len(b.means) == 5


def test_native_errors_name_the_action(images_dir, tmp_path):
    d, _ = images_dir
    ds = Dataset(FilesIndex(path=str(d / "*.png"), sort=True), Check)
    with pytest.raises(TypeError, match="resize"):
        ds.p.load().resize().run(2)
    with pytest.raises(ValueError, match="resize"):
        ds.p.load().resize(size="big").run(2)
    with pytest.raises(ValueError, match="layout"):
        ds.p.load().to_tensor(layout="xyz").run(2)
    (d / "img9.png").write_bytes(b"not a png")
    ds = Dataset(FilesIndex(path=str(d / "*.png"), sort=True), Check)
    with pytest.raises(bf.ActionFailed, match='action "load".*img9'):
        ds.p.load().run(1)

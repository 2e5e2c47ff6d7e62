"""Batches of native images handed to PyTorch and JAX without a copy (the images are made
here): python3 crates/batchline-py/examples/to_torch_and_jax.py

batch.images (after to_tensor) is a float32 NumPy array that owns the Rust allocation:
torch.from_numpy shares it, and jax.numpy.asarray / jax.dlpack take it from there. Neither
library is a dependency of batchline: each part runs when it is importable."""
import struct
import tempfile
import zlib

import numpy as np

import batchline as bf


def write_png(path, rgb):
    """An 8-bit RGB PNG (no imaging library needed)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb)

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


folder = tempfile.mkdtemp()
rng = np.random.default_rng(0)
for i in range(64):
    write_png(f"{folder}/{i}.png", rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))

ds = bf.Dataset(bf.FilesIndex(path=f"{folder}/*.png"), bf.ImagesBatch)
pipeline = ds.p.load().random_resized_crop(32).random_flip().to_tensor(
    mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))

try:
    import torch
except ImportError:
    torch = None
try:
    import jax.numpy as jnp
except ImportError:
    jnp = None

for batch in pipeline.gen_batch(16, shuffle=1, n_epochs=1, prefetch=2):
    images = batch.images  # (16, 3, 32, 32) float32, owned by Rust
    if torch is not None:
        t = torch.from_numpy(images)  # no copy: the same memory
        assert t.data_ptr() == images.ctypes.data
    if jnp is not None:
        j = jnp.asarray(images)  # on the CPU backend, a view where the alignment allows
        assert j.shape == images.shape
print(f"torch: {'shared' if torch is not None else 'not installed'}, "
      f"jax: {'converted' if jnp is not None else 'not installed'}, shape {images.shape}")

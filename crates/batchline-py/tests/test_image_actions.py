"""Every native image action of ImagesBatch from Python: exact pixels for the deterministic
ones, shapes for the resizing ones, seeded randomness that does not depend on prefetch,
load's options (on_error='drop' keeps the batch aligned), and bad arguments naming the
action."""

import os

import numpy as np
import pytest

import batchline as bf
from batchline import Dataset, FilesIndex, ImagesBatch

from test_images import write_png


def picture(i=0):
    """A 4 x 6 RGB image with a distinct value in every sample."""
    img = np.zeros((4, 6, 3), dtype=np.uint8)
    img[..., 0] = 10 + i * 10
    img[..., 1] = np.arange(6)[None, :] * 20
    img[..., 2] = np.arange(4)[:, None] * 30 + 5
    return img


@pytest.fixture
def one(tmp_path):
    """A dataset of one picture, and the picture."""
    write_png(tmp_path / "a.png", picture())
    return Dataset(FilesIndex(path=str(tmp_path / "*.png")), ImagesBatch), picture()


def first(pipeline, **run):
    """The first image of the first batch."""
    return pipeline.next_batch(1, **run).images[0]


# deterministic actions: exact pixels

def test_crop_at_a_point_and_by_name(one):
    ds, pic = one
    assert np.array_equal(first(ds.p.load().crop(origin=(1, 2), shape=(3, 2))), pic[2:4, 1:4])
    assert np.array_equal(first(ds.p.load().crop(origin="top_left", shape=(2, 3))), pic[:3, :2])
    # torchvision's centre: round((6 - 2) / 2) = 2, round((4 - 2) / 2) = 1
    assert np.array_equal(first(ds.p.load().crop(origin="center", shape=(2, 2))), pic[1:3, 2:4])
    out = first(ds.p.load().crop(origin="random", shape=(6, 4)))
    assert np.array_equal(out, pic)


def test_center_crop_and_random_crop(one):
    ds, pic = one
    assert np.array_equal(first(ds.p.load().center_crop(size=(2, 2))), pic[1:3, 2:4])
    assert np.array_equal(first(ds.p.load().center_crop(size=2)), pic[1:3, 2:4])
    assert np.array_equal(first(ds.p.load().center_crop(size=(4, 3))), pic[0:3, 1:5])
    out = first(ds.p.load().random_crop(size=(3, 2)), shuffle=-5)
    assert out.shape == (2, 3, 3)
    windows = [pic[y:y + 2, x:x + 3] for y in range(3) for x in range(4)]
    assert any(np.array_equal(out, w) for w in windows)


def test_flip_lr_ud(one):
    ds, pic = one
    assert np.array_equal(first(ds.p.load().flip()), pic[:, ::-1])
    assert np.array_equal(first(ds.p.load().flip(mode="lr")), pic[:, ::-1])
    assert np.array_equal(first(ds.p.load().flip(mode="ud")), pic[::-1])
    assert np.array_equal(first(ds.p.load().flip(mode="ud", p=1.0)), pic[::-1])
    assert np.array_equal(first(ds.p.load().flip(mode="lr", p=0.0)), pic)
    assert np.array_equal(first(ds.p.load().random_flip(mode="ud", p=1.0)), pic[::-1])


def test_pad_takes_pil_borders(one):
    ds, pic = one
    out = first(ds.p.load().pad(border=(1, 2, 3, 4), fill=7))  # left, top, right, bottom
    assert out.shape == (4 + 2 + 4, 6 + 1 + 3, 3)
    assert np.array_equal(out[2:6, 1:7], pic)
    mask = np.ones(out.shape, bool)
    mask[2:6, 1:7] = False
    assert (out[mask] == 7).all()
    out = first(ds.p.load().pad(border=1))
    assert out.shape == (6, 8, 3) and np.array_equal(out[1:5, 1:7], pic) and out[0].sum() == 0
    out = first(ds.p.load().pad(border=(2, 1), fill=3))  # left/right, top/bottom
    assert out.shape == (6, 10, 3) and np.array_equal(out[1:5, 2:8], pic)


def test_greyscale_and_convert(tmp_path):
    grey = np.repeat(np.arange(24, dtype=np.uint8).reshape(4, 6, 1) * 10, 3, axis=2)
    write_png(tmp_path / "g.png", grey)
    ds = Dataset(FilesIndex(path=str(tmp_path / "*.png")), ImagesBatch)
    for p in (ds.p.load().to_greyscale(), ds.p.load().to_grayscale(),
              ds.p.load().convert("L"), ds.p.load().convert(mode="grey"),
              ds.p.load().convert("gray")):
        out = first(p)
        assert out.shape == (4, 6, 1)
        assert np.array_equal(out[..., 0], grey[..., 0])
    rgba = first(ds.p.load().convert("RGBA"))
    assert rgba.shape == (4, 6, 4)
    assert np.array_equal(rgba[..., :3], grey) and (rgba[..., 3] == 255).all()
    back = first(ds.p.load().to_greyscale().convert("rgb"))
    assert back.shape == (4, 6, 3) and np.array_equal(back, grey)


def test_colour_greyscale_agrees_with_convert(one):
    ds, pic = one
    g = first(ds.p.load().to_greyscale())
    assert g.shape == (4, 6, 1)
    assert np.array_equal(g, first(ds.p.load().convert("L")))
    lo, hi = pic.min(axis=2), pic.max(axis=2)
    assert ((g[..., 0] >= lo) & (g[..., 0] <= hi)).all()


def test_brightness_and_contrast_are_exact(one):
    ds, pic = one
    out = first(ds.p.load().brightness(delta=200))
    assert np.array_equal(out, np.minimum(pic.astype(int) + 200, 255))
    out = first(ds.p.load().brightness(delta=-20))
    assert np.array_equal(out, np.maximum(pic.astype(int) - 20, 0))
    assert np.array_equal(first(ds.p.load().contrast(factor=1.0)), pic)
    assert (first(ds.p.load().contrast(factor=0.0)) == 128).all()


def test_sizes_of_the_resizing_actions(one):
    ds, _ = one
    # the shorter side (4) becomes 2, the longer int(2 * 6 / 4) = 3
    assert first(ds.p.load().resize_shorter(size=2)).shape == (2, 3, 3)
    assert first(ds.p.load().resize_shorter(8)).shape == (8, 12, 3)
    assert first(ds.p.load().scale(factor=0.5)).shape == (2, 3, 3)
    assert first(ds.p.load().random_resized_crop(size=5), shuffle=-1).shape == (5, 5, 3)
    rrc = ds.p.load().random_resized_crop(size=(3, 3), scale=(0.5, 1.0), ratio=(1.0, 1.0))
    assert first(rrc, shuffle=-1).shape == (3, 3, 3)
    assert first(ds.p.load().rotate(angle=30)).shape == (4, 6, 3)
    assert first(ds.p.load().resize(size=(3, 2), filter="nearest")).shape == (2, 3, 3)


def test_identity_parameters_leave_images_alone(one):
    ds, pic = one
    for p in (ds.p.load().rotate(angle=0), ds.p.load().additive_noise(sigma=0),
              ds.p.load().multiplicative_noise(sigma=0.0), ds.p.load().colour_jitter(),
              ds.p.load().random_grayscale(p=0.0), ds.p.load().random_erasing(p=0.0)):
        assert np.array_equal(first(p, shuffle=-3), pic)


def test_cutout_fills_one_rectangle(one):
    ds, pic = one
    out = first(ds.p.load().cutout(shape=(2, 2), color=255), shuffle=-4)
    changed = (out != pic).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert 0 < len(ys) <= 4
    assert ys.max() - ys.min() < 2 and xs.max() - xs.min() < 2
    assert (out[changed] == 255).all()


def test_random_erasing_on_the_tensor(one):
    ds, pic = one
    t = ds.p.load().to_tensor().random_erasing(p=1.0, scale=(0.2, 0.3), ratio=(1.0, 1.0),
                                               value=-1.0).next_batch(1, shuffle=-2).images
    assert t.shape == (1, 3, 4, 6)
    erased = (t == -1.0).all(axis=1)[0]
    assert 1 <= erased.sum() <= 9
    assert np.allclose(t[0][:, ~erased], pic.transpose(2, 0, 1)[:, ~erased] / 255)


def test_dump_writes_pngs_that_load_back(one, tmp_path):
    ds, pic = one
    out = tmp_path / "out"
    ds.p.load().flip().dump(dst=str(out)).run(1, n_epochs=1)
    files = sorted(p.name for p in out.iterdir())
    assert files == ["a.png.png"]
    back = Dataset(FilesIndex(path=str(out / "*.png")), ImagesBatch)
    assert np.array_equal(first(back.p.load()), pic[:, ::-1])


# randomness: seeded, the same for any prefetch, different from image to image

@pytest.fixture
def copies(tmp_path):
    """Eight files of one 16 x 16 random image."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    for i in range(8):
        write_png(tmp_path / f"c{i}.png", img)
    return Dataset(FilesIndex(path=str(tmp_path / "*.png"), sort=True), ImagesBatch), img


RANDOM = [
    ("random_crop", dict(size=(8, 8))),
    ("crop", dict(origin="random", shape=(8, 8))),
    ("flip", dict(mode="lr", p=0.5)),
    ("random_flip", dict(mode="ud")),
    ("random_rotate", dict(angle=(-30, 30))),
    ("cutout", dict(shape=(4, 4), color=0)),
    ("additive_noise", dict(sigma=10)),
    ("multiplicative_noise", dict(sigma=0.1)),
    ("random_resized_crop", dict(size=8)),
    ("colour_jitter", dict(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2)),
    ("color_jitter", dict(brightness=0.4)),
    ("random_grayscale", dict(p=0.5)),
    ("gaussian_blur", dict(kernel_size=3, sigma=(0.1, 2.0))),
    ("random_erasing", dict(p=1.0)),
    ("trivial_augment_wide", dict()),
]


@pytest.mark.parametrize("name,kwargs", RANDOM, ids=[r[0] for r in RANDOM])
def test_random_actions_are_seeded_and_vary(copies, name, kwargs):
    ds, img = copies

    def images(prefetch):
        p = getattr(ds.p.load(), name)(**kwargs)
        return [im for b in p.gen_batch(3, n_epochs=1, shuffle=-11, prefetch=prefetch)
                for im in b.images]

    a, b = images(0), images(3)
    assert len(a) == len(b) == 8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(not np.array_equal(x, a[0]) for x in a[1:]), "every image got the same draw"
    again = getattr(ds.p.load(), name)(**kwargs)
    other = [im for bt in again.gen_batch(3, n_epochs=1, shuffle=-12) for im in bt.images]
    assert any(not np.array_equal(x, y) for x, y in zip(a, other)), "seed changed nothing"


def test_flip_with_p_flips_about_half(tmp_path):
    img = np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8)  # 1 x 2
    for i in range(400):
        write_png(tmp_path / f"f{i:03}.png", img)
    ds = Dataset(FilesIndex(path=str(tmp_path / "*.png"), sort=True), ImagesBatch)
    flipped = 0
    p = ds.p.load().flip(mode="lr", p=0.5)
    for b in p.gen_batch(50, n_epochs=1, shuffle=-7, prefetch=2):
        for im in b.images:
            assert np.array_equal(im, img) or np.array_equal(im, img[:, ::-1])
            flipped += int(im[0, 0, 0] == 255)
    assert 140 <= flipped <= 260  # 6 standard deviations around 200


# load's options

def test_on_error_drop_keeps_the_batch_aligned(tmp_path):
    for i in range(6):
        write_png(tmp_path / f"i{i}.png", picture(i))
    (tmp_path / "i2.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    ds = Dataset(FilesIndex(path=str(tmp_path / "*.png"), sort=True), ImagesBatch)
    with pytest.raises(bf.ActionFailed, match='action "load".*i2'):
        ds.p.load().run(3, n_epochs=1)
    p = ds.p.load(on_error="drop").to_tensor_u8(layout="nhwc")
    batches = list(p.gen_batch(3, n_epochs=1, prefetch=2))
    assert [len(b) for b in batches] == [2, 3]
    assert list(batches[0].indices) == ["i0.png", "i1.png"]
    assert batches[0].images.shape == (2, 4, 6, 3)
    for b in batches:
        for name, im in zip(b.indices, b.images):
            assert np.array_equal(im, picture(int(name[1])))
    report = p.last_run
    assert report["dropped"] == 1 and report["items"] == 5
    assert report["dropped_items"][0][0] == "i2.png"


def test_max_pixels_and_lenient(one):
    ds, pic = one
    with pytest.raises(bf.ActionFailed, match="limit"):
        ds.p.load(max_pixels=10).run(1, n_epochs=1)
    assert np.array_equal(first(ds.p.load(max_pixels=24)), pic)
    assert np.array_equal(first(ds.p.load(lenient=True)), pic)
    p = ds.p.load(max_pixels=10, on_error="drop")
    with pytest.warns(bf.EmptyBatchSequence):
        assert list(p.gen_batch(1, n_epochs=1)) == []
    assert p.last_run["dropped"] == 1


# bad arguments

BAD = [
    ("load", dict(on_error="ignore"), ValueError, "load: on_error"),
    ("load", dict(lenient="yes"), TypeError, "load: lenient"),
    ("load", dict(max_pixels=0), ValueError, "load: max_pixels"),
    ("load", dict(fmt="blosc"), TypeError, "load"),
    ("resize", dict(size=(0, 3)), ValueError, "resize: size"),
    ("scale", dict(factor=-1), ValueError, "scale: factor"),
    ("scale", dict(factor="x"), TypeError, "scale: factor"),
    ("crop", dict(origin="middle", shape=(2, 2)), ValueError, "crop: origin"),
    ("crop", dict(origin=(1, -1), shape=(2, 2)), ValueError, "crop: origin"),
    ("crop", dict(origin=(0, 0)), TypeError, "crop"),
    ("center_crop", dict(size=(1, 2, 3)), ValueError, "center_crop: size"),
    ("random_crop", dict(size=2.5), ValueError, "random_crop: size"),
    ("flip", dict(mode="xy"), ValueError, "flip: mode"),
    ("flip", dict(p=1.5), ValueError, "flip: p"),
    ("random_flip", dict(p="half"), TypeError, "random_flip: p"),
    ("rotate", dict(angle=None), KeyError, "rotate"),
    ("rotate", dict(angle="30"), TypeError, "rotate: angle"),
    ("random_rotate", dict(angle=(10, -10)), ValueError, "random_rotate: angle"),
    ("random_rotate", dict(angle=(5, 5)), ValueError, "random_rotate: angle"),
    ("pad", dict(border=(1, 2, 3)), ValueError, "pad: border"),
    ("pad", dict(border=1, fill=300), ValueError, "pad: fill"),
    ("brightness", dict(delta=float("nan")), ValueError, "brightness: delta"),
    ("contrast", dict(factor=-0.5), ValueError, "contrast: factor"),
    ("additive_noise", dict(sigma=-1), ValueError, "additive_noise: sigma"),
    ("multiplicative_noise", dict(), TypeError, "multiplicative_noise"),
    ("cutout", dict(shape=(2, 2), color=-1), ValueError, "cutout: color"),
    ("convert", dict(mode="cmyk"), ValueError, "convert: mode"),
    ("convert", dict(mode=3), TypeError, "convert: mode"),
    ("resize_shorter", dict(size=0), ValueError, "resize_shorter: size"),
    ("random_resized_crop", dict(size=(4, 5)), ValueError, "random_resized_crop: size"),
    ("random_resized_crop", dict(size=4, scale=(1.0, 0.5)), ValueError,
     "random_resized_crop: scale"),
    ("random_resized_crop", dict(size=4, ratio=(0, 1)), ValueError, "random_resized_crop: ratio"),
    ("colour_jitter", dict(hue=0.7), ValueError, "colour_jitter: hue"),
    ("color_jitter", dict(brightness=-1), ValueError, "color_jitter: brightness"),
    ("random_grayscale", dict(p=2), ValueError, "random_grayscale: p"),
    ("gaussian_blur", dict(kernel_size=4), ValueError, "gaussian_blur: kernel_size"),
    ("gaussian_blur", dict(kernel_size=3, sigma=(0, 1)), ValueError, "gaussian_blur: sigma"),
    ("random_erasing", dict(p=-0.1), ValueError, "random_erasing: p"),
    ("random_erasing", dict(scale="big"), ValueError, "random_erasing: scale"),
    ("to_tensor", dict(mean="abc"), TypeError, "to_tensor: mean"),
    ("to_tensor_u8", dict(layout="chw"), ValueError, "to_tensor_u8: layout"),
    ("dump", dict(dst="/tmp/x", fmt="jpeg"), TypeError, "dump"),
    ("dump", dict(dst=3), ValueError, "dump: dst"),
    ("trivial_augment_wide", dict(strength=2), TypeError, "trivial_augment_wide"),
]


@pytest.mark.parametrize("name,kwargs,exc,match", BAD,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_arguments_name_the_action(one, name, kwargs, exc, match):
    ds, _ = one
    p = ds.p if name == "load" else ds.p.load()
    with pytest.raises(exc, match=match):
        getattr(p, name)(**kwargs).run(1, n_epochs=1)


# image folders: labels by class

@pytest.fixture
def folder(tmp_path):
    """root/<class>/<image>: two classes with one file name in both, a hidden folder, a file
    in the root; the value of each image's red channel tells its class."""
    root = tmp_path / "root"
    layout = {"cat": ["a.png", "b.png", "c.png"], "dog": ["a.png", "d.png"]}
    for k, (cls, names) in enumerate(sorted(layout.items())):
        (root / cls).mkdir(parents=True)
        for name in names:
            write_png(root / cls / name, picture(k))
    (root / ".hidden").mkdir()
    write_png(root / ".hidden" / "x.png", picture(7))
    write_png(root / "loose.png", picture(8))
    return root


def test_image_folder_gives_labels(folder):
    ds, classes, class_to_idx = bf.image_folder(folder)
    assert classes == ["cat", "dog"] and class_to_idx == {"cat": 0, "dog": 1}
    assert list(ds.indices) == ["cat/a.png", "cat/b.png", "cat/c.png", "dog/a.png", "dog/d.png"]
    seen = {}
    for b in ds.p.load().gen_batch(2, n_epochs=1, shuffle=3, prefetch=2):
        assert b.labels.dtype == np.int64 and len(b.labels) == len(b)
        for name, label, im in zip(b.indices, b.labels, b.images):
            assert label == class_to_idx[name.split("/")[0]]
            assert im[0, 0, 0] == 10 + 10 * label  # picture(label)
            seen[name] = label
    assert len(seen) == 5
    t = ds.p.load().to_tensor().next_batch(5).labels
    assert list(t) == [0, 0, 0, 1, 1]


def test_image_folder_subsets_and_subclasses_keep_labels(folder):
    class Mine(ImagesBatch):
        pass

    ds, _, _ = Mine.image_folder(folder)
    assert ds.batch_class is Mine
    sub = ds.create_subset(np.array(["dog/d.png", "cat/b.png"], dtype=object))
    b = sub.p.load().next_batch(2)
    assert list(b.indices) == ["dog/d.png", "cat/b.png"] and list(b.labels) == [1, 0]
    ds.split(0.6)
    for part in (ds.train, ds.test):
        for b in part.p.load().gen_batch(1, n_epochs=1):
            assert b.labels[0] == (b.indices[0].startswith("dog"))


def test_image_folder_drop_keeps_labels_aligned(folder):
    (folder / "cat" / "b.png").write_bytes(b"broken")
    ds, _, _ = bf.image_folder(folder)
    p = ds.p.load(on_error="drop")
    batches = list(p.gen_batch(5, n_epochs=1))
    assert len(batches) == 1
    b = batches[0]
    assert list(b.indices) == ["cat/a.png", "cat/c.png", "dog/a.png", "dog/d.png"]
    assert list(b.labels) == [0, 0, 1, 1] and len(b.images) == 4
    assert p.last_run["dropped"] == 1


def test_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="image_folder.*no/such"):
        bf.image_folder(tmp_path / "no" / "such")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="image_folder"):
        bf.image_folder(tmp_path / "empty")
    with pytest.raises(TypeError, match="batch_class"):
        bf.image_folder(tmp_path, batch_class=bf.Batch)


def test_named_expressions_are_refused(one):
    ds, _ = one
    with pytest.raises(TypeError, match="rotate.*constant arguments"):
        ds.p.load().rotate(angle=bf.R("uniform", 0, 30)).run(1, n_epochs=1)


def test_dump_of_an_image_folder_makes_its_class_folders(folder, tmp_path):
    ds, _, _ = bf.image_folder(folder)
    ds.p.load().dump(dst=tmp_path / "out").run(5, n_epochs=1)
    out = tmp_path / "out"
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["cat/a.png.png", "cat/b.png.png", "cat/c.png.png", "dog/a.png.png",
                       "dog/d.png.png"]
    back = Dataset(FilesIndex(path=str(tmp_path / "out" / "dog" / "*.png"), sort=True),
                   ImagesBatch)
    assert np.array_equal(back.p.load().next_batch(1).images[0], picture(1))


# masks

@pytest.fixture
def masked(tmp_path):
    """Two pictures in img/ and their masks (named like them, other extension folder)."""
    os.makedirs(tmp_path / "img")
    os.makedirs(tmp_path / "masks")
    masks = []
    for i in range(2):
        write_png(tmp_path / "img" / f"p{i}.png", picture(i))
        m = (np.arange(24).reshape(4, 6) * 10 + i).astype(np.uint8)
        write_png(tmp_path / "masks" / f"p{i}.png", m)
        masks.append(m)
    return tmp_path, masks


def test_masks_are_matched_by_name_and_move_with_their_images(masked):
    root, masks = masked
    ds = Dataset(FilesIndex(path=str(root / "img" / "*.png")), ImagesBatch,
                 masks=str(root / "masks" / "*.png"))
    b = ds.p.load().flip(mode="lr").next_batch(2)
    assert [m.shape for m in b.masks] == [(4, 6), (4, 6)]
    assert sorted(b.indices) == ["p0.png", "p1.png"]
    for i, name in enumerate(b.indices):
        k = int(name[1])
        assert np.array_equal(b.masks[i], masks[k][:, ::-1])
        assert np.array_equal(b.images[i], picture(k)[:, ::-1])
    b = ds.p.load().crop(origin=(1, 2), shape=(3, 2)).next_batch(2)
    assert np.array_equal(b.masks[0], masks[int(b.indices[0][1])][2:4, 1:4])


def test_a_subset_keeps_its_masks_and_a_missing_mask_names_the_image(masked):
    root, masks = masked
    ds = Dataset(FilesIndex(path=str(root / "img" / "*.png")), ImagesBatch,
                 masks=str(root / "masks" / "*.png"))
    sub = ds.create_subset(["p1.png"])
    b = sub.p.load().next_batch(1)
    assert np.array_equal(b.masks[0], masks[1])
    os.remove(root / "masks" / "p1.png")
    with pytest.raises(ValueError, match="no mask for 1 image.*p1.png"):
        Dataset(FilesIndex(path=str(root / "img" / "*.png")), ImagesBatch,
                masks=str(root / "masks" / "*.png"))


# one pass per image: load and the per-image steps after it run fused

@pytest.fixture
def noisy(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):
        write_png(tmp_path / f"{i}.png", rng.integers(0, 255, (40, 60, 3)).astype(np.uint8))
    write_png(tmp_path / "mask-free.png", rng.integers(0, 255, (30, 30, 3)).astype(np.uint8))
    return Dataset(FilesIndex(path=str(tmp_path / "*.png")), ImagesBatch)


@pytest.mark.parametrize("steps", [
    lambda p: p.random_resized_crop(16).random_flip().to_tensor(mean=(0.5,) * 3, std=(0.2,) * 3),
    lambda p: p.resize(size=(30, 20)).center_crop(10).flip(mode="ud").convert("L").to_tensor(),
    lambda p: p.resize_shorter(24).random_crop(12).flip(p=0.5).to_tensor_u8(),
    lambda p: p.crop(origin="random", shape=(20, 10)).scale(0.5).contrast(1.5),
])
def test_a_fused_load_gives_the_images_of_separate_actions(noisy, steps):
    def images(fuse, k):
        out = []
        for b in steps(noisy.p.load(fuse=fuse)).gen_batch(4, n_epochs=1, shuffle=3, prefetch=k):
            out.extend(np.asarray(im) for im in b.images)
        return out

    separate = images(False, 0)
    assert len(separate) == 9
    for k in (0, 2):
        fused = images(True, k)
        assert len(fused) == len(separate)
        assert all(np.array_equal(a, b) for a, b in zip(fused, separate))


def test_a_fused_step_is_named_by_its_steps_in_errors(noisy):
    with pytest.raises(bf.ActionFailed, match=r'action "load\+resize\+crop".*cannot crop'):
        noisy.p.load().resize(size=(10, 10)).crop(origin=(5, 5), shape=(8, 8)).next_batch(2)
    with pytest.raises(TypeError, match="load: dct_scaling must be a bool"):
        noisy.p.load(dct_scaling="yes").next_batch(2)

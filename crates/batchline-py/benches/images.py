"""The images pipelines of BENCHMARKS.md from Python (issue 16): batchline's native image
actions at prefetch 0 and 3, BatchFlow 0.10.1 + PIL, and PyTorch's DataLoader with torchvision
at num_workers 0, 1, 2, on the same files, with the peak memory of each one's process tree.

    python3 crates/batchline-py/benches/images.py                                # every variant, png and jpeg
    python3 crates/batchline-py/benches/images.py --pipelines png --rounds 3
    python3 crates/batchline-py/benches/images.py --variants batchline-k0,torch-w2 --keep /tmp/imgs

The files are made in a temporary folder (deleted at the end; `--keep DIR` writes them there
and keeps them, and reuses them on the next run): `--images` (512) PNGs of 256 x 256 and as
many JPEGs of 500 x 375 at quality 90, photo-like (smooth fractal value noise, a few ellipses,
fine grain; seeded). Pipelines, batches of 32, one epoch = every file:

* png:  load -> resize 128 x 128 -> random horizontal flip (p = 0.5) -> float32 NCHW in [0, 1]
* jpeg: load -> random_resized_crop(224, scale=(0.08, 1), ratio=(3/4, 4/3)) -> random
  horizontal flip -> float32 NCHW normalised with ImageNet's mean and std

Variants (`--variants`): batchline-k0, batchline-k3 (`ImagesBatch`'s native actions at prefetch
0, 3: `load` and the steps after it run fused, one pass per image), batchline-chain-k0,
batchline-chain-k3 (the same with `load(fuse=False)`: one pass over the batch per action),
batchflow-k0, batchflow-k3 (BatchFlow's `ImagesBatch` on PIL with its own actions;
BatchFlow has no random resized crop nor normalisation, so the jpeg pipeline adds them as
`@apply_parallel` methods, on PIL's `resize(box=)` and NumPy), torch-w0, torch-w1, torch-w2
(the standalone mode of `crates/batchline-cli/src/bench/torch_dataloader.py`, pipelines png
and train). Each variant
runs in its own process (this script again with `--variant`, or the DataLoader script), which
runs one epoch untimed, then `--rounds` (5) timed epochs, and reports its best; meanwhile this
process sums the VmRSS of the child and all its descendants every 10 ms and reports the peak
(and the peak of their summed PSS, read every 50 ms: the RSS sum counts the pages that forked
DataLoader workers share with their parent once per process). Speeds are ratios against the
best BatchFlow and the best DataLoader row of the same command. A variant whose library does
not import is left out with the reason; a run past `--timeout` seconds is reported as a hang.

BatchFlow and PyTorch are not dependencies of batchline: install them beside it, e.g. in a
venv that sees the system packages, with torch and torchvision in the system or the venv:
`python3 -m venv --system-site-packages /tmp/bfenv && /tmp/bfenv/bin/python -m pip install
batchflow==0.10.1 pandas` (BatchFlow imports pandas when it runs), then run the script with
`/tmp/bfenv/bin/python`. Install batchline there with the release build for figures
(`/tmp/bfenv/bin/python -m pip install ./crates/batchline-py`).
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata, util
from pathlib import Path

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
BATCH = 32
PIPELINES = ("png", "jpeg")
VARIANTS = ("batchline-k0", "batchline-k3", "batchline-chain-k0", "batchline-chain-k3",
            "batchflow-k0", "batchflow-k3", "torch-w0", "torch-w1", "torch-w2")
TORCH_SCRIPT = (Path(__file__).resolve().parents[2] / "batchline-cli" / "src" / "bench"
                / "torch_dataloader.py")
UNAVAILABLE = 3  # exit status of a child whose library cannot be imported
DATA_VERSION = 1  # bump when the generated files change


# ----------------------------------------------------------------------------- the files

def photo(width, height, rng):
    """A photo-like RGB image (PIL): fractal value noise over six octaves (smoothstep
    interpolation of random grids, tinted per channel), 8 ellipses of random colours, grain of
    standard deviation 3: the `natural_image` of the Rust benchmarks, in NumPy."""
    import numpy as np
    from PIL import Image

    w, h = width, height
    px = np.zeros((h, w, 3), np.float32)
    tint = rng.uniform(0.6, 1.4, 3).astype(np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    amp = 90.0
    for octave in range(6):
        cells = 2 << octave
        step = w / cells
        gw, gh = cells + 2, cells * h // w + 3
        level = rng.uniform(-1.0, 1.0, (gh, gw, 1)).astype(np.float32)
        grid = amp * (level + 0.35 * rng.uniform(-1.0, 1.0, (gh, gw, 3))).astype(np.float32) * tint
        gx, gy = xs / step, ys / step
        x0, y0 = gx.astype(np.int64), gy.astype(np.int64)
        fx, fy = gx - x0, gy - y0
        sx = (fx * fx * (3 - 2 * fx))[..., None]
        sy = (fy * fy * (3 - 2 * fy))[..., None]
        x1, y1 = np.minimum(x0 + 1, gw - 1), np.minimum(y0 + 1, gh - 1)
        x0, y0 = np.minimum(x0, gw - 1), np.minimum(y0, gh - 1)
        top = grid[y0, x0] + (grid[y0, x1] - grid[y0, x0]) * sx
        bottom = grid[y1, x0] + (grid[y1, x1] - grid[y1, x0]) * sx
        px += top + (bottom - top) * sy
        amp *= 0.55
    for _ in range(8):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(5, w / 4 + 6), rng.uniform(5, h / 4 + 6)
        colour = rng.uniform(-80, 80, 3).astype(np.float32)
        inside = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 < 1
        px[inside] = 0.3 * px[inside] + colour
    px += rng.normal(0.0, 3.0, px.shape).astype(np.float32)
    return Image.fromarray(np.clip(np.rint(127.5 + px), 0, 255).astype(np.uint8), "RGB")


def make_files(root, n, pipelines):
    """Writes root/png/img0000.png ... and root/jpeg/img0000.jpg ... (those of `pipelines`)
    unless a previous run with the same parameters left them; returns {pipeline: (folder,
    mean KB per file)}."""
    import numpy as np

    out = {}
    for pipeline in pipelines:
        folder = Path(root) / pipeline
        ext, size = (".png", (256, 256)) if pipeline == "png" else (".jpg", (500, 375))
        marker = folder / "params.json"
        params = {"version": DATA_VERSION, "n": n, "size": list(size)}
        if not (marker.exists() and json.loads(marker.read_text()) == params):
            if folder.exists():
                if not marker.exists() and any(folder.iterdir()):
                    raise SystemExit(f"{folder} exists and was not made by this script: "
                                     f"give --keep a new or empty folder")
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            start = time.perf_counter()
            rng = np.random.default_rng(16 if pipeline == "png" else 17)
            for i in range(n):
                image = photo(*size, rng)
                if pipeline == "png":
                    image.save(folder / f"img{i:04d}{ext}", "PNG")
                else:
                    image.save(folder / f"img{i:04d}{ext}", "JPEG", quality=90)
            marker.write_text(json.dumps(params))
            print(f"made {n} {pipeline} files of {size[0]} x {size[1]} in {folder} "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
        files = sorted(folder.glob("*" + ext))
        assert len(files) == n, (folder, len(files), n)
        out[pipeline] = (folder, sum(f.stat().st_size for f in files) / len(files) / 1e3)
    return out


# ----------------------------------------------------------------------------- a child

def check(images, pipeline, n, full):
    """The batch's tensor is what the pipeline makes: float32 (n, 3, side, side); with
    `full`, its values are in range too."""
    import numpy as np

    side = 128 if pipeline == "png" else 224
    assert isinstance(images, np.ndarray), type(images)
    assert images.dtype == np.float32, images.dtype
    assert images.shape == (n, 3, side, side), images.shape
    if full:
        low, high = float(images.min()), float(images.max())
        if pipeline == "png":
            assert 0.0 <= low and high <= 1.0 and high > low, (low, high)
        else:
            assert -2.2 < low < high < 2.7, (low, high)
    return float(images[-1, -1, -1, -1])  # reads the last sample: the work is done


def batchline_pipeline(folder, pipeline, fuse=True):
    import batchline as bl

    ext = "png" if pipeline == "png" else "jpg"
    ds = bl.Dataset(bl.FilesIndex(path=f"{folder}/*.{ext}"), bl.ImagesBatch)
    if pipeline == "png":
        return (ds.p.load(fuse=fuse).resize(size=(128, 128)).random_flip(mode="lr", p=0.5)
                .to_tensor()), len(ds)
    return (ds.p.load(fuse=fuse)
            .random_resized_crop(224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))
            .random_flip(mode="lr", p=0.5)
            .to_tensor(mean=MEAN, std=STD)), len(ds)


def batchflow_pipeline(folder, pipeline):
    import math

    import batchflow
    import numpy as np
    import PIL.Image

    class Images(batchflow.ImagesBatch):
        """BatchFlow's ImagesBatch with torchvision's RandomResizedCrop on PIL, and its
        assembling of PIL images mended for NumPy 2 (see `_assemble_component`)."""

        def _assemble_component(self, result, *args, component="images", **kwargs):
            # BatchFlow 0.10.1 keeps PIL images as `np.asarray(result, dtype=object)`, which
            # NumPy 2 turns into an (n, H, W, C) array of ints (PIL images have an array
            # interface): the next action then gets arrays, not images. One object per image:
            if isinstance(result[0], PIL.Image.Image):
                images = np.empty(len(result), dtype=object)
                for i, image in enumerate(result):
                    images[i] = image
                setattr(self, component, images)
                return
            super()._assemble_component(result, *args, component=component, **kwargs)

        @batchflow.apply_parallel(requires_rng=True)
        def random_resized_crop(self, image, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                                rng=None, **kwargs):
            _ = kwargs
            width, height = image.size
            area = width * height
            log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
            box = None
            for _ in range(10):
                target = area * rng.uniform(*scale)
                aspect = math.exp(rng.uniform(*log_ratio))
                w = int(round(math.sqrt(target * aspect)))
                h = int(round(math.sqrt(target / aspect)))
                if 0 < w <= width and 0 < h <= height:
                    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
                    box = (x, y, x + w, y + h)
                    break
            if box is None:  # torchvision's fallback: the central crop at the ratio's bound
                aspect = width / height
                if aspect < ratio[0]:
                    w, h = width, int(round(width / ratio[0]))
                elif aspect > ratio[1]:
                    h, w = height, int(round(height * ratio[1]))
                else:
                    w, h = width, height
                x, y = (width - w) // 2, (height - h) // 2
                box = (x, y, x + w, y + h)
            return image.resize((size, size), PIL.Image.BILINEAR, box=box)

        @batchflow.apply_parallel
        def normalize(self, image, mean, std, **kwargs):
            # BatchFlow's `add` cannot be used here: it takes no `src` / `dst`, which
            # `apply_parallel` passes it (TypeError in 0.10.1).
            _ = kwargs
            return ((image - mean) / std).astype(np.float32)

    ext = "png" if pipeline == "png" else "jpg"
    ds = batchflow.Dataset(batchflow.FilesIndex(path=f"{folder}/*.{ext}"), Images)
    p = ds.p.load(fmt="image", dst="images")
    if pipeline == "png":
        p = (p.resize(size=(128, 128), resample=PIL.Image.BILINEAR)
             .flip(mode="lr", p=0.5)
             .to_array(dtype="float32", channels="first")
             .multiply(multiplier=1 / 255))
    else:
        mean, std = np.asarray(MEAN, np.float32), np.asarray(STD, np.float32)
        p = (p.random_resized_crop(size=224)
             .flip(mode="lr", p=0.5)
             .to_array(dtype="float32", channels="first")
             .multiply(multiplier=1 / 255)
             .normalize(mean=mean.reshape(3, 1, 1), std=std.reshape(3, 1, 1)))
    return p, len(ds)


def child(args):
    """One variant (this process): one untimed epoch, `rounds` timed ones; prints
    `RESULT {json}`."""
    lib, k = args.variant.split("-k")
    try:
        if lib.startswith("batchline"):
            import batchline as module

            def make(folder, pipeline):
                return batchline_pipeline(folder, pipeline, fuse=lib != "batchline-chain")
        else:
            import batchflow as module
            make = batchflow_pipeline
    except Exception as e:  # ImportError, or a broken install
        print(f"unavailable: {type(e).__name__}: {e}", flush=True)
        sys.exit(UNAVAILABLE)
    pipeline, total = make(args.dir, args.pipeline)
    prefetch = int(k)

    def epoch(number, full):
        n = 0
        start = time.perf_counter()
        for batch in pipeline.gen_batch(BATCH, shuffle=args.seed + number, n_epochs=1,
                                        prefetch=prefetch):
            images = batch.images
            check(images, args.pipeline, min(BATCH, total - n), full)
            n += images.shape[0]
        elapsed = time.perf_counter() - start
        assert n == total, (n, total)
        return elapsed

    epoch(0, full=True)
    times = [epoch(r + 1, full=False) for r in range(args.rounds)]
    print("RESULT " + json.dumps({"images": total, "best": min(times), "times": times,
                                  "module": module.__file__}), flush=True)


# ----------------------------------------------------------------------------- the parent

def tree(root):
    """The pid `root` and all its descendants (those alive now)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return pids


def field_kb(path, name):
    """The value in kB of the line `name:` of a /proc file, 0 if the process is gone."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def measure(cmd, timeout):
    """Runs `cmd`, polling its process tree; returns (exit status or None on timeout, its
    standard output, peak summed RSS in MB, peak summed PSS in MB, most processes seen)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_file, err_file = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    # Drain the pipes in threads so that a chatty child never blocks on a full pipe.
    def drain(pipe, sink):
        for line in pipe:
            sink.write(line)

    readers = [threading.Thread(target=drain, args=(proc.stdout, out_file), daemon=True),
               threading.Thread(target=drain, args=(proc.stderr, err_file), daemon=True)]
    for r in readers:
        r.start()
    peak_rss = peak_pss = 0
    most = 0
    polls = 0
    deadline = time.monotonic() + timeout
    status = None
    while True:
        status = proc.poll()
        if status is not None:
            break
        if time.monotonic() > deadline:
            for pid in reversed(tree(proc.pid)):  # the workers first, then the child
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            proc.wait()
            status = None
            break
        pids = tree(proc.pid)
        most = max(most, len(pids))
        peak_rss = max(peak_rss, sum(field_kb(f"/proc/{p}/status", "VmRSS:") for p in pids))
        if polls % 5 == 0:
            peak_pss = max(peak_pss, sum(field_kb(f"/proc/{p}/smaps_rollup", "Pss:")
                                         for p in pids))
        polls += 1
        time.sleep(0.01)
    for r in readers:
        r.join(timeout=5)
    out_file.seek(0)
    err_file.seek(0)
    return status, out_file.read(), err_file.read(), peak_rss / 1024, peak_pss / 1024, most


def run_variant(args, variant, pipeline, folder):
    """One row: a dict with the variant's figures, or with `skip` (the reason)."""
    lib = variant.split("-")[0]
    module = {"batchline": "batchline", "batchflow": "batchflow", "torch": "torchvision"}[lib]
    if util.find_spec(module) is None or (lib == "torch" and util.find_spec("torch") is None):
        return {"variant": variant, "skip": f"{module} is not importable here"}
    if lib == "torch":
        if not TORCH_SCRIPT.exists():
            return {"variant": variant, "skip": f"{TORCH_SCRIPT} not found"}
        cmd = [sys.executable, str(TORCH_SCRIPT), "--dir", str(folder),
               "--pipeline", "png" if pipeline == "png" else "train",
               "--workers", variant.split("-w")[1], "--rounds", str(args.rounds)]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--variant", variant,
               "--pipeline", pipeline, "--dir", str(folder), "--rounds", str(args.rounds),
               "--seed", str(args.seed)]
    status, out, err, rss, pss, procs = measure(cmd, args.timeout)
    row = {"variant": variant, "rss": rss, "pss": pss, "procs": procs}
    if status is None:
        return {**row, "skip": f"hang: killed after {args.timeout:.0f} s"}
    if status == UNAVAILABLE and out.startswith("unavailable"):
        return {"variant": variant, "skip": out.strip()}
    if status != 0:
        tail = (err.strip().splitlines() or ["(no error output)"])[-1]
        return {**row, "skip": f"failed with status {status}: {tail}"}
    if lib == "torch":
        m = re.search(r"workers \d+: (\d+) images, best ([\d.]+) s", out)
        if m is None:
            return {**row, "skip": f"unreadable output: {out.strip()!r}"}
        images, best = int(m.group(1)), float(m.group(2))
    else:
        result = json.loads(next(l for l in out.splitlines() if l.startswith("RESULT "))[7:])
        images, best = result["images"], result["best"]
    return {**row, "images": images, "best": best, "rate": images / best}


def seconds(s):
    return f"{s:.3f} s" if s >= 1 else f"{s * 1e3:.1f} ms"


def table(rows):
    ok = [r for r in rows if "skip" not in r]
    bf = max((r["rate"] for r in ok if r["variant"].startswith("batchflow")), default=None)
    dl = max((r["rate"] for r in ok if r["variant"].startswith("torch")), default=None)
    print("| variant | images/s | best epoch | peak tree RSS (MB) | peak tree PSS (MB) "
          "| vs BatchFlow | vs best DataLoader |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        if "skip" in r:
            print(f"| {r['variant']} | {r['skip']} | | | | | |")
            continue
        vs_bf = f"{r['rate'] / bf:.2f}×" if bf else "–"
        vs_dl = f"{r['rate'] / dl:.2f}×" if dl else "–"
        print(f"| {r['variant']} | {r['rate']:,.0f} | {seconds(r['best'])} | {r['rss']:.0f} "
              f"| {r['pss']:.0f} | {vs_bf} | {vs_dl} |".replace(",", " "))
    print(flush=True)


def versions():
    names = {"batchline": "batchline", "batchflow": "batchflow", "torch": "torch",
             "torchvision": "torchvision", "PIL": "pillow", "numpy": "numpy"}
    parts = []
    for shown, dist in names.items():
        try:
            parts.append(f"{shown} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{shown} not installed")
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pipelines", default=",".join(PIPELINES))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--keep", metavar="DIR", help="make (or reuse) the files in DIR, keep them")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per variant")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--variant", help=argparse.SUPPRESS)  # the child's side
    ap.add_argument("--pipeline", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        return child(args)
    pipelines = [p for p in args.pipelines.split(",") if p]
    variants = [v for v in args.variants.split(",") if v]
    if args.images < BATCH:
        ap.error(f"--images must be at least the batch size, {BATCH}")
    for name, allowed in (("pipeline", PIPELINES), ("variant", VARIANTS)):
        for x in (pipelines if name == "pipeline" else variants):
            if x not in allowed:
                ap.error(f"unknown {name} {x!r} (one of {', '.join(allowed)})")
    print(f"Python {platform.python_version()} ({sys.executable}), {os.cpu_count()} CPUs, "
          f"{platform.machine()}; {versions()}", flush=True)
    root = args.keep or tempfile.mkdtemp(prefix="batchline-images-")
    try:
        files = make_files(root, args.images, pipelines)
        for pipeline in pipelines:
            folder, kb = files[pipeline]
            what = ("PNG 256 x 256 -> resize 128 x 128 -> random flip -> f32 NCHW"
                    if pipeline == "png" else
                    "JPEG 500 x 375 q90 -> random_resized_crop 224 -> random flip -> "
                    "normalised f32 NCHW")
            print(f"\n{pipeline}: {args.images} files ({kb:.0f} KB each on average), {what}; "
                  f"batches of {BATCH}, best of {args.rounds} epochs after one warm-up\n",
                  flush=True)
            rows = []
            for variant in variants:
                row = run_variant(args, variant, pipeline, folder)
                if "skip" in row:
                    print(f"  {variant}: left out: {row['skip']}", flush=True)
                else:
                    print(f"  {variant}: {row['rate']:.0f} images/s, best {row['best']:.4f} s, "
                          f"peak tree RSS {row['rss']:.0f} MB, PSS {row['pss']:.0f} MB "
                          f"({row['procs']} processes)", flush=True)
                rows.append(row)
            print()
            table(rows)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

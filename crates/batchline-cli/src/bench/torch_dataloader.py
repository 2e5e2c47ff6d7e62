#!/usr/bin/env python3
"""PyTorch's DataLoader with torchvision on a folder of images: the reference rows of
`batchline bench` (suites images, jpeg, recipe, jpeg-large), on the same files and the same
pipeline as batchline's, in batches of 32.

Pipelines (torchvision.io decodes; transforms v2 on uint8 tensors, antialiased resizes):

* train: decode → RandomResizedCrop(224) → RandomHorizontalFlip → float32 in [0, 1] →
  Normalize(ImageNet mean, std)
* val:   decode → Resize(256) → CenterCrop(224) → float32 → Normalize
* png:   decode → Resize((128, 128)) → RandomHorizontalFlip → float32 in [0, 1]

Every loader has persistent workers and runs one epoch before it is timed (its workers are
started and warm), so an epoch's time is the loader's steady state.

Standalone:  python3 torch_dataloader.py --dir DIR --pipeline train --workers 0,1,2 --rounds 5
  prints one line per loader: workers, images, best epoch seconds, images/s.
Served (what `batchline bench` runs): add --serve; the script prints `ready` once every loader
is warm, then for each line `W` on stdin runs one epoch of the loader with W workers and prints
its seconds; `quit` or end of input stops it.

When torch or torchvision cannot be imported, it prints `unavailable: <reason>` and exits with
status 3 (so the benchmark can say why it has no PyTorch rows).
"""

import argparse
import os
import sys
import time

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
UNAVAILABLE = 3


def transforms(pipeline):
    import torch
    from torchvision.transforms import v2 as T

    to_float = T.ToDtype(torch.float32, scale=True)
    if pipeline == "train":
        steps = [T.RandomResizedCrop(224, antialias=True), T.RandomHorizontalFlip(), to_float,
                 T.Normalize(MEAN, STD)]
    elif pipeline == "val":
        steps = [T.Resize(256, antialias=True), T.CenterCrop(224), to_float,
                 T.Normalize(MEAN, STD)]
    elif pipeline == "png":
        steps = [T.Resize((128, 128), antialias=True), T.RandomHorizontalFlip(), to_float]
    else:
        raise SystemExit(f"unknown pipeline {pipeline!r}")
    return T.Compose(steps)


class Files:
    """The image files of a folder, decoded by torchvision.io and transformed."""

    def __init__(self, paths, pipeline):
        self.paths = paths
        self.transform = transforms(pipeline)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        from torchvision.io import ImageReadMode, decode_image, read_file

        image = decode_image(read_file(self.paths[i]), mode=ImageReadMode.RGB)
        return self.transform(image)


def loader(paths, pipeline, workers):
    import torch

    return torch.utils.data.DataLoader(
        Files(paths, pipeline), batch_size=32, shuffle=False, num_workers=workers,
        persistent_workers=workers > 0)


def epoch(dl):
    start = time.perf_counter()
    n = 0
    for batch in dl:
        n += batch.shape[0]
    return time.perf_counter() - start, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pipeline", required=True, choices=["train", "val", "png"])
    ap.add_argument("--workers", default="0,1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    try:
        import torch
        import torchvision
    except Exception as e:  # ImportError, or a broken install
        print(f"unavailable: {type(e).__name__}: {e}", flush=True)
        sys.exit(UNAVAILABLE)
    exts = (".jpg", ".jpeg", ".png")
    paths = sorted(os.path.join(args.dir, f) for f in os.listdir(args.dir)
                   if f.lower().endswith(exts))
    workers = [int(w) for w in args.workers.split(",") if w != ""]
    loaders = {w: loader(paths, args.pipeline, w) for w in workers}
    # Warm-up epochs, not timed: they start the workers. The loaders with workers go first:
    # worker processes forked after the main process has run torch's OpenMP threads (the
    # loader without workers) made that loader ten times slower here.
    for w in sorted(workers, reverse=True):
        epoch(loaders[w])
    if args.serve:
        print(f"ready torch {torch.__version__} torchvision {torchvision.__version__} "
              f"threads {torch.get_num_threads()}", flush=True)
        for line in sys.stdin:
            line = line.strip()
            if line in ("", "quit"):
                break
            seconds, _ = epoch(loaders[int(line)])
            print(f"{seconds:.6f}", flush=True)
        return
    for w, dl in loaders.items():
        times = []
        for _ in range(args.rounds):
            seconds, n = epoch(dl)
            times.append(seconds)
        best = min(times)
        print(f"workers {w}: {n} images, best {best:.4f} s, {n / best:.0f} images/s")


if __name__ == "__main__":
    main()

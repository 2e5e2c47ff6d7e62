"""Per-batch overhead of 3 no-op Python actions, at prefetch 0, 1, 3, 7.

The same script runs on batchline or on BatchFlow (same API):

    python3 benches/bench.py                      # batchline (the installed package)
    python3 benches/bench.py --lib batchflow      # BatchFlow, in an environment that has it

Install batchline with the release build for figures (`python3 -m pip install
./crates/batchline-py`). Prints one line per prefetch: microseconds per batch, best of
`--rounds` rounds of `--batches` batches.
"""

import argparse
import importlib
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default="batchline")
    ap.add_argument("--batches", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--k", default="0,1,3,7")
    args = ap.parse_args()
    bf = importlib.import_module(args.lib)

    class NoOp(bf.Batch):
        @bf.action
        def a1(self):
            return self

        @bf.action
        def a2(self):
            return self

        @bf.action
        def a3(self):
            return self

    ds = bf.Dataset(args.batches, NoOp)
    pipeline = ds.p.a1().a2().a3()
    for k in [int(x) for x in args.k.split(",")]:
        n = args.batches if k == 0 or args.lib == "batchline" else max(args.batches // 10, 500)
        best = float("inf")
        for _ in range(args.rounds):
            start = time.perf_counter()
            count = 0
            for _batch in pipeline.gen_batch(1, n_iters=n, prefetch=k):
                count += 1
            elapsed = time.perf_counter() - start
            assert count == n, (count, n)
            best = min(best, elapsed / n)
        print(f"{args.lib} prefetch={k}: {best * 1e6:.2f} us/batch ({n} batches, best of "
              f"{args.rounds})", flush=True)


if __name__ == "__main__":
    main()

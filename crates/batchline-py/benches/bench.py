"""Per-batch overhead of 3 no-op Python actions, at prefetch 0, 1, 3, 7, for batchline and
BatchFlow in the same process (same script, same API), with the ratio.

    python3 crates/batchline-py/benches/bench.py                  # batchline, and BatchFlow if importable
    python3 crates/batchline-py/benches/bench.py --libs batchline  # batchline only

BatchFlow 0.10.1 is not a dependency: install it beside batchline to compare, e.g. in a venv
that sees the system packages (`python3 -m venv --system-site-packages /tmp/bfenv &&
/tmp/bfenv/bin/python -m pip install batchflow==0.10.1`, then run the script with
`/tmp/bfenv/bin/python`). Install batchline with the release build for figures
(`python3 -m pip install ./crates/batchline-py`). Prints microseconds per batch, best of
`--rounds` rounds; BatchFlow runs a tenth of the batches at prefetch >= 1 (it is slow there).
"""

import argparse
import importlib
import time


def per_batch(bf, k, n, rounds):
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

    pipeline = bf.Dataset(n, NoOp).p.a1().a2().a3()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        count = 0
        for _batch in pipeline.gen_batch(1, n_iters=n, prefetch=k):
            count += 1
        elapsed = time.perf_counter() - start
        assert count == n, (count, n)
        best = min(best, elapsed / n)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--libs", default="batchline,batchflow")
    ap.add_argument("--batches", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--k", default="0,1,3,7")
    args = ap.parse_args()
    libs = {}
    for name in args.libs.split(","):
        try:
            libs[name] = importlib.import_module(name)
        except ImportError as e:
            print(f"{name}: not importable ({e}), left out", flush=True)
    print("| prefetch | " + " | ".join(f"{n} (µs/batch)" for n in libs) + " | ratio |")
    print("| ---: | " + " | ".join("---:" for _ in libs) + " | ---: |")
    for k in [int(x) for x in args.k.split(",")]:
        times = {}
        for name, bf in libs.items():
            slow = name != "batchline" and k > 0
            n = max(args.batches // 10, 500) if slow else args.batches
            times[name] = per_batch(bf, k, n, args.rounds)
        cells = " | ".join(f"{t * 1e6:.2f}" for t in times.values())
        ratio = ""
        if "batchline" in times and len(times) > 1:
            other = next(t for n, t in times.items() if n != "batchline")
            ratio = f"{other / times['batchline']:.1f}× less"
        print(f"| {k} | {cells} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()

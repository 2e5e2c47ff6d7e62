"""The GIL rules: Python actions run on the engine's workers and take the GIL only while
Python runs; the consumer waits without it.

Parallelism is shown structurally, not by timing: an action records the interval of its
NumPy call with clock reads made in Python. If the GIL were held through the NumPy call (or
Python actions were serialised), no other batch's Python code could read the clock inside
that interval, so the intervals of different batches could never overlap."""

import threading
import time

import numpy as np

from batchline import Batch, Dataset, action


class Sorter(Batch):
    @action
    def heavy(self, spans, lock):
        data = self.random.random(1_500_000)
        start = time.perf_counter()
        np.sort(data, kind="stable")  # NumPy releases the GIL while it sorts
        end = time.perf_counter()
        with lock:
            spans.append((int(self.indices[0]), start, end))
        return self


def overlaps(spans):
    spans = sorted(spans, key=lambda s: s[1])
    return sum(1 for a, b in zip(spans, spans[1:]) if b[1] < a[2])


def test_numpy_action_runs_in_parallel_under_prefetch():
    spans, lock = [], threading.Lock()
    Dataset(8, Sorter).p.heavy(spans, lock).run(1, prefetch=3)
    assert len(spans) == 8
    assert overlaps(spans) >= 1, spans


def test_no_overlap_without_prefetch():
    spans, lock = [], threading.Lock()
    Dataset(4, Sorter).p.heavy(spans, lock).run(1, prefetch=0)
    assert overlaps(spans) == 0


def test_consumer_waits_without_the_gil():
    # A Python thread keeps running while the consumer waits for a slow batch.
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    class Slow(Batch):
        @action
        def slow(self):
            time.sleep(0.05)
            return self

    t = threading.Thread(target=ticker)
    t.start()
    try:
        before = len(ticks)
        for _ in Dataset(3, Slow).p.slow().gen_batch(1, prefetch=1):
            pass
        assert len(ticks) > before
    finally:
        stop.set()
        t.join()


# A worker keeps one Python thread state for its life (not one per action call): what a
# Python action keeps in `threading.local` is still there for the worker's next batch, as on
# a thread Python started itself.
_local = threading.local()


class Counting(Batch):
    @action
    def count(self, seen, lock):
        _local.calls = getattr(_local, "calls", 0) + 1
        with lock:
            seen.append((threading.get_ident(), _local.calls))
        return self


def test_thread_local_state_lasts_across_a_workers_batches():
    seen, lock = [], threading.Lock()
    Dataset(60, Counting).p.count(seen, lock).run(1, prefetch=2)
    assert len(seen) == 60
    per_thread = {}
    for ident, calls in seen:
        per_thread.setdefault(ident, []).append(calls)
    # Each worker thread counts 1, 2, 3, ... over its own batches.
    for counts in per_thread.values():
        assert counts == list(range(1, len(counts) + 1)), per_thread
    assert max(len(c) for c in per_thread.values()) > 1


def test_the_interpreter_exits_while_a_run_is_alive():
    # Workers that still hold a thread state when the interpreter shuts down must neither
    # hang the exit nor crash it.
    import subprocess
    import sys

    script = (
        "import time, batchline as bf\n"
        "class B(bf.Batch):\n"
        "    @bf.action\n"
        "    def slow(self):\n"
        "        time.sleep(0.01)\n"
        "        return self\n"
        "it = iter(bf.Dataset(10_000, B).p.slow().gen_batch(1, prefetch=3))\n"
        "for _ in range(5):\n"
        "    next(it)\n"
        "print('done', flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"

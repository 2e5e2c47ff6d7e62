"""The engine's guarantees from Python: the seed's two listings, order, the k + 1 bound,
determinism, errors at the batch's place, locks, skip/stop, early break, and the failure
cases of BatchFlow (batchflow-spec.md §5, §6, §9). Every test runs under a timeout."""

import subprocess
import sys
import textwrap
import threading
import time
import traceback

import numpy as np
import pytest

import batchline as bf
from batchline import B, F, V, Batch, Dataset, action
from conftest import thread_count, wait_until


class Listing(Batch):
    """Three actions that log the seed's events."""

    def __init__(self, index, *args, **kwargs):
        super().__init__(index, *args, **kwargs)
        log = self.pipeline.get_variable("log")
        with log.lock:
            log.events.append(("created", int(self.indices[0])))

    def _ev(self, what, n):
        log = self.pipeline.get_variable("log")
        with log.lock:
            log.events.append((what, n, int(self.indices[0])))
        return self

    @action
    def action1(self):
        self._ev("started", 1)
        return self._ev("finished", 1)

    @action
    def action2(self):
        self._ev("started", 2)
        return self._ev("finished", 2)

    @action
    def action3(self):
        self._ev("started", 3)
        return self._ev("finished", 3)


def listing_run(log, prefetch, n=3):
    ds = Dataset(n, Listing)
    p = ds.p.init_variable("log", log).action1().action2().action3()
    got = []
    for batch in p.gen_batch(1, prefetch=prefetch):
        with log.lock:
            log.events.append(("consumed", int(batch.indices[0])))
        got.append(int(batch.indices[0]))
    return got


def test_seed_listing_prefetch_0_exactly(log):
    assert listing_run(log, 0) == [0, 1, 2]
    expected = []
    for b in range(3):
        expected.append(("created", b))
        for a in (1, 2, 3):
            expected += [("started", a, b), ("finished", a, b)]
        expected.append(("consumed", b))
    assert list(log) == expected


@pytest.mark.parametrize("prefetch", [1, 3])
def test_seed_listing_prefetch_invariants(log, prefetch):
    n = 12
    assert listing_run(log, prefetch, n) == list(range(n))
    events = list(log)
    created = [e[1] for e in events if e[0] == "created"]
    assert sorted(created) == list(range(n))  # every batch once
    for b in range(n):  # each batch runs its actions in order
        own = [e[:2] for e in events if len(e) == 3 and e[2] == b]
        assert own == [("started", 1), ("finished", 1), ("started", 2), ("finished", 2),
                       ("started", 3), ("finished", 3)]
    # the bound: a batch is created only while fewer than prefetch + 1 are created and not
    # yet consumed
    live = 0
    consumed = 0
    for e in events:
        if e[0] == "created":
            live += 1
            assert live - consumed <= prefetch + 1, events
        elif e[0] == "consumed":
            consumed += 1
    # batch #3 of the seed's listing (prefetch 1) is created after batch #1 was consumed
    if prefetch == 1:
        assert events.index(("created", 2)) > events.index(("consumed", 0))


class Slow(Batch):
    @action
    def work(self, delay=0.0, log=None):
        if log is not None:
            log.add("start", int(self.indices[0]))
        # shorter work for later batches: completion order differs from batch order
        time.sleep(delay * (1.0 / (1 + int(self.indices[0]) % 4)))
        return self


@pytest.mark.parametrize("prefetch", [0, 1, 3, 7])
def test_order_kept_under_shuffle(prefetch):
    ds = Dataset(40, Slow)
    p = ds.p.work(delay=0.002)
    runs = [[list(b.indices) for b in p.gen_batch(3, shuffle=9, n_epochs=2, prefetch=prefetch)]
            for _ in range(2)]
    reference = [list(b.indices) for b in bf.DatasetIndex(40).gen_batch(3, shuffle=9,
                                                                         n_epochs=2)]
    assert runs[0] == runs[1] == reference


def test_exact_k_plus_1_bound(log):
    k = 3
    ds = Dataset(30, Slow)
    p = ds.p.work(log=log)
    it = p.gen_batch(1, prefetch=k)
    first = next(it)
    assert int(first.indices[0]) == 0
    # while the consumer holds batch 0, batches 1..k are processed, and no more
    wait_until(lambda: len(list(log)) >= k + 1)
    time.sleep(0.05)
    assert sorted(e[1] for e in log) == list(range(k + 1))
    next(it)  # releases batch 0: one more batch may start
    wait_until(lambda: len(list(log)) >= k + 2)
    time.sleep(0.05)
    assert sorted(e[1] for e in log) == list(range(k + 2))
    it.close()


def test_seeded_run_identical_for_any_prefetch():
    class Rnd(Batch):
        @action
        def draw(self):
            self.v = self.random.normal(size=3)
            return self

    ds = Dataset(25, Rnd)
    out = []
    for k in (0, 1, 3, 7):
        out.append([(list(b.indices), list(b.v)) for b in
                    ds.p.draw().gen_batch(4, shuffle=21, n_epochs=2, prefetch=k)])
    assert all(o == out[0] for o in out)


class Failing(Batch):
    @action
    def maybe_fail(self, bad=(), log=None):
        if log is not None:
            log.add(int(self.indices[0]))
        if int(self.indices[0]) in bad:
            raise ValueError(f"bad item {int(self.indices[0])}")
        return self

    @action(use_lock=True)
    def locked_fail(self, bad=()):
        time.sleep(0.001)
        if int(self.indices[0]) in bad:
            raise KeyError(f"locked bad {int(self.indices[0])}")
        return self

    @action
    def skip_or_stop(self, skip=(), stop=()):
        i = int(self.indices[0])
        if i in skip:
            raise bf.SkipBatchException()
        if i in stop:
            raise bf.StopPipeline()
        return self


@pytest.mark.parametrize("prefetch", [0, 2])
def test_error_at_its_batch_with_type_traceback_and_context(prefetch):
    ds = Dataset(6, Failing)
    got = []
    with pytest.raises(ValueError, match="bad item 2") as info:
        for b in ds.p.maybe_fail(bad=(2,)).gen_batch(1, prefetch=prefetch):
            got.append(int(b.indices[0]))
    assert got == [0, 1]  # raised at the batch's place, never a batch twice, never None
    err = info.value
    cause = err.__cause__
    assert isinstance(cause, bf.ActionFailed) and err.batchline_error is cause
    assert cause.batch == 2 and cause.action == "maybe_fail" and "[2]" in cause.ids
    assert 'batch 2 [2]: action "maybe_fail" failed' in str(cause)  # 0-based, as in Rust
    frames = traceback.extract_tb(err.__traceback__)
    assert any(f.name == "maybe_fail" for f in frames)  # the action's own frame is kept
    assert any("maybe_fail" in note for note in getattr(err, "__notes__", ["maybe_fail"]))


def test_error_in_locked_action_at_prefetch_3_releases_the_lock():
    ds = Dataset(20, Failing)
    p = ds.p.locked_fail(bad=(5,))
    got = []
    with pytest.raises(KeyError, match="locked bad 5"):
        for b in p.gen_batch(1, prefetch=3):
            got.append(int(b.indices[0]))
    assert got == [0, 1, 2, 3, 4]
    # with ignore_exceptions the later batches still get the lock (BatchFlow hangs here)
    got = [int(b.indices[0]) for b in p.gen_batch(1, prefetch=3, ignore_exceptions=True)]
    assert got == [i for i in range(20) if i != 5]


def test_ignore_exceptions_never_yields_none():
    ds = Dataset(10, Failing)
    out = list(ds.p.maybe_fail(bad=(2, 9)).gen_batch(1, prefetch=2, ignore_exceptions=True))
    assert None not in out
    assert [int(b.indices[0]) for b in out] == [0, 1, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("prefetch", [0, 2])
def test_skip_on_first_batch_and_stop(prefetch):
    ds = Dataset(6, Failing)
    got = [int(b.indices[0]) for b in ds.p.skip_or_stop(skip=(0,)).gen_batch(1, prefetch=prefetch)]
    assert got == [1, 2, 3, 4, 5]  # BatchFlow hangs under prefetch
    got = [int(b.indices[0]) for b in ds.p.skip_or_stop(skip=(2,)).gen_batch(1, prefetch=prefetch)]
    assert got == [0, 1, 3, 4, 5]  # BatchFlow repeats batch 1
    got = [int(b.indices[0]) for b in ds.p.skip_or_stop(stop=(2,)).gen_batch(1, prefetch=prefetch)]
    assert got == [0, 1]


@pytest.mark.parametrize("prefetch", [0, 3])
def test_error_in_the_last_batch(prefetch):
    ds = Dataset(8, Failing)
    got = []
    with pytest.raises(ValueError, match="bad item 7"):
        for b in ds.p.maybe_fail(bad=(7,)).gen_batch(1, prefetch=prefetch):
            got.append(int(b.indices[0]))
    assert got == list(range(7))


@pytest.mark.parametrize("prefetch", [0, 8])
def test_counter_updated_by_200_batches(prefetch):
    def slow_inc(c):
        time.sleep(0.0005)
        return c + 1

    ds = Dataset(200)
    p = ds.p.init_variable("c", 0).update(V("c"), F(slow_inc)(V("c")))
    p.run(1, prefetch=prefetch)
    assert p.v("c") == 200  # BatchFlow: 35 at prefetch 8


def test_acquire_release_lock_steps_serialise():
    state = {"now": 0, "max": 0}
    guard = threading.Lock()

    def enter():
        with guard:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.001)
        with guard:
            state["now"] -= 1

    ds = Dataset(30)
    ds.p.acquire_lock("L").call(enter).release_lock("L").run(1, prefetch=4)
    assert state["max"] == 1
    with pytest.raises(bf.LockError, match="L"):
        ds.p.release_lock("L").run(1)


def test_use_lock_max_concurrency_is_one():
    state = {"now": 0, "max": 0}
    guard = threading.Lock()

    class L(Batch):
        @action(use_lock="shared")
        def one(self):
            with guard:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
            time.sleep(0.001)
            with guard:
                state["now"] -= 1
            return self

        @action(use_lock="shared")
        def two(self):
            return self.one()

        @action
        def free(self):
            return self.one() if False else self

    Dataset(24, L).p.one().free().run(1, prefetch=5)
    assert state["max"] == 1


BREAK_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import batchline as bf

    class S(bf.Batch):
        @bf.action
        def slow(self):
            time.sleep(0.05)
            return self

    def threads():
        return len(os.listdir("/proc/self/task"))

    before = threads()
    p = bf.Dataset(1000, S).p.slow().slow()
    for i, b in enumerate(p.gen_batch(1, prefetch=3)):
        if i == 2:
            break
    during = threads()
    del b
    print(before, threads(), flush=True)
""")


def test_break_at_prefetch_3_stops_and_joins(tmp_path):
    script = tmp_path / "brk.py"
    script.write_text(BREAK_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    before, after = map(int, out.stdout.split())
    assert after == before  # every worker joined when the loop was left


def test_break_in_process_returns_thread_count():
    class S(Batch):
        @action
        def slow(self):
            time.sleep(0.02)
            return self

    before = thread_count()
    p = Dataset(100, S).p.slow()
    for i, _ in enumerate(p.gen_batch(1, prefetch=3)):
        assert thread_count() > before
        if i == 1:
            break
    wait_until(lambda: thread_count() == before, timeout=5)


def test_close_of_an_unfinished_next_batch_run():
    class S(Batch):
        @action
        def slow(self):
            time.sleep(0.2)
            return self

    before = thread_count()
    p = Dataset(100, S).p.slow()
    p.next_batch(1, prefetch=3)
    p.reset("iter")
    # reset joins every worker before it returns; a joined thread can stay listed in
    # /proc for an instant after the join, so the count is given 50 ms, far less than the
    # 200 ms a worker left running (not joined) would take to end its action.
    wait_until(lambda: thread_count() == before, timeout=0.05)

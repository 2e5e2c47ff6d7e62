"""Ctrl-C: the consumer waits for a batch in slices without the GIL and runs Python's signal
handlers between them, so a SIGINT raises KeyboardInterrupt promptly, even while the next
batch is far from done, and the run stops with every worker joined.

The SIGINT is sent by the process to itself from a timer thread, in a child process (a stray
signal must not reach pytest)."""

import json
import subprocess
import sys
import textwrap

import pytest

INTERRUPT_SCRIPT = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    import batchline as bf

    PREFETCH = int(sys.argv[1])
    STEP = 0.05   # one step of an action
    STEPS = 40    # a batch takes STEPS * STEP = 2 s: no batch is done when the signal comes

    class S(bf.Batch):
        @bf.action
        def slow(self):
            time.sleep(STEP)
            return self

    def threads():
        return len(os.listdir("/proc/self/task"))

    before = threads()
    sent = []

    def interrupt():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.3, interrupt)
    p = bf.Dataset(1000, S).p.slow().repeat(STEPS)
    consumed = 0
    outcome = "finished"
    start = time.monotonic()
    timer.start()
    try:
        for b in p.gen_batch(1, prefetch=PREFETCH):
            consumed += 1
    except KeyboardInterrupt:
        outcome = "interrupted"
    raised = time.monotonic()
    timer.join()
    print(json.dumps({
        "outcome": outcome,
        "consumed": consumed,
        "latency": raised - sent[0],
        "before": before,
        "after": threads(),
    }), flush=True)
""")


def run_interrupted(tmp_path, prefetch):
    script = tmp_path / "interrupt.py"
    script.write_text(INTERRUPT_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(prefetch)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("prefetch", [3, 1])
def test_ctrl_c_stops_a_prefetch_run_promptly_and_joins_its_threads(tmp_path, prefetch):
    got = run_interrupted(tmp_path, prefetch)
    assert got["outcome"] == "interrupted", got
    # The signal came 0.3 s in; the first batch takes 2 s: the consumer was still waiting.
    assert got["consumed"] == 0, got
    # Raised within a wait slice (20 ms) plus the end of the actions in flight (one 50 ms
    # step each); 1.2 s leaves room for a loaded machine and is still well before the first
    # batch (1.7 s after the signal), which is when a wait that ignores signals would return.
    assert got["latency"] < 1.2, got
    # Every worker was joined before KeyboardInterrupt reached the consumer's code.
    assert got["after"] == got["before"], got


def test_ctrl_c_at_prefetch_0_interrupts_the_action(tmp_path):
    # With prefetch=0 the batch is made on the consumer's thread: the Python action itself
    # gets the KeyboardInterrupt, which reaches the consumer as that action's exception.
    got = run_interrupted(tmp_path, 0)
    assert got["outcome"] == "interrupted", got
    assert got["consumed"] == 0 and got["latency"] < 1.2, got
    assert got["after"] == got["before"], got

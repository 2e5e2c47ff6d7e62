"""Shared helpers of the tests. Every test runs under pytest-timeout (pyproject.toml: 60 s,
thread method, so that a deadlock fails instead of hanging)."""

import os
import threading
import time

import pytest


def thread_count() -> int:
    """Threads of this process, Rust ones included (Linux)."""
    return len(os.listdir("/proc/self/task"))


def wait_until(cond, timeout=20.0):
    """Polls ``cond`` until it is true (a deadline, not a timing assertion)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached within the deadline")
        time.sleep(0.001)


class Log:
    """A thread-safe event log."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []

    def add(self, *event):
        with self.lock:
            self.events.append(event)

    def __iter__(self):
        with self.lock:
            return iter(list(self.events))


@pytest.fixture
def log():
    return Log()

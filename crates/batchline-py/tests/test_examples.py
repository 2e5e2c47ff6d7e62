"""The package's examples run as written (each in a subprocess, as a user runs it)."""

import importlib.util
import os
import subprocess
import sys

import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "tables.py")


@pytest.mark.skipif(not os.path.exists(EXAMPLE), reason="not run from the checkout")
def test_the_tables_example_learns_its_rule():
    out = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split()[-1])
    assert accuracy > 0.95, out.stdout


TORCH_JAX = os.path.join(os.path.dirname(__file__), "..", "examples", "to_torch_and_jax.py")


@pytest.mark.skipif(not os.path.exists(TORCH_JAX), reason="not run from the checkout")
def test_the_torch_and_jax_example_runs_and_shares_memory_with_torch_when_installed():
    out = subprocess.run([sys.executable, TORCH_JAX], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    expect = "torch: shared" if importlib.util.find_spec("torch") else "torch: not installed"
    assert out.stdout.startswith(expect), out.stdout

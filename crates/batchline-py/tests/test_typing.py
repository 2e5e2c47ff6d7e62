"""The package is typed (py.typed, inline hints, the extension's .pyi): mypy checks an example
that uses the API, and finds a planted misuse."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

import batchline

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed")

GOOD = textwrap.dedent("""
    import numpy as np
    import batchline as bf
    from batchline import B, V, Batch, Dataset, action

    class MyBatch(Batch):
        components = ("x",)

        @action
        def scale(self, by: float) -> "MyBatch":
            return self

    ds: Dataset = Dataset(10, MyBatch, preloaded=np.arange(10))
    p: bf.Pipeline = ds.p.init_variable("n", 0).scale(by=2.0).update(V("n"), V("n") + 1)
    for b in p.gen_batch(3, prefetch=1):
        pass
    n: int = len(bf.DatasetIndex(5))
    sizes = bf.calc_split(10, [0.5, 0.2])

    def tables(path: str) -> None:
        tds = bf.TableBatch.from_csv(path, dtypes={"a": "float32"})
        stats: bf.TableStats = bf.TableStats.fit(tds, ["a"])
        mean: np.ndarray = stats["a"].mean
        tp: bf.Pipeline = tds.p.load().standardize(stats).to_tensor(["a"])
""")

BAD = GOOD + "\nbad: str = bf.calc_split(10, 0.8)\n"


def run_mypy(tmp_path, code):
    f = tmp_path / "example.py"
    f.write_text(code)
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                           "--cache-dir", os.devnull, str(f)], capture_output=True, text=True,
                          timeout=240)


@pytest.mark.timeout(300)
def test_mypy_accepts_the_example_and_rejects_a_misuse(tmp_path):
    assert os.path.exists(os.path.join(os.path.dirname(batchline.__file__), "py.typed"))
    good = run_mypy(tmp_path, GOOD)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = run_mypy(tmp_path, BAD)
    assert bad.returncode != 0 and "Incompatible types" in bad.stdout, bad.stdout

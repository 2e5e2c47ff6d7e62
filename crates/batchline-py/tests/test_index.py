"""DatasetIndex, FilesIndex, Dataset: construction, positions, splits, BatchFlow's batching
rules (batchflow-spec.md §1, §2)."""

import os
import warnings

import numpy as np
import pytest

import batchline as bf
from batchline import Dataset, DatasetIndex, FilesIndex


def batches(index, *args, **kwargs):
    return [list(b.indices) for b in index.gen_batch(*args, **kwargs)]


def test_construction():
    assert list(DatasetIndex(5).indices) == [0, 1, 2, 3, 4]
    assert list(DatasetIndex(range(10, 20, 2)).indices) == [10, 12, 14, 16, 18]
    assert list(DatasetIndex(lambda: np.arange(5)[::-1]).indices) == [4, 3, 2, 1, 0]
    assert list(DatasetIndex(np.array(5)).indices) == [5]
    assert list(DatasetIndex(DatasetIndex([3, 4])).indices) == [3, 4]
    for bad in ([], 0, -3):
        with pytest.raises(ValueError, match="empty"):
            DatasetIndex(bad)
    with pytest.raises(TypeError, match="1-dimensional"):
        DatasetIndex([[1], [2]])
    with pytest.warns(UserWarning, match="non-unique"):
        DatasetIndex([1, 1, 2])
    assert len(DatasetIndex(7)) == 7 and DatasetIndex(7).size == 7


def test_positions_and_subsets():
    idx = DatasetIndex(["a", "b", "c", "d", "e"])
    assert idx.get_pos("c") == 2
    assert list(idx.get_pos(["e", "a"])) == [4, 0]
    assert idx.get_pos(slice("b", "d")) == slice(1, 3, None)
    num = DatasetIndex([10, 12, 14, 16, 18])
    assert num.get_pos(14) == 2
    with pytest.raises(KeyError):
        num.get_pos(15)
    assert list(num.create_batch([1, 2]).indices) == [12, 14]
    assert list(num.create_batch([12, 14], pos=False).indices) == [12, 14]
    assert list(num.create_batch([1], as_array=True)) == [12]
    assert list((DatasetIndex(3) + DatasetIndex([5, 6])).indices) == [0, 1, 2, 5, 6]
    assert list((DatasetIndex(2) + [7]).indices) == [0, 1, 7]

    class Child(DatasetIndex):
        pass

    assert isinstance(Child(5).create_batch(range(5)), Child)


@pytest.mark.parametrize("n,shares,expected", [
    (100, 0.8, (80, 20, 0)), (100, [0.6, 0.3], (60, 30, 10)), (100, [0.7, 0.2, 0.1], (70, 20, 10)),
    (100, [0.5, 0.2, 0.1], (50, 20, 30)), (5, [0.4, 0.6], (2, 3, 0)), (5, [0.5, 0.5, 0], (3, 2, 0)),
    (10, [0.25, 0.25], (3, 2, 5)), (10, [0.3, 0.45], (4, 4, 2)), (10, [0.5, 0, 0.5], (4, 1, 5)),
    (10, [0.96, 0.04], (9, 1, 0)), (3, [0.1, 0.2, 0.7], (0, 1, 2)), (100, 1.0, (100, 0, 0)),
    (2, 0.8, (1, 1, 0)),
    # an array is a list of shares (BatchFlow adds 0.0 element-wise and loses validation)
    (100, np.array([0.6, 0.3]), (60, 30, 10)),
])
def test_calc_split(n, shares, expected):
    assert bf.calc_split(n, shares) == expected


@pytest.mark.parametrize("n,shares,exc", [
    (1, 0.8, ValueError), (2, [0.5, 0.3, 0.2], ValueError), (100, [0.5, 0.6], ValueError),
    (100, [.2, .2, .2, .2], ValueError), (100, (0.6, 0.3), TypeError),
])
def test_calc_split_errors(n, shares, exc):
    with pytest.raises(exc):
        bf.calc_split(n, shares)


def test_split():
    idx = DatasetIndex(10)
    idx.split([0.6, 0.3])
    assert list(idx.validation.indices) == [0]
    assert list(idx.test.indices) == [1, 2, 3]
    assert list(idx.train.indices) == [4, 5, 6, 7, 8, 9]
    idx.split()
    assert list(idx.test.indices) == [0, 1] and idx.validation is None
    idx.split(0.8, shuffle=42)
    parts = np.concatenate([idx.train.indices, idx.test.indices])
    assert sorted(parts) == list(range(10))
    ds = Dataset(100)
    ds.split([0.6, 0.25])
    assert (len(ds.train), len(ds.test), len(ds.validation)) == (60, 25, 15)


@pytest.mark.parametrize("n,bs,kw,expected", [
    (4, 3, dict(n_epochs=2), [[0, 1, 2], [3, 0, 1], [2, 3]]),
    (4, 3, dict(n_epochs=2, drop_last=True), [[0, 1, 2], [0, 1, 2]]),
    (4, 3, dict(n_epochs=1), [[0, 1, 2], [3]]),
    (4, 3, dict(n_epochs=1, drop_last=True), [[0, 1, 2]]),
    (4, 3, dict(n_epochs=3), [[0, 1, 2], [3, 0, 1], [2, 3, 0], [1, 2, 3]]),
    (5, 2, dict(n_epochs=3), [[0, 1], [2, 3], [4, 0], [1, 2], [3, 4], [0, 1], [2, 3], [4]]),
    (5, 2, dict(n_epochs=3, drop_last=True), [[0, 1], [2, 3]] * 3),
    (10, 3, dict(n_epochs=2), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 1], [2, 3, 4], [5, 6, 7],
                               [8, 9]]),
    (4, 4, dict(n_epochs=2), [[0, 1, 2, 3]] * 2),
    (4, 3, dict(n_iters=5), [[0, 1, 2], [3, 0, 1], [2, 3, 0], [1, 2, 3], [0, 1, 2]]),
    (4, 3, dict(n_iters=5, drop_last=True), [[0, 1, 2]] * 5),
    (4, 3, dict(n_iters=0), []),
    (4, 3, dict(n_epochs=0), []),
    (1, 1, dict(n_epochs=3), [[0], [0], [0]]),
])
def test_batching_rules(n, bs, kw, expected):
    assert batches(DatasetIndex(n), bs, **kw) == expected
    # the same through a pipeline of the engine
    got = [list(b.indices) for b in Dataset(n).p.gen_batch(bs, **kw)] \
        if kw.get("n_iters", kw.get("n_epochs")) != 0 else []
    assert got == expected


def test_batching_errors():
    with pytest.raises(ValueError, match="larger"):
        next(DatasetIndex(4).gen_batch(5, n_epochs=1))
    with pytest.raises(ValueError):
        next(DatasetIndex(4).gen_batch(3, n_epochs=1, n_iters=2))


def test_shuffle_structure():
    idx = DatasetIndex(50)
    a = batches(idx, 50, shuffle=42, n_epochs=3)
    b = batches(idx, 50, shuffle=42, n_epochs=3)
    assert a == b  # same seed, same sequence
    assert all(sorted(e) == list(range(50)) for e in a)  # each epoch is a permutation
    assert a[0] != list(range(50)) and a[0] != a[1]  # shuffled, and reshuffled per epoch
    assert batches(idx, 50, shuffle=43, n_epochs=1) != a[:1]
    assert batches(idx, 50, shuffle=False, n_epochs=1) == [list(range(50))]
    with pytest.raises(ValueError):
        batches(idx, 5, shuffle=-1, n_epochs=1)


def test_next_batch_keeps_state():
    idx = DatasetIndex(4)
    got = [list(idx.next_batch(3, n_epochs=2).indices) for _ in range(3)]
    assert got == [[0, 1, 2], [3, 0, 1], [2, 3]]
    with pytest.raises(StopIteration):
        idx.next_batch(3, n_epochs=2)
    idx.reset("iter")
    assert list(idx.next_batch(3).indices) == [0, 1, 2]
    ds = Dataset(6)
    assert list(ds.next_batch(4).indices) == [0, 1, 2, 3]
    assert list(ds.next_batch(4).indices) == [4, 5, 0, 1]  # endless, straddling


def test_dataset_basics():
    ds = Dataset(10, preloaded=np.arange(10) * 10)
    b = ds.create_batch(np.array([2, 5]))
    assert list(b.indices) == [2, 5] and list(b.data) == [20, 50]
    ds2 = Dataset(DatasetIndex(np.arange(100, 110)))
    assert list(ds2.create_batch([1, 2], pos=True).indices) == [101, 102]
    with pytest.raises(IndexError):
        ds2.create_subset(DatasetIndex(np.arange(200, 225)))
    assert ds.p is not ds.p
    with pytest.raises(TypeError):
        Dataset(3, batch_class=int)
    with pytest.raises(TypeError):
        ds >> 5


def test_files_index(tmp_path):
    a = tmp_path / "a"
    (a / "dir1").mkdir(parents=True)
    for name in ["x1.txt", "x2.txt", "x10.txt", "noext", ".hidden"]:
        (a / name).write_text("x")
    b = tmp_path / "b"
    b.mkdir()
    for name in ["y1.png", "y2.tar.gz"]:
        (b / name).write_text("y")
    idx = FilesIndex(path=str(a / "*"), sort=True)
    assert list(idx.indices) == ["noext", "x1.txt", "x10.txt", "x2.txt"]
    assert idx.get_fullpath("x1.txt") == str(a / "x1.txt")
    assert list(FilesIndex(path=str(a / "*"), sort=True, no_ext=True).indices) == \
        ["noext", "x1", "x10", "x2"]
    assert sorted(FilesIndex(path=str(b / "*"), no_ext=True).indices) == ["y1", "y2.tar"]
    assert list(FilesIndex(path=str(tmp_path / "*"), dirs=True, sort=True).indices) == ["a", "b"]
    # several patterns with different match counts are concatenated (BatchFlow fails here)
    both = FilesIndex(path=[str(a / "*.txt"), str(b / "*")], sort=True)
    assert len(both) == 5
    sub = both.create_subset(["x1.txt", "y1.png"])
    assert isinstance(sub, FilesIndex) and sub.get_fullpath("y1.png") == str(b / "y1.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(FilesIndex(path="")) == 0
    with pytest.raises(TypeError):
        FilesIndex(path=1)
    (b / "x1.txt").write_text("clash")
    with pytest.raises(ValueError, match="collision"):
        FilesIndex(path=str(tmp_path / "*" / "x1.txt"))
    batches_ = [list(x.indices) for x in idx.gen_batch(3, n_epochs=1)]
    assert batches_ == [["noext", "x1.txt", "x10.txt"], ["x2.txt"]]
    assert os.path.isfile(idx.get_fullpath("x2.txt"))


def test_a_counted_index_is_not_sorted_to_check_uniqueness(monkeypatch):
    """`DatasetIndex(n)` is unique by construction: no `np.unique` of its n ids (for a table
    of millions of rows it cost several times the ids' memory); other ids are still checked."""
    import warnings

    import numpy as np

    def unique(*args, **kwargs):
        raise AssertionError("np.unique called for a counted index")

    monkeypatch.setattr(np, "unique", unique)
    assert len(bf.DatasetIndex(1000)) == 1000
    monkeypatch.undo()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bf.DatasetIndex([1, 1, 2])
    assert any("non-unique" in str(w.message) for w in caught)

"""TableBatch from Python: datasets of CSV, Parquet, .npy and .npz files, every native table
action against NumPy's own computation, columns that reach Python without a copy, seeded
runs that do not depend on prefetch, dumps in batch order, and errors that name the file,
the column or the action."""

import os

import numpy as np
import pytest

import batchline as bf
from batchline import TableBatch, TableStats


def write_csv(path, rows, header="a,b,label,name"):
    with open(path, "w") as f:
        if header:
            f.write(header + "\n")
        for row in rows:
            f.write(",".join(str(v) for v in row) + "\n")
    return path


@pytest.fixture
def table(tmp_path):
    """A CSV of 100 rows: a = i / 2, b = a seeded normal, label = i % 3, name = 'n<i>'; and
    the values as NumPy arrays."""
    rng = np.random.default_rng(5)
    a = np.arange(100) / 2
    b = np.round(rng.normal(size=100), 4)
    label = np.arange(100) % 3
    rows = [(a[i], b[i], label[i], f"n{i}") for i in range(100)]
    path = write_csv(tmp_path / "t.csv", rows)
    return path, {"a": a, "b": b, "label": label}


def owner(array):
    """The object that owns the memory of a NumPy array (through its views)."""
    while isinstance(array, np.ndarray):
        array = array.base
    return array


def batches(pipeline, size, **run):
    run.setdefault("n_epochs", 1)
    return list(pipeline.gen_batch(size, **run))


# sources

def test_csv_columns_arrive_as_typed_numpy_arrays(table):
    path, v = table
    ds = TableBatch.from_csv(path)
    assert len(ds) == 100
    (b,) = batches(ds.p.load(), 100)
    assert b.components == ("a", "b", "label", "name")
    assert b.a.dtype == np.float64 and np.array_equal(b.a, v["a"])
    assert b.label.dtype == np.int64 and np.array_equal(b.label, v["label"])
    assert b.name.dtype == object and b.name[7] == "n7"


def test_columns_are_read_only_views_of_the_arrow_buffers_and_the_tensor_is_owned(table):
    path, _ = table
    (b,) = batches(TableBatch.from_csv(path).p.load().to_tensor(["a", "b"]), 100)
    # a view: its base keeps the Arrow buffer alive, and it cannot be written in place
    assert type(owner(b.a)).__name__ == "ArrowBuffers"
    assert not b.a.flags.writeable
    with pytest.raises(ValueError):
        b.a[0] = 1.0
    b.a = b.a * 2  # assigning a new array is the way to change a component
    assert b.a[1] == 1.0
    # the tensor is a float32 C-contiguous matrix that owns the Rust allocation, writable
    assert b.tensor.dtype == np.float32 and b.tensor.shape == (100, 2)
    assert b.tensor.flags.c_contiguous and b.tensor.flags.writeable
    assert not isinstance(b.tensor.base, np.ndarray)


def test_torch_takes_the_tensor_without_a_copy(table):
    torch = pytest.importorskip("torch")
    path, _ = table
    (b,) = batches(TableBatch.from_csv(path).p.load().to_tensor(["a"]), 100)
    t = torch.from_numpy(b.tensor)
    t[0, 0] = 42.0
    assert b.tensor[0, 0] == 42.0


def test_declared_dtypes_and_delimiter(tmp_path):
    path = write_csv(tmp_path / "t.csv", [(1, 2), (3, 4)], header="x;y")
    with open(path, "w") as f:
        f.write("x;y\n1;2\n3;4\n")
    ds = TableBatch.from_csv(path, delimiter=";", dtypes={"x": "float32", "y": "int32"})
    (b,) = batches(ds.p.load(), 2)
    assert b.x.dtype == np.float32 and b.y.dtype == np.int32
    assert b.x.tolist() == [1.0, 3.0] and b.y.tolist() == [2, 4]


def test_npy_columns_are_memory_mapped_rows(tmp_path):
    x = np.arange(60, dtype=np.float32).reshape(20, 3)
    y = np.arange(20, dtype=np.int64) * 10
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    ds = TableBatch.from_npy({"x": tmp_path / "x.npy", "y": str(tmp_path / "y.npy")})
    (b,) = batches(ds.p.load(), 5, shuffle=3, n_iters=1, n_epochs=None)
    rows = b.indices
    assert b.x.shape == (5, 3) and np.array_equal(b.x, x[rows])
    assert type(owner(b.x)).__name__ == "ArrowBuffers"  # a view of the Arrow buffer
    assert np.array_equal(b.y, y[rows])


def _mapped_rss_kb(path):
    """The resident kB of this process's maps of ``path`` (/proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(None, 1)[0] if line.strip() else ""
            if "-" in head and not head.endswith(":"):
                inside = line.rstrip("\n").endswith(str(path))
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc")
def test_npy_max_resident_bounds_the_mapped_pages(tmp_path):
    rows, width = 131_072, 64  # 256 B a row: 32 MiB
    x = np.arange(rows * width, dtype=np.float32).reshape(rows, width)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(rows, dtype=np.int64))
    del x
    files = {"x": tmp_path / "x.npy", "y": tmp_path / "y.npy"}

    def epoch(**kw):
        ds = TableBatch.block_shuffled(TableBatch.from_npy(files, **kw), seed=3, window=1)
        peak, seen = 0, 0
        for b in ds.p.load().gen_batch(4096, n_epochs=1, prefetch=2):
            assert np.array_equal(b.x[:, 0], b.y.astype(np.float32) * width)
            seen += len(b.y)
            peak = max(peak, _mapped_rss_kb(tmp_path / "x.npy"))
        assert seen == rows
        return peak

    # A window of one block: 65 536 rows, 16 MiB of x.
    assert epoch(max_resident=20 << 20) <= 24 << 10
    assert epoch() >= 30 << 10  # without a limit: the whole file
    with pytest.raises(ValueError, match="max_resident"):
        TableBatch.from_npy(files, max_resident=0)


def test_npy_shards_of_a_folder_are_one_table(tmp_path):
    os.mkdir(tmp_path / "x")
    np.save(tmp_path / "x" / "part-0.npy", np.arange(4.0))
    np.save(tmp_path / "x" / "part-1.npy", np.arange(4.0, 7.0))
    ds = TableBatch.from_npy({"x": tmp_path / "x"})
    (b,) = batches(ds.p.load(), 7)
    assert b.x.tolist() == list(range(7))


def test_npz_members_are_columns(tmp_path):
    np.savez(tmp_path / "d.npz", f=np.ones((6, 2), dtype=np.float64), y=np.arange(6))
    (b,) = batches(TableBatch.from_npz(tmp_path / "d.npz").p.load(), 6)
    assert set(b.components) == {"f", "y"} and b.f.shape == (6, 2)


def test_parquet_written_by_dump_reads_back_with_a_projection(table, tmp_path):
    path, v = table
    out = tmp_path / "pq"
    ds = TableBatch.from_csv(path)
    batches(ds.p.load().dump(out), 32, prefetch=3)  # 4 parts, in batch order
    assert sorted(os.listdir(out)) == [f"part-{i:06}.parquet" for i in range(4)]
    back = TableBatch.from_parquet(out, columns=["label", "a"], cache_row_groups=2)
    (b,) = batches(back.p.load(), 100)
    assert b.components == ("a", "label")  # the file's order
    assert np.array_equal(b.a, v["a"]) and np.array_equal(b.label, v["label"])


def test_dump_keeps_batch_order_under_shuffle_and_prefetch(table, tmp_path):
    path, v = table
    out = tmp_path / "npy"
    got = batches(TableBatch.from_csv(path).p.load().select(["a"]).dump(out, fmt="npy"), 10,
                  shuffle=7, prefetch=3)
    order = np.concatenate([b.indices for b in got])
    back = TableBatch.from_npy({"a": out})
    (b,) = batches(back.p.load(), 100)
    assert np.array_equal(b.a, v["a"][order])


# actions

def test_standardize_with_statistics_fitted_on_the_training_split(table):
    path, v = table
    ds = TableBatch.from_csv(path)
    ds.split(0.8)
    stats = TableStats.fit(ds.train, ["a", "b"])
    train_rows = ds.train.indices
    assert stats.columns == ["a", "b"]
    assert stats["a"].count[0] == 80
    assert stats["a"].mean[0] == pytest.approx(v["a"][train_rows].mean())
    assert stats["a"].std[0] == pytest.approx(v["a"][train_rows].std())
    (b,) = batches(ds.test.p.load().standardize(stats), 20)
    expect = (v["a"][ds.test.indices] - v["a"][train_rows].mean()) / v["a"][train_rows].std()
    assert b.a.dtype == np.float32
    np.testing.assert_allclose(b.a, expect, rtol=1e-5)


def test_normalize_uses_the_fitted_range(table):
    path, v = table
    ds = TableBatch.from_csv(path)
    stats = TableStats.fit(ds, ["a"])
    (b,) = batches(ds.p.load().normalize(stats), 100)
    np.testing.assert_allclose(b.a, v["a"] / v["a"].max(), rtol=1e-6)


def test_nulls_become_nan_then_fill_null_replaces_them(tmp_path):
    path = tmp_path / "n.csv"
    with open(path, "w") as f:
        f.write("x,y\n1,\n2,5\n3,\n")
    ds = TableBatch.from_csv(path)
    (b,) = batches(ds.p.load(), 3)
    assert b.y.dtype == np.float64 and np.isnan(b.y[0]) and b.y[1] == 5
    (b,) = batches(ds.p.load().fill_null(["y"], value=-1), 3)
    assert b.y.tolist() == [-1, 5, -1]


def test_one_hot_and_its_range_error(table):
    path, v = table
    ds = TableBatch.from_csv(path)
    (b,) = batches(ds.p.load().one_hot("label", 3), 100)
    assert b.label.shape == (100, 3)
    assert np.array_equal(b.label.argmax(axis=1), v["label"])
    with pytest.raises(bf.ActionFailed, match=r"value 2 .* not a class of 0\.\.2"):
        batches(ds.p.load().one_hot("label", 2), 10)


def test_to_tensor_stacks_scalar_and_list_columns(tmp_path):
    np.save(tmp_path / "f.npy", np.arange(8, dtype=np.float32).reshape(4, 2))
    np.save(tmp_path / "s.npy", np.array([10, 20, 30, 40], dtype=np.int64))
    ds = TableBatch.from_npy({"f": tmp_path / "f.npy", "s": tmp_path / "s.npy"})
    (b,) = batches(ds.p.load().to_tensor(["s", "f"]), 4)
    assert b.tensor.tolist() == [[10, 0, 1], [20, 2, 3], [30, 4, 5], [40, 6, 7]]


def test_a_python_action_after_native_ones_reads_the_components(table):
    path, v = table

    class Features(TableBatch):
        @bf.action
        def add_norm(self):
            return self.add_components("norm", np.linalg.norm(self.tensor, axis=1))

    ds = Features.from_csv(path)
    p = ds.p.load().to_tensor(["a", "b"]).add_norm()
    got = batches(p, 16, prefetch=2, shuffle=1)
    assert sum(len(b) for b in got) == 100
    for b in got:
        assert b.components[-2:] == ("tensor", "norm")
        np.testing.assert_allclose(b.norm, np.hypot(v["a"], v["b"])[b.indices], rtol=1e-5)


def test_a_subclass_may_declare_the_columns_as_components(table):
    path, v = table

    class Declared(TableBatch):
        components = ("a", "label")

    (b,) = batches(Declared.from_csv(path).p.load().select(["a", "label"]), 100)
    assert b.components == ("a", "label")
    assert np.array_equal(b.a, v["a"]) and b.data[1].dtype == np.int64


def test_rebatch_after_native_actions_merges_columns(table):
    path, v = table
    got = batches(TableBatch.from_csv(path).p.load().select(["a", "name"]).rebatch(30), 7)
    assert [len(b) for b in got] == [30, 30, 30, 10]
    assert np.array_equal(np.concatenate([b.a for b in got]), v["a"])
    assert got[1].name[0] == "n30"


def test_a_seeded_shuffled_run_is_the_same_for_any_prefetch(table):
    path, _ = table
    ds = TableBatch.from_csv(path)

    def run(k):
        return [b.a.tolist() for b in batches(ds.p.load().select(["a"]), 7, shuffle=11,
                                                prefetch=k)]

    first = run(0)
    assert sorted(x for b in first for x in b) == sorted(np.arange(100) / 2)
    assert run(1) == first and run(3) == first


def test_subsets_and_splits_read_their_own_rows(table):
    path, v = table
    ds = TableBatch.from_csv(path)
    sub = ds.create_subset([5, 50, 7])
    (b,) = batches(sub.p.load(), 3)
    assert b.a.tolist() == v["a"][[5, 50, 7]].tolist()
    ds.split([0.5, 0.3])
    for part in (ds.train, ds.test, ds.validation):
        got = np.concatenate([b.a for b in batches(part.p.load(), 8)])
        assert np.array_equal(got, v["a"][part.indices])


def test_a_block_shuffled_view_is_a_permutation_that_changes_with_its_seed(table):
    path, v = table
    ds = TableBatch.from_csv(path)

    def rows(seed):
        view = TableBatch.block_shuffled(ds, seed=seed, window=2)
        return np.concatenate([b.a for b in batches(view.p.load(), 10)])

    first = rows(1)
    assert sorted(first.tolist()) == sorted(v["a"].tolist())  # every row once
    assert not np.array_equal(first, v["a"])  # not the file's order
    assert np.array_equal(rows(1), first) and not np.array_equal(rows(2), first)
    ds.split(0.5)
    with pytest.raises(ValueError, match="whole table"):
        TableBatch.block_shuffled(ds.train, seed=1)
    with pytest.raises(ValueError, match="window must be at least 1"):
        TableBatch.block_shuffled(ds, seed=1, window=0)


# errors

def test_bad_files_name_the_file_and_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="missing.csv"):
        TableBatch.from_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    with open(bad, "w") as f:
        f.write("x,y\n1,2\n3,4,5\n")
    with pytest.raises(ValueError, match="line 3"):
        TableBatch.from_csv(bad)
    typed = tmp_path / "typed.csv"
    with open(typed, "w") as f:
        f.write("x\n1\nabc\n")
    with pytest.raises(ValueError, match=r"line 3.*|abc"):
        TableBatch.from_csv(typed, dtypes={"x": "int64"})
    with pytest.raises(ValueError, match="unknown dtype"):
        TableBatch.from_csv(typed, dtypes={"x": "complex"})
    with pytest.raises(ValueError, match="one ASCII character"):
        TableBatch.from_csv(typed, delimiter="::")
    trunc = tmp_path / "t.parquet"
    trunc.write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(ValueError, match="t.parquet"):
        TableBatch.from_parquet(trunc)
    np.save(tmp_path / "c.npy", np.ones(3, dtype=np.complex64))
    with pytest.raises(ValueError, match="c.npy"):
        TableBatch.from_npy({"c": tmp_path / "c.npy"})
    with pytest.raises(TypeError, match="dict"):
        TableBatch.from_npy([("c", "c.npy")])


def test_an_unknown_column_lists_the_columns(table):
    path, _ = table
    ds = TableBatch.from_csv(path)
    with pytest.raises(bf.ActionFailed, match=r'"select".*nope.*label'):
        batches(ds.p.load().select(["nope"]), 10)
    with pytest.raises(ValueError, match="nope"):
        TableStats.fit(ds, ["nope"])
    with pytest.raises(ValueError, match="nope"):
        TableBatch.from_parquet("nope-*.parquet")


def test_bad_arguments_raise_when_the_run_starts_naming_the_action(table):
    path, _ = table
    ds = TableBatch.from_csv(path)
    with pytest.raises(TypeError, match=r"'select'.*not a string"):
        batches(ds.p.load().select("a"), 10)
    with pytest.raises(TypeError, match="'standardize'.*TableStats"):
        batches(ds.p.load().standardize({"a": 1}), 10)
    with pytest.raises(ValueError, match="one_hot: classes must be at least 1"):
        batches(ds.p.load().one_hot("label", 0), 10)
    with pytest.raises(ValueError, match="dump: fmt must be 'parquet' or 'npy'"):
        batches(ds.p.load().dump("x", fmt="csv"), 10)
    with pytest.raises(TypeError, match="named expressions"):
        batches(ds.p.load().select(bf.V("cols")), 10)
    with pytest.raises(TypeError, match="takes no src"):
        batches(ds.p.load(src="x.csv"), 10)
    with pytest.raises(TypeError, match="table dataset"):
        TableStats.fit(bf.Dataset(10), ["a"])


def test_numeric_errors_name_the_column(table):
    path, _ = table
    ds = TableBatch.from_csv(path)
    with pytest.raises(TypeError, match="name"):
        TableStats.fit(ds, ["name"])
    with pytest.raises(bf.ActionFailed, match='"to_tensor".*name'):
        batches(ds.p.load().to_tensor(["a", "name"]), 10)


def test_native_actions_need_a_table_dataset_and_come_first(table):
    path, _ = table
    with pytest.raises(bf.ActionFailed, match="table dataset"):
        batches(bf.Dataset(10, TableBatch).p.load(), 5)
    with pytest.raises(bf.ActionFailed, match="before the Python actions"):
        batches(TableBatch.from_csv(path).p.do_nothing().load(), 10)


def test_a_column_that_shadows_a_batch_attribute_is_refused_with_a_way_out(tmp_path):
    path = tmp_path / "i.csv"
    with open(path, "w") as f:
        f.write("index,x\n0,1.5\n1,2.5\n")
    ds = TableBatch.from_csv(path)
    with pytest.raises(ValueError, match="'index' clashes.*select"):
        batches(ds.p.load(), 2)
    (b,) = batches(ds.p.load().select(["x"]), 2)
    assert b.x.tolist() == [1.5, 2.5]


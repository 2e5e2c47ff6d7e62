"""Pipeline: laziness, algebra, variables, config, steps, named expressions, runs
(batchflow-spec.md §4, §7)."""

import numpy as np
import pytest

import batchline as bf
from batchline import B, C, D, F, I, L, R, V, W, Batch, Dataset, Pipeline, action


class XBatch(Batch):
    components = ("x",)

    @action
    def mark(self, tag, log):
        log.append((tag, list(self.indices)))
        return self

    @action
    def add(self, k=1):
        self.x = self.x + k
        return self

    @action
    def scale(self, by):
        self.x = self.x * by
        return self

    def not_an_action(self):
        return self


def xds(n=6):
    return Dataset(n, XBatch, preloaded=np.arange(n) * 10)


def xs(p, bs=3, **kw):
    return [list(b.x) for b in p.gen_batch(bs, **kw)]


def test_lazy_and_copy_on_chain():
    log = []
    p = xds().p
    p2 = p.mark("a", log)
    assert log == [] and p.num_actions == 0 and p2.num_actions == 1
    p2.run(3, n_epochs=1)
    assert log == [("a", [0, 1, 2]), ("a", [3, 4, 5])]


def test_unknown_and_unmarked_actions_fail_at_run_naming_them():
    p = xds().p.add().no_such_action(3)  # recording is fine
    with pytest.raises(AttributeError, match="no_such_action"):
        p.run(3)
    with pytest.raises(ValueError, match="not_an_action.*@action"):
        xds().p.not_an_action().run(3)


def test_algebra():
    log = []
    a = Pipeline().mark("a", log)
    b = Pipeline().mark("b", log)
    (a + b << xds()).run(3, n_epochs=1)
    assert log == [("a", [0, 1, 2]), ("b", [0, 1, 2]), ("a", [3, 4, 5]), ("b", [3, 4, 5])]
    ds = xds()
    assert xs(ds.p.add(1) * 3) == [[3, 13, 23], [33, 43, 53]]
    assert xs((ds.p.add(1) * 2) * 3)[0] == [6, 16, 26]
    p1 = ds.p.add(1)
    p2 = p1 * 3
    assert xs(p1)[0] == [1, 11, 21]  # p1 is not changed by p1 * 3 (BatchFlow's aliasing)
    assert xs((Pipeline().add(1).add(10) * 2) << ds)[0] == [22, 32, 42]
    assert xs(ds.p.add(1) * 0)[0] == [1, 11, 21]  # BatchFlow: * 0 means * 1
    with pytest.raises(ValueError):
        ds.p.add(1) * -1
    with pytest.raises(TypeError):
        ds.p.add(1) @ "x"
    with pytest.raises(TypeError):
        ds.p + 1
    assert p2.num_actions == 1


def test_config_merge_and_C():
    a = Pipeline(config={"x": 1, "y": 1}).init_variable("v", 1)
    b = Pipeline(config={"y": 2, "z": 2}).init_variable("v", 2).init_variable("u", 0)
    ab = a + b
    assert ab.config == {"x": 1, "y": 2, "z": 2}
    assert ab.v("v") == 1 and ab.v("u") == 0
    p = (xds().p.init_variable("c").update(V("c"), C("alpha")) << {"alpha": 7})
    p.run(3)
    assert p.v("c") == 7
    p = (xds().p.init_variable("g").update(V("g"), C("beta/g") + C("zz", default=-1))
         << {"beta": {"g": 2}})
    p.run(3)
    assert p.v("g") == 1
    with pytest.raises(KeyError, match="missing"):
        xds().p.init_variable("c").update(V("c"), C("missing")).run(3)


def test_variables_modes_and_persistence():
    ds = Dataset(6)
    p = (ds.p.init_variable("w").init_variable("a", []).init_variable("e", [])
         .init_variable("u", {}).init_variable("s", set()).init_variable("n", 0)
         .update(V("w"), B.size)
         .update(V("a", mode="a"), B.indices[0])
         .update(V("e"), F(list)(B.indices), mode="e")
         .update(V("u", mode="u"), F(lambda i, s: {int(i): s})(B.indices[0], B.size))
         .update(V("s"), F(set)(B.indices), mode="u")
         .update(V("n"), V("n") + 1))
    p.run(4)
    assert p.v("w") == 2 and p.v("a") == [0, 4] and p.v("e") == list(range(6))
    assert p.v("u") == {0: 4, 4: 2} and p.v("s") == set(range(6)) and p.v("n") == 2
    p.run(4)  # values persist across runs
    assert p.v("a") == [0, 4, 0, 4] and p.v("n") == 4
    p.run(4, reset=["iter", "vars"])
    assert p.v("n") == 2
    p.set_variable("a", 9, mode="a")
    p.set_variable("a", [7, 8], mode="e")
    assert p.v("a")[-3:] == [9, 7, 8]
    with pytest.raises(KeyError, match="nope"):
        p.get_variable("nope")
    strict = Pipeline(ds, strict=True).update(V("undeclared"), 5)
    with pytest.raises(KeyError, match="undeclared"):
        strict.run(2)
    # chained copies are independent
    p1 = ds.p.init_variable("k", 1)
    p2 = p1.add_components("z") if False else p1.print()
    p2.set_variable("k", 99)
    assert p1.v("k") == 1 and p2.v("k") == 99


def test_update_variable_step_and_modes():
    p = Dataset(6).p.init_variable("li", []).update_variable("li", B.indices[0], mode="a")
    p.run(2)
    assert p.v("li") == [0, 2, 4]
    with pytest.raises(TypeError):
        Dataset(6).p.update_variable(5, 1)


def test_before_after():
    seen = []
    p = Dataset(6).p.init_variable("log", [])
    p.before.call(lambda: seen.append("before"))
    p = p.call(lambda b: seen.append(int(b.indices[0])), B())
    p.after.call(lambda: seen.append("after"))
    p.run(3)
    assert seen == ["before", 0, 3, "after"]
    seen.clear()
    for _ in p.gen_batch(3):
        break
    assert seen == ["before", 0]  # after runs only when the loop finishes
    seen.clear()
    p.before.update(V("log", mode="a"), "b")
    p.run(3)
    assert p.v("log") == ["b"]


def test_call_print_save_to(capsys):
    ds = Dataset(3, XBatch, preloaded=np.array([0, 10, 20]))
    p = (ds.p.init_variable("s").init_variable("a").init_variable("b").init_variable("t")
         .call(lambda b, k: int(b.x.sum()) + k, B(), 1, save_to=V("s"))
         .call(lambda b: (1, 2), B(), save_to=[V("a"), V("b")])
         .call(lambda b: (1, 2), B(), save_to=V("t")))
    p.run(3)
    assert (p.v("s"), p.v("a"), p.v("b"), p.v("t")) == (31, 1, 2, (1, 2))
    xds().p.print("iter", I(), "x0=", B.x[0], k=5).run(3, prefetch=2)
    assert capsys.readouterr().out == "iter 1 x0= 0 k=5\niter 2 x0= 30 k=5\n"


def test_discard_batch():
    p = Dataset(6).p.init_variable("n", 0).update(V("n"), V("n") + 1).discard_batch()
    assert list(p.gen_batch(2)) == [None, None, None]
    assert p.v("n") == 3


def test_named_expressions():
    ds = Dataset(10, XBatch, preloaded=np.arange(10) * 10, size_attr=10)
    out = {}

    class Catch(XBatch):
        @action
        def catch(self, **kw):
            if self.iteration == 1:
                out.update(kw)
            return self

    ds = Dataset(10, Catch, preloaded=np.arange(10) * 10, size_attr=10)
    p = (ds.p.init_variable("v", 2).init_variable("v2", 9) << {"a": 5, "nested": {"k": 3}})
    p = p.catch(size=B.size, x0=B.x[0], ind=B.indices[1:3], v1=V("v") + 1, a=C("a"),
                k=C("nested/k"), zz=C("zz", default=-1), f=F(lambda a, b: a * b)(C("a"), V("v")),
                f0=F(lambda: 11), d=D("size_attr"), i=I(), m=I("m"), r=I("r"),
                w=W(V("v")), nested=[V("v"), {C("a"): B.size}], s=V("v").str(),
                fmt=V("v").format("v={}"), neg=-V("v"), gt=V("v") > 1,
                ls=L("x").__add__(1) if False else L("x").real, rand=R("uniform", size=2))
    p.run(4, n_epochs=1, shuffle=-3)
    assert out["size"] == 4 and out["x0"] == 0 and list(out["ind"]) == [1, 2]
    assert (out["v1"], out["a"], out["k"], out["zz"], out["f"], out["f0"]) == (3, 5, 3, -1, 10, 11)
    assert (out["d"], out["i"], out["m"]) == (10, 1, 3)
    assert abs(out["r"] - 1 / 3) < 1e-12
    assert isinstance(out["w"], V) and out["nested"] == [2, {5: 4}]
    assert (out["s"], out["fmt"], out["neg"], out["gt"]) == ("2", "v=2", -2, True)
    assert list(out["ls"]) == [0, 10, 20, 30]
    assert out["rand"].shape == (2,)
    with pytest.raises(TypeError):
        bool(V("v"))


def test_I_limits():
    got = []
    p = Dataset(10).p.call(lambda m: got.append(m), I("max"))
    p.run(2, n_iters=5)
    assert got == [5] * 5
    got.clear()
    p.run(2, n_epochs=1)
    assert got == [5] * 5


def test_R_is_seeded_per_batch_and_the_same_for_any_prefetch():
    def draws(prefetch, shuffle):
        vals = {}
        p = Dataset(12).p.call(lambda b, r: vals.__setitem__(b.iteration, r), B(), R("uniform"))
        p.run(2, shuffle=shuffle, prefetch=prefetch)
        return [vals[k] for k in sorted(vals)]

    a = draws(0, 7)
    assert a == draws(3, 7) == draws(1, 7)
    assert len(set(a)) == len(a)
    assert draws(0, -7) == a  # -7: same seed, no shuffle: same per-position values
    assert draws(0, 8) != a


def test_batch_random_is_seeded():
    def run(k):
        vals = []
        p = Dataset(8).p.call(lambda b: vals.append((b.iteration, b.random.integers(1 << 30))),
                              B())
        p.run(2, shuffle=5, prefetch=k)
        return sorted(vals)

    assert run(0) == run(3)


def test_sometimes_is_the_same_for_any_prefetch():
    def applied(k):
        ds = Dataset(200, XBatch, preloaded=np.zeros(200))
        p = ds.p.add(1).sometimes(0.5)
        return [int(b.x[0]) for b in p.gen_batch(1, shuffle=11, prefetch=k)]

    a = applied(0)
    assert a == applied(4)
    assert 60 < sum(a) < 140
    ds = Dataset(50, XBatch, preloaded=np.zeros(50))
    assert all(int(b.x[0]) == 0 for b in (ds.p.add(1) @ 0.0).gen_batch(1))
    assert all(int(b.x[0]) == 1 for b in (ds.p.add(1) @ 1).gen_batch(1))
    both = [b.x[0] for b in (ds.p.add(1).add(1) @ 0.5).gen_batch(1, shuffle=3)]
    assert set(both) == {0, 2}  # both steps together, or neither
    with pytest.raises(ValueError):
        ds.p.add(1) @ 1.5


def test_repeat_with_subpipeline():
    ds = xds()
    p = ds.p.repeat(3, Pipeline().add(1).scale(2))
    assert xs(p)[0] == [14, 94, 174]


def test_join_and_merge():
    ds = xds()
    ds2 = Dataset(6, XBatch, preloaded=np.arange(6) * 100)

    class J(XBatch):
        @action
        def use_join(self, other, k=0):
            self.y = other.x + k
            return self

    dsj = Dataset(6, J, preloaded=np.arange(6) * 10)
    ys = [list(b.y) for b in dsj.p.join(ds2).use_join(k=5).gen_batch(3)]
    assert ys == [[5, 105, 205], [305, 405, 505]]  # one joined batch per batch (not k of them)
    other = ds2.p.run(2, n_epochs=None, lazy=True)
    merged = [list(b.x) for b in ds.p.merge(other).gen_batch(3)]
    assert merged == [[0, 10, 20, 0, 100], [30, 40, 50, 200, 300]]


def test_rebatch():
    ds = Dataset(10, XBatch, preloaded=np.arange(10))
    out = [list(b.x) for b in (Pipeline().rebatch(4) << ds).gen_batch(3)]
    assert out == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    p = ds.p.add(0).rebatch(5).scale(2)
    assert [list(b.x) for b in p.gen_batch(3, n_iters=3)] == [[0, 2, 4, 6, 8], [10, 12, 14, 16]]
    assert [list(b.indices) for b in (Pipeline().rebatch(4) << ds).gen_batch(3)][1] == \
        [0, 1, 2, 3]


def test_run_lazy_next_batch_reset():
    ds = Dataset(6)
    p = ds.p.run(4, n_epochs=1, lazy=True)
    assert [list(p.next_batch().indices) for _ in range(2)] == [[0, 1, 2, 3], [4, 5]]
    with pytest.raises(StopIteration):
        p.next_batch()
    q = ds.p
    got = [list(q.next_batch(4).indices) for _ in range(4)]
    assert got == [[0, 1, 2, 3], [4, 5, 0, 1], [2, 3, 4, 5], [0, 1, 2, 3]]
    assert list(q.next_batch(2).indices) == [4, 5, 0, 1]  # later arguments are ignored
    q.reset("iter")
    assert list(q.next_batch(2).indices) == [0, 1]
    p1, p2 = ds.p, ds.p
    assert list(p1.next_batch(2).indices) == [0, 1]
    assert list(p1.next_batch(2).indices) == [2, 3]
    assert list(p2.next_batch(2).indices) == [0, 1]
    with pytest.raises(RuntimeError):
        ds.p.run()
    conf = ds.p << {"bs": 5}
    assert [len(b) for b in conf.gen_batch(C("bs"), n_epochs=1)] == [5, 1]
    assert ds.p.next_batch(2, foo=3).foo == 3
    assert ds.p.run(2) is not None


def test_bad_run_arguments_name_the_problem():
    ds = Dataset(6)
    with pytest.raises(ValueError, match="batch_size"):
        ds.p.gen_batch(-1)
    with pytest.raises(ValueError, match="larger"):
        ds.p.gen_batch(7)
    with pytest.raises(TypeError, match="batch_size"):
        ds.p.gen_batch("3")
    with pytest.raises(ValueError, match="n_iters or n_epochs"):
        ds.p.gen_batch(2, n_iters=1, n_epochs=1)
    with pytest.raises(ValueError, match="prefetch"):
        ds.p.gen_batch(2, prefetch=-1)
    with pytest.raises(TypeError, match="shuffle"):
        ds.p.gen_batch(2, shuffle="yes")
    with pytest.raises(TypeError, match="lock name"):
        ds.p.acquire_lock(5)
    with pytest.raises(TypeError, match="lock name"):
        ds.p.release_lock(None)
    with pytest.raises(TypeError, match="use_lock"):
        action(use_lock=3)
    with pytest.raises(ValueError, match="no dataset"):
        Pipeline().gen_batch(2)


def test_components_and_load():
    class Two(Batch):
        components = ("images", "labels")

    ds = Dataset(10, Two, preloaded=(np.arange(10) * 10, np.arange(10) + 100))
    b = ds.create_batch([0, 1, 2])
    assert list(b.images) == [0, 10, 20] and b[1].labels == 101
    b.add_components("extra", init=[5, 6, 7])
    assert b.components[-1] == "extra" and b.extra == [5, 6, 7]
    with pytest.raises(ValueError):
        b.add_components("extra")
    with pytest.raises(ValueError):
        b.add_components("size")
    b2 = Dataset(10, Two).create_batch([7, 9]).load(src=np.arange(10) * 3, dst="labels")
    assert list(b2.labels) == [21, 27] and b2.images is None
    merged, rest = Two.merge([ds.create_batch([0, 1, 2]), ds.create_batch([5, 6])], batch_size=4)
    assert list(merged.images) == [0, 10, 20, 50] and list(rest.images) == [60]
    assert list(merged.indices) == [0, 1, 2, 3]


def test_inbatch_parallel_and_apply_parallel():
    class P(Batch):
        components = ("x", "y")

        @action
        @bf.inbatch_parallel(init="indices", post="_collect", target="threads")
        def work(self, ix, k=0):
            if ix == 11:
                raise ValueError("item 11")
            return ix + k

        def _collect(self, results, *args, **kwargs):
            self.results = results
            return self

        @action
        @bf.inbatch_parallel(init="indices", target="for")
        def failing(self, ix):
            raise KeyError(ix)

        @bf.apply_parallel
        def neg(self, item, **kwargs):
            return -item

    ds = Dataset(bf.DatasetIndex([10, 11, 12]), P,
                 preloaded=(np.arange(3), np.arange(3) * 10))
    b = ds.p.work(k=5).next_batch(3)
    assert b.results[0] == 15 and isinstance(b.results[1], ValueError) and b.results[2] == 17
    with pytest.raises(RuntimeError, match="Parallel action failed"):
        ds.p.failing().run(3)
    ds = Dataset(3, P, preloaded=(np.arange(3), np.arange(3) * 10))
    b = ds.p.neg(src="x", dst="y").next_batch(3)
    assert list(b.y) == [0, -1, -2] and list(b.x) == [0, 1, 2]
    b = ds.p.neg(src=["x", "y"]).next_batch(3)
    assert list(b.x) == [0, -1, -2] and list(b.y) == [0, -10, -20]
    b = ds.create_batch([0, 1, 2])
    b.apply_parallel(lambda it, **kw: it[0] + it[1], src=("x", "y"), dst="z")
    assert list(b.z) == [0, 11, 22]
    b.apply_parallel(lambda it, **kw: (it, -it), src="x", dst=("y", "w"))
    assert list(b.w) == [0, -1, -2]
    one = [list(x.y) for x in Dataset(6, P, preloaded=(np.arange(6), np.zeros(6)))
           .p.neg(src="x", dst="y", p=0.5).gen_batch(6, shuffle=-1)]
    two = [list(x.y) for x in Dataset(6, P, preloaded=(np.arange(6), np.zeros(6)))
           .p.neg(src="x", dst="y", p=0.5).gen_batch(6, shuffle=-1)]
    assert one == two  # p draws from the batch's seeded generator


def test_batch_random_outside_a_run():
    b = Dataset(3).create_batch([0, 1])
    assert isinstance(b.random, np.random.Generator)


def test_unknown_component_is_a_key_error_naming_the_action():
    with pytest.raises(KeyError, match="nope") as info:
        xds().p.add(k=B("nope")).run(3, prefetch=1)
    err = info.value.batchline_error  # its __cause__ is the KeyError of the expression
    assert isinstance(err, bf.ActionFailed) and err.action == "add" and err.batch == 0

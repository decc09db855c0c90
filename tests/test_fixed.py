"""The bit-exact fixed-point model: bounded against float, saturation flags, determinism."""

import numpy as np
import pytest

from pcfpga.golden.bound import weight_change_bound
from pcfpga.golden.fixed_model import FixedPC, SaturationError
from pcfpga.golden.float_model import FloatPC
from pcfpga.golden.graph import GraphBuilder
from pcfpga.golden.params import init_params
from pcfpga.golden.random_graph import random_graph, random_sample

MODES = {"exact": {}, "fpa": {"eta_v": 0.5, "ticks": 6},
         "standard": {"eta_v": 0.5, "ticks": 3}, "streaming": {}}


def fixed_change(graph, params, x, y):
    """Weight changes of one sample in the fixed model (streaming: sample, then drain)."""
    m = FixedPC(graph)
    q = m.to_model(params)
    new, _ = m.step(q, x, y)
    new = m.drain(new)
    before, after = m.to_float(q), m.to_float(new)
    return {k: after[k] - before[k] for k in q}, m


#: (example, mode) where the interval bound is sound but vacuous: dag's 8-bit tanh/sigmoid
#: table error (0.03) compounds through add, mul and standard mode's value relaxation until
#: an error register's bound reaches its format's limit (documented in the README).
VACUOUS = {("dag", "standard")}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rounding", ["nearest", "truncate", "stochastic"])
def test_fixed_weight_changes_within_the_derived_bound(example, mode, rounding):
    """|ΔW_fixed − ΔW_float| ≤ bound (golden/bound.py), elementwise, on 10 samples; the bound
    is finite and below 0.05 (16-bit formats), so it says something, except in VACUOUS."""
    g = example.with_settings(mode=mode, rounding=rounding, **MODES[mode])
    fx = FixedPC(g)
    params = fx.to_float(fx.to_model(init_params(g, 1)))
    rng = np.random.default_rng(7)
    worst, meaningful = 0.0, True
    for _ in range(10):
        x, y = random_sample(g, rng)
        d_fixed, m = fixed_change(g, params, x, y)
        d_float, bound = weight_change_bound(g, params, x, y)
        assert not m.flags(), m.flags()
        for k in params:
            meaningful &= bool(np.all(np.isfinite(bound[k])) and np.max(bound[k]) < 0.05)
            diff = np.abs(d_fixed[k] - d_float[k])
            assert np.all(diff <= bound[k]), (k, np.max(diff - bound[k]))
            worst = max(worst, float(np.max(diff / bound[k])))
    assert meaningful != ((example.name, mode) in VACUOUS)
    print(f"largest |fixed - float| / bound: {worst:.3f}")


def test_bound_model_computes_the_float_model():
    g = random_graph(3).with_settings(mode="fpa", eta_v=0.5, ticks=5)
    p = init_params(g, 3)
    x, y = random_sample(g, np.random.default_rng(3))
    d_float, _ = weight_change_bound(g, p, x, y)
    new, _ = FloatPC(g).step(p, x, y)
    for k in p:
        assert np.allclose(d_float[k], new[k] - p[k], rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------- saturation
def one_layer(act="identity", bias=True, **fmt):
    b = GraphBuilder("sat").input("x", 2).dense("h", ["x"], 2, act="tanh").dense(
        "y", ["h"], 1, act=act, bias=bias, output=True)
    return b.format(**fmt).build() if fmt else b.build()


def run(graph, params, x, y, model=None):
    m = model or FixedPC(graph)
    new, trace = m.step(m.to_model(params), {"x": np.asarray(x, float)},
                        {"y": np.asarray(y, float)})
    return m, new, trace


PARAMS = {"h.W.x": np.array([[1.0, 0.5], [-0.5, 1.0]]), "y.W.h": np.array([[1.0, -1.0]]),
          "y.b": np.array([0.0])}


def test_no_flags_in_range():
    m, _, trace = run(one_layer(), PARAMS, [0.5, -0.25], [0.1])
    assert m.flags() == {}
    assert all(int(v[-1]) == 0 for k, v in trace.items() if k.endswith(".sat"))


@pytest.mark.parametrize("scale", [3.0, 3.9, 4.1, 5.0, 7.5])
def test_preactivation_flag_set_exactly_when_it_overflows(scale):
    """a_h = W x with x = (scale, scale): overflows Q4.12 (|a| >= 8) exactly when the exact
    accumulator does; then a holds the format's limit."""
    p = {**PARAMS, "h.W.x": np.array([[1.0, 1.0], [-0.5, 0.25]])}
    m, _, trace = run(one_layer(), p, [scale, scale], [0.0])
    acc = 2 * int(np.floor(scale * 4096 + 0.5))      # x quantised to Q4.12, W = (1, 1)
    over = acc > m.arith.V.max_int
    assert ("a" in m.flags().get("h", [])) == over
    assert int(trace["h.a"][0][0]) == min(acc, m.arith.V.max_int)


def test_input_flag():
    m, _, trace = run(one_layer(), PARAMS, [9.0, 0.0], [0.0])
    assert m.flags() == {"x": ["v"]} or "v" in m.flags()["x"]
    assert int(trace["x.v"][0][0]) == 32767


def test_error_flag():
    """ε = y - v̂ beyond Q2.14's range [-2, 2) saturates the output's error."""
    m, _, trace = run(one_layer(), PARAMS, [0.0, 0.0], [3.0])
    assert "eps" in m.flags()["y"]
    assert int(trace["y.eps"][0][0]) == 2 ** 15 - 1
    m, _, _ = run(one_layer(), PARAMS, [0.0, 0.0], [1.9])
    assert m.flags() == {}


def test_hidden_error_flag_and_gated_error_never_overflows():
    """ε_h = Wᵀ δ_y overflows Q2.14 when W is large; δ_h = ε_h ⊙ f'(a) cannot overflow
    because every gain |f'| ≤ 1, so its flag stays clear even then."""
    p = {**PARAMS, "y.W.h": np.array([[7.0, -7.0]])}
    m, _, trace = run(one_layer(), p, [0.0, 0.0], [1.5])
    assert m.flags() == {"h": ["eps"]}
    assert int(np.max(np.abs(trace["h.eps"][-1]))) >= 2 ** 15 - 1


def test_weight_flag():
    """W_y = 7.99 and a positive update (δ_y > 0, h > 0) cross the top of Q4.12."""
    p = {**PARAMS, "y.W.h": np.array([[7.99, 0.0]]), "y.b": np.array([-7.99])}
    g = one_layer().with_settings(eta_theta=1.0)
    m, new, _ = run(g, p, [0.2, 0.0], [1.0])
    assert "W.h" in m.flags()["y"] and "b" not in m.flags()["y"]
    assert int(new["y.W.h"][0, 0]) == 32767


def test_bias_flag():
    p = {**PARAMS, "y.W.h": np.array([[-7.99, 0.0]]), "y.b": np.array([7.99])}
    g = one_layer().with_settings(eta_theta=1.0)
    m, new, _ = run(g, p, [0.2, 0.0], [7.9])
    assert "b" in m.flags()["y"] and "W.h" not in m.flags()["y"]
    assert int(new["y.b"][0]) == 32767


def test_prediction_flag_of_mul():
    g = (GraphBuilder("m").input("x", 1).input("z", 1).mul("p", ["x", "z"])
         .dense("y", ["p"], 1, output=True).build())
    m = FixedPC(g)
    params = {"y.W.p": np.array([[0.5]])}
    m.step(m.to_model(params), {"x": np.array([3.0]), "z": np.array([3.0])},
           {"y": np.array([0.0])})
    assert "vhat" in m.flags()["p"]


def test_value_flag_in_standard_mode():
    g = one_layer().with_settings(mode="standard", eta_v=1.0, ticks=2)
    p = {**PARAMS, "y.W.h": np.array([[7.9, 7.9]])}
    m, _, _ = run(g, p, [0.0, 0.0], [1.9])
    assert "v" in m.flags()["h"]


def test_flags_are_sticky_across_steps():
    g = one_layer()
    m = FixedPC(g)
    q = m.to_model(PARAMS)
    q, _ = m.step(q, {"x": np.array([0.0, 0.0])}, {"y": np.array([3.0])})
    q, trace = m.step(q, {"x": np.array([0.0, 0.0])}, {"y": np.array([0.0])})
    assert "eps" in m.flags()["y"] and int(trace["y.sat"][-1]) != 0


def test_unrepresentable_parameters_are_rejected():
    with pytest.raises(SaturationError, match=r"parameter y.W.h holds 9, outside the weight "
                                              r"format Q4.12 \[-8, 7.99976\]"):
        FixedPC(one_layer()).to_model({**PARAMS, "y.W.h": np.array([[9.0, 0.0]])})


# ----------------------------------------------------------------------------- determinism
def test_stochastic_rounding_is_reproducible_and_seeded():
    g = random_graph(6).with_settings(rounding="stochastic")
    p = init_params(g, 6)
    x, y = random_sample(g, np.random.default_rng(6))

    def params_after(graph):
        m = FixedPC(graph)
        q = m.to_model(p)
        for _ in range(5):
            q, _ = m.step(q, x, y)
        return q

    a, b = params_after(g), params_after(g)
    c = params_after(g.with_settings(seed=99))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("mode", MODES)
def test_python_int_path_equals_int64_path(mode, monkeypatch):
    g = random_graph(9).with_settings(mode=mode, rounding="stochastic", **MODES[mode])
    p = init_params(g, 9)
    rng = np.random.default_rng(9)
    samples = [random_sample(g, rng) for _ in range(3)]

    def traces(dtype):
        m = FixedPC(g)
        m.arith.dtype = dtype
        q = m.to_model(p)
        out = []
        for x, y in samples:
            q, tr = m.step(q, x, y)
            out.append(tr)
        return q, out

    q64, t64 = traces(np.int64)
    qpy, tpy = traces(object)
    assert all(np.array_equal(q64[k], qpy[k].astype(np.int64)) for k in q64)
    for a, b in zip(t64, tpy):
        assert a.keys() == b.keys()
        assert all(np.array_equal(a[k], np.asarray(b[k]).astype(np.int64)) for k in a)


@pytest.mark.parametrize("fmt", [
    {"value": "Q2.16", "error": "Q24.0", "weight": "Q30.0"},      # found by review: h1.eps
    {"value": "Q5.21", "error": "Q11.12", "weight": "Q20.12"},     # wrapped in int64
    {"value": "Q8.8", "error": "Q4.12", "weight": "Q6.10"},
])
def test_automatic_dtype_never_wraps(fmt):
    """The int64/Python-int choice (_max_bits) must keep every intermediate exact: the
    automatic choice equals a run forced onto Python integers, on a graph with dense, mul
    and add messages and large weights."""
    g = (GraphBuilder("o").format(**fmt).learning(eta_theta=1.0)
         .input("x", 1).input("z", 2).dense("h1", ["x"], 2).dense("h2", ["h1"], 2)
         .mul("m", ["h1", "z"]).add("s", ["h2", "m"]).dense("y", ["s"], 1, output=True)
         .build())
    W = g.formats.weight
    big = W.max / 2
    p = {"h1.W.x": np.full((2, 1), 1.0), "h2.W.h1": np.full((2, 2), big),
         "y.W.s": np.full((1, 2), big)}
    x, y = {"x": np.array([0.5]), "z": np.array([0.25, -0.5])}, {"y": np.array([1.0])}
    runs = []
    for force in (None, object):
        m = FixedPC(g)
        if force:
            m.arith.dtype = force
        new, tr = m.step(m.to_model(p), x, y)
        runs.append((new, tr))
    (a, ta), (b, tb) = runs
    assert all(np.array_equal(np.asarray(a[k], dtype=object), b[k]) for k in a)
    assert all(np.array_equal(np.asarray(ta[k], dtype=object), np.asarray(tb[k], dtype=object))
               for k in ta)


def test_wide_formats_use_python_ints_and_stay_close_to_float():
    g = random_graph(10).with_settings(value="Q8.24", error="Q4.28", weight="Q8.24")
    m = FixedPC(g)
    assert m.arith.dtype is object
    p = m.to_float(m.to_model(init_params(g, 10)))
    x, y = random_sample(g, np.random.default_rng(10))
    d_fixed, _ = fixed_change(g, p, x, y)
    d_float, bound = weight_change_bound(g, p, x, y)
    for k in p:
        assert np.all(np.abs(d_fixed[k] - d_float[k]) <= bound[k])


def test_trace_holds_every_register(example):
    for mode in MODES:
        g = example.with_settings(mode=mode, **MODES[mode])
        m = FixedPC(g)
        x, y = random_sample(g, np.random.default_rng(0))
        _, trace = m.step(m.to_model(init_params(g, 0)), x, y)
        for n in g.nodes:
            want = {"v", "sat"}
            if n.op != "input":
                want |= {"vhat", "eps"}
            if n.op in ("dense", "act"):
                want |= {"a", "g", "delta"}
            got = {k.split(".")[1] for k in trace if k.split(".")[0] == n.name}
            assert want <= got, (mode, n.name, want - got)
            assert trace[f"{n.name}.v"].shape == (g.ticks + 1, n.size)


def test_evaluation_does_not_change_training():
    g = random_graph(12).with_settings(rounding="stochastic")
    p = init_params(g, 12)
    rng = np.random.default_rng(12)
    samples = [random_sample(g, rng) for _ in range(4)]

    def train(evaluate):
        m = FixedPC(g)
        q = m.to_model(p)
        for x, y in samples:
            q, _ = m.step(q, x, y)
            if evaluate:
                m.predict(q, {k: np.stack([v, v]) for k, v in x.items()})
        return q

    a, b = train(False), train(True)
    assert all(np.array_equal(a[k], b[k]) for k in a)

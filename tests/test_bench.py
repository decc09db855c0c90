"""The benchmarks' own arithmetic: the CPU baseline does the same SGD step as the golden
backprop reference, and the regression bench's MSE is the spec's loss rescaled."""

import importlib.util
import os

import numpy as np
import pytest

from pcfpga.examples import example_path
from pcfpga.golden.backprop import Backprop
from pcfpga.golden.graph import Graph, GraphBuilder
from pcfpga.golden.params import init_params
from pcfpga.golden.training import History

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", os.path.join(BENCH,
                                                                               f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["xor", "iris", "digits", "teacher_2_4_3", "tanh_2_2_1"])
def test_cpu_baseline_is_the_golden_backprop_step(name, rng):
    tp = _load("throughput")
    g = Graph.from_toml(str(example_path(name)))
    p = init_params(g, 1)
    for k in p:
        if k.endswith(".b"):
            p[k] = rng.normal(0, 0.1, p[k].shape)
    x = rng.uniform(-1, 1, g.inputs[0].size)
    y = rng.uniform(0, 1, g.outputs[0].size)
    ref, _ = Backprop(g).step({k: v.copy() for k, v in p.items()}, {"x": x}, {"y": y})
    dense = [n for n in g.nodes if n.op == "dense"]
    Ws = [p[f"{n.name}.W.{n.inputs[0]}"].copy() for n in dense]
    bs = [p[f"{n.name}.b"].copy() for n in dense]
    acts = [tp.ACT[a] for _, _, a in tp.layers(g)]
    eta = g.learning.eta_theta
    tp.sgd_step(Ws, bs, acts, x, y, eta)
    for n, W, b in zip(dense, Ws, bs):
        assert np.allclose(W, ref[f"{n.name}.W.{n.inputs[0]}"], rtol=0, atol=1e-12)
        assert np.allclose(b, ref[f"{n.name}.b"], rtol=0, atol=1e-12)
    assert tp.numpy_sgd(g, 0.01, eta) > 0


def test_baseline_refuses_a_graph_that_is_not_a_dense_chain():
    tp = _load("throughput")
    with pytest.raises(ValueError, match=r"dag: not a chain of dense layers"):
        tp.layers(Graph.from_toml(str(example_path("dag"))))


def test_regression_mse_is_twice_the_loss_per_output():
    rg = _load("regression")
    h = History(test_loss=[0.3, 0.003])
    assert np.allclose(rg.mse_curve(h, 3), [0.2, 0.002])
    assert rg.PUBLISHED == {"teacher_2_4_3": (0.341, 0.0048), "tanh_2_2_1": (0.107, 0.0044)}


def test_baseline_refuses_an_activation_it_does_not_have():
    tp = _load("throughput")
    g = (GraphBuilder("r").input("x", 2).dense("y", ["x"], 1, act="relu", output=True)
         .build())
    with pytest.raises(ValueError, match=r"r: node y has activation 'relu'; the CPU "
                                         r"baselines have tanh, sigmoid, identity"):
        tp.layers(g)

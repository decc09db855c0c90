"""The generated Verilog on Verilator and Icarus (cocotb), against the golden model.

Builds are cached per configuration under build/test-sim (one folder each), so a second
run only simulates. Icarus is Debian's iverilog: .ci/run installs it; where it is missing
locally these tests say so and skip, and under CI=true they fail instead.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from pcfpga.examples import EXAMPLES, data_path, example_path
from pcfpga.golden.fixed_model import FixedPC
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.random_graph import random_graph, random_sample
from pcfpga.golden.training import sample
from pcfpga.sim.pysim import Mismatch, compare_traces, quantize, simulate_against_golden
from pcfpga.sim.runner import CocotbRunner, available

BUILD = Path(__file__).resolve().parent.parent / "build" / "test-sim"


def need(simulator):
    if not available(simulator):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{simulator} is missing on CI (.ci/run must install it)")
        pytest.skip(f"{simulator} is not installed here")


def runner(graph, simulator, **kw):
    need(simulator)
    return CocotbRunner(graph, simulator, build_root=BUILD, **kw)


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_every_register(name, simulator):
    g = Graph.from_toml(str(example_path(name)))
    rng = np.random.default_rng(4)
    samples = [random_sample(g, rng) for _ in range(2)]
    simulate_against_golden(g, init_params(g, 4), samples, runner=runner(g, simulator))


def _other_mode(simulator, mode, rounding):
    kw = {"eta_v": 0.5, "ticks": 3} if mode in ("fpa", "standard") else {}
    g = Graph.from_toml(str(example_path("xor"))).with_settings(mode=mode, rounding=rounding,
                                                                 **kw)
    rng = np.random.default_rng(5)
    samples = [random_sample(g, rng) for _ in range(3)]
    simulate_against_golden(g, init_params(g, 5), samples, runner=runner(g, simulator))


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("mode", ["fpa", "standard", "streaming"])
def test_other_modes(simulator, mode):
    _other_mode(simulator, mode, "truncate")


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("mode", ["fpa", "standard", "streaming"])
def test_other_modes_stochastic(simulator, mode):
    """Stochastic rounding's per-element mixers take Verilator ~5 minutes to compile."""
    _other_mode(simulator, mode, "stochastic")


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_xor_training_run(simulator):
    """120 samples of XOR through the memory map without pauses: the parameters after
    training equal the golden model's bit for bit."""
    g = Graph.from_toml(str(example_path("xor")))
    x, y, n = load_dataset(str(data_path("xor")), g)
    order = np.random.default_rng(0).permutation(np.arange(120) % n)
    samples = [(sample(x, i), sample(y, i)) for i in order]
    res = simulate_against_golden(g, init_params(g, 0), samples,
                                  runner=runner(g, simulator, pause=False))
    assert res["steps"] == 120


def test_a_corrupted_bit_is_reported():
    g = Graph.from_toml(str(example_path("xor")))
    m = FixedPC(g)
    q = m.to_model(init_params(g, 0))
    x, y = random_sample(g, np.random.default_rng(0))
    _, traces = runner(g, "verilator").run(q, [(quantize(g, x), quantize(g, y))])
    _, ref = m.step(q, x, y)
    compare_traces(traces[0], ref, 0)
    ref["y.delta"] = ref["y.delta"].copy()
    ref["y.delta"][0, 0] ^= 1 << 3
    with pytest.raises(Mismatch, match=r"step 0, tick 0: y.delta\[0\] is -?\d+, golden -?\d+"):
        compare_traces(traces[0], ref, 0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_verilator(seed):
    modes = {"exact": {}, "fpa": {"eta_v": 0.5, "ticks": 3},
             "standard": {"eta_v": 0.5, "ticks": 2}, "streaming": {}}
    mode = list(modes)[seed % 4]
    rounding = ("nearest", "truncate", "stochastic")[(seed // 4) % 3]
    g = random_graph(seed).with_settings(mode=mode, rounding=rounding, **modes[mode])
    rng = np.random.default_rng(seed)
    simulate_against_golden(g, init_params(g, seed), [random_sample(g, rng) for _ in range(3)],
                            runner=runner(g, "verilator"))

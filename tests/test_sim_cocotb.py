"""The generated Verilog on Verilator and Icarus (cocotb), against the golden model.

Builds are cached per configuration under build/test-sim (one folder each), so a second
run only simulates. The default suite builds XOR on Verilator and everything else on Icarus;
the other Verilator builds are the same tests under ``slow`` (tests/helpers.py). Icarus is
Debian's iverilog: .ci/run installs it; where it is missing locally these tests say so and
skip, and under CI=true they fail instead (conftest's ``simulation``). WAVES=1 writes each
test's waveform to build/waves/<test name>.
"""

import numpy as np
import pytest

from pcfpga.examples import EXAMPLES, data_path, example_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.random_graph import random_graph, random_sample
from pcfpga.golden.training import sample
from pcfpga.hdl.design import Design
from pcfpga.sim.cocotb_backend import CocotbBuild
from pcfpga.sim.session import Mismatch, compare_traces
from pcfpga.sim.simulate import simulate_against_golden

from helpers import (FAST_EXAMPLE, MODES, SIMULATORS, cocotb_cases, example_graph,
                     random_samples)

def test_one_build_folder_per_design(need_simulator, tmp_path):
    """The build cache's key is the design: one folder per folding (however it was
    spelled), the same for the same design, and none is built until a session needs it."""
    need_simulator("verilator")
    g = Graph.from_toml(str(example_path("xor")))

    def folder(design, waves=False):
        return CocotbBuild(design, "verilator", tmp_path, waves).build_dir

    foldings = [1, 2, {"h": 2}, "serial", "serial-spram"]
    assert len({folder(Design.build(g, r)) for r in foldings}) == len(foldings)
    assert folder(g) == folder(Design.build(g, {"h": 1, "y": 1})) == folder(Design.build(g))
    assert folder(Design.build(g, 2)) == folder(Design.build(g, {"h": 2, "y": 2}))
    assert folder(g) != folder(g, waves=True)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("simulator, name", cocotb_cases(
    [(s, n) for n in EXAMPLES for s in SIMULATORS], lambda s, n: n == FAST_EXAMPLE))
def test_examples_every_register(name, simulator, simulation):
    g = example_graph(name)
    simulate_against_golden(g, init_params(g, 4), random_samples(g, 2, 4),
                            simulation=simulation(g, simulator))


def _other_mode(simulation, simulator, mode, rounding):
    kw = {"eta_v": 0.5, "ticks": 3} if mode in ("fpa", "standard") else {}
    g = example_graph("xor", mode=mode, rounding=rounding, **kw)
    simulate_against_golden(g, init_params(g, 5), random_samples(g, 3, 5),
                            simulation=simulation(g, simulator))


@pytest.mark.parametrize("simulator, mode", cocotb_cases(
    [(s, m) for m in ["fpa", "standard", "streaming"] for s in SIMULATORS],
    lambda s, m: m == "streaming"))
def test_other_modes(simulator, mode, simulation):
    """The other modes; the default suite builds streaming (its own schedule) on Verilator,
    fpa and standard (the parallel architecture's other tick) on Icarus."""
    _other_mode(simulation, simulator, mode, "truncate")


@pytest.mark.slow
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("mode", ["fpa", "standard", "streaming"])
def test_other_modes_stochastic(simulator, mode, simulation):
    """Stochastic rounding's per-element mixers take Verilator ~5 minutes to compile."""
    _other_mode(simulation, simulator, mode, "stochastic")


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_xor_training_run(simulator, simulation):
    """120 samples of XOR through the memory map without pauses: the parameters after
    training equal the golden model's bit for bit."""
    g = example_graph("xor")
    x, y, n = load_dataset(str(data_path("xor")), g)
    order = np.random.default_rng(0).permutation(np.arange(120) % n)
    samples = [(sample(x, i), sample(y, i)) for i in order]
    res = simulate_against_golden(g, init_params(g, 0), samples,
                                  simulation=simulation(g, simulator, pause=False))
    assert res["steps"] == 120


def test_a_corrupted_bit_is_reported(simulation):
    g = example_graph("xor")
    m = FixedPC(g)
    q = m.to_model(init_params(g, 0))
    x, y = random_sample(g, np.random.default_rng(0))
    _, traces = simulation(g, "verilator").run(q, [(quantize(g, x), quantize(g, y))])
    _, ref = m.step(q, x, y)
    compare_traces(traces[0], ref, 0)
    ref["y.delta"] = ref["y.delta"].copy()
    ref["y.delta"][0, 0] ^= 1 << 3
    with pytest.raises(Mismatch, match=r"step 0, tick 0: y.delta\[0\] is -?\d+, golden -?\d+"):
        compare_traces(traces[0], ref, 0)


#: Formats drawn by the seeded regression (value, error, weight).
FORMATS = [("Q4.12", "Q2.14", "Q4.12"), ("Q3.9", "Q2.10", "Q4.8"), ("Q5.13", "Q3.15", "Q3.13")]


def _random_case(seed: int, roundings=("nearest", "truncate", "stochastic")):
    """Graph × format × mode × rounding, all drawn from ``seed``."""
    mode = list(MODES)[seed % 4]
    rounding = roundings[(seed // 4) % len(roundings)]
    value, error, weight = FORMATS[seed % len(FORMATS)]
    g = random_graph(seed, depth=2 + seed % 3).with_settings(
        mode=mode, rounding=rounding, value=value, error=error, weight=weight, **MODES[mode])
    return g


def _random_run(simulation, seed, simulator, g):
    print(f"seed {seed}: {g.name}, mode {g.learning.mode}, rounding {g.formats.rounding}, "
          f"value {g.formats.value}")
    simulate_against_golden(g, init_params(g, seed), random_samples(g, 3, seed),
                            simulation=simulation(g, simulator))


@pytest.mark.parametrize("simulator, seed", cocotb_cases(
    [(s, seed) for seed in [100, 101, 106, 107] for s in SIMULATORS], lambda s, seed: False))
def test_random_graphs_short(seed, simulator, simulation):
    """The default suite's seeded regression: 4 graphs (every mode, three formats, nearest
    and truncate rounding), every register after every tick, on Icarus (on Verilator under
    ``slow``)."""
    _random_run(simulation, seed, simulator, _random_case(seed, ("nearest", "truncate")))


@pytest.mark.slow
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("seed", range(12))
def test_random_graphs(seed, simulator, simulation):
    """The longer set: 12 graphs × every mode × three formats × every rounding mode
    (stochastic rounding takes Verilator minutes to compile)."""
    _random_run(simulation, seed, simulator, _random_case(seed))

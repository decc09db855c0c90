"""The generated Verilog on Verilator and Icarus (cocotb), against the golden model.

Builds are cached per configuration under build/test-sim (one folder each), so a second
run only simulates. Icarus is Debian's iverilog: .ci/run installs it; where it is missing
locally these tests say so and skip, and under CI=true they fail instead (conftest's
``sim_runner``). WAVES=1 writes each test's waveform to build/waves/<test name>.
"""

import numpy as np
import pytest

from pcfpga.examples import EXAMPLES, data_path, example_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.random_graph import random_graph, random_sample
from pcfpga.golden.training import sample
from pcfpga.sim.session import Mismatch, compare_traces
from pcfpga.sim.simulate import simulate_against_golden


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_every_register(name, simulator, sim_runner):
    g = Graph.from_toml(str(example_path(name)))
    rng = np.random.default_rng(4)
    samples = [random_sample(g, rng) for _ in range(2)]
    simulate_against_golden(g, init_params(g, 4), samples, runner=sim_runner(g, simulator))


def _other_mode(runner, simulator, mode, rounding):
    kw = {"eta_v": 0.5, "ticks": 3} if mode in ("fpa", "standard") else {}
    g = Graph.from_toml(str(example_path("xor"))).with_settings(mode=mode, rounding=rounding,
                                                                 **kw)
    rng = np.random.default_rng(5)
    samples = [random_sample(g, rng) for _ in range(3)]
    simulate_against_golden(g, init_params(g, 5), samples, runner=runner(g, simulator))


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("mode", ["fpa", "standard", "streaming"])
def test_other_modes(simulator, mode, sim_runner):
    _other_mode(sim_runner, simulator, mode, "truncate")


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("mode", ["fpa", "standard", "streaming"])
def test_other_modes_stochastic(simulator, mode, sim_runner):
    """Stochastic rounding's per-element mixers take Verilator ~5 minutes to compile."""
    _other_mode(sim_runner, simulator, mode, "stochastic")


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_xor_training_run(simulator, sim_runner):
    """120 samples of XOR through the memory map without pauses: the parameters after
    training equal the golden model's bit for bit."""
    g = Graph.from_toml(str(example_path("xor")))
    x, y, n = load_dataset(str(data_path("xor")), g)
    order = np.random.default_rng(0).permutation(np.arange(120) % n)
    samples = [(sample(x, i), sample(y, i)) for i in order]
    res = simulate_against_golden(g, init_params(g, 0), samples,
                                  runner=sim_runner(g, simulator, pause=False))
    assert res["steps"] == 120


def test_a_corrupted_bit_is_reported(sim_runner):
    g = Graph.from_toml(str(example_path("xor")))
    m = FixedPC(g)
    q = m.to_model(init_params(g, 0))
    x, y = random_sample(g, np.random.default_rng(0))
    _, traces = sim_runner(g, "verilator").run(q, [(quantize(g, x), quantize(g, y))])
    _, ref = m.step(q, x, y)
    compare_traces(traces[0], ref, 0)
    ref["y.delta"] = ref["y.delta"].copy()
    ref["y.delta"][0, 0] ^= 1 << 3
    with pytest.raises(Mismatch, match=r"step 0, tick 0: y.delta\[0\] is -?\d+, golden -?\d+"):
        compare_traces(traces[0], ref, 0)


#: Modes with the settings they need (ticks and a relaxation rate where one is used).
MODES = {"exact": {}, "fpa": {"eta_v": 0.5, "ticks": 3},
         "standard": {"eta_v": 0.5, "ticks": 2}, "streaming": {}}
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


def _random_run(runner, seed, simulator, g):
    print(f"seed {seed}: {g.name}, mode {g.learning.mode}, rounding {g.formats.rounding}, "
          f"value {g.formats.value}")
    rng = np.random.default_rng(seed)
    simulate_against_golden(g, init_params(g, seed), [random_sample(g, rng) for _ in range(3)],
                            runner=runner(g, simulator))


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("seed", [100, 101, 106, 107])
def test_random_graphs_short(seed, simulator, sim_runner):
    """The default suite's seeded regression: 4 graphs (every mode, three formats, nearest
    and truncate rounding) on both simulators, every register after every tick."""
    _random_run(sim_runner, seed, simulator, _random_case(seed, ("nearest", "truncate")))


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("seed", range(12))
def test_random_graphs(seed, simulator, sim_runner):
    """The longer set: 12 graphs × every mode × three formats × every rounding mode
    (stochastic rounding takes Verilator minutes to compile)."""
    _random_run(sim_runner, seed, simulator, _random_case(seed))

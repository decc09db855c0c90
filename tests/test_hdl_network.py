"""The generated network against the fixed-point golden model, register by register.

Every test simulates the Network in Amaranth's simulator (sim/simulate.py) and compares every
register the memory map names after the forward sweep and after every tick, and the
parameters after every run, with np.array_equal semantics (compare_traces).
"""

import json

import numpy as np
import pytest

from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.graph import Graph, GraphBuilder
from pcfpga.golden.params import init_params
from pcfpga.golden.random_graph import random_graph, random_sample
from pcfpga.hdl.design import Design
from pcfpga.hdl.memmap import MemoryMap
from pcfpga.hdl.multiplier import LATENCY
from pcfpga.hdl.network import Network
from pcfpga.sim.session import Mismatch, compare_traces
from pcfpga.sim.simulate import Simulation, simulate_against_golden

from helpers import MODES

ROUNDING = ("nearest", "truncate", "stochastic")


def samples_for(graph, seed, n=3):
    rng = np.random.default_rng(seed)
    return [random_sample(graph, rng) for _ in range(n)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_every_mode(name, mode, simulation):
    g = Graph.from_toml(str(example_path(name))).with_settings(mode=mode, **MODES[mode])
    simulate_against_golden(g, init_params(g, 1), samples_for(g, 1), simulation=simulation(g))


@pytest.mark.parametrize("rounding", ["truncate", "stochastic"])
@pytest.mark.parametrize("name", ["xor", "dag"])
def test_examples_other_roundings(name, rounding, simulation):
    g = Graph.from_toml(str(example_path(name))).with_settings(rounding=rounding,
                                                                mode="fpa", eta_v=0.5,
                                                                ticks=3)
    simulate_against_golden(g, init_params(g, 2), samples_for(g, 2, 2), simulation=simulation(g))


@pytest.mark.parametrize("seed", range(20))
def test_random_graphs(seed, simulation):
    """Modes and rounding modes cycle over the seeds, so 20 graphs cover all 12 pairs."""
    _random_case(seed, simulation)


def _random_case(seed, simulation):
    mode = list(MODES)[seed % 4]
    rounding = ROUNDING[(seed // 4) % 3]
    g = random_graph(seed).with_settings(mode=mode, rounding=rounding, **MODES[mode])
    print(f"seed {seed}: {mode}, {rounding}, {len(g.nodes)} nodes, depth {g.depth}")
    simulate_against_golden(g, init_params(g, seed), samples_for(g, seed), simulation=simulation(g))


def saturating_case(mode: str, steps: int):
    """dag with large weights and far targets, which saturates errors, deltas, weights and
    values in ``mode``: (graph, params, samples), checked to set some flag in the golden
    model."""
    g = Graph.from_toml(str(example_path("dag"))).with_settings(mode=mode, eta_theta=1.0,
                                                                 **MODES[mode])
    p = {k: np.clip(v * 12, -7.9, 7.9) for k, v in init_params(g, 3).items()}
    rng = np.random.default_rng(3)
    samples = [({"x": rng.uniform(-4, 4, 3)}, {"y": rng.uniform(-7, 7, 2)})
               for _ in range(steps)]
    m = FixedPC(g)
    q = m.to_model(p)
    for x, y in samples:
        q, _ = m.step(q, x, y)
    assert m.flags(), "the case must saturate something"
    return g, p, samples


@pytest.mark.parametrize("mode", MODES)
def test_saturating_cases_match(mode, simulation):
    """Large weights and far targets: errors, deltas, weights and values saturate; the
    flags and the clamped registers still match bit for bit."""
    g, p, samples = saturating_case(mode, 3)
    simulate_against_golden(g, p, samples, simulation=simulation(g))


def _last_cycle_overflow_graph() -> Graph:
    """x1, x2 (3 each) -> s = x1 + x2 -> dense y (2): one tick, whose only step (TE)
    relaxes s's ε, which saturates there first: its overflow comes in the tick's last
    cycle, just before the pause."""
    return (GraphBuilder("addsat")
            .format(value="Q4.12", error="Q2.14", weight="Q4.12", rounding="nearest")
            .learning(mode="exact", eta_v=1.0, eta_theta=0.0625, ticks=1)
            .input("x1", 3).input("x2", 3).add("s", ["x1", "x2"])
            .dense("y", ["s"], 2, bias=True, output=True).build())


@pytest.mark.parametrize("reuse, reads", [(1, "direct"), (1, "bus"), ("serial", "direct")])
def test_a_flag_set_in_a_steps_last_cycle_shows_at_the_pause(reuse, reads):
    """The sticky flags take a step's overflow bits a cycle late: the pause shows in the
    status only when they hold them, so a read at the pause (here in zero simulated time,
    or over the bus) sees s's flag that the tick's last cycle raised."""
    g = _last_cycle_overflow_graph()
    p = {"y.W.s": np.full((2, 3), 7.5), "y.b": np.zeros(2)}
    samples = [({"x1": np.full(3, 0.1), "x2": np.full(3, 0.1)}, {"y": np.full(2, -7.0)})]
    m = FixedPC(g)
    _, trace = m.step(m.to_model(p), *samples[0])
    assert list(trace["s.sat"]) == [0, 4], "s's flag must rise in the tick"
    simulate_against_golden(g, p, samples, simulation=Simulation(Design.build(g, reuse),
                                                                 "amaranth", reads=reads))


@pytest.mark.parametrize("mode, reuse", [("exact", 2), ("exact", "serial"),
                                         ("standard", "serial-spram")])
def test_saturating_cases_match_folded(mode, reuse, simulation):
    """The saturating case on the folded and serial datapaths, whose overflows come from
    registered multipliers LATENCY cycles after their operands (the update's ``w_over``,
    the gate's δ): the flags still match bit for bit."""
    g, p, samples = saturating_case(mode, 2)
    simulate_against_golden(g, p, samples, simulation=simulation(Design.build(g, reuse)))


def test_a_corrupted_expectation_is_caught():
    g = Graph.from_toml(str(example_path("xor")))
    m = FixedPC(g)
    q = m.to_model(init_params(g, 0))
    x, y = samples_for(g, 0, 1)[0]
    simulation = Simulation(g, "amaranth")
    _, traces = simulation.run(q, [(quantize(g, x), quantize(g, y))])
    _, ref = m.step(q, x, y)
    compare_traces(traces[0], ref, 0)                     # identical: passes
    ref["h.eps"] = ref["h.eps"].copy()
    ref["h.eps"][1, 2] ^= 1                               # one bit, tick 1, element 2
    with pytest.raises(Mismatch, match=r"step 0, tick 1: h.eps\[2\] is -?\d+, golden -?\d+"):
        compare_traces(traces[0], ref, 0)


@pytest.mark.parametrize("mode", MODES)
def test_cycles_per_step_match_the_formula(mode, simulation):
    g = Graph.from_toml(str(example_path("dag"))).with_settings(mode=mode, **MODES[mode])
    design = Design.build(g)
    res = simulate_against_golden(design, init_params(g, 0), samples_for(g, 0, 2),
                                  simulation=simulation(design, pause=False))
    assert res["cycles"] == 2 * design.cycles_per_step
    if mode != "streaming":             # dag: L = 5, A = 3 (levels 3, 4: add, mul), and
        plain = 5 + 3 + 3 + {"exact": 2, "fpa": 2, "standard": 5}[mode] * g.ticks + 1
        # every step that multiplies waits LATENCY cycles for its registered products:
        # FA1, FA2, FA4, FA5, FD, UPD, and per tick TE, TD (standard: TV, TA, TD)
        products = 4 + 2 + {"exact": 2, "fpa": 2, "standard": 3}[mode] * g.ticks
        # and a cycle more in each step that reads a table in block RAM: FF1 (h1 tanh, gate
        # sigmoid), FF2 (h2 tanh), and in standard mode TF every tick
        tables = 2 + (g.ticks if mode == "standard" else 0)
        assert design.cycles_per_step == plain + LATENCY * products + tables
    else:                               # S1 gates the relaxed ε (two products), S4; S2
        assert design.cycles_per_step == 4 + LATENCY * 3 + 1        # reads the tables


@pytest.mark.parametrize("mode, reuse", [("streaming", 1), ("exact", 1), ("exact", 3),
                                         ("exact", "serial")])
def test_memory_map_reads_every_register_and_round_trips(mode, reuse):
    """Every rw word written with a distinct value reads back (folded weights through
    their memory), and every register reads as its signal; reads are registered."""
    g = Graph.from_toml(str(example_path("dag"))).with_settings(mode=mode)
    net = Network(Design.build(g, reuse))
    mm = MemoryMap.from_json(net.memmap.to_json())
    assert [f.name for f in mm.fields] == [f.name for f in net.memmap.fields]
    if mode == "streaming":
        assert json.loads(net.memmap.to_json())["meta"]["cycles_per_step"] == 4 + 3 * LATENCY + 1
    names = {f.name for f in mm.fields}
    trace_keys = {k for k in FixedPC(g).step(
        FixedPC(g).to_model(init_params(g, 0)), *samples_for(g, 0, 1)[0])[1]}
    assert trace_keys <= names                            # every golden register is mapped
    from amaranth.sim import Simulator

    got, written = {}, {}
    rw = [f for f in mm.fields if f.kind in ("param", "input", "target")]

    async def tb(ctx):
        for f in rw:                                      # distinct values, in range
            for i in range(f.count):
                value = ((f.addr + i) * 37) % (1 << (f.width - 1)) - (1 << (f.width - 2))
                ctx.set(net.addr, f.addr + i)
                ctx.set(net.w_data, value & 0xFFFFFFFF)
                ctx.set(net.w_en, 1)
                await ctx.tick()
                written[(f.name, i)] = value & 0xFFFFFFFF
        ctx.set(net.w_en, 0)
        for f in mm.fields:
            for i in range(f.count):
                ctx.set(net.addr, f.addr + i)
                await ctx.tick()
                sig = net.fields.get(f.name)
                got[(f.name, i)] = (ctx.get(net.r_data),
                                    ctx.get(sig[i]) if sig is not None else None)

    sim = Simulator(net)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert got.pop(("id", 0))[0] == 0x50434650
    assert got.pop(("cycles_per_step", 0))[0] == net.memmap.meta["cycles_per_step"]
    for (name, i), (word, value) in got.items():
        if (name, i) in written:
            assert word == written[(name, i)], (name, i)
        if value is not None and mm[name].kind != "control":
            assert word == value & 0xFFFFFFFF, (name, i)
    folded = [k for k in net.memmap.meta["folded_edges"]]
    assert bool(folded) == (reuse != 1)
    assert all(name not in net.fields for name in folded)


def test_bad_input_is_rejected_before_elaboration():
    with pytest.raises(TypeError, match="Network needs a validated Graph .* not dict"):
        Network({"name": "x"})


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20, 80))
def test_random_graphs_long(seed, simulation):
    """The longer randomised regression (make test-slow): 60 more graphs."""
    _random_case(seed, simulation)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rounding", ROUNDING)
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_full_cross_product(name, rounding, mode, simulation):
    g = Graph.from_toml(str(example_path(name))).with_settings(mode=mode, rounding=rounding,
                                                                **MODES[mode])
    simulate_against_golden(g, init_params(g, 5), samples_for(g, 5), simulation=simulation(g))


def test_a_memory_map_with_an_unknown_readback_is_refused():
    mm = Design.build(Graph.from_toml(str(example_path("xor")))).memmap
    d = json.loads(mm.to_json())
    d["meta"]["readback"] = "odd"
    with pytest.raises(ValueError, match=r"'xor': meta.readback is 'odd', expected one of "
                                         r"full, lean"):
        MemoryMap.from_json(json.dumps(d))

"""Amaranth's simulator behind the session interface: direct reads against bus reads.

The driver reads registers from their signals in zero simulated time (``reads="direct"``,
the default); ``reads="bus"`` reads every word over the memory-map bus and checks each
against the signal it decodes. Both runs are compared with the golden model register by
register; the bus run also checks the hardware's read decode word by word, and the
hardware's own cycle count without pauses is the same either way.
"""

import numpy as np
import pytest
from amaranth.hdl import Const

from pcfpga.examples import example_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params
from pcfpga.golden.random_graph import random_sample
from pcfpga.hdl.design import Design
from pcfpga.hdl.memmap import CONTROL_LATENCY
from pcfpga.sim import amaranth_backend
from pcfpga.sim.amaranth_backend import AmaranthSession, word_signals
from pcfpga.sim.session import SimulationFailed
from pcfpga.sim.simulate import Simulation, open_session, simulate_against_golden

from helpers import MODES



def _dag(mode):
    return Graph.from_toml(str(example_path("dag"))).with_settings(mode=mode, **MODES[mode])


def _samples(g, n=2, seed=0):
    rng = np.random.default_rng(seed)
    return [random_sample(g, rng) for _ in range(n)]


@pytest.mark.parametrize("mode, reuse", [("exact", 1), ("standard", 1), ("streaming", 1),
                                         ("exact", 3), ("exact", "serial")])
def test_bus_reads_equal_direct_reads_and_golden(mode, reuse):
    """Every word read over the bus equals its signal (else BusDecodeError); both runs
    equal the golden model after every tick; without pauses the hardware counts the same
    cycles either way, cycles_per_step per step."""
    g = _dag(mode)
    design = Design.build(g, reuse)
    p, samples = init_params(g, 1), _samples(g)
    q = FixedPC(g).to_model(p)
    ints = [(quantize(g, x), quantize(g, y)) for x, y in samples]
    got = {}
    for reads in ("bus", "direct"):
        got[reads] = simulate_against_golden(g, p, samples, simulation=Simulation(
                                             design, reads=reads))["params"]
        with open_session(design, "amaranth", reads=reads) as s:
            s.load(q)
            s.run(ints, trace=False)
        assert s.cycles == len(ints) * s.mm.meta["cycles_per_step"]
    assert all(np.array_equal(got["bus"][k], got["direct"][k]) for k in q)


@pytest.mark.parametrize("mode", ["exact", "standard"])
def test_a_pause_costs_three_cycles_with_direct_reads(mode):
    """Reading every register at a pause takes no simulated time: a step with pauses
    takes cycles_per_step plus, per pause (after the forward sweep and after every tick),
    the cycle before the pause shows (the sticky flags take the last overflow bits), the
    cycle CONTINUE is written in and CONTROL_LATENCY cycles until the controller takes it."""
    g = _dag(mode)
    q = FixedPC(g).to_model(init_params(g, 2))
    ints = [(quantize(g, x), quantize(g, y)) for x, y in _samples(g, 3)]
    with open_session(g, "amaranth") as s:
        s.load(q)
        traces = s.run(ints)
    assert all(len(t["h1.v"]) == g.ticks + 1 for t in traces)
    per_pause = 2 + CONTROL_LATENCY
    assert s.cycles == len(ints) * (s.mm.meta["cycles_per_step"] + (g.ticks + 1) * per_pause)


def test_a_wrong_read_decode_is_caught(monkeypatch):
    """Bus reads are checked against the signals: a word whose decode disagrees with its
    signal (here: a signal replaced by a constant) stops the request, naming the word."""
    g = _dag("exact")

    def altered(dut):
        words = word_signals(dut)
        words[dut.memmap["h1.v"].addr + 2] = ("h1.v", 2, Const(0x1234, 32))
        return words

    monkeypatch.setattr(amaranth_backend, "word_signals", altered)
    q = FixedPC(g).to_model(init_params(g, 0))
    x, y = _samples(g, 1)[0]
    with AmaranthSession(g, reads="bus") as s:
        s.load(q)
        with pytest.raises(SimulationFailed, match=r"BusDecodeError: the bus read of "
                                                   r"h1.v\[2\] \(address 0x[0-9a-f]+\) "
                                                   r"gave 0x[0-9a-f]+, its signal holds "
                                                   r"0x1234"):
            s.run([(quantize(g, x), quantize(g, y))])


def test_every_control_word_has_its_signal():
    """The direct reads cover the whole control block, the registers and the host buffers;
    only words held in memories (folded weights) are left to the bus."""
    g = _dag("exact")
    for reuse, folded in ((1, False), (3, True)):
        with AmaranthSession(Design.build(g, reuse)) as s:
            words, mm = word_signals(s.dut), s.mm
        assert all(mm[f.name].addr in words for f in mm.fields if f.kind == "control")
        missing = {f.name for f in mm.fields for i in range(f.count)
                   if f.addr + i not in words}
        assert missing == set(mm.meta["folded_edges"])
        assert bool(missing) == folded


@pytest.mark.parametrize("kw, error, message", [
    ({"simulator": "modelsim"}, ValueError,
     "Simulator must be one of verilator, icarus, amaranth, not 'modelsim'"),
    ({"simulator": "amaranth", "reads": "dma"}, ValueError,
     "Reads must be one of direct, bus, not 'dma'"),
])
def test_bad_runner_arguments(kw, error, message):
    g = _dag("exact")
    with pytest.raises(error, match=message):
        with open_session(g, **kw):
            pass


def test_cocotb_reads_only_over_the_bus():
    with pytest.raises(ValueError, match="icarus reads over the bus, not 'direct'"):
        Simulation(_dag("exact"), "icarus", reads="direct")

"""The native Verilator model (``pcfpga.sim.native_backend``): the generated Verilog and a C++
driver in one library, against the golden model and against the cocotb testbench.

Free-running batches (``--check params``) compare only at their end, so the tests here make
sure a corruption inside one is still caught and located: a word of the hardware is altered
over the bus between two steps of a batch (``NativeSession.corrupt``), and the report must
name the batch's step range, the field, its element and both values. The same run without
the corruption passes, so each test can fail.

Every model is XOR's (the default suite's one Verilator build per architecture); builds are
cached under build/test-sim.
"""

import re

import numpy as np
import pytest

from pcfpga.examples import data_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.training import sample
from pcfpga.hdl.memmap import MemoryMap
from pcfpga.sim.session import Mismatch, compare_traces
from pcfpga.sim.simulate import Simulation
from pcfpga.sim.training import SimulatedPC
from pcfpga.sim.verilated import HEADER_WORDS, VerilatedBuild, driver_header

from helpers import example_graph

SEED = 0


def _xor_samples(n: int) -> list:
    g = example_graph("xor")
    x, y, count = load_dataset(str(data_path("xor")), g)
    order = np.random.default_rng(SEED).permutation(np.arange(n) % count)
    print(f"sample order seed {SEED}")
    return [(sample(x, i), sample(y, i)) for i in order]


def _epoch(sim_build, batch: int, fault=None):
    """One epoch of 32 XOR samples with ``--check params`` in batches of ``batch``, with
    ``fault`` (``corrupt``'s arguments) armed before it; returns the model."""
    g = example_graph("xor")
    model = SimulatedPC(g, "verilator", check="params", batch=batch, build_root=sim_build)
    try:
        model.reset()
        model.epoch = 0
        params = model.to_model(init_params(g, SEED))
        if fault:
            model.session.corrupt(**fault)
        model.run_epoch(params, _xor_samples(32))
    finally:
        model.close()
    return model


def test_clean_free_batches_equal_the_golden_model(need_simulator, sim_build):
    need_simulator("verilator")
    model = _epoch(sim_build, 16)
    assert model.steps_checked == 32 and model.cycles > 0


def _second_batch_fault(sim_build, step, field, element, bit) -> str:
    """Two batches of 16 XOR steps, ``--check params``: the first clean, the fault armed for
    the second (steps 16 to 31); the mismatch's message."""
    g = example_graph("xor")
    model = SimulatedPC(g, "verilator", check="params", batch=16, build_root=sim_build)
    samples = _xor_samples(32)
    try:
        model.reset()
        params = model.to_model(init_params(g, SEED))
        params = model.run_epoch(params, samples[:16])
        model.session.corrupt(step, field, element, bit)
        with pytest.raises(Mismatch) as caught:
            model.run_epoch(params, samples[16:])
    finally:
        model.close()
    print(caught.value)
    return str(caught.value)


#: A located parameter mismatch at the end of the second batch: name, element, both values.
LOCATED = (r"^verilator, epoch 2, steps 16 to 31 \(one batch\): parameter "
           r"(?P<name>[\w.]+)\[(?P<index>[\d, ]+)\] is (?P<hw>-?\d+), golden (?P<ref>-?\d+)$")


@pytest.mark.parametrize("step, field, element, bit", [
    (0, "h.W.x", 3, 9),         # the batch's first step
    (7, "y.b", 0, 2),           # in the middle
    (15, "h.b", 1, 14),         # before its last step
])
def test_a_corrupted_parameter_in_a_free_batch_is_caught(need_simulator, sim_build, step,
                                                         field, element, bit):
    """A weight altered between two steps of a free batch: the training that follows
    spreads the difference, and the check at the batch's end reports the batch's steps and
    the first differing parameter element with both values."""
    need_simulator("verilator")
    found = re.match(LOCATED, _second_batch_fault(sim_build, step, field, element, bit))
    assert found and found["hw"] != found["ref"]


@pytest.mark.parametrize("field, element, bit", [("h.W.x", 5, 9), ("y.b", 0, 15)])
def test_a_corrupted_parameter_is_located_exactly(need_simulator, sim_build, field, element,
                                                  bit):
    """Altered after the batch's last step (inside the request, before the read-back):
    nothing spreads it, so the report names that very element, and its value is the golden
    one with that bit flipped."""
    need_simulator("verilator")
    g = example_graph("xor")
    found = re.match(LOCATED, _second_batch_fault(sim_build, 16, field, element, bit))
    assert found, "no located mismatch"
    index = tuple(int(i) for i in found["index"].split(", "))
    assert (found["name"], index) == (field, np.unravel_index(element, g.param_shapes[field]))
    width = g.formats.weight.width
    flipped = (int(found["ref"]) ^ (1 << bit)) & ((1 << width) - 1)
    assert int(found["hw"]) == flipped - ((flipped >> (width - 1)) << width)


def test_a_corrupted_flag_register_in_a_free_batch_is_located(need_simulator, sim_build):
    """A saturation flag set behind the golden model's back (a register the host can write):
    the report names the batch, the node's flag word and both values."""
    need_simulator("verilator")
    with pytest.raises(Mismatch, match=r"^verilator, epoch 1, steps 0 to 15 \(one batch\): "
                                       r"y\.sat is 0x[0-9a-f]+, golden 0x[0-9a-f]+$"):
        _epoch(sim_build, 16, {"step": 4, "name": "y.sat", "element": 0, "bit": 0})


def test_corrupt_names_a_writable_word(need_simulator, sim_build):
    need_simulator("verilator")
    with Simulation(example_graph("xor"), "verilator", build_root=sim_build).open() as s:
        with pytest.raises(ValueError, match="read-write field of the memory map, not 'y.v'"):
            s.corrupt(0, "y.v")
        with pytest.raises(ValueError, match=r"h.b has elements 0 to 3 of 16 bits, not "
                                             r"element 4 bit 0"):
            s.corrupt(0, "h.b", 4)


def test_the_engines_agree_cycle_for_cycle(need_simulator, sim_build):
    """The same steps on the native model and through cocotb, every register after every
    tick: equal traces and equal cycle counts (the C++ driver makes the testbench's bus
    operations), and both equal the golden model."""
    need_simulator("verilator")
    g = example_graph("xor")
    q = FixedPC(g).to_model(init_params(g, SEED))
    ints = [(quantize(g, x), quantize(g, y)) for x, y in _xor_samples(6)]
    runs = {}
    for engine in ("native", "cocotb"):
        simulation = Simulation(g, "verilator", build_root=sim_build, engine=engine)
        params, traces = simulation.run(q, ints)
        runs[engine] = (params, traces, simulation.cycles)
    (p1, t1, c1), (p2, t2, c2) = runs["native"], runs["cocotb"]
    assert c1 == c2
    for s in range(len(ints)):
        compare_traces(t1[s], t2[s], s, where="native against cocotb, ")
    assert all(np.array_equal(p1[k], p2[k]) for k in q)


def test_free_running_equals_stepping(need_simulator, sim_build):
    """One START running 300 steps of a sample (the steps word) in C++ ends where 300
    golden steps do."""
    need_simulator("verilator")
    g = example_graph("xor")
    model = FixedPC(g)
    q = model.to_model(init_params(g, SEED))
    x, y = _xor_samples(1)[0]
    with Simulation(g, "verilator", build_root=sim_build).open() as s:
        s.load(q)
        s.run([(quantize(g, x), quantize(g, y))], trace=False, repeat=300)
        got = s.read(list(q))
        assert s.cycles == 300 * s.model.read(s.driver.mm["cycles_per_step"].addr)
    for _ in range(300):
        q, _ = model.step(q, x, y)
    assert all(np.array_equal(got[k].reshape(q[k].shape), q[k]) for k in q)


def test_the_build_is_cached_and_its_header_is_the_memory_map(need_simulator, sim_build):
    need_simulator("verilator")
    g = example_graph("xor")
    build = VerilatedBuild(g, sim_build)
    library = build.build()
    stamp = library.stat().st_mtime_ns
    again = VerilatedBuild(g, sim_build)
    assert again.build() == library and library.stat().st_mtime_ns == stamp
    mm = MemoryMap.from_json((build.folder / "xor.json").read_text())
    header = driver_header(mm)
    for word in HEADER_WORDS:
        assert f"#define PCFPGA_ADDR_{word.upper()} {mm[word].addr}u" in header


@pytest.mark.parametrize("kw, message", [
    ({"simulator": "icarus", "engine": "native"}, "Engine applies to verilator"),
    ({"simulator": "verilator", "engine": "fast"}, "one of native, cocotb; not 'fast'"),
    ({"simulator": "verilator", "engine": "native", "waves": "w.vcd"},
     "the native Verilator model writes no waveform"),
])
def test_engine_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        Simulation(example_graph("xor"), **kw)

"""The serial architecture (hdl/serial.py): registers in block RAM, one element per cycle.

``ref_*``: the golden fixed-point model; ``rtl_*``: the serial hardware in Amaranth's
simulator and as Verilog on Verilator and Icarus; every register compared exactly after the
forward sweep and every tick (``simulate_against_golden``).
"""

import pytest

from pcfpga.cli import main
from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.random_graph import random_graph
from pcfpga.hdl.design import Design
from pcfpga.hdl.fit import count_multipliers, estimate
from pcfpga.hdl.fold import FoldedEdgePE
from pcfpga.hdl.folding import Architecture, check_reuse, fold_plan
from pcfpga.hdl.network import Network
from pcfpga.hdl.parallel import NodePE
from pcfpga.hdl.serial import SerialNodePE
from pcfpga.hdl.unused import never_elaborated

from helpers import (FAST_EXAMPLE, FOLDABLE_MODES, MODES, SIMULATORS, check_design, cocotb_cases,
                     mode_graph)

SERIAL, SERIAL_SPRAM = "serial", "serial-spram"


@pytest.mark.parametrize("mode", FOLDABLE_MODES)
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_serial_every_register(name, mode, simulation):
    rounding = {"exact": "nearest", "fpa": "stochastic", "standard": "truncate"}[mode]
    g = mode_graph(name, mode, rounding)
    check_design(g, simulation(Design.build(g, SERIAL)))


@pytest.mark.parametrize("seed", [0, 3])
def test_random_graphs_serial(seed, simulation):
    _random_case(seed, simulation)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 24))
def test_random_graphs_serial_long(seed, simulation):
    _random_case(seed, simulation)


def _random_case(seed, simulation, simulator="amaranth"):
    mode = FOLDABLE_MODES[seed % 3]
    rounding = ("nearest", "stochastic", "truncate")[(seed // 3) % 3]
    g = random_graph(seed, mode=mode).with_settings(mode=mode, rounding=rounding,
                                                    **MODES[mode])
    check_design(g, simulation(Design.build(g, SERIAL), simulator), seed=seed)


@pytest.mark.parametrize("simulator, name", cocotb_cases(
    [(s, n) for n in ["xor", "iris"] for s in SIMULATORS], lambda s, n: n == FAST_EXAMPLE))
def test_serial_verilog_on_cocotb(name, simulator, simulation):
    g = mode_graph(name, "fpa", "stochastic")
    check_design(g, simulation(Design.build(g, SERIAL), simulator), steps=2)


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("seed", range(4))
def test_random_graphs_serial_on_cocotb(seed, simulator, simulation):
    _random_case(seed, simulation, simulator)


@pytest.mark.parametrize("name", ["xor", "iris", "dag"])
def test_cycles_per_step_match_the_estimate(name, simulation):
    """Cycles the hardware counts for two free-running steps (no pause) against the
    fitter's estimate."""
    g = mode_graph(name)
    res = check_design(g, simulation(Design.build(g, SERIAL), pause=False), steps=2)
    assert res["cycles"] == 2 * estimate(Design.build(g, SERIAL)).cycles_per_step


@pytest.mark.parametrize("name", ["xor", "iris", "dag"])
def test_estimate_equals_yosys_multipliers(name):
    g = mode_graph(name)
    design = Design.build(g, SERIAL)
    est = estimate(design)
    assert est.multipliers == count_multipliers(design)
    assert est.serial and est.register_bits == 0


def test_serial_needs_fewer_flip_flops_than_folding():
    """Serial Iris keeps its registers in block RAM, with no more multipliers than the most
    folded design, and (since its steps last only as long as their nodes, the activation is
    looked up in the edge's phase and δ gated with ε) hardly more cycles: 164 to 163."""
    g = mode_graph("iris")
    serial, folded = estimate(Design.build(g, SERIAL)), estimate(Design.build(g, 1000))
    assert serial.ff_bits < folded.ff_bits / 2
    assert serial.multipliers <= folded.multipliers
    assert serial.cycles_per_step <= 1.05 * folded.cycles_per_step


def test_streaming_is_not_serial():
    g = mode_graph("xor").with_settings(mode="streaming")
    with pytest.raises(ValueError, match="The serial architecture is not available in "
                                         "streaming mode"):
        check_reuse(g, SERIAL)
    with pytest.raises(ValueError, match="The serial architecture is not available in "
                                         "streaming mode"):
        SerialNodePE(g, "h")


def test_pes_follow_the_design():
    """A PE takes its folding from the design: every serial edge has one lane, and a PE
    of another architecture, or an edge the design does not fold, is refused."""
    g = mode_graph("iris")
    serial, parallel = Design.build(g, SERIAL), Design.build(g, 1)
    assert serial.architecture is Architecture.SERIAL
    assert parallel.architecture is Architecture.PARALLEL
    assert Design.build(g, 2).architecture is Architecture.FOLDED
    assert all(e.lanes == 1 for e in serial.plan.edges.values())
    with pytest.raises(ValueError, match="NodePE is not for the serial architecture"):
        NodePE(serial, "h")
    with pytest.raises(ValueError, match="SerialNodePE is not for the parallel architecture"):
        SerialNodePE(parallel, "h")
    with pytest.raises(ValueError, match="FoldedEdgePE: the edge x -> h is not folded in "
                                         "this design"):
        FoldedEdgePE(parallel, "h", "x")


def test_every_register_is_in_a_memory():
    net = Network(Design.build(mode_graph("iris"), SERIAL))
    never_elaborated(net)                           # built to look at, not elaborated
    assert set(net.fields) == {f"{n}.sat" for n in ("x", "h", "y")}


def test_cli_reuse_serial(tmp_path, capsys):
    code = main(["sim", str(example_path("xor")), "--data",
                 str(example_path("xor").parent / "data" / "xor.npz"), "--steps", "2",
                 "--simulator", "amaranth", "--reuse", "serial",
                 "--out", str(tmp_path / "o.npz")])
    out = capsys.readouterr().out
    assert code == 0 and "match:" in out and "architecture: serial" in out


def test_cli_reuse_bad_text(capsys):
    with pytest.raises(SystemExit) as e:
        main(["check", str(example_path("xor")), "--reuse", "lots"])
    assert e.value.code == 2
    assert ("expected a positive integer, 'serial' or 'serial-spram', not 'lots'"
            in capsys.readouterr().err)


@pytest.mark.parametrize("mode", FOLDABLE_MODES)
@pytest.mark.parametrize("name", ["xor", "iris", "dag"])
def test_single_port_weights_every_register(name, mode, simulation, monkeypatch):
    """With serial-spram, edges of at least SINGLE_PORT_WORDS weights keep them in a
    single-port memory (SPRAM on a UP5K) and the update runs at half rate; lowered here so
    that every edge does."""
    import pcfpga.hdl.folding as folding

    monkeypatch.setattr(folding, "SINGLE_PORT_WORDS", 2)
    g = mode_graph(name, mode, "stochastic")
    assert fold_plan(g, SERIAL_SPRAM).single_port
    check_design(g, simulation(Design.build(g, SERIAL_SPRAM)), steps=2)
    res = check_design(g, simulation(Design.build(g, SERIAL_SPRAM), pause=False), steps=2)
    assert res["cycles"] == 2 * estimate(Design.build(g, SERIAL_SPRAM)).cycles_per_step


def test_digits_weights_go_to_spram_on_a_up5k():
    """The 64x16 edge of digits is single-port; elaborated for an iCEBreaker it is an
    SB_SPRAM256KA, and elsewhere a memory (which the simulations run)."""
    from amaranth.back import rtlil
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    g = Graph.from_toml(str(example_path("digits")))
    assert fold_plan(g, SERIAL_SPRAM).single_port == {("h", "x")}
    assert not fold_plan(g, SERIAL).single_port
    design = Design.build(g, SERIAL_SPRAM)
    est = estimate(design)
    assert est.spram_blocks == 1 and est.ram_blocks == 25      # Yosys: 25 SB_RAM40_4K
    text = rtlil.convert(Network(design), name="top", platform=ICEBreakerPlatform())
    assert text.count("SB_SPRAM256KA") == 1
    assert "SB_SPRAM256KA" not in rtlil.convert(Network(design), name="top")

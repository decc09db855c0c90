"""Folded networks (hdl/fold.py) and the fitter (hdl/fit.py).

``ref_*``: the golden fixed-point model; ``rtl_*``: the folded hardware in Amaranth's
simulator (and on Verilator/Icarus); compared exactly after every tick. Resources: the
fitter's estimate against the ``$mul`` cells Yosys finds.
"""

import dataclasses

import numpy as np
import pytest

from pcfpga.boards.devices import BOARDS, DEVICES, board
from pcfpga.cli import main
from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import Graph, GraphBuilder
from pcfpga.golden.params import init_params
from pcfpga.golden.random_graph import random_graph
from pcfpga.hdl.fit import (FitError, count_multipliers, estimate, fit, reuse_choices,
                             shortfalls)
from pcfpga.hdl.design import Design
from pcfpga.hdl.multiplier import LATENCY
from pcfpga.hdl.folding import check_reuse, fold_plan
from pcfpga.hdl.network import Network
from pcfpga.hdl.program import Step

from helpers import (FAST_EXAMPLE, FOLDABLE_MODES, MODES, SIMULATORS, check_design, cocotb_cases,
                     mode_graph)



def digits_graph():
    """The 8x8-digits net of the folding issue: 64-16-10 (examples/digits.toml)."""
    return Graph.from_toml(str(example_path("digits")))


@pytest.mark.parametrize("reuse", [2, 3, 1000])
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_folded_every_register(name, reuse, simulation):
    g = mode_graph(name)
    check_design(g, simulation(Design.build(g, reuse)))


@pytest.mark.parametrize("mode, rounding, reuse", [
    ("fpa", "stochastic", 2), ("standard", "nearest", 3), ("standard", "stochastic", 5),
    ("exact", "truncate", 4), ("fpa", "truncate", 7)])
def test_modes_and_roundings_folded(mode, rounding, reuse, simulation):
    for name in ("iris", "dag"):
        g = mode_graph(name, mode, rounding)
        check_design(g, simulation(Design.build(g, reuse)))


@pytest.mark.parametrize("seed", range(4))
def test_random_graphs_random_reuse(seed, simulation):
    """Per-node reuse factors drawn at random (some nodes parallel, some folded)."""
    _random_reuse_case(seed, simulation)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 34))
def test_random_graphs_random_reuse_long(seed, simulation):
    _random_reuse_case(seed, simulation)


def _random_reuse_case(seed, simulation):
    rng = np.random.default_rng(seed)
    mode = FOLDABLE_MODES[seed % 3]
    rounding = ("nearest", "truncate", "stochastic")[(seed // 3) % 3]
    g = random_graph(seed, mode=mode).with_settings(mode=mode, rounding=rounding,
                                                    **MODES[mode])
    reuse = {n.name: int(rng.choice([1, 2, 3, 5, 64])) for n in g.nodes
             if n.op in ("dense", "act")}
    check_design(g, simulation(Design.build(g, reuse)), seed=seed)


@pytest.mark.parametrize("reuse", [1, 2, 4, 11, 64])
def test_cycles_per_step_match_the_estimate(reuse, simulation):
    """Cycles per sample measured in simulation (hardware counter, no pauses) equal the
    fitter's estimate at every reuse factor."""
    g = mode_graph("iris")
    res = check_design(g, simulation(Design.build(g, reuse), pause=False), steps=2)
    assert res["cycles"] == 2 * estimate(Design.build(g, reuse)).cycles_per_step


def test_folding_trades_multipliers_for_cycles():
    g = mode_graph("iris")
    table = [(r, estimate(Design.build(g, r))) for r in (1, 2, 4, 8, 32)]
    mults = [e.multipliers for _, e in table]
    cycles = [e.cycles_per_step for _, e in table]
    assert mults == sorted(mults, reverse=True) and cycles == sorted(cycles)
    assert mults[0] == 147 and mults[-1] == 4       # 1 lane per edge and per gate
    assert table[-1][1].register_bits == 0 and table[-1][1].ram_bits >= 56 * 16


@pytest.mark.parametrize("name, reuse", [("xor", 1), ("xor", 3), ("iris", 2),
                                         ("teacher_2_4_3", 5), ("tanh_2_2_1", 2)])
def test_estimate_equals_yosys_multipliers(name, reuse):
    g = mode_graph(name)
    design = Design.build(g, reuse)
    assert estimate(design).multipliers == count_multipliers(design)


@pytest.mark.slow
@pytest.mark.parametrize("mode, reuse", [(m, r) for m in FOLDABLE_MODES for r in (1, 3)]
                         + [("streaming", 1)])                 # streaming is not folded
def test_estimate_equals_yosys_multipliers_dag(mode, reuse):
    g = Graph.from_toml(str(example_path("dag"))).with_settings(mode=mode,
                                                                **MODES.get(mode, {}))
    design = Design.build(g, reuse)
    assert estimate(design).multipliers == count_multipliers(design)


@pytest.mark.parametrize("graph", ["xor", "iris", "digits"])
def test_fits_up5k_with_at_most_8_multipliers(graph):
    g = digits_graph() if graph == "digits" else mode_graph(graph)
    up5k = DEVICES["iCE40UP5K"]
    est = fit(g, up5k)
    assert est.multipliers <= 8 and not shortfalls(est, up5k)
    assert est.ram_bits <= 0.75 * (up5k.bram_bits + up5k.spram_bits)
    # the fitter's choice is at least as fast as any single global factor that fits
    for r in (2, 4, 8, 16, 64, 1024, "serial"):
        e = estimate(Design.build(g, r))
        if not shortfalls(e, up5k):
            assert est.cycles_per_step <= e.cycles_per_step
    # registers in flip-flops overflow the UP5K's logic cells even for XOR folded (5,480 of
    # 5,280 measured with nextpnr, whole SoC): the serial architecture keeps them in RAM
    assert est.serial


def test_fitter_weighs_serial_against_the_folding_that_fits():
    """dag on a device with 33 DSPs (26 usable) and the ECP5-85F's logic and RAM: only the
    most folded design fits among the foldings (26 multipliers, 347 cycles); the serial
    design fits too (11 multipliers) but, with its pipeline registers (a fused row's sum
    handed over from a register, ε registered before the gate), takes 354: the fitter keeps
    the folding. (Where no folding fits, the serial design is taken: the iCEBreaker test
    above.)"""
    g = mode_graph("dag")
    device = dataclasses.replace(DEVICES["ECP5-85F"], name="26 usable DSPs", dsp=33)
    folded = estimate(Design.build(g, 1000))
    serial = estimate(Design.build(g, "serial"))
    assert not shortfalls(folded, device) and not shortfalls(serial, device)
    assert (folded.cycles_per_step, serial.cycles_per_step) == (347, 354)
    chosen = fit(g, device)
    assert not chosen.design.serial and chosen.cycles_per_step == 347


def test_iris_on_ecp5_85f_keeps_dsps_routable():
    """Fully parallel Iris needs 147 of the 156 DSPs and did not route (nextpnr-ecp5, 45
    minutes); the fitter keeps within 80 % and unfolds as much as that allows: h parallel,
    y reuse 2 (77 DSPs; routed at 40.0 MHz, whole SoC)."""
    ecp5 = DEVICES["ECP5-85F"]
    parallel = estimate(Design.build(mode_graph("iris"), 1))
    assert parallel.multipliers == 147 <= ecp5.dsp
    assert shortfalls(parallel, ecp5) == ["147 multipliers > 80% of the device's 156 DSPs "
                                          "(routing)"]
    est = fit(mode_graph("iris"), ecp5)
    assert est.folding.factors == {"h": 1, "y": 2} and est.multipliers == 77
    assert est.cycles_per_step < estimate(Design.build(mode_graph("iris"), 2)).cycles_per_step


def test_a_net_that_cannot_fit_says_why():
    with pytest.raises(FitError, match=r"dag does not fit iCE40UP5K even fully folded \(26 "
                                       r"multipliers > 8 DSPs; .*\) or serial \(11 "
                                       r"multipliers > 8 DSPs"):
        fit(mode_graph("dag"), DEVICES["iCE40UP5K"])


def test_reuse_choices():
    assert reuse_choices(8) == [1, 2, 3, 4, 8]
    assert reuse_choices(1) == [1]


@pytest.mark.parametrize("reuse, message", [
    (0, "Reuse factor must be a positive integer, not 0 (node 'h')"),
    ("2", "Reuse factor must be a positive integer, a dict of them per dense or act node, "
          "or 'serial' or 'serial-spram', not '2'"),
    ({"x": 2}, "Reuse factor given for 'x', which is not a dense or act node "
               "(those are: h, y)"),
    ({"h": 1.5}, "Reuse factor must be a positive integer, not 1.5 (node 'h')"),
])
def test_bad_reuse_is_rejected(reuse, message):
    g = mode_graph("xor")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_reuse(g, reuse)
    with pytest.raises(ValueError):
        Network(Design.build(g, reuse))


def test_streaming_is_not_folded():
    g = Graph.from_toml(str(example_path("xor"))).with_settings(mode="streaming")
    with pytest.raises(ValueError, match="Folding .reuse factor above 1. is not available in "
                                         "streaming mode"):
        fold_plan(g, 2)
    assert not fold_plan(g, 1).folded


def test_unknown_board():
    with pytest.raises(ValueError, match="Unknown board 'de0'; expected one of icebreaker, "
                                         "icesugar_pro, ulx3s"):
        board("de0")
    assert BOARDS["icebreaker"].device.dsp == 8


def test_cli_check_board(capsys):
    assert main(["check", str(example_path("iris")), "--board", "icebreaker"]) == 0
    out = capsys.readouterr().out
    assert "architecture: serial" in out and "total: 4 multipliers" in out
    assert "training samples/s" in out
    assert main(["check", str(example_path("dag")), "--board", "icebreaker"]) == 2
    assert "dag does not fit iCE40UP5K" in capsys.readouterr().err


def test_cli_sim_folded_matches(tmp_path, capsys):
    code = main(["sim", str(example_path("xor")), "--data",
                 str(example_path("xor").parent / "data" / "xor.npz"), "--steps", "2",
                 "--simulator", "amaranth", "--reuse", "3", "--out", str(tmp_path / "o.npz")])
    out = capsys.readouterr().out
    assert code == 0 and "match:" in out and "h reuse 3" in out


@pytest.mark.parametrize("simulator, name", cocotb_cases(
    [(s, n) for n in EXAMPLES for s in SIMULATORS], lambda s, n: n == FAST_EXAMPLE))
def test_folded_verilog_on_cocotb(name, simulator, simulation):
    """Every example folded (reuse 3; dag at 2) as Verilog on both simulators (Verilator
    builds other than XOR's under ``slow``, tests/helpers.py)."""
    reuse = 2 if name == "dag" else 3
    g = mode_graph(name)
    check_design(g, simulation(Design.build(g, reuse), simulator), steps=2)


@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_random_reuse_on_cocotb(seed, simulator, simulation):
    rng = np.random.default_rng(seed)
    mode = FOLDABLE_MODES[seed % 3]
    rounding = ("nearest", "truncate")[(seed // 3) % 2]
    g = random_graph(seed, mode=mode).with_settings(mode=mode, rounding=rounding,
                                                    **MODES[mode])
    reuse = {n.name: int(rng.choice([1, 2, 3, 5, 64])) for n in g.nodes
             if n.op in ("dense", "act")}
    check_design(g, simulation(Design.build(g, reuse), simulator), seed=seed)


@pytest.mark.parametrize("simulator", cocotb_cases(SIMULATORS, lambda s: False))
def test_train_iris_folded_for_icebreaker_in_simulation(simulator, sim_build, need_simulator):
    """Training through the folded Verilog the fitter chose for an iCEBreaker: every
    register after every tick, parameters equal the golden model's."""
    need_simulator(simulator)
    from pcfpga.golden.fixed_model import FixedPC
    from pcfpga.golden.params import load_dataset
    from pcfpga.golden.training import train
    from pcfpga.examples import data_path
    from pcfpga.sim.training import SimulatedPC

    g = mode_graph("iris")
    data = load_dataset(str(data_path("iris_train")), g)
    design = fit(g, DEVICES["iCE40UP5K"]).design
    p0 = init_params(g, 1)
    ref, _ = train(FixedPC(g), p0, data, epochs=2, seed=3, log=lambda s: None)
    model = SimulatedPC(design, simulator, build_root=sim_build)
    try:
        rtl, _ = train(model, p0, data, epochs=2, seed=3, log=lambda s: None)
    finally:
        model.close()
    assert all(np.array_equal(ref[k], rtl[k]) for k in ref)
    assert model.steps_checked == 2 * data[2]
    assert model.cycles > 0


@pytest.mark.slow
@pytest.mark.parametrize("name, board_name", [
    (name, board_name) for name in ("xor", "iris", "digits")
    for board_name in ("icebreaker", "ulx3s", "icesugar_pro")])
def test_every_multiplier_maps_to_a_dsp(name, board_name):
    """Synthesis of the fitted core: as many DSP cells as the fitter's multipliers, so none
    fell back to LUTs (iCE40 needs synth_ice40 -dsp)."""
    from pcfpga.boards.cells import ToolMissing, core_stats

    g = digits_graph() if name == "digits" else mode_graph(name)
    b = BOARDS[board_name]
    est = fit(g, b.device)
    try:
        stats = core_stats(est.design, b.device.family)
    except ToolMissing as e:
        pytest.skip(str(e))
    print(f"{name} on {board_name}: {stats}")
    assert stats["dsp"] == est.multipliers <= b.device.dsp
    assert stats["bram"] >= (1 if est.ram_bits else 0)
    assert stats["lut"] < 0.9 * b.device.lut


def test_a_phase_longer_than_the_counter_is_rejected():
    """The graph allows 65,536 weights per edge; one lane for all of them needs a phase of
    65,539 cycles: the words, the memory's read and the multiplier's LATENCY."""
    g = (GraphBuilder("wide").input("x", 256).dense("y", ["x"], 256, act="identity",
                                                      output=True).build())
    with pytest.raises(ValueError, match="Reuse factor too large: a folded phase would last "
                                         "65,539 cycles, more than the controller's 65,535"):
        fold_plan(g, 100000)
    assert fold_plan(g, 256).phases[Step.PU] == 256 + 1 + LATENCY


def test_cli_reuse_that_does_not_fit_the_board(capsys):
    assert main(["check", str(example_path("iris")), "--board", "icebreaker",
                 "--reuse", "1"]) == 2
    assert ("--reuse 1 does not fit --board icebreaker: 147 multipliers > 8 DSPs"
            in capsys.readouterr().err)

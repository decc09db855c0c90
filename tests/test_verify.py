"""Post-synthesis verification (boards/verify.py, ``pcfpga synth --verify``): the netlist Yosys
wrote for a board, simulated with its Lattice primitives, trains like the golden model bit
for bit, and a netlist with one flipped LUT bit is caught with the place of the difference.

The netlists come from :func:`~pcfpga.boards.synth.synthesize_netlist` (the Yosys step of
``pcfpga synth``: the same script, so the same netlist, without place and route). XOR on the
iCEBreaker is in the default suite (about 45 s of Yosys, a minute of Verilator build per
netlist); the ECP5 boards and Iris are ``slow``.
"""

import json
import os
import random

import pytest

from pcfpga.boards.cells import ToolMissing, find_yosys
from pcfpga.boards.netsim import top_module
from pcfpga.boards.synth import synthesize_netlist
from pcfpga.boards.verify import verify_netlist
from pcfpga.cli import main
from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.design import Design
from pcfpga.sim.cocotb_backend import available


def _tools() -> bool:
    try:
        find_yosys()
    except ToolMissing:
        return False
    return available("verilator")


#: skipped where the tools are missing, but not under CI, which installs them: there a
#: missing tool fails the tests
pytestmark = pytest.mark.skipif(not _tools() and not os.environ.get("CI"),
                                reason="needs Yosys and Verilator")

#: Seed of the flipped LUT bit's choice.
FLIP_SEED = 3
#: LUT types and their truth-table parameter, per family.
LUTS = {"ice40": ("SB_LUT4", "LUT_INIT", ("I0", "I1", "I2", "I3")),
        "ecp5": ("LUT4", "INIT", ("A", "B", "C", "D"))}


def _netlist(tmp_path_factory, net: str, board: str):
    """(netlist path, design) of ``net``'s SoC for ``board``, Yosys only; the fitter's
    folding."""
    g = Graph.from_toml(str(example_path(net)))
    out = tmp_path_factory.mktemp(f"{net}-{board}")
    report = synthesize_netlist(g, board, str(out), log=print)
    return out / report["netlist"], Design.build(g, report["reuse"])


@pytest.fixture(scope="module")
def xor_ice(tmp_path_factory):
    return _netlist(tmp_path_factory, "xor", "icebreaker")


def _check_passes(netlist, design, board, steps=8):
    result = verify_netlist(netlist, design, board, steps=steps, log=print)
    print(result)
    assert result.passed, result.message
    assert result.steps == steps and result.failed_after_step is None
    assert result.cycles > 0 and result.simulator == "verilator"
    assert json.loads(json.dumps(result.to_json()))["passed"] is True


def test_verify_passes_on_xor_for_the_icebreaker(xor_ice):
    """The iCE40 netlist (SB_LUT4, SB_CARRY, SB_DFF*, SB_RAM40_4K, SB_SPRAM256KA, SB_MAC16
    from Yosys's cells_sim.v) trains 8 steps equal to the golden model."""
    _check_passes(*xor_ice, "icebreaker")


def _reachable_bits(cell, inputs) -> list:
    """The truth-table bits a LUT can select: inputs tied to a constant fix their bit."""
    conn = cell["connections"]
    fixed = {i: conn[p][0] for i, p in enumerate(inputs) if conn.get(p, ["0"])[0] in ("0", "1")}
    return [b for b in range(16)
            if all(((b >> i) & 1) == int(v) for i, v in fixed.items())]


#: iCE40 adders: a sum bit is an SB_LUT4 computing I1 ^ I2 ^ I3 (I3 the carry in from an
#: SB_CARRY), a truth table Yosys's techmap writes, not ABC (which may leave input
#: combinations that never occur as don't-cares, so flipping their bit changes nothing).
ICE40_SUM = "0110100110010110"


def _candidates(top, family: str, prefix: str) -> list:
    """(cell name, the truth-table bits worth flipping) of the LUTs whose name starts with
    ``prefix``: on iCE40 the adders' sum bits, flipped where one operand bit is 1, the other
    0 and the carry in 0 (a combination any adding bit meets); on ECP5 any LUT4, at a bit
    its inputs can select."""
    kind, param, inputs = LUTS[family]
    carries = {b for c in top["cells"].values() if c["type"] == "SB_CARRY"
               for b in c["connections"]["CO"]}
    out = []
    for name in sorted(top["cells"]):
        cell = top["cells"][name]
        if cell["type"] != kind or not name.startswith(prefix):
            continue
        if family == "ice40":
            if (cell["parameters"][param] != ICE40_SUM
                    or cell["connections"]["I3"][0] not in carries):
                continue
            bits = [b for b in (0b0010, 0b0100) if b in _reachable_bits(cell, inputs)]
        else:
            bits = _reachable_bits(cell, inputs)
        if bits:
            out.append((name, bits))
    return out


def flip_lut_bit(netlist_path, out_path, family: str, rng, prefix: str) -> str:
    """Write a copy of the netlist with one truth-table bit of one LUT flipped, chosen by
    ``rng`` among :func:`_candidates`. Returns ``"<cell> bit <b>"``."""
    _, param, _ = LUTS[family]
    netlist = json.loads(netlist_path.read_text())
    _, top = top_module(netlist, str(netlist_path))
    name, bits = rng.choice(_candidates(top, family, prefix))
    bit = rng.choice(bits)
    cell = top["cells"][name]
    init = cell["parameters"][param]              # a binary string, MSB first
    i = len(init) - 1 - bit
    cell["parameters"][param] = init[:i] + ("1" if init[i] == "0" else "0") + init[i + 1:]
    out_path.write_text(json.dumps(netlist))
    return f"{name} bit {bit}"


def _flipped_fails(netlist, design, board, family, tmp_path, prefix, tries=3):
    """Flip one LUT bit (seeded; a flip the 8 steps never exercise passes, so up to
    ``tries`` seeded choices); verification must fail and say where."""
    rng = random.Random(FLIP_SEED)
    print(f"flip seed {FLIP_SEED}")
    for attempt in range(tries):
        bad = tmp_path / f"flipped{attempt}.json"
        where = flip_lut_bit(netlist, bad, family, rng, prefix)
        print(f"flipped {where}")
        result = verify_netlist(bad, design, board, steps=8,
                                build_dir=tmp_path / f"build{attempt}", log=print)
        print(result)
        if not result.passed:
            break
    assert not result.passed
    assert result.message.startswith(f"after step {result.failed_after_step}: ")
    assert (" is " in result.message and ", golden " in result.message
            and ("parameter " in result.message or "flag word " in result.message))
    assert 1 <= result.failed_after_step <= 8


def test_verify_fails_on_a_flipped_lut_bit_and_names_the_place(xor_ice, tmp_path):
    """One bit of the truth table of one SB_LUT4 (an adder's sum bit) in the network's edges
    flipped: the verification fails and names the first step after which the parameters or flags
    differ, the parameter or flag word, its element and both values."""
    netlist, design = xor_ice
    _flipped_fails(netlist, design, "icebreaker", "ice40", tmp_path, "soc.network.edge_")


def test_verify_steps_must_be_positive(capsys):
    """A bad --verify-steps is one line, exit 2, before any synthesis."""
    with pytest.raises(SystemExit) as stop:
        main(["synth", str(example_path("xor")), "--board", "icebreaker", "-o",
              "/tmp/pcfpga-never", "--verify", "--verify-steps", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("pcfpga: error: ") and "--verify-steps" in err
    assert err.count("\n") == 1


@pytest.mark.slow
@pytest.mark.parametrize("net,board", [("xor", "ulx3s"), ("xor", "icesugar_pro"),
                                       ("iris", "icebreaker"), ("iris", "ulx3s")])
def test_verify_passes_on_the_other_boards_and_iris(tmp_path_factory, net, board):
    """ECP5 netlists (LUT4, PFUMX, L6MUX21, CCU2C, TRELLIS_FF from Yosys's models; MULT18X18D
    and DP16KD from boards/models) and Iris's serial iCE40 design."""
    _check_passes(*_netlist(tmp_path_factory, net, board), board)


@pytest.mark.slow
def test_verify_fails_on_a_flipped_ecp5_lut_bit(tmp_path_factory, tmp_path):
    """The same on the ULX3S's XOR netlist: one LUT4 INIT bit flipped in the weights'
    logic (fully parallel: Yosys names those LUTs after the W registers)."""
    netlist, design = _netlist(tmp_path_factory, "xor", "ulx3s")
    _flipped_fails(netlist, design, "ulx3s", "ecp5", tmp_path, "soc.network.r_W")


def _fake_netlist(tmp_path, ports: dict, cells: dict):
    path = tmp_path / "fake.json"
    path.write_text(json.dumps({"modules": {"pcfpga_fake": {
        "attributes": {"top": "00000000000000000000000000000001"},
        "ports": {name: {"direction": "inout", "bits": [i + 2]}
                  for i, name in enumerate(ports)},
        "cells": cells}}}))
    return path


@pytest.mark.parametrize("ports,cells,message", [
    (["clk12_0__io", "uart_0__rx__io"], {}, "no port uart_0__tx__io"),
    (["clk12_0__io", "uart_0__rx__io", "uart_0__tx__io"],
     {"u": {"type": "SB_WARMBOOT_X", "connections": {}}},
     "no simulation model for the cell type(s) SB_WARMBOOT_X"),
    (["clk12_0__io", "uart_0__rx__io", "uart_0__tx__io"],
     {"p": {"type": "SB_IO", "parameters": {"PIN_TYPE": "110001"},
            "connections": {"PACKAGE_PIN": [2]}}},
     "pin buffer p (SB_IO {'PIN_TYPE': '110001'}) has a configuration the pin models do not"),
])
def test_a_netlist_that_cannot_be_simulated_is_refused_before_building(tmp_path, ports, cells,
                                                                       message):
    """No UART pin, a cell type no model defines, or a pin buffer configured otherwise than
    the SoC's: one NetlistError naming it, and nothing is built."""
    from pcfpga.boards.devices import board
    from pcfpga.boards.netsim import NetlistBuild, NetlistError

    build = NetlistBuild(_fake_netlist(tmp_path, ports, cells), board("icebreaker"),
                         "verilator", tmp_path / "build")
    with pytest.raises(NetlistError) as e:
        build.build()
    assert message in str(e.value)
    assert not (tmp_path / "build").exists()


@pytest.mark.slow
def test_synth_verify_on_the_command_line(tmp_path, capsys):
    """``pcfpga synth --verify``: the result printed and in report.json; the compiled model
    not left in the build folder."""
    out = tmp_path / "xor-ice"
    code = main(["synth", str(example_path("xor")), "--board", "icebreaker", "-o", str(out),
                 "--verify", "--verify-steps", "4"])
    text = capsys.readouterr().out
    print(text)
    report = json.loads((out / "report.json").read_text())
    assert report["verify"]["passed"] is True and report["verify"]["steps"] == 4
    assert "verify: PASSED on verilator, 4 steps" in text
    assert code == (0 if report["timing_met"] else 1)
    assert (out / "verify" / "netlist.v").exists() and not (out / "verify" / "sim_build").exists()

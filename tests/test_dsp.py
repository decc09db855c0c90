"""Which DSPs of a Yosys netlist are registered (:mod:`pcfpga.boards.dsp`, issue 16).

The rules are tested twice: on hand-written minimal netlists (no Yosys needed), and on what
Yosys itself writes for a tiny multiply, combinational and registered, with ``synth_ice40
-dsp`` and ``synth_ecp5`` (about a second per run; skipped where Yosys is missing, failing
under CI=true).
"""

import json
import os
import subprocess

import pytest
from amaranth.back import verilog
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from pcfpga.boards.cells import ToolMissing, find_yosys
from pcfpga.boards.dsp import DspRegisters, dsp_notes, dsp_registers, read_netlist
from pcfpga.hdl.multiplier import ICE40_AFTER_SYNTH, Multiplier

ONE = "00000000000000000000000000000001"        # how Yosys writes a top/blackbox attribute


# ------------------------------------------------------------------- hand-written netlists
def mac16(A_REG="0", B_REG="0", C_REG="0", D_REG="0", TOP="11", BOT="11", REG2="0",
          MULT8="0", C=None, D=None, upper="0", oload="0", read_co=False, **extra):
    """An SB_MAC16 as Yosys writes it: A on nets 2-17, B on 18-33, O on 40-71, CO on 72."""
    params = {"A_REG": A_REG, "B_REG": B_REG, "C_REG": C_REG, "D_REG": D_REG,
              "TOPOUTPUT_SELECT": TOP, "BOTOUTPUT_SELECT": BOT,
              "PIPELINE_16x16_MULT_REG2": REG2, "TOP_8x8_MULT_REG": MULT8,
              "BOT_8x8_MULT_REG": MULT8, "TOPADDSUB_UPPERINPUT": upper,
              "BOTADDSUB_UPPERINPUT": upper, **extra}
    conn = {"CLK": [1], "A": list(range(2, 18)), "B": list(range(18, 34)),
            "C": C or ["0"] * 16, "D": D or ["0"] * 16, "O": list(range(40, 72)),
            "CO": [72], "OLOADTOP": [oload], "OLOADBOT": [oload]}
    dirs = {p: "output" if p in ("O", "CO") else "input" for p in conn}
    return {"type": "SB_MAC16", "parameters": params, "connections": conn,
            "port_directions": dirs}, read_co


def netlist(*cells, reads=range(40, 72), submodule=None):
    """A top module with the given (cell, read_co) pairs; a LUT reads ``reads`` (and CO
    when asked); ``submodule``: (name, module) instantiated twice."""
    top = {"attributes": {"top": ONE}, "ports": {}, "cells": {}}
    for i, (cell, read_co) in enumerate(cells):
        top["cells"][f"dsp{i}"] = cell
        read = list(reads) + ([72] if read_co else [])
        top["cells"][f"lut{i}"] = {"type": "SB_LUT4", "connections": {"I0": read, "O": [99]},
                                   "port_directions": {"I0": "input", "O": "output"}}
    mods = {"top": top, "SB_MAC16": {"attributes": {"blackbox": ONE}, "cells": {}}}
    if submodule:
        name, module = submodule
        mods[name] = module
        top["cells"]["u0"] = {"type": name, "connections": {}}
        top["cells"]["u1"] = {"type": name, "connections": {}}
    return {"modules": mods}


def counts(r: DspRegisters) -> tuple:
    return r.count, r.inputs_registered, r.output_registered


@pytest.mark.parametrize("kw, expected", [
    ({}, (1, 0, 0)),                                                   # combinational
    ({"A_REG": "1", "B_REG": "1"}, (1, 1, 0)),                         # O from the adder path
    ({"A_REG": "1", "B_REG": "1", "TOP": "01", "BOT": "01"}, (1, 1, 1)),  # output register
    ({"TOP": "11", "BOT": "11", "REG2": "1"}, (1, 0, 1)),              # 16x16 pipeline reg 2
    ({"TOP": "11", "BOT": "11", "PIPELINE_16x16_MULT_REG1": "1"}, (1, 0, 0)),   # reg 1 only
    ({"TOP": "10", "BOT": "10", "MULT8": "1"}, (1, 0, 1)),             # registered 8x8
    ({"TOP": "10", "BOT": "10"}, (1, 0, 0)),                           # combinational 8x8
    ({"TOP": "00", "BOT": "00"}, (1, 0, 0)),                           # the adder
    # compat-int parameters (write_json -compat-int): JSON numbers
    ({"A_REG": 1, "B_REG": 1, "TOP": 1, "BOT": 1}, (1, 1, 1)),
    # undefined bits are not a register
    ({"A_REG": "x", "B_REG": "1", "TOP": "01", "BOT": "01"}, (1, 0, 1)),
])
def test_ice40_rule(kw, expected):
    assert counts(dsp_registers(netlist(mac16(**kw)), "ice40")) == expected


def test_ice40_output_halves_only_where_read():
    """An unread half of O does not count; a read one does; reading CO (combinational)
    makes the output unregistered."""
    low = range(40, 56)                         # O[15:0], the BOT half
    assert counts(dsp_registers(netlist(mac16(TOP="00", BOT="01"), reads=low),
                                "ice40")) == (1, 0, 1)
    assert counts(dsp_registers(netlist(mac16(TOP="00", BOT="01")), "ice40")) == (1, 0, 0)
    assert counts(dsp_registers(netlist(mac16(TOP="01", BOT="01", read_co=True)),
                                "ice40")) == (1, 0, 0)


def test_ice40_c_and_d_count_where_they_reach_the_adder():
    """C and D tied to constants, or wired (as Yosys does for an accumulator) but not
    selected, are no inputs; selected by ADDSUB_UPPERINPUT or a load, they need C_REG and
    D_REG."""
    regs = {"A_REG": "1", "B_REG": "1", "TOP": "01", "BOT": "01"}
    c, d = list(range(80, 96)), list(range(96, 112))
    assert counts(dsp_registers(netlist(mac16(**regs)), "ice40")) == (1, 1, 1)
    assert counts(dsp_registers(netlist(mac16(C=c, D=d, **regs)), "ice40")) == (1, 1, 1)
    assert counts(dsp_registers(netlist(mac16(C=c, D=d, upper="1", **regs)),
                                "ice40")) == (1, 0, 1)
    assert counts(dsp_registers(netlist(mac16(C=c, D=d, oload=5, **regs)),
                                "ice40")) == (1, 0, 1)
    assert counts(dsp_registers(netlist(mac16(C=c, D=d, upper="1", C_REG="1", D_REG="1",
                                              **regs)), "ice40")) == (1, 1, 1)


def test_instances_of_a_submodule_are_each_counted():
    sub = {"ports": {"o": {"direction": "output", "bits": list(range(40, 72))}},
           "cells": {"m": mac16(A_REG="1", B_REG="1", TOP="01", BOT="01")[0]}}
    r = dsp_registers(netlist(mac16(), submodule=("child", sub)), "ice40")
    assert counts(r) == (3, 2, 2)
    assert r.unregistered == ("dsp0",) and not r.all_registered
    assert r.to_json() == {"primitive": "SB_MAC16", "count": 3, "inputs_registered": 2,
                           "output_registered": 2, "registered": 2}


def mult18(a=None, b=None, **params):
    conn = {f"A{i}": [2 + i] for i in range(18)} | {f"B{i}": [20 + i] for i in range(18)}
    conn |= {f"P{i}": [40 + i] for i in range(36)} | {"CLK0": [1]}
    if a is not None:
        conn |= {f"A{i}": [a] for i in range(18)}
    if b is not None:
        conn |= {f"B{i}": [b] for i in range(18)}
    return {"type": "MULT18X18D", "parameters": params, "connections": conn}, False


@pytest.mark.parametrize("kw, expected", [
    ({}, (1, 0, 0)),                       # Yosys writes no parameter: all "NONE"
    ({"REG_INPUTA_CLK": "NONE", "REG_INPUTB_CLK": "NONE", "REG_OUTPUT_CLK": "NONE"},
     (1, 0, 0)),
    ({"REG_INPUTA_CLK": "CLK0", "REG_INPUTB_CLK": "CLK0"}, (1, 1, 0)),
    ({"REG_INPUTA_CLK": "CLK0", "REG_INPUTB_CLK": "CLK1", "REG_OUTPUT_CLK": "CLK0"},
     (1, 1, 1)),
    ({"REG_INPUTA_CLK": "CLK0"}, (1, 0, 0)),              # B unregistered
    ({"REG_INPUTA_CLK": "CLK0", "b": "1"}, (1, 1, 0)),   # B constant: no path
    ({"REG_PIPELINE_CLK": "CLK0"}, (1, 0, 0)),            # the pipeline is not the output
])
def test_ecp5_rule(kw, expected):
    b = kw.pop("b", None)
    assert counts(dsp_registers(netlist(mult18(b=b, **kw)), "ecp5")) == expected


def test_family_picks_the_primitive():
    n = netlist(mac16(), mult18())
    assert counts(dsp_registers(n, "ice40")) == (1, 0, 0)
    assert counts(dsp_registers(n, "ecp5")) == (1, 0, 0)
    assert counts(dsp_registers(netlist(), "ice40")) == (0, 0, 0)


@pytest.mark.parametrize("bad, message", [
    ([], "is not a Yosys JSON netlist"),
    ({"modules": []}, "is not a Yosys JSON netlist"),
    ({"modules": {"a": {"cells": {}}, "b": {"cells": {}}}}, "no top modules marked"),
    ({"modules": {"t": {"attributes": {"top": ONE}, "cells": {"c": {"type": "t"}}}}},
     "instantiates itself"),
    ({"modules": {"t": {"attributes": {"top": ONE}, "cells": []}}}, "cells are not"),
    ({"modules": {"t": {"attributes": {"top": ONE},
                        "cells": {"m": {"type": "SB_MAC16", "parameters": []}}}}},
     "malformed"),
])
def test_bad_netlists(bad, message):
    with pytest.raises(ValueError, match=message):
        dsp_registers(bad, "ice40")


def test_bad_family_and_files(tmp_path):
    with pytest.raises(ValueError, match="Family must be one of ice40, ecp5, not 'xilinx'"):
        dsp_registers(netlist(), "xilinx")
    with pytest.raises(ValueError, match="cannot read the netlist"):
        read_netlist(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not a Yosys JSON netlist"):
        dsp_registers(str(tmp_path / "bad.json"), "ice40")
    (tmp_path / "ok.json").write_text(json.dumps(netlist(mac16())))
    assert counts(dsp_registers(str(tmp_path / "ok.json"), "ice40")) == (1, 0, 0)


# --------------------------------------------------------------------------- the sentences
def test_notes():
    ice = {"primitive": "SB_MAC16", "count": 4, "inputs_registered": 1,
           "output_registered": 0, "registered": 0}
    notes = dsp_notes(ice)
    assert notes[0] == ("4 of 4 SB_MAC16 DSPs are not registered at both inputs and output "
                        "(1 registered at the inputs, 0 at the output).")
    assert "nextpnr-ice40 does not time the SB_MAC16's internal delay" in notes[1]
    assert "Fmax above is unproven for paths through the unregistered DSPs" in notes[1]
    done = dict(ice, inputs_registered=4, output_registered=4, registered=4)
    notes = dsp_notes(done)
    assert notes[0] == "All 4 SB_MAC16 DSPs are registered at their inputs and output."
    assert "does not time" in notes[1] and "unproven" not in notes[1]
    ecp = dict(ice, primitive="MULT18X18D", count=2, registered=0)
    notes = dsp_notes(ecp)
    assert len(notes) == 2 and "include the combinational multiply" in notes[1]
    assert dsp_notes(dict(ecp, inputs_registered=2, output_registered=2, registered=2)) == \
        ["All 2 MULT18X18D DSPs are registered at their inputs and output."]
    # reports written before the field, and builds without DSPs: nothing to say
    assert dsp_notes(None) == [] and dsp_notes(dict(ice, count=0)) == []


# --------------------------------------------------------------------------- Yosys itself
COMB = """module top(input signed [15:0] a, b, output signed [31:0] y);
  assign y = a * b;
endmodule
"""
# registers before and after the multiply
REG = """module top(input clk, input signed [15:0] a, b, output reg signed [31:0] y);
  reg signed [15:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; y <= ra * rb; end
endmodule
"""
# a multiply-accumulate: the product's adder has the output register
MAC = """module top(input clk, input signed [15:0] a, b, output reg signed [31:0] y);
  reg signed [15:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; y <= y + ra * rb; end
endmodule
"""


def _ports(prefix, signal, n):
    return ", ".join(f".{prefix}{i}({signal}[{i}])" for i in range(n))


# an explicit MULT18X18D with its input and output registers
ECP5_REG = f"""module top(input clk, input [17:0] a, b, output [35:0] y);
  MULT18X18D #(.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("CLK0"))
    m ({_ports("A", "a", 18)}, {_ports("B", "b", 18)}, {_ports("P", "y", 36)}, .CLK0(clk),
       .CE0(1'b1), .RST0(1'b0), .SIGNEDA(1'b0), .SIGNEDB(1'b0));
endmodule
"""


@pytest.fixture
def yosys():
    """Yosys (:func:`~pcfpga.boards.cells.find_yosys`); skipped where missing, failing under
    CI=true."""
    try:
        return find_yosys()
    except ToolMissing as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{e} (CI must install the synth extra)")
        pytest.skip(str(e))


@pytest.mark.parametrize("family, source, expected", [
    ("ice40", COMB, (1, 0, 0)),
    # Yosys packs ra, rb as A_REG, B_REG and y as the multiplier's internal pipeline
    # register (PIPELINE_16x16_MULT_REG1), after which O is the adder: not registered
    ("ice40", REG, (1, 1, 0)),
    ("ice40", MAC, (1, 1, 1)),
    ("ecp5", COMB, (1, 0, 0)),
    ("ecp5", REG, (1, 0, 0)),            # synth_ecp5 leaves the registers in the fabric
    ("ecp5", ECP5_REG, (1, 1, 1)),
    # pcfpga's own registered multiplier (hdl/multiplier.py), built for each board
    ("ice40", "Multiplier", (1, 1, 1)),
    ("ecp5", "Multiplier", (1, 1, 1)),
])
def test_yosys_netlists(yosys, tmp_path, family, source, expected):
    read, after = "read_verilog top.v", ""
    if source == "Multiplier":                  # as pcfpga synth builds it
        platform = ICEBreakerPlatform() if family == "ice40" else ULX3S_85F_Platform()
        source = verilog.convert(Multiplier(16, 14), platform=platform, name="top")
        for i, text in enumerate(platform.extra_files.values()):
            (tmp_path / f"extra{i}.v").write_text(text)
            read += f"; read_verilog extra{i}.v"
        after = f"{ICE40_AFTER_SYNTH}; " if family == "ice40" else ""
    (tmp_path / "top.v").write_text(source)
    script = "synth_ice40 -dsp" if family == "ice40" else "synth_ecp5"
    # relative names: YoWASP's Yosys sees only its working directory
    run = subprocess.run([yosys, "-q", "-p", f"{read}; {script} -top top; {after}"
                          f"write_json top.json"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    r = dsp_registers(str(tmp_path / "top.json"), family)
    assert counts(r) == expected
    assert r.all_registered == (expected == (1, 1, 1))


# ------------------------------------------------------------------------------ the report
def test_report_table_and_notes_old_and_new():
    """``pcfpga synth``'s table gains the registered DSPs and the notes follow; a report
    written before ``"dsp_registers"`` existed prints as before."""
    from pcfpga.boards.synth import report_notes, report_table

    old = {"cells": {"lut": {"used": 10, "available": 100},
                     "dsp": {"used": 4, "available": 8}},
           "fmax_mhz": 21.8, "required_mhz": 12.0, "timing_met": True,
           "cycles_per_sample": 78, "samples_per_s_at_fmax": 279144.0}
    rows = report_table(old)
    assert [r[0] for r in rows] == ["resource", "lut", "dsp", "Fmax (MHz)", "cycles/sample",
                                    "samples/s @ Fmax"]
    assert report_notes(old) == []
    new = dict(old, dsp_registers={"primitive": "SB_MAC16", "count": 4,
                                   "inputs_registered": 0, "output_registered": 0,
                                   "registered": 0})
    rows = report_table(new)
    assert ("dsp in reg", "0", "4", "0 %") in rows and ("dsp out reg", "0", "4", "0 %") in rows
    notes = report_notes(new)
    assert notes[0].startswith("4 of 4 SB_MAC16 DSPs are not registered") and \
        "unproven" in notes[1]


def test_report_notes_state_the_readback():
    """Issue 16: a board report states which fields the host can read back, first."""
    from pcfpga.boards.synth import report_notes

    base = {"cells": {}, "fmax_mhz": 40.0, "required_mhz": 12.0, "timing_met": True,
            "cycles_per_sample": 90, "samples_per_s_at_fmax": 1.0}
    assert report_notes(dict(base, readback="lean")) == [
        "readback: lean (parameters, flags, buffers, status)"]
    assert report_notes(dict(base, readback="full")) == ["readback: full (every register)"]
    assert report_notes(dict(base, readback="odd")) == []

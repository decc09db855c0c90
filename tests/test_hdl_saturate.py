"""hdl/arith.py's saturate (a sign-bit test) against the golden QFormat.saturate (two
comparisons), exhaustively over every input of small signed and unsigned widths."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from pcfpga.golden.qformat import QFormat
from pcfpga.hdl.arith import saturate


def rtl_saturate(shape, fmt) -> tuple:
    """Every input of ``shape`` through the hardware saturate: (inputs, values, flags)."""
    m = Module()
    x = Signal(shape)
    value, over = saturate(x, fmt)
    y, o = Signal(signed(fmt.width)), Signal()
    m.d.comb += [y.eq(value), o.eq(over)]
    lo, hi = (-(1 << (shape.width - 1)), 1 << (shape.width - 1)) if shape.signed else \
        (0, 1 << shape.width)
    xs, ys, os = list(range(lo, hi)), [], []

    async def testbench(ctx):
        for v in xs:
            ctx.set(x, v)
            ys.append(ctx.get(y))
            os.append(ctx.get(o))

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    assert len(value) == fmt.width, "the value has the format's width"
    return np.array(xs), np.array(ys), np.array(os, dtype=bool)


@pytest.mark.parametrize("signed_", [True, False])
@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7])
@pytest.mark.parametrize("int_bits,frac_bits", [(1, 0), (2, 1), (1, 3), (3, 1)])
def test_saturate_equals_golden(signed_, width, int_bits, frac_bits):
    fmt = QFormat(int_bits, frac_bits)
    shape = signed(width) if signed_ else unsigned(width)
    xs, rtl_y, rtl_over = rtl_saturate(shape, fmt)
    ref_y, ref_over = fmt.saturate(xs)
    assert np.array_equal(rtl_over, ref_over), (shape, fmt)
    assert np.array_equal(rtl_y, ref_y), (shape, fmt)

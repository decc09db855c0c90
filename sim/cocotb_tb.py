"""The cocotb testbench of a generated network (runs inside Verilator or Icarus).

:mod:`pcfpga.sim.cocotb_backend` starts the simulator with two environment variables:
``PCFPGA_MEMMAP`` names the JSON manifest and ``PCFPGA_SOCKET`` a Unix socket on which the
host waits. The testbench connects, and :class:`TB` (the shared
:class:`~.driver.BusDriver` with cocotb's clock, reset and bus primitives) answers the
host's requests until it says ``quit``: load parameters, run steps reading every register,
read parameters. Simulated time only advances while a request runs. The comparison with
the golden model happens on the host, with the same :func:`~.session.compare_traces` the
Amaranth simulator uses, so every simulator is judged by one definition.

Protocol on the bus: every operation starts and ends on a falling edge. A write presents
address, data and ``w_en`` and holds them over the rising edge; a read presents the
address, and the registered ``r_data`` is sampled at the next falling edge. (An earlier
version sampled a combinational read 1 ns later; on Icarus a write that then began exactly
on a rising edge raced it and was lost.)
"""

from __future__ import annotations

import os
import socket

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from pcfpga.hdl.memmap import MemoryMap
from pcfpga.hdl.protocol import WORD_MASK

from .driver import BusDriver, receive_message, send_message

__all__ = ["TB", "network_session", "PERIOD_NS"]

#: The clock's period.
PERIOD_NS = 10


class TB(BusDriver):
    """Clock, reset and the memory-map bus of one DUT."""

    def __init__(self, dut, memmap: MemoryMap):
        super().__init__(memmap)
        self.dut = dut

    async def start(self):
        """Start the 100 MHz clock and hold reset for two cycles. The clock is the
        simulator's (cocotb's GPI clock), not a Python coroutine, so that Python does not
        wake on every edge: the bus operations' values change at falling edges, half a period
        from the rising edges that take them, where an inertial write makes no difference."""
        self.dut.w_en.value = 0
        self.dut.addr.value = 0
        self.dut.w_data.value = 0
        Clock(self.dut.clk, PERIOD_NS, unit="ns", impl="gpi").start()
        self.dut.rst.value = 1
        for _ in range(2):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def write(self, addr: int, value: int):
        """Present the write at a falling edge (every operation ends on one), let the
        rising edge take it, release it at the next falling edge."""
        self.dut.addr.value = addr
        self.dut.w_data.value = int(value) & WORD_MASK
        self.dut.w_en.value = 1
        await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.w_en.value = 0

    async def read(self, addr: int) -> int:
        """Present the address at a falling edge; the rising edge registers the word,
        sampled at the next falling edge."""
        self.dut.addr.value = addr
        await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        return int(self.dut.r_data.value)

    async def clock(self):
        await FallingEdge(self.dut.clk)

    async def clocks(self, n: int):
        """``n`` falling edges with two awaited events (``ClockCycles`` wakes Python on each
        edge): a timer to just after the n-th rising edge, then that cycle's falling edge."""
        if n > 0:
            await Timer(PERIOD_NS * n - PERIOD_NS // 4, unit="ns")
            await FallingEdge(self.dut.clk)


@cocotb.test()
async def network_session(dut):
    """Serve the host's requests on PCFPGA_SOCKET until it says quit."""
    with open(os.environ["PCFPGA_MEMMAP"]) as f:
        memmap = MemoryMap.from_json(f.read())
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["PCFPGA_SOCKET"])

    tb = TB(dut, memmap)
    await tb.start()
    try:
        await tb.serve(lambda: receive_message(sock), lambda m: send_message(sock, m))
    finally:
        sock.close()

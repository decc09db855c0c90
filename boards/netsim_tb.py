"""The cocotb testbench of a board netlist: its serial line, bit by bit (runs inside the
simulator).

:class:`~.netsim.NetlistLink` starts the simulator on the wrapper of the netlist Yosys
wrote (ports ``clk``, ``rx``, ``tx``: the board's clock pin and its UART pins) with two
environment variables: ``PCFPGA_SOCKET`` names a Unix socket on which the host waits and
``PCFPGA_DIVISOR`` the clock cycles per bit of the SoC's UART. The testbench clocks the
netlist, keeps ``rx`` idle (high), receives every byte the SoC sends on ``tx`` (8N1,
sampled in the middle of each bit) and answers the host's requests until it says ``quit``:

=========  ============================================  ==================================
``write``  ``levels``: line levels, one per bit time      ``cycles``
``read``   ``n`` bytes, waiting at most ``cycles``        ``data`` (the bytes received, up
                                                          to ``n``), ``cycles``
``quit``                                                  ``{}``
=========  ============================================  ==================================

``cycles`` in an answer is the clock cycles simulated so far. Simulated time advances only
while a request runs, so the host's link sees the time it spends on the line, as with
:class:`pcfpga.host.link.SimLink` (the same host driver, a different simulation).
"""

from __future__ import annotations

import os
import socket

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer
from cocotb.utils import get_sim_time

from pcfpga.sim.driver import receive_message, send_message

__all__ = ["Line", "line_session", "PERIOD_NS"]

#: The simulated clock period; the host scales cycles to the board's clock.
PERIOD_NS = 10


class Line:
    """The host's end of the SoC's serial line: ``rx`` driven, ``tx`` received."""

    def __init__(self, dut, divisor: int):
        self.dut, self.divisor = dut, divisor
        self.bit_ns = divisor * PERIOD_NS
        self.got = bytearray()
        self.framing_errors = 0

    def cycles(self) -> int:
        return int(get_sim_time("ns")) // PERIOD_NS

    async def receive(self):
        """Receive bytes on ``tx`` for ever: a start bit's falling edge, then each bit
        sampled mid-bit; a byte whose stop bit is low is counted and dropped."""
        tx = self.dut.tx
        while True:
            await FallingEdge(tx)
            await Timer(self.bit_ns * 3 // 2, unit="ns")
            byte = 0
            for i in range(8):
                byte |= int(tx.value) << i
                await Timer(self.bit_ns, unit="ns")
            if int(tx.value):
                self.got.append(byte)
            else:
                self.framing_errors += 1

    async def write(self, levels) -> dict:
        for level in levels:
            self.dut.rx.value = int(level)
            await Timer(self.bit_ns, unit="ns")
        self.dut.rx.value = 1
        return {"cycles": self.cycles()}

    async def read(self, n: int, cycles: int) -> dict:
        deadline = self.cycles() + cycles
        while len(self.got) < n and self.cycles() < deadline:
            step = min(self.bit_ns, (deadline - self.cycles()) * PERIOD_NS)
            await Timer(max(step, PERIOD_NS), unit="ns")
        data = bytes(self.got[:n])
        del self.got[:n]
        return {"data": np.frombuffer(data, dtype=np.uint8), "cycles": self.cycles()}


@cocotb.test()
async def line_session(dut):
    """Serve the host's requests on PCFPGA_SOCKET until it says quit."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["PCFPGA_SOCKET"])
    line = Line(dut, int(os.environ["PCFPGA_DIVISOR"]))
    dut.rx.value = 1
    Clock(dut.clk, PERIOD_NS, unit="ns", impl="gpi").start(start_high=False)
    cocotb.start_soon(line.receive())
    try:
        while True:
            request = receive_message(sock)
            if request is None:             # the host has gone
                break
            cmd = str(request["cmd"])
            if cmd == "quit":
                send_message(sock, {})
                break
            if cmd == "write":
                answer = await line.write(request["levels"])
            elif cmd == "read":
                answer = await line.read(int(request["n"]), int(request["cycles"]))
            else:
                answer = {"error": f"unknown request {cmd!r}"}
            send_message(sock, answer)
    finally:
        sock.close()

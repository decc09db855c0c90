"""Byte links between the host driver and a SoC: a serial port, or the simulated SoC.

A link moves bytes and keeps time::

    link.write(data)            send bytes
    link.read(n, timeout) -> b  up to n bytes, fewer when ``timeout`` seconds pass first
    link.now() -> float         seconds (wall clock; simulated time for the simulation)
    link.close()

:class:`SerialLink` is a pyserial port (8N1). :class:`SimLink` is the SoC itself
(:class:`~pcfpga.boards.soc.SoC`) in the Amaranth simulator, cycle by cycle, with the
host's end of the serial line driven and sampled bit by bit at the SoC's UART divisor: the
driver (:mod:`.driver`) cannot tell the two apart. The simulation advances only while the
host waits for bytes or sends them, so simulated time is the time the host spends on the
line.
"""

from __future__ import annotations

import time
from collections import deque

__all__ = ["Link", "SerialLink", "SimLink", "LinkError"]


class LinkError(OSError):
    """The link cannot be opened or has failed."""


class Link:
    """The interface of a byte link (see the module docstring)."""

    #: Seconds a reply may take beyond its bytes' time on the line.
    latency = 0.0

    def write(self, data: bytes):
        raise NotImplementedError

    def read(self, n: int, timeout: float) -> bytes:
        raise NotImplementedError

    def now(self) -> float:
        return time.monotonic()

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialLink(Link):
    """A serial port through pyserial, ``baud`` 8N1."""

    latency = 0.25

    def __init__(self, port: str, baud: int):
        try:
            import serial
        except ImportError as e:          # pragma: no cover - a dependency of the package
            raise LinkError("pyserial is not installed (pip install pyserial)") from e
        try:
            self.port = serial.Serial(port, baud, timeout=0)
        except (serial.SerialException, ValueError) as e:
            raise LinkError(f"cannot open serial port {port}: {e}") from None
        self.baud = baud
        self.port.reset_input_buffer()

    def write(self, data: bytes):
        self.port.write(data)
        self.port.flush()

    def read(self, n: int, timeout: float) -> bytes:
        self.port.timeout = timeout
        return self.port.read(n)

    def close(self):
        self.port.close()


class SimLink(Link):
    """A :class:`~pcfpga.boards.soc.SoC` in the Amaranth simulator at ``clock_hz``; its
    ``rx``/``tx`` pins are the line. ``cycles`` counts the simulated clock cycles."""

    def __init__(self, soc, clock_hz: float = 12e6):
        from amaranth.sim import Simulator

        self.soc, self.divisor, self.clock_hz = soc, soc.divisor, clock_hz
        self.baud = clock_hz / soc.divisor
        self._bits = deque()              # line levels to send, one per bit
        self._got = bytearray()
        self.cycles = 0
        self.sim = Simulator(soc)
        self.sim.add_clock(1 / clock_hz)
        self.sim.add_testbench(self._line, background=True)

    async def _line(self, ctx):
        soc, d = self.soc, self.divisor
        send_left = 0                      # cycles left of the bit being sent
        recv_at, recv_bits, recv_byte = 0, -1, 0   # -1: line idle
        while True:
            if send_left == 0:
                ctx.set(soc.rx, self._bits.popleft() if self._bits else 1)
                send_left = d
            send_left -= 1
            await ctx.tick()
            self.cycles += 1
            tx = ctx.get(soc.tx)
            if recv_bits < 0:
                if tx == 0:                # a start bit: sample mid-bit from here on
                    recv_bits, recv_byte, recv_at = 0, 0, d + d // 2
                continue
            recv_at -= 1
            if recv_at == 0:
                if recv_bits < 8:
                    recv_byte |= tx << recv_bits
                    recv_bits += 1
                    recv_at = d
                else:                      # the stop bit
                    self._got.append(recv_byte)
                    recv_bits = -1

    @staticmethod
    def levels(data: bytes) -> list:
        """The line levels of ``data`` sent 8N1, one per bit time (start, 8 data bits LSB
        first, stop)."""
        return [b for byte in data for b in [0] + [(byte >> i) & 1 for i in range(8)] + [1]]

    def write(self, data: bytes):
        self.write_levels(self.levels(data))

    def write_levels(self, levels):
        """Drive the line with ``levels``, one per bit time (tests damage the line with
        it: a low stop bit is a framing error)."""
        self._bits.extend(int(bool(b)) for b in levels)
        while self._bits:
            self.sim.advance()

    def read(self, n: int, timeout: float) -> bytes:
        deadline = self.cycles + int(timeout * self.clock_hz)
        while len(self._got) < n and self.cycles < deadline:
            self.sim.advance()
        out = bytes(self._got[:n])
        del self._got[:n]
        return out

    def now(self) -> float:
        return self.cycles / self.clock_hz

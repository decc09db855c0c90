"""An 8N1 UART: receiver and transmitter at ``divisor`` clock cycles per bit.

Written here because amaranth-stdio is not on PyPI. At a board clock ``f`` and a baud rate
``b``, ``divisor = round(f / b)``; the error must stay under about 2 % for 8N1 framing,
which :func:`divisor_for` checks (12 MHz / 115,200 baud: 104, 0.16 % off).

* :class:`UARTRx`: the line goes through a two-flip-flop synchroniser; a start bit is
  confirmed half a bit after the falling edge, each data bit (LSB first) is sampled in the
  middle of its bit time, and a byte is delivered (``valid`` for one cycle) when its stop bit
  is high; a low stop bit is a framing error (``error`` for one cycle, no byte).
* :class:`UARTTx`: ``start`` with ``data`` while ``ready`` sends one byte.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .protocol import BITS_PER_BYTE
from .unused import rejecting

__all__ = ["UARTRx", "UARTTx", "divisor_for", "check_divisor"]


def divisor_for(clock_hz: float, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clock_hz``; a clear error when the rate is off
    by more than 2 % or needs fewer than 4 cycles per bit."""
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise ValueError(f"Baud rate must be a positive integer, not {baud!r}")
    divisor = round(clock_hz / baud)
    if divisor < 4:
        raise ValueError(f"Baud rate {baud} is too fast for a {clock_hz / 1e6:g} MHz clock "
                         f"(at least 4 cycles per bit are needed)")
    error = abs(clock_hz / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(f"Baud rate {baud} is {error:.1%} off at {clock_hz / 1e6:g} MHz "
                         f"(divisor {divisor}); choose one within 2 %")
    return divisor


def check_divisor(divisor) -> None:
    """Reject a divisor below 4 (the receiver samples mid-bit) with a ValueError (the UARTs
    and the frame bridge call it within :func:`~.unused.rejecting`)."""
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"Divisor must be an integer of at least 4 cycles per bit, not "
                         f"{divisor!r}")


class UARTRx(wiring.Component):
    """Ports: ``rx`` (the line, idle high), ``data``, ``valid``, ``error``."""

    def __init__(self, divisor: int):
        with rejecting(self):
            check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "data": Out(8), "valid": Out(1),
                          "error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(range(9))
        shift = Signal(8)
        m.d.comb += self.data.eq(shift)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(~line):
                        m.d.sync += [timer.eq(self.divisor - 1), bits.eq(0)]
                        m.next = "DATA"
                    with m.Else():
                        m.next = "IDLE"         # a glitch, not a start bit
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(self.divisor - 1),
                                 bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.comb += self.valid.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):                  # wait for the line to return high
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """Ports: ``data``, ``start``, ``ready``, ``tx`` (the line, idle high)."""

    def __init__(self, divisor: int):
        with rejecting(self):
            check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"data": In(8), "start": In(1), "ready": Out(1),
                          "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        shift = Signal(BITS_PER_BYTE, init=(1 << BITS_PER_BYTE) - 1)
        left = Signal(range(BITS_PER_BYTE + 1))
        m.d.comb += [self.tx.eq(shift[0]), self.ready.eq(left == 0)]
        with m.If(left == 0):
            with m.If(self.start):
                m.d.sync += [shift.eq(Cat(Const(0, 1), self.data, Const(1, 1))),
                             left.eq(BITS_PER_BYTE), timer.eq(self.divisor - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), left.eq(left - 1),
                         timer.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m

"""The SoC that goes on a board: the network, a UART and the frame bridge; LEDs.

:class:`SoC` is a ``wiring.Component`` with the serial line (``rx``, ``tx``) and two status
outputs (``busy``: the network is running; ``done``: a run has ended) so that tests can
simulate it whole; :class:`BoardTop` puts it on an ``amaranth-boards`` platform: the
board's ``uart`` resource and its first LEDs (or RGB LED: green busy, blue done).

The host talks to it with :mod:`pcfpga.hdl.protocol` frames (PING, READ, WRITE over the
memory map, :mod:`pcfpga.hdl.memmap`).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pcfpga.hdl.bridge import FrameBridge
from pcfpga.hdl.network import Network
from pcfpga.hdl.uart import UARTRx, UARTTx

__all__ = ["SoC", "BoardTop"]


class SoC(wiring.Component):
    """Network + UART + bridge. ``divisor``: clock cycles per UART bit
    (:func:`~pcfpga.hdl.uart.divisor_for` of the board clock and baud rate)."""

    def __init__(self, graph, reuse, divisor: int):
        self.network = Network(graph, reuse)
        try:
            self.bridge = FrameBridge(divisor, self.network.memmap.addr_width)
            self.rx_uart, self.tx_uart = UARTRx(divisor), UARTTx(divisor)
        except ValueError:
            self.network._MustUse__silence = True
            self._MustUse__silence = True
            raise
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1),
                          "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        net, br, urx, utx = self.network, self.bridge, self.rx_uart, self.tx_uart
        m.submodules.network, m.submodules.bridge = net, br
        m.submodules.uart_rx, m.submodules.uart_tx = urx, utx
        m.d.comb += [
            urx.rx.eq(self.rx), self.tx.eq(utx.tx),
            br.rx_data.eq(urx.data), br.rx_valid.eq(urx.valid), br.rx_error.eq(urx.error),
            utx.data.eq(br.tx_data), utx.start.eq(br.tx_start), br.tx_ready.eq(utx.ready),
            net.addr.eq(br.addr), net.w_data.eq(br.w_data), net.w_en.eq(br.w_en),
            br.r_data.eq(net.r_data),
            self.busy.eq(net.busy), self.done.eq(net.done),
        ]
        return m


class BoardTop(Elaboratable):
    """A :class:`SoC` on a platform's pins."""

    def __init__(self, soc: SoC):
        self.soc = soc

    def elaborate(self, platform):
        m = Module()
        m.submodules.soc = soc = self.soc
        uart = platform.request("uart", 0)
        m.d.comb += [soc.rx.eq(uart.rx.i), uart.tx.o.eq(soc.tx)]
        names = {r.name for r in platform.resources.values()}
        if "led" in names:
            m.d.comb += platform.request("led", 0).o.eq(soc.busy)
            m.d.comb += platform.request("led", 1).o.eq(soc.done)
        elif "rgb_led" in names:
            rgb = platform.request("rgb_led", 0)
            m.d.comb += [rgb.g.o.eq(soc.busy), rgb.b.o.eq(soc.done)]
        return m

"""The SoC that goes on a board: the network, a UART, the frame bridge, the epoch runner.

:class:`SoC` is a ``wiring.Component`` with the serial line (``rx``, ``tx``) and three
status outputs (``busy``: the network is running; ``done``: a run has ended; ``learning``:
the epoch runner is training from its dataset buffer) so that tests can simulate it whole;
:class:`BoardTop` puts it on an ``amaranth-boards`` platform through ``lib.io`` buffers: the
board's ``uart`` resource and its first LEDs (learning, done, busy) or RGB LED (green
learning, blue done, red busy).

The host talks to it with :mod:`pcfpga.hdl.protocol` frames (PING, READ, WRITE) over the
SoC's memory map (:func:`soc_memory_map`): the network's fields
(:mod:`pcfpga.hdl.memmap`), then the runner's ``run.*`` words and its ``data`` buffer
(:mod:`pcfpga.hdl.runner`). The bridge is given that whole map: it answers a frame that
names a word outside it (past its end, past 0xFFFF, in the gaps before ``run.*`` and
``data``) ARGUMENT, and a WRITE of a read-only word READONLY, before touching the bus, so no
address aliases onto another on the narrower bus. Two masters share the network's bus: the
bridge (the host) and the runner, which writes only while the bridge is not using the bus.
Their accesses reach the network and the runner's host port through one register stage
(:data:`BUS_STAGES`), and the word read, the network's busy and the received bytes come
back through another, so that no path runs from one of the UART, the bridge, the runner and
the network into another in one cycle: the bridge waits for the read (``read_latency``), the
runner for its START and the busy (``bus_latency``), and the network still sees every
write, in the same order.

A board's SoC is built with :attr:`~pcfpga.hdl.memmap.Readback.LEAN` (``readback``): the
host reads parameters, flags, buffers and status words, and the network's registers get no
read multiplexers.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Elaboratable, Module, Mux, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

from pcfpga.hdl.bridge import FrameBridge
from pcfpga.hdl.design import Design, as_design
from pcfpga.hdl.memmap import CONTROL_LATENCY, MemoryMap, Readback, with_dataset
from pcfpga.hdl.network import Network
from pcfpga.hdl.runner import EpochRunner
from pcfpga.hdl.uart import UARTRx, UARTTx
from pcfpga.hdl.unused import rejecting

__all__ = ["SoC", "BoardTop", "BUS_STAGES", "DATASET_WORDS", "dataset_capacity", "soc_memory_map"]

#: Registered stages of the SoC's shared bus between its masters (bridge, runner) and the
#: network (:meth:`SoC._bus_stage`), so that no path runs from one block into another.
BUS_STAGES = 1

#: Words of the dataset buffer per FPGA family: one SPRAM (16,384 × 16 bits) on an
#: iCE40UP5K; 8,192 words of block RAM on an ECP5 (8 of the 25F's 56 EBRs at 16 bits).
DATASET_WORDS = {"ice40": 16384, "ecp5": 8192}


def dataset_capacity(graph, words: int) -> int:
    """Samples that ``words`` words of buffer hold (each the inputs and targets)."""
    per = sum(n.size for n in graph.inputs) + sum(n.size for n in graph.outputs)
    if words < per:
        raise ValueError(f"A dataset buffer of {words} words holds no sample of "
                         f"{graph.name} ({per} words each)")
    return words // per


def soc_memory_map(design: Design, capacity: int, readback: Readback | None = None
                   ) -> MemoryMap:
    """The SoC's memory map: ``design.memmap`` (the network's), then the runner's ``run.*``
    words and a ``data`` buffer of ``capacity`` samples (:func:`~pcfpga.hdl.memmap.with_dataset`),
    reading back the fields of ``readback`` (default: the design's). :class:`SoC` decodes
    it, and the host driver uses it for a board built from ``design``."""
    if readback is not None:
        design = design.with_readback(readback)
    return with_dataset(design.memmap, capacity)


class SoC(wiring.Component):
    """Network + UART + bridge + epoch runner.

    Parameters
    ----------
    design : Design
        The network's :class:`~pcfpga.hdl.design.Design` (a graph: fully parallel), as for
        :class:`~pcfpga.hdl.network.Network`.
    divisor : int
        Clock cycles per UART bit (:func:`~pcfpga.hdl.uart.divisor_for` of the board clock
        and baud rate).
    capacity : int
        Samples the dataset buffer holds (:func:`dataset_capacity`).
    readback : Readback
        The fields the host can read (:class:`~pcfpga.hdl.memmap.Readback`): FULL (the
        default, as in simulation) or LEAN (a board's: no read multiplexers for the
        network's registers).
    """

    def __init__(self, design, divisor: int, capacity: int,
                 readback: Readback = Readback.FULL):
        with rejecting(self):           # a rejection also marks the network built so far
            if not isinstance(readback, Readback):
                raise TypeError(f"readback must be a Readback, not {readback!r}")
            if readback is not Readback.FULL:
                design = as_design(design, who="Network").with_readback(readback)
            self.network = Network(design)
            self.memmap = soc_memory_map(self.network.design, capacity)
            # a read: the bus stage, the network's registered read, the readback register
            self.bridge = FrameBridge(divisor, self.memmap, read_latency=BUS_STAGES + 2)
            self.rx_uart, self.tx_uart = UARTRx(divisor), UARTTx(divisor)
            # a START: the bus stage and the network's control stage there, its busy
            # registered back
            self.runner = EpochRunner(self.memmap,
                                      bus_latency=BUS_STAGES + CONTROL_LATENCY + 1)
        self.divisor, self.capacity = divisor, capacity
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1),
                          "done": Out(1), "learning": Out(1)})

    def elaborate(self, platform):
        m = Module()
        net, br, run = self.network, self.bridge, self.runner
        urx, utx = self.rx_uart, self.tx_uart
        m.submodules.network, m.submodules.bridge, m.submodules.runner = net, br, run
        m.submodules.uart_rx, m.submodules.uart_tx = urx, utx
        m.d.comb += [
            urx.rx.eq(self.rx), self.tx.eq(utx.tx),
            utx.data.eq(br.tx_data), utx.start.eq(br.tx_start), br.tx_ready.eq(utx.ready),
            run.hold.eq(br.bus_busy),
            self.busy.eq(net.busy), self.done.eq(net.done), self.learning.eq(run.busy),
        ]
        # the network's busy, registered on its way to the runner (which waits for it)
        m.d.sync += run.net_busy.eq(net.busy)
        # the received byte, registered: the receiver's bit timer does not reach into the
        # bridge's state machine (a byte comes a cycle later, and bytes are 10 bits apart)
        m.d.sync += [br.rx_data.eq(urx.data), br.rx_valid.eq(urx.valid),
                     br.rx_error.eq(urx.error)]
        self._bus_stage(m)
        # the readback: the runner's word or the network's, registered
        r_data = Signal(32)
        m.d.sync += r_data.eq(Mux(run.r_hit, run.r_data, net.r_data))
        m.d.comb += br.r_data.eq(r_data)
        return m

    def _bus_stage(self, m):
        """The shared bus, registered (:data:`BUS_STAGES`): the master's access (the
        runner's writes, else the host's) and, decoded before the register, whether a write
        is the network's; the network and the runner's host port take it a cycle later."""
        net, br, run = self.network, self.bridge, self.runner
        low = max(run.width, 8)
        addr = Mux(run.m_we, run.m_addr, br.addr)
        bus_addr, bus_data = Signal(self.memmap.addr_width), Signal(32)
        net_we, host_we = Signal(), Signal()
        m.d.sync += [
            bus_addr.eq(addr),
            # the runner writes sample words (value width) and START (bit 0): the bits above
            # are the host's, which no field the runner writes keeps
            bus_data.eq(Cat(Mux(run.m_we, run.m_data[:low], br.w_data[:low]),
                            br.w_data[low:])),
            net_we.eq(run.m_we | (br.w_en & (addr < net.memmap.size))),
            host_we.eq(br.w_en & ~run.m_we),
        ]
        m.d.comb += [
            net.addr.eq(bus_addr), net.w_data.eq(bus_data), net.w_en.eq(net_we),
            run.addr.eq(bus_addr), run.w_data.eq(bus_data), run.w_en.eq(host_we),
        ]


class BoardTop(Elaboratable):
    """A :class:`SoC` on a platform's pins (``lib.io`` buffers)."""

    def __init__(self, soc: SoC):
        self.soc = soc

    def elaborate(self, platform):
        m = Module()
        m.submodules.soc = soc = self.soc
        res = platform.lookup("uart", 0)
        uart = platform.request("uart", 0, dir={s.name: "-" for s in res.ios})
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [soc.rx.eq(rx.i), tx.o.eq(soc.tx)]
        names = {r.name for r in platform.resources.values()}
        shows = (soc.learning, soc.done, soc.busy)
        if "led" in names:
            count = len({r.number for r in platform.resources.values() if r.name == "led"})
            for i, signal in enumerate(shows[:count]):
                buf = io.Buffer("o", platform.request("led", i, dir="-"))
                m.submodules[f"led{i}"] = buf
                m.d.comb += buf.o.eq(signal)
        elif "rgb_led" in names:
            rgb = platform.request("rgb_led", 0, dir={"r": "-", "g": "-", "b": "-"})
            for color, signal in zip("gbr", shows):
                buf = io.Buffer("o", getattr(rgb, color))
                m.submodules[f"led_{color}"] = buf
                m.d.comb += buf.o.eq(signal)
        return m

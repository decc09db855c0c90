"""A :class:`~.session.Session` on Amaranth's simulator.

:class:`AmaranthSession` runs the shared :class:`~.driver.BusDriver` in an async testbench
(``add_testbench``, ``ctx.set``/``ctx.get``/``ctx.tick`` only), in a thread fed through
queues. Writes go over the memory-map bus, one cycle per word, as a host's do (parameters,
inputs and targets, START, PAUSE/CONTINUE). Reads come in two kinds (``reads``):

* ``"direct"`` (default): a word is taken from the signal behind it with ``ctx.get``, in
  zero simulated time: the registers of every PE, the saturation flags, the host buffers,
  unfolded weights and the controller's words. A step then costs its own cycles (plus
  three per pause: the cycle before the pause shows in the status, the one in which
  CONTINUE is written and its decode, :data:`~pcfpga.hdl.memmap.CONTROL_LATENCY`) instead
  of one cycle per word read.
  Words the :class:`~pcfpga.hdl.network.Network` keeps in memories and does not expose as
  signals (folded weights, the serial architecture's registers) are still read over the
  bus;
* ``"bus"``: every word over the bus, one cycle each, as Verilator, Icarus and a board
  read them; each word that has a signal is also read directly just before, and a
  difference stops the request (:class:`BusDecodeError`): this checks the hardware's read
  decode against the signals it decodes.

Traces are shaped like :meth:`pcfpga.golden.fixed_model.FixedPC.step`'s (see
:meth:`~.driver.BusDriver.run`). The hardware's ``cycles`` word counts the cycles spent
paused too, so with pauses it depends on how reads are made; without, it does not.
"""

from __future__ import annotations

import queue
import threading

from amaranth.hdl import Const
from amaranth.sim import Simulator

from pcfpga.hdl.design import as_design
from pcfpga.hdl.memmap import CONTROL, ID_VALUE
from pcfpga.hdl.network import Network
from pcfpga.hdl.protocol import WORD_MASK

from .driver import BusDriver
from .session import Session, SimulationFailed

__all__ = ["AmaranthDriver", "AmaranthSession", "BusDecodeError", "READS", "word_signals"]

#: How :class:`AmaranthDriver` reads words.
READS = ("direct", "bus")

#: Control words that are constants of the design (the rest are the controller's ``r_*``).
_CONSTANT_WORDS = ("id", "cycles_per_tick", "cycles_per_step")


class BusDecodeError(ValueError):
    """A word read over the bus differs from the signal it decodes."""


def word_signals(dut: Network) -> dict:
    """What each bus address of ``dut`` reads, as a value: ``{addr: (name, index, value)}``.

    The value is sign-extended like the read decode's (flag words zero-extended), so that
    ``ctx.get(value) & WORD_MASK`` is the word a bus read returns. Addresses whose words
    live only in a memory (folded weights, serial registers) are absent.
    """
    mm, ctl = dut.memmap, dut.controller
    constants = {"id": ID_VALUE, "cycles_per_tick": mm.meta["cycles_per_tick"],
                 "cycles_per_step": mm.meta["cycles_per_step"]}
    out = {}
    for name in CONTROL:
        value = (Const(constants[name], 32) if name in _CONSTANT_WORDS
                 else getattr(ctl, f"r_{name}"))
        out[mm[name].addr] = (name, 0, value)
    for f in mm.fields:
        if f.kind == "control" or f.name not in dut.fields:
            continue
        for i, sig in enumerate(dut.fields[f.name]):
            out[f.addr + i] = (f.name, i, sig if f.kind == "flags" else sig.as_signed())
    return out


class AmaranthDriver(BusDriver):
    """The bus primitives in an Amaranth async testbench, with direct reads.

    Parameters
    ----------
    memmap : MemoryMap
    ctx : TestbenchContext
    dut : Network
    reads : str
        One of :data:`READS` (see the module docstring).
    """

    def __init__(self, memmap, ctx, dut, reads: str = "direct"):
        super().__init__(memmap)
        if reads not in READS:
            raise ValueError(f"Reads must be one of {', '.join(READS)}, not {reads!r}")
        self.ctx, self.dut, self.reads = ctx, dut, reads
        self.words = word_signals(dut)

    async def write(self, addr, value):
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.addr, addr)
        ctx.set(dut.w_data, int(value) & WORD_MASK)
        ctx.set(dut.w_en, 1)
        await ctx.tick()
        ctx.set(dut.w_en, 0)

    async def read(self, addr):
        word = self.words.get(addr)
        if word is None:
            return await self.bus_read(addr)
        direct = self.ctx.get(word[2]) & WORD_MASK
        if self.reads == "direct":
            return direct
        bus = await self.bus_read(addr)     # registered: the word as it was before the tick
        if bus != direct:
            name, i, _ = word
            raise BusDecodeError(f"the bus read of {name}[{i}] (address {addr:#x}) gave "
                                 f"{bus:#x}, its signal holds {direct:#x}")
        return bus

    async def bus_read(self, addr) -> int:
        """One word over the bus: present the address, take ``r_data`` after the edge."""
        self.ctx.set(self.dut.addr, addr)
        await self.ctx.tick()                   # reads are registered
        return self.ctx.get(self.dut.r_data)

    async def clock(self):
        await self.ctx.tick()

    async def clocks(self, n: int):
        if n > 0:
            await self.ctx.tick().repeat(n)


class AmaranthSession(Session):
    """A :class:`~.session.Session` on Amaranth's simulator, run in a thread.

    Parameters
    ----------
    design : Design
        The hardware (:class:`~pcfpga.hdl.design.Design`; a graph: fully parallel).
    waves : str, optional
        A VCD file written when the session closes.
    reads : str
        One of :data:`READS`: how the driver reads words (see the module docstring).
    """

    simulator = "amaranth"

    def __init__(self, design, waves: str | None = None, reads: str = "direct"):
        if reads not in READS:
            raise ValueError(f"Reads must be one of {', '.join(READS)}, not {reads!r}")
        super().__init__(as_design(design, who="A simulation"))
        self.dut = Network(self.design)
        self.mm = self.dut.memmap
        self._requests, self._answers = queue.Queue(), queue.Queue()
        self._failure = None
        sim = Simulator(self.dut)
        sim.add_clock(1e-8)

        async def testbench(ctx):
            driver = AmaranthDriver(self.mm, ctx, self.dut, reads)
            await driver.serve(self._requests.get, self._answers.put)

        sim.add_testbench(testbench)

        def main():
            try:
                if waves:
                    with sim.write_vcd(waves):
                        sim.run()
                else:
                    sim.run()
            except BaseException as e:  # reported to the host, which is waiting
                self._failure = e
                self._answers.put(None)

        self._thread = threading.Thread(target=main, name="amaranth-sim", daemon=True)
        self._thread.start()

    def _send(self, message):
        self._requests.put(message)

    def _receive(self):
        answer = self._answers.get()
        if answer is None:
            raise SimulationFailed(f"the Amaranth simulation failed: "
                                   f"{type(self._failure).__name__}: {self._failure}")
        return answer

    def _finish(self):
        self._thread.join()

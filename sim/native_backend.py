"""A :class:`~.session.Session` on the native Verilator model: no Python in the clock loop.

:class:`NativeSession` holds one :class:`~.verilated.VerilatedModel` (the generated Verilog
and the C++ driver ``fastsim.cpp`` in one shared library, :class:`~.verilated.VerilatedBuild`)
and answers the host's requests in the calling thread with :class:`NativeDriver`, the shared
:class:`~.driver.BusDriver` whose bus primitives are the model's (one clock cycle per word,
as the cocotb testbench's). Everything the driver does is therefore the same as on every
other simulator, with two parts moved into C++ because Python would dominate them:

* a run without trace (``trace=False``: ``--check params``, the benchmarks' free-running
  steps) goes to the model as one batch: each step's ``in.*``/``target.*`` words, START,
  and the wait for DONE run in C++ (``pc_run``), the same bus writes in the same order as
  :meth:`~.driver.BusDriver.run` makes them;
* blocks of words (parameters, snapshots) are written and read in C++, one cycle a word.

A run with trace (``--check ticks``: every register after the forward sweep and every tick)
is the shared driver's, each bus operation a call into the model, so it keeps its meaning
exactly.

:meth:`NativeSession.corrupt` arms a fault for the next run (a word of the hardware
altered over the bus between two steps of the batch), so that tests can show that a
corruption inside a free-running batch is caught and located.
"""

from __future__ import annotations

import numpy as np

from pcfpga.golden.fields import input_field, target_field
from pcfpga.hdl.memmap import CTRL_BITS, STEPS_BITS
from pcfpga.hdl.protocol import WORD_MASK

from .driver import STEP_TIMEOUT, BusDriver, HardwareTimeout, run_sync
from .session import Session, SimulationFailed
from .verilated import VerilatedBuild, VerilatedModel

__all__ = ["NativeDriver", "NativeSession"]


class NativeDriver(BusDriver):
    """The shared bus driver on a :class:`~.verilated.VerilatedModel`."""

    def __init__(self, memmap, model: VerilatedModel):
        super().__init__(memmap)
        self.model = model

    async def write(self, addr: int, value: int):
        self.model.write(addr, int(value) & WORD_MASK)

    async def read(self, addr: int) -> int:
        return self.model.read(addr)

    async def clock(self):
        self.model.clocks(1)

    async def clocks(self, n: int):
        if n > 0:
            self.model.clocks(n)

    async def write_block(self, addr: int, words: list):
        self.model.write_block(addr, np.asarray(words, dtype=np.int64) & WORD_MASK)

    async def read_block(self, addr: int, count: int) -> list:
        return [int(w) for w in self.model.read_block(addr, count)]

    async def run(self, samples: list, trace: bool = True, bubble: bool = False,
                  repeat: int = 1):
        """As :meth:`.BusDriver.run`; without ``trace`` the whole batch runs in C++."""
        if trace:
            return await super().run(samples, trace, bubble, repeat)
        if not 1 <= repeat < 1 << STEPS_BITS:
            raise ValueError(f"Repeat must be 1 to {(1 << STEPS_BITS) - 1}, not {repeat}")
        counts, addrs, data = self.batch_words(samples)
        cps = await self.read_word(self.mm["cycles_per_step"].addr, signed=False)
        limit = repeat * STEP_TIMEOUT * cps
        mode = (1 << CTRL_BITS["bubble"]) if bubble else 0
        failed, cycles = self.model.run(counts, addrs, data, mode, repeat, limit)
        self._last = None   # the update phase has changed registers since
        if failed >= 0:
            raise HardwareTimeout(f"step {failed} did not finish within {limit} cycles")
        return [{} for _ in samples], cycles

    def batch_words(self, samples: list) -> tuple:
        """(counts, addresses, words): each step's ``in.*`` then ``target.*`` words in the
        order :meth:`.BusDriver.run` writes them, consecutive over the steps."""
        counts, addrs, data = [], [], []
        for x, y in samples:
            n = 0
            for fields in (((input_field(k), v) for k, v in (x or {}).items()),
                           ((target_field(k), v) for k, v in (y or {}).items())):
                for name, values in fields:
                    f = self.mm[name]
                    words = np.ravel(np.asarray(values, dtype=np.int64)) & WORD_MASK
                    addrs.append(np.arange(f.addr, f.addr + len(words)))
                    data.append(words)
                    n += len(words)
            counts.append(n)
        empty = [np.zeros(0, np.int64)]
        return np.array(counts), np.concatenate(addrs or empty), np.concatenate(data or empty)


class NativeSession(Session):
    """A :class:`~.session.Session` on the native Verilator model (module docstring).

    Parameters
    ----------
    build : VerilatedBuild
        The model (built now if it is not yet).
    """

    simulator = "verilator"

    def __init__(self, build: VerilatedBuild):
        super().__init__(build.design)
        library = build.build()
        self.model = VerilatedModel(library, build.options.threads)
        self.driver = NativeDriver(build.memmap, self.model)
        self._answer = None
        try:
            run_sync(self.driver.check_id())
        except RuntimeError as e:
            self._open = False
            self.model.close()
            raise SimulationFailed(f"the native Verilator model of {library}: {e}") from None

    def _send(self, message: dict):
        if str(message["cmd"]) == "quit":
            self._answer = {}
            return
        try:
            self._answer = run_sync(self.driver.execute(message))
        except (HardwareTimeout, ValueError, KeyError) as e:
            self._answer = {"error": np.array(f"{type(e).__name__}: {e}")}

    def _receive(self) -> dict:
        return self._answer

    def _finish(self):
        self.model.close()

    def corrupt(self, step: int, name: str, element: int = 0, bit: int = 0):
        """Alter the hardware inside the next :meth:`run` without trace (a test of the
        checks): before its step ``step`` (counted from 0 in that request; the request's
        number of steps: after its last step, before it returns), bit ``bit`` of element
        ``element`` (row-major) of the field ``name`` is flipped over the bus.

        Raises
        ------
        ValueError
            No such field, element or bit, or a field the bus cannot write.
        """
        mm = self.driver.mm
        if name not in mm or mm[name].access != "rw":
            raise ValueError(f"Corrupt names a read-write field of the memory map, not "
                             f"{name!r}")
        f = mm[name]
        if not 0 <= element < f.count or not 0 <= bit < f.width:
            raise ValueError(f"{name} has elements 0 to {f.count - 1} of {f.width} bits, not "
                             f"element {element} bit {bit}")
        self.model.set_fault(step, f.addr + element, 1 << bit)

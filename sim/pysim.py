"""Run a generated :class:`~pcfpga.hdl.network.Network` in Amaranth's simulator.

:class:`AmaranthSession` runs the shared :class:`~.driver.BusDriver` in an async testbench,
so the memory map is driven the way a host does (parameters, inputs and targets written
word by word over the bus, START, PAUSE/CONTINUE) and every register of the golden trace is
read after the forward sweep and after every tick; traces are shaped exactly like
:meth:`pcfpga.golden.fixed_model.FixedPC.step`'s: ``{node}.{reg}`` → (ticks + 1, size) and
``{node}.sat`` → (ticks + 1,). In streaming mode each step is one tick and index 1 holds
the state after it (index 0 the state before).

Only async testbenches are used (``add_testbench``, ``ctx.set``/``ctx.get``/``ctx.tick``).
"""

from __future__ import annotations

import queue
import threading

import numpy as np
from amaranth.sim import Simulator

from pcfpga.hdl.network import Network

from .driver import BusDriver
from .session import Mismatch, Session, SimulationFailed

__all__ = ["PySimRunner", "AmaranthSession", "AmaranthDriver", "run_session", "compare_traces",
           "compare_params", "Mismatch", "quantize", "simulate_against_golden"]

_M32 = 0xFFFFFFFF


def compare_traces(hw: dict, ref: dict, step: int, where: str = ""):
    """Exact comparison of one step's traces; raises :class:`Mismatch` at the first
    difference (register, step, tick, element, expected, actual)."""
    missing = sorted(set(ref) - set(hw))
    if missing:
        raise Mismatch(f"{where}step {step}: hardware has no register {missing[0]}")
    for key in sorted(ref):
        a, b = np.asarray(hw[key]), np.asarray(ref[key]).astype(np.int64)
        if a.shape != b.shape:
            raise Mismatch(f"{where}step {step}: {key} has shape {a.shape}, golden {b.shape}")
        if not np.array_equal(a, b):
            idx = tuple(int(i) for i in np.argwhere(a != b)[0])
            raise Mismatch(f"{where}step {step}, tick {idx[0]}: {key}{list(idx[1:])} is "
                           f"{a[idx]}, golden {b[idx]}")


class AmaranthDriver(BusDriver):
    """The bus primitives in an Amaranth async testbench."""

    def __init__(self, memmap, ctx, dut):
        super().__init__(memmap)
        self.ctx, self.dut = ctx, dut

    async def write(self, addr, value):
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.addr, addr)
        ctx.set(dut.w_data, int(value) & _M32)
        ctx.set(dut.w_en, 1)
        await ctx.tick()
        ctx.set(dut.w_en, 0)

    async def read(self, addr):
        self.ctx.set(self.dut.addr, addr)
        await self.ctx.tick()                   # reads are registered
        return self.ctx.get(self.dut.r_data)

    async def clock(self):
        await self.ctx.tick()


class AmaranthSession(Session):
    """A :class:`~.session.Session` on Amaranth's simulator, run in a thread; requests pass
    through queues. ``waves`` names a VCD file written when the session closes."""

    simulator = "amaranth"

    def __init__(self, graph, waves: str | None = None, reuse=1):
        super().__init__(graph)
        self.dut = Network(graph, reuse)
        self.mm = self.dut.memmap
        self._requests, self._answers = queue.Queue(), queue.Queue()
        self._failure = None
        sim = Simulator(self.dut)
        sim.add_clock(1e-8)

        async def testbench(ctx):
            driver = AmaranthDriver(self.mm, ctx, self.dut)
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


def compare_params(hw: dict, ref: dict, when: str):
    """Exact comparison of integer parameters; raises :class:`Mismatch` naming the first
    differing element (``when`` says at which point of the run)."""
    for k in ref:
        want = np.asarray(ref[k], dtype=np.int64)
        got = np.asarray(hw[k]).reshape(want.shape)
        if not np.array_equal(got, want):
            idx = tuple(int(i) for i in np.argwhere(got != want)[0])
            raise Mismatch(f"{when}: parameter {k}{list(idx)} is {got[idx]}, golden "
                           f"{want[idx]}")


class PySimRunner:
    """Simulate a network for a sequence of training steps (one session per :meth:`run`).

    Parameters
    ----------
    graph : Graph
    pause : bool
        Stop after the forward sweep and every tick to read the registers (default True;
        streaming steps are single ticks and are read when they end).
    waves : str, optional
        A VCD file to write.
    reuse : int or dict
        Folding (:mod:`pcfpga.hdl.fold`); 1 is fully parallel.
    """

    def __init__(self, graph, pause: bool = True, waves: str | None = None, reuse=1):
        self.graph = graph
        self.pause = pause
        self.waves = waves
        self.reuse = reuse
        self.cycles = 0
        self.seconds = 0.0

    def run(self, params: dict, samples: list, vcd: str | None = None):
        """Run one step per ``(x, y)`` sample (integer dicts, already in the value format)
        from integer ``params``; returns (integer params, list of per-step traces)."""
        return run_session(AmaranthSession(self.graph, waves=vcd or self.waves,
                                           reuse=self.reuse), self, params, samples)


def run_session(session, runner, params: dict, samples: list):
    """Load, run and read back in one session; add its cycles and seconds to ``runner``."""
    with session:
        session.load(params)
        traces = session.run(samples, trace=runner.pause)
        result = session.read(list(params))
    runner.cycles += session.cycles
    runner.seconds += session.seconds
    return {k: v.reshape(np.shape(params[k])) for k, v in result.items()}, traces


def quantize(graph, data: dict) -> dict:
    """Float data as value-format integers (the host's job), and whether any clipped."""
    V = graph.formats.value
    return {k: V.to_int(v)[0] for k, v in data.items()}


def simulate_against_golden(graph, params: dict, samples: list, pause: bool = True,
                            runner=None):
    """Run ``samples`` (float (x, y) pairs, one step each) through the golden fixed model
    and the simulated hardware from the same float ``params``; raise :class:`Mismatch` at
    the first register that differs after any tick, or in the final parameters.

    ``runner`` is any object with ``run(params, samples) -> (params, traces)`` and
    ``cycles`` (default: a :class:`PySimRunner`; see also ``sim.runner.CocotbRunner``).
    Returns a dict: ``params`` (integers), ``cycles`` (clock cycles of the run, counted by
    the hardware), ``steps`` and ``flags`` (the sticky saturation flags, as
    :meth:`FixedPC.flags`; the hardware's ``{node}.sat`` words equal them after every tick).
    """
    from pcfpga.golden.fixed_model import FixedPC

    model = FixedPC(graph)
    q = model.to_model(params)
    ints = [(quantize(graph, x), quantize(graph, y)) for x, y in samples]
    runner = runner or PySimRunner(graph, pause=pause)
    pause = runner.pause
    hw_params, hw_traces = runner.run(q, ints)
    V = graph.formats.value
    for s, (x, y) in enumerate(ints):
        q, trace = model.step(q, {k: V.to_float(v) for k, v in x.items()},
                              {k: V.to_float(v) for k, v in y.items()})
        if pause:
            compare_traces(hw_traces[s], trace, s)
    compare_params(hw_params, q, f"after {len(ints)} steps")
    return {"params": hw_params, "cycles": runner.cycles, "steps": len(ints),
            "flags": model.flags()}

"""Run a generated :class:`~pcfpga.hdl.network.Network` in Amaranth's simulator.

:class:`PySimRunner` drives the memory map the way a host does (parameters, inputs and
targets written word by word over the bus, START, PAUSE/CONTINUE) and captures every
register of the golden trace after the forward sweep and after every tick, so a run
returns traces shaped exactly like :meth:`pcfpga.golden.fixed_model.FixedPC.step`'s:
``{node}.{reg}`` → (ticks + 1, size) and ``{node}.sat`` → (ticks + 1,). In streaming mode
each step is one tick and index 1 holds the state after it (index 0 the state before).

Only async testbenches are used (``add_testbench``, ``ctx.set``/``ctx.get``/``ctx.tick``).
"""

from __future__ import annotations

import time

import numpy as np
from amaranth.sim import Simulator

from pcfpga.hdl.memmap import CTRL_BITS, STATUS_BITS
from pcfpga.hdl.network import Network

__all__ = ["PySimRunner", "compare_traces", "Mismatch", "quantize", "simulate_against_golden"]

_M32 = 0xFFFFFFFF


class Mismatch(AssertionError):
    """Hardware and golden differ; the message names register, step, tick and values."""


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


class PySimRunner:
    """Simulate a network for a sequence of training steps.

    Parameters
    ----------
    graph : Graph
    pause : bool
        Stop after the forward sweep and every tick to read the registers (default True;
        streaming steps are single ticks and are read when they end).
    """

    def __init__(self, graph, pause: bool = True, waves: str | None = None):
        self.graph = graph
        self.dut = Network(graph)
        self.mm = self.dut.memmap
        self.pause = pause and not self.dut.streaming
        self.waves = waves
        self.cycles = 0
        self.seconds = 0.0

    def _snapshot(self, ctx) -> dict:
        snap = {}
        for f in self.mm.fields:
            if f.kind in ("register", "line", "flags"):
                vals = [ctx.get(s) for s in self.dut.fields[f.name]]
                arr = np.array(vals, dtype=np.int64)
                snap[f.name] = arr.reshape(f.shape) if f.kind == "line" else (
                    arr[0] if f.kind == "flags" else arr)
        return snap

    def run(self, params: dict, samples: list, vcd: str | None = None):
        """Run one step per ``(x, y)`` sample (integer dicts, already in the value format)
        from integer ``params``; returns (integer params, list of per-step traces)."""
        dut, mm = self.dut, self.mm
        traces, result = [], {}

        async def write(ctx, addr, value):
            ctx.set(dut.addr, addr)
            ctx.set(dut.w_data, int(value) & _M32)
            ctx.set(dut.w_en, 1)
            await ctx.tick()
            ctx.set(dut.w_en, 0)

        async def write_field(ctx, name, values):
            base = mm[name].addr
            for i, v in enumerate(np.ravel(values)):
                await write(ctx, base + i, v)

        def status(ctx, bit):
            ctx.set(dut.addr, mm["status"].addr)
            return (ctx.get(dut.r_data) >> STATUS_BITS[bit]) & 1

        async def testbench(ctx):
            for k, v in params.items():
                await write_field(ctx, k, v)
            ctrl = mm["ctrl"].addr
            pause = (1 << CTRL_BITS["pause"]) if self.pause else 0
            for x, y in samples:
                for k, v in x.items():
                    await write_field(ctx, f"in.{k}", v)
                for k, v in y.items():
                    await write_field(ctx, f"target.{k}", v)
                snaps = [self._snapshot(ctx)] if dut.streaming else []
                await write(ctx, ctrl, (1 << CTRL_BITS["start"]) | pause)
                while True:
                    if status(ctx, "paused"):
                        snaps.append(self._snapshot(ctx))
                        await write(ctx, ctrl, (1 << CTRL_BITS["continue"]) | pause)
                        continue
                    if status(ctx, "done") and not status(ctx, "busy"):
                        break
                    await ctx.tick()
                if dut.streaming:
                    snaps.append(self._snapshot(ctx))
                ctx.set(dut.addr, mm["cycles"].addr)
                self.cycles += ctx.get(dut.r_data)
                traces.append({k: np.stack([s[k] for s in snaps]) for k in snaps[0]}
                              if snaps else {})
            for k in params:
                f = mm[k]
                result[k] = np.array([ctx.get(s) for s in dut.fields[k]],
                                     dtype=np.int64).reshape(f.shape)

        sim = Simulator(dut)
        sim.add_clock(1e-8)
        sim.add_testbench(testbench)
        vcd = vcd or self.waves
        start = time.perf_counter()
        if vcd:
            with sim.write_vcd(vcd):
                sim.run()
        else:
            sim.run()
        self.seconds += time.perf_counter() - start
        return result, traces


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
    the hardware), ``steps``.
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
        if pause or graph.learning.mode == "streaming":
            compare_traces(hw_traces[s], trace, s)
    for k in q:
        if not np.array_equal(np.asarray(q[k], dtype=np.int64), hw_params[k]):
            idx = tuple(int(i) for i in np.argwhere(hw_params[k] != q[k])[0])
            raise Mismatch(f"after {len(ints)} steps: parameter {k}{list(idx)} is "
                           f"{hw_params[k][idx]}, golden {q[k][idx]}")
    return {"params": hw_params, "cycles": runner.cycles, "steps": len(ints)}

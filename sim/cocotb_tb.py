"""The cocotb testbench of a generated network (runs inside the HDL simulator).

It is started by :mod:`pcfpga.sim.runner` with the environment variable ``PCFPGA_JOB``
naming a job file (``.npz``): the memory map (JSON), the integer parameters, the samples
and whether to pause after every tick. The testbench only *drives and reads*: it loads
parameters, inputs and targets through the memory map, runs each step (PAUSE/CONTINUE
when asked), reads back every register the manifest names after the forward sweep and
after every tick, and writes everything it read to ``PCFPGA_RESULT``. The comparison with
the golden model happens on the host side, with the same :func:`~.pysim.compare_traces`
the Amaranth simulator uses, so every simulator is judged by one definition.

Protocol on the bus: a write presents address, data and ``w_en`` and holds them over the
next rising edge (released at the falling edge after it); a read sets ``addr`` and samples
the combinational ``r_data`` 1 ns later.
"""

from __future__ import annotations

import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from pcfpga.hdl.memmap import CTRL_BITS, STATUS_BITS, MemoryMap

__all__ = ["run_job", "TB"]

_M32 = 0xFFFFFFFF


class TB:
    """Clock, reset and a memory-map driver for one DUT."""

    def __init__(self, dut, memmap: MemoryMap):
        self.dut, self.mm = dut, memmap
        self.cycles_clocked = 0

    async def start(self):
        self.dut.w_en.value = 0
        self.dut.addr.value = 0
        self.dut.w_data.value = 0
        Clock(self.dut.clk, 10, unit="ns").start()
        self.dut.rst.value = 1
        for _ in range(2):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def write(self, addr: int, value: int):
        """Present the write, let a rising edge take it, release it at the falling edge
        (reads may have left us anywhere in the clock period)."""
        self.dut.addr.value = addr
        self.dut.w_data.value = int(value) & _M32
        self.dut.w_en.value = 1
        await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.w_en.value = 0

    async def read(self, addr: int, signed: bool = True) -> int:
        self.dut.addr.value = addr
        await Timer(1, unit="ns")
        v = int(self.dut.r_data.value)
        return v - (1 << 32) if signed and v >= 1 << 31 else v

    async def write_field(self, name: str, values):
        base = self.mm[name].addr
        for i, v in enumerate(np.ravel(values)):
            await self.write(base + i, int(v))

    async def read_field(self, name: str):
        f = self.mm[name]
        vals = [await self.read(f.addr + i, signed=f.kind != "flags") for i in range(f.count)]
        arr = np.array(vals, dtype=np.int64)
        if f.kind == "flags":
            return arr[0]
        return arr.reshape(f.shape) if f.kind in ("line", "param") else arr

    async def snapshot(self) -> dict:
        return {f.name: await self.read_field(f.name) for f in self.mm.fields
                if f.kind in ("register", "line", "flags")}

    async def status(self, bit: str) -> int:
        return (await self.read(self.mm["status"].addr, signed=False) >> STATUS_BITS[bit]) & 1


async def run_job(dut, job: dict) -> dict:
    """Drive a whole job; returns the arrays to save (see the module docstring)."""
    mm = MemoryMap.from_json(str(job["memmap"]))
    tb = TB(dut, mm)
    await tb.start()
    assert await tb.read(mm["id"].addr, signed=False) == 0x50434650, "not a pcfpga network"
    streaming = mm.meta["mode"] == "streaming"
    pause = bool(job["pause"]) and not streaming
    params = [k[len("param."):] for k in job if k.startswith("param.")]
    for k in params:
        await tb.write_field(k, job[f"param.{k}"])
    out = {}
    cycles = 0
    started = time.perf_counter()
    ctrl = mm["ctrl"].addr
    pause_bit = (1 << CTRL_BITS["pause"]) if pause else 0
    for s in range(int(job["steps"])):
        for k in [k for k in job if k.startswith(f"x.{s}.")]:
            await tb.write_field(f"in.{k.split('.', 2)[2]}", job[k])
        for k in [k for k in job if k.startswith(f"y.{s}.")]:
            await tb.write_field(f"target.{k.split('.', 2)[2]}", job[k])
        snaps = [await tb.snapshot()] if streaming and job["pause"] else []
        await tb.write(ctrl, (1 << CTRL_BITS["start"]) | pause_bit)
        while True:
            if pause and await tb.status("paused"):
                snaps.append(await tb.snapshot())
                await tb.write(ctrl, (1 << CTRL_BITS["continue"]) | pause_bit)
                continue
            if await tb.status("done") and not await tb.status("busy"):
                break
            await FallingEdge(dut.clk)
        if streaming and job["pause"]:
            snaps.append(await tb.snapshot())
        cycles += await tb.read(mm["cycles"].addr, signed=False)
        for key in (snaps[0] if snaps else {}):
            out[f"trace.{s}.{key}"] = np.stack([sn[key] for sn in snaps])
    out["seconds"] = np.float64(time.perf_counter() - started)
    for k in params:
        out[f"param.{k}"] = await tb.read_field(k)
    out["cycles"] = np.int64(cycles)
    return out


@cocotb.test()
async def network_job(dut):
    """Run the job named by PCFPGA_JOB and save what was read to PCFPGA_RESULT."""
    with np.load(os.environ["PCFPGA_JOB"], allow_pickle=False) as z:
        job = {k: z[k] for k in z.files}
    job["memmap"] = str(job["memmap"])
    out = await run_job(dut, job)
    np.savez(os.environ["PCFPGA_RESULT"], **out)

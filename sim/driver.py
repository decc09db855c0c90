"""Drive a generated network through its memory-map bus: one definition for every simulator.

A :class:`BusDriver` knows the memory map (from the JSON manifest) and three bus
primitives that each simulator supplies (``write``, ``read``, ``clock``); everything else
is written once here and runs unchanged inside the Amaranth simulator
(:mod:`.amaranth_backend`) and inside Verilator or Icarus (:mod:`.cocotb_tb`):

* :meth:`~BusDriver.load` writes parameters, :meth:`~BusDriver.read_params` reads them;
* :meth:`~BusDriver.run` runs one training step per sample: it writes ``in.*`` and
  ``target.*``, sets START (with PAUSE when asked), reads every register the manifest
  names after the forward sweep and after every tick (streaming: before and after each
  single-tick step), and returns the traces shaped like the golden model's;
* :meth:`~BusDriver.serve` answers requests (dicts of NumPy arrays) from the host until
  it says ``quit``; :func:`encode` and :func:`decode` put a request on a byte stream.

Requests (``cmd`` key):

=========  ==================================================  ============================
``load``   ``param.<name>``                                     ``{}``
``run``    ``trace``, ``steps``, ``bubble`` (streaming drain),   ``trace.<s>.<reg>``,
           ``repeat`` (runs per START), ``x.<s>.<input>``,       ``cycles``
           ``y.<s>.<output>``
``read``   ``names`` (parameter names)                          ``param.<name>``
``quit``                                                        ``{}``
=========  ==================================================  ============================

A request that fails answers ``{"error": message}`` (for instance when the hardware does
not finish a step within :data:`STEP_TIMEOUT` × ``cycles_per_step`` cycles).
"""

from __future__ import annotations

import io
import struct

import numpy as np

from pcfpga.golden.fields import input_field, target_field
from pcfpga.hdl.memmap import (CONTROL_LATENCY, CTRL_BITS, ID_VALUE, STATUS_BITS, STEPS_BITS,
                               MemoryMap)
from pcfpga.hdl.protocol import WORD_MASK

__all__ = ["BusDriver", "encode", "decode", "send_message", "receive_message", "run_request",
           "STEP_TIMEOUT", "HardwareTimeout", "run_sync"]

def run_sync(coroutine):
    """Run a driver coroutine whose awaits never suspend (a model or a link that answers at
    once) to its end in the calling thread: its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a driver operation waited for something that does not answer at once")


#: A step that takes more than this many times ``cycles_per_step`` cycles has hung.
STEP_TIMEOUT = 64


def _signed(word: int) -> int:
    """A 32-bit bus word as a two's-complement integer."""
    return word - (1 << 32) if word >= 1 << 31 else word


class HardwareTimeout(RuntimeError):
    """The network did not finish a step in time."""


def encode(message: dict) -> bytes:
    """A request or answer as length-prefixed ``.npz`` bytes."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in message.items()})
    data = buf.getvalue()
    return struct.pack("<Q", len(data)) + data


def decode(data: bytes) -> dict:
    """The inverse of :func:`encode` (without the length prefix)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def send_message(sock, message: dict):
    """Send a request or answer on a stream socket."""
    sock.sendall(encode(message))


def receive_message(sock) -> dict | None:
    """The next message on a stream socket, or ``None`` when the other side has gone."""
    header = _receive_exact(sock, 8)
    body = header and _receive_exact(sock, struct.unpack("<Q", header)[0])
    return decode(body) if body else None


def _receive_exact(sock, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class BusDriver:
    """The host's view of one network: memory-map fields over a word bus.

    Subclasses implement ``async write(addr, value)`` (one bus write, completed on a
    clock edge), ``async read(addr) -> int`` (unsigned 32-bit word) and ``async clock()``
    (wait one clock cycle).
    """

    def __init__(self, memmap: MemoryMap):
        self.mm = memmap
        self.streaming = memmap.meta.get("mode") == "streaming"
        self._last = None  # the last snapshot (registers do not change while idle)

    async def write(self, addr: int, value: int):
        raise NotImplementedError

    async def read(self, addr: int) -> int:
        raise NotImplementedError

    async def clock(self):
        raise NotImplementedError

    async def clocks(self, n: int):
        """Wait ``n`` clock cycles (simulators override this with one trigger)."""
        for _ in range(n):
            await self.clock()

    async def control(self, value: int):
        """Write ``value`` to ``ctrl`` and wait until the controller has acted on it (the
        network decodes control writes into a register,
        :data:`~pcfpga.hdl.memmap.CONTROL_LATENCY`), so that a status read after it sees the
        START or CONTINUE."""
        await self.write(self.mm["ctrl"].addr, value)
        await self.clocks(CONTROL_LATENCY)

    # ---------------------------------------------------------------- fields
    async def read_word(self, addr: int, signed: bool = True) -> int:
        v = int(await self.read(addr)) & WORD_MASK
        return _signed(v) if signed else v

    async def write_block(self, addr: int, words: list):
        """Words to ``addr`` on, in order (a link with bursts overrides this)."""
        for i, w in enumerate(words):
            await self.write(addr + i, w)

    async def write_field(self, name: str, values):
        await self.write_block(self.mm[name].addr, [int(v) & WORD_MASK for v in np.ravel(values)])

    async def read_block(self, addr: int, count: int) -> list:
        """``count`` unsigned words from ``addr`` on (a link with bursts overrides this)."""
        return [int(await self.read(addr + i)) & WORD_MASK for i in range(count)]

    async def read_field(self, name: str):
        f = self.mm[name]
        vals = [_signed(v) if f.kind != "flags" else v
                for v in await self.read_block(f.addr, f.count)]
        arr = np.array(vals, dtype=np.int64)
        if f.kind == "flags":
            return arr[0]
        return arr.reshape(f.shape) if f.kind in ("line", "param") else arr

    async def snapshot(self) -> dict:
        """Every register, delay line and saturation flag word the manifest names."""
        snap = {f.name: await self.read_field(f.name) for f in self.mm.fields
                if f.kind in ("register", "line", "flags")}
        self._last = snap
        return snap

    async def status(self, bit: str) -> int:
        word = await self.read_word(self.mm["status"].addr, signed=False)
        return (word >> STATUS_BITS[bit]) & 1

    # ---------------------------------------------------------------- operations
    async def check_id(self):
        word = await self.read_word(self.mm["id"].addr, signed=False)
        if word != ID_VALUE:
            raise RuntimeError(f"not a pcfpga network: id word is {word:#x}, "
                               f"expected {ID_VALUE:#x}")

    async def load(self, params: dict):
        for name, values in params.items():
            await self.write_field(name, values)
        self._last = None

    async def read_params(self, names) -> dict:
        return {name: await self.read_field(name) for name in names}

    async def run(self, samples: list, trace: bool = True, bubble: bool = False,
                  repeat: int = 1):
        """One step per ``(x, y)`` integer sample (``None`` parts for a bubble tick).

        With ``trace``, every register is read after the forward sweep and after every
        tick (PAUSE/CONTINUE); in streaming mode, where a step is one tick, before and after
        it. ``repeat`` > 1 (without ``trace``) sets the ``steps`` word so that one START runs
        the sample that many times with no bus traffic in between (a free-running chip).
        Returns (traces, cycles): per step ``{register: (ticks + 1, ...) array}`` (empty
        without ``trace``), and the clock cycles the hardware counted.
        """
        mm = self.mm
        if repeat != 1:
            if trace:
                raise ValueError("repeat needs trace off")
            if not 1 <= repeat < 1 << STEPS_BITS:
                raise ValueError(f"Repeat must be 1 to {(1 << STEPS_BITS) - 1}, not {repeat}")
            await self.write(mm["steps"].addr, repeat)
        pause = trace and not self.streaming
        around = trace and self.streaming
        mode = ((1 << CTRL_BITS["pause"]) if pause else 0) | (
            (1 << CTRL_BITS["bubble"]) if bubble else 0)
        cps = await self.read_word(mm["cycles_per_step"].addr, signed=False)
        limit = repeat * STEP_TIMEOUT * cps
        traces, cycles = [], 0
        for s, (x, y) in enumerate(samples):
            for k, v in (x or {}).items():
                await self.write_field(input_field(k), v)
            for k, v in (y or {}).items():
                await self.write_field(target_field(k), v)
            snaps = []
            if around:
                snaps.append(self._last if self._last is not None else await self.snapshot())
            await self.control((1 << CTRL_BITS["start"]) | mode)
            waited = 0
            if not pause:  # a step takes cycles_per_step: do not poll before it can end
                waited = repeat * cps - 1
                await self.clocks(waited)
            while True:
                if pause and await self.status("paused"):
                    snaps.append(await self.snapshot())
                    await self.control((1 << CTRL_BITS["continue"]) | mode)
                    continue
                if await self.status("done") and not await self.status("busy"):
                    break
                await self.clock()
                waited += 1
                if waited > limit:
                    raise HardwareTimeout(f"step {s} did not finish within {limit} cycles")
            if around:
                snaps.append(await self.snapshot())
            else:
                self._last = None  # the update phase has changed registers since
            cycles += await self.read_word(mm["cycles"].addr, signed=False)
            traces.append({k: np.stack([sn[k] for sn in snaps]) for k in snaps[0]}
                          if snaps else {})
        if repeat != 1:
            await self.write(mm["steps"].addr, 1)
        return traces, cycles

    async def execute(self, request: dict) -> dict:
        """Answer one request (see the module docstring)."""
        cmd = str(request["cmd"])
        if cmd == "load":
            await self.load({k[6:]: v for k, v in request.items() if k.startswith("param.")})
            return {}
        if cmd == "read":
            got = await self.read_params([str(n) for n in np.atleast_1d(request["names"])])
            return {f"param.{k}": v for k, v in got.items()}
        if cmd == "run":
            steps = int(request["steps"])
            samples = []
            for s in range(steps):
                x = {k.split(".", 2)[2]: v for k, v in request.items()
                     if k.startswith(f"x.{s}.")}
                y = {k.split(".", 2)[2]: v for k, v in request.items()
                     if k.startswith(f"y.{s}.")}
                samples.append((x, y))
            traces, cycles = await self.run(samples, trace=bool(request["trace"]),
                                            bubble=bool(request.get("bubble", 0)),
                                            repeat=int(request.get("repeat", 1)))
            out = {"cycles": np.int64(cycles)}
            for s, t in enumerate(traces):
                out.update({f"trace.{s}.{k}": v for k, v in t.items()})
            return out
        raise ValueError(f"unknown request {cmd!r}")

    async def serve(self, receive, send):
        """Answer requests from ``receive()`` with ``send(answer)`` until ``quit``."""
        await self.check_id()
        while True:
            request = receive()
            if request is None or str(request["cmd"]) == "quit":
                send({})
                return
            try:
                answer = await self.execute(request)
            except (HardwareTimeout, ValueError, KeyError) as e:
                answer = {"error": np.array(f"{type(e).__name__}: {e}")}
            send(answer)


def run_request(samples: list, trace: bool, bubble: bool = False, repeat: int = 1) -> dict:
    """A ``run`` request for integer samples (``(x, y)`` dicts)."""
    req = {"cmd": "run", "trace": np.int64(trace), "steps": np.int64(len(samples)),
           "bubble": np.int64(bubble), "repeat": np.int64(repeat)}
    for s, (x, y) in enumerate(samples):
        req.update({f"x.{s}.{k}": np.asarray(v, dtype=np.int64) for k, v in (x or {}).items()})
        req.update({f"y.{s}.{k}": np.asarray(v, dtype=np.int64) for k, v in (y or {}).items()})
    return req


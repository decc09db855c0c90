"""The host driver: the memory map of a SoC over :mod:`pcfpga.hdl.protocol` frames.

:class:`Host` is a :class:`~pcfpga.sim.driver.BusDriver` whose bus is a byte link
(:mod:`.link`): a serial port to a board, or the simulated SoC. Every field operation the
simulators' drivers have (``load``, ``read_params``, ``run`` one step per sample, with or
without traces) therefore works on a board unchanged, and fields go in frames of up to
:data:`~pcfpga.hdl.protocol.MAX_WORDS` words. On top of that it drives the epoch runner
(:mod:`pcfpga.hdl.runner`)::

    host.upload(samples)                 the samples into the ``data`` buffer
    host.run_epochs(n, epochs, progress) START the runner; poll its progress until done

Every READ and WRITE is checked against the memory map before anything is sent (the rule of
:class:`~pcfpga.hdl.protocol.AddressSpace`, which the SoC applies too): a range with a word
outside the map, a write of a read-only word, or a read of a word the build does not read
back (a lean board build's registers, :class:`~pcfpga.hdl.memmap.Readback`), raises
``ValueError`` naming the range, the word and its field. A reply with an error status raises
:class:`HostError` naming it, except the statuses of a frame damaged on the line
(:data:`~pcfpga.hdl.protocol.LINE_ERRORS`: nothing was carried out), after which the frame
is sent again; so is a frame whose reply is lost or corrupted (no reply, a reply that does
not decode), up to ``retries`` times in all: commands are idempotent (a WRITE writes the
same words again), except a write of START, which is never sent twice: a line error may be a
stale reply to an earlier frame (bytes sent into a reply get a GARBAGE after it), so START
could have been carried out. Before every frame, whatever is left on the line is drained.
The coroutine methods of :class:`BusDriver` never wait on anything but the link, so
:func:`run_sync` runs them from ordinary code.
"""

from __future__ import annotations

import numpy as np

from pcfpga.hdl import protocol as P
from pcfpga.hdl.memmap import (EPOCH_BITS, ID_VALUE, RUN_CTRL_BITS, RUN_STATUS_BITS,
                               sample_fields)
from pcfpga.sim.driver import STEP_TIMEOUT, BusDriver, HardwareTimeout, run_sync

__all__ = ["Host", "HostError", "run_sync"]


class HostError(RuntimeError):
    """The SoC answered with an error, did not answer, or is not the expected one."""


class Host(BusDriver):
    """The SoC at the other end of ``link``, described by ``memmap`` (the SoC's map,
    :func:`~pcfpga.boards.soc.soc_memory_map`).

    ``clock_hz`` is the SoC's clock (for time-outs of on-chip runs); ``retries`` the
    re-sends of a frame lost or damaged on the line.
    """

    def __init__(self, link, memmap, clock_hz: float, retries: int = 2):
        super().__init__(memmap)
        self.link, self.clock_hz, self.retries = link, clock_hz, retries
        self.space = P.AddressSpace.from_memmap(memmap)
        self.frames = 0

    # ---------------------------------------------------------------- frames
    def transact(self, frame: bytes, reply_len: int, repeat: bool = True) -> bytes:
        """Send ``frame``; the payload of its reply, which must have ``reply_len`` bytes."""
        seconds = ((len(frame) + reply_len + 5 + 2 * P.IDLE_BYTES) * P.BITS_PER_BYTE
                   / self.link.baud + self.link.latency)
        problem, sent = "", 0
        while sent == 0 or (repeat and sent <= self.retries):
            sent += 1
            self.link.read(4096, 0)            # a stale reply left on the line is not ours
            self.link.write(frame)
            self.frames += 1
            head = self.link.read(2, seconds)
            if len(head) < 2:
                problem = "no reply"
                continue
            rest = self.link.read(head[1] + 3, seconds)
            try:
                status, payload = P.decode(head + rest)
            except P.FrameError as e:
                problem = f"a corrupted reply ({e})"
                # drain the line
                self.link.read(4096, P.IDLE_BYTES * P.BITS_PER_BYTE / self.link.baud)
                continue
            if status in P.LINE_ERRORS:      # not carried out, or a stale reply: send again
                problem = f"{P.Status(status).name} (damaged on the line)"
                continue
            if status != P.Status.OK:
                try:
                    name = P.Status(status).name
                except ValueError:
                    name = f"status {status}"
                raise HostError(f"the SoC answered {name} to {frame[:8].hex()}…")
            if len(payload) != reply_len:
                raise HostError(f"a reply of {len(payload)} bytes, expected {reply_len}")
            return payload
        raise HostError(f"{problem} to {frame[:8].hex()}… after {sent} tries (is the board "
                        f"programmed with this network, at {self.link.baud:.0f} baud?)")

    def ping(self) -> int:
        word = P.parse_words(self.transact(P.ping_request(), 4))[0]
        if word != ID_VALUE:
            raise HostError(f"not a pcfpga SoC: id word {word:#x}, expected {ID_VALUE:#x}")
        return word

    def check_range(self, command, addr: int, count: int):
        """``ValueError`` unless the READ or WRITE (``command``) of words ``addr`` to
        ``addr + count - 1`` is one the SoC carries out: every word in the memory map, and
        read-write for a WRITE. It names the range and the first word that is not."""
        if count <= 0 or self.space.range_status(command, addr, count) == P.Status.OK:
            return
        verb = "WRITE to" if command == P.Command.WRITE else "READ of"
        where = f"{verb} words {addr}..{addr + count - 1}"
        mapped = self.space.mapped
        for a in range(addr, addr + count):
            field = next((f for f in self.mm.fields if f.addr <= a < f.addr + f.count), None)
            if a < 0 or a >= 1 << P.ADDRESS_BITS:
                why = f"outside the protocol's {P.ADDRESS_BITS}-bit addresses"
            elif a >= self.mm.size:
                why = f"past the end of the memory map (its last word is {self.mm.size - 1})"
            elif field is None:
                before = max(stop - 1 for _, stop in mapped if stop <= a)
                after = min(start for start, _ in mapped if start > a)
                why = (f"in a gap of the memory map (no field between words {before} and "
                       f"{after})")
            elif command == P.Command.WRITE and field.access != "rw":
                why = f"in {field.name}, which is read-only"
            elif not self.mm.readable(field):
                why = (f"in {field.name}, which this build does not read back (readback: "
                       f"{self.mm.readback.describe()}; pcfpga synth --readback full reads "
                       f"every register)")
            else:
                continue
            raise ValueError(f"{where}: word {a} is {why}; nothing was sent")
        raise AssertionError(f"{where} is refused, but no word is wrong")  # pragma: no cover

    def read_words(self, addr: int, count: int) -> list:
        self.check_range(P.Command.READ, addr, count)
        out = []
        while count:
            n = min(count, P.MAX_WORDS)
            out += P.parse_words(self.transact(P.read_request(addr, n), 4 * n))
            addr, count = addr + n, count - n
        return out

    def write_words(self, addr: int, words, repeat: bool = True):
        words = [int(w) & P.WORD_MASK for w in words]
        self.check_range(P.Command.WRITE, addr, len(words))
        step = P.MAX_WORDS - 1
        for i in range(0, len(words), step):
            self.transact(P.write_request(addr + i, words[i:i + step]), 0, repeat)

    # ---------------------------------------------------------------- BusDriver's bus
    async def write(self, addr: int, value: int):
        await self.write_block(addr, [value])

    async def read(self, addr: int) -> int:
        return self.read_words(addr, 1)[0]

    async def clock(self):
        """A frame takes far longer than a clock cycle: nothing to wait for."""

    async def clocks(self, n: int):
        pass

    async def write_block(self, addr: int, words: list):
        self.write_words(addr, words, repeat=addr != self.mm["ctrl"].addr)

    async def read_block(self, addr: int, count: int) -> list:
        return self.read_words(addr, count)

    # ---------------------------------------------------------------- the epoch runner
    @property
    def capacity(self) -> int:
        return self.mm["data"].shape[0]

    def check(self):
        """The SoC answers, is a pcfpga SoC, and has this map's dataset buffer."""
        self.ping()
        got = self.read_words(self.mm["run.capacity"].addr, 1)[0]
        if got != self.capacity:
            raise HostError(f"the SoC's dataset buffer holds {got} samples, this memory map "
                            f"{self.capacity}: it was built for another board or network")

    def upload(self, samples: list):
        """Integer ``(x, y)`` samples (dicts by node name) into the ``data`` buffer."""
        if len(samples) > self.capacity:
            raise ValueError(f"{len(samples)} samples do not fit the dataset buffer of "
                             f"{self.capacity}")
        words = []
        for x, y in samples:
            for f in sample_fields(self.mm):
                node = f.name.split(".", 1)[1]
                words += list(np.ravel((x if f.kind == "input" else y)[node]))
        self.write_words(self.mm["data"].addr, words)

    def progress(self) -> tuple:
        """(steps the runner has run since START, ``run.status``), from one READ."""
        status, samples, _, epoch, sample = self.read_words(self.mm["run.status"].addr, 5)
        return epoch * samples + sample, status

    def run_epochs(self, samples: int, epochs: int = 1, progress=None) -> int:
        """Run ``epochs`` epochs over the first ``samples`` buffered samples on chip, one
        training step each; ``progress(steps done)`` as they go. Returns the steps run."""
        mm = self.mm
        if not 1 <= epochs < 1 << EPOCH_BITS:
            raise ValueError(f"Epochs per START must be 1 to {(1 << EPOCH_BITS) - 1}, not "
                             f"{epochs}")
        if not 1 <= samples <= self.capacity:
            raise ValueError(f"Samples per epoch must be 1 to {self.capacity}, not {samples}")
        total = samples * epochs
        self.write_words(mm["run.samples"].addr, [samples, epochs])
        cps = self.read_words(mm["cycles_per_step"].addr, 1)[0]
        limit = STEP_TIMEOUT * total * cps / self.clock_hz + 10 * self.link.latency + 1.0
        started = self.link.now()
        self.write_words(mm["run.ctrl"].addr, [1 << RUN_CTRL_BITS["start"]], repeat=False)
        busy, done = (1 << RUN_STATUS_BITS[k] for k in ("busy", "done"))
        while True:
            steps, status = self.progress()
            if progress:
                progress(steps)
            if status & done and not status & busy:
                break
            if self.link.now() - started > limit:
                raise HardwareTimeout(f"the SoC ran {steps} of {total} steps in "
                                      f"{limit:.1f} s")
        if steps != total:
            raise HostError(f"the SoC ran {steps} steps, expected {total}")
        return steps

"""The memory map: every register a host or testbench reads or writes, in one place.

Its addresses depend on the graph alone (:func:`build_memory_map`, which
:meth:`Design.build <pcfpga.hdl.design.Design.build>` calls once: ``design.memmap``, with the
manifest's meta data). It is used by the hardware to decode the bus, emitted as a JSON
manifest next to the Verilog (and, with the SoC's words, as ``memmap.json`` next to a
bitstream), read back by the cocotb testbench and the tests with
:meth:`MemoryMap.from_json`, and used by the host driver over the UART
(:class:`pcfpga.host.Host`, given :func:`pcfpga.boards.soc.soc_memory_map`): no address is
ever written down twice.

The bus is word-addressed, 32 bits wide; a vector register takes one word per element
(matrices row-major), sign-extended on read and truncated to the register's width on write.

Control words (fixed addresses, see :data:`CONTROL`)::

    id              ro   0x50434650 ("PCFP")
    ctrl            rw   bit 0 START (self-clearing): run ``steps`` steps (streaming: ticks)
                         bit 1 PAUSE: stop after the forward sweep and after every tick
                         bit 2 CONTINUE (self-clearing): leave a pause
                         bit 3 BUBBLE (streaming): the ticks present no sample (drain)
                         bit 4 CLEAR (self-clearing): clear every saturation flag
    status          ro   bit 0 BUSY, bit 1 DONE (set when a run ends, cleared by START),
                         bit 2 PAUSED
    steps           rw   steps per START (default 1; 16 bits)
    tick            ro   ticks done in the current step (0 after the forward sweep)
    cycles          ro   clock cycles since the last START
    steps_done      ro   steps completed since reset
    lfsr            rw   the stochastic-rounding LFSR state (reset: format.seed)
    cycles_per_tick ro   constant: cycles of one inference tick
    cycles_per_step ro   constant: cycles of one training step (streaming: of one tick)

Then, per node, ``{node}.sat`` (rw: sticky saturation flags, bits as in
``golden.fixed_model.FLAG_BITS``), the host buffers ``in.{input}`` and ``target.{output}``
(rw), the parameters ``{node}.W.{parent}`` and ``{node}.b`` (rw), and every register of the
golden trace ``{node}.{reg}`` and, in streaming mode, delay lines ``{node}.{reg}.line``
(ro). Register names equal the golden trace's keys.

Which fields the bus reads back is the map's :class:`Readback` (``meta["readback"]``, in the
manifest): FULL, every field (simulation builds: the tests compare every register the
golden trace names); LEAN, what a host needs from a board (:data:`LEAN_KINDS`: the control
words, the flags, the host buffers, the parameters, the runner's words and buffer), so the
registers and delay lines get no read multiplexers. :meth:`MemoryMap.readable` says which;
a board's bridge answers a READ of any other word ARGUMENT, and the host driver refuses it
naming the field.

A SoC with a dataset buffer (:func:`with_dataset`, :mod:`.runner`) appends, after every
field of the network and aligned so that the hardware decodes them from the high address
bits (the run words to 8 words, the buffer to its size rounded up to a power of two)::

    run.ctrl        rw   bit 0 START (self-clearing): run ``run.epochs`` epochs over the
                         first ``run.samples`` samples of ``data``, one training step each
    run.status      ro   bit 0 BUSY, bit 1 DONE (set when the epochs end, cleared by START)
    run.samples     rw   samples per epoch (a value above ``run.capacity`` reads back as
                         capacity + 1, and START then runs nothing)
    run.epochs      rw   epochs per START (16 bits)
    run.epoch       ro   epochs completed since the last START
    run.sample      ro   steps completed in the current epoch: the runner has run
                         ``run.epoch × run.samples + run.sample`` steps
    run.capacity    ro   constant: samples the buffer holds
    data            rw   (capacity, words) the samples: the words of ``in.*`` then
                         ``target.*`` in map order, as the host would write them
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import asdict, dataclass

from pcfpga.golden.engine import node_registers
from pcfpga.golden.fields import (flags_field, input_field, line_field, register_field,
                                   target_field)

from .protocol import ADDRESS_BITS, WORD_BITS, WORD_MASK

__all__ = ["Field", "MemoryMap", "Readback", "LEAN_KINDS", "build_memory_map", "with_dataset",
           "sample_fields", "align_bits", "CONTROL", "CTRL_BITS", "STATUS_BITS", "ID_VALUE",
           "RUN_CONTROL", "EPOCH_BITS", "STEPS_BITS", "RUN_CTRL_BITS", "RUN_STATUS_BITS",
           "WORD_BITS", "WORD_MASK", "CONTROL_LATENCY"]

ID_VALUE = 0x50434650
CONTROL = ("id", "ctrl", "status", "steps", "tick", "cycles", "steps_done", "lfsr",
           "cycles_per_tick", "cycles_per_step")
CTRL_BITS = {"start": 0, "pause": 1, "continue": 2, "bubble": 3, "clear": 4}
STATUS_BITS = {"busy": 0, "done": 1, "paused": 2}
#: Cycles from a write to ``ctrl``, ``steps`` or ``lfsr`` on the network's bus to the
#: controller acting on it (the writes are decoded into a register).
CONTROL_LATENCY = 1
_RW_CONTROL = ("ctrl", "steps", "lfsr")
RUN_CONTROL = ("run.ctrl", "run.status", "run.samples", "run.epochs", "run.epoch",
               "run.sample", "run.capacity")
#: Width of ``steps``: at most 65,535 steps per START.
STEPS_BITS = 16
#: Width of ``run.epochs`` and ``run.epoch``: at most 65,535 epochs per START.
EPOCH_BITS = 16
RUN_CTRL_BITS = {"start": 0}
RUN_STATUS_BITS = {"busy": 0, "done": 1}
_RUN_RW = ("run.ctrl", "run.samples", "run.epochs")


class Readback(enum.Enum):
    """Which fields a build reads back over its bus (module docstring)."""

    #: every field (simulation builds)
    FULL = "full"
    #: the fields of :data:`LEAN_KINDS` (board builds)
    LEAN = "lean"

    def describe(self) -> str:
        """How the synthesis report states it."""
        if self is Readback.FULL:
            return "full (every register)"
        return "lean (parameters, flags, buffers, status)"


#: The field kinds a LEAN build reads back: what a host needs from a board.
LEAN_KINDS = frozenset({"control", "flags", "input", "target", "param", "dataset"})


@dataclass(frozen=True)
class Field:
    """One named register (vector) in the map."""

    name: str
    addr: int
    shape: tuple
    width: int
    frac: int
    access: str      # "ro" | "rw"
    kind: str        # control | flags | input | target | param | register | line

    @property
    def count(self) -> int:
        return math.prod(self.shape)


class MemoryMap:
    """An ordered list of :class:`Field` with lookup by name."""

    def __init__(self, name: str, fields: list, meta: dict | None = None):
        self.name = name
        self.fields = list(fields)
        self.meta = dict(meta or {})
        self.by_name = {f.name: f for f in self.fields}

    def __getitem__(self, name) -> Field:
        return self.by_name[name]

    def __contains__(self, name) -> bool:
        return name in self.by_name

    @property
    def readback(self) -> Readback:
        """The fields the bus reads back (``meta["readback"]``; FULL when absent)."""
        return Readback(self.meta.get("readback", Readback.FULL.value))

    def readable(self, field) -> bool:
        """Whether the bus reads back ``field`` (a :class:`Field` or its name)."""
        f = field if isinstance(field, Field) else self[field]
        return self.readback is Readback.FULL or f.kind in LEAN_KINDS

    def with_readback(self, readback: Readback) -> MemoryMap:
        """The same map, reading back the fields of ``readback``."""
        if not isinstance(readback, Readback):
            raise TypeError(f"readback must be a Readback, not {readback!r}")
        return MemoryMap(self.name, self.fields, {**self.meta, "readback": readback.value})

    @property
    def size(self) -> int:
        return max(f.addr + f.count for f in self.fields)

    @property
    def addr_width(self) -> int:
        return max(1, (self.size - 1).bit_length())

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "word_bits": WORD_BITS,
                           "addr_width": self.addr_width,
                           "meta": self.meta, "ctrl_bits": CTRL_BITS,
                           "status_bits": STATUS_BITS, "run_ctrl_bits": RUN_CTRL_BITS,
                           "run_status_bits": RUN_STATUS_BITS, "id": ID_VALUE,
                           "fields": [{**asdict(f), "shape": list(f.shape)}
                                      for f in self.fields]}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> MemoryMap:
        d = json.loads(text)
        fields = [Field(**{**f, "shape": tuple(f["shape"])}) for f in d["fields"]]
        meta = d.get("meta") or {}
        known = [r.value for r in Readback]
        if meta.get("readback", Readback.FULL.value) not in known:
            raise ValueError(f"memory map {d['name']!r}: meta.readback is "
                             f"{meta['readback']!r}, expected one of {', '.join(known)}")
        return cls(d["name"], fields, d.get("meta"))


def build_memory_map(graph, lags: dict | None = None, meta: dict | None = None) -> MemoryMap:
    """The map of a graph. ``lags`` ({(node, reg): depth}) adds streaming delay lines."""
    fmt = graph.formats
    V, E, W = fmt.value, fmt.error, fmt.weight
    gain = (fmt.gain.width, fmt.gain.frac_bits)
    streaming = graph.learning.mode == "streaming"
    fields, addr = [], 0

    def add(name, shape, width, frac, access, kind):
        nonlocal addr
        fields.append(Field(name, addr, tuple(shape), width, frac, access, kind))
        addr += math.prod(shape)

    for c in CONTROL:
        add(c, (1,), WORD_BITS, 0, "rw" if c in _RW_CONTROL else "ro", "control")
    for n in graph.nodes:
        add(flags_field(n.name), (1,), WORD_BITS, 0, "rw", "flags")
    for n in graph.inputs:
        add(input_field(n.name), (n.size,), V.width, V.frac_bits, "rw", "input")
    for n in graph.outputs:
        add(target_field(n.name), (n.size,), V.width, V.frac_bits, "rw", "target")
    for key, shape in graph.param_shapes.items():
        add(key, shape, W.width, W.frac_bits, "rw", "param")
    for n in graph.nodes:
        for r in node_registers(n, streaming):
            width, frac = {"eps": (E.width, E.frac_bits), "delta": (E.width, E.frac_bits),
                           "g": gain}.get(r, (V.width, V.frac_bits))
            add(register_field(n.name, r), (n.size,), width, frac, "ro", "register")
            depth = (lags or {}).get((n.name, r), 0)
            if depth:
                add(line_field(n.name, r), (depth, n.size), width, frac, "ro", "line")
    return MemoryMap(graph.name, fields, meta)


def align_bits(count: int) -> int:
    """Low address bits that index a block of ``count`` words; :func:`with_dataset` aligns
    the run words and the buffer to them, and the runner decodes with them."""
    return (count - 1).bit_length()


def sample_fields(mm: MemoryMap) -> list:
    """The ``in.*`` then ``target.*`` fields: one sample's words, consecutive in the map."""
    fields = [f for f in mm.fields if f.kind in ("input", "target")]
    for a, b in zip(fields, fields[1:]):
        assert b.addr == a.addr + a.count, "sample fields are not consecutive"
    return fields


def with_dataset(mm: MemoryMap, capacity: int) -> MemoryMap:
    """``mm`` and, after it, the run-control words and a buffer of ``capacity`` samples
    (see the module docstring)."""
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"Dataset capacity must be a positive integer of samples, not "
                         f"{capacity!r}")
    sample = sample_fields(mm)
    words = sum(f.count for f in sample)
    run = 1 << align_bits(len(RUN_CONTROL))
    addr = -(-mm.size // run) * run                     # a word's index: its low bits
    fields = list(mm.fields)
    for name in RUN_CONTROL:
        fields.append(Field(name, addr, (1,), WORD_BITS, 0, "rw" if name in _RUN_RW else "ro",
                            "control"))
        addr += 1
    span = 1 << align_bits(capacity * words)            # an offset: the low bits
    base = -(-addr // span) * span
    if base + capacity * words > 1 << ADDRESS_BITS:
        raise ValueError(f"A dataset buffer of {capacity} samples of {words} words does not "
                         f"fit the protocol's 16-bit addresses after the network's "
                         f"{mm.size} words")
    fields.append(Field("data", base, (capacity, words), sample[0].width, sample[0].frac,
                        "rw", "dataset"))
    return MemoryMap(mm.name, fields, {**mm.meta, "dataset_capacity": capacity,
                                       "sample_words": words})

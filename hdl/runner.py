"""The epoch runner: whole training epochs on chip over a dataset held in memory.

The host writes up to ``capacity`` samples into the buffer ``data`` (the words of
``in.*`` then ``target.*`` of each sample, :func:`~.memmap.with_dataset`), sets
``run.samples`` and ``run.epochs`` and writes START to ``run.ctrl``. The runner then
masters the network's bus exactly as a host would, with no UART traffic in between::

    for epoch in range(run.epochs):
        for s in range(run.samples):
            for k in range(words):  in.*/target.*[k] <- data[s][k]      (2 cycles a word)
            ctrl <- START                                               (one training step)
            wait until the network is no longer busy          (run.epoch, run.sample count)

so the network sees the same bus writes, in the same order, as when the host sends each
sample itself: every register, the LFSR and the saturation flags follow the golden model's
steps bit for bit. The runner writes ``ctrl`` with only START set (PAUSE and BUBBLE
clear); the network's ``steps`` word must be 1 (its reset value).

The frame bridge keeps the bus while it reads or writes (``hold``); the runner waits for it
and never interrupts a bus access, so the host can poll ``run.status`` and read any field
during an epoch. The network ignores the host's writes while it is busy, and the runner
ignores writes to ``data`` and ``run.*`` while it runs.

The buffer is one single-port memory of ``capacity × words`` words of the value width: on
an iCE40UP platform an SPRAM (:func:`~.arith.single_port_ram`), elsewhere block RAM.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .arith import BLOCK_RAM, single_port_ram
from .memmap import (CTRL_BITS, EPOCH_BITS, RUN_CONTROL, RUN_CTRL_BITS, MemoryMap,
                     align_bits, sample_fields)
from .unused import rejecting

__all__ = ["EpochRunner"]


class EpochRunner(wiring.Component):
    """Dataset buffer, run-control words and the bus master that runs epochs.

    Parameters
    ----------
    memmap : MemoryMap
        The SoC's map (:func:`~.memmap.with_dataset`): the network's fields, ``run.*`` and
        ``data``.

    bus_latency : int
        Registers on the way of a START to the network's bus and of its busy back to
        ``net_busy`` (0: wired directly, the network busy CONTROL_LATENCY + 1 cycles after
        the START: a network's control writes are decoded into a register); the
        runner waits for them before it looks at ``net_busy``.

    Ports: the host's bus (``addr``, ``w_data``, ``w_en``; ``r_data`` and ``r_hit``,
    registered like the network's: the word, and whether the address of the previous cycle
    was the runner's); ``hold`` (the host is using the bus); the master side towards the
    network (``m_addr``, ``m_data``, ``m_we``, ``net_busy``); ``busy`` and ``done``.
    """

    def __init__(self, memmap: MemoryMap, bus_latency: int = 0):
        with rejecting(self):
            if not isinstance(memmap, MemoryMap) or "data" not in memmap:
                raise TypeError(f"EpochRunner needs a memory map with a dataset buffer "
                                f"(memmap.with_dataset), not {memmap!r}")
            if (isinstance(bus_latency, bool) or not isinstance(bus_latency, int)
                    or bus_latency < 0):
                raise ValueError(f"bus_latency counts registered bus stages; "
                                 f"{bus_latency!r} is not a non-negative integer")
        self.memmap, self.bus_latency = memmap, bus_latency
        data = memmap["data"]
        self.capacity, self.words = data.shape
        self.width = data.width
        self.sample_base = sample_fields(memmap)[0].addr
        aw = memmap.addr_width
        super().__init__({
            "addr": In(aw), "w_data": In(32), "w_en": In(1), "r_data": Out(32),
            "r_hit": Out(1), "hold": In(1),
            "m_addr": Out(aw), "m_data": Out(32), "m_we": Out(1), "net_busy": In(1),
            "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        mm, words = self.memmap, self.words
        depth = self.capacity * words
        ports = single_port_ram(m, platform, "dataset", self.width, depth)
        if ports is None:
            mem = Memory(shape=self.width, depth=depth, init=[], attrs=BLOCK_RAM)
            m.submodules.dataset = mem
            ports = mem.read_port(), mem.write_port()
        rd, wr = ports

        cap = self.capacity
        samples = Signal(range(cap + 2))         # above the capacity: cap + 1, runs nothing
        epochs, epoch = Signal(EPOCH_BITS), Signal(EPOCH_BITS)
        sample = Signal(range(cap + 1))
        busy, done = Signal(), Signal()
        k = Signal(range(words + 1))
        ptr = Signal(range(depth + 1))            # data word of (sample, k)

        a = self.addr
        data_base, run_base = mm["data"].addr, mm["run.ctrl"].addr
        span, low = align_bits(depth), align_bits(len(RUN_CONTROL))   # aligned blocks
        hit_data = a[span:] == data_base >> span
        hit_run = a[low:] == run_base >> low
        in_data = hit_data & (a[:span] < depth)
        host_we = self.w_en & ~busy

        def at(name):
            return hit_run & (a[:low] == mm[name].addr - run_base)

        # the buffer: one address (the runner's while it runs, the host's otherwise)
        m.d.comb += [
            rd.addr.eq(Mux(busy, ptr, a[:span])),
            wr.addr.eq(rd.addr), wr.data.eq(self.w_data),
            wr.en.eq(host_we & in_data),
        ]
        m.d.comb += rd.en.eq(~wr.en)             # read data held while writing, as an SPRAM

        # the host's registered reads of run.* and data: the address is registered, the
        # word chosen from it (counters show their value of the cycle after the address)
        words_of = (Const(0), Cat(busy, done), samples, epochs, epoch, sample, Const(cap))
        sel = Signal(low)
        is_data = Signal()
        m.d.sync += [self.r_hit.eq(hit_run | hit_data), is_data.eq(hit_data), sel.eq(a[:low])]
        word = Signal(32)
        with m.Switch(sel):
            for name, value in zip(RUN_CONTROL, words_of):
                with m.Case(mm[name].addr - run_base):
                    m.d.comb += word.eq(value)
        m.d.comb += self.r_data.eq(Mux(is_data, rd.data, word))

        with m.If(host_we & at("run.samples")):
            too_many = self.w_data[len(samples):].any() | (self.w_data[:len(samples)] > cap)
            m.d.sync += samples.eq(Mux(too_many, cap + 1, self.w_data))
        with m.If(host_we & at("run.epochs")):
            m.d.sync += epochs.eq(self.w_data)
        # a host's START, decoded into a register, and whether the words written before it
        # (at least one cycle before: a bus write takes several) let it run nothing
        start, empty = Signal(), Signal()
        m.d.sync += [start.eq(host_we & at("run.ctrl") & self.w_data[RUN_CTRL_BITS["start"]]),
                     empty.eq((samples == 0) | (epochs == 0) | (samples > cap))]

        m.d.comb += [self.busy.eq(busy), self.done.eq(done), self.m_data.eq(rd.data)]
        free = ~self.hold
        # the counters' ends, compared into registers a cycle ahead (no adder and comparator
        # in front of the state machine): k changes in LOAD, read again two cycles later;
        # sample and epoch on leaving WAIT, read again in the next WAIT
        last_word, last_sample, last_epoch = Signal(), Signal(), Signal()
        m.d.sync += [last_word.eq(k + 1 == words), last_sample.eq(sample + 1 == samples),
                     last_epoch.eq(epoch + 1 == epochs)]

        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [done.eq(0), sample.eq(0), epoch.eq(0), ptr.eq(0), k.eq(0)]
                    with m.If(empty):
                        m.next = "DONE"
                    with m.Else():
                        m.d.sync += busy.eq(1)
                        m.next = "READ"
            with m.State("READ"):                # the buffer shows data[ptr] next cycle
                m.next = "LOAD"
            with m.State("LOAD"):                # one sample word onto the network's bus
                with m.If(free):
                    m.d.comb += [self.m_we.eq(1), self.m_addr.eq(self.sample_base + k)]
                    m.d.sync += [ptr.eq(ptr + 1), k.eq(k + 1)]
                    with m.If(last_word):
                        m.next = "START"
                    with m.Else():
                        m.next = "READ"
            with m.State("START"):
                with m.If(free):
                    m.d.comb += [self.m_we.eq(1), self.m_addr.eq(mm["ctrl"].addr),
                                 self.m_data.eq(1 << CTRL_BITS["start"])]
                    m.next = "LAUNCHED0"
            # the START reaches the network through the bus stages; it is busy from the
            # last of these states on
            for i in range(self.bus_latency + 1):
                with m.State(f"LAUNCHED{i}"):
                    m.next = f"LAUNCHED{i + 1}" if i < self.bus_latency else "WAIT"
            with m.State("WAIT"):
                with m.If(~self.net_busy):
                    m.d.sync += [k.eq(0), sample.eq(sample + 1)]
                    m.next = "READ"
                    with m.If(last_sample):
                        m.d.sync += [sample.eq(0), ptr.eq(0), epoch.eq(epoch + 1)]
                        with m.If(last_epoch):
                            m.next = "DONE"
            with m.State("DONE"):
                m.d.sync += [busy.eq(0), done.eq(1)]
                m.next = "IDLE"
        return m

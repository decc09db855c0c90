"""The frame bridge: UART bytes in, memory-map bus operations, reply frames out.

It implements :mod:`.protocol` (frames, commands, statuses, CRC, the address rule and when
a reply is sent: the constants are imported from there, never repeated). Receiving::

    IDLE --SYNC--> LEN --> CODE --> PAYLOAD (LEN bytes, into a 256-byte buffer)
         --> CRC_HI --> CRC_LO --> (CRC matches) PREP --> EXEC --> (READ, WRITE) CHECK --> reply
    any other byte in IDLE, a framing error, LEN > MAX_PAYLOAD, a CRC that does not match
    --> DISCARD: wait for an idle line, then reply GARBAGE / LENGTH / CRC
    idle line in the middle of a frame --> reply TIMEOUT

The payload waits in the buffer until the CRC has checked. CHECK then walks the frame's
address range, one word per cycle, through a decoder of the memory map's words (the ranges
of :class:`~.protocol.AddressSpace`: one constant comparator per range boundary, some
sixteen for every network, on a 17-bit address register that counts from ``base`` so that
nothing wraps): a word outside the map makes the reply ARGUMENT, a read-only word in a
WRITE READONLY, and only a range that passes is read or written. READ (and PING, a READ of
the id word at address 0) reads each word over the registered bus (address in one cycle,
data ``read_latency`` cycles later: 2 by default, more behind registered bus stages) and
sends it, little-endian, as the reply goes out; the reply's CRC is computed byte by byte as
it is sent. Bytes that arrive from the end of a frame until its reply has gone are not
received; they make the bridge discard the line once the reply has gone and answer GARBAGE.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .arith import BLOCK_RAM
from .memmap import MemoryMap
from .uart import check_divisor
from .protocol import (ADDRESS_BITS, BITS_PER_BYTE, CRC_INIT, CRC_POLY, IDLE_BYTES,
                       MAX_PAYLOAD, MAX_WORDS, SYNC, AddressSpace, Command, Status)
from .unused import rejecting

__all__ = ["FrameBridge", "crc16_step", "at_least"]


def crc16_step(crc, byte):
    """The CRC-16/CCITT-FALSE register after one more byte (:func:`.protocol.crc16`)."""
    c = (crc ^ (byte << 8))[:16]
    for _ in range(8):
        c = Mux(c[15], (c << 1) ^ CRC_POLY, c << 1)[:16]
    return c


def at_least(value, c: int):
    """``value >= c`` for an unsigned ``value`` and a constant ``c``, as a chain of gates
    from the top bit down (a 1 bit of ``c`` needs the bit, a 0 bit is passed by it), which
    maps to a few LUTs where ``>=`` would take a carry chain of the whole width."""
    n = len(value)
    if c <= 0:
        return Const(1)
    if c >= 1 << n:
        return Const(0)
    top, rest = value[n - 1], value[:n - 1]
    if c >> (n - 1):
        return top & at_least(rest, c - (1 << (n - 1)))
    return top | at_least(rest, c)


class FrameBridge(wiring.Component):
    """Ports: the UART's ``rx_data``/``rx_valid``/``rx_error`` and ``tx_data``/``tx_start``/
    ``tx_ready``; the bus master ``addr``, ``w_data``, ``w_en``, ``r_data``, and ``bus_busy``
    (a read or write is on the bus: another master must wait).

    Parameters
    ----------
    divisor : int
        Clock cycles per UART bit (the idle timeout is :data:`.protocol.IDLE_BYTES` byte
        times).
    memmap : MemoryMap
        The memory map behind the bus: its words are those a frame may read, its read-write
        words those it may write (:class:`~.protocol.AddressSpace`); ``addr`` has its
        ``addr_width``.
    read_latency : int
        Cycles from the first cycle the bus shows a read's address to the cycle the bridge
        takes ``r_data`` (at least 1; the address stays on the bus until then, and no other
        master uses it).
    """

    def __init__(self, divisor: int, memmap: MemoryMap, read_latency: int = 2):
        with rejecting(self):
            check_divisor(divisor)
            if (isinstance(read_latency, bool) or not isinstance(read_latency, int)
                    or read_latency < 1):
                raise ValueError(f"A bus read takes at least one cycle; read_latency "
                                 f"{read_latency!r} is not a positive integer")
            if not isinstance(memmap, MemoryMap):
                raise TypeError(f"FrameBridge needs the MemoryMap behind its bus, not "
                                f"{memmap!r}")
            if memmap.size > 1 << ADDRESS_BITS:
                raise ValueError(f"The protocol's addresses have {ADDRESS_BITS} bits; a "
                                 f"memory map of {memmap.addr_width}-bit addresses does not "
                                 f"fit")
        self.divisor, self.memmap, self.read_latency = divisor, memmap, read_latency
        self.space = AddressSpace.from_memmap(memmap)
        self.addr_width = memmap.addr_width
        self.idle_cycles = IDLE_BYTES * BITS_PER_BYTE * divisor
        super().__init__({
            "rx_data": In(8), "rx_valid": In(1), "rx_error": In(1),
            "tx_data": Out(8), "tx_start": Out(1), "tx_ready": In(1),
            "addr": Out(self.addr_width), "w_data": Out(32), "w_en": Out(1),
            "r_data": In(32), "bus_busy": Out(1),
        })

    def _decoder(self, m, address):
        """(mapped, writable): whether the word at ``address`` is one of the map's, and one
        of its read-write ones; one comparator per distinct range boundary."""
        space, ge = self.space, {}

        def inside(ranges, name):
            hits = []
            for start, stop in ranges:
                for c in (start, stop):
                    if c not in ge:
                        ge[c] = Signal(name=f"at_least_{c}")
                        m.d.comb += ge[c].eq(at_least(address, c))
                hits.append(ge[start] & ~ge[stop])
            out = Signal(name=name)
            m.d.comb += out.eq(Cat(*hits).any() if hits else 0)
            return out

        return inside(space.mapped, "mapped"), inside(space.writable, "writable")

    def elaborate(self, platform):
        m = Module()
        buf = Memory(shape=8, depth=MAX_PAYLOAD + 4, init=[], attrs=BLOCK_RAM)
        m.submodules.buffer = buf
        wr, rd = buf.write_port(), buf.read_port()

        idle = Signal(range(self.idle_cycles + 1))
        got = self.rx_valid | self.rx_error
        with m.If(got):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != self.idle_cycles):
            m.d.sync += idle.eq(idle + 1)
        quiet = idle == self.idle_cycles

        length, code, index, status = (Signal(8) for _ in range(4))
        final = Signal(8)                           # the payload's last index: length - 1
        crc, crc_hi = Signal(16), Signal(8)
        args = [Signal(8, name=f"arg{i}") for i in range(3)]
        base = Signal(ADDRESS_BITS)
        count = Signal(range(MAX_WORDS + 1))
        # words of the range after this one: ``left == 0`` is the last, without an adder and
        # comparator in front of the state machine
        left = Signal(range(MAX_WORDS + 1))
        last = left == 0
        word, byte = Signal(32), Signal(2)
        ptr = Signal(8)
        wait = Signal(range(self.read_latency))    # cycles of a read in R_WAIT
        reply_len = Signal(8)
        # the word of the range at hand (base + k for the k-th), counted in a register of 17
        # bits so that nothing wraps, and the decoder and the bus have no adder before them
        address = Signal(ADDRESS_BITS + 1)
        mapped, writable = self._decoder(m, address)
        outside, readonly = Signal(), Signal()      # found by CHECK
        dropped = Signal()                          # a byte arrived while busy with a frame
        # one CRC register and one CRC step for both directions: a reply starts only after
        # the request's CRC has been checked, and bytes that arrive during it are dropped
        crc_in = Signal(8)
        crc_next = Signal(16)
        m.d.comb += crc_next.eq(crc16_step(crc, crc_in))
        m.d.comb += [wr.addr.eq(index), wr.data.eq(self.rx_data),
                     rd.addr.eq(ptr), self.addr.eq(address), self.w_data.eq(word)]

        def send(value, then, crc_too=True):
            with m.If(self.tx_ready):
                m.d.comb += [self.tx_data.eq(value), self.tx_start.eq(1)]
                if crc_too:
                    m.d.comb += crc_in.eq(value)
                    m.d.sync += crc.eq(crc_next)
                m.next = then

        def reply(code_value, n_bytes):
            m.d.sync += [status.eq(code_value), reply_len.eq(n_bytes), crc.eq(CRC_INIT)]
            m.next = "R_SYNC"

        def discard(code_value):
            m.d.sync += status.eq(code_value)
            m.next = "DISCARD"

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.rx_valid & (self.rx_data == SYNC)):
                    m.d.sync += crc.eq(CRC_INIT)
                    m.next = "LEN"
                with m.Elif(got):
                    discard(Status.GARBAGE)
            for state, nxt in (("LEN", "CODE"), ("CODE", None), ("PAYLOAD", None),
                               ("CRC_HI", "CRC_LO"), ("CRC_LO", None)):
                with m.State(state):
                    with m.If(self.rx_error):
                        discard(Status.GARBAGE)
                    with m.Elif(self.rx_valid):
                        if state in ("LEN", "CODE", "PAYLOAD"):
                            m.d.comb += crc_in.eq(self.rx_data)
                            m.d.sync += crc.eq(crc_next)
                        if state == "LEN":
                            m.d.sync += [length.eq(self.rx_data), final.eq(self.rx_data - 1)]
                            with m.If(self.rx_data > MAX_PAYLOAD):
                                discard(Status.LENGTH)
                            with m.Else():
                                m.next = nxt
                        elif state == "CODE":
                            m.d.sync += [code.eq(self.rx_data), index.eq(0)]
                            with m.If(length == 0):
                                m.next = "CRC_HI"
                            with m.Else():
                                m.next = "PAYLOAD"
                        elif state == "PAYLOAD":
                            m.d.comb += wr.en.eq(1)
                            for i, a in enumerate(args):
                                with m.If(index == i):
                                    m.d.sync += a.eq(self.rx_data)
                            m.d.sync += index.eq(index + 1)
                            with m.If(index == final):
                                m.next = "CRC_HI"
                        elif state == "CRC_HI":
                            m.d.sync += crc_hi.eq(self.rx_data)
                            m.next = nxt
                        else:
                            with m.If((crc_hi == crc[8:]) & (self.rx_data == crc[:8])):
                                m.next = "PREP"
                            with m.Else():           # the rest of a damaged frame may follow
                                discard(Status.CRC)
                    with m.Elif(quiet):
                        reply(Status.TIMEOUT, 0)
            with m.State("DISCARD"):
                with m.If(quiet & ~got):        # a byte in this very cycle: still the error's
                    reply(status, 0)
            # the frame's arguments, decoded into registers (no adder or comparator in front
            # of EXEC's state changes)
            start = Signal(ADDRESS_BITS)
            words, words_ok = Signal(range(MAX_WORDS + 1)), Signal()
            is_ping, is_read, is_write, no_args = Signal(), Signal(), Signal(), Signal()
            with m.State("PREP"):
                m.d.sync += [is_ping.eq(code == Command.PING), is_read.eq(code == Command.READ),
                             is_write.eq(code == Command.WRITE), no_args.eq(length == 0)]
                with m.If(code == Command.READ):
                    m.d.sync += [words.eq(args[2]),
                                 words_ok.eq((length == 3) & (args[2] >= 1)
                                             & (args[2] <= MAX_WORDS))]
                with m.Else():
                    m.d.sync += [words.eq((length - 2) >> 2),
                                 words_ok.eq((length >= 6) & ((length - 2)[:2] == 0))]
                m.d.sync += start.eq(args[0] | (args[1] << 8))
                m.next = "EXEC"
            with m.State("EXEC"):
                m.d.sync += [address.eq(0), left.eq(0), base.eq(Const(0, ADDRESS_BITS)),
                             count.eq(1), outside.eq(0), readonly.eq(0)]
                with m.If(is_ping):
                    with m.If(no_args):
                        reply(Status.OK, 4)
                    with m.Else():
                        reply(Status.ARGUMENT, 0)
                with m.Elif(is_read | is_write):
                    m.d.sync += [base.eq(start), count.eq(words), address.eq(start),
                                 left.eq(words - 1), ptr.eq(2), byte.eq(0)]
                    with m.If(words_ok):
                        m.next = "CHECK"
                    with m.Else():
                        reply(Status.ARGUMENT, 0)
                with m.Else():
                    reply(Status.COMMAND, 0)
            # every word of the range, before any is read or written
            with m.State("CHECK"):
                m.d.sync += [address.eq(address + 1), left.eq(left - 1),
                             outside.eq(outside | ~mapped),
                             readonly.eq(readonly | ~writable)]
                with m.If(last):
                    m.next = "VERDICT"
            with m.State("VERDICT"):
                m.d.sync += [address.eq(base), left.eq(count - 1)]
                with m.If(outside):
                    reply(Status.ARGUMENT, 0)
                with m.Elif(~is_write):
                    reply(Status.OK, count << 2)
                with m.Elif(readonly):
                    reply(Status.READONLY, 0)
                with m.Else():
                    m.next = "W_READ"
            # WRITE: two cycles per byte from the buffer, then one bus write per word
            with m.State("W_READ"):
                m.next = "W_TAKE"
            with m.State("W_TAKE"):
                for b in range(4):
                    with m.If(byte == b):
                        m.d.sync += word[8 * b:8 * b + 8].eq(rd.data)
                m.d.sync += [ptr.eq(ptr + 1), byte.eq(byte + 1)]
                with m.If(byte == 3):
                    m.next = "W_BUS"
                with m.Else():
                    m.next = "W_READ"
            with m.State("W_BUS"):
                m.d.comb += [self.w_en.eq(1), self.bus_busy.eq(1)]
                m.d.sync += [address.eq(address + 1), left.eq(left - 1)]
                with m.If(last):
                    reply(Status.OK, 0)
                with m.Else():
                    m.next = "W_READ"
            # the reply
            with m.State("R_SYNC"):
                send(SYNC, "R_LEN", crc_too=False)
            with m.State("R_LEN"):
                send(reply_len, "R_CODE")
            with m.State("R_CODE"):
                with m.If(reply_len == 0):
                    send(status, "R_CRC_HI")
                with m.Else():
                    send(status, "R_ADDR")
            with m.State("R_ADDR"):            # the bus shows base + k from this cycle
                m.d.comb += self.bus_busy.eq(1)
                m.d.sync += [byte.eq(0), wait.eq(0)]
                m.next = "R_WAIT" if self.read_latency > 1 else "R_LATCH"
            with m.State("R_WAIT"):            # the registered read (and the bus stages)
                m.d.comb += self.bus_busy.eq(1)
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == self.read_latency - 2):
                    m.next = "R_LATCH"
            with m.State("R_LATCH"):
                m.d.comb += self.bus_busy.eq(1)
                m.d.sync += word.eq(self.r_data)
                m.next = "R_WORD"
            with m.State("R_WORD"):
                with m.If(self.tx_ready):
                    m.d.comb += [self.tx_data.eq(word[:8]), self.tx_start.eq(1)]
                    m.d.comb += crc_in.eq(word[:8])
                    m.d.sync += [crc.eq(crc_next), word.eq(word >> 8),
                                 byte.eq(byte + 1)]
                    with m.If(byte == 3):
                        m.d.sync += [address.eq(address + 1), left.eq(left - 1)]
                        with m.If(last):
                            m.next = "R_CRC_HI"
                        with m.Else():
                            m.next = "R_ADDR"
            with m.State("R_CRC_HI"):
                send(crc[8:], "R_CRC_LO", crc_too=False)
            with m.State("R_CRC_LO"):
                send(crc[:8], "R_DONE", crc_too=False)
            with m.State("R_DONE"):            # the last byte leaves; then listen again
                with m.If(self.tx_ready):
                    m.d.sync += idle.eq(0)
                    with m.If(dropped | got):  # bytes sent into the frame or its reply
                        discard(Status.GARBAGE)
                    with m.Else():
                        m.next = "IDLE"
        listening = Cat(*(fsm.ongoing(s) for s in ("IDLE", "LEN", "CODE", "PAYLOAD", "CRC_HI",
                                                     "CRC_LO", "DISCARD"))).any()
        m.d.sync += dropped.eq(~listening & (dropped | got))
        return m

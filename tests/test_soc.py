"""The SoC (boards/soc.py): UART, frame bridge and network, simulated whole in Amaranth.

The testbench drives the serial line bit by bit and decodes the replies with the host's
side of :mod:`pcfpga.hdl.protocol`; ``ref_*`` values come from the memory map and the
protocol definition, ``rtl_*`` from the simulated chip.
"""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from pcfpga.boards.soc import SoC
from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl import protocol as P
from pcfpga.hdl.bridge import FrameBridge, at_least
from pcfpga.hdl.design import Design
from pcfpga.hdl.memmap import ID_VALUE, Field, MemoryMap
from pcfpga.hdl.uart import UARTRx, divisor_for

DIVISOR = 4


class TB:
    """Clock, the host's end of the serial line, and frame helpers."""

    def __init__(self, ctx, soc):
        self.ctx, self.soc = ctx, soc

    async def send(self, data: bytes):
        for byte in data:
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.ctx.set(self.soc.rx, bit)
                await self.ctx.tick().repeat(DIVISOR)

    async def receive(self, timeout=None) -> bytes:
        """One reply frame (bytes until LEN says it is complete), or what came before the
        line stayed idle for ``timeout`` cycles."""
        ctx, out = self.ctx, bytearray()
        timeout = timeout or 4 * P.IDLE_BYTES * 10 * DIVISOR + 2000
        while len(out) < 2 or len(out) < out[1] + 5:
            waited = 0
            while ctx.get(self.soc.tx) == 1:
                await ctx.tick()
                waited += 1
                if waited > timeout:
                    return bytes(out)
            await ctx.tick().repeat(DIVISOR // 2)
            byte = 0
            for i in range(8):
                await ctx.tick().repeat(DIVISOR)
                byte |= ctx.get(self.soc.tx) << i
            await ctx.tick().repeat(DIVISOR)
            out.append(byte)
        return bytes(out)

    async def request(self, frame: bytes):
        await self.send(frame)
        return P.decode(await self.receive())

    async def read(self, address, count=1):
        status, payload = await self.request(P.read_request(address, count))
        assert status == P.Status.OK, status
        return P.parse_words(payload)


def _run(soc, body):
    async def tb(ctx):
        await body(TB(ctx, soc))
    sim = Simulator(soc)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def _soc(reuse="serial"):
    return SoC(Design.build(Graph.from_toml(str(example_path("xor"))), reuse), DIVISOR,
               capacity=2)


def test_crc_and_frames_on_the_host():
    assert P.crc16(b"123456789") == 0x29B1                 # CRC-16/CCITT-FALSE check value
    frame = P.write_request(16, [1, 0xFFFFFFFF])
    assert P.decode(frame) == (P.Command.WRITE, frame[3:-2])
    with pytest.raises(P.FrameError, match="CRC 0x"):
        P.decode(frame[:-1] + bytes([frame[-1] ^ 1]))
    with pytest.raises(P.FrameError, match="LEN 10 needs a frame of 15 bytes, not 14"):
        P.decode(frame[:-1])
    with pytest.raises(ValueError, match="A READ asks for 1 to 63 words, not 64"):
        P.read_request(0, 64)
    with pytest.raises(ValueError, match="Payload must be at most 252 bytes, not 253"):
        P.encode(P.Command.WRITE, bytes(253))


@pytest.mark.parametrize("reuse", ["serial", 2])
def test_ping_write_read_over_the_uart(reuse):
    soc = _soc(reuse)
    mm = soc.network.memmap
    base = mm["h.W.x"].addr

    async def body(tb):
        status, payload = await tb.request(P.ping_request())
        assert status == P.Status.OK and P.parse_words(payload) == [ID_VALUE]
        words = [1, 0xFFFFFFFF, 0x7FF, 3]                 # rtl reads back what ref wrote
        status, payload = await tb.request(P.write_request(base, words))
        assert (status, payload) == (P.Status.OK, b"")
        assert await tb.read(base, 4) == words
        assert await tb.read(mm["cycles_per_step"].addr) == [mm.meta["cycles_per_step"]]
    _run(soc, body)


def test_rejected_frames_change_nothing_and_the_receiver_resynchronises():
    """Garbage, truncated frames, bad CRCs, over-long frames, unknown commands and bad
    arguments are each answered with their error; the weights are unchanged after every
    one, and a valid command then works."""
    soc = _soc()
    base = soc.network.memmap["h.W.x"].addr
    seed = 5
    rng = random.Random(seed)
    good = P.write_request(base, [0x123])
    bad_crc = bytearray(P.write_request(base, [0x456]))
    bad_crc[-1] ^= 0x10
    cases = [
        (bytes(rng.randrange(256) for _ in range(7)).replace(bytes([P.SYNC]), b"\x00"),
         P.Status.GARBAGE),
        (P.write_request(base, [0x789])[:6], P.Status.TIMEOUT),
        (bytes(bad_crc), P.Status.CRC),
        (bytes([P.SYNC, P.MAX_PAYLOAD + 1, P.Command.WRITE]) + bytes(8), P.Status.LENGTH),
        (P.encode(0x7F), P.Status.COMMAND),
        (P.encode(P.Command.READ, b"\x00\x00"), P.Status.ARGUMENT),
        (P.encode(P.Command.READ, b"\x00\x00\x00"), P.Status.ARGUMENT),     # count 0
        (P.encode(P.Command.WRITE, b"\x10\x00\x01"), P.Status.ARGUMENT),    # not whole words
    ]

    async def body(tb):
        assert (await tb.request(good))[0] == P.Status.OK
        for frame, expected in cases:
            await tb.send(frame)
            status, payload = P.decode(await tb.receive())
            assert status == expected, (f"seed {seed}", frame.hex(), status)
            assert await tb.read(base) == [0x123], f"seed {seed}: {frame.hex()} changed state"
        assert (await tb.request(P.write_request(base, [0x321])))[0] == P.Status.OK
        assert await tb.read(base) == [0x321]
    _run(soc, body)


def test_at_least_is_the_unsigned_comparison():
    """The bridge's address decoder compares with constants through :func:`at_least`: for
    every 7-bit value and every constant from 0 to 130 (beyond the width: never)."""
    value = Signal(7)
    consts = range(131)
    outs = [Signal(name=f"ge{c}") for c in consts]
    m = Module()
    m.d.comb += [o.eq(at_least(value, c)) for o, c in zip(outs, consts)]

    async def tb(ctx):
        for v in range(1 << 7):
            ctx.set(value, v)
            rtl = [ctx.get(o) for o in outs]
            assert rtl == [int(v >= c) for c in consts], v
    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()


def _map(words):
    return MemoryMap("m", [Field("id", 0, (1,), 32, 0, "ro", "control"),
                           Field("big", 1, (words - 1,), 32, 0, "rw", "param")])


@pytest.mark.parametrize("make, message", [
    (lambda: UARTRx(3), "Divisor must be an integer of at least 4 cycles per bit, not 3"),
    (lambda: FrameBridge(2, _map(8)), "Divisor must be an integer of at least 4 cycles per "
                                      "bit, not 2"),
    (lambda: FrameBridge(104, _map(65537)), "The protocol's addresses have 16 bits; a memory "
                                            "map of 17-bit addresses does not fit"),
    (lambda: FrameBridge(104, 17), "FrameBridge needs the MemoryMap behind its bus, not 17"),
    (lambda: FrameBridge(104, _map(8), read_latency=0), "A bus read takes at least one cycle; "
                                                        "read_latency 0 is not a positive "
                                                        "integer"),
    (lambda: divisor_for(12e6, 0), "Baud rate must be a positive integer, not 0"),
    (lambda: divisor_for(12e6, 4_000_000), "Baud rate 4000000 is too fast for a 12 MHz clock"),
    (lambda: divisor_for(12e6, 2_500_000), "Baud rate 2500000 is 4.0% off at 12 MHz"),
])
def test_bad_parameters(make, message):
    pattern = message.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises((ValueError, TypeError), match=pattern):
        make()


def test_divisor_for_the_boards():
    assert divisor_for(12e6, 115200) == 104 and divisor_for(25e6, 115200) == 217

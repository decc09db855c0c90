"""The host link's address rule and reply rules, and a frame fuzzer (issue 14).

The SoC runs in the Amaranth simulator behind a :class:`SimLink`: its serial line is driven
and sampled bit by bit, and the tests send raw frames, so nothing of the host driver is in
between. The address-rule test uses XOR (the issue's network); the others a one-weight
network (:func:`_tiny`: the same control, run words and gaps, a quarter of the words to
check after every case, and quicker to simulate). Both are fully parallel, with a dataset
buffer of 2 samples.
``ref_*`` values come from the protocol's rules (:mod:`pcfpga.hdl.protocol`: the address
rule of ``AddressSpace`` and the numbered reply rules of its docstring) and from what the
test itself wrote; ``rtl_*`` from the simulated chip. A link frame that is not wholly valid
changes nothing: after every case a PING sent at once must be answered with the id word
(a reply the rules do not promise would come instead), and every word from ``ctrl`` to the
last parameter, every run word and the whole dataset buffer must equal the reference.
"""

import random
import tomllib

import pytest

from pcfpga.boards.soc import SoC, soc_memory_map
from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.design import Design
from pcfpga.hdl import protocol as P
from pcfpga.hdl.memmap import CTRL_BITS, ID_VALUE
from pcfpga.host import SimLink

DIVISOR = 4
CAPACITY = 2
SEED = 14
#: Field kinds a WRITE made by the fuzzer may change: they read back the words written
#: (the fuzzer writes values below 2**15, which every such field holds unchanged).
PLAIN = ("input", "target", "param", "dataset")
SMALL = 1 << 15


def _xor():
    return Graph.from_toml(str(example_path("xor")))


def _tiny():
    """x (1) -> y = W x + b (1): XOR's formats and learning settings, one weight."""
    with open(example_path("xor"), "rb") as f:
        d = tomllib.load(f)
    d["name"] = "tiny"
    d["node"] = [{"name": "x", "op": "input", "size": 1},
                 {"name": "y", "op": "dense", "inputs": ["x"], "size": 1, "act": "identity",
                  "bias": True, "output": True}]
    return Graph.from_dict(d)


class Chip:
    """The simulated SoC of ``graph``, raw frames on its line, and what its words must be."""

    def __init__(self, graph):
        self.soc = SoC(graph, DIVISOR, CAPACITY)
        self.link = SimLink(self.soc)
        self.mm = self.soc.memmap
        self.space = P.AddressSpace.from_memmap(self.mm)
        # a reply may come IDLE_BYTES byte times after the line went quiet, and be 257 bytes
        self.wait = (2 * P.IDLE_BYTES + 300) * 10 * DIVISOR / self.link.clock_hz
        writable = self.space.writable
        # per mapped range, from its first writable word to its last: what is checked
        self.spans = [(min(a for a, b in writable if lo <= a < hi),
                       max(b for a, b in writable if lo < b <= hi))
                      for lo, hi in self.space.mapped
                      if any(lo <= a < hi for a, _ in writable)]

    def send(self, burst):
        """Bytes, or a list of line levels (one per bit time), back to back."""
        if isinstance(burst, list):
            self.link.write_levels(burst)
        else:
            self.link.write(burst)

    def reply(self):
        """The next reply frame's (status, payload), or None when none comes in time."""
        head = self.link.read(2, self.wait)
        if len(head) < 2:
            assert not head, f"a reply cut short: {head.hex()}"
            return None
        return P.decode(head + self.link.read(head[1] + 3, self.wait))

    def request(self, frame: bytes):
        self.send(frame)
        got = self.reply()
        assert got is not None, f"no reply to {frame.hex()}"
        return got

    def read(self, addr: int, count: int) -> list:
        out = []
        while count:
            n = min(count, P.MAX_WORDS)
            status, payload = self.request(P.read_request(addr, n))
            assert status == P.Status.OK, (addr, n, status)
            out += P.parse_words(payload)
            addr, count = addr + n, count - n
        return out

    def write(self, addr: int, words):
        assert self.request(P.write_request(addr, words)) == (P.Status.OK, b"")

    def words(self) -> dict:
        """Every word of the map, by address."""
        return {lo + i: w for lo, hi in self.space.mapped
                for i, w in enumerate(self.read(lo, hi - lo))}

    def check(self, ref: dict, context: str):
        """A PING sent at once is answered with the id word, and every checked word (the
        :attr:`spans`: all writable words and the control and run words among them) equals
        ``ref``."""
        rtl_ping = self.request(P.ping_request())
        assert rtl_ping == (P.Status.OK, ID_VALUE.to_bytes(4, "little")), (context, rtl_ping)
        for lo, hi in self.spans:
            rtl = self.read(lo, hi - lo)
            changed = [(lo + i, ref[lo + i], w) for i, w in enumerate(rtl) if w != ref[lo + i]]
            assert not changed, f"{context}: words changed (address, ref, rtl): {changed}"


@pytest.fixture(scope="module")
def chip():
    """The one-weight network's SoC, for the module."""
    return Chip(_tiny())


def _setup(chip, rng) -> dict:
    """Distinct values in every plain field (so that a stray write of anything shows), then
    the reference: every word of the map as read."""
    for f in chip.mm.fields:
        if f.kind in PLAIN:
            words = [rng.randrange(1, SMALL) for _ in range(f.count)]
            for i in range(0, f.count, P.MAX_WORDS - 1):
                chip.write(f.addr + i, words[i:i + P.MAX_WORDS - 1])
    return chip.words()


def ref_replies(burst: bytes, space: P.AddressSpace) -> list:
    """The statuses the protocol's reply rules give ``burst``, sent back to back on an idle
    line that then stays idle (rule numbers as in the protocol's docstring)."""
    if not burst:
        return []
    if burst[0] != P.SYNC:
        return [P.Status.GARBAGE]                            # 2: up to the idle line
    if len(burst) < 2:
        return [P.Status.TIMEOUT]                            # 3
    if burst[1] > P.MAX_PAYLOAD:
        return [P.Status.LENGTH]                             # 2
    end = burst[1] + 5
    if len(burst) < end:
        return [P.Status.TIMEOUT]                            # 3
    if P.crc16(burst[1:end - 2]) != int.from_bytes(burst[end - 2:end], "big"):
        return [P.Status.CRC]                                # 2
    status = space.status(burst[2], burst[3:end - 2])        # 1
    return [status] + ([P.Status.GARBAGE] if len(burst) > end else [])    # 4


# ------------------------------------------------------------------------- the address rule
def test_address_space_of_the_xor_soc():
    """The ranges the bridge decodes and the host checks: the network's 65 words, the run
    words after a gap (aligned to 8), the buffer after another (aligned to 8); the
    read-write words among them, adjacent fields joined."""
    mm = soc_memory_map(Design.build(_xor()), CAPACITY)
    space = P.AddressSpace.from_memmap(mm)
    assert space.mapped == ((0, 65), (72, 79), (80, 86))
    assert space.writable == ((1, 2), (3, 4), (7, 8), (10, 33), (72, 73), (74, 76), (80, 86))
    assert [(f.name, f.access) for f in mm.fields if f.addr in (1, 7, 10, 32, 33, 74, 75)] == [
        ("ctrl", "rw"), ("lfsr", "rw"), ("x.sat", "rw"), ("y.b", "rw"), ("x.v", "ro"),
        ("run.samples", "rw"), ("run.epochs", "rw")]
    W, R = P.Command.WRITE, P.Command.READ
    A, RO, OK = P.Status.ARGUMENT, P.Status.READONLY, P.Status.OK
    assert [space.range_status(R, a, n) for a, n in
            [(0, 63), (64, 1), (64, 2), (71, 1), (72, 7), (78, 2), (85, 1), (85, 2),
             (0xFFFF, 1), (0xFFFF, 2)]] == [OK, OK, A, A, OK, A, OK, A, A, A]
    assert [space.range_status(W, a, n) for a, n in
            [(10, 23), (10, 24), (32, 40), (0, 1), (2, 2), (72, 2), (74, 2), (80, 6),
             (78, 2), (0xFFFF, 2)]] == [OK, RO, A, RO, RO, RO, OK, OK, A, A]
    with pytest.raises(ValueError, match="Writable words must be mapped words"):
        P.AddressSpace([(0, 4)], [(3, 5)])
    with pytest.raises(ValueError, match="Words above 65535 cannot be addressed"):
        P.AddressSpace([(0, 65537)], [])


def test_frames_naming_words_outside_the_map_change_nothing():
    """Issue 14: a READ or WRITE whose range is not wholly inside the memory map (past its
    end, past 0xFFFF, in a gap) is answered ARGUMENT, a WRITE of a read-only word READONLY,
    and none changes a word or starts a step (the status word and the step counter are
    among the words checked, after all the frames). The old bridge wrote a WRITE at 144 to
    h.W.x[0] (a 7-bit bus) and one of 3 words at 0xFFFF to ctrl. The map's edges still
    work."""
    rng = random.Random(SEED)
    chip = Chip(_xor())
    mm = chip.mm                                      # 86 words: 7-bit bus addresses
    alias = (1 << mm.addr_width) + mm["h.W.x"].addr
    assert (mm.addr_width, alias) == (7, 144)
    start = 1 << CTRL_BITS["start"]
    gap = mm["run.ctrl"].addr - 1                     # left for the run words' alignment
    assert not any(f.addr <= gap < f.addr + f.count for f in mm.fields)
    yb = mm["y.b"].addr
    A, RO = P.Status.ARGUMENT, P.Status.READONLY
    cases = [
        ("WRITE at 144, h.W.x[0] on the bus", P.write_request(alias, [0x55]), A),
        ("WRITE of 2 words at 0xFFFF", P.write_request(0xFFFF, [start] * 2), A),
        ("WRITE of 3 words at 0xFFFF, onto ctrl", P.write_request(0xFFFF, [start] * 3), A),
        ("WRITE of the last word and one more", P.write_request(mm.size - 1, [0x55] * 2), A),
        ("WRITE into the gap", P.write_request(gap, [0x55]), A),
        ("WRITE of y.b on into the gap", P.write_request(yb, [0x55] * 40), A),
        ("WRITE of run.capacity (ro) and the gap",
         P.write_request(mm["run.capacity"].addr, [0x55] * 2), A),
        ("WRITE of the id word", P.write_request(mm["id"].addr, [0]), RO),
        ("WRITE of status (ro), then steps", P.write_request(mm["status"].addr, [0, 7]), RO),
        ("WRITE of y.b, then x.v (ro)", P.write_request(yb, [0x55, 0x55]), RO),
        ("READ of the last word and one more", P.read_request(mm.size - 1, 2), A),
        ("READ of 2 words at 0xFFFF", P.read_request(0xFFFF, 2), A),
        ("READ across the gap", P.read_request(gap - 1, 2), A),
        ("READ at 144", P.read_request(alias, 1), A),
    ]
    ref = _setup(chip, rng)
    assert ref[mm["status"].addr] == 0
    for name, frame, expected in cases:
        rtl = chip.request(frame)
        assert rtl == (expected, b""), (name, rtl)
    chip.check(ref, "the frames outside the map")
    last = mm.size - 1                                # the map's edges still work
    chip.write(last, [0x3AB])
    chip.write(yb - 3, [1, 2, 3, 4])
    assert chip.read(last, 1) == [0x3AB] and chip.read(yb - 3, 4) == [1, 2, 3, 4]
    assert chip.read(0, P.MAX_WORDS)[0] == ID_VALUE


# ------------------------------------------------------------------------ the reply rules
def test_one_reply_per_burst(chip):
    """The protocol's reply rules: a frame whose LEN was damaged (its tail arrives after the
    CRC failed, for longer than that reply) gets one CRC reply; a framing error inside a
    frame one GARBAGE; a frame cut short one TIMEOUT; garbage run into a frame one GARBAGE
    (the frame is not carried out); a second frame sent right behind a first (into its
    reply, even one that has wholly arrived before the reply ends) is not carried out, and
    gets one GARBAGE after the first's OK. Nothing else is sent and nothing else changes."""
    rng = random.Random(SEED + 1)
    mm = chip.mm
    yb = mm["y.b"].addr
    ref = _setup(chip, rng)
    damaged = bytearray(P.write_request(yb - 3, [5] * 4))
    damaged[1] = 2                                    # CRC checked after 7 of 23 bytes
    levels = SimLink.levels(P.write_request(yb, [6]))
    levels[4 * 10 + 9] = 0                            # the 5th byte's stop bit low
    cases = [
        ("damaged LEN", bytes(damaged), [P.Status.CRC], None),
        ("framing error", levels, [P.Status.GARBAGE], None),
        ("cut short", P.write_request(yb, [6])[:-1], [P.Status.TIMEOUT], None),
        ("garbage, then a frame", b"\x00\x11" + P.write_request(yb, [6]), [P.Status.GARBAGE],
         None),
        ("two frames", P.write_request(yb, [7]) + P.write_request(yb, [8]),
         [P.Status.OK, P.Status.GARBAGE], 7),
        ("a PING behind a frame", P.write_request(yb, [9]) + P.ping_request(),
         [P.Status.OK, P.Status.GARBAGE], 9),
    ]
    for name, burst, expected, value in cases:
        chip.send(burst)
        for status in expected:
            assert chip.reply() == (status, b""), name
        if value is not None:
            ref[yb] = value
        chip.check(ref, name)


def test_a_frame_sent_into_a_reply_is_answered_garbage(chip):
    """Rule 4: a WRITE sent while a long READ reply is going out is not received; the READ's
    reply is whole and right, then one GARBAGE comes, and the WRITE has changed nothing."""
    rng = random.Random(SEED + 2)
    ref = _setup(chip, rng)
    base, n = 0, 20                                  # the id word on: 25 bytes into the reply
    assert chip.space.range_status(P.Command.READ, base, n) == P.Status.OK
    chip.send(P.read_request(base, n))
    head = chip.link.read(12, chip.wait)              # the reply has started
    assert len(head) == 12
    chip.send(P.write_request(chip.mm["y.b"].addr, [0x1234]))
    rest = chip.link.read(4 * n + 5 - 12, chip.wait)
    rtl_status, rtl_payload = P.decode(head + rest)
    assert rtl_status == P.Status.OK
    assert P.parse_words(rtl_payload) == [ref[base + i] for i in range(n)]
    assert chip.reply() == (P.Status.GARBAGE, b"")
    chip.check(ref, "a WRITE sent into a reply")


# ------------------------------------------------------------------------------- the fuzzer
def _plain_ranges(mm) -> list:
    ranges = []
    for f in mm.fields:
        if f.kind in PLAIN:
            if ranges and ranges[-1][1] == f.addr:
                ranges[-1] = (ranges[-1][0], f.addr + f.count)
            else:
                ranges.append((f.addr, f.addr + f.count))
    return ranges


def _valid_frame(rng, chip) -> bytes:
    """A PING, a READ inside the map, or a WRITE of small words to plain fields."""
    kind = rng.choice(["ping", "read", "write", "write"])
    if kind == "ping":
        return P.ping_request()
    if kind == "read":
        lo, hi = rng.choice(chip.space.mapped)
        a = rng.randrange(lo, hi)
        return P.read_request(a, rng.randint(1, min(8, hi - a)))
    lo, hi = rng.choice(_plain_ranges(chip.mm))
    a = rng.randrange(lo, hi)
    return P.write_request(a, [rng.randrange(SMALL) for _ in range(rng.randint(1, min(6, hi - a)))])


def _address(rng, chip) -> int:
    """An address near an edge of the map or of the protocol's 16 bits, or any."""
    mm = chip.mm
    ro = [f.addr for f in mm.fields if f.access == "ro"]
    gaps = [b for (_, b), (c, _) in zip(chip.space.mapped, chip.space.mapped[1:]) for b in
            range(b, c)]
    return rng.choice([
        rng.randrange(mm.size - 3, mm.size + 3), rng.randrange(0xFFF0, 0x10000),
        (1 << mm.addr_width) + rng.randrange(mm.size), rng.choice(gaps), rng.choice(ro),
        rng.randrange(1 << 16), rng.randrange(mm.size)])


def _flip(rng, data: bytes, flips: int) -> bytes:
    out = bytearray(data)
    for bit in rng.sample(range(8 * len(out)), min(flips, 8 * len(out))):
        out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _mutant(rng, chip):
    """(mutation, burst): a valid frame mutated at random; the burst is bytes, or line
    levels for damage on the line itself."""
    frame = _valid_frame(rng, chip)
    code, payload = frame[2], frame[3:-2]
    how = rng.choice(["intact", "flip", "flip", "truncate", "extend", "len", "resize",
                      "address", "address", "count", "command", "garbage", "concat",
                      "line", "line"])
    if how == "flip":
        return how, _flip(rng, frame, rng.randint(1, 3))
    if how == "truncate":
        return how, frame[:rng.randrange(1, len(frame))]
    if how == "extend":
        return how, frame + bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    if how == "len":
        return how, frame[:1] + bytes([rng.randrange(256)]) + frame[2:]
    if how == "resize":
        cut = rng.randrange(len(payload) + 1)
        more = bytes(rng.randrange(256) for _ in range(rng.randint(0, 9)))
        return how, P.encode(code, (payload[:cut] + more)[:P.MAX_PAYLOAD])
    if how == "address":
        address = _address(rng, chip)
        if code == P.Command.WRITE:
            return how, P.encode(code, address.to_bytes(2, "little") + payload[2:])
        return how, P.encode(P.Command.READ, address.to_bytes(2, "little")
                             + bytes([rng.randint(1, 8)]))
    if how == "count":
        count = rng.choice([0, 1, 2, P.MAX_WORDS, P.MAX_WORDS + 1, 255, rng.randrange(256)])
        return how, P.encode(P.Command.READ, _address(rng, chip).to_bytes(2, "little")
                             + bytes([count]))
    if how == "command":
        return how, P.encode(rng.choice([c for c in range(256) if c not in set(P.Command)]),
                             payload)
    if how == "garbage":
        return how, bytes(rng.randrange(256) for _ in range(rng.randint(1, 10)))
    if how == "concat":
        second = _valid_frame(rng, chip)
        return how, frame + (_flip(rng, second, 1) if rng.random() < 0.5 else second)
    if how == "line":
        levels = SimLink.levels(frame)
        for i in rng.sample(range(len(levels)), rng.randint(1, 2)):
            levels[i] ^= 1
        return how, levels
    return how, frame


def _writes(burst: bytes, space) -> tuple:
    """(address, words) of the WRITE a burst carries out first, or None."""
    end = burst[1] + 5
    if burst[2] != P.Command.WRITE or space.status(burst[2], burst[3:end - 2]) != P.Status.OK:
        return None
    return burst[3] | burst[4] << 8, P.parse_words(burst[5:end - 2])


def _case(rng, chip):
    """A mutant whose effects the reference knows: a WRITE it carries out writes small words
    to plain fields only (anything else is drawn again)."""
    plain = {a for lo, hi in _plain_ranges(chip.mm) for a in range(lo, hi)}
    while True:
        how, burst = _mutant(rng, chip)
        if isinstance(burst, list):
            return how, burst, None, None
        expected = ref_replies(burst, chip.space)
        write = _writes(burst, chip.space) if expected[:1] == [P.Status.OK] else None
        if write is None or all(a in plain and w < SMALL
                                for a, w in zip(range(write[0], 1 << 17), write[1])):
            return how, burst, expected, write


@pytest.mark.parametrize("cases", [30, pytest.param(400, marks=pytest.mark.slow)])
def test_fuzz_mutated_frames(chip, cases):
    """Seeded random mutations of valid PING, READ and WRITE frames (bit flips, truncation,
    extra bytes, a wrong LEN, a resized payload with a good CRC, addresses near the map's
    end, in its gaps, on read-only words and near 0xFFFF, counts out of range, unknown
    commands, garbage, two frames back to back, damage on the line itself) sent on the
    simulated line. Each gets exactly the replies the protocol's rules give it (damage on
    the line: one reply, a line error), a READ the reference words, and then a PING is
    answered and every checked word equals the reference: unchanged, except the words a
    wholly valid WRITE wrote."""
    seed = SEED + cases
    print(f"fuzz seed {seed}")
    rng = random.Random(seed)
    ref = _setup(chip, rng)
    counts = {}
    for i in range(cases):
        how, burst, expected, write = _case(rng, chip)
        counts[how] = counts.get(how, 0) + 1
        shown = bytes(burst).hex() if expected is not None else f"{len(burst)} levels"
        context = f"seed {seed}, case {i} ({how}): {shown}"
        chip.send(burst)
        if expected is None:                          # damage on the line
            rtl = chip.reply()
            assert rtl is not None and rtl[0] in P.LINE_ERRORS and rtl[1] == b"", (context,
                                                                                   rtl)
        for status in expected or []:
            rtl = chip.reply()
            assert rtl is not None and rtl[0] == status, (context, status, rtl)
            if status == P.Status.OK and burst[2] != P.Command.WRITE:
                a, n = (0, 1) if burst[2] == P.Command.PING else (burst[3] | burst[4] << 8,
                                                                  burst[5])
                assert P.parse_words(rtl[1]) == [ref[a + k] for k in range(n)], context
            else:
                assert rtl[1] == b"", context
        if write is not None:
            for k, w in enumerate(write[1]):
                ref[write[0] + k] = w
        chip.check(ref, context)
    print("mutations:", counts)
    assert len(counts) >= 10, counts                  # the cases cover most mutations

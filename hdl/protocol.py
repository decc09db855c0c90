"""The host link's framed protocol: one definition for the hardware bridge and the host.

:mod:`.bridge` builds the receiver and responder from these constants, and the host
(:mod:`pcfpga.host`, tests) encodes and decodes with the functions here, so the two cannot
disagree. Every frame, in both directions::

    SYNC  LEN  CODE  PAYLOAD[LEN]  CRC_HI  CRC_LO

* ``SYNC`` = 0xA5; ``LEN`` the payload's length in bytes (at most :data:`MAX_PAYLOAD`);
* ``CODE``: a :class:`Command` from the host, a :class:`Status` from the device;
* ``CRC`` = CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final
  XOR) over LEN, CODE and PAYLOAD, most significant byte first.

Words on the wire are 32 bits, little-endian; bus addresses 16 bits, little-endian.

======== ================================ ===========================================
command  payload                          reply (status OK)
======== ================================ ===========================================
PING     none                             the memory map's id word
READ     address, count (1 byte, 1..63)   ``count`` words from address, address + 1, …
WRITE    address, then 1..62 words        none (the words are written in order)
======== ================================ ===========================================

**Addresses.** A READ or WRITE names the words ``address`` to ``address + count - 1``,
counted without wrapping at 2**16. Every one of them must be a word of the memory map (of
one of its fields: not past its end, not past 0xFFFF, not in a gap the map leaves for
alignment), and for a WRITE a read-write one (:class:`AddressSpace`). The device checks the
whole range before it reads or writes anything: a READ or WRITE naming any word outside
the map is answered ARGUMENT, a WRITE naming a read-only word READONLY, and neither reads
or writes a word.

**Statuses** (:class:`Status`):

* ``OK``: carried out;
* ``CRC``: the CRC does not match;
* ``LENGTH``: LEN above :data:`MAX_PAYLOAD`;
* ``TIMEOUT``: the line went idle for :data:`IDLE_BYTES` byte times in the middle of a
  frame (a truncated frame);
* ``GARBAGE``: bytes that do not start a frame, a framing error on the line, or bytes that
  arrived while the device was busy with a frame (see below);
* ``COMMAND``: an unknown command;
* ``ARGUMENT``: a payload of the wrong length for the command, a READ count out of
  1..:data:`MAX_WORDS`, or an address range not wholly in the memory map;
* ``READONLY``: a WRITE naming a read-only word of the map (and no word outside it).

CRC, LENGTH, TIMEOUT and GARBAGE (:data:`LINE_ERRORS`) mean that the bytes received were
not a whole frame: nothing was carried out, and sending the frame again is safe. A frame is
carried out only when its CRC checks and its arguments (the whole address range) check,
so **a frame that is not wholly valid changes nothing**.

**Replies.** The device sends one reply for each of the following, and nothing else:

1. a whole frame whose CRC checks: its status (and the words read), as soon as it has been
   carried out;
2. a frame whose CRC does not match or whose LEN is above :data:`MAX_PAYLOAD`, a byte that
   does not start a frame (anything but SYNC while it waits for one), a framing error: CRC,
   LENGTH or GARBAGE, once the line has been idle for :data:`IDLE_BYTES` byte times. Every
   byte up to then (the rest of a frame whose LEN was damaged, more garbage) belongs to
   this one error;
3. a frame cut short (the line idle for :data:`IDLE_BYTES` byte times after its SYNC):
   TIMEOUT;
4. bytes that arrive while a frame of 1. is being carried out or any reply is being sent:
   they are not received; once the reply has gone, GARBAGE as in 2.

So a host that sends a frame and then waits for its reply gets exactly one reply to it,
however the frame was damaged on the way (unless the damage made another frame whose CRC
checks); a frame sent before the previous reply has arrived is answered GARBAGE, together
with any bytes sent right after it. After a reply (unless rule 4 applies) the device waits
for SYNC at once: a host may send its next frame as soon as the reply has arrived.
"""

from __future__ import annotations

import enum
import struct

__all__ = ["DEFAULT_BAUD", "SYNC", "MAX_PAYLOAD", "MAX_WORDS", "IDLE_BYTES", "ADDRESS_BITS",
           "WORD_BITS", "WORD_MASK", "BITS_PER_BYTE",
           "Command", "Status", "LINE_ERRORS", "AddressSpace", "crc16", "encode", "decode",
           "FrameError", "read_request", "write_request", "ping_request", "parse_words"]

SYNC = 0xA5
MAX_PAYLOAD = 252
#: Words a READ may ask for, and (with the 2 address bytes) a WRITE may carry.
MAX_WORDS = 63
#: Idle line, in byte times, that ends a truncated frame or a run of garbage.
IDLE_BYTES = 20
#: Bits of a bus address on the wire.
ADDRESS_BITS = 16
#: Bits of a bus word (on the wire, on the memory map's bus, in the host's driver).
WORD_BITS = 32
#: The bus word's bits: ``value & WORD_MASK`` is the word a signed value is written as.
WORD_MASK = (1 << WORD_BITS) - 1
#: Bits on the serial line per byte (8N1: a start bit, 8 data bits, a stop bit).
BITS_PER_BYTE = 10
#: The serial line's default rate (every supported board's USB-UART bridge runs it).
DEFAULT_BAUD = 115200
CRC_POLY = 0x1021
CRC_INIT = 0xFFFF


class Command(enum.IntEnum):
    PING = 0x01
    READ = 0x02
    WRITE = 0x03


class Status(enum.IntEnum):
    OK = 0x00
    CRC = 0x81
    LENGTH = 0x82
    TIMEOUT = 0x83
    GARBAGE = 0x84
    COMMAND = 0x85
    ARGUMENT = 0x86
    READONLY = 0x87


#: The statuses of bytes that were not a whole frame: nothing was carried out.
LINE_ERRORS = frozenset({Status.CRC, Status.LENGTH, Status.TIMEOUT, Status.GARBAGE})


def _merge(ranges) -> tuple:
    """Sorted ``(start, stop)`` ranges with touching or overlapping ones joined."""
    out = []
    for start, stop in sorted(r for r in ranges if r[0] < r[1]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], stop))
        else:
            out.append((start, stop))
    return tuple(out)


class AddressSpace:
    """The words a READ (``mapped``) and a WRITE (``writable``) may name, each a tuple of
    sorted, disjoint ``(start, stop)`` ranges: the words of every field of a memory map,
    and of its read-write fields, adjacent fields joined (:meth:`from_memmap`).

    The bridge (:mod:`.bridge`) decodes these ranges in hardware; the host checks its
    requests with :meth:`range_status` before sending them; :meth:`status` is the status
    the device answers to a whole frame whose CRC checks.
    """

    def __init__(self, mapped, writable):
        self.mapped, self.writable = _merge(mapped), _merge(writable)
        if any(stop > 1 << ADDRESS_BITS for _, stop in self.mapped):
            raise ValueError(f"Words above {(1 << ADDRESS_BITS) - 1} cannot be addressed")
        if not all(self._inside(self.mapped, a, b - a) for a, b in self.writable):
            raise ValueError("Writable words must be mapped words")

    @classmethod
    def from_memmap(cls, memmap) -> AddressSpace:
        """The words of a :class:`~.memmap.MemoryMap`'s readable fields (all but the
        registers of a lean build, :meth:`~.memmap.MemoryMap.readable`) and of its "rw"
        fields (all readable)."""
        fields = [(f.addr, f.addr + f.count, f.access) for f in memmap.fields
                  if memmap.readable(f)]
        return cls([(a, b) for a, b, _ in fields], [(a, b) for a, b, s in fields if s == "rw"])

    @staticmethod
    def _inside(ranges, address, count) -> bool:
        return any(a <= address and address + count <= b for a, b in ranges)

    def range_status(self, command, address: int, count: int) -> Status:
        """OK when the READ or WRITE of words ``address .. address + count - 1`` is allowed,
        else ARGUMENT (a word outside the map) or READONLY (a WRITE of a read-only word)."""
        if not self._inside(self.mapped, address, count):
            return Status.ARGUMENT
        if command == Command.WRITE and not self._inside(self.writable, address, count):
            return Status.READONLY
        return Status.OK

    def status(self, code: int, payload: bytes) -> Status:
        """The status the device answers to a whole frame of ``code`` and ``payload`` whose
        CRC checks."""
        n = len(payload)
        if code == Command.PING:
            return Status.OK if n == 0 else Status.ARGUMENT
        if code == Command.READ:
            if n != 3 or not 1 <= payload[2] <= MAX_WORDS:
                return Status.ARGUMENT
            return self.range_status(code, payload[0] | payload[1] << 8, payload[2])
        if code == Command.WRITE:
            if n < 6 or (n - 2) % 4:
                return Status.ARGUMENT
            return self.range_status(code, payload[0] | payload[1] << 8, (n - 2) // 4)
        return Status.COMMAND


class FrameError(ValueError):
    """A reply that is not a well-formed frame."""


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data``; ``crc16(b"123456789") == 0x29B1``."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def encode(code: int, payload: bytes = b"") -> bytes:
    """The frame of ``code`` and ``payload``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"Payload must be at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    body = bytes([len(payload), int(code)]) + bytes(payload)
    return bytes([SYNC]) + body + crc16(body).to_bytes(2, "big")


def decode(frame: bytes) -> tuple:
    """(code, payload) of one whole frame; :class:`FrameError` naming what is wrong."""
    if len(frame) < 5:
        raise FrameError(f"A frame has at least 5 bytes, not {len(frame)}: {frame.hex()}")
    if frame[0] != SYNC:
        raise FrameError(f"A frame starts with 0x{SYNC:02X}, not 0x{frame[0]:02X}")
    length = frame[1]
    if len(frame) != length + 5:
        raise FrameError(f"LEN {length} needs a frame of {length + 5} bytes, not {len(frame)}")
    body, crc = frame[1:-2], int.from_bytes(frame[-2:], "big")
    if crc16(body) != crc:
        raise FrameError(f"CRC 0x{crc:04X} does not match 0x{crc16(body):04X}")
    return frame[2], frame[3:-2]


def ping_request() -> bytes:
    return encode(Command.PING)


def _check_address(address):
    if not 0 <= address < 1 << ADDRESS_BITS:
        raise ValueError(f"A frame's address is 0 to {(1 << ADDRESS_BITS) - 1}, not "
                         f"{address}")


def read_request(address: int, count: int) -> bytes:
    """A READ frame (it may name words outside a memory map: see :class:`AddressSpace`)."""
    _check_address(address)
    if not 1 <= count <= MAX_WORDS:
        raise ValueError(f"A READ asks for 1 to {MAX_WORDS} words, not {count}")
    return encode(Command.READ, struct.pack("<HB", address, count))


def write_request(address: int, words) -> bytes:
    """A WRITE frame (it may name words outside a memory map: see :class:`AddressSpace`)."""
    _check_address(address)
    words = [int(w) & WORD_MASK for w in words]
    if not 1 <= len(words) <= MAX_WORDS - 1:
        raise ValueError(f"A WRITE carries 1 to {MAX_WORDS - 1} words, not {len(words)}")
    return encode(Command.WRITE, struct.pack(f"<H{len(words)}I", address, *words))


def parse_words(payload: bytes) -> list:
    if len(payload) % 4:
        raise FrameError(f"A payload of words has a multiple of 4 bytes, not {len(payload)}")
    return list(struct.unpack(f"<{len(payload) // 4}I", payload))

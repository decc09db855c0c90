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

Every frame is answered exactly once. A frame is carried out only after its CRC checks, so
a rejected frame changes nothing. Errors (:class:`Status`):

* ``CRC``: the CRC does not match;
* ``LENGTH``: LEN above :data:`MAX_PAYLOAD` (the rest of the frame is discarded);
* ``TIMEOUT``: the line went idle in the middle of a frame (truncated);
* ``GARBAGE``: bytes that do not start a frame (answered once the line is idle);
* ``COMMAND``: an unknown command; ``ARGUMENT``: a payload of the wrong length for it.

After an error, the receiver waits for the line to be idle for :data:`IDLE_BYTES` byte
times, and then for SYNC: it resynchronises on the next frame.
"""

from __future__ import annotations

import enum
import struct

__all__ = ["DEFAULT_BAUD", "SYNC", "MAX_PAYLOAD", "MAX_WORDS", "IDLE_BYTES", "Command", "Status",
           "crc16", "encode", "decode", "FrameError", "read_request", "write_request",
           "ping_request", "parse_words"]

SYNC = 0xA5
MAX_PAYLOAD = 252
#: Words a READ may ask for, and (with the 2 address bytes) a WRITE may carry.
MAX_WORDS = 63
#: Idle line, in byte times, that ends a truncated frame or a run of garbage.
IDLE_BYTES = 20
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


def read_request(address: int, count: int) -> bytes:
    if not 1 <= count <= MAX_WORDS:
        raise ValueError(f"A READ asks for 1 to {MAX_WORDS} words, not {count}")
    return encode(Command.READ, struct.pack("<HB", address, count))


def write_request(address: int, words) -> bytes:
    words = [int(w) & 0xFFFFFFFF for w in words]
    if not 1 <= len(words) <= MAX_WORDS - 1:
        raise ValueError(f"A WRITE carries 1 to {MAX_WORDS - 1} words, not {len(words)}")
    return encode(Command.WRITE, struct.pack(f"<H{len(words)}I", address, *words))


def parse_words(payload: bytes) -> list:
    if len(payload) % 4:
        raise FrameError(f"A payload of words has a multiple of 4 bytes, not {len(payload)}")
    return list(struct.unpack(f"<{len(payload) // 4}I", payload))

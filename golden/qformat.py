"""Signed Qm.n fixed-point formats, rounding and saturation, shared by golden/ and hdl/.

A format ``Qm.n`` has ``m`` integer bits (the sign bit included) and ``n`` fraction bits, so
it is ``w = m + n`` bits wide and the integer ``q`` stands for the real number ``q * 2**-n``
with ``-2**(w-1) <= q <= 2**(w-1) - 1``.

All arithmetic in this project is done on such integers. Products and sums are exact (wide
accumulators); a result is rounded exactly once, when it is written to a register, by
:func:`round_shift`, which drops ``shift`` fraction bits:

* ``truncate``:   ``floor(x / 2**s)``                      (an arithmetic right shift)
* ``nearest``:    ``floor((x + 2**(s-1)) / 2**s)``         (ties go towards +inf)
* ``stochastic``: ``floor((x + r mod 2**s) / 2**s)``       (``r`` a 32-bit random word,
  see :mod:`pcfpga.golden.lfsr`; for ``s > 32`` the word is shifted left by ``s - 32``)

and then saturated to the register's format by :meth:`QFormat.saturate`, which also reports
which elements overflowed (the hardware's sticky saturation flags).

>>> q = QFormat.parse("Q4.12")
>>> q.width, q.min_int, q.max_int, q.lsb
(16, -32768, 32767, 0.000244140625)
>>> q.to_int([0.5, -1.0, 100.0])
(array([ 2048, -4096, 32767]), array([False, False,  True]))
>>> float(q.to_float(q.to_int(0.1)[0]))
0.10009765625
>>> round_shift(np.array([5, 6, -5, -6]), 2, "truncate")
array([ 1,  1, -2, -2])
>>> round_shift(np.array([5, 6, -5, -6]), 2, "nearest")
array([ 1,  2, -1, -1])
"""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass

import numpy as np

__all__ = ["QFormat", "ROUNDING_MODES", "MAX_WIDTH", "round_shift", "align"]

#: The rounding modes a graph's ``format.rounding`` may name.
ROUNDING_MODES = ("truncate", "nearest", "stochastic")

#: The widest register format this project accepts.
MAX_WIDTH = 32

#: ASCII digits, at most 9 (more would not be a width; int() of thousands is refused)
_QRE = re.compile(r"^Q(-?[0-9]{1,9})\.(-?[0-9]{1,9})$")


@dataclass(frozen=True)
class QFormat:
    """A signed fixed-point format Qm.n.

    Parameters
    ----------
    int_bits : int
        ``m``, integer bits including the sign bit; at least 1.
    frac_bits : int
        ``n``, fraction bits; at least 0. ``m + n`` is at most :data:`MAX_WIDTH`.
    """

    int_bits: int
    frac_bits: int

    def __post_init__(self):
        if not isinstance(self.int_bits, int) or self.int_bits < 1:
            raise ValueError(f"Integer bits must be a positive integer (the sign needs one), "
                             f"not {self.int_bits!r}")
        if not isinstance(self.frac_bits, int) or self.frac_bits < 0:
            raise ValueError(f"Fraction bits must be a non-negative integer, "
                             f"not {self.frac_bits!r}")
        if self.int_bits + self.frac_bits > MAX_WIDTH:
            raise ValueError(f"{self} is {self.width} bits wide; at most {MAX_WIDTH} bits are "
                             f"supported")

    @classmethod
    def parse(cls, text) -> QFormat:
        """Parse ``"Qm.n"``; raise ``ValueError`` naming the text when it is not one.

        >>> QFormat.parse("Q2.14")
        QFormat(int_bits=2, frac_bits=14)
        """
        if not isinstance(text, str):
            raise ValueError(f"{reprlib.repr(text)} is not a Q format string like 'Q4.12'")
        match = _QRE.match(text.strip())
        text = text.strip()
        if not match:
            raise ValueError(f"{reprlib.repr(text)} is not a Q format like 'Q4.12'")
        m, n = int(match.group(1)), int(match.group(2))
        if m < 1:
            raise ValueError(f"{text} has no integer bit (the sign needs one)")
        if n < 0:
            raise ValueError(f"{text} has negative fraction bits")
        if m + n > MAX_WIDTH:
            raise ValueError(f"{text} is {m + n} bits wide; at most {MAX_WIDTH} bits are "
                             f"supported")
        return cls(m, n)

    def __str__(self):
        return f"Q{self.int_bits}.{self.frac_bits}"

    @property
    def width(self) -> int:
        """Total width ``m + n`` in bits."""
        return self.int_bits + self.frac_bits

    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1))

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1

    @property
    def lsb(self) -> float:
        """The value of one least significant bit, ``2**-n``."""
        return 2.0 ** -self.frac_bits

    @property
    def min(self) -> float:
        return self.min_int * self.lsb

    @property
    def max(self) -> float:
        return self.max_int * self.lsb

    def saturate(self, x):
        """Clamp integers to the format's range.

        Returns
        -------
        (ints, overflow) : the clamped integers and a boolean array, True where clamping
            happened.

        >>> QFormat(2, 2).saturate(np.array([-9, -8, 7, 8]))
        (array([-8, -8,  7,  7]), array([ True, False, False,  True]))
        """
        x = np.asarray(x)
        over = (x > self.max_int) | (x < self.min_int)
        if x.dtype == object:
            clamped = np.where(x > self.max_int, self.max_int,
                               np.where(x < self.min_int, self.min_int, x))
        else:
            clamped = np.clip(x, self.min_int, self.max_int)
        return clamped, np.asarray(over, dtype=bool)

    def to_int(self, x):
        """Quantise real numbers: round to nearest (ties up), then saturate.

        Returns ``(ints, overflow)`` like :meth:`saturate`; ints are ``int64``.
        """
        scaled = np.floor(np.asarray(x, dtype=np.float64) * (1 << self.frac_bits) + 0.5)
        limit = float(1 << MAX_WIDTH)
        ints = np.clip(scaled, -limit, limit).astype(np.int64)
        return self.saturate(ints)

    def to_float(self, q):
        """The real value of integers in this format (exact in float64)."""
        return np.asarray(q).astype(np.float64) * self.lsb

    def representable(self, x) -> bool:
        """True when every real in ``x`` is exactly a value of this format.

        >>> QFormat.parse("Q4.12").representable(0.125), QFormat(4, 2).representable(0.125)
        (True, False)
        """
        x = np.asarray(x, dtype=np.float64)
        q = x * (1 << self.frac_bits)
        return bool(np.all(q == np.floor(q)) and np.all(q >= self.min_int)
                    and np.all(q <= self.max_int))


def align(x, from_frac: int, to_frac: int):
    """Exactly re-express integers with ``from_frac`` fraction bits at ``to_frac >= from_frac``.

    >>> align(np.array([3, -1]), 2, 5)
    array([24, -8])
    """
    if to_frac < from_frac:
        raise ValueError(f"align can only add fraction bits, not go from {from_frac} to "
                         f"{to_frac}")
    return np.asarray(x) * (1 << (to_frac - from_frac))


def round_shift(x, shift: int, mode: str, rand=None):
    """Drop ``shift`` fraction bits of the integers ``x`` with the given rounding mode.

    Parameters
    ----------
    x : array of int
        Exact accumulator contents.
    shift : int
        Fraction bits to drop; a negative shift adds bits exactly (left shift).
    mode : {"truncate", "nearest", "stochastic"}
    rand : array of int, optional
        For ``stochastic``: non-negative 32-bit random words, one per element of ``x``.

    Returns
    -------
    array of int, unsaturated.

    >>> round_shift(np.array([5, -5]), 2, "stochastic", rand=np.array([3, 2]))
    array([ 2, -1])
    >>> round_shift(np.array([3]), -2, "nearest")
    array([12])
    """
    x = np.asarray(x)
    if shift <= 0:
        return x * (1 << -shift)
    if mode == "truncate":
        return x >> shift
    if mode == "nearest":
        return (x + (1 << (shift - 1))) >> shift
    if mode == "stochastic":
        if rand is None:
            raise ValueError("stochastic rounding needs random words")
        rand = np.asarray(rand).astype(np.int64)
        if shift <= 32:
            offset = rand & ((1 << shift) - 1)
        else:
            offset = rand << (shift - 32)
        if x.dtype == object:
            offset = offset.astype(object)
        return (x + offset) >> shift
    raise ValueError(f"Rounding mode must be one of {', '.join(ROUNDING_MODES)}, not {mode!r}")

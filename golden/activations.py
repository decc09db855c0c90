"""Activation functions f and derivatives f', in float and in fixed point.

Float definitions (the float golden model)::

    identity     f = a                         f' = 1
    relu         f = max(a, 0)                 f' = [a > 0]
    leaky_relu   f = a if a >= 0 else a/64     f' = 1 if a > 0 else 1/64
    hardtanh     f = clip(a, -1, 1)            f' = [|a| < 1]
    hardsigmoid  f = clip(a/4 + 1/2, 0, 1)     f' = 1/4 · [|a| < 2]
    tanh         f = tanh a                    f' = 1 - tanh² a
    sigmoid      f = 1 / (1 + e^-a)            f' = f (1 - f)

Slopes are powers of two so the hardware shifts instead of multiplying. At a kink the
derivative takes the value written above (relu'(0) = 0).

Fixed point: ``a`` and ``f(a)`` are in the value format Qm.n; ``f'(a)`` is a *gain* with the
same n fraction bits and two integer bits (Q2.n, so that 1.0 is exact). The piecewise
linear functions are computed exactly (the shifts of leaky_relu and hardsigmoid round with
the graph's rounding mode). ``tanh`` and ``sigmoid`` and their derivatives come from two
lookup tables built by :class:`ActTable`, the one builder both golden/ and hdl/ use:

* the table covers ``a`` in [-8, 8) with ``2**k`` equal buckets (k = ``format.table_bits``,
  reduced to n + 4 when the value format has too few fraction bits for that many buckets);
* ``index = clip(a >> s, -2**(k-1), 2**(k-1) - 1) + 2**(k-1)`` with ``s = n + 4 - k``, so
  inputs outside [-8, 8) use the end buckets;
* entry = f (resp. f') at the bucket's centre, rounded to nearest.

>>> t = ActTable.build("tanh", QFormat.parse("Q4.12"), 8)
>>> t.bits, t.shift, len(t.f), int(t.f[128]), int(t.df[128])
(8, 8, 256, 128, 4092)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from .qformat import QFormat

__all__ = ["ActTable", "f_float", "df_float", "act_fixed", "TABLE_ACTS", "LEAKY_SHIFT",
           "TABLE_RANGE_BITS", "table_error"]

#: Activations evaluated through lookup tables.
TABLE_ACTS = ("tanh", "sigmoid")
#: leaky_relu's negative slope is 2**-LEAKY_SHIFT.
LEAKY_SHIFT = 6
#: Tables cover [-2**(TABLE_RANGE_BITS-1), 2**(TABLE_RANGE_BITS-1)) = [-8, 8).
TABLE_RANGE_BITS = 4


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def f_float(act: str, a):
    """f(a) in float64."""
    a = np.asarray(a, dtype=np.float64)
    if act == "identity":
        return a.copy()
    if act == "relu":
        return np.maximum(a, 0.0)
    if act == "leaky_relu":
        return np.where(a >= 0, a, a * 2.0 ** -LEAKY_SHIFT)
    if act == "hardtanh":
        return np.clip(a, -1.0, 1.0)
    if act == "hardsigmoid":
        return np.clip(a / 4 + 0.5, 0.0, 1.0)
    if act == "tanh":
        return np.tanh(a)
    if act == "sigmoid":
        return _sigmoid(a)
    raise ValueError(f"unknown activation {act!r}")


def df_float(act: str, a):
    """f'(a) in float64."""
    a = np.asarray(a, dtype=np.float64)
    if act == "identity":
        return np.ones_like(a)
    if act == "relu":
        return (a > 0).astype(np.float64)
    if act == "leaky_relu":
        return np.where(a > 0, 1.0, 2.0 ** -LEAKY_SHIFT)
    if act == "hardtanh":
        return (np.abs(a) < 1).astype(np.float64)
    if act == "hardsigmoid":
        return np.where(np.abs(a) < 2, 0.25, 0.0)
    if act == "tanh":
        return 1.0 - np.tanh(a) ** 2
    if act == "sigmoid":
        s = _sigmoid(a)
        return s * (1.0 - s)
    raise ValueError(f"unknown activation {act!r}")


@dataclass(frozen=True)
class ActTable:
    """The lookup tables of one table activation for one value format.

    Attributes
    ----------
    bits : int        table index width k
    shift : int       s: index = clip(a >> s) + 2**(k-1)
    f : ndarray       2**k entries of f, value-format integers
    df : ndarray      2**k entries of f', gain integers (n fraction bits)
    """

    act: str
    fmt: QFormat
    bits: int
    shift: int
    f: np.ndarray
    df: np.ndarray

    @staticmethod
    @cache
    def build(act: str, fmt: QFormat, table_bits: int) -> ActTable:
        if act not in TABLE_ACTS:
            raise ValueError(f"Table activation must be one of {', '.join(TABLE_ACTS)}, "
                             f"not {act!r}")
        n = fmt.frac_bits
        k = min(table_bits, n + TABLE_RANGE_BITS)
        s = n + TABLE_RANGE_BITS - k
        idx = np.arange(1 << k) - (1 << (k - 1))
        centre = (idx * (1 << s) + ((1 << s) >> 1)) / (1 << n)
        f, _ = fmt.to_int(f_float(act, centre))
        df = np.floor(df_float(act, centre) * (1 << n) + 0.5).astype(np.int64)
        f.setflags(write=False)
        df.setflags(write=False)
        return ActTable(act, fmt, k, s, f, df)

    def index(self, a):
        """Table index of value-format integers ``a``."""
        half = 1 << (self.bits - 1)
        return np.clip(np.asarray(a) >> self.shift, -half, half - 1).astype(np.int64) + half

    def lookup(self, a):
        """(f, f') integers for value-format integers ``a``."""
        i = self.index(a)
        return self.f[i], self.df[i]


def act_fixed(act: str, a, fmt: QFormat, table_bits: int, rnd):
    """Fixed-point f(a) (unsaturated value-format ints) and f'(a) (gain ints).

    ``rnd(x, shift)`` rounds by dropping ``shift`` fraction bits with the graph's rounding
    mode at the caller's rounding site.
    """
    n = fmt.frac_bits
    one = 1 << n
    a = np.asarray(a)
    if act == "identity":
        return a.copy(), np.full(a.shape, one, dtype=np.int64)
    if act == "relu":
        return np.where(a > 0, a, 0), np.where(a > 0, one, 0)
    if act == "leaky_relu":
        return (np.where(a >= 0, a, rnd(a, LEAKY_SHIFT)),
                np.where(a > 0, one, one >> LEAKY_SHIFT))
    if act == "hardtanh":
        return np.clip(a, -one, one), np.where((a > -one) & (a < one), one, 0)
    if act == "hardsigmoid":
        return (np.clip(rnd(a, 2) + (one >> 1), 0, one),
                np.where((a > -2 * one) & (a < 2 * one), one >> 2, 0))
    f, df = ActTable.build(act, fmt, table_bits).lookup(a)
    return f.copy(), df.copy()


def table_error(act: str, fmt: QFormat, table_bits: int):
    """Largest |table - exact| of f and of f' over every representable input.

    tanh and sigmoid are monotone and their derivatives are monotone on either side of 0,
    which is a bucket edge, so the largest error in a bucket is at one of its two edges;
    the end buckets extend to the format's extremes.
    """
    t = ActTable.build(act, fmt, table_bits)
    half = 1 << (t.bits - 1)
    lo = (np.arange(1 << t.bits) - half) * (1 << t.shift)
    hi = lo + (1 << t.shift) - 1
    lo[0], hi[-1] = min(lo[0], fmt.min_int), max(hi[-1], fmt.max_int)
    edges = np.concatenate([lo, hi])
    edges = edges[(edges >= fmt.min_int) & (edges <= fmt.max_int)]
    f, df = t.lookup(edges)
    x = fmt.to_float(edges)
    err_f = np.max(np.abs(fmt.to_float(f) - f_float(act, x)))
    err_df = np.max(np.abs(df * fmt.lsb - df_float(act, x)))
    return float(err_f), float(err_df)

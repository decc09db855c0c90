"""The random source of stochastic rounding: a 32-bit Galois LFSR and a per-element mixer.

The hardware reproduces this sequence exactly, so it is written down here once.

**LFSR.** A 32-bit Galois LFSR with the maximal-length polynomial
``x^32 + x^22 + x^2 + x + 1`` (taps 32, 22, 2, 1; Xilinx XAPP052), shifting right::

    step(s) = (s >> 1) ^ (0x80200003 if s & 1 else 0)

Its state never becomes 0 from a non-zero seed; the period is ``2**32 - 1``.
The state advances exactly once at the start of every *phase* of the network:
the forward sweep, each inference tick and the weight update (see
:mod:`pcfpga.golden.engine`). Within a phase every rounding site reads the same state.

**Mixer.** Many registers round in the same phase, in parallel. Each element gets its own
32-bit word from the phase's state, the site number and the element index, with XOR and
shifts only (no multiplier)::

    salt  = (site << 16) ^ element                 # site < 2**16, element < 2**16
    word  = xorshift32(xorshift32(state ^ salt))
    xorshift32(x) = x ^= x << 13; x ^= x >> 17; x ^= x << 5     (all mod 2**32)

A site is one register vector of one node: ``site = node_index * 32 + quantity`` where the
quantity numbers are :data:`SITE_A` ... and ``SITE_W0 + k`` for the weight matrix of the
node's k-th parent. The element of a matrix ``W[r, c]`` is ``r * columns + c``.

>>> s = Lfsr32(1)
>>> [s.step() for _ in range(3)]
[2149580803, 3224371202, 1612185601]
>>> [hex(int(w)) for w in mix(0x12345678, 33, np.array([0, 1]))]
['0x9b3c3393', '0x9f343592']
"""

from __future__ import annotations

import numpy as np

__all__ = ["Lfsr32", "POLY", "mix", "xorshift32", "site_id",
           "SITE_A", "SITE_VHAT", "SITE_EPS", "SITE_DELTA", "SITE_V", "SITE_B", "SITE_W0",
           "MAX_PARENTS"]

#: Galois feedback mask of x^32 + x^22 + x^2 + x + 1.
POLY = 0x80200003
_MASK = 0xFFFFFFFF

SITE_A = 0       #: pre-activation a of a dense node
SITE_VHAT = 1    #: prediction v̂ (activation, add, mul)
SITE_EPS = 2     #: error ε
SITE_DELTA = 3   #: gated error δ = ε ⊙ f'(a)
SITE_V = 4       #: value v (standard and streaming modes)
SITE_B = 5       #: bias b
SITE_W0 = 8      #: weights W of parent k are site SITE_W0 + k
#: Parents a node may have (weight sites 8..31).
MAX_PARENTS = 32 - SITE_W0


def site_id(node_index: int, quantity: int) -> int:
    """Site number of one register vector: ``node_index * 32 + quantity``."""
    return node_index * 32 + quantity


class Lfsr32:
    """The shared 32-bit Galois LFSR; ``state`` is the word of the current phase."""

    def __init__(self, seed: int = 1):
        if not isinstance(seed, int) or not 1 <= seed <= _MASK:
            raise ValueError(f"LFSR seed must be an integer from 1 to {_MASK}, not {seed!r}")
        self.state = seed

    def step(self) -> int:
        """Advance once and return the new state."""
        s = self.state
        self.state = (s >> 1) ^ (POLY if s & 1 else 0)
        return self.state


def xorshift32(x):
    """Marsaglia's xorshift32 on uint64 arrays holding 32-bit words."""
    x = np.asarray(x, dtype=np.uint64)
    x = x ^ ((x << np.uint64(13)) & np.uint64(_MASK))
    x = x ^ (x >> np.uint64(17))
    x = x ^ ((x << np.uint64(5)) & np.uint64(_MASK))
    return x


def mix(state: int, site: int, elements):
    """Random 32-bit words for the given elements of one site in the current phase.

    Returns int64 values in ``[0, 2**32)``.
    """
    elements = np.asarray(elements, dtype=np.uint64)
    salt = (np.uint64(site) << np.uint64(16)) ^ elements
    return xorshift32(xorshift32(np.uint64(state) ^ salt)).astype(np.int64)

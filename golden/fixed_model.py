"""The bit-exact fixed-point golden model: the specification of the hardware.

:class:`FixedPC` runs :class:`~.engine.Engine` with :class:`FixedArith`, whose registers
are integers in the graph's Q formats (values V = Qm.n_v, errors E = Qm.n_e, weights
W = Qm.n_w; gains f' in Q2.n_v). Products and sums are exact; each register is rounded once
(``rnd``, the graph's rounding mode, :func:`~.qformat.round_shift`) and saturated once
(``sat``, which sets the node's sticky flag bit for that register, see ``FLAG_BITS``)::

    x, y     V.to_int (nearest), sat                          [flag v]
    a        sat_V(rnd(Σ_p W_p v_p + b·2^n_v,   n_w))          [flag a]
    vhat     dense/act: f(a) (activations.act_fixed), sat_V   [flag vhat]
             add: sat_V(Σ_p v_p)      mul: sat_V(rnd(v_p v_q, n_v))
    eps      sat_E(rnd(v - vhat, n_v - n_e))                  [flag eps]
    delta    sat_E(rnd(eps · g, n_v))                          [flag delta]
    relax    S  = Σ_j msg_j - eps    exact, with F fraction bits: F is the largest of the
                                     node's message terms' fraction bits, n_e and the
                                     updated register's n (a per-node constant)
             eps ← sat_E(rnd(eps·2^(F+k-n_e) + S, F + k - n_e))          fpa/exact [eps]
             v   ← sat_V(rnd(v·2^(F+k-n_v)   + S, F + k - n_v))          standard  [v]
             with eta_v = 2^-k
    W        sat_W(W + rnd(δ vᵀ, n_e + n_v + kθ - n_w))      eta_theta = 2^-kθ   [W.k]
    b        sat_W(b + rnd(δ, n_e + kθ - n_w))                                    [b]

Messages are exact: ``W_{j,i}ᵀ δ_j`` (n_w + n_e fraction bits), ``δ_j`` or ``ε_j`` (n_e),
``v_q ⊙ ε_j`` (n_v + n_e). A negative rounding shift is an exact left shift.

The integers are int64 when every intermediate fits in 62 bits (all 16-bit formats), and
Python integers (dtype object) otherwise.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from .activations import act_fixed
from .fields import flags_field
from .stream import make_engine
from .lfsr import (SITE_A, SITE_B, SITE_DELTA, SITE_EPS, SITE_V, SITE_VHAT, SITE_W0, Lfsr32,
                   mix, site_id)
from .qformat import round_shift

__all__ = ["FixedArith", "FixedPC", "FLAG_BITS", "SaturationError", "decode_flags", "quantize"]

#: Saturation flag bit of each register (the same numbers as the LFSR sites);
#: the weights from parent k set bit ``FLAG_BITS["W"] + k``.
FLAG_BITS = {"a": SITE_A, "vhat": SITE_VHAT, "eps": SITE_EPS, "delta": SITE_DELTA,
             "v": SITE_V, "b": SITE_B, "W": SITE_W0}


class SaturationError(ValueError):
    """Parameters that do not fit the weight format."""


def decode_flags(mask: int, node) -> list:
    """Names of the registers whose bits are set in a node's flag word."""
    names = [r for r, bit in FLAG_BITS.items() if r != "W" and mask >> bit & 1]
    names += [f"W.{p}" for k, p in enumerate(node.inputs) if mask >> (SITE_W0 + k) & 1]
    return names


def quantize(graph, data: dict) -> dict:
    """Float data (inputs or targets) as value-format integers, as a host writes them.

    Parameters
    ----------
    graph : Graph
    data : dict
        ``{name: float array}``.

    Returns
    -------
    dict
        ``{name: int64 array}``, rounded to nearest and saturated to the value format (the
        golden model's own ``x, y`` quantisation, so the hardware and the model see the same
        integers).
    """
    V = graph.formats.value
    return {k: V.to_int(v)[0] for k, v in data.items()}


class FixedArith:
    """Integer register arithmetic of one graph (see the module docstring)."""

    def __init__(self, graph):
        f = graph.formats
        self.V, self.E, self.W = f.value, f.error, f.weight
        self.rounding, self.table_bits = f.rounding, f.table_bits
        self.lfsr = Lfsr32(f.seed)
        self.flags = np.zeros(len(graph.nodes), dtype=np.int64)
        self.node_names = [n.name for n in graph.nodes]
        self.dtype = np.int64 if _max_bits(graph) <= 62 else object

    # -- rounding, saturation, randomness
    def phase(self):
        self.lfsr.step()

    def _rnd(self, node, site, x, shift):
        rand = None
        if self.rounding == "stochastic" and shift > 0:
            shape = np.shape(x)[-1:] if site < SITE_W0 else np.shape(x)[-2:]
            count = int(np.prod(shape))
            rand = mix(self.lfsr.state, site_id(node.index, site),
                       np.arange(count)).reshape(shape)
        return round_shift(x, shift, self.rounding, rand)

    def _sat(self, node, site, x, fmt):
        y, over = fmt.saturate(x)
        if over.any():
            self.flags[node.index] |= 1 << site
        return y.astype(self.dtype)

    def zeros(self, size):
        return np.zeros(size, dtype=self.dtype)

    def snap(self, value):
        """A copy of a register's contents for a trace."""
        return np.array(value, copy=True)

    def flags_snapshot(self) -> dict:
        return {flags_field(name): np.int64(self.flags[i])
                for i, name in enumerate(self.node_names)}

    # -- registers
    def clamp(self, node, x):
        q, over = self.V.to_int(x)
        if over.any():
            self.flags[node.index] |= 1 << SITE_V
        return q.astype(self.dtype)

    def dense(self, node, Ws, vs, b):
        acc = sum(v @ W.T for W, v in zip(Ws, vs))
        if b is not None:
            acc = acc + b * (1 << self.V.frac_bits)
        return self._sat(node, SITE_A, self._rnd(node, SITE_A, acc, self.W.frac_bits), self.V)

    def act(self, node, a):
        f, g = act_fixed(node.act, a, self.V, self.table_bits,
                         lambda x, s: self._rnd(node, SITE_VHAT, x, s))
        return self._sat(node, SITE_VHAT, f, self.V), np.asarray(g).astype(self.dtype)

    def add(self, node, vs):
        return self._sat(node, SITE_VHAT, sum(vs[1:], vs[0].copy()), self.V)

    def mul(self, node, p, q):
        return self._sat(node, SITE_VHAT, self._rnd(node, SITE_VHAT, p * q, self.V.frac_bits),
                         self.V)

    def error(self, node, v, vhat):
        shift = self.V.frac_bits - self.E.frac_bits
        return self._sat(node, SITE_EPS, self._rnd(node, SITE_EPS, v - vhat, shift), self.E)

    def gate(self, node, eps, g):
        return self._sat(node, SITE_DELTA,
                         self._rnd(node, SITE_DELTA, eps * g, self.V.frac_bits), self.E)

    # -- messages: (exact integers, fraction bits)
    def t_dense(self, W, delta):
        return delta @ W, self.W.frac_bits + self.E.frac_bits

    def t_id(self, e):
        return e, self.E.frac_bits

    def t_mul(self, v, e):
        return v * e, self.V.frac_bits + self.E.frac_bits

    def relax(self, node, kind, base, eps, terms, k):
        fmt, site = (self.E, SITE_EPS) if kind == "eps" else (self.V, SITE_V)
        F = max([frac for _, frac in terms] + [self.E.frac_bits, fmt.frac_bits])
        s = sum(t * (1 << (F - frac)) for t, frac in terms) - eps * (1 << (F - self.E.frac_bits))
        acc = base * (1 << (F + k - fmt.frac_bits)) + s
        return self._sat(node, site, self._rnd(node, site, acc, F + k - fmt.frac_bits), fmt)

    def update_w(self, node, k, W, delta, v, k_theta):
        prod = np.multiply.outer(delta, v)
        shift = self.E.frac_bits + self.V.frac_bits + k_theta - self.W.frac_bits
        site = SITE_W0 + k
        return self._sat(node, site, W + self._rnd(node, site, prod, shift), self.W)

    def update_b(self, node, b, delta, k_theta):
        shift = self.E.frac_bits + k_theta - self.W.frac_bits
        return self._sat(node, SITE_B, b + self._rnd(node, SITE_B, delta, shift), self.W)


def _max_bits(graph) -> int:
    """A bound on the width of every intermediate integer of :class:`FixedArith`."""
    f, lr = graph.formats, graph.learning
    V, E, W = f.value, f.error, f.weight
    fan_in = max((sum(graph.node(p).size for p in n.inputs) + 1 for n in graph.nodes
                  if n.op != "input"), default=1)
    fan_out = max((sum(c.size for c in graph.children(n.name)) + 1 for n in graph.nodes),
                  default=1)
    # F of any node is at most this; every term is shifted left to F before summing
    F = max(E.frac_bits + max(W.frac_bits, V.frac_bits), V.frac_bits)
    k = lr.shift_v
    dense = W.width + V.width + fan_in.bit_length() + 1
    aligned = max(W.width + E.width + F - W.frac_bits - E.frac_bits,     # Wᵀ δ
                  V.width + E.width + F - V.frac_bits - E.frac_bits,     # v ⊙ ε
                  E.width + F - E.frac_bits)                             # δ, ε, and -ε
    msgs = aligned + (fan_out + 1).bit_length() + 1
    relax = max(msgs, V.width + F + k - V.frac_bits, E.width + F + k - E.frac_bits) + 2
    update = E.width + V.width + max(0, W.frac_bits - E.frac_bits - V.frac_bits) + 2
    return max(dense, relax, update) + 1


class FixedPC:
    """Bit-exact fixed-point PC on a graph with its own formats, mode and shifts.

    ``ticks`` overrides the graph's inference ticks per step (the alignment study varies
    it; the hardware runs the graph's own). Parameters and data cross the boundary as
    floats: :meth:`to_model` quantises parameters (they must be representable;
    :class:`SaturationError` otherwise), :meth:`to_float` gives their exact real values.
    """

    def __init__(self, graph, ticks=None):
        self.graph = graph
        self.arith = FixedArith(graph)
        lr = graph.learning
        self.mode = lr.mode
        if ticks is not None and (isinstance(ticks, bool) or not isinstance(ticks, Integral)
                                  or ticks < 0):
            raise ValueError(f"Ticks must be a non-negative integer, not {ticks!r}")
        self.engine = make_engine(graph, self.arith, lr.mode, lr.shift_v, lr.shift_theta,
                                  graph.ticks if ticks is None else int(ticks))

    def to_model(self, params: dict) -> dict:
        W = self.arith.W
        out = {}
        for k, v in params.items():
            q, over = W.to_int(v)
            if over.any():
                bad = np.asarray(v).flat[int(np.argmax(over))]
                raise SaturationError(f"parameter {k} holds {bad:g}, outside the weight "
                                      f"format {W} [{W.min:g}, {W.max:g}]")
            out[k] = q.astype(self.arith.dtype)
        return out

    def to_float(self, params: dict) -> dict:
        return {k: self.arith.W.to_float(v) for k, v in params.items()}

    def step(self, params, x, y):
        return self.engine.step(params, x, y)

    def predict(self, params, x) -> dict:
        """Float outputs of a batch (the exact values of the fixed-point predictions).

        Evaluation leaves the training state alone: the LFSR and the saturation flags are
        restored afterwards, so evaluating between steps never changes what training does.
        """
        state, flags = self.arith.lfsr.state, self.arith.flags.copy()
        try:
            out = self.engine.predict(params, x)
        finally:
            self.arith.lfsr.state, self.arith.flags = state, flags
        return {k: self.arith.V.to_float(v) for k, v in out.items()}

    def reset(self):
        self.engine.reset()

    def drain(self, params):
        """Finish the updates of samples still in the streaming pipeline."""
        return self.engine.drain(params)

    def flags(self) -> dict:
        """Sticky saturation flags: node name -> list of saturated registers."""
        return {n.name: decode_flags(int(self.arith.flags[n.index]), n)
                for n in self.graph.nodes if self.arith.flags[n.index]}

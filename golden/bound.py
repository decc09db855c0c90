"""A derived bound on how far the fixed-point model can be from the float model.

:class:`BoundArith` runs the float computation and, beside every register, a bound ``e``
on ``|fixed - float|`` (elementwise), by first-order-free interval reasoning: each rule
below holds for any fixed-point operands within their bounds, so the bounds compose along
the same engine, phases and ticks as the models themselves. Parameters enter exactly (the
float model is given the fixed model's parameters), data with its quantisation error.

``r(Q)`` is the rounding error of writing to format Q: ``lsb/2`` for nearest, ``lsb`` for
truncate and stochastic (both strictly below one lsb); 0 when no bits are dropped::

    x, y      e = lsb_V / 2                                    (nearest quantisation)
    a         e = Σ_p |W_p| e_p + r(V)
    f(a)      tables:  e = L_f e_a + T_f          f'(a): e = L_f' e_a + T_f'
              L_f = max|f'| (tanh 1, sigmoid 1/4), L_f' = max|f''| (tanh 4/(3√3),
              sigmoid √3/18), T = the table's largest error over all representable inputs
              (activations.table_error). Piecewise f: its slope times e_a (+ r(V) where it
              shifts); f' is exact unless [a - e_a, a + e_a] reaches a kink, then the jump.
    add       e = Σ e_p            mul   e = |p| e_q + |q| e_p + e_p e_q + r(V)
    ε         e = e_v + e_v̂ + r(E)   δ    e = |ε| e_g + |g| e_ε + e_ε e_g + r(E)
    messages  Wᵀδ: |W|ᵀ e_δ;  v ⊙ ε: |v| e_ε + |ε| e_v + e_v e_ε
    relax     fpa:  e = (1 - η_v) e_ε + η_v Σ e_msg + r(E)
              standard: e = (1 - η_v) e_v + η_v (e_v̂ + r(E) + Σ e_msg) + r(V)
                        (v + η_v(Σ - ε) = (1 - η_v) v + η_v (v̂ + Σ) with ε = v - v̂)
    ΔW        e = η_θ (|δ| e_vᵀ + e_δ |v|ᵀ + e_δ e_vᵀ) + r(W);   Δb: η_θ e_δ + r(W)

A register whose float value plus bound reaches its format's limits may have saturated in
fixed point; its bound becomes infinite (the flags say whether it did).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import LEAKY_SHIFT, df_float, f_float, table_error
from .stream import make_engine

__all__ = ["Bounded", "BoundArith", "weight_change_bound", "rounding_error"]

_LIP = {"tanh": (1.0, 4 / (3 * np.sqrt(3))), "sigmoid": (0.25, np.sqrt(3) / 18)}


def rounding_error(fmt, mode: str, shift: int = 1) -> float:
    """Largest error of dropping ``shift`` fraction bits into ``fmt`` (0 if none dropped)."""
    if shift <= 0:
        return 0.0
    return fmt.lsb / 2 if mode == "nearest" else fmt.lsb


@dataclass
class Bounded:
    """A float register ``x`` and the bound ``e`` on |fixed - x|.

    An error ε = v - v̂ also keeps ``rest``, the bound of ε's deviation that does not come
    from v (e_v̂ + r(E)), so that a value relaxation ``v - η ε = (1 - η) v + η v̂ + ...``
    is bounded without counting e_v twice.
    """

    x: np.ndarray
    e: np.ndarray
    rest: np.ndarray = None


class BoundArith:
    """Float values with running bounds on the fixed-point deviation (module docstring)."""

    def __init__(self, graph):
        f = graph.formats
        self.V, self.E, self.W = f.value, f.error, f.weight
        self.mode, self.table_bits = f.rounding, f.table_bits

    def _r(self, fmt, shift=1):
        return rounding_error(fmt, self.mode, shift)

    def _lim(self, b: Bounded, fmt) -> Bounded:
        reach = (b.x + b.e >= fmt.max) | (b.x - b.e <= fmt.min) | np.isnan(b.e)
        rest = None if b.rest is None else np.where(reach, np.inf, b.rest)
        return Bounded(b.x, np.where(reach, np.inf, b.e), rest)

    def phase(self):
        pass

    def zeros(self, size):
        return Bounded(np.zeros(size), np.zeros(size))

    def snap(self, value):
        return np.stack([value.x, value.e])

    def flags_snapshot(self) -> dict:
        return {}

    def clamp(self, node, x):
        x = np.asarray(x, dtype=np.float64)
        return self._lim(Bounded(x, np.full(x.shape, self.V.lsb / 2)), self.V)

    def dense(self, node, Ws, vs, b):
        x = sum(v.x @ W.x.T for W, v in zip(Ws, vs))
        e = sum(v.e @ np.abs(W.x).T for W, v in zip(Ws, vs)) + self._r(self.V)
        if b is not None:
            x = x + b.x
        return self._lim(Bounded(x, e), self.V)

    def act(self, node, a):
        x, e = a.x, a.e
        f, g = f_float(node.act, x), df_float(node.act, x)
        near = lambda k: np.abs(np.abs(x) - k) <= e  # noqa: E731  [a ± e] reaches ±k
        act = node.act
        if act in _LIP:
            t_f, t_g = table_error(act, self.V, self.table_bits)
            lf, lg = _LIP[act]
            ef, eg = lf * e + t_f, lg * e + t_g
        elif act == "identity":
            ef, eg = e, np.zeros_like(e)
        elif act == "relu":
            ef, eg = e, np.where(near(0), 1.0, 0.0)
        elif act == "leaky_relu":
            ef = e + self._r(self.V)
            eg = np.where(near(0), 1 - 2.0 ** -LEAKY_SHIFT, 0.0)
        elif act == "hardtanh":
            ef, eg = e, np.where(near(1), 1.0, 0.0)
        else:  # hardsigmoid
            ef, eg = e / 4 + self._r(self.V), np.where(near(2), 0.25, 0.0)
        return self._lim(Bounded(f, ef), self.V), Bounded(g, eg)

    def add(self, node, vs):
        return self._lim(Bounded(sum(v.x for v in vs), sum(v.e for v in vs)), self.V)

    def mul(self, node, p, q):
        return self._lim(self._prod(p, q, self._r(self.V)), self.V)

    @staticmethod
    def _prod(p: Bounded, q: Bounded, r=0.0) -> Bounded:
        return Bounded(p.x * q.x, np.abs(p.x) * q.e + np.abs(q.x) * p.e + p.e * q.e + r)

    def error(self, node, v, vhat):
        r = self._r(self.E, self.V.frac_bits - self.E.frac_bits)
        return self._lim(Bounded(v.x - vhat.x, v.e + vhat.e + r, vhat.e + r), self.E)

    def gate(self, node, eps, g):
        return self._lim(self._prod(eps, g, self._r(self.E)), self.E)

    def t_dense(self, W, delta):
        return Bounded(delta.x @ W.x, delta.e @ np.abs(W.x))

    def t_id(self, e):
        return e

    def t_mul(self, v, e):
        return self._prod(v, e)

    def relax(self, node, kind, base, eps, terms, eta):
        s = Bounded(sum(t.x for t in terms), sum(t.e for t in terms))
        x = base.x + eta * (s.x - eps.x)
        if kind == "eps":
            e = (1 - eta) * eps.e + eta * s.e + self._r(self.E)
            return self._lim(Bounded(x, e), self.E)
        # base is the v that eps = v - v̂ was computed from (the engine's hidden node)
        e = (1 - eta) * base.e + eta * (eps.rest + s.e) + self._r(self.V)
        return self._lim(Bounded(x, e), self.V)

    def update_w(self, node, k, W, delta, v, eta):
        d, vv = delta, v
        e = eta * (np.outer(np.abs(d.x), vv.e) + np.outer(d.e, np.abs(vv.x))
                   + np.outer(d.e, vv.e))
        shift = self.E.frac_bits + self.V.frac_bits - self.W.frac_bits + _shift(eta)
        return self._lim(Bounded(W.x + eta * np.outer(d.x, vv.x),
                                 W.e + e + self._r(self.W, shift)), self.W)

    def update_b(self, node, b, delta, eta):
        shift = self.E.frac_bits - self.W.frac_bits + _shift(eta)
        return self._lim(Bounded(b.x + eta * delta.x, b.e + eta * delta.e
                                 + self._r(self.W, shift)), self.W)


def _shift(eta: float) -> int:
    return int(round(-np.log2(eta)))


def weight_change_bound(graph, params: dict, x: dict, y: dict):
    """Float weight changes of one step and their bounds against the fixed model.

    ``params`` are floats exactly representable in the weight format (the fixed model's
    parameters). In streaming mode the sample is presented and the pipeline drained.
    Returns ``(dW_float, bound)``, dicts by parameter name.
    """
    lr = graph.learning
    eng = make_engine(graph, BoundArith(graph), lr.mode, lr.eta_v, lr.eta_theta, graph.ticks)
    bp = {k: Bounded(np.asarray(v, dtype=np.float64), np.zeros(np.shape(v)))
          for k, v in params.items()}
    with np.errstate(invalid="ignore", over="ignore"):
        new, _ = eng.step(bp, x, y)
        new = eng.drain(new)
    return ({k: new[k].x - bp[k].x for k in params}, {k: new[k].e for k in params})

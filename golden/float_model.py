"""The float64 golden model of predictive coding (the math of the spec, without rounding).

:class:`FloatPC` runs :class:`~.engine.Engine` with :class:`FloatArith`. Unlike the fixed
model it accepts any positive learning rates and tick counts as overrides (``eta_v=0.1``),
so it can explore what the hardware's shifts cannot express.

>>> from .graph import GraphBuilder
>>> g = (GraphBuilder("t").input("x", 1).dense("h", ["x"], 1, act="identity")
...      .dense("y", ["h"], 1, output=True).build())
>>> m = FloatPC(g)
>>> p = {"h.W.x": np.array([[2.0]]), "y.W.h": np.array([[3.0]])}
>>> new, tr = m.step(p, {"x": np.array([1.0])}, {"y": np.array([7.0])})
>>> tr["h.eps"][:, 0].tolist(), float(new["h.W.x"][0, 0])     # ε_h = 3 (7 - 6) = -dL/dh
([0.0, 3.0], 2.375)
"""

from __future__ import annotations

import numpy as np

from .activations import df_float, f_float
from .stream import make_engine

__all__ = ["FloatArith", "FloatPC"]


class FloatArith:
    """Register arithmetic in float64: every operation exact up to float rounding."""

    def phase(self):
        pass

    def zeros(self, size):
        return np.zeros(size)

    def snap(self, value):
        """A copy of a register's contents for a trace."""
        return np.array(value, copy=True)

    def flags_snapshot(self) -> dict:
        return {}

    def clamp(self, node, x):
        return np.asarray(x, dtype=np.float64)

    def dense(self, node, Ws, vs, b):
        a = sum(v @ W.T for W, v in zip(Ws, vs))
        return a + b if b is not None else a

    def act(self, node, a):
        return f_float(node.act, a), df_float(node.act, a)

    def add(self, node, vs):
        return sum(vs[1:], vs[0].copy())

    def mul(self, node, p, q):
        return p * q

    def error(self, node, v, vhat):
        return v - vhat

    def gate(self, node, eps, g):
        return eps * g

    def t_dense(self, W, delta):
        return delta @ W

    def t_id(self, e):
        return e

    def t_mul(self, v, e):
        return v * e

    def relax(self, node, kind, base, eps, terms, eta):
        return base + eta * (sum(terms) - eps)

    def update_w(self, node, k, W, delta, v, eta):
        return W + eta * np.outer(delta, v)

    def update_b(self, node, b, delta, eta):
        return b + eta * delta


class FloatPC:
    """Float PC on a graph; ``mode``, ``eta_v``, ``eta_theta``, ``ticks`` override the
    graph's learning settings."""

    def __init__(self, graph, mode=None, eta_v=None, eta_theta=None, ticks=None):
        lr = graph.learning
        self.graph = graph
        self.mode = mode or lr.mode
        ticks = graph.ticks if ticks is None else ticks
        self.engine = make_engine(graph, FloatArith(), self.mode,
                             lr.eta_v if eta_v is None else eta_v,
                             lr.eta_theta if eta_theta is None else eta_theta, ticks)

    def to_model(self, params: dict) -> dict:
        return {k: np.asarray(v, dtype=np.float64).copy() for k, v in params.items()}

    def to_float(self, params: dict) -> dict:
        return {k: np.asarray(v, dtype=np.float64).copy() for k, v in params.items()}

    def step(self, params, x, y):
        """One training step; see :meth:`Engine.step`."""
        return self.engine.step(params, x, y)

    def predict(self, params, x) -> dict:
        return self.engine.predict(params, x)

    def reset(self):
        self.engine.reset()

    def drain(self, params):
        """Finish the updates of samples still in the streaming pipeline."""
        return self.engine.drain(params)

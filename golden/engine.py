"""Predictive coding on a graph: forward sweep, Jacobi inference ticks, weight update.

The algorithm is written once here over an *arithmetic*: :class:`~.float_model.FloatArith`
(float64), :class:`~.fixed_model.FixedArith` (the bit-exact integer specification of the
hardware) or :class:`~.bound.BoundArith` (float with a running error bound). The
arithmetic decides how each register is computed and rounded; this module decides which
registers exist, when they change and from what.

Registers of a non-input node i (all vectors of the node's size)::

    a      pre-activation   dense: Σ_p W_{i,p} v_p + b_i      act: v_p
    vhat   prediction       f(a) | Σ_p v_p (add) | v_p ⊙ v_q (mul)
    g      gain f'(a)       dense and act nodes
    v      value            clamped to x (inputs) or y (outputs); hidden: see the modes
    eps    error            v - vhat   (outputs: y - vhat)
    delta  gated error      eps ⊙ g    (dense and act nodes)

The message a child j sends to its parent i is J_{j,i}ᵀ ε_j::

    dense: W_{j,i}ᵀ δ_j      act: δ_j      add: ε_j      mul: v_q ⊙ ε_j  (q the other parent)

Phases (each starts by advancing the arithmetic's random source, see :mod:`.lfsr`):

* **forward**: inputs clamped, every other node in topological order gets a, vhat, g from
  its parents; hidden v = vhat (so hidden ε = 0), outputs v = y; ε and δ.
* **tick** t = 1..T, Jacobi (every update reads the state left by the previous phase):

  - exact / fpa (fixed prediction assumption; a, vhat, g, v stay at their forward values):
    ``ε_i ← ε_i + η_v (−ε_i + Σ_j msg_{j→i})`` for hidden i, then ``δ_i ← ε_i ⊙ g_i``.
    With η_v = 1 this is ``ε_i ← Σ_j msg_{j→i}``; after D ticks ε_i = −∂L/∂v_i.
  - standard: ``v_i ← v_i + η_v (−ε_i + Σ_j msg_{j→i})`` for hidden i, then a, vhat, g,
    ε, δ of every node are recomputed from the new values.
  - streaming: a pipeline with a new sample every tick, see :mod:`.stream`.

* **update**: ``W_{i,p} ← W_{i,p} + η_θ δ_i v_pᵀ``, ``b_i ← b_i + η_θ δ_i``,
  with the final δ and, in exact and fpa, the forward values v_p (= vhat_p, or x).

A step returns a trace: every register of every node after phase 0 (the forward sweep) and
after each tick, and the sticky saturation flags.
"""

from __future__ import annotations

import numpy as np

from .dataflow import Dataflow, Via

__all__ = ["Engine", "REGISTERS", "node_registers", "stack_snapshots"]

#: The per-node registers a trace holds, in this order.
REGISTERS = ("v", "a", "vhat", "g", "eps", "delta")


def node_registers(node, streaming: bool = False) -> list:
    """The registers one node holds (its trace keys ``{node}.{reg}``): inputs only v;
    dense and act nodes v, a, vhat, g, eps, delta; add and mul nodes v, vhat, eps; in
    streaming mode outputs also y (the target of the sample in their forward stage)."""
    if node.op == "input":
        return ["v"]
    regs = ["v", "a", "vhat", "g", "eps", "delta"] if node.op in ("dense", "act") else \
        ["v", "vhat", "eps"]
    return regs + (["y"] if streaming and node.output else [])


class Engine:
    """PC dynamics of one graph in one arithmetic.

    Parameters
    ----------
    graph : Graph
    arith : arithmetic object (see the module docstring)
    mode : str
        One of exact, fpa, standard, streaming.
    eta_v, eta_theta : learning rates in the arithmetic's own representation
    ticks : int
        Inference ticks per sample.
    """

    def __init__(self, graph, arith, mode, eta_v, eta_theta, ticks):
        self.graph, self.arith = graph, arith
        self.mode, self.eta_v, self.eta_theta, self.ticks = mode, eta_v, eta_theta, ticks
        self.nodes = graph.nodes
        self.hidden = [n for n in graph.nodes if n.is_hidden]
        #: who reads what (and, streaming, how many ticks back): :mod:`.dataflow`
        self.flow = Dataflow(graph, mode == "streaming")

    # ------------------------------------------------------------------ building blocks
    def _predict(self, node, params, vals, regs):
        """a, vhat, g of a non-input node from its parents' values ``vals``."""
        A = self.arith
        ps = [vals[p] for p in node.inputs]
        if node.op == "dense":
            Ws = [params[f"{node.name}.W.{p}"] for p in node.inputs]
            a = A.dense(node, Ws, ps, params.get(f"{node.name}.b"))
            regs["a"] = a
            regs["vhat"], regs["g"] = A.act(node, a)
        elif node.op == "act":
            regs["a"] = ps[0]
            regs["vhat"], regs["g"] = A.act(node, ps[0])
        elif node.op == "add":
            regs["vhat"] = A.add(node, ps)
        else:
            regs["vhat"] = A.mul(node, ps[0], ps[1])

    def _errors(self, node, regs):
        regs["eps"] = self.arith.error(node, regs["v"], regs["vhat"])
        if "g" in regs:
            regs["delta"] = self.arith.gate(node, regs["eps"], regs["g"])

    def _derive(self, params, state, clamp):
        """Recompute every non-input node's a, vhat, g, ε, δ from the values in ``state``."""
        vals = {n.name: state[n.name]["v"] for n in self.nodes}
        for node in self.nodes:
            if node.op == "input":
                continue
            regs = state[node.name]
            self._predict(node, params, vals, regs)
            if node.output:
                regs["v"] = clamp[node.name]
            self._errors(node, regs)

    def _messages(self, node, params, read):
        """Σ_j J_{j,i}ᵀ ε_j for hidden node i, as a list of exact terms, one per child
        (:meth:`~.dataflow.Dataflow.messages`); ``read`` gives a :class:`~.dataflow.Read`'s
        value."""
        A = self.arith
        terms = []
        for m in self.flow.messages(node.name):
            error = read(m.error)
            if m.via is Via.DENSE:
                terms.append(A.t_dense(params[f"{m.child}.W.{node.name}"], error))
            elif m.via is Via.MUL:
                terms.append(A.t_mul(read(m.other), error))
            else:
                terms.append(A.t_id(error))
        return terms

    def _current(self, state):
        """The ``read`` of :meth:`_messages` outside streaming: the current state."""
        return lambda r: state[r.node][r.reg]

    def _update(self, params, state):
        """New parameters from δ_i and the parents' values in ``state``."""
        A = self.arith
        new = dict(params)
        for node in self.nodes:
            if node.op != "dense":
                continue
            delta = state[node.name]["delta"]
            for k, p in enumerate(node.inputs):
                key = f"{node.name}.W.{p}"
                new[key] = A.update_w(node, k, params[key], delta, state[p]["v"],
                                      self.eta_theta)
            if node.bias:
                key = f"{node.name}.b"
                new[key] = A.update_b(node, params[key], delta, self.eta_theta)
        return new

    def _snapshot(self, state):
        snap = {}
        for node in self.nodes:
            for r in REGISTERS:
                if r in state[node.name]:
                    snap[f"{node.name}.{r}"] = self.arith.snap(state[node.name][r])
        snap.update(self.arith.flags_snapshot())
        return snap

    # ------------------------------------------------------------------ phases
    def forward(self, params, x: dict, y: dict | None = None):
        """The forward sweep (one phase). ``x``/``y`` map node names to (…, size) arrays."""
        A = self.arith
        A.phase()
        state = {}
        vals = {}
        for node in self.nodes:
            regs = {}
            if node.op == "input":
                regs["v"] = A.clamp(node, x[node.name])
            else:
                self._predict(node, params, vals, regs)
                if node.output and y is not None:
                    regs["v"] = A.clamp(node, y[node.name])
                else:
                    regs["v"] = regs["vhat"]
                if y is not None:
                    self._errors(node, regs)
            vals[node.name] = regs["v"]
            state[node.name] = regs
        return state

    def predict(self, params, x: dict) -> dict:
        """Output predictions vhat of a batch (forward sweep only)."""
        state = self.forward(params, x)
        return {n.name: state[n.name]["vhat"] for n in self.graph.outputs}

    def step(self, params, x: dict, y: dict):
        """One training step on one sample; returns (new params, trace dict of stacked
        snapshots, each of shape (T + 1, ...))."""
        A = self.arith
        state = self.forward(params, x, y)
        snaps = [self._snapshot(state)]
        for _ in range(self.ticks):
            A.phase()
            if self.mode in ("exact", "fpa"):
                new_eps = {n.name: A.relax(n, "eps", state[n.name]["eps"],
                                           state[n.name]["eps"],
                                           self._messages(n, params, self._current(state)),
                                           self.eta_v)
                           for n in self.hidden}
                for name, eps in new_eps.items():
                    regs = state[name]
                    regs["eps"] = eps
                    if "g" in regs:
                        regs["delta"] = A.gate(self.graph.node(name), eps, regs["g"])
            else:
                self._relax_values(params, state)
                clamp = {n.name: state[n.name]["v"] for n in self.graph.outputs}
                self._derive(params, state, clamp)
            snaps.append(self._snapshot(state))
        A.phase()
        new_params = self._update(params, state)
        return new_params, stack_snapshots(snaps)

    def _relax_values(self, params, state):
        A = self.arith
        new_v = {n.name: A.relax(n, "v", state[n.name]["v"], state[n.name]["eps"],
                                 self._messages(n, params, self._current(state)), self.eta_v)
                 for n in self.hidden}
        for name, v in new_v.items():
            state[name]["v"] = v

    def reset(self):
        """Nothing carries over between samples outside streaming mode."""

    def drain(self, params):
        """Outside streaming mode every step completes its update: nothing in flight."""
        return params


def stack_snapshots(snaps: list) -> dict:
    """Snapshots (dicts of same-keyed arrays) stacked along a new first axis, key by key:
    the trace of a step from its snapshot after each phase.

    Parameters
    ----------
    snaps : list of dict
        One dict per phase, every one with the same keys.

    Returns
    -------
    dict
        ``{key: np.stack([s[key] for s in snaps])}``.
    """
    return {k: np.stack([s[k] for s in snaps]) for k in snaps[0]}

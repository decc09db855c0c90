"""The PC dataflow: which register each node and edge reads, and how many ticks back.

Written once here and used by everything that runs the algorithm: the golden engines
(:class:`~.engine.Engine`, :class:`~.stream.StreamEngine`), the streaming schedule's delay
lines (:func:`~.stream.schedule`) and the hardware's per-PE plans (``pcfpga.hdl.plans``),
so that golden and hardware cannot disagree on who reads what.

Outside streaming mode every read is of the current state (lag 0). In streaming mode
(:mod:`.stream`) node i works on sample ``t - f(i)`` in its forward stage and on sample
``t - e(i)`` in its backward stage, and a read of register r of node n for the sample
that entered ``k`` ticks before this one, made by a stage whose own register n wrote for
that sample ``d`` ticks ago, is ``lag = d - 1`` ticks back in n's delay line (lag 0: the
register itself, written last tick)::

    forward   a_i, v̂_i    v_p of each parent             lag f(i) - f(p) - 1
    output    v_i         its own target y                lag f(i) - 1
    backward  ε_i         each child's message:           lag e(i) - e(c) - 1
                            dense  W_{c,i}ᵀ δ_c    act δ_c    add ε_c
                            mul    v_q ⊙ ε_c, v_q at      lag e(i) - f(q) - 1
              δ_i         its own g                       lag e(i) - f(i) - 1
    edge p -> i  W v_p    v_p                             lag f(i) - f(p) - 1
                 Wᵀ δ_i   δ_i (hidden p)                  lag e(p) - e(i) - 1
                 update   δ_i and v_p of sample t - u     lag u - e(i) - 1, u - f(p) - 1

with u = u(i, p) = e(p) for a hidden parent (the tick p reads δ_i for its message) and
e(i) + 1 for an input parent; the bias updates with sample ``t - e(i) - 1``, reading its own
δ (lag 0).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Via", "Read", "Message", "EdgeReads", "Dataflow", "forward_levels", "levels"]


def forward_levels(graph) -> dict:
    """f: the longest path from an input to each node (inputs 0)."""
    f = {}
    for n in graph.nodes:
        f[n.name] = 0 if n.op == "input" else 1 + max(f[p] for p in n.inputs)
    return f


def levels(graph):
    """(f, e): forward level and backward completion offset of every node."""
    f, e = forward_levels(graph), {}
    for n in reversed(graph.nodes):
        if n.output:
            e[n.name] = f[n.name]
        elif n.op != "input":
            e[n.name] = 1 + max(e[c.name] for c in graph.children(n.name))
    return f, e


class Via(enum.Enum):
    """How a child's error reaches a hidden parent: its term of Σ_j J_{j,i}ᵀ ε_j."""

    DENSE = "dense"     # W_{c,i}ᵀ δ_c, the edge's product
    ACT = "act"         # δ_c as it is
    ADD = "add"         # ε_c as it is
    MUL = "mul"         # v_q ⊙ ε_c, the mul node's product (q: its other parent)


@dataclass(frozen=True)
class Read:
    """Register ``reg`` of ``node`` as it was ``lag`` ticks before the last one (0: the
    register itself; streaming only, else always 0)."""

    node: str
    reg: str
    lag: int = 0


@dataclass(frozen=True)
class Message:
    """The message J_{c,i}ᵀ ε_c of ``child`` c to its hidden ``parent`` i: ``via`` how,
    made of ``error`` (δ_c or ε_c, as i's backward stage needs it) and, for a mul child,
    ``other`` (v_q of its other parent q, for the same sample)."""

    child: str
    parent: str
    via: Via
    error: Read
    other: Read | None = None


@dataclass(frozen=True)
class EdgeReads:
    """What the dense edge ``parent`` -> ``child`` reads: v_p for ``forward`` (W v_p),
    δ_c for ``backward`` (Wᵀ δ_c, None for an input parent), and ``delta`` and ``value``
    for the update; ``offset``: the update's sample offset u (streaming: it updates only
    when a sample entered u ticks ago), None outside streaming mode."""

    child: str
    parent: str
    forward: Read
    backward: Read | None
    delta: Read
    value: Read
    offset: int | None


class Dataflow:
    """The reads of every node and edge of ``graph`` (module docstring), with lags when
    ``streaming``. ``f``, ``e`` and ``u`` are the schedule's offsets (computed in every
    mode; only streaming reads use them)."""

    def __init__(self, graph, streaming: bool):
        self.graph, self.streaming = graph, streaming
        self.f, self.e = levels(graph)
        self.u = {(n.name, p): (self.e[p] if graph.node(p).is_hidden else self.e[n.name] + 1)
                  for n in graph.nodes if n.op == "dense" for p in n.inputs}

    def _read(self, node, reg, lag) -> Read:
        return Read(node, reg, lag if self.streaming else 0)

    def inputs(self, name) -> tuple:
        """The parents' values the prediction of ``name`` reads, in input order."""
        f = self.f
        return tuple(self._read(p, "v", f[name] - f[p] - 1)
                     for p in self.graph.node(name).inputs)

    def messages(self, name) -> tuple:
        """The :class:`Message` of every child of ``name`` (hidden nodes; else none)."""
        g, f, e = self.graph, self.f, self.e
        if not g.node(name).is_hidden:
            return ()
        out = []
        for c in g.children(name):
            lag = e[name] - e[c.name] - 1
            if c.op == "mul":
                q = [x for x in c.inputs if x != name][0]
                out.append(Message(c.name, name, Via.MUL, self._read(c.name, "eps", lag),
                                   self._read(q, "v", e[name] - f[q] - 1)))
            else:
                reg = "eps" if c.op == "add" else "delta"
                out.append(Message(c.name, name, Via(c.op), self._read(c.name, reg, lag)))
        return tuple(out)

    def sends(self, name) -> tuple:
        """The messages the mul node ``name`` computes, one per hidden parent."""
        node = self.graph.node(name)
        if node.op != "mul":
            return ()
        return tuple(m for p in node.inputs for m in self.messages(p) if m.child == name)

    def gain(self, name) -> Read:
        """The g a hidden node's backward stage gates its ε with (its own)."""
        return self._read(name, "g", self.e[name] - self.f[name] - 1)

    def target(self, name) -> Read:
        """The target an output is clamped to (its own ``y`` line; streaming)."""
        return self._read(name, "y", self.f[name] - 1)

    def bias_offset(self, name) -> int:
        """The sample offset of a bias update (streaming)."""
        return self.e[name] + 1

    def edge(self, child, parent) -> EdgeReads:
        """The reads of the dense edge ``parent`` -> ``child``."""
        f, e, u = self.f, self.e, self.u[(child, parent)]
        hidden = self.graph.node(parent).is_hidden
        return EdgeReads(child, parent, self._read(parent, "v", f[child] - f[parent] - 1),
                         (self._read(child, "delta", e[parent] - e[child] - 1) if hidden
                          else None),
                         self._read(child, "delta", u - e[child] - 1),
                         self._read(parent, "v", u - f[parent] - 1),
                         u if self.streaming else None)

    def reads(self):
        """Every read any node or edge makes (with repeats), node by node: its prediction's,
        its edges' updates', its backward stage's, its target's (the order in which
        :meth:`line_depths` lists the delay lines, and so the memory map)."""
        g = self.graph
        for n in g.nodes:
            if n.op == "input":
                continue
            yield from self.inputs(n.name)
            if n.op == "dense":
                for p in n.inputs:
                    r = self.edge(n.name, p)
                    yield from (x for x in (r.value, r.delta, r.forward, r.backward) if x)
            if n.is_hidden:
                if n.op in ("dense", "act"):
                    yield self.gain(n.name)
                for m in self.messages(n.name):
                    yield from (x for x in (m.error, m.other) if x)
            if n.output and self.streaming:
                yield self.target(n.name)

    def line_depths(self) -> dict:
        """(node, register) -> how many ticks back it is read, where more than 0: the
        delay lines streaming mode keeps."""
        need = {}
        for r in self.reads():
            need[(r.node, r.reg)] = max(need.get((r.node, r.reg), 0), r.lag)
        return {k: v for k, v in need.items() if v > 0}

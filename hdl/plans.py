"""Per-PE plans: what each processing element does and reads, decided before it is built.

A :class:`NodePlan` (per node) or :class:`EdgePlan` (per dense edge) lists the micro-steps
the PE writes in, the neighbours' registers it reads and at which lag (:class:`Read`), the
products and messages it takes and what it sends; :mod:`.ports` makes it the PE's
``wiring.Signature`` and the PE's datapath must use exactly that (:mod:`.pe`).
:func:`check_plans` checks the plans against the program and each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from pcfpga.golden.engine import node_registers

from .folding import EdgeFold
from .program import Program, Step

__all__ = ["Read", "NodePlan", "EdgePlan", "node_plan", "edge_plan", "check_plans"]

@dataclass(frozen=True)
class Read:
    """A PE reads register ``reg`` of ``node`` as it was ``lag`` ticks before this one
    (streaming; else 0): the producer's register, or a tap of its delay line."""

    node: str
    reg: str
    lag: int = 0

    @property
    def port(self) -> str:
        return f"rd_{self.node}_{self.reg}_{self.lag}"


@dataclass(frozen=True)
class NodePlan:
    """One node's processing element: its registers, folding, and interface.

    ``steps``: the micro-steps it writes in (their strobes); ``reads``: the neighbours'
    registers it reads (:class:`Read`); ``partials``: the parents whose exact forward
    products W v it takes from their edges (dense nodes; a ``fused`` serial node takes row
    sums instead); ``messages``: the children whose exact messages it takes (dense children:
    from the edge; mul children: from the child); ``sends``: the hidden parents a mul node
    sends v_q ⊙ ε to; ``served``: its registers other nodes read (serial: one read port
    each); ``bubble``/``presented``: it uses the streaming BUBBLE bit / the presented history."""

    name: str
    own: tuple                      # its registers (the golden trace's)
    lines: MappingProxyType         # register -> delay-line depth (streaming)
    gate: tuple | None              # (lanes, depth) of a folded δ = ε ⊙ g
    act_table: int | None           # tanh/sigmoid tables in block RAM (their bits)
    fused: bool                     # serial, one dense parent: row sums handed over
    steps: tuple
    reads: tuple
    partials: tuple
    messages: tuple
    sends: tuple
    served: tuple
    bubble: bool
    presented: bool


@dataclass(frozen=True)
class EdgePlan:
    """One dense edge parent -> child: its folding (None: fully parallel) and interface
    (as :class:`NodePlan`'s; ``sends``: ``fwd`` (the forward products) and ``msg`` (the
    message to a hidden parent), or the ``row_sum`` handed to a fused child)."""

    child: str
    parent: str
    k: int                          # the parent's index among the child's inputs
    fold: EdgeFold | None
    work: MappingProxyType          # kind -> [Steps] of a folded edge
    single_port: bool               # weights in a single-port memory (SPRAM)
    half_update: bool               # PU at half rate (any single-port edge in the design)
    fused: bool
    steps: tuple
    reads: tuple
    sends: tuple
    presented: bool

    @property
    def key(self) -> str:
        return f"{self.child}.W.{self.parent}"

    #: an edge's update waits for its sample's δ, never for the BUBBLE bit of this tick
    bubble = False


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))


def node_plan(graph, n, plan, sched, levels, served) -> NodePlan:
    """What node ``n``'s PE does and reads (as :mod:`.parallel`, :mod:`.fold` and
    :mod:`.serial` build it)."""
    streaming, serial = sched is not None, plan.serial
    mode = graph.learning.mode
    gated = n.op in ("dense", "act")                     # a, g, δ
    fused = serial and n.op == "dense" and len(n.inputs) == 1
    f, e = (sched.f, sched.e) if streaming else ({}, {})
    reads, bubble, valid = [], False, set()
    if n.op == "input":
        steps = [Step.S1] if streaming else [Step.F0]
        bubble = streaming
    elif streaming:
        steps = [Step.S1] + ([Step.S2] if gated else [])
        if n.output:
            steps += [Step.S3] + ([Step.S4] if gated else [])
            bubble = True
        if n.bias:
            valid.add(e[n.name] + 1)
    else:
        lv = levels[n.name]
        steps = [Step.pf(lv) if fused else Step.fa(lv)] + ([Step.ff(lv)] if gated else [])
        steps += [Step.FE] + ([Step.FD] if gated else [])
        if n.is_hidden:
            steps += ([Step.TE] + ([Step.TD] if gated else []) if mode in ("exact", "fpa")
                      else [Step.TV])
        if mode == "standard":
            steps += ([Step.PFT if fused else Step.TA] + ([Step.TF] if gated else [])
                      + [Step.TE] + ([Step.TD] if gated else []))
        if n.bias:
            steps.append(Step.UPD)
    if n.op in ("act", "add", "mul"):
        reads += [Read(p, "v", f[n.name] - f[p] - 1 if streaming else 0) for p in n.inputs]
    messages = []
    if n.is_hidden:
        for c in graph.children(n.name):
            lag = e[n.name] - e[c.name] - 1 if streaming else 0
            if c.op in ("dense", "mul"):
                messages.append(c.name)
            else:
                reads.append(Read(c.name, "delta" if c.op == "act" else "eps", lag))
    sends = []
    if n.op == "mul":
        for p in n.inputs:
            if graph.node(p).is_hidden:
                q = [x for x in n.inputs if x != p][0]
                reads.append(Read(q, "v", e[p] - f[q] - 1 if streaming else 0))
                sends.append(p)
    own = tuple(node_registers(n, streaming))
    lags = sched.lags if streaming else {}
    return NodePlan(
        n.name, own, MappingProxyType({r: lags[(n.name, r)] for r in own if (n.name, r) in lags}),
        plan.gates.get(n.name), plan.acts.get(n.name), fused, _unique(steps), _unique(reads),
        tuple(n.inputs) if n.op == "dense" and not fused else (), tuple(messages),
        tuple(sends), tuple(r for r in own if r in served), bubble or 0 in valid,
        any(u > 0 for u in valid))


def edge_plan(graph, c, p, plan, sched) -> EdgePlan:
    """What the edge p -> c does and reads (as :class:`~.parallel.EdgePE` and
    :class:`~.fold.FoldedEdgePE` build it)."""
    child, hidden = graph.node(c), graph.node(p).is_hidden
    fold, work = plan.edges.get((c, p)), plan.work.get((c, p), {})
    fused = plan.serial and len(child.inputs) == 1
    presented = False
    if sched is not None:
        f, e, u = sched.f, sched.e, sched.u[(c, p)]
        reads = [Read(p, "v", f[c] - f[p] - 1)]
        reads += [Read(c, "delta", e[p] - e[c] - 1)] if hidden else []
        reads += [Read(c, "delta", u - e[c] - 1), Read(p, "v", u - f[p] - 1)]
        steps, presented = [Step.S1], True
    else:
        reads = [Read(p, "v"), Read(c, "delta")]
        steps = [ph for phases in work.values() for ph in phases] if fold else [Step.UPD]
    sends = (["row_sum"] if fused else ["fwd"]) + (["msg"] if hidden else [])
    return EdgePlan(c, p, child.inputs.index(p), fold, MappingProxyType(dict(work)),
                    (c, p) in plan.single_port, bool(plan.single_port), fused,
                    _unique(steps), _unique(reads), tuple(sends), presented)


def check_plans(prog: Program, nodes: dict, edges: dict):
    """Every step a PE takes is in the program, every register it reads is its producer's,
    and a lag beyond 0 is a tap of the producer's delay line: the interfaces agree with the
    design before anything is built."""
    steps = set(prog.steps)
    for who, pe in [*((n, x) for n, x in nodes.items()), *((f"{c} <- {p}", x)
                                                          for (c, p), x in edges.items())]:
        for s in pe.steps:
            if s not in steps:
                raise AssertionError(f"PE {who} writes in micro-step {s}, which the program "
                                     f"({', '.join(map(str, prog.steps))}) does not run")
        for r in pe.reads:
            producer = nodes[r.node]
            if r.reg not in producer.own:
                raise AssertionError(f"PE {who} reads {r.node}.{r.reg}, which {r.node} does "
                                     f"not hold")
            if not 0 <= r.lag <= producer.lines.get(r.reg, 0):
                raise AssertionError(f"PE {who} reads {r.node}.{r.reg} {r.lag} ticks back, "
                                     f"beyond its delay line")


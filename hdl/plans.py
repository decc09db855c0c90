"""Per-PE plans: what each processing element does and reads, decided before it is built.

A :class:`NodePlan` (per node) or :class:`EdgePlan` (per dense edge) lists the micro-steps
the PE writes in, the neighbours' registers it reads and at which lag (a
:class:`~pcfpga.golden.dataflow.Read`), the products and messages it takes and what it
sends. Who reads what is the golden engine's :class:`~pcfpga.golden.dataflow.Dataflow`,
kept in the plan as the datapath uses it (``inputs``, ``terms``, ``outgoing``, ``gain``,
``target``; an edge's ``flow``), so the hardware's reads are the golden model's.
:mod:`.ports` makes a plan the PE's ``wiring.Signature`` and the PE's datapath must use
exactly that (:mod:`.pe`). :func:`check_plans` checks the plans against the program and
each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from pcfpga.golden.dataflow import Dataflow, EdgeReads, Read, Via
from pcfpga.golden.engine import node_registers

from .folding import EdgeFold
from .program import Program, Step, fused, node_steps

__all__ = ["NodePlan", "EdgePlan", "node_plan", "edge_plan", "check_plans",
           "served_registers"]


@dataclass(frozen=True)
class NodePlan:
    """One node's processing element: its registers, folding, and interface.

    ``steps``: the micro-steps it writes in (their strobes; a dense node writes its edges'
    saturation bits into its flags in UPD); ``reads``: the neighbours' registers it reads
    (:class:`Read`); ``partials``: the parents whose exact forward products W v it takes from
    their edges (dense nodes; a ``fused`` serial node takes row sums instead); ``messages``:
    the children whose exact messages it takes (dense children: from the edge; mul children:
    from the child); ``sends``: the hidden parents a mul node sends v_q ⊙ ε to; ``served``:
    its registers other nodes read (serial: one read port each); ``bubble``/``presented``:
    it uses the streaming BUBBLE bit / the presented history.

    The dataflow (:class:`~pcfpga.golden.dataflow.Dataflow`) as the datapath uses it:
    ``inputs``, the parents' values its prediction reads; ``terms``, one
    :class:`~pcfpga.golden.dataflow.Message` per child (hidden nodes); ``outgoing``, the
    messages a mul node computes for its hidden parents; ``gain`` and ``target``
    (streaming), the g its backward stage gates with and the target an output is clamped
    to; ``bias_offset`` (streaming), the sample offset of its bias update."""

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
    inputs: tuple
    terms: tuple
    outgoing: tuple
    gain: Read | None
    target: Read | None
    bias_offset: int | None


@dataclass(frozen=True)
class EdgePlan:
    """One dense edge parent -> child: its folding (None: fully parallel) and interface
    (as :class:`NodePlan`'s; ``sends``: ``fwd`` (the forward products) and ``msg`` (the
    message to a hidden parent), or the ``row_sum`` handed to a fused child); ``flow``: its
    reads as the dataflow has them (:class:`~pcfpga.golden.dataflow.EdgeReads`)."""

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
    flow: EdgeReads

    @property
    def key(self) -> str:
        return f"{self.child}.W.{self.parent}"

    #: an edge's update waits for its sample's δ, never for the BUBBLE bit of this tick
    bubble = False


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))


def _node_reads(flow: Dataflow, n) -> tuple:
    """The neighbours' registers node ``n``'s PE reads: its parents' values (act, add,
    mul; a dense node takes its edges' products instead), its act and add children's δ / ε
    (dense and mul children send messages), and, a mul node, the other parent's v for each
    message it sends."""
    reads = list(flow.inputs(n.name)) if n.op in ("act", "add", "mul") else []
    reads += [m.error for m in flow.messages(n.name) if m.via in (Via.ACT, Via.ADD)]
    reads += [m.other for m in flow.sends(n.name)]
    return _unique(reads)


def served_registers(graph, flow: Dataflow) -> dict:
    """node -> the registers other PEs read (the serial architecture's read ports): the
    nodes' reads, and the dense edges' v_p (their δ_c: the child's own ports, by size)."""
    served = {}
    for n in graph.nodes:
        for r in _node_reads(flow, n):
            served.setdefault(r.node, set()).add(r.reg)
    for n in graph.nodes:
        if n.op == "dense":
            for p in n.inputs:
                served.setdefault(p, set()).add("v")
    return served


def node_plan(graph, n, plan, flow: Dataflow, lines: dict, levels, served) -> NodePlan:
    """What node ``n``'s PE does and reads (as :mod:`.parallel`, :mod:`.fold` and
    :mod:`.serial` build it); ``lines``: the streaming delay lines, (node, register) ->
    depth."""
    streaming = flow.streaming
    handed = fused(n, plan.serial)
    hidden_gated = n.is_hidden and n.op in ("dense", "act")
    bias = flow.bias_offset(n.name) if streaming and n.bias else None
    own = tuple(node_registers(n, streaming))
    outgoing = flow.sends(n.name)
    terms = flow.messages(n.name)
    return NodePlan(
        n.name, own, MappingProxyType({r: lines[(n.name, r)] for r in own if (n.name, r) in lines}),
        plan.gates.get(n.name), plan.acts.get(n.name), handed,
        _unique(node_steps(graph, n, levels, plan.serial)), _node_reads(flow, n),
        tuple(n.inputs) if n.op == "dense" and not handed else (),
        tuple(m.child for m in terms if m.via in (Via.DENSE, Via.MUL)),
        tuple(m.parent for m in outgoing), tuple(r for r in own if r in served),
        streaming and (n.op == "input" or n.output), bias is not None,
        flow.inputs(n.name) if n.op != "input" else (), terms, outgoing,
        flow.gain(n.name) if streaming and hidden_gated else None,
        flow.target(n.name) if streaming and n.output else None, bias)


def edge_plan(graph, c, p, plan, flow: Dataflow) -> EdgePlan:
    """What the edge p -> c does and reads (as :class:`~.parallel.EdgePE` and
    :class:`~.fold.FoldedEdgePE` build it)."""
    child, hidden = graph.node(c), graph.node(p).is_hidden
    fold, work = plan.edges.get((c, p)), plan.work.get((c, p), {})
    handed = fused(child, plan.serial)
    io = flow.edge(c, p)
    reads = [io.forward] + ([io.backward] if hidden else []) + [io.delta, io.value]
    if flow.streaming:
        steps = [Step.S1]
    else:
        steps = [ph for phases in work.values() for ph in phases] if fold else [Step.UPD]
    sends = (["row_sum"] if handed else ["fwd"]) + (["msg"] if hidden else [])
    return EdgePlan(c, p, child.inputs.index(p), fold, MappingProxyType(dict(work)),
                    (c, p) in plan.single_port, bool(plan.single_port), handed,
                    _unique(steps), _unique(reads), tuple(sends), flow.streaming, io)


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


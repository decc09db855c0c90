"""The controller's program: micro-steps (:class:`Op`, :class:`Step`) in order, with their
lengths in cycles (:class:`Program`, :func:`program`).

Micro-steps are :class:`Step` values (an :class:`Op` and, for the per-level steps, a
forward level), never spelled as strings; ``str(step)`` is the name the controller's
strobes, the memory map's manifest and the documentation use::

    exact, fpa   forward F0 [PF1] FA1 FF1 .. [PFL] FAL FFL FE FD, tick [PM] TE TD,
                 update [PU] UPD
    standard     forward as above, tick [PM] TV [PFT] TA TF TE TD, update [PU] UPD
    streaming    tick S1 S2 S3 S4 (one sample each)

The bracketed phases exist only where the fold plan (:mod:`.folding`) folds something and
last the plan's lengths in cycles; in the serial architecture (:mod:`.serial`) every step
lasts its largest node's length. A step no node writes in is not run: FF<level> of a level
without dense or act nodes, and in the serial architecture FA<level> and FF<level> where
every node of the level is a dense node with one parent (it takes its row sums and looks
up its activation in the edge's phase), TA and TF where every dense and act node is, and
FD and TD (δ is gated in the step that writes ε, :data:`GATED_IN`). In the parallel and
folded architectures every product is a registered :class:`~.multiplier.Multiplier` (a DSP
registered at its inputs and output on the boards):
a step whose datapath multiplies lasts 1 + LATENCY cycles, or 1 + 2·LATENCY where a product
feeds another one in the same step (streaming S1: the relaxed ε of a hidden node that has
dense or mul children is gated into δ), :func:`product_depths`; its operands are registers
that hold still during the step, and every register is written in its last cycle only.
A step that looks up a tanh or sigmoid table lasts two cycles (a registered block-RAM
read, :func:`table_steps`). Every other step takes one cycle. So an unfolded training step
runs L + A + 3 + c·T + 1 steps (L forward levels, A of them with a dense or act node, T
ticks of c steps: 2, or 5 in standard mode) and a streaming sample 4, and with LATENCY = 2
a graph whose levels all have dense nodes, hidden ones among them, and no tanh or sigmoid,
takes 4L + 5 + c'·T + 3 cycles (c' = 6 in exact and fpa, 11 in standard: TV and TA
multiply, TF and TE do not) and a streaming sample 8, or 10 with the chained S1; each table
step adds a cycle (XOR exact 24, streaming 11: :attr:`Program.cycles_per_step`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType

from pcfpga.golden.activations import TABLE_ACTS
from pcfpga.golden.dataflow import forward_levels

from .multiplier import LATENCY

__all__ = ["Op", "Step", "Program", "program", "product_depths", "table_steps", "node_steps",
           "writers",
           "fused", "edge_phase", "GATED_IN", "LEVELLED", "EDGE_PHASES",
           "STEP_COUNTER_BITS", "LFSR_BITS", "MAX_PHASE"]

#: Width of the controller's cycle counter within a multi-cycle step (``fold_cnt``) and of
#: the element and row counters that follow it.
STEP_COUNTER_BITS = 16

#: Bits of the stochastic-rounding LFSR word (golden/lfsr.py: a 32-bit Galois LFSR state).
LFSR_BITS = 32

#: The longest multi-cycle step the controller's counter can run.
MAX_PHASE = (1 << STEP_COUNTER_BITS) - 1

class Op(enum.Enum):
    """What a micro-step does (:class:`Step`: with its forward level for PF, FA and FF)."""

    F0 = "F0"       # load the inputs
    PF = "PF"       # folded edges' forward products of one level (multi-cycle)
    FA = "FA"       # prediction a (dense, act) or v̂ (add, mul) of one level
    FF = "FF"       # activation v̂, g = f(a), f'(a) of one level
    FE = "FE"       # error ε after the forward sweep
    FD = "FD"       # δ = ε ⊙ g after the forward sweep
    PM = "PM"       # folded edges' messages Wᵀδ (multi-cycle)
    TV = "TV"       # standard mode: relax the values
    PFT = "PFT"     # standard mode: folded edges' forward products (multi-cycle)
    TA = "TA"       # standard mode: prediction
    TF = "TF"       # standard mode: activation
    TE = "TE"       # error (exact, fpa: relaxation of ε)
    TD = "TD"       # δ
    PU = "PU"       # folded edges' weight updates (multi-cycle)
    UPD = "UPD"     # parameter update
    S1 = "S1"       # streaming: prediction, relaxation, updates, delay lines
    S2 = "S2"       # streaming: activation
    S3 = "S3"       # streaming: output error
    S4 = "S4"       # streaming: output δ


#: Micro-steps that exist once per forward level.
LEVELLED = frozenset({Op.PF, Op.FA, Op.FF})
#: The multi-cycle phases of folded edges.
EDGE_PHASES = frozenset({Op.PF, Op.PM, Op.PFT, Op.PU})


@dataclass(frozen=True)
class Step:
    """One micro-step: ``op`` and, for PF, FA and FF, the forward ``level`` (from 1)."""

    op: Op
    level: int = 0

    def __post_init__(self):
        if (self.op in LEVELLED) != (self.level > 0):
            raise ValueError(f"Micro-step {self.op.value} "
                             + ("needs a forward level" if self.op in LEVELLED else
                                "has no forward level"))

    @property
    def name(self) -> str:
        return f"{self.op.value}{self.level}" if self.level else self.op.value

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Step({self.name})"

    @property
    def products(self) -> Step | None:
        """The folded edges' phase whose forward products this prediction step uses
        (FA<l>: PF<l>, TA: PFT), or None."""
        if self.op is Op.FA:
            return Step(Op.PF, self.level)
        return Step(Op.PFT) if self.op is Op.TA else None

    @classmethod
    def fa(cls, level):
        return cls(Op.FA, level)

    @classmethod
    def ff(cls, level):
        return cls(Op.FF, level)

    @classmethod
    def pf(cls, level):
        return cls(Op.PF, level)


for _op in Op:                       # Step.F0, Step.FE, ...: the steps without a level
    if _op not in LEVELLED:
        setattr(Step, _op.value, Step(_op))
del _op

#: The serial architecture gates δ = ε ⊙ g in the step that writes the ε it gates: FD's work
#: is done in FE, TD's in TE (:meth:`~.serial.SerialNodePE._gate`).
GATED_IN = MappingProxyType({Step.FD: Step.FE, Step.TD: Step.TE})


@dataclass(frozen=True)
class Program:
    """The controller's micro-steps in order (``forward``, ``tick``, ``update``, tuples of
    :class:`Step`) and the cycles each lasts (``lengths``: 1 unless listed)."""

    forward: tuple
    tick: tuple
    update: tuple
    lengths: MappingProxyType
    ticks: int
    streaming: bool

    @property
    def steps(self) -> tuple:
        return self.forward + self.tick + self.update

    def cycles(self, step: Step) -> int:
        return self.lengths.get(step, 1)

    @property
    def cycles_per_tick(self) -> int:
        """Clock cycles of one inference tick (streaming: one tick = one sample)."""
        return sum(self.cycles(s) for s in self.tick)

    @property
    def cycles_per_step(self) -> int:
        """Clock cycles of one training step (streaming: one tick): the lengths of the
        forward and update steps and T times the tick's (module docstring)."""
        if self.streaming:
            return self.cycles_per_tick
        return (sum(self.cycles(s) for s in self.forward + self.update)
                + self.cycles_per_tick * self.ticks)

    @property
    def longest(self) -> int:
        return max([self.cycles(s) for s in self.steps] + [1])

    def as_dict(self) -> dict:
        """{"forward": [...], "tick": [...], "update": [...]} of step names (the manifest's)."""
        return {"forward": [str(s) for s in self.forward], "tick": [str(s) for s in self.tick],
                "update": [str(s) for s in self.update]}


def fused(n, serial: bool) -> bool:
    """Whether node ``n`` takes each row sum from its one edge as the row completes, in the
    edge's phase, and looks up its activation there too, instead of in prediction and
    activation steps of its own (FA<level>, FF<level>; TA, TF): serial dense nodes with one
    parent (:mod:`.serial`; an output, which the graph keeps a sink, is clamped to its
    target in FE then, :meth:`~.serial.SerialNodePE._error_gate`)."""
    return serial and n.op == "dense" and len(n.inputs) == 1


def edge_phase(step: Step) -> Step:
    """The edge's phase a :func:`fused` node does the activation step ``step``'s work in:
    FF<level> -> PF<level>, TF -> PFT."""
    return Step.pf(step.level) if step.op is Op.FF else Step.PFT


def node_steps(graph, n, levels, serial: bool = False) -> list:
    """The micro-steps node ``n``'s PE writes in (``levels``: every node's forward level;
    ``serial``: the serial architecture, whose :func:`fused` nodes predict in their edge's
    phase PF<level> or PFT instead of FA<level> or TA, and which gates δ in the step that
    writes ε, :data:`GATED_IN`)."""
    mode = graph.learning.mode
    gated = n.op in ("dense", "act")                     # a, g, δ
    handed = fused(n, serial)
    gates = gated and not serial                         # δ in a step of its own
    acts = gated and not handed                          # f(a) in a step of its own
    if n.op == "input":
        return [Step.S1] if mode == "streaming" else [Step.F0]
    if mode == "streaming":
        steps = [Step.S1] + ([Step.S2] if gated else [])
        return steps + ([Step.S3] + ([Step.S4] if gated else []) if n.output else [])
    lv = levels[n.name]
    steps = [Step.pf(lv) if handed else Step.fa(lv)] + ([Step.ff(lv)] if acts else [])
    steps += [Step.FE] + ([Step.FD] if gates else [])
    if n.is_hidden:
        steps += ([Step.TE] + ([Step.TD] if gates else []) if mode in ("exact", "fpa")
                  else [Step.TV])
    if mode == "standard":
        steps += ([Step.PFT if handed else Step.TA] + ([Step.TF] if acts else [])
                  + [Step.TE] + ([Step.TD] if gates else []))
    # a dense node writes its edges' saturation bits into its flags in UPD
    return steps + ([Step.UPD] if n.bias or n.op == "dense" else [])


def writers(graph, serial: bool = False) -> dict:
    """{micro-step: [the nodes whose PEs write in it]} (:func:`node_steps`); the edges'
    multi-cycle phases are the fold plan's."""
    levels = forward_levels(graph)
    out = {}
    for n in graph.nodes:
        for s in dict.fromkeys(node_steps(graph, n, levels, serial)):
            out.setdefault(s, []).append(n)
    return out


def product_depths(graph, plan=None) -> dict:
    """{step: registered products in a row} of the parallel datapath (:mod:`.parallel`, and
    the nodes and edges a folded design, fold ``plan``, leaves parallel) in the steps that
    multiply: 1 where the step's products come from registers, 2 where a product of the step
    feeds another (streaming S1: the relaxed ε of a hidden node with dense or mul children,
    gated into δ). Products: the unfolded dense edges' W v, Wᵀδ and δ vᵀ, a mul node's v̂
    and messages, and δ = ε ⊙ g of the dense and act nodes whose gate is not folded (a
    folded edge's or gate's products come in its own phases)."""
    mode = graph.learning.mode
    nodes = graph.nodes
    folded = plan.edges if plan is not None else {}
    folded_gates = plan.gates if plan is not None else {}

    def parallel_edge(child, parent):
        return child.op == "dense" and (child.name, parent) not in folded

    gated = [n for n in nodes if n.op in ("dense", "act") and n.name not in folded_gates]
    forward = [n for n in nodes if n.op == "mul"                      # W v, v_p ⊙ v_q
               or any(parallel_edge(n, p) for p in n.inputs)]
    relaxed = [n for n in nodes if n.is_hidden                      # messages Wᵀδ, v ⊙ ε
               and any(c.op == "mul" or parallel_edge(c, n.name)
                       for c in graph.children(n.name))]
    if mode == "streaming":
        chained = any(n in gated for n in relaxed)
        s1 = 2 if chained else 1 if forward or any(n.is_hidden for n in gated) else 0
        depths = {Step.S1: s1, Step.S4: int(any(n.output for n in gated))}
        return {s: d for s, d in depths.items() if d}
    level = forward_levels(graph)
    depths = {Step.fa(level[n.name]): 1 for n in forward}
    if gated:
        depths[Step.FD] = 1
    hidden_gated = any(n.is_hidden for n in gated)
    if mode in ("exact", "fpa"):
        depths.update({Step.TE: 1} if relaxed else {})
        depths.update({Step.TD: 1} if hidden_gated else {})
    else:
        depths.update({Step.TV: 1} if relaxed else {})
        depths.update({Step.TA: 1} if forward else {})
        depths.update({Step.TD: 1} if gated else {})
    if any(n.op == "dense" for n in forward):                       # δ vᵀ
        depths[Step.UPD] = 1
    return depths


def table_steps(graph) -> set:
    """The steps in which the parallel datapath looks up a tanh or sigmoid table (FF<level>,
    TF, streaming S2): its tables sit in block RAM with a registered read port per element,
    so those steps last two cycles (:attr:`~.arith.HdlArith.registered_tables`)."""
    mode, level = graph.learning.mode, forward_levels(graph)
    steps = set()
    for n in graph.nodes:
        if n.op in ("dense", "act") and n.act in TABLE_ACTS:
            steps |= ({Step.S2} if mode == "streaming" else
                      {Step.ff(level[n.name])} | ({Step.TF} if mode == "standard" else set()))
    return steps


def program(graph, plan=None) -> Program:
    """The micro-steps of ``graph`` with folding ``plan`` (:func:`fold_plan`; None: fully
    parallel): the folded edges' multi-cycle phases come right before the steps that use
    their results: PF<level> before FA<level>, PM before the relaxation, PFT before TA
    (standard), PU before UPD. A step in which no node writes is not run (in the serial
    architecture, FA<level> and FF<level> where every node of the level is a dense node with
    one parent, which takes its row sums and looks up its activation in the edge's phase, TA
    and TF where every node of the graph that would write in them is, and FD and TD, whose work
    is done in FE and TE; FF<level> of a level without dense or act nodes), except that a
    tick and the update take at least one cycle. Outside the serial architecture a step
    that multiplies (:func:`product_depths`) lasts at least 1 + LATENCY cycles per product
    in a row."""
    mode = graph.learning.mode
    serial = plan is not None and plan.serial
    phases = dict(plan.phases) if plan is not None else {}
    if not serial:
        for step, depth in product_depths(graph, plan).items():
            phases[step] = max(phases.get(step, 1), 1 + depth * LATENCY)
        for step in table_steps(graph):
            phases[step] = max(phases.get(step, 1), 2)
    lengths = MappingProxyType(phases)
    if mode == "streaming":
        return Program((), (Step.S1, Step.S2, Step.S3, Step.S4), (), lengths, graph.ticks,
                       True)
    folded = plan.phases if plan is not None else {}
    written = writers(graph, serial)

    def fold(step):
        return (step,) if step in folded else ()

    def used(*steps):
        return tuple(s for s in steps if s in written)

    depth = max(forward_levels(graph).values())
    forward = ((Step.F0,) + tuple(s for lv in range(1, depth + 1)
                                  for s in (*fold(Step.pf(lv)),
                                            *used(Step.fa(lv), Step.ff(lv))))
               + used(Step.FE, Step.FD))
    tick = (fold(Step.PM) + used(Step.TE, Step.TD) if mode in ("exact", "fpa")
            else fold(Step.PM) + used(Step.TV) + fold(Step.PFT) + used(Step.TA, Step.TF,
                                                                       Step.TE, Step.TD))
    update = fold(Step.PU) + used(Step.UPD)
    # a tick and the update take a cycle even where no node works in them (no hidden
    # node; no dense node): the controller pauses after a tick and counts the steps
    return Program(forward, tick or (Step.TE,), update or (Step.UPD,), lengths, graph.ticks,
                   False)

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
without dense or act nodes, and in the serial architecture FA<level>, FF<level>, TA and TF
where the level's dense nodes take their row sums and look up their activations in the
edge's phase, and FD and TD (δ is gated in
the step that writes ε, :data:`GATED_IN`). Every other step takes one
cycle, so an unfolded training step takes L + A + 3 + c·T + 1 cycles (L forward levels, A
of them with a dense or act node, T ticks of c cycles: 2, or 5 in standard mode) and a
streaming sample 4 (:attr:`Program.cycles_per_step`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType

from pcfpga.golden.dataflow import forward_levels

__all__ = ["Op", "Step", "Program", "program", "node_steps", "writers", "fused", "fused_act",
           "edge_phase", "GATED_IN",
           "LEVELLED", "EDGE_PHASES", "STEP_COUNTER_BITS", "LFSR_BITS", "MAX_PHASE"]

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
        """Clock cycles of one training step: L + A + 3 + c·T + 1 unfolded (streaming: one
        tick); folded phases add their lengths."""
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
    edge's phase, instead of in a prediction step of its own (serial dense nodes with one
    parent, :mod:`.serial`)."""
    return serial and n.op == "dense" and len(n.inputs) == 1


def fused_act(graph, n, serial: bool) -> bool:
    """Whether :func:`fused` node ``n`` also looks up its activation in its edge's phase, as
    each row sum completes, instead of in FF<level> and TF (:meth:`~.serial.SerialNodePE._act`):
    every fused node but an output that other nodes read (an output's v is clamped to its
    target in FE then, :meth:`~.serial.SerialNodePE._error_gate`)."""
    return fused(n, serial) and not (n.output and graph.children(n.name))


def edge_phase(step: Step) -> Step:
    """The edge's phase a :func:`fused_act` node does the activation step ``step``'s work in:
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
    acts = gated and not fused_act(graph, n, serial)     # f(a) in a step of its own
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


def program(graph, plan=None) -> Program:
    """The micro-steps of ``graph`` with folding ``plan`` (:func:`fold_plan`; None: fully
    parallel): the folded edges' multi-cycle phases come right before the steps that use
    their results: PF<level> before FA<level>, PM before the relaxation, PFT before TA
    (standard), PU before UPD. A step in which no node writes is not run (in the serial
    architecture, FA<level>, TA, FF<level> and TF of levels whose dense nodes all take their
    row sums and look up their activations in the edge's phase, and FD and TD, whose work
    is done in FE and TE; FF<level> of a level without dense or act nodes), except that a
    tick and the update take at least one cycle."""
    mode = graph.learning.mode
    phases = plan.phases if plan is not None else {}
    lengths = MappingProxyType(dict(phases))
    if mode == "streaming":
        return Program((), (Step.S1, Step.S2, Step.S3, Step.S4), (), lengths, graph.ticks,
                       True)
    written = writers(graph, plan is not None and plan.serial)

    def fold(step):
        return (step,) if step in phases else ()

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

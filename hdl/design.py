"""The design: what the generator builds, decided once, from a graph and a folding choice.

:meth:`Design.build` validates the folding choice (a reuse factor, a dict of them per dense
or act node, ``"serial"`` or ``"serial-spram"``; :func:`check_reuse` makes it a
:class:`Folding` or says what is wrong) and derives, once, everything downstream needs: the
:class:`Architecture`, the fold plan (per edge: lanes and memory depth; per node: folded
gates and activation tables; the extra multi-cycle phases, :func:`fold_plan`), the
streaming schedule, the :class:`Program` of micro-steps with their lengths, and the memory
map. The generator (:class:`~.network.Network` and every PE), the simulators, the fitter
and the reports take the :class:`Design` and read these; nothing below it derives them
again. Outside :mod:`pcfpga.hdl` the folding choice is made once, where the graph comes in
(the command line's ``--reuse`` and ``--board``, the fitter), and the :class:`Design`
travels from there.

Micro-steps are :class:`Step` values (an :class:`Op` and, for the per-level steps, a
forward level), never spelled as strings; ``str(step)`` is the name the controller's
strobes, the memory map's manifest and the documentation use::

    exact, fpa   forward F0 [PF1] FA1 FF1 .. [PFL] FAL FFL FE FD, tick [PM] TE TD,
                 update [PU] UPD
    standard     forward as above, tick [PM] TV [PFT] TA TF TE TD, update [PU] UPD
    streaming    tick S1 S2 S3 S4 (one sample each)

The bracketed phases exist only where the plan folds something (:mod:`.fold`) and last the
plan's lengths in cycles; in the serial architecture (:mod:`.serial`) every step lasts a
node's length. Every other step takes one cycle, so an unfolded training step takes
2L + 3 + c·T + 1 cycles (L forward levels, T ticks of c cycles: 2, or 5 in standard mode)
and a streaming sample 4 (:attr:`Program.cycles_per_step`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from types import MappingProxyType

from pcfpga.golden.activations import TABLE_ACTS
from pcfpga.golden.engine import node_registers
from pcfpga.golden.graph import Graph
from pcfpga.golden.stream import Schedule, forward_levels, schedule

from .memmap import MemoryMap, build_memory_map

__all__ = ["Architecture", "Folding", "Op", "Step", "Program", "Design", "EdgeFold",
           "FoldPlan", "check_reuse", "fold_plan", "program", "as_design", "Read", "NodePlan",
           "EdgePlan", "serial_phases", "memory_map", "check_plans",
           "SERIAL", "SERIAL_SPRAM", "SERIAL_KINDS", "MAX_PHASE", "SINGLE_PORT_WORDS",
           "STEP_COUNTER_BITS", "LFSR_BITS", "TABLE_ACTS", "table_entries", "table_ram_bits"]

#: Width of the controller's cycle counter within a multi-cycle step (``fold_cnt``) and of
#: the element and row counters that follow it.
STEP_COUNTER_BITS = 16

#: Bits of the stochastic-rounding LFSR word (golden/lfsr.py: a 32-bit Galois LFSR state).
LFSR_BITS = 32

#: The longest multi-cycle step the controller's counter can run.
MAX_PHASE = (1 << STEP_COUNTER_BITS) - 1

#: Serial edges of at least this many weights go to a single-port memory, which Yosys maps
#: to an iCE40UP5K's SPRAM (16K words each) instead of 4 or more of its 30 block RAMs.
SINGLE_PORT_WORDS = 1024

def table_entries(formats) -> int:
    """Entries the fitter counts per activation table: 2^table_bits (the golden
    ``ActTable`` has at most that many)."""
    return 1 << formats.table_bits


def table_ram_bits(formats) -> int:
    """Memory bits the fitter counts for one node's pair of tables (f and f'):
    :func:`table_entries` of a value word and a gain word (Q2.n_v)."""
    return table_entries(formats) * (formats.value.width + formats.gain.width)


class Architecture(enum.Enum):
    """How the network is built: fully parallel, folded onto fewer multipliers, or serial
    (registers in memories, one element per cycle; ``SERIAL_SPRAM`` also puts large edges'
    weights in single-port memories)."""

    PARALLEL = "parallel"
    FOLDED = "folded"
    SERIAL = "serial"
    SERIAL_SPRAM = "serial-spram"

    @property
    def serial(self) -> bool:
        return self in (Architecture.SERIAL, Architecture.SERIAL_SPRAM)


#: The reuse values that select the serial architecture.
SERIAL = Architecture.SERIAL.value
SERIAL_SPRAM = Architecture.SERIAL_SPRAM.value
SERIAL_KINDS = (SERIAL, SERIAL_SPRAM)


@dataclass(frozen=True)
class Folding:
    """A folding choice, validated against its graph (:func:`check_reuse` makes it): the
    :class:`Architecture` it asks for and, unless serial, the reuse factor of every dense and
    act node (``factors``, in the graph's order; 1 is fully parallel).

    ``architecture`` is PARALLEL when every factor is 1, FOLDED otherwise, or a serial one;
    the :class:`Design` built from a FOLDED choice is still PARALLEL when its factors fold
    nothing (as on nodes and edges of a single element).

    :meth:`to_json` is its form in reports (``report.json``'s ``"reuse"``: the serial
    architecture's name, or ``{node: factor}``), which :func:`check_reuse` reads back;
    ``str()`` is the short text, ``serial``, ``2`` (one factor for every node) or
    ``h 2, y 1``.

    >>> f = Folding(Architecture.FOLDED, {"h": 2, "y": 2})
    >>> str(f), f.factor, f.to_json()
    ('2', 2, {'h': 2, 'y': 2})
    >>> str(Folding(Architecture.SERIAL)), Folding(Architecture.SERIAL).to_json()
    ('serial', 'serial')
    """

    architecture: Architecture
    #: {dense or act node: reuse factor}; empty in the serial architectures
    factors: MappingProxyType = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "factors", MappingProxyType(dict(self.factors)))

    @property
    def serial(self) -> bool:
        return self.architecture.serial

    @property
    def factor(self):
        """The reuse factor of every dense and act node when it is one for all (1 when the
        graph has none), else None; None in the serial architectures."""
        if self.serial:
            return None
        values = set(self.factors.values()) or {1}
        return values.pop() if len(values) == 1 else None

    def to_json(self):
        """The serial architecture's name, or ``{node: factor}`` (a new dict)."""
        return self.architecture.value if self.serial else dict(self.factors)

    def __hash__(self) -> int:
        return hash((self.architecture, frozenset(self.factors.items())))

    def __str__(self) -> str:
        if self.serial:
            return self.architecture.value
        if self.factor is not None:
            return str(self.factor)
        return ", ".join(f"{k} {v}" for k, v in self.factors.items())

    def __repr__(self) -> str:
        return f"Folding({self})"


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
        """Clock cycles of one training step: 2L + 3 + c·T + 1 unfolded (streaming: one
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


def program(graph, plan=None) -> Program:
    """The micro-steps of ``graph`` with folding ``plan`` (:func:`fold_plan`; None: fully
    parallel): the folded edges' multi-cycle phases come right before the steps that use
    their results: PF<level> before FA<level>, PM before the relaxation, PFT before TA
    (standard), PU before UPD."""
    mode = graph.learning.mode
    phases = plan.phases if plan is not None else {}
    lengths = MappingProxyType(dict(phases))
    if mode == "streaming":
        return Program((), (Step.S1, Step.S2, Step.S3, Step.S4), (), lengths, graph.ticks,
                       True)

    def fold(step):
        return (step,) if step in phases else ()

    depth = max(forward_levels(graph).values())
    forward = ((Step.F0,) + tuple(s for lv in range(1, depth + 1)
                                  for s in (*fold(Step.pf(lv)), Step.fa(lv), Step.ff(lv)))
               + (Step.FE, Step.FD))
    tick = (fold(Step.PM) + (Step.TE, Step.TD) if mode in ("exact", "fpa")
            else fold(Step.PM) + (Step.TV,) + fold(Step.PFT) + (Step.TA, Step.TF, Step.TE,
                                                                Step.TD))
    return Program(forward, tick, fold(Step.PU) + (Step.UPD,), lengths, graph.ticks, False)


# -- folding ----------------------------------------------------------------------------

@dataclass(frozen=True)
class EdgeFold:
    """How one edge is folded: ``lanes`` multipliers over ``depth`` memory words."""

    child: str
    parent: str
    rows: int
    cols: int
    lanes: int
    depth: int

    @property
    def reuse(self) -> int:
        return self.depth


@dataclass
class FoldPlan:
    """Folding of a whole graph: per-edge lanes and depth, and the extra phases."""

    edges: dict = field(default_factory=dict)      # (child, parent) -> EdgeFold
    phases: dict = field(default_factory=dict)     # Step -> cycles (when above 1)
    work: dict = field(default_factory=dict)       # (child, parent) -> {kind: [Steps]}
    gates: dict = field(default_factory=dict)      # node -> (lanes, depth) of δ = ε ⊙ g
    acts: dict = field(default_factory=dict)       # node -> table bits held in block RAM
    serial: bool = False                           # registers in memories (:mod:`.serial`)
    #: serial edges whose weights sit in a single-port memory (SPRAM on an iCE40UP5K);
    #: with any of them, PU runs at half rate: word t read in cycle 2t, written in 2t + 1
    single_port: set = field(default_factory=set)

    @property
    def folded(self) -> bool:
        return bool(self.edges or self.gates or self.acts or self.serial)


def _edge_work(graph, n, p, lv) -> dict:
    """The phases of a folded edge p -> n at forward level ``lv``: {kind: [Steps]}."""
    work = {"fwd": [Step.pf(lv)] + ([Step.PFT] if graph.learning.mode == "standard" else []),
            "upd": [Step.PU]}
    if graph.node(p).is_hidden:
        work["msg"] = [Step.PM]
    return work


def check_reuse(graph, reuse) -> Folding:
    """``reuse`` as the :class:`Folding` of ``graph``; a clear error for anything else.

    ``reuse`` is a positive integer (every dense and act node), a dict {node: positive
    integer} (nodes not named keep 1, fully parallel), ``"serial"`` or ``"serial-spram"``
    (:mod:`.serial`), an :class:`Architecture` (PARALLEL: reuse 1; SERIAL, SERIAL_SPRAM)
    or a :class:`Folding` (checked against ``graph`` as its :meth:`~Folding.to_json` is).
    """
    dense = [n.name for n in graph.nodes if n.op in ("dense", "act")]
    if isinstance(reuse, Folding):
        reuse = reuse.to_json()
    if reuse is Architecture.PARALLEL:
        reuse = 1
    elif reuse is Architecture.FOLDED:
        raise ValueError("The folded architecture needs reuse factors, not "
                         "Architecture.FOLDED")
    elif isinstance(reuse, Architecture):
        reuse = reuse.value
    if isinstance(reuse, str) and reuse in SERIAL_KINDS:
        if graph.learning.mode == "streaming":
            raise ValueError("The serial architecture is not available in streaming mode, "
                             "where every tick is one clock cycle; use reuse 1")
        return Folding(Architecture(reuse))
    if isinstance(reuse, bool) or not isinstance(reuse, (int, dict)):
        raise ValueError(f"Reuse factor must be a positive integer, a dict of them per "
                         f"dense or act node, or {SERIAL!r} or {SERIAL_SPRAM!r}, not "
                         f"{reuse!r}")
    table = {n: reuse for n in dense} if isinstance(reuse, int) else dict(reuse)
    for name, r in table.items():
        if name not in dense:
            raise ValueError(f"Reuse factor given for {name!r}, which is not a dense or act "
                             f"node (those are: {', '.join(dense) or 'none'})")
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"Reuse factor must be a positive integer, not {r!r} "
                             f"(node {name!r})")
    if graph.learning.mode == "streaming" and any(r > 1 for r in table.values()):
        raise ValueError("Folding (reuse factor above 1) is not available in streaming mode, "
                         "where every tick is one clock cycle; use reuse 1")
    factors = {n: table.get(n, 1) for n in dense}
    return Folding(Architecture.FOLDED if any(r > 1 for r in factors.values())
                   else Architecture.PARALLEL, factors)


def fold_plan(graph, reuse=1) -> FoldPlan:
    """Lanes, depth and phases for the folding ``reuse`` (a :class:`Folding`, or anything
    :func:`check_reuse` makes one of)."""
    folding = check_reuse(graph, reuse)
    if folding.serial:
        return _serial_plan(graph, folding.architecture is Architecture.SERIAL_SPRAM)
    table = folding.factors
    plan = FoldPlan()
    level = forward_levels(graph)
    standard = graph.learning.mode == "standard"
    for n in graph.nodes:
        if n.op not in ("dense", "act") or table[n.name] <= 1:
            continue
        if "delta" in node_registers(n, False):
            lanes = math.ceil(n.size / min(table[n.name], n.size))
            depth = math.ceil(n.size / lanes)
            if depth > 1:
                plan.gates[n.name] = (lanes, depth)
                for step in (Step.FD, Step.TD):
                    plan.phases[step] = max(plan.phases.get(step, 1), depth)
        if n.act in TABLE_ACTS:                 # tables in block RAM, a lookup per cycle
            plan.acts[n.name] = table_ram_bits(graph.formats)
            steps = [Step.ff(level[n.name])] + ([Step.TF] if standard else [])
            for step in steps:
                plan.phases[step] = max(plan.phases.get(step, 1), n.size + 1)
        if n.op != "dense":
            continue
        for p in n.inputs:
            rows, cols = n.size, graph.node(p).size
            count = rows * cols
            lanes = min(rows, math.ceil(count / min(table[n.name], count)))
            depth = math.ceil(rows / lanes) * cols
            if depth <= 1:
                continue                    # nothing to fold: stays parallel
            plan.edges[(n.name, p)] = EdgeFold(n.name, p, rows, cols, lanes, depth)
            plan.work[(n.name, p)] = work = _edge_work(graph, n, p, level[n.name])
            for names in work.values():
                for ph in names:
                    plan.phases[ph] = max(plan.phases.get(ph, 0), depth + 1)
    longest = max(plan.phases.values(), default=1)
    if longest > MAX_PHASE:
        raise ValueError(f"Reuse factor too large: a folded phase would last {longest:,} "
                         f"cycles, more than the controller's {MAX_PHASE:,}")
    return plan


def serial_phases(graph) -> dict:
    """Cycles of every node step in the serial architecture: F0 loads the inputs (largest
    input + 1); the act steps (FF<level>, TF) take the largest node + 2 (a table read),
    every other node step the largest node + 1."""
    inputs = max(n.size for n in graph.nodes if n.op == "input")
    others = max(n.size for n in graph.nodes if n.op != "input")
    phases = {}
    for s in program(graph).steps:
        if s.op is Op.F0:
            phases[s] = inputs + 1
        elif s.op in (Op.FF, Op.TF):
            phases[s] = others + 2
        else:
            phases[s] = others + 1
    return phases


def _serial_plan(graph, single_port: bool) -> FoldPlan:
    """Every node step element by element, every dense edge on one lane; with
    ``single_port``, edges of at least :data:`SINGLE_PORT_WORDS` weights keep them in a
    single-port memory."""
    plan = FoldPlan(serial=True, phases=serial_phases(graph))
    plan.single_port = {(n.name, p) for n in graph.nodes if n.op == "dense" for p in n.inputs
                        if single_port and n.size * graph.node(p).size >= SINGLE_PORT_WORDS}
    level = forward_levels(graph)
    for n in graph.nodes:
        if n.op != "dense":
            continue
        for p in n.inputs:
            rows, cols = n.size, graph.node(p).size
            plan.edges[(n.name, p)] = EdgeFold(n.name, p, rows, cols, 1, rows * cols)
            plan.work[(n.name, p)] = work = _edge_work(graph, n, p, level[n.name])
            for names in work.values():
                for ph in names:
                    half = ph == Step.PU and plan.single_port
                    plan.phases[ph] = max(plan.phases.get(ph, 0),
                                          (2 if half else 1) * rows * cols + 1)
    longest = max(plan.phases.values())
    if longest > MAX_PHASE:
        raise ValueError(f"Network too large for the serial architecture: a phase would last "
                         f"{longest:,} cycles, more than the controller's {MAX_PHASE:,}")
    return plan


# -- per-PE plans: what each processing element does and reads ---------------------------

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


def _node_plan(graph, n, plan, sched, levels, served) -> NodePlan:
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


def _edge_plan(graph, c, p, plan, sched) -> EdgePlan:
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


# -- the design ---------------------------------------------------------------------------

def memory_map(graph, plan, prog: Program, sched: Schedule | None) -> MemoryMap:
    """The network's memory map with its manifest's meta data (the addresses depend on the
    graph alone, not on the plan)."""
    lags = sched.lags if sched is not None else None
    meta = {"mode": graph.learning.mode, "ticks": graph.ticks, "depth": graph.depth,
            "cycles_per_tick": prog.cycles_per_tick,
            "cycles_per_step": prog.cycles_per_step,
            "micro_steps": prog.as_dict(),
            "fold_phases": {str(k): v for k, v in plan.phases.items()},
            "folded_edges": {f"{c}.W.{p}": {"lanes": e.lanes, "depth": e.depth}
                             for (c, p), e in plan.edges.items()},
            "formats": {k: str(getattr(graph.formats, k))
                        for k in ("value", "error", "weight")},
            "rounding": graph.formats.rounding, "seed": graph.formats.seed}
    return build_memory_map(graph, lags, meta)


@dataclass(frozen=True, eq=False)
class Design:
    """A validated graph with its folding decided (module docstring); build it with
    :meth:`build`, once, and pass it to everything downstream."""

    graph: Graph
    #: the architecture built: the folding's, except that a FOLDED choice that folds
    #: nothing is PARALLEL (:class:`Folding`)
    architecture: Architecture
    #: the folding choice, validated (:func:`check_reuse`)
    folding: Folding
    plan: FoldPlan
    schedule: Schedule | None
    program: Program
    memmap: MemoryMap
    #: forward level of every node: the longest path from an input (inputs 0)
    levels: MappingProxyType
    #: node -> :class:`NodePlan`
    nodes: MappingProxyType
    #: (child, parent) -> :class:`EdgePlan`, every dense edge
    edges: MappingProxyType

    @classmethod
    def build(cls, graph, reuse=1) -> Design:
        """The design of ``graph`` with folding ``reuse``: a :class:`Folding`, a positive
        integer (every dense and act node), a dict of them per node, ``"serial"``,
        ``"serial-spram"`` or an :class:`Architecture` (PARALLEL: reuse 1; SERIAL,
        SERIAL_SPRAM; :func:`check_reuse`). Raises TypeError for anything but a validated
        graph, ValueError for a folding it cannot build."""
        if not isinstance(graph, Graph):
            return as_design(graph)                 # raises the TypeError
        folding = check_reuse(graph, reuse)
        plan = fold_plan(graph, folding)
        arch = (folding.architecture if folding.serial else
                Architecture.FOLDED if plan.folded else Architecture.PARALLEL)
        sched = schedule(graph) if graph.learning.mode == "streaming" else None
        prog = program(graph, plan)
        levels = forward_levels(graph)
        edges = {(n.name, p): _edge_plan(graph, n.name, p, plan, sched)
                 for n in graph.nodes if n.op == "dense" for p in n.inputs}
        plans = {n.name: _node_plan(graph, n, plan, sched, levels, ()) for n in graph.nodes}
        served = {}                          # registers other nodes read (serial read ports)
        for pe in plans.values():
            for r in pe.reads:
                served.setdefault(r.node, set()).add(r.reg)
        for (_c, p) in edges:                # edges read v_p (δ_c: its own ports, by size)
            served.setdefault(p, set()).add("v")
        nodes = {n.name: _node_plan(graph, n, plan, sched, levels, served.get(n.name, ()))
                 for n in graph.nodes}
        check_plans(prog, nodes, edges)
        return cls(graph, arch, folding, plan, sched, prog, memory_map(graph, plan, prog, sched),
                   MappingProxyType(levels), MappingProxyType(nodes), MappingProxyType(edges))

    def __repr__(self) -> str:
        return f"Design({self.graph.name}, {self.architecture.value})"

    @property
    def streaming(self) -> bool:
        return self.graph.learning.mode == "streaming"

    @property
    def serial(self) -> bool:
        return self.architecture.serial

    @property
    def lags(self) -> dict:
        """(node, register) -> delay-line depth (streaming), else empty."""
        return self.schedule.lags if self.schedule is not None else {}

    @property
    def cycles_per_tick(self) -> int:
        return self.program.cycles_per_tick

    @property
    def cycles_per_step(self) -> int:
        return self.program.cycles_per_step


def as_design(obj, reuse=1, who: str = "A design") -> Design:
    """``obj`` if it is a :class:`Design`, else :meth:`Design.build` of the graph ``obj``
    with ``reuse``: the shim of the constructors and functions that also take a graph
    where its caller has no folding choice (``reuse`` 1: fully parallel, unless the
    function says otherwise); the TypeError names ``who`` needs it."""
    if isinstance(obj, Design):
        return obj
    if not isinstance(obj, Graph):
        raise TypeError(f"{who} needs a validated Graph (Graph.from_toml or "
                        f"GraphBuilder.build) or a Design, not {type(obj).__name__}")
    return Design.build(obj, reuse)

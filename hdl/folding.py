"""The folding choice and the fold plan: how many multipliers each node and edge gets.

:func:`check_reuse` validates a folding choice (a reuse factor, a dict of them per dense or
act node, ``"serial"`` or ``"serial-spram"``) and makes it a :class:`Folding`, the one type
of that choice; :func:`fold_plan` derives from it the :class:`FoldPlan`: per edge its lanes
and memory depth (:class:`EdgeFold`) and the multi-cycle phases it works in, per node its
folded gate and its activation tables in block RAM, and the lengths of the extra phases of
the :class:`~.program.Program`. The serial architecture's plan (:func:`serial_phases`) runs
every node step element by element.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from types import MappingProxyType

from pcfpga.golden.activations import TABLE_ACTS
from pcfpga.golden.engine import node_registers
from pcfpga.golden.dataflow import forward_levels

from .multiplier import LATENCY
from .program import GATED_IN, MAX_PHASE, Op, Step, fused, writers

__all__ = ["Architecture", "Folding", "EdgeFold", "FoldPlan", "check_reuse", "fold_plan",
           "serial_phases", "SERIAL", "SERIAL_SPRAM", "SERIAL_KINDS", "SINGLE_PORT_WORDS",
           "table_entries", "table_ram_bits"]

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
                             "where every node works in every tick; use reuse 1")
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
                         "where every node works in every tick; use reuse 1")
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
                    plan.phases[step] = max(plan.phases.get(step, 1), depth + LATENCY)
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
                    plan.phases[ph] = max(plan.phases.get(ph, 0), depth + 1 + LATENCY)
    longest = max(plan.phases.values(), default=1)
    if longest > MAX_PHASE:
        raise ValueError(f"Reuse factor too large: a folded phase would last {longest:,} "
                         f"cycles, more than the controller's {MAX_PHASE:,}")
    return plan


def serial_phases(graph) -> dict:
    """Cycles of every node step in the serial architecture, from the nodes that write in
    it (:func:`~.program.writers`; a step no node writes in is not run): the largest of
    their sizes plus latencies. F0 loads the inputs (latency 1); the act steps (FF<level>,
    TF) of a tanh or sigmoid node read a table (latency 2); FE and TE gate δ = ε ⊙ g of a
    dense or act node through a registered multiplier (latency 2 + LATENCY;
    :data:`~.program.GATED_IN`); every other node step has latency 1."""
    phases = {}
    for s, nodes in writers(graph, serial=True).items():
        phases[s] = max(n.size + _serial_latency(n, s) for n in nodes)
    return phases


def _serial_latency(n, step) -> int:
    """Cycles from reading element c to writing its last result, node ``n`` in ``step``."""
    if step.op in (Op.FF, Op.TF):
        return 2 if n.act in TABLE_ACTS else 1         # a table read in block RAM
    if step in GATED_IN.values() and n.op in ("dense", "act"):
        return 2 + LATENCY                              # ε registered, then the multiplier
    return 1


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
            act = 3 if fused(n, True) else 0    # the last row's sum registered, a, f(a)
            for kind, names in work.items():
                for ph in names:
                    half = ph == Step.PU and plan.single_port
                    plan.phases[ph] = max(plan.phases.get(ph, 0),
                                          (2 if half else 1) * rows * cols + 1 + LATENCY
                                          + (act if kind == "fwd" else 0))
    longest = max(plan.phases.values())
    if longest > MAX_PHASE:
        raise ValueError(f"Network too large for the serial architecture: a phase would last "
                         f"{longest:,} cycles, more than the controller's {MAX_PHASE:,}")
    return plan


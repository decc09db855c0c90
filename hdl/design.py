"""The design: what the generator builds, decided once, from a graph and a folding choice.

:meth:`Design.build` validates the folding choice (a reuse factor, a dict of them per dense
or act node, ``"serial"`` or ``"serial-spram"``; :func:`~.folding.check_reuse` makes it a
:class:`~.folding.Folding` or says what is wrong) and derives, once, everything downstream
needs: the :class:`~.folding.Architecture`, the fold plan (:mod:`.folding`: per edge lanes
and memory depth; per node folded gates and activation tables; the extra multi-cycle
phases), the streaming schedule, the :class:`~.program.Program` of micro-steps with their
lengths (:mod:`.program`), each PE's plan (:mod:`.plans`) and the memory map. The generator
(:class:`~.network.Network` and every PE), the simulators, the fitter and the reports take
the :class:`Design` and read these; nothing below it derives them again. Outside
:mod:`pcfpga.hdl` the folding choice is made once, where the graph comes in (the command
line's ``--reuse`` and ``--board``, the fitter), and the :class:`Design` travels from there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType

from pcfpga.golden.graph import Graph
from pcfpga.golden.dataflow import Dataflow, forward_levels
from pcfpga.golden.stream import Schedule, schedule

from .folding import Architecture, Folding, FoldPlan, check_reuse, fold_plan
from .memmap import MemoryMap, Readback, build_memory_map
from .plans import check_plans, edge_plan, node_plan, served_registers
from .program import Program, program

__all__ = ["Design", "as_design", "memory_map"]


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
        flow = Dataflow(graph, sched is not None)
        lines = sched.lags if sched is not None else {}
        edges = {(n.name, p): edge_plan(graph, n.name, p, plan, flow)
                 for n in graph.nodes if n.op == "dense" for p in n.inputs}
        served = served_registers(graph, flow)
        nodes = {n.name: node_plan(graph, n, plan, flow, lines, levels, served.get(n.name, ()))
                 for n in graph.nodes}
        check_plans(prog, nodes, edges)
        return cls(graph, arch, folding, plan, sched, prog, memory_map(graph, plan, prog, sched),
                   MappingProxyType(levels), MappingProxyType(nodes), MappingProxyType(edges))

    def __repr__(self) -> str:
        return f"Design({self.graph.name}, {self.architecture.value})"

    def with_readback(self, readback: Readback) -> Design:
        """The same design, its bus reading back the fields of ``readback``
        (:class:`~.memmap.Readback`: LEAN for a board, whose network then has no read
        multiplexers for the registers)."""
        if readback is self.memmap.readback:
            return self
        return replace(self, memmap=self.memmap.with_readback(readback))

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

"""The fitter: resource estimates of a network, and reuse factors that fit a device.

:func:`estimate` counts what a configuration needs, from the same plan the generator
uses (:func:`~.fold.fold_plan`):

* **multipliers** (each ≤ 18×18 bits, i.e. one DSP): a parallel dense edge p -> c has
  rows·cols for W v, as many for Wᵀδ when p is hidden, and as many for the update δ vᵀ;
  a folded edge has one per lane; a node with δ has one per element (δ = ε ⊙ f'(a)), or
  one per lane when its reuse factor folds that too; a mul node one per element for v̂
  and one per element and hidden parent for its messages (not folded).
  :func:`count_multipliers` counts the ``$mul`` cells Yosys finds in the elaborated design,
  and the tests hold the two equal;
* **memory bits** of folded edges (words × lanes × weight width) and of the activation
  tables of folded tanh/sigmoid nodes, and the **weight register bits** of parallel edges;
* **cycles** per tick and per training step (:func:`~.controller.cycles_per_step`).

:func:`fit` chooses a reuse factor per dense node for a :class:`~pcfpga.boards.devices.
Device`: every edge starts fully folded (one lane), which must fit; then, greedily, the
node whose unfolding saves the most cycles per step while the design still fits is given
more lanes, until nothing more fits. The result minimises cycles per training step among
the configurations the greedy walk visits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from pcfpga.golden.engine import node_registers

from .controller import cycles_per_step, cycles_per_tick
from .fold import check_reuse, fold_plan

__all__ = ["Estimate", "estimate", "fit", "FitError", "count_multipliers", "reuse_choices",
           "shortfalls"]

#: Fraction of a device's block RAM the fitter lets weights use (the rest: SoC buffers).
RAM_SHARE = 0.75


class FitError(ValueError):
    """No configuration fits the device; the message says what is short."""


@dataclass
class Estimate:
    reuse: dict
    multipliers: int
    by_part: dict = field(default_factory=dict)     # "edge c.W.p" / "node n" -> count
    ram_bits: int = 0
    register_bits: int = 0
    cycles_per_tick: int = 0
    cycles_per_step: int = 0
    lanes: dict = field(default_factory=dict)       # folded edge -> (lanes, depth)

    def summary(self) -> str:
        return (f"{self.multipliers} multipliers, {self.ram_bits:,} RAM bits (folded weights "
                f"and tables), "
                f"{self.register_bits:,} weight register bits, {self.cycles_per_tick} cycles "
                f"per tick, {self.cycles_per_step} per training step")


def estimate(graph, reuse=1) -> Estimate:
    """Resources and cycles of ``graph`` folded with ``reuse`` (module docstring)."""
    table = check_reuse(graph, reuse)
    plan = fold_plan(graph, table)
    Ww = graph.formats.weight.width
    streaming = graph.learning.mode == "streaming"
    est = Estimate(table, 0, cycles_per_tick=cycles_per_tick(graph, plan),
                   cycles_per_step=cycles_per_step(graph, plan))
    for n in graph.nodes:
        if n.op == "dense":
            for p in n.inputs:
                key = f"{n.name}.W.{p}"
                rows, cols = n.size, graph.node(p).size
                fo = plan.edges.get((n.name, p))
                if fo is not None:
                    count = fo.lanes
                    est.ram_bits += fo.depth * fo.lanes * Ww
                    est.lanes[key] = (fo.lanes, fo.depth)
                else:
                    count = rows * cols * (3 if graph.node(p).is_hidden else 2)
                    est.register_bits += rows * cols * Ww
                est.by_part[f"edge {key}"] = count
        est.ram_bits += plan.acts.get(n.name, 0)
        count = 0
        if "delta" in node_registers(n, streaming):
            count += plan.gates.get(n.name, (n.size, 1))[0]
        if n.op == "mul":
            count += n.size * (1 + sum(graph.node(p).is_hidden for p in n.inputs))
        if count:
            est.by_part[f"node {n.name}"] = count
    est.multipliers = sum(est.by_part.values())
    return est


def reuse_choices(count: int) -> list:
    """The distinct reuse factors of an edge of ``count`` weights (one per lane count)."""
    return sorted({math.ceil(count / lanes) for lanes in range(1, count + 1)})


def shortfalls(est: Estimate, device) -> list:
    """What ``device`` lacks for ``est`` (empty when it fits): DSPs, RAM."""
    short = []
    if est.multipliers > device.dsp:
        short.append(f"{est.multipliers} multipliers > {device.dsp} DSPs")
    if est.ram_bits > RAM_SHARE * (device.bram_bits + device.spram_bits):
        short.append(f"{est.ram_bits:,} weight RAM bits > {RAM_SHARE:.0%} of the device's "
                     f"{device.bram_bits + device.spram_bits:,}")
    return short


def fit(graph, device) -> Estimate:
    """Reuse factors per dense node that fit ``device`` with the fewest cycles per step."""
    dense = [n for n in graph.nodes if n.op in ("dense", "act")]
    if graph.learning.mode == "streaming":
        est = estimate(graph, 1)
        short = shortfalls(est, device)
        if short:
            raise FitError(f"{graph.name} (streaming, which is not folded) does not fit "
                           f"{device.name}: {'; '.join(short)}")
        return est
    counts = {n.name: [n.size] + [n.size * graph.node(p).size for p in n.inputs
                                  if n.op == "dense"] for n in dense}
    choices = {name: sorted({r for c in cs for r in reuse_choices(c)})[::-1]
               for name, cs in counts.items()}                    # most folded first
    level = {name: 0 for name in counts}
    current = {name: choices[name][0] for name in counts}
    best = estimate(graph, current)
    short = shortfalls(best, device)
    if short:
        raise FitError(f"{graph.name} does not fit {device.name} even fully folded: "
                       f"{'; '.join(short)}")
    while True:
        step = None
        for name in counts:
            if level[name] + 1 >= len(choices[name]):
                continue
            trial = dict(current, **{name: choices[name][level[name] + 1]})
            est = estimate(graph, trial)
            if shortfalls(est, device):
                continue
            gain = best.cycles_per_step - est.cycles_per_step
            cost = max(est.multipliers - best.multipliers, 1)
            if step is None or gain / cost > step[0]:
                step = (gain / cost, name, trial, est)
        if step is None:
            return best
        _, name, current, best = step
        level[name] += 1


def count_multipliers(graph, reuse=1) -> int:
    """``$mul`` cells in the elaborated design after Yosys's ``proc; flatten; opt -full``
    (the builtin Yosys has no ``stat``; the cells are counted in its RTLIL output)."""
    from amaranth._toolchain.yosys import find_yosys
    from amaranth.back import rtlil

    from .network import Network

    text = rtlil.convert(Network(graph, reuse), name="top", emit_src=False)
    yosys = find_yosys(lambda version: True)
    script = (f"read_rtlil <<rtlil\n{text}\nrtlil\nhierarchy -top top\nproc\nflatten\n"
              f"opt -full\nwrite_rtlil\n")
    out = yosys.run(["-q", "-"], script, ignore_warnings=True)
    return len(re.findall(r"^\s*cell \$mul ", out, re.M))

"""The fitter: resource estimates of a network, and reuse factors that fit a device.

:func:`estimate` counts what a configuration needs, from the same plan the generator
uses (the :class:`~.design.Design`'s, :func:`~.folding.fold_plan`):

* **multipliers** (each ≤ 18×18 bits, i.e. one DSP): a parallel dense edge p -> c has
  rows·cols for W v, as many for Wᵀδ when p is hidden, and as many for the update δ vᵀ;
  a folded edge has one per lane; a node with δ has one per element (δ = ε ⊙ f'(a)), or
  one per lane when its reuse factor folds that too; a mul node one per element for v̂
  and one per element and hidden parent for its messages (not folded).
  :func:`count_multipliers` counts the ``$mul`` cells Yosys finds in the elaborated design,
  and the tests hold the two equal;
* **memory bits** of folded edges (words × lanes × weight width) and of the activation
  tables of folded tanh/sigmoid nodes, and the **weight register bits** of parallel edges;
* **cycles** per tick and per training step (the design's :class:`~.program.Program`).

* **flip-flop bits** of registers kept in the fabric: node registers (except in the serial
  architecture), parallel weights, folded edges' row sums and messages; and **block RAMs**
  (iCE40 geometry, 256 words of 16 bits per memory or part of one).

A design fits a :class:`~pcfpga.boards.devices.Device` (:func:`shortfalls`) when it needs
at most :data:`DSP_SHARE` of its DSPs (all on an iCE40, 80 % on an ECP5 so they route),
75 % of its RAM bits, on an iCE40 its block RAMs less 1 and its SPRAMs less 1 for the SoC,
and at most :data:`FF_SHARE` flip-flop bits per LUT (per family): LUTs are bounded through the
registers, which is where they go (a register bit costs a flip-flop and about two LUTs of read
multiplexer and update logic); the slow synthesis tests hold every fitted design under
90 % of the device's LUTs.

:func:`fit` chooses a reuse factor per dense and act node: every edge and every gate
starts fully folded (one lane), and, greedily, the node whose unfolding saves the most
cycles per step while the design still fits is given more lanes, until nothing more fits.
When even the fully folded design does not fit (its registers need too many LUTs: Iris and
the 64-16-10 digits net on an iCE40UP5K), the fitter takes the serial architecture
(:mod:`.serial`), which keeps every register in block RAM. The result minimises cycles per
training step among the configurations the walk visits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from pcfpga.golden.activations import TABLE_ACTS
from pcfpga.golden.engine import node_registers

from .design import Design, as_design
from .folding import Folding, SERIAL_KINDS, table_entries, table_ram_bits
from .ports import message_width, partial_width, register_shape

__all__ = ["Estimate", "estimate", "fit", "FitError", "count_multipliers", "reuse_choices",
           "shortfalls"]

#: Fraction of a device's block RAM the fitter lets weights use (the rest: SoC buffers).
RAM_SHARE = 0.75

#: Block RAMs the fitter leaves to the SoC on an iCE40: the frame bridge's payload buffer
#: (:mod:`.bridge`); datasets go to SPRAM.
ICE40_SOC_BLOCKS = 1

#: SPRAMs the fitter leaves to the SoC on an iCE40UP: the epoch runner's dataset buffer
#: (:mod:`.runner`).
ICE40_SOC_SPRAMS = 1

#: Flip-flop bits of registers the fitter allows per LUT of the device, per family. A
#: register bit in the fabric costs a flip-flop and, with its read multiplexer and update
#: logic, about two LUTs. On an iCE40 a flip-flop takes a logic cell of its own more often
#: than not (measured with nextpnr, whole SoC: XOR folded h 2, y 2, 942 bits, needs 5,480
#: logic cells of 5,280; the serial 64-16-10 digits net, no such bits, 4,223); an ECP5 slice
#: has flip-flops beside its LUTs (Yosys: digits folded h 3, y 32 on an ECP5-25F, 6,264
#: bits, uses 52 % of the LUTs).
FF_SHARE = {"ice40": 0.1, "ecp5": 0.35}

#: Share of a device's DSPs the fitter lets a design use, per family. On an ECP5 the DSP
#: columns' input and output buses must all be routed through the fabric around them:
#: nextpnr-ecp5 routed XOR with 22 of the ECP5-25F's 28 DSPs (79 %) at 46 MHz, but gave up
#: on the fully parallel Iris with 147 of the ECP5-85F's 156 (94 %), 65,000 wires still
#: overused after 45 minutes. An iCE40UP5K's 8 DSPs sit beside the fabric and all route.
DSP_SHARE = {"ice40": 1.0, "ecp5": 0.8}


class FitError(ValueError):
    """No configuration fits the device; the message says what is short."""


@dataclass
class Estimate:
    """What :func:`estimate` counts for ``design`` (module docstring); :func:`fit` returns
    the estimate of the design it chose."""

    design: Design
    multipliers: int
    by_part: dict = field(default_factory=dict)     # "edge c.W.p" / "node n" -> count
    ram_bits: int = 0
    register_bits: int = 0
    cycles_per_tick: int = 0
    cycles_per_step: int = 0
    lanes: dict = field(default_factory=dict)       # folded edge -> (lanes, depth)
    ff_bits: int = 0            # flip-flop bits of registers, weights and accumulators
    ram_blocks: int = 0         # block RAMs (iCE40 EBR geometry: 256 words of 16 bits)
    spram_blocks: int = 0       # single-port weight memories (iCE40UP5K SPRAM)
    serial: bool = False

    @property
    def folding(self) -> Folding:
        """The design's folding choice."""
        return self.design.folding

    @property
    def architecture(self) -> str:
        if self.serial:
            return ("serial (registers in block RAM, one element per cycle"
                    + (", large edges' weights in SPRAM)" if self.spram_blocks else ")"))
        folded = {k: v for k, v in self.folding.factors.items() if v > 1}
        return ("folded: " + ", ".join(f"{k} reuse {v}" for k, v in folded.items())
                if folded else "fully parallel")

    def summary(self) -> str:
        spram = f" + {self.spram_blocks} single-port (SPRAM)" if self.spram_blocks else ""
        return (f"{self.multipliers} multipliers, {self.ram_bits:,} RAM bits in "
                f"{self.ram_blocks} blocks{spram}, {self.ff_bits:,} flip-flop bits (of which "
                f"{self.register_bits:,} weights), {self.cycles_per_tick} cycles per tick, "
                f"{self.cycles_per_step} per training step")


def estimate(design: Design) -> Estimate:
    """Resources and cycles of a :class:`~.design.Design` (module docstring; a graph is
    estimated fully parallel)."""
    design = as_design(design, who="The fitter")
    graph, plan = design.graph, design.plan
    Ww = graph.formats.weight.width
    streaming = design.streaming
    est = Estimate(design, 0, cycles_per_tick=design.cycles_per_tick,
                   cycles_per_step=design.cycles_per_step, serial=design.serial)
    f = graph.formats
    for n in graph.nodes:
        regs = [register_shape(graph, r).width for r in node_registers(n, streaming)]
        regs += ([Ww] if n.bias else []) + ([f.value.width] if n.output else [])
        regs += [f.value.width] if n.op == "input" else []
        if plan.serial:                 # one memory per register
            est.ram_bits += n.size * sum(regs)
            est.ram_blocks += len(regs) * _blocks(n.size, 16)
            if n.act in TABLE_ACTS:
                est.ram_bits += table_ram_bits(f)
                est.ram_blocks += 2 * _blocks(table_entries(f), 16)
        else:
            est.ff_bits += n.size * sum(regs)
        if n.op == "dense":
            for p in n.inputs:
                key = f"{n.name}.W.{p}"
                rows, cols = n.size, graph.node(p).size
                fo = plan.edges.get((n.name, p))
                if fo is not None:
                    count = fo.lanes
                    est.ram_bits += fo.depth * fo.lanes * Ww
                    if (n.name, p) in plan.single_port:     # SPRAM on an iCE40UP5K
                        est.spram_blocks += 1
                    else:
                        est.ram_blocks += math.ceil(fo.lanes * Ww / 16) * _blocks(fo.depth, 16)
                    est.lanes[key] = (fo.lanes, fo.depth)
                    est.ff_bits += _sums_ff_bits(graph, plan, n, p, rows, cols, est)
                else:
                    count = rows * cols * (3 if graph.node(p).is_hidden else 2)
                    est.register_bits += rows * cols * Ww
                    est.ff_bits += rows * cols * Ww
                est.by_part[f"edge {key}"] = count
        if n.name in plan.acts:             # folded: one pair of tables, a read per cycle
            est.ram_bits += plan.acts[n.name]
            est.ram_blocks += 2 * _blocks(table_entries(f), 16)
        elif not plan.serial and n.op in ("dense", "act") and n.act in TABLE_ACTS:
            est.ram_bits += n.size * table_ram_bits(f)      # parallel: a pair per element
            est.ram_blocks += n.size * 2 * _blocks(table_entries(f), 16)
        elements = 1 if plan.serial else n.size
        count = 0
        if "delta" in node_registers(n, streaming):
            count += plan.gates.get(n.name, (elements, 1))[0]
        if n.op == "mul":
            count += elements * (1 + sum(graph.node(p).is_hidden for p in n.inputs))
        if count:
            est.by_part[f"node {n.name}"] = count
    est.multipliers = sum(est.by_part.values())
    return est


def _sums_ff_bits(graph, plan, n, p, rows, cols, est) -> int:
    """Flip-flop bits of a folded edge's row sums and message columns; serial edges hand
    row sums of a one-parent node straight over and keep message columns in block RAM
    (two columns or more), which ``est`` is charged for."""
    pw, mw = partial_width(graph, n.name, p), message_width(graph, n.name, p)
    hidden = graph.node(p).is_hidden
    if not plan.serial:
        return rows * pw + (cols * mw if hidden else 0)
    bits = 0 if len(n.inputs) == 1 else rows * pw
    if hidden and cols >= 2:
        est.ram_bits += cols * mw
        est.ram_blocks += _blocks(cols, mw)
    elif hidden:
        bits += mw
    return bits


def _blocks(depth: int, width: int) -> int:
    """Block RAMs of a memory of ``depth`` words of up to ``width`` bits (256 × 16 each)."""
    return math.ceil(depth / 256) * math.ceil(width / 16)


def reuse_choices(count: int) -> list:
    """The distinct reuse factors of an edge of ``count`` weights (one per lane count)."""
    return sorted({math.ceil(count / lanes) for lanes in range(1, count + 1)})


def shortfalls(est: Estimate, device) -> list:
    """What ``device`` lacks for ``est`` (empty when it fits): DSPs, RAM."""
    short = []
    if est.multipliers > device.dsp:
        short.append(f"{est.multipliers} multipliers > {device.dsp} DSPs")
    elif est.multipliers > DSP_SHARE[device.family] * device.dsp:
        short.append(f"{est.multipliers} multipliers > {DSP_SHARE[device.family]:.0%} of "
                     f"the device's {device.dsp} DSPs (routing)")
    if est.ram_bits > RAM_SHARE * (device.bram_bits + device.spram_bits):
        short.append(f"{est.ram_bits:,} RAM bits > {RAM_SHARE:.0%} of the device's "
                     f"{device.bram_bits + device.spram_bits:,}")
    sprams = device.spram_bits // (256 * 1024)
    if device.family == "ice40" and est.spram_blocks > sprams - ICE40_SOC_SPRAMS:
        short.append(f"{est.spram_blocks} single-port weight memories > the device's "
                     f"{sprams} SPRAMs less {ICE40_SOC_SPRAMS} for the dataset")
    if device.family == "ice40" and est.ram_blocks > device.bram_blocks - ICE40_SOC_BLOCKS:
        short.append(f"{est.ram_blocks} block RAMs > the {device.bram_blocks} of the device "
                     f"less {ICE40_SOC_BLOCKS} for the SoC")
    share = FF_SHARE[device.family]
    if est.ff_bits > share * device.lut:
        short.append(f"{est.ff_bits:,} flip-flop bits of registers > {share:.0%} of the "
                     f"device's {device.lut:,} LUTs")
    return short


def fit(graph, device) -> Estimate:
    """The design of ``graph`` that fits ``device`` with the fewest cycles per step (reuse
    factors per dense and act node, or serial): its estimate, whose ``design`` it is."""
    dense = [n for n in graph.nodes if n.op in ("dense", "act")]
    if graph.learning.mode == "streaming":
        est = estimate(Design.build(graph, 1))
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
    best = estimate(Design.build(graph, current))
    short = shortfalls(best, device)
    if short:
        for kind in SERIAL_KINDS:   # block RAM only (faster), else large edges in SPRAM
            serial = estimate(Design.build(graph, kind))
            short_serial = shortfalls(serial, device)
            if not short_serial:
                return serial
        raise FitError(f"{graph.name} does not fit {device.name} even fully folded "
                       f"({'; '.join(short)}) or serial ({'; '.join(short_serial)})")
    while True:
        step = None
        for name in counts:
            if level[name] + 1 >= len(choices[name]):
                continue
            trial = dict(current, **{name: choices[name][level[name] + 1]})
            est = estimate(Design.build(graph, trial))
            if shortfalls(est, device):
                continue
            gain = best.cycles_per_step - est.cycles_per_step
            cost = max(est.multipliers - best.multipliers, 1)
            if step is None or gain / cost > step[0]:
                step = (gain / cost, name, trial, est)
        if step is None:
            return _or_serial(graph, device, best)
        _, name, current, best = step
        level[name] += 1


def _or_serial(graph, device, best) -> Estimate:
    """``best``, or the serial design when it fits ``device`` and takes fewer cycles (it can:
    its steps last only as long as their nodes, and a folded phase waits for its whole
    edge; but its pipeline registers cost cycles too: dag on 26 DSPs, 354 cycles serial,
    347 most folded)."""
    serial = estimate(Design.build(graph, SERIAL_KINDS[0]))
    if serial.cycles_per_step < best.cycles_per_step and not shortfalls(serial, device):
        return serial
    return best


def count_multipliers(design: Design) -> int:
    """``$mul`` cells in the elaborated ``design`` (a graph: fully parallel) after Yosys's
    ``proc; flatten; opt -full`` (the builtin Yosys has no ``stat``; the cells are counted in
    its RTLIL output)."""
    from amaranth._toolchain.yosys import find_yosys
    from amaranth.back import rtlil

    from .network import Network

    text = rtlil.convert(Network(design), name="top", emit_src=False)
    yosys = find_yosys(lambda version: True)
    script = (f"read_rtlil <<rtlil\n{text}\nrtlil\nhierarchy -top top\nproc\nflatten\n"
              f"opt -full\nwrite_rtlil\n")
    out = yosys.run(["-q", "-"], script, ignore_warnings=True)
    return len(re.findall(r"^\s*cell \$mul ", out, re.M))

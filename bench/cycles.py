"""Cycles per tick and per training sample of every example, measured in simulation next
to the design's formula.

    .venv/bin/python bench/cycles.py            (make bench)

For each example and mode the network runs 3 training steps in Amaranth's simulator
(checked bit for bit against the golden model while it runs); the controller's cycle
counter gives the measured cycles per sample. Formula: L + A + 3 + c·T + 1 + LATENCY·P + R,
with L the longest path from an input, A the forward levels with a dense or act node (an
activation step each), T the ticks per sample, c the micro-steps per tick (2 in exact and
fpa, 5 in standard), P the registered products in a row that the micro-steps of one sample
wait for (:func:`~pcfpga.hdl.program.product_depths`, counted once per run of a step) and
R the runs of steps that read a tanh or sigmoid table in block RAM, a cycle each
(:func:`~pcfpga.hdl.program.table_steps`); streaming takes one tick of 4 micro-steps,
4 + LATENCY·P + R, per sample.
"""

import sys
import time

import numpy as np

from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params
from pcfpga.golden.random_graph import random_sample
from pcfpga.hdl.design import Design
from pcfpga.hdl.multiplier import LATENCY
from pcfpga.hdl.program import product_depths, table_steps
from pcfpga.sim.simulate import simulate_against_golden

MODES = {"exact": {}, "fpa": {"eta_v": 0.5, "ticks": 8}, "standard": {"eta_v": 0.5,
                                                                      "ticks": 8},
         "streaming": {}}
STEPS = 3


def main(modes=("exact", "streaming")):
    rows = [("network", "mode", "L", "T", "cyc/tick", "formula", "cyc/sample", "measured",
             "sim s")]
    for name in EXAMPLES:
        for mode in modes:
            g = Graph.from_toml(str(example_path(name))).with_settings(mode=mode,
                                                                        **MODES[mode])
            rng = np.random.default_rng(0)
            samples = [random_sample(g, rng) for _ in range(STEPS)]
            t = time.perf_counter()
            design = Design.build(g)
            res = simulate_against_golden(design, init_params(g, 0), samples, pause=False)
            L = max(design.levels.values())
            c = design.cycles_per_tick
            rows.append((name, mode, str(L), str(g.ticks), str(c), formula(design),
                         str(design.cycles_per_step), f"{res['cycles'] / STEPS:g}",
                         f"{time.perf_counter() - t:.1f}"))
            print(f"  {name} {mode} done", file=sys.stderr, flush=True)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def formula(design) -> str:
    """The cycles per sample of a fully parallel ``design``, as a sum (module docstring)."""
    g, prog = design.graph, design.program
    depth, tables = product_depths(g, design.plan), table_steps(g)
    per_tick = sum(depth.get(s, 0) for s in prog.tick)
    tick_tables = sum(s in tables for s in prog.tick)
    if prog.streaming:
        return f"4+{LATENCY}*{per_tick}+{tick_tables}"
    P = sum(depth.get(s, 0) for s in prog.forward + prog.update) + g.ticks * per_tick
    R = sum(s in tables for s in prog.forward) + g.ticks * tick_tables
    L = max(design.levels.values())
    A = len({design.levels[n.name] for n in g.nodes if n.op in ("dense", "act")})
    return f"{L}+{A}+3+{len(prog.tick)}*{g.ticks}+1+{LATENCY}*{P}+{R}"


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or ("exact", "streaming"))

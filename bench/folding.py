"""Folding: multipliers, weight memory and cycles per sample against the reuse factor.

    .venv/bin/python bench/folding.py            (make bench-fold)

For XOR, Iris and the 8x8-digits net (64-16-10) at several global reuse factors, and at
the factors the fitter chooses for each board, prints the fitter's estimate (multipliers,
weight RAM bits, cycles per training sample, samples/s at the board clock), the
multipliers Yosys finds in the elaborated design, and the cycles per sample measured in
Amaranth's simulator (2 training steps, checked bit for bit against the golden model,
hardware cycle counter, no pauses). For the boards' configurations, when Yosys is
installed (``pip install 'pcfpga[synth]'``), the core is synthesised
(:func:`pcfpga.boards.cells.core_stats`: ``synth_ice40 -dsp`` / ``synth_ecp5``) and the
DSP, LUT4, flip-flop and block-RAM cells are printed, LUTs also as a share of the device.
The whole SoC placed and routed, with Fmax: ``bench/synth.py`` (``make bench-synth``).
"""

import sys
import time

import numpy as np

from pcfpga.boards.devices import BOARDS
from pcfpga.boards.cells import ToolMissing, core_stats, find_yosys
from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params
from pcfpga.golden.random_graph import random_sample
from pcfpga.hdl.design import Design
from pcfpga.hdl.fit import FitError, count_multipliers, estimate, fit
from pcfpga.sim.simulate import Simulation, simulate_against_golden

STEPS = 2


def nets():
    for name in ("xor", "iris", "digits"):
        yield Graph.from_toml(str(example_path(name)))


def measure(design) -> float:
    g = design.graph
    rng = np.random.default_rng(0)
    samples = [random_sample(g, rng) for _ in range(STEPS)]
    res = simulate_against_golden(g, init_params(g, 0), samples,
                                  simulation=Simulation(design, pause=False))
    return res["cycles"] / STEPS


def main():
    try:
        find_yosys()
        synth = True
    except ToolMissing as e:
        print(f"  (no synthesis columns: {e})", file=sys.stderr)
        synth = False
    rows = [("network", "target", "reuse", "mults", "yosys", "RAM bits", "cyc/sample",
             "measured", "samples/s", "synth DSP", "synth LUT4", "synth FF", "synth BRAM")]
    for g in nets():
        configs = [(f"reuse {r}", r, None) for r in (1, 2, 4, 8, 16, "serial")]
        for b in BOARDS.values():
            try:
                configs.append((b.name, fit(g, b.device).folding.to_json(), b))
            except FitError as e:
                rows.append((g.name, b.name, "-", "-", "-", "-", "-", "-",
                             f"does not fit: {str(e).split(': ', 1)[1]}", "", "", "", ""))
        for label, reuse, b in configs:
            t = time.perf_counter()
            design = Design.build(g, reuse)
            est = estimate(design)
            big = est.multipliers > 400                     # elaboration takes minutes
            yosys = "-" if big else str(count_multipliers(design))
            measured = "-" if big else f"{measure(design):g}"
            clock = b.clock_hz if b else 12e6
            shown = (str(reuse) if isinstance(reuse, (int, str)) else
                     ",".join(f"{k}:{v}" for k, v in reuse.items()))
            cells = ("-", "-", "-", "-")
            if synth and b is not None:
                st = core_stats(design, b.device.family)
                cells = (f"{st['dsp']}/{b.device.dsp}",
                         f"{st['lut']:,} ({100 * st['lut'] / b.device.lut:.0f}%)",
                         f"{st['ff']:,}", str(st["bram"]))
            rows.append((g.name, label, shown, str(est.multipliers), yosys,
                         f"{est.ram_bits:,}", str(est.cycles_per_step), measured,
                         f"{clock / est.cycles_per_step:,.0f}" + ("" if b else " @12MHz"),
                         *cells))
            print(f"  {g.name} {label} ({time.perf_counter() - t:.1f} s)", file=sys.stderr,
                  flush=True)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()

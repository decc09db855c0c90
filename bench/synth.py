"""Whole-SoC synthesis, placement and routing of XOR, Iris and the 8x8-digits net for every
board, with the configuration the fitter chooses.

    .venv/bin/python bench/synth.py            (make bench-synth; writes docs/synth.txt)

Each build runs :func:`pcfpga.boards.build.synthesize` (YoWASP Yosys and nextpnr, as
``pcfpga synth`` does) into ``build/synth/<net>-<board>`` and the table shows what nextpnr
reports: DSPs, LUTs (iCE40: logic cells, each a LUT4 with its flip-flop; ECP5: LUT4s), block
RAMs, the Fmax achieved against the board clock, and the fitter's cycles per training
sample with the samples/s they give at that Fmax. A build that fails is a row saying why.
"""

import os
import sys
import time

from pcfpga.boards.build import SynthesisFailed, synthesize
from pcfpga.boards.devices import BOARDS
from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.fit import FitError, fit


def nets():
    for name in ("xor", "iris", "digits"):
        yield Graph.from_toml(str(example_path(name)))


def _reuse(est):
    if isinstance(est.reuse, str):
        return est.reuse
    folded = {k: v for k, v in est.reuse.items() if v > 1}
    return ", ".join(f"{k} {v}" for k, v in folded.items()) or "parallel"


def main():
    rows = [("network", "board", "reuse", "DSP", "LUT", "RAM", "Fmax MHz", "cycles/sample",
             "samples/s @Fmax", "build s")]
    for g in nets():
        for b in BOARDS.values():
            t = time.perf_counter()
            try:
                est = fit(g, b.device)
                rep = synthesize(g, b.name, os.path.join("build", "synth", f"{g.name}-{b.name}"),
                                 log=lambda s: print(f"  {s}", file=sys.stderr, flush=True))
            except (FitError, SynthesisFailed) as e:
                rows.append((g.name, b.name, "-", "-", "-", "-", "-", "-", str(e)[:60], "-"))
                continue
            c = rep["cells"]

            def used(col):
                return (f"{c[col]['used']:,}/{c[col]['available']:,} "
                        f"({100 * c[col]['used'] / c[col]['available']:.0f}%)")
            rows.append((g.name, b.name, _reuse(est), used("dsp"), used("lut"), used("bram"),
                         f"{rep['fmax_mhz']:.1f} ({rep['required_mhz']:g})"
                         + ("" if rep["timing_met"] else " NOT MET"),
                         str(rep["cycles_per_sample"]), f"{rep['samples_per_s_at_fmax']:,.0f}",
                         f"{time.perf_counter() - t:.0f}"))
            print(f"  {g.name} {b.name} done ({time.perf_counter() - t:.0f} s)",
                  file=sys.stderr, flush=True)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()

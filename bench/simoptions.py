"""Verilator's build options for the native model, measured side by side.

    .venv/bin/python bench/simoptions.py [CYCLES]

Each option set of :data:`pcfpga.sim.verilated.OPTION_SETS` is built for XOR, Iris and
digits (reuse 2, as ``pcfpga report`` simulates it), and each model is clocked by the bare
C++ loop (``pc_bound``: one START, the ``steps`` word set so that about CYCLES cycles run,
default 2,000,000; no bus traffic) three times; the best of the three is its speed. Build
time and speed are printed with the ratio to Verilator's defaults. The README records the
figures that chose :data:`~pcfpga.sim.verilated.BUILD_OPTIONS`.
"""

import sys
import time

from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.design import Design
from pcfpga.sim.verilated import OPTION_SETS, VerilatedBuild, VerilatedModel

NETS = (("xor", 1), ("iris", 1), ("digits", 2))
BUILD = "build/bench-sim"
REPEATS = 3


def measure(build: VerilatedBuild, cycles: int) -> float:
    """Cycles per second of the bound, the best of :data:`REPEATS` runs."""
    model = VerilatedModel(build.build(), build.options.threads)
    try:
        cps = model.read(build.memmap["cycles_per_step"].addr)
        steps = max(1, min(65535, cycles // cps))
        best = 0.0
        for _ in range(REPEATS):
            n, seconds = model.bound(steps)
            best = max(best, n / seconds)
        return best
    finally:
        model.close()


def main(cycles: int = 2_000_000):
    rows = [("network", "options", "build s", "cycles/s", "vs defaults")]
    for name, reuse in NETS:
        design = Design.build(Graph.from_toml(str(example_path(name))), reuse)
        base = None
        for label, options in OPTION_SETS.items():
            build = VerilatedBuild(design, BUILD, options)
            print(f"  {name}: {label} ({options}) ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            build.build()
            built = time.perf_counter() - start
            speed = measure(build, cycles)
            base = base or speed
            rows.append((name, label, f"{built:.1f}", f"{speed:,.0f}", f"{speed / base:.2f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000)

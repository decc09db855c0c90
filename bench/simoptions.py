"""Verilator's build options for the native model, measured side by side.

    .venv/bin/python bench/simoptions.py [CYCLES]

Each option set of :data:`pcfpga.sim.verilated.OPTION_SETS` is built for XOR, Iris and
digits (reuse 2, as ``pcfpga report`` simulates it), and each model is clocked by the bare
C++ loop (``pc_bound``: one START, the ``steps`` word set so that about CYCLES cycles run,
default 2,000,000; no bus traffic) in five rounds, each round running every option set's
model once in turn; the best round is its speed. Build time (0 when the model was already
built) and speed are printed with the ratio to Verilator's defaults. The README records the
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
REPEATS = 5


def bound_steps(build: VerilatedBuild, model: VerilatedModel, cycles: int) -> int:
    """Steps per START that take about ``cycles`` cycles."""
    cps = model.read(build.memmap["cycles_per_step"].addr)
    return max(1, min(65535, cycles // cps))


def measure(builds: dict, cycles: int) -> dict:
    """``{label: cycles/s}``: the best of :data:`REPEATS` rounds, each round running every
    model once in turn (so that a change in the machine's load falls on all of them). A
    model exists only for its turn: a threaded model's workers would take the others'
    cores while they wait."""
    best = dict.fromkeys(builds, 0.0)
    for _ in range(REPEATS):
        for k, b in builds.items():
            model = VerilatedModel(b.build(), b.options.threads)
            try:
                n, seconds = model.bound(bound_steps(b, model, cycles))
            finally:
                model.close()
            best[k] = max(best[k], n / seconds)
    return best


def main(cycles: int = 2_000_000):
    rows = [("network", "options", "build s", "cycles/s", "vs defaults")]
    widths = (7, 14, 7, 10, 11)
    print("  ".join(c.rjust(w) for c, w in zip(rows[0], widths)), flush=True)
    for name, reuse in NETS:
        design = Design.build(Graph.from_toml(str(example_path(name))), reuse)
        builds, built = {}, {}
        for label, options in OPTION_SETS.items():
            builds[label] = VerilatedBuild(design, BUILD, options)
            print(f"  {name}: {label} ({options}) ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            builds[label].build()
            built[label] = time.perf_counter() - start
        speed = measure(builds, cycles)
        base = speed["defaults"]
        for label in builds:
            row = (name, label, f"{built[label]:.1f}", f"{speed[label]:,.0f}",
                   f"{speed[label] / base:.2f}x")
            print("  ".join(c.rjust(w) for c, w in zip(row, widths)), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000)

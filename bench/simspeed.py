"""Simulation speed of Verilator, Icarus and the Amaranth simulator, side by side.

    .venv/bin/python bench/simspeed.py [STEPS]        (make bench-sim)

Each network trains STEPS samples (default 200) without pauses on every simulator in the
same run, checked against the golden model at the end (final parameters bit for bit).
Speed is the hardware's own cycle count divided by the wall time of the simulation run
(builds excluded; cocotb runs include the simulator's start-up of about half a second,
which is why STEPS should not be small), and the Python testbench writing each sample
over the bus dominates for nets this small. Ratios are against the Amaranth simulator.
"""

import sys

from pcfpga.examples import data_path, example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.training import sample
from pcfpga.sim.pysim import PySimRunner, simulate_against_golden
from pcfpga.sim.runner import CocotbRunner, available

NETS = (("xor", "xor"), ("iris", "iris_train"))


def main(steps: int = 200):
    rows = [("network", "simulator", "cycles", "seconds", "cycles/s", "vs amaranth")]
    for name, data in NETS:
        g = Graph.from_toml(str(example_path(name)))
        x, y, n = load_dataset(str(data_path(data)), g)
        samples = [(sample(x, i % n), sample(y, i % n)) for i in range(steps)]
        base = None
        for sim in ("amaranth", "verilator", "icarus"):
            if sim != "amaranth" and not available(sim):
                rows.append((name, sim, "-", "-", "not installed", "-"))
                continue
            runner = (PySimRunner(g, pause=False) if sim == "amaranth" else
                      CocotbRunner(g, sim, pause=False, build_root="build/bench-sim"))
            if sim != "amaranth":
                runner.build()
            print(f"  {name} on {sim} ...", file=sys.stderr, flush=True)
            simulate_against_golden(g, init_params(g, 0), samples, runner=runner)
            speed = runner.cycles / runner.seconds
            base = base or speed
            rows.append((name, sim, str(runner.cycles), f"{runner.seconds:.2f}",
                         f"{speed:,.0f}", f"{speed / base:.2f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

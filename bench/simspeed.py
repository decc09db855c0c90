"""Simulation speed of Verilator, Icarus and the Amaranth simulator, side by side.

    .venv/bin/python bench/simspeed.py [STEPS]        (make bench-sim)

Two ways of running each network on every simulator in the same run:

* **host-driven**: STEPS samples (default 200), each written over the bus by the Python
  testbench, START, wait for DONE; this is what ``pcfpga sim`` and ``train --backend sim``
  do (without the per-tick register reads), and the bus traffic dominates;
* **free-running**: one sample, one START with the ``steps`` word set to 25 × STEPS, so the
  design runs with no bus traffic at all: this measures the simulator on the design.

Both are checked against the golden model (final parameters bit for bit). Speed is the
hardware's own cycle count divided by the wall time of the requests (builds and simulator
start-up excluded). Ratios are against the Amaranth simulator on the same row.
"""

import sys

import numpy as np

from pcfpga.examples import data_path, example_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.training import sample
from pcfpga.sim.session import Mismatch
from pcfpga.sim.simulate import Simulation, available, open_session, simulate_against_golden

NETS = (("xor", "xor"), ("iris", "iris_train"), ("dag", "dag_train"))
SIMULATORS = ("amaranth", "verilator", "icarus")
BUILD = "build/bench-sim"


def host_driven(g, sim, samples):
    simulation = Simulation(g, sim, pause=False, build_root=BUILD)
    simulate_against_golden(g, init_params(g, 0), samples, simulation=simulation)
    return simulation.cycles, simulation.seconds


def free_running(g, sim, x, y, steps):
    model = FixedPC(g)
    q = model.to_model(init_params(g, 0))
    xi, yi = quantize(g, x), quantize(g, y)
    with open_session(g, sim, build_root=BUILD) as s:
        s.load(q)
        s.run([(xi, yi)], trace=False, repeat=steps)
        got = s.read(list(q))
    V = g.formats.value
    for _ in range(steps):
        q, _ = model.step(q, {k: V.to_float(v) for k, v in xi.items()},
                          {k: V.to_float(v) for k, v in yi.items()})
    for k in q:
        if not np.array_equal(got[k].reshape(np.shape(q[k])), q[k]):
            raise Mismatch(f"{g.name} on {sim}, free-running {steps} steps: {k} differs")
    return s.cycles, s.seconds


def main(steps: int = 200):
    rows = [("network", "run", "simulator", "cycles", "seconds", "cycles/s", "vs amaranth")]
    for name, data in NETS:
        g = Graph.from_toml(str(example_path(name)))
        x, y, n = load_dataset(str(data_path(data)), g)
        samples = [(sample(x, i % n), sample(y, i % n)) for i in range(steps)]
        for run in ("host-driven", "free-running"):
            base = None
            for sim in SIMULATORS:
                if not available(sim):
                    rows.append((name, run, sim, "-", "-", "not installed", "-"))
                    continue
                Simulation(g, sim, build_root=BUILD).build()
                print(f"  {name} {run} on {sim} ...", file=sys.stderr, flush=True)
                cycles, seconds = (host_driven(g, sim, samples) if run == "host-driven" else
                                   free_running(g, sim, samples[0][0], samples[0][1],
                                                25 * steps))
                speed = cycles / seconds
                base = base or speed
                rows.append((name, run, sim, f"{cycles:,}", f"{seconds:.2f}", f"{speed:,.0f}",
                             f"{speed / base:.2f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

"""Simulation speed of every simulator, side by side, and of long training runs.

    .venv/bin/python bench/simspeed.py [STEPS]        (make bench-sim)

Three tables from one run, every figure checked against the golden model:

1. **Speed.** XOR, Iris and dag on Amaranth's simulator, Verilator through cocotb, the
   native Verilator model (:mod:`pcfpga.sim.native_backend`: the model and a C++ driver
   in one library) and Icarus, two ways:

   * host-driven: STEPS samples (default 200), each written over the bus, START, wait
     for DONE (what ``train --backend sim --check params`` does);
   * free-running: one sample, one START per 65,535 steps at most (the ``steps`` word),
     no bus traffic while it runs: this measures the simulator on the design. 25 × STEPS
     steps, and 250 × STEPS on the native model (a shorter run would be over in
     milliseconds); the final parameters equal the golden model's bit for bit;
   * the bound: the same native model, the same number of cycles, clocked by a bare C++
     loop (``fastsim.cpp``'s ``pc_bound``, timed in C++): the fastest this model runs.

   Speed is the hardware's own cycle count over the wall time of the requests (builds and
   start-up excluded). Ratios: against Amaranth on the same row, and (free-running
   Verilator) against the bound.
2. **Long training.** ``pcfpga train examples/digits.toml --reuse 2 --backend sim --check
   params --epochs 20`` on the native model, timed as a command (build excluded),
   parameters and flags equal to the fixed-point model's after every batch of 64 steps;
   and one epoch of it on each Verilator engine, side by side.
"""

import contextlib
import io
import sys
import time

import numpy as np

from pcfpga.cli import main as pcfpga
from pcfpga.examples import data_path, example_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.training import sample, train
from pcfpga.hdl.design import Design
from pcfpga.sim.session import Mismatch
from pcfpga.sim.simulate import Simulation, available, simulate_against_golden
from pcfpga.sim.training import SimulatedPC

NETS = (("xor", "xor"), ("iris", "iris_train"), ("dag", "dag_train"))
#: (label, simulator, engine)
RUNNERS = (("amaranth", "amaranth", None), ("verilator native", "verilator", "native"),
           ("verilator cocotb", "verilator", "cocotb"), ("icarus", "icarus", None))
BUILD = "build/bench-sim"
#: Steps per START at most (the 16-bit ``steps`` word).
MAX_REPEAT = 65535
DIGITS_EPOCHS = 20


def host_driven(g, sim, engine, samples):
    simulation = Simulation(g, sim, pause=False, build_root=BUILD, engine=engine)
    simulate_against_golden(g, init_params(g, 0), samples, simulation=simulation)
    return simulation.cycles, simulation.seconds


_GOLDEN = {}


def golden_after(g, q, xi, yi, steps):
    """The golden parameters after ``steps`` steps of one sample (computed once a run)."""
    key, cache = (g.name, steps), _GOLDEN
    if key not in cache:
        model, V = FixedPC(g), g.formats.value
        for _ in range(steps):
            q, _ = model.step(q, {k: V.to_float(v) for k, v in xi.items()},
                              {k: V.to_float(v) for k, v in yi.items()})
        cache[key] = q
    return cache[key]


def free_running(g, sim, engine, x, y, steps):
    """(cycles, seconds) of ``steps`` steps of one sample from as few STARTs as the steps
    word allows, and the bound's (cycles, seconds) on the native model (else None)."""
    q = FixedPC(g).to_model(init_params(g, 0))
    xi, yi = quantize(g, x), quantize(g, y)
    simulation = Simulation(g, sim, build_root=BUILD, engine=engine)
    with simulation.open() as s:
        s.load(q)
        left = steps
        while left:
            s.run([(xi, yi)], trace=False, repeat=min(left, MAX_REPEAT))
            left -= min(left, MAX_REPEAT)
        got = s.read(list(q))
    want = golden_after(g, q, xi, yi, steps)
    for k in want:
        if not np.array_equal(got[k].reshape(np.shape(want[k])), want[k]):
            raise Mismatch(f"{g.name} on {sim}, free-running {steps} steps: {k} differs")
    bound = None
    if engine == "native":
        with simulation.open() as b:
            b.load(q)
            b.run([(xi, yi)], trace=False)          # the sample in its buffers
            bound = [0, 0.0]
            left = steps - 1
            while left:
                c, t = b.model.bound(min(left, MAX_REPEAT))
                bound[0] += c
                bound[1] += t
                left -= min(left, MAX_REPEAT)
    return s.cycles, s.seconds, bound


def speed_table(steps: int) -> list:
    rows = [("network", "run", "simulator", "cycles", "seconds", "cycles/s", "vs amaranth",
             "vs bound")]
    for name, data in NETS:
        g = Graph.from_toml(str(example_path(name)))
        x, y, n = load_dataset(str(data_path(data)), g)
        samples = [(sample(x, i), sample(y, i)) for i in (np.arange(steps) % n)]
        for run in ("host-driven", "free-running"):
            base = bound_speed = None
            for label, sim, engine in RUNNERS:
                if not available(sim):
                    rows.append((name, run, label, "-", "-", "not installed", "-", "-"))
                    continue
                Simulation(g, sim, build_root=BUILD, engine=engine).build()
                print(f"  {name} {run} on {label} ...", file=sys.stderr, flush=True)
                bound = None
                if run == "host-driven":
                    cycles, seconds = host_driven(g, sim, engine, samples)
                else:
                    count = (250 if engine == "native" else 25) * steps
                    cycles, seconds, bound = free_running(g, sim, engine, *samples[0], count)
                speed = cycles / seconds
                base = base or speed
                if bound:
                    bound_speed = bound[0] / bound[1]
                ratio = (f"{speed / bound_speed:.2f}x" if bound_speed and sim == "verilator"
                         else "-")
                rows.append((name, run, label, f"{cycles:,}", f"{seconds:.2f}",
                             f"{speed:,.0f}", f"{speed / base:.2f}x", ratio))
                if bound:
                    rows.append((name, run, "C++ loop (bound)", f"{bound[0]:,}",
                                 f"{bound[1]:.2f}", f"{bound_speed:,.0f}",
                                 f"{bound_speed / base:.2f}x", "1.00x"))
    return rows


def digits_epoch(engine: str, design, data) -> tuple:
    """(seconds, steps) of one epoch of digits on ``engine`` with ``--check params``."""
    g = design.graph
    model = SimulatedPC(design, "verilator", check="params", build_root=BUILD, engine=engine)
    logged = []                 # after the start and the first evaluation, after the epoch
    try:
        train(model, init_params(g, 0), data, None, epochs=1, seed=0,
              log=lambda s: logged.append(time.perf_counter()))
        return logged[1] - logged[0], model.steps_checked
    finally:
        model.close()


def training_table() -> list:
    g = Graph.from_toml(str(example_path("digits")))
    design = Design.build(g, 2)
    data = load_dataset(str(data_path("digits_train")), g)
    rows = [("run", "engine", "steps", "seconds", "steps/s", "vs cocotb")]
    base = None
    for engine in ("cocotb", "native"):
        Simulation(design, "verilator", build_root=BUILD, engine=engine).build()
        print(f"  digits, one epoch on verilator {engine} ...", file=sys.stderr, flush=True)
        seconds, steps = digits_epoch(engine, design, data)
        base = base or steps / seconds
        rows.append(("digits 1 epoch", engine, f"{steps:,}", f"{seconds:.1f}",
                     f"{steps / seconds:,.0f}", f"{steps / seconds / base:.2f}x"))
    command = ["train", str(example_path("digits")), "--data", str(data_path("digits_train")),
               "--test", str(data_path("digits_test")), "--reuse", "2", "--backend", "sim",
               "--check", "params", "--epochs", str(DIGITS_EPOCHS), "--build", BUILD,
               "--out", f"{BUILD}/digits_trained.npz"]
    print(f"  pcfpga {' '.join(command)} ...", file=sys.stderr, flush=True)
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = pcfpga(command)
    seconds = time.perf_counter() - start
    if code:
        raise SystemExit(f"pcfpga train digits failed ({code}):\n{out.getvalue()}")
    match = next(line for line in out.getvalue().splitlines() if line.startswith("match:"))
    steps = DIGITS_EPOCHS * data[2]
    rows.append((f"pcfpga train digits {DIGITS_EPOCHS} epochs", "native", f"{steps:,}",
                 f"{seconds:.1f}", f"{steps / seconds:,.0f}",
                 f"{steps / seconds / base:.2f}x"))
    rows.append((match, "", "", "", "", ""))
    return rows


def show(rows: list):
    widths = [max(len(r[i]) for r in rows if r[1]) for i in range(len(rows[0]))]
    for r in rows:
        if not r[1]:
            print(r[0])
            continue
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def main(steps: int = 200):
    speed = speed_table(steps)
    training = training_table()
    show(speed)
    print()
    show(training)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

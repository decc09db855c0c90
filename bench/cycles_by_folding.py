"""Cycles per training sample of every example, mode and folding choice, measured in
Amaranth's simulator next to the design's formula.

    .venv/bin/python bench/cycles_by_folding.py > cycles.tsv

Each row runs 3 training steps (parameters ``init_params(g, 0)``, seeded random samples) in
a child process with a time limit, and compares the final parameters with the golden model
bit for bit; the cycles the controller counted, divided by 3, are the measured cycles per
sample, beside the design's ``cycles_per_step``. Folding choices a mode does not allow
(streaming is fully parallel only) print ``n/a`` with the first words of the refusal. The
script also runs on trees from before issue 15 (the ``sim.pysim`` runner and the
controller's formula), which is how issue 15's note compared cycles before and after:
identical in all 84 rows. Rows are tab-separated: example, mode, reuse, measured, formula,
status; progress goes to stderr.
"""

import json
import subprocess
import sys
import time

LIMIT = 180
MODES = {"exact": {}, "fpa": {"eta_v": 0.5, "ticks": 8},
         "standard": {"eta_v": 0.5, "ticks": 8}, "streaming": {}}
REUSES = [1, 2, "serial", "serial-spram"]
STEPS = 3


def graph_of(name, mode):
    from pcfpga.examples import example_path
    from pcfpga.golden.graph import Graph
    return Graph.from_toml(str(example_path(name))).with_settings(mode=mode, **MODES[mode])


def one(name, mode, reuse):
    """Child: simulate one configuration; print a JSON line."""
    import numpy as np

    from pcfpga.golden.params import init_params
    from pcfpga.golden.random_graph import random_sample
    try:
        from pcfpga.sim.pysim import PySimRunner, simulate_against_golden
        keyword = "runner"
    except ImportError:                         # after issue 15: the shims are gone
        from pcfpga.hdl.design import Design
        from pcfpga.sim.simulate import Simulation, simulate_against_golden

        def PySimRunner(g, pause, reuse):
            return Simulation(Design.build(g, reuse), "amaranth", pause=pause)

        keyword = "simulation"

    g = graph_of(name, mode)
    rng = np.random.default_rng(0)
    samples = [random_sample(g, rng) for _ in range(STEPS)]
    t = time.perf_counter()
    try:
        simulation = PySimRunner(g, pause=False, reuse=reuse)
        res = simulate_against_golden(g, init_params(g, 0), samples, pause=False,
                                      **{keyword: simulation})
        out = {"cycles": res["cycles"], "steps": res["steps"]}
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        out = {"error": f"{type(e).__name__}: {e}"}
    out["seconds"] = time.perf_counter() - t
    print("RESULT " + json.dumps(out), flush=True)


def formula(g, reuse):
    """cycles_per_step(g, fold_plan(g, reuse)), or raise the tree's validation error."""
    try:
        from pcfpga.hdl.design import Design
        return Design.build(g, reuse).cycles_per_step
    except ImportError:
        from pcfpga.hdl.controller import cycles_per_step
        from pcfpga.hdl.fold import fold_plan
        return cycles_per_step(g, fold_plan(g, reuse))


def first_words(msg, n=8):
    return " ".join(str(msg).split()[:n]) + " ..."


def main():
    from pcfpga.examples import EXAMPLES
    print("\t".join(("example", "mode", "reuse", "measured", "formula", "status")),
          flush=True)
    for name in list(EXAMPLES) + ["digits"]:
        for mode in (MODES if name != "digits" else ["exact"]):
            g = graph_of(name, mode)
            for reuse in REUSES:
                t = time.perf_counter()
                try:
                    f = formula(g, reuse)
                except Exception as e:  # noqa: BLE001 - the tree's validation
                    row = (name, mode, str(reuse), "n/a", "n/a",
                           f"n/a: {first_words(e)}")
                    print("\t".join(row), flush=True)
                    print(f"{name} {mode} {reuse}: n/a {time.perf_counter() - t:.1f} s",
                          file=sys.stderr, flush=True)
                    continue
                cmd = [sys.executable, __file__, "--one", name, mode, json.dumps(reuse)]
                try:
                    p = subprocess.run(cmd, capture_output=True, text=True, timeout=LIMIT)
                    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
                    if not lines:
                        res = {"error": f"child exit {p.returncode}: "
                                        f"{p.stderr.strip().splitlines()[-1:]}"}
                    else:
                        res = json.loads(lines[-1][7:])
                except subprocess.TimeoutExpired:
                    res = {"error": f"skipped (>{LIMIT} s)"}
                if "error" in res:
                    row = (name, mode, str(reuse), "-", str(f), res["error"])
                else:
                    m = res["cycles"] / STEPS
                    row = (name, mode, str(reuse), f"{m:g}", str(f),
                           "ok" if m == f else "measured != formula")
                print("\t".join(row), flush=True)
                print(f"{name} {mode} {reuse}: {time.perf_counter() - t:.1f} s"
                      f" (sim {res.get('seconds', float('nan')):.1f} s)",
                      file=sys.stderr, flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        one(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
    else:
        main()

"""Every learning-results and performance table, and the plots, from one command.

    .venv/bin/python bench/results.py [--quick]          (make results)

Runs, one after another (each prints progress on stderr), and writes to ``docs/results/``:

* ``learning.txt`` and ``<net>/*.png``: :mod:`learning` (``pcfpga report`` per dataset);
* ``regression.txt``: :mod:`regression` (c), MSE against the published figures;
* ``throughput.txt``: :mod:`throughput` (a), hardware vs NumPy / PyTorch per-sample SGD;
* ``resources.txt``: :mod:`resources` (b), cost per edge and the largest parallel nets.

The hardware rows of (a) come from ``docs/synth.json`` (``make bench-synth`` rebuilds it; a
whole place-and-route run takes over an hour, so it is not repeated here). ``--quick``
runs the learning and regression tables on the golden models only (no simulation) and
(b) is left out. Each table is written through a temporary file, so an interrupted run
leaves the previous one in place.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join("docs", "results")


def run(name, args, out_name):
    path = os.path.join(OUT, out_name)
    t = time.perf_counter()
    print(f"== {name}: {' '.join(args)}", file=sys.stderr, flush=True)
    with open(path + ".tmp", "w") as f:
        proc = subprocess.run([sys.executable, os.path.join(HERE, name)] + args, stdout=f)
    if proc.returncode:
        os.remove(path + ".tmp")
        raise SystemExit(f"{name} failed ({proc.returncode})")
    os.replace(path + ".tmp", path)
    with open(path) as f:
        print(f.read(), flush=True)
    print(f"   ({time.perf_counter() - t:.0f} s, {path})", file=sys.stderr, flush=True)


def main(argv):
    quick = "--quick" in argv
    sim = ["--simulator", "none"] if quick else []
    os.makedirs(OUT, exist_ok=True)
    run("learning.py", ["--out", OUT] + sim, "learning.txt")
    run("regression.py", sim, "regression.txt")
    run("throughput.py", [], "throughput.txt")
    if not quick:
        run("resources.py", [], "resources.txt")


if __name__ == "__main__":
    main(sys.argv[1:])

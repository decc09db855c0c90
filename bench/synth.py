"""Whole-SoC synthesis, placement and routing of XOR, Iris and the 8x8-digits net for every
board, with the configuration the fitter chooses.

    .venv/bin/python bench/synth.py [NET:BOARD[:REUSE] ...] [--reports]
    make bench-synth                  (every net on every board; writes docs/synth.txt)

Each build runs :func:`pcfpga.boards.synth.synthesize` (YoWASP Yosys and nextpnr, as
``pcfpga synth`` does) into ``build/synth/<net>-<board>[-r<reuse>]`` and the table shows
what nextpnr reports: DSPs, LUTs (iCE40: logic cells, each a LUT4 with its flip-flop; ECP5:
LUT4s), block RAMs, the Fmax achieved against the board clock, and the fitter's cycles per
training sample with the samples/s they give at that Fmax. A build that fails is a row
saying why. Rows are printed as builds finish. ``--reports`` tabulates the reports already
in ``build/synth`` without building; ``--json FILE`` also writes them all to FILE (the
committed ``docs/synth.json`` that ``bench/throughput.py`` reads).
"""

import glob
import json
import os
import sys
import time

from pcfpga.boards.synth import SynthesisFailed, synthesize
from pcfpga.boards.devices import BOARDS
from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.design import Design
from pcfpga.hdl.fit import FitError

NETS = ("xor", "iris", "digits")
HEADER = ("network", "board", "architecture", "DSP", "LUT", "RAM", "Fmax MHz (needed)",
          "cycles/sample", "samples/s @Fmax")
WIDTHS = (8, 13, 30, 13, 20, 20, 18, 13, 15)


def _row(rep):
    c = rep["cells"]

    def used(col):
        return (f"{c[col]['used']:,}/{c[col]['available']:,} "
                f"({100 * c[col]['used'] / c[col]['available']:.0f}%)")
    arch = rep["architecture"].split(" (")[0]
    ram = used("bram") + (f" +{c['spram']['used']} SPRAM" if c.get("spram", {}).get("used")
                          else "")
    return (rep["network"], rep["board"], arch[:30], used("dsp"), used("lut"), ram,
            f"{rep['fmax_mhz']:.1f} ({rep['required_mhz']:g})"
            + ("" if rep["timing_met"] else " NOT MET"),
            str(rep["cycles_per_sample"]), f"{rep['samples_per_s_at_fmax']:,.0f}")


def _print(row):
    print("  ".join(str(x).rjust(w) for x, w in zip(row, WIDTHS)), flush=True)


def _jobs(args):
    if not args:
        return [(n, b, None) for n in NETS for b in BOARDS]
    jobs = []
    for a in args:
        parts = a.split(":")
        reuse = parts[2] if len(parts) > 2 else None
        if reuse is not None and reuse != "serial":
            reuse = int(reuse)
        jobs.append((parts[0], parts[1], reuse))
    return jobs


def _reports() -> list:
    out = []
    for path in sorted(glob.glob(os.path.join("build", "synth", "*", "report.json"))):
        with open(path) as f:
            out.append(json.load(f))
    return out


def main(argv):
    json_out = None
    if "--json" in argv:
        i = argv.index("--json")
        if i + 1 >= len(argv):
            raise SystemExit("--json needs a file name")
        json_out = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    _print(HEADER)
    if "--reports" in argv:
        for rep in _reports():
            _print(_row(rep))
        if json_out:
            with open(json_out + ".tmp", "w") as f:
                json.dump(_reports(), f, indent=1)
            os.replace(json_out + ".tmp", json_out)
        return
    for name, board, reuse in _jobs(argv):
        t = time.perf_counter()
        g = Graph.from_toml(str(example_path(name)))
        folder = f"{name}-{board}" + (f"-r{reuse}" if reuse is not None else "")
        try:
            design = g if reuse is None else Design.build(g, reuse)    # a graph: fitted
            rep = synthesize(design, board, os.path.join("build", "synth", folder),
                             log=lambda s: print(f"  {s}", file=sys.stderr, flush=True))
        except (FitError, SynthesisFailed) as e:
            _print((name, board, "-", "-", "-", "-", "-", "-", str(e)[:60]))
            continue
        _print(_row(rep))
        print(f"  {name} {board} done ({time.perf_counter() - t:.0f} s)", file=sys.stderr,
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

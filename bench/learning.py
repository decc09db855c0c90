"""Learning results: each bundled dataset trained with float backprop, float PC, the
fixed-point golden model and the hardware simulation, side by side (``pcfpga report``).

    .venv/bin/python bench/learning.py [--out docs/results] [--simulator verilator|none]
                                        [NET ...]

For each net it runs ``pcfpga report`` into ``OUT/<net>/`` (curves.png, alignment.png,
ranges.png, report.json, report.txt) and then prints one table of final test metrics. The
claim checked for the classifiers: the hardware simulation's test accuracy is within 2
points of float backprop's on the same net, initial parameters and sample order (16-bit
formats: Q4.12 values and weights, Q2.14 errors). Digits is simulated with the network
folded (reuse 2, :func:`pcfpga.report.sim_design`): fully parallel it has 2,554 multipliers
and Verilator runs out of memory; the arithmetic, and so every number, is the same.
"""

import argparse
import json
import os
import sys

from pcfpga.cli import main as pcfpga
from pcfpga.examples import example_path, split_paths

#: Epochs per network (seed 0).
EPOCHS = {"xor": 300, "iris": 30, "digits": 20, "teacher_2_4_3": 200, "tanh_2_2_1": 200}
CLASSIFIERS = ("iris", "digits")
BACKPROP, HARDWARE = "float backprop", "hardware simulation"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("nets", nargs="*", metavar="NET",
                    help=f"any of {', '.join(EPOCHS)} (default all)")
    ap.add_argument("--out", default=os.path.join("docs", "results"))
    ap.add_argument("--simulator", default="verilator")
    args = ap.parse_args(argv)
    for net in args.nets:
        if net not in EPOCHS:
            ap.error(f"no learning run for {net!r}; expected any of {', '.join(EPOCHS)}")
    rows = [("network", "epochs", "metric", "backprop", "float PC", "fixed point", "hardware",
             "hw - backprop")]
    failed = []
    for net in args.nets or list(EPOCHS):
        train, test = split_paths(net)
        folder = os.path.join(args.out, net)
        print(f"== {net}", flush=True)
        code = pcfpga(["report", str(example_path(net)), "--data", str(train), "--test",
                       str(test), "-o", folder, "--epochs", str(EPOCHS[net]),
                       "--simulator", args.simulator])
        if code:
            raise SystemExit(f"pcfpga report {net} failed ({code})")
        with open(os.path.join(folder, "report.json")) as f:
            final = json.load(f)["final"]
        labels = list(final)
        hw = next((k for k in labels if k.startswith(HARDWARE)), None)
        cls = net in CLASSIFIERS or net == "xor"
        key = "test_acc" if cls else "test_loss"

        def fmt(label, final=final, key=key, cls=cls):
            if label is None:
                return "-"
            v = final[label][key]
            return f"{100 * v:.2f}%" if cls else f"{v:.5f}"
        diff = "-"
        if hw is not None and cls:
            d = 100 * (final[hw][key] - final[BACKPROP][key])
            diff = f"{d:+.2f} points"
            if net in CLASSIFIERS and abs(d) > 2:
                failed.append(f"{net}: hardware {d:+.2f} points from backprop")
        rows.append((net, str(EPOCHS[net]), "test accuracy" if cls else "test loss",
                     fmt(BACKPROP), fmt(labels[1]), fmt(labels[2]), fmt(hw), diff))
    print()
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()

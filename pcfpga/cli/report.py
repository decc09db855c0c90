"""``pcfpga report NET --data D -o DIR``: one network trained four ways side by side
(:func:`pcfpga.report.compare_training`), with its plots.

Written to ``-o DIR`` (:data:`pcfpga.report.REPORT_FILES`):

* ``curves.png``: loss and accuracy per epoch, every backend, train and test;
* ``alignment.png``: cosine similarity of one step's update to backprop's against
  inference ticks T, per mode (:func:`~pcfpga.golden.alignment.network_alignment`), on the
  first ``--samples`` training rows at the initial parameters;
* ``ranges.png``: log2 |x| of every register and parameter of the float model (initial
  and trained parameters) against its format's span, clipping flagged
  (:mod:`pcfpga.golden.profile`);
* ``report.json`` and ``report.txt``: the tables printed.

``-o`` is checked before any work; everything is rendered first and then written all
together or not at all (:func:`~pcfpga.golden.outputs.write_all`), so a failure leaves
``-o`` as it was. The hardware simulation's parameters must equal the fixed golden model's
at the end (they are compared bit for bit during training, and again here); the report says
so, and the command exits 1 if they differ.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from ..golden.alignment import network_alignment
from ..golden.fixed_model import FixedPC
from ..golden.outputs import check_folder, write_all
from ..golden.params import load_dataset
from ..golden.profile import profile_ranges
from ..report import ALIGN_TICKS, REPORT_FILES, compare_training, sim_design
from ..sim.session import SIMULATOR_CHOICES
from .common import (SIM_BUILD, CliError, build_design, initial_params, load_graph,
                     non_negative_int, positive_int, reuse_factor, table_text)

__all__ = ["register", "run"]


def register(sub):
    """Add the ``report`` command to the subparsers ``sub``."""
    c = sub.add_parser("report", help="train one network with float backprop, float PC, "
                                      "the fixed-point model and the hardware simulation "
                                      "side by side; plots of curves, alignment and ranges")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--data", required=True, help="training set (.npz)")
    c.add_argument("--test", help="test set (.npz)")
    c.add_argument("-o", required=True, help="output folder (plots, report.json, report.txt)")
    c.add_argument("--epochs", type=positive_int, default=20, help="epochs (default 20)")
    c.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of initial parameters and sample order (default 0)")
    c.add_argument("--params", help="initial parameters (.npz); default: init from --seed")
    c.add_argument("--simulator", choices=SIMULATOR_CHOICES + ("none",), default="verilator",
                   help="hardware simulation (default verilator; none leaves it out)")
    c.add_argument("--reuse", type=reuse_factor,
                   help="folding of the simulated hardware (default: parallel, folded only "
                        "beyond 512 multipliers)")
    c.add_argument("--build", default=SIM_BUILD, help=f"simulation build folder (default "
                                                      f"{SIM_BUILD})")
    c.add_argument("--samples", type=positive_int, default=64,
                   help="training rows for the alignment and range plots (default 64)")
    c.set_defaults(func=run)


def run(args) -> int:
    """Train, study and write the report; 0, or 1 when the hardware's parameters differ."""
    out = check_folder(args.o, "-o", REPORT_FILES)
    if args.simulator not in ("none", "amaranth"):
        check_folder(args.build, "--build")
    g = load_graph(args.net)
    train_set = load_dataset(args.data, g)
    test_set = load_dataset(args.test, g) if args.test else None
    params = initial_params(g, args)
    FixedPC(g).to_model(params)  # reject unrepresentable parameters before any work
    simulator = _simulator(args)
    network = g             # with a simulator: the design of --reuse, else sim_design's
    if simulator is not None:
        network = build_design(g, args)[0] if args.reuse is not None else sim_design(g)
    from ..sim.simulate import SimulatorMissing

    print(f"report for {g.name} ({args.net}): {args.epochs} epochs, seed {args.seed}")
    try:
        histories, finals, info = compare_training(
            network, params, train_set, test_set, args.epochs, args.seed, simulator,
            build_root=args.build, log=lambda s: print(s, flush=True))
    except SimulatorMissing as e:
        raise CliError(str(e)) from None

    print("alignment of one step's update with backprop's, against ticks ...", flush=True)
    x, y = train_set[0], train_set[1]
    align = network_alignment(g, params, x, y, ALIGN_TICKS, args.samples)
    print("value and error ranges against the formats ...", flush=True)
    prof = profile_ranges(g, [params, finals["fixed-point PC (golden)"]], x, y, args.samples)
    used = min(args.samples, train_set[2])   # rows of the alignment and range studies
    # Render everything first: a failure leaves nothing written.
    files = _plots(g, histories, align, prof, info["flags"])
    text, report = _tables(g, args, histories, info, align, prof, used)
    print("\n" + "\n".join(text))
    files["report.json"] = json.dumps(report, indent=1).encode()
    files["report.txt"] = ("\n".join(text) + "\n").encode()
    write_all({os.path.join(out, name): files[name] for name in REPORT_FILES})
    hw = info["hardware"]
    if hw and not hw["equals_golden"]:
        print("pcfpga: the hardware simulation's parameters differ from the golden model's",
              file=sys.stderr)
        return 1
    print(f"\nwrote {', '.join(REPORT_FILES)} to {out}")
    return 0


def _simulator(args):
    """The simulator of ``--simulator`` (None for none), checked before any work."""
    simulator = None if args.simulator == "none" else args.simulator
    if simulator is None and args.reuse is not None:
        raise CliError("--reuse applies to the hardware simulation; it cannot be combined "
                       "with --simulator none")
    from ..sim.simulate import available

    if simulator:
        if simulator != "amaranth" and not available(simulator):
            raise CliError(f"--simulator {simulator}: not installed; pass --simulator none "
                           f"to leave the hardware simulation out")
    return simulator


def _plots(g, histories, align, prof, flags) -> dict:
    """The three plots as ``{file name: PNG bytes}``."""
    from ..golden.plots import plot_alignment, plot_history
    from ..golden.profile import plot_ranges

    return {
        "curves.png": plot_history(histories, None, f"{g.name}: backprop, PC, fixed point, "
                                                    f"hardware"),
        "alignment.png": plot_alignment(list(ALIGN_TICKS), align, None,
                                        f"{g.name}: PC update vs backprop",
                                        "cosine similarity to backprop's update",
                                        gap=True),
        "ranges.png": plot_ranges(prof, None, f"{g.name}: float values and errors against "
                                              f"the formats (initial and trained)", flags),
    }


def _final_rows(histories):
    rows = [("backend", "train loss", "test loss", "train acc", "test acc")]
    for label, h in histories.items():
        a = h.as_arrays()

        def f(v, pct=False):
            return "-" if np.isnan(v) else (f"{100 * v:.2f}%" if pct else f"{v:.5f}")
        rows.append((label, f(a["train_loss"][-1]), f(a["test_loss"][-1]),
                     f(a["train_acc"][-1], True), f(a["test_acc"][-1], True)))
    return rows


def _tables(g, args, histories, info, align, prof, used):
    """``(lines of report.txt, the report.json dict)``."""
    flags, hw = info["flags"], info["hardware"]
    align_rows = [("mode",) + tuple(f"T={t}" for t in ALIGN_TICKS)]
    for label, cos in align.items():
        align_rows.append((label,) + tuple(f"{v:.4f}" for v in np.nanmedian(cos, axis=0)))
    text = [f"{g.name}: {args.epochs} epochs, seed {args.seed}", "", "final metrics:",
            table_text(_final_rows(histories))]
    if hw:
        same = "equal" if hw["equals_golden"] else "DIFFER FROM"
        text += ["", f"hardware simulation ({hw['simulator']}, reuse {hw['folding']}): "
                     f"{hw['steps_checked']} steps, {hw['cycles']:,} cycles; final "
                     f"parameters {same} the fixed golden model's bit for bit"]
    text += ["", f"cosine similarity to backprop's update (median of {used} samples, "
                 f"initial parameters):", table_text(align_rows), "",
             f"ranges (float model, {used} samples at the initial and at the trained "
             f"parameters, pooled):",
             table_text(prof.table())]
    text += ["", "fixed-point saturation flags after training: " +
             ("; ".join(f"{k}: {', '.join(v)}" for k, v in flags.items()) or "none")]
    report = {"network": g.name, "epochs": args.epochs, "seed": args.seed,
              "final": {label: {k: float(v[-1]) for k, v in h.as_arrays().items()}
                        for label, h in histories.items()},
              "hardware": hw,
              "alignment": {"ticks": list(ALIGN_TICKS),
                            "median_cosine": {k: np.nanmedian(v, 0).tolist()
                                              for k, v in align.items()}},
              "ranges": [{"name": r.name, "format": r.fmt, "max_abs": r.max_abs,
                          "clipped": r.clipped, "underflow": r.underflow} for r in prof.rows],
              "clipping": prof.clipping(), "flags": flags}
    return text, report

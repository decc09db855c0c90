"""``pcfpga report``: one network trained four ways, side by side, with its plots.

The same graph, initial parameters (``--seed``) and seeded sample order are trained with

* float backprop (per-sample SGD, :class:`~pcfpga.golden.backprop.Backprop`),
* float PC in the graph's mode (:class:`~pcfpga.golden.float_model.FloatPC`),
* the bit-exact fixed-point golden model (:class:`~pcfpga.golden.fixed_model.FixedPC`),
* the cycle-accurate simulation of the generated Verilog
  (:class:`~pcfpga.sim.training.SimulatedPC`, parameters and flags compared with the golden
  model after every batch of steps); ``--simulator none`` leaves it out.

Written to ``-o DIR``:

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
``-o`` as it was.
The hardware simulation's parameters must equal the fixed golden model's at the end (they
are compared bit for bit during training, and again here); the report says so.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from .golden.alignment import network_alignment
from .golden.backprop import Backprop
from .golden.fixed_model import FixedPC
from .golden.outputs import check_folder, write_all
from .golden.float_model import FloatPC
from .golden.params import load_dataset
from .golden.profile import plot_ranges, profile_ranges
from .golden.training import train

__all__ = ["cmd_report", "compare_training", "sim_reuse", "ALIGN_TICKS",
           "SIM_MULTIPLIER_LIMIT", "REPORT_FILES"]

#: The files ``pcfpga report`` writes into its folder.
REPORT_FILES = ("curves.png", "alignment.png", "ranges.png", "report.json", "report.txt")

#: Inference ticks of the alignment plot.
ALIGN_TICKS = (0, 1, 2, 3, 4, 6, 10, 20, 50, 100)
#: A fully parallel net with more multipliers than this is simulated folded: Verilator
#: runs out of 24 GiB on the digits net's 2,554 (a 28 MB Verilog file).
SIM_MULTIPLIER_LIMIT = 512


def sim_reuse(graph):
    """The smallest reuse factor in 1, 2, 4, ... with at most
    :data:`SIM_MULTIPLIER_LIMIT` multipliers (1 for most nets)."""
    from .hdl.fit import estimate

    reuse = 1
    while estimate(graph, reuse).multipliers > SIM_MULTIPLIER_LIMIT and reuse < 1 << 16:
        reuse *= 2
    return reuse


def compare_training(graph, params, train_set, test_set, epochs, seed, simulator=None,
                     reuse=None, build_root="build/sim", log=print):
    """Train with every backend; returns ``(histories, finals, info)``.

    ``histories`` and ``finals`` map a label to the :class:`~pcfpga.golden.training.History`
    and the final float parameters; ``info`` holds the fixed model's saturation ``flags``
    and, with a simulator, under ``hardware``: its cycles, seconds, steps checked, reuse and
    whether its final parameters equal the fixed model's.
    """
    fixed = FixedPC(graph)
    models = [("float backprop", Backprop(graph)), (f"float PC ({graph.learning.mode})",
                                                    FloatPC(graph)),
              ("fixed-point PC (golden)", fixed)]
    sim = None
    if simulator:
        from .sim.training import SimulatedPC

        reuse = sim_reuse(graph) if reuse is None else reuse
        sim = SimulatedPC(graph, simulator, check="params", build_root=build_root,
                          log=lambda s: log(f"  {s}"), reuse=reuse)
        models.append((f"hardware simulation ({simulator})", sim))
    histories, finals, info = {}, {}, {"hardware": {}}
    every = max(1, epochs // 5)
    for label, model in models:
        log(f"{label}: {epochs} epochs of {train_set[2]} samples, seed {seed}")

        def line(text, label=label):
            epoch = int(text.split()[1])
            if epoch % every == 0 or epoch == epochs:
                log(f"  {text}")
        try:
            finals[label], histories[label] = train(model, params, train_set, test_set,
                                                    epochs=epochs, seed=seed, log=line)
        finally:
            if model is sim:
                sim.close()
        if model is sim:
            ref = finals["fixed-point PC (golden)"]
            info["hardware"] = {"simulator": simulator, "reuse": reuse, "cycles": sim.cycles,
                                "seconds": sim.seconds, "steps_checked": sim.steps_checked,
                                "equals_golden": all(np.array_equal(finals[label][k], ref[k])
                                                     for k in ref)}
    info["flags"] = fixed.flags()
    return histories, finals, info


def _final_rows(histories):
    rows = [("backend", "train loss", "test loss", "train acc", "test acc")]
    for label, h in histories.items():
        a = h.as_arrays()

        def f(v, pct=False):
            return "-" if np.isnan(v) else (f"{100 * v:.2f}%" if pct else f"{v:.5f}")
        rows.append((label, f(a["train_loss"][-1]), f(a["test_loss"][-1]),
                     f(a["train_acc"][-1], True), f(a["test_acc"][-1], True)))
    return rows


def cmd_report(args) -> int:
    from .cli import CliError, _initial_params, _load_graph, _table_text
    from .golden.plots import plot_alignment, plot_history

    out = check_folder(args.o, "-o", REPORT_FILES)
    if args.simulator not in ("none", "amaranth"):
        check_folder(args.build, "--build")
    g = _load_graph(args.net)
    train_set = load_dataset(args.data, g)
    test_set = load_dataset(args.test, g) if args.test else None
    params = _initial_params(g, args)
    FixedPC(g).to_model(params)  # reject unrepresentable parameters before any work
    simulator = None if args.simulator == "none" else args.simulator
    if simulator is None and args.reuse is not None:
        raise CliError("--reuse applies to the hardware simulation; it cannot be combined "
                       "with --simulator none")
    from .sim.runner import SimulatorMissing, available

    if simulator:
        if simulator != "amaranth" and not available(simulator):
            raise CliError(f"--simulator {simulator}: not installed; pass --simulator none "
                           f"to leave the hardware simulation out")
    print(f"report for {g.name} ({args.net}): {args.epochs} epochs, seed {args.seed}")
    try:
        histories, finals, info = compare_training(
            g, params, train_set, test_set, args.epochs, args.seed, simulator, args.reuse,
            build_root=args.build, log=lambda s: print(s, flush=True))
    except SimulatorMissing as e:
        raise CliError(str(e)) from None

    print("alignment of one step's update with backprop's, against ticks ...", flush=True)
    x, y = train_set[0], train_set[1]
    used = min(args.samples, train_set[2])   # rows of the alignment and range studies
    align = network_alignment(g, params, x, y, ALIGN_TICKS, args.samples)
    print("value and error ranges against the formats ...", flush=True)
    fixed_label = "fixed-point PC (golden)"
    prof = profile_ranges(g, [params, finals[fixed_label]], x, y, args.samples)
    flags, hw = info["flags"], info["hardware"]

    # Render everything first: a failure leaves nothing written.
    pngs = {
        "curves.png": plot_history(histories, None, f"{g.name}: backprop, PC, fixed point, "
                                                    f"hardware"),
        "alignment.png": plot_alignment(list(ALIGN_TICKS), align, None,
                                        f"{g.name}: PC update vs backprop",
                                        "cosine similarity to backprop's update",
                                        gap=True),
        "ranges.png": plot_ranges(prof, None, f"{g.name}: float values and errors against "
                                              f"the formats (initial and trained)", flags),
    }
    finals_rows = _final_rows(histories)
    align_rows = [("mode",) + tuple(f"T={t}" for t in ALIGN_TICKS)]
    for label, cos in align.items():
        align_rows.append((label,) + tuple(f"{v:.4f}" for v in np.nanmedian(cos, axis=0)))
    text = [f"{g.name}: {args.epochs} epochs, seed {args.seed}", "", "final metrics:",
            _table_text(finals_rows)]
    if hw:
        same = "equal" if hw["equals_golden"] else "DIFFER FROM"
        text += ["", f"hardware simulation ({hw['simulator']}, reuse {hw['reuse']}): "
                     f"{hw['steps_checked']} steps, {hw['cycles']:,} cycles; final "
                     f"parameters {same} the fixed golden model's bit for bit"]
    text += ["", f"cosine similarity to backprop's update (median of {used} samples, "
                 f"initial parameters):", _table_text(align_rows), "",
             f"ranges (float model, {used} samples at the initial and at the trained "
             f"parameters, pooled):",
             _table_text(prof.table())]
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
    print("\n" + "\n".join(text))
    files = dict(pngs)
    files["report.json"] = json.dumps(report, indent=1).encode()
    files["report.txt"] = ("\n".join(text) + "\n").encode()
    assert tuple(files) == REPORT_FILES
    write_all({os.path.join(out, name): data for name, data in files.items()})
    if hw and not hw["equals_golden"]:
        print("pcfpga: the hardware simulation's parameters differ from the golden model's",
              file=sys.stderr)
        return 1
    print(f"\nwrote {', '.join(REPORT_FILES)} to {out}")
    return 0


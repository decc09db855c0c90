"""One network trained four ways, side by side: the library of ``pcfpga report``.

The same graph, initial parameters (seed) and seeded sample order are trained with

* float backprop (per-sample SGD, :class:`~pcfpga.golden.backprop.Backprop`),
* float PC in the graph's mode (:class:`~pcfpga.golden.float_model.FloatPC`),
* the bit-exact fixed-point golden model (:class:`~pcfpga.golden.fixed_model.FixedPC`),
* the cycle-accurate simulation of the generated Verilog
  (:class:`~pcfpga.sim.training.SimulatedPC`, parameters and flags compared with the golden
  model after every batch of steps), when a simulator is given: a
  :class:`~pcfpga.hdl.design.Design`, by default :func:`sim_design`'s.

:func:`compare_training` runs them; the command (:mod:`pcfpga.cli.report`) adds the
alignment and range studies, the plots and the tables, and writes :data:`REPORT_FILES`.
"""

from __future__ import annotations

import numpy as np

from .golden.backprop import Backprop
from .golden.fixed_model import FixedPC
from .golden.float_model import FloatPC
from .golden.training import train
from .hdl.design import Design

__all__ = ["compare_training", "sim_design", "ALIGN_TICKS",
           "SIM_MULTIPLIER_LIMIT", "REPORT_FILES"]

#: The files ``pcfpga report`` writes into its folder.
REPORT_FILES = ("curves.png", "alignment.png", "ranges.png", "report.json", "report.txt")

#: Inference ticks of the alignment plot.
ALIGN_TICKS = (0, 1, 2, 3, 4, 6, 10, 20, 50, 100)
#: A fully parallel net with more multipliers than this is simulated folded: Verilator
#: runs out of 24 GiB on the digits net's 2,554 (a 28 MB Verilog file).
SIM_MULTIPLIER_LIMIT = 512


def sim_design(graph) -> Design:
    """The design simulated for ``graph``'s report: folded with the smallest reuse factor in
    1, 2, 4, ... with at most :data:`SIM_MULTIPLIER_LIMIT` multipliers (1, fully parallel,
    for most nets)."""
    from .hdl.fit import estimate

    reuse = 1
    design = Design.build(graph, reuse)
    while estimate(design).multipliers > SIM_MULTIPLIER_LIMIT and reuse < 1 << 16:
        reuse *= 2
        design = Design.build(graph, reuse)
    return design


def compare_training(network, params, train_set, test_set, epochs, seed, simulator=None,
                     build_root="build/sim", log=print):
    """Train with every backend; returns ``(histories, finals, info)``.

    ``network`` is the :class:`~pcfpga.hdl.design.Design` the simulator runs, or a graph,
    whose design is :func:`sim_design`'s. ``histories`` and ``finals`` map a label to the
    :class:`~pcfpga.golden.training.History` and the final float parameters; ``info`` holds
    the fixed model's saturation ``flags`` and, with a simulator, under ``hardware``: its
    cycles, seconds, steps checked, ``reuse`` and ``folding`` (the design's folding as
    :meth:`~pcfpga.hdl.folding.Folding.to_json` gives it, and as text) and whether its final
    parameters equal the fixed model's.
    """
    graph = network.graph if isinstance(network, Design) else network
    fixed = FixedPC(graph)
    models = [("float backprop", Backprop(graph)), (f"float PC ({graph.learning.mode})",
                                                    FloatPC(graph)),
              ("fixed-point PC (golden)", fixed)]
    sim = None
    if simulator:
        from .sim.training import SimulatedPC

        design = network if isinstance(network, Design) else sim_design(graph)
        sim = SimulatedPC(design, simulator, check="params", build_root=build_root,
                          log=lambda s: log(f"  {s}"))
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
            f = design.folding
            info["hardware"] = {"simulator": simulator,
                                "reuse": f.to_json() if f.factor is None else f.factor,
                                "folding": str(design.folding), "cycles": sim.cycles,
                                "seconds": sim.seconds, "steps_checked": sim.steps_checked,
                                "equals_golden": all(np.array_equal(finals[label][k], ref[k])
                                                     for k in ref)}
    info["flags"] = fixed.flags()
    return histories, finals, info

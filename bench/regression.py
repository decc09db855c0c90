"""(c) The two regression tasks of earlier RTL predictive-coding work, trained on the
simulated hardware, beside the figures published for them.

    .venv/bin/python bench/regression.py [--epochs 200] [--seeds 5] [--simulator NAME|none]

Published (a 2->4->3 net and a 2->2->1 tanh net, test MSE before -> after training):
0.341 -> 0.0048 and 0.107 -> 0.0044. Their data is not published; ours are the bundled
teacher-student sets (``examples/make_data.py``: a fixed teacher of the same shape labels
256 uniform inputs, 192 for training and 64 for testing), so the starting MSE differs.

For every seed (initial parameters and sample order), the same net is trained with float
backprop (per-sample SGD), the bit-exact fixed-point golden model and the cycle-accurate
hardware simulation (Verilator; its parameters and flags are compared with the golden
model's after every 64 steps, and its per-epoch metrics must equal the golden model's).
MSE is the mean over test samples and outputs of (y - ŷ)², i.e. 2 L / outputs with the
spec's L. Cycles are training steps times the controller's cycles per step (fully
parallel: 10 for these depth-1 nets; measured equal by ``bench/cycles.py``), and the
simulator's own count is printed too. "reached at" is the first epoch whose test MSE is at
or below the published final figure, and the cycles that took.
"""

import argparse
import sys
import time

import numpy as np

from pcfpga.examples import example_path, split_paths
from pcfpga.golden.backprop import Backprop
from pcfpga.golden.fixed_model import FixedPC
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.training import train
from pcfpga.hdl.design import Design

PUBLISHED = {"teacher_2_4_3": (0.341, 0.0048), "tanh_2_2_1": (0.107, 0.0044)}


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return int(text)


def _quiet(*_):
    pass


def mse_curve(hist, outputs: int) -> np.ndarray:
    """Test MSE per epoch from a History (2 L / outputs)."""
    return 2 * hist.as_arrays()["test_loss"] / outputs


def run_task(name, epochs, seeds, simulator):
    g = Graph.from_toml(str(example_path(name)))
    train_set, test_set = (load_dataset(str(p), g) for p in split_paths(name))
    outputs = sum(n.size for n in g.outputs)
    design = Design.build(g)                   # fully parallel, as the simulator runs it
    cps = design.cycles_per_step
    before_pub, after_pub = PUBLISHED[name]
    rows, finals = [], []
    for seed in range(seeds):
        p = init_params(g, seed)
        t0 = time.perf_counter()
        _, bp = train(Backprop(g), p, train_set, test_set, epochs, seed, log=_quiet,
                      progress=_quiet)
        _, fx = train(FixedPC(g), p, train_set, test_set, epochs, seed, log=_quiet,
                      progress=_quiet)
        hw_cycles, hw = "-", None
        if simulator:
            from pcfpga.sim.training import SimulatedPC

            sim = SimulatedPC(design, simulator, check="params")
            try:
                _, hw = train(sim, p, train_set, test_set, epochs, seed, log=_quiet,
                              progress=_quiet)
            finally:
                sim.close()
            if not all(np.array_equal(getattr(hw, k), getattr(fx, k))
                       for k in ("train_loss", "test_loss")):
                raise SystemExit(f"{name} seed {seed}: the hardware's metrics differ from "
                                 f"the golden model's")
            hw_cycles = f"{sim.cycles:,}"
        m_bp, m_fx = mse_curve(bp, outputs), mse_curve(fx, outputs)
        finals.append(float(m_fx[-1]))
        hit = np.nonzero(m_fx <= after_pub)[0]
        reached = (f"epoch {hit[0]}, {hit[0] * train_set[2] * cps:,} cyc" if hit.size
                   else "not reached")
        rows.append((name, str(seed), f"{m_fx[0]:.4f}", f"{m_bp[-1]:.5f}", f"{m_fx[-1]:.5f}",
                     "yes" if hw is not None else "-", reached,
                     f"{epochs * train_set[2] * cps:,}", hw_cycles,
                     f"{time.perf_counter() - t0:.0f}"))
        print(f"  {name} seed {seed} done", file=sys.stderr, flush=True)
    finals = np.array(finals)
    ok = int(np.sum(finals <= after_pub))
    summary = (f"{name}: published {before_pub} -> {after_pub}; fixed point / hardware "
               f"after {epochs} epochs: median {np.median(finals):.5f}, best "
               f"{finals.min():.5f}; {ok} of {len(finals)} seeds at or below {after_pub}")
    return rows, summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=_positive, default=200)
    ap.add_argument("--seeds", type=_positive, default=5)
    ap.add_argument("--simulator", default="verilator",
                    help="verilator, icarus, amaranth, or none (golden model only)")
    args = ap.parse_args(argv)
    simulator = None if args.simulator == "none" else args.simulator
    head = ("task", "seed", "MSE before", "backprop after", "fixed = hw after", "hw equal",
            "published MSE reached at", "training cycles", "simulated cycles", "s")
    rows, summaries = [head], []
    for name in PUBLISHED:
        r, s = run_task(name, args.epochs, args.seeds, simulator)
        rows += r
        summaries.append(s)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print(f"test MSE, {args.epochs} epochs of per-sample SGD (eta_theta = 1/16, Q4.12 values "
          f"and weights, Q2.14 errors)")
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    print()
    print("\n".join(summaries))


if __name__ == "__main__":
    main()

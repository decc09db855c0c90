"""How well a PC weight update aligns with backprop's, as a function of inference ticks.

For one sample, the PC update ΔW_PC (one :meth:`~.engine.Engine.step` of the float model,
all parameters flattened) is compared with backprop's ``-η_θ ∂L/∂θ``:

    cosine similarity   cos = ⟨ΔW_PC, ΔW_BP⟩ / (‖ΔW_PC‖ ‖ΔW_BP‖)
    relative error      ‖ΔW_PC − ΔW_BP‖ / ‖ΔW_BP‖

The study behind the README's figure (``python -m pcfpga.golden.alignment``) measures both
for fpa and standard mode against T on random graphs, with targets close to the forward
prediction (output error scale 0.01) and far from it (scale 1): strict PC approaches
backprop only when output errors are small (Millidge et al. 2022, their Fig. 3), while the
fixed prediction assumption converges to it regardless.
"""

from __future__ import annotations

import argparse

import numpy as np

from .backprop import Backprop, gradients
from .float_model import FloatPC
from .params import init_params
from .random_graph import random_graph, random_sample

__all__ = ["update_alignment", "alignment_study", "network_alignment", "ALIGNMENT_MODES",
           "main"]

#: The float modes of :func:`network_alignment`: (label, mode, η_v).
ALIGNMENT_MODES = (("exact (float, η_v = 1)", "exact", 1.0),
                   ("fpa (float, η_v = 1/2)", "fpa", 0.5),
                   ("standard (float, η_v = 1/10)", "standard", 0.1))


def _flat(d: dict, keys) -> np.ndarray:
    return np.concatenate([np.ravel(d[k]) for k in keys])


def update_alignment(graph, params, x, y, mode: str, eta_v: float, ticks: int):
    """(cosine similarity, relative error) of the PC update to backprop's, one sample."""
    eta = graph.learning.eta_theta
    new, _ = FloatPC(graph, mode=mode, eta_v=eta_v, ticks=ticks).step(params, x, y)
    dparams, _, _ = gradients(graph, params, x, y)
    keys = list(params)
    pc = _flat({k: new[k] - params[k] for k in keys}, keys)
    bp = -eta * _flat(dparams, keys)
    cos = float(pc @ bp / (np.linalg.norm(pc) * np.linalg.norm(bp)))
    return cos, float(np.linalg.norm(pc - bp) / np.linalg.norm(bp))


def _cosine(a, b) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def network_alignment(graph, params, x: dict, y: dict, ticks, samples: int = 16) -> dict:
    """Cosine similarity of one step's parameter update to backprop's, against inference
    ticks, on a network's own data: ``{label: array (samples, len(ticks))}``.

    Rows are the first ``samples`` rows of ``(x, y)``, each stepped from ``params``. The
    float modes are :data:`ALIGNMENT_MODES`; when the graph's own mode is exact, fpa or
    standard, the bit-exact fixed-point model in that mode is added ("fixed point, …"), its
    update being the exact real difference of its parameters and backprop's taken at those
    (quantised) parameters. An update of zero (e.g. every product rounded away) gives NaN.
    Streaming has no per-sample tick count (each sample's errors are exact mode's after the
    pipeline latency) and is not a row here.
    """
    from .fixed_model import FixedPC

    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"Samples must be a positive integer, not {samples!r}")
    n = min(samples, len(next(iter(x.values()))))
    keys = list(params)
    eta = graph.learning.eta_theta
    out = {}
    rows = [({k: v[i] for k, v in x.items()}, {k: v[i] for k, v in y.items()})
            for i in range(n)]
    for label, mode, eta_v in ALIGNMENT_MODES:
        out[label] = np.array([[update_alignment(graph, params, xi, yi, mode, eta_v, t)[0]
                                for t in ticks] for xi, yi in rows])
    if graph.learning.mode in ("exact", "fpa", "standard"):
        lr = graph.learning
        label = f"fixed point ({lr.mode}, η_v = {lr.eta_v:g}, {graph.formats.value})"
        cos = np.empty((n, len(ticks)))
        for j, t in enumerate(ticks):
            model = FixedPC(graph, ticks=t)
            p = model.to_model(params)
            before = model.to_float(p)
            for i, (xi, yi) in enumerate(rows):
                new, _ = model.step(p, xi, yi)
                after = model.to_float(new)
                bp = -eta * _flat(gradients(graph, before, xi, yi)[0], keys)
                cos[i, j] = _cosine(_flat({k: after[k] - before[k] for k in keys}, keys), bp)
        out[label] = cos
    return out


def alignment_study(ticks, graphs: int = 12, error_scale: float = 0.01, eta_v: float = 0.1,
                    modes=("fpa", "standard"), seed: int = 0) -> dict:
    """Cosine similarity and relative error per mode: arrays (graphs, len(ticks)).

    Targets are the forward prediction plus N(0, error_scale²) noise, so ``error_scale``
    sets the size of the output errors. Graphs whose gradient is zero for the drawn sample
    (every path blocked by a flat activation) are skipped: no direction to compare.
    """
    out = {m: {"cos": [], "rel": []} for m in modes}
    used, i = 0, seed
    while used < graphs:
        g = random_graph(i)
        p = init_params(g, i)
        rng = np.random.default_rng(i)
        i += 1
        x, _ = random_sample(g, rng)
        pred = Backprop(g).predict(p, x)
        y = {k: v + rng.normal(0, error_scale, v.shape) for k, v in pred.items()}
        if np.linalg.norm(_flat(gradients(g, p, x, y)[0], list(p))) < 1e-12:
            continue
        used += 1
        for m in modes:
            rows = [update_alignment(g, p, x, y, m, eta_v, t) for t in ticks]
            out[m]["cos"].append([r[0] for r in rows])
            out[m]["rel"].append([r[1] for r in rows])
    return {m: {k: np.asarray(v) for k, v in d.items()} for m, d in out.items()}


def main(argv=None):
    """Write the alignment figure and print its table."""
    ap = argparse.ArgumentParser(description="PC vs backprop alignment against ticks")
    ap.add_argument("--out", default="alignment.png", help="figure (.png)")
    ap.add_argument("--graphs", type=int, default=12)
    args = ap.parse_args(argv)
    from .plots import plot_alignment

    ticks = [0, 1, 2, 5, 10, 20, 50, 100, 200]
    curves = {}
    print(f"median over {args.graphs} random graphs (depth 2-6), eta_v = 0.1")
    print(f"{'mode':9s} {'errors':7s} " + " ".join(f"T={t:<5d}" for t in ticks))
    for scale in (0.01, 1.0):
        res = alignment_study(ticks, args.graphs, scale)
        for m, d in res.items():
            med = np.median(d["cos"], axis=0)
            curves[f"{m}, output error ~{scale:g}"] = d["cos"]
            print(f"{m:9s} {scale:<7g} " + " ".join(f"{v:<7.4f}" for v in med))
    plot_alignment(ticks, curves, args.out, "PC weight update vs backprop (cosine)",
                   "cosine similarity to backprop's update")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

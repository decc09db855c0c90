"""``pcfpga golden NET --data D --out O.npz``: training steps of the golden model (float,
or bit-exact fixed point with ``--fixed``), written with the trace of every register."""

from __future__ import annotations

import numpy as np

from ..golden.fixed_model import FixedPC
from ..golden.float_model import FloatPC
from ..golden.outputs import check_file
from ..golden.params import load_dataset, save_npz
from ..golden.training import check_finite, sample
from .common import initial_params, load_graph, non_negative_int, positive_int, report_flags

__all__ = ["register", "run"]


def register(sub):
    """Add the ``golden`` command to the subparsers ``sub``."""
    c = sub.add_parser("golden", help="run training steps of the golden model with a trace")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--data", required=True, help="dataset (.npz); step i uses sample i mod N")
    c.add_argument("--params", help="initial parameters (.npz); default: init from --seed")
    c.add_argument("--seed", type=non_negative_int, default=0, help="parameter init seed")
    c.add_argument("--fixed", action="store_true", help="bit-exact fixed-point model")
    c.add_argument("--steps", type=positive_int, default=1, help="training steps (default 1)")
    c.add_argument("--out", required=True, help="output .npz: parameters and trace.*")
    c.set_defaults(func=run)


def run(args) -> int:
    """Run ``args.steps`` steps and write the parameters and traces; 0."""
    out = check_file(args.out, ".npz", "--out")
    g = load_graph(args.net)
    params = initial_params(g, args)
    x, y, n = load_dataset(args.data, g)
    model = FixedPC(g) if args.fixed else FloatPC(g)
    mp = model.to_model(params)
    traces, after = [], []
    with np.errstate(all="ignore"):     # a float overflow is reported below, once
        for step in range(args.steps):
            i = step % n
            mp, trace = model.step(mp, sample(x, i), sample(y, i))
            traces.append(trace)
            after.append(mp)
            if not args.fixed:
                check_finite(trace, mp, step)
    arrays = dict(model.to_float(mp))
    for k in traces[0]:
        arrays[f"trace.{k}"] = np.stack([t[k] for t in traces])
    for k in mp:
        arrays[f"trace.{k}"] = np.stack([a[k] for a in after])
    save_npz(out, arrays)
    kind = "fixed-point (trace holds raw register integers)" if args.fixed else "float"
    print(f"{g.name}: {args.steps} step(s) of mode {g.learning.mode}, {g.ticks} tick(s) each, "
          f"{kind}")
    print(f"wrote {out}: {len(mp)} parameters, {len(arrays) - len(mp)} trace arrays "
          f"(trace.<node>.<register> shaped steps x (ticks+1) x size)")
    if args.fixed:
        report_flags(model)
    return 0

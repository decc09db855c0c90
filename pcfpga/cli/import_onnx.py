"""``pcfpga import MODEL.onnx -o NET.toml``: an ONNX model (from PyTorch, Keras through
tf2onnx, ...) as a pcfpga graph file and its parameters (:func:`pcfpga.onnx.to_graph`)."""

from __future__ import annotations

import os

import numpy as np

from ..golden.graph import MODES
from ..golden.outputs import check_file, write_all
from ..golden.qformat import ROUNDING_MODES
from ..golden.tomlwrite import graph_toml
from ..onnx import to_graph
from .common import non_negative_int, positive_int, print_graph

__all__ = ["register", "run", "SETTINGS"]

#: Options that set a [format] or [learning] key: (option, key, type, help).
SETTINGS = (("--value", "value", str, "format of values, Qm.n"),
            ("--error", "error", str, "format of errors, Qm.n"),
            ("--weight", "weight", str, "format of weights and biases, Qm.n"),
            ("--rounding", "rounding", str, f"rounding: {', '.join(ROUNDING_MODES)}"),
            ("--table-bits", "table_bits", positive_int, "tanh/sigmoid table index bits"),
            ("--mode", "mode", str, f"learning mode: {', '.join(MODES)}"),
            ("--eta-v", "eta_v", float, "eta_v (1 or a power of two below 1)"),
            ("--eta-theta", "eta_theta", float, "learning rate (a power of two)"),
            ("--ticks", "ticks", non_negative_int, "inference ticks per sample (0: D)"))


def register(sub):
    """Add the ``import`` command to the subparsers ``sub``."""
    c = sub.add_parser("import", help="read an ONNX model as a graph file and parameters")
    c.add_argument("model", help="ONNX model (.onnx)")
    c.add_argument("-o", required=True, help="graph file to write (.toml)")
    c.add_argument("--params", help="parameters to write (.npz); default beside -o")
    c.add_argument("--name", help="the graph's name; default the ONNX graph's")
    for option, key, kind, text in SETTINGS:
        c.add_argument(option, dest=key, type=kind,
                       help=f"{text}; default the model's pcfpga metadata, else the "
                            f"project's default")
    c.set_defaults(func=run)


def run(args) -> int:
    """Write the graph and its parameters; 0."""
    out = check_file(args.o, ".toml", "-o")
    params_path = check_file(out[:-5] + ".npz" if args.params is None else args.params,
                             ".npz", "--params")
    settings = {key: getattr(args, key) for _, key, _, _ in SETTINGS}
    graph, params = to_graph(args.model, name=args.name, **settings)
    text = graph_toml(graph, comment=f"Imported from {os.path.basename(args.model)} by "
                                     f"pcfpga import; parameters in "
                                     f"{os.path.basename(params_path)}.")
    print_graph(graph)
    _warn_range(graph, params)
    write_all({out: text, params_path: lambda f: np.savez_compressed(f, **params)})
    print(f"wrote {out} (graph) and {params_path} ({len(params)} arrays, {graph.n_params} "
          f"parameters)")
    return 0


def _warn_range(graph, params):
    """One warning line when parameters lie outside format.weight (the fixed-point
    backends refuse them)."""
    W = graph.formats.weight
    over = [k for k, v in params.items() if W.to_int(v)[1].any()]
    if over:
        print(f"warning: {', '.join(over)} hold values outside format.weight {W} "
              f"[{W.min:g}, {W.max:g}]; the fixed-point backends need a wider --weight")

"""``pcfpga export NET.toml --params P.npz -o MODEL.onnx``: the network's forward pass with
the given (say, board-trained) parameters as an ONNX model (:func:`pcfpga.onnx.from_graph`)
for onnxruntime, PyTorch or any ONNX consumer."""

from __future__ import annotations

from ..golden.outputs import check_file, write_all
from ..golden.params import load_params
from ..onnx import DTYPES, OPSET, from_graph
from .common import load_graph

__all__ = ["register", "run"]


def register(sub):
    """Add the ``export`` command to the subparsers ``sub``."""
    c = sub.add_parser("export", help="write the network's forward pass as an ONNX model")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--params", required=True, help="its parameters (.npz)")
    c.add_argument("-o", required=True, help="ONNX model to write (.onnx)")
    c.add_argument("--dtype", choices=tuple(DTYPES), default="float64",
                   help="element type of inputs, outputs and weights (default float64; "
                        "onnxruntime runs HardSigmoid in float32 only)")
    c.set_defaults(func=run)


def run(args) -> int:
    """Write the model; 0."""
    out = check_file(args.o, ".onnx", "-o")
    g = load_graph(args.net)
    params = load_params(args.params, g)
    model = from_graph(g, params, args.dtype)
    write_all({out: model.SerializeToString()})
    shapes = lambda nodes: ", ".join(f"{n.name} [N, {n.size}]" for n in nodes)  # noqa: E731
    print(f"wrote {out}: graph {g.name}, {len(model.graph.node)} ONNX ops (opset {OPSET}), "
          f"{args.dtype}; inputs {shapes(g.inputs)}; outputs {shapes(g.outputs)}")
    return 0

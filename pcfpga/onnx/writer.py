"""A pcfpga graph and its parameters written as an ONNX model of its forward pass
(:func:`from_graph`), for onnxruntime, PyTorch or any ONNX consumer.

Each node becomes the ops below, named ``/<node>/<OpType>`` (``_1``, ``_2``, ... for a
second and later op of the same type), its value the tensor named after the node; inputs
and outputs are graph inputs and outputs ``[N, size]`` (N, the batch, free)::

    dense   Gemm(v_p, W_{i,p}, b, transB = 1) for the first parent, Gemm(v_p, W_{i,p},
            transB = 1) for each other one, Adds of them, then the act's op
            (a = Σ_p v_p W_{i,p}ᵀ + b: rows are samples)
    act     Relu, LeakyRelu (alpha 1/64), HardSigmoid (alpha 1/4, beta 1/2), Tanh,
            Sigmoid, Clip(-1, 1) (hardtanh); Identity for identity
    add     Add, chained for more than two parents
    mul     Mul

Weights and biases are initialisers named as the parameters (``h.W.x``, ``h.b``); the
graph's [format] and [learning] tables are stored as JSON in the model's metadata
(``pcfpga``), so that :func:`~.reader.to_graph` gives back the same graph. Opset 17, IR
version 8; float64 by default (the golden model's numbers: onnxruntime then agrees with
:class:`~pcfpga.golden.float_model.FloatPC` to rounding), float32 for consumers that take
only that (onnxruntime has no float64 HardSigmoid).
"""

from __future__ import annotations

import json

import numpy as np

from ..golden.params import check_params
from ..golden.tomlwrite import graph_dict
from .common import (ACT_OPS, HARDSIGMOID, HARDTANH, IR_VERSION, LEAKY_SLOPE, METADATA_KEY,
                     OPSET, OnnxError, need_onnx)

__all__ = ["from_graph", "DTYPES"]

#: Element types export writes: name -> (NumPy dtype, TensorProto element type).
DTYPES = {"float64": (np.float64, 11), "float32": (np.float32, 1)}


class _Writer:
    """The ONNX nodes and initialisers of one graph, built node by node."""

    def __init__(self, onnx, graph, params: dict, dtype: str):
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.graph, self.params = graph, params
        self.np_dtype, self.elem = DTYPES[dtype]
        self.nodes, self.inits, self.count = [], [], {}

    def init(self, name: str, array) -> str:
        a = np.asarray(array, dtype=self.np_dtype)
        self.inits.append(self.numpy_helper.from_array(a, name))
        return name

    def op(self, node: str, op_type: str, inputs: list, output: str | None = None,
           **attrs) -> str:
        """Add op ``/<node>/<op_type>[_k]``; its output tensor (``output`` or a name of its
        own)."""
        k = self.count.get((node, op_type), 0)
        self.count[(node, op_type)] = k + 1
        name = f"/{node}/{op_type}" + (f"_{k}" if k else "")
        out = output or f"{name}_output_0"
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out

    def act(self, node: str, act: str, x: str, output: str) -> str:
        if act == "identity":
            return self.op(node, "Identity", [x], output)
        if act == "hardtanh":
            lo, hi = (self.init(f"{node}.clip.{k}", v) for k, v in zip(("min", "max"),
                                                                       HARDTANH))
            return self.op(node, "Clip", [x, lo, hi], output)
        attrs = {}
        if act == "leaky_relu":
            attrs = {"alpha": LEAKY_SLOPE}
        elif act == "hardsigmoid":
            attrs = dict(zip(("alpha", "beta"), HARDSIGMOID))
        return self.op(node, ACT_OPS[act], [x], output, **attrs)

    def dense(self, n):
        identity = n.act == "identity"
        terms = []
        for k, p in enumerate(n.inputs):
            args = [p, self.init(f"{n.name}.W.{p}", self.params[f"{n.name}.W.{p}"])]
            if k == 0 and n.bias:
                args.append(self.init(f"{n.name}.b", self.params[f"{n.name}.b"]))
            last = identity and len(n.inputs) == 1
            terms.append(self.op(n.name, "Gemm", args, n.name if last else None, transB=1))
        a = self.sum(n.name, terms, n.name if identity else None)
        if not identity:
            self.act(n.name, n.act, a, n.name)

    def sum(self, node: str, terms: list, output: str | None) -> str:
        """Adds of ``terms`` in order, the last one writing ``output``."""
        total = terms[0]
        for k, t in enumerate(terms[1:], start=2):
            total = self.op(node, "Add", [total, t], output if k == len(terms) else None)
        return total

    def node(self, n):
        if n.op == "dense":
            self.dense(n)
        elif n.op == "act":
            self.act(n.name, n.act, n.inputs[0], n.name)
        elif n.op == "add":
            self.sum(n.name, list(n.inputs), n.name)
        elif n.op == "mul":
            self.op(n.name, "Mul", list(n.inputs), n.name)

    def tensor(self, n):
        return self.helper.make_tensor_value_info(n.name, self.elem, ["N", n.size])


def from_graph(graph, params: dict, dtype: str = "float64"):
    """The ONNX model of ``graph``'s forward pass with ``params``.

    Parameters
    ----------
    graph : Graph
        The network.
    params : dict
        Its parameters (checked: names, shapes, finite numbers).
    dtype : {"float64", "float32"}
        The element type of the inputs, outputs and weights.

    Returns
    -------
    onnx.ModelProto
        Checked by onnx's checker; inputs and outputs named as the graph's nodes.

    Raises
    ------
    DataError
        Parameters that do not fit the graph.
    OnnxError
        A ``dtype`` other than float64 or float32, or no onnx package.

    Examples
    --------
    >>> from pcfpga.golden.graph import GraphBuilder
    >>> g = GraphBuilder("t").input("x", 2).dense("y", ["x"], 1, "tanh", output=True).build()
    >>> m = from_graph(g, {"y.W.x": np.array([[0.5, -1.0]])})
    >>> [n.name for n in m.graph.node], [i.name for i in m.graph.initializer]
    (['/y/Gemm', '/y/Tanh'], ['y.W.x'])
    """
    onnx = need_onnx()
    if dtype not in DTYPES:
        raise OnnxError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    params = check_params(graph, params)
    w = _Writer(onnx, graph, params, dtype)
    for n in graph.nodes:
        w.node(n)
    h = onnx.helper
    body = h.make_graph(w.nodes, graph.name, [w.tensor(n) for n in graph.inputs],
                        [w.tensor(n) for n in graph.outputs], initializer=w.inits)
    model = h.make_model(body, opset_imports=[h.make_opsetid("", OPSET)],
                         producer_name="pcfpga", ir_version=IR_VERSION)
    table = graph_dict(graph)
    h.set_model_props(model, {METADATA_KEY: json.dumps(
        {"format": table["format"], "learning": table["learning"]}, sort_keys=True)})
    onnx.checker.check_model(model)
    return model

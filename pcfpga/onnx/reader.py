"""An ONNX model read as a pcfpga graph and its parameters (:func:`to_graph`).

The model's ops are read in order, each tensor becoming one of four things: a *vector* (a
pcfpga node's value), an *affine* map not yet given an activation, ``Σ_p W_p v_p + b``,
a *sum* of vectors, or a *constant* (an initialiser or a Constant op)::

    Gemm(v, B, C)           affine  W = alpha·B (transB = 1) or alpha·Bᵀ, b = beta·C
    MatMul(v, B)            affine  W = Bᵀ (rows are samples: v B = (W vᵀ)ᵀ)
    Add(affine, constant)   the affine with a bias
    Add(affine, affine)     one affine of both parents, when the three ops share their
                            name scope (pcfpga's export of a dense node of several
                            parents); else two dense nodes and an add node
    Add(vector, vector)     a sum (an add node); one sum of all the terms when the Adds
                            share their scope
    Relu, LeakyRelu (alpha 1/64), HardSigmoid (alpha 1/4, beta 1/2), Tanh, Sigmoid,
    Clip (to [-1, 1]: hardtanh)
                            of an affine used only there: a dense node with that act;
                            of anything else: an act node
    Mul(vector, vector)     a mul node (a gate)
    Identity, Flatten (axis 1), Reshape to [batch, size]
                            the same vector

An affine or a sum used by more than one op, or by an op that does not take it whole, is
made a node there (a dense node with act identity, an add node). Graph inputs must be
batches of vectors, ``[batch, size]``; each graph output becomes an output node (named
after it; an act identity node when the value also feeds other ops). Ops and inputs that no
output depends on are left out. Anything else is refused with an :class:`OnnxError` naming
the op and the node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..golden.graph import Graph, GraphError
from ..golden.params import check_params
from .common import (HARDSIGMOID, HARDTANH, LEAKY_SLOPE, OnnxError, identifier, need_onnx,
                     scope_name, unique)
from .loading import brief, check_model, load_model, model_settings, parse_model

__all__ = ["to_graph", "SUPPORTED_OPS", "Vec", "Affine", "Sum", "Const"]

#: The ONNX ops import reads (Constant only as a value for the others).
SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Mul", "Relu", "LeakyRelu", "HardSigmoid", "Tanh",
                 "Sigmoid", "Clip", "Identity", "Flatten", "Reshape", "Constant")
_ACTS = {"Relu": "relu", "LeakyRelu": "leaky_relu", "HardSigmoid": "hardsigmoid",
         "Tanh": "tanh", "Sigmoid": "sigmoid", "Clip": "hardtanh"}
_ALIASES = ("Identity", "Flatten", "Reshape")
_FLOATS = (1, 10, 11, 16)          # TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16


@dataclass(eq=False)
class Vec:
    """A pcfpga node being built: its op, size, parents (Vecs) and, for dense, weights."""

    op: str
    size: int
    hint: str
    inputs: tuple = ()
    act: str = "identity"
    weights: tuple = ()
    bias: np.ndarray | None = None
    output: bool = False
    name: str = ""
    order: int = -1


@dataclass(eq=False)
class Affine:
    """Σ_p W_p v_p + b without its activation; ``uses``: ops and outputs that read it."""

    terms: list
    bias: np.ndarray | None
    hint: str
    uses: int
    order: int
    vec: Vec | None = None

    @property
    def size(self) -> int:
        return self.terms[0][1].shape[0]


@dataclass(eq=False)
class Sum:
    """Σ v_p of vectors, not yet an add node."""

    vecs: list
    hint: str
    uses: int
    order: int
    vec: Vec | None = None

    @property
    def size(self) -> int:
        return self.vecs[0].size


@dataclass(eq=False)
class Const:
    """A constant tensor; ``source``: the initialiser's name, when it is one."""

    value: np.ndarray
    source: str | None = None


@dataclass
class _Op:
    """The ONNX node being read: for messages and names."""

    node: object
    what: str = field(init=False)
    hint: str = field(init=False)

    def __post_init__(self):
        n = self.node
        op = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
        self.what = f"{op} node {n.name or n.output[0]!r}"
        self.hint = scope_name(n.name or n.output[0], n.op_type)


def to_graph(model, name: str | None = None, where: str | None = None, **settings) -> tuple:
    """The pcfpga graph of an ONNX model and its parameters.

    Parameters
    ----------
    model : onnx.ModelProto, bytes or path
        The model (a path is read by :func:`load_model`).
    name : str, optional
        The graph's name; default: the ONNX graph's name made an identifier.
    where : str, optional
        How messages name the model; default: its path, or ``model``.
    **settings
        [format] and [learning] keys (``value="Q4.12"``, ``eta_theta=0.0625``, ...) over
        the defaults and the settings a pcfpga export stored in the model.

    Returns
    -------
    (Graph, dict)
        The validated graph and its parameters, ``{"node.W.parent": W, "node.b": b}``
        float64, with ``W`` of shape (size, parent size): ``a = W v + b``.

    Raises
    ------
    OnnxError
        A model that is not ONNX, or has an op, attribute or shape pcfpga cannot take.
    GraphError
        A graph the validator refuses (the names of the model, say).
    """
    onnx = need_onnx()
    if isinstance(model, (str, os.PathLike)):
        where = where or str(model)
        model = load_model(model)
    elif isinstance(model, (bytes, bytearray)):
        model = parse_model(onnx, bytes(model), where or "model")
    where = where or "model"
    check_model(onnx, model, where)
    fmt, learning = model_settings(model, where, settings)
    reader = _Reader(onnx, model.graph, where)
    nodes = reader.read()
    graph_name = name if name is not None else identifier(model.graph.name or "onnx")
    data = {"name": graph_name, "format": fmt, "learning": learning,
            "node": [_node_table(v) for v in nodes]}
    try:
        graph = Graph.from_dict(data)
    except GraphError as e:
        raise GraphError(f"{where}: {e}") from None
    return graph, check_params(graph, _params(nodes), where)


def _node_table(v: Vec) -> dict:
    d = {"name": v.name, "op": v.op}
    if v.op != "input":
        d["inputs"] = [p.name for p in v.inputs]
    if v.op in ("input", "dense"):
        d["size"] = v.size
    if v.op in ("dense", "act"):
        d["act"] = v.act
    if v.op == "dense":
        d["bias"] = v.bias is not None
    if v.output:
        d["output"] = True
    return d


def _params(nodes) -> dict:
    params = {}
    for v in nodes:
        for p, W in zip(v.inputs, v.weights):
            params[f"{v.name}.W.{p.name}"] = W
        if v.bias is not None:
            params[f"{v.name}.b"] = v.bias
    return params


class _Reader:
    """One pass over an ONNX graph's nodes (:func:`to_graph`)."""

    def __init__(self, onnx, graph, where: str):
        self.onnx, self.graph, self.where = onnx, graph, where
        self.values, self.nodes, self.weights_from = {}, [], {}
        self.refs, self.uses, self.step = {}, 0, 0

    def fail(self, message: str):
        raise OnnxError(f"{self.where}: {message}")

    # ----------------------------------------------------------------------- the pass
    def read(self) -> list:
        """The pcfpga nodes, named, in topological order."""
        g = self.graph
        nodes = [g.node[k] for k in self._needed()]
        for n in nodes:                 # an unsupported op first: it says the most
            self._supported(_Op(n))
        for t in g.initializer:
            self.values[t.name] = Const(self._array(t, f"initializer {t.name!r}"), t.name)
        for vi in g.input:
            if vi.name not in self.values:
                self.values[vi.name] = self._input(vi)
        for n in nodes:
            self._count(n)
        for o in g.output:
            self.refs[o.name] = self.refs.get(o.name, 0) + 1
        for self.step, n in enumerate(nodes):
            self._op(_Op(n))
        self._outputs()
        # in the order of the ops that began them (a sum or an affine is made a node when
        # it is used); Graph.from_dict sorts parents first
        self.nodes.sort(key=lambda v: v.order)
        self._name()
        return self.nodes

    def _needed(self) -> list:
        """Indices, in order, of the ONNX nodes some graph output depends on."""
        nodes = self.graph.node
        producer = {out: k for k, n in enumerate(nodes) for out in n.output if out}
        needed, stack = set(), [o.name for o in self.graph.output]
        while stack:
            k = producer.get(stack.pop())
            if k is not None and k not in needed:
                needed.add(k)
                stack += [t for t in nodes[k].input if t]
        return sorted(needed)

    def _count(self, n):
        for t in n.input:
            if t:
                self.refs[t] = self.refs.get(t, 0) + 1

    def _array(self, tensor, what: str) -> np.ndarray:
        try:
            return np.asarray(self.onnx.numpy_helper.to_array(tensor))
        except Exception as e:      # a tensor whose data does not fit its type or shape
            self.fail(f"{what} cannot be read ({brief(e)})")

    def _input(self, vi) -> Vec:
        """The input node of graph input ``vi``: a batch of vectors, [batch, size]."""
        t = vi.type
        if t.WhichOneof("value") != "tensor_type" or t.tensor_type.elem_type not in _FLOATS:
            self.fail(f"graph input {vi.name!r} must be a tensor of floating-point numbers")
        dims = t.tensor_type.shape.dim if t.tensor_type.HasField("shape") else None
        shown = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                 for d in dims or ()]
        if dims is None or len(dims) != 2 or not dims[1].HasField("dim_value") \
                or dims[1].dim_value < 1:
            self.fail(f"graph input {vi.name!r} has shape "
                      f"{shown if dims is not None else 'unknown'}; pcfpga takes batches of "
                      f"vectors, [batch, size] with a fixed size")
        v = Vec("input", int(dims[1].dim_value), vi.name)
        self.nodes.append(v)
        return v

    # ----------------------------------------------------------------------- the ops
    def _supported(self, op: _Op):
        n = op.node
        if n.domain not in ("", "ai.onnx") or n.op_type not in SUPPORTED_OPS:
            self.fail(f"op {op.what} is not supported; import takes "
                      f"{', '.join(SUPPORTED_OPS[:-1])} (vectors only)")
        if len(n.output) != 1:
            self.fail(f"{op.what}: expected one output, not {len(n.output)}")

    def _op(self, op: _Op):
        n = op.node
        kind = n.op_type
        args = [self.values[t] if t else None for t in n.input]
        self.uses = self.refs.get(n.output[0], 0)      # what reads this op's output
        if kind == "Constant":
            result = Const(self._constant(op))
        elif kind in _ALIASES:
            result = self._alias(op, kind, args)
        elif kind in _ACTS:
            result = self._act(op, kind, args)
        elif kind == "Gemm":
            result = self._gemm(op, args)
        elif kind == "MatMul":
            result = self._matmul(op, args)
        elif kind == "Add":
            result = self._add(op, args)
        else:
            result = self._mul(op, args)
        self.values[n.output[0]] = result

    def _attrs(self, op: _Op) -> dict:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in op.node.attribute}

    def _constant(self, op: _Op) -> np.ndarray:
        attrs = self._attrs(op)
        if "value" in attrs:
            return self._array(attrs["value"], f"{op.what}'s value")
        for key in ("value_float", "value_floats", "value_int", "value_ints"):
            if key in attrs:
                return np.asarray(attrs[key])
        self.fail(f"{op.what}: expected a numeric tensor (value, value_float(s) or "
                  f"value_int(s)), not {', '.join(attrs) or 'nothing'}")

    def _vector(self, op: _Op, value, role: str = "its input") -> Vec:
        """``value`` as a node (a pending affine or sum is made one now)."""
        if value is None or isinstance(value, Const):
            self.fail(f"{op.what}: {role} is {'missing' if value is None else 'a constant'}"
                      f"; expected a vector computed from the graph's inputs")
        if isinstance(value, Vec):
            return value
        if value.vec is None:
            if isinstance(value, Affine):
                value.vec = Vec("dense", value.size, value.hint,
                                tuple(p for p, _ in value.terms),
                                weights=tuple(W for _, W in value.terms), bias=value.bias,
                                order=value.order)
            else:
                value.vec = Vec("add", value.size, value.hint, tuple(value.vecs),
                                order=value.order)
            self.nodes.append(value.vec)
        return value.vec

    def _alias(self, op: _Op, kind: str, args):
        x = args[0]
        v = x if isinstance(x, (Affine, Sum)) else self._vector(op, x)
        size = v.size
        if kind == "Flatten":
            axis = self._attrs(op).get("axis", 1)
            if axis not in (1, -1):
                self.fail(f"{op.what}: axis {axis} does not keep [batch, size]; expected "
                          f"axis 1")
        elif kind == "Reshape":
            self._check_reshape(op, args, size)
        if isinstance(v, (Affine, Sum)):
            v.uses += self.refs.get(op.node.output[0], 0) - 1
        return v

    def _check_reshape(self, op: _Op, args, size: int):
        shape = args[1] if len(args) > 1 else None
        if not isinstance(shape, Const):
            self.fail(f"{op.what}: its shape must be a constant")
        dims = [int(d) for d in np.asarray(shape.value).reshape(-1)]
        ok = (len(dims) == 2 and dims[0] in (-1, 0, 1) and dims[1] in (size, -1)
              and dims != [-1, -1])
        if not ok:
            self.fail(f"{op.what}: shape {dims} is not a batch of vectors of size {size}; "
                      f"expected [-1, {size}]")

    def _act(self, op: _Op, kind: str, args):
        """An activation: fused into an affine used only here (a dense node), else an act
        node."""
        self._check_act(op, kind, args)
        act, x = _ACTS[kind], args[0]
        if isinstance(x, Affine) and x.uses == 1 and x.vec is None:
            v = Vec("dense", x.size, x.hint, tuple(p for p, _ in x.terms), act,
                    tuple(W for _, W in x.terms), x.bias, order=x.order)
        else:
            p = self._vector(op, x)
            v = Vec("act", p.size, op.hint, (p,), act, order=self.step)
        self.nodes.append(v)
        return v

    def _check_act(self, op: _Op, kind: str, args):
        """The attributes that make an op one of pcfpga's activations."""
        attrs = self._attrs(op)
        if kind == "LeakyRelu":
            alpha = attrs.get("alpha", 0.01)
            if alpha != LEAKY_SLOPE:
                self.fail(f"{op.what}: slope alpha = {alpha:g}; pcfpga's leaky_relu has "
                          f"slope 1/64 = 0.015625 (a shift), no other")
        elif kind == "HardSigmoid":
            alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
            if (alpha, beta) != HARDSIGMOID:
                self.fail(f"{op.what}: alpha = {alpha:g}, beta = {beta:g}; pcfpga's "
                          f"hardsigmoid is clip(a/4 + 1/2, 0, 1): alpha 0.25, beta 0.5")
        elif kind == "Clip":
            bounds = []
            for k, key in ((1, "min"), (2, "max")):
                arg = args[k] if len(args) > k else None
                if arg is not None and not isinstance(arg, Const):
                    self.fail(f"{op.what}: its {key} must be a constant")
                value = arg.value if arg is not None else attrs.get(key)
                bounds.append(float(np.asarray(value).reshape(-1)[0])
                              if value is not None and np.size(value) == 1 else None)
            if tuple(bounds) != HARDTANH:
                shown = ", ".join("none" if b is None else f"{b:g}" for b in bounds)
                self.fail(f"{op.what}: clips to [{shown}]; pcfpga's hardtanh clips to "
                          f"[-1, 1], no other bounds")

    def _matrix(self, op: _Op, value, role: str) -> np.ndarray:
        """A weight matrix: a float constant of two dimensions used by no other op."""
        if not isinstance(value, Const):
            self.fail(f"{op.what}: {role} must be an initializer (a weight matrix), not a "
                      f"value computed from the inputs")
        a = value.value
        if a.dtype.kind != "f" or a.ndim != 2:
            self.fail(f"{op.what}: {role} has shape {list(a.shape)} of {a.dtype}; "
                      f"expected a matrix of floating-point numbers")
        self._claim(op, value)
        return a.astype(np.float64)

    def _claim(self, op: _Op, value: Const):
        """Refuse a constant that is already another edge's weights or bias."""
        key = value.source or id(value)
        if key in self.weights_from:
            shown = repr(value.source) if value.source else "a constant"
            self.fail(f"{op.what}: initializer {shown} is also used by "
                      f"{self.weights_from[key]}; pcfpga gives every edge its own weights "
                      f"(no sharing)")
        self.weights_from[key] = op.what

    def _bias(self, op: _Op, value: Const, size: int) -> np.ndarray:
        """A bias: a float constant of ``size`` elements (or one, broadcast)."""
        a = value.value
        if (a.dtype.kind != "f" or a.size not in (1, size) or a.ndim > 2
                or (a.ndim == 2 and a.shape[0] != 1)):
            self.fail(f"{op.what}: bias of shape {list(a.shape)} of {a.dtype}; expected "
                      f"[{size}] floating-point numbers")
        self._claim(op, value)
        return np.broadcast_to(a.reshape(-1).astype(np.float64), (size,)).copy()

    def _affine(self, op: _Op, x: Vec, W: np.ndarray, role: str) -> Affine:
        if W.shape[1] != x.size:
            self.fail(f"{op.what}: {role} maps {W.shape[1]} inputs to {W.shape[0]}; its "
                      f"input has size {x.size}")
        return Affine([(x, W)], None, op.hint, self.uses, self.step)

    def _gemm(self, op: _Op, args) -> Affine:
        attrs = self._attrs(op)
        if attrs.get("transA", 0):
            self.fail(f"{op.what}: transA = 1 is not supported; expected the vectors as "
                      f"rows of A")
        x = self._vector(op, args[0], "input A")
        B = self._matrix(op, args[1], "input B")
        affine = self._affine(op, x, attrs.get("alpha", 1.0) * (B if attrs.get("transB", 0)
                                                                else B.T), "input B")
        if len(args) > 2 and args[2] is not None:
            if not isinstance(args[2], Const):
                self.fail(f"{op.what}: input C must be an initializer (a bias)")
            affine.bias = attrs.get("beta", 1.0) * self._bias(op, args[2], affine.size)
        return affine

    def _matmul(self, op: _Op, args) -> Affine:
        if isinstance(args[0], Const):
            self.fail(f"{op.what}: the weight matrix must be the second input (vectors as "
                      f"rows: v B)")
        x = self._vector(op, args[0])
        return self._affine(op, x, self._matrix(op, args[1], "its second input").T,
                            "its second input")

    def _add(self, op: _Op, args):
        x, y = args
        if isinstance(x, Const) and isinstance(y, Const):
            self.fail(f"{op.what}: adds two constants; expected a vector")
        if isinstance(x, Const) or isinstance(y, Const):
            v, c = (y, x) if isinstance(x, Const) else (x, y)
            if not isinstance(v, Affine) or v.uses != 1 or v.vec is not None:
                self.fail(f"{op.what}: adds a constant to a value that is not the output of "
                          f"a Gemm or MatMul used only here; pcfpga has biases in dense "
                          f"nodes only")
            if v.bias is not None:
                self.fail(f"{op.what}: adds a second bias to the output of a Gemm; expected "
                          f"one bias per dense node")
            return Affine(v.terms, self._bias(op, c, v.size), v.hint, self.uses, v.order)
        if x.size != y.size:
            self.fail(f"{op.what}: adds vectors of sizes {x.size} and {y.size}; expected "
                      f"equal sizes")
        if self._merges(op, x, y):
            bias = x.bias if x.bias is not None else y.bias
            return Affine(x.terms + y.terms, bias, x.hint, self.uses, x.order)
        if isinstance(x, Sum) and x.uses == 1 and x.vec is None and x.hint == op.hint:
            return Sum(self._distinct(op, x.vecs + [self._vector(op, y)]), x.hint, self.uses,
                       x.order)
        return Sum(self._distinct(op, [self._vector(op, x), self._vector(op, y)]), op.hint,
                   self.uses, self.step)

    def _distinct(self, op: _Op, vecs: list) -> list:
        """``vecs``, when no vector is among them twice (pcfpga's add and mul take
        distinct inputs)."""
        if len(set(map(id, vecs))) < len(vecs):
            self.fail(f"{op.what}: takes the same vector twice; pcfpga's add and mul take "
                      f"different vectors (a dense node can scale one)")
        return vecs

    def _merges(self, op: _Op, x, y) -> bool:
        """Whether Add(x, y) is one affine: two affines used only here, in the Add's name
        scope, of different parents and at most one bias."""
        if not all(isinstance(v, Affine) and v.uses == 1 and v.vec is None
                   and v.hint == op.hint for v in (x, y)):
            return False
        parents = [p for p, _ in x.terms + y.terms]
        return (len(set(map(id, parents))) == len(parents)
                and (x.bias is None or y.bias is None))

    def _mul(self, op: _Op, args) -> Vec:
        x, y = args
        if isinstance(x, Const) or isinstance(y, Const):
            self.fail(f"{op.what}: multiplies by a constant; pcfpga multiplies two vectors "
                      f"(a gate) only")
        if x.size != y.size:
            self.fail(f"{op.what}: multiplies vectors of sizes {x.size} and {y.size}; "
                      f"expected equal sizes")
        pair = self._distinct(op, [self._vector(op, x), self._vector(op, y)])
        v = Vec("mul", x.size, op.hint, tuple(pair), order=self.step)
        self.nodes.append(v)
        return v

    # ----------------------------------------------------------------------- outputs, names
    def _outputs(self):
        """Mark the output nodes: a graph output's node itself, or an act identity node
        after it when it is an input, feeds other nodes or is another output too."""
        found = []
        for o in self.graph.output:
            value = self.values[o.name]
            if isinstance(value, Const):
                self.fail(f"graph output {o.name!r} is a constant; expected a vector "
                          f"computed from the graph's inputs")
            found.append((o.name, self._vector(None, value)))
        fed = {id(p) for v in self.nodes for p in v.inputs}
        count = {}
        for _, v in found:
            count[id(v)] = count.get(id(v), 0) + 1
        for name, v in found:
            if v.op == "input" or id(v) in fed or count[id(v)] > 1:
                v = Vec("act", v.size, name, (v,), order=len(self.graph.node))
                self.nodes.append(v)
            v.output, v.hint = True, name
        fed = {id(p) for v in self.nodes for p in v.inputs}
        self.nodes = [v for v in self.nodes if v.op != "input" or id(v) in fed]

    def _name(self):
        """Names: inputs and outputs after the graph's, then the others after their ops,
        made identifiers and unique."""
        taken = set()
        groups = ([v for v in self.nodes if v.op == "input"],
                  [v for v in self.nodes if v.output],
                  [v for v in self.nodes if v.op != "input" and not v.output])
        for group in groups:
            for v in group:
                v.name = unique(identifier(v.hint), taken)
                taken.add(v.name)

"""The network description: a validated directed acyclic graph of PC nodes.

A graph comes from a TOML file (:meth:`Graph.from_toml`) or from the Python
:class:`GraphBuilder`; both produce the same plain dictionary and go through the same
:meth:`Graph.from_dict`, so they validate identically. Validation happens before anything is
built and stops at the first problem with a :class:`GraphError` naming the node or field
and what was expected.

Node kinds (see the spec, section 1)::

    input   v = x                                   size
    dense   a = Σ_p W_{i,p} v_p + b ;  v̂ = f(a)      inputs, size, act, bias
    act     v̂ = f(v_p)                              one input of the same size, act
    add     v̂ = Σ_p v_p                             inputs of the same size
    mul     v̂ = v_p ⊙ v_q                           two inputs of the same size

Outputs (``output = true``) are sinks clamped to the target; every node must lead to one.
``depth`` D is the longest path from a hidden node to an output (0 without hidden nodes).

Names (the graph's and every node's) are ASCII identifiers ``[A-Za-z_][A-Za-z0-9_]*`` of at
most :data:`MAX_NAME` characters: the hardware makes Python attribute, Verilog and file names
of them (``pcfpga_<graph>``, ``<graph>.v``, ports ``fwd.from_<parent>``,
``msg.from_<child>``, blocks ``pe_<node>``, ``edge_<child>_<parent>``, memory-map fields
``<node>.<register>``, ``in.<input>``, ``target.<output>``), and Amaranth takes ASCII
identifiers only. Names that
would make two of those equal are rejected too (a node ``in`` with a register ``v`` beside
an input ``v``; edges ``c -> a_b`` and ``b_c -> a``).

Validation takes time linear in the description's size; messages show bad values
shortened (:func:`show`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .fields import hardware_names
from .lfsr import MAX_PARENTS
from .messages import kind, listing, show
from .qformat import MAX_WIDTH, QFormat, ROUNDING_MODES
from .tomlfile import MAX_FILE_BYTES, MAX_KEY_PARTS, TomlFileError, read_toml

__all__ = ["Graph", "GraphBuilder", "GraphError", "Node", "Formats", "Learning",
           "OPS", "ACTIVATIONS", "MODES", "DEFAULT_FORMAT", "DEFAULT_LEARNING", "MAX_NODES",
           "MAX_ELEMENTS", "MAX_SHIFT", "MAX_NAME", "MAX_VALUE_FRAC", "MAX_FILE_BYTES",
           "MAX_KEY_PARTS", "read_toml", "show"]

OPS = ("input", "dense", "act", "add", "mul")
ACTIVATIONS = ("identity", "relu", "leaky_relu", "hardtanh", "hardsigmoid", "tanh", "sigmoid")
MODES = ("exact", "fpa", "standard", "streaming")

DEFAULT_FORMAT = {"value": "Q4.12", "error": "Q2.14", "weight": "Q4.12",
                  "rounding": "nearest", "table_bits": 8, "seed": 1}
DEFAULT_LEARNING = {"mode": "exact", "eta_v": 1.0, "eta_theta": 0.125, "ticks": 0}

_TOP_KEYS = ("name", "format", "learning", "node")
_NODE_KEYS = {
    "input": ("name", "op", "size"),
    "dense": ("name", "op", "inputs", "size", "act", "bias", "output"),
    "act": ("name", "op", "inputs", "size", "act", "output"),
    "add": ("name", "op", "inputs", "size", "output"),
    "mul": ("name", "op", "inputs", "size", "output"),
}
#: Fraction bits of format.value an activation needs for its slopes (1/64, 1/4).
_ACT_MIN_FRAC = {"leaky_relu": 6, "hardsigmoid": 2}
MAX_NODES = 2048
MAX_ELEMENTS = 1 << 16
MAX_SHIFT = 24
#: Longest graph or node name: file names (``<name>.json``, ``<name>_trained.npz``, build
#: folders) and generated identifiers stay short, and so do messages.
MAX_NAME = 64
#: Most fraction bits of format.value: gains f'(a) are Q2.n, one 32-bit bus word at most.
MAX_VALUE_FRAC = MAX_WIDTH - 2
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
class GraphError(ValueError):
    """A graph description that cannot be built; the message names what and where."""


@dataclass(frozen=True)
class Formats:
    value: QFormat
    error: QFormat
    weight: QFormat
    rounding: str
    table_bits: int
    seed: int

    @property
    def gain(self) -> QFormat:
        """Gains g = f'(a): Q2.n with the value format's fraction bits (|f'| <= 1 for every
        table activation; the golden model, the hardware's registers and tables use it)."""
        return QFormat(2, self.value.frac_bits)


@dataclass(frozen=True)
class Learning:
    mode: str
    eta_v: float
    eta_theta: float
    ticks: int

    @property
    def shift_v(self) -> int:
        """k with eta_v = 2**-k."""
        return _shift_of(self.eta_v)

    @property
    def shift_theta(self) -> int:
        """k with eta_theta = 2**-k."""
        return _shift_of(self.eta_theta)


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    size: int
    inputs: tuple = ()
    act: str = "identity"
    bias: bool = False
    output: bool = False
    index: int = 0

    @property
    def is_hidden(self) -> bool:
        return self.op != "input" and not self.output


def _shift_of(eta: float) -> int:
    m, e = math.frexp(eta)
    return 1 - e if m == 0.5 else -1


def _check_name(name, what: str) -> str:
    """``name`` when it can name a graph or node in every generated file, else GraphError."""
    if name is None:
        raise GraphError(f"{what} is missing; it must be an identifier such as \"xor\"")
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise GraphError(f"{what} {show(name)} has {len(name)} characters; at most "
                         f"{MAX_NAME}")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise GraphError(f"{what} must be an identifier of ASCII letters, digits and _, not "
                         f"starting with a digit, such as \"xor\"; not {show(name)}")
    return name


@dataclass(frozen=True)
class Graph:
    """A validated graph; ``nodes`` are in topological order. Build with :meth:`from_dict`."""

    name: str
    formats: Formats
    learning: Learning
    nodes: tuple
    source: dict = field(compare=False, repr=False, default=None)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_toml(cls, path) -> Graph:
        """Read and validate a TOML graph file (UTF-8, a leading byte-order mark allowed)."""
        try:
            data = read_toml(path)
        except TomlFileError as e:
            raise GraphError(str(e)) from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict) -> Graph:
        """Validate a plain dictionary (the TOML document's shape)."""
        if not isinstance(data, dict):
            raise GraphError(f"a graph is a table of keys, not {kind(data)}")
        _check_keys(data, _TOP_KEYS, "at top level")
        name = _check_name(data.get("name"), "name")
        formats = _parse_formats(data.get("format", {}))
        raw_nodes = data.get("node", [])
        if isinstance(raw_nodes, dict):
            raise GraphError("node must be an array of tables, [[node]], not one table, "
                             "[node]")
        if not isinstance(raw_nodes, list) or not raw_nodes:
            raise GraphError("graph has no nodes; add [[node]] tables")
        nodes = _parse_nodes(raw_nodes, formats)
        learning = _parse_learning(data.get("learning", {}), formats)
        graph = cls(name, formats, learning, nodes, source=data)
        graph._check_learning()
        graph._check_hardware_names()
        return graph

    def with_settings(self, **changes) -> Graph:
        """The same graph with [format] or [learning] keys changed, validated again.

        >>> g = GraphBuilder("t").input("x", 1).dense("y", ["x"], 1, output=True).build()
        >>> g.with_settings(mode="fpa", eta_v=0.5, rounding="truncate").learning.mode
        'fpa'
        """
        data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.source.items()}
        for key, value in changes.items():
            if key in DEFAULT_FORMAT:
                data.setdefault("format", {})[key] = value
            elif key in DEFAULT_LEARNING:
                data.setdefault("learning", {})[key] = value
            else:
                raise GraphError(f"unknown setting {key!r}; expected one of: "
                                 f"{', '.join([*DEFAULT_FORMAT, *DEFAULT_LEARNING])}")
        return Graph.from_dict(data)

    # ------------------------------------------------------------------ structure
    def __post_init__(self):
        children = {n.name: [] for n in self.nodes}
        for c in self.nodes:                    # topological order: so are the lists
            for p in c.inputs:
                children[p].append(c)
        object.__setattr__(self, "_by_name", {n.name: n for n in self.nodes})
        object.__setattr__(self, "_children", children)

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def children(self, name: str) -> list:
        """Nodes that take ``name`` as an input, in topological order."""
        return self._children[name]

    @property
    def inputs(self) -> list:
        return [n for n in self.nodes if n.op == "input"]

    @property
    def outputs(self) -> list:
        return [n for n in self.nodes if n.output]

    @property
    def hidden(self) -> list:
        return [n for n in self.nodes if n.is_hidden]

    @property
    def edges(self) -> list:
        """(parent, child) name pairs in topological order of the child."""
        return [(p, n.name) for n in self.nodes for p in n.inputs]

    @property
    def depth(self) -> int:
        """D: the longest path, in edges, from a hidden node to an output."""
        dist = {}
        for n in reversed(self.nodes):
            kids = self.children(n.name)
            dist[n.name] = 0 if n.output else max(1 + dist[c.name] for c in kids)
        return max((dist[n.name] for n in self.hidden), default=0)

    @property
    def ticks(self) -> int:
        """Inference ticks per sample: ``learning.ticks``, or D when 0 (1 in streaming)."""
        if self.learning.ticks:
            return self.learning.ticks
        return 1 if self.learning.mode == "streaming" else self.depth

    @property
    def param_shapes(self) -> dict:
        """``{"node.W.parent": (size, parent size), "node.b": (size,)}`` in a fixed order."""
        shapes = {}
        for n in self.nodes:
            if n.op == "dense":
                for p in n.inputs:
                    shapes[f"{n.name}.W.{p}"] = (n.size, self.node(p).size)
                if n.bias:
                    shapes[f"{n.name}.b"] = (n.size,)
        return shapes

    @property
    def n_params(self) -> int:
        return sum(math.prod(s) for s in self.param_shapes.values())

    def _check_learning(self):
        lr = self.learning
        if lr.mode == "exact" and lr.ticks and lr.ticks < self.depth:
            raise GraphError(f"learning.ticks = {lr.ticks} is less than the depth D = "
                             f"{self.depth}; mode 'exact' needs at least D ticks (0 means D)")

    def _check_hardware_names(self):
        """Reject names the hardware would use twice (see the module docstring)."""
        fields = {}
        for key, what in hardware_names(self):
            if key in fields:
                raise GraphError(f"the memory map would have two fields {key!r}, "
                                 f"{fields[key]} and {what}; rename one of the nodes")
            fields[key] = what
        blocks = {}
        for n in self.nodes:
            for p in n.inputs if n.op == "dense" else ():
                block = f"edge_{n.name}_{p}"
                if block in blocks:
                    raise GraphError(f"edges {blocks[block]} and {p} -> {n.name} would both "
                                     f"be the hardware block {block!r} "
                                     f"(edge_<child>_<parent>); rename one of the nodes")
                blocks[block] = f"{p} -> {n.name}"
        for n in self.nodes:
            if n.op != "mul":
                continue
            takes = {c.name for c in self.children(n.name) if c.op in ("dense", "mul")}
            for p in n.inputs:
                if self.node(p).is_hidden and f"to_{p}" in takes:
                    raise GraphError(f"mul node {n.name!r}: its message to input {p!r} "
                                     f"and the one from its child 'to_{p}' would both be "
                                     f"the port 'msg_to_{p}'; rename node 'to_{p}'")


# ---------------------------------------------------------------------- parsing helpers
def _check_keys(table: dict, allowed, where: str):
    for key in table:
        if key not in allowed:
            raise GraphError(f"unknown key {show(key)} {where}; expected one of: "
                             f"{', '.join(allowed)}")


def _parse_formats(raw) -> Formats:
    if not isinstance(raw, dict):
        raise GraphError(f"[format] must be a table, not {kind(raw)}")
    _check_keys(raw, tuple(DEFAULT_FORMAT), "in [format]")
    merged = {**DEFAULT_FORMAT, **raw}
    fmts = {}
    for key in ("value", "error", "weight"):
        try:
            fmts[key] = QFormat.parse(merged[key])
        except ValueError as e:
            raise GraphError(f"format.{key}: {e}") from None
    if fmts["value"].frac_bits > MAX_VALUE_FRAC:
        v = fmts["value"]
        raise GraphError(f"format.value {v} has {v.frac_bits} fraction bits; at most "
                         f"{MAX_VALUE_FRAC}: gains f'(a) are held as Q2.{v.frac_bits}, "
                         f"{v.frac_bits + 2} bits, wider than the {MAX_WIDTH}-bit bus word")
    rounding = merged["rounding"]
    if rounding not in ROUNDING_MODES:
        raise GraphError(f"format.rounding must be one of {', '.join(ROUNDING_MODES)}, "
                         f"not {show(rounding)}")
    table_bits = _int_in(merged["table_bits"], 4, 14, "format.table_bits")
    seed = _int_in(merged["seed"], 1, 0xFFFFFFFF, "format.seed", " (the LFSR's start state)")
    return Formats(fmts["value"], fmts["error"], fmts["weight"], rounding, table_bits, seed)


def _int_in(value, low: int, high: int, key: str, note: str = "") -> int:
    if type(value) is not int or not low <= value <= high:
        raise GraphError(f"{key} must be an integer from {low} to {high}{note}, not "
                         f"{show(value)}")
    return value


def _parse_eta(raw, key: str, fmt: QFormat, fmt_name: str) -> float:
    eta = raw
    if type(eta) not in (int, float) or not 0 < eta <= 1 or _shift_of(eta) < 0:
        raise GraphError(f"learning.{key} must be 1 or a power of two 2^-k below 1 "
                         f"(a shift), not {show(eta)}")
    k = _shift_of(eta)
    if k > min(fmt.frac_bits, MAX_SHIFT):
        raise GraphError(f"learning.{key} = 2^-{k} is finer than format.{fmt_name} {fmt} "
                         f"can represent (2^-{min(fmt.frac_bits, MAX_SHIFT)} at the finest)")
    return float(eta)


def _parse_learning(raw, formats: Formats) -> Learning:
    if not isinstance(raw, dict):
        raise GraphError(f"[learning] must be a table, not {kind(raw)}")
    _check_keys(raw, tuple(DEFAULT_LEARNING), "in [learning]")
    merged = {**DEFAULT_LEARNING, **raw}
    mode = merged["mode"]
    if mode not in MODES:
        raise GraphError(f"learning.mode must be one of {', '.join(MODES)}, not "
                         f"{show(mode)}")
    # eta_v scales an error update in fpa, a value update in standard and streaming.
    v_fmt, v_name = ((formats.error, "error") if mode in ("exact", "fpa")
                     else (formats.value, "value"))
    eta_v = _parse_eta(merged["eta_v"], "eta_v", v_fmt, v_name)
    eta_theta = _parse_eta(merged["eta_theta"], "eta_theta", formats.weight, "weight")
    if mode == "exact" and eta_v != 1.0:
        raise GraphError(f"learning.eta_v must be 1 in mode 'exact' (use mode 'fpa' for "
                         f"eta_v < 1), not {merged['eta_v']!r}")
    if mode == "streaming" and eta_v != 1.0:
        raise GraphError(f"learning.eta_v must be 1 in mode 'streaming' (errors cross the "
                         f"pipeline in one pass), not {merged['eta_v']!r}")
    ticks = _int_in(merged["ticks"], 0, 65535, "learning.ticks", " (0 means the depth D)")
    if mode == "streaming" and ticks > 1:
        raise GraphError(f"learning.ticks must be 0 or 1 in mode 'streaming' (one sample "
                         f"per tick), not {ticks}")
    return Learning(mode, eta_v, eta_theta, ticks)


def _parse_node(i: int, raw) -> dict:
    if not isinstance(raw, dict):
        raise GraphError(f"node #{i + 1} must be a table, not {kind(raw)}")
    name = _check_name(raw.get("name"), f"node #{i + 1}: name")
    where = f"node {name!r}"
    op = raw.get("op")
    if op is None:
        raise GraphError(f"{where}: op is missing; it must be one of {', '.join(OPS)}")
    if op not in OPS:
        raise GraphError(f"{where}: op must be one of {', '.join(OPS)}, not {show(op)}")
    _check_keys(raw, _NODE_KEYS[op], f"in {where} (op {op})")
    size = raw.get("size")
    if size is not None and (type(size) is not int or not 1 <= size < MAX_ELEMENTS):
        raise GraphError(f"{where}: size must be an integer from 1 to {MAX_ELEMENTS - 1}, "
                         f"not {show(size)}")
    if size is None and op in ("input", "dense"):
        raise GraphError(f"{where}: size is required for op {op}")
    inputs = raw.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(p, str) for p in inputs):
        raise GraphError(f"{where}: inputs must be a list of node names, not "
                         f"{show(inputs)}")
    if op != "input" and not inputs:
        raise GraphError(f"{where}: op {op} needs at least one entry in inputs")
    if op == "act" and len(inputs) != 1:
        raise GraphError(f"{where}: op act takes exactly one input, not {len(inputs)}")
    if op == "mul" and len(inputs) != 2:
        raise GraphError(f"{where}: op mul takes exactly two inputs, not {len(inputs)}")
    if len(inputs) > MAX_PARENTS:
        raise GraphError(f"{where}: {len(inputs)} inputs; at most {MAX_PARENTS}")
    if len(set(inputs)) < len(inputs):
        twice = next(p for k, p in enumerate(inputs) if p in inputs[:k])
        raise GraphError(f"{where}: input {show(twice)} is listed twice")
    act = raw.get("act", "identity")
    if op == "act" and "act" not in raw:
        raise GraphError(f"{where}: op act needs an act such as \"tanh\"")
    if act not in ACTIVATIONS:
        raise GraphError(f"{where}: act must be one of {', '.join(ACTIVATIONS)}, not "
                         f"{show(act)}")
    for flag in ("bias", "output"):
        if flag in raw and type(raw[flag]) is not bool:
            raise GraphError(f"{where}: {flag} must be true or false, not "
                             f"{show(raw[flag])}")
    return dict(name=name, op=op, size=size, inputs=tuple(inputs), act=act,
                bias=raw.get("bias", False), output=raw.get("output", False))


def _toposort(specs: list) -> list:
    names = [s["name"] for s in specs]
    by_name = {s["name"]: s for s in specs}
    for s in specs:
        for p in s["inputs"]:
            if p not in by_name:
                raise GraphError(f"node {s['name']!r}: unknown input {show(p)}; nodes are: "
                                 f"{listing(names)}")
    state, order = {}, []
    for root in names:              # iterative depth-first search: no recursion limit
        if state.get(root) == "done":
            continue
        stack = [(root, iter(by_name[root]["inputs"]))]
        state[root] = "open"
        while stack:
            name, parents = stack[-1]
            p = next(parents, None)
            if p is None:
                stack.pop()
                state[name] = "done"
                order.append(by_name[name])
            elif state.get(p) == "open":
                path = [n for n, _ in stack]
                cycle = path[path.index(p):] + [p]
                raise GraphError(f"cycle through nodes {listing(reversed(cycle), 12, ' -> ')}"
                                 f"; a graph must be acyclic")
            elif state.get(p) != "done":
                state[p] = "open"
                stack.append((p, iter(by_name[p]["inputs"])))
    return order


def _parse_nodes(raw_nodes: list, formats: Formats) -> tuple:
    if len(raw_nodes) > MAX_NODES:
        raise GraphError(f"graph has {len(raw_nodes)} nodes; at most {MAX_NODES}")
    specs = []
    seen = set()
    for i, raw in enumerate(raw_nodes):
        spec = _parse_node(i, raw)
        if spec["name"] in seen:
            raise GraphError(f"node {spec['name']!r} is defined twice; names must be unique")
        seen.add(spec["name"])
        specs.append(spec)
    order = _toposort(specs)
    _check_sizes(order, formats)
    _check_sinks(order)
    return tuple(Node(index=i, **s) for i, s in enumerate(order))


def _check_sizes(order: list, formats: Formats):
    """Fill in the sizes of act, add and mul nodes; check them, the weight matrices' and
    the activations' fraction bits (``order``: topological)."""
    sizes = {}
    for s in order:
        where = f"node {s['name']!r}"
        if s["op"] in ("act", "add", "mul"):
            want = s["size"] if s["size"] is not None else sizes[s["inputs"][0]]
            for p in s["inputs"]:
                if sizes[p] != want:
                    raise GraphError(f"{where} (op {s['op']}): input {p!r} has size "
                                     f"{sizes[p]}, expected {want} (the node's size)")
            s["size"] = want
        if s["op"] == "dense":
            for p in s["inputs"]:
                if s["size"] * sizes[p] > MAX_ELEMENTS:
                    raise GraphError(f"{where}: the weight matrix from {p!r} has "
                                     f"{s['size'] * sizes[p]} elements; at most "
                                     f"{MAX_ELEMENTS}")
        need = _ACT_MIN_FRAC.get(s["act"], 0)
        if formats.value.frac_bits < need:
            raise GraphError(f"{where}: act {s['act']} needs at least {need} fraction bits "
                             f"in format.value, which is {formats.value}")
        sizes[s["name"]] = s["size"]


def _check_sinks(order: list):
    """Outputs are sinks, one exists, and every node reaches one (``order``: topological)."""
    kids = {s["name"]: [] for s in order}
    for s in order:
        for p in s["inputs"]:
            kids[p].append(s["name"])
    for s in order:
        if s["output"] and kids[s["name"]]:
            raise GraphError(f"node {s['name']!r} is an output but feeds "
                             f"{listing(kids[s['name']])}; outputs must be sinks")
    # An input node always exists here: every other op needs a parent, and an acyclic
    # graph has a node without parents.
    if not any(s["output"] for s in order):
        raise GraphError("graph has no output node; mark one with output = true")
    reaches = set()
    for s in reversed(order):
        if s["output"] or any(c in reaches for c in kids[s["name"]]):
            reaches.add(s["name"])
    for s in order:
        if s["name"] not in reaches:
            raise GraphError(f"node {s['name']!r} leads to no output; every node must feed "
                             f"an output (mark it output = true or remove it)")


class GraphBuilder:
    """Build a graph in Python; :meth:`build` validates exactly like a TOML file.

    >>> g = (GraphBuilder("xor").input("x", 2).dense("h", ["x"], 4, act="tanh", bias=True)
    ...      .dense("y", ["h"], 1, act="sigmoid", bias=True, output=True).build())
    >>> g.depth, g.n_params
    (1, 17)
    """

    def __init__(self, name: str):
        self._data = {"name": name, "node": []}

    def format(self, **kw) -> GraphBuilder:
        self._data.setdefault("format", {}).update(kw)
        return self

    def learning(self, **kw) -> GraphBuilder:
        self._data.setdefault("learning", {}).update(kw)
        return self

    def _node(self, **kw) -> GraphBuilder:
        self._data["node"].append({k: v for k, v in kw.items() if v is not None})
        return self

    def input(self, name, size):
        return self._node(name=name, op="input", size=size)

    def dense(self, name, inputs, size, act=None, bias=None, output=None):
        return self._node(name=name, op="dense", inputs=list(inputs), size=size, act=act,
                          bias=bias, output=output)

    def act(self, name, input, act, output=None):
        return self._node(name=name, op="act", inputs=[input], act=act, output=output)

    def add(self, name, inputs, output=None):
        return self._node(name=name, op="add", inputs=list(inputs), output=output)

    def mul(self, name, inputs, output=None):
        return self._node(name=name, op="mul", inputs=list(inputs), output=output)

    def to_dict(self) -> dict:
        return self._data

    def build(self) -> Graph:
        return Graph.from_dict(self._data)

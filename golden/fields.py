"""The names of the memory map's fields, spelled once for every layer.

The hardware's memory map (``hdl/memmap.py``), its PEs' host ports, the simulators' bus
drivers (``sim/``), the fixed-point model's flag words and the graph's validation all name
the same words; they build the names here::

    <node>.sat            a node's sticky saturation flags       flags_field(node)
    in.<node>             an input node's buffer                 input_field(node)
    target.<node>         an output node's target buffer         target_field(node)
    <node>.<reg>          a register (the golden trace's key)    register_field(node, reg)
    <node>.<reg>.line     a streaming delay line of a register   line_field(node, reg)
    <node>.W.<parent>     weights, <node>.b bias                 ``Graph.param_shapes``

:func:`hardware_names` lists every field named after a node, so that
:class:`~.graph.Graph` can refuse node names whose fields would collide.

>>> flags_field("h"), input_field("x"), target_field("y"), line_field("h", "eps")
('h.sat', 'in.x', 'target.y', 'h.eps.line')
"""

from __future__ import annotations

from .engine import node_registers

__all__ = ["flags_field", "input_field", "target_field", "register_field", "line_field",
           "hardware_names"]


def flags_field(node: str) -> str:
    """The word of node ``node``'s sticky saturation flags: ``<node>.sat``."""
    return f"{node}.sat"


def input_field(node: str) -> str:
    """The buffer the host writes input node ``node``'s sample to: ``in.<node>``."""
    return f"in.{node}"


def target_field(node: str) -> str:
    """The buffer the host writes output node ``node``'s target to: ``target.<node>``."""
    return f"target.{node}"


def register_field(node: str, reg: str) -> str:
    """Register ``reg`` of node ``node``, as the golden trace names it: ``<node>.<reg>``."""
    return f"{node}.{reg}"


def line_field(node: str, reg: str) -> str:
    """The streaming delay line of register ``reg`` of ``node``: ``<node>.<reg>.line``."""
    return f"{register_field(node, reg)}.line"


def hardware_names(graph):
    """``(name, what)`` of every memory-map field named after a node (streaming delay lines
    aside: no register is called ``W``, so ``<node>.<reg>.line`` cannot meet
    ``<node>.W.<parent>``)."""
    streaming = graph.learning.mode == "streaming"
    for n in graph.nodes:
        yield flags_field(n.name), f"the flags of node {n.name!r}"
        if n.op == "input":
            yield input_field(n.name), f"the input buffer of node {n.name!r}"
        if n.output:
            yield target_field(n.name), f"the target buffer of node {n.name!r}"
        for p in n.inputs if n.op == "dense" else ():
            yield f"{n.name}.W.{p}", f"the weights of node {n.name!r} from {p!r}"
        if n.bias:
            yield f"{n.name}.b", f"the bias of node {n.name!r}"
        for r in node_registers(n, streaming):
            yield register_field(n.name, r), f"register {r} of node {n.name!r}"

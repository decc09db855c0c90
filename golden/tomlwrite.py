"""Writing a graph back to a TOML file that :meth:`~.graph.Graph.from_toml` reads as the same
graph.

:func:`graph_toml` lays the file out as the bundled examples are: ``name``, a ``[format]``
and a ``[learning]`` table with every key spelled out, then one ``[[node]]`` table per node
in topological order with the keys its op takes (``size`` only where the op needs it:
act, add and mul nodes take their parents' size). Graph and node names are identifiers,
so they need no escaping; comment lines are given as text and written after ``#``.

>>> from .graph import Graph, GraphBuilder
>>> g = (GraphBuilder("t").input("x", 2).dense("h", ["x"], 3, act="tanh", bias=True)
...      .act("y", "h", "sigmoid", output=True).build())
>>> text = graph_toml(g, comment="made by hand")
>>> print(text.split("[[node]]")[2].strip())
name = "h"
op = "dense"
inputs = ["x"]
size = 3
act = "tanh"
bias = true
>>> import tomllib
>>> Graph.from_dict(tomllib.loads(text)) == g
True
"""

from __future__ import annotations

__all__ = ["graph_toml", "graph_dict"]


def graph_dict(graph) -> dict:
    """The plain table of ``graph`` (the TOML document's shape) with every [format] and
    [learning] key given, which :meth:`~.graph.Graph.from_dict` builds into an equal graph.
    """
    f, lr = graph.formats, graph.learning
    fmt = {"value": str(f.value), "error": str(f.error), "weight": str(f.weight),
           "rounding": f.rounding, "table_bits": f.table_bits, "seed": f.seed}
    learning = {"mode": lr.mode, "eta_v": lr.eta_v, "eta_theta": lr.eta_theta,
                "ticks": lr.ticks}
    return {"name": graph.name, "format": fmt, "learning": learning,
            "node": [_node_dict(n) for n in graph.nodes]}


def _node_dict(n) -> dict:
    d = {"name": n.name, "op": n.op}
    if n.op != "input":
        d["inputs"] = list(n.inputs)
    if n.op in ("input", "dense"):
        d["size"] = n.size
    if n.op in ("dense", "act"):
        d["act"] = n.act
    if n.op == "dense":
        d["bias"] = n.bias
    if n.output:
        d["output"] = True
    return d


def _value(v) -> str:
    """A TOML value of a graph file: a bool, an int, a float, an identifier-like string or
    a list of strings."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    text = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _table(table: dict) -> list:
    return [f"{key} = {_value(value)}" for key, value in table.items()]


def _comment(text: str) -> list:
    """``text`` as comment lines (control characters, which a comment may not hold, as
    spaces)."""
    lines = []
    for line in text.splitlines() or [""]:
        clean = "".join(" " if ord(c) < 0x20 or ord(c) == 0x7F else c for c in line)
        lines.append(f"# {clean}".rstrip())
    return lines


def graph_toml(graph, comment: str | None = None) -> str:
    """The TOML text of ``graph`` (a :class:`~.graph.Graph`).

    Parameters
    ----------
    graph : Graph
        The validated graph.
    comment : str, optional
        Written first, as ``#`` lines (where the graph came from, say).

    Returns
    -------
    str
        The file's text; :meth:`Graph.from_toml` of it equals ``graph``.
    """
    data = graph_dict(graph)
    lines = _comment(comment) if comment is not None else []
    lines.append(f"name = {_value(data['name'])}")
    for section in ("format", "learning"):
        lines += ["", f"[{section}]", *_table(data[section])]
    for node in data["node"]:
        lines += ["", "[[node]]", *_table(node)]
    return "\n".join(lines) + "\n"

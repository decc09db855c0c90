"""Seeded random computation graphs for regression tests (golden now, hardware later).

:func:`random_graph` builds a DAG with ``depth`` levels of hidden nodes between two input
nodes and one or two output nodes, so that the graph's depth D equals ``depth``:

* every hidden node takes at least one parent from the level just below it (the longest
  path is therefore exactly one node per level), plus random extra parents from any lower
  level, so fan-in above 1 is common;
* node kinds cycle through dense, act, add and mul where the sizes allow (add and mul need
  parents of the same size; hidden sizes are drawn from {2, 3} so they often do);
* activations of dense and act nodes cycle through all seven, starting at a random one;
* a node that would end up with no child becomes an extra parent of an output (dense
  outputs accept any sizes), so every node leads to an output and fan-out above 1 is
  common.

>>> g = random_graph(7, depth=3)
>>> g.depth
3
"""

from __future__ import annotations

import numpy as np

from .graph import ACTIVATIONS, GraphBuilder

__all__ = ["random_graph", "random_sample"]


def random_graph(seed: int, depth: int | None = None, mode: str = "exact", eta_v=1.0,
                 eta_theta=0.125, ticks: int = 0, fmt: dict | None = None):
    """A random validated graph; see the module docstring."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(2, 7)) if depth is None else depth
    b = GraphBuilder(f"random_{seed}")
    levels = [[]]
    sizes, kids = {}, {}
    for i in range(2):
        name = f"x{i}"
        sizes[name] = int(rng.integers(1, 4))
        kids[name] = 0
        b.input(name, sizes[name])
        levels[0].append(name)
    act_i = int(rng.integers(len(ACTIVATIONS)))
    kind_i = int(rng.integers(4))
    lower = list(levels[0])
    for level in range(1, depth + 1):
        here = []
        for k in range(int(rng.integers(1, 4))):
            name = f"n{level}_{k}"
            first = str(rng.choice(levels[-1]))
            kind = ("dense", "act", "add", "mul")[kind_i % 4]
            kind_i += 1
            same = [p for p in lower if sizes[p] == sizes[first] and p != first]
            if kind in ("add", "mul") and not same:
                kind = "dense"
            if kind == "act" and first.startswith("x"):
                kind = "dense"
            act = ACTIVATIONS[act_i % len(ACTIVATIONS)]
            if kind == "dense":
                extra = [p for p in lower if p != first and rng.random() < 0.4]
                parents = [first] + extra
                sizes[name] = int(rng.integers(2, 4))
                b.dense(name, parents, sizes[name], act=act, bias=bool(rng.random() < 0.6))
                act_i += 1
            elif kind == "act":
                parents = [first]
                sizes[name] = sizes[first]
                b.act(name, first, act)
                act_i += 1
            elif kind == "add":
                more = [p for p in same if rng.random() < 0.5] or [str(rng.choice(same))]
                parents = [first] + more
                sizes[name] = sizes[first]
                b.add(name, parents)
            else:
                parents = [first, str(rng.choice(same))]
                sizes[name] = sizes[first]
                b.mul(name, parents)
            for p in parents:
                kids[p] += 1
            kids[name] = 0
            here.append(name)
        levels.append(here)
        lower += here
    n_out = int(rng.integers(1, 3))
    for k in range(n_out):
        parents = list(levels[-1]) if k == 0 else [str(rng.choice(levels[-1]))]
        if k == n_out - 1:
            parents += [p for p in lower if kids[p] == 0 and p not in parents]
        parents += [p for p in lower if p not in parents and rng.random() < 0.15]
        for p in parents:
            kids[p] += 1
        b.dense(f"y{k}", parents, int(rng.integers(1, 4)),
                act=ACTIVATIONS[act_i % len(ACTIVATIONS)], bias=True, output=True)
        act_i += 1
    b.learning(mode=mode, eta_v=eta_v, eta_theta=eta_theta, ticks=ticks)
    if fmt:
        b.format(**fmt)
    return b.build()


def random_sample(graph, rng) -> tuple:
    """One (x, y) sample: inputs U(-1, 1), targets U(0, 1) (in every activation's range)."""
    x = {n.name: rng.uniform(-1, 1, n.size) for n in graph.inputs}
    y = {n.name: rng.uniform(0, 1, n.size) for n in graph.outputs}
    return x, y

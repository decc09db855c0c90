"""Helpers shared by the test files (``from helpers import ...``; pytest puts tests/ on the
path, see ``pythonpath`` in pyproject.toml).

What the default suite builds with cocotb
-----------------------------------------
A Verilator build of a generated network takes 10-50 s of compiling, far more than the
simulation; Icarus compiles in about a second. The default suite therefore makes **one
Verilator build per architecture** (parallel, folded, serial; streaming for the streaming
schedule), all of the example :data:`FAST_EXAMPLE`, and runs every other configuration on
Icarus, which simulates the same Verilog. The Verilator builds of the other examples, modes
and random graphs are the same tests marked ``slow`` (``make test-slow``): nothing is dropped,
each configuration is built in one of the two suites. :func:`cocotb_cases` does the marking.
"""

import numpy as np
import pytest

from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.random_graph import random_sample

__all__ = ["SIMULATORS", "FAST_EXAMPLE", "example_graph", "random_samples", "cocotb_cases"]

#: The simulators driven through cocotb.
SIMULATORS = ("verilator", "icarus")

#: The example whose Verilator builds the default suite makes.
FAST_EXAMPLE = "xor"


def example_graph(name: str, **settings) -> Graph:
    """The bundled example ``name`` with ``settings`` applied (``Graph.with_settings``)."""
    return Graph.from_toml(str(example_path(name))).with_settings(**settings)


def random_samples(g: Graph, n: int, seed: int) -> list:
    """``n`` random (x, y) samples of ``g`` from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    return [random_sample(g, rng) for _ in range(n)]


def cocotb_cases(cases, fast) -> list:
    """``cases`` as ``pytest.param``s, each a tuple whose first member is the simulator;
    a Verilator case is marked ``slow`` unless ``fast(*case)`` is true (Icarus cases always
    run: their builds take about a second)."""
    out = []
    for case in cases:
        case = case if isinstance(case, tuple) else (case,)
        slow = case[0] == "verilator" and not fast(*case)
        out.append(pytest.param(*case, marks=[pytest.mark.slow] if slow else []))
    return out

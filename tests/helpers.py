"""Helpers shared by the test files (``from helpers import ...``; pytest puts tests/ on the
path, see ``pythonpath`` in pyproject.toml): example graphs in every mode, seeded samples, the
simulated-hardware check, the marking of cocotb cases, and the fuzzers' seeding and oracle run.

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

import importlib
import os
import warnings

import numpy as np
import pytest

from pcfpga.cli import main

from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params
from pcfpga.golden.random_graph import random_sample
from pcfpga.sim.simulate import simulate_against_golden

__all__ = ["SIMULATORS", "FAST_EXAMPLE", "MODES", "FOLDABLE_MODES", "example_graph",
           "mode_graph", "random_samples", "check_design", "cocotb_cases", "fuzz_rng", "one_of",
           "expect_run_or_refused", "need_module", "assert_refused"]

#: The simulators driven through cocotb.
SIMULATORS = ("verilator", "icarus")

#: The example whose Verilator builds the default suite makes.
FAST_EXAMPLE = "xor"


#: Every learning mode with the settings the tests give it (ticks and a relaxation rate where
#: one is used; few ticks, so that a simulated step is short).
MODES = {"exact": {}, "fpa": {"eta_v": 0.5, "ticks": 3}, "standard": {"eta_v": 0.5, "ticks": 2},
         "streaming": {}}

#: The modes folded and serial designs support (streaming is fully parallel only).
FOLDABLE_MODES = ("exact", "fpa", "standard")


def example_graph(name: str, **settings) -> Graph:
    """The bundled example ``name`` with ``settings`` applied (``Graph.with_settings``)."""
    return Graph.from_toml(str(example_path(name))).with_settings(**settings)


def mode_graph(name: str, mode: str = "exact", rounding: str = "nearest") -> Graph:
    """The bundled example ``name`` in ``mode`` (with its :data:`MODES` settings) and
    ``rounding``."""
    return example_graph(name, mode=mode, rounding=rounding, **MODES[mode])


def random_samples(g: Graph, n: int, seed: int) -> list:
    """``n`` random (x, y) samples of ``g`` from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    return [random_sample(g, rng) for _ in range(n)]


def check_design(g: Graph, simulation, seed: int = 1, steps: int = 3) -> dict:
    """``steps`` random training steps of ``g`` from parameter and sample seed ``seed``
    through ``simulation`` (a :class:`~pcfpga.sim.simulate.Simulation`), every register compared
    with the golden model (``simulate_against_golden``); prints the case first, so that a
    failure names its seed."""
    print(f"{g.name} mode {g.learning.mode} rounding {g.formats.rounding} "
          f"folding {simulation.design.folding} seed {seed}")
    return simulate_against_golden(g, init_params(g, seed), random_samples(g, steps, seed),
                                   simulation=simulation)


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


def fuzz_rng(seed: int, reader: int, case: int):
    """(generator, seed list) of fuzz case ``case`` of reader ``reader``: each case has its
    own generator, so that any case reruns alone from the seed its failure prints."""
    seed = [seed, reader, case]
    return np.random.default_rng(seed), seed


def one_of(rng, items):
    """One of ``items``, as it is (``rng.choice`` would make numpy scalars of them)."""
    return items[rng.integers(len(items))]


def expect_run_or_refused(valid: bool, args, where: str, rejects, capsys, watch, out=None):
    """Run pcfpga ARGS: it must succeed when the oracle found the input ``valid``, and be
    refused the documented way otherwise. ``where`` (seed and mutation) leads any failure."""
    try:
        if not valid:
            rejects(args, watch=watch)
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main([str(a) for a in args])
        text, err = capsys.readouterr()
        # Valid numbers may still be too large for the float model (a flipped exponent bit):
        # golden then stops with exit 1 and one line, as the README says, writing nothing.
        overflow = (code == 1 and len(err.splitlines()) == 1
                    and err.startswith("pcfpga: the float model overflows"))
        assert (code == 0 and err == "" or overflow) and not caught, (
            f"the oracle finds the input valid, but exit code {code}\nstderr: {err}\n"
            f"warnings: {[str(w.message) for w in caught]}")
        assert out is None or out.exists() != overflow
    except AssertionError as e:
        raise AssertionError(f"{where}\n{e}") from None
    except Exception as e:
        raise AssertionError(f"{where}\npcfpga raised {e!r}") from e


def need_module(name: str):
    """The module ``name`` of an optional extra (onnx, onnxruntime: ``make test`` installs
    them); the test file is skipped where it is missing, but CI (CI=true) must have it."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(name)
    return pytest.importorskip(name)


def assert_refused(capsys, tmp_path, args, message):
    """``pcfpga ARGS`` refuses as every bad input must: exit 2, one line
    ``pcfpga: error: ...`` containing ``message``, no traceback, nothing written in
    ``tmp_path``."""
    before = set(os.listdir(tmp_path))
    try:
        code = main(args)
    except SystemExit as e:                 # argparse's errors
        code = e.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcfpga: error: "), err
    assert message in lines[0], lines[0]
    assert "Traceback" not in err
    assert set(os.listdir(tmp_path)) == before

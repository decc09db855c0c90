"""Shared fixtures: bundled examples, seeded generators that print their seed on failure,
simulators (skipped where missing, failing under CI=true) and waveforms on request."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import Graph

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Simulation builds of the suite, one folder per configuration, reused between runs.
SIM_BUILD = Path(ROOT) / "build" / "test-sim"


@pytest.fixture(params=EXAMPLES)
def example(request):
    """Each bundled example graph."""
    return Graph.from_toml(str(example_path(request.param)))


@pytest.fixture
def rng(request):
    """A seeded generator; the seed is reported if the test fails."""
    seed = 12345
    request.node.user_properties.append(("seed", seed))
    print(f"rng seed {seed}")
    return np.random.default_rng(seed)


def need(simulator: str):
    """Skip when a cocotb simulator is missing here; fail under CI=true (.ci/run must
    install it)."""
    from pcfpga.sim.simulate import available

    if simulator != "amaranth" and not available(simulator):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{simulator} is missing on CI (.ci/run must install it)")
        pytest.skip(f"{simulator} is not installed here")


@pytest.fixture
def wave_file(request):
    """``wave_file(suffix)``: with WAVES=1, ``build/waves/<test name><suffix>`` (the test's
    waveform), otherwise None."""
    def path(suffix: str):
        if os.environ.get("WAVES") != "1":
            return None
        folder = Path(ROOT) / "build" / "waves"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / (re.sub(r"[^\w.-]+", "_", request.node.name) + suffix))
    return path


@pytest.fixture
def simulation(wave_file):
    """``simulation(design, simulator, **kw)``: a simulation for ``simulate_against_golden``
    (a Design, or a graph fully parallel; Amaranth's simulator, or cocotb on Verilator/Icarus
    building under ``SIM_BUILD``);
    skips where the simulator is missing and dumps waves when WAVES=1."""
    from pcfpga.sim.session import WAVE_SUFFIX
    from pcfpga.sim.simulate import Simulation

    def make(design, simulator="amaranth", **kw):
        need(simulator)
        kw.setdefault("waves", wave_file(WAVE_SUFFIX[simulator]))
        return Simulation(design, simulator, build_root=SIM_BUILD, **kw)
    return make


@pytest.fixture
def need_simulator():
    """``need_simulator(name)``: skip (fail under CI=true) when it is missing."""
    return need


@pytest.fixture
def sim_build():
    """The suite's simulation build folder (builds are reused between runs)."""
    return SIM_BUILD


def tree_state(root) -> dict:
    """Every file and folder under ``root``: {relative path: (size, mtime_ns)} of a file,
    None for a folder (whose time changes when a file is probed in it and removed)."""
    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): ((p.stat().st_size, p.stat().st_mtime_ns)
                                       if p.is_file() else None)
            for p in root.rglob("*")}


@pytest.fixture
def rejects(capsys, tmp_path):
    """``rejects(args, message=None, watch=tmp_path)``: run ``pcfpga ARGS`` in-process and
    assert what the README promises for bad input: exit code 2, exactly one line
    ``pcfpga: error: ...`` on stderr (containing ``message``), no traceback, no warning,
    and nothing created, changed or removed under ``watch``. Returns that line."""
    import warnings

    from pcfpga.cli import main

    def check(args, message=None, watch=tmp_path):
        before = tree_state(watch)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:           # argparse's own errors
                code = e.code
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        where = f"pcfpga {' '.join(map(str, args))}\nstdout: {out}\nstderr: {err}"
        assert code == 2, f"exit code {code}, expected 2\n{where}"
        assert len(lines) == 1 and lines[0].startswith("pcfpga: error: "), where
        assert not caught, f"warnings {[str(w.message) for w in caught]}\n{where}"
        if message is not None:
            assert message in lines[0], where
        assert tree_state(watch) == before, f"files changed under {watch}\n{where}"
        return lines[0]
    return check

"""Post-synthesis verification: the netlist Yosys wrote for a board trains like the golden
model, bit for bit (``pcfpga synth --verify``).

:func:`verify_netlist` simulates the board netlist (:mod:`.netsim`: the Lattice primitives
from Yosys's simulation models and this package's behavioural models, on Verilator or
Icarus) and trains it through its own serial line with the host code that trains a board
(:class:`~pcfpga.host.Host` and :class:`~pcfpga.host.BoardPC`): it writes the initial
parameters (:func:`~pcfpga.golden.params.init_params` of ``seed``), uploads ``steps``
seeded random samples into the dataset buffer (inputs uniform in [-1, 1), targets in
[0, 1)), runs them on chip with the epoch runner, reads every parameter and saturation flag
word back and compares each with :class:`~pcfpga.golden.fixed_model.FixedPC` after the same
steps, exactly (``np.array_equal``).

On a difference it finds the first step after which the netlist differs: it runs the first
k steps again from the same start (LFSR seed, cleared flags, the initial parameters),
halving the range each time (a netlist is deterministic, so the state after k steps does
not depend on what ran before the reset). The result names that step, the parameter or flag
word, the element and both values, and how many elements differ in all. Streaming mode
keeps samples in flight that a reset cannot clear, so there the comparison is after all
steps and the drain, without the search. A SoC that stops answering (a broken UART or
bridge) fails verification with the host's error.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from pcfpga.golden.fields import flags_field
from pcfpga.hdl.memmap import Readback
from pcfpga.hdl.protocol import DEFAULT_BAUD
from pcfpga.host.training import BoardPC
from pcfpga.sim.session import SIMULATOR_CHOICES, Mismatch

__all__ = ["verify_netlist", "VerifyResult", "DEFAULT_STEPS", "SIMULATORS", "random_samples",
           "state_differences"]

#: Training steps verified by default.
DEFAULT_STEPS = 16
#: The simulators that run board netlists (:mod:`.netsim`: the cocotb ones), the default first.
SIMULATORS = tuple(s for s in SIMULATOR_CHOICES if s != "amaranth")


@dataclass
class VerifyResult:
    """The outcome of :func:`verify_netlist` (``report.json``'s ``"verify"``).

    Attributes
    ----------
    passed : bool
        Every parameter and flag word equal to the golden model's after ``steps`` steps.
    steps, seed : int
        Training steps run, and the seed of the initial parameters and samples.
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    seconds, build_seconds : float
        Wall time in all, and of it building the simulation model.
    cycles : int
        Clock cycles simulated (the last run).
    failed_after_step : int or None
        The first step after which the netlist differs (1-based), when it does.
    message : str
        What was found: the place of the first difference, or the host's error.
    """

    passed: bool
    steps: int
    seed: int
    simulator: str
    seconds: float
    build_seconds: float
    cycles: int
    failed_after_step: int | None = None
    message: str = ""

    def to_json(self) -> dict:
        out = asdict(self)
        out["seconds"], out["build_seconds"] = round(self.seconds, 1), round(
            self.build_seconds, 1)
        return out


def random_samples(graph, steps: int, seed: int) -> list:
    """``steps`` float ``(x, y)`` samples from ``seed``: inputs uniform in [-1, 1), targets
    in [0, 1)."""
    rng = np.random.default_rng([seed, 16])
    return [({n.name: rng.uniform(-1, 1, n.size) for n in graph.inputs},
             {n.name: rng.uniform(0, 1, n.size) for n in graph.outputs})
            for _ in range(steps)]


def state_differences(got: dict, params: dict, flags: dict) -> list:
    """Every difference between what was read from the hardware and the golden model.

    Parameters
    ----------
    got : dict
        Parameters and ``{node}.sat`` flag words read back.
    params : dict
        The golden model's integer parameters.
    flags : dict
        The golden model's flag words by field name.

    Returns
    -------
    list of str
        One line per differing element or flag word, parameters first, in name order.
    """
    out = []
    for k in params:
        want = np.asarray(params[k], dtype=np.int64)
        have = np.asarray(got[k], dtype=np.int64).reshape(want.shape)
        if not np.array_equal(have, want):
            for idx in np.argwhere(have != want):
                i = tuple(int(j) for j in idx)
                out.append(f"parameter {k}{list(i)} is {have[i]}, golden {want[i]}")
    for k, want in flags.items():
        if int(got[k]) != int(want):
            out.append(f"flag word {k} is {int(got[k]):#x}, golden {int(want):#x}")
    return out


class _Verifier(BoardPC):
    """BoardPC whose comparison reports every difference, at a step count."""

    where = ""

    def compare_state(self, got: dict, params: dict, where: str):
        flags = {flags_field(n.name): self.golden.arith.flags[n.index]
                 for n in self.graph.nodes}
        diffs = state_differences(got, params, flags)
        if diffs:
            more = f" ({len(diffs)} differences in all)" if len(diffs) > 1 else ""
            raise Mismatch(f"{self.where}: {diffs[0]}{more}")

    def run_steps(self, params0: dict, samples: list) -> dict:
        """From the start state: ``samples`` trained on chip, compared at the end."""
        self.reset()
        self.where = f"after step {len(samples)}"
        params = self.run_epoch(params0, samples)
        if self.graph.learning.mode == "streaming":
            self.where = f"after step {len(samples)} and the drain"
            params = self.drain(params)
        return params


def _first_failing(model: _Verifier, params0: dict, samples: list, message: str,
                   log) -> tuple:
    """(k, message): the fewest steps from the start after which the netlist differs;
    ``message`` is the difference after all of them."""
    low, high = 0, len(samples)              # passes after low steps, fails after high
    while high - low > 1:
        mid = (low + high) // 2
        try:
            model.run_steps(params0, samples[:mid])
            low = mid
        except Mismatch as e:
            high, message = mid, str(e)
        log(f"  equal after {low} steps, different after {high}")
    return high, message


def verify_netlist(netlist, design, board_name: str, baud: int = DEFAULT_BAUD,
                   steps: int = DEFAULT_STEPS, simulator: str = "verilator", seed: int = 0,
                   build_dir=None, keep_model: bool = True, log=print,
                   readback: Readback = Readback.LEAN) -> VerifyResult:
    """Train the board netlist ``steps`` steps in simulation and compare it with the golden
    model (see the module docstring).

    Parameters
    ----------
    netlist : str or Path
        Yosys's JSON netlist of the SoC of ``design`` for the board (``{name}.json`` in a
        ``pcfpga synth`` folder).
    design : Design
        The design the SoC was built from (its memory map and golden model).
    board_name : str
        The board (:data:`~.devices.BOARDS`).
    baud : int
        The UART rate the SoC was built for.
    steps : int
        Training steps (at least 1).
    simulator : str
        ``"verilator"`` (default) or ``"icarus"``.
    seed : int
        Seed of the initial parameters and the samples.
    build_dir : str or Path, optional
        Where the simulation model is built (default: ``verify-<simulator>`` beside the
        netlist).
    keep_model : bool
        Keep the compiled model (``sim_build``, 50-200 MB with Verilator) for a later run;
        otherwise only the Verilog, the wrapper and the logs stay in ``build_dir``.
    log : callable
        Progress lines.
    readback : Readback
        The fields the SoC reads back (as it was synthesised: LEAN by default,
        :func:`~.synth.synthesize`); the host's memory map says the same.

    Returns
    -------
    VerifyResult
        ``passed`` False with the place of the first difference, or the host's error.
    """
    from pcfpga.golden.fixed_model import FixedPC
    from pcfpga.golden.params import init_params
    from pcfpga.hdl.uart import divisor_for
    from pcfpga.host import Host, HostError
    from pcfpga.sim.driver import HardwareTimeout

    from .devices import board as find_board
    from .netsim import NetlistBuild, NetlistLink
    from .soc import DATASET_WORDS, dataset_capacity, soc_memory_map

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"Verify steps must be a positive integer, not {steps!r}")
    b = find_board(board_name)
    graph = design.graph
    memmap = soc_memory_map(design, dataset_capacity(graph, DATASET_WORDS[b.device.family]),
                            readback)
    build_dir = build_dir or os.path.join(os.path.dirname(os.path.abspath(netlist)),
                                          f"verify-{simulator}")
    start = time.perf_counter()
    build = NetlistBuild(netlist, b, simulator, build_dir, log=log)
    build.build()
    log(f"verifying the netlist on {simulator}: {steps} training steps (seed {seed}) through "
        f"its UART at {baud} baud ...")
    link = NetlistLink(build, divisor_for(b.clock_hz, baud), b.clock_hz)
    passed, failed, message = True, None, ""
    try:
        model = _Verifier(graph, Host(link, memmap, b.clock_hz))
        params0 = FixedPC(graph).to_model(init_params(graph, seed))
        samples = random_samples(graph, steps, seed)
        try:
            model.run_steps(params0, samples)
        except Mismatch as e:
            passed, failed, message = False, steps, str(e)
        except (HostError, HardwareTimeout) as e:
            passed, message = False, f"the simulated SoC failed: {e}"
        if failed and graph.learning.mode != "streaming" and steps > 1:
            log(f"  the netlist differs from the golden model {message}; finding the "
                f"first step that differs ...")
            try:
                failed, message = _first_failing(model, params0, samples, message, log)
            except (HostError, HardwareTimeout) as e:
                message += f" (the search for the first differing step stopped: {e})"
    finally:
        link.close()
        if not keep_model:
            build.discard_model()
    result = VerifyResult(
        passed=passed, steps=steps, seed=seed, simulator=simulator,
        seconds=time.perf_counter() - start, build_seconds=build.seconds,
        cycles=link.cycles, failed_after_step=failed,
        message=message or f"parameters and flags equal the golden model after {steps} "
                           f"steps")
    return result

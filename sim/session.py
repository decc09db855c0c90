"""The one interface to a running simulation, its errors, and the golden comparison.

A :class:`Session` keeps one simulation alive (its registers, LFSR and, in streaming mode,
the samples in flight) while the host sends requests to the :class:`~.driver.BusDriver`
inside it: load parameters, run steps, read parameters. Every simulator is a subclass that
supplies only the channel (``_send``, ``_receive``, ``_finish``):

* :class:`~.amaranth_backend.AmaranthSession`: Amaranth's simulator in a thread, fed
  through queues;
* :class:`~.cocotb_backend.CocotbSession`: Verilator or Icarus running the cocotb
  testbench, which connects back over a Unix socket.

:func:`~.simulate.open_session` picks one by name. What a session answers is judged by
one definition for every simulator: :func:`compare_traces` (every register of a step) and
:func:`compare_params`, which raise :class:`Mismatch` at the first difference.

This module imports no simulator (nor Amaranth): backends import it, never the reverse.
"""

from __future__ import annotations

import time

import numpy as np

from .driver import run_request

__all__ = ["Session", "SimulationFailed", "Mismatch", "compare_traces", "compare_params",
           "SIMULATOR_CHOICES", "WAVE_SUFFIX"]

#: Every simulator a session can use.
SIMULATOR_CHOICES = ("verilator", "icarus", "amaranth")

#: The waveform format each simulator writes.
WAVE_SUFFIX = {"verilator": ".vcd", "icarus": ".fst", "amaranth": ".vcd"}


class SimulationFailed(RuntimeError):
    """The simulator ran but did not produce a result (its log is named)."""


class Mismatch(AssertionError):
    """Hardware and golden differ; the message names register, step, tick and values."""


def compare_traces(hw: dict, ref: dict, step: int, where: str = ""):
    """Exact comparison of one step's traces.

    Parameters
    ----------
    hw, ref : dict
        ``{register: (ticks + 1, ...) array}`` from the hardware and the golden model.
    step : int
        The step's number, for the message.
    where : str
        A prefix for the message (simulator, epoch).

    Raises
    ------
    Mismatch
        At the first difference: register, step, tick, element, both values.
    """
    missing = sorted(set(ref) - set(hw))
    if missing:
        raise Mismatch(f"{where}step {step}: hardware has no register {missing[0]}")
    for key in sorted(ref):
        a, b = np.asarray(hw[key]), np.asarray(ref[key]).astype(np.int64)
        if a.shape != b.shape:
            raise Mismatch(f"{where}step {step}: {key} has shape {a.shape}, golden {b.shape}")
        if not np.array_equal(a, b):
            idx = tuple(int(i) for i in np.argwhere(a != b)[0])
            raise Mismatch(f"{where}step {step}, tick {idx[0]}: {key}{list(idx[1:])} is "
                           f"{a[idx]}, golden {b[idx]}")


def compare_params(hw: dict, ref: dict, when: str):
    """Exact comparison of integer parameters.

    Raises
    ------
    Mismatch
        Naming the first differing element (``when`` says at which point of the run).
    """
    for k in ref:
        want = np.asarray(ref[k], dtype=np.int64)
        got = np.asarray(hw[k]).reshape(want.shape)
        if not np.array_equal(got, want):
            idx = tuple(int(i) for i in np.argwhere(got != want)[0])
            raise Mismatch(f"{when}: parameter {k}{list(idx)} is {got[idx]}, golden "
                           f"{want[idx]}")


class Session:
    """Host side of one live simulation of ``design`` (a
    :class:`~pcfpga.hdl.design.Design`); use as a context manager.

    Attributes ``design``, ``graph`` (its graph), ``cycles`` (clock cycles counted by the
    hardware over every ``run``), ``seconds`` (wall time spent waiting for the simulator) and
    ``steps``.
    """

    simulator = "?"

    def __init__(self, design):
        self.design = design
        self.graph = design.graph
        self.cycles = 0
        self.seconds = 0.0
        self.steps = 0
        self._open = True
        self._dead = False      # the simulator has stopped: nothing left to tell it

    # channel, supplied by subclasses
    def _send(self, message: dict):
        raise NotImplementedError

    def _receive(self) -> dict:
        raise NotImplementedError

    def _finish(self):
        """Wait for the simulator to end (after ``quit``)."""

    # requests
    def request(self, message: dict) -> dict:
        """Send one request (see :mod:`.driver`) and return the answer.

        Raises
        ------
        SimulationFailed
            The session is closed, the simulator stopped, or it answered an error.
        """
        if not self._open:
            raise SimulationFailed("the simulation session is closed")
        start = time.perf_counter()
        try:
            self._send(message)
            answer = self._receive()
        except SimulationFailed:
            self._dead = True
            raise
        self.seconds += time.perf_counter() - start
        if "error" in answer:
            raise SimulationFailed(f"the {self.simulator} simulation reported: "
                                   f"{answer['error']}")
        return answer

    def load(self, params: dict):
        """Write integer parameters (names as in the memory map)."""
        self.request({"cmd": "load", **{f"param.{k}": np.asarray(v, dtype=np.int64)
                                        for k, v in params.items()}})

    def run(self, samples: list, trace: bool = True, bubble: bool = False, repeat: int = 1):
        """Run one step per integer ``(x, y)`` sample (each ``repeat`` times from one
        START); returns a list of per-step traces (see :meth:`~.driver.BusDriver.run`)."""
        answer = self.request(run_request(samples, trace, bubble, repeat))
        self.cycles += int(answer["cycles"])
        self.steps += len(samples) * repeat
        traces = []
        for s in range(len(samples)):
            prefix = f"trace.{s}."
            traces.append({k[len(prefix):]: v for k, v in answer.items()
                           if k.startswith(prefix)})
        return traces

    def read(self, names) -> dict:
        """Read integer parameters back."""
        answer = self.request({"cmd": "read", "names": np.array(list(names))})
        return {k: answer[f"param.{k}"] for k in names}

    def close(self):
        """Tell the simulator to stop and wait for it. Closing a session whose simulator
        already failed does not raise again (the first error is the one to report)."""
        if self._open:
            try:
                if not self._dead:
                    self._send({"cmd": "quit"})
                    self._receive()
            except SimulationFailed:
                pass
            finally:
                self._open = False
                self._finish()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def speed(self) -> float:
        """Clock cycles simulated per second of waiting (nan before any run)."""
        return self.cycles / self.seconds if self.seconds else float("nan")

"""A running simulation of a network that the host talks to, request by request.

A :class:`Session` keeps one simulation alive (its registers, LFSR and, in streaming mode,
the samples in flight) while the host sends requests to the :class:`~.driver.BusDriver`
inside it: load parameters, run steps, read parameters. Training through simulation
(:mod:`.training`) checks each batch of steps against the golden model as it goes, and a
run of ``pcfpga sim`` is one ``load``, one ``run`` and one ``read``.

Subclasses connect the channel: :class:`~.pysim.AmaranthSession` runs Amaranth's simulator
in a thread and passes requests through queues; :class:`~.runner.CocotbSession` starts
Verilator or Icarus (cocotb) and talks over a Unix socket. :func:`open_session` picks one.
"""

from __future__ import annotations

import time

import numpy as np

from .driver import run_request

__all__ = ["Session", "SimulationFailed", "Mismatch", "open_session", "SIMULATOR_CHOICES"]

#: Every simulator a session can use.
SIMULATOR_CHOICES = ("verilator", "icarus", "amaranth")


class SimulationFailed(RuntimeError):
    """The simulator ran but did not produce a result (its log is named)."""


class Mismatch(AssertionError):
    """Hardware and golden differ; the message names register, step, tick and values."""


class Session:
    """Host side of one live simulation; use as a context manager.

    Attributes ``cycles`` (clock cycles counted by the hardware over every ``run``),
    ``seconds`` (wall time spent waiting for the simulator) and ``steps``.
    """

    simulator = "?"

    def __init__(self, graph):
        self.graph = graph
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


def open_session(graph, simulator: str, build_root="build/sim", waves: str | None = None,
                 log=None, reuse=1) -> Session:
    """A live session of ``graph`` on ``simulator`` (one of :data:`SIMULATOR_CHOICES`);
    ``reuse`` folds the dense edges (:mod:`pcfpga.hdl.fold`)."""
    if simulator == "amaranth":
        from .pysim import AmaranthSession

        return AmaranthSession(graph, waves=waves, reuse=reuse)
    if simulator not in SIMULATOR_CHOICES:
        raise ValueError(f"Simulator must be one of {', '.join(SIMULATOR_CHOICES)}, "
                         f"not {simulator!r}")
    from .runner import CocotbRunner, CocotbSession

    return CocotbSession(CocotbRunner(graph, simulator, build_root=build_root, waves=waves,
                                      log=log, reuse=reuse))

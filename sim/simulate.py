"""Simulating a network by the simulator's name, and judging it against the golden model.

The one entry point to every backend (this module imports them; they import only
:mod:`.session` and :mod:`.driver` below them)::

    sim = Simulation(design, "verilator")     a configured simulator (SimulatorMissing here)
    sim.build()                               optional: build the model now (Verilator, Icarus)
    with sim.open() as session: ...           a live :class:`~.session.Session`
    sim.run(params, samples)                  one session: load, run, read back

:func:`open_session` is ``Simulation(...).open()``; :func:`simulate_against_golden` runs
samples through the golden fixed-point model and a simulation and compares every register.

The hardware is a :class:`~pcfpga.hdl.design.Design` (``Design.build(graph, reuse)``: the
folding is chosen where the graph comes in); a graph is simulated fully parallel.
"""

from __future__ import annotations

import numpy as np

from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.hdl.design import Design, as_design

from .amaranth_backend import AmaranthSession
from .cocotb_backend import CocotbBuild, CocotbSession, SimulatorMissing, require_simulator
from .cocotb_backend import available as cocotb_available
from .native_backend import NativeSession
from .session import SIMULATOR_CHOICES, Session, compare_params, compare_traces
from .verilated import VerilatedBuild

__all__ = ["Simulation", "open_session", "simulate_against_golden", "available",
           "SimulatorMissing", "ENGINES"]

#: How Verilator is driven: ``native``, the model and a C++ driver in one library loaded
#: in-process (:mod:`.native_backend`; the default), or ``cocotb``, the cocotb testbench
#: (:mod:`.cocotb_backend`; what a waveform is written with).
ENGINES = ("native", "cocotb")


def available(simulator: str) -> bool:
    """Whether a simulator (one of :data:`~.session.SIMULATOR_CHOICES`) can run here."""
    return simulator == "amaranth" or cocotb_available(simulator)


class Simulation:
    """One design on one simulator: opens sessions, or runs whole runs in one each.

    Parameters
    ----------
    design : Design
        The hardware (:class:`~pcfpga.hdl.design.Design`; a graph: fully parallel).
    simulator : str
        One of :data:`~.session.SIMULATOR_CHOICES`.
    pause : bool
        :meth:`run` stops after the forward sweep and every tick to read the registers
        (default True; streaming steps are single ticks and are read around them).
    waves : str, optional
        A waveform file each session writes (VCD; Icarus: FST).
    build_root : str or Path
        Verilator and Icarus: the folder of the builds, one per configuration.
    log : callable, optional
        Verilator and Icarus: receives a line when a build starts.
    reads : str, optional
        Amaranth: how words are read, ``"direct"`` (default) or ``"bus"``
        (:mod:`.amaranth_backend`); the others read over the bus.
    engine : str, optional
        Verilator: one of :data:`ENGINES` (default ``native``; ``cocotb`` when ``waves`` is
        given, since the native model writes none).

    Attributes ``design``, ``graph`` (its graph), ``cycles`` (clock cycles counted by the
    hardware over every :meth:`run`) and ``seconds`` (wall time spent waiting for the
    simulator in them).

    Raises
    ------
    ValueError
        An unknown simulator, or ``reads`` the simulator does not offer.
    SimulatorMissing
        Verilator or Icarus is not installed here.
    """

    def __init__(self, design, simulator: str = "amaranth", pause: bool = True,
                 waves: str | None = None, build_root="build/sim", log=None,
                 reads: str | None = None, engine: str | None = None):
        if simulator not in SIMULATOR_CHOICES:
            raise ValueError(f"Simulator must be one of {', '.join(SIMULATOR_CHOICES)}, "
                             f"not {simulator!r}")
        if simulator != "amaranth" and reads not in (None, "bus"):
            raise ValueError(f"{simulator} reads over the bus, not {reads!r}")
        self.design = as_design(design, who="A simulation")
        self.graph, self.simulator, self.pause = self.design.graph, simulator, pause
        self.waves = waves
        self.reads = reads or ("direct" if simulator == "amaranth" else "bus")
        if engine is not None and (simulator != "verilator" or engine not in ENGINES):
            raise ValueError(f"Engine applies to verilator and is one of {', '.join(ENGINES)}; "
                             f"not {engine!r} for {simulator}")
        if engine == "native" and waves:
            raise ValueError("the native Verilator model writes no waveform; use engine "
                             "cocotb for one")
        self.engine = engine or ("native" if simulator == "verilator" and not waves else
                                 "cocotb" if simulator != "amaranth" else None)
        self.cycles = 0
        self.seconds = 0.0
        if simulator == "amaranth":
            self._build = None
        elif self.engine == "native":
            require_simulator(simulator)
            self._build = VerilatedBuild(self.design, build_root, log=log)
        else:
            self._build = CocotbBuild(self.design, simulator, build_root, bool(waves), log)

    def build(self):
        """Build the simulation model now (Verilator, Icarus; Amaranth needs none)."""
        if self._build is not None:
            self._build.build()

    def open(self) -> Session:
        """A new live session (a freshly reset chip); use it as a context manager."""
        if self._build is None:
            return AmaranthSession(self.design, self.waves, self.reads)
        if self.engine == "native":
            return NativeSession(self._build)
        return CocotbSession(self._build, self.waves)

    def run(self, params: dict, samples: list):
        """Run one step per ``(x, y)`` sample (integer dicts, already in the value format)
        from integer ``params``, in one session; returns (integer params, list of
        per-step traces, empty without ``pause``)."""
        with self.open() as session:
            session.load(params)
            traces = session.run(samples, trace=self.pause)
            result = session.read(list(params))
        self.cycles += session.cycles
        self.seconds += session.seconds
        return {k: v.reshape(np.shape(params[k])) for k, v in result.items()}, traces


def open_session(design, simulator: str, build_root="build/sim", waves: str | None = None,
                 log=None, reads: str | None = None, engine: str | None = None) -> Session:
    """A live session of ``design`` on ``simulator`` (arguments as :class:`Simulation`'s)."""
    return Simulation(design, simulator, waves=waves, build_root=build_root, log=log,
                      reads=reads, engine=engine).open()


def simulate_against_golden(design, params: dict, samples: list, pause: bool = True,
                            simulation=None) -> dict:
    """Run samples through the golden fixed model and the simulated hardware, compared.

    Parameters
    ----------
    design : Design or Graph
        The network: the golden model runs its graph, the default simulation simulates it (a
        graph: fully parallel).
    params : dict
        Float parameters, the same for both.
    samples : list
        Float ``(x, y)`` pairs, one step each.
    pause : bool
        For the default simulation: compare every register after every tick (else only the
        final parameters).
    simulation : Simulation, optional
        Any object with ``run(params, samples) -> (params, traces)``, ``pause`` and
        ``cycles`` (default: ``Simulation(design, "amaranth", pause=pause)``).

    Returns
    -------
    dict
        ``params`` (integers), ``cycles`` (clock cycles of the run, counted by the
        hardware), ``steps`` and ``flags`` (the sticky saturation flags, as
        :meth:`FixedPC.flags`; the hardware's ``{node}.sat`` words equal them after every
        tick).

    Raises
    ------
    Mismatch
        At the first register that differs after any tick, or in the final parameters.
    """
    graph = design.graph if isinstance(design, Design) else design
    model = FixedPC(graph)
    q = model.to_model(params)
    ints = [(quantize(graph, x), quantize(graph, y)) for x, y in samples]
    simulation = simulation or Simulation(design, "amaranth", pause=pause)
    hw_params, hw_traces = simulation.run(q, ints)
    V = graph.formats.value
    for s, (x, y) in enumerate(ints):
        q, trace = model.step(q, {k: V.to_float(v) for k, v in x.items()},
                              {k: V.to_float(v) for k, v in y.items()})
        if simulation.pause:
            compare_traces(hw_traces[s], trace, s)
    compare_params(hw_params, q, f"after {len(ints)} steps")
    return {"params": hw_params, "cycles": simulation.cycles, "steps": len(ints),
            "flags": model.flags()}

"""Old import path of the cocotb simulation (issue 15 split it): re-exports only.

Kept so that importers written before the split keep working; new code imports from
where each name lives:

=====================================  ==============================================
``CocotbRunner(graph, simulator, ...)``  ``simulate.Runner(graph, simulator, ...)``
``available``, ``SimulatorMissing``    :mod:`.simulate`
``WAVE_SUFFIX``, ``SimulationFailed``  :mod:`.session`
``CocotbSession``, ``SIMULATORS``      :mod:`.cocotb_backend`
=====================================  ==============================================
"""

from __future__ import annotations

from .cocotb_backend import SIMULATORS, CocotbSession
from .session import WAVE_SUFFIX, SimulationFailed
from .simulate import Runner, SimulatorMissing, available

__all__ = ["CocotbRunner", "CocotbSession", "SIMULATORS", "WAVE_SUFFIX", "available",
           "SimulatorMissing", "SimulationFailed"]


class CocotbRunner(Runner):
    """``Runner(graph, simulator, ...)`` for Verilator or Icarus under its old name."""

    def __init__(self, graph, simulator: str = "verilator", build_root="build/sim",
                 pause: bool = True, waves: str | None = None, log=None, reuse=1):
        if simulator not in SIMULATORS:
            raise ValueError(f"Simulator must be one of {', '.join(SIMULATORS)}, "
                             f"not {simulator!r}")
        super().__init__(graph, simulator, pause=pause, waves=waves, reuse=reuse,
                         build_root=build_root, log=log)

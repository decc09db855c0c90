"""Old import path of the Amaranth simulation (issue 15 split it): re-exports only.

Kept so that importers written before the split keep working; new code imports from
where each name lives:

================================  ===================================================
``PySimRunner(graph, ...)``       ``simulate.Runner(graph, "amaranth", ...)``
``simulate_against_golden``       :mod:`.simulate`
``AmaranthSession``,              :mod:`.amaranth_backend`
``AmaranthDriver``
``Mismatch``, ``compare_traces``,  :mod:`.session`
``compare_params``
``quantize``                      :mod:`pcfpga.golden.fixed_model`
================================  ===================================================
"""

from __future__ import annotations

from pcfpga.golden.fixed_model import quantize

from .amaranth_backend import AmaranthDriver, AmaranthSession
from .session import Mismatch, compare_params, compare_traces
from .simulate import Runner, simulate_against_golden

__all__ = ["PySimRunner", "AmaranthSession", "AmaranthDriver", "compare_traces",
           "compare_params", "Mismatch", "quantize", "simulate_against_golden"]


class PySimRunner(Runner):
    """``Runner(graph, "amaranth", pause, waves, reuse)`` under its old name."""

    def __init__(self, graph, pause: bool = True, waves: str | None = None, reuse=1):
        super().__init__(graph, "amaranth", pause=pause, waves=waves, reuse=reuse)

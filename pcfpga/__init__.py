"""pcfpga: predictive-coding networks on computation graphs, as FPGA hardware.

Layers: :mod:`pcfpga.golden` (the math), :mod:`pcfpga.hdl` (hardware), :mod:`pcfpga.sim`
(cycle-accurate proof), :mod:`pcfpga.boards` (chips); :mod:`pcfpga.cli` ties them together.
"""

__version__ = "0.1.0"

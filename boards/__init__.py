"""Boards: what turns a :class:`~pcfpga.hdl.design.Design` into a programmed FPGA.

:mod:`.devices` holds the devices' resource budgets (which the fitter reads) and the boards;
:mod:`.soc` the SoC that goes on a board (the network, a UART, the frame bridge, the epoch
runner); :mod:`.synth` synthesises, places and routes it into a bitstream (``pcfpga
synth``), and :mod:`.dsp` reads from Yosys's netlist how many of its DSPs are registered;
:mod:`.flash` loads that into a board (``pcfpga flash``); :mod:`.cells` counts a core's
cells with Yosys alone and finds the toolchain's programs. :mod:`.netsim` simulates the
netlist Yosys wrote, with its Lattice primitives (``models/`` has those Yosys lacks), behind
a host link, and :mod:`.verify` trains it against the golden model (``pcfpga synth
--verify``).
"""

"""Cycle-accurate simulation of the generated hardware against the golden model.

Modules, each importing only those above it in this list (no cycle)::

    driver            the bus driver (one for every simulator) and the request format
    session           the Session interface, its errors, the golden comparison
    beside            BesideGolden: hardware steps with the golden model beside them
    builds            the build folders of the compiled simulations (key, stamp, pruning)
    amaranth_backend  AmaranthSession: Amaranth's simulator, registers read directly
    cocotb_backend    CocotbBuild, CocotbSession: Verilator or Icarus through cocotb
    cocotb_tb         the cocotb testbench (runs inside the simulator; imports driver)
    verilated         VerilatedBuild, VerilatedModel: the Verilog and the C++ driver
                      (fastsim.cpp) in one library, loaded with ctypes
    native_backend    NativeSession: Verilator's default engine, batches run in C++
    simulate          Simulation, open_session, simulate_against_golden: by simulator name
    training          SimulatedPC: training through a simulator

Every simulation is of a :class:`~pcfpga.hdl.design.Design` (a graph with its folding,
built once by the caller; a graph alone is simulated fully parallel).

Nothing is imported here, so ``pcfpga.sim.beside`` and ``pcfpga.sim.driver`` (which the
host uses) load neither Amaranth nor a simulator.
"""

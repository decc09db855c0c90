"""The hardware generator: a :class:`~.design.Design` (a graph and its folding, decided once)
made into Amaranth hardware, with its memory map, its Verilog and the parts of a SoC.

Modules, each importing only those above it in this list (no cycle)::

    protocol    the host link's frames, commands, statuses and address rule
    memmap      the memory map and its JSON manifest
    unused      rejecting: constructors' checks without Amaranth's unused warning
    arith       HdlArith: FixedArith's register formulas as Amaranth expressions
    design      Design: architecture, fold plan, micro-step program, PE plans, memory map
    ports       PESignature: a PE's declared ports, from its plan
    pe          PE and BuildContext, shared by every architecture
    parallel    InputPE, NodePE, EdgePE: every element in its own logic (and streaming)
    fold        FoldedNodePE, FoldedEdgePE: fewer multipliers, weights in block RAM
    serial      SerialInputPE, SerialNodePE, SerialEdgePE: registers in memories
    controller  Controller: the program's one-hot strobes, the control words, the LFSR
    network     Network: the controller and the PEs of a Design on one bus
    export      write_verilog (<name>.v and its manifest), Verilator's lint
    fit         estimate and fit: resources and cycles, the folding that fits a device
    uart        UARTRx, UARTTx (8N1)
    bridge      FrameBridge: frames from the UART made into bus operations
    runner      EpochRunner: training epochs on chip from a dataset buffer

The last three are what :mod:`pcfpga.boards.soc` adds around a network. Nothing is imported
here.
"""

"""Cycle-accurate simulation of the generated Verilog against the golden model.

Empty until the cocotb verification issue lands; nothing here is used yet."""

"""Amaranth hardware generated from a graph (processing elements, network, memory map).

Empty until the hardware-generator issue lands; nothing here is used yet."""

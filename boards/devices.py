"""FPGA devices and boards: the resource budgets every architecture decision starts from.

One definition, used by the fitter (:mod:`pcfpga.hdl.fit`), by synthesis and its reports
(:mod:`.synth`) and by the commands' ``--board``. Figures are the vendors' datasheet
counts:

=============  =====  =======  ====================================  ===================
device         DSPs   LUTs     block RAM                             large RAM
=============  =====  =======  ====================================  ===================
iCE40UP5K      8      5,280    30 EBR × 4 kbit = 122,880 bits        4 SPRAM × 256 kbit
ECP5-85F       156    83,640   208 EBR × 18 kbit = 3,833,856 bits    —
ECP5-25F       28     24,288   56 EBR × 18 kbit = 1,032,192 bits     —
=============  =====  =======  ====================================  ===================

A DSP here is one 16×16 multiplier: an iCE40 SB_MAC16 or an ECP5 MULT18X18D.

Boards (``amaranth-boards`` platforms, each with a USB-UART and LEDs): iCEBreaker
(iCE40UP5K, 12 MHz, iceprog or openFPGALoader), ULX3S (ECP5-85F, 25 MHz, openFPGALoader),
iCESugar-Pro (ECP5-25F, 25 MHz, openFPGALoader over its DAPLink). The OrangeCrab was
dropped: its platform has no UART and needs dfu-suffix.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Device", "Board", "DEVICES", "BOARDS", "board"]


@dataclass(frozen=True)
class Device:
    """An FPGA's budget."""

    name: str
    family: str          # "ice40" | "ecp5"
    dsp: int             # 16x16 multipliers
    lut: int
    bram_bits: int
    bram_blocks: int
    spram_bits: int = 0


@dataclass(frozen=True)
class Board:
    """A development board: its device, clock, ``amaranth-boards`` platform
    (``module:Class``) and the programmers that load a bitstream into it, preferred first
    (:mod:`.flash`)."""

    name: str
    device: Device
    clock_hz: float
    platform: str
    programmers: tuple

    def platform_class(self):
        import importlib

        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(module), cls)


DEVICES = {
    "iCE40UP5K": Device("iCE40UP5K", "ice40", 8, 5280, 30 * 4096, 30, 4 * 256 * 1024),
    "ECP5-85F": Device("ECP5-85F", "ecp5", 156, 83640, 208 * 18 * 1024, 208),
    "ECP5-25F": Device("ECP5-25F", "ecp5", 28, 24288, 56 * 18 * 1024, 56),
}

BOARDS = {
    "icebreaker": Board("icebreaker", DEVICES["iCE40UP5K"], 12e6,
                        "amaranth_boards.icebreaker:ICEBreakerPlatform",
                        ("iceprog", "openFPGALoader")),
    "ulx3s": Board("ulx3s", DEVICES["ECP5-85F"], 25e6,
                   "amaranth_boards.ulx3s:ULX3S_85F_Platform", ("openFPGALoader",)),
    "icesugar_pro": Board("icesugar_pro", DEVICES["ECP5-25F"], 25e6,
                          "amaranth_boards.icesugar_pro:ICESugarProPlatform",
                          ("openFPGALoader",)),
}


def board(name: str) -> Board:
    """The board called ``name``; a clear error naming the known ones otherwise."""
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"Unknown board {name!r}; expected one of "
                         f"{', '.join(sorted(BOARDS))}") from None

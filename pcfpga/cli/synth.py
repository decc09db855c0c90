"""``pcfpga synth NET --board B -o DIR``: the network's SoC synthesised, placed and routed
for a board (:mod:`pcfpga.boards.synth`, YoWASP tools), its resources and Fmax printed."""

from __future__ import annotations

import os
import sys
import textwrap

from ..boards.devices import BOARDS
from ..golden.outputs import check_folder
from ..hdl.protocol import DEFAULT_BAUD
from .common import CliError, build_design, load_graph, positive_int, reuse_factor, table

__all__ = ["register", "run"]


def register(sub):
    """Add the ``synth`` command to the subparsers ``sub``."""
    c = sub.add_parser("synth", help="synthesise, place and route the network's SoC for a "
                                     "board (YoWASP tools) and report resources and Fmax")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    c.add_argument("-o", required=True, help="output folder (bitstream, logs, report.json)")
    c.add_argument("--reuse", type=reuse_factor,
                   help="reuse factor, 'serial' or 'serial-spram' (overrides the fitter)")
    c.add_argument("--baud", type=positive_int, default=DEFAULT_BAUD,
                   help=f"UART baud rate (default {DEFAULT_BAUD})")
    c.set_defaults(func=run)


def run(args) -> int:
    """Build the bitstream into ``args.o``; 0, or 1 when timing is not met."""
    graph = load_graph(args.net)
    folder = check_folder(args.o, "-o")
    from ..boards.synth import report_notes, report_table, synthesize
    from ..boards.cells import ToolMissing

    design, _ = build_design(graph, args)
    try:
        report = synthesize(design, args.board, folder, args.baud,
                            log=lambda s: print(s, flush=True))
    except (ToolMissing, ValueError) as e:
        raise CliError(str(e)) from None
    table(report_table(report))
    for note in report_notes(report):
        print(textwrap.fill(note, 98, initial_indent="  ", subsequent_indent="  "))
    print(f"wrote {os.path.join(folder, report['bitstream'])}, "
          f"{os.path.join(folder, 'report.json')} and {os.path.join(folder, 'memmap.json')}")
    print(f"next: pcfpga flash {folder}")
    if not report["timing_met"]:
        print(f"pcfpga: timing not met: {report['fmax_mhz']:.1f} MHz < "
              f"{report['required_mhz']:g} MHz", file=sys.stderr)
        return 1
    return 0

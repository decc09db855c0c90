"""``pcfpga synth NET --board B -o DIR [--verify]``: the network's SoC synthesised, placed and
routed for a board (:mod:`pcfpga.boards.synth`, YoWASP tools), its resources and Fmax
printed; with ``--verify``, the netlist Yosys wrote simulated and trained against the golden
model (:mod:`pcfpga.boards.verify`)."""

from __future__ import annotations

import os
import sys
import textwrap

from ..boards.devices import BOARDS
from ..boards.verify import DEFAULT_STEPS, SIMULATORS
from ..golden.outputs import check_folder
from ..hdl.memmap import Readback
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
    c.add_argument("--readback", choices=[r.value for r in Readback],
                   default=Readback.LEAN.value,
                   help="the fields the host can read back: lean (default: parameters, "
                        "flags, buffers, status) or full (every register, as in simulation)")
    c.add_argument("--verify", action="store_true",
                   help="simulate the netlist Yosys wrote (its Lattice primitives) for "
                        "--verify-steps training steps through its UART and compare every "
                        "parameter and flag with the golden model")
    c.add_argument("--verify-steps", type=positive_int, metavar="N",
                   help=f"training steps --verify runs (default {DEFAULT_STEPS})")
    c.add_argument("--verify-simulator", choices=SIMULATORS,
                   help="the simulator --verify uses (default verilator; icarus is some 40 "
                        "times slower on these netlists)")
    c.set_defaults(func=run)


def run(args) -> int:
    """Build the bitstream into ``args.o``; 0, or 1 when timing is not met."""
    if not args.verify and (args.verify_steps, args.verify_simulator) != (None, None):
        raise CliError("--verify-steps and --verify-simulator choose how --verify runs; "
                       "add --verify")
    graph = load_graph(args.net)
    folder = check_folder(args.o, "-o")
    from ..boards.synth import report_notes, report_table, synthesize
    from ..boards.cells import ToolMissing

    design, _ = build_design(graph, args)
    try:
        report = synthesize(design, args.board, folder, args.baud,
                            log=lambda s: print(s, flush=True),
                            readback=Readback(args.readback))
    except (ToolMissing, ValueError) as e:
        raise CliError(str(e)) from None
    table(report_table(report))
    for note in report_notes(report):
        print(textwrap.fill(note, 98, initial_indent="  ", subsequent_indent="  "))
    verified = _verify(design, report, folder, args) if args.verify else None
    print(f"wrote {os.path.join(folder, report['bitstream'])}, "
          f"{os.path.join(folder, 'report.json')} and {os.path.join(folder, 'memmap.json')}")
    print(f"next: pcfpga flash {folder}")
    code = 0
    if not report["timing_met"]:
        print(f"pcfpga: timing not met: {report['fmax_mhz']:.1f} MHz < "
              f"{report['required_mhz']:g} MHz", file=sys.stderr)
        code = 1
    if verified is not None and not verified.passed:
        print(f"pcfpga: netlist verification failed: {verified.message}", file=sys.stderr)
        code = 1
    return code


def _verify(design, report: dict, folder: str, args):
    """Verify the netlist of the build in ``folder``; its result goes into report.json
    (``"verify"``) and is printed."""
    import json

    from ..boards.cells import ToolMissing
    from ..boards.netsim import NetlistError, SimulatorMissing
    from ..boards.verify import verify_netlist

    netlist = os.path.join(folder, f"pcfpga_{report['network']}.json")
    try:
        result = verify_netlist(netlist, design, report["board"], report["baud"],
                                args.verify_steps or DEFAULT_STEPS,
                                args.verify_simulator or "verilator",
                                build_dir=os.path.join(folder, "verify"), keep_model=False,
                                log=lambda s: print(s, flush=True),
                                readback=Readback(report["readback"]))
    except (ToolMissing, SimulatorMissing, NetlistError) as e:
        raise CliError(f"--verify: {e}") from None
    report["verify"] = result.to_json()
    with open(os.path.join(folder, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    state = "PASSED" if result.passed else "FAILED"
    print(f"verify: {state} on {result.simulator}, {result.steps} steps (seed {result.seed}), "
          f"{result.seconds:.1f} s ({result.build_seconds:.1f} s building the model, "
          f"{result.cycles:,} cycles): {result.message}")
    return result

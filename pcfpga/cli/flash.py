"""``pcfpga flash DIR``: load a bitstream built by ``pcfpga synth`` into its board
(:mod:`pcfpga.boards.flash`; ``--dry-run`` prints the programmer's command)."""

from __future__ import annotations

import shlex
import sys

from .common import CliError

__all__ = ["register", "run"]


def register(sub):
    """Add the ``flash`` command to the subparsers ``sub``."""
    c = sub.add_parser("flash", help="load a bitstream built by pcfpga synth into its board")
    c.add_argument("build", help="the folder pcfpga synth wrote (-o), with report.json")
    c.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    c.add_argument("--persist", action="store_true",
                   help="write the board's flash (kept at power-off) instead of the SRAM")
    c.set_defaults(func=run)


def run(args) -> int:
    """Flash (or print the command); 0, or 1 when the programmer fails."""
    from ..boards.flash import FlashFailed, flash, flash_command
    from ..boards.cells import ToolMissing

    try:
        if args.dry_run:
            command, report = flash_command(args.build, args.persist)
            print(shlex.join(command))
            return 0
        flash(args.build, args.persist, log=lambda s: print(s, flush=True))
    except (ToolMissing, ValueError) as e:
        raise CliError(str(e)) from None
    except FlashFailed as e:
        print(f"pcfpga: {e}", file=sys.stderr)
        return 1
    print("done: the board runs the network; train it with pcfpga train NET --backend board")
    return 0

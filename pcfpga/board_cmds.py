"""The CLI's board commands: ``synth``, ``flash`` and ``train --backend board``.

``pcfpga synth NET --board B -o DIR`` builds the SoC's bitstream (:mod:`pcfpga.boards.build`)
and prints the report; ``pcfpga flash DIR`` loads it (:mod:`pcfpga.boards.flash`);
``pcfpga train NET --backend board --board B --port DEV`` trains through the host driver
(:mod:`pcfpga.host`), whole epochs on chip, with the output of every other backend.
``--port sim`` puts the SoC in the Amaranth simulator instead of a serial port: the same
driver, frames and on-chip epochs, without a board (its UART runs at
:data:`SIM_DIVISOR` clock cycles per bit, so that it simulates in reasonable time).
"""

from __future__ import annotations

import os
import shlex
import sys

from .cli import CliError, _folding, _table, _train_run, _write_results
from .golden.outputs import check_folder

__all__ = ["cmd_synth", "cmd_flash", "train_board", "SIM_DIVISOR"]

#: Clock cycles per UART bit of the simulated SoC (``--port sim``).
SIM_DIVISOR = 4


def cmd_synth(args, graph) -> int:
    folder = check_folder(args.o, "-o")
    from .boards.build import report_table, synthesize
    from .boards.synth import ToolMissing

    reuse, est = _folding(graph, args)
    try:
        report = synthesize(graph, args.board, folder, reuse, args.baud,
                            log=lambda s: print(s, flush=True))
    except (ToolMissing, ValueError) as e:
        raise CliError(str(e)) from None
    _table(report_table(report))
    print(f"wrote {os.path.join(folder, report['bitstream'])}, "
          f"{os.path.join(folder, 'report.json')} and {os.path.join(folder, 'memmap.json')}")
    print(f"next: pcfpga flash {folder}")
    if not report["timing_met"]:
        print(f"pcfpga: timing not met: {report['fmax_mhz']:.1f} MHz < "
              f"{report['required_mhz']:g} MHz", file=sys.stderr)
        return 1
    return 0


def cmd_flash(args) -> int:
    from .boards.flash import FlashFailed, flash, flash_command
    from .boards.synth import ToolMissing

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


def train_board(g, params, args, train_set, test_set, out, plot) -> int:
    """Train through the host driver on a board (or the simulated SoC), epochs on chip."""
    from .boards.devices import board as find_board
    from .boards.soc import DATASET_WORDS, SoC, dataset_capacity, soc_memory_map
    from .host import BoardPC, Host, HostError, LinkError, SerialLink, SimLink

    if args.board is None:
        raise CliError("--backend board needs --board (the board the bitstream was built "
                       "for)")
    if args.port is None:
        raise CliError("--backend board needs --port: the board's serial port (e.g. "
                       "/dev/ttyUSB1), or sim for the SoC in the Amaranth simulator")
    if args.reuse is not None and args.port != "sim":
        raise CliError("--reuse applies to --port sim only: on a board, the bitstream "
                       "fixes the architecture")
    b = find_board(args.board)
    capacity = dataset_capacity(g, DATASET_WORDS[b.device.family])
    if args.port == "sim":
        reuse, est = _folding(g, args, quiet=True)
        soc = SoC(g, reuse, SIM_DIVISOR, capacity)
        link, memmap = SimLink(soc, b.clock_hz), soc.memmap
        where = (f"the simulated {b.name} SoC ({est.architecture}, UART at {SIM_DIVISOR} "
                 f"cycles per bit)")
    else:
        try:
            link = SerialLink(args.port, args.baud)
        except LinkError as e:
            raise CliError(str(e)) from None
        memmap = soc_memory_map(g, capacity)
        where = f"{b.name} on {args.port} at {args.baud} baud"
    host = Host(link, memmap, b.clock_hz)
    model = BoardPC(g, host)
    label = f"board ({b.name})" if args.port != "sim" else f"simulated board ({b.name})"
    print(f"board backend: {where}; dataset buffer of {capacity} samples; each epoch runs "
          f"on chip, parameters and flags compared with the golden model after it",
          flush=True)
    try:
        final, hist = _train_run(g, model, label, params, args, train_set, test_set,
                                 max(1, args.epochs // 20))
    except HostError as e:
        print(f"pcfpga: {e}", file=sys.stderr)
        return 1
    finally:
        model.close()
    print(f"match: {model.steps} steps on the board equal the golden model (parameters and "
          f"saturation flags after every epoch); {host.frames} frames over the link")
    _write_results(out, final, plot, {label: hist}, f"{g.name}: {label}")
    print(f"wrote {out} (parameters) and {plot} (loss/accuracy plot)")
    return 0

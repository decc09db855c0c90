"""``pcfpga train NET --data D``: train a network and plot its loss and accuracy.

Four backends: ``float`` PC (or ``--backprop``), the bit-exact ``fixed``-point model, the
cycle-accurate simulation of the generated Verilog (``sim``, checked against the golden
model as it goes) and a ``board`` through the host driver (:mod:`pcfpga.host`), whole
epochs on chip, checked after each. ``--backend board --port sim`` puts the SoC in the
Amaranth simulator instead of a serial port: the same driver, frames and on-chip epochs,
without a board (its UART runs at :data:`SIM_DIVISOR` clock cycles per bit, so that it
simulates in reasonable time). Every backend writes the same two files.
"""

from __future__ import annotations

import os
import sys

from ..golden.backprop import Backprop
from ..golden.fixed_model import FixedPC
from ..golden.float_model import FloatPC
from ..golden.outputs import check_file, check_folder
from ..golden.params import load_dataset
from ..hdl.design import Design
from ..hdl.protocol import DEFAULT_BAUD
from ..sim.session import SIMULATOR_CHOICES
from .common import (SIM_BUILD, CliError, build_design, fold_options, initial_params,
                     load_graph, non_negative_int, positive_int, print_folding, report_flags,
                     train_run, write_results)

__all__ = ["register", "run", "SIM_DIVISOR"]

#: Clock cycles per UART bit of the simulated SoC (``--backend board --port sim``).
SIM_DIVISOR = 4


def register(sub):
    """Add the ``train`` command to the subparsers ``sub``."""
    c = sub.add_parser("train", help="train a network and plot its loss and accuracy")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--data", required=True, help="training set (.npz)")
    c.add_argument("--test", help="test set (.npz)")
    c.add_argument("--backend", choices=("float", "fixed", "sim", "board"), default="float",
                   help="float PC, the bit-exact fixed-point model, the cycle-accurate "
                        "simulation of the generated Verilog checked against it as it "
                        "goes, or a board (epochs on chip, checked after each) "
                        "(default float)")
    c.add_argument("--simulator", choices=SIMULATOR_CHOICES,
                   help="with --backend sim (default verilator)")
    c.add_argument("--check", choices=("ticks", "params"),
                   help="with --backend sim: compare parameters and flags after every "
                        "batch of 64 steps, each batch running free (params, default), or "
                        "also every register after every tick (ticks)")
    c.add_argument("--build", help=f"with --backend sim: build folder (default {SIM_BUILD})")
    fold_options(c, "with --backend sim or board: ")
    c.add_argument("--port", help="with --backend board: the board's serial port (e.g. "
                                  "/dev/ttyUSB1), or sim: the SoC in the Amaranth simulator")
    c.add_argument("--baud", type=positive_int,
                   help=f"with --backend board: UART baud rate (default {DEFAULT_BAUD})")
    c.add_argument("--backprop", action="store_true",
                   help="train the same net with the float backprop reference")
    c.add_argument("--params", help="initial parameters (.npz); default: init from --seed")
    c.add_argument("--epochs", type=positive_int, default=50, help="epochs (default 50)")
    c.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of initial parameters and sample order (default 0)")
    c.add_argument("--out", help="trained parameters (.npz); default NAME_trained.npz")
    c.add_argument("--plot", help="loss/accuracy plot (.png); default beside --out")
    c.set_defaults(func=run)


def run(args) -> int:
    """Train with ``args.backend`` and write the parameters and the plot; 0, or 1 when the
    board fails."""
    out = check_file(f"{_stem(args.net)}_trained.npz" if args.out is None else args.out,
                     ".npz", "--out")
    plot = check_file(out[:-4] + ".png" if args.plot is None else args.plot, ".png", "--plot")
    for option, backends in (("simulator", "sim"), ("check", "sim"), ("build", "sim"),
                             ("reuse", "sim board"), ("board", "sim board"),
                             ("port", "board"), ("baud", "board")):
        if getattr(args, option) is not None and args.backend not in backends.split():
            raise CliError(f"--{option} applies to --backend {' or '.join(backends.split())} "
                           f"only, not --backend {args.backend}")
    if args.backend == "sim":
        check_folder(SIM_BUILD if args.build is None else args.build, "--build")
    g = load_graph(args.net)
    model, label = _make_model(g, args.backend, args.backprop)
    train_set = load_dataset(args.data, g)
    test_set = load_dataset(args.test, g) if args.test else None
    params = initial_params(g, args)
    model.to_model(params)  # reject unrepresentable parameters before training
    if args.backend == "sim":
        return _train_sim(g, params, args, train_set, test_set, out, plot)
    if args.backend == "board":
        args.baud = args.baud or DEFAULT_BAUD
        return _train_board(g, params, args, train_set, test_set, out, plot)
    final, hist = train_run(g, model, label, params, args, train_set, test_set,
                            max(1, args.epochs // 20))
    write_results(out, final, plot, {label: hist}, f"{g.name}: {label}")
    report_flags(model)
    print(f"wrote {out} (parameters) and {plot} (loss/accuracy plot)")
    return 0


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _make_model(graph, backend: str, backprop: bool = False):
    if backprop:
        if backend != "float":
            raise CliError(f"--backprop trains with float backprop; it cannot be combined "
                           f"with --backend {backend}")
        return Backprop(graph), "float backprop"
    if backend in ("fixed", "sim"):
        return FixedPC(graph), "fixed-point PC"
    return FloatPC(graph), "float PC"


def _train_sim(g, params, args, train_set, test_set, out, plot) -> int:
    """Train on the simulated hardware, comparing with the golden model as it goes."""
    from ..sim.simulate import SimulatorMissing
    from ..sim.training import SimulatedPC

    simulator, check = args.simulator or "verilator", args.check or "params"
    design, est = build_design(g, args)
    if est is not None:
        print_folding(g, est, args.board)
    build = SIM_BUILD if args.build is None else args.build
    model = SimulatedPC(design, simulator, check=check, build_root=build,
                        log=lambda s: print(s, flush=True))
    label = f"hardware simulation ({simulator})"
    what = (f"every register after every tick, and parameters and flags after every batch "
            f"of {model.batch}" if check == "ticks" else
            f"parameters and saturation flags after every batch of {model.batch} steps, each "
            f"batch running free")
    print(f"checking {what} against the golden model", flush=True)
    try:
        final, hist = train_run(g, model, label, params, args, train_set, test_set,
                                max(1, args.epochs // 20))
    except SimulatorMissing as e:
        raise CliError(str(e)) from None
    finally:
        model.close()
    print(f"match: {model.steps_checked} steps on {simulator} equal the golden model ({what})")
    print(f"{model.cycles:,} clock cycles simulated in {model.seconds:.1f} s "
          f"({model.speed:,.0f} cycles/s, host reads included)")
    write_results(out, final, plot, {label: hist}, f"{g.name}: {label}")
    report_flags(model)
    print(f"wrote {out} (parameters) and {plot} (loss/accuracy plot)")
    return 0


def _board_link(g, args, b, capacity):
    """``(link, memory map, description)`` of the board of ``args`` or its simulated SoC."""
    from ..boards.soc import SoC, soc_memory_map
    from ..hdl.memmap import Readback
    from ..host import LinkError, SerialLink, SimLink

    if args.port == "sim":
        # the design synth builds for --board (the fitter's, or --reuse)
        design, est = build_design(g, args, quiet=True)
        soc = SoC(design, SIM_DIVISOR, capacity, Readback.LEAN)    # as synth builds it
        return SimLink(soc, b.clock_hz), soc.memmap, (
            f"the simulated {b.name} SoC ({est.architecture}, UART at {SIM_DIVISOR} cycles "
            f"per bit)")
    try:
        link = SerialLink(args.port, args.baud)
    except LinkError as e:
        raise CliError(str(e)) from None
    where = f"{b.name} on {args.port} at {args.baud} baud"
    # the addresses of the map the host uses do not depend on the folding: no fitter run
    return link, soc_memory_map(Design.build(g), capacity, Readback.LEAN), where


def _train_board(g, params, args, train_set, test_set, out, plot) -> int:
    """Train through the host driver on a board (or the simulated SoC), epochs on chip."""
    from ..boards.devices import board as find_board
    from ..boards.soc import DATASET_WORDS, dataset_capacity
    from ..host import BoardPC, Host, HostError

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
    link, memmap, where = _board_link(g, args, b, capacity)
    host = Host(link, memmap, b.clock_hz)
    model = BoardPC(g, host)
    label = f"board ({b.name})" if args.port != "sim" else f"simulated board ({b.name})"
    print(f"board backend: {where}; dataset buffer of {capacity} samples; each epoch runs "
          f"on chip, parameters and flags compared with the golden model after it",
          flush=True)
    try:
        final, hist = train_run(g, model, label, params, args, train_set, test_set,
                                max(1, args.epochs // 20))
    except HostError as e:
        print(f"pcfpga: {e}", file=sys.stderr)
        return 1
    finally:
        model.close()
    print(f"match: {model.steps} steps on the board equal the golden model (parameters and "
          f"saturation flags after every epoch); {host.frames} frames over the link")
    write_results(out, final, plot, {label: hist}, f"{g.name}: {label}")
    print(f"wrote {out} (parameters) and {plot} (loss/accuracy plot)")
    return 0

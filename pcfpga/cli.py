"""The ``pcfpga`` command line: check, golden, train, verilog, sim, synth, flash, report, demo.

Bad input (a graph, parameter or data file that does not fit, a bad option) ends with one
line ``pcfpga: error: ...`` on stderr and exit code 2, before any output file is written;
outputs are written atomically at the end. Training that diverges (float loss NaN) exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from . import __version__
from .golden.backprop import Backprop
from .golden.fixed_model import FixedPC, SaturationError
from .golden.float_model import FloatPC
from .golden.graph import Graph, GraphError
from .golden.outputs import OutputError, check_file, check_folder, write_all
from .golden.params import DataError, init_params, load_dataset, load_params, save_npz
from .golden.training import TrainingDiverged, check_finite, sample, train
from .boards.build import SynthesisFailed
from .boards.devices import BOARDS
from .hdl.protocol import DEFAULT_BAUD
from .hdl.serial import SERIAL_KINDS
from .sim.session import SIMULATOR_CHOICES, Mismatch, SimulationFailed

__all__ = ["main", "CliError"]


class CliError(ValueError):
    """Bad command-line input."""


# ---------------------------------------------------------------------------- helpers
def _int_at_least(low: int, what: str):
    """An argparse type: an integer >= low."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            shown = text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"
            raise argparse.ArgumentTypeError(f"expected {what}, not {shown!r}")
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, not {value}")
        return value

    return parse


_positive = _int_at_least(1, "a positive integer")


def _reuse(text: str):
    """``--reuse``: a positive integer, ``serial`` or ``serial-spram``."""
    if text in SERIAL_KINDS:
        return text
    try:
        return _positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, 'serial' or "
                                         f"'serial-spram', not {text!r}") from None
_non_negative = _int_at_least(0, "a non-negative integer")

_SIM_BUILD = os.path.join("build", "sim")


def _load_graph(path: str) -> Graph:
    return Graph.from_toml(path)


def _initial_params(graph, args):
    if args.params:
        return load_params(args.params, graph)
    return init_params(graph, args.seed)


def _folding(graph, args, quiet: bool = False):
    """The reuse factor(s) from ``--reuse`` or the fitter for ``--board`` (default 1), and
    the estimate when the fitter chose them."""
    from .boards.devices import board as find_board
    from .hdl.fit import FitError, estimate, fit, shortfalls

    reuse, board = getattr(args, "reuse", None), getattr(args, "board", None)
    if reuse is not None and board is not None and not quiet:
        print(f"--reuse {reuse} overrides the fitter for --board {board}")
    try:
        if reuse is not None:
            est = estimate(graph, reuse)
            short = shortfalls(est, find_board(board).device) if board is not None else []
            if short:
                raise CliError(f"--reuse {reuse} does not fit --board {board}: "
                               f"{'; '.join(short)}")
            return reuse, est
        if board is not None:
            est = fit(graph, find_board(board).device)
            return est.reuse, est
        return 1, None
    except FitError as e:
        raise CliError(str(e)) from None
    except CliError:
        raise
    except ValueError as e:
        raise CliError(f"--reuse: {e}" if reuse is not None else str(e)) from None


def _print_folding(graph, est, board_name=None):
    from .boards.devices import board as find_board

    print(f"architecture: {est.architecture}")
    rows = [("part", "multipliers", "lanes x words")]
    for part, count in est.by_part.items():
        key = part.split(" ", 1)[1]
        lanes = est.lanes.get(key)
        rows.append((part, str(count), f"{lanes[0]} x {lanes[1]}" if lanes else "-"))
    _table(rows)
    print(f"total: {est.summary()}")
    print("LUTs are bounded through the flip-flop bits (hdl/fit.py FF_SHARE); synthesis "
          "gives the count")
    if board_name:
        b = find_board(board_name)
        d = b.device
        print(f"board {b.name} ({d.name}: {d.dsp} DSPs, {d.lut:,} LUTs, "
              f"{d.bram_bits + d.spram_bits:,} RAM bits), clock {b.clock_hz / 1e6:g} MHz: "
              f"{b.clock_hz / est.cycles_per_step:,.0f} training samples/s")


def _make_model(graph, backend: str, backprop: bool = False):
    if backprop:
        if backend != "float":
            raise CliError(f"--backprop trains with float backprop; it cannot be combined "
                           f"with --backend {backend}")
        return Backprop(graph), "float backprop"
    if backend in ("fixed", "sim"):
        return FixedPC(graph), "fixed-point PC"
    return FloatPC(graph), "float PC"


def _report_flags(model, out=None):
    """Print the saturation flags of ``model`` (or a dict of them) as one warning line."""
    flags = model if isinstance(model, dict) else (
        model.flags() if hasattr(model, "flags") else {})
    if flags:
        text = "; ".join(f"{k}: {', '.join(v)}" for k, v in flags.items())
        print(f"warning: saturation (values clipped to their format) in {text}",
              file=out or sys.stdout)
    return flags


# ---------------------------------------------------------------------------- commands
def cmd_check(args) -> int:
    g = _load_graph(args.net)
    f, lr = g.formats, g.learning
    print(f"graph {g.name}: {len(g.nodes)} nodes, {len(g.edges)} edges, {g.n_params} "
          f"parameters, depth D = {g.depth}")
    print(f"formats: value {f.value}, error {f.error}, weight {f.weight}, rounding "
          f"{f.rounding}, tables 2^{f.table_bits} entries, LFSR seed {f.seed}")
    print(f"learning: mode {lr.mode}, eta_v {lr.eta_v:g} (shift {lr.shift_v}), eta_theta "
          f"{lr.eta_theta:g} (shift {lr.shift_theta}), {g.ticks} ticks per sample")
    rows = [("node", "op", "size", "act", "inputs", "flags")]
    for n in g.nodes:
        act = n.act if n.op in ("dense", "act") else ""
        flags = ", ".join(k for k in ("bias", "output") if getattr(n, k)) or (
            "hidden" if n.is_hidden else "")
        rows.append((n.name, n.op, str(n.size), act, ", ".join(n.inputs), flags))
    _table(rows)
    print("edges:")
    shapes = g.param_shapes
    for p, c in g.edges:
        key = f"{c}.W.{p}"
        what = f"W {shapes[key][0]}x{shapes[key][1]}" if key in shapes else g.node(c).op
        print(f"  {p} -> {c}  ({what})")
    if args.board is not None or args.reuse is not None:
        reuse, est = _folding(g, args)
        _print_folding(g, est, args.board)
    return 0


def _table_text(rows) -> str:
    """Rows of strings as left-aligned columns, each line indented by two spaces."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in rows)


def _table(rows, out=None):
    print(_table_text(rows), file=out or sys.stdout)


def cmd_golden(args) -> int:
    out = check_file(args.out, ".npz", "--out")
    g = _load_graph(args.net)
    params = _initial_params(g, args)
    x, y, n = load_dataset(args.data, g)
    model = FixedPC(g) if args.fixed else FloatPC(g)
    mp = model.to_model(params)
    traces, after = [], []
    with np.errstate(all="ignore"):     # a float overflow is reported below, once
        for step in range(args.steps):
            i = step % n
            mp, trace = model.step(mp, sample(x, i), sample(y, i))
            traces.append(trace)
            after.append(mp)
            if not args.fixed:
                check_finite(trace, mp, step)
    arrays = dict(model.to_float(mp))
    for k in traces[0]:
        arrays[f"trace.{k}"] = np.stack([t[k] for t in traces])
    for k in mp:
        arrays[f"trace.{k}"] = np.stack([a[k] for a in after])
    save_npz(out, arrays)
    kind = "fixed-point (trace holds raw register integers)" if args.fixed else "float"
    print(f"{g.name}: {args.steps} step(s) of mode {g.learning.mode}, {g.ticks} tick(s) each, "
          f"{kind}")
    print(f"wrote {out}: {len(mp)} parameters, {len(arrays) - len(mp)} trace arrays "
          f"(trace.<node>.<register> shaped steps x (ticks+1) x size)")
    if args.fixed:
        _report_flags(model)
    return 0


def _train_run(graph, model, label, params, args, train_set, test_set, log_every):
    algo = "SGD" if isinstance(model, Backprop) else f"mode {graph.learning.mode}"
    print(f"training {graph.name} with {label} ({algo}), {args.epochs} epochs of "
          f"{train_set[2]} samples, seed {args.seed}")

    def log(line):
        epoch = int(line.split()[1])
        if epoch % log_every == 0 or epoch == args.epochs:
            print(line, flush=True)

    return train(model, params, train_set, test_set, epochs=args.epochs, seed=args.seed,
                 log=log)


def cmd_train(args) -> int:
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
        check_folder(args.build or _SIM_BUILD, "--build")
    g = _load_graph(args.net)
    model, label = _make_model(g, args.backend, args.backprop)
    train_set = load_dataset(args.data, g)
    test_set = load_dataset(args.test, g) if args.test else None
    params = _initial_params(g, args)
    model.to_model(params)  # reject unrepresentable parameters before training
    if args.backend == "sim":
        return _train_sim(g, params, args, train_set, test_set, out, plot)
    if args.backend == "board":
        from .board_cmds import train_board

        args.baud = args.baud or DEFAULT_BAUD
        return train_board(g, params, args, train_set, test_set, out, plot)
    final, hist = _train_run(g, model, label, params, args, train_set, test_set,
                             max(1, args.epochs // 20))
    _write_results(out, final, plot, {label: hist}, f"{g.name}: {label}")
    _report_flags(model)
    print(f"wrote {out} (parameters) and {plot} (loss/accuracy plot)")
    return 0


def _train_sim(g, params, args, train_set, test_set, out, plot) -> int:
    """Train on the simulated hardware, comparing with the golden model as it goes."""
    from .sim.runner import SimulatorMissing
    from .sim.training import SimulatedPC

    simulator, check = args.simulator or "verilator", args.check or "ticks"
    reuse, est = _folding(g, args)
    if est is not None:
        _print_folding(g, est, args.board)
    model = SimulatedPC(g, simulator, check=check, build_root=args.build or _SIM_BUILD,
                        log=lambda s: print(s, flush=True), reuse=reuse)
    label = f"hardware simulation ({simulator})"
    what = ("every register after every tick" if check == "ticks"
            else "parameters and saturation flags")
    try:
        final, hist = _train_run(g, model, label, params, args, train_set, test_set,
                                 max(1, args.epochs // 20))
    except SimulatorMissing as e:
        raise CliError(str(e)) from None
    finally:
        model.close()
    print(f"match: {model.steps_checked} steps on {simulator} equal the golden model ({what}, "
          f"and parameters and flags after every batch of {model.batch})")
    print(f"{model.cycles:,} clock cycles simulated in {model.seconds:.1f} s "
          f"({model.speed:,.0f} cycles/s, host reads included)")
    _write_results(out, final, plot, {label: hist}, f"{g.name}: {label}")
    _report_flags(model)
    print(f"wrote {out} (parameters) and {plot} (loss/accuracy plot)")
    return 0


def _write_results(npz_path, params, png_path, histories, title):
    """Render the plot first, then write both files together (or neither)."""
    from .golden.plots import plot_history

    png = plot_history(histories, None, title)
    write_all({npz_path: lambda f: np.savez_compressed(f, **params), png_path: png})


def cmd_verilog(args) -> int:
    folder = check_folder(args.o, "-o")
    g = _load_graph(args.net)
    check_folder(folder, "-o", [f"{g.name}.v", f"{g.name}.json"])
    from .hdl.controller import cycles_per_step, cycles_per_tick
    from .hdl.export import lint, top_name, write_verilog

    reuse, est = _folding(g, args)
    print(f"elaborating {g.name} (mode {g.learning.mode}) ...", flush=True)
    v_path, j_path = write_verilog(g, folder, reuse)
    print(f"wrote {v_path} (module {top_name(g)}) and {j_path} (memory map)")
    if est is not None:
        _print_folding(g, est, args.board)
    else:
        print(f"cycles per tick {cycles_per_tick(g)}, per training step {cycles_per_step(g)}")
    if args.lint:
        from .hdl.export import VerilatorMissing

        try:
            errors = lint(v_path, top_name(g))
        except VerilatorMissing as e:
            raise CliError(str(e)) from None
        if errors:
            print("\n".join(errors[:20]), file=sys.stderr)
            print(f"pcfpga: verilator lint found {len(errors)} error(s)", file=sys.stderr)
            return 1
        print("verilator --lint-only: no errors")
    return 0


def cmd_synth(args) -> int:
    from .board_cmds import cmd_synth as synth

    return synth(args, _load_graph(args.net))


def cmd_flash(args) -> int:
    from .board_cmds import cmd_flash as flash

    return flash(args)


def cmd_sim(args) -> int:
    out = check_file(args.out, ".npz", "--out")
    from .sim.runner import WAVE_SUFFIX

    suffix = WAVE_SUFFIX[args.simulator]
    if args.waves and not args.waves.endswith(suffix):
        raise CliError(f"--waves {args.waves}: {args.simulator} writes {suffix} files; "
                       f"expected a name ending in {suffix}")
    if args.waves:
        check_file(args.waves, suffix, "--waves")
    if args.simulator != "amaranth":
        check_folder(args.build, "--build")
    g = _load_graph(args.net)
    params = _initial_params(g, args)
    x, y, n = load_dataset(args.data, g)
    FixedPC(g).to_model(params)  # reject unrepresentable parameters before building
    from .sim.pysim import PySimRunner, simulate_against_golden
    from .sim.runner import CocotbRunner, SimulatorMissing

    reuse, est = _folding(g, args)
    if est is not None:
        _print_folding(g, est, args.board)
    if args.simulator == "amaranth":
        runner = PySimRunner(g, waves=args.waves, reuse=reuse)
    else:
        try:
            runner = CocotbRunner(g, args.simulator, build_root=args.build, waves=args.waves,
                                  log=lambda s: print(s, flush=True), reuse=reuse)
        except SimulatorMissing as e:
            raise CliError(str(e)) from None
        runner.build()
    samples = [(sample(x, i % n), sample(y, i % n)) for i in range(args.steps)]
    print(f"simulating {args.steps} step(s) of {g.name} (mode {g.learning.mode}, {g.ticks} "
          f"tick(s) each) on {args.simulator}, checking every register after every tick "
          f"...", flush=True)
    res = simulate_against_golden(g, params, samples, runner=runner)
    model = FixedPC(g)
    save_npz(out, model.to_float(res["params"]))
    speed = runner.cycles / runner.seconds if runner.seconds else float("nan")
    print(f"match: every register equals the golden model after every tick of "
          f"{args.steps} step(s), and the updated parameters")
    print(f"{runner.cycles} clock cycles ({res['cycles'] // max(args.steps, 1)} per step "
          f"incl. pauses for reading), {args.steps * g.ticks} ticks; simulation "
          f"{runner.seconds:.2f} s, {speed:,.0f} cycles/s")
    _report_flags(res["flags"])
    print(f"wrote {out}" + (f" and {args.waves}" if args.waves else ""))
    return 0


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def cmd_report(args) -> int:
    from .report import cmd_report as report

    return report(args)


def cmd_demo(args) -> int:
    from .demo import cmd_demo as demo

    return demo(args)


# ---------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (``pcfpga: error: ...``) and exit code 2."""

    def error(self, message):
        self.exit(2, f"pcfpga: error: {message} (see {self.prog} --help)\n")


def _fold_options(c, prefix=""):
    c.add_argument("--board", choices=sorted(BOARDS),
                   help=f"{prefix}fold the network to fit this board (the fitter chooses the "
                        f"reuse factors)")
    c.add_argument("--reuse", type=_reuse,
                   help=f"{prefix}reuse factor of every dense and act node, 'serial' "
                        f"(registers in block RAM, one element per cycle) or 'serial-spram' "
                        f"(large edges' weights in SPRAM too); overrides the fitter; "
                        f"default 1, fully parallel")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pcfpga", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"pcfpga {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)

    c = sub.add_parser("check", help="validate a graph and print its structure (and, with "
                                     "--board or --reuse, its folding and resources)")
    c.add_argument("net", help="graph file (.toml)")
    _fold_options(c)
    c.set_defaults(func=cmd_check)

    c = sub.add_parser("golden", help="run training steps of the golden model with a trace")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--data", required=True, help="dataset (.npz); step i uses sample i mod N")
    c.add_argument("--params", help="initial parameters (.npz); default: init from --seed")
    c.add_argument("--seed", type=_non_negative, default=0, help="parameter init seed")
    c.add_argument("--fixed", action="store_true", help="bit-exact fixed-point model")
    c.add_argument("--steps", type=_positive, default=1, help="training steps (default 1)")
    c.add_argument("--out", required=True, help="output .npz: parameters and trace.*")
    c.set_defaults(func=cmd_golden)

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
                   help="with --backend sim: compare every register after every tick "
                        "(ticks, default) or parameters and flags only (params)")
    c.add_argument("--build", help=f"with --backend sim: build folder (default {_SIM_BUILD})")
    _fold_options(c, "with --backend sim or board: ")
    c.add_argument("--port", help="with --backend board: the board's serial port (e.g. "
                                  "/dev/ttyUSB1), or sim: the SoC in the Amaranth simulator")
    c.add_argument("--baud", type=_positive,
                   help=f"with --backend board: UART baud rate (default {DEFAULT_BAUD})")
    c.add_argument("--backprop", action="store_true",
                   help="train the same net with the float backprop reference")
    c.add_argument("--params", help="initial parameters (.npz); default: init from --seed")
    c.add_argument("--epochs", type=_positive, default=50, help="epochs (default 50)")
    c.add_argument("--seed", type=_non_negative, default=0,
                   help="seed of initial parameters and sample order (default 0)")
    c.add_argument("--out", help="trained parameters (.npz); default NAME_trained.npz")
    c.add_argument("--plot", help="loss/accuracy plot (.png); default beside --out")
    c.set_defaults(func=cmd_train)

    c = sub.add_parser("sim", help="simulate the hardware and check it against the golden "
                                   "model")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--data", required=True, help="dataset (.npz); step i uses sample i mod N")
    c.add_argument("--params", help="initial parameters (.npz); default: init from --seed")
    c.add_argument("--seed", type=_non_negative, default=0, help="parameter init seed")
    c.add_argument("--steps", type=_positive, default=1, help="training steps (default 1)")
    c.add_argument("--simulator", choices=SIMULATOR_CHOICES,
                   default="verilator", help="default verilator")
    c.add_argument("--waves", help="write waveforms to this file (.vcd; .fst for icarus)")
    c.add_argument("--build", default=_SIM_BUILD,
                   help="build folder (one sub-folder per configuration, reused)")
    c.add_argument("--out", required=True, help="updated parameters (.npz)")
    _fold_options(c)
    c.set_defaults(func=cmd_sim)

    c = sub.add_parser("verilog", help="generate the network's Verilog and memory map")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("-o", required=True, help="output folder (created if missing)")
    c.add_argument("--lint", action="store_true", help="run verilator --lint-only on it")
    _fold_options(c)
    c.set_defaults(func=cmd_verilog)

    c = sub.add_parser("synth", help="synthesise, place and route the network's SoC for a "
                                     "board (YoWASP tools) and report resources and Fmax")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    c.add_argument("-o", required=True, help="output folder (bitstream, logs, report.json)")
    c.add_argument("--reuse", type=_reuse,
                   help="reuse factor, 'serial' or 'serial-spram' (overrides the fitter)")
    c.add_argument("--baud", type=_positive, default=DEFAULT_BAUD,
                   help=f"UART baud rate (default {DEFAULT_BAUD})")
    c.set_defaults(func=cmd_synth)

    c = sub.add_parser("flash", help="load a bitstream built by pcfpga synth into its board")
    c.add_argument("build", help="the folder pcfpga synth wrote (-o), with report.json")
    c.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    c.add_argument("--persist", action="store_true",
                   help="write the board's flash (kept at power-off) instead of the SRAM")
    c.set_defaults(func=cmd_flash)

    c = sub.add_parser("report", help="train one network with float backprop, float PC, "
                                      "the fixed-point model and the hardware simulation "
                                      "side by side; plots of curves, alignment and ranges")
    c.add_argument("net", help="graph file (.toml)")
    c.add_argument("--data", required=True, help="training set (.npz)")
    c.add_argument("--test", help="test set (.npz)")
    c.add_argument("-o", required=True, help="output folder (plots, report.json, report.txt)")
    c.add_argument("--epochs", type=_positive, default=20, help="epochs (default 20)")
    c.add_argument("--seed", type=_non_negative, default=0,
                   help="seed of initial parameters and sample order (default 0)")
    c.add_argument("--params", help="initial parameters (.npz); default: init from --seed")
    c.add_argument("--simulator", choices=SIMULATOR_CHOICES + ("none",), default="verilator",
                   help="hardware simulation (default verilator; none leaves it out)")
    c.add_argument("--reuse", type=_reuse,
                   help="folding of the simulated hardware (default: parallel, folded only "
                        "beyond 512 multipliers)")
    c.add_argument("--build", default=_SIM_BUILD, help=f"simulation build folder (default "
                                                       f"{_SIM_BUILD})")
    c.add_argument("--samples", type=_positive, default=64,
                   help="training rows for the alignment and range plots (default 64)")
    c.set_defaults(func=cmd_report)

    c = sub.add_parser("demo", help="train the bundled default network (fixed point)")
    c.add_argument("--out", default=os.path.join("out", "demo"), help="output folder")
    c.add_argument("--epochs", type=_positive, default=300, help="epochs (default 300)")
    c.add_argument("--seed", type=_non_negative, default=0, help="seed (default 0)")
    c.set_defaults(func=cmd_demo)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (GraphError, DataError, SaturationError, CliError, OutputError) as e:
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
